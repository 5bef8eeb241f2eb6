#include "rlforge/algos/off_policy.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>

#include "rlforge/algos/dqn/dqn.h"
#include "rlforge/algos/flat_adam.h"
#include "rlforge/algos/replay_dataset.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void OffPolicyConfig::Visit(FieldVisitor& v) {
  v.Field("learning_rate", &learning_rate, "Adam learning rate of the actor and critics, and of SAC's entropy coefficient (number, lin_<start>[_<end>] or cos_<start>[_<end>])");
  v.Field("buffer_size", &buffer_size, "replay capacity in transitions");
  v.Field("learning_starts", &learning_starts,
          "env steps of uniformly random actions before learning starts (SAC with use_sde_at_warmup: gSDE actions)");
  v.Field("batch_size", &batch_size, "minibatch size");
  v.Field("tau", &tau, "Polyak coefficient of the target networks");
  v.Field("gamma", &gamma, "discount factor");
  v.Field("train_freq", &train_freq, "env steps per env between update phases");
  v.Field("gradient_steps", &gradient_steps, "gradient steps per update phase (-1: one per env step collected)");
  v.Field("n_step", &n_step, "n-step returns");
  v.Field("prioritized_replay", &prioritized_replay, "prioritized experience replay (priorities: |TD error| of critic 1)");
  v.Field("prioritized_alpha", &prioritized_alpha, "priority exponent alpha");
  v.Field("prioritized_beta0", &prioritized_beta0, "initial importance-weight exponent (annealed to 1)");
  v.Field("prioritized_eps", &prioritized_eps, "added to |TD error| in priorities");
  v.Field("net_arch", &net_arch, "hidden layer sizes of the actor (and of the critics unless critic_arch is set)");
  v.Field("critic_arch", &critic_arch, "hidden layer sizes of each critic ([]: net_arch)");
  v.Field("activation", &activation, "relu or tanh");
  v.Field("action_noise", &action_noise, "exploration noise on the scaled action: none, normal, ornstein-uhlenbeck");
  v.Field("noise_std", &noise_std, "sigma of the exploration noise (actions scaled to [-1, 1])");
  v.Field("noise_theta", &noise_theta, "Ornstein-Uhlenbeck mean-reversion rate theta");
  v.Field("noise_dt", &noise_dt, "Ornstein-Uhlenbeck time step dt");
  v.Field("save_replay", &save_replay, "store the replay buffer in checkpoints (exact resume)");
  v.Field("fast_update", &fast_update, "hand-written forward/backward instead of autograd");
  v.Field("replay_dataset", &replay_dataset, kReplayDatasetHelp);
}

void OffPolicyConfig::Validate() const {
  learning_rate.CheckRate("learning_rate");
  RLF_CHECK_ARG(buffer_size >= 1, "config key 'buffer_size' must be >= 1");
  RLF_CHECK_ARG(learning_starts >= 0, "config key 'learning_starts' must be >= 0");
  RLF_CHECK_ARG(batch_size >= 1 && batch_size <= 1000000, "config key 'batch_size' must be in [1, 1000000], got ",
                batch_size);
  RLF_CHECK_ARG(tau > 0 && tau <= 1, "config key 'tau' must be in (0, 1], got ", tau);
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1], got ", gamma);
  RLF_CHECK_ARG(train_freq >= 1, "config key 'train_freq' must be >= 1");
  RLF_CHECK_ARG(gradient_steps >= -1, "config key 'gradient_steps' must be >= 0, or -1 (one per env step)");
  RLF_CHECK_ARG(n_step >= 1 && n_step <= 1000, "config key 'n_step' must be in [1, 1000], got ", n_step);
  RLF_CHECK_ARG(prioritized_alpha >= 0, "config key 'prioritized_alpha' must be >= 0");
  RLF_CHECK_ARG(prioritized_beta0 >= 0 && prioritized_beta0 <= 1, "config key 'prioritized_beta0' must be in [0, 1]");
  RLF_CHECK_ARG(prioritized_eps > 0, "config key 'prioritized_eps' must be > 0");
  RLF_CHECK_ARG(activation == "relu" || activation == "tanh", "config key 'activation' must be relu or tanh, got '",
                activation, "'");
  RLF_CHECK_ARG(action_noise == "none" || action_noise == "normal" || action_noise == "ornstein-uhlenbeck",
                "config key 'action_noise' must be none, normal or ornstein-uhlenbeck, got '", action_noise, "'");
  RLF_CHECK_ARG(noise_std >= 0, "config key 'noise_std' must be >= 0, got ", noise_std);
  RLF_CHECK_ARG(noise_theta >= 0 && noise_dt > 0 && noise_theta * noise_dt <= 1,
                "config keys 'noise_theta' and 'noise_dt' need theta >= 0, dt > 0 and theta * dt <= 1");
}

