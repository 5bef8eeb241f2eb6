#include "rlforge/envs/memory/memory_cue.h"

#include <gtest/gtest.h>

#include "rlforge/env/registry.h"

namespace rlforge {
namespace {

// The cue shows only at step 0, the query only at step `delay`; the answer is
// scored, and the episode ends, exactly there.
TEST(MemoryCueTest, CueThenBlanksThenQuery) {
  auto env = Make("MemoryCue-v0", Kwargs({{"delay", "3"}, {"num_cues", "3"}}));
  ASSERT_EQ(env->observation_space().ToString(), Space::Box(0.0, 1.0, {4}).ToString());
  std::vector<float> o(4);
  Info info;
  int right = 0;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    env->Reset(seed, o.data(), &info);
    int cue = -1;
    for (int k = 0; k < 3; ++k)
      if (o[k] == 1.0f) cue = k;
    ASSERT_GE(cue, 0);
    EXPECT_EQ(o[3], 0.0f);
    const int64_t wrong = (cue + 1) % 3;
    for (int t = 1; t <= 3; ++t) {
      StepResult r = env->Step(&wrong, o.data());  // ignored before the query
      EXPECT_EQ(r.reward, 0.0);
      EXPECT_FALSE(r.done());
      EXPECT_EQ(o[0] + o[1] + o[2], 0.0f) << "blank at step " << t;
      EXPECT_EQ(o[3], t == 3 ? 1.0f : 0.0f);
    }
    const int64_t answer = seed % 2 ? cue : wrong;
    StepResult r = env->Step(&answer, o.data());
    EXPECT_TRUE(r.terminated);
    EXPECT_EQ(r.reward, answer == cue ? 1.0 : -1.0);
    EXPECT_EQ(r.info.Get("is_success").value_or(-1), answer == cue ? 1.0 : 0.0);
    right += answer == cue;
  }
  EXPECT_EQ(right, 15);
}

TEST(MemoryCueTest, CuesAreUniformAndSeeded) {
  auto env = Make("MemoryCue-v0", Kwargs({{"num_cues", "4"}}));
  std::vector<float> o(5), p(5);
  Info info;
  std::vector<int> counts(4, 0);
  for (uint64_t seed = 0; seed < 4000; ++seed) {
    env->Reset(seed, o.data(), &info);
    for (int k = 0; k < 4; ++k) counts[k] += o[k] == 1.0f;
  }
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(counts[k], 1000, 100) << k;  // ~3 standard deviations
  auto again = Make("MemoryCue-v0", Kwargs({{"num_cues", "4"}}));
  env->Reset(123, o.data(), &info);
  again->Reset(123, p.data(), &info);
  EXPECT_EQ(o, p);
}

TEST(MemoryCueTest, ClearErrors) {
  EXPECT_THROW(Make("MemoryCue-v0", Kwargs({{"num_cues", "1"}})), InvalidArgument);
  EXPECT_THROW(Make("MemoryCue-v0", Kwargs({{"delay", "-1"}})), InvalidArgument);
  // Checked before the spaces are built: num_cues=1e9 built a 4 GB Box first,
  // and 1e12 ended in std::bad_alloc instead of this error.
  EXPECT_THROW(Make("MemoryCue-v0", Kwargs({{"num_cues", "1e12"}})), InvalidArgument);
  EXPECT_THROW(Make("MemoryCue-v0", Kwargs({{"num_cues", "0"}})), InvalidArgument);  // Discrete(0) named no kwarg
  auto env = Make("MemoryCue-v0");
  std::vector<float> o(3);
  Info info;
  env->Reset(0, o.data(), &info);
  const int64_t bad = 2;
  EXPECT_THROW(env->Step(&bad, o.data()), InvalidArgument);
}

}  // namespace
}  // namespace rlforge
