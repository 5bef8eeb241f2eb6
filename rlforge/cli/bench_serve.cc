// rlforge bench serve — a load generator against `rlforge serve` on loopback:
// throughput and latency quantiles at several concurrencies, with dynamic
// batching on and off, in one run. The server runs in this process on a
// free port; each client thread keeps one connection and sends one
// single-observation request at a time (a game's decision), observations
// recorded from the policy's env.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "rlforge/cli/common.h"
#include "rlforge/serve/server.h"
#include "rlforge/train/export.h"
#include "rlforge/train/runner.h"

namespace rlforge::cli {
namespace {

struct BenchServeArgs {
  std::string policy;
  std::vector<int> concurrency = {1, 16, 64};
  int64_t requests = 4000;   // per (mode, concurrency)
  double seconds = 10;       // at most, per (mode, concurrency)
  int64_t max_batch = 64;
  int64_t max_delay_us = 2000;
  bool binary = false;
  bool json = false;
};

struct Run {
  std::string mode;
  int concurrency = 0;
  int64_t ok = 0, failed = 0;
  double seconds = 0, p50 = 0, p99 = 0;
};

Run Load(int port, int concurrency, const BenchServeArgs& a, const RecordedObservations& rec, const std::string& mode) {
  std::atomic<int64_t> next{0}, failed{0};
  std::atomic<int> ready{0};
  std::mutex connecting;  // one connection at a time: the listen backlog is short
  std::atomic<bool> go{false};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(concurrency));
  std::chrono::steady_clock::time_point t0, stop_at;
  std::vector<std::thread> clients;
  for (int c = 0; c < concurrency; ++c)
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(10, 0);
      // Connections are opened before the clock starts (a game keeps its
      // connection; the listen backlog would otherwise add SYN retries).
      {
        std::lock_guard<std::mutex> l(connecting);
        for (int attempt = 0; attempt < 50 && !client.Get("/healthz"); ++attempt)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      ++ready;
      while (!go.load()) std::this_thread::yield();
      for (int64_t i; (i = next++) < a.requests && std::chrono::steady_clock::now() < stop_at;) {
        const int64_t row = i % rec.n;
        const float* obs = rec.obs.data() + row * rec.obs_size;
        const auto s = std::chrono::steady_clock::now();
        auto send = [&]() {
          if (a.binary) {
            std::string body(reinterpret_cast<const char*>(obs), static_cast<size_t>(rec.obs_size) * sizeof(float));
            if (rec.mask_size)
              body.append(reinterpret_cast<const char*>(rec.masks.data() + row * rec.mask_size), rec.mask_size);
            return client.Post(rec.mask_size ? "/v1/act?masks=1" : "/v1/act", body, "application/octet-stream");
          }
          nlohmann::json j = {{"observation", std::vector<float>(obs, obs + rec.obs_size)}};
          if (rec.mask_size)
            j["mask"] = std::vector<int>(rec.masks.begin() + row * rec.mask_size, rec.masks.begin() + (row + 1) * rec.mask_size);
          return client.Post("/v1/act", j.dump(), "application/json");
        };
        const httplib::Result res = send();
        if (res && res->status == 200)
          latencies[c].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count());
        else
          ++failed;
      }
    });
  while (ready.load() < concurrency) std::this_thread::yield();
  t0 = std::chrono::steady_clock::now();
  stop_at = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(a.seconds));
  go = true;
  for (auto& t : clients) t.join();
  Run r;
  r.mode = mode, r.concurrency = concurrency;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  r.ok = static_cast<int64_t>(all.size()), r.failed = failed.load();
  if (!all.empty()) r.p50 = all[all.size() / 2], r.p99 = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return r;
}

