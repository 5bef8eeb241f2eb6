#include "rlforge/algos/sac/sac.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "rlforge/algos/export_model.h"
#include "rlforge/algos/flat_adam.h"
#include "rlforge/core/error.h"
#include "rlforge/core/warning.h"
#include "rlforge/dist/communicator.h"
#include "rlforge/nn/state.h"

namespace rlforge {
namespace {
constexpr double kHalfLog2Pi = 0.91893853320467274178;  // log(2 pi) / 2

bool ParseNumber(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(*out);
}
}  // namespace

void SacConfig::Visit(FieldVisitor& v) {
  OffPolicyConfig::Visit(v);
  v.Field("ent_coef", &ent_coef, "entropy coefficient alpha: auto (learned from 1), auto_<initial>, or a fixed number");
  v.Field("target_entropy", &target_entropy, "target entropy of the learned alpha: auto (-dim(A)) or a number");
  v.Field("target_update_interval", &target_update_interval, "gradient steps between target-critic updates");
  v.Field("n_critics", &n_critics, "number of critics (targets and the actor take their minimum)");
  v.Field("use_sde", &use_sde,
          "generalized state-dependent exploration (gSDE; its actor runs on autograd, the critics on fast_update)");
  v.Field("sde_sample_freq", &sde_sample_freq,
          "gSDE: env steps between new exploration matrices (<= 0: once per collection phase)");
  v.Field("log_std_init", &log_std_init, "gSDE: initial value of every log_std entry");
  v.Field("clip_mean", &clip_mean, "gSDE: the actor's mean clipped to [-clip_mean, clip_mean] (<= 0: no clipping)");
  v.Field("use_sde_at_warmup", &use_sde_at_warmup,
          "gSDE: explore with gSDE instead of uniform actions before learning_starts");
}

EntCoefSpec ParseEntCoef(const std::string& ent_coef, const std::string& target_entropy, int64_t act_dim) {
  EntCoefSpec s;
  s.learned = ent_coef == "auto" || ent_coef.rfind("auto_", 0) == 0;
  if (ent_coef != "auto") {
    const std::string num = ent_coef.rfind("auto_", 0) == 0 ? ent_coef.substr(5) : ent_coef;
    RLF_CHECK_ARG(ParseNumber(num, &s.initial) && s.initial > 0,
                  "config key 'ent_coef' must be auto, auto_<initial> or a positive number, got '", ent_coef, "'");
  }
  if (target_entropy == "auto") {
    s.target_entropy = -static_cast<double>(act_dim);
  } else {
    RLF_CHECK_ARG(ParseNumber(target_entropy, &s.target_entropy),
                  "config key 'target_entropy' must be auto or a number, got '", target_entropy, "'");
  }
  return s;
}

void SacConfig::Validate() const {
  OffPolicyConfig::Validate();
  ParseEntCoef(ent_coef, target_entropy, 1);
  RLF_CHECK_ARG(target_update_interval >= 1, "config key 'target_update_interval' must be >= 1");
  RLF_CHECK_ARG(n_critics >= 1 && n_critics <= 10, "config key 'n_critics' must be in [1, 10], got ", n_critics);
  RLF_CHECK_ARG(action_noise == "none", "sac explores by sampling its policy; config key 'action_noise' must be none");
  // SB3's ranges: sde_sample_freq <= 0 means once per collection phase,
  // clip_mean <= 0 no clipping, any finite log_std_init.
  RLF_CHECK_ARG(std::isfinite(log_std_init), "config key 'log_std_init' must be finite, got ", log_std_init);
  RLF_CHECK_ARG(std::isfinite(clip_mean), "config key 'clip_mean' must be finite, got ", clip_mean);
  RLF_CHECK_ARG(use_sde || !use_sde_at_warmup, "config key 'use_sde_at_warmup' needs use_sde: true");
}

SquashedGaussianActorImpl::SquashedGaussianActorImpl(int64_t obs_dim, int64_t act_dim,
                                                     const std::vector<int64_t>& net_arch,
                                                     const std::string& activation,
                                                     std::optional<double> sde_log_std_init) {
  torso_ = register_module("torso", Mlp(obs_dim, net_arch, activation, /*ortho_init=*/false));
  head_ = register_module("head", torch::nn::Linear(torso_->out_features(), (sde_log_std_init ? 1 : 2) * act_dim));
  if (sde_log_std_init)
    sde_log_std_ = register_parameter(
        "sde_log_std", torch::full({torso_->out_features(), act_dim}, *sde_log_std_init, torch::kFloat32));
}

torch::Tensor SquashedGaussianActorImpl::forward(const torch::Tensor& x) { return head_->forward(torso_->forward(x)); }

std::vector<torch::nn::Linear> SquashedGaussianActorImpl::layers() const {
  auto out = torso_->layers();
  out.push_back(head_);
  return out;
}

void SquashedGaussianSample(const float* raw, const float* eps, int64_t rows, int64_t A, float* actions,
                            double* log_prob) {
  for (int64_t b = 0; b < rows; ++b) {
    const float* r = raw + b * 2 * A;
    double lp = 0;
    for (int64_t j = 0; j < A; ++j) {
      const double ls = std::clamp<double>(r[A + j], kSacLogStdMin, kSacLogStdMax);
      const double e = eps[b * A + j];
      const double a = std::tanh(r[j] + std::exp(ls) * e);
      actions[b * A + j] = static_cast<float>(a);
      lp += -0.5 * e * e - ls - kHalfLog2Pi - std::log(1.0 - a * a + 1e-6);
    }
    log_prob[b] = lp;
  }
}

std::pair<torch::Tensor, torch::Tensor> SquashedGaussianRsample(const torch::Tensor& raw, const torch::Tensor& eps) {
  const int64_t A = eps.size(1);
  const torch::Tensor mu = raw.narrow(1, 0, A);
  const torch::Tensor log_std = torch::clamp(raw.narrow(1, A, A), kSacLogStdMin, kSacLogStdMax);
  const torch::Tensor a = torch::tanh(mu + torch::exp(log_std) * eps);
  const torch::Tensor logp = (-0.5 * eps * eps - log_std - kHalfLog2Pi).sum(1) - torch::log(1 - a * a + 1e-6).sum(1);
  return {a, logp};
}

void SquashedGaussianAct(SquashedGaussianActorImpl& actor, const float* x, int n, int64_t obs_dim, int64_t A,
                         bool deterministic, Rng& rng, float* scaled) {
  torch::NoGradGuard g;
  auto raw = actor.forward(torch::from_blob(const_cast<float*>(x), {n, obs_dim})).contiguous();
  const float* r = raw.data_ptr<float>();
  for (int i = 0; i < n; ++i)
    for (int64_t j = 0; j < A; ++j) {
      const double mu = r[i * 2 * A + j];
      const double ls = std::clamp<double>(r[i * 2 * A + A + j], kSacLogStdMin, kSacLogStdMax);
      scaled[i * A + j] = static_cast<float>(std::tanh(deterministic ? mu : mu + std::exp(ls) * rng.Normal()));
    }
}

std::pair<torch::Tensor, torch::Tensor> SdeSample(const torch::Tensor& latent, const torch::Tensor& mu,
                                                  const torch::Tensor& log_std, const torch::Tensor& eps) {
  const torch::Tensor std = torch::exp(log_std);
  const torch::Tensor w = eps.dim() == 2 ? std * eps : std.unsqueeze(0) * eps;  // the exploration matrix
  const torch::Tensor noise = eps.dim() == 2 ? latent.mm(w) : torch::bmm(latent.unsqueeze(1), w).squeeze(1);
  const torch::Tensor a = torch::tanh(mu + noise);
  const torch::Tensor sigma = torch::sqrt((latent * latent).mm(std * std) + 1e-6);
  // As SB3: the Gaussian's log-density at atanh(a), a kept inside (-1, 1) by float32's epsilon.
  const double e = std::numeric_limits<float>::epsilon();
  const torch::Tensor u = torch::atanh(torch::clamp(a, -1.0 + e, 1.0 - e));
  const torch::Tensor z = (u - mu) / sigma;
  const torch::Tensor t = torch::tanh(u);
  const torch::Tensor logp =
      (-0.5 * z * z - torch::log(sigma) - kHalfLog2Pi).sum(1) - torch::log(1.0 - t * t + 1e-6).sum(1);
  return {a, logp};
}

Sac::Sac(const RunContext& ctx, const SacConfig& config)
    : OffPolicyActorCritic(ctx, config, config.n_critics), sac_(config) {
  sac_.Validate();
  // gSDE's keys set without use_sde would change nothing: say so (once a
  // process; a resume may build the agent for several checkpoints).
  static std::atomic<bool> warned{false};
  const SacConfig defaults;
  std::vector<std::string> inert;
  if (!config.use_sde && config.sde_sample_freq != defaults.sde_sample_freq) inert.push_back("sde_sample_freq");
  if (!config.use_sde && config.log_std_init != defaults.log_std_init) inert.push_back("log_std_init");
  if (!config.use_sde && config.clip_mean != defaults.clip_mean) inert.push_back("clip_mean");
  // A target entropy steers only the learned temperature.
  static std::atomic<bool> warned_entropy{false};
  if (config.target_entropy != defaults.target_entropy && config.ent_coef.rfind("auto", 0) != 0)
    WarnInertKeys(ctx, &warned_entropy,
                  {StrCat("target_entropy steers the learned entropy coefficient, and ent_coef is fixed at ",
                          config.ent_coef)});
  if (!inert.empty() && ctx.load_run && (!ctx.comm || ctx.comm->root()))
    WarnOnce(&warned, StrCat("config key", inert.size() > 1 ? "s " : " ", Join(inert, ", "), " only shape",
                             inert.size() > 1 ? "" : "s", " gSDE exploration, and use_sde is false: no effect"));
  actor_ = SquashedGaussianActor(obs_dim_, act_dim_, config.net_arch, config.activation,
                                 config.use_sde ? std::optional<double>(config.log_std_init) : std::nullopt);
  nets_.register_module("actor", actor_);
  nets_.register_module("critics", critics_);
  actor_optimizer_ =
      std::make_unique<FlatAdam>(actor_->parameters(), torch::optim::AdamOptions(config.learning_rate.Value(1.0)));
  actor_k_.layers = actor_next_k_.layers = actor_act_k_.layers = actor_->layers();
  actor_k_.tanh = actor_next_k_.tanh = actor_act_k_.tanh = config.activation == "tanh";
  const EntCoefSpec ent = ParseEntCoef(sac_.ent_coef, sac_.target_entropy, act_dim_);
  learn_alpha_ = ent.learned;
  log_alpha_ = std::log(ent.initial);
  alpha_ = std::exp(log_alpha_);
  lr_ = config.learning_rate.Value(1.0);
  target_entropy_ = ent.target_entropy;
  DeclareMetrics({"actor_loss", "ent_coef", "ent_coef_loss", "entropy"});
}

void Sac::SetAgentLearningRate(double lr) {
  lr_ = lr;  // the temperature's Adam step size
  SetLearningRate(*actor_optimizer_, lr);
}

std::pair<torch::Tensor, torch::Tensor> SquashedGaussianActorImpl::SdeMeanAndLatent(const torch::Tensor& x,
                                                                                 double clip) {
  torch::Tensor latent = torso_->forward(x);
  torch::Tensor mu = head_->forward(latent);
  if (clip > 0) mu = torch::clamp(mu, -clip, clip);
  return {mu, latent};
}

std::pair<torch::Tensor, torch::Tensor> Sac::SdeActions(const float* x, int64_t rows, const torch::Tensor& eps) {
  auto [mu, latent] = actor_->SdeMeanAndLatent(torch::from_blob(const_cast<float*>(x), {rows, obs_dim_}),
                                               sac_.clip_mean);
  return SdeSample(latent, mu, actor_->sde_log_std(), eps);
}

void Sac::SdeActionsInto(const float* x, std::vector<float>* actions, std::vector<double>* log_prob) {
  torch::NoGradGuard g;
  auto [a, logp] = SdeActions(x, static_cast<int64_t>(log_prob->size()), sde_eps_);
  std::memcpy(actions->data(), a.contiguous().data_ptr<float>(), actions->size() * sizeof(float));
  auto lp = logp.to(torch::kFloat64).contiguous();
  std::memcpy(log_prob->data(), lp.data_ptr<double>(), log_prob->size() * sizeof(double));
}

namespace {
// A standard normal tensor of the given shape from rlforge's Rng (so that runs
// and resumes are reproducible whatever torch's generator does).
torch::Tensor NormalTensor(Rng& rng, std::vector<int64_t> shape) {
  torch::Tensor t = torch::empty(shape, torch::kFloat32);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(rng.Normal());
  return t;
}
}  // namespace

void Sac::BeginCollectStep(int64_t k) {
  if (!sac_.use_sde) return;
  // Drawn afresh at every phase's start, so that a checkpoint (always taken
  // between phases) need not hold them.
  if (k == 0 || (sac_.sde_sample_freq > 0 && k % sac_.sde_sample_freq == 0)) {
    const auto& ls = actor_->sde_log_std();
    sde_collect_ = NormalTensor(rng_, {envs_->num_envs(), ls.size(0), ls.size(1)});
  }
}

void Sac::DrawStepNoise() {
  pi_fresh_ = false;
  if (sac_.use_sde) {
    const auto& ls = actor_->sde_log_std();
    sde_eps_ = NormalTensor(rng_, {ls.size(0), ls.size(1)});
    return;
  }
  const int64_t n = config_.batch_size * act_dim_;
  eps_pi_.resize(static_cast<size_t>(n));
  eps_next_.resize(static_cast<size_t>(n));
  for (auto& e : eps_pi_) e = static_cast<float>(rng_.Normal());
  for (auto& e : eps_next_) e = static_cast<float>(rng_.Normal());
}

void Sac::PolicyAtObs(bool fast) {
  const int64_t B = config_.batch_size, A = act_dim_;
  a_pi_.resize(static_cast<size_t>(B * A));
  logp_pi_.resize(B);
  if (sac_.use_sde) {
    SdeActionsInto(obs_.data(), &a_pi_, &logp_pi_);
    return;
  }
  if (fast) {
    actor_k_.Forward(obs_.data(), B, obs_dim_);
    SquashedGaussianSample(actor_k_.out.data(), eps_pi_.data(), B, A, a_pi_.data(), logp_pi_.data());
    pi_fresh_ = true;
    return;
  }
  torch::NoGradGuard g;
  auto raw = actor_->forward(torch::from_blob(obs_.data(), {B, obs_dim_})).contiguous();
  SquashedGaussianSample(raw.data_ptr<float>(), eps_pi_.data(), B, A, a_pi_.data(), logp_pi_.data());
}

double Sac::EntCoefStep(bool fast) {
  PolicyAtObs(fast);
  double mean = 0;
  for (double lp : logp_pi_) mean += lp;
  mean /= static_cast<double>(logp_pi_.size());
  mean_logp_ = mean;
  alpha_ = std::exp(log_alpha_);  // this step's alpha: the value before the update
  if (!learn_alpha_) return 0;
  // L = -log_alpha (mean log pi + H_target); dL/dlog_alpha = -(mean log pi + H_target).
  const double loss = -log_alpha_ * (mean + target_entropy_);
  const double g = -(mean + target_entropy_);
  // torch's Adam (betas 0.9, 0.999; eps 1e-8) on the one number.
  ++alpha_t_;
  alpha_m_ = 0.9 * alpha_m_ + 0.1 * g;
  alpha_v_ = 0.999 * alpha_v_ + 0.001 * g * g;
  const double bc1 = 1.0 - std::pow(0.9, static_cast<double>(alpha_t_));
  const double bc2 = 1.0 - std::pow(0.999, static_cast<double>(alpha_t_));
  log_alpha_ -= lr_ / bc1 * alpha_m_ / (std::sqrt(alpha_v_) / std::sqrt(bc2) + 1e-8);
  return loss;
}

double Sac::CriticGradients(bool fast) {
  const int64_t B = config_.batch_size, A = act_dim_, n = critics_->size();
  a_next_.resize(static_cast<size_t>(B * A));
  logp_next_.resize(B);
  if (sac_.use_sde) {
    SdeActionsInto(next_.data(), &a_next_, &logp_next_);
  } else if (fast) {
    actor_next_k_.Forward(next_.data(), B, obs_dim_);
    SquashedGaussianSample(actor_next_k_.out.data(), eps_next_.data(), B, A, a_next_.data(), logp_next_.data());
  } else {
    torch::NoGradGuard g;
    auto raw = actor_->forward(torch::from_blob(next_.data(), {B, obs_dim_})).contiguous();
    SquashedGaussianSample(raw.data_ptr<float>(), eps_next_.data(), B, A, a_next_.data(), logp_next_.data());
  }
  TargetCriticValues(a_next_.data(), fast, &q_next_);
  y_.resize(B);
  for (int64_t b = 0; b < B; ++b) {
    const float* q = q_next_.data() + b * n;
    const double v = *std::min_element(q, q + n) - alpha_ * logp_next_[b];
    y_[b] = static_cast<float>(batch_.reward[b] + (batch_.terminated[b] ? 0.0 : batch_.discount[b] * v));
  }
  return CriticLoss(y_, 0.5, fast);
}

double Sac::ActorGradients(bool fast) {
  const int64_t B = config_.batch_size, A = act_dim_, n = critics_->size();
  if (sac_.use_sde) {  // autograd through the gSDE actor and the critics
    actor_optimizer_->zero_grad();
    pi_fresh_ = false;
    auto [a, logp] = SdeActions(obs_.data(), B, sde_eps_);
    auto x = torch::from_blob(obs_.data(), {B, obs_dim_});
    auto min_q = std::get<0>(critics_->forward(torch::cat({x, a}, 1)).min(1));
    auto loss = (alpha_ * logp - min_q).mean();
    loss.backward();
    return loss.item<double>();
  }
  if (!fast) {
    actor_optimizer_->zero_grad();
    auto x = torch::from_blob(obs_.data(), {B, obs_dim_});
    auto [a, logp] = SquashedGaussianRsample(actor_->forward(x), torch::from_blob(eps_pi_.data(), {B, A}));
    auto min_q = std::get<0>(critics_->forward(torch::cat({x, a}, 1)).min(1));
    auto loss = (alpha_ * logp - min_q).mean();
    loss.backward();
    return loss.item<double>();
  }
  if (!pi_fresh_) PolicyAtObs(true);
  pi_fresh_ = false;
  CriticValuesAt(a_pi_.data(), n, &q_pi_);
  coef_.assign(static_cast<size_t>(B * n), 0.0f);
  double loss = 0;
  for (int64_t b = 0; b < B; ++b) {
    const float* q = q_pi_.data() + b * n;
    const int64_t k = std::min_element(q, q + n) - q;
    coef_[b * n + k] = -1.0f / static_cast<float>(B);
    loss += (alpha_ * logp_pi_[b] - q[k]) / static_cast<double>(B);
  }
  CriticActionGradient(coef_, &d_a_);
  // Back through a = tanh(mu + std eps) and log pi (eps fixed).
  const float* raw = actor_k_.out.data();
  actor_k_.d_out.resize(static_cast<size_t>(B * 2 * A));
  const double c = alpha_ / static_cast<double>(B);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < A; ++j) {
      const double a = a_pi_[b * A + j], g = 1.0 - a * a;
      const double raw_ls = raw[b * 2 * A + A + j];
      const double ls = std::clamp(raw_ls, kSacLogStdMin, kSacLogStdMax), e = eps_pi_[b * A + j];
      // dL/du: the critics' part through tanh, and alpha/B d(-log(1 - a^2 + 1e-6))/du.
      const double du = d_a_[b * A + j] * g + c * 2.0 * a * g / (g + 1e-6);
      actor_k_.d_out[b * 2 * A + j] = static_cast<float>(du);
      const bool inside = raw_ls >= kSacLogStdMin && raw_ls <= kSacLogStdMax;
      actor_k_.d_out[b * 2 * A + A + j] = inside ? static_cast<float>(du * std::exp(ls) * e - c) : 0.0f;
    }
  actor_k_.Backward(obs_.data(), B, obs_dim_);
  return loss;
}

