// rlforge play — shows one episode step by step as text.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "rlforge/cli/common.h"
#include "rlforge/env/evaluation.h"
#include "rlforge/env/image_io.h"
#include "rlforge/env/registry.h"
#include "rlforge/envs/board_games/board_game.h"

namespace rlforge::cli {
namespace {

struct PlayArgs {
  std::string env;
  std::string policy = "random";
  std::string opponent;  // "": random
  bool human = false;
  int side = 0;
  uint64_t seed = 0;
  int64_t max_steps = 0;
  int64_t max_episode_steps = kDefaultEvalStepCap;
  bool max_episode_steps_set = false;  // given on the command line
  int delay_ms = 0;
  bool deterministic = false;  // --deterministic: the default, kept for scripts
  bool stochastic = false;
  std::string record;
  bool record_set = false;  // --record was given (possibly empty)
  int fps = 30;
  std::vector<std::string> kwargs;
};

// Reads a person's move from stdin until it is a legal action; bad input is
// answered and asked again. -1 when the person quits (q); throws when the
// input ends.
int64_t AskHumanMove(const Env& env, const uint8_t* mask) {
  const int64_t n = env.action_space().n();
  const auto* game = dynamic_cast<const BoardGameEnv*>(&env.unwrapped());
  const bool columns = game != nullptr && game->empty_board().gravity;  // Connect Four: moves name columns
  for (;;) {
    std::printf("your move (%s 0-%lld, q to quit): ", columns ? "column" : "cell",
                static_cast<long long>(n - 1));
    std::fflush(stdout);
    std::string line;
    if (!std::getline(std::cin, line)) throw Error("play: the input ended before the game did");
    const auto b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
    line = b == std::string::npos ? "" : line.substr(b, e - b + 1);
    if (line == "q" || line == "quit") return -1;
    int64_t move = -1;
    bool number = !line.empty() && line.size() <= 3 && line.find_first_not_of("0123456789") == std::string::npos;
    if (number) move = std::stoll(line);
    if (!number || move < 0 || move >= n) {
      std::printf("'%s' is not a move: type a number from 0 to %lld\n", line.c_str(), static_cast<long long>(n - 1));
    } else if (!mask[move]) {
      std::printf("%lld is not legal now (%s)\n", static_cast<long long>(move),
                  columns ? "that column is full" : "that cell is taken");
    } else {
      return move;
    }
  }
}

void RunPlay(const PlayArgs& a) {
  RLF_CHECK_ARG(a.delay_ms >= 0, "--delay-ms must be >= 0, got ", a.delay_ms);
  RLF_CHECK_ARG(a.max_steps >= 0, "--max-steps must be >= 0 (0 = play to the end), got ", a.max_steps);
  CheckSamplingFlagApplies("--stochastic", a.stochastic, a.policy, a.human ? "" : a.opponent);
  const EnvChoice choice = ChooseEnv(a.env, a.kwargs, a.policy);
  const std::string& id = choice.id;
  const bool capped = NeedsEvaluationStepCap(id, choice.kwargs);
  bool team = false;  // a team game (Arena-v0): the policy is agent 0, --opponent agent 1
  auto env = Make(id, TeamGameKwargs(id, StepCapKwargs(id, choice.kwargs, a.max_episode_steps, a.max_episode_steps_set),
                                     ParseKwargs(a.kwargs), a.opponent, &team));
  const bool deterministic = !a.stochastic;
  auto policy = MakePolicy("--policy", a.policy, id, *env, a.seed ^ 0xA5A5A5A5ULL, deterministic);
  choice.PrintWarnings();
  const bool two_player = env->num_players() > 1;
  RLF_CHECK_ARG(!(team && a.human), "--human is for two-player board games; ", id,
                " is a team game (--opponent plays team 1)");
  RLF_CHECK_ARG(two_player || team || (!a.human && a.opponent.empty()),
                "--human and --opponent are for two-player games and team games (envs with an 'opponent' kwarg, "
                "such as Arena-v0); ", id, " has one player");
  RLF_CHECK_ARG(two_player || a.side == 0, "--side is for two-player board games; ", id,
                IsTeamGame(id) ? " is a team game (the policy plays team 0, --opponent team 1)" : " has one player");
  RLF_CHECK_ARG(a.side == 0 || a.side == 1, "--side must be 0 (move first) or 1 (second), got ", a.side);
  RLF_CHECK_ARG(!(a.human && !a.opponent.empty()), "--human and --opponent both name the other side; give one");
  const std::string opponent_name = a.opponent.empty() ? "random" : a.opponent;
  std::unique_ptr<Policy> opponent;
  if (two_player && !a.human)
    opponent = MakePolicy("--opponent", opponent_name, id, *env, a.seed ^ 0x5A5A5A5AULL, deterministic);
  if (team) {
    RLF_CHECK_ARG(env->num_agents() == 2, id, " with opponent=external has ", env->num_agents(),
                  " agent(s); a team game needs two");
    opponent = MakeTeamOpponent(opponent_name, id, *env, a.seed ^ 0x5A5A5A5AULL, deterministic);
  }
  if (env->has_conditional_action_mask())
    policy->set_conditional_mask([&env](int, const int64_t* prefix, int dim, uint8_t* m) {
      env->ConditionalActionMask(prefix, dim, m);
    });
  std::vector<uint8_t> obs(env->observation_space().nbytes()), act(env->action_space().nbytes());
  std::vector<uint8_t> mask(std::max<int64_t>(env->action_space().mask_size(), 1));
  std::vector<uint8_t> obs1(team ? obs.size() : 0), act1(team ? act.size() : 0), mask1(team ? mask.size() : 0);
  RLF_CHECK_ARG(!a.record_set || !a.record.empty(), "--record needs a file name ending in .gif, got ''");
  RLF_CHECK_ARG(a.record.empty() || (a.record.size() > 4 && a.record.substr(a.record.size() - 4) == ".gif"),
                "--record must name a .gif file, got '", a.record, "'");
  RLF_CHECK_ARG(a.fps >= 1 && a.fps <= 100, "--fps must be in 1..100, got ", a.fps);
  if (!a.record.empty()) CheckOutputFile("--record", a.record);  // before the episode is played
  AnimatedGif gif(std::max(1, 100 / a.fps));
  auto write_record = [&] {
    if (a.record.empty()) return;
    gif.Write(a.record);
    std::printf("wrote %s (%d frames)\n", a.record.c_str(), gif.frames());
  };
  Image frame;
  Info info;
  env->Reset(a.seed, obs.data(), &info);
  if (!a.record.empty()) {
    RLF_CHECK_ARG(env->RenderRgb(&frame), id, " has no RGB render; cannot --record");
    gif.AddFrame(frame);
  }
  // As eval labels it: a scripted policy plays its own way whatever the flag.
  const char* mode = Registry::Global().IsScriptedPolicy(a.policy) ? "scripted"
                     : deterministic                                ? "deterministic"
                                                                    : "stochastic";
  if (two_player) {
    std::printf("%s (seed %llu, %s): player %d %s, player %d %s\n%s", id.c_str(),
                static_cast<unsigned long long>(a.seed), mode, a.side,
                a.policy.c_str(), 1 - a.side, a.human ? "you" : opponent_name.c_str(), env->RenderText().c_str());
  } else if (team) {
    std::printf("%s (seed %llu, %s): team 0 %s, team 1 %s\n%s", id.c_str(), static_cast<unsigned long long>(a.seed),
                mode, a.policy.c_str(), opponent_name.c_str(),
                env->RenderText().c_str());
  } else {
    std::printf("%s (seed %llu), policy %s (%s)\n%s", id.c_str(), static_cast<unsigned long long>(a.seed),
                a.policy.c_str(), mode, env->RenderText().c_str());
  }
  double ret = 0;
  double illegal = 0;  // the env's info "illegal_actions": actions a lenient game refused
  for (int64_t t = 1;; ++t) {
    if (env->has_action_mask()) env->ActionMask(mask.data());
    const bool others_turn = two_player && env->current_player() != a.side;
    if (others_turn && a.human) {
      const int64_t move = AskHumanMove(*env, mask.data());
      if (move < 0) {  // asked for, so not an error: exit 0
        std::printf("\nyou quit at move %lld; the game is not over\n", static_cast<long long>(t));
        write_record();
        return;
      }
      *reinterpret_cast<int64_t*>(act.data()) = move;
    } else {
      Policy& p = others_turn ? *opponent : *policy;
      p.Act(obs.data(), env->has_action_mask() ? mask.data() : nullptr, 1, act.data());
    }
    if (team) {
      // Agent 1 (team 1) acts from its own view.
      env->AgentObservation(1, obs1.data());
      if (env->has_action_mask()) env->AgentActionMask(1, mask1.data());
      opponent->Act(obs1.data(), env->has_action_mask() ? mask1.data() : nullptr, 1, act1.data());
      env->SetAgentAction(1, act1.data());
    }
    StepResult r = env->Step(act.data(), obs.data());
    ret += r.reward;
    const double illegal_now = r.info.Get("illegal_actions").value_or(illegal);
    // (Arena counts a step's refused unit moves as illegal_unit_actions.)
    const bool refused = illegal_now > illegal || r.info.Get("illegal_unit_actions").value_or(0) > 0;
    illegal = illegal_now;
    std::printf("\nstep %lld  action %s%s  reward %g  return %g%s%s\n%s", static_cast<long long>(t),
                env->action_space().FormatValue(act.data()).c_str(), refused ? " (illegal: refused)" : "", r.reward,
                ret, r.terminated ? "  terminated" : "", r.truncated ? "  truncated" : "", env->RenderText().c_str());
    std::fflush(stdout);
    if (!a.record.empty()) {
      env->RenderRgb(&frame);
      gif.AddFrame(frame);
    }
    if (r.done() || (a.max_steps > 0 && t >= a.max_steps)) {
      write_record();
      if (!r.done()) {  // --max-steps cut it short
        std::printf("\nstopped after %lld steps (--max-steps), return so far %g; the %s is not over\n",
                    static_cast<long long>(t), ret, team || two_player ? "game" : "episode");
        return;
      }
      if (team) {
        const int outcome = GameOutcome(r.info, r.truncated);
        std::printf("\ngame over after %lld steps: %s %s against %s\n", static_cast<long long>(t), a.policy.c_str(),
                    outcome > 0 ? "wins" : outcome < 0 ? "loses" : "draws", opponent_name.c_str());
        return;
      }
      if (two_player) {
        std::vector<double> returns(env->num_players());
        env->PlayerReturns(returns.data());
        const double mine = returns[a.side];
        std::printf("\ngame over after %lld moves: %s %s\n", static_cast<long long>(t), a.policy.c_str(),
                    mine > 0 ? "wins" : mine < 0 ? "loses" : "draws");
        return;
      }
      const bool hit_cap = capped && r.truncated && t >= a.max_episode_steps;
      std::printf("\nepisode over after %lld steps, return %g%s%s%s\n", static_cast<long long>(t), ret,
                  r.info.Get("is_success").value_or(0) == 1 ? " (success)" : "",
                  illegal > 0 ? StrCat(", ", illegal, " illegal action(s) refused").c_str() : "",
                  hit_cap ? StrCat(" (truncated: ", id, " has no step limit; capped at ", a.max_episode_steps,
                                   " steps, --max-episode-steps)")
                                .c_str()
                          : "");
      return;
    }
    if (a.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a.delay_ms));
  }
}

}  // namespace