// ---- ActionNoise -------------------------------------------------------------

ActionNoise::ActionNoise(const std::string& kind, int64_t dim, int num_envs, double sigma, double theta, double dt)
    : dim_(dim), sigma_(sigma), theta_(theta), dt_(dt) {
  if (kind == "normal") {
    kind_ = Kind::kNormal;
  } else if (kind == "ornstein-uhlenbeck") {
    kind_ = Kind::kOrnsteinUhlenbeck;
    state_.assign(static_cast<size_t>(num_envs * dim), 0.0);
  } else {
    RLF_CHECK_ARG(kind == "none", "unknown action noise '", kind, "'");
  }
}

void ActionNoise::Add(Rng& rng, int env, float* a) {
  switch (kind_) {
    case Kind::kNone: return;
    case Kind::kNormal:
      for (int64_t j = 0; j < dim_; ++j) a[j] += static_cast<float>(sigma_ * rng.Normal());
      return;
    case Kind::kOrnsteinUhlenbeck: {
      double* x = state_.data() + env * dim_;
      for (int64_t j = 0; j < dim_; ++j) {
        x[j] += theta_ * (0.0 - x[j]) * dt_ + sigma_ * std::sqrt(dt_) * rng.Normal();
        a[j] += static_cast<float>(x[j]);
      }
      return;
    }
  }
}

void ActionNoise::Reset(int env) {
  if (kind_ == Kind::kOrnsteinUhlenbeck) std::fill_n(state_.begin() + env * dim_, dim_, 0.0);
}

// ---- Critics -----------------------------------------------------------------

CriticsImpl::CriticsImpl(int64_t obs_dim, int64_t act_dim, int64_t n, const std::vector<int64_t>& net_arch,
                         const std::string& activation) {
  RLF_CHECK_ARG(n >= 1, "at least one critic");
  for (int64_t i = 0; i < n; ++i) {
    torsos_.push_back(register_module(StrCat("q", i, "_torso"),
                                      Mlp(obs_dim + act_dim, net_arch, activation, /*ortho_init=*/false)));
    heads_.push_back(register_module(StrCat("q", i, "_head"), torch::nn::Linear(torsos_.back()->out_features(), 1)));
  }
}

torch::Tensor CriticsImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> q;
  for (size_t i = 0; i < torsos_.size(); ++i) q.push_back(heads_[i]->forward(torsos_[i]->forward(x)));
  return torch::cat(q, 1);
}

std::vector<torch::nn::Linear> CriticsImpl::layers(int64_t i) const {
  auto out = torsos_[i]->layers();
  out.push_back(heads_[i]);
  return out;
}

std::vector<torch::Tensor> CriticsImpl::critic_parameters(int64_t i) const {
  auto p = torsos_[i]->parameters();
  for (auto& t : heads_[i]->parameters()) p.push_back(t);
  return p;
}

void PolyakUpdate(torch::nn::Module& from, torch::nn::Module& to, double tau) {
  torch::NoGradGuard g;
  auto src = from.parameters(), dst = to.parameters();
  RLF_CHECK(src.size() == dst.size(), "Polyak update between different networks");
  for (size_t i = 0; i < src.size(); ++i) {
    if (tau >= 1.0) {
      dst[i].copy_(src[i]);
      continue;
    }
    // One pass over the floats (the tensor ops cost more than the arithmetic
    // on these sizes).
    float* d = dst[i].data_ptr<float>();
    const float* s = src[i].data_ptr<float>();
    const auto a = static_cast<float>(tau), b = static_cast<float>(1.0 - tau);
    for (int64_t k = 0, n = dst[i].numel(); k < n; ++k) d[k] = b * d[k] + a * s[k];
  }
}

