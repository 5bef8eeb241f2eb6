// Agents on TowerDefense-v0: PPO draws its MultiDiscrete actions under the
// env's conditional masks, so training and evaluating in strict mode (where
// an illegal action throws) never fails; DQN acts through the flat encoding's
// exact mask.
#include <gtest/gtest.h>

#include <filesystem>

#include "rlforge/algos/dqn/dqn.h"
#include "rlforge/algos/on_policy.h"
#include "rlforge/env/registry.h"
#include "rlforge/env/vector_env.h"
#include "rlforge/data/demonstrations.h"
#include "rlforge/train/runner.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

RunnerOptions Quiet() {
  RunnerOptions o;
  o.progress = false;
  return o;
}

TEST(TowerDefenseAgentsTest, PpoAndA2cNeverSendAnIllegalActionInStrictMode) {
  for (const char* algo : {"ppo", "a2c"}) {
    const std::string dir = testing::TempDir() + "/rlforge_td_strict_" + algo;
    fs::remove_all(dir);
    auto config = TrainConfig::Resolve(algo, "TowerDefense-v0", "",
                                       {"env_kwargs={stage: 3, strict: true, ticks_per_step: 4}", "num_envs=8",
                                        "n_steps=32", "eval_episodes=0"},
                                       20000, 0);
    ASSERT_NO_THROW(Train(config, dir, Quiet())) << algo;
    // The trained policy, sampled and greedy, in strict envs.
    auto run = LoadRun(dir);
    for (bool deterministic : {false, true}) {
      VectorEnvOptions opt;
      opt.num_envs = 4;
      auto envs = VectorEnv::Make("TowerDefense-v0", {{"stage", "4"}, {"strict", "true"}, {"ticks_per_step", "4"}}, opt);
      auto policy = run.algorithm->MakePolicy(deterministic);
      EXPECT_NO_THROW(Evaluate(*envs, *policy, 8, 1)) << algo << " deterministic " << deterministic;
    }
  }
}

TEST(TowerDefenseAgentsTest, DqnUsesTheFlatEncodingInStrictMode) {
  const std::string dir = testing::TempDir() + "/rlforge_td_strict_dqn";
  fs::remove_all(dir);
  auto config = TrainConfig::Resolve(
      "dqn", "TowerDefense-v0", "",
      {"env_kwargs={stage: 4, strict: true, flat_actions: true, ticks_per_step: 4}", "learning_starts=500",
       "eval_episodes=8", "exploration_fraction=0.5", "net_arch=[64]", "batch_size=32", "gradient_steps=1"},
      3000, 0);
  TrainResult r;
  ASSERT_NO_THROW(r = Train(config, dir, Quiet()));
  EXPECT_EQ(r.eval.episodes, 8);
  // Without flat_actions the error says how to get a Discrete encoding.
  try {
    auto bad = TrainConfig::Resolve("dqn", "TowerDefense-v0", "", {"env_kwargs={stage: 1}"}, 1000, 0);
    Train(bad, dir + "_bad", Quiet());
    ADD_FAILURE() << "DQN accepted a MultiDiscrete action space";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("flat_actions"), std::string::npos) << e.what();
  }
}

// The preset (which first clones the heuristic), stage 1, 200k steps: the
// greedy policy wins at least 80% of 100 episodes, in strict
// mode (so it never sent an illegal action).
TEST(TowerDefenseAgentsTest, PpoWinsStageOne) {
  const std::string dir = testing::TempDir() + "/rlforge_td_ppo_stage1";
  fs::remove_all(dir);
  auto config = TrainConfig::Resolve("ppo", "TowerDefense-v0", "",
                                     {"env_kwargs={stage: 1, ticks_per_step: 4, strict: true}"}, 200000, 0);
  const TrainResult r = Train(config, dir, Quiet());
  std::printf("PPO TowerDefense-v0 stage 1: %lld steps in %.1f s, win rate %.2f, return %.3f\n",
              static_cast<long long>(r.timesteps), r.seconds, r.eval.success_rate.value_or(-1), r.eval.mean_return);
  EXPECT_GE(r.eval.success_rate.value_or(0), 0.8);
}