void AddPlayCommand(CLI::App& app) {
  auto a = std::make_shared<PlayArgs>();
  auto* cmd = app.add_subcommand("play",
                                 "Play one episode and print the text render of every step (the toy-text envs mark "
                                 "the agent with ANSI colours, as Gymnasium's ansi renders do, also into a pipe: "
                                 "view a saved one with less -R)");
  cmd->add_option("--env", a->env, "Env ID; by default the env (and env_kwargs) of a run given as --policy");
  cmd->add_option("--policy", a->policy,
                  "A scripted policy (" + Registry::Global().ScriptedPolicyList() +
                      "), a run directory, a checkpoint, or a served model (http://HOST:PORT[/v1/models/NAME])")
      ->capture_default_str();
  cmd->add_option("--opponent", a->opponent,
                  "Two-player games: the other side (a scripted policy or a run directory; default random). Team "
                  "games (Arena-v0): team 1, as for eval (bot:NAME, a run directory, RUN:K)")
      ->check(NotEmpty);
  cmd->add_flag("--human", a->human, "Two-player games: you are the other side, typing moves in the terminal");
  cmd->add_option("--side", a->side, "Two-player games: the side the policy plays (0 moves first, 1 second)")->transform(IntegerFor(a->side))
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the episode")->transform(IntegerFor(a->seed))->capture_default_str();
  cmd->add_option("--max-steps", a->max_steps, "Stop after this many steps (0 = play to the end)")->transform(IntegerFor(a->max_steps))
      ->capture_default_str();
  auto* cap = cmd->add_option("--max-episode-steps", a->max_episode_steps,
                  "Step cap on the episode of an env with no step limit of its own (the episode ends truncated)")->transform(IntegerFor(a->max_episode_steps))
      ->capture_default_str();
  cmd->add_option("--delay-ms", a->delay_ms, "Pause between steps, for watching")->transform(IntegerFor(a->delay_ms))->capture_default_str();
  auto* det = cmd->add_flag("--deterministic", a->deterministic, "Greedy actions of trained policies (the default)");
  cmd->add_flag("--stochastic", a->stochastic, "Sample actions from trained policies instead of taking the greedy one")
      ->excludes(det);
  auto* record = cmd->add_option("--record", a->record, "Also write the episode as an animated GIF (envs with an RGB render)");
  cmd->add_option("--fps", a->fps, "Frames per second of the GIF")->transform(IntegerFor(a->fps))->capture_default_str();
  cmd->add_option("--kwarg", a->kwargs, "Env kwarg key=value (repeatable)");
  cmd->callback([a, record, cap] {
    a->record_set = record->count() > 0;
    a->max_episode_steps_set = cap->count() > 0;
    RunPlay(*a);
  });
}

}  // namespace rlforge::cli
