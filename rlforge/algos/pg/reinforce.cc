#include "rlforge/algos/pg/reinforce.h"

#include <algorithm>
#include <atomic>

#include "rlforge/algos/flat_adam.h"

namespace rlforge {

void ReinforceConfig::Visit(FieldVisitor& v) {
  v.Field("episodes_per_update", &episodes_per_update, "complete episodes per gradient step");
  v.Field("gamma", &gamma, "discount factor");
  v.Field("use_baseline", &use_baseline, "learn a state-value baseline");
  v.Field("normalize_advantage", &normalize_advantage, "standardize G - b per batch");
  v.Field("ent_coef", &ent_coef, "entropy bonus coefficient");
  v.Field("vf_coef", &vf_coef, "baseline loss coefficient");
  v.Field("max_grad_norm", &max_grad_norm, "global gradient-norm clip");
  v.Field("learning_rate", &learning_rate, "Adam learning rate (number, lin_<start>[_<end>] or cos_<start>[_<end>])");
  VisitPolicyFields(v, &policy);
}

void ReinforceConfig::Validate() const {
  RLF_CHECK_ARG(episodes_per_update >= 1, "config key 'episodes_per_update' must be >= 1, got ",
                episodes_per_update);
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1], got ", gamma);
  RLF_CHECK_ARG(vf_coef >= 0, "config key 'vf_coef' must be >= 0, got ", vf_coef);
  learning_rate.CheckRate("learning_rate");
  RLF_CHECK_ARG(max_grad_norm > 0, "config key 'max_grad_norm' must be > 0, got ", max_grad_norm);
}

std::vector<double> RewardToGo(const std::vector<double>& rewards, double gamma, double bootstrap) {
  std::vector<double> g(rewards.size());
  double next = bootstrap;
  for (size_t k = rewards.size(); k-- > 0;) {
    next = rewards[k] + gamma * next;
    g[k] = next;
  }
  return g;
}

Reinforce::Reinforce(const RunContext& ctx, const ReinforceConfig& config)
    : OnPolicyAlgorithm(ctx, /*n_steps=*/1, config.gamma, /*gae_lambda=*/1.0, config.policy), config_(config) {
  config_.Validate();
  std::vector<std::string> why;
  if (!config.use_baseline && config.vf_coef != ReinforceConfig{}.vf_coef)
    why.push_back("vf_coef weighs the baseline's loss, and use_baseline is false");
  // A batch is the first episodes_per_update episodes to start: more envs
  // than that step without contributing.
  if (ctx.run.num_envs > config.episodes_per_update)
    why.push_back(StrCat("num_envs ", ctx.run.num_envs, " beyond episodes_per_update ", config.episodes_per_update,
                         " (an update takes the first episodes to start; the other envs' steps are not used)"));
  static std::atomic<bool> warned{false};
  WarnInertKeys(ctx, &warned, why);
  optimizer_ = std::make_unique<torch::optim::Adam>(policy_->parameters(),
                                                    torch::optim::AdamOptions(config.learning_rate.Value(1.0)));
  DeclareMetrics({"policy_loss", "value_loss", "entropy_loss", "loss", "learning_rate", "grad_norm", "batch_samples"});
}

