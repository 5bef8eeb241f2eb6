// MCTS, AlphaZero and MuZero: search on hand-set positions, the value
// transform and supports, worked n-step targets, and short learning runs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>

#include "rlforge/algos/search/alphazero.h"
#include "rlforge/algos/search/mcts.h"
#include "rlforge/algos/search/muzero.h"
#include "rlforge/env/evaluation.h"
#include "rlforge/env/registry.h"
#include "rlforge/envs/board_games/board_game.h"
#include "rlforge/envs/board_games/solvers.h"

namespace rlforge::search {
namespace {

// What the runner builds an agent from (rlforge/algos/algorithm.h).
RunContext Ctx(const std::string& algo, const std::string& env, int64_t seed, int64_t total_steps) {
  RunContext ctx;
  ctx.algo = algo;
  ctx.run.env = env;
  ctx.run.seed = seed;
  ctx.run.total_steps = total_steps;
  return ctx;
}

// A policy-value net whose heads output zeros: uniform priors, value 0, so
// the search alone (terminal rewards) decides.
PolicyValueNet UniformNet(int64_t obs, int64_t actions) {
  PolicyValueNet net(obs, actions, std::vector<int64_t>{8});
  torch::NoGradGuard g;
  for (auto& p : net->named_parameters())
    if (p.key().rfind("policy", 0) == 0 || p.key().rfind("value", 0) == 0) p.value().zero_();
  return net;
}

// Plays the moves (cells or columns) on a fresh env and returns it with its observation.
std::unique_ptr<Env> Position(const std::string& id, const std::vector<int64_t>& moves, std::vector<float>* obs) {
  auto env = Make(id);
  obs->resize(env->observation_space().size());
  env->Reset(0, obs->data());
  for (int64_t a : moves) EXPECT_FALSE(env->Step(&a, obs->data()).done());
  return env;
}

int SearchMove(Env& env, const std::vector<float>& obs, int sims, int batch, SearchResult* out = nullptr) {
  const int A = static_cast<int>(env.action_space().n());
  EnvSearchModel model(UniformNet(env.observation_space().size(), A), A);
  MctsConfig c;
  c.simulations = sims;
  c.batch_size = batch;
  c.noise_fraction = 0;
  Mcts mcts(c);
  mcts.SetRoot(model.Root(env, obs.data()));
  Rng rng(1);
  SearchResult r = mcts.Search(model, rng, false);
  if (out) *out = r;
  return Mcts::SelectAction(r.visits, 0.0, rng);
}

TEST(MctsTest, FindsTheWinInOneAtTicTacToe) {
  // X: 0, 1 (and 4 for O's... ) X to move wins at 2.
  //  X X .
  //  O O .
  //  . . .
  std::vector<float> obs;
  auto env = Position("TicTacToe-v0", {0, 3, 1, 4}, &obs);
  for (int batch : {1, 8}) {
    SearchResult r;
    EXPECT_EQ(SearchMove(*env, obs, 200, batch, &r), 2) << "batch " << batch;
    EXPECT_GT(r.visits[2], 100) << "batch " << batch;
    EXPECT_GT(r.root_value, 0.5);
  }
}

TEST(MctsTest, BlocksTheLossInOneAtTicTacToe) {
  //  X X .      O to move must block at 2
  //  O . .
  //  . . .
  std::vector<float> obs;
  auto env = Position("TicTacToe-v0", {0, 3, 1}, &obs);
  for (int batch : {1, 8}) EXPECT_EQ(SearchMove(*env, obs, 400, batch), 2) << "batch " << batch;
}

TEST(MctsTest, WinsAndBlocksAtConnectFour) {
  std::vector<float> obs;
  // X has three in column 0 and moves: win at column 0.
  auto win = Position("ConnectFour-v0", {0, 1, 0, 1, 0, 2}, &obs);
  EXPECT_EQ(SearchMove(*win, obs, 300, 8), 0);
  // O to move; X threatens column 3 (three stacked): block at 3.
  auto block = Position("ConnectFour-v0", {3, 0, 3, 6, 3}, &obs);
  EXPECT_EQ(SearchMove(*block, obs, 600, 8), 3);
}

TEST(MctsTest, TreeReuseKeepsTheSubtree) {
  std::vector<float> obs;
  auto env = Position("TicTacToe-v0", {}, &obs);
  EnvSearchModel model(UniformNet(18, 9), 9);
  MctsConfig c;
  c.simulations = 300;
  c.noise_fraction = 0;
  Mcts mcts(c);
  mcts.SetRoot(model.Root(*env, obs.data()));
  Rng rng(0);
  mcts.Search(model, rng, false);
  const int child_visits = mcts.ChildVisits(4);
  ASSERT_GT(child_visits, 1);
  ASSERT_TRUE(mcts.Advance(4));
  EXPECT_EQ(mcts.root_visits(), child_visits);
  EXPECT_EQ(mcts.root_player(), 1);
  c.reuse_tree = false;
  Mcts fresh(c);
  fresh.SetRoot(model.Root(*env, obs.data()));
  fresh.Search(model, rng, false);
  EXPECT_FALSE(fresh.Advance(4));
  EXPECT_FALSE(fresh.has_root());
}

TEST(MctsTest, MinMaxStatsNormalize) {
  MinMaxStats s;
  EXPECT_DOUBLE_EQ(s.Normalize(0.7), 0.7);  // no bounds yet
  s.Update(-2.0);
  EXPECT_DOUBLE_EQ(s.Normalize(0.7), 0.7);  // one value: max == min
  s.Update(3.0);
  EXPECT_DOUBLE_EQ(s.Normalize(-2.0), 0.0);
  EXPECT_DOUBLE_EQ(s.Normalize(3.0), 1.0);
  EXPECT_DOUBLE_EQ(s.Normalize(0.5), 0.5);
}

TEST(MctsTest, SelectActionTemperature) {
  Rng rng(3);
  const std::vector<int> visits = {10, 30, 0, 60};
  EXPECT_EQ(Mcts::SelectAction(visits, 0.0, rng), 3);
  std::vector<int> counts(4, 0);
  for (int i = 0; i < 20000; ++i) ++counts[Mcts::SelectAction(visits, 1.0, rng)];
  EXPECT_EQ(counts[2], 0);
  EXPECT_NEAR(counts[0] / 20000.0, 0.1, 0.01);
  EXPECT_NEAR(counts[3] / 20000.0, 0.6, 0.015);
}

TEST(MuZeroTest, ValueTransformRoundTrips) {
  for (double x : {-300.0, -10.0, -1.0, -0.25, 0.0, 0.3, 1.0, 7.5, 42.0, 500.0})
    EXPECT_NEAR(UnscaleValue(ScaleValue(x)), x, 1e-6 * std::max(1.0, std::abs(x))) << x;
  // φ(3) = sqrt(4) - 1 + 0.003
  EXPECT_NEAR(ScaleValue(3.0), 1.003, 1e-12);
  EXPECT_NEAR(ScaleValue(-3.0), -1.003, 1e-12);
}

TEST(MuZeroTest, SupportProjectionRoundTrips) {
  const int S = 20;
  std::vector<float> p(2 * S + 1);
  for (double x : {-100.0, -3.5, 0.0, 0.4, 1.0, 12.25, 333.0}) {
    ScalarToSupport(x, S, p.data());
    double total = 0;
    int nonzero = 0;
    for (float v : p) total += v, nonzero += v > 0;
    EXPECT_NEAR(total, 1.0, 1e-6);
    EXPECT_LE(nonzero, 2);  // two-hot
    EXPECT_NEAR(SupportToScalar(p.data(), S), x, 1e-3 * std::max(1.0, std::abs(x))) << x;
  }
  // φ(3) = 1.003: 0.997 on +1, 0.003 on +2.
  ScalarToSupport(3.0, S, p.data());
  EXPECT_NEAR(p[S + 1], 0.997, 1e-6);
  EXPECT_NEAR(p[S + 2], 0.003, 1e-6);
  // Clipped at the support's end.
  ScalarToSupport(1e6, 2, p.data());
  EXPECT_FLOAT_EQ(p[4], 1.0f);
}

GameRecord WorkedGame(bool two_player) {
  GameRecord g;
  g.num_actions = 2, g.obs_size = 1;
  g.rewards = {1, 0, 2, 0, 3};
  g.root_values = {10, 20, 30, 40, 50};
  g.actions = {0, 1, 1, 0, 1};
  g.policies = {0.5f, 0.5f, 0.1f, 0.9f, 1, 0, 0, 1, 0.3f, 0.7f};
  g.players = two_player ? std::vector<int8_t>{0, 1, 0, 1, 0} : std::vector<int8_t>{0, 0, 0, 0, 0};
  g.final_returns.assign(two_player ? 2 : 1, 0.0);
  return g;
}

TEST(MuZeroTest, NStepValueTargetsOfAWorkedSegment) {
  GameRecord g = WorkedGame(false);
  g.terminated = true;
  const double y = 0.9;
  // t = 0, n = 2: 1 + 0.9 * 0 + 0.81 * v2 = 1 + 0.81 * 30
  EXPECT_NEAR(ValueTarget(g, 0, 2, y), 1 + 0.81 * 30, 1e-9);
  // t = 3, n = 2: 0 + 0.9 * 3, then the game ended (terminated): no bootstrap
  EXPECT_NEAR(ValueTarget(g, 3, 2, y), 0.9 * 3, 1e-9);
  EXPECT_NEAR(ValueTarget(g, 5, 2, y), 0.0, 1e-12);
  // Truncated instead: bootstrap from the final value, γ^(T - t) = 0.81
  g.terminated = false;
  g.final_value = 100;
  EXPECT_NEAR(ValueTarget(g, 3, 2, y), 0.9 * 3 + 0.81 * 100, 1e-9);
  // Two players alternate: the opponent's rewards and values count negatively.
  GameRecord h = WorkedGame(true);
  h.terminated = true;
  // t = 0, n = 3: r0 (mine) - 0.9 r1 (theirs, 0) + 0.81 r2 (mine) - 0.729 v3 (theirs)
  EXPECT_NEAR(ValueTarget(h, 0, 3, 0.9), 1 + 0.81 * 2 - 0.729 * 40, 1e-9);
  // t = 1 (player 1), n = 2: -0 ... r1 = 0 mine, -0.9 * r2 (player 0's 2), + 0.81 v3 (mine)
  EXPECT_NEAR(ValueTarget(h, 1, 2, 0.9), -0.9 * 2 + 0.81 * 40, 1e-9);
}

TEST(MuZeroTest, UnrollTargetsPastTheEnd) {
  GameRecord g = WorkedGame(false);
  g.terminated = true;
  Rng rng(0);
  const UnrollTargets u = MakeTargets(g, 3, 3, 2, 0.9, rng);
  ASSERT_EQ(u.values.size(), 4u);
  EXPECT_NEAR(u.values[0], 0.9 * 3, 1e-6);   // t = 3
  EXPECT_NEAR(u.values[1], 3, 1e-6);         // t = 4: r4 only
  EXPECT_EQ(u.values[2], 0.0f);              // past the end
  EXPECT_EQ(u.rewards[0], 0.0f);
  EXPECT_EQ(u.rewards[1], 0.0f);             // r3
  EXPECT_EQ(u.rewards[2], 3.0f);             // r4
  EXPECT_EQ(u.rewards[3], 0.0f);             // past the end
  EXPECT_EQ(u.policy_mask, (std::vector<uint8_t>{1, 1, 0, 0}));
  EXPECT_FLOAT_EQ(u.policies[0 * 2 + 1], 1.0f);  // π3 = (0, 1)
  EXPECT_FLOAT_EQ(u.policies[1 * 2 + 1], 0.7f);  // π4
  EXPECT_EQ(u.actions[0], 0);
  EXPECT_EQ(u.actions[1], 1);
  EXPECT_TRUE(u.actions[2] == 0 || u.actions[2] == 1);
}

}  // namespace
}  // namespace rlforge::search

