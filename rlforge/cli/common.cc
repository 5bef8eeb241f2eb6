#include "rlforge/cli/common.h"

#include <filesystem>

#include "rlforge/env/registry.h"

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

std::unique_ptr<Policy> MakePolicy(const std::string& spec, const Space& action_space, uint64_t seed) {
  if (spec == "random") return std::make_unique<RandomPolicy>(action_space, seed);
  if (std::filesystem::exists(spec))
    throw InvalidArgument(StrCat("--policy '", spec,
                                 "': loading trained policies is not available in this build yet; valid: random"));
  throw InvalidArgument(StrCat("--policy '", spec, "' is not a known policy, run directory or checkpoint; valid: random"));
}

}  // namespace rlforge::cli
