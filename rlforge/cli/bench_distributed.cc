// rlforge bench allreduce | distributed — what data-parallel training costs.
//
// bench allreduce runs inside a job (rlforge launch --nproc N -- bench
// allreduce): the mean time of one Gloo all-reduce of float tensors of each
// size, on rank 0's clock, and the algorithmic bandwidth 2 (N - 1) / N x
// bytes / time (what a ring all-reduce moves per rank).
// bench distributed trains the same config as 1, 2, 4 ... ranks (a single
// process for 1, rlforge launch for more) in a temporary directory and
// reads progress.csv: steps/s, and per iteration the update time, the time
// in collectives and the bytes reduced.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "rlforge/algos/algorithm.h"
#include "rlforge/cli/common.h"
#include "rlforge/dist/communicator.h"
#include "rlforge/train/train_config.h"

namespace rlforge::cli {
namespace {

std::vector<int64_t> ParseList(const std::string& text, const char* flag, int64_t lo, int64_t hi) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    RLF_CHECK_ARG(!item.empty() && *end == '\0' && v >= lo && v <= hi, flag, " takes integers in [", lo, ", ", hi,
                  "] separated by commas, got '", text, "'");
    out.push_back(v);
  }
  RLF_CHECK_ARG(!out.empty(), flag, " is empty");
  return out;
}

struct AllreduceArgs {
  std::string sizes = "1,1024,16384,262144";
  int iters = 200;
  bool json = false;
};

void RunAllreduce(const AllreduceArgs& a) {
  const auto sizes = ParseList(a.sizes, "--sizes", 1, 1 << 28);
  RLF_CHECK_ARG(a.iters >= 1 && a.iters <= 1000000, "--iters must be in [1, 1000000], got ", a.iters);
  const auto job = dist::JobEnvFromEnvironment();
  RLF_CHECK_ARG(job, "bench allreduce runs as the ranks of a job: rlforge launch --nproc 2 -- bench allreduce");
  RLF_CHECK_ARG(job->world_size > 1, "bench allreduce needs a job of at least 2 ranks (this one has ",
                job->world_size, "): rlforge launch --nproc 2 -- bench allreduce");
  auto comm = dist::Communicator::Connect(*job, dist::DefaultTimeout());
  nlohmann::json rows = nlohmann::json::array();
  const int n = comm->world_size();
  for (int64_t size : sizes) {
    torch::Tensor t = torch::ones({size});
    for (int i = 0; i < 10; ++i) comm->AllReduceSum(t);  // warm-up
    comm->Barrier();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < a.iters; ++i) comm->AllReduceSum(t);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / a.iters;
    const double bytes = static_cast<double>(size) * 4;
    rows.push_back({{"floats", size},
                    {"bytes", bytes},
                    {"seconds", secs},
                    {"bus_gb_per_s", 2.0 * (n - 1) / n * bytes / secs / 1e9}});
  }
  if (!comm->root()) return;
  if (a.json) {
    std::printf("%s\n", nlohmann::json{{"ranks", n}, {"allreduce", rows}}.dump().c_str());
    return;
  }
  std::printf("all-reduce (Gloo, %d ranks, mean of %d):\n%12s %12s %12s %10s\n", n, a.iters, "floats", "bytes", "us",
              "GB/s");
  for (const auto& r : rows)
    std::printf("%12lld %12.0f %12.1f %10.3f\n", static_cast<long long>(r["floats"].get<int64_t>()),
                r["bytes"].get<double>(), r["seconds"].get<double>() * 1e6, r["bus_gb_per_s"].get<double>());
}

