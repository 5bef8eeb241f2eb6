#include "rlforge/algos/pg/a2c.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <tuple>

#include "rlforge/algos/flat_adam.h"

namespace rlforge {

void A2cConfig::Visit(FieldVisitor& v) {
  v.Field("n_steps", &n_steps, "steps per env per update");
  v.Field("gamma", &gamma, "discount factor");
  v.Field("gae_lambda", &gae_lambda, "GAE lambda (1: n-step returns)");
  v.Field("ent_coef", &ent_coef, "entropy bonus coefficient");
  v.Field("vf_coef", &vf_coef, "value loss coefficient");
  v.Field("max_grad_norm", &max_grad_norm, "global gradient-norm clip");
  v.Field("learning_rate", &learning_rate, "learning rate (number, lin_<start>[_<end>] or cos_<start>[_<end>])");
  v.Field("use_rms_prop", &use_rms_prop, "RMSProp as in the paper (false: Adam)");
  v.Field("rms_prop_alpha", &rms_prop_alpha, "RMSProp smoothing constant");
  v.Field("rms_prop_eps", &rms_prop_eps, "RMSProp epsilon");
  v.Field("adam_eps", &adam_eps, "Adam epsilon (use_rms_prop: false)");
  v.Field("normalize_advantage", &normalize_advantage, "standardize advantages per batch");
  v.Field("fast_update", &fast_update, "hand-written gradients for plain MLP policies (autograd otherwise)");
  VisitPolicyFields(v, &policy);
}

void A2cConfig::Validate() const {
  RLF_CHECK_ARG(n_steps >= 1, "config key 'n_steps' must be >= 1, got ", n_steps);
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1], got ", gamma);
  RLF_CHECK_ARG(vf_coef >= 0, "config key 'vf_coef' must be >= 0, got ", vf_coef);
  RLF_CHECK_ARG(gae_lambda >= 0 && gae_lambda <= 1, "config key 'gae_lambda' must be in [0, 1], got ", gae_lambda);
  learning_rate.CheckRate("learning_rate");
  RLF_CHECK_ARG(max_grad_norm > 0, "config key 'max_grad_norm' must be > 0, got ", max_grad_norm);
  RLF_CHECK_ARG(rms_prop_alpha > 0 && rms_prop_alpha < 1, "config key 'rms_prop_alpha' must be in (0, 1)");
  RLF_CHECK_ARG(rms_prop_eps > 0, "config key 'rms_prop_eps' must be > 0");
  RLF_CHECK_ARG(adam_eps > 0 && std::isfinite(adam_eps), "config key 'adam_eps' must be > 0, got ", adam_eps);
}

std::unique_ptr<torch::optim::Optimizer> MakeA2cOptimizer(const RunContext& ctx, const A2cConfig& config,
                                                          std::vector<torch::Tensor> params) {
  const A2cConfig d;
  std::vector<std::string> why;
  for (const auto& [key, set, rms] : {std::tuple{"rms_prop_alpha", config.rms_prop_alpha != d.rms_prop_alpha, true},
                                      std::tuple{"rms_prop_eps", config.rms_prop_eps != d.rms_prop_eps, true},
                                      std::tuple{"adam_eps", config.adam_eps != d.adam_eps, false}})
    if (set && rms != config.use_rms_prop)
      why.push_back(StrCat(key, " shapes ", rms ? "RMSProp" : "Adam", ", and use_rms_prop is ",
                           config.use_rms_prop ? "true" : "false"));
  static std::atomic<bool> warned{false};
  WarnInertKeys(ctx, &warned, why);
  const double lr = config.learning_rate.Value(1.0);
  if (config.use_rms_prop)
    return std::make_unique<FlatRmsprop>(
        std::move(params), torch::optim::RMSpropOptions(lr).alpha(config.rms_prop_alpha).eps(config.rms_prop_eps));
  return std::make_unique<FlatAdam>(std::move(params), torch::optim::AdamOptions(lr).eps(config.adam_eps));
}

A2c::A2c(const RunContext& ctx, const A2cConfig& config)
    : OnPolicyAlgorithm(ctx, config.n_steps, config.gamma, config.gae_lambda, config.policy), config_(config) {
  config_.Validate();
  optimizer_ = MakeA2cOptimizer(ctx, config, policy_->parameters());
  if (config.fast_update && FastActorCritic::Supported(*policy_)) fast_ = std::make_unique<FastActorCritic>(policy_);
  DeclareMetrics({"policy_loss", "value_loss", "entropy_loss", "entropy", "loss", "explained_variance",
                  "learning_rate", "grad_norm"});
  if (head_.gaussian()) DeclareMetrics({"std"});
  DeclareTimingMetrics();
}

Metrics A2c::Iterate() {
  StartCommCount();
  CollectRollout();
  const auto update_start = std::chrono::steady_clock::now();
  policy_->train();
  const double lr = config_.learning_rate.Value(ctx_.ProgressRemaining(num_timesteps_));
  SetLearningRate(*optimizer_, lr);
  const ActorCriticLossValues l =
      BackpropRollout(config_.normalize_advantage, config_.ent_coef, config_.vf_coef, "A2C loss");
  const double grad_norm = ClipGradients(config_.max_grad_norm);
  optimizer_->step();
  ++iterations_;
  Metrics m = {{"policy_loss", l.policy_loss},
               {"value_loss", l.value_loss},
               {"entropy_loss", -l.entropy},
               {"entropy", l.entropy},
               {"loss", l.loss},
               {"explained_variance", ExplainedVariance()},
               {"learning_rate", lr},
               {"grad_norm", grad_norm}};
  if (head_.gaussian()) m["std"] = policy_->log_std().exp().mean().item<double>();
  AddTimings(&m, update_start, n_steps_ * envs_->num_envs());
  return m;
}

}  // namespace rlforge
