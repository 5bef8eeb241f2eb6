// rlforge check-env — checks an env against the Env contract.
#include <algorithm>
#include <cstdio>

#include "rlforge/cli/common.h"
#include "rlforge/env/env_checker.h"
#include "rlforge/env/registry.h"

namespace rlforge::cli {
namespace {

struct CheckArgs {
  std::string env;
  uint64_t seed = 0;
  int steps = 300;
  std::vector<std::string> kwargs;
};

void RunCheck(const CheckArgs& a) {
  const auto ids = ResolveEnvIds(a.env);
  const Kwargs kwargs = ParseKwargs(a.kwargs);
  RLF_CHECK_ARG(ids.size() == 1 || kwargs.empty(), "--kwarg needs a single env ID, not 'all'");
  RLF_CHECK_ARG(a.steps >= 1, "--steps must be >= 1, got ", a.steps);
  // The status column starts after the longest ID, so every row lines up.
  int width = 0;
  for (const auto& id : ids) width = std::max(width, static_cast<int>(id.size()));
  int failed = 0;
  for (const auto& id : ids) {
    auto env = Make(id, kwargs);
    CheckOptions opt;
    opt.seed = a.seed;
    opt.steps = a.steps;
    const auto problems = CheckEnv(*env, opt);
    if (problems.empty()) {
      std::printf("%-*s OK\n", width, id.c_str());
    } else {
      ++failed;
      std::printf("%-*s %zu problem(s):\n", width, id.c_str(), problems.size());
      for (const auto& p : problems) std::printf("  - %s\n", p.c_str());
    }
  }
  if (failed) ExitStatus() = kExitRuntime;
}

}  // namespace

void AddCheckEnvCommand(CLI::App& app) {
  auto a = std::make_shared<CheckArgs>();
  auto* cmd = app.add_subcommand(
      "check-env", "Check an env against the contract: spaces, determinism, step after the end, clone/restore, render");
  cmd->add_option("id", a->env, "Env ID, or 'all'")->required();
  cmd->add_option("--seed", a->seed, "Seed of the check's rollouts")->transform(IntegerFor(a->seed))->capture_default_str();
  cmd->add_option("--steps", a->steps, "Random steps per rollout")->transform(IntegerFor(a->steps))->capture_default_str();
  cmd->add_option("--kwarg", a->kwargs, "Env kwarg key=value (repeatable)");
  cmd->callback([a] { RunCheck(*a); });
}

}  // namespace rlforge::cli
