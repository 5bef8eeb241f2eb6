// V-trace against hand-worked examples from the IMPALA paper's definitions
// (Espeholt et al., 2018, eq. 1 and the policy-gradient target of 4.2), and
// against GAE for on-policy data, where V-trace's targets are the
// lambda-returns.
#include "rlforge/buffers/vtrace.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "rlforge/buffers/gae.h"

namespace rlforge {
namespace {

// T = 3, one env, gamma 0.9, rho_bar = c_bar = 1: ratios 0.5, 2, 1 give
// rho = c = (0.5, 1, 1).
//   delta_0 = 0.5 (1 + 0.9 * 0.4 - 0.5) = 0.43
//   delta_1 = 1 (0 + 0.9 * 0.3 - 0.4) = -0.13
//   delta_2 = 1 (2 + 0.9 * 0.6 - 0.3) = 2.24
//   v_0 = 0.5 + 0.43 + 0.9 * 0.5 * (-0.13) + 0.81 * 0.5 * 1 * 2.24 = 1.7787
//   v_1 = 0.4 - 0.13 + 0.9 * 1 * 2.24 = 2.286
//   v_2 = 0.3 + 2.24 = 2.54
//   A_0 = 0.5 (1 + 0.9 * 2.286 - 0.5) = 1.2787
//   A_1 = 1 (0 + 0.9 * 2.54 - 0.4) = 1.886
//   A_2 = 1 (2 + 0.9 * 0.6 - 0.3) = 2.24    (V(x_3) = 0.6 bootstraps the end)
TEST(VTrace, WorkedExampleFromTheDefinitions) {
  const std::vector<float> log_ratio = {std::log(0.5f), std::log(2.0f), 0.0f};
  const std::vector<float> r = {1, 0, 2}, v = {0.5f, 0.4f, 0.3f}, v_next = {0.4f, 0.3f, 0.6f};
  const std::vector<uint8_t> done = {0, 0, 0};
  VTraceOptions o;
  o.gamma = 0.9;
  std::vector<float> vs(3), adv(3), rho(3);
  ComputeVTrace(3, 1, log_ratio.data(), r.data(), v.data(), v_next.data(), done.data(), o, vs.data(), adv.data(),
                rho.data());
  EXPECT_NEAR(vs[0], 1.7787, 1e-5);
  EXPECT_NEAR(vs[1], 2.286, 1e-5);
  EXPECT_NEAR(vs[2], 2.54, 1e-5);
  EXPECT_NEAR(adv[0], 1.2787, 1e-5);
  EXPECT_NEAR(adv[1], 1.886, 1e-5);
  EXPECT_NEAR(adv[2], 2.24, 1e-5);
  EXPECT_NEAR(rho[0], 0.5, 1e-6);
  EXPECT_NEAR(rho[1], 1.0, 1e-6);

  // c_bar = 0.5 < rho_bar = 2: rho = (0.5, 2, 1), c = (0.5, 0.5, 0.5).
  //   delta = (0.43, -0.26, 2.24)
  //   v_2 = 2.54; v_1 = 0.4 - 0.26 + 0.9 * 0.5 * 2.24 = 1.148
  //   v_0 = 0.5 + 0.43 + 0.9 * 0.5 * (1.148 - 0.4) = 1.2666
  o.rho_bar = 2.0;
  o.c_bar = 0.5;
  ComputeVTrace(3, 1, log_ratio.data(), r.data(), v.data(), v_next.data(), done.data(), o, vs.data(), adv.data());
  EXPECT_NEAR(vs[2], 2.54, 1e-5);
  EXPECT_NEAR(vs[1], 1.148, 1e-5);
  EXPECT_NEAR(vs[0], 1.2666, 1e-5);
  EXPECT_NEAR(adv[1], 2.0 * (0.9 * 2.54 - 0.4), 1e-5);
}

// On-policy (pi = mu) with lambda = 1: v_0 is the 3-step return bootstrapped
// from V(x_3): 1 + 0.9 * 0 + 0.81 * 2 + 0.729 * 0.6 = 3.0574 (Remark 1).
// A termination at step 1 (V'_1 = 0) cuts the trace: v_0 = r_0 + 0.9 r_1.
TEST(VTrace, OnPolicyIsTheNStepReturnAndEpisodeEndsCutIt) {
  const std::vector<float> zero = {0, 0, 0}, r = {1, 0, 2}, v = {0.5f, 0.4f, 0.3f};
  VTraceOptions o;
  o.gamma = 0.9;
  std::vector<float> vs(3), adv(3);
  {
    const std::vector<float> v_next = {0.4f, 0.3f, 0.6f};
    const std::vector<uint8_t> done = {0, 0, 0};
    ComputeVTrace(3, 1, zero.data(), r.data(), v.data(), v_next.data(), done.data(), o, vs.data(), adv.data());
    EXPECT_NEAR(vs[0], 3.0574, 1e-5);
  }
  {
    const std::vector<float> v_next = {0.4f, 0.0f, 0.6f};  // step 1 terminates
    const std::vector<uint8_t> done = {0, 1, 0};
    ComputeVTrace(3, 1, zero.data(), r.data(), v.data(), v_next.data(), done.data(), o, vs.data(), adv.data());
    EXPECT_NEAR(vs[0], 1.0, 1e-6);                    // 1 + 0.9 * 0
    EXPECT_NEAR(vs[1], 0.0, 1e-6);                    // r_1, nothing after
    EXPECT_NEAR(adv[1], 0.0 - 0.4, 1e-6);             // r_1 + 0 - V_1
    EXPECT_NEAR(vs[2], 2.0 + 0.9 * 0.6, 1e-6);        // the next episode starts afresh
  }
  {
    const std::vector<float> v_next = {0.4f, 0.7f, 0.6f};  // step 1 truncates: V(final obs) = 0.7 bootstraps
    const std::vector<uint8_t> done = {0, 1, 0};
    ComputeVTrace(3, 1, zero.data(), r.data(), v.data(), v_next.data(), done.data(), o, vs.data(), adv.data());
    EXPECT_NEAR(vs[1], 0.9 * 0.7, 1e-6);
    EXPECT_NEAR(vs[0], 1.0 + 0.9 * 0.9 * 0.7, 1e-6);
  }
}

// For on-policy data V-trace's targets are GAE's lambda-returns, on random
// rollouts of several envs with episode ends.
TEST(VTrace, OnPolicyTargetsEqualGaeReturns) {
  const int64_t T = 37, N = 5;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> r(T * N), v(T * N), v_next(T * N), zero(T * N, 0.0f);
  std::vector<uint8_t> done(T * N);
  for (int64_t k = 0; k < T * N; ++k) {
    r[k] = u(rng), v[k] = u(rng), v_next[k] = u(rng);
    done[k] = (rng() % 7) == 0;
  }
  for (double lambda : {1.0, 0.95, 0.0}) {
    VTraceOptions o;
    o.gamma = 0.97;
    o.lambda = lambda;
    std::vector<float> vs(T * N), adv(T * N), gae_adv(T * N), gae_ret(T * N);
    ComputeVTrace(T, N, zero.data(), r.data(), v.data(), v_next.data(), done.data(), o, vs.data(), adv.data());
    ComputeGae(T, N, r.data(), v.data(), v_next.data(), done.data(), o.gamma, lambda, gae_adv.data(), gae_ret.data());
    for (int64_t k = 0; k < T * N; ++k) ASSERT_NEAR(vs[k], gae_ret[k], 1e-4) << "lambda " << lambda << " at " << k;
  }
}

}  // namespace
}  // namespace rlforge
