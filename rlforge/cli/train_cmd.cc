// rlforge train — trains an agent and writes its run directory.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <set>
#include <tuple>

#include "rlforge/algos/algorithm.h"
#include "rlforge/cli/common.h"
#include "rlforge/config/config.h"
#include "rlforge/data/dataset.h"
#include "rlforge/dist/communicator.h"
#include "rlforge/train/runner.h"

namespace rlforge::cli {
namespace {

struct TrainArgs {
  std::string algo, env, config, out, resume, preset, dataset, init_from;
  std::vector<std::string> sets;
  std::optional<int64_t> steps, seed;
  bool show_config = false;
  bool no_progress = false;
};

void PrintResult(const TrainResult& r, const TrainConfig& c) {
  std::printf("trained %s on %s: %lld steps in %.1f s (%.0f steps/s)\n", c.run.algo.c_str(), c.run.env.c_str(),
              static_cast<long long>(r.timesteps), r.seconds, r.timesteps / std::max(r.seconds, 1e-9));
  if (r.timesteps > c.run.total_steps)
    std::printf("(%lld steps more than total_steps %lld: %s trains in whole iterations and stops at the end of the "
                "one that reaches it; see progress.csv for their size)\n",
                static_cast<long long>(r.timesteps - c.run.total_steps), static_cast<long long>(c.run.total_steps),
                c.run.algo.c_str());
  if (r.eval.episodes > 0) {
    std::printf("evaluation (%lld episodes, %s): return %.2f +- %.2f, length %.1f +- %.1f", static_cast<long long>(r.eval.episodes),
                c.run.eval_deterministic ? "deterministic" : "stochastic", r.eval.mean_return, r.eval.std_return,
                r.eval.mean_length, r.eval.std_length);
    if (r.eval.success_rate) std::printf(", success rate %.3f", *r.eval.success_rate);
    std::printf("\n");
  }
  std::printf("run directory: %s\n", r.run_dir.c_str());
}

// --dataset DIR: the offline agents' `dataset` key (TrainConfig::Resolve
// stores it absolute, and takes the dataset's env and kwargs from it unless
// --env names another env).
// The config key --dataset sets: the offline agents' `dataset`, sft's
// `demo_dataset` (its demonstrations); with the algo named only in a
// --config file, `dataset`.
std::string DatasetKey(const std::string& algo) {
  if (algo.empty()) return "dataset";
  std::set<std::string> keys;
  for (const auto& f : ConfigIO::Describe(*FindAlgorithm(algo).make_config())) keys.insert(f.name);
  const std::string key = !keys.count("dataset") && keys.count("demo_dataset") ? "demo_dataset" : "dataset";
  RLF_CHECK_ARG(keys.count(key), "--dataset is for the offline agents (bc, cql, iql) and sft's demonstrations; ", algo,
                " takes no dataset");
  return key;
}

TrainArgs WithDataset(TrainArgs a) {
  const std::string dataset_key = a.dataset.empty() ? "dataset" : DatasetKey(a.algo);
  // A flag and a --set of its key would name two values: give one.
  for (const auto& [flag, key, value] : {std::tuple<const char*, std::string, const std::string*>{"--init-from", "init_from", &a.init_from},
                                         {"--dataset", dataset_key, &a.dataset}})
    for (const auto& s : a.sets)
      RLF_CHECK_ARG(value->empty() || s.rfind(key + "=", 0) != 0, flag, " ", *value, " and --set ", s,
                    " both name config key '", key, "'; give one");
  if (!a.init_from.empty()) {
    RLF_CHECK_ARG(a.resume.empty(), "--init-from starts a new run; --resume continues one");
    a.sets.insert(a.sets.begin(), "init_from=" + a.init_from);  // made absolute with the other path keys
  }
  if (a.dataset.empty()) return a;
  RLF_CHECK_ARG(a.resume.empty(), "--dataset is fixed by the run's config.yaml; --resume takes only --steps");
  a.sets.insert(a.sets.begin(), dataset_key + "=" + a.dataset);  // made absolute with the other path keys
  return a;
}

void RunTrain(const TrainArgs& args) {
  const TrainArgs a = WithDataset(args);
  RunnerOptions opt;
  opt.progress = !a.no_progress;
  opt.keep_signal_handlers = true;  // this process exits after training
  // One rank of a distributed job when the environment says so (torchrun,
  // rlforge launch). Data-parallel agents join the job's process group;
  // actor-learner agents (impala) only its store: rank 0 learns, the other
  // ranks act, and actors may come and go.
  const auto job = a.show_config ? std::nullopt : dist::JobEnvFromEnvironment();
  if (job && job->world_size > 1) {
    const std::string algo =
        a.resume.empty() ? TrainConfig::Resolve(a.algo, a.env, a.config, a.sets, a.steps, a.seed, a.preset).run.algo
                         : TrainConfig::FromYamlFile(a.resume + "/config.yaml").run.algo;
    const AlgoSpec& spec = FindAlgorithm(algo);
    if (spec.run_keys & kRunActorLearner) {
      if (job->rank != 0) {
        TrainConfig c = a.resume.empty()
                            ? TrainConfig::Resolve(a.algo, a.env, a.config, a.sets, a.steps, a.seed, a.preset)
                            : TrainConfig::FromYamlFile(a.resume + "/config.yaml");
        c.Validate();
        RunContext ctx = c.Context();
        spec.run_actor(ctx, *c.algo, *job);
        return;
      }
      opt.job = std::make_shared<dist::JobEnv>(*job);
    } else {
      opt.comm = dist::Communicator::Connect(*job, dist::DefaultTimeout());
      opt.progress = opt.progress && opt.comm->root();
    }
  }
  const bool root = opt.comm == nullptr || opt.comm->root();
  if (!a.resume.empty()) {
    RLF_CHECK_ARG(a.algo.empty() && a.env.empty() && a.config.empty() && a.sets.empty() && !a.seed &&
                      a.out.empty() && a.preset.empty() && !a.show_config,
                  "--resume takes only --steps and --no-progress (the run continues in its own directory, and its "
                  "config.yaml fixes everything else)");
    const TrainResult r = Resume(a.resume, a.steps, opt);
    if (root) PrintResult(r, TrainConfig::FromYamlFile(a.resume + "/config.yaml"));
    return;
  }
  TrainConfig c = TrainConfig::Resolve(a.algo, a.env, a.config, a.sets, a.steps, a.seed, a.preset);
  if (root)
    for (const auto& note : c.notes) std::fprintf(stderr, "warning: %s\n", note.c_str());
  if (a.show_config) {
    std::cout << c.ToYaml();
    return;
  }
  std::string out = a.out;
  if (out.empty()) {
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::localtime(&now));
    out = StrCat("runs/", c.run.algo, "-", c.run.env, "-s", c.run.seed, "-", stamp);
  }
  const TrainResult r = Train(c, out, opt);
  if (root) PrintResult(r, c);
}

}  // namespace