void ScaledBoxBounds(const Space& act_space, const std::string& algo, const std::string& env_id,
                     std::vector<float>* low, std::vector<float>* high) {
  RLF_CHECK_ARG(act_space.kind() == SpaceKind::kBox && act_space.shape().size() == 1 &&
                    (act_space.dtype() == DType::kFloat32 || act_space.dtype() == DType::kFloat64),
                algo, " needs a one-dimensional float Box action space; ", env_id, " has ", act_space.ToString());
  low->clear();
  high->clear();
  for (int64_t j = 0; j < act_space.size(); ++j) {
    const double lo = act_space.low()[j], hi = act_space.high()[j];
    RLF_CHECK_ARG(std::isfinite(lo) && std::isfinite(hi) && hi > lo, algo,
                  " rescales actions to [-1, 1] and needs finite bounds; ", env_id, "'s action ", j, " has [", lo,
                  ", ", hi, "]");
    low->push_back(static_cast<float>(lo));
    high->push_back(static_cast<float>(hi));
  }
}

std::pair<double, double> FirstAndLaterWeights(const std::vector<torch::nn::Linear>& layers) {
  double first = 0, later = 0;
  for (size_t k = 0; k < layers.size(); ++k) (k == 0 ? first : later) += static_cast<double>(layers[k]->weight.numel());
  return {first, later};
}

void ConcatRows(const float* x, int64_t d, const float* a, int64_t k, int64_t rows, std::vector<float>* out) {
  out->resize(static_cast<size_t>(rows * (d + k)));
  float* o = out->data();
  for (int64_t i = 0; i < rows; ++i) {
    std::copy_n(x + i * d, d, o);
    std::copy_n(a + i * k, k, o + d);
    o += d + k;
  }
}

// ---- The agent ---------------------------------------------------------------

OffPolicyActorCritic::OffPolicyActorCritic(const RunContext& ctx, const OffPolicyConfig& config, int64_t n_critics)
    : Algorithm(ctx), config_(config), replay_(1, 1, 0), priorities_(1), rng_(static_cast<uint64_t>(ctx.run.seed) ^ 0xAC0FF) {
  config_.Validate();
  {
    // Keys of exploration noise or prioritized replay that is not in use.
    static std::atomic<bool> warned{false};
    const OffPolicyConfig d;
    std::vector<std::string> why;
    for (const auto& [key, set] : {std::pair{"noise_std", config.noise_std != d.noise_std},
                                   std::pair{"noise_theta", config.noise_theta != d.noise_theta},
                                   std::pair{"noise_dt", config.noise_dt != d.noise_dt}})
      if (set && config.action_noise == "none")
        why.push_back(StrCat(key, " shapes action_noise, and action_noise is none"));
      else if (set && config.action_noise == "normal" && std::string(key) != "noise_std")
        why.push_back(StrCat(key, " shapes Ornstein-Uhlenbeck noise, and action_noise is normal"));
    for (std::string& w : InertPrioritizedKeys(config, d)) why.push_back(std::move(w));
    WarnInertKeys(ctx, &warned, why);
  }
  const std::string& env_id = ctx.run.env;
  envs_ = ctx.MakeVectorEnv();
  obs_space_ = envs_->single_observation_space();
  act_space_ = envs_->single_action_space();
  ScaledBoxBounds(act_space_, ctx.algo, env_id, &low_, &high_);
  act_dim_ = act_space_.size();
  const bool flat = obs_space_.kind() == SpaceKind::kDiscrete || obs_space_.kind() == SpaceKind::kMultiDiscrete ||
                    (obs_space_.kind() == SpaceKind::kBox && obs_space_.shape().size() == 1);
  RLF_CHECK_ARG(flat, ctx.algo, " takes Discrete, MultiDiscrete or flat Box observations (MLP networks); ", env_id,
                " has ", obs_space_.ToString());
  obs_dim_ = FeatureSize(obs_space_);
  torch::manual_seed(static_cast<uint64_t>(ctx.run.seed));
  const auto& arch = config_.critic_arch.empty() ? config_.net_arch : config_.critic_arch;
  critics_ = Critics(obs_dim_, act_dim_, n_critics, arch, config_.activation);
  critic_target_ = Critics(obs_dim_, act_dim_, n_critics, arch, config_.activation);
  PolyakUpdate(*critics_, *critic_target_, 1.0);
  critic_optimizer_ =
      std::make_unique<FlatAdam>(critics_->parameters(), torch::optim::AdamOptions(config_.learning_rate.Value(1.0)));
  replay_ = ReplayBuffer(config_.buffer_size, obs_space_.nbytes(), 0, envs_->num_envs(), act_dim_);
  if (config_.prioritized_replay) priorities_ = SumTree(config_.buffer_size);
  noise_ = ActionNoise(config_.action_noise, act_dim_, envs_->num_envs(), config_.noise_std, config_.noise_theta,
                       config_.noise_dt);
  fast_ = config_.fast_update;
  critic_k_.resize(n_critics), critic_pi_k_.resize(n_critics), critic_target_k_.resize(n_critics);
  for (int64_t i = 0; i < n_critics; ++i) {
    critic_k_[i].layers = critic_pi_k_[i].layers = critics_->layers(i);
    critic_target_k_[i].layers = critic_target_->layers(i);
    critic_k_[i].tanh = critic_pi_k_[i].tanh = critic_target_k_[i].tanh = critics_->tanh();
    critic_pi_k_[i].param_grads = false;
    critic_pi_k_[i].input_grad = true;
  }
  envs_->Reset(static_cast<uint64_t>(ctx.run.seed));
  DeclareMetrics({"replay_size", "n_updates", "time_env", "time_act", "time_update", "time_sample", "gradient_steps",
                  "update_samples", "update_flops", "critic_loss"});
}

