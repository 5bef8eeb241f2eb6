// rlforge/algos/algorithm.h — the contract every agent follows, and the
// algorithm registry.
//
// Every agent is built the same way, by the runner, tests and benchmarks
// alike:
//   MyAgent(const RunContext& ctx, const MyAgentConfig& config)
// where ctx holds the run-level settings (env ID and kwargs, seed, step
// budget, number of envs and threads, observation/reward normalization) and
// config is the agent's own struct (one field per hyperparameter, listed once
// in Visit(FieldVisitor&), checked in Validate()). Then it
//   - declares the metrics Iterate() may report, at construction
//     (DeclareMetrics): the runner writes every column of progress.csv from
//     the first row, empty where a value does not exist yet;
//   - lists its whole state once, in VisitState(StateVisitor&): Save and Load
//     are generic (one checkpoint file of named fields, rlforge/core/
//     checkpoint_file.h; networks and optimizers through rlforge/nn/state.h);
//   - declares the run-level keys it honours (static constexpr uint32_t
//     kRunKeys); a run that sets another away from its default is rejected
//     with the key's and the agent's names before anything runs;
//   - asks its env for capabilities (masks, turn structure, symmetries,
//     scripted policies through the registry), never for a class or an ID.
// Iterate() collects experience and updates once; MakePolicy() hands out a
// Policy for evaluation and play.
//
// A new agent touches its own folder (algos/<family>/), one line in
// algos/registry.cc, its preset file configs/<name>.yaml and its docs
// (docs/architecture.md lists exactly that).
#ifndef RLFORGE_ALGOS_ALGORITHM_H_
#define RLFORGE_ALGOS_ALGORITHM_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "rlforge/config/config.h"
#include "rlforge/config/kwargs.h"
#include "rlforge/core/state_io.h"
#include "rlforge/env/policy.h"
#include "rlforge/env/vector_env.h"
#include "rlforge/runtime/model.h"

namespace torch::nn {
class Module;
}
namespace rlforge::dist {
class Communicator;
struct JobEnv;
}

namespace rlforge {

// Named scalars of one iteration (losses, entropy, approx_kl, ...).
using Metrics = std::map<std::string, double>;

// The run-level settings every agent is built with (config keys of their
// own names; the runner adds its logging and checkpoint keys).
struct RunSettings {
  std::string env = "CartPole-v1";     // env ID
  Kwargs env_kwargs;                   // env kwargs
  int64_t seed = 0;                    // seed of everything
  int64_t total_steps = 100000;        // env steps to train for
  int64_t num_envs = 8;                // envs stepped in parallel
  int64_t env_threads = 1;             // threads stepping them
  int64_t torch_threads = 1;           // libtorch intra-op threads
  bool normalize_obs = false;          // running observation normalization
  bool normalize_reward = false;       // running return-scale reward normalization

  void Visit(FieldVisitor& v);
  void Validate() const;
};

// The run-level keys an agent may honour (bit flags for kRunKeys). env,
// env_kwargs, seed and total_steps every agent honours.
enum RunKey : uint32_t {
  kRunNumEnvs = 1u << 0,
  kRunEnvThreads = 1u << 1,
  kRunTorchThreads = 1u << 2,
  kRunNormalizeObs = 1u << 3,
  kRunNormalizeReward = 1u << 4,
  // Not a config key: the agent trains as one rank of a job of several
  // (RunContext::comm; data-parallel, rlforge/dist/).
  kRunDistributed = 1u << 5,
  // Not a config key: in a job, rank 0 runs the agent as a learner (given
  // RunContext::job) and the other ranks run AlgoSpec::run_actor.
  kRunActorLearner = 1u << 6,
};
// InvalidArgument naming the first key of `run` set away from its default
// that `honoured` lacks: "config key 'normalize_obs' is not supported by dqn ...".
void CheckRunKeys(const std::string& algo, uint32_t honoured, const RunSettings& run);

// What an agent is built from (besides its own config).
struct RunContext {
  std::string algo;  // the agent's registry name (messages, checkpoints)
  RunSettings run;
  // The job this process is one rank of (rlforge/dist/communicator.h), or
  // null for a single process. In a job, num_envs is the job's total: each
  // rank steps num_envs / world_size of them (local_num_envs()).
  std::shared_ptr<dist::Communicator> comm;
  // For actor-learner agents (kRunActorLearner): the job the learner (rank
  // 0) serves, or null for a single process with local actors only.
  std::shared_ptr<dist::JobEnv> job;
  // Loads another run (a run directory, or a checkpoint file in one) as its
  // agent, as `rlforge eval` does: how an agent reads a run it learns from
  // (grpo's and ppo-lm's reward_model). The runner sets it when it trains or
  // resumes; it is null when an agent is built only to act (eval, play,
  // export) or by hand.
  std::function<std::unique_ptr<class Algorithm>(const std::string& dir_or_checkpoint)> load_run;
  int rank() const;
  int world_size() const;
  int64_t local_num_envs() const { return run.num_envs / world_size(); }
  // The global index of this rank's first env (rank x local_num_envs()):
  // env i of rank r is seeded as env r E + i of one process would be.
  int64_t first_env() const { return rank() * local_num_envs(); }

