#include "rlforge/train/runner.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "rlforge/core/file_io.h"
#include "rlforge/env/registry.h"
#include "rlforge/nn/blas.h"
#include "rlforge/train/tensorboard.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

std::string FormatCount(double v) {
  std::string s = std::to_string(static_cast<int64_t>(v));
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
  return s;
}

std::string CsvValue(double v) {
  if (std::isnan(v)) return "";
  std::ostringstream os;
  os.precision(8);
  os << v;
  return os.str();
}

// Keeps the rows of progress.csv up to `timesteps` (for resume) and returns
// the header and the last kept row's episode count.
std::vector<std::string> TrimCsv(const std::string& path, int64_t timesteps, int64_t* episodes) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  if (lines.empty()) return {};
  std::vector<std::string> header;
  std::stringstream hs(lines[0]);
  std::string col;
  while (std::getline(hs, col, ',')) header.push_back(col);
  std::string kept = lines[0] + "\n";
  for (size_t i = 1; i < lines.size(); ++i) {
    std::stringstream rs(lines[i]);
    std::string ts, ep;
    std::getline(rs, ts, ',');
    if (ts.empty() || std::stoll(ts) > timesteps) break;
    std::getline(rs, ep, ',');  // "episodes" is the second column
    if (!ep.empty()) *episodes = std::stoll(ep);
    kept += lines[i] + "\n";
  }
  WriteFileAtomically(path, kept);
  return header;
}

class ProgressLine {
 public:
  ProgressLine(bool enabled, const RunConfig& run) : enabled_(enabled && isatty(fileno(stderr))), run_(run) {}
  void Update(int64_t steps, double sps, double ret) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100) && steps < run_.total_steps) return;
    last_ = now;
    const double eta = sps > 0 ? (run_.total_steps - steps) / sps : 0;
    std::fprintf(stderr, "\r[%s %s] %s/%s steps  %s steps/s  ETA %.0fs  return %.2f   ", run_.algo.c_str(),
                 run_.env.c_str(), FormatCount(steps).c_str(), FormatCount(run_.total_steps).c_str(),
                 FormatCount(sps).c_str(), std::max(0.0, eta), ret);
    std::fflush(stderr);
  }
  void Finish() {
    if (enabled_) std::fprintf(stderr, "\n");
  }

 private:
  bool enabled_;
  RunConfig run_;
  std::chrono::steady_clock::time_point last_{};
};

// Evaluates the algorithm's current policy on fresh envs, always from the
// same seed, so that periodic evaluations compare models on the same starts.
EpisodeStats EvaluateNow(const RunConfig& run, Algorithm& algo, int64_t episodes) {
  if (episodes <= 0) return {};
  auto probe = Make(run.env, run.env_kwargs);
  if (probe->num_players() > 1) {
    // Two-player games: against uniformly random legal play, either side in
    // turn; success_rate is the win rate.
    auto policy = algo.MakePolicy(run.eval_deterministic);
    RandomPolicy opponent(probe->action_space(), static_cast<uint64_t>(run.seed) + 2'000'000, true);
    return EvaluateMatch(*probe, *policy, opponent, episodes, static_cast<uint64_t>(run.seed) + 1'000'000).stats;
  }
  VectorEnvOptions opt;
  opt.num_envs = static_cast<int>(std::min<int64_t>(8, episodes));
  auto envs = VectorEnv::Make(run.env, run.env_kwargs, opt);
  auto policy = algo.MakePolicy(run.eval_deterministic);
  return Evaluate(*envs, *policy, episodes, static_cast<uint64_t>(run.seed) + 1'000'000);
}

// Keeps evaluations.csv rows up to `timesteps` (on resume) and returns the
// best mean return among them, with its step.
std::optional<std::pair<double, int64_t>> TrimEvaluations(const std::string& path, int64_t timesteps) {
  std::ifstream in(path);
  std::string line, kept;
  std::optional<std::pair<double, int64_t>> best;
  if (!std::getline(in, line)) return best;
  kept = line + "\n";
  while (std::getline(in, line)) {
    std::stringstream rs(line);
    std::string ts, ret;
    std::getline(rs, ts, ',');
    std::getline(rs, ret, ',');
    if (ts.empty() || std::stoll(ts) > timesteps) break;
    const double r = std::stod(ret);
    if (!best || r > best->first) best = std::make_pair(r, std::stoll(ts));
    kept += line + "\n";
  }
  in.close();
  WriteFileAtomically(path, kept);
  return best;
}

