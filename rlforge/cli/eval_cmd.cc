// rlforge eval — evaluates a policy for N episodes and prints statistics.
#include <chrono>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "rlforge/cli/common.h"
#include "rlforge/env/registry.h"
#include "rlforge/train/runner.h"

namespace rlforge::cli {
namespace {

struct EvalArgs {
  std::string env;
  std::string policy = "random";
  std::string opponent;  // "" : random (two-player games), the env's own team 1 (team games)
  int64_t episodes = 100;
  uint64_t seed = 0;
  bool deterministic = false;  // --deterministic: the default, kept for scripts
  bool stochastic = false;
  bool json = false;
  int num_envs = 8;
  int threads = 1;
  int64_t max_episode_steps = kDefaultEvalStepCap;
  bool max_episode_steps_set = false;  // given on the command line
  std::vector<std::string> kwargs;
};

nlohmann::json StatsJson(const std::string& id, const EvalArgs& a, const EpisodeStats& s) {
  nlohmann::json j = {{"env", id},
                      {"policy", a.policy},
                      // A scripted policy plays its own way (random samples whatever the flag).
                      {"deterministic", Registry::Global().IsScriptedPolicy(a.policy) ? nlohmann::json(nullptr)
                                                                                      : nlohmann::json(!a.stochastic)},
                      {"seed", a.seed},
                      {"episodes", s.episodes},
                      {"mean_return", s.mean_return},
                      {"std_return", s.std_return},
                      {"mean_length", s.mean_length},
                      {"std_length", s.std_length},
                      {"truncated", s.truncated}};
  if (s.success_rate) j["success_rate"] = *s.success_rate;
  if (s.illegal_actions) j["illegal_actions"] = *s.illegal_actions;
  return j;
}

void RunEval(const EvalArgs& a) {
  RLF_CHECK_ARG(a.episodes >= 1, "--episodes must be >= 1, got ", a.episodes);
  RLF_CHECK_ARG(a.num_envs >= 1 && a.num_envs <= kMaxNumEnvs, "--num-envs must be in 1..", kMaxNumEnvs, ", got ",
                a.num_envs);
  RLF_CHECK_ARG(a.threads >= 1, "--threads must be >= 1, got ", a.threads);
  CheckSamplingFlagApplies("--stochastic", a.stochastic, a.policy, a.opponent);
  const bool deterministic = !a.stochastic;
  std::vector<std::string> ids;
  Kwargs kwargs;
  EnvChoice choice;
  if (a.env == "all") {
    ids = ResolveEnvIds(a.env);
    RLF_CHECK_ARG(a.kwargs.empty(), "--kwarg needs a single --env, not 'all'");
  } else {
    choice = ChooseEnv(a.env, a.kwargs, a.policy);
    ids = ResolveEnvIds(choice.id);
    kwargs = choice.kwargs;
  }
  const char* mode = Registry::Global().IsScriptedPolicy(a.policy) ? "scripted"
                     : deterministic                                ? "deterministic"
                                                                    : "stochastic";
  nlohmann::json all = nlohmann::json::array();
  bool table_started = false;  // the header goes out with the first row (not before an error)
  for (const auto& id : ids) {
    VectorEnvOptions opt;
    opt.num_envs = static_cast<int>(std::min<int64_t>(a.num_envs, a.episodes));
    opt.num_threads = a.threads;
    // With --env all the cap is for the envs that have no limit.
    const Kwargs env_kwargs = StepCapKwargs(id, kwargs, a.max_episode_steps, a.max_episode_steps_set && ids.size() == 1);
    const bool capped = NeedsEvaluationStepCap(id, kwargs);
    bool team = false;
    const Kwargs run_kwargs = TeamGameKwargs(id, env_kwargs, ParseKwargs(a.kwargs), a.opponent, &team);
    auto env = Make(id, run_kwargs);
    auto policy = MakePolicy("--policy", a.policy, id, *env, a.seed ^ 0xA5A5A5A5ULL, deterministic);
    choice.PrintWarnings();
    const auto t0 = std::chrono::steady_clock::now();
    std::optional<MatchStats> match;
    EpisodeStats s;
    if (env->num_players() > 1) {
      // Two-player game: the policy against the opponent, either side in turn (one env, one game at a time).
      auto opponent = MakePolicy("--opponent", a.opponent.empty() ? "random" : a.opponent, id, *env,
                                 a.seed ^ 0x5A5A5A5AULL, deterministic);
      match = EvaluateMatch(*env, *policy, *opponent, a.episodes, a.seed);
      s = match->stats;
    } else if (team) {
      // Team game: the policy is agent 0 (team 0), --opponent agent 1.
      RLF_CHECK_ARG(env->num_agents() == 2, id, " with opponent=external has ", env->num_agents(),
                    " agent(s); team evaluation needs two");
      auto envs = VectorEnv::Make(id, run_kwargs, opt);
      auto opponent = MakeTeamOpponent(a.opponent.empty() ? "random" : a.opponent, id, *env, a.seed ^ 0x5A5A5A5AULL,
                                       deterministic);
      match = EvaluateTeams(*envs, *policy, *opponent, a.episodes, a.seed);
      s = match->stats;
    } else {
      RLF_CHECK_ARG(a.opponent.empty(), "--opponent is for two-player games and team games (envs with an "
                                        "'opponent' kwarg, such as Arena-v0); ", id, " has one player");
      auto envs = VectorEnv::Make(id, env_kwargs, opt);
      s = Evaluate(*envs, *policy, a.episodes, a.seed);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // As --opponent names it (a team game's default is its random bot).
    const std::string opponent_label = !a.opponent.empty() ? a.opponent : team ? "bot:random" : "random";
    if (a.json) {
      all.push_back(StatsJson(id, a, s));
      if (capped) all.back()["step_cap"] = a.max_episode_steps;
      if (!kwargs.empty()) all.back()["env_kwargs"] = kwargs.items();
      if (match) {
        all.back()["opponent"] = opponent_label;
        all.back()["win_rate"] = match->win_rate();
        all.back()["draw_rate"] = match->draw_rate();
        all.back()["loss_rate"] = match->loss_rate();
        all.back().erase("success_rate");
      }
    } else if (match && ids.size() == 1) {
      std::printf("%s, policy %s (%s) vs %s, %lld games, %s (seed %llu)\n", id.c_str(), a.policy.c_str(), mode,
                  opponent_label.c_str(), static_cast<long long>(match->games),
                  team ? "the policy as team 0, the opponent as team 1" : "playing either side in turn",
                  static_cast<unsigned long long>(a.seed));
      std::printf("  wins %lld (%.4f)  draws %lld (%.4f)  losses %lld (%.4f)\n  length %.3f +- %.3f\n",
                  static_cast<long long>(match->wins), match->win_rate(), static_cast<long long>(match->draws),
                  match->draw_rate(), static_cast<long long>(match->losses), match->loss_rate(), s.mean_length,
                  s.std_length);
      // Games a step cap cut are counted as draws: say how many (the JSON did).
      if (s.truncated > 0)
        std::printf("  truncated %lld of %lld games (counted as draws)\n", static_cast<long long>(s.truncated),
                    static_cast<long long>(s.episodes));
      std::printf("  (%.2f s)\n", secs);
    } else if (ids.size() > 1) {
      if (!table_started)
        std::printf("%-26s %9s %22s %20s %8s %8s\n", "env", "episodes", "return (mean +- std)",
                    "length (mean +- std)", "success", "time");
      table_started = true;
      char success[32] = "-";
      if (s.success_rate) std::snprintf(success, sizeof(success), "%.4f", *s.success_rate);
      std::printf("%-26s %9lld %11.3f +- %-8.3f %9.2f +- %-8.2f %8s %7.2fs\n", id.c_str(),
                  static_cast<long long>(s.episodes), s.mean_return, s.std_return, s.mean_length, s.std_length,
                  success, secs);
    } else {
      std::printf("%s, policy %s (%s), %lld episodes (seed %llu)\n", id.c_str(), a.policy.c_str(), mode,
                  static_cast<long long>(s.episodes), static_cast<unsigned long long>(a.seed));
      std::printf("  return  %.4f +- %.4f\n  length  %.3f +- %.3f\n", s.mean_return, s.std_return, s.mean_length,
                  s.std_length);
      if (s.success_rate) std::printf("  success rate %.4f\n", *s.success_rate);
      if (s.illegal_actions && *s.illegal_actions > 0)
        std::printf("  illegal actions %.2f per episode (refused by the game)\n", *s.illegal_actions);
      // The cap is named only when an episode reached it (text envs truncate long answers themselves).
      const bool hit_cap = capped && std::any_of(s.lengths.begin(), s.lengths.end(),
                                                 [&](int64_t n) { return n >= a.max_episode_steps; });
      if (s.truncated > 0)
        std::printf("  truncated %lld of %lld episodes%s\n", static_cast<long long>(s.truncated),
                    static_cast<long long>(s.episodes),
                    hit_cap ? StrCat(" (", id, " has no step limit: capped at ", a.max_episode_steps,
                                     " steps, --max-episode-steps)").c_str()
                            : "");
      std::printf("  (%.2f s)\n", secs);
    }
  }
  if (!a.json && ids.size() > 1)
    std::printf("(two-player games: one game at a time against --opponent %s, either side in turn; success is "
                "the win rate)\n",
                a.opponent.empty() ? "random" : a.opponent.c_str());
  if (a.json) std::cout << (ids.size() == 1 ? all[0].dump(2) : all.dump(2)) << "\n";
}

}  // namespace

void AddEvalCommand(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "Run a policy for N episodes and report return, length and success rate");
  cmd->add_option("--env", a->env,
                  "Env ID, or 'all' for every registered env; by default the env (and env_kwargs) of a run given as "
                  "--policy");
  cmd->add_option("--policy", a->policy,
                  "A scripted policy (" + Registry::Global().ScriptedPolicyList() +
                      "), a run directory, a checkpoint, or a served model (http://HOST:PORT[/v1/models/NAME])")
      ->capture_default_str();
  cmd->add_option("--opponent", a->opponent,
                  "Two-player games: the other side (a scripted policy or a run directory; default random), the "
                  "policy playing first in even games, second in odd ones. Team games (Arena-v0): team 1 as agent "
                  "1 (env kwarg opponent=external): bot:NAME (a scripted bot: random, greedy, tactic, or by strength weak, "
                  "medium, strong), a run directory or checkpoint, or "
                  "RUN:K (snapshot K of a self-play run's league)")
      ->check(NotEmpty);
  cmd->add_option("--episodes", a->episodes, "Number of episodes (games)")->transform(IntegerFor(a->episodes))->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed: env i is reset with seed + i; the policy is seeded from it")->transform(IntegerFor(a->seed))
      ->capture_default_str();
  auto* det = cmd->add_flag("--deterministic", a->deterministic,
                            "Greedy actions of trained policies: the default, as in the run's own evaluation");
  cmd->add_flag("--stochastic", a->stochastic, "Sample actions from trained policies instead of taking the greedy one")
      ->excludes(det);
  cmd->add_flag("--json", a->json, "Print one JSON object (an array with --env all)");
  cmd->add_option("--num-envs", a->num_envs, "Envs stepped in parallel")->transform(IntegerFor(a->num_envs))->capture_default_str();
  cmd->add_option("--threads", a->threads, "Threads stepping them")->transform(IntegerFor(a->threads))->capture_default_str();
  auto* cap = cmd->add_option("--max-episode-steps", a->max_episode_steps,
                  "Step cap on an episode of an env with no step limit of its own (the episode ends truncated)")->transform(IntegerFor(a->max_episode_steps))
      ->capture_default_str();
  cmd->add_option("--kwarg", a->kwargs, "Env kwarg key=value (repeatable), e.g. --kwarg is_slippery=false");
  cmd->callback([a, cap] {
    a->max_episode_steps_set = cap->count() > 0;
    RunEval(*a);
  });
}

}  // namespace rlforge::cli
