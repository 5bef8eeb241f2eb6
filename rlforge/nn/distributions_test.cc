#include "rlforge/nn/distributions.h"

#include <gtest/gtest.h>

#include <cmath>

#include "rlforge/env/space.h"
#include "rlforge/algos/on_policy.h"

namespace rlforge {
namespace {

TEST(MaskedCategoricalTest, LogProbAndEntropyOverLegalActionsOnly) {
  auto logits = torch::tensor({{1.0f, 2.0f, 3.0f}});
  MaskedCategorical plain(logits);
  EXPECT_NEAR(plain.log_prob(torch::tensor({0})).item<double>(), -2.40760596444438, 1e-6);
  EXPECT_NEAR(plain.entropy().item<double>(), 0.8323955818399389, 1e-6);
  // Masking action 1 leaves a two-way softmax over logits 1 and 3.
  MaskedCategorical masked(logits, torch::tensor({{true, false, true}}));
  EXPECT_NEAR(masked.log_prob(torch::tensor({0})).item<double>(), -2.1269280110429727, 1e-6);
  EXPECT_NEAR(masked.log_prob(torch::tensor({2})).item<double>(), -0.12692801104297252, 1e-6);
  EXPECT_NEAR(masked.entropy().item<double>(), 0.36533385508720767, 1e-6);
  EXPECT_EQ(masked.mode().item<int64_t>(), 2);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  auto many = MaskedCategorical(logits.expand({2000, 3}), torch::tensor({{true, false, true}}).expand({2000, 3}));
  auto s = many.sample(&gen);
  EXPECT_EQ((s == 1).sum().item<int64_t>(), 0);
  EXPECT_NEAR((s == 0).to(torch::kFloat32).mean().item<double>(), 0.1192, 0.03);
}

TEST(MaskedCategoricalTest, GradientsAreFiniteWithMasks) {
  auto logits = torch::tensor({{0.5f, -1.0f, 2.0f}}, torch::requires_grad());
  MaskedCategorical d(logits, torch::tensor({{false, true, true}}));
  (d.log_prob(torch::tensor({1})) + d.entropy()).sum().backward();
  EXPECT_TRUE(torch::isfinite(logits.grad()).all().item<bool>());
  EXPECT_EQ(logits.grad()[0][0].item<float>(), 0.0f);  // a masked logit gets no gradient
}

TEST(MultiCategoricalTest, SumsOverDimensionsWithPerDimensionMasks) {
  auto logits = torch::tensor({{1.0f, 2.0f, 3.0f, 0.0f, 0.0f}});
  auto mask = torch::tensor({{true, false, true, true, true}});
  MultiCategorical d(logits, {3, 2}, mask);
  const double lp = d.log_prob(torch::tensor({{2, 1}})).item<double>();
  EXPECT_NEAR(lp, -0.12692801104297252 + std::log(0.5), 1e-6);
  EXPECT_NEAR(d.entropy().item<double>(), 0.36533385508720767 + std::log(2.0), 1e-6);
  EXPECT_EQ(d.mode()[0][0].item<int64_t>(), 2);
}

TEST(DiagGaussianTest, LogProbAndEntropy) {
  DiagGaussian d(torch::tensor({{0.5f, 0.5f}}), torch::full({2}, std::log(2.0)));
  // Each dimension: z = 0.5: -z^2/2 - log 2 - log(2 pi)/2 = -1.7370857.
  EXPECT_NEAR(d.log_prob(torch::tensor({{1.5f, -0.5f}})).item<double>(), 2 * -1.737085713764618, 1e-5);
  EXPECT_NEAR(d.entropy().item<double>(), 2 * 2.112085713764618, 1e-5);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  DiagGaussian wide(torch::zeros({5000, 1}), torch::full({1}, std::log(2.0)));
  auto s = wide.sample(&gen);
  EXPECT_NEAR(s.std().item<double>(), 2.0, 0.1);
}

TEST(ToEnvActionsTest, BoxActionsAreClippedOnlyForTheEnv) {
  const Space box = Space::Box(-2, 2, {1});
  auto sampled = torch::tensor({{3.5f}, {-0.5f}});
  auto env = ToEnvActions(sampled, box);
  EXPECT_EQ(env[0][0].item<float>(), 2.0f);
  EXPECT_EQ(env[1][0].item<float>(), -0.5f);
  EXPECT_EQ(sampled[0][0].item<float>(), 3.5f);  // the stored sample is unchanged
}

}  // namespace
}  // namespace rlforge

