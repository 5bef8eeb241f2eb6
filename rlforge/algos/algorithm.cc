#include "rlforge/algos/algorithm.h"

#include <cstdio>

#include "rlforge/dist/communicator.h"

#include <torch/torch.h>

#include <algorithm>

#include "rlforge/core/checkpoint_file.h"
#include "rlforge/core/warning.h"
#include "rlforge/env/registry.h"

namespace rlforge {

void RunSettings::Visit(FieldVisitor& v) {
  v.Field("env", &env, "env ID");
  v.Field("env_kwargs", &env_kwargs, "env kwargs");
  v.Field("seed", &seed, "seed of the envs, the network initialization and the action sampling");
  v.Field("total_steps", &total_steps, "env steps to train for (gradient updates for the offline agents, sft and rm)");
  v.Field("num_envs", &num_envs, "envs stepped in parallel");
  v.Field("env_threads", &env_threads, "threads stepping the envs (1: synchronous)");
  v.Field("torch_threads", &torch_threads, "libtorch intra-op threads");
  v.Field("normalize_obs", &normalize_obs, "normalize observations with running statistics (as VecNormalize)");
  v.Field("normalize_reward", &normalize_reward, "scale rewards by the running std of the discounted return");
}

void RunSettings::Validate() const {
  Registry::Global().Spec(env);  // unknown env: the list of valid IDs
  RLF_CHECK_ARG(total_steps >= 1, "config key 'total_steps' must be >= 1, got ", total_steps);
  RLF_CHECK_ARG(num_envs >= 1 && num_envs <= kMaxNumEnvs, "config key 'num_envs' must be in 1..", kMaxNumEnvs,
                ", got ", num_envs);
  RLF_CHECK_ARG(env_threads >= 1, "config key 'env_threads' must be >= 1, got ", env_threads);
  RLF_CHECK_ARG(torch_threads >= 1, "config key 'torch_threads' must be >= 1, got ", torch_threads);
  RLF_CHECK_ARG(seed >= 0, "config key 'seed' must be >= 0, got ", seed);
}

void CheckRunKeys(const std::string& algo, uint32_t honoured, const RunSettings& run) {
  const RunSettings defaults;
  struct Key {
    RunKey flag;
    const char* name;
    bool set;
  };
  const Key keys[] = {
      {kRunNumEnvs, "num_envs", run.num_envs != defaults.num_envs},
      {kRunEnvThreads, "env_threads", run.env_threads != defaults.env_threads},
      {kRunTorchThreads, "torch_threads", run.torch_threads != defaults.torch_threads},
      {kRunNormalizeObs, "normalize_obs", run.normalize_obs != defaults.normalize_obs},
      {kRunNormalizeReward, "normalize_reward", run.normalize_reward != defaults.normalize_reward},
  };
  std::vector<std::string> supported;
  for (const Key& k : keys)
    if (honoured & k.flag) supported.push_back(k.name);
  for (const Key& k : keys)
    RLF_CHECK_ARG(!k.set || (honoured & k.flag), "config key '", k.name, "' is not supported by ", algo,
                  " (leave it at its default; of the run-level keys ", algo, " honours ",
                  supported.empty() ? "none" : Join(supported, ", "), ")");
}

std::unique_ptr<Env> RunContext::MakeEnv() const { return Make(run.env, run.env_kwargs); }

int RunContext::rank() const { return comm ? comm->rank() : 0; }
int RunContext::world_size() const { return comm ? comm->world_size() : 1; }

std::unique_ptr<VectorEnv> RunContext::MakeVectorEnv(bool every_agent) const {
  VectorEnvOptions opt;
  opt.num_envs = static_cast<int>(local_num_envs());
  opt.num_threads = static_cast<int>(run.env_threads);
  auto envs = VectorEnv::Make(run.env, run.env_kwargs, opt);
  RLF_CHECK_ARG(every_agent || envs->num_agents() == 1, run.env, " with these env_kwargs has ", envs->num_agents(),
                " agents acting at every step, and ", algo, " acts for one: train it against a scripted opponent ",
                "(env_kwargs opponent: a bot), or with recurrent-ppo and config key self_play: true");
  return envs;
}

double RunContext::ProgressRemaining(int64_t steps) const { return std::max(0.0, 1.0 - Progress(steps)); }

void Algorithm::DeclareMetrics(const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (std::find(metric_names_.begin(), metric_names_.end(), n) == metric_names_.end()) metric_names_.push_back(n);
}

void Algorithm::Save(const std::string& path, const ExtraState& extra) {
  CheckpointWriter writer(path);
  std::string algo = ctx_.algo;
  writer("algorithm", &algo);
  VisitState(writer);
  if (extra) extra(writer);
  writer.Commit();
}

void Algorithm::Load(const std::string& path, const ExtraState& extra) {
  CheckpointReader reader(path);
  std::string algo;
  reader("algorithm", &algo);
  RLF_CHECK(algo == ctx_.algo, "checkpoint ", path, " was written by ", algo, ", not ", ctx_.algo);
  try {
    VisitState(reader);
    if (extra) extra(reader);
    reader.ExpectAllRead(extra ? "" : "runner/");
  } catch (const c10::Error& e) {
    throw Error(StrCat("checkpoint ", path, " does not fit this ", ctx_.algo,
                       " configuration: ", e.what_without_backtrace()));
  } catch (const InvalidArgument& e) {
    throw Error(StrCat("checkpoint ", path, " does not fit this ", ctx_.algo, " configuration: ", e.what()));
  } catch (const Error& e) {
    throw Error(StrCat("checkpoint ", path, " does not fit this ", ctx_.algo, " configuration: ", e.what()));
  }
}

const AlgoSpec& FindAlgorithm(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& a : Algorithms()) {
    if (a.name == name) return a;
    names.push_back(a.name);
  }
  throw InvalidArgument(StrCat("unknown algorithm '", name, "'; valid: ", Join(names, ", ")));
}

