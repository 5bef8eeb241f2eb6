#include "rlforge/core/rng.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace rlforge {
namespace {

TEST(RngTest, SameSeedSameStreamDifferentSeedDifferentStream) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    EXPECT_NE(x, c.Next());
  }
}

TEST(RngTest, StateRoundTripResumesExactly) {
  Rng a(7);
  for (int i = 0; i < 10; ++i) a.Next();
  Rng b(0);
  b.set_state(a.state());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.Next(), b.Next());
}

TEST(RngTest, UniformIsInRangeWithMeanOneHalf) {
  Rng r(1);
  double sum = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double u = r.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  // Standard error of the mean is sqrt(1/12/n) ~ 0.00065.
  EXPECT_NEAR(sum / n, 0.5, 0.003);
}

TEST(RngTest, UniformIntIsUniform) {
  Rng r(3);
  const int k = 7, n = 70000;
  std::vector<int> counts(k, 0);
  for (int i = 0; i < n; ++i) ++counts[r.UniformInt(k)];
  double chi2 = 0;
  for (int c : counts) chi2 += (c - n / k) * double(c - n / k) / (n / k);
  // 6 degrees of freedom: P(chi2 > 22.46) = 0.001.
  EXPECT_LT(chi2, 22.46);
}

TEST(RngTest, NormalHasUnitVariance) {
  Rng r(5);
  double s = 0, s2 = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double x = r.Normal();
    s += x;
    s2 += x * x;
  }
  EXPECT_NEAR(s / n, 0.0, 0.015);
  EXPECT_NEAR(s2 / n, 1.0, 0.02);
}

}  // namespace
}  // namespace rlforge
