// rlforge/env/evaluation.h — episode evaluation of a Policy.
//
// Evaluate() runs exactly `episodes` episodes on a vector env and
// reports their statistics. To avoid the bias of keeping the first episodes to
// finish (short episodes finish first), each env i is given a fixed quota of
// floor(N / E) or ceil(N / E) episodes, as SB3's evaluate_policy does; an env
// whose quota is met keeps stepping but its episodes are not counted.
//
// Evaluation never runs an episode forever: an env with no step limit of its
// own (CliffWalking, or any env made with max_episode_steps=0) is evaluated
// under a cap, kDefaultEvalStepCap steps unless the caller says otherwise
// (`eval_max_episode_steps` in a run's config, --max-episode-steps on eval and
// play). An episode stopped by the cap ends truncated, as a TimeLimit's does.
#ifndef RLFORGE_ENV_EVALUATION_H_
#define RLFORGE_ENV_EVALUATION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rlforge/config/kwargs.h"
#include "rlforge/env/policy.h"
#include "rlforge/env/vector_env.h"

namespace rlforge {

inline constexpr int64_t kDefaultEvalStepCap = 10000;

// `kwargs` for making an evaluation env of `id`, with max_episode_steps = cap
// when the env as configured has no step limit; unchanged otherwise. `cap`
// must be >= 1 (InvalidArgument naming `cap_name` otherwise).
Kwargs EvaluationKwargs(const std::string& id, const Kwargs& kwargs, int64_t cap,
                        const std::string& cap_name = "max_episode_steps cap");
// Whether EvaluationKwargs(id, kwargs, ...) adds the cap.
bool NeedsEvaluationStepCap(const std::string& id, const Kwargs& kwargs);

struct EpisodeStats {
  int64_t episodes = 0;
  // Episodes that ended truncated (a time limit or the evaluation step cap)
  // rather than terminated.
  int64_t truncated = 0;
  double mean_return = 0, std_return = 0;
  double mean_length = 0, std_length = 0;
  // Fraction of episodes whose final step had info is_success == 1; absent
  // when the env does not define success.
  std::optional<double> success_rate;
  // Mean per episode of the final step's info "illegal_actions" (actions a
  // lenient game refused: TowerDefense); absent when the env reports none.
  std::optional<double> illegal_actions;
  std::vector<double> returns;
  std::vector<int64_t> lengths;
};

// Runs `episodes` episodes of `policy` on `envs` after envs.Reset(seed).
// Single-player envs only (two-player games: EvaluateMatch).
EpisodeStats Evaluate(VectorEnv& envs, Policy& policy, int64_t episodes, uint64_t seed);

// Games of a turn-based two-player env (Env::num_players() == 2) between
// `agent` and `opponent`: the agent plays player 0 in even-numbered games and
// player 1 in odd-numbered ones; game g is reset with seed + g. `stats` holds
// the agent's returns (+1 win, 0 draw, -1 loss in board games), the games'
// lengths (moves of both players) and success_rate = the win rate.
struct MatchStats {
  int64_t games = 0, wins = 0, draws = 0, losses = 0;
  double win_rate() const { return games ? static_cast<double>(wins) / games : 0.0; }
  double draw_rate() const { return games ? static_cast<double>(draws) / games : 0.0; }
  double loss_rate() const { return games ? static_cast<double>(losses) / games : 0.0; }
  EpisodeStats stats;
  // Each game's result for the agent in the order the games ended (1 win,
  // 0 draw, -1 loss): what ratings are updated from.
  std::vector<int> outcomes;
  void Add(int outcome);  // counts one game
};
MatchStats EvaluateMatch(Env& env, Policy& agent, Policy& opponent, int64_t games, uint64_t seed);

// Games of a simultaneous-move two-agent env (VectorEnv::num_agents() == 2,
// such as Arena-v0 with opponent=external): `agent` acts as agent 0 and
// `opponent` as agent 1, each from its own observations and masks, after
// envs.Reset(seed). Agent 1's observations are its own view (Arena mirrors
// them), so either side plays the same game. A game is the agent's win when
// its last step's info has is_success == 1, a draw when it has draw == 1, else
// a loss; a game cut off by a step limit is a draw. `stats` holds agent 0's
// returns and the lengths.
MatchStats EvaluateTeams(VectorEnv& envs, Policy& agent, Policy& opponent, int64_t games, uint64_t seed);
// A finished team game's result for agent 0 from its last step's info (and
// whether it was truncated), by EvaluateTeams' rule.
int GameOutcome(const Info& info, bool truncated);

}  // namespace rlforge

#endif  // RLFORGE_ENV_EVALUATION_H_
