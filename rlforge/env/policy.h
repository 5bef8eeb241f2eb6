// rlforge/env/policy.h — the Policy interface: what acts in an env.
//
// A Policy maps a batch of observations (and legal-action masks) to a batch of
// actions. Trained agents hand one out (Algorithm::MakePolicy); envs offer
// scripted ones by name through their registry entry (EnvSpec::scripted_policies:
// TowerDefense-v0's heuristic, the board games' solvers); RandomPolicy works
// everywhere. Evaluation (rlforge/env/evaluation.h), `rlforge eval` / `play`
// and the demonstrations agents imitate all take a Policy.
#ifndef RLFORGE_ENV_POLICY_H_
#define RLFORGE_ENV_POLICY_H_

#include <cstdint>
#include <string>

#include "rlforge/core/rng.h"
#include "rlforge/env/env.h"
#include "rlforge/env/space.h"

namespace rlforge {

class Policy {
 public:
  virtual ~Policy() = default;
  // observations: [n, obs] in the observation dtype; masks: [n, mask] or null;
  // actions: [n, act] in the action dtype, written here.
  virtual void Act(const void* observations, const uint8_t* masks, int n, void* actions) = 0;
  virtual std::string name() const = 0;
  // For envs with conditional (autoregressive) masks: row i of the next Act
  // batch asks `fn(i, ...)`. Policies that can use them (actor-critic with
  // MultiDiscrete actions) then choose dimension by dimension.
  void set_conditional_mask(ConditionalMaskFn fn) { conditional_mask_ = std::move(fn); }
  // Recurrent policies keep a state per row of the Act batch. Whoever runs
  // several episodes through one policy says, after each step, which rows'
  // next observation starts a new episode (rows_starting[i] == 1); a policy's
  // first Act, and an Act with a different n, start every row. Stateless
  // policies ignore it.
  virtual void StartEpisodes(const uint8_t* /*rows_starting*/, int /*n*/) {}
  // Whether the policy keeps such a state.
  virtual bool recurrent() const { return false; }

 protected:
  ConditionalMaskFn conditional_mask_;
};

// Uniform over the action space, as Gymnasium's action_space.sample(); with
// use_masks it samples only legal actions.
class RandomPolicy : public Policy {
 public:
  RandomPolicy(const Space& action_space, uint64_t seed, bool use_masks = false, std::string name = "random");
  void Act(const void* observations, const uint8_t* masks, int n, void* actions) override;
  std::string name() const override { return name_; }

 private:
  Space space_;
  Rng rng_;
  bool use_masks_;
  std::string name_;
};

}  // namespace rlforge

#endif  // RLFORGE_ENV_POLICY_H_
