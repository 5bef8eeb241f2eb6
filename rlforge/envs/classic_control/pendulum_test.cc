#include "rlforge/envs/classic_control/pendulum.h"

#include <gtest/gtest.h>

#include <cmath>

namespace rlforge {
namespace {

TEST(PendulumTest, HandComputedStep) {
  Pendulum env;
  float obs[3];
  env.Reset(0, obs);
  env.set_state(M_PI / 2, 0.0);
  const float u = 2.0f;
  StepResult r = env.Step(&u, obs);
  // theta_dot' = (3*10/2 * sin(pi/2) + 3 * 2) * 0.05 = 1.05; theta' = pi/2 + 0.0525.
  EXPECT_NEAR(env.theta_dot(), 1.05, 1e-12);
  EXPECT_NEAR(env.theta(), 1.62329632679, 1e-10);
  // cost on the old state: (pi/2)^2 + 0 + 0.001 * 4.
  EXPECT_NEAR(r.reward, -2.47140110027, 1e-10);
  EXPECT_FALSE(r.terminated);
  EXPECT_NEAR(obs[0], std::cos(1.62329632679), 1e-6);
  EXPECT_NEAR(obs[2], 1.05, 1e-6);
}

// Gymnasium clips the torque inside step (np.clip to [-2, 2]): 3.5 acts and
// costs as 2; NaN and Inf are rejected.
TEST(PendulumTest, OutOfRangeTorqueIsClippedAsInGymnasium) {
  Pendulum env;
  float obs[3];
  env.Reset(0, obs);
  env.set_state(M_PI / 2, 0.0);
  const float u = 3.5f;
  StepResult r = env.Step(&u, obs);
  EXPECT_NEAR(env.theta_dot(), 1.05, 1e-12);
  EXPECT_NEAR(r.reward, -2.47140110027, 1e-10);
  env.set_state(M_PI / 2, 0.0);
  const float neg = -100.0f;
  r = env.Step(&neg, obs);
  EXPECT_NEAR(env.theta_dot(), (15.0 - 6.0) * 0.05, 1e-12);
  const float nan = std::nanf(""), inf = INFINITY;
  EXPECT_THROW(env.Step(&nan, obs), InvalidArgument);
  EXPECT_THROW(env.Step(&inf, obs), InvalidArgument);
}

TEST(PendulumTest, UprightAtRestStaysWithZeroCost) {
  Pendulum env;
  float obs[3];
  env.Reset(0, obs);
  env.set_state(0.0, 0.0);
  const float u = 0.0f;
  StepResult r = env.Step(&u, obs);
  EXPECT_EQ(r.reward, 0.0);
  EXPECT_EQ(env.theta(), 0.0);
}

TEST(PendulumTest, SpeedIsClippedAndAnglesNormalized) {
  Pendulum env;
  float obs[3];
  env.Reset(0, obs);
  env.set_state(M_PI / 2, 7.9);
  const float u = 2.0f;
  env.Step(&u, obs);
  EXPECT_EQ(env.theta_dot(), 8.0);
  EXPECT_NEAR(Pendulum::AngleNormalize(3 * M_PI / 2), -M_PI / 2, 1e-12);
  EXPECT_NEAR(Pendulum::AngleNormalize(-3 * M_PI / 2), M_PI / 2, 1e-12);
  EXPECT_NEAR(Pendulum::AngleNormalize(2 * M_PI + 0.1), 0.1, 1e-12);
  Pendulum heavy(/*g=*/20.0);
  heavy.Reset(0, obs);
  heavy.set_state(M_PI / 2, 0.0);
  const float zero = 0.0f;
  heavy.Step(&zero, obs);
  EXPECT_NEAR(heavy.theta_dot(), 1.5, 1e-12);  // 3 * 20 / 2 * 0.05
}

TEST(PendulumTest, ResetRanges) {
  Pendulum env;
  float obs[3];
  for (uint64_t s = 0; s < 500; ++s) {
    env.Reset(s, obs);
    ASSERT_LE(std::abs(env.theta()), M_PI);
    ASSERT_LE(std::abs(env.theta_dot()), 1.0);
  }
}

}  // namespace
}  // namespace rlforge
