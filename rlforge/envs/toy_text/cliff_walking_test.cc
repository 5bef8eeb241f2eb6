#include "rlforge/envs/toy_text/cliff_walking.h"

#include <gtest/gtest.h>

#include "rlforge/env/registry.h"

namespace rlforge {
namespace {

TEST(CliffWalkingTest, CliffSendsBackToStartWithMinus100) {
  CliffWalking env;
  const Transition& t = *env.model().Outcomes(36, CliffWalking::kRight).begin();
  EXPECT_EQ(t.next_state, 36);
  EXPECT_EQ(t.reward, -100);
  EXPECT_FALSE(t.terminated);
  int64_t s;
  env.Reset(0, &s);
  EXPECT_EQ(s, 36);
  StepResult r = env.StepDiscrete(CliffWalking::kRight, &s);
  EXPECT_EQ(s, 36);
  EXPECT_EQ(r.reward, -100);
  EXPECT_FALSE(r.done());
}

TEST(CliffWalkingTest, SafePathAlongTheEdgeReturnsMinus13) {
  CliffWalking env;
  int64_t s;
  env.Reset(0, &s);
  double ret = 0;
  StepResult r = env.StepDiscrete(CliffWalking::kUp, &s);
  ret += r.reward;
  for (int i = 0; i < 11; ++i) ret += env.StepDiscrete(CliffWalking::kRight, &s).reward;
  r = env.StepDiscrete(CliffWalking::kDown, &s);
  ret += r.reward;
  EXPECT_EQ(s, 47);
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(ret, -13);
  EXPECT_EQ(r.info.Get("is_success").value_or(0), 1.0);
}

TEST(CliffWalkingTest, SlipperyOutcomesMatchGymnasium) {
  CliffWalking env(/*is_slippery=*/true, "CliffWalkingSlippery-v1");
  auto out = env.model().Outcomes(36, CliffWalking::kUp);  // [left, up, right]
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out.begin()[0].next_state, 36);
  EXPECT_EQ(out.begin()[0].reward, -1);
  EXPECT_EQ(out.begin()[1].next_state, 24);
  EXPECT_EQ(out.begin()[2].next_state, 36);
  EXPECT_EQ(out.begin()[2].reward, -100);
  for (const auto& t : out) EXPECT_NEAR(t.prob, 1.0 / 3, 1e-12);
}

TEST(CliffWalkingTest, NoTimeLimitAndTextRender) {
  auto env = Make("CliffWalking-v1");
  int64_t s;
  env->Reset(0, &s);
  for (int i = 0; i < 5000; ++i) ASSERT_FALSE(env->StepDiscrete(CliffWalking::kLeft, &s).done());
  const std::string text = env->RenderText();
  EXPECT_EQ(text.substr(0, 35), "o  o  o  o  o  o  o  o  o  o  o  o\n");
  EXPECT_NE(text.find("x  C  C"), std::string::npos);
  EXPECT_NE(text.find(" T\n"), std::string::npos);
  auto slip = Make("CliffWalkingSlippery-v1");
  EXPECT_EQ(slip->name(), "CliffWalkingSlippery-v1");
}

}  // namespace
}  // namespace rlforge