void OffPolicyActorCritic::Unscale(const float* scaled, float* env_action) const {
  for (int64_t j = 0; j < act_dim_; ++j) {
    const float a = std::clamp(scaled[j], -1.0f, 1.0f);
    env_action[j] = low_[j] + 0.5f * (a + 1.0f) * (high_[j] - low_[j]);
  }
}

void OffPolicyActorCritic::Scale(const float* env_action, float* scaled) const {
  for (int64_t j = 0; j < act_dim_; ++j)
    scaled[j] = 2.0f * (env_action[j] - low_[j]) / (high_[j] - low_[j]) - 1.0f;
}

Metrics OffPolicyActorCritic::Iterate() {
  using Clock = std::chrono::steady_clock;
  const auto t_start = Clock::now();
  double t_env = 0;
  const int n = envs_->num_envs();
  const int64_t obs_bytes = obs_space_.nbytes(), A = act_dim_;
  act_features_.resize(static_cast<size_t>(n * obs_dim_));
  act_scaled_.resize(static_cast<size_t>(n * A));
  act_env_.resize(static_cast<size_t>(n * A));
  act_prev_obs_.resize(static_cast<size_t>(n * obs_bytes));
  std::vector<double> env_actions_f64;
  if (steps_ == 0 && updates_ == 0 && replay_.size() == 0 && !config_.replay_dataset.empty()) {
    std::vector<float> env_action(static_cast<size_t>(act_dim_));
    const auto slots = SeedReplayFromDataset(
        config_.replay_dataset, obs_space_, act_space_, &replay_, [&](const uint8_t* raw, float* scaled) {
          for (int64_t j = 0; j < act_dim_; ++j) env_action[j] = static_cast<float>(ReadElement(raw, act_space_.dtype(), j));
          Scale(env_action.data(), scaled);
          for (int64_t j = 0; j < act_dim_; ++j) scaled[j] = std::clamp(scaled[j], -1.0f, 1.0f);
        });
    if (config_.prioritized_replay)
      for (int64_t slot : slots) priorities_.Set(slot, std::pow(max_priority_, config_.prioritized_alpha));
  }
  const int64_t steps_before = steps_;
  for (int64_t k = 0; k < config_.train_freq && steps_ < ctx_.run.total_steps; ++k) {
    BeginCollectStep(k);
    if (steps_ < config_.learning_starts && UniformWarmup()) {
      // Uniform over the Box, as SB3's warm-up (action_space.sample()).
      for (auto& a : act_scaled_) a = static_cast<float>(rng_.Uniform(-1.0, 1.0));
    } else {
      ObservationFeatures(obs_space_, envs_->observations(), n, act_features_.data());
      ActScaled(act_features_.data(), n, /*deterministic=*/false, rng_, act_scaled_.data());
    }
    for (int i = 0; i < n; ++i) {
      float* a = act_scaled_.data() + i * A;
      noise_.Add(rng_, i, a);
      for (int64_t j = 0; j < A; ++j) a[j] = std::clamp(a[j], -1.0f, 1.0f);
      Unscale(a, act_env_.data() + i * A);
    }
    std::memcpy(act_prev_obs_.data(), envs_->observations(), act_prev_obs_.size());
    const auto t_env0 = Clock::now();
    if (act_space_.dtype() == DType::kFloat32) {
      envs_->Step(act_env_.data());
    } else {
      env_actions_f64.assign(act_env_.begin(), act_env_.end());
      envs_->Step(env_actions_f64.data());
    }
    t_env += std::chrono::duration<double>(Clock::now() - t_env0).count();
    const auto* next = static_cast<const uint8_t*>(envs_->observations());
    const auto* final_obs = static_cast<const uint8_t*>(envs_->final_observations());
    for (int i = 0; i < n; ++i) {
      const bool term = envs_->terminated()[i], trunc = envs_->truncated()[i];
      const uint8_t* next_row = next + i * obs_bytes;
      if (term || trunc) {
        next_row = final_obs + i * obs_bytes;  // the env row already holds the next episode's start
        episodes_.Add(envs_->episode_return(i), envs_->episode_length(i));
        noise_.Reset(i);
      }
      const int64_t slot = replay_.Add(act_prev_obs_.data() + i * obs_bytes, next_row, act_scaled_.data() + i * A,
                                       envs_->rewards()[i], term, trunc, nullptr);
      if (config_.prioritized_replay) priorities_.Set(slot, std::pow(max_priority_, config_.prioritized_alpha));
    }
    steps_ += n;
  }
  const auto t_update0 = Clock::now();
  int64_t done = 0;
  time_sample_ = 0;
  critic_loss_sum_ = 0;
  if (steps_ > config_.learning_starts && replay_.size() > 0) {
    const double lr = config_.learning_rate.Value(ctx_.ProgressRemaining(steps_));
    SetLearningRate(*critic_optimizer_, lr);
    SetAgentLearningRate(lr);
    const int64_t grad_steps = config_.gradient_steps < 0 ? steps_ - steps_before : config_.gradient_steps;
    for (int64_t g = 0; g < grad_steps; ++g, ++done) {
      phase_step_ = g;
      critic_loss_sum_ += GradientStep();
    }
  }
  const double t_update = std::chrono::duration<double>(Clock::now() - t_update0).count();
  const double t_total = std::chrono::duration<double>(Clock::now() - t_start).count();
  Metrics out = AgentMetrics();
  out["replay_size"] = static_cast<double>(replay_.size());
  out["n_updates"] = static_cast<double>(updates_);
  out["time_env"] = t_env;
  out["time_act"] = t_total - t_update - t_env;
  out["time_update"] = t_update;
  out["time_sample"] = time_sample_;
  out["gradient_steps"] = static_cast<double>(done);
  out["update_samples"] = static_cast<double>(done * config_.batch_size);
  out["update_flops"] = flops_per_gradient_step() * static_cast<double>(done);
  if (done) out["critic_loss"] = critic_loss_sum_ / static_cast<double>(done);
  return out;
}

