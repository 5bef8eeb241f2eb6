#include "rlforge/train/runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "rlforge/core/checkpoint_file.h"
#include "rlforge/core/file_io.h"
#include "rlforge/core/stop_signal.h"
#include "rlforge/core/version.h"
#include "rlforge/core/warning.h"
#include "rlforge/dist/communicator.h"
#include "rlforge/env/registry.h"
#include "rlforge/nn/blas.h"
#include "rlforge/train/tensorboard.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

// Held by the process that trains in a run directory, from its creation (or
// the start of a resume) to the end: a second process (a --resume of a run
// that is still going) is refused instead of writing checkpoints, rows and
// eval.json beside it. flock(2) lets go when the process ends, kill -9
// included. The file keeps the holder's pid for the message.
class RunDirectoryLock {
 public:
  explicit RunDirectoryLock(const std::string& dir) {
    const std::string path = dir + "/.rlforge.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return;  // an unwritable directory: the run's first write says so
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      char pid[32] = {};
      const ssize_t n = ::pread(fd_, pid, sizeof(pid) - 1, 0);
      ::close(fd_);
      fd_ = -1;
      std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "";
      holder.erase(std::remove_if(holder.begin(), holder.end(), [](char c) { return c < '0' || c > '9'; }),
                   holder.end());
      throw InvalidArgument(StrCat("run directory '", dir, "' is in use by another rlforge process",
                                   holder.empty() ? "" : " (pid " + holder + ")",
                                   "; wait for it to end, or stop it (it saves a checkpoint) and resume then"));
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
      // the pid is only for the message
    }
  }
  ~RunDirectoryLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  RunDirectoryLock(const RunDirectoryLock&) = delete;
  RunDirectoryLock& operator=(const RunDirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

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

// The complete lines of a CSV file written by appending: a last line without
// its newline (the process was killed mid-write, or the disk filled) is dropped.
std::vector<std::string> CompleteLines(const std::string& path) {
  std::string text;
  try {
    text = ReadWholeFile(path, "log");
  } catch (const Error&) {
    return {};
  }
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(text.substr(start, nl - start));
  return lines;
}

// Whether `cell` is a whole number (no sign), read into *value.
bool ParseSteps(const std::string& cell, int64_t* value) {
  if (cell.empty() || cell.size() > 18 || cell.find_first_not_of("0123456789") != std::string::npos) return false;
  *value = std::stoll(cell);
  return true;
}

// Keeps the rows of progress.csv up to `timesteps` (for resume) and returns
// the header.
std::vector<std::string> TrimCsv(const std::string& path, int64_t timesteps) {
  const std::vector<std::string> lines = CompleteLines(path);
  if (lines.empty()) return {};
  std::vector<std::string> header;
  std::stringstream hs(lines[0]);
  std::string col;
  while (std::getline(hs, col, ',')) header.push_back(col);
  std::string kept = lines[0] + "\n";
  for (size_t i = 1; i < lines.size(); ++i) {
    std::stringstream rs(lines[i]);
    std::string ts;
    std::getline(rs, ts, ',');
    int64_t steps = 0;
    if (!ParseSteps(ts, &steps) || steps > timesteps) break;
    kept += lines[i] + "\n";
  }
  WriteFileAtomically(path, kept);
  return header;
}

// The runner's own state, saved beside the agent's in every checkpoint
// (fields "runner/..."), so that a resumed run's logs continue the unbroken
// run's: the 100-episode window, the iteration (log_interval), the episode
// count and the training time so far.
struct RunnerState {
  int64_t iteration = 0;
  int64_t episodes = 0;
  double seconds = 0;
  std::vector<double> recent_returns;
  std::vector<int64_t> recent_lengths;
  // The config the checkpoint was written with (config.yaml's text), to name
  // the keys that differ when an edited config.yaml no longer fits it.
  std::string config_yaml;

  void Visit(StateVisitor& v) {
    v("runner/config", &config_yaml);
    v("runner/iteration", &iteration);
    v("runner/episodes", &episodes);
    v("runner/seconds", &seconds);
    v("runner/recent_returns", &recent_returns);
    v("runner/recent_lengths", &recent_lengths);
    RLF_CHECK(recent_returns.size() == recent_lengths.size() && recent_returns.size() <= 100,
              "the runner's episode window is corrupt");
  }
};

// "; config.yaml differs from the config the checkpoint was written with
// in: net_arch ([16] then, [8] now)" from the config text a checkpoint was
// written with (`where` names it), or "" when they agree or it cannot tell
// (total_steps may change on every resume and is left out).
// The keys whose values differ between configs `a` and `b`, each as
// "key (A a_label, B b_label)" ("absent" where one lacks it); `skip` is left out.
std::vector<std::string> KeyDifferences(const std::vector<FieldInfo>& a, const std::vector<FieldInfo>& b,
                                        const std::string& a_label, const std::string& b_label,
                                        const std::string& skip = "") {
  std::map<std::string, std::string> in_b;
  for (const auto& f : b) in_b[f.name] = f.value;
  std::vector<std::string> keys;
  for (const auto& f : a) {
    const auto it = in_b.find(f.name);
    const std::string value_b = it == in_b.end() ? "absent" : it->second;
    if (f.name != skip && f.value != value_b)
      keys.push_back(StrCat(f.name, " (", f.value, " ", a_label, ", ", value_b, " ", b_label, ")"));
  }
  return keys;
}

std::string ConfigTextDifferences(const std::string& saved, const std::string& where, TrainConfig& current) {
  if (saved.empty()) return "";
  std::vector<FieldInfo> then;
  try {
    TrainConfig written = TrainConfig::FromYamlText(saved, where);
    then = ConfigIO::Describe(written);
  } catch (const Error&) {
    return "";
  }
  const std::vector<std::string> keys = KeyDifferences(then, ConfigIO::Describe(current), "then", "now", "total_steps");
  if (keys.empty()) return "";
  return StrCat("; config.yaml differs from the config the checkpoint was written with in: ", Join(keys, ", "));
}

// The same for a checkpoint file (one that does not load: why it may not).
std::string ConfigDifferences(const std::string& checkpoint, TrainConfig& current) {
  std::string saved;
  try {
    CheckpointReader r(checkpoint);
    r("runner/config", &saved);
  } catch (const Error&) {
    return "";
  }
  return ConfigTextDifferences(saved, checkpoint + "'s config", current);
}

std::atomic<int64_t> g_stop_signal_ns{0};

int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);  // async-signal-safe
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The first SIGINT/SIGTERM asks the loop to stop; one more, a second or more
// later, ends the process at once. (Copies that arrive together with the
// first, as when `timeout` or a terminal signals the whole process group,
// count as the first.)
extern "C" void OnStopSignal(int sig) {
  const int64_t now = MonotonicNs();
  if (StopSignal().load() == 0) {
    g_stop_signal_ns.store(now);
    StopSignal().store(sig);
  } else if (now - g_stop_signal_ns.load() > 1'000'000'000) {
    signal(sig, SIG_DFL);
    raise(sig);
  }
}

