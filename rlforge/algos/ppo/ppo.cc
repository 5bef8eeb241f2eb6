#include "rlforge/algos/ppo/ppo.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "rlforge/algos/flat_adam.h"
#include "rlforge/dist/communicator.h"
#include "rlforge/env/registry.h"

namespace rlforge {

void PpoCoreConfig::Visit(FieldVisitor& v) {
  v.Field("n_steps", &n_steps, "steps per env per rollout");
  v.Field("batch_size", &batch_size, "minibatch size");
  v.Field("n_epochs", &n_epochs, "passes of SGD over each rollout");
  v.Field("gamma", &gamma, "discount factor");
  v.Field("gae_lambda", &gae_lambda, "GAE lambda (0: TD(0), 1: Monte Carlo)");
  v.Field("clip_range", &clip_range, "PPO clip epsilon (number, lin_<start>[_<end>] or cos_<start>[_<end>])");
  v.Field("clip_range_vf", &clip_range_vf, "value-function clip range (null: off)");
  v.Field("normalize_advantage", &normalize_advantage, "standardize advantages per minibatch");
  v.Field("ent_coef", &ent_coef, "entropy bonus coefficient");
  v.Field("vf_coef", &vf_coef, "value loss coefficient");
  v.Field("max_grad_norm", &max_grad_norm, "global gradient-norm clip");
  v.Field("target_kl", &target_kl, "stop the epochs when approx KL > 1.5 target_kl (null: off)");
  v.Field("learning_rate", &learning_rate, "Adam learning rate (number, lin_<start>[_<end>] or cos_<start>[_<end>])");
  v.Field("adam_eps", &adam_eps, "Adam epsilon");
}

void PpoConfig::Visit(FieldVisitor& v) {
  PpoCoreConfig::Visit(v);
  v.Field("fast_update", &fast_update, "hand-written gradients for plain MLP policies (autograd otherwise)");
  VisitPolicyFields(v, &policy);
  v.Field("use_sde", &policy.use_sde, "generalized state-dependent exploration (Box actions)");
  v.Field("sde_sample_freq", &policy.sde_sample_freq, "steps between gSDE noise draws (-1: once per rollout)");
  VisitPretrainFields(v, &pretrain);
}

void PpoCoreConfig::Validate() const {
  RLF_CHECK_ARG(n_steps >= 1, "config key 'n_steps' must be >= 1, got ", n_steps);
  RLF_CHECK_ARG(batch_size >= 1, "config key 'batch_size' must be >= 1, got ", batch_size);
  RLF_CHECK_ARG(n_epochs >= 1, "config key 'n_epochs' must be >= 1, got ", n_epochs);
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1], got ", gamma);
  RLF_CHECK_ARG(vf_coef >= 0, "config key 'vf_coef' must be >= 0, got ", vf_coef);
  RLF_CHECK_ARG(gae_lambda >= 0 && gae_lambda <= 1, "config key 'gae_lambda' must be in [0, 1], got ", gae_lambda);
  clip_range.CheckRate("clip_range");  // a schedule that went below 0 turned the clipped objective around
  learning_rate.CheckRate("learning_rate");
  RLF_CHECK_ARG(max_grad_norm > 0, "config key 'max_grad_norm' must be > 0, got ", max_grad_norm);
  RLF_CHECK_ARG(!target_kl || *target_kl > 0, "config key 'target_kl' must be > 0 or null");
  RLF_CHECK_ARG(!clip_range_vf || *clip_range_vf > 0, "config key 'clip_range_vf' must be > 0 or null");
}

void PpoConfig::Validate() const {
  PpoCoreConfig::Validate();
  // (As SB3 refuses it: one advantage standardizes to 0, and nothing is learned.)
  RLF_CHECK_ARG(!normalize_advantage || batch_size > 1,
                "config key 'batch_size' must be > 1 with normalize_advantage: true (a minibatch of one advantage "
                "standardizes it to 0), got ", batch_size);
  ValidatePretrain(pretrain);
}

void SetPpoTerms(const PpoCoreConfig& c, double clip, const torch::Tensor& old_log_prob,
                 const torch::Tensor& old_values, ActorCriticBatch* batch) {
  batch->clip_range = clip;
  batch->old_log_prob = old_log_prob.data_ptr<float>();
  batch->clip_range_vf = c.clip_range_vf;
  batch->old_values = old_values.data_ptr<float>();
  batch->ent_coef = c.ent_coef;
  batch->vf_coef = c.vf_coef;
}

void PpoUpdateStats::Add(const ActorCriticLossValues& l, std::optional<double> clipped_grad_norm) {
  policy += l.policy_loss;
  value += l.value_loss;
  entropy += l.entropy;
  approx_kl += l.approx_kl;
  clip_fraction += l.clip_fraction;
  last_loss = l.loss;
  ++minibatches;
  if (clipped_grad_norm) grad_norm = *clipped_grad_norm, ++updates;
}

Metrics PpoUpdateStats::ToMetrics(double explained_variance, double learning_rate, double clip_range) const {
  const double n = std::max<int64_t>(minibatches, 1);
  return {{"policy_loss", policy / n},        {"value_loss", value / n},
          {"entropy_loss", -entropy / n},     {"entropy", entropy / n},
          {"approx_kl", approx_kl / n},       {"clip_fraction", clip_fraction / n},
          {"loss", last_loss},                {"explained_variance", explained_variance},
          {"learning_rate", learning_rate},   {"clip_range", clip_range},
          {"grad_norm", grad_norm},           {"n_updates", static_cast<double>(updates)}};
}

