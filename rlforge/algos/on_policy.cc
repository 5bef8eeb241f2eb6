#include "rlforge/algos/on_policy.h"

#include "rlforge/dist/communicator.h"
#include "rlforge/algos/export_model.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>

#include "rlforge/algos/flat_adam.h"
#include "rlforge/buffers/gae.h"
#include "rlforge/core/error.h"
#include "rlforge/core/memory.h"
#include "rlforge/core/warning.h"
#include "rlforge/data/demonstrations.h"
#include "rlforge/env/registry.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void VisitPolicyFields(FieldVisitor& v, PolicyConfig* policy) {
  v.Field("net_arch", &policy->net_arch, "hidden layer sizes of the actor and critic torsos");
  v.Field("activation", &policy->activation, "tanh or relu");
  v.Field("ortho_init", &policy->ortho_init, "orthogonal initialization");
  v.Field("share_features", &policy->share_features, "one torso for actor and critic");
  v.Field("log_std_init", &policy->log_std_init, "initial log std of Gaussian policies");
}

void WarnInertPolicyKeys(const RunContext& ctx, const PolicyConfig& policy, const Space& actions) {
  static std::atomic<bool> warned{false};
  const PolicyConfig defaults;
  std::vector<std::string> why;
  if (!policy.use_sde && policy.sde_sample_freq != defaults.sde_sample_freq)
    why.push_back("sde_sample_freq only shapes gSDE exploration, and use_sde is false");
  if (actions.kind() != SpaceKind::kBox && policy.log_std_init != defaults.log_std_init)
    why.push_back(StrCat("log_std_init only shapes Gaussian policies, and the actions are ", actions.ToString()));
  WarnInertKeys(ctx, &warned, why);
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

torch::Tensor ObservationView(const void* data, int64_t rows, const Space& obs_space) {
  std::vector<int64_t> shape = {rows};
  shape.insert(shape.end(), obs_space.shape().begin(), obs_space.shape().end());
  return torch::from_blob(const_cast<void*>(data), shape, TorchDType(obs_space.dtype()));
}

torch::Tensor ObservationTensor(const void* data, int64_t rows, const Space& obs_space) {
  return ObservationView(data, rows, obs_space).clone();
}

torch::Tensor ApplyObsNormalization(const torch::Tensor& x, const RunningMeanStd& rms, double clip) {
  auto mean = torch::tensor(rms.mean(), torch::kFloat64).to(torch::kFloat32).reshape(x.sizes().slice(1));
  auto var = torch::tensor(rms.var(), torch::kFloat64).to(torch::kFloat32).reshape(x.sizes().slice(1));
  return torch::clamp((x.to(torch::kFloat32) - mean) / torch::sqrt(var + 1e-8), -clip, clip);
}

torch::Tensor NormalizeObservations(const torch::Tensor& raw, RunningMeanStd* rms, double clip, bool update) {
  if (update) {
    auto flat = raw.to(torch::kFloat64).reshape({raw.size(0), -1}).contiguous();
    rms->UpdateBatch(flat.data_ptr<double>(), flat.size(0));
  }
  return ApplyObsNormalization(raw, *rms, clip);
}

torch::Tensor RolloutObservations(int64_t T, int64_t N, const Space& obs_space, bool normalized) {
  std::vector<int64_t> dims = {T, N};
  dims.insert(dims.end(), obs_space.shape().begin(), obs_space.shape().end());
  return torch::zeros(dims, normalized ? torch::kFloat32 : TorchDType(obs_space.dtype()));
}

torch::Tensor RolloutActions(int64_t T, int64_t N, const Space& as) {
  switch (as.kind()) {
    case SpaceKind::kDiscrete: return torch::zeros({T, N}, torch::kLong);
    case SpaceKind::kMultiDiscrete: return torch::zeros({T, N, as.size()}, torch::kLong);
    default: return torch::zeros({T, N, as.size()}, torch::kFloat32);
  }
}

OnPolicyAlgorithm::OnPolicyAlgorithm(const RunContext& ctx, int64_t n_steps, double gamma, double gae_lambda,
                                     const PolicyConfig& policy)
    : Algorithm(ctx),
      n_steps_(n_steps),
      gamma_(gamma),
      gae_lambda_(gae_lambda),
      policy_config_(policy),
      envs_(ctx.MakeVectorEnv()),
      head_(envs_->single_action_space()) {
  RLF_CHECK_ARG(n_steps >= 1, "n_steps must be >= 1, got ", n_steps);
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "gamma must be in [0, 1], got ", gamma);
  RLF_CHECK_ARG(gae_lambda >= 0 && gae_lambda <= 1, "gae_lambda must be in [0, 1], got ", gae_lambda);
  const uint64_t seed = static_cast<uint64_t>(ctx.run.seed);
  const Space& os = envs_->single_observation_space();
  const Space& as = envs_->single_action_space();
  if (ctx.run.normalize_obs) {
    RLF_CHECK_ARG(os.kind() == SpaceKind::kBox && (os.dtype() == DType::kFloat32 || os.dtype() == DType::kFloat64),
                  "normalize_obs needs a float Box observation space; ", ctx.run.env, " has ", os.ToString());
    obs_norm_.rms = RunningMeanStd(os.size());
    obs_norm_.Loaded();
  }
  return_scaler_ = ReturnScaler(envs_->num_envs(), ctx.comm != nullptr);
  WarnInertPolicyKeys(ctx, policy, as);
  torch::manual_seed(seed);
  policy_ = ActorCritic(os, as, policy);
  // In a job, rank r's envs are seeded as envs r E .. r E + E - 1 of one
  // process, and its action sampler gets a stream of its own.
  gen_ = at::make_generator<at::CPUGeneratorImpl>(seed + 1 + 1000003ULL * static_cast<uint64_t>(ctx.rank()));
  envs_->Reset(seed + static_cast<uint64_t>(ctx.first_env()));
  conditional_ = envs_->has_conditional_action_mask() && as.kind() == SpaceKind::kMultiDiscrete;
  for (const auto& m : policy_->modules(/*include_self=*/false))
    if (auto* lin = dynamic_cast<torch::nn::LinearImpl*>(m.get())) flops_per_sample_ += 6.0 * lin->weight.numel();

  const int64_t T = n_steps, N = envs_->num_envs();
  // The rollout's tensors, and about as much again for the update's copies.
  const double per_sample = 4.0 * static_cast<double>(os.size()) + static_cast<double>(envs_->mask_size()) +
                            8.0 * static_cast<double>(std::max<int64_t>(1, as.size())) + 6 * 4 + 1;
  CheckFitsInMemory(ctx.world_size() > 1
                        ? StrCat("a rollout of n_steps ", T, " x ", N, " envs on each of ", ctx.world_size(),
                                 " ranks (config keys 'n_steps' and 'num_envs', ", ctx.run.num_envs, ")")
                        : StrCat("a rollout of n_steps ", T, " x num_envs ", N, " samples (config keys 'n_steps' and 'num_envs')"),
                    2.0 * per_sample * static_cast<double>(T) * static_cast<double>(N));
  obs_shape_ = os.shape();
  obs_ = RolloutObservations(T, N, os, ctx.run.normalize_obs);
  if (envs_->has_action_mask()) masks_ = torch::zeros({T, N, envs_->mask_size()}, torch::kBool);
  actions_ = RolloutActions(T, N, as);
  log_probs_ = torch::zeros({T, N});
  values_ = torch::zeros({T, N});
  rewards_ = torch::zeros({T, N});
  next_values_ = torch::zeros({T, N});
  dones_ = torch::zeros({T, N}, torch::kUInt8);
  advantages_ = torch::zeros({T, N});
  returns_ = torch::zeros({T, N});
}

