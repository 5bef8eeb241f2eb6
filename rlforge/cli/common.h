// rlforge/cli/common.h — shared pieces of the `rlforge` subcommands.
//
// Each subcommand lives in its own file and registers itself with
// Add<Name>Command(app). Errors reach the user as one line on stderr:
//   InvalidArgument / bad flags  -> exit code 2 (usage or configuration)
//   any other failure            -> exit code 1 (run time)
#ifndef RLFORGE_CLI_COMMON_H_
#define RLFORGE_CLI_COMMON_H_

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "rlforge/config/kwargs.h"
#include "rlforge/env/evaluation.h"
#include "rlforge/env/vector_env.h"

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
void AddBenchTrainCommand(CLI::App& bench);
void AddBenchSearchCommand(CLI::App& bench);

// "k=v" strings from repeated --kwarg flags.
Kwargs ParseKwargs(const std::vector<std::string>& items);
// "all" -> every registered ID; otherwise the ID itself, validated.
std::vector<std::string> ResolveEnvIds(const std::string& id);
// Builds the policy named by --policy for `env` (an instance of env_id): a
// scripted policy the env offers (rlforge/env/registry.h), or a run directory
// or checkpoint trained on an env with the same spaces.
std::unique_ptr<Policy> MakePolicy(const std::string& spec, const std::string& env_id, const Env& env, uint64_t seed,
                                   bool deterministic);

// Subcommand callbacks set this to their exit status.
int& ExitStatus();

}  // namespace rlforge::cli

#endif  // RLFORGE_CLI_COMMON_H_
