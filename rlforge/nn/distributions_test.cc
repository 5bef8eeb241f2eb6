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