OnPolicyAlgorithm::ConditionalDraw OnPolicyAlgorithm::DrawConditional(const torch::Tensor& logits) {
  const Space& as = envs_->single_action_space();
  const int64_t N = envs_->num_envs(), k = static_cast<int64_t>(as.nvec().size());
  const torch::Tensor l = logits.contiguous();
  auto u = at::rand({N, k}, gen_);
  ConditionalDraw d{torch::empty({N, k}, torch::kLong), torch::empty({N}), torch::empty({N, as.mask_size()}, torch::kUInt8)};
  ConditionalMultiCategorical(l.data_ptr<float>(), static_cast<int>(N), as.nvec(), envs_->conditional_mask_fn(),
                              u.data_ptr<float>(), d.actions.data_ptr<int64_t>(), d.log_probs.data_ptr<float>(),
                              d.masks.data_ptr<uint8_t>());
  d.masks = d.masks.to(torch::kBool);
  return d;
}

torch::Tensor OnPolicyAlgorithm::MaskView() const {
  if (!envs_->has_action_mask()) return {};
  // The masks are 0/1 bytes: readable as bool in place.
  return torch::from_blob(const_cast<uint8_t*>(envs_->action_masks()), {envs_->num_envs(), envs_->mask_size()},
                          torch::kBool);
}

