// rlforge export — a trained policy as an rlf file (the torch-free runtime),
// TorchScript or ONNX; checked against rlforge's own actions before it is
// written.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "rlforge/cli/common.h"
#include "rlforge/train/export.h"
#include "rlforge/train/runner.h"

namespace rlforge::cli {
namespace {

struct ExportArgs {
  std::string run, format, out, quantize;
  int64_t check = 2000;
  uint64_t seed = 0;
  bool describe = false;
};

// Seconds per single-observation greedy action of p over the recorded rows.
double SecondsPerAction(runtime::Policy& p, const RecordedObservations& r) {
  int64_t a = 0;
  std::vector<int64_t> multi(static_cast<size_t>(p.action_size()));
  std::vector<float> box(static_cast<size_t>(p.action_size()));
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < r.n; ++i) {
    const float* o = r.obs.data() + i * r.obs_size;
    const uint8_t* m = r.mask_size ? r.masks.data() + i * r.mask_size : nullptr;
    if (!p.discrete()) p.Act(o, 1, box.data());
    else p.Act(o, 1, m, multi.data()), a += multi[0];
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (a == -1) std::puts("");  // keeps the loop from being optimized away
  return s / static_cast<double>(r.n);
}

void RunExport(ExportArgs a) {
  a.format = ExportFormatFor(a.format, a.out, "--format");
  RLF_CHECK_ARG(a.quantize.empty() || a.quantize == "int8", "--quantize takes int8, got '", a.quantize, "'");
  RLF_CHECK_ARG(a.quantize.empty() || a.format == "rlf",
                "--quantize int8 is for the rlf runtime; TorchScript and ONNX exports are float32");
  RLF_CHECK_ARG(a.check >= 0 && a.check <= 1000000, "--check must be in 0..1000000, got ", a.check);
  RLF_CHECK_ARG(!a.out.empty(), "--out must name a file");
  // Where it will be written, before the check spends its time.
  CheckOutputFile("--out", a.out);
  LoadedRun run = LoadRun(a.run);
  runtime::Model model = run.algorithm->Export();
  runtime::Policy exported(model);
  // The check: the exported float model against rlforge's own greedy policy.
  RecordedObservations rec;
  if (a.check > 0) {
    auto reference = run.algorithm->MakeNetworkPolicy();
    rec = RecordObservations(run.config, *reference, a.check, a.seed + 0xE4E4);
    auto env = run.config.Context().MakeEnv();
    const Agreement g = CompareActions(*reference, exported, rec, env->action_space());
    std::printf("check: the exported model's greedy actions equal rlforge's on %lld of %lld recorded observations",
                static_cast<long long>(g.same), static_cast<long long>(g.n));
    if (!exported.discrete()) std::printf(" (largest difference %.3g)", g.max_abs_diff);
    std::printf("\n");
    RLF_CHECK(g.same == g.n, "the exported model disagrees with rlforge on ", g.n - g.same, " of ", g.n,
              " observations; nothing was written");
  }
  if (a.quantize == "int8") {
    runtime::Model q = model;
    runtime::Quantize(&q);
    runtime::Policy quantized(q);
    if (a.check > 0) {
      const Agreement g = CompareActions(exported, quantized, rec);
      // Alternating timings, the best of three each.
      double tf = 1e9, tq = 1e9;
      for (int k = 0; k < 3; ++k) {
        tf = std::min(tf, SecondsPerAction(exported, rec));
        tq = std::min(tq, SecondsPerAction(quantized, rec));
      }
      // Discrete actions agree or not; Box actions are near or far: their largest difference says how far.
      if (exported.discrete())
        std::printf("int8: greedy actions agree with the float model on %.2f%% of %lld observations", 100.0 * g.fraction(),
                    static_cast<long long>(g.n));
      else
        std::printf("int8: actions differ from the float model's by at most %.3g over %lld observations",
                    g.max_abs_diff, static_cast<long long>(g.n));
      std::printf("; %.2f us per action against %.2f us (%.2fx)\n", tq * 1e6, tf * 1e6, tf / tq);
    }
    model = std::move(q);
  }
  WriteExport(model, a.format, a.out);
  if (a.format == "torchscript" && a.check > 0) {
    runtime::Policy p(model);
    const Agreement g = CompareWithTorchScript(a.out, p, rec);
    std::printf("check: torch::jit::load of %s gives the same actions on %lld of %lld\n", a.out.c_str(),
                static_cast<long long>(g.same), static_cast<long long>(g.n));
    if (g.same != g.n) {
      std::filesystem::remove(a.out);
      throw Error(StrCat("the TorchScript export disagrees with the model on ", g.n - g.same, " of ", g.n,
                         " observations; ", a.out, " was removed"));
    }
  }
  std::printf("wrote %s (%s, %lld bytes): %s on %s, %lld steps\n", a.out.c_str(), a.format.c_str(),
              static_cast<long long>(std::filesystem::file_size(a.out)), model.algo.c_str(), model.env.c_str(),
              static_cast<long long>(model.train_steps));
  if (a.describe) std::printf("%s\n", model.Describe().c_str());
}

}  // namespace

void AddExportCommand(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export", "Export a trained policy: rlf (the torch-free runtime), TorchScript or ONNX (docs/deploy.md)");
  cmd->add_option("run", a->run, "Run directory or checkpoint file")->required();
  cmd->add_option("--format", a->format,
                  "rlf, torchscript or onnx (default: from --out's extension, .rlf, .onnx, .pt or .ts; rlf for others)");
  cmd->add_option("--out", a->out, "Output file")->required();
  cmd->add_option("--quantize", a->quantize, "int8: int8 weights (rlf only); reports agreement and speed-up");
  cmd->add_option("--check", a->check,
                  "Observations recorded in the run's env on which the export must act as rlforge does (0: skip)")
      ->capture_default_str()
      ->transform(IntegerFor(a->check));
  cmd->add_option("--seed", a->seed, "Seed of the recorded episodes")->capture_default_str()->transform(IntegerFor(a->seed));
  cmd->add_flag("--describe", a->describe, "Print the model's description (inputs, outputs, layers) as JSON");
  cmd->callback([a] { RunExport(*a); });
}

}  // namespace rlforge::cli