void RunBenchServe(const BenchServeArgs& a) {
  RLF_CHECK_ARG(!a.concurrency.empty(), "--concurrency needs at least one value");
  for (int c : a.concurrency) RLF_CHECK_ARG(c >= 1 && c <= 1024, "--concurrency values must be in 1..1024, got ", c);
  RLF_CHECK_ARG(a.requests >= 1 && a.requests <= 100000000, "--requests must be in 1..100000000");
  RLF_CHECK_ARG(a.seconds > 0 && a.seconds <= 3600, "--seconds must be in (0, 3600]");
  RLF_CHECK_ARG(a.max_batch >= 2 && a.max_batch <= 65536, "--max-batch must be in 2..65536 (batching off runs too)");
  RLF_CHECK_ARG(a.max_delay_us >= 0 && a.max_delay_us <= 1000000, "--max-delay-us must be in 0..1000000");
  LoadedRun run = LoadRun(a.policy);
  const runtime::Model model = run.algorithm->Export();
  RLF_CHECK_ARG(!(a.binary && model.recurrent()), "--binary: ", a.policy,
                " is a recurrent policy, and binary requests carry no state (the server refuses them); "
                "benchmark it with JSON requests");
  auto reference = run.algorithm->MakeNetworkPolicy();
  const RecordedObservations rec = RecordObservations(run.config, *reference, 1000, 5);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<Run> runs;
  for (const bool batching : {true, false}) {
    serve::ServerOptions o;
    o.port = 0, o.quiet = true, o.reload_poll_ms = 0;
    o.http_threads = *std::max_element(a.concurrency.begin(), a.concurrency.end()) + 8;
    o.timeout_ms = 10000;
    // Batch-size-1 serving gets a worker per core: its best.
    o.max_batch = batching ? a.max_batch : 1;
    o.max_delay_us = batching ? a.max_delay_us : 0;
    o.workers = batching ? 1 : cores;
    serve::ModelSource s;
    s.name = "bench", s.path = a.policy;
    s.load = [&model] { return model; };
    serve::Server server({s}, o);
    const int port = server.Start();
    const std::string mode = batching ? StrCat("batching (max ", o.max_batch, ", ", o.max_delay_us, " us)")
                                      : StrCat("batch size 1 (", cores, " workers)");
    for (int c : a.concurrency) runs.push_back(Load(port, c, a, rec, mode));
    server.Stop();
  }
  if (a.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : runs)
      j.push_back({{"mode", r.mode}, {"concurrency", r.concurrency}, {"requests", r.ok}, {"failed", r.failed},
                   {"requests_per_s", static_cast<double>(r.ok) / r.seconds}, {"p50_ms", r.p50 * 1e3}, {"p99_ms", r.p99 * 1e3}});
    std::printf("%s\n", nlohmann::json({{"policy", a.policy}, {"binary", a.binary}, {"runs", j}}).dump(2).c_str());
    return;
  }
  std::printf("%s %s policy served on loopback, %s single-observation requests, %d cores\n", model.algo.c_str(),
              model.env.c_str(), a.binary ? "binary" : "JSON", cores);
  std::printf("%-32s %12s %10s %14s %10s %10s\n", "mode", "concurrency", "requests", "requests/s", "p50 ms", "p99 ms");
  for (const auto& r : runs)
    std::printf("%-32s %12d %10lld %14.0f %10.3f %10.3f%s\n", r.mode.c_str(), r.concurrency,
                static_cast<long long>(r.ok), static_cast<double>(r.ok) / r.seconds, r.p50 * 1e3, r.p99 * 1e3,
                r.failed ? StrCat("  (", r.failed, " failed)").c_str() : "");
  for (size_t i = 0; i < runs.size() / 2; ++i) {
    const Run& on = runs[i];
    const Run& off = runs[i + runs.size() / 2];
    std::printf("concurrency %d: batching serves %.2fx the requests/s of batch size 1\n", on.concurrency,
                (static_cast<double>(on.ok) / on.seconds) / std::max(1e-9, static_cast<double>(off.ok) / off.seconds));
  }
}

}  // namespace

void AddBenchServeCommand(CLI::App& bench) {
  auto a = std::make_shared<BenchServeArgs>();
  auto* cmd = bench.add_subcommand("serve", "Load-test rlforge serve on loopback: throughput and p50/p99 latency, "
                                            "dynamic batching on and off");
  cmd->add_option("--policy", a->policy, "Run directory or checkpoint of a network agent")->required();
  cmd->add_option("--concurrency", a->concurrency, "Client connections, each one request at a time")
      ->capture_default_str()
      ->transform(IntegerFor(a->concurrency));
  cmd->add_option("--requests", a->requests, "Requests per mode and concurrency")
      ->capture_default_str()
      ->transform(IntegerFor(a->requests));
  cmd->add_option("--seconds", a->seconds, "Time limit per mode and concurrency")->capture_default_str();
  cmd->add_option("--max-batch", a->max_batch, "Batch rows with batching on")->capture_default_str()->transform(IntegerFor(a->max_batch));
  cmd->add_option("--max-delay-us", a->max_delay_us, "Batching delay")->capture_default_str()->transform(IntegerFor(a->max_delay_us));
  cmd->add_flag("--binary", a->binary, "Binary requests instead of JSON");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a] { RunBenchServe(*a); });
}

}  // namespace rlforge::cli
