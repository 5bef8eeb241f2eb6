#include "rlforge/algos/td3/td3.h"

#include <algorithm>
#include <cmath>

#include "rlforge/algos/export_model.h"
#include "rlforge/algos/flat_adam.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void Td3Config::Visit(FieldVisitor& v) {
  OffPolicyConfig::Visit(v);
  v.Field("policy_delay", &policy_delay, "critic updates per actor and target-network update");
  v.Field("target_policy_noise", &target_policy_noise, "sigma of the smoothing noise added to the target action");
  v.Field("target_noise_clip", &target_noise_clip, "the smoothing noise is clipped to +- this");
  v.Field("n_critics", &n_critics, "number of critics (the target takes their minimum)");
}

void Td3Config::Validate() const {
  OffPolicyConfig::Validate();
  RLF_CHECK_ARG(policy_delay >= 1, "config key 'policy_delay' must be >= 1, got ", policy_delay);
  RLF_CHECK_ARG(target_policy_noise >= 0, "config key 'target_policy_noise' must be >= 0");
  RLF_CHECK_ARG(target_noise_clip >= 0, "config key 'target_noise_clip' must be >= 0");
  RLF_CHECK_ARG(n_critics >= 1 && n_critics <= 10, "config key 'n_critics' must be in [1, 10], got ", n_critics);
}

DeterministicActorImpl::DeterministicActorImpl(int64_t obs_dim, int64_t act_dim, const std::vector<int64_t>& net_arch,
                                               const std::string& activation) {
  torso_ = register_module("torso", Mlp(obs_dim, net_arch, activation, /*ortho_init=*/false));
  head_ = register_module("head", torch::nn::Linear(torso_->out_features(), act_dim));
}

torch::Tensor DeterministicActorImpl::forward(const torch::Tensor& x) {
  return torch::tanh(head_->forward(torso_->forward(x)));
}

std::vector<torch::nn::Linear> DeterministicActorImpl::layers() const {
  auto out = torso_->layers();
  out.push_back(head_);
  return out;
}

Td3::Td3(const RunContext& ctx, const Td3Config& config)
    : OffPolicyActorCritic(ctx, config, config.n_critics), td3_(config) {
  td3_.Validate();
  actor_ = DeterministicActor(obs_dim_, act_dim_, config.net_arch, config.activation);
  actor_target_ = DeterministicActor(obs_dim_, act_dim_, config.net_arch, config.activation);
  PolyakUpdate(*actor_, *actor_target_, 1.0);
  nets_.register_module("actor", actor_);
  nets_.register_module("critics", critics_);
  actor_optimizer_ =
      std::make_unique<FlatAdam>(actor_->parameters(), torch::optim::AdamOptions(config.learning_rate.Value(1.0)));
  actor_k_.layers = actor_act_k_.layers = actor_->layers();
  actor_target_k_.layers = actor_target_->layers();
  actor_k_.tanh = actor_act_k_.tanh = actor_target_k_.tanh = config.activation == "tanh";
  DeclareMetrics({"actor_loss"});
}

void Td3::SetAgentLearningRate(double lr) { SetLearningRate(*actor_optimizer_, lr); }

void Td3::DrawStepNoise() {
  const int64_t n = config_.batch_size * act_dim_;
  smoothing_.resize(static_cast<size_t>(n));
  const double sigma = td3_.target_policy_noise, c = td3_.target_noise_clip;
  for (auto& e : smoothing_) e = sigma > 0 ? static_cast<float>(std::clamp(sigma * rng_.Normal(), -c, c)) : 0.0f;
}

double Td3::CriticGradients(bool fast) {
  const int64_t B = config_.batch_size, A = act_dim_, n = critics_->size();
  // a' = clip(mu'(s') + smoothing, -1, 1).
  next_a_.resize(static_cast<size_t>(B * A));
  if (fast) {
    actor_target_k_.Forward(next_.data(), B, obs_dim_);
    for (int64_t k = 0; k < B * A; ++k) next_a_[k] = std::tanh(actor_target_k_.out[k]);
  } else {
    torch::NoGradGuard g;
    auto a = actor_target_->forward(torch::from_blob(next_.data(), {B, obs_dim_})).contiguous();
    std::copy_n(a.data_ptr<float>(), B * A, next_a_.data());
  }
  for (int64_t k = 0; k < B * A; ++k) next_a_[k] = std::clamp(next_a_[k] + smoothing_[k], -1.0f, 1.0f);
  // y = R + discount (1 - terminated) min_i Q'_i(s', a').
  TargetCriticValues(next_a_.data(), fast, &q_next_);
  y_.resize(B);
  for (int64_t b = 0; b < B; ++b) {
    const float* q = q_next_.data() + b * n;
    const float min_q = *std::min_element(q, q + n);
    y_[b] = batch_.reward[b] + (batch_.terminated[b] ? 0.0f : batch_.discount[b] * min_q);
  }
  return CriticLoss(y_, 1.0, fast);
}

