#include "rlforge/envs/classic_control/cartpole.h"

#include <gtest/gtest.h>

#include "rlforge/env/registry.h"

namespace rlforge {
namespace {

TEST(CartPoleTest, HandComputedEulerSteps) {
  CartPole env;
  float obs[4];
  env.Reset(0, obs);
  env.set_state({0, 0, 0, 0});
  // Push right from rest: temp = 10/1.1, theta_acc = -temp / (0.5 (4/3 - 0.1/1.1))
  // = -14.6341463..., x_acc = temp - 0.05 theta_acc / 1.1 = 9.7560976...
  StepResult r = env.StepDiscrete(1, obs);
  EXPECT_DOUBLE_EQ(env.state()[0], 0.0);
  EXPECT_NEAR(env.state()[1], 0.19512195122, 1e-11);
  EXPECT_DOUBLE_EQ(env.state()[2], 0.0);
  EXPECT_NEAR(env.state()[3], -0.292682926829, 1e-11);
  EXPECT_EQ(r.reward, 1.0);
  EXPECT_FALSE(r.terminated);
  EXPECT_FLOAT_EQ(obs[1], 0.19512195122f);
  // Push left: the Euler update uses the old velocities.
  env.StepDiscrete(0, obs);
  EXPECT_NEAR(env.state()[0], 0.00390243902439, 1e-12);
  EXPECT_NEAR(env.state()[1], 0.0, 1e-12);
  EXPECT_NEAR(env.state()[2], -0.00585365853659, 1e-12);
  EXPECT_NEAR(env.state()[3], 0.0, 1e-12);
}

TEST(CartPoleTest, TerminatesPastThresholdsWithRewardOne) {
  CartPole env;
  float obs[4];
  env.Reset(0, obs);
  env.set_state({2.39, 1.0, 0, 0});  // x becomes 2.41 > 2.4
  StepResult r = env.StepDiscrete(1, obs);
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(r.reward, 1.0);
  env.Reset(0, obs);
  env.set_state({0, 0, 0.2094, 0.1});  // theta becomes 0.2114 > 12 degrees (0.20944)
  EXPECT_TRUE(env.StepDiscrete(1, obs).terminated);
  env.Reset(0, obs);
  env.set_state({0, 0, 0.2, 0});  // theta stays 0.2 < 0.20944
  EXPECT_FALSE(env.StepDiscrete(1, obs).terminated);
}

TEST(CartPoleTest, SuttonBartoReward) {
  CartPole env(/*sutton_barto_reward=*/true);
  float obs[4];
  env.Reset(0, obs);
  EXPECT_EQ(env.StepDiscrete(0, obs).reward, 0.0);
  env.set_state({2.39, 1.0, 0, 0});
  EXPECT_EQ(env.StepDiscrete(1, obs).reward, -1.0);
}

TEST(CartPoleTest, ResetIsUniformInPlusMinus005AndSeeded) {
  CartPole env;
  float a[4], b[4];
  double sum = 0;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    env.Reset(seed, a);
    for (float v : a) {
      ASSERT_GE(v, -0.05f);
      ASSERT_LE(v, 0.05f);
      sum += v;
    }
  }
  EXPECT_NEAR(sum / 8000, 0.0, 0.002);
  env.Reset(9, a);
  env.Reset(9, b);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a[i], b[i]);
}

TEST(CartPoleTest, RegistryAddsTimeLimit500) {
  auto env = Make("CartPole-v1");
  float obs[4];
  env->Reset(0, obs);
  auto& cp = static_cast<CartPole&>(env->unwrapped());
  int steps = 0;
  StepResult r;
  do {
    cp.set_state({0, 0, 0, 0});  // keep it balanced
    r = env->StepDiscrete(steps % 2, obs);
    ++steps;
  } while (!r.done());
  EXPECT_EQ(steps, 500);
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.terminated);
}

}  // namespace
}  // namespace rlforge
