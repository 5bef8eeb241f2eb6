// QR-DQN learning (ctest label `long`): the zoo's CartPole-v1 preset
// (configs/qr-dqn.yaml, 50k steps, 10 quantiles) over three seeds. As for DQN
// (tests/dqn_test.cc), the target is met when a 100-episode deterministic
// evaluation every 5k steps reaches 475 within the budget (the model kept as
// checkpoints/best.pt); value-based agents on CartPole often forget again, so
// the final model's score is printed, not asserted.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "rlforge/train/runner.h"

namespace rlforge {
namespace {

TEST(QrDqnLongTest, CartPolePresetReaches475OnThreeSeeds) {
  RunnerOptions quiet;
  quiet.progress = false;
  double sum = 0, worst = 1e9;
  for (int64_t seed : {0, 1, 2}) {
    const std::string dir = testing::TempDir() + "/rlforge_long/qr-dqn-CartPole-v1-" + std::to_string(seed);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(std::filesystem::path(dir).parent_path());
    const TrainResult r = Train(TrainConfig::Resolve("qr-dqn", "CartPole-v1", "",
                                                     {"eval_interval=5000", "eval_interval_episodes=100"},
                                                     std::nullopt, seed),
                                dir, quiet);
    ASSERT_TRUE(r.best_eval.has_value());
    std::printf("qr-dqn CartPole-v1 seed %lld: %lld steps in %.1f s, best eval %.2f at %lld steps, final %.2f\n",
                static_cast<long long>(seed), static_cast<long long>(r.timesteps), r.seconds,
                r.best_eval->mean_return, static_cast<long long>(r.best_timesteps), r.eval.mean_return);
    EXPECT_GE(r.best_eval->mean_return, 475.0) << "seed " << seed;
    sum += r.best_eval->mean_return;
    worst = std::min(worst, r.best_eval->mean_return);
  }
  std::printf("qr-dqn CartPole-v1 best evaluation over 3 seeds: mean %.2f, worst %.2f\n", sum / 3, worst);
}

}  // namespace
}  // namespace rlforge