void OnPolicyAlgorithm::CollectRollout() {
  const auto collect_start = std::chrono::steady_clock::now();
  double env_seconds = 0;
  torch::NoGradGuard no_grad;
  policy_->eval();
  const int64_t T = n_steps_, N = envs_->num_envs();
  const Space& os = envs_->single_observation_space();
  const Space& as = envs_->single_action_space();
  const bool normalize_reward = ctx_.run.normalize_reward;
  for (int64_t t = 0; t < T; ++t) {
    // The env's observations and masks go straight into the rollout's rows,
    // and the policy acts on those rows.
    torch::Tensor obs = obs_[t];
    obs.copy_(NormalizeObs(ObservationView(envs_->observations(), N, os), /*update=*/true));
    torch::Tensor mask;
    if (masks_.defined()) {
      mask = masks_[t];
      mask.copy_(MaskView());
    }
    torch::Tensor a;
    if (fast_) {
      auto act = fast_->Act(policy_->Preprocess(obs).contiguous(), mask, &gen_);
      a = act.actions;
      log_probs_[t].copy_(act.log_prob);
      values_[t].copy_(act.value);
    } else {
      auto out = policy_->Forward(obs, mask);
      if (policy_->use_sde()) {
        const int64_t freq = policy_config_.sde_sample_freq;
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
      const ConditionalDraw d =
          DrawConditional(fast_ ? torch::from_blob(const_cast<float*>(fast_->pi()), {N, as.mask_size()})
                                : policy_->Logits(policy_->Forward(obs, mask).latent));
      a = d.actions;
      log_probs_[t].copy_(d.log_probs);
      masks_[t].copy_(d.masks);
    }
    actions_[t].copy_(a);
    auto env_actions = ToEnvActions(a, as);
    CheckFiniteActions(env_actions, as, num_timesteps_ + t * N);
    const auto env_start = std::chrono::steady_clock::now();
    envs_->Step(env_actions.data_ptr());
    env_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - env_start).count();

    float* reward_row = rewards_.data_ptr<float>() + t * N;
    std::copy_n(envs_->rewards(), N, reward_row);
    if (normalize_reward) return_scaler_.Scale(envs_->rewards(), reward_row, gamma_);
    std::vector<int64_t> trunc_rows;
    uint8_t* done_row = dones_.data_ptr<uint8_t>() + t * N;
    for (int64_t i = 0; i < N; ++i) {
      const bool term = envs_->terminated()[i], trunc = envs_->truncated()[i];
      done_row[i] = static_cast<uint8_t>(term || trunc);
      if (term || trunc) {
        return_scaler_.EndEpisode(i);
        episodes_.Add(envs_->episode_return(static_cast<int>(i)), envs_->episode_length(static_cast<int>(i)));
      }
      if (trunc && !term) trunc_rows.push_back(i);
    }
    // V'_t: 0 at termination, V(final obs) at truncation, V(s_{t+1}) otherwise
    // (filled in below from the next step's values).
    next_values_[t].zero_();
    if (!trunc_rows.empty()) {
      auto rows = torch::tensor(trunc_rows, torch::kLong);
      auto final_obs = NormalizeObs(ObservationView(envs_->final_observations(), N, os).index_select(0, rows),
                                    /*update=*/false);
      next_values_[t].index_copy_(0, rows, policy_->Value(final_obs));
    }
  }
  auto last_values = policy_->Value(NormalizeObs(ObservationView(envs_->observations(), N, os), /*update=*/false));
  auto following = torch::cat({values_.slice(0, 1), last_values.unsqueeze(0)}, 0);  // V(s_{t+1})
  auto not_done = dones_.logical_not();
  next_values_ = torch::where(not_done, following, next_values_);
  num_timesteps_ += T * N * ctx_.world_size();
  if (comm() != nullptr) {  // every rank's samples into the shared statistics
    if (ctx_.run.normalize_obs) obs_norm_.Merge(*comm());
    if (normalize_reward) return_scaler_.Merge(*comm());
  }

  auto r = rewards_.contiguous(), v = values_.contiguous(), nv = next_values_.contiguous();
  auto d = dones_.contiguous();
  ComputeGae(T, N, r.data_ptr<float>(), v.data_ptr<float>(), nv.data_ptr<float>(), d.data_ptr<uint8_t>(), gamma_,
             gae_lambda_, advantages_.data_ptr<float>(), returns_.data_ptr<float>());
  time_env_ = env_seconds;
  time_act_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - collect_start).count() - env_seconds;
}

OnPolicyAlgorithm::FlatRollout OnPolicyAlgorithm::Flatten() const {
  const int64_t B = n_steps_ * envs_->num_envs();
  std::vector<int64_t> obs_dims = {B};
  obs_dims.insert(obs_dims.end(), obs_shape_.begin(), obs_shape_.end());
  FlatRollout f;
  f.obs = obs_.reshape(obs_dims);
  if (masks_.defined()) f.masks = masks_.reshape({B, masks_.size(2)});
  f.actions = actions_.dim() == 2 ? actions_.reshape({B}) : actions_.reshape({B, actions_.size(2)});
  f.log_probs = log_probs_.reshape({B});
  f.values = values_.reshape({B});
  f.advantages = advantages_.reshape({B});
  f.returns = returns_.reshape({B});
  return f;
}

