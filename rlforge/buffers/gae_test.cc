#include "rlforge/buffers/gae.h"

#include <gtest/gtest.h>

#include <vector>

namespace rlforge {
namespace {

// One env, four steps: the episode is truncated after step 1 (bootstrapped
// with V(final obs) = 5) and terminated after step 3.
//   t  r   V    V'   done
//   0  1   2    3    0      (V' = V(s_1))
//   1  2   3    5    1      truncated: V(final obs)
//   2  0   4    6    0
//   3  1   6    0    1      terminated
struct Worked {
  std::vector<float> r = {1, 2, 0, 1}, v = {2, 3, 4, 6}, vn = {3, 5, 6, 0};
  std::vector<uint8_t> done = {0, 1, 0, 1};
};

TEST(GaeTest, WorkedExampleGammaHalfLambdaHalf) {
  Worked w;
  std::vector<float> adv(4), ret(4);
  ComputeGae(4, 1, w.r.data(), w.v.data(), w.vn.data(), w.done.data(), 0.5, 0.5, adv.data(), ret.data());
  // deltas: 1 + 1.5 - 2 = 0.5; 2 + 2.5 - 3 = 1.5; 0 + 3 - 4 = -1; 1 + 0 - 6 = -5
  // A3 = -5; A2 = -1 + 0.25 * -5 = -2.25; A1 = 1.5 (done); A0 = 0.5 + 0.25 * 1.5 = 0.875
  EXPECT_FLOAT_EQ(adv[3], -5.0f);
  EXPECT_FLOAT_EQ(adv[2], -2.25f);
  EXPECT_FLOAT_EQ(adv[1], 1.5f);
  EXPECT_FLOAT_EQ(adv[0], 0.875f);
  for (int t = 0; t < 4; ++t) EXPECT_FLOAT_EQ(ret[t], adv[t] + w.v[t]);
}

TEST(GaeTest, LambdaZeroIsTdZero) {
  Worked w;
  std::vector<float> adv(4), ret(4);
  ComputeGae(4, 1, w.r.data(), w.v.data(), w.vn.data(), w.done.data(), 0.9, 0.0, adv.data(), ret.data());
  for (int t = 0; t < 4; ++t) EXPECT_FLOAT_EQ(adv[t], w.r[t] + 0.9f * w.vn[t] - w.v[t]);
}

TEST(GaeTest, LambdaOneIsTheMonteCarloReturn) {
  Worked w;
  std::vector<float> adv(4), ret(4);
  ComputeGae(4, 1, w.r.data(), w.v.data(), w.vn.data(), w.done.data(), 0.9, 1.0, adv.data(), ret.data());
  // Episode 1 (steps 0-1) is truncated: G0 = 1 + 0.9 * (2 + 0.9 * 5) = 6.85, G1 = 2 + 4.5 = 6.5.
  // Episode 2 (steps 2-3) terminates: G2 = 0 + 0.9 * 1 = 0.9, G3 = 1.
  EXPECT_NEAR(ret[0], 6.85, 1e-5);
  EXPECT_NEAR(ret[1], 6.5, 1e-5);
  EXPECT_NEAR(ret[2], 0.9, 1e-5);
  EXPECT_NEAR(ret[3], 1.0, 1e-5);
}

TEST(GaeTest, EnvsAreIndependentColumns) {
  // Two envs interleaved [t][i]; env 1 is env 0's data shifted by +1 reward.
  Worked w;
  std::vector<float> r, v, vn;
  std::vector<uint8_t> d;
  for (int t = 0; t < 4; ++t) {
    r.insert(r.end(), {w.r[t], w.r[t] + 1});
    v.insert(v.end(), {w.v[t], w.v[t]});
    vn.insert(vn.end(), {w.vn[t], w.vn[t]});
    d.insert(d.end(), {w.done[t], w.done[t]});
  }
  std::vector<float> adv(8), ret(8), adv1(4), ret1(4);
  ComputeGae(4, 2, r.data(), v.data(), vn.data(), d.data(), 0.5, 0.5, adv.data(), ret.data());
  ComputeGae(4, 1, w.r.data(), w.v.data(), w.vn.data(), w.done.data(), 0.5, 0.5, adv1.data(), ret1.data());
  for (int t = 0; t < 4; ++t) EXPECT_FLOAT_EQ(adv[2 * t], adv1[t]);
  EXPECT_FLOAT_EQ(adv[7], -4.0f);  // last step: delta = 2 + 0 - 6
}

}  // namespace
}  // namespace rlforge