// Runs this binary with args; stdout and stderr into log. Returns the exit status.
int RunSelf(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = StartSelf(args, [&log] {
    if (FILE* f = std::fopen(log.c_str(), "w")) {
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
    }
    for (const char* v : {"WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(v);
  });
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The log's first error line (a rank's own message), else its last line.
std::string WhyFailed(const std::string& path) {
  std::ifstream f(path);
  std::string line, last;
  while (std::getline(f, line)) {
    if (line.find("error: ") != std::string::npos) return line;
    if (!line.empty()) last = line;
  }
  return last;
}

// progress.csv's columns -> values of every row.
std::map<std::string, std::vector<double>> ReadProgress(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::vector<std::string> header;
  std::map<std::string, std::vector<double>> cols;
  if (!std::getline(f, line)) return cols;
  std::stringstream hs(line);
  for (std::string h; std::getline(hs, h, ',');) header.push_back(h);
  while (std::getline(f, line)) {
    std::stringstream rs(line);
    std::string cell;
    for (size_t i = 0; i < header.size() && std::getline(rs, cell, ','); ++i)
      if (!cell.empty()) cols[header[i]].push_back(std::strtod(cell.c_str(), nullptr));
  }
  return cols;
}

double Mean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

struct DistributedArgs {
  std::string algo = "ppo", env = "CartPole-v1", preset, ranks = "1,2,4";
  int64_t steps = 50000;
  std::vector<std::string> sets;
  bool json = false;
};

void RunDistributed(const DistributedArgs& a) {
  const auto ranks = ParseList(a.ranks, "--ranks", 1, 256);
  // The first entry is the speedup's baseline, and each run has its own
  // directory: "2,1" compared 1 rank against 2, and "1,1" failed on the
  // second run's directory.
  for (size_t k = 1; k < ranks.size(); ++k)
    RLF_CHECK_ARG(ranks[k] > ranks[k - 1], "--ranks must be increasing (the first is the speedup's baseline), got '",
                  a.ranks, "'");
  RLF_CHECK_ARG(a.steps >= 1, "--steps must be >= 1, got ", a.steps);
  // The agent and its config are checked before any run (dqn failed after
  // its 1-rank run; q-learning "ran" with every column 0).
  const AlgoSpec& spec = FindAlgorithm(a.algo);
  if (!(spec.run_keys & kRunDistributed) && !spec.run_actor) {
    std::vector<std::string> able;
    for (const auto& s : Algorithms())
      if ((s.run_keys & kRunDistributed) || s.run_actor) able.push_back(s.name);
    throw InvalidArgument(StrCat("bench distributed: ", a.algo, " does not train as a job of several ranks; the agents "
                                 "that do: ", Join(able, ", ")));
  }
  TrainConfig::Resolve(a.algo, a.env, "", a.sets, a.steps, std::nullopt, a.preset);
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/rlforge_bench_dist.XXXXXX";
  RLF_CHECK(mkdtemp(tmpl) != nullptr, "bench distributed: cannot make a temporary directory");
  const std::string tmp = tmpl;
  nlohmann::json rows = nlohmann::json::array();
  double base_sps = 0;
  for (int64_t n : ranks) {
    const std::string out = StrCat(tmp, "/ranks", n);
    // impala: n actor processes feeding a learner (rank 0, no actor threads).
    const bool impala = a.algo == "impala";
    std::vector<std::string> args;
    if (impala)
      args = {"launch", "--nproc", std::to_string(n + 1), "--"};
    else if (n > 1)
      args = {"launch", "--nproc", std::to_string(n), "--"};
    args.insert(args.end(), {"train", "--algo", a.algo, "--env", a.env, "--steps", std::to_string(a.steps), "--out",
                             out, "--no-progress"});
    // The benchmark's own settings, unless --set gives the key (a key set
    // twice is refused).
    std::vector<std::string> own = {"eval_episodes=0", "checkpoint_interval=0"};
    if (impala) own.push_back("num_actors=0");
    for (const auto& s : own) {
      const std::string key = s.substr(0, s.find('=') + 1);
      if (std::none_of(a.sets.begin(), a.sets.end(), [&](const std::string& x) { return x.rfind(key, 0) == 0; }))
        args.insert(args.end(), {"--set", s});
    }
    if (!a.preset.empty()) args.insert(args.end(), {"--preset", a.preset});
    for (const auto& s : a.sets) args.insert(args.end(), {"--set", s});
    const std::string log = out + ".log";
    const int code = RunSelf(args, log);
    if (code != 0) {
      const std::string why = WhyFailed(log);
      fs::remove_all(tmp);
      const std::string what = StrCat("bench distributed: the run with ", n, impala ? " actor(s)" : " rank(s)",
                                      " failed (exit ", code, "): ", why);
      if (code == 2) throw InvalidArgument(what);  // the config, not the machine
      throw Error(what);
    }
    auto cols = ReadProgress(out + "/progress.csv");
    RLF_CHECK(!cols["steps_per_second"].empty(), "bench distributed: ", out, "/progress.csv has no rows");
    const double sps = cols["steps_per_second"].back();
    if (base_sps == 0) base_sps = sps;
    rows.push_back({{"ranks", n},
                    {"steps_per_second", sps},
                    {"speedup", sps / base_sps},
                    {"env_act_seconds_per_iteration", Mean(cols["time_env"]) + Mean(cols["time_act"])},
                    {"update_seconds_per_iteration", Mean(cols["time_update"])},
                    {"comm_seconds_per_iteration", Mean(cols["time_comm"])},
                    {"comm_bytes_per_iteration", Mean(cols["comm_bytes"])},
                    {"policy_lag", Mean(cols["policy_lag"])},
                    {"learner_wait_seconds_per_iteration", Mean(cols["time_wait"])},
                    {"iterations", cols["steps_per_second"].size()}});
  }
  fs::remove_all(tmp);
  if (a.json) {
    std::printf("%s\n", nlohmann::json{{"algo", a.algo}, {"env", a.env}, {"steps", a.steps}, {"runs", rows}}
                            .dump()
                            .c_str());
    return;
  }
  if (a.algo == "impala") {
    std::printf("impala on %s, %lld steps: the learner's ingest (env steps learned from per second) with N actor "
                "processes:\n%6s %12s %8s %12s %12s %10s\n",
                a.env.c_str(), static_cast<long long>(a.steps), "actors", "steps/s", "vs 1", "update ms", "wait ms",
                "lag");
    for (const auto& r : rows)
      std::printf("%6lld %12.0f %8.2f %12.3f %12.3f %10.2f\n", static_cast<long long>(r["ranks"].get<int64_t>()),
                  r["steps_per_second"].get<double>(), r["speedup"].get<double>(),
                  r["update_seconds_per_iteration"].get<double>() * 1e3,
                  r["learner_wait_seconds_per_iteration"].get<double>() * 1e3, r["policy_lag"].get<double>());
    return;
  }
  std::printf("%s on %s, %lld steps (progress.csv means per iteration; comm = time in collectives on rank 0):\n",
              a.algo.c_str(), a.env.c_str(), static_cast<long long>(a.steps));
  std::printf("%6s %12s %8s %12s %12s %12s %12s\n", "ranks", "steps/s", "speedup", "env+act ms", "update ms",
              "comm ms", "comm KB");
  for (const auto& r : rows)
    std::printf("%6lld %12.0f %8.2f %12.2f %12.2f %12.2f %12.1f\n", static_cast<long long>(r["ranks"].get<int64_t>()),
                r["steps_per_second"].get<double>(), r["speedup"].get<double>(),
                r["env_act_seconds_per_iteration"].get<double>() * 1e3,
                r["update_seconds_per_iteration"].get<double>() * 1e3,
                r["comm_seconds_per_iteration"].get<double>() * 1e3,
                r["comm_bytes_per_iteration"].get<double>() / 1e3);
}

}  // namespace

void AddBenchDistributedCommands(CLI::App& bench) {
  auto ar = std::make_shared<AllreduceArgs>();
  auto* c1 = bench.add_subcommand("allreduce",
                                  "Gloo all-reduce time per tensor size, inside a job: rlforge launch --nproc N -- "
                                  "bench allreduce");
  c1->add_option("--sizes", ar->sizes, "Tensor sizes in floats, comma-separated");
  c1->add_option("--iters", ar->iters, "All-reduces timed per size")->transform(IntegerFor(ar->iters));
  c1->add_flag("--json", ar->json, "One JSON object on stdout");
  c1->callback([ar] { RunAllreduce(*ar); });

  auto d = std::make_shared<DistributedArgs>();
  auto* c2 = bench.add_subcommand(
      "distributed",
      "Data-parallel training with 1, 2, 4 ... ranks: steps/s and time in communication per update (impala: the "
      "learner's ingest with 1, 2, 4 ... actor processes)");
  c2->add_option("--algo", d->algo, "Agent: ppo, a2c, recurrent-ppo (data-parallel) or impala (actor processes)");
  c2->add_option("--env", d->env, "Env ID");
  c2->add_option("--preset", d->preset, "Preset variant");
  c2->add_option("--steps", d->steps, "Env steps per run")->transform(IntegerFor(d->steps));
  c2->add_option("--ranks", d->ranks,
                 "Numbers of ranks, comma-separated and increasing (the first is the speedup's baseline; 1 runs "
                 "as a single process); for impala, numbers of actor processes feeding the learner");
  c2->add_option("--set", d->sets, "Config override key=value (repeatable)");
  c2->add_flag("--json", d->json, "One JSON object on stdout");
  c2->callback([d] { RunDistributed(*d); });
}

}  // namespace rlforge::cli
