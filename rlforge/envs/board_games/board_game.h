// rlforge/envs/board_games/board_game.h — two-player board games as envs:
// TicTacToe-v0 (3x3, three in a row) and ConnectFour-v0 (6 rows x 7 columns,
// four in a row, stones fall down the columns).
//
// Turn-based (Env::num_players() == 2): player 0 moves first, then turns
// alternate. Step applies the action of current_player().
//   action       Discrete(9): the cell (row * 3 + col) | Discrete(7): the column
//   mask         the empty cells | the columns that are not full
//   observation  Box(0, 1, [2, rows, cols], float32) from the point of view of
//                the player to move: plane 0 its stones, plane 1 the opponent's
//   reward       the mover's: 1 when its move wins, else 0; PlayerReturns
//                gives +1 to the winner and -1 to the loser (0, 0 on a draw)
//   end          terminated on a win or a full board; info "winner" on the
//                final step: 0, 1, or -1 for a draw
// A legal-looking action that breaks the rules (a taken cell, a full column)
// raises InvalidArgument naming it. The observation is the whole state, so
// SetFromObservation works (search policies use it). Symmetries(): the
// board's rotations and reflections (search agents augment with them).
#ifndef RLFORGE_ENVS_BOARD_GAMES_BOARD_GAME_H_
#define RLFORGE_ENVS_BOARD_GAMES_BOARD_GAME_H_

#include <memory>
#include <string>
#include <vector>

#include "rlforge/env/env.h"
#include "rlforge/envs/board_games/board.h"

namespace rlforge {

class BoardGameEnv : public EnvBase<BoardGameEnv> {
 public:
  BoardGameEnv(const board::Board& empty, std::string name);

  const Space& observation_space() const override { return *obs_space_; }
  const Space& action_space() const override { return *act_space_; }
  std::string name() const override { return name_; }
  std::string RenderText() const override;
  bool RenderRgb(Image* out) const override;
  bool has_action_mask() const override { return true; }
  void ActionMask(uint8_t* mask) const override;
  int num_players() const override { return 2; }
  int current_player() const override { return board_.to_move; }
  void PlayerReturns(double* returns) const override;
  bool SetFromObservation(const void* obs) override;
  // TicTacToe's 8 rotations and reflections, Connect Four's left-right mirror.
  std::vector<Symmetry> Symmetries() const override;

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);
  template <class A>
  void Fields(A& ar) {
    ar(board_.cell), ar(board_.to_move), ar(board_.winner), ar(board_.moves), ar(last_);
  }

  const board::Board& board() const { return board_; }
  const board::Board& empty_board() const { return empty_; }

 private:
  board::Board empty_, board_;
  std::string name_;
  // Shared between clones: MCTS clones the env at every node, and a Box
  // space's bounds would be copied each time.
  std::shared_ptr<const Space> obs_space_, act_space_;
  int last_ = -1;  // the last filled cell (highlighted in renders)
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_BOARD_GAMES_BOARD_GAME_H_
