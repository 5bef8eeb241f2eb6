// rlforge/cli/common.h — shared pieces of the `rlforge` subcommands.
//
// Each subcommand lives in its own file and registers itself with
// Add<Name>Command(app). Errors reach the user as one line on stderr:
//   InvalidArgument / bad flags  -> exit code 2 (usage or configuration)
//   any other failure            -> exit code 1 (run time)
#ifndef RLFORGE_CLI_COMMON_H_
#define RLFORGE_CLI_COMMON_H_

#include <CLI/CLI.hpp>

#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "rlforge/config/kwargs.h"
#include "rlforge/env/evaluation.h"
#include "rlforge/env/vector_env.h"
#include "rlforge/train/runner.h"

namespace rlforge::cli {

// Exit codes.
constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

void AddEnvsCommand(CLI::App& app);
void AddEvalCommand(CLI::App& app);
void AddPlayCommand(CLI::App& app);
void AddCheckEnvCommand(CLI::App& app);
void AddBenchCommand(CLI::App& app);
void AddTrainCommand(CLI::App& app);
void AddPlotCommand(CLI::App& app);
void AddExportCommand(CLI::App& app);
void AddServeCommand(CLI::App& app);
void AddLaunchCommand(CLI::App& app);
void AddRecordCommand(CLI::App& app);
void AddInspectCommand(CLI::App& app);
void AddLmCommand(CLI::App& app);
void AddBenchLmCommand(CLI::App& bench);
void AddBenchTrainCommand(CLI::App& bench);
void AddBenchSearchCommand(CLI::App& bench);
void AddBenchRuntimeCommand(CLI::App& bench);
void AddBenchServeCommand(CLI::App& bench);
void AddBenchDistributedCommands(CLI::App& bench);

// A check for integer flags: decimal digits with an optional '-', within the
// range of T (CLI11 alone saturates out-of-range numbers, wraps negative ones
// into unsigned types and reads a leading 0 as octal). It strips leading
// zeros, so it is a transform:
//   cmd->add_option("--seed", a->seed, "...")->transform(Integer<uint64_t>());
std::string CheckIntegerText(std::string& text, bool is_signed, long double lo, long double hi);
template <typename T>
CLI::Validator Integer() {
  static_assert(std::is_integral_v<T>);
  return CLI::Validator(
      [](std::string& text) {
        return CheckIntegerText(text, std::is_signed_v<T>, static_cast<long double>(std::numeric_limits<T>::min()),
                                static_cast<long double>(std::numeric_limits<T>::max()));
      },
      "INTEGER");
}

// Integer<T>() for the type of a flag's variable (T, std::optional<T> or
// std::vector<T>): ->transform(IntegerFor(a->seed)).
template <typename T>
CLI::Validator IntegerFor(const T&) {
  return Integer<T>();
}
template <typename T>
CLI::Validator IntegerFor(const std::optional<T>&) {
  return Integer<T>();
}
template <typename T>
CLI::Validator IntegerFor(const std::vector<T>&) {
  return Integer<T>();
}

// "k=v" strings from repeated --kwarg flags.
Kwargs ParseKwargs(const std::vector<std::string>& items);
// "all" -> every registered ID; otherwise the ID itself, validated.
std::vector<std::string> ResolveEnvIds(const std::string& id);
// Builds the policy named by `flag` ("--policy", "--opponent") for `env` (an
// instance of env_id): a scripted policy the env offers
// (rlforge/env/registry.h), or a run directory or checkpoint trained on an
// env with the same spaces.
// A policy served by `rlforge serve` (--policy http://HOST:PORT[/v1/models/NAME]).
bool IsServedPolicy(const std::string& spec);
std::unique_ptr<Policy> MakeServedPolicy(const std::string& url, const Env& env, uint64_t seed, bool deterministic);

std::unique_ptr<Policy> MakePolicy(const std::string& flag, const std::string& spec, const std::string& env_id,
                                   const Env& env, uint64_t seed, bool deterministic);
// The run in `dir` (a run directory or checkpoint), checked to have `env`'s
// spaces; InvalidArgument naming `flag` and `spec` otherwise.
LoadedRun LoadRunFor(const std::string& flag, const std::string& spec, const std::string& dir, const Env& env);

// Refuses an output file `path` of `flag` whose directory is missing or not
// writable, or that is itself a directory: checked before the work, not
// after it. Creates nothing.
void CheckOutputFile(const std::string& flag, const std::string& path);

// A CLI11 check that refuses an empty value of a flag (--opponent '' would
// otherwise read as the flag left out).
std::string NotEmpty(const std::string& value);

// Whether `spec` names a run directory or a checkpoint (not a scripted policy).
bool IsRunPolicy(const std::string& spec);
// Refuses a flag that changes only how trained policies act (`flag`, such as
// --stochastic, given) when `policy` and `opponent` (empty: none) are both
// scripted policies or bots, which act the same either way.
void CheckSamplingFlagApplies(const std::string& flag, bool given, const std::string& policy,
                              const std::string& opponent);

// Whether env `id` is a team game that takes its other team from kwarg
// `opponent` (Arena-v0), which opponent=external hands to agent 1.
bool IsTeamGame(const std::string& id);
// --opponent for agent 1 of a team game: bot:NAME (or a scripted NAME), a
// served policy, a run directory or checkpoint, or RUN:K, snapshot K of a
// self-play run's league.
std::unique_ptr<Policy> MakeTeamOpponent(const std::string& spec, const std::string& id, const Env& env,
                                         uint64_t seed, bool deterministic);
// EvaluationKwargs for --max-episode-steps (eval, play, record): the cap
// `cap` on an env without a step limit; `cap_given` (the flag was on the
// command line) on an env with its own limit is refused, not ignored.
Kwargs StepCapKwargs(const std::string& id, const Kwargs& kwargs, int64_t cap, bool cap_given);

// The kwargs eval and play run env `id` with, from `kwargs` (the run's and
// the user's): a team game is played as one (*team) when --opponent is given
// (`opponent`, "" when not) or the kwargs say opponent=external; then
// opponent=external, agent 1 played by --opponent. A --kwarg opponent= of
// the user's own (`user_kwargs`) that names another team 1 conflicts with
// --opponent: InvalidArgument.
Kwargs TeamGameKwargs(const std::string& id, Kwargs kwargs, const Kwargs& user_kwargs, const std::string& opponent,
                      bool* team);

// The env eval and play run: a run directory or checkpoint given as --policy
// carries its env, so by default the run's env ID and env_kwargs are used
// (--kwarg entries override single kwargs). An explicit --env, or --kwarg
// values, that differ from the run's come back as warnings, for the caller to
// print on stderr once the policy is built. Without a run, --env is required.
struct EnvChoice {
  std::string id;
  Kwargs kwargs;
  std::vector<std::string> warnings;
  void PrintWarnings() const;
};
EnvChoice ChooseEnv(const std::string& env_flag, const std::vector<std::string>& kwarg_flags,
                    const std::string& policy);

// Subcommand callbacks set this to their exit status.
int& ExitStatus();

// Starts this binary as a child process, `rlforge args...`: in the child,
// `prepare` runs first (environment, signals, redirections), then the exec;
// if the exec fails the child says so on stderr and exits 127. Returns the
// child's pid (Error when fork fails).
int StartSelf(const std::vector<std::string>& args, const std::function<void()>& prepare);

}  // namespace rlforge::cli

#endif  // RLFORGE_CLI_COMMON_H_
