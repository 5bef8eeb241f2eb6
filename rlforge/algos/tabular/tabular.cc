#include "rlforge/algos/tabular/tabular.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "rlforge/train/checkpoint.h"

namespace rlforge {

void TabularConfig::Visit(FieldVisitor& v) {
  v.Field("gamma", &gamma, "discount factor");
  v.Field("learning_rate", &learning_rate, "step size alpha (number or lin_<start>)");
  v.Field("exploration_initial_eps", &exploration_initial_eps, "epsilon at the start");
  v.Field("exploration_final_eps", &exploration_final_eps, "epsilon after the decay");
  v.Field("exploration_fraction", &exploration_fraction, "fraction of training over which epsilon decays");
  v.Field("initial_q", &initial_q, "initial action values");
  v.Field("steps_per_iteration", &steps_per_iteration, "env steps between logs and checkpoints");
}

void TabularConfig::Validate() const {
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1], got ", gamma);
  RLF_CHECK_ARG(learning_rate.start > 0 && learning_rate.start <= 1, "config key 'learning_rate' must be in (0, 1]");
  for (double e : {exploration_initial_eps, exploration_final_eps})
    RLF_CHECK_ARG(e >= 0 && e <= 1, "exploration epsilons must be in [0, 1], got ", e);
  RLF_CHECK_ARG(exploration_fraction >= 0 && exploration_fraction <= 1,
                "config key 'exploration_fraction' must be in [0, 1]");
  RLF_CHECK_ARG(steps_per_iteration >= 1, "config key 'steps_per_iteration' must be >= 1");
}

TabularTd::TabularTd(TdMethod method, const std::string& env_id, const Kwargs& env_kwargs, int num_envs, uint64_t seed,
                     const TabularConfig& config, int64_t total_steps)
    : method_(method), config_(config), total_steps_(total_steps), rng_(seed ^ 0x7AB1E) {
  config_.Validate();
  VectorEnvOptions opt;
  opt.num_envs = num_envs;
  envs_ = VectorEnv::Make(env_id, env_kwargs, opt);
  const Space& os = envs_->single_observation_space();
  const Space& as = envs_->single_action_space();
  RLF_CHECK_ARG(os.kind() == SpaceKind::kDiscrete && as.kind() == SpaceKind::kDiscrete,
                "tabular methods need Discrete observations and actions; ", env_id, " has ", os.ToString(), " and ",
                as.ToString());
  num_states_ = os.n();
  num_actions_ = as.n();
  obs_start_ = os.start();
  act_start_ = as.start();
  q_.assign(num_states_ * num_actions_, config.initial_q);
  envs_->Reset(seed);
  next_action_.assign(num_envs, -1);
}

double TabularTd::epsilon() const {
  return LinearDecay(static_cast<double>(steps_) / std::max<double>(1.0, total_steps_),
                     config_.exploration_initial_eps, config_.exploration_final_eps, config_.exploration_fraction);
}

int64_t TabularTd::Greedy(int64_t s) const {
  const double* row = q_.data() + s * num_actions_;
  return std::max_element(row, row + num_actions_) - row;
}

int64_t TabularTd::EpsilonGreedy(int64_t s, double eps) {
  if (rng_.Uniform() < eps) return static_cast<int64_t>(rng_.UniformInt(num_actions_));
  return Greedy(s);
}

