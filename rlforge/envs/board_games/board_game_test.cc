#include "rlforge/envs/board_games/board_game.h"

#include <gtest/gtest.h>

#include "rlforge/env/env_checker.h"
#include "rlforge/env/evaluation.h"
#include "rlforge/env/registry.h"
#include "rlforge/envs/board_games/solvers.h"

namespace rlforge {
namespace {

struct Game {
  std::unique_ptr<Env> env;
  std::vector<float> obs;
  StepResult last;
  explicit Game(const std::string& id) : env(Make(id)), obs(env->observation_space().size()) {
    env->Reset(0, obs.data());
  }
  StepResult Play(int64_t a) { return last = env->Step(&a, obs.data()); }
  std::vector<uint8_t> Mask() {
    std::vector<uint8_t> m(env->action_space().n());
    env->ActionMask(m.data());
    return m;
  }
};

TEST(BoardGameTest, TicTacToeRowWinRewardsTheMoverAndEndsTheGame) {
  Game g("TicTacToe-v0");
  EXPECT_EQ(g.env->num_players(), 2);
  EXPECT_EQ(g.env->current_player(), 0);
  for (int64_t a : {0, 3, 1, 4}) {
    const StepResult r = g.Play(a);
    EXPECT_EQ(r.reward, 0.0);
    EXPECT_FALSE(r.done());
  }
  EXPECT_EQ(g.env->current_player(), 0);
  // Observation from X's view: own stones 0, 1; opponent's 3, 4.
  for (int c = 0; c < 9; ++c) {
    EXPECT_EQ(g.obs[c], (c == 0 || c == 1) ? 1.0f : 0.0f) << c;
    EXPECT_EQ(g.obs[9 + c], (c == 3 || c == 4) ? 1.0f : 0.0f) << c;
  }
  EXPECT_EQ(g.Mask(), (std::vector<uint8_t>{0, 0, 1, 0, 0, 1, 1, 1, 1}));
  const StepResult r = g.Play(2);
  EXPECT_EQ(r.reward, 1.0);
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(r.info.Get("winner").value(), 0.0);
  double returns[2];
  g.env->PlayerReturns(returns);
  EXPECT_EQ(returns[0], 1.0);
  EXPECT_EQ(returns[1], -1.0);
}

TEST(BoardGameTest, TicTacToeDrawAndDiagonal) {
  Game g("TicTacToe-v0");
  // X O X / X O O / O X X : a draw
  for (int64_t a : {0, 1, 2, 4, 3, 5, 7, 6}) EXPECT_FALSE(g.Play(a).done());
  const StepResult r = g.Play(8);
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(r.reward, 0.0);
  EXPECT_EQ(r.info.Get("winner").value(), -1.0);
  double returns[2];
  g.env->PlayerReturns(returns);
  EXPECT_EQ(returns[0], 0.0);
  Game d("TicTacToe-v0");
  for (int64_t a : {2, 0, 4, 1}) d.Play(a);
  EXPECT_TRUE(d.Play(6).terminated);  // anti-diagonal 2, 4, 6
}

TEST(BoardGameTest, ConnectFourGravityAndDiagonalWin) {
  Game g("ConnectFour-v0");
  // Stones fall: column 3 three times fills rows 5, 4, 3.
  g.Play(3);
  g.Play(3);
  g.Play(3);
  const int cols = 7;
  // O (player 1) is to move: its own plane holds the middle stone (row 4).
  EXPECT_EQ(g.obs[4 * cols + 3], 1.0f);
  EXPECT_EQ(g.obs[42 + 5 * cols + 3], 1.0f);
  EXPECT_EQ(g.obs[42 + 3 * cols + 3], 1.0f);
  // A diagonal for X: (5,0) (4,1) (3,2) (2,3).
  Game d("ConnectFour-v0");
  for (int64_t a : {0, 1, 1, 2, 2, 3, 2, 3, 3, 6}) EXPECT_FALSE(d.Play(a).done());
  const StepResult r = d.Play(3);
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(r.info.Get("winner").value(), 0.0);
}

TEST(BoardGameTest, IllegalMovesRaiseNamedErrors) {
  Game t("TicTacToe-v0");
  t.Play(4);
  try {
    t.Play(4);
    FAIL() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("cell 4 (row 1, column 1) is taken"), std::string::npos) << e.what();
  }
  Game c("ConnectFour-v0");
  for (int i = 0; i < 6; ++i) c.Play(0);
  EXPECT_EQ(c.Mask()[0], 0);
  try {
    c.Play(0);
    FAIL() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("column 0 is full"), std::string::npos) << e.what();
  }
  EXPECT_THROW(c.Play(7), InvalidArgument);  // outside Discrete(7)
}

TEST(BoardGameTest, SetFromObservationRebuildsTheState) {
  Game g("ConnectFour-v0");
  for (int64_t a : {3, 4, 3, 2, 6}) g.Play(a);
  auto other = Make("ConnectFour-v0");
  ASSERT_TRUE(other->SetFromObservation(g.obs.data()));
  EXPECT_EQ(other->current_player(), 1);
  EXPECT_EQ(other->RenderText(), g.env->RenderText());
  // It continues as the original does.
  std::vector<float> o2(g.obs.size());
  int64_t a = 3;
  g.Play(a);
  other->Step(&a, o2.data());
  EXPECT_EQ(o2, g.obs);
  // Not a position: overlapping planes, impossible counts, floating stones.
  std::vector<float> bad(84, 0.0f);
  bad[0] = bad[42] = 1.0f;
  EXPECT_FALSE(other->SetFromObservation(bad.data()));
  std::fill(bad.begin(), bad.end(), 0.0f);
  bad[35] = bad[36] = 1.0f;  // two own stones, none of the opponent's
  EXPECT_FALSE(other->SetFromObservation(bad.data()));
  std::fill(bad.begin(), bad.end(), 0.0f);
  bad[0] = 1.0f, bad[42 + 35] = 1.0f;  // a stone floating at the top
  EXPECT_FALSE(other->SetFromObservation(bad.data()));
}

