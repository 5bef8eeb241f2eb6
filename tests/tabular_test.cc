// Tabular agents and planning: dynamic programming against hand-computed
// values, the textbook CliffWalking contrast, and learning targets.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "rlforge/algos/tabular/planning.h"
#include "rlforge/algos/tabular/tabular.h"
#include "rlforge/env/registry.h"
#include "rlforge/envs/toy_text/blackjack.h"
#include "rlforge/envs/toy_text/frozen_lake.h"
#include "rlforge/train/runner.h"

namespace rlforge {
namespace {

TEST(PlanningTest, ValueIterationOnAHandSolvableLake) {
  // S F G in a row, no slipping, gamma 0.9: entering G pays 1 and ends the
  // episode, so V(F) = 1 and V(S) = 0.9 (go right twice).
  FrozenLakeConfig c;
  c.desc = {"SFG"};
  c.is_slippery = false;
  FrozenLake env(c);
  const PlanningResult r = ValueIteration(env.model(), 0.9);
  EXPECT_NEAR(r.v[1], 1.0, 1e-12);
  EXPECT_NEAR(r.v[0], 0.9, 1e-12);
  EXPECT_EQ(r.policy[0], FrozenLake::kRight);
  EXPECT_EQ(r.policy[1], FrozenLake::kRight);
  // Policy evaluation of the greedy policy reproduces V.
  const auto v = PolicyEvaluation(env.model(), r.policy, 0.9);
  for (size_t s = 0; s < v.size(); ++s) EXPECT_NEAR(v[s], r.v[s], 1e-9);
  // A policy that walks left forever is worth 0.
  EXPECT_EQ(PolicyEvaluation(env.model(), {FrozenLake::kLeft, FrozenLake::kLeft, 0}, 0.9)[0], 0.0);
}

TEST(PlanningTest, SlipperyFrozenLakeOptimumIsABellmanFixedPoint) {
  FrozenLake env;
  const PlanningResult r = ValueIteration(env.model(), 0.99);
  EXPECT_GT(r.v[0], 0.5);
  EXPECT_LT(r.v[0], 0.6);
  const auto v = PolicyEvaluation(env.model(), r.policy, 0.99);
  for (size_t s = 0; s < v.size(); ++s) EXPECT_NEAR(v[s], r.v[s], 1e-8);
}

// Sutton & Barto's Figure 5.2 (the dealer stands on 17, soft 17 too; no
// doubling or splitting): the basic strategy, from value iteration.
bool BasicStrategySticks(int64_t sum, int64_t dealer, bool usable_ace) {
  if (usable_ace) return sum >= 19 || (sum == 18 && dealer >= 2 && dealer <= 8);
  if (sum >= 17) return true;
  if (sum >= 13) return dealer >= 2 && dealer <= 6;
  if (sum == 12) return dealer >= 4 && dealer <= 6;
  return false;
}

double ExpectedStartValue(const TransitionModel& m, const std::vector<double>& v) {
  double value = 0;
  for (int64_t s = 0; s < m.num_states(); ++s) value += m.initial_distribution()[s] * v[s];
  return value;
}

TEST(PlanningTest, BlackjackOptimalPolicyIsTheBasicStrategy) {
  auto env = Make("Blackjack-v1", {{"sab", "false"}});  // the rules with a model
  const TransitionModel& m = *env->transition_model();
  const PlanningResult r = ValueIteration(m, 1.0);
  int states = 0;
  for (int64_t sum = 12; sum <= 21; ++sum)
    for (int64_t dealer = 1; dealer <= 10; ++dealer)
      for (int64_t ace = 0; ace <= 1; ++ace) {
        const int64_t s = Blackjack::StateIndex(sum, dealer, ace);
        EXPECT_EQ(r.policy[s] == Blackjack::kStick, BasicStrategySticks(sum, dealer, ace == 1))
            << "sum " << sum << " dealer " << dealer << " usable ace " << ace;
        ++states;
      }
  EXPECT_EQ(states, 200);
  for (int64_t sum = 4; sum <= 11; ++sum) EXPECT_EQ(r.policy[Blackjack::StateIndex(sum, 10, 0)], Blackjack::kHit);
  // The house edge against the best policy: the expected return of a deal.
  const double value = ExpectedStartValue(m, r.v);
  std::printf("Blackjack-v1: optimal expected return %.5f\n", value);
  EXPECT_LT(value, 0.0);
  EXPECT_GT(value, -0.06);
}

TrainResult TrainTabular(const std::string& algo, const std::string& env, std::vector<std::string> sets = {},
                         int64_t seed = 0) {
  const std::string dir = testing::TempDir() + "/rlforge_tabular/" + algo + "-" + env;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path());
  RunnerOptions quiet;
  quiet.progress = false;
  return Train(TrainConfig::Resolve(algo, env, "", sets, std::nullopt, seed), dir, quiet);
}

TEST(TabularTest, CliffWalkingQLearningTakesTheEdgeSarsaTheSafePath) {
  // Greedy returns after Sutton & Barto's setting (alpha 0.5, epsilon 0.1).
  const TrainResult q = TrainTabular("q-learning", "CliffWalking-v1", {"eval_episodes=1"});
  const TrainResult sarsa = TrainTabular("sarsa", "CliffWalking-v1", {"eval_episodes=1"});
  EXPECT_EQ(q.eval.mean_return, -13.0);        // along the cliff
  EXPECT_LE(sarsa.eval.mean_return, -15.0);    // a row or two away from it
  EXPECT_GE(sarsa.eval.mean_return, -17.0);
}

TEST(TabularTest, TaxiQLearningReaches7Point5) {
  const TrainResult r = TrainTabular("q-learning", "Taxi-v4");
  std::printf("q-learning Taxi-v4: %lld steps in %.2f s, eval return %.2f\n", static_cast<long long>(r.timesteps),
              r.seconds, r.eval.mean_return);
  EXPECT_GE(r.eval.mean_return, 7.5);
}

// SARSA's Taxi preset kept a constant step size 0.5 and its final table held
// greedy loops (seed 0: -64.58, a quarter of the episodes never delivered).
TEST(TabularTest, TaxiSarsaPresetsReach7Point5) {
  for (const char* algo : {"sarsa", "expected-sarsa"}) {
    const TrainResult r = TrainTabular(algo, "Taxi-v4");
    EXPECT_GE(r.eval.mean_return, 7.5) << algo;
  }
}

// Taxi-v3, the older name, trained with the defaults (100k steps, alpha 0.1:
// return -108) instead of Taxi-v4's preset, without a word.
TEST(TabularTest, AnOlderEnvNameTakesItsCurrentIdsPreset) {
  const TrainConfig c = TrainConfig::Resolve("q-learning", "Taxi-v3", "", {}, std::nullopt, 0);
  const TrainConfig current = TrainConfig::Resolve("q-learning", "Taxi-v4", "", {}, std::nullopt, 0);
  EXPECT_TRUE(c.used_preset);
  EXPECT_EQ(c.run.env, "Taxi-v3");
  EXPECT_EQ(c.run.total_steps, current.run.total_steps);
  ASSERT_EQ(c.notes.size(), 1u);
  EXPECT_EQ(c.notes[0], "Taxi-v3 is an older name of Taxi-v4: q-learning's preset Taxi-v4 is used");
  EXPECT_TRUE(TrainConfig::Resolve("sarsa", "CliffWalking-v0", "", {}, std::nullopt, 0).used_preset);
}

TEST(TabularTest, FrozenLakeSuccessWithin003OfTheOptimalPolicy) {
  // The optimal policy's success rate: value iteration (gamma 0.99), then
  // 10,000 episodes under the registered 100-step limit.
  auto model_env = Make("FrozenLake-v1");
  ASSERT_NE(model_env->transition_model(), nullptr);
  const PlanningResult opt = ValueIteration(*model_env->transition_model(), 0.99);
  VectorEnvOptions opt_envs;
  opt_envs.num_envs = 8;
  auto envs = VectorEnv::Make("FrozenLake-v1", {}, opt_envs);
  QTablePolicy optimal(opt.q, 4, 0, 0);
  const EpisodeStats best = Evaluate(*envs, optimal, 10000, 123);
  const TrainResult r = TrainTabular("q-learning", "FrozenLake-v1", {"eval_episodes=10000"});
  std::printf("FrozenLake-v1: optimal success %.4f, q-learning %.4f\n", *best.success_rate, *r.eval.success_rate);
  EXPECT_NEAR(*r.eval.success_rate, *best.success_rate, 0.03);
}

// Q-learning on Blackjack-v1's preset, judged exactly: the greedy policy's
// expected return by policy evaluation over the model, against the optimum
// (sab=false: gym.make's sab=True has no exact model).
TEST(TabularTest, BlackjackQLearningNearTheOptimum) {
  auto env = Make("Blackjack-v1", {{"sab", "false"}});
  const TransitionModel& m = *env->transition_model();
  const double best = ExpectedStartValue(m, ValueIteration(m, 1.0).v);
  for (int64_t seed : {0, 1, 2}) {
    const std::string dir = testing::TempDir() + "/rlforge_tabular/blackjack-" + std::to_string(seed);
    std::filesystem::remove_all(dir);
    RunnerOptions quiet;
    quiet.progress = false;
    Train(TrainConfig::Resolve("q-learning", "Blackjack-v1", "", {"eval_episodes=0", "env_kwargs={sab: false}"},
                               std::nullopt, seed), dir, quiet);
    const std::vector<double> q = dynamic_cast<TabularTd&>(*LoadRun(dir).algorithm).q();  // a copy: the run is a temporary
    std::vector<int64_t> greedy(m.num_states());
    for (int64_t s = 0; s < m.num_states(); ++s) greedy[s] = q[2 * s + 1] > q[2 * s] ? 1 : 0;
    const double value = ExpectedStartValue(m, PolicyEvaluation(m, greedy, 1.0));
    std::printf("q-learning Blackjack-v1 seed %lld: greedy expected return %.5f (optimum %.5f)\n",
                static_cast<long long>(seed), value, best);
    EXPECT_GT(value, best - 0.005);
  }
}

TEST(TabularTest, ResumeIsExact) {
  auto config = [] {
    return TrainConfig::Resolve("sarsa", "Taxi-v4", "",
                                {"steps_per_iteration=5000", "checkpoint_interval=10000", "eval_episodes=0"}, 30000, 4);
  };
  const std::string root = testing::TempDir() + "/rlforge_tabular_resume";
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  RunnerOptions quiet;
  quiet.progress = false;
  Train(config(), root + "/a", quiet);
  std::filesystem::copy(root + "/a", root + "/b", std::filesystem::copy_options::recursive);
  std::filesystem::remove(root + "/b/checkpoints/final.pt");
  std::filesystem::remove(root + "/b/checkpoints/step_20000.pt");
  Resume(root + "/b", std::nullopt, quiet);
  auto qa = dynamic_cast<TabularTd&>(*LoadRun(root + "/a").algorithm).q();
  auto qb = dynamic_cast<TabularTd&>(*LoadRun(root + "/b").algorithm).q();
  EXPECT_EQ(qa, qb);
}

TEST(TabularTest, RejectsNonDiscreteEnvs) {
  const std::string dir = testing::TempDir() + "/rlforge_tabular_bad";
  std::filesystem::remove_all(dir);
  RunnerOptions quiet;
  quiet.progress = false;
  EXPECT_THROW(Train(TrainConfig::Resolve("q-learning", "CartPole-v1", "", {}, 1000, 0), dir, quiet), InvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir));
}

// initial_q 1e308 made expected SARSA's bootstrap (a sum over actions)
// infinite and its Q-table NaN, and the logged mean |TD error| infinite.
TEST(TabularTest, InitialQIsBounded) {
  try {
    TrainConfig::Resolve("expected-sarsa", "FrozenLake-v1", "", {"initial_q=1e308"}, 1000, 0);
    ADD_FAILURE() << "initial_q 1e308 was taken";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("config key 'initial_q' must be within [-1e150, 1e150]"), std::string::npos)
        << e.what();
  }
  TrainConfig c = TrainConfig::Resolve("expected-sarsa", "FrozenLake-v1", "", {"initial_q=1e150"}, 1000, 0);
  auto algo = MakeAlgorithm(c.Context(), *c.algo);
  for (int k = 0; k < 20; ++k) {
    const Metrics m = algo->Iterate();
    ASSERT_TRUE(std::isfinite(m.at("mean_abs_td_error"))) << k;
  }
}

}  // namespace
}  // namespace rlforge
