#include "rlforge/algos/on_policy.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstring>
#include <iterator>
#include <limits>

#include "rlforge/env/registry.h"
#include "rlforge/train/checkpoint.h"
#include "rlforge/train/config.h"
#include "rlforge/train/scripted_policy.h"

#include "rlforge/algos/flat_adam.h"
#include "rlforge/buffers/gae.h"
#include "rlforge/core/error.h"

namespace rlforge {

A2cLosses ComputeA2cLosses(const torch::Tensor& log_prob, const torch::Tensor& advantages,
                           const torch::Tensor& values, const torch::Tensor& returns, const torch::Tensor& entropy) {
  return {-(advantages.detach() * log_prob).mean(), (returns - values).pow(2).mean(), -entropy.mean()};
}

void VisitPolicyFields(FieldVisitor& v, PolicyConfig* policy) {
  v.Field("net_arch", &policy->net_arch, "hidden layer sizes of the actor and critic torsos");
  v.Field("activation", &policy->activation, "tanh or relu");
  v.Field("ortho_init", &policy->ortho_init, "orthogonal initialization");
  v.Field("share_features", &policy->share_features, "one torso for actor and critic");
  v.Field("log_std_init", &policy->log_std_init, "initial log std of Gaussian policies");
}

ActorCriticLossValues OnPolicyAlgorithm::BackpropActorCriticLoss(bool normalize_advantage, double ent_coef,
                                                                 double vf_coef, const char* what) {
  const int64_t B = setup_.n_steps * envs_->num_envs();
  std::vector<int64_t> obs_dims = {B};
  obs_dims.insert(obs_dims.end(), obs_shape_.begin(), obs_shape_.end());
  auto masks = masks_.defined() ? masks_.reshape({B, masks_.size(2)}) : torch::Tensor();
  auto actions = actions_.dim() == 2 ? actions_.reshape({B}) : actions_.reshape({B, actions_.size(2)});
  auto adv = advantages_.reshape({B});
  if (normalize_advantage && B > 1) adv = (adv - adv.mean()) / (adv.std() + 1e-8);
  ActorCriticLossValues out;
  if (fast_) {
    // The A2C gradient is PPO's at ratio 1 without clipping: old log-probs =
    // the current ones, clip range infinite.
    FastLossInputs in{policy_->Preprocess(obs_.reshape(obs_dims)).contiguous(), actions.contiguous(), masks, {},
                      adv.contiguous(), returns_.reshape({B}).contiguous(), std::numeric_limits<double>::infinity(),
                      ent_coef, vf_coef};
    in.old_log_prob = fast_->LogProb(in);
    const FastLossResult r = fast_->Backward(in);
    out.policy_loss = -(adv * in.old_log_prob).mean().item<double>();
    out.value_loss = r.value_loss;
    out.entropy_loss = -r.entropy;
    out.loss = out.policy_loss + ent_coef * out.entropy_loss + vf_coef * out.value_loss;
    CheckFinite(out.loss, what);
    return out;
  }
  auto result = policy_->Forward(obs_.reshape(obs_dims), masks);
  auto l = ComputeA2cLosses(result.dist.log_prob(actions), adv, result.value, returns_.reshape({B}),
                            result.dist.entropy());
  auto loss = l.policy_loss + ent_coef * l.entropy_loss + vf_coef * l.value_loss;
  CheckFinite(loss, what);
  optimizer_->zero_grad();
  loss.backward();
  out.policy_loss = l.policy_loss.item<double>();
  out.value_loss = l.value_loss.item<double>();
  out.entropy_loss = l.entropy_loss.item<double>();
  out.loss = loss.item<double>();
  return out;
}

torch::ScalarType TorchDType(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return torch::kFloat32;
    case DType::kFloat64: return torch::kFloat64;
    case DType::kInt64: return torch::kInt64;
    case DType::kInt8: return torch::kInt8;
    case DType::kUInt8: return torch::kUInt8;
  }
  return torch::kFloat32;
}

