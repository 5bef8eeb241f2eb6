#include "rlforge/algos/ppo/ppo.h"

#include <gtest/gtest.h>

#include <cmath>

#include "rlforge/algos/pg/a2c.h"

namespace rlforge {
namespace {

// Three samples with old log-prob 0 and ratios 1.5, 0.5, 1.1, advantages
// 1, 1, -2, clip 0.2:
//   sample 0: min(1.5, 1.2) = 1.2   (clipped: no gradient)
//   sample 1: min(0.5, 0.8) = 0.5   (unclipped)
//   sample 2: min(-2.2, -2.2) = -2.2 (inside the range)
// policy loss = -(1.2 + 0.5 - 2.2) / 3 = 1/6.
TEST(PpoLossTest, ClippedSurrogateValueAndGradient) {
  auto logp = torch::log(torch::tensor({1.5, 0.5, 1.1}, torch::kFloat64)).requires_grad_();
  auto zeros = torch::zeros({3}, torch::kFloat64);
  auto adv = torch::tensor({1.0, 1.0, -2.0}, torch::kFloat64);
  auto l = ComputePpoLosses(logp, zeros, adv, zeros, zeros, zeros, zeros, 0.2, std::nullopt);
  EXPECT_NEAR(l.policy_loss.item<double>(), 1.0 / 6.0, 1e-12);
  EXPECT_NEAR(l.clip_fraction.item<double>(), 2.0 / 3.0, 1e-7);
  EXPECT_NEAR(l.approx_kl.item<double>(), 0.09745729754915201, 1e-12);
  l.policy_loss.backward();
  // d/dlogp_i = -(1/3) A_i r_i where unclipped, 0 where clipped.
  EXPECT_NEAR(logp.grad()[0].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(logp.grad()[1].item<double>(), -0.5 / 3.0, 1e-12);
  EXPECT_NEAR(logp.grad()[2].item<double>(), 2.2 / 3.0, 1e-12);
}

TEST(PpoLossTest, NegativeAdvantageBelowTheRangeIsClipped) {
  auto logp = torch::log(torch::tensor({0.5}, torch::kFloat64)).requires_grad_();
  auto z = torch::zeros({1}, torch::kFloat64);
  auto l = ComputePpoLosses(logp, z, torch::tensor({-1.0}, torch::kFloat64), z, z, z, z, 0.2, std::nullopt);
  EXPECT_NEAR(l.policy_loss.item<double>(), 0.8, 1e-12);  // -min(-0.5, -0.8)
  l.policy_loss.backward();
  EXPECT_EQ(logp.grad()[0].item<double>(), 0.0);
}

TEST(PpoLossTest, ValueClippingAndEntropy) {
  auto one = torch::ones({1}, torch::kFloat64);
  auto l = ComputePpoLosses(one * 0, one * 0, one, one * 2.0, one * 1.0, one * 3.0, one * 0.7, 0.2, 0.5);
  EXPECT_NEAR(l.value_loss.item<double>(), 2.25, 1e-12);  // V clipped to 1.5
  EXPECT_NEAR(l.entropy_loss.item<double>(), -0.7, 1e-12);
  auto unclipped = ComputePpoLosses(one * 0, one * 0, one, one * 2.0, one * 1.0, one * 3.0, one, 0.2, std::nullopt);
  EXPECT_NEAR(unclipped.value_loss.item<double>(), 1.0, 1e-12);
}

TEST(A2cLossTest, PolicyGradientValueAndEntropyTerms) {
  auto logp = torch::tensor({-1.0, -2.0}, torch::kFloat64).requires_grad_();
  auto l = ComputeA2cLosses(logp, torch::tensor({2.0, -1.0}, torch::kFloat64), torch::tensor({1.0, 0.0}, torch::kFloat64),
                            torch::tensor({3.0, 1.0}, torch::kFloat64), torch::tensor({0.5, 0.3}, torch::kFloat64));
  EXPECT_NEAR(l.policy_loss.item<double>(), -(2.0 * -1.0 + -1.0 * -2.0) / 2, 1e-12);
  EXPECT_NEAR(l.value_loss.item<double>(), (4.0 + 1.0) / 2, 1e-12);
  EXPECT_NEAR(l.entropy_loss.item<double>(), -0.4, 1e-12);
  l.policy_loss.backward();
  EXPECT_NEAR(logp.grad()[0].item<double>(), -1.0, 1e-12);
  EXPECT_NEAR(logp.grad()[1].item<double>(), 0.5, 1e-12);
}

}  // namespace
}  // namespace rlforge