// Recorded demonstrations: every episode's observations o_0..o_T, the rewards
// summing to the episode's return, and per step masks under which the
// demonstrated action is legal dimension by dimension.
TEST(TowerDefenseAgentsTest, DemonstrationsRecordTheHeuristicsEpisodes) {
  auto env = Make("TowerDefense-v0", {{"stage", "2"}, {"ticks_per_step", "4"}, {"strict", "true"}});
  auto heuristic = Registry::Global().MakeScriptedPolicy("heuristic", "TowerDefense-v0", *env, 0);
  const Demonstrations d = RecordDemonstrations(*env, *heuristic, 2, 100);
  ASSERT_EQ(d.episodes(), 2);
  EXPECT_EQ(d.episode_successes, 2);  // the heuristic wins stage 2
  const int64_t S = d.steps();
  EXPECT_EQ(S, d.episode_lengths[0] + d.episode_lengths[1]);
  EXPECT_EQ(static_cast<int64_t>(d.obs.size()), (S + 2) * d.obs_bytes);
  EXPECT_EQ(static_cast<int64_t>(d.legal_masks.size()), (S + 2) * d.mask_size);
  EXPECT_EQ(d.row[d.episode_lengths[0]], d.episode_lengths[0] + 1);  // episode 2 starts after episode 1's final row
  const auto& nvec = env->action_space().nvec();
  ASSERT_EQ(d.action_dims, static_cast<int64_t>(nvec.size()));
  for (int64_t t = 0; t < S; ++t) {
    int64_t offset = 0;
    for (int64_t k = 0; k < d.action_dims; ++k) {
      ASSERT_TRUE(d.action_masks[t * d.mask_size + offset + d.actions[t * d.action_dims + k]]) << t << " dim " << k;
      offset += nvec[k];
    }
  }
  double first = 0;
  for (int64_t t = 0; t < d.episode_lengths[0]; ++t) first += d.rewards[t];
  EXPECT_NEAR(first, d.episode_returns[0], 1e-4);
  EXPECT_TRUE(d.terminated[d.episode_lengths[0] - 1]);
  // Undiscounted returns-to-go: the episode's return at its first step, the last reward at its last.
  const auto g = d.ReturnsToGo(1.0);
  EXPECT_NEAR(g[0], d.episode_returns[0], 1e-4);
  EXPECT_NEAR(g[S - 1], d.rewards[S - 1], 1e-6);
  // With gamma 0.5 by hand for the last two steps of episode 1.
  const auto h = d.ReturnsToGo(0.5);
  const int64_t last = d.episode_lengths[0] - 1;
  EXPECT_NEAR(h[last - 1], d.rewards[last - 1] + 0.5 * d.rewards[last], 1e-5);
}

// Behaviour cloning: PPO pretrained on 20 of the heuristic's stage-2 episodes
// (then one PPO iteration) imitates it almost everywhere and wins stage 2.
TEST(TowerDefenseAgentsTest, PpoPretrainedOnTheHeuristicWinsStageTwo) {
  const std::string dir = testing::TempDir() + "/rlforge_td_ppo_bc";
  fs::remove_all(dir);
  auto config = TrainConfig::Resolve(
      "ppo", "TowerDefense-v0", "",
      {"env_kwargs={stage: 2, ticks_per_step: 4, strict: true}", "pretrain_policy=heuristic", "pretrain_episodes=20",
       "n_steps=64", "eval_episodes=20"},
      1024, 0);
  const TrainResult r = Train(config, dir, Quiet());
  EXPECT_GE(r.eval.success_rate.value_or(0), 0.8);
  auto run = LoadRun(dir);
  const Metrics& m = dynamic_cast<OnPolicyAlgorithm&>(*run.algorithm).pretrain_metrics();
  ASSERT_EQ(m.count("pretrain_accuracy"), 1u);  // kept in the checkpoint
  EXPECT_GE(m.at("pretrain_accuracy"), 0.95);
  EXPECT_EQ(m.at("pretrain_demo_success"), 1.0);
  EXPECT_GT(m.at("pretrain_demo_steps"), 1000);
}

// DQfD: pretrained on the heuristic's stage-2 demonstrations alone (no
// learning from its own play yet), DQN's greedy policy picks the
// demonstrated action almost everywhere and wins stage 2.
TEST(TowerDefenseAgentsTest, DqnPretrainedOnDemonstrationsWinsStageTwo) {
  const std::string dir = testing::TempDir() + "/rlforge_td_dqfd";
  fs::remove_all(dir);
  auto config = TrainConfig::Resolve(
      "dqn", "TowerDefense-v0", "",
      {"env_kwargs={stage: 2, strict: true, flat_actions: true, ticks_per_step: 4}", "demo_policy=heuristic",
       "demo_episodes=10", "demo_pretrain_steps=1500", "learning_starts=100000", "exploration_initial_eps=0.1",
       "net_arch=[128]", "eval_episodes=20"},
      2000, 0);
  const TrainResult r = Train(config, dir, Quiet());
  EXPECT_GE(r.eval.success_rate.value_or(0), 0.8);
  auto run = LoadRun(dir);
  auto& dqn = dynamic_cast<Dqn&>(*run.algorithm);
  dqn.PrepareDemonstrations();  // re-recorded after loading: the same episodes
  EXPECT_GT(dqn.demo_replay().size(), 1000);
}

}  // namespace
}  // namespace rlforge
