// Agents on TowerDefense-v0: PPO draws its MultiDiscrete actions under the
// env's conditional masks, so training and evaluating in strict mode (where
// an illegal action throws) never fails; DQN acts through the flat encoding's
// exact mask.
#include <gtest/gtest.h>

#include <filesystem>

#include "rlforge/env/vector_env.h"
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

// The preset, stage 1, 200k steps (it first wins every training episode at
// about 160k): the greedy policy wins at least 80% of 100 episodes, in strict
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

}  // namespace
}  // namespace rlforge
