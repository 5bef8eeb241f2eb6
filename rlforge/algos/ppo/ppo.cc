#include "rlforge/algos/ppo/ppo.h"

#include <chrono>

#include <cmath>

#include "rlforge/algos/flat_adam.h"
#include "rlforge/train/scripted_policy.h"

namespace rlforge {

void PpoConfig::Visit(FieldVisitor& v) {
  v.Field("n_steps", &n_steps, "steps per env per rollout");
  v.Field("batch_size", &batch_size, "minibatch size");
  v.Field("n_epochs", &n_epochs, "passes of SGD over each rollout");
  v.Field("gamma", &gamma, "discount factor");
  v.Field("gae_lambda", &gae_lambda, "GAE lambda (0: TD(0), 1: Monte Carlo)");
  v.Field("clip_range", &clip_range, "PPO clip epsilon (number or lin_<start>)");
  v.Field("clip_range_vf", &clip_range_vf, "value-function clip range (null: off)");
  v.Field("normalize_advantage", &normalize_advantage, "standardize advantages per minibatch");
  v.Field("ent_coef", &ent_coef, "entropy bonus coefficient");
  v.Field("vf_coef", &vf_coef, "value loss coefficient");
  v.Field("max_grad_norm", &max_grad_norm, "global gradient-norm clip");
  v.Field("target_kl", &target_kl, "stop the epochs when approx KL > 1.5 target_kl (null: off)");
  v.Field("learning_rate", &learning_rate, "Adam learning rate (number or lin_<start>)");
  v.Field("adam_eps", &adam_eps, "Adam epsilon");
  v.Field("fast_update", &fast_update, "hand-written gradients for plain MLP policies (autograd otherwise)");
  VisitPolicyFields(v, &policy);
  v.Field("use_sde", &policy.use_sde, "generalized state-dependent exploration (Box actions)");
  v.Field("sde_sample_freq", &policy.sde_sample_freq, "steps between gSDE noise draws (-1: once per rollout)");
  VisitPretrainFields(v, &pretrain);
}

void PpoConfig::Validate() const {
  RLF_CHECK_ARG(n_steps >= 1, "config key 'n_steps' must be >= 1, got ", n_steps);
  RLF_CHECK_ARG(batch_size >= 1, "config key 'batch_size' must be >= 1, got ", batch_size);
  RLF_CHECK_ARG(n_epochs >= 1, "config key 'n_epochs' must be >= 1, got ", n_epochs);
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1], got ", gamma);
  RLF_CHECK_ARG(gae_lambda >= 0 && gae_lambda <= 1, "config key 'gae_lambda' must be in [0, 1], got ", gae_lambda);
  RLF_CHECK_ARG(clip_range.start > 0, "config key 'clip_range' must be > 0");
  RLF_CHECK_ARG(learning_rate.start > 0, "config key 'learning_rate' must be > 0");
  RLF_CHECK_ARG(max_grad_norm > 0, "config key 'max_grad_norm' must be > 0, got ", max_grad_norm);
  RLF_CHECK_ARG(!target_kl || *target_kl > 0, "config key 'target_kl' must be > 0 or null");
  RLF_CHECK_ARG(!clip_range_vf || *clip_range_vf > 0, "config key 'clip_range_vf' must be > 0 or null");
  ValidatePretrain(pretrain);
}

PpoLosses ComputePpoLosses(const torch::Tensor& log_prob, const torch::Tensor& old_log_prob,
                           const torch::Tensor& advantages, const torch::Tensor& values,
                           const torch::Tensor& old_values, const torch::Tensor& returns,
                           const torch::Tensor& entropy, double clip_range, std::optional<double> clip_range_vf) {
  PpoLosses out;
  auto log_ratio = log_prob - old_log_prob;
  auto ratio = log_ratio.exp();
  auto surrogate1 = advantages * ratio;
  auto surrogate2 = advantages * torch::clamp(ratio, 1.0 - clip_range, 1.0 + clip_range);
  out.policy_loss = -torch::min(surrogate1, surrogate2).mean();
  auto v_pred = values;
  if (clip_range_vf) v_pred = old_values + torch::clamp(values - old_values, -*clip_range_vf, *clip_range_vf);
  out.value_loss = (returns - v_pred).pow(2).mean();
  out.entropy_loss = -entropy.mean();
  {
    torch::NoGradGuard no_grad;
    out.approx_kl = ((ratio - 1) - log_ratio).mean();
    out.clip_fraction = ((ratio - 1).abs() > clip_range).to(torch::kFloat32).mean();
  }
  return out;
}

Ppo::Ppo(const OnPolicySetup& setup, const PpoConfig& config, int64_t total_steps)
    : OnPolicyAlgorithm(setup), config_(config), total_steps_(total_steps) {
  config_.Validate();
  if (!config_.pretrain.policy.empty())
    CheckScriptedPolicyFits("pretrain_policy", config_.pretrain.policy, setup.env_id, setup.env_kwargs);
  optimizer_ = std::make_unique<FlatAdam>(policy_->parameters(),
                                          torch::optim::AdamOptions(config.learning_rate.Value(1.0)).eps(config.adam_eps));
  if (config.fast_update && !config.clip_range_vf && FastActorCriticUpdate::Supported(*policy_))
    fast_ = std::make_unique<FastActorCriticUpdate>(policy_);
}