torch::Tensor ToEnvActions(const torch::Tensor& actions, const Space& space) {
  switch (space.kind()) {
    case SpaceKind::kDiscrete: return (actions.to(torch::kLong) + space.start()).contiguous();
    case SpaceKind::kBox: {
      auto low = torch::tensor(space.low(), torch::kFloat64).to(torch::kFloat32);
      auto high = torch::tensor(space.high(), torch::kFloat64).to(torch::kFloat32);
      return torch::max(torch::min(actions.to(torch::kFloat32), high), low).contiguous();
    }
    default: return actions.to(torch::kLong).contiguous();
  }
}

torch::Tensor ObservationTensor(const void* data, int64_t rows, const Space& obs_space) {
  std::vector<int64_t> shape = {rows};
  shape.insert(shape.end(), obs_space.shape().begin(), obs_space.shape().end());
  return torch::from_blob(const_cast<void*>(data), shape, TorchDType(obs_space.dtype())).clone();
}

OnPolicyAlgorithm::OnPolicyAlgorithm(const OnPolicySetup& setup) : setup_(setup) {
  RLF_CHECK_ARG(setup.n_steps >= 1, "n_steps must be >= 1, got ", setup.n_steps);
  RLF_CHECK_ARG(setup.gamma >= 0 && setup.gamma <= 1, "gamma must be in [0, 1], got ", setup.gamma);
  RLF_CHECK_ARG(setup.gae_lambda >= 0 && setup.gae_lambda <= 1, "gae_lambda must be in [0, 1], got ",
                setup.gae_lambda);
  VectorEnvOptions opt;
  opt.num_envs = setup.num_envs;
  opt.num_threads = setup.env_threads;
  envs_ = VectorEnv::Make(setup.env_id, setup.env_kwargs, opt);
  if (setup.normalize_obs) {
    const Space& os = envs_->single_observation_space();
    RLF_CHECK_ARG(os.kind() == SpaceKind::kBox && (os.dtype() == DType::kFloat32 || os.dtype() == DType::kFloat64),
                  "normalize_obs needs a float Box observation space; ", setup.env_id, " has ", os.ToString());
    obs_rms_ = RunningMeanStd(os.size());
  }
  ret_rms_ = RunningMeanStd(1);
  running_return_.assign(setup.num_envs, 0.0);
  torch::manual_seed(setup.seed);
  policy_ = ActorCritic(envs_->single_observation_space(), envs_->single_action_space(), setup.policy);
  gen_ = at::make_generator<at::CPUGeneratorImpl>(setup.seed + 1);
  envs_->Reset(setup.seed);
  conditional_ = envs_->has_conditional_action_mask() &&
                 envs_->single_action_space().kind() == SpaceKind::kMultiDiscrete;

  const int64_t T = setup.n_steps, N = setup.num_envs;
  const Space& os = envs_->single_observation_space();
  const Space& as = envs_->single_action_space();
  obs_shape_ = os.shape();
  std::vector<int64_t> obs_dims = {T, N};
  obs_dims.insert(obs_dims.end(), obs_shape_.begin(), obs_shape_.end());
  obs_ = torch::zeros(obs_dims, setup.normalize_obs ? torch::kFloat32 : TorchDType(os.dtype()));
  if (envs_->has_action_mask()) masks_ = torch::zeros({T, N, envs_->mask_size()}, torch::kBool);
  switch (as.kind()) {
    case SpaceKind::kDiscrete: actions_ = torch::zeros({T, N}, torch::kLong); break;
    case SpaceKind::kMultiDiscrete: actions_ = torch::zeros({T, N, as.size()}, torch::kLong); break;
    default: actions_ = torch::zeros({T, N, as.size()}, torch::kFloat32);
  }
  log_probs_ = torch::zeros({T, N});
  values_ = torch::zeros({T, N});
  rewards_ = torch::zeros({T, N});
  next_values_ = torch::zeros({T, N});
  dones_ = torch::zeros({T, N}, torch::kUInt8);
  advantages_ = torch::zeros({T, N});
  returns_ = torch::zeros({T, N});
}

torch::Tensor OnPolicyAlgorithm::MaskTensor() const {
  if (!envs_->has_action_mask()) return {};
  return torch::from_blob(const_cast<uint8_t*>(envs_->action_masks()), {envs_->num_envs(), envs_->mask_size()},
                          torch::kUInt8)
      .to(torch::kBool);
}

