// rlforge/envs/board_games/solvers.h — classical opponents for the board
// games, usable as policies (`--policy` / `--opponent`):
//   perfect        TicTacToe-v0: full minimax (a memo of every position); picks
//                  uniformly among the moves with the best game-theoretic value,
//                  preferring the quickest win and the slowest loss.
//   alphabeta:D    any k-in-a-row game: negamax alpha-beta to depth D plies
//                  (wins found sooner score higher), leaves scored by open
//                  windows of k cells; ties broken uniformly at random.
// Both read the position from the observation (Board::FromObservation).
#ifndef RLFORGE_ENVS_BOARD_GAMES_SOLVERS_H_
#define RLFORGE_ENVS_BOARD_GAMES_SOLVERS_H_

#include <string>

#include "rlforge/core/rng.h"
#include "rlforge/envs/board_games/board.h"
#include "rlforge/env/policy.h"

namespace rlforge::board {

// TicTacToe: the value of the position for the side to move (+1 win, 0 draw,
// -1 loss under perfect play) and a best move (-1 when the game is over).
int TicTacToeValue(const Board& b);
int PerfectMove(const Board& b, Rng* rng);
// Alpha-beta search of `depth` plies (>= 1); returns a move.
int AlphaBetaMove(const Board& b, int depth, Rng* rng);
// The leaf heuristic for the side to move (positive: good for it).
double HeuristicScore(const Board& b);

// A solver as a Policy over a board game's observations.
class SolverPolicy : public Policy {
 public:
  // kind "perfect" (TicTacToe only) or "alphabeta" with depth >= 1.
  SolverPolicy(const Board& empty, std::string kind, int depth, uint64_t seed);
  void Act(const void* observations, const uint8_t* masks, int n, void* actions) override;
  std::string name() const override { return kind_ == "perfect" ? kind_ : StrCat(kind_, ":", depth_); }

 private:
  Board empty_;
  std::string kind_;
  int depth_;
  Rng rng_;
};

}  // namespace rlforge::board

#endif  // RLFORGE_ENVS_BOARD_GAMES_SOLVERS_H_