void OffPolicyActorCritic::SampleBatch() {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t B = config_.batch_size;
  slots_.resize(B);
  weights_.assign(B, 1.0f);
  if (config_.prioritized_replay) {
    const double beta = config_.prioritized_beta0 + (1.0 - config_.prioritized_beta0) * std::min(1.0, ctx_.Progress(steps_));
    SampleProportional(priorities_, replay_.size(), beta, rng_, &slots_, &weights_);
  } else {
    for (auto& s : slots_) s = replay_.SampleUniform(rng_);
  }
  replay_.Gather(slots_, static_cast<int>(config_.n_step), config_.gamma, &batch_);
  obs_.resize(static_cast<size_t>(B * obs_dim_));
  next_.resize(static_cast<size_t>(B * obs_dim_));
  ObservationFeatures(obs_space_, batch_.obs.data(), B, obs_.data());
  ObservationFeatures(obs_space_, batch_.next_obs.data(), B, next_.data());
  DrawStepNoise();
  time_sample_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double OffPolicyActorCritic::GradientStep() {
  SampleBatch();
  ++updates_;
  const double loss = TrainStep();
  RLF_CHECK(std::isfinite(loss), "the ", ctx_.algo, " critic loss is not finite (", loss, ") at step ", steps_,
            "; training stopped");
  UpdatePriorities();
  return loss;
}

void OffPolicyActorCritic::UpdatePriorities() {
  if (!config_.prioritized_replay) return;
  rlforge::UpdatePriorities(priorities_, slots_, td_.data(), config_.prioritized_alpha, config_.prioritized_eps,
                            &max_priority_);
}

void OffPolicyActorCritic::TargetCriticValues(const float* next_actions, bool fast, std::vector<float>* q) {
  const int64_t B = config_.batch_size, n = critics_->size(), W = obs_dim_ + act_dim_;
  ConcatRows(next_.data(), obs_dim_, next_actions, act_dim_, B, &sa_);
  q->resize(static_cast<size_t>(B * n));
  if (fast) {
    for (int64_t i = 0; i < n; ++i) {
      critic_target_k_[i].Forward(sa_.data(), B, W);
      for (int64_t b = 0; b < B; ++b) (*q)[b * n + i] = critic_target_k_[i].out[b];
    }
    return;
  }
  torch::NoGradGuard g;
  auto out = critic_target_->forward(torch::from_blob(sa_.data(), {B, W})).contiguous();
  std::copy_n(out.data_ptr<float>(), B * n, q->data());
}

double OffPolicyActorCritic::CriticLoss(const std::vector<float>& y, double scale, bool fast) {
  const int64_t B = config_.batch_size, n = critics_->size(), W = obs_dim_ + act_dim_;
  ConcatRows(obs_.data(), obs_dim_, batch_.action_vec.data(), act_dim_, B, &sa_);
  td_.resize(B);
  double loss = 0;
  if (fast) {
    for (int64_t i = 0; i < n; ++i) {
      MlpKernel& k = critic_k_[i];
      k.Forward(sa_.data(), B, W);
      k.d_out.resize(B);
      for (int64_t b = 0; b < B; ++b) {
        const double d = static_cast<double>(k.out[b]) - y[b];
        if (i == 0) td_[b] = d;
        loss += scale * weights_[b] * d * d / B;
        k.d_out[b] = static_cast<float>(2.0 * scale * weights_[b] * d / B);
      }
      k.Backward(sa_.data(), B, W);
    }
    return loss;
  }
  critic_optimizer_->zero_grad();
  auto q = critics_->forward(torch::from_blob(sa_.data(), {B, W}));  // [B, n]
  auto yt = torch::from_blob(const_cast<float*>(y.data()), {B, 1});
  auto w = torch::from_blob(weights_.data(), {B, 1});
  auto l = scale * (w * (q - yt).pow(2)).mean(0).sum();
  l.backward();
  auto d = (q.detach().narrow(1, 0, 1) - yt).contiguous();
  const float* dp = d.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b) td_[b] = dp[b];
  return l.item<double>();
}