ActorCriticBatch MakeActorCriticBatch(const torch::Tensor& actions, const torch::Tensor& masks,
                                      const torch::Tensor& advantages, const torch::Tensor& returns) {
  RLF_CHECK(actions.is_contiguous() && advantages.is_contiguous() && returns.is_contiguous() &&
                (!masks.defined() || masks.is_contiguous()),
            "MakeActorCriticBatch needs contiguous tensors");
  ActorCriticBatch b;
  b.size = advantages.size(0);
  b.actions = actions.data_ptr();
  b.masks = masks.defined() ? masks.data_ptr<bool>() : nullptr;
  b.advantages = advantages.data_ptr<float>();
  b.returns = returns.data_ptr<float>();
  return b;
}

torch::Tensor OnPolicyAlgorithm::BackpropInput(const torch::Tensor& obs) const {
  return fast_ ? policy_->Preprocess(obs).contiguous() : obs;
}

ActorCriticLossValues ActorCriticLossOnOutputs(const ActionHead& head, const ActorCriticImpl::HeadOutputs& h,
                                               const ActorCriticBatch& batch, std::vector<torch::Tensor>* outputs,
                                               std::vector<torch::Tensor>* grads) {
  *outputs = {h.pi.contiguous(), h.value.contiguous()};
  if (h.log_std.defined()) outputs->push_back(h.log_std.contiguous());
  grads->clear();
  for (const auto& o : *outputs) grads->push_back(torch::empty_like(o));
  const bool gaussian = h.log_std.defined();
  const ActorCriticOutputs out{(*outputs)[0].data_ptr<float>(), gaussian ? (*outputs)[2].data_ptr<float>() : nullptr,
                               gaussian && h.log_std.dim() == 2, (*outputs)[1].data_ptr<float>()};
  ActorCriticGradients g{(*grads)[0].data_ptr<float>(), gaussian ? (*grads)[2].data_ptr<float>() : nullptr,
                         (*grads)[1].data_ptr<float>()};
  return ComputeActorCriticLoss(head, out, batch, &g);
}

ActorCriticLossValues BackpropAutograd(ActorCriticImpl& net, const ActionHead& head, const torch::Tensor& obs,
                                       const ActorCriticBatch& batch) {
  std::vector<torch::Tensor> outputs, grads;
  const ActorCriticLossValues l = ActorCriticLossOnOutputs(head, net.Outputs(obs), batch, &outputs, &grads);
  net.zero_grad();
  torch::autograd::backward(outputs, grads);
  return l;
}

ActorCriticLossValues BackpropKernels(FastActorCritic& kernels, ActorCriticImpl& net, const ActionHead& head,
                                      const torch::Tensor& features, const ActorCriticBatch& batch) {
  // The kernels overwrite every torso and head gradient; the loss writes log std's.
  kernels.Forward(features);
  torch::Tensor log_std = net.log_std();
  const ActorCriticOutputs out{kernels.pi(), head.gaussian() ? log_std.data_ptr<float>() : nullptr, false,
                               kernels.value()};
  ActorCriticGradients grads{kernels.d_pi(), head.gaussian() ? MutableGrad(log_std) : nullptr, kernels.d_value()};
  const ActorCriticLossValues l = ComputeActorCriticLoss(head, out, batch, &grads);
  kernels.Backward(features);
  return l;
}

ActorCriticLossValues OnPolicyAlgorithm::Backprop(const torch::Tensor& input, const ActorCriticBatch& batch,
                                                  const char* what) {
  RLF_CHECK(input.size(0) == batch.size, "Backprop: ", input.size(0), " inputs for a batch of ", batch.size);
  ActorCriticLossValues l = fast_ ? BackpropKernels(*fast_, *policy_, head_, input, batch)
                                  : BackpropAutograd(*policy_, head_, input, batch);
  if (comm() != nullptr) AverageOverRanks(*comm(), *policy_, static_cast<double>(batch.size), &l, &grad_buffer_);
  CheckFinite(l.loss, what);
  return l;
}

void AverageOverRanks(dist::Communicator& comm, torch::nn::Module& net, double rows, ActorCriticLossValues* l,
                      std::vector<float>* buffer) {
  // Weighted by each rank's rows, so unequal minibatches average right.
  std::vector<torch::Tensor> params = net.parameters();
  int64_t n = 0;
  for (auto& p : params) n += p.numel();
  if (static_cast<int64_t>(buffer->size()) != n + 7) buffer->assign(static_cast<size_t>(n + 7), 0.0f);
  float* b = buffer->data();
  int64_t at = 0;
  for (auto& p : params) {
    const float* g = MutableGrad(p);
    for (int64_t i = 0; i < p.numel(); ++i) b[at + i] = static_cast<float>(g[i] * rows);
    at += p.numel();
  }
  double* fields[] = {&l->policy_loss, &l->value_loss, &l->entropy, &l->approx_kl, &l->clip_fraction, &l->loss};
  for (int k = 0; k < 6; ++k) b[at + k] = static_cast<float>(*fields[k] * rows);
  b[at + 6] = static_cast<float>(rows);
  comm.AllReduceSum(torch::from_blob(b, {n + 7}, torch::kFloat32));
  const float total = b[at + 6];
  at = 0;
  for (auto& p : params) {
    float* g = MutableGrad(p);
    for (int64_t i = 0; i < p.numel(); ++i) g[i] = b[at + i] / total;
    at += p.numel();
  }
  for (int k = 0; k < 6; ++k) *fields[k] = static_cast<double>(b[at + k]) / total;
}