Metrics Ppo::Iterate() {
  // A resumed run has its clone in the checkpoint already.
  if (!config_.pretrain.policy.empty() && iterations_ == 0 && num_timesteps_ == 0) Pretrain(config_.pretrain);
  CollectRollout();
  const auto update_start = std::chrono::steady_clock::now();
  int64_t update_samples = 0;
  policy_->train();
  const double progress_remaining =
      std::max(0.0, 1.0 - static_cast<double>(num_timesteps_) / static_cast<double>(std::max<int64_t>(total_steps_, 1)));
  // Schedules are evaluated as SB3 does: after the rollout, before the update.
  const double lr = config_.learning_rate.Value(progress_remaining);
  const double clip = config_.clip_range.Value(progress_remaining);
  SetLearningRate(lr);

  const int64_t T = setup_.n_steps, N = envs_->num_envs(), B = T * N;
  auto flat = [B](const torch::Tensor& t) { return t.reshape({B}); };
  std::vector<int64_t> obs_dims = {B};
  obs_dims.insert(obs_dims.end(), obs_shape_.begin(), obs_shape_.end());
  auto obs = obs_.reshape(obs_dims);
  auto masks = masks_.defined() ? masks_.reshape({B, masks_.size(2)}) : torch::Tensor();
  auto actions = actions_.dim() == 2 ? flat(actions_) : actions_.reshape({B, actions_.size(2)});
  auto old_logp = flat(log_probs_), old_values = flat(values_), advantages = flat(advantages_),
       returns = flat(returns_);

  double pg_sum = 0, v_sum = 0, ent_sum = 0, kl_sum = 0, clip_sum = 0, loss_last = 0, grad_norm = 0;
  int64_t updates = 0;
  bool stopped_early = false;
  torch::Tensor features;  // preprocessed once per iteration for the hand-written path
  if (fast_) features = policy_->Preprocess(obs).contiguous();
  // When one minibatch holds the whole rollout (the zoo's CartPole preset),
  // its order is irrelevant to the mean loss: gather and normalize once.
  const bool whole_batch = config_.batch_size >= B;
  torch::Tensor whole_adv = advantages;
  if (whole_batch && config_.normalize_advantage && B > 1)
    whole_adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8);
  for (int64_t epoch = 0; epoch < config_.n_epochs && !stopped_early; ++epoch) {
    torch::Tensor perm = whole_batch ? torch::Tensor() : torch::randperm(B, gen_, torch::kLong);
    for (int64_t start = 0; start < B; start += config_.batch_size) {
      torch::Tensor idx = whole_batch ? torch::Tensor() : perm.slice(0, start, std::min(B, start + config_.batch_size));
      auto pick = [&](const torch::Tensor& t) { return whole_batch ? t : t.index_select(0, idx); };
      update_samples += whole_batch ? B : idx.size(0);
      auto mb_mask = masks.defined() ? pick(masks) : torch::Tensor();
      auto mb_actions = pick(actions);
      auto adv = whole_batch ? whole_adv : pick(advantages);
      if (!whole_batch && config_.normalize_advantage && adv.size(0) > 1) adv = (adv - adv.mean()) / (adv.std() + 1e-8);
      double kl, pg, vl, ent_loss, clip_frac, loss_value;
      if (fast_) {
        FastLossInputs in{pick(features), mb_actions.contiguous(), mb_mask, pick(old_logp).contiguous(),
                          adv.contiguous(), pick(returns).contiguous(), clip, config_.ent_coef, config_.vf_coef};
        const FastLossResult r = fast_->Backward(in);
        kl = r.approx_kl, pg = r.policy_loss, vl = r.value_loss, ent_loss = -r.entropy, clip_frac = r.clip_fraction;
        loss_value = pg + config_.ent_coef * ent_loss + config_.vf_coef * vl;
        if (config_.target_kl && kl > 1.5 * *config_.target_kl) {
          stopped_early = true;
          break;
        }
        CheckFinite(loss_value, "PPO loss");
      } else {
        auto out = policy_->Forward(pick(obs), mb_mask);
        auto logp = out.dist.log_prob(mb_actions);
        auto entropy = out.dist.entropy();
        auto losses = ComputePpoLosses(logp, pick(old_logp), adv, out.value, pick(old_values), pick(returns),
                                       entropy, clip, config_.clip_range_vf);
        kl = losses.approx_kl.item<double>();
        if (config_.target_kl && kl > 1.5 * *config_.target_kl) {
          stopped_early = true;
          break;
        }
        auto loss = losses.policy_loss + config_.ent_coef * losses.entropy_loss + config_.vf_coef * losses.value_loss;
        CheckFinite(loss, "PPO loss");
        optimizer_->zero_grad();
        loss.backward();
        pg = losses.policy_loss.item<double>(), vl = losses.value_loss.item<double>();
        ent_loss = losses.entropy_loss.item<double>(), clip_frac = losses.clip_fraction.item<double>();
        loss_value = loss.item<double>();
      }
      grad_norm = ClipGradients(config_.max_grad_norm);
      optimizer_->step();
      pg_sum += pg;
      v_sum += vl;
      ent_sum += ent_loss;
      kl_sum += kl;
      clip_sum += clip_frac;
      loss_last = loss_value;
      ++updates;
    }
  }
  ++iterations_;
  const double n = std::max<int64_t>(updates, 1);
  Metrics m = {{"policy_loss", pg_sum / n},      {"value_loss", v_sum / n},
               {"entropy_loss", ent_sum / n}, {"entropy", -ent_sum / n},    {"approx_kl", kl_sum / n},
               {"clip_fraction", clip_sum / n},  {"loss", loss_last},
               {"explained_variance", ExplainedVariance()},
               {"learning_rate", lr},            {"clip_range", clip},
               {"grad_norm", grad_norm},         {"n_updates", static_cast<double>(updates)}};
  if (policy_->log_std().defined()) m["std"] = policy_->log_std().exp().mean().item<double>();
  m.insert(pretrain_metrics_.begin(), pretrain_metrics_.end());
  AddTimings(&m, update_start, update_samples);
  return m;
}

}  // namespace rlforge
