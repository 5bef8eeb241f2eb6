// rlforge/train/scripted_policy.h — the built-in policies that need no
// training, by name: what `--policy` / `--opponent` accept besides a run
// directory, and what the agents' demonstration pretraining imitates.
//   random          uniform over the action space (two-player games: over
//                   the legal moves)
//   heuristic       TowerDefense-v0's scripted baseline
//   perfect         TicTacToe-v0's minimax player
//   alphabeta:D     depth-D alpha-beta search (board games)
#ifndef RLFORGE_TRAIN_SCRIPTED_POLICY_H_
#define RLFORGE_TRAIN_SCRIPTED_POLICY_H_

#include <memory>
#include <string>

#include "rlforge/env/env.h"
#include "rlforge/env/kwargs.h"
#include "rlforge/train/evaluation.h"

namespace rlforge {

// Whether `spec` names a scripted policy (not whether it fits an env).
bool IsScriptedPolicy(const std::string& spec);
// The policy `spec` names, for `env`; InvalidArgument when the name is not a
// scripted policy or does not play that env (the message names both).
std::unique_ptr<Policy> MakeScriptedPolicy(const std::string& spec, const Env& env, uint64_t seed);
// Config check: throws InvalidArgument naming config key `key` when `spec`
// cannot play env `env_id` with `kwargs`.
void CheckScriptedPolicyFits(const std::string& key, const std::string& spec, const std::string& env_id,
                             const Kwargs& kwargs);

}  // namespace rlforge

#endif  // RLFORGE_TRAIN_SCRIPTED_POLICY_H_