ActorCriticLossValues OnPolicyAlgorithm::BackpropRollout(bool normalize_advantage, double ent_coef, double vf_coef,
                                                         const char* what) {
  const FlatRollout r = Flatten();
  torch::Tensor adv = r.advantages;
  if (normalize_advantage && adv.size(0) * ctx_.world_size() > 1) adv = StandardizeAdvantages(adv);
  adv = adv.contiguous();
  const torch::Tensor actions = r.actions.contiguous(), returns = r.returns.contiguous();
  const torch::Tensor masks = r.masks.defined() ? r.masks.contiguous() : r.masks;
  ActorCriticBatch batch = MakeActorCriticBatch(actions, masks, adv, returns);
  batch.ent_coef = ent_coef;
  batch.vf_coef = vf_coef;
  return Backprop(BackpropInput(r.obs), batch, what);
}

void OnPolicyAlgorithm::DeclareTimingMetrics() {
  DeclareMetrics({"time_env", "time_act", "time_update", "update_samples", "update_flops"});
  if (comm() != nullptr) DeclareMetrics({"time_comm", "comm_bytes"});
}

void OnPolicyAlgorithm::StartCommCount() {
  if (comm() != nullptr) comm_reported_ = {comm()->seconds(), comm()->bytes()};
}

void OnPolicyAlgorithm::AddTimings(Metrics* m, std::chrono::steady_clock::time_point update_start,
                                   int64_t update_samples) {
  (*m)["time_env"] = time_env_;
  (*m)["time_act"] = time_act_;
  (*m)["time_update"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - update_start).count();
  (*m)["update_samples"] = static_cast<double>(update_samples);
  (*m)["update_flops"] = flops_per_sample_ * static_cast<double>(update_samples);
  if (comm() != nullptr) AddCommMetrics(*comm(), &comm_reported_, m);
}

void AddCommMetrics(const dist::Communicator& comm, std::pair<double, double>* last, Metrics* m) {
  (*m)["time_comm"] = comm.seconds() - last->first;
  (*m)["comm_bytes"] = comm.bytes() - last->second;
  *last = {comm.seconds(), comm.bytes()};
}

torch::Tensor ObsNormalizer::Normalize(const torch::Tensor& raw, bool update, dist::Communicator* comm) {
  if (update && comm != nullptr) {
    auto flat = raw.to(torch::kFloat64).reshape({raw.size(0), -1}).contiguous();
    AccumulateMoments(flat.data_ptr<double>(), flat.size(0), flat.size(1), &acc);
  }
  return NormalizeObservations(raw, &rms, clip, update);
}

std::vector<std::string> OnPolicyAlgorithm::PretrainMetricNames() {
  return {"pretrain_accuracy", "pretrain_demo_return", "pretrain_demo_steps",
          "pretrain_demo_success", "pretrain_nll", "pretrain_value_loss"};
}

void VisitPretrainFields(FieldVisitor& v, PretrainConfig* c) {
  v.Field("pretrain_policy", &c->policy, "scripted policy to clone before training, e.g. heuristic (\"\": none)");
  v.Field("pretrain_episodes", &c->episodes, "demonstration episodes recorded for pretraining");
  v.Field("pretrain_epochs", &c->epochs, "behaviour-cloning passes over the demonstrations");
  v.Field("pretrain_batch_size", &c->batch_size, "behaviour-cloning minibatch size");
  v.Field("pretrain_learning_rate", &c->learning_rate, "behaviour-cloning Adam learning rate");
  v.Field("pretrain_vf_coef", &c->vf_coef, "weight of the value regression on demonstration returns");
}

std::vector<std::string> InertPretrainKeys(const PretrainConfig& c) {
  if (!c.policy.empty()) return {};
  const PretrainConfig d;
  std::vector<std::string> why;
  for (const auto& [key, set] : {std::pair{"pretrain_episodes", c.episodes != d.episodes},
                                 std::pair{"pretrain_epochs", c.epochs != d.epochs},
                                 std::pair{"pretrain_batch_size", c.batch_size != d.batch_size},
                                 std::pair{"pretrain_learning_rate", c.learning_rate != d.learning_rate},
                                 std::pair{"pretrain_vf_coef", c.vf_coef != d.vf_coef}})
    if (set) why.push_back(StrCat(key, " shapes pretraining, and pretrain_policy is empty"));
  return why;
}

