#include "rlforge/env/space.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

TEST(SpaceTest, DiscreteWithStart) {
  const Space s = Space::Discrete(3, -1);
  EXPECT_EQ(s.ToString(), "Discrete(3, start=-1)");
  for (int64_t v : {-1, 0, 1}) EXPECT_TRUE(s.Contains(&v));
  for (int64_t v : {-2, 2}) EXPECT_FALSE(s.Contains(&v));
  Rng rng(0);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 3000; ++i) {
    int64_t v;
    s.Sample(rng, &v);
    ASSERT_TRUE(s.Contains(&v));
    ++counts[v + 1];
  }
  for (int c : counts) EXPECT_NEAR(c, 1000, 120);
  EXPECT_THROW(Space::Discrete(0), InvalidArgument);
}

TEST(SpaceTest, DiscreteMaskedSamplingOnlyDrawsLegalActions) {
  const Space s = Space::Discrete(5);
  const uint8_t mask[5] = {0, 1, 0, 1, 0};
  Rng rng(1);
  int ones = 0;
  for (int i = 0; i < 1000; ++i) {
    int64_t v;
    s.Sample(rng, &v, mask);
    ASSERT_TRUE(v == 1 || v == 3);
    ones += v == 1;
  }
  EXPECT_NEAR(ones, 500, 80);
  const uint8_t none[5] = {0, 0, 0, 0, 0};
  int64_t v;
  s.Sample(rng, &v, none);
  EXPECT_EQ(v, 0);  // Gymnasium returns `start` when nothing is legal
}

TEST(SpaceTest, BoxBoundsContainsAndSampling) {
  const double inf = std::numeric_limits<double>::infinity();
  const Space s = Space::Box({-1, 0, -inf}, {1, inf, inf}, {3});
  EXPECT_EQ(s.nbytes(), 12u);
  EXPECT_EQ(s.ToString(), "Box([-1.0 0.0 -inf], [1.0 inf inf], (3,), float32)");
  Rng rng(2);
  for (int i = 0; i < 1000; ++i) {
    float x[3];
    s.Sample(rng, x);
    ASSERT_TRUE(s.Contains(x)) << s.FormatValue(x);
  }
  const float out[3] = {1.5f, 0.f, 0.f};
  EXPECT_FALSE(s.Contains(out));
  EXPECT_NE(s.WhyNotContained(out).find("entry 0"), std::string::npos);
  const float nan[3] = {std::nanf(""), 0, 0};
  EXPECT_FALSE(s.Contains(nan));
  EXPECT_THROW(Space::Box(1, 0, {2}), InvalidArgument);
  EXPECT_EQ(Space::Box(-2, 2, {1}).ToString(), "Box(-2.0, 2.0, (1,), float32)");
  EXPECT_EQ(Space::Box(0, 255, {2, 3}, DType::kUInt8).ToString(), "Box(0.0, 255.0, (2, 3), uint8)");
}

TEST(SpaceTest, IntegerBoxSamplesWholeRangeInclusive) {
  const Space s = Space::Box(0, 2, {1}, DType::kUInt8);
  Rng rng(3);
  int seen[3] = {0, 0, 0};
  for (int i = 0; i < 600; ++i) {
    uint8_t v;
    s.Sample(rng, &v);
    ASSERT_LE(v, 2);
    ++seen[v];
  }
  for (int c : seen) EXPECT_GT(c, 120);
}

TEST(SpaceTest, MultiDiscreteMaskPerDimension) {
  const Space s = Space::MultiDiscrete({3, 2});
  EXPECT_EQ(s.mask_size(), 5);
  EXPECT_EQ(s.ToString(), "MultiDiscrete([3 2])");
  const uint8_t mask[5] = {0, 0, 1, /*dim 1*/ 1, 0};
  Rng rng(4);
  for (int i = 0; i < 100; ++i) {
    int64_t v[2];
    s.Sample(rng, v, mask);
    ASSERT_EQ(v[0], 2);
    ASSERT_EQ(v[1], 0);
  }
  const int64_t bad[2] = {3, 0};
  EXPECT_FALSE(s.Contains(bad));
}

TEST(SpaceTest, MultiBinary) {
  const Space s = Space::MultiBinary(4);
  EXPECT_EQ(s.dtype(), DType::kInt8);
  EXPECT_EQ(s.mask_size(), 0);
  Rng rng(5);
  int8_t v[4];
  s.Sample(rng, v);
  EXPECT_TRUE(s.Contains(v));
  const int8_t bad[4] = {0, 2, 0, 0};
  EXPECT_FALSE(s.Contains(bad));
  EXPECT_EQ(s.FormatValue(v).front(), '[');
}

}  // namespace
}  // namespace rlforge