  // The env, and this rank's copies of it (local_num_envs(); all num_envs in
  // a single process) stepped by env_threads threads (env i seeded with
  // seed + i by Reset).
  std::unique_ptr<Env> MakeEnv() const;
  // An env of several agents (Arena-v0 with opponent: external) is refused
  // unless the agent acts for every one (`every_agent`: self-play).
  std::unique_ptr<VectorEnv> MakeVectorEnv(bool every_agent = false) const;
  // Fraction of the step budget done at `steps` (exploration schedules), and
  // the fraction left (1 at the start, 0 at the end; as SB3's schedules take it).
  double Progress(int64_t steps) const {
    return static_cast<double>(steps) / static_cast<double>(run.total_steps > 1 ? run.total_steps : 1);
  }
  double ProgressRemaining(int64_t steps) const;
};

// Config keys set that change nothing in this configuration ("noise_std
// shapes action_noise, and action_noise is none"): one warning line each,
// "warning: config key WHY: no effect", when training, on rank 0, on stderr
// once a process per `warned` flag (a resume may build the agent more than
// once; in Python, each time, as its warning filters decide).
void WarnInertKeys(const RunContext& ctx, std::atomic<bool>* warned, const std::vector<std::string>& why);

// Returns and lengths of the episodes that ended since the last Take.
class EpisodeLog {
 public:
  void Add(double episode_return, int64_t episode_length) {
    returns_.push_back(episode_return);
    lengths_.push_back(episode_length);
  }
  // Appends the logged episodes to returns/lengths and clears the log.
  void Take(std::vector<double>* returns, std::vector<int64_t>* lengths) {
    returns->insert(returns->end(), returns_.begin(), returns_.end());
    lengths->insert(lengths->end(), lengths_.begin(), lengths_.end());
    returns_.clear();
    lengths_.clear();
  }

 private:
  std::vector<double> returns_;
  std::vector<int64_t> lengths_;
};

class Algorithm {
 public:
  explicit Algorithm(const RunContext& ctx) : ctx_(ctx) {}
  virtual ~Algorithm() = default;

  // Collect + update; advances num_timesteps().
  virtual Metrics Iterate() = 0;
  virtual int64_t num_timesteps() const = 0;
  virtual std::unique_ptr<Policy> MakePolicy(bool deterministic) = 0;
  // Whether the agent acts at all; one that does not (a reward model) throws
  // InvalidArgument from MakePolicy, and the runner evaluates no episodes.
  virtual bool acts() const { return true; }
  // Everything needed to continue exactly, listed once: saving and loading
  // both go through it (v.loading() tells which).
  virtual void VisitState(StateVisitor& v) = 0;
  // The network that acts (benchmarks, export); null for tabular agents.
  virtual torch::nn::Module* network() { return nullptr; }
  // The acting network as a runtime model (rlforge/runtime/model.h), with the
  // run's algo, env and step count filled in: what `rlforge export` writes.
  // InvalidArgument for agents whose policy is not a network.
  runtime::Model Export();
  // The policy an export computes, to check it against: MakePolicy(true),
  // except for agents that act by more than their network (AlphaZero's
  // search), which return the network's own greedy policy.
  virtual std::unique_ptr<Policy> MakeNetworkPolicy() { return MakePolicy(true); }
  // Self-play leagues (rlforge/algos/league/league.h): the snapshots kept,
  // and snapshot k as a policy (InvalidArgument naming the valid range; the
  // default has none).
  virtual int64_t num_snapshots() const { return 0; }
  virtual std::unique_ptr<Policy> MakeSnapshotPolicy(int64_t k, bool deterministic);
  // The scripted policy (registry name) that plays agent 1 of a two-agent
  // env in the runner's evaluations: random legal play unless the agent
  // says otherwise (a league: its strongest reference bot).
  virtual std::string evaluation_opponent() const { return "random"; }
  // TensorBoard scalars reported outside progress.csv's rows since the last
  // call (the league's ratings), and files the agent keeps in the run
  // directory (name -> content; the runner rewrites them after every
  // iteration: the league's ratings.csv).
  struct ScalarEvent {
    std::string tag;
    double value = 0;
    int64_t step = 0;
  };
  virtual std::vector<ScalarEvent> TakeScalarEvents() { return {}; }
  virtual std::map<std::string, std::string> RunFiles() const { return {}; }
  // Called after network()'s parameters were overwritten from outside (a warm
  // start, `train --init-from`): re-derive whatever copies the agent keeps of
  // them (target networks). The default has none.
  virtual void NetworkLoaded() {}
  // Whether a warm start must fit every parameter (a language model that
  // kept some random tensors would be no model at all); the default takes
  // whatever fits.
  virtual bool warm_start_needs_every_parameter() const { return false; }
  // Whether the agent has stopped before its step budget (offline agents'
  // early stopping); the runner then ends the run as if it were complete.
  virtual bool finished() const { return false; }
  // Opens what training needs besides the env (an offline agent's dataset),
  // so that a run that cannot train fails before the runner changes its
  // directory (a resume rewrites config.yaml). The default needs nothing.
  virtual void PrepareToTrain() {}
  // The run settings the agent was built with (env, kwargs, seed, ...).
  const RunSettings& run_settings() const { return ctx_.run; }
  // Returns and lengths of the episodes finished since the last call.
  virtual void TakeFinishedEpisodes(std::vector<double>* returns, std::vector<int64_t>* lengths) {
    episodes_.Take(returns, lengths);
  }

