// Replay sampling throughput (Google Benchmark): a full CartPole-sized buffer
// (4 float32 observations, 100k transitions, the zoo's DQN size), batches of
// 32 and 256, drawn uniformly, by recency, by priority (stratified sum-tree
// draw, gather, and the priority update a learner makes after its step), and
// uniformly with 3-step returns. Items are transitions delivered.
#include <benchmark/benchmark.h>

#include <cmath>

#include "rlforge/buffers/replay_buffer.h"
#include "rlforge/buffers/sum_tree.h"

namespace rlforge {
namespace {

constexpr int64_t kCapacity = 100000;

// A full buffer of CartPole-shaped transitions with episodes of ~20-200 steps.
const ReplayBuffer& FullBuffer() {
  static const ReplayBuffer buffer = [] {
    ReplayBuffer rb(kCapacity, 4 * sizeof(float), 0);
    Rng rng(0);
    float obs[4] = {}, next[4] = {};
    for (int64_t k = 0; k < kCapacity; ++k) {
      for (float& x : next) x = static_cast<float>(rng.Uniform(-1, 1));
      rb.Add(obs, next, static_cast<int64_t>(rng.UniformInt(2)), 1.0f, rng.Uniform() < 0.01, false, nullptr);
      std::copy(next, next + 4, obs);
    }
    return rb;
  }();
  return buffer;
}

enum class Sampler { kUniform, kRecency, kPrioritized, kUniformNStep };

void BM_ReplaySample(benchmark::State& state, Sampler sampler) {
  const ReplayBuffer& rb = FullBuffer();
  const int64_t batch = state.range(0);
  Rng rng(1);
  ReplayBuffer::Batch out;
  std::vector<int64_t> slots(batch);
  std::vector<float> weights(batch, 1.0f);
  SumTree tree(kCapacity);
  if (sampler == Sampler::kPrioritized)
    for (int64_t i = 0; i < kCapacity; ++i) tree.Set(i, std::pow(rng.Uniform() + 1e-6, 0.6));
  for (auto _ : state) {
    switch (sampler) {
      case Sampler::kUniform:
      case Sampler::kUniformNStep:
        for (auto& s : slots) s = rb.SampleUniform(rng);
        break;
      case Sampler::kRecency:
        rb.SampleRecent(rng, 0.99999, &slots);
        break;
      case Sampler::kPrioritized:
        SampleProportional(tree, rb.size(), 0.4, rng, &slots, &weights);
        break;
    }
    rb.Gather(slots, sampler == Sampler::kUniformNStep ? 3 : 1, 0.99, &out);
    if (sampler == Sampler::kPrioritized)
      for (int64_t k = 0; k < batch; ++k) tree.Set(slots[k], std::pow(rng.Uniform() + 1e-6, 0.6));
    benchmark::DoNotOptimize(out.reward.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK_CAPTURE(BM_ReplaySample, Uniform, Sampler::kUniform)->Arg(32)->Arg(256);
BENCHMARK_CAPTURE(BM_ReplaySample, Recency, Sampler::kRecency)->Arg(32)->Arg(256);
BENCHMARK_CAPTURE(BM_ReplaySample, Prioritized, Sampler::kPrioritized)->Arg(32)->Arg(256);
BENCHMARK_CAPTURE(BM_ReplaySample, UniformNStep3, Sampler::kUniformNStep)->Arg(32)->Arg(256);

}  // namespace
}  // namespace rlforge
