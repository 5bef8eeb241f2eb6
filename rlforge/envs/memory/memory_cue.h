// rlforge/envs/memory/memory_cue.h — MemoryCue-v0: hold a cue for N steps.
//
// The smallest task that a policy without memory cannot solve. At the first
// step the observation shows one of k cues (one-hot); then `delay` steps of
// blank observations follow; at the last step a query flag is set and the
// action must name the cue. Observation Box(0, 1, (k + 1,)) float32: [cue
// one-hot, query flag]; actions Discrete(k), ignored before the query.
// Reward +1 for the right answer, -1 for a wrong one, 0 on other steps; the
// episode terminates after the answer (delay + 1 steps), is_success when
// right. A memoryless policy sees the same blank observation at every query
// and so cannot beat the 2/k - 1 expected return of guessing (0 for k = 2);
// a policy that remembers scores 1.
#ifndef RLFORGE_ENVS_MEMORY_MEMORY_CUE_H_
#define RLFORGE_ENVS_MEMORY_MEMORY_CUE_H_

#include <string>

#include "rlforge/env/env.h"

namespace rlforge {

class MemoryCue : public EnvBase<MemoryCue> {
 public:
  MemoryCue(int64_t delay, int64_t num_cues);

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return "MemoryCue-v0"; }
  std::string RenderText() const override;
  bool defines_success() const override { return true; }

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);
  template <class A>
  void Fields(A& ar) {
    ar(cue_), ar(t_), ar(last_action_);
  }
  int64_t cue() const { return cue_; }

 private:
  void Observe(void* obs) const;

  int64_t delay_, num_cues_;
  Space obs_space_, act_space_;
  int64_t cue_ = 0, t_ = 0, last_action_ = -1;
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_MEMORY_MEMORY_CUE_H_