void ValidatePretrain(const PretrainConfig& c) {
  if (c.policy.empty()) return;
  RLF_CHECK_ARG(Registry::Global().IsScriptedPolicy(c.policy), "config key 'pretrain_policy': '", c.policy,
                "' is not a scripted policy (valid: ", Registry::Global().ScriptedPolicyList(), ")");
  RLF_CHECK_ARG(c.episodes >= 1, "config key 'pretrain_episodes' must be >= 1, got ", c.episodes);
  RLF_CHECK_ARG(c.epochs >= 0, "config key 'pretrain_epochs' must be >= 0, got ", c.epochs);
  RLF_CHECK_ARG(c.batch_size >= 1, "config key 'pretrain_batch_size' must be >= 1, got ", c.batch_size);
  RLF_CHECK_ARG(c.learning_rate > 0, "config key 'pretrain_learning_rate' must be > 0");
  RLF_CHECK_ARG(c.vf_coef >= 0, "config key 'pretrain_vf_coef' must be >= 0");
}

void CheckPretrainFits(const PretrainConfig& c, const std::string& env, const Kwargs& kwargs, const Space& actions) {
  if (c.policy.empty()) return;
  CheckScriptedPolicyFits("pretrain_policy", c.policy, env, kwargs);
  RLF_CHECK_ARG(actions.kind() == SpaceKind::kDiscrete || actions.kind() == SpaceKind::kMultiDiscrete,
                "config key 'pretrain_policy': behaviour cloning of demonstrations needs Discrete or MultiDiscrete "
                "actions; ", env, " has ", actions.ToString(),
                " (for ppo: record a dataset with `rlforge record`, train bc on it, then --init-from that run)");
}

Demonstrations RecordPretrainDemonstrations(const PretrainConfig& c, const RunContext& ctx, Env& env) {
  const uint64_t seed = static_cast<uint64_t>(ctx.run.seed);
  auto demonstrator = Registry::Global().MakeScriptedPolicy(c.policy, ctx.run.env, env, seed ^ 0xD3D3ULL);
  return RecordDemonstrations(env, *demonstrator, c.episodes, seed + 0x5EED0000ULL);
}

void OnPolicyAlgorithm::Pretrain(const PretrainConfig& c) {
  auto env = ctx_.MakeEnv();
  const Space& os = env->observation_space();
  const Space& as = env->action_space();
  const Demonstrations d = RecordPretrainDemonstrations(c, ctx_, *env);
  const int64_t S = d.steps();
  const std::vector<uint8_t> step_obs = d.StepObservations();
  auto obs = NormalizeObs(ObservationTensor(step_obs.data(), S, os), /*update=*/true);
  torch::Tensor masks;
  if (d.mask_size > 0)
    masks = torch::from_blob(const_cast<uint8_t*>(d.action_masks.data()), {S, d.mask_size}, torch::kUInt8)
                .to(torch::kBool);
  auto actions = torch::tensor(d.actions, torch::kLong);
  if (as.kind() == SpaceKind::kMultiDiscrete) actions = actions.reshape({S, d.action_dims});
  auto returns = torch::tensor(d.ReturnsToGo(gamma_), torch::kFloat32);
  const torch::Tensor ones = torch::ones({S});
  // Behaviour cloning is the actor-critic loss with A = 1 and no entropy term.
  auto clone_batch = [&](const torch::Tensor& a, const torch::Tensor& m, const torch::Tensor& g) {
    ActorCriticBatch b = MakeActorCriticBatch(a, m, ones.slice(0, 0, a.size(0)), g);
    b.ent_coef = 0.0;
    b.vf_coef = c.vf_coef;
    return b;
  };

  torch::optim::Adam opt(policy_->parameters(), torch::optim::AdamOptions(c.learning_rate));
  policy_->train();
  const torch::Tensor input = BackpropInput(obs);
  for (int64_t epoch = 0; epoch < c.epochs; ++epoch) {
    auto perm = torch::randperm(S, gen_, torch::kLong);
    for (int64_t start = 0; start < S; start += c.batch_size) {
      auto idx = perm.slice(0, start, std::min(S, start + c.batch_size));
      const torch::Tensor a = actions.index_select(0, idx), g = returns.index_select(0, idx);
      const torch::Tensor m = masks.defined() ? masks.index_select(0, idx) : masks;
      Backprop(input.index_select(0, idx), clone_batch(a, m, g), "pretraining loss");
      ClipGradients(10.0);
      // Frozen parameters (config key freeze) keep their values: torch's Adam
      // skips a parameter without a gradient, and the kernels wrote one.
      for (auto& p : policy_->parameters())
        if (!p.requires_grad() && p.grad().defined()) p.mutable_grad() = torch::Tensor();
      opt.step();
    }
  }
  // How well the clone fits, over every demonstrated step.
  torch::NoGradGuard no_grad;
  double nll = 0, vl = 0, hits = 0;
  for (int64_t start = 0; start < S; start += 4096) {
    const int64_t end = std::min(S, start + 4096);
    const torch::Tensor m = masks.defined() ? masks.slice(0, start, end) : masks;
    const torch::Tensor a = actions.slice(0, start, end), g = returns.slice(0, start, end);
    const torch::Tensor o = obs.slice(0, start, end);
    std::vector<torch::Tensor> outputs, grads;
    const ActorCriticLossValues l =
        ActorCriticLossOnOutputs(head_, policy_->Outputs(o), clone_batch(a, m, g), &outputs, &grads);
    nll += l.policy_loss * static_cast<double>(end - start);
    vl += l.value_loss * static_cast<double>(end - start);
    auto same = policy_->Forward(o, m).dist.mode().eq(a);
    if (same.dim() == 2) same = same.all(1);
    hits += same.sum().item<double>();
  }
  const double values[] = {hits / S, d.mean_return(), static_cast<double>(S),
                           static_cast<double>(d.episode_successes) / d.episodes(), nll / S, vl / S};
  const std::vector<std::string> keys = PretrainMetricNames();
  pretrain_metrics_.clear();
  for (size_t i = 0; i < keys.size(); ++i) pretrain_metrics_[keys[i]] = values[i];
}

