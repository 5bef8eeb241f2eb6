#include "rlforge/envs/board_games/solvers.h"

#include <algorithm>
#include <limits>
#include <mutex>
#include <vector>

namespace rlforge::board {
namespace {

// Base-3 code of a TicTacToe board (the side to move follows from it).
int Code(const Board& b) {
  int code = 0;
  for (int i = 8; i >= 0; --i) code = code * 3 + b.cell[i];
  return code;
}

// Negamax scores for the side to move: win in m more plies -> 10 - m, loss ->
// -(10 - m), draw 0. The score of playing `a`, given the score of the
// resulting position for the opponent (`opponent_score`, called only when the
// game goes on).
template <typename F>
int ScoreMove(Board& b, int a, F opponent_score) {
  const int c = b.Play(a);
  int v = 0;
  if (b.winner >= 0) {
    v = 10;
  } else if (!b.full()) {
    const int opp = opponent_score(b);
    v = opp > 0 ? -(opp - 1) : (opp < 0 ? -(opp + 1) : 0);
  }
  b.Undo(c);
  return v;
}

// Fills the memo over all 3^9 codes reachable from b.
int Solve(Board& b, std::vector<int8_t>& memo) {
  const int code = Code(b);
  if (memo[code] != std::numeric_limits<int8_t>::min()) return memo[code];
  int best = -100;
  for (int a = 0; a < 9; ++a)
    if (b.Legal(a)) best = std::max(best, ScoreMove(b, a, [&](Board& next) { return Solve(next, memo); }));
  memo[code] = static_cast<int8_t>(best);
  return best;
}

const std::vector<int8_t>& Memo() {
  static std::vector<int8_t> memo;
  static std::once_flag once;
  std::call_once(once, [] {
    memo.assign(19683, std::numeric_limits<int8_t>::min());
    Board b = Board::TicTacToe();
    Solve(b, memo);
  });
  return memo;
}

// Score of a move for the side to move, from the memo.
int MoveScore(Board& b, int a) {
  return ScoreMove(b, a, [](Board& next) { return static_cast<int>(Memo()[Code(next)]); });
}

constexpr double kWin = 1e6;

double Negamax(Board& b, int depth, double alpha, double beta, int ply) {
  // b.to_move is the side to move; the previous mover may have won.
  if (b.winner >= 0) return -(kWin - ply);  // the opponent just completed a line
  if (b.full()) return 0.0;
  if (depth == 0) return HeuristicScore(b);
  const int n = b.num_actions();
  double best = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < n; ++i) {
    // Centre-first move order (columns or cells near the middle).
    const int a = b.gravity ? n / 2 + ((i % 2) ? (i + 1) / 2 : -(i / 2)) : i;
    if (!b.Legal(a)) continue;
    const int c = b.Play(a);
    const double v = -Negamax(b, depth - 1, -beta, -alpha, ply + 1);
    b.Undo(c);
    best = std::max(best, v);
    alpha = std::max(alpha, v);
    if (alpha >= beta) break;
  }
  return best;
}

}  // namespace

int TicTacToeValue(const Board& b) {
  RLF_CHECK(b.rows == 3 && b.cols == 3 && !b.gravity, "TicTacToeValue needs a TicTacToe board");
  if (b.winner >= 0) return b.winner == b.to_move ? 1 : -1;
  if (b.full()) return 0;
  const int v = Memo()[Code(b)];
  return v > 0 ? 1 : (v < 0 ? -1 : 0);
}

int PerfectMove(const Board& board, Rng* rng) {
  RLF_CHECK(board.rows == 3 && board.cols == 3 && !board.gravity, "the perfect player knows only TicTacToe");
  Board b = board;
  int best = -100, count = 0, choice = -1;
  for (int a = 0; a < 9; ++a) {
    if (!b.Legal(a)) continue;
    const int v = MoveScore(b, a);
    if (v > best) {
      best = v, count = 1, choice = a;
    } else if (v == best && rng->UniformInt(++count) == 0) {
      choice = a;  // reservoir sampling among the ties
    }
  }
  return choice;
}