namespace rlforge {
namespace {

TEST(GsdeTest, StateDependentNoiseIsFixedBetweenDrawsWithTheRightVariance) {
  PolicyConfig config;
  config.use_sde = true;
  config.log_std_init = -1.0;
  torch::manual_seed(0);
  ActorCritic net(Space::Box(-1, 1, {3}), Space::Box(-2, 2, {2}), config);
  auto obs = torch::rand({4, 3});
  auto out = net->Forward(obs, {});
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  net->ResampleSdeNoise(4, &gen);
  auto a1 = net->SdeActions(out), a2 = net->SdeActions(out);
  EXPECT_EQ(a1.sizes(), (std::vector<int64_t>{4, 2}));
  EXPECT_TRUE(torch::equal(a1, a2));  // same noise matrix -> same actions for the same state
  net->ResampleSdeNoise(4, &gen);
  EXPECT_FALSE(torch::equal(a1, net->SdeActions(out)));
  // The distribution's variance is (z^2)^T sigma^2 (+1e-6).
  auto var = out.latent.pow(2).mm(torch::full({64, 2}, std::exp(-2.0))) + 1e-6;
  auto lp = out.dist.log_prob(a1);
  auto expected = (-0.5 * (a1 - out.mean).pow(2) / var - 0.5 * torch::log(var) - 0.5 * std::log(2 * M_PI)).sum(-1);
  EXPECT_TRUE(torch::allclose(lp, expected, 1e-4, 1e-4));
}

}  // namespace
}  // namespace rlforge

namespace rlforge {
namespace {

// nvec {2, 3}: dimension 1's legal values depend on dimension 0's
// (0 -> {0}, 1 -> {1, 2}). Worked by hand: greedy picks 1 (logit 1 > 0),
// then 2 among {1, 2}; log p = (1 - log(1 + e)) + (2 - log(e + e^2)).
TEST(ConditionalMultiCategoricalTest, FollowsThePrefixMasks) {
  const float logits[5] = {0.0f, 1.0f, 5.0f, 1.0f, 2.0f};
  ConditionalMaskFn fn = [](int, const int64_t* prefix, int dim, uint8_t* m) {
    if (dim == 0) {
      m[0] = m[1] = 1;
    } else if (prefix[0] == 0) {
      m[0] = 1, m[1] = m[2] = 0;
    } else {
      m[0] = 0, m[1] = m[2] = 1;
    }
  };
  int64_t a[2];
  float lp;
  uint8_t masks[5];
  ConditionalMultiCategorical(logits, 1, {2, 3}, fn, nullptr, a, &lp, masks);
  EXPECT_EQ(a[0], 1);
  EXPECT_EQ(a[1], 2);
  EXPECT_NEAR(lp, (1 - std::log(1 + std::exp(1.0))) + (2 - std::log(std::exp(1.0) + std::exp(2.0))), 1e-6);
  EXPECT_EQ(std::vector<uint8_t>(masks, masks + 5), (std::vector<uint8_t>{1, 1, 0, 1, 1}));
  // MultiCategorical with the recorded masks gives the same log-prob.
  auto t_logits = torch::from_blob(const_cast<float*>(logits), {1, 5}).clone();
  auto t_mask = torch::from_blob(masks, {1, 5}, torch::kUInt8).to(torch::kBool);
  MultiCategorical dist(t_logits, {2, 3}, t_mask);
  EXPECT_NEAR(dist.log_prob(torch::tensor({{1L, 2L}})).item<float>(), lp, 1e-5);
  // Sampling: u = 0.1 picks the first legal value (0 in dim 0; then only 0 is legal).
  const float u[2] = {0.1f, 0.99f};
  ConditionalMultiCategorical(logits, 1, {2, 3}, fn, u, a, &lp, masks);
  EXPECT_EQ(a[0], 0);
  EXPECT_EQ(a[1], 0);  // given 0, value 0 is the only legal one
  // Frequencies over many draws follow the conditional probabilities.
  Rng rng(0);
  int counts[3] = {0, 0, 0};
  const int n = 40000;
  for (int k = 0; k < n; ++k) {
    const float uu[2] = {static_cast<float>(rng.Uniform()), static_cast<float>(rng.Uniform())};
    ConditionalMultiCategorical(logits, 1, {2, 3}, fn, uu, a, nullptr, nullptr);
    ASSERT_TRUE(a[0] == 0 ? a[1] == 0 : a[1] >= 1);
    ++counts[a[0] == 0 ? 0 : a[1]];
  }
  const double p1 = std::exp(1.0) / (1 + std::exp(1.0));
  EXPECT_NEAR(counts[0] / double(n), 1 - p1, 0.01);
  EXPECT_NEAR(counts[2] / double(n), p1 * std::exp(2.0) / (std::exp(1.0) + std::exp(2.0)), 0.01);
}

}  // namespace
}  // namespace rlforge