void OnPolicyAlgorithm::CollectRollout() {
  const auto collect_start = std::chrono::steady_clock::now();
  double env_seconds = 0;
  torch::NoGradGuard no_grad;
  policy_->eval();
  const int64_t T = setup_.n_steps, N = envs_->num_envs();
  const Space& os = envs_->single_observation_space();
  const Space& as = envs_->single_action_space();
  for (int64_t t = 0; t < T; ++t) {
    auto obs = NormalizeObs(ObservationTensor(envs_->observations(), N, os), /*update=*/true);
    obs_[t].copy_(obs);
    auto mask = MaskTensor();
    if (mask.defined()) masks_[t].copy_(mask);
    torch::Tensor a;
    if (fast_) {
      auto act = fast_->Act(policy_->Preprocess(obs).contiguous(), mask, &gen_);
      a = act.actions;
      log_probs_[t].copy_(act.log_prob);
      values_[t].copy_(act.value);
    } else {
      auto out = policy_->Forward(obs, mask);
      if (policy_->use_sde()) {
        const int64_t freq = setup_.policy.sde_sample_freq;
        if (t == 0 || (freq > 0 && t % freq == 0)) policy_->ResampleSdeNoise(N, &gen_);
        a = policy_->SdeActions(out);
      } else {
        a = out.dist.sample(&gen_);
      }
      log_probs_[t].copy_(out.dist.log_prob(a));
      values_[t].copy_(out.value);
    }
    if (conditional_) {
      // Redraw dimension by dimension under the env's conditional masks, and
      // keep those masks so the update recomputes the same log-probs.
      const int64_t k = static_cast<int64_t>(as.nvec().size());
      torch::Tensor logits =
          fast_ ? torch::from_blob(const_cast<float*>(fast_->policy_output()), {N, as.mask_size()})
                : policy_->Logits(policy_->Forward(obs, mask).latent).contiguous();
      auto u = at::rand({N, k}, gen_);
      a = torch::empty({N, k}, torch::kLong);
      auto lp = torch::empty({N});
      auto cond_masks = torch::empty({N, as.mask_size()}, torch::kUInt8);
      ConditionalMultiCategorical(logits.data_ptr<float>(), static_cast<int>(N), as.nvec(),
                                  envs_->conditional_mask_fn(), u.data_ptr<float>(), a.data_ptr<int64_t>(),
                                  lp.data_ptr<float>(), cond_masks.data_ptr<uint8_t>());
      log_probs_[t].copy_(lp);
      masks_[t].copy_(cond_masks.to(torch::kBool));
    }
    actions_[t].copy_(a);
    auto env_actions = ToEnvActions(a, as);
    const auto env_start = std::chrono::steady_clock::now();
    envs_->Step(env_actions.data_ptr());
    env_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - env_start).count();

    float* reward_row = rewards_.data_ptr<float>() + t * N;
    for (int64_t i = 0; i < N; ++i) reward_row[i] = envs_->rewards()[i];
    if (setup_.normalize_reward) {
      for (int64_t i = 0; i < N; ++i) {
        running_return_[i] = running_return_[i] * setup_.gamma + envs_->rewards()[i];
        ret_rms_.Update(&running_return_[i]);
      }
      const double scale = 1.0 / std::sqrt(ret_rms_.var()[0] + 1e-8);
      for (int64_t i = 0; i < N; ++i)
        reward_row[i] = static_cast<float>(
            std::clamp(reward_row[i] * scale, -setup_.clip_reward, setup_.clip_reward));
    }
    std::vector<int64_t> trunc_rows;
    uint8_t* done_row = dones_.data_ptr<uint8_t>() + t * N;
    for (int64_t i = 0; i < N; ++i) {
      const bool term = envs_->terminated()[i], trunc = envs_->truncated()[i];
      done_row[i] = static_cast<uint8_t>(term || trunc);
      if (term || trunc) {
        running_return_[i] = 0.0;
        episodes_.Add(envs_->episode_return(static_cast<int>(i)), envs_->episode_length(static_cast<int>(i)));
      }
      if (trunc && !term) trunc_rows.push_back(i);
    }
    // V'_t: 0 at termination, V(final obs) at truncation, V(s_{t+1}) otherwise
    // (filled in below from the next step's values).
    next_values_[t].zero_();
    if (!trunc_rows.empty()) {
      auto final_obs = NormalizeObs(ObservationTensor(envs_->final_observations(), N, os), /*update=*/false);
      auto rows = torch::tensor(trunc_rows, torch::kLong);
      auto v = policy_->Value(final_obs.index_select(0, rows));
      next_values_[t].index_copy_(0, rows, v);
    }
  }
  auto last_values = policy_->Value(NormalizeObs(ObservationTensor(envs_->observations(), N, os), /*update=*/false));
  auto following = torch::cat({values_.slice(0, 1), last_values.unsqueeze(0)}, 0);  // V(s_{t+1})
  auto not_done = dones_.logical_not();
  next_values_ = torch::where(not_done, following, next_values_);
  num_timesteps_ += T * N;

  auto r = rewards_.contiguous(), v = values_.contiguous(), nv = next_values_.contiguous();
  auto d = dones_.contiguous();
  ComputeGae(T, N, r.data_ptr<float>(), v.data_ptr<float>(), nv.data_ptr<float>(), d.data_ptr<uint8_t>(),
             setup_.gamma, setup_.gae_lambda, advantages_.data_ptr<float>(), returns_.data_ptr<float>());
  time_env_ = env_seconds;
  time_act_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - collect_start).count() - env_seconds;
}