torch::Tensor OnPolicyAlgorithm::NormalizeObs(const torch::Tensor& raw, bool update) {
  return ctx_.run.normalize_obs ? obs_norm_.Normalize(raw, update, comm()) : raw;
}

void AccumulateMoments(const double* x, int64_t n, int64_t d, std::vector<double>* acc) {
  if (acc->empty()) acc->assign(static_cast<size_t>(1 + 2 * d), 0.0);
  double* a = acc->data();
  a[0] += static_cast<double>(n);
  for (int64_t k = 0; k < n; ++k)
    for (int64_t i = 0; i < d; ++i) {
      const double v = x[k * d + i];
      a[1 + i] += v;
      a[1 + d + i] += v * v;
    }
}

void MergeRankMoments(dist::Communicator& comm, std::vector<double>* acc, RunningMeanStd* base,
                      RunningMeanStd* local) {
  const int64_t d = base->size();
  if (acc->empty()) acc->assign(static_cast<size_t>(1 + 2 * d), 0.0);
  RLF_CHECK(static_cast<int64_t>(acc->size()) == 1 + 2 * d, "running statistics of size ", d, " got moments of size ",
            (acc->size() - 1) / 2);
  torch::Tensor t = torch::from_blob(acc->data(), {1 + 2 * d}, torch::kFloat64);
  comm.AllReduceSum(t);
  const double n = (*acc)[0];
  if (n > 0) {
    std::vector<double> mean = base->mean(), var = base->var();
    const double m = base->count(), total = m + n;
    for (int64_t i = 0; i < d; ++i) {
      const double bm = (*acc)[1 + i] / n;
      const double bv = std::max(0.0, (*acc)[1 + d + i] / n - bm * bm);
      const double delta = bm - mean[i];
      mean[i] += delta * n / total;
      var[i] = (var[i] * m + bv * n + delta * delta * m * n / total) / total;
    }
    base->Set(std::move(mean), std::move(var), total);
  }
  *local = *base;
  std::fill(acc->begin(), acc->end(), 0.0);
}

torch::Tensor StandardizeAdvantages(const torch::Tensor& adv, dist::Communicator* comm) {
  if (comm == nullptr) return (adv - adv.mean()) / (adv.std() + 1e-8);
  auto a = adv.to(torch::kFloat64);
  torch::Tensor m = torch::stack({torch::full({}, static_cast<double>(adv.numel()), torch::kFloat64), a.sum(),
                                  a.square().sum()});
  comm->AllReduceSum(m);
  const double n = m[0].item<double>(), sum = m[1].item<double>(), sumsq = m[2].item<double>();
  const double mean = sum / n;
  const double var = n > 1 ? std::max(0.0, (sumsq - n * mean * mean) / (n - 1)) : 0.0;
  return ((adv - mean) / (std::sqrt(var) + 1e-8)).to(adv.scalar_type());
}

double ExplainedVariance(const torch::Tensor& returns, const torch::Tensor& values) {
  auto var_y = returns.var(/*unbiased=*/false).item<double>();
  if (var_y == 0) return std::nan("");
  return 1.0 - (returns - values).var(/*unbiased=*/false).item<double>() / var_y;
}

double OnPolicyAlgorithm::ExplainedVariance() const { return rlforge::ExplainedVariance(returns_, values_); }

