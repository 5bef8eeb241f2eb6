// rlforge bench search — MCTS simulations per second over the true simulator
// with a policy-value network, one leaf per network call versus batched leaves.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "rlforge/algos/search/alphazero.h"
#include "rlforge/cli/common.h"
#include "rlforge/env/registry.h"
#include "rlforge/nn/policy.h"
#include "rlforge/train/runner.h"

namespace rlforge::cli {
namespace {

struct BenchSearchArgs {
  std::string env = "ConnectFour-v0";
  int simulations = 800;
  int batch = 16;
  int positions = 20;
  uint64_t seed = 0;
  std::vector<int64_t> net_arch = {256, 256};
  int torch_threads = 1;
  bool json = false;
};

struct Timing {
  double sims_per_second = 0, calls_per_search = 0, seconds = 0;
};

void RunBenchSearch(const BenchSearchArgs& a) {
  // At least 2: the batched run must have more than one leaf to batch.
  RLF_CHECK_ARG(a.simulations >= 2 && a.simulations <= search::MctsConfig::kMaxSimulations, "--simulations must be in 2..",
                search::MctsConfig::kMaxSimulations, ", got ", a.simulations);
  RLF_CHECK_ARG(a.batch >= 2, "--batch must be >= 2 (it is compared with batch 1), got ", a.batch);
  RLF_CHECK_ARG(a.positions >= 1, "--positions must be >= 1, got ", a.positions);
  RLF_CHECK_ARG(a.torch_threads >= 1, "--torch-threads must be >= 1, got ", a.torch_threads);
  SetComputeThreads(a.torch_threads);
  auto env = Make(a.env);
  RLF_CHECK_ARG(env->num_players() == 2 && env->has_action_mask(),
                "bench search runs on the two-player board games (TicTacToe-v0, ConnectFour-v0), not ", a.env);
  const int64_t obs_size = env->observation_space().size();
  const int A = static_cast<int>(env->action_space().n());
  torch::manual_seed(a.seed);
  for (int64_t h : a.net_arch)
    RLF_CHECK_ARG(h >= 1 && h <= kMaxLayerWidth, "--net-arch sizes must be in 1..", kMaxLayerWidth, ", got ", h);
  RLF_CHECK_ARG(!a.net_arch.empty(), "--net-arch needs at least one hidden layer");
  search::PolicyValueNet net(obs_size, A, a.net_arch);
  // Positions: random legal play from the start, a few moves deep each.
  Rng rng(a.seed);
  std::vector<std::unique_ptr<Env>> states;
  std::vector<std::vector<float>> observations;
  std::vector<float> obs(obs_size);
  std::vector<uint8_t> mask(A);
  for (int p = 0; p < a.positions; ++p) {
    env->Reset(a.seed + p, obs.data());
    const int depth = static_cast<int>(rng.UniformInt(8));
    for (int d = 0; d < depth; ++d) {
      env->ActionMask(mask.data());
      int64_t act;
      do act = static_cast<int64_t>(rng.UniformInt(A));
      while (!mask[act]);
      if (env->Step(&act, obs.data()).done()) env->Reset(a.seed + 1000 + p, obs.data());
    }
    states.push_back(env->Clone());
    observations.push_back(obs);
  }
  auto time_batch = [&](int batch) {
    search::MctsConfig c;
    c.simulations = a.simulations;
    c.batch_size = batch;
    c.noise_fraction = 0;
    c.minmax_normalize = false;
    search::EnvSearchModel model(net, A);
    Rng r(a.seed);
    int64_t sims = 0, calls = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int p = 0; p < a.positions; ++p) {
      model.Clear();
      search::Mcts mcts(c);
      mcts.SetRoot(model.Root(*states[p], observations[p].data()));
      const auto res = mcts.Search(model, r, false);
      sims += res.simulations, calls += res.model_calls;
    }
    Timing t;
    t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    t.sims_per_second = sims / t.seconds;
    t.calls_per_search = static_cast<double>(calls) / a.positions;
    return t;
  };
  // A search has no more leaves than simulations: a larger --batch is that.
  const int batch = std::min(a.batch, a.simulations);
  time_batch(batch);  // warm-up
  const Timing one = time_batch(1), many = time_batch(batch);
  const double speedup = many.sims_per_second / one.sims_per_second;
  if (a.json) {
    nlohmann::json j = {{"env", a.env},
                        {"simulations", a.simulations},
                        {"positions", a.positions},
                        {"net_arch", a.net_arch},
                        {"unbatched_sims_per_second", one.sims_per_second},
                        {"batched_sims_per_second", many.sims_per_second},
                        {"batch", batch},
                        {"requested_batch", a.batch},
                        {"batched_calls_per_search", many.calls_per_search},
                        {"speedup", speedup}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("%s: MCTS with a [%s] policy-value net, %d simulations x %d positions (torch threads %d)\n",
              a.env.c_str(), [&] {
                std::string s;
                for (size_t i = 0; i < a.net_arch.size(); ++i) s += (i ? "," : "") + std::to_string(a.net_arch[i]);
                return s;
              }().c_str(), a.simulations, a.positions, a.torch_threads);
  std::printf("  one leaf per network call: %10.0f simulations/s (%.0f calls per search)\n", one.sims_per_second,
              one.calls_per_search);
  std::printf("  batched (%2d leaves%s):       %10.0f simulations/s (%.0f calls per search)\n", batch,
              batch < a.batch ? ", all of a search's" : "",
              many.sims_per_second, many.calls_per_search);
  std::printf("  speed-up from batching: %.2fx\n", speedup);
}

}  // namespace

void AddBenchSearchCommand(CLI::App& bench) {
  auto a = std::make_shared<BenchSearchArgs>();
  auto* cmd = bench.add_subcommand("search", "MCTS simulations per second, with and without batched evaluation");
  cmd->add_option("--env", a->env, "A two-player board game")->capture_default_str();
  cmd->add_option("--simulations", a->simulations, "Simulations per search")->transform(IntegerFor(a->simulations))->capture_default_str();
  cmd->add_option("--batch", a->batch, "Leaves per network call in the batched run (at most --simulations)")->transform(IntegerFor(a->batch))->capture_default_str();
  cmd->add_option("--positions", a->positions, "Searches, each from a different position")->transform(IntegerFor(a->positions))->capture_default_str();
  cmd->add_option("--net-arch", a->net_arch, "Hidden layers of the policy-value net")->transform(IntegerFor(a->net_arch))->capture_default_str();
  cmd->add_option("--torch-threads", a->torch_threads, "libtorch intra-op threads")->transform(IntegerFor(a->torch_threads))->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed")->transform(IntegerFor(a->seed))->capture_default_str();
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a] { RunBenchSearch(*a); });
}

}  // namespace rlforge::cli