void OnPolicyAlgorithm::AddTimings(Metrics* m, std::chrono::steady_clock::time_point update_start,
                                   int64_t update_samples) const {
  (*m)["time_env"] = time_env_;
  (*m)["time_act"] = time_act_;
  (*m)["time_update"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - update_start).count();
  (*m)["update_samples"] = static_cast<double>(update_samples);
}

namespace {
// pretrain_metrics_'s keys, in the order checkpoints store their values.
constexpr const char* kPretrainKeys[] = {"pretrain_accuracy", "pretrain_demo_return", "pretrain_demo_steps",
                                         "pretrain_demo_success", "pretrain_nll", "pretrain_value_loss"};
}  // namespace

void VisitPretrainFields(FieldVisitor& v, PretrainConfig* c) {
  v.Field("pretrain_policy", &c->policy, "scripted policy to clone before training, e.g. heuristic (\"\": none)");
  v.Field("pretrain_episodes", &c->episodes, "demonstration episodes recorded for pretraining");
  v.Field("pretrain_epochs", &c->epochs, "behaviour-cloning passes over the demonstrations");
  v.Field("pretrain_batch_size", &c->batch_size, "behaviour-cloning minibatch size");
  v.Field("pretrain_learning_rate", &c->learning_rate, "behaviour-cloning Adam learning rate");
  v.Field("pretrain_vf_coef", &c->vf_coef, "weight of the value regression on demonstration returns");
}

void ValidatePretrain(const PretrainConfig& c) {
  if (c.policy.empty()) return;
  RLF_CHECK_ARG(IsScriptedPolicy(c.policy), "config key 'pretrain_policy': '", c.policy,
                "' is not a scripted policy (random, heuristic, perfect, alphabeta:DEPTH)");
  RLF_CHECK_ARG(c.episodes >= 1, "config key 'pretrain_episodes' must be >= 1, got ", c.episodes);
  RLF_CHECK_ARG(c.epochs >= 0, "config key 'pretrain_epochs' must be >= 0, got ", c.epochs);
  RLF_CHECK_ARG(c.batch_size >= 1, "config key 'pretrain_batch_size' must be >= 1, got ", c.batch_size);
  RLF_CHECK_ARG(c.learning_rate > 0, "config key 'pretrain_learning_rate' must be > 0");
  RLF_CHECK_ARG(c.vf_coef >= 0, "config key 'pretrain_vf_coef' must be >= 0");
}

