#include "rlforge/envs/board_games/board_game.h"

#include <sstream>
#include "rlforge/env/registry.h"
#include "rlforge/envs/board_games/solvers.h"

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

std::vector<Symmetry> BoardGameEnv::Symmetries() const {
  const int R = empty_.rows, C = empty_.cols, n = R * C;
  std::vector<Symmetry> out;
  auto add = [&](auto map) {  // map(r, c) -> (r', c')
    Symmetry s;
    s.observation.resize(2 * n);
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) {
        auto [r2, c2] = map(r, c);
        for (int plane = 0; plane < 2; ++plane) s.observation[plane * n + r * C + c] = plane * n + r2 * C + c2;
      }
    if (empty_.gravity) {
      for (int c = 0; c < C; ++c) s.action.push_back(map(0, c).second);  // actions are columns
    } else {
      s.action.assign(s.observation.begin(), s.observation.begin() + n);  // actions are cells
    }
    out.push_back(std::move(s));
  };
  add([](int r, int c) { return std::pair{r, c}; });
  if (empty_.gravity) {  // gravity keeps the rows: the left-right mirror only
    add([C](int r, int c) { return std::pair{r, C - 1 - c}; });
    return out;
  }
  if (R != C) return out;
  const int m = R - 1;
  add([m](int r, int c) { return std::pair{c, m - r}; });      // rotate 90
  add([m](int r, int c) { return std::pair{m - r, m - c}; });  // 180
  add([m](int r, int c) { return std::pair{m - c, r}; });      // 270
  add([m](int r, int c) { return std::pair{r, m - c}; });      // mirror
  add([m](int r, int c) { return std::pair{m - r, c}; });      // flip
  add([](int r, int c) { return std::pair{c, r}; });           // transpose
  add([m](int r, int c) { return std::pair{m - c, m - r}; });  // anti-transpose
  return out;
}

namespace {

// The solvers as the board games' scripted policies.
std::vector<ScriptedPolicySpec> BoardGamePolicies(bool with_perfect) {
  std::vector<ScriptedPolicySpec> out;
  auto board_of = [](const Env& env) {
    const auto* game = dynamic_cast<const BoardGameEnv*>(&env.unwrapped());
    RLF_CHECK_ARG(game != nullptr, "the board-game solvers play only the board games, not ", env.name());
    return game->empty_board();
  };
  if (with_perfect)
    out.push_back({"perfect", "perfect",
                   "TicTacToe-v0's minimax solver (the perfect player plays only TicTacToe-v0; use alphabeta:DEPTH)",
                   /*takes_argument=*/false,
                   [board_of](const Env& env, const std::string&, uint64_t seed) -> std::unique_ptr<Policy> {
                     return std::make_unique<board::SolverPolicy>(board_of(env), "perfect", 0, seed);
                   }});
  out.push_back({"alphabeta", "alphabeta:DEPTH",
                 "depth-D alpha-beta search, which plays the board games (TicTacToe-v0, ConnectFour-v0)",
                 /*takes_argument=*/true,
                 [board_of](const Env& env, const std::string& argument, uint64_t seed) -> std::unique_ptr<Policy> {
                   int depth = 0;
                   try {
                     size_t used = 0;
                     depth = std::stoi(argument, &used);
                     if (used != argument.size()) depth = 0;
                   } catch (const std::exception&) {
                     depth = 0;
                   }
                   RLF_CHECK_ARG(depth >= 1 && depth <= 12,
                                 argument.empty() ? std::string("alphabeta without a depth")
                                                  : "'alphabeta:" + argument + "'",
                                 ": write alphabeta:DEPTH with DEPTH a whole number in 1..12, e.g. alphabeta:2");
                   return std::make_unique<board::SolverPolicy>(board_of(env), "alphabeta", depth, seed);
                 }});
  return out;
}

}  // namespace

RLF_REGISTER_ENVS(board_games) {
  EnvSpec tictactoe{"TicTacToe-v0",
                    [](const Kwargs&) {
                      return std::make_unique<BoardGameEnv>(board::Board::TicTacToe(), "TicTacToe-v0");
                    },
                    std::nullopt, std::nullopt, {}, {}, "tic-tac-toe, two players (turn-based; masked Discrete(9))"};
  tictactoe.scripted_policies = BoardGamePolicies(/*with_perfect=*/true);
  registry.Register(std::move(tictactoe));
  EnvSpec connect_four{"ConnectFour-v0",
                       [](const Kwargs&) {
                         return std::make_unique<BoardGameEnv>(board::Board::ConnectFour(), "ConnectFour-v0");
                       },
                       std::nullopt, std::nullopt, {}, {},
                       "Connect Four 6x7, two players (turn-based; masked Discrete(7))"};
  connect_four.scripted_policies = BoardGamePolicies(/*with_perfect=*/false);
  registry.Register(std::move(connect_four));
}

}  // namespace rlforge