std::unique_ptr<Policy> OnPolicyAlgorithm::MakePolicy(bool deterministic) {
  std::optional<RunningMeanStd> rms;
  if (ctx_.run.normalize_obs) rms = obs_norm_.rms;
  return std::make_unique<ActorCriticPolicy>(policy_, envs_->single_observation_space(),
                                             envs_->single_action_space(), deterministic,
                                             static_cast<uint64_t>(ctx_.run.seed) + 7, rms, obs_norm_.clip);
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
  auto obs = ObservationView(observations, n, obs_space_);
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

double ClipGradientsOrThrow(torch::nn::Module& net, double max_norm, int64_t step) {
  const double norm = ClipGradNorm(net.parameters(), max_norm);
  if (std::isfinite(norm)) return norm;
  // Name the first parameter whose gradient is not finite (only on failure).
  std::string where = "a parameter";
  for (const auto& p : net.named_parameters()) {
    if (p.value().grad().defined() && !torch::isfinite(p.value().grad()).all().item<bool>()) {
      where = "parameter '" + p.key() + "'";
      break;
    }
  }
  throw Error(StrCat("non-finite gradient in ", where, " at step ", step, "; training stopped"));
}

void CheckFiniteLoss(double value, const char* what) {
  if (!std::isfinite(static_cast<float>(value)))
    throw Error(StrCat("the ", what, " is not finite (", value, "); training stopped"));
}

void WarnBatchAboveRollout(const RunContext& ctx, int64_t batch_size, int64_t n_steps) {
  static std::atomic<bool> warned{false};
  const int64_t rollout = n_steps * ctx.run.num_envs;
  if (!ctx.load_run || (ctx.comm && !ctx.comm->root()) || (rollout % batch_size == 0 && batch_size <= rollout))
    return;
  if (batch_size > rollout)
    WarnOnce(&warned, StrCat("config key 'batch_size' (", batch_size, ") is larger than a rollout (n_steps ", n_steps,
                             " x num_envs ", ctx.run.num_envs, " = ", rollout,
                             "): each epoch takes the whole rollout as one minibatch"));
  else  // as SB3 warns: the last minibatch of each epoch is smaller than the rest
    WarnOnce(&warned, StrCat("a rollout (n_steps ", n_steps, " x num_envs ", ctx.run.num_envs, " = ", rollout,
                             ") is not a multiple of batch_size ", batch_size, ": each epoch's last minibatch has ",
                             rollout % batch_size, " samples"));
}

void CheckFiniteActions(const torch::Tensor& env_actions, const Space& space, int64_t step) {
  if (space.kind() != SpaceKind::kBox) return;
  // Every step: a plain loop over the float32 actions (ToEnvActions' contiguous output), no tensor ops.
  const float* a = env_actions.data_ptr<float>();
  const int64_t n = env_actions.numel();
  bool finite = true;
  for (int64_t i = 0; i < n; ++i) finite &= std::isfinite(a[i]);
  if (finite) return;
  throw Error(StrCat("the policy's actions are not finite (NaN or Inf) at step ", step,
                     " (a log_std_init too large, or weights that diverged); training stopped"));
}

double OnPolicyAlgorithm::ClipGradients(double max_norm) {
  return ClipGradientsOrThrow(*policy_, max_norm, num_timesteps_);
}

void OnPolicyAlgorithm::CheckFinite(double value, const char* what) const { CheckFiniteLoss(value, what); }

void ReturnScaler::VisitShared(StateVisitor& v) {
  v("ret_rms", &rms_);
  if (v.loading()) base_ = rms_;
}

void ReturnScaler::Scale(const float* raw, float* scaled, double gamma) {
  const size_t n = running_.size();
  for (size_t i = 0; i < n; ++i) {
    running_[i] = running_[i] * gamma + raw[i];
    rms_.Update(&running_[i]);
  }
  if (in_job_) AccumulateMoments(running_.data(), static_cast<int64_t>(n), 1, &acc_);
  const double scale = 1.0 / std::sqrt(rms_.var()[0] + 1e-8);
  for (size_t i = 0; i < n; ++i) scaled[i] = static_cast<float>(std::clamp(raw[i] * scale, -kClip, kClip));
}

void OnPolicyAlgorithm::VisitState(StateVisitor& v) {
  VisitModule(v, "policy", *policy_);
  VisitOptimizer(v, "optimizer", *optimizer_);
  v("num_timesteps", &num_timesteps_);
  v("iterations", &iterations_);
  v("obs_rms", &obs_norm_.rms);
  if (v.loading()) obs_norm_.Loaded();
  return_scaler_.VisitShared(v);
  v("pretrain_metrics", &pretrain_metrics_);
  // What each rank of a job holds for itself: its sampler and its envs.
  dist::VisitPerRank(v, comm(), [this](StateVisitor& own) {
    VisitGenerator(own, "generator", &gen_);
    return_scaler_.VisitOwn(own);
    own("envs", envs_.get());
  });
}

}  // namespace rlforge

namespace rlforge {

runtime::Model OnPolicyAlgorithm::ExportModel() {
  std::optional<RunningMeanStd> rms;
  if (ctx_.run.normalize_obs) rms = obs_norm_.rms;
  runtime::Model m = ExportActorCritic(*policy_, envs_->single_observation_space(), envs_->single_action_space(), rms,
                                       obs_norm_.clip);
  m.conditional_mask = static_cast<bool>(envs_->conditional_mask_fn());
  m.action_mask = envs_->has_action_mask();
  return m;
}

}  // namespace rlforge
