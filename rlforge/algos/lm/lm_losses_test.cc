#include "rlforge/algos/lm/lm_losses.h"

#include <gtest/gtest.h>

#include <cmath>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

std::vector<double> Vec(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kFloat64).contiguous().view(-1);
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// Group 1: rewards 1, 0, 0, 1 (mean 0.5, population std 0.5); group 2: all 1
// (no spread: advantages exactly 0).
TEST(LmLosses, GroupAdvantagesWorkedExample) {
  torch::Tensor r = torch::tensor({1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0});
  double zero = -1;
  std::vector<double> a = Vec(GroupAdvantages(r, 4, true, 1e-4, &zero));
  const double s = 0.5 / (0.5 + 1e-4);
  std::vector<double> want = {s, -s, -s, s, 0, 0, 0, 0};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(a[i], want[i], 1e-6) << i;
  EXPECT_DOUBLE_EQ(zero, 0.5);
  a = Vec(GroupAdvantages(r, 4, false, 1e-4));  // Dr.GRPO: no std scaling
  EXPECT_NEAR(a[0], 0.5, 1e-7);
  EXPECT_NEAR(a[1], -0.5, 1e-7);
  // 1, 0, 0: mean 1/3, std sqrt(2)/3: advantages sqrt(2), -1/sqrt(2), -1/sqrt(2).
  a = Vec(GroupAdvantages(torch::tensor({1.0, 0.0, 0.0}), 3, true, 1e-12));
  EXPECT_NEAR(a[0], std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(a[1], -1 / std::sqrt(2.0), 1e-6);
  EXPECT_THROW(GroupAdvantages(r, 3, true, 1e-4), InvalidArgument);
}

// pi = 0.5, pi_ref = 0.25: k3 = 0.5 - log 0.5 - 1 = 0.193147...; 0 when equal;
// its mean over samples of pi estimates KL(pi || ref).
TEST(LmLosses, K3Estimator) {
  std::vector<double> k = Vec(KlK3(torch::tensor({std::log(0.5), std::log(0.3)}), torch::tensor({std::log(0.25), std::log(0.3)})));
  EXPECT_NEAR(k[0], 0.5 + std::log(2.0) - 1.0, 1e-7);
  EXPECT_NEAR(k[1], 0.0, 1e-12);
  // Categorical pi = (0.7, 0.2, 0.1), ref = (0.4, 0.4, 0.2): E_pi[k3] = KL(pi || ref).
  const double p[3] = {0.7, 0.2, 0.1}, q[3] = {0.4, 0.4, 0.2};
  double expect_k3 = 0, kl = 0;
  for (int i = 0; i < 3; ++i) {
    expect_k3 += p[i] * (q[i] / p[i] - std::log(q[i] / p[i]) - 1);
    kl += p[i] * std::log(p[i] / q[i]);
  }
  EXPECT_NEAR(expect_k3, kl, 1e-12);
}

// ratio 1.5 and 0.5 with advantages +-2, clip 0.2 (clip-higher 0.28):
//   1.5, +2: min(3, 2.4) = 2.4 -> loss -2.4   (-2.56 with clip-higher 0.28)
//   1.5, -2: min(-3, -2.4) = -3 -> loss 3
//   0.5, +2: min(1, 1.6) = 1   -> loss -1
//   0.5, -2: min(-1, -1.6) = -1.6 -> loss 1.6
TEST(LmLosses, ClippedTokenLossWorkedExample) {
  torch::Tensor logp = torch::tensor({{std::log(1.5), std::log(1.5)}, {std::log(0.5), std::log(0.5)}});
  torch::Tensor old = torch::zeros({2, 2});
  torch::Tensor adv = torch::tensor({{2.0, -2.0}, {2.0, -2.0}});
  torch::Tensor mask = torch::ones({2, 2});
  std::vector<double> l = Vec(ClippedTokenLoss(logp, old, adv, mask, 0.2, 0.2));
  std::vector<double> want = {-2.4, 3.0, -1.0, 1.6};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(l[i], want[i], 1e-6) << i;
  EXPECT_NEAR(Vec(ClippedTokenLoss(logp, old, adv, mask, 0.2, 0.28))[0], -2.56, 1e-6);
  // One advantage per response broadcasts over its tokens; masked tokens add 0.
  mask = torch::tensor({{1.0, 0.0}, {1.0, 1.0}});
  l = Vec(ClippedTokenLoss(logp, old, torch::tensor({2.0, -2.0}), mask, 0.2, 0.2));
  EXPECT_NEAR(l[0], -2.4, 1e-6);
  EXPECT_EQ(l[1], 0.0);
  EXPECT_NEAR(l[2], 1.6, 1e-6);
}

// Losses [[1, 2, 3], [4, -, -]]: token-mean 10/4, seq-mean (6/3 + 4/1)/2 = 3,
// seq-sum-norm 10/(2 x 3) (10/(2 x 10) with a budget of 10).
TEST(LmLosses, AggregationModes) {
  torch::Tensor loss = torch::tensor({{1.0, 2.0, 3.0}, {4.0, 100.0, 100.0}});
  torch::Tensor mask = torch::tensor({{1.0, 1.0, 1.0}, {1.0, 0.0, 0.0}});
  EXPECT_NEAR(AggregateTokenLoss(loss, mask, "token-mean").item<double>(), 2.5, 1e-6);
  EXPECT_NEAR(AggregateTokenLoss(loss, mask, "seq-mean").item<double>(), 3.0, 1e-6);
  EXPECT_NEAR(AggregateTokenLoss(loss, mask, "seq-sum-norm").item<double>(), 10.0 / 6.0, 1e-6);
  // Dr.GRPO's normalizer is the generation budget, not this batch's width.
  EXPECT_NEAR(AggregateTokenLoss(loss, mask, "seq-sum-norm", 10).item<double>(), 10.0 / 20.0, 1e-6);
  EXPECT_THROW(AggregateTokenLoss(loss, mask, "mean"), InvalidArgument);
}

// Rewards [0, 0, 1], values [0.5, 0.6, 0.7], gamma 1, lambda 0.5:
//   A2 = 1 - 0.7 = 0.3; A1 = (0.7 - 0.6) + 0.5 x 0.3 = 0.25; A0 = 0.1 + 0.5 x 0.25 = 0.225.
// A padded response [0, 1, pad]: the value after its last token is 0:
//   A1 = 1 - 0.4 = 0.6; A0 = 0.2 + 0.5 x 0.6 = 0.5; the pad's value (9) never enters.
TEST(LmLosses, TokenGaeWorkedExample) {
  torch::Tensor rewards = torch::tensor({{0.0, 0.0, 1.0}, {0.0, 1.0, 0.0}});
  torch::Tensor values = torch::tensor({{0.5, 0.6, 0.7}, {0.2, 0.4, 9.0}});
  torch::Tensor mask = torch::tensor({{1.0, 1.0, 1.0}, {1.0, 1.0, 0.0}});
  auto [adv, ret] = TokenGae(rewards, values, mask, 1.0, 0.5);
  std::vector<double> a = Vec(adv), r = Vec(ret);
  std::vector<double> want_a = {0.225, 0.25, 0.3, 0.5, 0.6, 0.0};
  std::vector<double> want_r = {0.725, 0.85, 1.0, 0.7, 1.0, 0.0};
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR(a[i], want_a[i], 1e-6) << i;
    EXPECT_NEAR(r[i], want_r[i], 1e-6) << i;
  }
}

// The adaptive KL step, target 0.1, 500 responses over a horizon of 10000:
// KL 0.11 is 10% over (x 1.005); 0.3 and 0.0 are clipped to +-20% (x 1.01,
// x 0.99).
TEST(LmLosses, AdaptiveKlWorkedExample) {
  EXPECT_NEAR(AdaptiveKlCoef(0.05, 0.11, 0.1, 500, 10000), 0.05 * 1.005, 1e-12);
  EXPECT_NEAR(AdaptiveKlCoef(0.05, 0.3, 0.1, 500, 10000), 0.05 * 1.01, 1e-12);
  EXPECT_NEAR(AdaptiveKlCoef(0.05, 0.0, 0.1, 500, 10000), 0.05 * 0.99, 1e-12);
  EXPECT_NEAR(AdaptiveKlCoef(0.05, 0.1, 0.1, 500, 10000), 0.05, 1e-12);
}

}  // namespace
}  // namespace rlforge