void OnPolicyAlgorithm::Pretrain(const PretrainConfig& c) {
  auto env = Make(setup_.env_id, setup_.env_kwargs);
  const Space& os = env->observation_space();
  const Space& as = env->action_space();
  auto demonstrator = MakeScriptedPolicy(c.policy, *env, setup_.seed ^ 0xD3D3ULL);
  const Demonstrations d = RecordDemonstrations(*env, *demonstrator, c.episodes, setup_.seed + 0x5EED0000ULL);
  const int64_t S = d.steps();
  const std::vector<uint8_t> step_obs = d.StepObservations();
  auto obs = NormalizeObs(ObservationTensor(step_obs.data(), S, os), /*update=*/true);
  torch::Tensor masks;
  if (d.mask_size > 0)
    masks = torch::from_blob(const_cast<uint8_t*>(d.action_masks.data()), {S, d.mask_size}, torch::kUInt8)
                .to(torch::kBool);
  auto actions = torch::tensor(d.actions, torch::kLong);
  if (as.kind() == SpaceKind::kMultiDiscrete) actions = actions.reshape({S, d.action_dims});
  auto returns = torch::tensor(d.ReturnsToGo(setup_.gamma), torch::kFloat32);

  torch::optim::Adam opt(policy_->parameters(), torch::optim::AdamOptions(c.learning_rate));
  policy_->train();
  for (int64_t epoch = 0; epoch < c.epochs; ++epoch) {
    auto perm = torch::randperm(S, gen_, torch::kLong);
    for (int64_t start = 0; start < S; start += c.batch_size) {
      auto idx = perm.slice(0, start, std::min(S, start + c.batch_size));
      auto out = policy_->Forward(obs.index_select(0, idx), masks.defined() ? masks.index_select(0, idx) : masks);
      auto nll = -out.dist.log_prob(actions.index_select(0, idx)).mean();
      auto vl = (returns.index_select(0, idx) - out.value).pow(2).mean();
      auto loss = nll + c.vf_coef * vl;
      CheckFinite(loss, "pretraining loss");
      opt.zero_grad();
      loss.backward();
      ClipGradients(10.0);
      opt.step();
    }
  }
  // How well the clone fits, over every demonstrated step.
  torch::NoGradGuard no_grad;
  double nll = 0, vl = 0, hits = 0;
  for (int64_t start = 0; start < S; start += 4096) {
    const int64_t end = std::min(S, start + 4096);
    auto m = masks.defined() ? masks.slice(0, start, end) : masks;
    auto out = policy_->Forward(obs.slice(0, start, end), m);
    auto a = actions.slice(0, start, end);
    nll += -out.dist.log_prob(a).sum().item<double>();
    vl += (returns.slice(0, start, end) - out.value).pow(2).sum().item<double>();
    auto same = out.dist.mode().eq(a);
    if (same.dim() == 2) same = same.all(1);
    hits += same.sum().item<double>();
  }
  const double values[] = {hits / S, d.mean_return(), static_cast<double>(S),
                           static_cast<double>(d.episode_successes) / d.episodes(), nll / S, vl / S};
  pretrain_metrics_.clear();
  for (size_t i = 0; i < std::size(kPretrainKeys); ++i) pretrain_metrics_[kPretrainKeys[i]] = values[i];
}

torch::Tensor ApplyObsNormalization(const torch::Tensor& x, const RunningMeanStd& rms, double clip) {
  auto mean = torch::tensor(rms.mean(), torch::kFloat64).to(torch::kFloat32).reshape(x.sizes().slice(1));
  auto var = torch::tensor(rms.var(), torch::kFloat64).to(torch::kFloat32).reshape(x.sizes().slice(1));
  return torch::clamp((x.to(torch::kFloat32) - mean) / torch::sqrt(var + 1e-8), -clip, clip);
}

torch::Tensor OnPolicyAlgorithm::NormalizeObs(const torch::Tensor& raw, bool update) {
  if (!setup_.normalize_obs) return raw;
  if (update) {
    auto flat = raw.to(torch::kFloat64).reshape({raw.size(0), -1}).contiguous();
    obs_rms_.UpdateBatch(flat.data_ptr<double>(), flat.size(0));
  }
  return ApplyObsNormalization(raw, obs_rms_, setup_.clip_obs);
}

