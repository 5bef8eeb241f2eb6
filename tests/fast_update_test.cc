// The actor-critic loss is defined once (rlforge/algos/actor_critic_loss.h);
// the hand-written MLP kernels and autograd carry its gradient back through the
// network. Both must give the gradients of a reference written here directly
// in torch operations (the PPO loss through autograd).
#include <gtest/gtest.h>

#include "rlforge/algos/actor_critic_loss.h"
#include "rlforge/algos/fast_update.h"
#include "rlforge/algos/flat_adam.h"
#include "rlforge/algos/on_policy.h"

namespace rlforge {
namespace {

// The reference: the clipped-surrogate PPO loss in torch operations.
struct ReferenceLosses {
  torch::Tensor policy_loss, value_loss, entropy_loss, approx_kl, clip_fraction;
};
ReferenceLosses ReferencePpoLosses(const torch::Tensor& log_prob, const torch::Tensor& old_log_prob,
                                   const torch::Tensor& advantages, const torch::Tensor& values,
                                   const torch::Tensor& old_values, const torch::Tensor& returns,
                                   const torch::Tensor& entropy, double clip_range, std::optional<double> clip_vf) {
  ReferenceLosses out;
  auto log_ratio = log_prob - old_log_prob;
  auto ratio = log_ratio.exp();
  out.policy_loss =
      -torch::min(advantages * ratio, advantages * torch::clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)).mean();
  auto v_pred = clip_vf ? old_values + torch::clamp(values - old_values, -*clip_vf, *clip_vf) : values;
  out.value_loss = (returns - v_pred).pow(2).mean();
  out.entropy_loss = -entropy.mean();
  torch::NoGradGuard no_grad;
  out.approx_kl = ((ratio - 1) - log_ratio).mean();
  out.clip_fraction = ((ratio - 1).abs() > clip_range).to(torch::kFloat32).mean();
  return out;
}

struct Case {
  Space act;
  bool masked;
  std::string activation;
  bool use_sde = false;         // gSDE: per-sample log std (autograd only)
  bool share_features = false;  // one torso (autograd only)
  std::optional<double> clip_vf;  // PPO's value clipping
};

void Compare(const Case& c) {
  PolicyConfig config;
  config.activation = c.activation;
  config.log_std_init = -0.3;
  config.use_sde = c.use_sde;
  config.share_features = c.share_features;
  const bool kernels = !c.use_sde && !c.share_features;
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

  // The reference, through autograd.
  net->zero_grad();
  auto out = net->Forward(obs, mask);
  torch::Tensor old_values;
  {
    torch::NoGradGuard g;
    old_values = (out.value + 0.4 * torch::randn({B})).contiguous();  // some inside the clip range, some outside
  }
  auto l = ReferencePpoLosses(out.dist.log_prob(actions), old_logp, adv, out.value, old_values, returns,
                              out.dist.entropy(), clip, c.clip_vf);
  (l.policy_loss + ent_coef * l.entropy_loss + vf_coef * l.value_loss).backward();
  std::vector<torch::Tensor> expected;
  for (auto& p : net->parameters()) expected.push_back(p.grad().clone());

  // The one loss definition on a batch of these samples.
  const ActionHead head(c.act);
  auto contiguous_actions = actions.contiguous();
  auto contiguous_mask = mask.defined() ? mask.contiguous() : mask;
  ActorCriticBatch batch;
  batch.size = B;
  batch.actions = contiguous_actions.data_ptr();
  batch.masks = mask.defined() ? contiguous_mask.data_ptr<bool>() : nullptr;
  batch.advantages = adv.data_ptr<float>();
  batch.returns = returns.data_ptr<float>();
  batch.clip_range = clip;
  batch.old_log_prob = old_logp.data_ptr<float>();
  batch.ent_coef = ent_coef;
  batch.vf_coef = vf_coef;
  batch.clip_range_vf = c.clip_vf;
  batch.old_values = old_values.data_ptr<float>();
  auto check = [&](const char* path, const ActorCriticLossValues& r) {
    EXPECT_NEAR(r.policy_loss, l.policy_loss.item<double>(), 1e-5) << path;
    EXPECT_NEAR(r.value_loss, l.value_loss.item<double>(), 1e-4) << path;
    EXPECT_NEAR(-r.entropy, l.entropy_loss.item<double>(), 1e-5) << path;
    EXPECT_NEAR(r.clip_fraction, l.clip_fraction.item<double>(), 1e-6) << path;
    EXPECT_NEAR(r.approx_kl, l.approx_kl.item<double>(), 1e-5) << path;
    auto got = net->parameters();
    ASSERT_EQ(got.size(), expected.size());
    for (size_t k = 0; k < got.size(); ++k) {
      ASSERT_TRUE(got[k].grad().defined()) << k;
      const double diff = (got[k].grad() - expected[k]).abs().max().item<double>();
      const double scale = expected[k].abs().max().item<double>() + 1e-6;
      EXPECT_LT(diff / scale, 1e-4) << path << ": parameter " << k << " (" << c.act.ToString() << ", "
                                    << c.activation << ")";
    }
  };

  // Autograd carries dL/d(outputs) back (OnPolicyAlgorithm::Backprop's path without kernels).
  check("autograd", BackpropAutograd(*net, head, obs, batch));
  // The hand-written kernels carry the same dL/d(outputs) back.
  EXPECT_EQ(FastActorCritic::Supported(*net), kernels);
  if (kernels) {
    net->zero_grad();
    FastActorCritic fast(net);
    auto features = net->Preprocess(obs).contiguous();
    check("kernels", BackpropKernels(fast, *net, head, features, batch));
    // The log-probabilities the kernels' outputs give are the reference's.
    fast.Forward(features);
    auto lp = torch::empty({B});
    ActorCriticLogProbs(head, {fast.pi(), head.gaussian() ? net->log_std().data_ptr<float>() : nullptr, false,
                               fast.value()},
                        batch, lp.data_ptr<float>());
    EXPECT_TRUE(torch::allclose(lp, ref_logp, 1e-5, 1e-5));
  }
}

TEST(FastUpdateTest, DiscreteTanh) { Compare({Space::Discrete(4), false, "tanh"}); }
TEST(FastUpdateTest, MaskedMultiDiscreteRelu) { Compare({Space::MultiDiscrete({4, 3, 6, 2}), true, "relu"}); }
TEST(FastUpdateTest, MaskedDiscreteRelu) { Compare({Space::Discrete(6), true, "relu"}); }
TEST(FastUpdateTest, GaussianTanh) { Compare({Space::Box(-2, 2, {3}), false, "tanh"}); }
// PPO's value clipping, on both paths.
TEST(FastUpdateTest, ValueClipping) {
  Compare({Space::Discrete(4), false, "tanh", false, false, /*clip_vf=*/0.2});
  Compare({Space::Box(-2, 2, {2}), false, "relu", false, false, /*clip_vf=*/0.2});
}
// The autograd path where the kernels do not apply: gSDE's per-sample log std, a shared torso.
TEST(FastUpdateTest, AutogradPathWithSdeAndSharedFeatures) {
  Compare({Space::Box(-2, 2, {3}), false, "tanh", /*use_sde=*/true});
  Compare({Space::MultiDiscrete({4, 3}), true, "relu", false, /*share_features=*/true});
}

TEST(FastUpdateTest, SupportedOnlyForPlainMlps) {
  PolicyConfig config;
  EXPECT_TRUE(FastActorCritic::Supported(*ActorCritic(Space::Box(-1, 1, {4}), Space::Discrete(2), config)));
  config.share_features = true;
  EXPECT_FALSE(FastActorCritic::Supported(*ActorCritic(Space::Box(-1, 1, {4}), Space::Discrete(2), config)));
  config.share_features = false;
  EXPECT_TRUE(
      FastActorCritic::Supported(*ActorCritic(Space::Box(-1, 1, {4}), Space::MultiDiscrete({2, 3}), config)));
  EXPECT_FALSE(FastActorCritic::Supported(
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
