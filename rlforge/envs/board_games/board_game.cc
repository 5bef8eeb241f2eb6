#include "rlforge/envs/board_games/board_game.h"

#include <sstream>

namespace rlforge {
namespace board {

bool Board::FromObservation(const float* obs) {
  const int n = num_cells();
  int mine = 0, theirs = 0;
  std::array<int8_t, kMaxCells> planes{};
  for (int i = 0; i < n; ++i) {
    const bool a = obs[i] > 0.5f, b = obs[n + i] > 0.5f;
    if (a && b) return false;
    planes[i] = a ? 1 : (b ? 2 : 0);
    mine += a, theirs += b;
  }
  // The side to move has as many stones as the other (player 0) or one fewer (player 1).
  int me;
  if (mine == theirs) {
    me = 0;
  } else if (mine + 1 == theirs) {
    me = 1;
  } else {
    return false;
  }
  for (int i = 0; i < n; ++i) cell[i] = planes[i] == 0 ? 0 : static_cast<int8_t>(planes[i] == 1 ? me + 1 : 2 - me);
  if (gravity)
    for (int i = 0; i + cols < n; ++i)
      if (cell[i] != 0 && cell[i + cols] == 0) return false;
  to_move = static_cast<int8_t>(me);
  moves = static_cast<int16_t>(mine + theirs);
  winner = -1;
  for (int i = 0; i < n && winner < 0; ++i)
    if (cell[i] != 0 && MakesLine(i)) winner = static_cast<int8_t>(cell[i] - 1);
  return true;
}

std::string Board::ToText() const {
  std::ostringstream os;
  // Column numbers on top; row numbers too where an action names a cell.
  os << " ";
  for (int c = 0; c < cols; ++c) os << ' ' << c;
  os << "\n";
  for (int r = 0; r < rows; ++r) {
    os << (gravity ? ' ' : static_cast<char>('0' + r));
    for (int c = 0; c < cols; ++c) {
      const int v = cell[r * cols + c];
      os << ' ' << (v == 1 ? 'X' : v == 2 ? 'O' : '.');
    }
    os << "\n";
  }
  return os.str();
}

}  // namespace board

BoardGameEnv::BoardGameEnv(const board::Board& empty, std::string name)
    : empty_(empty),
      board_(empty),
      name_(std::move(name)),
      obs_space_(std::make_shared<const Space>(Space::Box(0, 1, {2, empty.rows, empty.cols}))),
      act_space_(std::make_shared<const Space>(Space::Discrete(empty.num_actions()))) {}

void BoardGameEnv::ResetImpl(void* obs, Info* /*info*/) {
  board_ = empty_;
  last_ = -1;
  board_.Observe(board_.to_move, static_cast<float*>(obs));
}

void BoardGameEnv::StepImpl(const void* action, void* obs, StepResult* result) {
  const int a = static_cast<int>(*static_cast<const int64_t*>(action));
  if (!board_.Legal(a))
    throw InvalidArgument(StrCat(name_, ": illegal move ", a, ": ",
                                 board_.gravity ? StrCat("column ", a, " is full")
                                                : StrCat("cell ", a, " (row ", a / board_.cols, ", column ",
                                                         a % board_.cols, ") is taken")));
  const int mover = board_.to_move;
  last_ = board_.Play(a);
  board_.Observe(board_.to_move, static_cast<float*>(obs));
  if (board_.winner >= 0) {
    result->reward = 1.0;
    result->terminated = true;
    result->info.Set("winner", mover);
  } else if (board_.full()) {
    result->terminated = true;
    result->info.Set("winner", -1);
  }
}

void BoardGameEnv::ActionMask(uint8_t* mask) const {
  for (int a = 0; a < board_.num_actions(); ++a) mask[a] = board_.Legal(a) ? 1 : 0;
}

void BoardGameEnv::PlayerReturns(double* returns) const {
  returns[0] = returns[1] = 0.0;
  if (board_.winner >= 0) {
    returns[board_.winner] = 1.0;
    returns[1 - board_.winner] = -1.0;
  }
}

bool BoardGameEnv::SetFromObservation(const void* obs) {
  board::Board b = empty_;
  if (!b.FromObservation(static_cast<const float*>(obs))) return false;
  board_ = b;
  last_ = -1;
  set_running(!board_.over());
  return true;
}

std::string BoardGameEnv::RenderText() const {
  std::string s = board_.ToText();
  if (board_.winner >= 0) {
    s += StrCat("player ", int(board_.winner), " (", board_.winner == 0 ? 'X' : 'O', ") wins\n");
  } else if (board_.full()) {
    s += "draw\n";
  } else {
    s += StrCat("player ", int(board_.to_move), " (", board_.to_move == 0 ? 'X' : 'O', ") to move\n");
  }
  return s;
}

bool BoardGameEnv::RenderRgb(Image* /*out*/) const { return false; }

}  // namespace rlforge
