#include "rlforge/train/scripted_policy.h"

#include "rlforge/env/registry.h"
#include "rlforge/envs/board_games/board_game.h"
#include "rlforge/envs/board_games/solvers.h"
#include "rlforge/envs/tower_defense/heuristic.h"

namespace rlforge {

bool IsScriptedPolicy(const std::string& spec) {
  return spec == "random" || spec == "heuristic" || spec == "perfect" || spec.rfind("alphabeta", 0) == 0;
}

std::unique_ptr<Policy> MakeScriptedPolicy(const std::string& spec, const Env& env, uint64_t seed) {
  // Two-player games: random play picks among the legal moves (an illegal one would end the game with an error).
  if (spec == "random") return std::make_unique<RandomPolicy>(env.action_space(), seed, env.num_players() > 1);
  if (spec == "perfect" || spec.rfind("alphabeta", 0) == 0) {
    const auto* game = dynamic_cast<const BoardGameEnv*>(&env.unwrapped());
    RLF_CHECK_ARG(game != nullptr, "policy '", spec, "' plays the board games (TicTacToe-v0, ConnectFour-v0), not ",
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
                  "policy 'heuristic' is the scripted TowerDefense-v0 baseline; ", env.name(), " has none");
    return std::make_unique<TowerDefenseHeuristic>(env.observation_space(), env.action_space());
  }
  throw InvalidArgument(StrCat("'", spec,
                               "' is not a scripted policy; valid: random, heuristic (TowerDefense-v0), perfect "
                               "(TicTacToe-v0), alphabeta:DEPTH (board games)"));
}

void CheckScriptedPolicyFits(const std::string& key, const std::string& spec, const std::string& env_id,
                             const Kwargs& kwargs) {
  try {
    auto env = Make(env_id, kwargs);
    MakeScriptedPolicy(spec, *env, 0);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(StrCat("config key '", key, "': ", e.what()));
  }
}

}  // namespace rlforge