// Each symmetry maps a position to one whose legal moves are the images of
// the legal moves, and a move and its image lead to images of each other's
// next position (checked along random games).
TEST(BoardGameTest, SymmetriesAreSymmetriesOfTheGame) {
  for (const char* id : {"TicTacToe-v0", "ConnectFour-v0"}) {
    auto env = Make(id);
    const std::vector<Symmetry> syms = env->Symmetries();
    ASSERT_EQ(syms.size(), std::string(id) == "TicTacToe-v0" ? 8u : 2u) << id;
    const int64_t n = env->observation_space().size(), A = env->action_space().n();
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(syms[0].observation[i], i) << "the identity comes first";
    auto image = Make(id);
    Rng rng(7);
    std::vector<float> obs(n), next(n), mapped(n), mapped_next(n);
    std::vector<uint8_t> mask(A), image_mask(A);
    for (int game = 0; game < 20; ++game) {
      env->Reset(game, obs.data());
      for (bool done = false; !done;) {
        env->ActionMask(mask.data());
        int64_t a;
        do a = static_cast<int64_t>(rng.UniformInt(A));
        while (!mask[a]);
        for (const Symmetry& s : syms) {
          for (int64_t i = 0; i < n; ++i) mapped[s.observation[i]] = obs[i];
          ASSERT_TRUE(image->SetFromObservation(mapped.data())) << id;
          image->ActionMask(image_mask.data());
          for (int64_t b = 0; b < A; ++b) EXPECT_EQ(image_mask[s.action[b]], mask[b]) << id;
          auto probe = env->Clone();
          const StepResult r = probe->Step(&a, next.data());
          int64_t b = s.action[a];
          const StepResult ri = image->Step(&b, mapped_next.data());
          EXPECT_EQ(r.reward, ri.reward);
          EXPECT_EQ(r.terminated, ri.terminated);
          for (int64_t i = 0; i < n; ++i) EXPECT_EQ(mapped_next[s.observation[i]], next[i]) << id;
        }
        done = env->Step(&a, obs.data()).done();
      }
    }
  }
}

TEST(BoardGameTest, Conformance) {
  for (const char* id : {"TicTacToe-v0", "ConnectFour-v0"}) {
    auto env = Make(id);
    EXPECT_EQ(CheckEnv(*env), std::vector<std::string>{}) << id;
  }
}

TEST(SolverTest, TicTacToeValuesAndPerfectPlay) {
  board::Board b = board::Board::TicTacToe();
  EXPECT_EQ(board::TicTacToeValue(b), 0);  // a draw under perfect play
  // X in the corner, O on an edge next to it: X wins.
  b.Play(0);
  b.Play(1);
  EXPECT_EQ(board::TicTacToeValue(b), 1);
  Rng rng(0);
  // Win in one is taken, a loss in one is blocked.
  board::Board w = board::Board::TicTacToe();
  for (int a : {0, 3, 1, 4}) w.Play(a);
  EXPECT_EQ(board::PerfectMove(w, &rng), 2);
  board::Board l = board::Board::TicTacToe();
  for (int a : {0, 3, 1}) l.Play(a);
  EXPECT_EQ(board::PerfectMove(l, &rng), 2);
}

TEST(SolverTest, AlphaBetaTakesWinsAndBlocks) {
  Rng rng(0);
  board::Board b = board::Board::ConnectFour();
  for (int a : {0, 1, 0, 1, 0, 2}) b.Play(a);
  for (int depth : {1, 2, 4}) EXPECT_EQ(board::AlphaBetaMove(b, depth, &rng), 0) << depth;
  board::Board c = board::Board::ConnectFour();
  for (int a : {3, 0, 3, 6, 3}) c.Play(a);
  for (int depth : {2, 4}) EXPECT_EQ(board::AlphaBetaMove(c, depth, &rng), 3) << depth;
}

TEST(SolverTest, MatchesAgainstRandomAndEachOther) {
  auto ttt = Make("TicTacToe-v0");
  board::SolverPolicy perfect(board::Board::TicTacToe(), "perfect", 0, 1), perfect2(board::Board::TicTacToe(), "perfect", 0, 2);
  RandomPolicy random(ttt->action_space(), 3, true);
  const MatchStats vs_random = EvaluateMatch(*ttt, perfect, random, 200, 0);
  EXPECT_EQ(vs_random.losses, 0);
  EXPECT_GT(vs_random.win_rate(), 0.8);
  EXPECT_EQ(vs_random.wins + vs_random.draws + vs_random.losses, 200);
  const MatchStats self = EvaluateMatch(*ttt, perfect, perfect2, 50, 0);
  EXPECT_EQ(self.draws, 50);
  auto c4 = Make("ConnectFour-v0");
  board::SolverPolicy ab2(board::Board::ConnectFour(), "alphabeta", 2, 4);
  RandomPolicy random4(c4->action_space(), 5, true);
  EXPECT_GE(EvaluateMatch(*c4, ab2, random4, 50, 0).win_rate(), 0.96);
  EXPECT_THROW(board::SolverPolicy(board::Board::ConnectFour(), "perfect", 0, 1), InvalidArgument);
  auto cp = Make("CartPole-v1");
  EXPECT_THROW(EvaluateMatch(*cp, ab2, random4, 2, 0), InvalidArgument);
}

}  // namespace
}  // namespace rlforge
