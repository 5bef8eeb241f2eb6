#include "rlforge/cli/common.h"

#include <filesystem>

#include "rlforge/env/registry.h"
#include "rlforge/envs/board_games/board_game.h"
#include "rlforge/envs/board_games/solvers.h"
#include "rlforge/envs/tower_defense/heuristic.h"
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

std::unique_ptr<Policy> MakePolicy(const std::string& spec, const Env& env, uint64_t seed, bool deterministic) {
  // Two-player games: random play picks among the legal moves (an illegal one would end the game with an error).
  if (spec == "random") return std::make_unique<RandomPolicy>(env.action_space(), seed, env.num_players() > 1);
  if (spec == "perfect" || spec.rfind("alphabeta", 0) == 0) {
    const auto* game = dynamic_cast<const BoardGameEnv*>(&env.unwrapped());
    RLF_CHECK_ARG(game != nullptr, "--policy/--opponent '", spec, "' plays the board games (TicTacToe-v0, ConnectFour-v0), not ",
                  env.name());
    if (spec == "perfect") return std::make_unique<board::SolverPolicy>(game->empty_board(), "perfect", 0, seed);
    int depth = 0;
    const std::string d = spec.size() > 10 && spec[9] == ':' ? spec.substr(10) : "";
    try {
      size_t used = 0;
      depth = std::stoi(d, &used);
      if (used != d.size()) depth = 0;
    } catch (const std::exception&) {
      depth = 0;
    }
    RLF_CHECK_ARG(depth >= 1, "'", spec, "': write alphabeta:DEPTH with DEPTH a whole number >= 1, e.g. alphabeta:2");
    return std::make_unique<board::SolverPolicy>(game->empty_board(), "alphabeta", depth, seed);
  }
  if (spec == "heuristic") {
    RLF_CHECK_ARG(env.unwrapped().name() == "TowerDefense-v0",
                  "--policy heuristic is the scripted TowerDefense-v0 baseline; ", env.name(), " has none");
    return std::make_unique<TowerDefenseHeuristic>(env.observation_space(), env.action_space());
  }
  if (!std::filesystem::exists(spec))
    throw InvalidArgument(StrCat("--policy '", spec,
                                 "' is not 'random', 'heuristic', 'perfect', 'alphabeta:DEPTH', a run directory or a checkpoint; "
                                 "valid: random, heuristic (TowerDefense-v0), perfect (TicTacToe-v0), alphabeta:DEPTH "
                                 "(board games), DIR, CHECKPOINT"));
  LoadedRun run = LoadRun(spec);
  auto probe = Make(run.config.run.env, run.config.run.env_kwargs);
  RLF_CHECK_ARG(probe->observation_space() == env.observation_space() && probe->action_space() == env.action_space(),
                "--policy '", spec, "' was trained on ", run.config.run.env, " whose spaces differ from ", env.name(),
                "'s");
  return run.algorithm->MakePolicy(deterministic);
}

}  // namespace rlforge::cli
