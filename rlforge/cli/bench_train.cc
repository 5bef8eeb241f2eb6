// rlforge bench train — end-to-end training speed and where the time goes.
#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "rlforge/cli/common.h"
#include "rlforge/train/runner.h"

namespace rlforge::cli {
namespace {

struct BenchTrainArgs {
  std::string algo = "ppo", env = "CartPole-v1";
  std::optional<int64_t> steps, seed;
  std::vector<std::string> sets;
  bool json = false;
};

// (in, out) of every Linear layer of the network.
std::vector<std::pair<int64_t, int64_t>> LinearShapes(torch::nn::Module& net) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& m : net.modules(/*include_self=*/false))
    if (auto* lin = dynamic_cast<torch::nn::LinearImpl*>(m.get()))
      out.push_back({lin->weight.size(1), lin->weight.size(0)});
  return out;
}

// GFLOP/s of raw torch::mm doing a forward and backward pass's products at
// these shapes and batch size (the ceiling for the update phase).
double RawMmGflops(const std::vector<std::pair<int64_t, int64_t>>& shapes, int64_t batch) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> x, w, g;
  double flops_per_round = 0;
  for (auto [in, out] : shapes) {
    x.push_back(torch::randn({batch, in}));
    w.push_back(torch::randn({in, out}));
    g.push_back(torch::randn({batch, out}));
    flops_per_round += 6.0 * batch * in * out;
  }
  int64_t rounds = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double secs = 0;
  while (secs < 0.5) {
    for (size_t k = 0; k < shapes.size(); ++k) {
      auto y = torch::mm(x[k], w[k]);            // forward
      auto dx = torch::mm(g[k], w[k].t());       // grad input
      auto dw = torch::mm(x[k].t(), g[k]);       // grad weight
    }
    ++rounds;
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return flops_per_round * rounds / secs / 1e9;
}

