// rlforge bench env — steps per second of a vector env under random actions.
#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "rlforge/cli/common.h"
#include "rlforge/env/registry.h"

namespace rlforge::cli {
namespace {

struct BenchEnvArgs {
  std::string env;
  int num_envs = 256;
  int threads = 1;
  int64_t steps = 10'000'000;
  uint64_t seed = 0;
  bool json = false;
  std::vector<std::string> kwargs;
};

void RunBenchEnv(const BenchEnvArgs& a) {
  RLF_CHECK_ARG(a.num_envs >= 1 && a.num_envs <= kMaxNumEnvs, "--num-envs must be in 1..", kMaxNumEnvs, ", got ",
                a.num_envs);
  RLF_CHECK_ARG(a.threads >= 1, "--threads must be >= 1, got ", a.threads);
  RLF_CHECK_ARG(a.steps >= 1, "--steps must be >= 1, got ", a.steps);
  const auto ids = ResolveEnvIds(a.env);
  RLF_CHECK_ARG(a.env != "all" || a.kwargs.empty(), "--kwarg needs a single --env, not 'all' (as eval and check-env)");
  const Kwargs kwargs = ParseKwargs(a.kwargs);
  nlohmann::json all = nlohmann::json::array();
  for (const auto& id : ids) {
    VectorEnvOptions opt;
    opt.num_envs = a.num_envs;
    opt.num_threads = a.threads;
    auto envs = VectorEnv::Make(id, kwargs, opt);
    RLF_CHECK_ARG(envs->num_agents() == 1, "bench env: ", id, " with these kwargs has ", envs->num_agents(),
                  " agents acting at every step; it benchmarks single-agent envs (Arena-v0: opponent=random, greedy "
                  "or tactic)");
    const Space& space = envs->single_action_space();
    const size_t bytes = space.nbytes();
    const int64_t iters = std::max<int64_t>(1, (a.steps + a.num_envs - 1) / a.num_envs);
    // Random actions are drawn before timing into a pool of kPool batches that
    // the timed loop cycles through, so the figure is the env's own stepping
    // cost (drawing an action costs ~3 ns; see rlforge_bench).
    constexpr int64_t kPool = 16;
    std::vector<uint8_t> actions(static_cast<size_t>(kPool) * a.num_envs * bytes);
    Rng rng(a.seed);
    for (int64_t i = 0; i < kPool * a.num_envs; ++i) space.Sample(rng, actions.data() + i * bytes);
    const size_t batch = static_cast<size_t>(a.num_envs) * bytes;
    envs->Reset(a.seed);
    // Turn-based games raise on an illegal move, so their random moves are
    // drawn from the current masks inside the timed loop (the figure then
    // includes the draws).
    const bool legal_only = envs->env(0).num_players() > 1 && envs->action_masks() != nullptr;
    const int64_t mask_size = space.mask_size();
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t k = 0; k < iters; ++k) {
      uint8_t* act = actions.data() + (k % kPool) * batch;
      if (legal_only)
        for (int i = 0; i < a.num_envs; ++i) space.Sample(rng, act + i * bytes, envs->action_masks() + i * mask_size);
      envs->Step(act);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double total = static_cast<double>(iters) * a.num_envs;
    const double sps = total / secs;
    if (a.json) {
      all.push_back({{"env", id}, {"num_envs", a.num_envs}, {"threads", envs->num_threads()},
                     {"steps", static_cast<int64_t>(total)}, {"seconds", secs}, {"steps_per_second", sps}});
    } else {
      std::printf("%-26s num_envs=%d threads=%d steps=%.0f time=%.3fs  %.0f steps/s\n", id.c_str(), a.num_envs,
                  envs->num_threads(), total, secs, sps);
    }
  }
  if (a.json) std::cout << (ids.size() == 1 ? all[0].dump(2) : all.dump(2)) << "\n";
}

}  // namespace

void AddBenchCommand(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks (env: vector-env stepping; train: training speed; search: MCTS simulations/s; distributed, allreduce: data-parallel scaling; lm: transformer tokens/s; runtime: exported-policy latency; serve: HTTP serving throughput)");
  bench->require_subcommand(1);
  auto a = std::make_shared<BenchEnvArgs>();
  auto* env = bench->add_subcommand("env", "Steps per second of a vector env with random actions");
  env->add_option("--env", a->env, "Env ID, or 'all'")->required();
  env->add_option("--num-envs", a->num_envs, "Env copies")->transform(IntegerFor(a->num_envs))->capture_default_str();
  env->add_option("--threads", a->threads, "Threads stepping them (1 = synchronous)")->transform(IntegerFor(a->threads))->capture_default_str();
  env->add_option("--steps", a->steps, "Total env steps to time (summed over envs)")->transform(IntegerFor(a->steps))->capture_default_str();
  env->add_option("--seed", a->seed, "Seed")->transform(IntegerFor(a->seed))->capture_default_str();
  env->add_flag("--json", a->json, "Print JSON");
  env->add_option("--kwarg", a->kwargs, "Env kwarg key=value (repeatable)");
  env->callback([a] { RunBenchEnv(*a); });
  AddBenchTrainCommand(*bench);
  AddBenchDistributedCommands(*bench);
  AddBenchSearchCommand(*bench);
  AddBenchRuntimeCommand(*bench);
  AddBenchServeCommand(*bench);
  AddBenchLmCommand(*bench);
}

}  // namespace rlforge::cli