void AddTrainCommand(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train an agent; writes a run directory (see docs/training.md)");
  std::vector<std::string> names;
  for (const auto& algo : Algorithms()) names.push_back(algo.name);
  cmd->add_option("--algo", a->algo, "Algorithm: " + Join(names, ", "));
  cmd->add_option("--env", a->env, "Env ID");
  cmd->add_option("--dataset", a->dataset,
                  "Offline agents (bc, cql, iql): the dataset directory (rlforge record writes one); its env is the "
                  "run's unless --env says otherwise. sft: its demonstrations (config key demo_dataset; its env too)");
  cmd->add_option("--init-from", a->init_from,
                  "Warm start from a run directory or checkpoint: its network's parameters initialize this run's "
                  "where names and shapes match (bc/iql -> ppo, cql -> dqn; see docs/offline.md)");
  cmd->add_option("--preset", a->preset, "Named preset variant (key ENV:NAME in configs/<algo>.yaml), e.g. fast");
  cmd->add_option("--config", a->config, "YAML file of config keys (applied after the preset)");
  cmd->add_option("--set", a->sets, "Override one config key: key=value (repeatable)");
  cmd->add_option("--steps", a->steps, "Total env steps; gradient updates for the offline agents, sft and rm (with --resume: the new total)")->transform(IntegerFor(a->steps));
  cmd->add_option("--seed", a->seed, "Seed")->transform(IntegerFor(a->seed));
  cmd->add_option("--out", a->out, "Run directory (default runs/<algo>-<env>-s<seed>-<time>)")
      ->check(CLI::Validator([](std::string& v) { return v.empty() ? std::string("needs a directory name") : std::string(); },
                             "DIR"));
  cmd->add_option("--resume", a->resume, "Continue the run in this directory from its latest checkpoint");
  cmd->add_flag("--show-config", a->show_config, "Print the resolved config and exit");
  cmd->add_flag("--no-progress", a->no_progress, "No live progress line");
  cmd->callback([a] { RunTrain(*a); });
}

}  // namespace rlforge::cli