double Td3::ActorGradients(bool fast) {
  const int64_t B = config_.batch_size, A = act_dim_, n = critics_->size();
  if (!fast) {
    actor_optimizer_->zero_grad();
    auto x = torch::from_blob(obs_.data(), {B, obs_dim_});
    auto q = critics_->forward(torch::cat({x, actor_->forward(x)}, 1));
    auto loss = -q.select(1, 0).mean();
    loss.backward();
    return loss.item<double>();
  }
  actor_k_.Forward(obs_.data(), B, obs_dim_);
  a_pi_.resize(static_cast<size_t>(B * A));
  for (int64_t k = 0; k < B * A; ++k) a_pi_[k] = std::tanh(actor_k_.out[k]);
  CriticValuesAt(a_pi_.data(), /*used=*/1, &q_pi_);
  coef_.assign(static_cast<size_t>(B * n), 0.0f);
  double loss = 0;
  for (int64_t b = 0; b < B; ++b) {
    coef_[b * n] = -1.0f / static_cast<float>(B);  // L = -mean_b Q_1(s_b, mu(s_b))
    loss -= q_pi_[b * n] / static_cast<double>(B);
  }
  CriticActionGradient(coef_, &d_a_);
  actor_k_.d_out.resize(static_cast<size_t>(B * A));
  for (int64_t k = 0; k < B * A; ++k) actor_k_.d_out[k] = d_a_[k] * (1.0f - a_pi_[k] * a_pi_[k]);  // through tanh
  actor_k_.Backward(obs_.data(), B, obs_dim_);
  return loss;
}

double Td3::TrainStep() {
  const double critic_loss = CriticGradients(fast_);
  critic_optimizer_->step();
  if (updates_ % td3_.policy_delay == 0) {
    actor_loss_ = ActorGradients(fast_);
    actor_loss_set_ = true;
    actor_optimizer_->step();
    SyncCriticTarget(config_.tau);
    PolyakUpdate(*actor_, *actor_target_, config_.tau);
  }
  return critic_loss;
}

Metrics Td3::AgentMetrics() {
  Metrics m;
  if (actor_loss_set_) m["actor_loss"] = actor_loss_;
  actor_loss_set_ = false;
  return m;
}

void Td3::ActScaled(const float* features, int n, bool /*deterministic*/, Rng& /*rng*/, float* scaled) {
  actor_act_k_.Forward(features, n, obs_dim_);
  for (int64_t k = 0; k < n * act_dim_; ++k) scaled[k] = std::tanh(actor_act_k_.out[k]);
}

std::unique_ptr<Policy> Td3::MakePolicy(bool deterministic) {
  DeterministicActor actor = actor_;
  const int64_t d = obs_dim_, A = act_dim_;
  // The actor's action; sampling adds the training's exploration noise, as
  // it acted while training: Gaussian of sigma noise_std on the scaled
  // action, clipped to [-1, 1] (an Ornstein-Uhlenbeck process is replaced
  // by independent Gaussian noise of the same sigma; action_noise none adds
  // none). SB3's TD3 predicts the actor's action either way.
  const double sigma = config_.action_noise == "none" ? 0.0 : config_.noise_std;
  return MakeActorPolicy(
      [actor, d, A, sigma](const float* x, int n, bool det, Rng& rng, float* scaled) mutable {
        torch::NoGradGuard g;
        auto a = actor->forward(torch::from_blob(const_cast<float*>(x), {n, d})).contiguous();
        std::copy_n(a.data_ptr<float>(), n * A, scaled);
        if (det || sigma <= 0) return;
        for (int64_t k = 0; k < n * A; ++k)
          scaled[k] = std::clamp(static_cast<float>(scaled[k] + sigma * rng.Normal()), -1.0f, 1.0f);
      },
      deterministic);
}

double Td3::flops_per_gradient_step() const {
  // 2 flops per multiply-add; a forward pass costs one product per layer, a
  // backward two (weights, and inputs except at the first layer of a network
  // whose input needs no gradient).
  const auto [af, ar] = FirstAndLaterWeights(actor_->layers());
  const auto [cf, cr] = FirstAndLaterWeights(critics_->layers(0));
  const double n = static_cast<double>(critics_->size()), actor = af + ar, critic = cf + cr;
  // Target actor and critics forward; critics forward + backward.
  double per_row = actor + n * critic + n * (critic + cf + 2 * cr);
  // Every policy_delay steps: actor forward, critic 1 forward + input
  // backward, actor backward.
  per_row += (actor + 2 * critic + af + 2 * ar) / static_cast<double>(td3_.policy_delay);
  return 2.0 * per_row * static_cast<double>(config_.batch_size);
}

void Td3::VisitAgentState(StateVisitor& v) {
  VisitModule(v, "actor", *actor_);
  VisitModule(v, "actor_target", *actor_target_);
  VisitOptimizer(v, "actor_optimizer", *actor_optimizer_);
}

runtime::Model Td3::ExportModel() {
  return ExportSquashedActor(*actor_->torso(), actor_->head(), obs_space_, act_space_);
}

}  // namespace rlforge