double OnPolicyAlgorithm::ExplainedVariance() const {
  auto var_y = returns_.var(/*unbiased=*/false).item<double>();
  if (var_y == 0) return std::nan("");
  return 1.0 - (returns_ - values_).var(/*unbiased=*/false).item<double>() / var_y;
}

void OnPolicyAlgorithm::TakeFinishedEpisodes(std::vector<double>* returns, std::vector<int64_t>* lengths) {
  episodes_.Take(returns, lengths);
}

std::unique_ptr<Policy> OnPolicyAlgorithm::MakePolicy(bool deterministic) {
  std::optional<RunningMeanStd> rms;
  if (setup_.normalize_obs) rms = obs_rms_;
  return std::make_unique<ActorCriticPolicy>(policy_, envs_->single_observation_space(),
                                             envs_->single_action_space(), deterministic, setup_.seed + 7, rms,
                                             setup_.clip_obs);
}

ActorCriticPolicy::ActorCriticPolicy(ActorCritic net, const Space& obs_space, const Space& act_space,
                                     bool deterministic, uint64_t seed, std::optional<RunningMeanStd> obs_rms,
                                     double clip_obs)
    : net_(std::move(net)),
      obs_space_(obs_space),
      act_space_(act_space),
      deterministic_(deterministic),
      gen_(at::make_generator<at::CPUGeneratorImpl>(seed)),
      obs_rms_(std::move(obs_rms)),
      clip_obs_(clip_obs) {}

void ActorCriticPolicy::Act(const void* observations, const uint8_t* masks, int n, void* actions) {
  torch::NoGradGuard no_grad;
  auto obs = ObservationTensor(observations, n, obs_space_);
  if (obs_rms_) obs = ApplyObsNormalization(obs, *obs_rms_, clip_obs_);
  torch::Tensor mask;
  if (masks && act_space_.mask_size() > 0)
    mask = torch::from_blob(const_cast<uint8_t*>(masks), {n, act_space_.mask_size()}, torch::kUInt8).to(torch::kBool);
  auto out = net_->Forward(obs, mask);
  torch::Tensor a;
  if (conditional_mask_ && act_space_.kind() == SpaceKind::kMultiDiscrete) {
    const int64_t k = static_cast<int64_t>(act_space_.nvec().size());
    auto logits = net_->Logits(out.latent).contiguous();
    torch::Tensor u;
    if (!deterministic_) u = at::rand({n, k}, gen_);
    a = torch::empty({n, k}, torch::kLong);
    ConditionalMultiCategorical(logits.data_ptr<float>(), n, act_space_.nvec(), conditional_mask_,
                                deterministic_ ? nullptr : u.data_ptr<float>(), a.data_ptr<int64_t>(), nullptr,
                                nullptr);
  } else {
    a = deterministic_ ? out.dist.mode() : out.dist.sample(&gen_);
  }
  auto env_a = ToEnvActions(a, act_space_);
  std::memcpy(actions, env_a.data_ptr(), static_cast<size_t>(n) * act_space_.nbytes());
}

void OnPolicyAlgorithm::SetLearningRate(double lr) {
  for (auto& group : optimizer_->param_groups()) {
    auto& options = group.options();
    if (auto* adam = dynamic_cast<torch::optim::AdamOptions*>(&options)) adam->lr(lr);
    else if (auto* rms = dynamic_cast<torch::optim::RMSpropOptions*>(&options)) rms->lr(lr);
    else if (auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&options)) sgd->lr(lr);
  }
}

double OnPolicyAlgorithm::ClipGradients(double max_norm) {
  const double norm = ClipGradNorm(policy_->parameters(), max_norm);
  if (std::isfinite(norm)) return norm;
  // Name the first parameter whose gradient is not finite (only on failure).
  std::string where = "a parameter";
  for (const auto& p : policy_->named_parameters()) {
    if (p.value().grad().defined() && !torch::isfinite(p.value().grad()).all().item<bool>()) {
      where = "parameter '" + p.key() + "'";
      break;
    }
  }
  throw Error(StrCat("non-finite gradient in ", where, " at step ", num_timesteps_,
                     "; training stopped (the last checkpoint is kept)"));
}

