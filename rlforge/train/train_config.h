// rlforge/train/train_config.h — the resolved configuration of a training run.
//
// A run's config is RunConfig (the algorithm, the run-level settings, logging,
// checkpoints) plus the algorithm's own config (rlforge/algos/algorithm.h),
// visited as one flat set of keys. It is resolved
// in this order, later sources overriding earlier ones:
//   1. the algorithm's in-class defaults;
//   2. the preset for (algo, env) from configs/<algo>.yaml, when there is one;
//   3. --config FILE.yaml;
//   4. --set key=value, in order;
//   5. --steps / --seed.
// then validated, before anything is created on disk. The run directory's
// config.yaml is the result; loading it reproduces the run.
#ifndef RLFORGE_TRAIN_TRAIN_CONFIG_H_
#define RLFORGE_TRAIN_TRAIN_CONFIG_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rlforge/algos/algorithm.h"
#include "rlforge/config/config.h"
#include "rlforge/env/evaluation.h"

namespace rlforge {

// The run-level keys: the algorithm, the settings every agent is built with
// (RunSettings: env, seed, budget, envs, threads, normalization) and the
// runner's own (logging, checkpoints, evaluation).
struct RunConfig : RunSettings {
  std::string algo = "ppo";            // algorithm name
  int64_t log_interval = 1;            // iterations between log rows
  int64_t checkpoint_interval = 0;     // env steps between checkpoints (0: final only)
  int64_t eval_episodes = 100;         // episodes of the final evaluation
  bool eval_deterministic = true;      // greedy actions in the final evaluation
  int64_t eval_interval = 0;           // env steps between periodic evaluations (0: none)
  int64_t eval_interval_episodes = 10; // episodes of each periodic evaluation
  // Step cap on evaluation episodes of envs with no step limit of their own.
  int64_t eval_max_episode_steps = kDefaultEvalStepCap;
  // Warm start: a run directory or checkpoint whose network's parameters
  // initialize this run's network where names and shapes match ("": none).
  std::string init_from;
  // Comma-separated prefixes of the network's parameter names kept at their
  // initial (usually warm-started) values ("": none).
  std::string freeze;

  void Visit(FieldVisitor& v);
  void Validate() const;
};

// configs/<algo>.yaml, embedded at build time.
const std::map<std::string, std::string>& EmbeddedPresets();

struct TrainConfig {
  RunConfig run;
  std::unique_ptr<AlgoConfig> algo;

  TrainConfig() = default;
  TrainConfig(const TrainConfig& o)
      : run(o.run), algo(o.algo ? o.algo->Clone() : nullptr), used_preset(o.used_preset), notes(o.notes) {}
  TrainConfig(TrainConfig&&) = default;
  TrainConfig& operator=(TrainConfig&&) = default;
  TrainConfig& operator=(const TrainConfig& o) {
    if (this != &o) *this = TrainConfig(o);
    return *this;
  }
  void Visit(FieldVisitor& v) {
    run.Visit(v);
    algo->Visit(v);
  }
  // Every key's value, the env's kwargs (by building it once) and that the
  // agent honours every run-level key set away from its default.
  void Validate() const;
  // What the agent is built from.
  RunContext Context() const { return {run.algo, run}; }
  std::string ToYaml();
  // Whether a preset for (algo, env) was applied.
  bool used_preset = false;
  // What Resolve took from elsewhere and left out, for the caller to warn
  // about once (a dataset's env_spec kwargs that the env does not take).
  std::vector<std::string> notes;

  // preset: "" for the env's default preset (key `ENV`), or a named variant
  // (key `ENV:NAME` in configs/<algo>.yaml), e.g. "fast". An offline agent's
  // `dataset` (from `sets` or the file) gives the env when `env` and the
  // file name none (or the dataset's own ID), with the kwargs it was
  // recorded with (before the file's and `sets`' env_kwargs).
  static TrainConfig Resolve(const std::string& algo, const std::string& env, const std::string& config_file,
                             const std::vector<std::string>& sets, std::optional<int64_t> steps,
                             std::optional<int64_t> seed, const std::string& preset = "");
  // Loads a saved config.yaml (the algorithm is read from its `algo` key).
  static TrainConfig FromYamlFile(const std::string& path);
  // The same from a config.yaml's text; `source` names it in errors.
  static TrainConfig FromYamlText(const std::string& text, const std::string& source);
};

}  // namespace rlforge

#endif  // RLFORGE_TRAIN_TRAIN_CONFIG_H_
