// The hand-written actor-critic gradients equal autograd's.
#include <gtest/gtest.h>

#include "rlforge/algos/fast_update.h"
#include "rlforge/algos/flat_adam.h"
#include "rlforge/algos/ppo/ppo.h"

namespace rlforge {
namespace {

struct Case {
  Space act;
  bool masked;
  std::string activation;
};

void Compare(const Case& c) {
  PolicyConfig config;
  config.activation = c.activation;
  config.log_std_init = -0.3;
  torch::manual_seed(7);
  ActorCritic net(Space::Box(-1, 1, {5}), c.act, config);
  const int64_t B = 33;
  auto obs = torch::randn({B, 5});
  torch::Tensor actions, mask;
  if (c.act.kind() == SpaceKind::kDiscrete) {
    if (c.masked) {
      mask = torch::rand({B, c.act.n()}) > 0.4;
      mask.select(1, 0).fill_(true);
    }
    // Sample legal actions.
    auto probs = torch::ones({B, c.act.n()});
    if (mask.defined()) probs = probs * mask.to(torch::kFloat32);
    actions = torch::multinomial(probs, 1).squeeze(1);
  } else if (c.act.kind() == SpaceKind::kMultiDiscrete) {
    // Per-dimension masks with value 0 always legal; legal values sampled per dimension.
    const auto& nvec = c.act.nvec();
    int64_t total = 0;
    for (int64_t n : nvec) total += n;
    mask = torch::rand({B, total}) > 0.4;
    std::vector<torch::Tensor> cols;
    for (int64_t d = 0, o = 0; d < static_cast<int64_t>(nvec.size()); o += nvec[d], ++d) {
      mask.select(1, o).fill_(true);
      auto probs = mask.narrow(1, o, nvec[d]).to(torch::kFloat32);
      cols.push_back(torch::multinomial(probs, 1));
    }
    actions = torch::cat(cols, 1);
  } else {
    actions = torch::randn({B, c.act.size()}) * 1.5;
  }
  torch::Tensor ref_logp;
  {
    torch::NoGradGuard g;
    ref_logp = net->Forward(obs, mask).dist.log_prob(actions);
  }
  auto old_logp = (ref_logp + 0.3 * torch::randn({B})).contiguous();  // ratios around 1, some clipped
  auto adv = torch::randn({B});
  auto returns = torch::randn({B}) * 3;
  const double clip = 0.2, ent_coef = 0.05, vf_coef = 0.7;

  // Autograd.
  net->zero_grad();
  auto out = net->Forward(obs, mask);
  auto l = ComputePpoLosses(out.dist.log_prob(actions), old_logp, adv, out.value, out.value.detach(), returns,
                            out.dist.entropy(), clip, std::nullopt);
  (l.policy_loss + ent_coef * l.entropy_loss + vf_coef * l.value_loss).backward();
  std::vector<torch::Tensor> expected;
  for (auto& p : net->parameters()) expected.push_back(p.grad().clone());

  // Hand-written.
  net->zero_grad();
  FastActorCriticUpdate fast(net);
  FastLossInputs in{net->Preprocess(obs).contiguous(), actions.contiguous(), mask, old_logp, adv, returns, clip,
                    ent_coef, vf_coef};
  const FastLossResult r = fast.Backward(in);
  EXPECT_NEAR(r.policy_loss, l.policy_loss.item<double>(), 1e-5);
  EXPECT_NEAR(r.value_loss, l.value_loss.item<double>(), 1e-4);
  EXPECT_NEAR(-r.entropy, l.entropy_loss.item<double>(), 1e-5);
  EXPECT_NEAR(r.clip_fraction, l.clip_fraction.item<double>(), 1e-6);
  EXPECT_NEAR(r.approx_kl, l.approx_kl.item<double>(), 1e-5);
  auto got = net->parameters();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t k = 0; k < got.size(); ++k) {
    ASSERT_TRUE(got[k].grad().defined()) << k;
    const double diff = (got[k].grad() - expected[k]).abs().max().item<double>();
    const double scale = expected[k].abs().max().item<double>() + 1e-6;
    EXPECT_LT(diff / scale, 1e-4) << "parameter " << k << " (" << c.act.ToString() << ", " << c.activation << ")";
  }
  auto lp = fast.LogProb(in);
  EXPECT_TRUE(torch::allclose(lp, ref_logp, 1e-5, 1e-5));
}

TEST(FastUpdateTest, DiscreteTanh) { Compare({Space::Discrete(4), false, "tanh"}); }
TEST(FastUpdateTest, MaskedMultiDiscreteRelu) { Compare({Space::MultiDiscrete({4, 3, 6, 2}), true, "relu"}); }
TEST(FastUpdateTest, MaskedDiscreteRelu) { Compare({Space::Discrete(6), true, "relu"}); }
TEST(FastUpdateTest, GaussianTanh) { Compare({Space::Box(-2, 2, {3}), false, "tanh"}); }

TEST(FastUpdateTest, SupportedOnlyForPlainMlps) {
  PolicyConfig config;
  EXPECT_TRUE(FastActorCriticUpdate::Supported(*ActorCritic(Space::Box(-1, 1, {4}), Space::Discrete(2), config)));
  config.share_features = true;
  EXPECT_FALSE(FastActorCriticUpdate::Supported(*ActorCritic(Space::Box(-1, 1, {4}), Space::Discrete(2), config)));
  config.share_features = false;
  EXPECT_TRUE(
      FastActorCriticUpdate::Supported(*ActorCritic(Space::Box(-1, 1, {4}), Space::MultiDiscrete({2, 3}), config)));
  EXPECT_FALSE(FastActorCriticUpdate::Supported(
      *ActorCritic(Space::Box(0, 255, {36, 36, 1}, DType::kUInt8), Space::Discrete(2), config)));  // CNN
}

// The flat optimizers and the gradient clip against libtorch's own, over a
// few steps with changing gradients (1,037 elements: blocks and tails).
TEST(FlatOptimizerTest, MatchLibtorchAdamRmspropAndClipping) {
  torch::manual_seed(0);
  auto make = [] {
    std::vector<torch::Tensor> p = {torch::randn({1037}), torch::randn({3, 5})};
    return p;
  };
  auto init = make();
  auto clone = [&] {
    std::vector<torch::Tensor> out;
    for (auto& t : init) out.push_back(t.clone().requires_grad_(true));
    return out;
  };
  auto a = clone(), b = clone(), c = clone(), d = clone();
  FlatAdam flat_adam(a, torch::optim::AdamOptions(1e-2));
  torch::optim::Adam adam(b, torch::optim::AdamOptions(1e-2));
  FlatRmsprop flat_rms(c, torch::optim::RMSpropOptions(1e-2).alpha(0.99).eps(1e-5));
  torch::optim::RMSprop rms(d, torch::optim::RMSpropOptions(1e-2).alpha(0.99).eps(1e-5));
  for (int step = 0; step < 5; ++step) {
    for (size_t k = 0; k < init.size(); ++k) {
      auto g = torch::randn_like(init[k]) * (step + 1);
      for (auto* set : {&a, &b, &c, &d}) (*set)[k].mutable_grad() = g.clone();
    }
    const double flat_norm = ClipGradNorm(a, 3.0);
    const double norm = torch::nn::utils::clip_grad_norm_(b, 3.0);
    EXPECT_NEAR(flat_norm, norm, 1e-4 * norm);
    ClipGradNorm(c, 3.0);
    torch::nn::utils::clip_grad_norm_(d, 3.0);
    flat_adam.step();
    adam.step();
    flat_rms.step();
    rms.step();
  }
  for (size_t k = 0; k < init.size(); ++k) {
    EXPECT_TRUE(torch::allclose(a[k], b[k], 1e-5, 1e-6)) << (a[k] - b[k]).abs().max().item<float>();
    EXPECT_TRUE(torch::allclose(c[k], d[k], 1e-5, 1e-6)) << (c[k] - d[k]).abs().max().item<float>();
  }
}

}  // namespace
}  // namespace rlforge