namespace rlforge::search {
namespace {

AlphaZeroConfig TicTacToeConfig() {
  AlphaZeroConfig c;
  c.num_actors = 0;  // inline self-play: deterministic
  c.simulations = 100;
  c.eval_simulations = 100;
  c.temperature_moves = 4;
  c.mcts.dirichlet_alpha = 1.0;
  c.games_per_iteration = 8;
  c.updates_per_iteration = 32;
  c.net_arch = {128, 128};
  return c;
}

TEST(AlphaZeroTest, TicTacToeNeverLosesToThePerfectPlayer) {
  torch::set_num_threads(1);
  AlphaZero az(Ctx("alphazero", "TicTacToe-v0", 0, 15000), TicTacToeConfig());
  while (az.num_timesteps() < 15000) az.Iterate();
  auto policy = az.MakePolicy(true);
  auto env = Make("TicTacToe-v0");
  board::SolverPolicy perfect(board::Board::TicTacToe(), "perfect", 0, 7);
  const MatchStats m = EvaluateMatch(*env, *policy, perfect, 100, 0);
  std::printf("AlphaZero TicTacToe (15k moves) vs perfect: %lld wins, %lld draws, %lld losses\n",
              static_cast<long long>(m.wins), static_cast<long long>(m.draws), static_cast<long long>(m.losses));
  EXPECT_EQ(m.losses, 0);
  RandomPolicy random(env->action_space(), 1, true);
  const MatchStats r = EvaluateMatch(*env, *policy, random, 100, 0);
  EXPECT_EQ(r.losses, 0);
  EXPECT_GE(r.win_rate(), 0.85);
}

TEST(AlphaZeroTest, ResumeContinuesExactly) {
  torch::set_num_threads(1);
  AlphaZeroConfig c = TicTacToeConfig();
  c.simulations = 20, c.games_per_iteration = 4, c.updates_per_iteration = 4, c.batch_size = 16;
  AlphaZero straight(Ctx("alphazero", "TicTacToe-v0", 5, 0), c);
  for (int i = 0; i < 4; ++i) straight.Iterate();
  AlphaZero first(Ctx("alphazero", "TicTacToe-v0", 5, 0), c);
  for (int i = 0; i < 2; ++i) first.Iterate();
  const std::string path = ::testing::TempDir() + "/az_resume.pt";
  first.Save(path);
  AlphaZero resumed(Ctx("alphazero", "TicTacToe-v0", 5, 0), c);
  resumed.Load(path);
  for (int i = 0; i < 2; ++i) resumed.Iterate();
  EXPECT_EQ(resumed.num_timesteps(), straight.num_timesteps());
  auto a = straight.network()->parameters(), b = resumed.network()->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
  // A corrupt checkpoint is named.
  {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << "not a checkpoint";
  }
  try {
    resumed.Load(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(AlphaZeroTest, RejectsSinglePlayerEnvs) {
  EXPECT_THROW(AlphaZero(Ctx("alphazero", "CartPole-v1", 0, 100), TicTacToeConfig()), InvalidArgument);
}

TEST(AlphaZeroTest, ActorThreadsFeedTheLearner) {
  torch::set_num_threads(1);
  AlphaZeroConfig c = TicTacToeConfig();
  c.num_actors = 2, c.simulations = 20, c.games_per_iteration = 4, c.updates_per_iteration = 2, c.batch_size = 16;
  AlphaZero az(Ctx("alphazero", "TicTacToe-v0", 0, 0), c);
  Metrics m;
  for (int i = 0; i < 3; ++i) m = az.Iterate();
  EXPECT_GE(m["games"], 12);
  EXPECT_GT(az.num_timesteps(), 12 * 5 - 1);  // a game has at least 5 moves
  EXPECT_GT(m["updates"], 0);
}

// A step limit shorter than a game: the search stepped a truncated clone
// again, and the actor thread's error ended the process (std::terminate,
// exit 134; inline self-play exited 1).
TEST(AlphaZeroTest, AStepLimitedGameIsPlayedAndSearched) {
  torch::set_num_threads(1);
  AlphaZeroConfig c = TicTacToeConfig();
  c.simulations = 20, c.games_per_iteration = 4, c.updates_per_iteration = 2, c.batch_size = 16;
  for (int actors : {0, 2}) {
    c.num_actors = actors;
    RunContext ctx = Ctx("alphazero", "TicTacToe-v0", 0, 0);
    ctx.run.env_kwargs = Kwargs{{"max_episode_steps", "4"}};
    AlphaZero az(ctx, c);
    Metrics m;
    for (int i = 0; i < 2; ++i) m = az.Iterate();
    EXPECT_GE(m["games"], 4) << actors << " actors";
  }
}

// An actor's error reaches the learner's thread as an exception.
TEST(AlphaZeroTest, AnActorsErrorIsRethrownToTheLearner) {
  ActorPool<torch::nn::Linear> pool;
  torch::nn::Linear learner(2, 2);
  pool.Start(
      2, 4, [] { return torch::nn::Linear(2, 2); }, [] { return Make("TicTacToe-v0"); },
      [](Env&, torch::nn::Linear, Rng&, uint64_t, int64_t) -> GameRecord { throw InvalidArgument("a bad game"); },
      learner, 0, 1);
  try {
    pool.Take(1);
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "a bad game");
  }
  pool.Stop();
}

TEST(MuZeroTest, ResumeContinuesExactly) {
  torch::set_num_threads(1);
  MuZeroConfig c;
  c.num_actors = 0, c.simulations = 8, c.games_per_iteration = 2, c.batch_size = 16, c.learning_starts = 16;
  c.unroll_steps = 3, c.td_steps = 5, c.latent_size = 8, c.net_arch = {16}, c.replay_size = 200;
  MuZero straight(Ctx("muzero", "CartPole-v1", 3, 2000), c);
  for (int i = 0; i < 6; ++i) straight.Iterate();
  MuZero first(Ctx("muzero", "CartPole-v1", 3, 2000), c);
  for (int i = 0; i < 3; ++i) first.Iterate();
  const std::string path = ::testing::TempDir() + "/mz_resume.pt";
  first.Save(path);
  MuZero resumed(Ctx("muzero", "CartPole-v1", 3, 2000), c);
  resumed.Load(path);
  for (int i = 0; i < 3; ++i) resumed.Iterate();
  EXPECT_EQ(resumed.num_timesteps(), straight.num_timesteps());
  auto a = straight.network()->parameters(), b = resumed.network()->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
}

}  // namespace
}  // namespace rlforge::search