Ppo::Ppo(const RunContext& ctx, const PpoConfig& config)
    : OnPolicyAlgorithm(ctx, config.n_steps, config.gamma, config.gae_lambda, config.policy), config_(config) {
  config_.Validate();
  RLF_CHECK_ARG(config_.batch_size % ctx.world_size() == 0, "config key 'batch_size' (", config_.batch_size,
                ", the job's global minibatch) must be a multiple of the number of ranks (", ctx.world_size(), ")");
  CheckPretrainFits(config_.pretrain, ctx.run.env, ctx.run.env_kwargs, envs_->single_action_space());
  // num_envs is the job's total: batch_size / world_size of a rank's share
  // exceeds it exactly when batch_size exceeds the global rollout.
  WarnBatchAboveRollout(ctx, config_.batch_size, config_.n_steps);
  static std::atomic<bool> warned_inert{false};
  WarnInertKeys(ctx, &warned_inert, InertPretrainKeys(config_.pretrain));
  optimizer_ = std::make_unique<FlatAdam>(policy_->parameters(),
                                          torch::optim::AdamOptions(config.learning_rate.Value(1.0)).eps(config.adam_eps));
  if (config.fast_update && FastActorCritic::Supported(*policy_)) fast_ = std::make_unique<FastActorCritic>(policy_);
  DeclareMetrics({"policy_loss", "value_loss", "entropy_loss", "entropy", "approx_kl", "clip_fraction", "loss",
                  "explained_variance", "learning_rate", "clip_range", "grad_norm", "n_updates"});
  if (head_.gaussian()) DeclareMetrics({"std"});
  if (!config_.pretrain.policy.empty()) DeclareMetrics(PretrainMetricNames());
  DeclareTimingMetrics();
}

Metrics Ppo::Iterate() {
  StartCommCount();
  // A resumed run has its clone in the checkpoint already.
  if (!config_.pretrain.policy.empty() && iterations_ == 0 && num_timesteps_ == 0) Pretrain(config_.pretrain);
  CollectRollout();
  return Update();
}

Metrics Ppo::Update() {
  const auto update_start = std::chrono::steady_clock::now();
  int64_t update_samples = 0;
  policy_->train();
  // Schedules are evaluated as SB3 does: after the rollout, before the update.
  const double progress_remaining = ctx_.ProgressRemaining(num_timesteps_);
  const double lr = config_.learning_rate.Value(progress_remaining);
  const double clip = config_.clip_range.Value(progress_remaining);
  SetLearningRate(*optimizer_, lr);

  const FlatRollout r = Flatten();
  const int64_t B = r.advantages.size(0);
  // The network's input, preprocessed once per iteration for the hand-written kernels.
  const torch::Tensor input = BackpropInput(r.obs);
  PpoUpdateStats stats;
  bool stopped_early = false;
  // When one minibatch holds the whole rollout (the zoo's CartPole preset),
  // its order is irrelevant to the mean loss: gather and normalize once.
  // In a job, B is this rank's share of the rollout and each minibatch takes
  // batch_size / world_size rows of it: the global minibatch is batch_size.
  const int64_t batch_size = config_.batch_size / ctx_.world_size();
  const bool whole_batch = batch_size >= B;
  const bool normalize = config_.normalize_advantage && B * ctx_.world_size() > 1;
  torch::Tensor whole_adv = r.advantages;
  if (whole_batch && normalize) whole_adv = StandardizeAdvantages(r.advantages);
  for (int64_t epoch = 0; epoch < config_.n_epochs && !stopped_early; ++epoch) {
    torch::Tensor perm = whole_batch ? torch::Tensor() : torch::randperm(B, gen_, torch::kLong);
    for (int64_t start = 0; start < B; start += batch_size) {
      torch::Tensor idx = whole_batch ? torch::Tensor() : perm.slice(0, start, std::min(B, start + batch_size));
      auto pick = [&](const torch::Tensor& t) { return (whole_batch ? t : t.index_select(0, idx)).contiguous(); };
      update_samples += whole_batch ? B : idx.size(0);
      const torch::Tensor masks = r.masks.defined() ? pick(r.masks) : torch::Tensor();
      const torch::Tensor actions = pick(r.actions), old_log_prob = pick(r.log_probs), old_values = pick(r.values);
      const torch::Tensor returns = pick(r.returns);
      torch::Tensor adv = whole_batch ? whole_adv.contiguous() : pick(r.advantages);
      if (!whole_batch && config_.normalize_advantage && adv.size(0) * ctx_.world_size() > 1)
        adv = StandardizeAdvantages(adv).contiguous();
      ActorCriticBatch batch = MakeActorCriticBatch(actions, masks, adv, returns);
      SetPpoTerms(config_, clip, old_log_prob, old_values, &batch);
      const ActorCriticLossValues l = Backprop(whole_batch ? input : pick(input), batch, "PPO loss");
      if (config_.target_kl && l.approx_kl > 1.5 * *config_.target_kl) {
        stats.Add(l, std::nullopt);
        stopped_early = true;
        break;
      }
      const double grad_norm = ClipGradients(config_.max_grad_norm);
      optimizer_->step();
      stats.Add(l, grad_norm);
    }
  }
  ++iterations_;
  Metrics m = stats.ToMetrics(ExplainedVariance(), lr, clip);
  if (head_.gaussian()) m["std"] = policy_->log_std().exp().mean().item<double>();
  m.insert(pretrain_metrics_.begin(), pretrain_metrics_.end());
  AddTimings(&m, update_start, update_samples);
  return m;
}

}  // namespace rlforge
