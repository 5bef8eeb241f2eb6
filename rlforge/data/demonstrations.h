// rlforge/data/demonstrations.h — episodes of a (scripted) policy's play,
// recorded for imitation: behaviour-cloning pretraining of PPO's actor and
// critic, and demonstration transitions in DQN's replay (DQfD, Hester et al.,
// 2018).
//
// Each episode keeps its observations o_0..o_T (the last one the final
// observation, terminal or truncated), the env's legal-action mask at each,
// and per step the action, the mask the action was chosen under (for
// MultiDiscrete envs with conditional masks: each dimension's conditional mask
// given the demonstrated values before it, so that a masked MultiCategorical
// with it gives the demonstrated action's log-probability), the reward and
// how the step ended. Discrete and MultiDiscrete actions only.
#ifndef RLFORGE_DATA_DEMONSTRATIONS_H_
#define RLFORGE_DATA_DEMONSTRATIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "rlforge/env/env.h"
#include "rlforge/config/kwargs.h"
#include "rlforge/env/policy.h"

namespace rlforge {

struct Demonstrations {
  int64_t obs_bytes = 0;    // bytes per observation (the env's dtype)
  int64_t mask_size = 0;    // bytes per mask (0: the env has no masks)
  int64_t action_dims = 1;  // int64 values per action (Discrete: 1, MultiDiscrete: k)
  // Per observation row (steps + episodes rows: each episode's o_0..o_T).
  std::vector<uint8_t> obs;          // [rows, obs_bytes]
  std::vector<uint8_t> legal_masks;  // [rows, mask_size]
  // Per step: the row of its observation (the next observation is row + 1).
  std::vector<int64_t> row;
  std::vector<int64_t> actions;      // [steps, action_dims]
  std::vector<uint8_t> action_masks; // [steps, mask_size] the masks the action was chosen under
  std::vector<float> rewards;
  std::vector<uint8_t> terminated, truncated;
  std::vector<double> episode_returns;
  std::vector<int64_t> episode_lengths;
  int64_t episode_successes = 0;     // episodes that reported is_success = 1

  int64_t steps() const { return static_cast<int64_t>(row.size()); }
  int64_t episodes() const { return static_cast<int64_t>(episode_lengths.size()); }
  bool done(int64_t t) const { return terminated[t] || truncated[t]; }
  double mean_return() const;
  // Discounted return of the rest of each step's episode, Σ_k γ^k r_{t+k}
  // (truncated episodes: no bootstrap past their last step).
  std::vector<float> ReturnsToGo(double gamma) const;
  // The steps' observations [steps, obs_bytes] (each episode's final one left out).
  std::vector<uint8_t> StepObservations() const;
};

// Plays `episodes` episodes of `policy` (greedy where it has a choice) on
// `env`, resetting episode i with seed + i.
Demonstrations RecordDemonstrations(Env& env, Policy& policy, int64_t episodes, uint64_t seed);

}  // namespace rlforge

#endif  // RLFORGE_DATA_DEMONSTRATIONS_H_
