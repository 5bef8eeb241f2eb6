// rlforge play — shows one episode step by step as text.
#include <chrono>
#include <cstdio>
#include <thread>

#include "rlforge/cli/common.h"
#include "rlforge/env/image_io.h"
#include "rlforge/env/registry.h"

namespace rlforge::cli {
namespace {

struct PlayArgs {
  std::string env;
  std::string policy = "random";
  uint64_t seed = 0;
  int64_t max_steps = 0;
  int delay_ms = 0;
  bool deterministic = false;
  std::string record;
  int fps = 30;
  std::vector<std::string> kwargs;
};

void RunPlay(const PlayArgs& a) {
  auto env = Make(a.env, ParseKwargs(a.kwargs));
  auto policy = MakePolicy(a.policy, *env, a.seed ^ 0xA5A5A5A5ULL, a.deterministic);
  if (env->has_conditional_action_mask())
    policy->set_conditional_mask([&env](int, const int64_t* prefix, int dim, uint8_t* m) {
      env->ConditionalActionMask(prefix, dim, m);
    });
  std::vector<uint8_t> obs(env->observation_space().nbytes()), act(env->action_space().nbytes());
  std::vector<uint8_t> mask(std::max<int64_t>(env->action_space().mask_size(), 1));
  RLF_CHECK_ARG(a.record.empty() || (a.record.size() > 4 && a.record.substr(a.record.size() - 4) == ".gif"),
                "--record must name a .gif file, got '", a.record, "'");
  RLF_CHECK_ARG(a.fps >= 1 && a.fps <= 100, "--fps must be in 1..100, got ", a.fps);
  AnimatedGif gif(std::max(1, 100 / a.fps));
  Image frame;
  Info info;
  env->Reset(a.seed, obs.data(), &info);
  if (!a.record.empty()) {
    RLF_CHECK_ARG(env->RenderRgb(&frame), a.env, " has no RGB render; cannot --record");
    gif.AddFrame(frame);
  }
  std::printf("%s (seed %llu), policy %s\n%s", a.env.c_str(), static_cast<unsigned long long>(a.seed),
              a.policy.c_str(), env->RenderText().c_str());
  double ret = 0;
  for (int64_t t = 1;; ++t) {
    if (env->has_action_mask()) env->ActionMask(mask.data());
    policy->Act(obs.data(), env->has_action_mask() ? mask.data() : nullptr, 1, act.data());
    StepResult r = env->Step(act.data(), obs.data());
    ret += r.reward;
    std::printf("\nstep %lld  action %s  reward %g  return %g%s%s\n%s", static_cast<long long>(t),
                env->action_space().FormatValue(act.data()).c_str(), r.reward, ret,
                r.terminated ? "  terminated" : "", r.truncated ? "  truncated" : "", env->RenderText().c_str());
    std::fflush(stdout);
    if (!a.record.empty()) {
      env->RenderRgb(&frame);
      gif.AddFrame(frame);
    }
    if (r.done() || (a.max_steps > 0 && t >= a.max_steps)) {
      if (!a.record.empty()) {
        gif.Write(a.record);
        std::printf("wrote %s (%d frames)\n", a.record.c_str(), gif.frames());
      }
      std::printf("\nepisode over after %lld steps, return %g%s\n", static_cast<long long>(t), ret,
                  r.info.Get("is_success").value_or(0) == 1 ? " (success)" : "");
      return;
    }
    if (a.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a.delay_ms));
  }
}

}  // namespace

void AddPlayCommand(CLI::App& app) {
  auto a = std::make_shared<PlayArgs>();
  auto* cmd = app.add_subcommand("play", "Play one episode and print the text render of every step");
  cmd->add_option("--env", a->env, "Env ID")->required();
  cmd->add_option("--policy", a->policy, "random, heuristic (TowerDefense-v0), a run directory, or a checkpoint")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the episode")->capture_default_str();
  cmd->add_option("--max-steps", a->max_steps, "Stop after this many steps (0 = play to the end)")
      ->capture_default_str();
  cmd->add_option("--delay-ms", a->delay_ms, "Pause between steps, for watching")->capture_default_str();
  cmd->add_flag("--deterministic", a->deterministic, "Greedy actions (trained policies)");
  cmd->add_option("--record", a->record, "Also write the episode as an animated GIF (envs with an RGB render)");
  cmd->add_option("--fps", a->fps, "Frames per second of the GIF")->capture_default_str();
  cmd->add_option("--kwarg", a->kwargs, "Env kwarg key=value (repeatable)");
  cmd->callback([a] { RunPlay(*a); });
}

}  // namespace rlforge::cli
