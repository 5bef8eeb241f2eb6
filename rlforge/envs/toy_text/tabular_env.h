// rlforge/envs/toy_text/tabular_env.h — the transition model shared by the
// toy-text envs (FrozenLake, Taxi, CliffWalking).
//
// As Gymnasium's `env.P`: for each state s and action a, a list of outcomes
// (probability, next state, reward, terminated) whose probabilities sum to 1,
// plus an initial-state distribution. Planners (value iteration, policy
// evaluation) and tests read it through model(); the envs step by sampling it:
// draw u ~ U[0, 1) and take the first outcome whose cumulative probability
// exceeds u (Gymnasium's categorical_sample).
//
// The model is immutable once built and shared between clones, so Clone() of a
// toy-text env copies a few words.
#ifndef RLFORGE_ENVS_TOY_TEXT_TABULAR_ENV_H_
#define RLFORGE_ENVS_TOY_TEXT_TABULAR_ENV_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rlforge/core/rng.h"
#include "rlforge/env/env.h"

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

// Shared by the toy-text envs' ResetImpl/StepImpl: draw the initial state (or
// sample the outcome of action a in state s), write it as the int64
// observation and fill reward, terminated and info "prob". Return the new state.
int64_t ResetFromModel(const TransitionModel& model, Rng& rng, void* obs, Info* info);
const Transition& StepFromModel(const TransitionModel& model, int64_t s, int64_t a, Rng& rng, void* obs,
                                StepResult* result);

// The model cached under `key` (a text that fully describes the env's dynamics),
// built with `build` the first time. Every env instance with the same dynamics
// shares one model: a 1024-env vector env of Taxi then reads one 360 KB table
// from cache instead of 1024 copies from memory. Thread-safe; the cache holds
// weak references, so models are freed with their last env.
std::shared_ptr<const TransitionModel> SharedTransitionModel(
    const std::string& key, const std::function<std::shared_ptr<TransitionModel>()>& build);

}  // namespace rlforge

#endif  // RLFORGE_ENVS_TOY_TEXT_TABULAR_ENV_H_
