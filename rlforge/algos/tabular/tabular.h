// rlforge/algos/tabular/tabular.h — tabular TD control: Q-learning, SARSA and
// Expected SARSA (Sutton & Barto, ch. 6) on envs with Discrete actions and
// Discrete or MultiDiscrete observations (a MultiDiscrete observation is one
// state of the table: Blackjack-v1's (sum, dealer card, usable ace)).
//
// With step size alpha and behaviour policy epsilon-greedy in Q:
//   Q-learning:      Q(s,a) += alpha (r + gamma max_a' Q(s',a')               - Q(s,a))
//   SARSA:           Q(s,a) += alpha (r + gamma Q(s',a'), a' the next action taken - Q(s,a))
//   Expected SARSA:  Q(s,a) += alpha (r + gamma sum_a' pi(a'|s') Q(s',a')    - Q(s,a))
// The bootstrap term is dropped at termination and kept at truncation (s' is
// then the final observation; for SARSA a' is drawn from the policy there).
// alpha and epsilon follow schedules over training: epsilon decays linearly
// from exploration_initial_eps to exploration_final_eps over the first
// exploration_fraction of the steps (as SB3's DQN), alpha follows
// learning_rate (a number, lin_<start>[_<end>] or cos_<start>[_<end>]). Greedy ties go to the lowest action.
#ifndef RLFORGE_ALGOS_TABULAR_TABULAR_H_
#define RLFORGE_ALGOS_TABULAR_TABULAR_H_

#include <memory>
#include <string>
#include <vector>

#include "rlforge/algos/algorithm.h"
#include "rlforge/core/rng.h"
#include "rlforge/config/config.h"
#include "rlforge/env/vector_env.h"

namespace rlforge {

enum class TdMethod { kQLearning, kSarsa, kExpectedSarsa };

// The rows of a Q table: a Discrete observation's value minus its start, or a
// MultiDiscrete observation read as a row-major mixed-radix number (numpy's
// ravel_multi_index(obs, nvec); the numbering of Blackjack-v1's transition
// model). InvalidArgument for other spaces, naming `env`.
class TabularStates {
 public:
  TabularStates(const Space& space, const std::string& env);
  int64_t size() const { return size_; }
  int64_t values_per_observation() const { return static_cast<int64_t>(radix_.size()); }
  int64_t Index(const int64_t* obs) const {
    int64_t s = 0;
    for (size_t i = 0; i < radix_.size(); ++i) s = s * radix_[i] + obs[i];
    return s - start_;
  }

 private:
  std::vector<int64_t> radix_;  // {n} for Discrete, nvec for MultiDiscrete
  int64_t start_ = 0;
  int64_t size_ = 0;
};

struct TabularConfig {
  double gamma = 0.99;                         // discount
  Schedule learning_rate = Schedule::Constant(0.1);  // step size alpha
  double exploration_initial_eps = 1.0;        // epsilon at the start
  double exploration_final_eps = 0.05;         // epsilon after the decay
  double exploration_fraction = 0.5;           // fraction of training over which epsilon decays
  double initial_q = 0.0;                      // initial action values
  int64_t steps_per_iteration = 10000;         // env steps between logs/checkpoints

  void Visit(FieldVisitor& v);
  void Validate() const;
};

class TabularTd : public Algorithm {
 public:
  // The envs are stepped synchronously and no network is involved: of the
  // run-level keys only num_envs applies.
  static constexpr uint32_t kRunKeys = kRunNumEnvs;

  TabularTd(TdMethod method, const RunContext& ctx, const TabularConfig& config);
  Metrics Iterate() override;
  int64_t num_timesteps() const override { return steps_; }
  // The Q table, RNG, step count, SARSA's pending actions and the vector env.
  void VisitState(StateVisitor& v) override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;

  const std::vector<double>& q() const { return q_; }  // [S * A]
  int64_t num_states() const { return num_states_; }
  int64_t num_actions() const { return num_actions_; }
  double epsilon() const;

 private:
  int64_t Greedy(int64_t s) const;
  int64_t EpsilonGreedy(int64_t s, double eps);

  TdMethod method_;
  TabularConfig config_;
  std::unique_ptr<VectorEnv> envs_;
  TabularStates states_;
  int64_t num_states_, num_actions_, act_start_;
  std::vector<double> q_;
  Rng rng_;
  int64_t steps_ = 0;
  std::vector<int64_t> next_action_;  // [N] SARSA: the action chosen for the current state
};

// The three methods as registry entries.
class QLearning : public TabularTd {
 public:
  QLearning(const RunContext& ctx, const TabularConfig& config) : TabularTd(TdMethod::kQLearning, ctx, config) {}
};
class Sarsa : public TabularTd {
 public:
  Sarsa(const RunContext& ctx, const TabularConfig& config) : TabularTd(TdMethod::kSarsa, ctx, config) {}
};
class ExpectedSarsa : public TabularTd {
 public:
  ExpectedSarsa(const RunContext& ctx, const TabularConfig& config)
      : TabularTd(TdMethod::kExpectedSarsa, ctx, config) {}
};

// Greedy (or epsilon-greedy) policy over a Q table, for evaluation and play.
class QTablePolicy : public Policy {
 public:
  // epsilon > 0: epsilon-greedy as in training (a uniformly random action
  // with probability epsilon), from a generator seeded with `seed`.
  QTablePolicy(std::vector<double> q, int64_t num_actions, TabularStates states, int64_t act_start,
               double epsilon = 0.0, uint64_t seed = 0);
  // For Discrete observations starting at obs_start.
  QTablePolicy(std::vector<double> q, int64_t num_actions, int64_t obs_start, int64_t act_start, double epsilon = 0.0,
               uint64_t seed = 0);
  void Act(const void* observations, const uint8_t* masks, int n, void* actions) override;
  std::string name() const override { return epsilon_ > 0 ? "epsilon-greedy" : "greedy"; }

 private:
  std::vector<double> q_;
  int64_t num_actions_;
  TabularStates states_;
  int64_t act_start_;
  double epsilon_;
  Rng rng_;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_TABULAR_TABULAR_H_
