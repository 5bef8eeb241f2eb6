// rlforge/env/transition_model.h — an env's exact dynamics as a table, for
// envs that can offer them (Env::transition_model(); the toy-text envs do).
//
// As Gymnasium's `env.P`: for each state s and action a, a list of outcomes
// (probability, next state, reward, terminated) whose probabilities sum to 1,
// plus an initial-state distribution. Planners (value iteration, policy
// evaluation: rlforge/algos/tabular/planning.h) and tests read it; the envs
// step by sampling it: draw u ~ U[0, 1) and take the first outcome whose
// cumulative probability exceeds u (Gymnasium's categorical_sample).
#ifndef RLFORGE_ENV_TRANSITION_MODEL_H_
#define RLFORGE_ENV_TRANSITION_MODEL_H_

#include <cstdint>
#include <vector>

#include "rlforge/core/rng.h"

namespace rlforge {

struct Transition {
  double prob;
  int64_t next_state;
  double reward;
  bool terminated;
  // Cumulative probability of this and the earlier outcomes of the same
  // (s, a); filled in by TransitionModel::Add.
  double cumulative = 0;
};

class TransitionModel {
 public:
  TransitionModel(int64_t num_states, int64_t num_actions);

  int64_t num_states() const { return num_states_; }
  int64_t num_actions() const { return num_actions_; }

  // Outcomes of taking action a in state s.
  struct Range {
    const Transition* first;
    const Transition* last;
    const Transition* begin() const { return first; }
    const Transition* end() const { return last; }
    size_t size() const { return static_cast<size_t>(last - first); }
  };
  Range Outcomes(int64_t s, int64_t a) const {
    const size_t k = static_cast<size_t>(s * num_actions_ + a);
    return {transitions_.data() + offsets_[k], transitions_.data() + offsets_[k + 1]};
  }
  // Initial-state distribution [num_states].
  const std::vector<double>& initial_distribution() const { return initial_; }

  // Samples one outcome of (s, a).
  const Transition& Sample(int64_t s, int64_t a, Rng& rng) const;
  // Samples an initial state.
  int64_t SampleInitial(Rng& rng) const;

  // Building: call Add for (s, a) in order s = 0.., a = 0.. (every pair once,
  // each with at least one outcome), then SetInitial.
  void Add(int64_t s, int64_t a, std::vector<Transition> outcomes);
  void SetInitial(std::vector<double> weights);  // normalized here

 private:
  int64_t num_states_, num_actions_;
  std::vector<uint32_t> offsets_;         // [S * A + 1]
  std::vector<Transition> transitions_;   // all outcomes, grouped by (s, a)
  std::vector<double> initial_;           // [S]
  std::vector<double> initial_cdf_;       // [S]
};

}  // namespace rlforge

#endif  // RLFORGE_ENV_TRANSITION_MODEL_H_
