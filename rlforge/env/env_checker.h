// rlforge/env/env_checker.h — checks any env against the Env contract.
//
// CheckEnv runs an env through the contract every rlforge env must keep and
// returns each violation as one plain sentence (empty = conformant):
//   - spaces: well formed; the action space accepts its own samples;
//   - observations from Reset and Step lie inside the observation space;
//     rewards are finite; an episode ends within the step budget when the env
//     has a time limit;
//   - determinism: the same seed and actions give the same observations,
//     rewards and flags;
//   - Step after the episode ended, and Step with an action outside the space,
//     throw rlforge errors (not undefined behaviour);
//   - Clone/Restore: a clone continues exactly like the original, and Restore
//     rewinds the original to the clone's state;
//   - masks: the right size, at least one legal action, and masked sampling
//     only draws legal actions;
//   - rendering: RenderText is non-empty; RenderRgb, when offered, gives a
//     non-empty image of consistent size.
// It works on user envs too: pass any Env (wrapped or not).
#ifndef RLFORGE_ENV_ENV_CHECKER_H_
#define RLFORGE_ENV_ENV_CHECKER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "rlforge/env/env.h"

namespace rlforge {

struct CheckOptions {
  // Seed for the rollouts.
  uint64_t seed = 0;
  // Random-policy steps per rollout.
  int steps = 300;
  // Check RenderRgb (the slowest part).
  bool check_rgb = true;
};

std::vector<std::string> CheckEnv(Env& env, const CheckOptions& options = {});

}  // namespace rlforge

#endif  // RLFORGE_ENV_ENV_CHECKER_H_
