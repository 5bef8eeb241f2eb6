// Recurrent PPO's long learning runs (ctest label `long`): the zoo's ppo_lstm
// presets on the velocity-masked envs and MemoryCue-v0, each against a
// feed-forward PPO with the same budget and settings.
#include <gtest/gtest.h>

#include <filesystem>

#include "rlforge/train/runner.h"

namespace rlforge {
namespace {

EpisodeStats TrainRun(const std::string& algo, const std::string& env, int64_t seed, std::vector<std::string> sets = {},
                 std::optional<int64_t> steps = std::nullopt) {
  const std::string dir =
      testing::TempDir() + "/rlforge_long/" + algo + "-" + env + "-" + std::to_string(seed);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path());
  RunnerOptions quiet;
  quiet.progress = false;
  const TrainResult r = Train(TrainConfig::Resolve(algo, env, "", sets, steps, seed), dir, quiet);
  std::printf("%s %s seed %lld: %lld steps in %.1f s, eval return %.2f +- %.2f\n", algo.c_str(), env.c_str(),
              static_cast<long long>(seed), static_cast<long long>(r.timesteps), r.seconds, r.eval.mean_return,
              r.eval.std_return);
  return r.eval;
}

// The zoo's CartPole-v1 PPO settings (its CartPoleNoVel-v1 ppo_lstm preset
// without the LSTM keys): what a feed-forward policy gets on the same budget.
const std::vector<std::string> kFeedForwardCartPole = {
    "num_envs=8",        "normalize_obs=true", "normalize_reward=true", "n_steps=32", "batch_size=256", "gae_lambda=0.8",
    "gamma=0.98",        "n_epochs=20",        "ent_coef=0.0", "learning_rate=lin_0.001", "clip_range=lin_0.2"};

// The zoo reports one run (500); over seeds the preset does not solve every
// one (docs/training.md: 8 of seeds 0-9 on this project's machine): the test
// asks 4 of seeds 0-4 at >= 475, and every seed far above the feed-forward
// policy.
TEST(RecurrentPpoLongTest, CartPoleNoVelFiveSeedsAgainstFeedForward) {
  double sum = 0, worst = 1e9;
  int solved = 0;
  for (int64_t seed = 0; seed < 5; ++seed) {
    const double r = TrainRun("recurrent-ppo", "CartPoleNoVel-v1", seed).mean_return;
    sum += r;
    worst = std::min(worst, r);
    solved += r >= 475.0;
  }
  double ff = 0;
  for (int64_t seed = 0; seed < 3; ++seed)
    ff += TrainRun("ppo", "CartPoleNoVel-v1", seed, kFeedForwardCartPole, 100000).mean_return / 3;
  std::printf("CartPoleNoVel-v1 at 100k: recurrent-ppo mean %.2f, worst %.2f; ppo mean %.2f\n", sum / 5, worst, ff);
  EXPECT_GE(solved, 4);
  EXPECT_GE(worst, 150.0);
  EXPECT_LE(ff, 100.0);
}

TEST(RecurrentPpoLongTest, MemoryCueThreeSeedsAgainstFeedForward) {
  for (int64_t seed = 0; seed < 3; ++seed) {
    EXPECT_GE(TrainRun("recurrent-ppo", "MemoryCue-v0", seed).success_rate.value_or(0), 0.95) << seed;
    const EpisodeStats ff = TrainRun("ppo", "MemoryCue-v0", seed,
                                {"num_envs=8", "n_steps=64", "batch_size=128", "n_epochs=4", "learning_rate=0.001",
                                 "ent_coef=0.01", "net_arch=[32]"},
                                50000);
    EXPECT_LE(ff.success_rate.value_or(1), 0.7) << seed;
  }
}

// The zoo's PendulumNoVel-v1 preset (gSDE, observations and rewards
// normalized) at 100k: seeds 0-2 ended at -169.12, -189.36, -183.22 on one
// machine, and at -226.20, -400.85, -193.82 on another (AMD EPYC, AVX-512
// kernels): this test fails there; the target is not robust across machines.
TEST(RecurrentPpoLongTest, PendulumNoVelThreeSeeds) {
  double sum = 0, worst = 0;
  for (int64_t seed = 0; seed < 3; ++seed) {
    const double r = TrainRun("recurrent-ppo", "PendulumNoVel-v1", seed).mean_return;
    sum += r;
    worst = std::min(worst, r);
  }
  std::printf("PendulumNoVel-v1 at 100k: mean %.2f, worst %.2f\n", sum / 3, worst);
  EXPECT_GE(sum / 3, -250.0);
  EXPECT_GE(worst, -300.0);
}

// The zoo's MountainCarContinuousNoVel-v0 preset (gSDE, observations and
// rewards normalized) at 300k: seeds 0-2 measured 92.36, 91.87, 92.98. With
// observations normalized alone they were 93.95, 94.40 and -64.27 (seed 2
// never found the flag); a feed-forward PPO with those settings, seed 0: -99.37.
TEST(RecurrentPpoLongTest, MountainCarContinuousNoVelThreeSeeds) {
  for (int64_t seed = 0; seed < 3; ++seed)
    EXPECT_GE(TrainRun("recurrent-ppo", "MountainCarContinuousNoVel-v0", seed).mean_return, 85.0) << seed;
}

}  // namespace
}  // namespace rlforge
