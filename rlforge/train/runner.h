// rlforge/train/runner.h — runs an Algorithm and writes the run directory.
//
//   DIR/config.yaml          the fully resolved config (loading it reproduces the run)
//   DIR/progress.csv         one row per log interval
//   DIR/events.out.tfevents.* TensorBoard scalars (same values as the CSV)
//   DIR/checkpoints/step_N.pt periodic checkpoints; checkpoints/final.pt at the end
//   DIR/eval.json            the final evaluation (written last: its presence
//                            marks a finished run)
// Everything is validated before DIR is created. Checkpoints are atomic; a
// run killed at any moment leaves its last checkpoint loadable.
// Run as one rank of a distributed job (RunnerOptions::comm), every rank
// runs the same loop and rank 0 writes DIR.
// Resume(DIR) reloads config.yaml and the latest checkpoint and continues; with
// one env thread and one torch thread the resumed run ends with exactly the
// weights of an uninterrupted one.
#ifndef RLFORGE_TRAIN_RUNNER_H_
#define RLFORGE_TRAIN_RUNNER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rlforge/env/evaluation.h"
#include "rlforge/nn/blas.h"
#include "rlforge/train/train_config.h"

namespace rlforge {

struct TrainResult {
  std::string run_dir;
  int64_t timesteps = 0;
  EpisodeStats eval;  // the final model's evaluation (eval_episodes)
  double seconds = 0;
  // With eval_interval: the best periodic evaluation and its step (the model
  // is checkpoints/best.pt).
  std::optional<EpisodeStats> best_eval;
  int64_t best_timesteps = 0;
};

// Thrown by Train and Resume after SIGINT or SIGTERM arrived during training:
// the run saved checkpoints/step_N.pt first, so `rlforge train --resume DIR`
// continues it. Another signal a second or more later ends the process at once.
class Interrupted : public Error {
 public:
  Interrupted(int signal, const std::string& what) : Error(what), signal_(signal) {}
  int signal() const { return signal_; }

 private:
  int signal_;
};

struct RunnerOptions {
  // Live progress line on stderr (only when stderr is a terminal).
  bool progress = true;
  // The job this process is one rank of (rlforge/dist/communicator.h), or
  // null. Every rank runs Train (or Resume) with the same config and DIR;
  // all of them check first that their configs and rlforge versions agree.
  // Rank 0 alone writes the run directory (config, logs, TensorBoard,
  // checkpoints holding every rank's envs, evaluations); the others only
  // read it when resuming. progress.csv's episode statistics cover every
  // rank's envs. An error on one rank (a bad --out, a dead peer) ends every
  // rank with an error.
  std::shared_ptr<dist::Communicator> comm;
  // After SIGINT/SIGTERM stopped the run, keep rlforge's handler installed
  // (late copies of the signal are then ignored until the process exits):
  // for the rlforge command, which exits right after. Library callers get
  // their own handlers back.
  bool keep_signal_handlers = false;
  // For actor-learner agents (impala): the job whose rank 0 this learner is
  // (its actors are the other ranks); null otherwise.
  std::shared_ptr<dist::JobEnv> job;
};

TrainResult Train(TrainConfig config, const std::string& out_dir, const RunnerOptions& options = {});

// The agent of `config`, built as the runner builds it (libtorch threads
// set, the job's communicator); with training, the agent may load the runs
// it learns from (RunContext::load_run: grpo's reward_model, ...), as Train
// and Resume allow; without, it is built to act only (LoadRun).
std::unique_ptr<Algorithm> BuildAlgorithm(const TrainConfig& config, const RunnerOptions& options = {},
                                          bool training = true);
// "" when `env` has the observation and action spaces of the env a run
// with settings `trained` ran on; else the first difference in words, e.g.
// "CartPole-v1 with observations Box(...); Acrobot-v1 here has Box(...)".
std::string SpacesMismatch(const RunSettings& trained, const Env& env);

// The warm start of `train --init-from FROM` (config key init_from; Train
// calls it on a new run): FROM's network parameters (a run directory or a
// checkpoint) copied into algo's network wherever a parameter of the same
// name has the same shape, then algo.NetworkLoaded(). InvalidArgument when
// none fits, when FROM's env has other spaces (except for language models,
// warmed whole), when tensors of the same name have other shapes and less
// than half the network's values would be copied (another net_arch), or
// when `config` (this run's, if given) names another activation. With
// report, says on stderr what it copied.
void WarmStart(Algorithm& algo, const std::string& from, bool report, AlgoConfig* config = nullptr);
// Config key freeze (Train and Resume call it): every parameter of algo's
// network whose name starts with one of the comma-separated prefixes (ending
// where a part of the name ends: at '.' or '_', or the name's end) stops
// requiring gradients, which rlforge's optimizers, gradient clipping and
// autograd all honour, so it keeps its value. InvalidArgument naming the
// prefix (and the network's top-level names) when one matches nothing.
// Returns the names frozen; with report, lists them on stderr.
std::vector<std::string> FreezeParameters(Algorithm& algo, const std::string& prefixes, bool report);
// new_total_steps: train until this many steps instead of the saved total.
TrainResult Resume(const std::string& dir, std::optional<int64_t> new_total_steps, const RunnerOptions& options = {});

// A run directory's checkpoints, newest first: final.pt, then step_N.pt by
// decreasing N; InvalidArgument when there is none.
std::vector<std::string> CheckpointsNewestFirst(const std::string& dir);
// The newest of them.
std::string LatestCheckpoint(const std::string& dir);

// A trained policy from a run directory or a checkpoint file inside one.
struct LoadedRun {
  TrainConfig config;
  std::unique_ptr<Algorithm> algorithm;
  std::string checkpoint;  // the file loaded: the one given, or the directory's final.pt, else its newest step_N.pt
};
LoadedRun LoadRun(const std::string& dir_or_checkpoint);
// Only the run's config (config.yaml of the run directory, or of the run
// directory a checkpoint lies in).
TrainConfig LoadRunConfig(const std::string& dir_or_checkpoint);

}  // namespace rlforge

#endif  // RLFORGE_TRAIN_RUNNER_H_