void RunBenchTrain(const BenchTrainArgs& a) {
  TrainConfig c = TrainConfig::Resolve(a.algo, a.env, "", a.sets, a.steps, a.seed);
  auto algo = BuildAlgorithm(c);  // as rlforge train builds it (reward_model and the like load)
  // What every agent reports of its time (rlforge/algos/algorithm.h's
  // metrics): env stepping, acting, updates, and the update's samples and
  // network-product flops; 0 where an agent has no such part.
  double t_env = 0, t_act = 0, t_update = 0, t_sample = 0, samples = 0, flops = 0, updates = 0;
  // Parts only some agents have, reported beside the common three.
  struct Part {
    const char* metric;
    const char* json;
    const char* label;
    const char* what;
    double seconds;
  };
  std::vector<Part> parts = {
      {"time_self_play", "seconds_self_play", "self-play", "search, its network evaluations, the moves", 0},
      {"time_wait", "seconds_wait", "waiting", "for actors' trajectories", 0}};
  // Whether the agent times its parts at all (A3C, REINFORCE and the
  // tabular agents do not: their split is "not measured", not zeros).
  bool split_measured = false;
  const auto t0 = std::chrono::steady_clock::now();
  while (algo->num_timesteps() < c.run.total_steps) {
    Metrics m = algo->Iterate();
    for (const char* key : {"time_env", "time_act", "time_update", "time_self_play", "time_wait"})
      split_measured |= m.count(key) > 0;
    auto get = [&m](const char* key) { return m.count(key) ? m[key] : 0.0; };
    t_env += get("time_env");
    t_act += get("time_act");
    t_update += get("time_update");
    t_sample += get("time_sample");
    for (Part& p : parts) p.seconds += get(p.metric);
    samples += get("update_samples");
    flops += get("update_flops");
    updates += m.count("gradient_steps") ? m["gradient_steps"] : (m.count("n_updates") ? m["n_updates"] : 1);
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t steps = algo->num_timesteps();
  nlohmann::json j = {{"algo", c.run.algo}, {"env", c.run.env}, {"steps", steps}, {"seconds", total},
                      {"steps_per_second", steps / total}, {"seconds_env", t_env}, {"seconds_act", t_act},
                      {"seconds_update", t_update}};
  if (!split_measured) j["seconds_env"] = j["seconds_act"] = j["seconds_update"] = nullptr;
  const bool has_network = algo->network() != nullptr;
  j["torch_threads"] = has_network ? nlohmann::json(c.run.torch_threads) : nlohmann::json(nullptr);
  double update_gflops = 0, mm_gflops = 0;
  if (torch::nn::Module* net = algo->network(); net && flops > 0 && t_update > 0) {
    update_gflops = flops / t_update / 1e9;
    const int64_t batch = static_cast<int64_t>(samples / std::max(updates, 1.0));
    mm_gflops = RawMmGflops(LinearShapes(*net), std::max<int64_t>(batch, 1));
    j["update_gflops"] = update_gflops;
    j["raw_mm_gflops_same_shapes"] = mm_gflops;
    j["update_batch"] = batch;
    j["gradient_steps"] = updates;
  }
  if (t_sample > 0) j["seconds_replay_sampling"] = t_sample;
  double t_parts = 0;
  for (const Part& p : parts) {
    if (p.seconds <= 0) continue;
    j[p.json] = p.seconds;
    t_parts += p.seconds;
  }
  if (a.json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  auto pct = [&](double t) { return 100.0 * t / total; };
  std::printf("%s %s: %lld steps in %.2f s = %.0f steps/s", c.run.algo.c_str(), c.run.env.c_str(),
              static_cast<long long>(steps), total, steps / total);
  if (has_network) std::printf(" (torch threads %lld)", static_cast<long long>(c.run.torch_threads));
  std::printf("\n");
  if (!split_measured) {
    std::printf("  time split: not measured (%s does not time its env steps, acting and updates apart)\n",
                c.run.algo.c_str());
    return;
  }
  std::printf("  env stepping  %7.3f s  %5.1f%%\n", t_env, pct(t_env));
  std::printf("  acting        %7.3f s  %5.1f%%  (inference, sampling, rollout bookkeeping, GAE)\n", t_act, pct(t_act));
  std::printf("  updates       %7.3f s  %5.1f%%\n", t_update, pct(t_update));
  if (t_sample > 0)
    std::printf("    of which replay sampling %7.3f s  %5.1f%% of the run\n", t_sample, pct(t_sample));
  for (const Part& p : parts)
    if (p.seconds > 0) std::printf("  %-13s %7.3f s  %5.1f%%  (%s)\n", p.label, p.seconds, pct(p.seconds), p.what);
  const double other = total - t_env - t_act - t_update - t_parts;
  std::printf("  other         %7.3f s  %5.1f%%\n", other, pct(other));
  if (update_gflops > 0)
    std::printf("  update phase: %.2f GFLOP/s of network products; raw torch::mm at the same shapes: %.2f GFLOP/s "
                "(%.0f%%)\n",
                update_gflops, mm_gflops, 100.0 * update_gflops / mm_gflops);
}

}  // namespace

void AddBenchTrainCommand(CLI::App& bench) {
  auto a = std::make_shared<BenchTrainArgs>();
  auto* cmd = bench.add_subcommand("train", "End-to-end training steps/s and the time split env/act/update");
  cmd->add_option("--algo", a->algo, "Algorithm")->capture_default_str();
  cmd->add_option("--env", a->env, "Env ID")->capture_default_str();
  cmd->add_option("--steps", a->steps, "Env steps (default: the preset's total_steps)")->transform(IntegerFor(a->steps));
  cmd->add_option("--seed", a->seed, "Seed")->transform(IntegerFor(a->seed));
  cmd->add_option("--set", a->sets, "Override a config key (repeatable)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a] { RunBenchTrain(*a); });
}

}  // namespace rlforge::cli