nlohmann::json EvalJson(const RunConfig& run, const EpisodeStats& s, int64_t timesteps) {
  nlohmann::json j = {{"env", run.env},          {"algo", run.algo},
                      {"timesteps", timesteps},  {"deterministic", run.eval_deterministic},
                      {"episodes", s.episodes},  {"mean_return", s.mean_return},
                      {"std_return", s.std_return}, {"mean_length", s.mean_length},
                      {"std_length", s.std_length}};
  if (s.success_rate) j["success_rate"] = *s.success_rate;
  return j;
}

TrainResult RunLoop(TrainConfig& config, const std::string& dir, std::unique_ptr<Algorithm> algo, bool resumed,
                    const RunnerOptions& options) {
  const RunConfig& run = config.run;
  const std::string csv_path = dir + "/progress.csv";
  int64_t episodes = 0;
  // Every column from the first row: the runner's, then the metrics the agent declared.
  std::vector<std::string> header = {"timesteps", "episodes", "ep_return_mean", "ep_length_mean", "steps_per_second",
                                     "time_elapsed"};
  const size_t runner_columns = header.size();
  for (const auto& name : algo->metric_names()) {
    RLF_CHECK(std::find(header.begin(), header.end(), name) == header.end(), run.algo, " declares metric '", name,
              "', which is a column of the runner's own");
    header.push_back(name);
  }
  const std::set<std::string> declared(header.begin() + runner_columns, header.end());
  if (resumed) {
    const std::vector<std::string> old = TrimCsv(csv_path, algo->num_timesteps(), &episodes);
    RLF_CHECK(old.empty() || old == header, csv_path, " has other columns than this run writes (",
              Join(old, ","), " vs ", Join(header, ","), ")");
  }
  std::ofstream csv(csv_path, std::ios::app);
  RLF_CHECK(csv.good(), "cannot write ", csv_path);
  if (!resumed || std::filesystem::file_size(csv_path) == 0) {
    csv << Join(header, ",") << "\n";
    csv.flush();
  }
  TensorBoardWriter tb(dir);
  ProgressLine progress(options.progress, run);

  std::deque<double> recent_returns;
  std::deque<int64_t> recent_lengths;
  std::vector<double> new_returns;
  std::vector<int64_t> new_lengths;
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t start_steps = algo->num_timesteps();
  int64_t iteration = 0;
  int64_t next_checkpoint =
      run.checkpoint_interval > 0 ? (start_steps / run.checkpoint_interval + 1) * run.checkpoint_interval : INT64_MAX;
  // Periodic evaluation (as SB3's EvalCallback): evaluations.csv, TensorBoard
  // eval/*, and checkpoints/best.pt for the best mean return so far.
  const std::string evals_path = dir + "/evaluations.csv";
  int64_t next_eval = run.eval_interval > 0 ? (start_steps / run.eval_interval + 1) * run.eval_interval : INT64_MAX;
  std::optional<EpisodeStats> best_eval;
  int64_t best_steps = 0;
  double best_return = -std::numeric_limits<double>::infinity();
  if (run.eval_interval > 0) {
    if (resumed && fs::exists(evals_path)) {
      if (auto b = TrimEvaluations(evals_path, start_steps)) best_return = b->first, best_steps = b->second;
    } else {
      WriteFileAtomically(evals_path, "timesteps,mean_return,std_return,mean_length,success_rate\n");
    }
  }
  while (algo->num_timesteps() < run.total_steps) {
    Metrics m = algo->Iterate();
    ++iteration;
    for (const auto& [k, v] : m)
      RLF_CHECK(declared.count(k), run.algo, " reported metric '", k, "', which it did not declare");
    new_returns.clear();
    new_lengths.clear();
    algo->TakeFinishedEpisodes(&new_returns, &new_lengths);
    episodes += static_cast<int64_t>(new_returns.size());
    for (size_t k = 0; k < new_returns.size(); ++k) {
      recent_returns.push_back(new_returns[k]);
      recent_lengths.push_back(new_lengths[k]);
      if (recent_returns.size() > 100) {
        recent_returns.pop_front();
        recent_lengths.pop_front();
      }
    }
    const int64_t steps = algo->num_timesteps();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double sps = (steps - start_steps) / std::max(secs, 1e-9);
    double mean_ret = std::nan(""), mean_len = std::nan("");
    if (!recent_returns.empty()) {
      mean_ret = mean_len = 0;
      for (size_t k = 0; k < recent_returns.size(); ++k) {
        mean_ret += recent_returns[k];
        mean_len += static_cast<double>(recent_lengths[k]);
      }
      mean_ret /= static_cast<double>(recent_returns.size());
      mean_len /= static_cast<double>(recent_returns.size());
    }
    progress.Update(steps, sps, mean_ret);
    const bool last = steps >= run.total_steps;
    if (iteration % run.log_interval == 0 || last) {
      std::map<std::string, double> row = {{"timesteps", static_cast<double>(steps)},
                                           {"episodes", static_cast<double>(episodes)},
                                           {"ep_return_mean", mean_ret},
                                           {"ep_length_mean", mean_len},
                                           {"steps_per_second", sps},
                                           {"time_elapsed", secs}};
      for (const auto& [k, v] : m) row[k] = v;
      std::vector<std::string> cells;
      for (const auto& col : header) cells.push_back(row.count(col) ? CsvValue(row[col]) : "");
      csv << Join(cells, ",") << "\n";
      csv.flush();
      if (!std::isnan(mean_ret)) {
        tb.AddScalar("rollout/ep_return_mean", mean_ret, steps);
        tb.AddScalar("rollout/ep_length_mean", mean_len, steps);
      }
      tb.AddScalar("time/steps_per_second", sps, steps);
      for (const auto& [k, v] : m)
        if (!std::isnan(v)) tb.AddScalar("train/" + k, v, steps);
      tb.Flush();
    }
    if (steps >= next_eval) {
      EpisodeStats e = EvaluateNow(run, *algo, run.eval_interval_episodes);
      std::ofstream evals(evals_path, std::ios::app);
      evals << steps << "," << CsvValue(e.mean_return) << "," << CsvValue(e.std_return) << ","
            << CsvValue(e.mean_length) << "," << (e.success_rate ? CsvValue(*e.success_rate) : "") << "\n";
      tb.AddScalar("eval/mean_return", e.mean_return, steps);
      tb.AddScalar("eval/mean_length", e.mean_length, steps);
      tb.Flush();
      if (e.mean_return > best_return) {
        best_return = e.mean_return;
        best_steps = steps;
        best_eval = e;
        algo->Save(dir + "/checkpoints/best.pt");
      }
      while (next_eval <= steps) next_eval += run.eval_interval;
    }
    if (steps >= next_checkpoint && !last) {
      algo->Save(StrCat(dir, "/checkpoints/step_", steps, ".pt"));
      while (next_checkpoint <= steps) next_checkpoint += run.checkpoint_interval;
    }
  }
  progress.Finish();
  algo->Save(dir + "/checkpoints/final.pt");
  TrainResult result;
  result.run_dir = dir;
  result.timesteps = algo->num_timesteps();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result.eval = EvaluateNow(run, *algo, run.eval_episodes);
  if (best_eval || best_steps > 0) {
    if (!best_eval) {  // resumed: the best was found before the restart; its statistics are in evaluations.csv
      best_eval = EpisodeStats{};
      best_eval->mean_return = best_return;
    }
    result.best_eval = best_eval;
    result.best_timesteps = best_steps;
  }
  if (run.eval_episodes > 0) {
    nlohmann::json j = EvalJson(run, result.eval, result.timesteps);
    if (result.best_eval)
      j["best"] = {{"timesteps", best_steps}, {"mean_return", best_return},
                   {"episodes", run.eval_interval_episodes}, {"checkpoint", "checkpoints/best.pt"}};
    WriteFileAtomically(dir + "/eval.json", j.dump(2) + "\n");
  }
  return result;
}

