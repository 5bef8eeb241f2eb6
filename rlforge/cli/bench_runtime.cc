// rlforge bench runtime — the torch-free runtime against libtorch on the same
// network, in one run: single-observation latency and batch throughput of
// greedy actions, for the float and int8 runtime, the TorchScript export
// (libtorch's JIT forward) and rlforge's own policy (libtorch modules).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>

#include <nlohmann/json.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include "rlforge/cli/common.h"
#include "rlforge/nn/blas.h"
#include "rlforge/train/export.h"
#include "rlforge/train/runner.h"

namespace rlforge::cli {
namespace {

struct BenchRuntimeArgs {
  std::string policy;
  int64_t batch = 256;
  int64_t observations = 1000;
  int64_t rounds = 5;
  double seconds = 0.2;
  int torch_threads = 1;
  bool json = false;
};

// Median over rounds of seconds per call of f, each round about `seconds`
// long; the candidates' rounds interleave (the machine's noise hits all).
std::vector<double> Interleaved(const std::vector<std::function<void(int64_t)>>& fs, int64_t rounds, double seconds) {
  std::vector<int64_t> calls(fs.size(), 1);
  // Warm-up first: TorchScript's profiling executor runs a graph's first
  // calls slowly while it records and optimizes (milliseconds each), which
  // short rounds (--seconds 0.05) then timed as the steady state.
  for (const auto& f : fs)
    for (int64_t i = 0; i < 20; ++i) f(i);
  // Calibrate: calls per round.
  for (size_t k = 0; k < fs.size(); ++k) {
    for (;;) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < calls[k]; ++i) fs[k](i);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (s >= seconds / 4 || calls[k] > (int64_t{1} << 30)) {
        calls[k] = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(calls[k]) * seconds / std::max(s, 1e-9)));
        break;
      }
      calls[k] *= 4;
    }
  }
  std::vector<std::vector<double>> per(fs.size());
  for (int64_t r = 0; r < rounds; ++r)
    for (size_t k = 0; k < fs.size(); ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < calls[k]; ++i) fs[k](i);
      per[k].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                       static_cast<double>(calls[k]));
    }
  std::vector<double> out;
  for (auto& v : per) {
    std::sort(v.begin(), v.end());
    out.push_back(v[v.size() / 2]);
  }
  return out;
}

// Multiply-adds of one forward pass of the policy chain, recurrent core
// included (what acting needs).
double MacsPerRow(const runtime::Model& m) {
  double macs = 0;
  for (const auto* chain : {&m.encoder, &m.rnn, &m.shared, &m.policy})
    for (const auto& l : *chain) {
      const double w = l.kind == runtime::LayerKind::kLinear ? static_cast<double>(l.in * l.out)
                                                             : static_cast<double>(l.out * l.in * l.kernel * l.kernel *
                                                                                   l.out_h() * l.out_w());
      macs += w;
    }
  return macs;
}

