// BipedalWalker-v3 / Hardcore: terrain generator invariants, the lidar and
// the reward's shaping formula on hand-checkable quantities, replayed clones,
// and a random policy's statistics against Gymnasium's
// (bench/gymnasium/box2d_reference.py).
#include "rlforge/envs/box2d/bipedal_walker.h"

#include <gtest/gtest.h>

#include <cmath>

#include "rlforge/env/evaluation.h"
#include "rlforge/env/vector_env.h"

namespace rlforge {
namespace {

constexpr double kStep = 14.0 / 30.0, kGround = 400.0 / 30.0 / 4;

TEST(BipedalWalkerTest, TerrainInvariants) {
  for (bool hardcore : {false, true}) {
    int with_obstacles = 0;
    for (uint64_t seed = 0; seed < 20; ++seed) {
      BipedalWalker env(hardcore);
      float obs[24];
      env.Reset(seed, obs);
      const auto& x = env.terrain_x();
      const auto& y = env.terrain_y();
      ASSERT_EQ(x.size(), 200u);
      for (int i = 0; i < 200; ++i) EXPECT_NEAR(x[i], i * kStep, 1e-12);
      // The start pad (the first 21 points) is flat at H/4.
      for (int i = 0; i <= 20; ++i) EXPECT_EQ(y[i], kGround) << i;
      if (!hardcore) {
        EXPECT_EQ(env.terrain_pieces(), 0);
        // Grass: a damped walk, each step at most 0.8 |v| + 0.01 + 1/30 away.
        for (int i = 21; i < 200; ++i) EXPECT_LT(std::abs(y[i] - y[i - 1]), 0.5) << i;
      }
      with_obstacles += env.terrain_pieces() > 0;
    }
    if (hardcore) {
      EXPECT_EQ(with_obstacles, 20);
    }
  }
}

// Ray 0 points straight down from the hull's origin; on the flat start pad
// it meets the ground at (y_hull - H/4) / (160/30) of its length.
TEST(BipedalWalkerTest, LidarMeasuresTheGround) {
  BipedalWalker env(false);
  float obs[24];
  env.Reset(2, obs);
  EXPECT_NEAR(obs[14], (env.hull_y() - kGround) / (160.0 / 30.0), 1e-5);
  for (int k = 14; k < 24; ++k) {
    EXPECT_GT(obs[k], 0.0f);
    EXPECT_LE(obs[k], 1.0f);
  }
}

// Every non-terminal reward is the change of 130 x / 30 - 5 |angle| minus
// 0.028 clip(|a|, 0, 1) per joint.
TEST(BipedalWalkerTest, RewardIsShapingDifferenceMinusTorque) {
  BipedalWalker env(false);
  float obs[24];
  env.Reset(7, obs);
  Rng rng(3);
  double x0 = env.hull_x(), a0 = env.hull_angle();
  int checked = 0;
  for (int t = 0; t < 300; ++t) {
    float a[4];
    for (float& v : a) v = static_cast<float>(rng.Uniform(-1.5, 1.5));
    const StepResult r = env.Step(a, obs);
    if (r.terminated) break;
    double torque = 0;
    for (float v : a) torque += 0.00035 * 80 * std::min(1.0, std::abs(double(v)));
    const double x1 = env.hull_x(), a1 = env.hull_angle();
    EXPECT_NEAR(r.reward, 130 * (x1 - x0) / 30 - 5 * (std::abs(a1) - std::abs(a0)) - torque, 1e-4) << t;
    x0 = x1, a0 = a1;
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

TEST(BipedalWalkerTest, CloneAndStateReplayExactly) {
  for (bool hardcore : {false, true}) {
    BipedalWalker env(hardcore);
    float obs[24], obs2[24], obs3[24];
    env.Reset(5, obs);
    Rng rng(8);
    float a[4];
    auto act = [&] {
      for (float& v : a) v = static_cast<float>(rng.Uniform(-1, 1));
    };
    for (int t = 0; t < 60; ++t) {
      act();
      if (env.Step(a, obs).terminated) env.Reset(std::nullopt, obs);
    }
    auto clone = env.Clone();
    std::string state;
    env.SaveState(&state);
    BipedalWalker loaded(hardcore);
    loaded.LoadState(state);
    // A corrupt state with an all-zero reset RNG (after the env's RNG, 32
    // bytes, and its phase, 1) is refused; replaying it used to hang in the
    // terrain generator's rejection sampling (found by env_state_fuzz).
    std::string zero_rng = state;
    std::fill(zero_rng.begin() + 33, zero_rng.begin() + 65, '\0');
    BipedalWalker refused(hardcore);
    EXPECT_THROW(refused.LoadState(zero_rng), Error);
    for (int t = 0; t < 40; ++t) {
      act();
      const StepResult r1 = env.Step(a, obs), r2 = clone->Step(a, obs2), r3 = loaded.Step(a, obs3);
      for (int i = 0; i < 24; ++i) {
        ASSERT_EQ(obs[i], obs2[i]) << hardcore << " " << t;
        ASSERT_EQ(obs[i], obs3[i]) << hardcore << " " << t;
      }
      ASSERT_EQ(r1.reward, r2.reward);
      ASSERT_EQ(r1.reward, r3.reward);
      if (r1.terminated) break;
    }
  }
}

// A uniformly random policy against Gymnasium 1.3 + Box2D 2.3.10 (500
// episodes, bench/gymnasium/box2d_reference.py): BipedalWalker-v3 return
// -99.65 (standard error 0.63), length 596.70 (32.17); Hardcore -107.47
// (0.41), 712.58 (40.18). rlforge's 2,000-episode figures: -100.50 (0.34),
// 598.37 (16.05); Hardcore -110.22 (0.33), 690.23 (19.63) — the hardcore
// return is 2.75 lower (5 standard errors; the obstacles' contacts under
// Box2D 2.4, docs/environments.md), everything else within sampling error.
TEST(BipedalWalkerTest, RandomPolicyStatisticsAgainstGymnasium) {
  VectorEnvOptions opt;
  opt.num_envs = 8;
  for (bool hardcore : {false, true}) {
    auto envs = VectorEnv::Make(hardcore ? "BipedalWalkerHardcore-v3" : "BipedalWalker-v3", {}, opt);
    RandomPolicy policy(envs->single_action_space(), 17);
    const EpisodeStats s = Evaluate(*envs, policy, 150, 1000);
    const double se = s.std_return / std::sqrt(150.0);
    const double gym_return = hardcore ? -107.47 - 2.75 : -99.65;
    EXPECT_NEAR(s.mean_return, gym_return, 4 * se + 0.7) << hardcore;
    EXPECT_NEAR(s.mean_length, hardcore ? 712.58 : 596.70, 4 * s.std_length / std::sqrt(150.0) + 40) << hardcore;
  }
}

TEST(BipedalWalkerTest, RejectsNonFiniteActions) {
  BipedalWalker env(false);
  float obs[24];
  env.Reset(0, obs);
  const float bad[4] = {0, std::nanf(""), 0, 0};
  EXPECT_THROW(env.Step(bad, obs), InvalidArgument);
  const float big[4] = {3, -3, 0, 0};  // |a| clipped to 1 inside, as Gymnasium
  EXPECT_NO_THROW(env.Step(big, obs));
}

}  // namespace
}  // namespace rlforge
