#include "rlforge/cli/common.h"

#include <filesystem>

#include "rlforge/env/registry.h"
#include "rlforge/train/runner.h"

namespace rlforge::cli {

int& ExitStatus() {
  static int status = kExitOk;
  return status;
}

Kwargs ParseKwargs(const std::vector<std::string>& items) {
  Kwargs kwargs;
  for (const auto& item : items) {
    auto [k, v] = Kwargs::ParseAssignment(item);
    kwargs.Set(k, v);
  }
  return kwargs;
}

std::vector<std::string> ResolveEnvIds(const std::string& id) {
  if (id == "all") return Registry::Global().Ids();
  Registry::Global().Spec(id);  // throws with the valid IDs
  return {id};
}

std::unique_ptr<Policy> MakePolicy(const std::string& spec, const std::string& env_id, const Env& env, uint64_t seed,
                                   bool deterministic) {
  const Registry& registry = Registry::Global();
  if (registry.IsScriptedPolicy(spec)) {
    try {
      return registry.MakeScriptedPolicy(spec, env_id, env, seed);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(StrCat("--policy/--opponent ", e.what()));
    }
  }
  if (!std::filesystem::exists(spec))
    throw InvalidArgument(StrCat("--policy '", spec, "' is not a scripted policy, a run directory or a checkpoint; valid: ",
                                 registry.ScriptedPolicyList(), ", DIR, CHECKPOINT"));
  LoadedRun run = LoadRun(spec);
  auto probe = Make(run.config.run.env, run.config.run.env_kwargs);
  RLF_CHECK_ARG(probe->observation_space() == env.observation_space() && probe->action_space() == env.action_space(),
                "--policy '", spec, "' was trained on ", run.config.run.env, " whose spaces differ from ", env.name(),
                "'s");
  return run.algorithm->MakePolicy(deterministic);
}

}  // namespace rlforge::cli
