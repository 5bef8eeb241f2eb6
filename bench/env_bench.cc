// Micro benchmarks of the env layer (Google Benchmark). The headline figure,
// vector-env steps per second, comes from `rlforge bench env`; these isolate
// one env step, space sampling and the thread pool's round trip.
#include <benchmark/benchmark.h>

#include "rlforge/core/thread_pool.h"
#include "rlforge/env/registry.h"
#include "rlforge/env/vector_env.h"

namespace rlforge {
namespace {

void BM_SingleEnvStep(benchmark::State& state, const char* id) {
  auto env = Make(id, {{"max_episode_steps", "0"}});
  std::vector<uint8_t> obs(env->observation_space().nbytes()), act(env->action_space().nbytes());
  Rng rng(0);
  env->Reset(0, obs.data());
  for (auto _ : state) {
    env->action_space().Sample(rng, act.data());
    if (env->Step(act.data(), obs.data()).done()) env->Reset(std::nullopt, obs.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_SingleEnvStep, CartPole, "CartPole-v1");
BENCHMARK_CAPTURE(BM_SingleEnvStep, Acrobot, "Acrobot-v1");
BENCHMARK_CAPTURE(BM_SingleEnvStep, Pendulum, "Pendulum-v1");
BENCHMARK_CAPTURE(BM_SingleEnvStep, Taxi, "Taxi-v4");

void BM_VectorEnvStep(benchmark::State& state) {
  VectorEnvOptions opt;
  opt.num_envs = static_cast<int>(state.range(0));
  opt.num_threads = static_cast<int>(state.range(1));
  auto envs = VectorEnv::Make("CartPole-v1", {}, opt);
  std::vector<int64_t> act(opt.num_envs, 1);
  envs->Reset(0);
  for (auto _ : state) envs->Step(act.data());
  state.SetItemsProcessed(state.iterations() * opt.num_envs);
}
BENCHMARK(BM_VectorEnvStep)->Args({256, 1})->Args({4096, 1})->Args({4096, 2})->UseRealTime();

void BM_ThreadPoolRound(benchmark::State& state) {
  ThreadPool pool(2);
  for (auto _ : state) pool.ParallelFor(2, [](int) {});
}
BENCHMARK(BM_ThreadPoolRound)->UseRealTime();

void BM_DiscreteSample(benchmark::State& state) {
  const Space s = Space::Discrete(6);
  Rng rng(0);
  int64_t v;
  for (auto _ : state) {
    s.Sample(rng, &v);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_DiscreteSample);

}  // namespace
}  // namespace rlforge

BENCHMARK_MAIN();
