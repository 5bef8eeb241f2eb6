#include "rlforge/algos/tabular/tabular.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "rlforge/core/memory.h"

namespace rlforge {

TabularStates::TabularStates(const Space& space, const std::string& env) {
  RLF_CHECK_ARG(space.kind() == SpaceKind::kDiscrete || space.kind() == SpaceKind::kMultiDiscrete,
                "tabular methods need Discrete or MultiDiscrete observations; ", env, " has ", space.ToString());
  if (space.kind() == SpaceKind::kDiscrete) {
    radix_ = {space.n()}, start_ = space.start(), size_ = space.n();
    return;
  }
  radix_ = space.nvec();
  double states = 1;
  for (int64_t n : radix_) states *= static_cast<double>(n);
  RLF_CHECK_ARG(states <= 1e15, "a Q table over ", env, "'s ", space.ToString(), " observations would have ", states,
                " states");
  size_ = static_cast<int64_t>(states);
}

void TabularConfig::Visit(FieldVisitor& v) {
  v.Field("gamma", &gamma, "discount factor");
  v.Field("learning_rate", &learning_rate, "step size alpha (number, lin_<start>[_<end>] or cos_<start>[_<end>])");
  v.Field("exploration_initial_eps", &exploration_initial_eps, "epsilon at the start");
  v.Field("exploration_final_eps", &exploration_final_eps, "epsilon after the decay");
  v.Field("exploration_fraction", &exploration_fraction, "fraction of training over which epsilon decays");
  v.Field("initial_q", &initial_q, "initial action values");
  v.Field("steps_per_iteration", &steps_per_iteration, "env steps between logs and checkpoints");
}

void TabularConfig::Validate() const {
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1], got ", gamma);
  learning_rate.CheckRate("learning_rate");
  RLF_CHECK_ARG(learning_rate.start <= 1 && learning_rate.end <= 1, "config key 'learning_rate' must stay in (0, 1]");
  for (double e : {exploration_initial_eps, exploration_final_eps})
    RLF_CHECK_ARG(e >= 0 && e <= 1, "exploration epsilons must be in [0, 1], got ", e);
  RLF_CHECK_ARG(exploration_fraction >= 0 && exploration_fraction <= 1,
                "config key 'exploration_fraction' must be in [0, 1]");
  RLF_CHECK_ARG(steps_per_iteration >= 1, "config key 'steps_per_iteration' must be >= 1");
  // Bootstraps sum Q-values (expected SARSA over every action): 1e308 made them
  // infinite, and the table NaN.
  RLF_CHECK_ARG(std::abs(initial_q) <= 1e150, "config key 'initial_q' must be within [-1e150, 1e150] (sums of action "
                "values must stay finite), got ", initial_q);
}

TabularTd::TabularTd(TdMethod method, const RunContext& ctx, const TabularConfig& config)
    : Algorithm(ctx),
      method_(method),
      config_(config),
      envs_((config_.Validate(), ctx.MakeVectorEnv())),
      states_(envs_->single_observation_space(), ctx.run.env),
      rng_(static_cast<uint64_t>(ctx.run.seed) ^ 0x7AB1E) {
  const std::string& env_id = ctx.run.env;
  const Space& as = envs_->single_action_space();
  RLF_CHECK_ARG(as.kind() == SpaceKind::kDiscrete, "tabular methods need Discrete actions; ", env_id, " has ",
                as.ToString());
  num_states_ = states_.size();
  num_actions_ = as.n();
  act_start_ = as.start();
  CheckFitsInMemory(StrCat("a Q table for ", env_id, " (", num_states_, " states x ", num_actions_, " actions)"),
                    8.0 * static_cast<double>(num_states_) * static_cast<double>(num_actions_));
  q_.assign(num_states_ * num_actions_, config.initial_q);
  envs_->Reset(static_cast<uint64_t>(ctx.run.seed));
  next_action_.assign(envs_->num_envs(), -1);
  DeclareMetrics({"epsilon", "learning_rate", "mean_abs_td_error"});
}

double TabularTd::epsilon() const {
  return LinearDecay(ctx_.Progress(steps_),
                     config_.exploration_initial_eps, config_.exploration_final_eps, config_.exploration_fraction);
}

namespace {
// Epsilon-greedy over one state's row of Q (the first best action on ties).
// It always draws once, so a stream does not depend on epsilon.
int64_t EpsilonGreedyAction(const double* row, int64_t num_actions, double eps, Rng& rng) {
  if (rng.Uniform() < eps) return static_cast<int64_t>(rng.UniformInt(num_actions));
  return std::max_element(row, row + num_actions) - row;
}
}  // namespace