Metrics TabularTd::Iterate() {
  const int n = envs_->num_envs();
  std::vector<int64_t> states(n), actions(n), env_actions(n);
  double td_abs = 0;
  int64_t updates = 0;
  const int64_t target = std::min(total_steps_, steps_ + config_.steps_per_iteration);
  while (steps_ < target) {
    const double eps = epsilon();
    const double alpha = config_.learning_rate.Value(1.0 - static_cast<double>(steps_) / std::max<double>(1, total_steps_));
    const auto* obs = envs_->observations_as<int64_t>();
    for (int i = 0; i < n; ++i) {
      states[i] = obs[i] - obs_start_;
      actions[i] = (method_ == TdMethod::kSarsa && next_action_[i] >= 0) ? next_action_[i] : EpsilonGreedy(states[i], eps);
    }
    for (int i = 0; i < n; ++i) env_actions[i] = actions[i] + act_start_;
    envs_->Step(env_actions.data());
    const auto* next_obs = envs_->observations_as<int64_t>();
    const auto* final_obs = envs_->final_observations_as<int64_t>();
    for (int i = 0; i < n; ++i) {
      const bool term = envs_->terminated()[i], trunc = envs_->truncated()[i];
      const int64_t s2 = ((term || trunc) ? final_obs[i] : next_obs[i]) - obs_start_;
      const double* row = q_.data() + s2 * num_actions_;
      double bootstrap = 0;
      if (!term) {
        switch (method_) {
          case TdMethod::kQLearning: bootstrap = *std::max_element(row, row + num_actions_); break;
          case TdMethod::kSarsa: {
            const int64_t a2 = EpsilonGreedy(s2, eps);
            bootstrap = row[a2];
            next_action_[i] = trunc ? -1 : a2;  // after an episode end, choose afresh in the new state
            break;
          }
          case TdMethod::kExpectedSarsa: {
            const int64_t g = Greedy(s2);
            double mean = 0;
            for (int64_t a = 0; a < num_actions_; ++a) mean += row[a];
            bootstrap = (1 - eps) * row[g] + eps * mean / num_actions_;
            break;
          }
        }
      } else if (method_ == TdMethod::kSarsa) {
        next_action_[i] = -1;
      }
      double& qsa = q_[states[i] * num_actions_ + actions[i]];
      const double td = envs_->rewards()[i] + config_.gamma * bootstrap - qsa;
      qsa += alpha * td;
      td_abs += std::abs(td);
      ++updates;
      if (term || trunc) {
        episodes_.Add(envs_->episode_return(i), envs_->episode_length(i));
      }
    }
    steps_ += n;
  }
  return {{"epsilon", epsilon()},
          {"learning_rate", config_.learning_rate.Value(1.0 - static_cast<double>(steps_) / std::max<double>(1, total_steps_))},
          {"mean_abs_td_error", td_abs / std::max<int64_t>(updates, 1)}};
}

void TabularTd::TakeFinishedEpisodes(std::vector<double>* returns, std::vector<int64_t>* lengths) {
  episodes_.Take(returns, lengths);
}

void TabularTd::Save(const std::string& path) const {
  for (double v : q_) RLF_CHECK(std::isfinite(v), "the Q table has a non-finite value; not writing a checkpoint");
  torch::serialize::OutputArchive archive;
  archive.write("q", torch::tensor(q_, torch::kFloat64));
  archive.write("rng", RngStateTensor(rng_));
  archive.write("num_timesteps", torch::tensor(steps_));
  archive.write("next_action", torch::tensor(next_action_, torch::kLong));
  std::string env_state;
  envs_->SaveState(&env_state);
  archive.write("env_state", torch::from_blob(env_state.data(), {static_cast<int64_t>(env_state.size())},
                                              torch::kUInt8).clone());
  SaveArchiveAtomically(archive, path);
}

void TabularTd::Load(const std::string& path) {
  torch::serialize::InputArchive archive;
  LoadArchive(path, &archive);
  try {
    torch::Tensor q, rng, steps, next, env_state;
    archive.read("q", q);
    archive.read("rng", rng);
    archive.read("num_timesteps", steps);
    archive.read("next_action", next);
    archive.read("env_state", env_state);
    RLF_CHECK(q.numel() == static_cast<int64_t>(q_.size()), "checkpoint ", path, " has a Q table of ", q.numel(),
              " entries, this env needs ", q_.size());
    std::memcpy(q_.data(), q.contiguous().data_ptr<double>(), q_.size() * sizeof(double));
    SetRngState(rng, &rng_);
    steps_ = steps.item<int64_t>();
    for (size_t i = 0; i < next_action_.size(); ++i) next_action_[i] = next[i].item<int64_t>();
    envs_->LoadState(std::string(static_cast<const char*>(env_state.data_ptr()), env_state.numel()));
  } catch (const c10::Error& e) {
    throw Error(StrCat("checkpoint ", path, " is corrupt or from another configuration: ", e.what_without_backtrace()));
  }
}

std::unique_ptr<Policy> TabularTd::MakePolicy(bool /*deterministic*/) {
  return std::make_unique<QTablePolicy>(q_, num_actions_, obs_start_, act_start_);
}

QTablePolicy::QTablePolicy(std::vector<double> q, int64_t num_actions, int64_t obs_start, int64_t act_start)
    : q_(std::move(q)), num_actions_(num_actions), obs_start_(obs_start), act_start_(act_start) {}

void QTablePolicy::Act(const void* observations, const uint8_t* /*masks*/, int n, void* actions) {
  const auto* obs = static_cast<const int64_t*>(observations);
  auto* out = static_cast<int64_t*>(actions);
  for (int i = 0; i < n; ++i) {
    const double* row = q_.data() + (obs[i] - obs_start_) * num_actions_;
    out[i] = (std::max_element(row, row + num_actions_) - row) + act_start_;
  }
}

}  // namespace rlforge
