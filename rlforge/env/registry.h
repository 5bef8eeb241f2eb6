// rlforge/env/registry.h — env IDs and make(id, kwargs).
//
// As gymnasium.make: Make(id, kwargs) builds the env registered under id with
// the spec's default kwargs overridden by `kwargs`, then wraps it in
// TimeLimit(max_episode_steps) when the spec has a limit. The make-level kwarg
// `max_episode_steps` overrides the limit (0 removes it). Unknown IDs and
// kwargs throw InvalidArgument listing the valid choices.
//
// Each env registers itself from its own folder: its factory, kwargs and
// capabilities live with it (RLF_REGISTER_ENVS below, run at program start
// when rlforge_envs is linked). Users register their own envs with
// Registry::Global().Register(spec) the same way.
//
// Scripted policies: besides "random" (every env), an env's registry entry may
// offer policies that need no training (TowerDefense-v0's "heuristic", the
// board games' "perfect" and "alphabeta:DEPTH"). MakeScriptedPolicy finds
// them by name; `--policy`, `--opponent`, and the agents' demonstrations
// (pretrain_policy, demo_policy) use it, so a new env's scripted policy works
// everywhere without a change elsewhere.
#ifndef RLFORGE_ENV_REGISTRY_H_
#define RLFORGE_ENV_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rlforge/config/kwargs.h"
#include "rlforge/env/env.h"
#include "rlforge/env/policy.h"

namespace rlforge {

struct KwargDoc {
  std::string name;
  std::string default_value;  // as text, "" when none
  std::string help;
};

// A policy an env offers by name (see the header comment).
struct ScriptedPolicySpec {
  std::string name;        // "heuristic"; with takes_argument, "alphabeta" for "alphabeta:DEPTH"
  std::string usage;       // as users write it: "heuristic", "alphabeta:DEPTH"
  // What it is, completing "policy 'NAME' is ..." (errors and `rlforge envs -v`).
  std::string description;
  bool takes_argument = false;
  // Builds it for `env` (an instance of this spec's env, possibly wrapped);
  // `argument` is the text after ':' ("" without one). InvalidArgument on a
  // bad argument or an env configuration it cannot play.
  std::function<std::unique_ptr<Policy>(const Env& env, const std::string& argument, uint64_t seed)> make;
  // Another name of the bot NAME plays as ("medium" for Arena's "greedy"), or
  // "" (a bot of its own): lists of bots to rate name each bot once.
  std::string same_as;
};

struct EnvSpec {
  std::string id;
  // Builds the env; receives default_kwargs merged with the caller's kwargs.
  std::function<std::unique_ptr<Env>(const Kwargs&)> entry_point;
  std::optional<int64_t> max_episode_steps;
  std::optional<double> reward_threshold;
  Kwargs default_kwargs;
  // Every kwarg the entry point accepts.
  std::vector<KwargDoc> kwargs;
  std::string description;
  // Policies that need no training (besides "random").
  std::vector<ScriptedPolicySpec> scripted_policies;
  // For envs whose action space is not Discrete but can be made so: the
  // kwargs that do it (agents that need Discrete actions suggest them).
  Kwargs discrete_action_kwargs;
  // For an older name of an env ("Taxi-v3"): the current ID, whose training
  // presets it takes.
  std::string alias_of;
};

class Registry {
 public:
  // The process-wide registry (the built-in envs register into it at start).
  static Registry& Global();

  // Throws InvalidArgument when the ID is taken or malformed.
  void Register(EnvSpec spec);
  bool Has(const std::string& id) const;
  const EnvSpec& Spec(const std::string& id) const;
  std::vector<std::string> Ids() const;

  std::unique_ptr<Env> Make(const std::string& id, const Kwargs& kwargs = {}) const;

  // Every scripted-policy usage with the envs offering it, e.g.
  // "random, heuristic (TowerDefense-v0), perfect (TicTacToe-v0)"; with `id`,
  // only the ones env `id` offers ("random, random-legal, perfect").
  std::string ScriptedPolicyList(const std::string& id = "") const;
  // Whether some env (or every env, for "random") offers the policy `spec`.
  bool IsScriptedPolicy(const std::string& spec) const;
  // The policy `spec` for an instance `env` of env `id`; InvalidArgument when
  // no env offers it ("... is not a scripted policy; valid for ID: ...") or `id` does
  // not ("policy 'NAME' is DESCRIPTION; ID has none").
  std::unique_ptr<Policy> MakeScriptedPolicy(const std::string& spec, const std::string& id, const Env& env,
                                             uint64_t seed) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, EnvSpec> specs_;
};

// The partially observed variant of `base` that rl-baselines3-zoo registers
// with sb3-contrib's MaskVelocityWrapper: id Name-vN becomes NameNoVel-vN, the
// float32 observation components at `velocity_indices` read 0 (the space and
// everything else, kwargs and step limit included, stay the base's). A policy
// must infer the velocities from successive observations: memory benchmarks.
EnvSpec NoVelocitySpec(const EnvSpec& base, const std::vector<int64_t>& velocity_indices);

// Shorthand for Registry::Global().Make(id, kwargs).
std::unique_ptr<Env> Make(const std::string& id, const Kwargs& kwargs = {});

// The value kwarg `key` of env `id` takes when it is not given: the
// registration's default_kwargs, else its documented default when that is
// exact (a whole number, a boolean or a name; a documented fraction may be a
// rounding). nullopt when unknown.
std::optional<std::string> DefaultKwarg(const std::string& id, const std::string& key);

// Whether kwargs `a` and `b` make the same env `id`: the same values, a key
// given in one only being at its default (DefaultKwarg). Keys in `ignore`
// are not compared.
bool SameEnvKwargs(const std::string& id, const Kwargs& a, const Kwargs& b, const std::set<std::string>& ignore = {});

// "ID" or "ID (k=v ...)", for messages.
std::string DescribeEnv(const std::string& id, const Kwargs& kwargs);

// Config check: InvalidArgument naming config key `key` when the scripted
// policy `spec` cannot play env `id` with `kwargs`.
void CheckScriptedPolicyFits(const std::string& key, const std::string& spec, const std::string& id,
                             const Kwargs& kwargs);

// Registers envs at program start from the env's own .cc file:
//   RLF_REGISTER_ENVS(cartpole) { registry.Register({...}); }
// The name only has to be unique. The envs layer is linked as an object
// library, so these registrations are never dropped by the linker.
#define RLF_REGISTER_ENVS(name)                                                                   \
  static void RlfRegisterEnvs_##name(::rlforge::Registry& registry);                              \
  [[maybe_unused]] static const bool rlf_envs_registered_##name =                                 \
      (RlfRegisterEnvs_##name(::rlforge::Registry::Global()), true);                              \
  static void RlfRegisterEnvs_##name(::rlforge::Registry& registry)

}  // namespace rlforge

#endif  // RLFORGE_ENV_REGISTRY_H_
