// rlforge/envs/board_games/board.h — k-in-a-row boards (TicTacToe, Connect
// Four): the rules alone, small and copyable, shared by the envs and by the
// search opponents (minimax, alpha-beta).
//
// Cells are row-major, row 0 at the top. Player 0 moves first. With gravity
// (Connect Four) an action is a column and the stone falls to the lowest empty
// row; without it (TicTacToe) an action is a cell.
#ifndef RLFORGE_ENVS_BOARD_GAMES_BOARD_H_
#define RLFORGE_ENVS_BOARD_GAMES_BOARD_H_

#include <array>
#include <cstdint>
#include <string>

namespace rlforge::board {

constexpr int kMaxCells = 42;

struct Board {
  int rows = 3, cols = 3, k = 3;
  bool gravity = false;
  std::array<int8_t, kMaxCells> cell{};  // 0 empty, 1 player 0, 2 player 1
  int8_t to_move = 0;                    // player to move
  int8_t winner = -1;                    // -1 none yet; 0 or 1
  int16_t moves = 0;

  static Board TicTacToe() { return Board{}; }
  static Board ConnectFour() {
    Board b;
    b.rows = 6, b.cols = 7, b.k = 4, b.gravity = true;
    return b;
  }

  int num_cells() const { return rows * cols; }
  int num_actions() const { return gravity ? cols : rows * cols; }
  bool full() const { return moves == rows * cols; }
  bool over() const { return winner >= 0 || full(); }
  // The cell an action would fill, or -1 when the action is illegal.
  int Target(int action) const {
    if (action < 0 || action >= num_actions() || over()) return -1;
    if (!gravity) return cell[action] == 0 ? action : -1;
    for (int r = rows - 1; r >= 0; --r)
      if (cell[r * cols + action] == 0) return r * cols + action;
    return -1;
  }
  bool Legal(int action) const { return Target(action) >= 0; }
  // Plays a legal action for to_move; returns the filled cell.
  int Play(int action) {
    const int c = Target(action);
    cell[c] = static_cast<int8_t>(to_move + 1);
    ++moves;
    if (MakesLine(c)) winner = to_move;
    to_move = static_cast<int8_t>(1 - to_move);
    return c;
  }
  // Takes back the stone on cell c (the last move).
  void Undo(int c) {
    to_move = static_cast<int8_t>(1 - to_move);
    cell[c] = 0;
    --moves;
    winner = -1;
  }
  // Whether the stone on cell c completes k in a row.
  bool MakesLine(int c) const {
    const int r0 = c / cols, c0 = c % cols, who = cell[c];
    static constexpr int dr[4] = {0, 1, 1, 1}, dc[4] = {1, 0, 1, -1};
    for (int d = 0; d < 4; ++d) {
      int run = 1;
      for (int s = -1; s <= 1; s += 2)
        for (int r = r0 + s * dr[d], q = c0 + s * dc[d]; r >= 0 && r < rows && q >= 0 && q < cols &&
                                                         cell[r * cols + q] == who;
             r += s * dr[d], q += s * dc[d])
          ++run;
      if (run >= k) return true;
    }
    return false;
  }
  // Observation from `player`'s point of view: plane 0 its stones, plane 1
  // the opponent's ([2, rows, cols] floats).
  void Observe(int player, float* out) const {
    const int n = num_cells();
    for (int i = 0; i < n; ++i) {
      out[i] = cell[i] == player + 1 ? 1.0f : 0.0f;
      out[n + i] = cell[i] == 2 - player ? 1.0f : 0.0f;
    }
  }
  // The inverse of Observe(to_move): the side to move follows from the stone
  // counts (player 0 moves when they are equal). False when the planes are
  // not a reachable position's (overlaps, impossible counts, floating stones).
  bool FromObservation(const float* obs);
  std::string ToText() const;
};

}  // namespace rlforge::board

#endif  // RLFORGE_ENVS_BOARD_GAMES_BOARD_H_
