// Long learning runs (ctest label `long`, `make test-long`): PPO, A2C and DQN
// presets on Acrobot-v1, MountainCar-v0, Pendulum-v1 and
// MountainCarContinuous-v0 with fixed seeds and
// the thresholds, 100-episode deterministic evaluation.
#include <gtest/gtest.h>

#include <filesystem>

#include "rlforge/train/runner.h"

namespace rlforge {
namespace {

EpisodeStats TrainPreset(const std::string& algo, const std::string& env, int64_t seed) {
  const std::string dir = testing::TempDir() + "/rlforge_long/" + algo + "-" + env;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path());
  RunnerOptions quiet;
  quiet.progress = false;
  const TrainResult r = Train(TrainConfig::Resolve(algo, env, "", {}, std::nullopt, seed), dir, quiet);
  std::printf("%s %s: %lld steps in %.1f s, eval return %.2f +- %.2f\n", algo.c_str(), env.c_str(),
              static_cast<long long>(r.timesteps), r.seconds, r.eval.mean_return, r.eval.std_return);
  return r.eval;
}

TEST(LongLearningTest, PpoAcrobotWithin500k) { EXPECT_GE(TrainPreset("ppo", "Acrobot-v1", 0).mean_return, -100.0); }

TEST(LongLearningTest, A2cAcrobotWithin500k) { EXPECT_GE(TrainPreset("a2c", "Acrobot-v1", 0).mean_return, -100.0); }

// Gymnasium's reward threshold for MountainCar-v0 is -110.
TEST(LongLearningTest, PpoMountainCarWithin1M) {
  EXPECT_GE(TrainPreset("ppo", "MountainCar-v0", 0).mean_return, -110.0);
}

TEST(LongLearningTest, PpoPendulumWithin1M) { EXPECT_GE(TrainPreset("ppo", "Pendulum-v1", 0).mean_return, -250.0); }

TEST(LongLearningTest, PpoGsdeMountainCarContinuousWithin300k) {
  EXPECT_GE(TrainPreset("ppo", "MountainCarContinuous-v0", 0).mean_return, 90.0);
}

// The zoo's DQN presets and budgets (configs/dqn.yaml).
TEST(LongLearningTest, DqnAcrobotWithin100k) { EXPECT_GE(TrainPreset("dqn", "Acrobot-v1", 0).mean_return, -100.0); }

TEST(LongLearningTest, DqnMountainCarWithin120k) {
  EXPECT_GE(TrainPreset("dqn", "MountainCar-v0", 0).mean_return, -115.0);
}

}  // namespace
}  // namespace rlforge