Metrics Reinforce::Iterate() {
  const int64_t N = envs_->num_envs();
  const Space& os = envs_->single_observation_space();
  const Space& as = envs_->single_action_space();
  struct Episode {
    int64_t env, start, end;  // steps [start, end] of the step list
    bool truncated;
    double bootstrap;
  };
  std::vector<torch::Tensor> obs_steps, mask_steps, action_steps;
  std::vector<std::vector<float>> reward_steps;
  std::vector<Episode> episodes;
  std::vector<int64_t> start(N, 0);
  // The batch is the first episodes_per_update episodes to *start*: taking
  // the first to finish would favour short episodes (and so would the
  // logged returns). An env whose counted episode ends starts a counted one
  // while places are left; otherwise its steps are not used, until the last
  // counted episode ends.
  const int64_t quota = config_.episodes_per_update;
  // No iteration outlasts the whole run's budget: on an env without a step
  // limit an episode may never end (a random policy on MountainCar-v0 ran
  // 1.2M steps for 16 episodes of a 20k-step run, logging nothing).
  const int64_t cap = std::max<int64_t>(ctx_.run.total_steps, N);
  int64_t stepped = 0;
  int64_t started = 0;
  std::vector<char> counted(N, 0);
  for (int64_t i = 0; i < N && started < quota; ++i) counted[i] = 1, ++started;
  {
    torch::NoGradGuard no_grad;
    policy_->eval();
    envs_->Reset(std::nullopt);  // drop partial episodes of the previous policy
    for (int64_t t = 0; static_cast<int64_t>(episodes.size()) < quota && stepped < cap; ++t) {
      auto obs = NormalizeObs(ObservationTensor(envs_->observations(), N, os), /*update=*/true);
      auto mask = MaskView();
      if (mask.defined()) mask = mask.clone();
      auto out = policy_->Forward(obs, mask);
      torch::Tensor a;
      if (conditional_) {  // dimension by dimension, as PPO and A2C draw them
        ConditionalDraw d = DrawConditional(policy_->Logits(out.latent));
        a = d.actions;
        mask = d.masks;
      } else {
        a = out.dist.sample(&gen_);
      }
      obs_steps.push_back(obs);
      if (mask.defined()) mask_steps.push_back(mask);
      action_steps.push_back(a);
      envs_->Step(ToEnvActions(a, as).data_ptr());
      reward_steps.emplace_back(envs_->rewards(), envs_->rewards() + N);
      std::vector<int64_t> trunc_rows;
      for (int64_t i = 0; i < N; ++i) {
        if (!(envs_->terminated()[i] || envs_->truncated()[i])) continue;
        if (counted[i]) {
          episodes_.Add(envs_->episode_return(static_cast<int>(i)), envs_->episode_length(static_cast<int>(i)));
          const bool trunc = envs_->truncated()[i] && !envs_->terminated()[i];
          episodes.push_back({i, start[i], t, trunc, 0.0});
          if (trunc && config_.use_baseline) trunc_rows.push_back(static_cast<int64_t>(episodes.size()) - 1);
        }
        counted[i] = started < quota;
        started += counted[i];
        start[i] = t + 1;
      }
      for (int64_t e : trunc_rows) {
        auto final_obs = NormalizeObs(ObservationView(envs_->final_observations(), N, os).narrow(0, episodes[e].env, 1),
                                      /*update=*/false);
        episodes[e].bootstrap = policy_->Value(final_obs).item<double>();
      }
      num_timesteps_ += N;
      stepped += N;
    }
  }
  RLF_CHECK_ARG(!episodes.empty(), "REINFORCE learns from whole episodes, and none of its batch ended within ", cap,
                " steps (the run's budget): give ", ctx_.run.env,
                " a step limit (env_kwargs {max_episode_steps: N}) or train longer");
  // Gather the finished episodes' samples.
  std::vector<int64_t> rows;
  std::vector<float> returns;
  for (const auto& ep : episodes) {
    std::vector<double> r;
    for (int64_t t = ep.start; t <= ep.end; ++t) r.push_back(reward_steps[t][ep.env]);
    const auto g = RewardToGo(r, gamma_, ep.truncated ? ep.bootstrap : 0.0);
    for (int64_t t = ep.start; t <= ep.end; ++t) {
      rows.push_back(t * N + ep.env);
      returns.push_back(static_cast<float>(g[t - ep.start]));
    }
  }
  auto idx = torch::tensor(rows, torch::kLong);
  auto all_obs = torch::stack(obs_steps);  // [T, N, ...]
  std::vector<int64_t> flat_dims = {all_obs.size(0) * N};
  for (int64_t d = 2; d < all_obs.dim(); ++d) flat_dims.push_back(all_obs.size(d));
  auto obs = all_obs.reshape(flat_dims).index_select(0, idx);
  auto all_actions = torch::stack(action_steps);
  auto actions = (all_actions.dim() == 2 ? all_actions.reshape({-1})
                                         : all_actions.reshape({-1, all_actions.size(2)}))
                     .index_select(0, idx)
                     .contiguous();
  torch::Tensor mask;
  if (!mask_steps.empty()) {
    auto m = torch::stack(mask_steps);
    mask = m.reshape({-1, m.size(2)}).index_select(0, idx).contiguous();
  }
  auto g = torch::tensor(returns);

  policy_->train();
  const double lr = config_.learning_rate.Value(ctx_.ProgressRemaining(num_timesteps_));
  SetLearningRate(*optimizer_, lr);
  // Weights G - b (b = V(s), not differentiated), standardized if asked.
  torch::Tensor weight = g;
  if (config_.use_baseline) {
    torch::NoGradGuard no_grad;
    weight = g - policy_->Value(obs);
  }
  if (config_.normalize_advantage && weight.size(0) > 1) weight = (weight - weight.mean()) / (weight.std() + 1e-8);
  weight = weight.contiguous();
  ActorCriticBatch batch = MakeActorCriticBatch(actions, mask, weight, g);
  batch.ent_coef = config_.ent_coef;
  batch.vf_coef = config_.use_baseline ? config_.vf_coef : 0.0;
  const ActorCriticLossValues l = Backprop(BackpropInput(obs), batch, "REINFORCE loss");
  const double grad_norm = ClipGradients(config_.max_grad_norm);
  optimizer_->step();
  ++iterations_;
  const double value_loss = config_.use_baseline ? l.value_loss : 0.0;
  return {{"policy_loss", l.policy_loss},
          {"value_loss", value_loss},
          {"entropy_loss", -l.entropy},
          {"loss", l.loss},
          {"learning_rate", lr},
          {"grad_norm", grad_norm},
          {"batch_samples", static_cast<double>(rows.size())}};
}

}  // namespace rlforge