void RunBenchRuntime(const BenchRuntimeArgs& a) {
  RLF_CHECK_ARG(a.batch >= 1 && a.batch <= 65536, "--batch must be in 1..65536, got ", a.batch);
  RLF_CHECK_ARG(a.observations >= 1 && a.observations <= 1000000, "--observations must be in 1..1000000");
  RLF_CHECK_ARG(a.rounds >= 1 && a.rounds <= 1000, "--rounds must be in 1..1000");
  RLF_CHECK_ARG(a.seconds > 0 && a.seconds <= 60, "--seconds must be in (0, 60]");
  RLF_CHECK_ARG(a.torch_threads >= 1 && a.torch_threads <= 256, "--torch-threads must be in 1..256");
  SetComputeThreads(a.torch_threads);
  LoadedRun run = LoadRun(a.policy);
  const runtime::Model model = run.algorithm->Export();
  runtime::Model qmodel = model;
  runtime::Quantize(&qmodel);
  runtime::Policy rt(model), rq(qmodel);
  auto reference = run.algorithm->MakeNetworkPolicy();
  const RecordedObservations rec = RecordObservations(run.config, *reference, a.observations, 3);
  auto env = run.config.Context().MakeEnv();
  const Space& as = env->action_space();
  const int64_t n = rec.n, B = a.batch;
  const std::string pt = (std::filesystem::temp_directory_path() / ("rlforge_bench_" + std::to_string(::getpid()) + ".pt")).string();
  WriteTorchScript(model, pt);
  torch::jit::Module ts = torch::jit::load(pt);
  std::filesystem::remove(pt);
  // Inputs: the recorded rows, and batches of B rows cycled from them.
  std::vector<float> batch_obs(static_cast<size_t>(B * rec.obs_size));
  std::vector<uint8_t> batch_raw(static_cast<size_t>(B) * (rec.raw.size() / static_cast<size_t>(n)));
  std::vector<uint8_t> batch_masks(static_cast<size_t>(B * rec.mask_size));
  const size_t raw_row = rec.raw.size() / static_cast<size_t>(n);
  for (int64_t i = 0; i < B; ++i) {
    const int64_t src = i % n;
    std::copy_n(rec.obs.begin() + src * rec.obs_size, rec.obs_size, batch_obs.begin() + i * rec.obs_size);
    std::copy_n(rec.raw.begin() + src * static_cast<int64_t>(raw_row), raw_row, batch_raw.begin() + i * static_cast<int64_t>(raw_row));
    if (rec.mask_size)
      std::copy_n(rec.masks.begin() + src * rec.mask_size, rec.mask_size, batch_masks.begin() + i * rec.mask_size);
  }
  rt.Reserve(B), rq.Reserve(B);
  const int64_t k = rt.action_size();
  std::vector<int64_t> ai(static_cast<size_t>(B * k));
  std::vector<float> af(static_cast<size_t>(B * k));
  std::vector<uint8_t> araw(static_cast<size_t>(B) * as.nbytes());
  auto runtime_call = [&](runtime::Policy& p, const float* obs, const uint8_t* masks, int64_t rows) {
    if (p.discrete()) p.Act(obs, rows, masks, ai.data());
    else p.Act(obs, rows, af.data());
  };
  std::vector<int64_t> shape1{1}, shapeB{B};
  shape1.insert(shape1.end(), rec.obs_shape.begin(), rec.obs_shape.end());
  shapeB.insert(shapeB.end(), rec.obs_shape.begin(), rec.obs_shape.end());
  auto ts_call = [&](float* obs, uint8_t* masks, const std::vector<int64_t>& shape) {
    torch::NoGradGuard g;
    std::vector<torch::jit::IValue> in{torch::from_blob(obs, shape)};
    if (masks) in.emplace_back(torch::from_blob(masks, {shape[0], rec.mask_size}, torch::kUInt8));
    auto out = ts.forward(in).toGenericDict().at("action").toTensor();
    return out.numel();
  };
  auto row = [&](int64_t i) { return i % n; };
  const std::vector<std::function<void(int64_t)>> single = {
      [&](int64_t i) {
        runtime_call(rt, rec.obs.data() + row(i) * rec.obs_size, rec.mask_size ? rec.masks.data() + row(i) * rec.mask_size : nullptr, 1);
      },
      [&](int64_t i) {
        runtime_call(rq, rec.obs.data() + row(i) * rec.obs_size, rec.mask_size ? rec.masks.data() + row(i) * rec.mask_size : nullptr, 1);
      },
      [&](int64_t i) {
        ts_call(const_cast<float*>(rec.obs.data()) + row(i) * rec.obs_size,
                rec.mask_size ? const_cast<uint8_t*>(rec.masks.data()) + row(i) * rec.mask_size : nullptr, shape1);
      },
      [&](int64_t i) {
        reference->Act(rec.raw.data() + row(i) * static_cast<int64_t>(raw_row),
                       rec.mask_size ? rec.masks.data() + row(i) * rec.mask_size : nullptr, 1, araw.data());
      }};
  const std::vector<std::function<void(int64_t)>> batched = {
      [&](int64_t) { runtime_call(rt, batch_obs.data(), rec.mask_size ? batch_masks.data() : nullptr, B); },
      [&](int64_t) { runtime_call(rq, batch_obs.data(), rec.mask_size ? batch_masks.data() : nullptr, B); },
      [&](int64_t) { ts_call(batch_obs.data(), rec.mask_size ? batch_masks.data() : nullptr, shapeB); },
      [&](int64_t) {
        reference->Act(batch_raw.data(), rec.mask_size ? batch_masks.data() : nullptr, static_cast<int>(B), araw.data());
      }};
  const std::vector<double> lat = Interleaved(single, a.rounds, a.seconds);
  const std::vector<double> thr = Interleaved(batched, a.rounds, a.seconds);
  // The ceiling: libtorch's (OpenBLAS's) matrix multiply at the widest layer's
  // shape, batch B, in multiply-adds per second.
  int64_t wi = 0, wo = 0;
  for (const auto* chain : {&model.shared, &model.policy})
    for (const auto& l : *chain)
      if (l.kind == runtime::LayerKind::kLinear && l.in * l.out > wi * wo) wi = l.in, wo = l.out;
  double ceiling = 0;
  if (wi > 0) {
    auto x = torch::randn({B, wi}), w = torch::randn({wi, wo});
    const auto t = Interleaved({[&](int64_t) { torch::mm(x, w); }}, a.rounds, a.seconds);
    ceiling = static_cast<double>(B * wi * wo) / t[0];
  }
  const double macs = MacsPerRow(model);
  const char* names[] = {"runtime (float)", "runtime (int8)", "libtorch TorchScript", "rlforge policy (libtorch)"};
  const char* keys[] = {"runtime", "runtime_int8", "torchscript", "rlforge_policy"};
  if (a.json) {
    nlohmann::json j = {{"policy", a.policy}, {"algo", model.algo}, {"env", model.env}, {"batch", B},
                        {"macs_per_row", macs}, {"matmul_macs_per_s", ceiling}, {"torch_threads", a.torch_threads}};
    for (int i = 0; i < 4; ++i)
      j[keys[i]] = {{"single_latency_us", lat[i] * 1e6}, {"batch_rows_per_s", static_cast<double>(B) / thr[i]}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("%s %s policy: %.0f multiply-adds per observation; batch %lld; medians of %lld interleaved rounds\n",
              model.algo.c_str(), model.env.c_str(), macs, static_cast<long long>(B), static_cast<long long>(a.rounds));
  // Latency ratio (time: above 1 is slower than the float runtime) and
  // throughput ratio (speed: above 1 is faster).
  std::printf("%-28s %14s %10s %16s %10s %12s\n", "", "single (us)", "time/float", "batch rows/s", "speed/float",
              "GMAC/s");
  for (int i = 0; i < 4; ++i)
    std::printf("%-28s %14.2f %9.2fx %16.0f %9.2fx %12.2f\n", names[i], lat[i] * 1e6, lat[i] / lat[0],
                static_cast<double>(B) / thr[i], thr[0] / thr[i], macs * static_cast<double>(B) / thr[i] / 1e9);
  if (ceiling > 0)
    std::printf("ceiling: torch::mm at [%lld x %lld] x [%lld x %lld] (the widest linear layer; convolutions may run "
                "faster) runs %.2f GMAC/s; the float runtime's batch reaches %.0f%% of it\n",
                static_cast<long long>(B), static_cast<long long>(wi), static_cast<long long>(wi),
                static_cast<long long>(wo), ceiling / 1e9, 100.0 * macs * static_cast<double>(B) / thr[0] / ceiling);
}

}  // namespace

void AddBenchRuntimeCommand(CLI::App& bench) {
  auto a = std::make_shared<BenchRuntimeArgs>();
  auto* cmd = bench.add_subcommand(
      "runtime", "Greedy-action latency and batch throughput: the torch-free runtime against libtorch, same network");
  cmd->add_option("--policy", a->policy, "Run directory or checkpoint of a network agent")->required();
  cmd->add_option("--batch", a->batch, "Rows of the throughput batch")->transform(IntegerFor(a->batch))->capture_default_str();
  cmd->add_option("--observations", a->observations, "Observations recorded in the run's env and cycled through")
      ->transform(IntegerFor(a->observations))
      ->capture_default_str();
  cmd->add_option("--rounds", a->rounds, "Interleaved timing rounds (the median is reported)")
      ->transform(IntegerFor(a->rounds))
      ->capture_default_str();
  cmd->add_option("--seconds", a->seconds, "Length of one round of one candidate")->capture_default_str();
  cmd->add_option("--torch-threads", a->torch_threads, "libtorch intra-op threads")
      ->transform(IntegerFor(a->torch_threads))
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a] { RunBenchRuntime(*a); });
}

}  // namespace rlforge::cli