std::unique_ptr<Algorithm> BuildAlgorithm(const TrainConfig& config) {
  SetComputeThreads(static_cast<int>(config.run.torch_threads));
  return MakeAlgorithm(config.Context(), *config.algo);
}

}  // namespace

TrainResult Train(TrainConfig config, const std::string& out_dir, const RunnerOptions& options) {
  config.Validate();
  RLF_CHECK_ARG(!fs::exists(out_dir) || (fs::is_directory(out_dir) && fs::is_empty(out_dir)), "output directory '",
                out_dir, "' already exists and is not empty; choose another --out or use --resume");
  auto algo = BuildAlgorithm(config);
  fs::create_directories(out_dir + "/checkpoints");
  WriteFileAtomically(out_dir + "/config.yaml", config.ToYaml());
  return RunLoop(config, out_dir, std::move(algo), /*resumed=*/false, options);
}

std::string LatestCheckpoint(const std::string& dir) {
  const fs::path ckpt = fs::path(dir) / "checkpoints";
  if (fs::exists(ckpt / "final.pt")) return (ckpt / "final.pt").string();
  int64_t best = -1;
  std::string best_path;
  if (fs::is_directory(ckpt)) {
    for (const auto& e : fs::directory_iterator(ckpt)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("step_", 0) != 0 || e.path().extension() != ".pt") continue;
      const int64_t n = std::atoll(name.substr(5).c_str());
      if (n > best) best = n, best_path = e.path().string();
    }
  }
  RLF_CHECK_ARG(best >= 0, "'", dir, "' has no checkpoint (expected ", ckpt.string(), "/final.pt or step_N.pt)");
  return best_path;
}