  // The metric names Iterate() may report, fixed at construction, in
  // progress.csv's column order.
  const std::vector<std::string>& metric_names() const { return metric_names_; }
  // Checkpoint files (atomic; a failure keeps the previous file). Load throws
  // Error naming the file when it is not a checkpoint of this agent and
  // configuration.
  // `extra` visits more fields kept in the same file (the runner's logging
  // state, named "runner/..."); Load without it skips those fields.
  using ExtraState = std::function<void(StateVisitor&)>;
  void Save(const std::string& path, const ExtraState& extra = nullptr);
  void Load(const std::string& path, const ExtraState& extra = nullptr);

 protected:
  // Appends metric names (duplicates are ignored).
  void DeclareMetrics(const std::vector<std::string>& names);

  // Export()'s network part; the default refuses.
  virtual runtime::Model ExportModel();

  RunContext ctx_;
  EpisodeLog episodes_;

 private:
  std::vector<std::string> metric_names_;
};

// An agent's hyperparameters behind a small interface (configs are resolved,
// saved and overridden without knowing their type).
class AlgoConfig {
 public:
  virtual ~AlgoConfig() = default;
  virtual void Visit(FieldVisitor& v) = 0;
  virtual void Validate() const = 0;
  virtual std::unique_ptr<AlgoConfig> Clone() const = 0;
  // The env steps one Iterate() collects with `num_envs` envs, for agents
  // whose config fixes it (DQN and the off-policy actor-critics: train_freq
  // steps of every env); 0 otherwise. Sets the default log_interval.
  virtual int64_t StepsPerIteration(int64_t /*num_envs*/) const { return 0; }
};

namespace detail {
template <typename Config, typename = void>
struct HasStepsPerIteration : std::false_type {};
template <typename Config>
struct HasStepsPerIteration<Config, std::void_t<decltype(std::declval<const Config&>().StepsPerIteration(int64_t{1}))>>
    : std::true_type {};
}  // namespace detail

template <typename Config>
class AlgoConfigOf : public AlgoConfig {
 public:
  Config value;
  void Visit(FieldVisitor& v) override { value.Visit(v); }
  void Validate() const override { value.Validate(); }
  std::unique_ptr<AlgoConfig> Clone() const override { return std::make_unique<AlgoConfigOf>(*this); }
  int64_t StepsPerIteration(int64_t num_envs) const override {
    if constexpr (detail::HasStepsPerIteration<Config>::value) return value.StepsPerIteration(num_envs);
    return 0;
  }
};

struct AlgoSpec {
  std::string name;
  std::string description;
  uint32_t run_keys = 0;  // the run-level keys the agent honours (RunKey flags)
  std::function<std::unique_ptr<AlgoConfig>()> make_config;
  std::function<std::unique_ptr<Algorithm>(const RunContext&, const AlgoConfig&)> make_algorithm;
  // Actor-learner agents: what ranks 1.. of a job run (until the learner is done).
  std::function<void(const RunContext&, const AlgoConfig&, const dist::JobEnv&)> run_actor;
};

// The registry entry of agent Algo with config struct Config: built as
// Algo(ctx, config), honouring Algo::kRunKeys.
template <typename Algo, typename Config>
AlgoSpec MakeAlgoSpec(const char* name, const char* description) {
  return {name, description, Algo::kRunKeys, [] { return std::make_unique<AlgoConfigOf<Config>>(); },
          [](const RunContext& ctx, const AlgoConfig& config) -> std::unique_ptr<Algorithm> {
            const auto* c = dynamic_cast<const AlgoConfigOf<Config>*>(&config);
            if (c == nullptr) throw Error("config of the wrong type for " + ctx.algo);
            return std::make_unique<Algo>(ctx, c->value);
          }};
}

// The registry (rlforge/algos/registry.cc: one line per agent).
const std::vector<AlgoSpec>& Algorithms();
const AlgoSpec& FindAlgorithm(const std::string& name);  // InvalidArgument with the valid names
// Builds the agent `ctx.algo` (after CheckRunKeys).
std::unique_ptr<Algorithm> MakeAlgorithm(const RunContext& ctx, const AlgoConfig& config);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_ALGORITHM_H_