void OffPolicyActorCritic::CriticValuesAt(const float* actions, int64_t used, std::vector<float>* q) {
  const int64_t B = config_.batch_size, n = critics_->size(), W = obs_dim_ + act_dim_;
  ConcatRows(obs_.data(), obs_dim_, actions, act_dim_, B, &sa_pi_);
  q->assign(static_cast<size_t>(B * n), 0.0f);
  for (int64_t i = 0; i < std::min(used, n); ++i) {
    critic_pi_k_[i].Forward(sa_pi_.data(), B, W);
    for (int64_t b = 0; b < B; ++b) (*q)[b * n + i] = critic_pi_k_[i].out[b];
  }
}

void OffPolicyActorCritic::CriticActionGradient(const std::vector<float>& coef, std::vector<float>* d_actions) {
  const int64_t B = config_.batch_size, n = critics_->size(), W = obs_dim_ + act_dim_;
  d_actions->assign(static_cast<size_t>(B * act_dim_), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    MlpKernel& k = critic_pi_k_[i];
    k.d_out.resize(B);
    bool any = false;
    for (int64_t b = 0; b < B; ++b) any |= (k.d_out[b] = coef[b * n + i]) != 0.0f;
    if (!any) continue;
    k.Backward(sa_pi_.data(), B, W);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < act_dim_; ++j) (*d_actions)[b * act_dim_ + j] += k.d_in[b * W + obs_dim_ + j];
  }
}

