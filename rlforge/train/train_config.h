// rlforge/train/train_config.h — the resolved configuration of a training run
// and the registry of algorithms.
//
// A run's config is RunConfig (env, seed, budget, logging, checkpoints) plus
// the algorithm's own config, visited as one flat set of keys. It is resolved
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
#include "rlforge/train/config.h"

namespace rlforge {

struct RunConfig {
  std::string algo = "ppo";            // algorithm name
  std::string env = "CartPole-v1";     // env ID
  Kwargs env_kwargs;                   // env kwargs
  int64_t seed = 0;                    // seed of everything
  int64_t total_steps = 100000;        // env steps to train for
  int64_t num_envs = 8;                // envs stepped in parallel
  int64_t env_threads = 1;             // threads stepping them
  int64_t torch_threads = 1;           // libtorch intra-op threads
  bool normalize_obs = false;          // running observation normalization
  bool normalize_reward = false;       // running return-scale reward normalization
  int64_t log_interval = 1;            // iterations between log rows
  int64_t checkpoint_interval = 0;     // env steps between checkpoints (0: final only)
  int64_t eval_episodes = 100;         // episodes of the final evaluation
  bool eval_deterministic = true;      // greedy actions in the final evaluation
  int64_t eval_interval = 0;           // env steps between periodic evaluations (0: none)
  int64_t eval_interval_episodes = 10; // episodes of each periodic evaluation

  void Visit(FieldVisitor& v);
  void Validate() const;
};

// An algorithm's hyperparameters, behind a small interface.
class AlgoConfig {
 public:
  virtual ~AlgoConfig() = default;
  virtual void Visit(FieldVisitor& v) = 0;
  virtual void Validate() const = 0;
  virtual std::unique_ptr<AlgoConfig> Clone() const = 0;
};

template <typename Config>
class AlgoConfigOf : public AlgoConfig {
 public:
  Config value;
  void Visit(FieldVisitor& v) override { value.Visit(v); }
  void Validate() const override { value.Validate(); }
  std::unique_ptr<AlgoConfig> Clone() const override { return std::make_unique<AlgoConfigOf>(*this); }
};

struct AlgoSpec {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<AlgoConfig>()> make_config;
  std::function<std::unique_ptr<Algorithm>(const RunConfig&, const AlgoConfig&)> make_algorithm;
};

// The algorithm registry (rlforge/algos/registry.cc: one line per algorithm).
const std::vector<AlgoSpec>& Algorithms();
const AlgoSpec& FindAlgorithm(const std::string& name);  // InvalidArgument with the valid names
// configs/<algo>.yaml, embedded at build time.
const std::map<std::string, std::string>& EmbeddedPresets();

struct TrainConfig {
  RunConfig run;
  std::unique_ptr<AlgoConfig> algo;

  TrainConfig() = default;
  TrainConfig(const TrainConfig& o) : run(o.run), algo(o.algo ? o.algo->Clone() : nullptr), used_preset(o.used_preset) {}
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
  void Validate() const;
  std::string ToYaml();
  // Whether a preset for (algo, env) was applied.
  bool used_preset = false;

  // preset: "" for the env's default preset (key `ENV`), or a named variant
  // (key `ENV:NAME` in configs/<algo>.yaml), e.g. "fast".
  static TrainConfig Resolve(const std::string& algo, const std::string& env, const std::string& config_file,
                             const std::vector<std::string>& sets, std::optional<int64_t> steps,
                             std::optional<int64_t> seed, const std::string& preset = "");
  // Loads a saved config.yaml (the algorithm is read from its `algo` key).
  static TrainConfig FromYamlFile(const std::string& path);
};

}  // namespace rlforge

#endif  // RLFORGE_TRAIN_TRAIN_CONFIG_H_
