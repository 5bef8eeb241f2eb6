#include "rlforge/env/wrappers.h"

#include <gtest/gtest.h>

#include <cmath>

#include "rlforge/env/registry.h"
#include "rlforge/envs/classic_control/cartpole.h"
#include "rlforge/envs/classic_control/pendulum.h"

namespace rlforge {
namespace {

TEST(TimeLimitTest, TruncatesAndRefusesFurtherSteps) {
  TimeLimit env(std::make_unique<Pendulum>(), 3);
  float obs[3];
  const float u = 0;
  env.Reset(0, obs);
  EXPECT_FALSE(env.Step(&u, obs).done());
  EXPECT_FALSE(env.Step(&u, obs).done());
  StepResult r = env.Step(&u, obs);
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.terminated);
  EXPECT_THROW(env.Step(&u, obs), Error);
  env.Reset(std::nullopt, obs);
  EXPECT_EQ(env.elapsed_steps(), 0);
  EXPECT_FALSE(env.Step(&u, obs).done());
}

TEST(RecordEpisodeStatisticsTest, ReportsReturnAndLengthOnTheFinalStep) {
  RecordEpisodeStatistics env(std::make_unique<TimeLimit>(std::make_unique<Pendulum>(), 4), /*window=*/2);
  float obs[3];
  const float u = 0;
  for (int ep = 0; ep < 3; ++ep) {
    env.Reset(ep, obs);
    double ret = 0;
    StepResult r;
    for (int i = 0; i < 4; ++i) {
      r = env.Step(&u, obs);
      ret += r.reward;
      if (i < 3) EXPECT_FALSE(r.info.Has("episode_return"));
    }
    EXPECT_NEAR(r.info.Get("episode_return").value(), ret, 1e-12);
    EXPECT_EQ(r.info.Get("episode_length").value(), 4);
  }
  EXPECT_EQ(env.episode_count(), 3);
  EXPECT_EQ(env.recent_returns().size(), 2u);
  EXPECT_EQ(env.recent_lengths(), (std::vector<int64_t>{4, 4}));
}

TEST(ClipActionTest, ClipsIntoTheInnerBounds) {
  ClipAction clipped(std::make_unique<Pendulum>());
  Pendulum plain;
  EXPECT_TRUE(std::isinf(clipped.action_space().high()[0]));
  float o1[3], o2[3];
  clipped.Reset(5, o1);
  plain.Reset(5, o2);
  const float big = 7.0f, two = 2.0f;
  const double r1 = clipped.Step(&big, o1).reward;
  const double r2 = plain.Step(&two, o2).reward;
  EXPECT_EQ(r1, r2);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(o1[i], o2[i]);
}

TEST(RescaleActionTest, MapsMinusOneOneOntoTheInnerRange) {
  RescaleAction scaled(std::make_unique<Pendulum>(), -1.0, 1.0);
  Pendulum plain;
  EXPECT_EQ(scaled.action_space().high()[0], 1.0);
  float o1[3], o2[3];
  scaled.Reset(3, o1);
  plain.Reset(3, o2);
  const float half = 0.5f, one = 1.0f;  // 0.5 in [-1, 1] is 1.0 in [-2, 2]
  EXPECT_EQ(scaled.Step(&half, o1).reward, plain.Step(&one, o2).reward);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(o1[i], o2[i]);
  const float out = 1.5f;
  EXPECT_THROW(scaled.Step(&out, o1), InvalidArgument);
}

TEST(RunningMeanStdTest, BatchAndSequentialUpdatesAgree) {
  RunningMeanStd a(2), b(2);
  const double data[8] = {1, 10, 2, 20, 3, 30, 4, 40};
  a.UpdateBatch(data, 4);
  for (int i = 0; i < 4; ++i) b.Update(data + 2 * i);
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(a.mean()[i], b.mean()[i], 1e-12);
    EXPECT_NEAR(a.var()[i], b.var()[i], 1e-12);
  }
  // Starting weight 1e-4 at mean 0, var 1: mean = 10 / 4.0001, var ~ 1.25.
  EXPECT_NEAR(a.mean()[0], 10.0 / 4.0001, 1e-12);
  EXPECT_NEAR(a.var()[0], 1.25, 2e-4);
  EXPECT_NEAR(a.count(), 4.0001, 1e-12);
}