void WarnInertKeys(const RunContext& ctx, std::atomic<bool>* warned, const std::vector<std::string>& why) {
  if (why.empty() || !ctx.load_run || (ctx.comm && !ctx.comm->root())) return;
  std::vector<std::string> messages;
  for (const std::string& w : why) messages.push_back(StrCat("config key ", w, ": no effect"));
  WarnOnce(warned, messages);
}

std::unique_ptr<Algorithm> MakeAlgorithm(const RunContext& ctx, const AlgoConfig& config) {
  const AlgoSpec& spec = FindAlgorithm(ctx.algo);
  CheckRunKeys(spec.name, spec.run_keys, ctx.run);
  if (ctx.world_size() > 1) {
    std::vector<std::string> able;
    for (const auto& s : Algorithms())
      if (s.run_keys & kRunDistributed) able.push_back(s.name);
    RLF_CHECK_ARG(spec.run_keys & kRunDistributed, spec.name, " does not train as a job of several ranks (WORLD_SIZE=",
                  ctx.world_size(), "); the agents that do: ", Join(able, ", "));
    RLF_CHECK_ARG(ctx.run.num_envs % ctx.world_size() == 0, "config key 'num_envs' (", ctx.run.num_envs,
                  ", the job's total) must be a multiple of the number of ranks (", ctx.world_size(), ")");
  }
  return spec.make_algorithm(ctx, config);
}

}  // namespace rlforge

namespace rlforge {

std::unique_ptr<Policy> Algorithm::MakeSnapshotPolicy(int64_t k, bool /*deterministic*/) {
  throw InvalidArgument(StrCat("snapshot ", k, " does not exist: this ", ctx_.algo,
                               " run keeps no self-play snapshots (config key self_play)"));
}

runtime::Model Algorithm::ExportModel() {
  throw InvalidArgument(StrCat(ctx_.algo, "'s policy is not a network; export covers the network agents "
                                          "(PPO, recurrent PPO, A2C, A3C, REINFORCE, the DQN family, SAC, TD3, DDPG, "
                                          "BC, CQL, IQL, AlphaZero, MuZero)"));
}

runtime::Model Algorithm::Export() {
  runtime::Model m = ExportModel();
  m.algo = ctx_.algo;
  m.env = ctx_.run.env;
  m.env_kwargs = ctx_.run.env_kwargs.ToString();
  m.train_steps = num_timesteps();
  return m;
}

}  // namespace rlforge