double Sac::TrainStep() {
  ent_coef_loss_ = EntCoefStep(fast_);
  const double critic_loss = CriticGradients(fast_);
  critic_optimizer_->step();
  actor_loss_ = ActorGradients(fast_);
  actor_optimizer_->step();
  // As SB3: the step's index within this update phase (so the first step of
  // every phase updates the targets).
  if (phase_step_ % sac_.target_update_interval == 0) SyncCriticTarget(config_.tau);
  return critic_loss;
}

Metrics Sac::AgentMetrics() {
  Metrics m;
  if (updates_ > 0) {
    m["actor_loss"] = actor_loss_;
    m["ent_coef"] = alpha_;
    m["entropy"] = -mean_logp_;
    if (learn_alpha_) m["ent_coef_loss"] = ent_coef_loss_;
  }
  return m;
}

void Sac::ActScaled(const float* features, int n, bool deterministic, Rng& rng, float* scaled) {
  const int64_t A = act_dim_;
  if (sac_.use_sde) {
    torch::NoGradGuard g;
    auto [mu, latent] =
        actor_->SdeMeanAndLatent(torch::from_blob(const_cast<float*>(features), {n, obs_dim_}), sac_.clip_mean);
    RLF_CHECK(deterministic || (sde_collect_.defined() && sde_collect_.size(0) >= n),
              "sac: gSDE exploration matrices were not drawn for ", n, " envs");
    torch::Tensor a = deterministic ? torch::tanh(mu)
                                    : SdeSample(latent, mu, actor_->sde_log_std(), sde_collect_.narrow(0, 0, n)).first;
    std::memcpy(scaled, a.contiguous().data_ptr<float>(), static_cast<size_t>(n * A) * sizeof(float));
    return;
  }
  actor_act_k_.Forward(features, n, obs_dim_);
  const float* raw = actor_act_k_.out.data();
  for (int i = 0; i < n; ++i)
    for (int64_t j = 0; j < A; ++j) {
      const double mu = raw[i * 2 * A + j];
      const double ls = std::clamp<double>(raw[i * 2 * A + A + j], kSacLogStdMin, kSacLogStdMax);
      scaled[i * A + j] = static_cast<float>(std::tanh(deterministic ? mu : mu + std::exp(ls) * rng.Normal()));
    }
}

