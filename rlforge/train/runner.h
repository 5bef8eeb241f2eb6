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
};

TrainResult Train(TrainConfig config, const std::string& out_dir, const RunnerOptions& options = {});
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
};
LoadedRun LoadRun(const std::string& dir_or_checkpoint);
// Only the run's config (config.yaml of the run directory, or of the run
// directory a checkpoint lies in).
TrainConfig LoadRunConfig(const std::string& dir_or_checkpoint);

}  // namespace rlforge

#endif  // RLFORGE_TRAIN_RUNNER_H_