TrainResult Resume(const std::string& dir, std::optional<int64_t> new_total_steps, const RunnerOptions& options) {
  RLF_CHECK_ARG(fs::is_regular_file(dir + "/config.yaml"), "'", dir, "' is not a run directory (no config.yaml)");
  TrainConfig config = TrainConfig::FromYamlFile(dir + "/config.yaml");
  // Resume from the newest periodic checkpoint unless the run finished.
  std::string checkpoint = LatestCheckpoint(dir);
  if (new_total_steps) {
    RLF_CHECK_ARG(*new_total_steps >= 1, "--steps must be >= 1");
    config.run.total_steps = *new_total_steps;
  }
  auto algo = BuildAlgorithm(config);
  algo->Load(checkpoint);
  RLF_CHECK_ARG(algo->num_timesteps() < config.run.total_steps, "the run in '", dir, "' already has ",
                algo->num_timesteps(), " of its ", config.run.total_steps, " steps; pass --steps N to train longer");
  fs::remove(dir + "/eval.json");
  if (checkpoint.size() >= 8 && checkpoint.substr(checkpoint.size() - 8) == "final.pt") {
    fs::rename(checkpoint, StrCat(dir, "/checkpoints/step_", algo->num_timesteps(), ".pt"));
  }
  WriteFileAtomically(dir + "/config.yaml", config.ToYaml());
  return RunLoop(config, dir, std::move(algo), /*resumed=*/true, options);
}

LoadedRun LoadRun(const std::string& path) {
  std::string dir = path, checkpoint;
  if (fs::is_regular_file(path)) {
    checkpoint = path;
    dir = fs::path(path).parent_path().parent_path().string();
  }
  RLF_CHECK_ARG(fs::is_regular_file(dir + "/config.yaml"), "'", path,
                "' is not a run directory or a checkpoint inside one (no config.yaml)");
  if (checkpoint.empty()) checkpoint = LatestCheckpoint(dir);
  LoadedRun out;
  out.config = TrainConfig::FromYamlFile(dir + "/config.yaml");
  out.algorithm = BuildAlgorithm(out.config);
  out.algorithm->Load(checkpoint);
  return out;
}

}  // namespace rlforge
