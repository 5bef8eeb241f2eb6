#include "rlforge/envs/classic_control/acrobot.h"

#include <gtest/gtest.h>

#include <cmath>

namespace rlforge {
namespace {

TEST(AcrobotTest, DerivativesAtRestUnderUnitTorque) {
  // d1 = 4.5, d2 = 1.75, phi = 0: ddtheta2 = 1 / (1.25 - 1.75^2 / 4.5) = 1.7560976,
  // ddtheta1 = -1.75 ddtheta2 / 4.5 = -0.6829268.
  const auto d = Acrobot::Derivatives({0, 0, 0, 0}, 1.0);
  EXPECT_NEAR(d[0], 0.0, 1e-15);
  EXPECT_NEAR(d[1], 0.0, 1e-15);
  EXPECT_NEAR(d[2], -0.6829268292682932, 1e-12);
  EXPECT_NEAR(d[3], 1.7560975609756102, 1e-12);
}

TEST(AcrobotTest, Rk4StepMatchesWorkedValues) {
  const auto y = Acrobot::Rk4({0.05, -0.03, 0.1, -0.2}, 1.0, 0.2);
  EXPECT_NEAR(y[0], 0.0490387063583, 1e-11);
  EXPECT_NEAR(y[1], -0.0260000451199, 1e-11);
  EXPECT_NEAR(y[2], -0.108996078439, 1e-11);
  EXPECT_NEAR(y[3], 0.238611518904, 1e-11);
  // Fourth order: one step of 0.2 s agrees with 400 steps of 0.0005 s to ~4e-4.
  std::array<double, 4> fine = {0.05, -0.03, 0.1, -0.2};
  for (int i = 0; i < 400; ++i) fine = Acrobot::Rk4(fine, 1.0, 0.0005);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], fine[i], 1e-3);
}

TEST(AcrobotTest, StepWrapsClipsAndTerminatesAtTheTop) {
  Acrobot env;
  float obs[6];
  env.Reset(0, obs);
  env.set_state({M_PI - 0.01, 0.0, 0.0, 0.0});  // first link up: tip height ~2
  StepResult r = env.StepDiscrete(1, obs);
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(r.reward, 0.0);
  for (int i = 0; i < 2; ++i) EXPECT_LE(std::abs(env.state()[i]), M_PI);
  env.Reset(0, obs);
  env.set_state({0, 0, 100.0, -100.0});
  r = env.StepDiscrete(2, obs);
  EXPECT_LE(std::abs(env.state()[2]), Acrobot::kMaxVel1);
  EXPECT_LE(std::abs(env.state()[3]), Acrobot::kMaxVel2);
  env.Reset(0, obs);
  r = env.StepDiscrete(0, obs);
  EXPECT_FALSE(r.terminated);
  EXPECT_EQ(r.reward, -1.0);
  EXPECT_NEAR(obs[0] * obs[0] + obs[1] * obs[1], 1.0, 1e-6);
}

TEST(AcrobotTest, ResetInPlusMinus01) {
  Acrobot env;
  float obs[6];
  for (uint64_t s = 0; s < 300; ++s) {
    env.Reset(s, obs);
    for (double v : env.state()) ASSERT_LE(std::abs(v), 0.1);
  }
}

}  // namespace
}  // namespace rlforge