void OffPolicyActorCritic::VisitState(StateVisitor& v) {
  VisitModule(v, "critics", *critics_);
  VisitModule(v, "critic_target", *critic_target_);
  VisitOptimizer(v, "critic_optimizer", *critic_optimizer_);
  v("rng", &rng_);
  v("steps", &steps_);
  v("updates", &updates_);
  v("noise", &noise_);
  v("envs", envs_.get());
  if (config_.save_replay) {
    v("replay", &replay_);
    if (config_.prioritized_replay) {
      v("priorities", &priorities_);
      v("max_priority", &max_priority_);
    }
  }
  VisitAgentState(v);
}

namespace {
// Acts with an agent's actor: features, scaled actions, env actions.
class ScaledActorPolicy : public Policy {
 public:
  using Fn = std::function<void(const float*, int, bool, Rng&, float*)>;
  ScaledActorPolicy(Fn act, bool deterministic, Space obs_space, Space act_space, std::vector<float> low,
                    std::vector<float> high, uint64_t seed)
      : act_(std::move(act)),
        deterministic_(deterministic),
        obs_space_(std::move(obs_space)),
        act_space_(std::move(act_space)),
        low_(std::move(low)),
        high_(std::move(high)),
        rng_(seed) {}
  void Act(const void* observations, const uint8_t* /*masks*/, int n, void* actions) override {
    const int64_t d = FeatureSize(obs_space_), k = static_cast<int64_t>(low_.size());
    feats_.resize(static_cast<size_t>(n * d));
    scaled_.resize(static_cast<size_t>(n * k));
    ObservationFeatures(obs_space_, observations, n, feats_.data());
    act_(feats_.data(), n, deterministic_, rng_, scaled_.data());
    for (int64_t i = 0; i < n * k; ++i) {
      const int64_t j = i % k;
      const float a = std::clamp(scaled_[i], -1.0f, 1.0f);
      WriteElement(actions, act_space_.dtype(), i, low_[j] + 0.5f * (a + 1.0f) * (high_[j] - low_[j]));
    }
  }
  std::string name() const override { return deterministic_ ? "deterministic" : "stochastic"; }

 private:
  Fn act_;
  bool deterministic_;
  Space obs_space_, act_space_;
  std::vector<float> low_, high_;
  Rng rng_;
  std::vector<float> feats_, scaled_;
};
}  // namespace

std::unique_ptr<Policy> MakeScaledActorPolicy(ScaledActFn act, bool deterministic, const Space& obs_space,
                                              const Space& act_space, std::vector<float> low, std::vector<float> high,
                                              uint64_t seed) {
  return std::make_unique<ScaledActorPolicy>(std::move(act), deterministic, obs_space, act_space, std::move(low),
                                             std::move(high), seed);
}

std::unique_ptr<Policy> OffPolicyActorCritic::MakeActorPolicy(ScaledActFn act, bool deterministic) const {
  return MakeScaledActorPolicy(std::move(act), deterministic, obs_space_, act_space_, low_, high_,
                               static_cast<uint64_t>(ctx_.run.seed) + 0x9E37);
}

}  // namespace rlforge