// Installs OnStopSignal for SIGINT and SIGTERM while a training loop runs.
class StopSignals {
 public:
  explicit StopSignals(bool keep_after_stop) : keep_after_stop_(keep_after_stop) {
    StopSignal().store(0);
    struct sigaction sa {};
    sa.sa_handler = OnStopSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  // With keep_after_stop (the rlforge command, which exits right after),
  // once a stop was asked for the handler stays: copies of the signal that
  // arrive late (rlforge launch passes on what the whole process group also
  // got) must not kill the process before it reports where it saved.
  ~StopSignals() {
    if (keep_after_stop_ && StopSignal().load() != 0) return;
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  int pending() const { return StopSignal().load(); }

 private:
  bool keep_after_stop_;
  struct sigaction old_int_ {}, old_term_ {};
};

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

// Evaluation episodes are seeded from the run's seed plus this (apart from
// the training envs' seeds).
constexpr uint64_t kEvalSeedOffset = 1'000'000;

// Evaluates the algorithm's current policy on fresh envs, always from the
// same seed, so that periodic evaluations compare models on the same starts.
EpisodeStats EvaluateNow(const RunConfig& run, Algorithm& algo, int64_t episodes) {
  if (episodes <= 0) return {};
  const Kwargs kwargs = EvaluationKwargs(run.env, run.env_kwargs, run.eval_max_episode_steps);
  auto probe = Make(run.env, kwargs);
  if (probe->num_players() > 1) {
    // Two-player games: against uniformly random legal play, either side in
    // turn; success_rate is the win rate.
    auto policy = algo.MakePolicy(run.eval_deterministic);
    RandomPolicy opponent(probe->action_space(), static_cast<uint64_t>(run.seed) + 2'000'000, true);
    return EvaluateMatch(*probe, *policy, opponent, episodes, static_cast<uint64_t>(run.seed) + kEvalSeedOffset).stats;
  }
  VectorEnvOptions opt;
  opt.num_envs = static_cast<int>(std::min<int64_t>(8, episodes));
  auto envs = VectorEnv::Make(run.env, kwargs, opt);
  auto policy = algo.MakePolicy(run.eval_deterministic);
  if (envs->num_agents() == 2) {
    // Team games (Arena-v0 with opponent=external): agent 1 is the agent's
    // evaluation opponent (a self-play league's strongest reference bot;
    // random legal play otherwise); success_rate is the win rate.
    auto opponent = Registry::Global().MakeScriptedPolicy(algo.evaluation_opponent(), run.env, envs->env(0),
                                                          static_cast<uint64_t>(run.seed) + 2'000'000);
    return EvaluateTeams(*envs, *policy, *opponent, episodes, static_cast<uint64_t>(run.seed) + kEvalSeedOffset).stats;
  }
  return Evaluate(*envs, *policy, episodes, static_cast<uint64_t>(run.seed) + kEvalSeedOffset);
}

// Keeps evaluations.csv rows up to `timesteps` (on resume) and returns the
// best mean return among them, with its step.
std::optional<std::pair<double, int64_t>> TrimEvaluations(const std::string& path, int64_t timesteps) {
  const std::vector<std::string> lines = CompleteLines(path);
  std::optional<std::pair<double, int64_t>> best;
  if (lines.empty()) return best;
  std::string kept = lines[0] + "\n";
  for (size_t i = 1; i < lines.size(); ++i) {
    std::stringstream rs(lines[i]);
    std::string ts, ret;
    std::getline(rs, ts, ',');
    std::getline(rs, ret, ',');
    int64_t steps = 0;
    if (!ParseSteps(ts, &steps) || steps > timesteps) break;
    char* end = nullptr;
    const double r = std::strtod(ret.c_str(), &end);
    if (ret.empty() || *end != '\0') break;
    if (!best || r > best->first) best = std::make_pair(r, steps);
    kept += lines[i] + "\n";
  }
  WriteFileAtomically(path, kept);
  return best;
}

// Who EvaluateNow's games are against: "random" in two-player games,
// "bot:NAME" in team games, "" in single-agent envs.
std::string EvaluationOpponentName(const RunConfig& run, const Algorithm& algo) {
  auto probe = Make(run.env, EvaluationKwargs(run.env, run.env_kwargs, run.eval_max_episode_steps));
  if (probe->num_players() > 1) return "random";
  if (probe->num_agents() == 2) return "bot:" + algo.evaluation_opponent();
  return "";
}

nlohmann::json EvalJson(const RunConfig& run, const EpisodeStats& s, int64_t timesteps) {
  nlohmann::json j = {{"env", run.env},          {"algo", run.algo},
                      {"timesteps", timesteps},  {"deterministic", run.eval_deterministic},
                      {"episodes", s.episodes},  {"mean_return", s.mean_return},
                      {"std_return", s.std_return}, {"mean_length", s.mean_length},
                      {"std_length", s.std_length}, {"truncated", s.truncated},
                      // The episodes' seed: `rlforge eval --policy RUN --seed SEED` replays them.
                      {"seed", static_cast<uint64_t>(run.seed) + kEvalSeedOffset}};
  if (NeedsEvaluationStepCap(run.env, run.env_kwargs)) j["step_cap"] = run.eval_max_episode_steps;
  if (s.success_rate) j["success_rate"] = *s.success_rate;
  if (s.illegal_actions) j["illegal_actions"] = *s.illegal_actions;
  return j;
}

// Runs f on every rank of a job; when it throws on any rank, every rank
// throws: the failing rank its own error, the others an Error naming it.
void OnEveryRank(dist::Communicator* comm, const char* what, const std::function<void()>& f) {
  std::exception_ptr failure;
  try {
    f();
  } catch (...) {
    if (comm == nullptr) throw;
    failure = std::current_exception();
  }
  if (comm == nullptr) return;
  torch::Tensor flag = torch::full({1}, failure ? static_cast<int64_t>(comm->rank() + 1) : int64_t{0}, torch::kLong);
  comm->AllReduceMax(flag);
  if (failure) std::rethrow_exception(failure);
  const int64_t failed = flag.item<int64_t>();
  if (failed > 0)
    throw Error(StrCat("distributed: rank ", failed - 1, " failed while ", what, " (its own output says why)"));
}

// Every rank's episodes, in rank order (a collective).
void GatherEpisodes(dist::Communicator& comm, std::vector<double>* returns, std::vector<int64_t>* lengths) {
  std::string mine;
  StateWriter w(&mine);
  w(*returns), w(*lengths);
  returns->clear(), lengths->clear();
  for (const std::string& bytes : comm.AllGather(mine)) {
    std::vector<double> r;
    std::vector<int64_t> l;
    StateReader rd(bytes, "a rank's episode statistics");
    rd(r), rd(l);
    returns->insert(returns->end(), r.begin(), r.end());
    lengths->insert(lengths->end(), l.begin(), l.end());
  }
}

// The command that continues the run in dir (a job: as a job of its size).
std::string ResumeCommand(const std::string& dir, dist::Communicator* comm, const dist::JobEnv* job = nullptr) {
  if (job != nullptr)  // an actor-learner job: the learner with its actor ranks
    return StrCat("the learner with its actors again: rlforge launch --nproc ", job->world_size,
                  " -- train --resume ", dir, ", or rank 0 with -- train --resume ", dir, " and the actors");
  if (comm == nullptr) return "rlforge train --resume " + dir;
  return StrCat("a job of ", comm->world_size(), " ranks again: rlforge launch --nproc ", comm->world_size(),
                " -- train --resume ", dir, " on one host, or each host's launch command with -- train --resume ",
                dir);
}

// Agrees on what every rank of a job does after an iteration: save
// checkpoints/best.pt (rank 0's evaluation found a new best) and stop (a
// signal reached any rank). A collective.
std::pair<bool, int> JobControl(dist::Communicator& comm, bool new_best, int signal) {
  torch::Tensor t = torch::tensor({static_cast<int64_t>(new_best), static_cast<int64_t>(signal)}, torch::kLong);
  comm.AllReduceMax(t);
  return {t[0].item<int64_t>() != 0, static_cast<int>(t[1].item<int64_t>())};
}

// The loop of ranks 1.. of a job: the same iterations and collectives as
// rank 0's RunLoop (Iterate, the episode gather, JobControl, the saves, in
// the same order), without files: rank 0 writes them.
TrainResult FollowerLoop(const TrainConfig& config, Algorithm& algo, dist::Communicator& comm,
                         const RunnerOptions& options) {
  const RunConfig& run = config.run;
  StopSignals signals(options.keep_signal_handlers);
  auto save = [&] {
    dist::DiscardStateVisitor discard;
    algo.VisitState(discard);
  };
  const int64_t start_steps = algo.num_timesteps();
  int64_t next_checkpoint =
      run.checkpoint_interval > 0 ? (start_steps / run.checkpoint_interval + 1) * run.checkpoint_interval : INT64_MAX;
  std::vector<double> returns;
  std::vector<int64_t> lengths;
  const auto t0 = std::chrono::steady_clock::now();
  while (algo.num_timesteps() < run.total_steps) {
    algo.Iterate();
    (void)algo.TakeScalarEvents();
    returns.clear(), lengths.clear();
    algo.TakeFinishedEpisodes(&returns, &lengths);
    GatherEpisodes(comm, &returns, &lengths);
    const int64_t steps = algo.num_timesteps();
    const bool last = steps >= run.total_steps;
    const auto [new_best, sig] = JobControl(comm, false, signals.pending());
    if (new_best) save();
    if (steps >= next_checkpoint && !last) {
      save();
      while (next_checkpoint <= steps) next_checkpoint += run.checkpoint_interval;
    }
    if (sig != 0 && !last) {
      save();
      throw Interrupted(sig, StrCat("interrupted by ", sig == SIGINT ? "SIGINT" : "SIGTERM", " at step ", steps,
                                    " (rank ", comm.rank(), "); rank 0 saved the job's checkpoint"));
    }
  }
  save();  // final.pt
  TrainResult result;
  result.timesteps = algo.num_timesteps();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

TrainResult RunLoop(TrainConfig& config, const std::string& dir, std::unique_ptr<Algorithm> algo, bool resumed,
                    RunnerState state, const std::string& resumed_from, const RunnerOptions& options) {
  const RunConfig& run = config.run;
  dist::Communicator* comm = options.comm.get();
  if (comm != nullptr && !comm->root()) return FollowerLoop(config, *algo, *comm, options);
  const std::string csv_path = dir + "/progress.csv";
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
    if (!fs::exists(csv_path))
      Warn(StrCat(csv_path, " is missing: its rows up to step ", algo->num_timesteps(),
                  " are lost, and it starts again there"));
    const std::vector<std::string> old = TrimCsv(csv_path, algo->num_timesteps());
    RLF_CHECK(old.empty() || old == header, csv_path, " has other columns than this run writes (",
              Join(old, ","), " vs ", Join(header, ","), ")");
  }
  std::ofstream csv(csv_path, std::ios::app);
  RLF_CHECK(csv.good(), "cannot write ", csv_path);
  if (!resumed || std::filesystem::file_size(csv_path) == 0) {
    csv << Join(header, ",") << "\n";
    csv.flush();
    RLF_CHECK(csv.good(), "cannot write ", csv_path, ": ", std::strerror(errno));
  }
  // On resume the event file loses the events after the checkpoint and is continued.
  TensorBoardWriter tb(dir, resumed ? std::optional<int64_t>(algo->num_timesteps()) : std::nullopt);
  ProgressLine progress(options.progress, run);
  StopSignals signals(options.keep_signal_handlers);

  std::vector<double> new_returns;
  std::vector<int64_t> new_lengths;
  const auto t0 = std::chrono::steady_clock::now();
  const double seconds_before = state.seconds;
  state.config_yaml = config.ToYaml();
  auto elapsed = [&] {
    return seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  std::string last_checkpoint = resumed_from;  // what a failed run can be resumed from
  auto save = [&](const std::string& path) {
    state.seconds = elapsed();
    algo->Save(path, [&state](StateVisitor& v) { state.Visit(v); });
    if (path.find("/best.pt") == std::string::npos) last_checkpoint = path;
  };
  // A stop signal: a checkpoint at the current step, and Interrupted saying how to go on.
  auto stop_here = [&](int sig) {
    const int64_t steps = algo->num_timesteps();
    const std::string path = StrCat(dir, "/checkpoints/step_", steps, ".pt");
    save(path);
    progress.Finish();
    throw Interrupted(sig, StrCat("interrupted by ", sig == SIGINT ? "SIGINT" : "SIGTERM", " at step ", steps, " of ",
                                  run.total_steps, "; saved ", path, "; continue with: ",
                                  ResumeCommand(dir, comm, options.job.get())));
  };
  const int64_t start_steps = algo->num_timesteps();
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
  std::map<std::string, std::string> run_files;  // what was last written of the agent's own files
  bool counts_updates = false, any_update = false;  // the agent reports n_updates; one was positive
  // An error that ends training (a NaN loss, a failed env step, a peer that
  // died or timed out) says what is left to resume from.
  bool logged = resumed;  // a progress row or a best model written (the run directory is kept)
  auto with_resume_hint = [&](const Error& e) {
    progress.Finish();
    std::string hint;
    if (!last_checkpoint.empty())
      hint = "the last checkpoint, " + last_checkpoint + ", is kept (" + ResumeCommand(dir, comm, options.job.get()) + ")";
    else if (!logged)  // TrainFromStart removes a new run's directory
      hint = "nothing was logged or saved before it: run the same command again once the cause is fixed";
    else
      hint = StrCat("no checkpoint was written before it (checkpoint_interval: ", run.checkpoint_interval,
                    "): --resume would start the run again from step 0");
    return Error(StrCat(e.what(), "; ", hint));
  };
  while (algo->num_timesteps() < run.total_steps && !algo->finished()) {
    Metrics m;
    try {
      m = algo->Iterate();
    } catch (const StopRequested&) {
      // A stop signal while the agent waited (IMPALA's learner for unrolls):
      // its state is the last iteration's, saved as for a stop between
      // iterations.
      stop_here(signals.pending());
    } catch (const InvalidArgument&) {
      throw;
    } catch (const Error& e) {
      throw with_resume_hint(e);
    }
    ++state.iteration;
    // n_updates is a running total for some agents and an iteration's count
    // for others (AlphaZero and MuZero call their running total "updates"):
    // any positive one counts.
    for (const char* key : {"n_updates", "updates"})
      if (auto it = m.find(key); it != m.end()) any_update = any_update || it->second > 0, counts_updates = true;
    for (const auto& [k, v] : m)
      RLF_CHECK(declared.count(k), run.algo, " reported metric '", k, "', which it did not declare");
    for (const auto& e : algo->TakeScalarEvents()) tb.AddScalar(e.tag, e.value, e.step);
    for (const auto& [name, content] : algo->RunFiles()) {
      std::string& last = run_files[name];
      if (content != last) WriteFileAtomically(dir + "/" + name, content), last = content;
    }
    new_returns.clear();
    new_lengths.clear();
    algo->TakeFinishedEpisodes(&new_returns, &new_lengths);
    if (comm != nullptr) {
      try {
        GatherEpisodes(*comm, &new_returns, &new_lengths);
      } catch (const Error& e) {  // a peer gone, or stalled past the timeout
        throw with_resume_hint(e);
      }
    }
    state.episodes += static_cast<int64_t>(new_returns.size());
    std::vector<double>& recent_returns = state.recent_returns;
    std::vector<int64_t>& recent_lengths = state.recent_lengths;
    for (size_t k = 0; k < new_returns.size(); ++k) {
      recent_returns.push_back(new_returns[k]);
      recent_lengths.push_back(new_lengths[k]);
    }
    if (recent_returns.size() > 100) {
      const auto drop = static_cast<std::ptrdiff_t>(recent_returns.size() - 100);
      recent_returns.erase(recent_returns.begin(), recent_returns.begin() + drop);
      recent_lengths.erase(recent_lengths.begin(), recent_lengths.begin() + drop);
    }
    const int64_t steps = algo->num_timesteps();
    const double secs = elapsed();
    const double sps = steps / std::max(secs, 1e-9);  // over the whole run, resumes included
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
    const bool last = steps >= run.total_steps || algo->finished();
    if (state.iteration % run.log_interval == 0 || last) {
      std::map<std::string, double> row = {{"timesteps", static_cast<double>(steps)},
                                           {"episodes", static_cast<double>(state.episodes)},
                                           {"ep_return_mean", mean_ret},
                                           {"ep_length_mean", mean_len},
                                           {"steps_per_second", sps},
                                           {"time_elapsed", secs}};
      for (const auto& [k, v] : m) row[k] = v;
      std::vector<std::string> cells;
      for (const auto& col : header) cells.push_back(row.count(col) ? CsvValue(row[col]) : "");
      csv << Join(cells, ",") << "\n";
      csv.flush();
      RLF_CHECK(csv.good(), "cannot write ", csv_path, ": ", std::strerror(errno));  // a full disk stops the run
      logged = true;
      if (!std::isnan(mean_ret)) {
        tb.AddScalar("rollout/ep_return_mean", mean_ret, steps);
        tb.AddScalar("rollout/ep_length_mean", mean_len, steps);
      }
      tb.AddScalar("time/steps_per_second", sps, steps);
      for (const auto& [k, v] : m)
        if (!std::isnan(v)) tb.AddScalar("train/" + k, v, steps);
      tb.Flush();
    }
    bool new_best = false;
    if (steps >= next_eval) {
      EpisodeStats e = EvaluateNow(run, *algo, run.eval_interval_episodes);
      std::ofstream evals(evals_path, std::ios::app);
      evals << steps << "," << CsvValue(e.mean_return) << "," << CsvValue(e.std_return) << ","
            << CsvValue(e.mean_length) << "," << (e.success_rate ? CsvValue(*e.success_rate) : "") << "\n";
      evals.flush();
      RLF_CHECK(evals.good(), "cannot write ", evals_path, ": ", std::strerror(errno));
      tb.AddScalar("eval/mean_return", e.mean_return, steps);
      tb.AddScalar("eval/mean_length", e.mean_length, steps);
      tb.AddScalar("eval/std_return", e.std_return, steps);
      if (e.success_rate) tb.AddScalar("eval/success_rate", *e.success_rate, steps);  // as SB3's EvalCallback
      tb.Flush();
      if (e.mean_return > best_return) {
        best_return = e.mean_return;
        best_steps = steps;
        best_eval = e;
        new_best = true;
      }
      while (next_eval <= steps) next_eval += run.eval_interval;
    }
    int sig = signals.pending();
    if (comm != nullptr) {  // what every rank does next: the same saves
      try {
        const auto c = JobControl(*comm, new_best, sig);
        new_best = c.first, sig = c.second;
      } catch (const Error& e) {
        throw with_resume_hint(e);
      }
    }
    if (new_best) save(dir + "/checkpoints/best.pt"), logged = true;
    if (steps >= next_checkpoint && !last) {
      save(StrCat(dir, "/checkpoints/step_", steps, ".pt"));
      while (next_checkpoint <= steps) next_checkpoint += run.checkpoint_interval;
    }
    if (sig != 0 && !last) stop_here(sig);
  }
  progress.Finish();
  if (counts_updates && !any_update && start_steps == 0)  // a setting that leaves learning out says so
    Warn(StrCat("the run made no update (no gradient step in ", algo->num_timesteps(),
                " steps): its model is the initial one; see the keys that gate updates (learning_starts, train_freq "
                "and gradient_steps; PPO's target_kl)"));
  save(dir + "/checkpoints/final.pt");
  TrainResult result;
  result.run_dir = dir;
  result.timesteps = algo->num_timesteps();
  result.seconds = state.seconds;
  // An agent that does not act (a reward model) has no episodes to evaluate
  // (said when the run started).
  const int64_t final_episodes = algo->acts() ? run.eval_episodes : 0;
  result.eval = EvaluateNow(run, *algo, final_episodes);
  if (best_eval || best_steps > 0) {
    if (!best_eval) {  // resumed: the best was found before the restart; its statistics are in evaluations.csv
      best_eval = EpisodeStats{};
      best_eval->mean_return = best_return;
    }
    result.best_eval = best_eval;
    result.best_timesteps = best_steps;
  }
  // eval.json marks a finished run, so it is written even without a final
  // evaluation (eval_episodes: 0; then it holds no return statistics).
  nlohmann::json j = final_episodes > 0 ? EvalJson(run, result.eval, result.timesteps)
                                           : nlohmann::json{{"env", run.env},
                                                            {"algo", run.algo},
                                                            {"timesteps", result.timesteps},
                                                            {"episodes", 0}};
  if (final_episodes > 0)
    if (const std::string opponent = EvaluationOpponentName(run, *algo); !opponent.empty()) j["opponent"] = opponent;
  if (result.best_eval)
    j["best"] = {{"timesteps", best_steps}, {"mean_return", best_return},
                 {"episodes", run.eval_interval_episodes}, {"checkpoint", "checkpoints/best.pt"}};
  WriteFileAtomically(dir + "/eval.json", j.dump(2) + "\n");
  return result;
}

}  // namespace

std::unique_ptr<Algorithm> BuildAlgorithm(const TrainConfig& config, const RunnerOptions& options, bool training) {
  SetComputeThreads(static_cast<int>(config.run.torch_threads));
  RunContext ctx = config.Context();
  ctx.comm = options.comm;
  ctx.job = options.job;
  if (training) ctx.load_run = [](const std::string& path) { return LoadRun(path).algorithm; };
  return MakeAlgorithm(ctx, *config.algo);
}

namespace {

// Before anything runs, every rank of a job checks that it runs the same
// rlforge with the same config as rank 0, and a difference names its keys
// (a hash of the config said only that they differ).
void CheckJobAgrees(dist::Communicator* comm, TrainConfig& config) {
  if (comm == nullptr) return;
  comm->CheckAgree("rlforge version", kVersion);
  const std::vector<std::string> all = comm->AllGather(config.ToYaml());
  for (int r = 1; r < comm->world_size(); ++r) {
    if (all[r] == all[0]) continue;
    std::vector<std::string> keys;
    try {
      TrainConfig first = TrainConfig::FromYamlText(all[0], "rank 0's config"),
                  theirs = TrainConfig::FromYamlText(all[r], StrCat("rank ", r, "'s config"));
      keys = KeyDifferences(ConfigIO::Describe(first), ConfigIO::Describe(theirs), "on rank 0", StrCat("on rank ", r));
    } catch (const Error&) {  // another agent's config: its keys are not ours
    }
    if (keys.size() > 5) keys.resize(5), keys.push_back("...");
    throw Error(StrCat("distributed: rank ", r, "'s config differs from rank 0's",
                       keys.empty() ? std::string() : ": " + Join(keys, ", "),
                       "; every rank of a job must run with the same config"));
  }
}

// Rank 0's initial weights on every rank (they are equal by seeding already;
// this makes it so whatever the platform's initialization does).
void BroadcastWeights(dist::Communicator* comm, Algorithm& algo) {
  if (comm == nullptr || algo.network() == nullptr) return;
  torch::NoGradGuard no_grad;
  for (auto& p : algo.network()->parameters()) comm->Broadcast(p.data());
  for (auto& b : algo.network()->buffers()) comm->Broadcast(b);
}

}  // namespace

std::string SpacesMismatch(const RunSettings& trained, const Env& env) {
  auto probe = Make(trained.env, trained.env_kwargs);
  const bool same_obs = probe->observation_space() == env.observation_space();
  if (same_obs && probe->action_space() == env.action_space()) return "";
  return StrCat(trained.env, trained.env_kwargs.empty() ? "" : " " + trained.env_kwargs.ToString(), " with ",
                same_obs ? "actions " + probe->action_space().ToString()
                         : "observations " + probe->observation_space().ToString(),
                "; ", env.name(), " here has ",
                same_obs ? env.action_space().ToString() : env.observation_space().ToString());
}

// `train --init-from`: the source run's network parameters copied into the
// new agent's wherever a parameter of the same name has the same shape (an
// actor-critic from bc or iql into ppo/a2c, a Q-network from cql into dqn);
// InvalidArgument when nothing fits. Reports what it copied on stderr.
void WarmStart(Algorithm& algo, const std::string& from, bool report, AlgoConfig* config) {
  LoadedRun src = LoadRun(from);
  torch::nn::Module* s = src.algorithm->network();
  torch::nn::Module* d = algo.network();
  RLF_CHECK_ARG(s != nullptr && d != nullptr, "init_from '", from, "': ",
                s == nullptr ? src.config.run.algo : "this agent", " has no network to warm-start from");
  // A reward model's network has a policy's shapes, but scores responses:
  // no policy to start from (it is an RL run's reward_model).
  RLF_CHECK_ARG(src.algorithm->acts() || !algo.acts(), "init_from '", from, "' is ",
                src.config.run.algo == "rm" ? "an " : "a ", src.config.run.algo,
                " run, which does not act (no policy to start from)",
                src.config.run.algo == "rm" ? "; a reward model is given as config key reward_model" : "");
  if (!algo.warm_start_needs_every_parameter()) {
    // A policy for other observations or actions is no start for this one,
    // even where some hidden layers happen to have the same shapes.
    const RunSettings& mine = algo.run_settings();
    const std::string why = SpacesMismatch(src.config.run, *Make(mine.env, mine.env_kwargs));
    RLF_CHECK_ARG(why.empty(), "init_from '", from, "' was trained on ", why, " (a warm start needs the same spaces)");
  }
  const auto sp = s->named_parameters(true);
  std::vector<std::string> copied, kept, reshaped;
  int64_t copied_values = 0, all_values = 0;
  for (const auto& p : d->named_parameters(true)) {
    const torch::Tensor* t = sp.find(p.key());
    all_values += p.value().numel();
    if (t != nullptr && t->sizes() == p.value().sizes()) {
      copied.push_back(p.key());
      copied_values += p.value().numel();
    } else {
      kept.push_back(p.key());
      if (t != nullptr) reshaped.push_back(StrCat(p.key(), " ", t->sizes(), " vs ", p.value().sizes()));
    }
  }
  RLF_CHECK_ARG(!copied.empty(), "init_from '", from, "': no parameter of ", src.config.run.algo,
                "'s network fits this agent's (names and shapes differ; a bc or iql actor warm-starts ppo, a2c, "
                "a3c or reinforce with the same net_arch, a cql Q-network dqn)");
  // A language model's position table is as long as its env's context.
  const bool other_context = std::any_of(reshaped.begin(), reshaped.end(),
                                         [](const std::string& r) { return r.rfind("pos.weight ", 0) == 0; });
  RLF_CHECK_ARG(kept.empty() || !algo.warm_start_needs_every_parameter(), "init_from '", from, "': ",
                src.config.run.algo, "'s network does not fit this agent's: no tensor of the same name and shape for ",
                Join(kept, ", "),
                other_context && (src.config.run.env != algo.run_settings().env ||
                                  !SameEnvKwargs(src.config.run.env, src.config.run.env_kwargs,
                                                 algo.run_settings().env_kwargs))
                    ? StrCat(" (it was trained on ", DescribeEnv(src.config.run.env, src.config.run.env_kwargs),
                             ", whose context length differs from ",
                             DescribeEnv(algo.run_settings().env, algo.run_settings().env_kwargs),
                             "'s; a language model is warm-started on its own env)")
                    : " (a language model is warm-started whole: use the same d_model, n_layers, n_heads and d_ff)");
  // A start that keeps most of the network random (another net_arch: the
  // same names with other shapes; or another kind of network, whose heads
  // alone share names) is refused, not reported.
  RLF_CHECK_ARG(2 * copied_values >= all_values, "init_from '", from, "': only ", copied.size(), " of ",
                copied.size() + kept.size(), " parameter tensors (", copied_values, " of ", all_values,
                " values) fit",
                reshaped.empty() ? StrCat("; nothing of the same name for ", Join(kept, ", "), " (", src.config.run.algo,
                                          "'s network is of another kind)")
                                 : StrCat("; the same names have other shapes (", Join(reshaped, ", "),
                                          "): a warm start needs layers of the same sizes (", src.config.run.algo,
                                          "'s net_arch) and heads of the same outputs"));
  if (config != nullptr) {
    // Keys the shapes do not show: weights learned through one activation
    // mean nothing through another, and a transformer's attention weights
    // split into other heads compute something else.
    auto value = [](AlgoConfig& c, const char* key) -> std::optional<std::string> {
      for (const auto& f : ConfigIO::Describe(c))
        if (f.name == key) return f.value;
      return std::nullopt;
    };
    for (const char* key : {"activation", "n_heads"}) {
      const auto a = value(*src.config.algo, key), b = value(*config, key);
      RLF_CHECK_ARG(!a || !b || *a == *b, "init_from '", from, "': ", src.config.run.algo, "'s network has ", key, " ",
                    *a, ", this agent's ", b.value_or(""), " (set ", key, "=", a.value_or(""), ")");
    }
  }
  {
    torch::NoGradGuard no_grad;
    auto dst = d->named_parameters(true);
    for (const std::string& name : copied) dst[name].copy_(*sp.find(name));
  }
  algo.NetworkLoaded();
  if (report)
    std::fprintf(stderr, "warm start from %s (%s, %lld steps): copied %zu parameter tensors (%lld of %lld values)%s%s\n",
                 from.c_str(), src.config.run.algo.c_str(), static_cast<long long>(src.algorithm->num_timesteps()),
                 copied.size(), static_cast<long long>(copied_values), static_cast<long long>(all_values),
                 kept.empty() ? "" : "; kept this run's initial values for ", Join(kept, ", ").c_str());
}

std::vector<std::string> FreezeParameters(Algorithm& algo, const std::string& prefixes, bool report) {
  std::vector<std::string> frozen;
  if (prefixes.empty()) return frozen;
  torch::nn::Module* net = algo.network();
  RLF_CHECK_ARG(net != nullptr, "config key 'freeze': this agent has no network to freeze");
  auto params = net->named_parameters(true);
  std::vector<std::string> top;
  for (const auto& p : params) {
    const std::string first = p.key().substr(0, p.key().find('.'));
    if (std::find(top.begin(), top.end(), first) == top.end()) top.push_back(first);
  }
  const std::vector<std::string> wanted = SplitTrimmed(prefixes, ',');
  for (const std::string& prefix : wanted)
    RLF_CHECK_ARG(!prefix.empty(), "config key 'freeze': an empty prefix in '", prefixes, "'");
  for (const std::string& prefix : wanted) {
    size_t matched = 0;
    for (auto& p : params) {
      // A whole name part: "block1" is not a prefix of "block10_ff.weight".
      const std::string& key = p.key();
      const bool boundary = key.size() == prefix.size() || prefix.back() == '.' || prefix.back() == '_' ||
                            key[prefix.size()] == '.' || key[prefix.size()] == '_';
      if (key.rfind(prefix, 0) != 0 || !boundary) continue;
      p.value().set_requires_grad(false);
      if (std::find(frozen.begin(), frozen.end(), p.key()) == frozen.end()) frozen.push_back(p.key());
      ++matched;
    }
    RLF_CHECK_ARG(matched > 0, "config key 'freeze': no parameter of the network starts with '", prefix,
                  "' (its parameters start with ", Join(top, ", "), ")");
  }
  RLF_CHECK_ARG(frozen.size() < params.size(), "config key 'freeze': '", prefixes,
                "' freezes every parameter of the network; nothing would train");
  if (report)
    std::fprintf(stderr, "froze %zu parameter tensors: %s\n", frozen.size(), Join(frozen, ", ").c_str());
  return frozen;
}

namespace {

// Trains `config` from step 0 in out_dir: a new directory (Train), or with
// restart a run directory that has no checkpoint (Resume), which `lock`
// already holds; its logs are cleared once the agent is ready to train.
TrainResult TrainFromStart(TrainConfig& config, const std::string& out_dir, const RunnerOptions& options,
                           std::optional<RunDirectoryLock>& lock, bool restart) {
  dist::Communicator* comm = options.comm.get();
  const bool root = comm == nullptr || comm->root();
  std::unique_ptr<Algorithm> algo;
  OnEveryRank(comm, "building the agent", [&] { algo = BuildAlgorithm(config, options, /*training=*/true); });
  RLF_CHECK_ARG(algo->acts() || config.run.eval_interval == 0, config.run.algo,
                " does not act, so it has no periodic evaluation: eval_interval must be 0 (see its metrics instead)");
  if (root && !algo->acts() && config.run.eval_episodes != 0 &&
      config.run.eval_episodes != RunConfig{}.eval_episodes && !restart)
    Warn(StrCat("config key eval_episodes is ", config.run.eval_episodes, ", but ", config.run.algo,
                " does not act: it plays no evaluation episodes (no effect)"));
  // As eval's --max-episode-steps: a cap on an env that ends its own
  // episodes would change nothing.
  RLF_CHECK_ARG(config.run.eval_max_episode_steps == kDefaultEvalStepCap || config.run.env.empty() ||
                    NeedsEvaluationStepCap(config.run.env, config.run.env_kwargs),
                "config key 'eval_max_episode_steps' caps envs without a step limit; ", config.run.env,
                " has its own (env_kwargs max_episode_steps=N changes it)");
  OnEveryRank(comm, "preparing to train", [&] { algo->PrepareToTrain(); });
  if (!config.run.init_from.empty())
    OnEveryRank(comm, "warm-starting the agent", [&] { WarmStart(*algo, config.run.init_from, root, config.algo.get()); });
  OnEveryRank(comm, "freezing parameters", [&] { FreezeParameters(*algo, config.run.freeze, root); });
  BroadcastWeights(comm, *algo);
  OnEveryRank(comm, "creating the run directory", [&] {
    if (!root) return;
    std::error_code ec;
    fs::create_directories(out_dir + "/checkpoints", ec);
    RLF_CHECK_ARG(!ec, "cannot create the output directory '", out_dir, "': ", ec.message(), " (choose another --out)");
    if (!lock) lock.emplace(out_dir);
    if (restart) {
      // The stopped run's logs go (the agent built, warm-started and ready:
      // a restart that cannot train changes nothing); its best model is kept
      // aside.
      for (const auto& [name, content] : algo->RunFiles()) fs::remove(fs::path(out_dir) / name, ec);
      for (const char* name : {"progress.csv", "evaluations.csv"}) fs::remove(fs::path(out_dir) / name, ec);
      for (const auto& e : fs::directory_iterator(out_dir, ec))
        if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) fs::remove(e.path(), ec);
      const fs::path best = fs::path(out_dir) / "checkpoints" / "best.pt";
      if (fs::exists(best, ec)) {
        fs::rename(best, best.string() + ".before-restart", ec);
        std::fprintf(stderr, "the stopped run's best model is kept as %s.before-restart\n", best.c_str());
      }
    }
    WriteFileAtomically(out_dir + "/config.yaml", config.ToYaml());
  });
  try {
    return RunLoop(config, out_dir, std::move(algo), /*resumed=*/false, RunnerState{}, "", options);
  } catch (const Interrupted&) {
    throw;  // it saved a checkpoint to resume from
  } catch (...) {
    // A run that failed in its first iteration (an agent's data that would
    // not load, a setting only its first update could reject) has nothing
    // to keep or resume: its directory goes, so that the same command can
    // be run again once the cause is fixed.
    if (root && !restart) {
      std::error_code ec;
      bool rows = false;
      if (std::ifstream csv(out_dir + "/progress.csv"); csv) {
        std::string line;
        int n = 0;
        while (n < 2 && std::getline(csv, line)) ++n;
        rows = n >= 2;
      }
      if (!rows && fs::is_empty(out_dir + "/checkpoints", ec) && !ec) fs::remove_all(out_dir, ec);
    }
    throw;
  }
}

}  // namespace

TrainResult Train(TrainConfig config, const std::string& out_dir, const RunnerOptions& options) {
  dist::Communicator* comm = options.comm.get();
  const bool root = comm == nullptr || comm->root();
  OnEveryRank(comm, "checking the config", [&] { config.Validate(); });
  CheckJobAgrees(comm, config);
  OnEveryRank(comm, "checking the output directory", [&] {
    if (root) {
      // The error_code overloads: a path that cannot be looked at (no search
      // permission) gets the error below, not libstdc++'s exception text.
      std::error_code ec;
      const auto status = fs::status(out_dir, ec);
      RLF_CHECK_ARG(!ec || ec == std::errc::no_such_file_or_directory, "cannot use the output directory '", out_dir,
                    "': ", ec.message(), " (choose another --out)");
      const bool exists = fs::exists(status);
      RLF_CHECK_ARG(!exists || fs::is_directory(status), "output directory '", out_dir,
                    "' is a file; choose another --out");
      // What a run killed before writing its config.yaml leaves (its lock
      // and an empty checkpoints/) counts as empty.
      bool empty = true;
      std::error_code list_ec;
      if (exists)
        for (const auto& e : fs::directory_iterator(out_dir, list_ec)) {
          const std::string name = e.path().filename().string();
          if (name == ".rlforge.lock" || (name == "checkpoints" && fs::is_directory(e.path(), list_ec) &&
                                          fs::is_empty(e.path(), list_ec)))
            continue;
          empty = false;
        }
      RLF_CHECK_ARG(empty && !list_ec, "output directory '", out_dir,
                    "' already exists and is not empty; choose another --out or use --resume");
    }
  });
  std::optional<RunDirectoryLock> lock;
  return TrainFromStart(config, out_dir, options, lock, /*restart=*/false);
}

namespace {

// Whether checkpoints/ holds any checkpoint file: step_N.pt, final.pt,
// best.pt, or one set aside as damaged (a run with none has nothing to lose
// by starting again).
bool HasCheckpointFiles(const std::string& dir) {
  std::error_code ec;
  const fs::path ckpt = fs::path(dir) / "checkpoints";
  for (fs::directory_iterator it(ckpt, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path p = it->path();
    // best.pt is an evaluation's model, not a state to resume from.
    if ((p.extension() == ".pt" && p.filename() != "best.pt") || p.extension() == ".damaged") return true;
  }
  // A listing that fails (permissions, I/O) is no evidence of "no checkpoint".
  RLF_CHECK(!ec || ec == std::errc::no_such_file_or_directory, "cannot list ", ckpt.string(), ": ", ec.message());
  return false;
}

}  // namespace

std::vector<std::string> CheckpointsNewestFirst(const std::string& dir) {
  const fs::path ckpt = fs::path(dir) / "checkpoints";
  std::vector<std::pair<int64_t, std::string>> steps;
  if (fs::is_directory(ckpt)) {
    for (const auto& e : fs::directory_iterator(ckpt)) {
      const std::string name = e.path().filename().string();
      if (name.size() <= 8 || name.rfind("step_", 0) != 0 || e.path().extension() != ".pt") continue;
      const std::string digits = name.substr(5, name.size() - 8);
      if (digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
      steps.emplace_back(std::stoll(digits), e.path().string());
    }
  }
  std::sort(steps.rbegin(), steps.rend());
  std::vector<std::string> out;
  if (fs::exists(ckpt / "final.pt")) out.push_back((ckpt / "final.pt").string());
  for (const auto& [n, path] : steps) out.push_back(path);
  RLF_CHECK_ARG(!out.empty(), "'", dir, "' has no checkpoint (expected ", ckpt.string(), "/final.pt or step_N.pt)");
  return out;
}

std::string LatestCheckpoint(const std::string& dir) { return CheckpointsNewestFirst(dir).front(); }

TrainResult Resume(const std::string& dir, std::optional<int64_t> new_total_steps, const RunnerOptions& options) {
  dist::Communicator* comm = options.comm.get();
  const bool root = comm == nullptr || comm->root();
  const int world = comm ? comm->world_size() : 1;
  TrainConfig config;
  std::optional<RunDirectoryLock> lock;
  OnEveryRank(comm, "reading the run directory", [&] {
    std::error_code ec;
    RLF_CHECK_ARG(fs::exists(dir, ec), "'", dir, "' does not exist (give the directory of the run to resume)");
    RLF_CHECK_ARG(fs::is_regular_file(dir + "/config.yaml", ec), "'", dir, "' is not a run directory (no config.yaml)");
    if (root) lock.emplace(dir);  // before anything in it changes
    config = TrainConfig::FromYamlFile(dir + "/config.yaml");
    if (new_total_steps) {
      RLF_CHECK_ARG(*new_total_steps >= 1, "the run's new total steps (--steps) must be >= 1, got ", *new_total_steps);
      config.run.total_steps = *new_total_steps;
    }
  });
  CheckJobAgrees(comm, config);
  // A run stopped before its first checkpoint (killed, or checkpoint_interval
  // 0) has nothing to continue: it starts again from step 0 in its directory.
  bool restart = false;
  OnEveryRank(comm, "listing the checkpoints", [&] {
    restart = !HasCheckpointFiles(dir);
    // A finished run whose checkpoints were removed is not started again
    // (that would replace its results).
    RLF_CHECK_ARG(!restart || !fs::exists(dir + "/eval.json"), "the run in '", dir,
                  "' is finished (eval.json) and keeps no checkpoint to continue from; train a new run to train "
                  "longer");
  });
  if (comm != nullptr) comm->CheckAgree("whether the run starts again from step 0", restart ? "yes" : "no");
  if (restart) {
    if (root)
      std::fprintf(stderr,
                   "'%s' has no checkpoint (the run stopped before its first one): it starts again from step 0 "
                   "with its config.yaml\n",
                   dir.c_str());
    return TrainFromStart(config, dir, options, lock, /*restart=*/true);
  }
  // The newest checkpoint that loads: a damaged one (truncated, corrupted) is
  // reported and the next older one is tried.
  std::unique_ptr<Algorithm> algo;
  RunnerState state;
  std::string checkpoint;
  std::vector<std::string> failures;
  std::vector<std::string> candidates;
  OnEveryRank(comm, "listing the checkpoints", [&] { candidates = CheckpointsNewestFirst(dir); });
  for (const std::string& path : candidates) {
    // What the file holds before loading it: the size of the job that wrote
    // it (the same answer on every rank) and whether it has the runner's
    // state. Unreadable: Load below says why, and the next older one is tried.
    int ranks = world;
    bool has_runner_state = true;
    try {
      CheckpointReader probe(path);
      ranks = dist::CheckpointRanks(probe);
      std::string unused;
      probe.Bytes("runner/iteration", &unused);
    } catch (const Error&) {
      has_runner_state = false;  // unreadable, or written before the runner's state was kept
    }
    RLF_CHECK_ARG(ranks == world, path, " was written by ",
                  ranks == 1 ? std::string("a single process") : StrCat("a job of ", ranks, " ranks"),
                  world == 1 ? StrCat(", not by one process; resume it as a job of that size (rlforge launch --nproc ",
                                      ranks, " -- train --resume ", dir, ")")
                             : StrCat("; this job has ", world, " ranks (resume with the same number)"));
    auto candidate = BuildAlgorithm(config, options, /*training=*/true);
    RunnerState s;
    try {
      if (has_runner_state) {
        candidate->Load(path, [&s](StateVisitor& v) { s.Visit(v); });
      } else {
        candidate->Load(path);
        Warn(StrCat(path, " holds no runner state (an earlier rlforge): the 100-episode window, the episode count "
                    "and the time restart"));
      }
    } catch (const Error& e) {
      const std::string why = e.what() + ConfigDifferences(path, config);
      Warn(StrCat("cannot resume from ", path, ": ", why));
      // Said once per reason at the end: the file's own name left out
      // ("checkpoint PATH does not fit" reads "the checkpoint does not fit").
      std::string reason = why;
      for (const auto& [from, to] : {std::pair<std::string, std::string>{"checkpoint " + path, "the checkpoint"},
                                     std::pair<std::string, std::string>{path, "it"}})
        for (size_t at; (at = reason.find(from)) != std::string::npos;) reason.replace(at, from.size(), to);
      failures.push_back(reason);
      // A damaged file (not one of another configuration) is set aside, so
      // that eval and play do not pick it either.
      bool readable = true;
      try {
        CheckpointReader check(path);
      } catch (const Error&) {
        readable = false;
      }
      if (!readable && root) {
        fs::rename(path, path + ".damaged");
        Warn(StrCat("renamed it to ", path, ".damaged"));
      }
      continue;
    }
    algo = std::move(candidate), state = std::move(s), checkpoint = path;
    break;
  }
  OnEveryRank(comm, "loading a checkpoint", [&] {
    // The newest one's reason; the others' were each warned above (a line
    // joining them all ran to thousands of characters).
    size_t others = 0;
    for (const std::string& f : failures) others += f != failures.front();
    RLF_CHECK(algo != nullptr, "no checkpoint of '", dir, "' can be loaded (the newest: ", failures.front(),
              failures.size() > 1 ? StrCat("; ", failures.size() - 1, " older one(s) fail too",
                                           others > 0 ? ", for the reasons warned above" : ", for the same reason")
                                  : std::string(),
              ")");
  });
  // Every rank must continue from the same checkpoint (a file system that
  // shows ranks different listings would otherwise split the job).
  if (comm != nullptr)
    comm->CheckAgree("checkpoint to resume from", StrCat(fs::path(checkpoint).filename().string(), " at step ",
                                                         algo->num_timesteps()));
  if (!failures.empty())
    std::fprintf(stderr, "resuming from the newest checkpoint that loads: %s (step %lld)\n", checkpoint.c_str(),
                 static_cast<long long>(algo->num_timesteps()));
  // config.yaml edited since the checkpoint: said, not silently taken.
  if (root)
    if (const std::string diff = ConfigTextDifferences(state.config_yaml, checkpoint + "'s config", config);
        !diff.empty())
      Warn(StrCat(diff.substr(2), "; the run continues with config.yaml's values"));
  const bool all_steps = algo->num_timesteps() >= config.run.total_steps || algo->finished();
  OnEveryRank(comm, "checking the run is unfinished", [&] {
    // --steps equal to the steps trained finishes a run without eval.json
    // (the check below refuses it for a complete one).
    const bool evaluated = fs::exists(dir + "/eval.json");
    RLF_CHECK_ARG(!new_total_steps || *new_total_steps >= algo->num_timesteps() || algo->finished(), "--steps ",
                  *new_total_steps, " is below the ", algo->num_timesteps(), " steps the run in '", dir,
                  "' has trained (", fs::path(checkpoint).filename().string(), "); pass a larger --steps to train longer",
                  evaluated ? "" : ", or none to finish it");
    RLF_CHECK_ARG(!all_steps || !evaluated, "the run in '", dir, "' is complete (", algo->num_timesteps(),
                  " steps trained of total_steps ", config.run.total_steps, ", eval.json written); pass ",
                  new_total_steps ? "a larger --steps" : "--steps N", " to train longer");
  });
  // Before the run directory changes: what training needs besides the
  // checkpoint must be there (an offline agent's dataset). A run that only
  // lacks its final evaluation needs the env alone.
  if (!all_steps) OnEveryRank(comm, "preparing to train", [&] { algo->PrepareToTrain(); });
  if (root) {
    if (all_steps)
      std::fprintf(stderr, "the run in '%s' has all its steps but no final evaluation: finishing it\n", dir.c_str());
    fs::remove(dir + "/eval.json");
    if (!all_steps && fs::path(checkpoint).filename() == "final.pt") {
      const std::string renamed = StrCat(dir, "/checkpoints/step_", algo->num_timesteps(), ".pt");
      fs::rename(checkpoint, renamed);
      checkpoint = renamed;
    }
    WriteFileAtomically(dir + "/config.yaml", config.ToYaml());
  }
  OnEveryRank(comm, "freezing parameters", [&] { FreezeParameters(*algo, config.run.freeze, false); });
  return RunLoop(config, dir, std::move(algo), /*resumed=*/true, std::move(state), checkpoint, options);
}

namespace {

// The run directory of a run directory or of a checkpoint inside one; a path
// that is neither says what it is (missing, another file of a run, ...).
std::string RunDirOf(const std::string& path) {
  auto is_run = [](const fs::path& d) { return !d.empty() && fs::is_regular_file(d / "config.yaml"); };
  fs::path p(path);
  while (p.has_parent_path() && p.filename().empty()) p = p.parent_path();  // "run/" -> "run"
  RLF_CHECK_ARG(fs::exists(p), "'", path, "' does not exist (give a run directory or a checkpoint inside one)");
  // A file's run is two levels up, however the path was written (a bare
  // "final.pt" inside checkpoints/, "./checkpoints/final.pt" inside the run).
  const fs::path absolute = fs::absolute(p).lexically_normal();
  const std::string dir = fs::is_regular_file(p) ? absolute.parent_path().parent_path().string() : path;
  if (is_run(dir)) return dir;
  const fs::path parent = absolute.parent_path();
  RLF_CHECK_ARG(!is_run(parent), "'", path, "' is ",
                fs::is_directory(p) ? "a folder" : "a file", " of the run '", parent.string(),
                "', not a checkpoint: give the run directory or a checkpoint in ", (parent / "checkpoints").string());
  RLF_CHECK_ARG(false, "'", path, "' is not a run directory or a checkpoint inside one (no config.yaml)");
  return dir;
}

}  // namespace

TrainConfig LoadRunConfig(const std::string& path) { return TrainConfig::FromYamlFile(RunDirOf(path) + "/config.yaml"); }

LoadedRun LoadRun(const std::string& path) {
  const std::string dir = RunDirOf(path);
  const std::string checkpoint = fs::is_regular_file(path) ? path : LatestCheckpoint(dir);
  LoadedRun out;
  out.checkpoint = checkpoint;
  out.config = TrainConfig::FromYamlFile(dir + "/config.yaml");
  out.algorithm = BuildAlgorithm(out.config, {}, /*training=*/false);
  try {
    out.algorithm->Load(checkpoint);
  } catch (const InvalidArgument&) {
    throw;
  } catch (const Error& e) {
    throw Error(e.what() + ConfigDifferences(checkpoint, out.config));
  }
  return out;
}

}  // namespace rlforge