std::unique_ptr<Policy> Sac::MakePolicy(bool deterministic) {
  SquashedGaussianActor actor = actor_;
  const int64_t d = obs_dim_, A = act_dim_;
  if (sac_.use_sde) {
    // The stochastic policy (evaluation with eval_deterministic: false) draws
    // a fresh exploration matrix per row and call, gSDE with
    // sde_sample_freq 1; SB3's predict reuses the last gradient step's matrix.
    const double clip = sac_.clip_mean;
    return MakeActorPolicy(
        [actor, d, A, clip](const float* x, int n, bool det, Rng& rng, float* scaled) mutable {
          torch::NoGradGuard g;
          auto [mu, latent] = actor->SdeMeanAndLatent(torch::from_blob(const_cast<float*>(x), {n, d}), clip);
          const auto& ls = actor->sde_log_std();
          torch::Tensor a =
              det ? torch::tanh(mu) : SdeSample(latent, mu, ls, NormalTensor(rng, {n, ls.size(0), A})).first;
          std::memcpy(scaled, a.contiguous().data_ptr<float>(), static_cast<size_t>(n * A) * sizeof(float));
        },
        deterministic);
  }
  return MakeActorPolicy(
      [actor, d, A](const float* x, int n, bool det, Rng& rng, float* scaled) mutable {
        SquashedGaussianAct(*actor, x, n, d, A, det, rng, scaled);
      },
      deterministic);
}