int64_t TabularTd::Greedy(int64_t s) const {
  const double* row = q_.data() + s * num_actions_;
  return std::max_element(row, row + num_actions_) - row;
}

int64_t TabularTd::EpsilonGreedy(int64_t s, double eps) {
  return EpsilonGreedyAction(q_.data() + s * num_actions_, num_actions_, eps, rng_);
}

Metrics TabularTd::Iterate() {
  const int n = envs_->num_envs();
  std::vector<int64_t> states(n), actions(n), env_actions(n);
  double td_abs = 0;
  int64_t updates = 0;
  const int64_t target = std::min(ctx_.run.total_steps, steps_ + config_.steps_per_iteration);
  while (steps_ < target) {
    const double eps = epsilon();
    const double alpha = config_.learning_rate.Value(1.0 - ctx_.Progress(steps_));
    const auto* obs = envs_->observations_as<int64_t>();
    const int64_t width = states_.values_per_observation();
    for (int i = 0; i < n; ++i) {
      states[i] = states_.Index(obs + i * width);
      actions[i] = (method_ == TdMethod::kSarsa && next_action_[i] >= 0) ? next_action_[i] : EpsilonGreedy(states[i], eps);
    }
    for (int i = 0; i < n; ++i) env_actions[i] = actions[i] + act_start_;
    envs_->Step(env_actions.data());
    const auto* next_obs = envs_->observations_as<int64_t>();
    const auto* final_obs = envs_->final_observations_as<int64_t>();
    for (int i = 0; i < n; ++i) {
      const bool term = envs_->terminated()[i], trunc = envs_->truncated()[i];
      const int64_t s2 = states_.Index(((term || trunc) ? final_obs : next_obs) + i * width);
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
          {"learning_rate", config_.learning_rate.Value(1.0 - ctx_.Progress(steps_))},
          {"mean_abs_td_error", td_abs / std::max<int64_t>(updates, 1)}};
}

void TabularTd::VisitState(StateVisitor& v) {
  if (!v.loading())
    for (double q : q_) RLF_CHECK(std::isfinite(q), "the Q table has a non-finite value; not writing a checkpoint");
  const size_t table = q_.size();
  v("q", &q_);
  RLF_CHECK(q_.size() == table, "a Q table of ", q_.size(), " entries; this env needs ", table);
  v("rng", &rng_);
  v("num_timesteps", &steps_);
  v("next_action", &next_action_);
  RLF_CHECK(next_action_.size() == static_cast<size_t>(envs_->num_envs()), "pending actions for ",
            next_action_.size(), " envs; this run has ", envs_->num_envs());
  v("envs", envs_.get());
}

std::unique_ptr<Policy> TabularTd::MakePolicy(bool deterministic) {
  // Sampling acts as training ended: epsilon-greedy at the schedule's epsilon.
  return std::make_unique<QTablePolicy>(q_, num_actions_, states_, act_start_, deterministic ? 0.0 : epsilon(),
                                        static_cast<uint64_t>(ctx_.run.seed) + 0xE95ULL);
}

QTablePolicy::QTablePolicy(std::vector<double> q, int64_t num_actions, TabularStates states, int64_t act_start,
                           double epsilon, uint64_t seed)
    : q_(std::move(q)),
      num_actions_(num_actions),
      states_(std::move(states)),
      act_start_(act_start),
      epsilon_(epsilon),
      rng_(seed) {}

QTablePolicy::QTablePolicy(std::vector<double> q, int64_t num_actions, int64_t obs_start, int64_t act_start,
                           double epsilon, uint64_t seed)
    : QTablePolicy(q, num_actions,
                   TabularStates(Space::Discrete(static_cast<int64_t>(q.size()) / num_actions, obs_start), "the table"),
                   act_start, epsilon, seed) {}

void QTablePolicy::Act(const void* observations, const uint8_t* /*masks*/, int n, void* actions) {
  const auto* obs = static_cast<const int64_t*>(observations);
  auto* out = static_cast<int64_t*>(actions);
  const int64_t width = states_.values_per_observation();
  for (int i = 0; i < n; ++i)
    out[i] = EpsilonGreedyAction(q_.data() + states_.Index(obs + i * width) * num_actions_, num_actions_, epsilon_,
                                 rng_) +
             act_start_;
}

}  // namespace rlforge
