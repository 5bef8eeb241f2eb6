// IMPALA's long learning runs (ctest label `long`): the presets over seeds,
// against A2C's targets (CartPole-v1 >= 475, Acrobot-v1 >= -100).
#include <gtest/gtest.h>

#include <filesystem>

#include "rlforge/train/runner.h"

namespace rlforge {
namespace {

double ImpalaRun(const std::string& env, int64_t seed) {
  const std::string dir = testing::TempDir() + "/rlforge_long/impala-" + env + "-" + std::to_string(seed);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path());
  RunnerOptions quiet;
  quiet.progress = false;
  const TrainResult r = Train(TrainConfig::Resolve("impala", env, "", {}, std::nullopt, seed), dir, quiet);
  std::printf("impala %s seed %lld: %lld steps in %.1f s, eval return %.2f +- %.2f\n", env.c_str(),
              static_cast<long long>(seed), static_cast<long long>(r.timesteps), r.seconds, r.eval.mean_return,
              r.eval.std_return);
  return r.eval.mean_return;
}

TEST(ImpalaLongTest, CartPoleFiveSeeds) {
  for (int64_t seed = 0; seed < 5; ++seed) EXPECT_GE(ImpalaRun("CartPole-v1", seed), 475.0) << "seed " << seed;
}

TEST(ImpalaLongTest, AcrobotThreeSeeds) {
  for (int64_t seed = 0; seed < 3; ++seed) EXPECT_GE(ImpalaRun("Acrobot-v1", seed), -100.0) << "seed " << seed;
}

}  // namespace
}  // namespace rlforge