double Sac::flops_per_gradient_step() const {
  const auto [af, ar] = FirstAndLaterWeights(actor_->layers());
  const auto [cf, cr] = FirstAndLaterWeights(critics_->layers(0));
  const double n = static_cast<double>(critics_->size()), actor = af + ar, critic = cf + cr;
  // Actor forward at s and s'; target critics forward; critics forward +
  // backward (weights, inputs after the first layer); critics forward at
  // (s, a_pi) + input backward; actor backward.
  const double per_row = 2 * actor + n * critic + n * (2 * critic + cr) + n * 2 * critic + (actor + ar);
  return 2.0 * per_row * static_cast<double>(config_.batch_size);
}

void Sac::VisitAgentState(StateVisitor& v) {
  VisitModule(v, "actor", *actor_);
  VisitOptimizer(v, "actor_optimizer", *actor_optimizer_);
  v("log_ent_coef", &log_alpha_);
  v("ent_coef_adam_m", &alpha_m_);
  v("ent_coef_adam_v", &alpha_v_);
  v("ent_coef_adam_t", &alpha_t_);
  if (v.loading()) alpha_ = std::exp(log_alpha_);
}

runtime::Model Sac::ExportModel() {
  return ExportSquashedActor(*actor_->torso(), actor_->head(), obs_space_, act_space_,
                             sac_.use_sde ? sac_.clip_mean : 0.0);
}

}  // namespace rlforge