void OnPolicyAlgorithm::CheckFinite(double value, const char* what) {
  if (!std::isfinite(static_cast<float>(value)))
    throw Error(StrCat("the ", what, " is not finite (", value, "); training stopped (the last checkpoint is kept)"));
}

void OnPolicyAlgorithm::CheckFinite(const torch::Tensor& value, const char* what) {
  CheckFinite(value.item<double>(), what);
}

void OnPolicyAlgorithm::Save(const std::string& path) const {
  torch::serialize::OutputArchive archive;
  WriteTo(archive);
  SaveArchiveAtomically(archive, path);
}

void OnPolicyAlgorithm::Load(const std::string& path) {
  torch::serialize::InputArchive archive;
  LoadArchive(path, &archive);
  try {
    ReadFrom(archive);
  } catch (const c10::Error& e) {
    throw Error(StrCat("checkpoint ", path, " is corrupt or from another configuration: ", e.what_without_backtrace()));
  }
}

void OnPolicyAlgorithm::WriteTo(torch::serialize::OutputArchive& archive) const {
  for (const auto& p : policy_->named_parameters())
    if (!torch::isfinite(p.value()).all().item<bool>())
      throw Error(StrCat("parameter '", p.key(), "' is not finite at step ", num_timesteps_,
                         "; not writing a checkpoint (the last one is kept)"));
  torch::serialize::OutputArchive net;
  policy_->save(net);
  archive.write("policy", net);
  torch::serialize::OutputArchive opt;
  optimizer_->save(opt);
  archive.write("optimizer", opt);
  archive.write("generator", gen_.get_state());
  archive.write("num_timesteps", torch::tensor(num_timesteps_));
  archive.write("iterations", torch::tensor(iterations_));
  std::string norm_state;
  {
    StateWriter w(&norm_state);
    const_cast<RunningMeanStd&>(obs_rms_).Fields(w);
    const_cast<RunningMeanStd&>(ret_rms_).Fields(w);
    w(running_return_);
  }
  archive.write("normalization", torch::from_blob(norm_state.data(), {static_cast<int64_t>(norm_state.size())},
                                                  torch::kUInt8).clone());
  if (!pretrain_metrics_.empty()) {
    std::vector<double> values;
    for (const char* key : kPretrainKeys) values.push_back(pretrain_metrics_.at(key));
    archive.write("pretrain_metrics", torch::tensor(values, torch::kFloat64));
  }
  std::string env_state;
  envs_->SaveState(&env_state);
  archive.write("env_state", torch::from_blob(env_state.data(), {static_cast<int64_t>(env_state.size())},
                                              torch::kUInt8).clone());
}

void OnPolicyAlgorithm::ReadFrom(torch::serialize::InputArchive& archive) {
  {
    torch::serialize::InputArchive net;
    archive.read("policy", net);
    policy_->load(net);
    torch::serialize::InputArchive opt;
    archive.read("optimizer", opt);
    optimizer_->load(opt);
    torch::Tensor g, steps, iters, env_state;
    archive.read("generator", g);
    gen_.set_state(g);
    archive.read("num_timesteps", steps);
    archive.read("iterations", iters);
    num_timesteps_ = steps.item<int64_t>();
    iterations_ = iters.item<int64_t>();
    torch::Tensor norm;
    archive.read("normalization", norm);
    StateReader r(std::string_view(static_cast<const char*>(norm.data_ptr()), norm.numel()), "normalization state");
    obs_rms_.Fields(r);
    ret_rms_.Fields(r);
    r(running_return_);
    r.ExpectEnd();
    torch::Tensor pm;
    if (archive.try_read("pretrain_metrics", pm)) {
      pm = pm.contiguous();
      constexpr size_t n = std::size(kPretrainKeys);
      RLF_CHECK(pm.numel() == static_cast<int64_t>(n), "pretrain_metrics of the wrong size");
      pretrain_metrics_.clear();
      for (size_t i = 0; i < n; ++i) pretrain_metrics_[kPretrainKeys[i]] = pm.data_ptr<double>()[i];
    }
    archive.read("env_state", env_state);
    envs_->LoadState(std::string(static_cast<const char*>(env_state.data_ptr()), env_state.numel()));
  }
}

}  // namespace rlforge