double HeuristicScore(const Board& b) {
  // Every window of k cells in a line: one holding only the side to move's
  // stones scores 1, 4, 16, ... by count (3^(count-1) weights scaled), the
  // opponent's the same negated; mixed windows are dead.
  const int me = b.to_move + 1;
  double score = 0;
  static constexpr int dr[4] = {0, 1, 1, 1}, dc[4] = {1, 0, 1, -1};
  for (int r = 0; r < b.rows; ++r)
    for (int c = 0; c < b.cols; ++c)
      for (int d = 0; d < 4; ++d) {
        const int er = r + (b.k - 1) * dr[d], ec = c + (b.k - 1) * dc[d];
        if (er < 0 || er >= b.rows || ec < 0 || ec >= b.cols) continue;
        int mine = 0, theirs = 0;
        for (int s = 0; s < b.k; ++s) {
          const int v = b.cell[(r + s * dr[d]) * b.cols + c + s * dc[d]];
          mine += v == me, theirs += v != 0 && v != me;
        }
        static constexpr double w[5] = {0, 1, 4, 32, 0};
        if (theirs == 0 && mine > 0) score += w[std::min(mine, 4)];
        if (mine == 0 && theirs > 0) score -= w[std::min(theirs, 4)];
      }
  return score;
}

int AlphaBetaMove(const Board& board, int depth, Rng* rng) {
  RLF_CHECK_ARG(depth >= 1, "alpha-beta depth must be >= 1, got ", depth);
  Board b = board;
  const int n = b.num_actions();
  double best = -std::numeric_limits<double>::infinity();
  int count = 0, choice = -1;
  for (int a = 0; a < n; ++a) {
    if (!b.Legal(a)) continue;
    const int c = b.Play(a);
    // A full window at the root (not a narrowed one) so that equal scores are exact ties.
    const double v = -Negamax(b, depth - 1, -std::numeric_limits<double>::infinity(),
                              std::numeric_limits<double>::infinity(), 1);
    b.Undo(c);
    if (v > best + 1e-9) {
      best = v, count = 1, choice = a;
    } else if (v > best - 1e-9 && rng->UniformInt(++count) == 0) {
      choice = a;
    }
  }
  return choice;
}

SolverPolicy::SolverPolicy(const Board& empty, std::string kind, int depth, uint64_t seed)
    : empty_(empty), kind_(std::move(kind)), depth_(depth), rng_(seed) {
  RLF_CHECK_ARG(kind_ == "perfect" || kind_ == "alphabeta", "unknown solver '", kind_,
                "'; valid: perfect, alphabeta:DEPTH");
  RLF_CHECK_ARG(kind_ != "perfect" || (empty.rows == 3 && empty.cols == 3 && !empty.gravity),
                "the perfect player plays only TicTacToe-v0 (use alphabeta:DEPTH)");
  RLF_CHECK_ARG(kind_ != "alphabeta" || (depth_ >= 1 && depth_ <= 12), "alphabeta:DEPTH needs DEPTH in 1..12, got ",
                depth_);
}

void SolverPolicy::Act(const void* observations, const uint8_t* /*masks*/, int n, void* actions) {
  const int obs_size = 2 * empty_.num_cells();
  for (int i = 0; i < n; ++i) {
    Board b = empty_;
    RLF_CHECK(b.FromObservation(static_cast<const float*>(observations) + i * obs_size), name(),
              ": the observation is not a reachable board position");
    RLF_CHECK(!b.over(), name(), ": asked to move in a finished game");
    static_cast<int64_t*>(actions)[i] = kind_ == "perfect" ? PerfectMove(b, &rng_) : AlphaBetaMove(b, depth_, &rng_);
  }
}

}  // namespace rlforge::board