TEST(NormalizeObservationTest, StandardizesWithRunningStatisticsThatRestore) {
  NormalizeObservation env(Make("CartPole-v1"));
  float obs[4];
  env.Reset(0, obs);
  Rng rng(0);
  for (int i = 0; i < 2000; ++i) {
    const int64_t a = rng.UniformInt(2);
    if (env.Step(&a, obs).done()) env.Reset(std::nullopt, obs);
  }
  const RunningMeanStd saved = env.stats();
  // With frozen statistics the output is exactly (x - mean) / sqrt(var + eps).
  env.set_update(false);
  env.Reset(123, obs);
  CartPole raw;
  float x[4];
  raw.Reset(123, x);
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(obs[i], (x[i] - saved.mean()[i]) / std::sqrt(saved.var()[i] + 1e-8), 1e-5);
  NormalizeObservation other(Make("CartPole-v1"));
  other.stats() = saved;
  other.set_update(false);
  float obs2[4];
  other.Reset(123, obs2);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(obs[i], obs2[i]);
}

TEST(NormalizeRewardTest, DividesByTheStdOfTheDiscountedReturn) {
  NormalizeReward env(std::make_unique<Pendulum>(), /*gamma=*/0.9);
  float obs[3];
  const float u = 0;
  env.Reset(0, obs);
  Pendulum ref;
  float o[3];
  ref.Reset(0, o);
  RunningMeanStd stats(1);
  double g = 0;
  for (int i = 0; i < 5; ++i) {
    const double raw = ref.Step(&u, o).reward;
    g = g * 0.9 + raw;
    stats.Update(&g);
    EXPECT_NEAR(env.Step(&u, obs).reward, raw / std::sqrt(stats.var()[0] + 1e-8), 1e-9);
  }
}

TEST(FrameStackTest, StacksOldestFirstAndPadsWithTheResetObservation) {
  FrameStack env(std::make_unique<CartPole>(), 3);
  EXPECT_EQ(env.observation_space().shape(), (std::vector<int64_t>{3, 4}));
  float obs[12];
  env.Reset(0, obs);
  for (int j = 1; j < 3; ++j)
    for (int i = 0; i < 4; ++i) EXPECT_EQ(obs[j * 4 + i], obs[i]);
  float first[4];
  std::copy(obs, obs + 4, first);
  CartPole ref;
  float r[4];
  ref.Reset(0, r);
  const int64_t a = 1;
  env.Step(&a, obs);
  ref.StepDiscrete(1, r);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(obs[i], first[i]);      // oldest: the reset frame
    EXPECT_EQ(obs[8 + i], r[i]);      // newest: the step's frame
  }
  EXPECT_THROW(FrameStack(Make("Taxi-v4"), 2), InvalidArgument);
}

TEST(TransformTest, ObservationAndRewardFunctions) {
  TransformReward scaled(std::make_unique<CartPole>(), [](double r) { return 10 * r; });
  float obs[4];
  scaled.Reset(0, obs);
  EXPECT_EQ(scaled.StepDiscrete(0, obs).reward, 10.0);
  TransformObservation first_only(
      std::make_unique<CartPole>(),
      [](const void* in, void* out) { *static_cast<float*>(out) = static_cast<const float*>(in)[0]; },
      Space::Box(-5, 5, {1}));
  float x;
  first_only.Reset(0, &x);
  CartPole ref;
  ref.Reset(0, obs);
  EXPECT_EQ(x, obs[0]);
}

TEST(WrapperTest, CloneOfAStackIsIndependentAndRestoreRewinds) {
  auto env = std::make_unique<RecordEpisodeStatistics>(Make("CartPole-v1"));
  float obs[4], a[4], b[4];
  env->Reset(0, obs);
  env->StepDiscrete(1, obs);
  auto snapshot = env->Clone();
  env->StepDiscrete(0, a);
  env->StepDiscrete(0, a);
  env->Restore(*snapshot);
  env->StepDiscrete(0, b);
  env->StepDiscrete(0, b);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a[i], b[i]);
  EXPECT_THROW(env->Restore(*Make("CartPole-v1")), Error);
}

}  // namespace
}  // namespace rlforge
