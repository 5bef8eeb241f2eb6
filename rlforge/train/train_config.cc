#include "rlforge/train/train_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "rlforge/core/file_io.h"
#include "rlforge/data/dataset.h"
#include "rlforge/env/registry.h"
#include "rlforge/nn/policy.h"

namespace rlforge {
namespace {

std::string ReadFile(const std::string& path) { return ReadWholeFile(path, "config file"); }

// The `algo` key of a YAML document, if any.
std::optional<std::string> AlgoKey(const std::string& yaml, const std::string& source) {
  try {
    YAML::Node root = YAML::Load(yaml);
    if (root.IsMap() && root["algo"] && root["algo"].IsScalar()) return root["algo"].Scalar();
  } catch (const YAML::Exception& e) {
    throw InvalidArgument(StrCat(source, ": not valid YAML: ", e.what()));
  }
  return std::nullopt;
}

// A visitor of a config's string fields only.
class StringFieldVisitor : public FieldVisitor {
 public:
  void Field(const char* name, std::string* v, const char* help) override = 0;
  void Field(const char*, int64_t*, const char*) override {}
  void Field(const char*, double*, const char*) override {}
  void Field(const char*, bool*, const char*) override {}
  void Field(const char*, std::vector<int64_t>*, const char*) override {}
  void Field(const char*, Schedule*, const char*) override {}
  void Field(const char*, std::optional<double>*, const char*) override {}
  void Field(const char*, Kwargs*, const char*) override {}
};

// Makes the keys whose values name a directory or file absolute (from the
// working directory), however they were given (--set, a config file,
// Python), so that the run's config.yaml reads the same from anywhere and
// the run resumes from any directory.
class AbsolutePaths : public StringFieldVisitor {
 public:
  void Field(const char* name, std::string* v, const char*) override {
    static const char* const kPathKeys[] = {"dataset", "init_from", "replay_dataset", "demo_dataset", "reward_model"};
    for (const char* k : kPathKeys)
      if (std::string(name) == k && !v->empty() && !std::filesystem::path(*v).is_absolute())
        *v = std::filesystem::absolute(*v).lexically_normal().string();
  }
};

// Reads one string field of a config by name.
class StringFieldReader : public StringFieldVisitor {
 public:
  StringFieldReader(const char* name, std::string* out) : name_(name), out_(out) {}
  void Field(const char* name, std::string* v, const char*) override {
    if (name_ == name) *out_ = *v;
  }

 private:
  std::string name_;
  std::string* out_;
};

// What every agent's network keys must hold, checked with the config (so
// that --show-config and Python's show_config refuse what the agent would):
// layer sizes (keys ending in "arch") in 1..kMaxLayerWidth, and an
// activation every network takes.
class NetworkKeys : public FieldVisitor {
 public:
  void Field(const char* name, std::vector<int64_t>* v, const char*) override {
    const std::string key = name;
    if (key.size() < 4 || key.compare(key.size() - 4, 4, "arch") != 0) return;
    for (int64_t width : *v)
      RLF_CHECK_ARG(width >= 1 && width <= kMaxLayerWidth, "config key '", key, "': layer sizes must be in 1..",
                    kMaxLayerWidth, ", got ", width);
  }
  void Field(const char* name, std::string* v, const char*) override {
    if (std::string(name) == "activation")
      RLF_CHECK_ARG(*v == "tanh" || *v == "relu", "config key 'activation' must be tanh or relu, got '", *v, "'");
  }
  void Field(const char*, int64_t*, const char*) override {}
  void Field(const char*, double*, const char*) override {}
  void Field(const char*, bool*, const char*) override {}
  void Field(const char*, Schedule*, const char*) override {}
  void Field(const char*, std::optional<double>*, const char*) override {}
  void Field(const char*, Kwargs*, const char*) override {}
};

// log_interval's default: a row about every 1000 env steps where the config
// fixes an iteration's steps (DQN and SAC iterate train_freq steps: with
// train_freq 1 a row a step made a 500k-step run's TensorBoard file ~460 MB),
// else a row per iteration.
int64_t AutoLogInterval(const AlgoConfig& algo, int64_t num_envs) {
  const int64_t steps = algo.StepsPerIteration(num_envs);
  return steps <= 0 ? 1 : std::max<int64_t>(1, 1000 / steps);
}

}  // namespace

void RunConfig::Visit(FieldVisitor& v) {
  v.Field("algo", &algo, "algorithm");
  RunSettings::Visit(v);
  v.Field("log_interval", &log_interval,
          "iterations between rows of progress.csv (0 or unset: a row per iteration, or about every 1000 env steps "
          "for DQN, QR-DQN, SAC, TD3 and DDPG, whose iterations are train_freq steps)");
  v.Field("checkpoint_interval", &checkpoint_interval, "env steps between checkpoints (0: only the final one)");
  v.Field("eval_episodes", &eval_episodes, "episodes of the final evaluation (eval.json)");
  v.Field("eval_deterministic", &eval_deterministic, "greedy actions in the final and periodic evaluations");
  v.Field("eval_interval", &eval_interval,
          "env steps between periodic evaluations (evaluations.csv, checkpoints/best.pt; 0: none)");
  v.Field("eval_interval_episodes", &eval_interval_episodes, "episodes of each periodic evaluation");
  v.Field("eval_max_episode_steps", &eval_max_episode_steps,
          "step cap on an evaluation episode, for envs with no step limit of their own (ends it truncated)");
  v.Field("init_from", &init_from,
          "warm start: a run directory or checkpoint whose network initializes this one where parameter names and "
          "shapes match (\"\": none)");
  v.Field("freeze", &freeze,
          "parameters kept at their initial (warm-started) values: comma-separated prefixes of the network's "
          "parameter names, e.g. pi_mlp or actor.torso (\"\": none)");
}

void RunConfig::Validate() const {
  RunSettings::Validate();
  RLF_CHECK_ARG(log_interval >= 1, "config key 'log_interval' must be >= 1, got ", log_interval);
  RLF_CHECK_ARG(checkpoint_interval >= 0, "config key 'checkpoint_interval' must be >= 0, got ",
                checkpoint_interval);
  RLF_CHECK_ARG(eval_episodes >= 0, "config key 'eval_episodes' must be >= 0, got ", eval_episodes);
  RLF_CHECK_ARG(eval_interval >= 0, "config key 'eval_interval' must be >= 0, got ", eval_interval);
  RLF_CHECK_ARG(eval_interval_episodes >= 1, "config key 'eval_interval_episodes' must be >= 1, got ",
                eval_interval_episodes);
  RLF_CHECK_ARG(eval_max_episode_steps >= 1, "config key 'eval_max_episode_steps' must be >= 1, got ",
                eval_max_episode_steps);
}

void TrainConfig::Validate() const {
  run.Validate();
  const AlgoSpec& spec = FindAlgorithm(run.algo);
  NetworkKeys network_keys;
  algo->Visit(network_keys);
  algo->Validate();
  CheckRunKeys(spec.name, spec.run_keys, run);
  // Building the env once checks the kwargs (names, types, values).
  Make(run.env, run.env_kwargs);
}

std::string TrainConfig::ToYaml() { return ConfigIO::ToYaml(*this); }

TrainConfig TrainConfig::Resolve(const std::string& algo, const std::string& env, const std::string& config_file,
                                 const std::vector<std::string>& sets, std::optional<int64_t> steps,
                                 std::optional<int64_t> seed, const std::string& preset) {
  std::string file_text;
  std::string name = algo;
  if (!config_file.empty()) {
    file_text = ReadFile(config_file);
    const auto file_algo = AlgoKey(file_text, config_file);
    if (name.empty() && file_algo) name = *file_algo;
    RLF_CHECK_ARG(!file_algo || *file_algo == name, config_file, " is for algo '", *file_algo, "', not '", name, "'");
  }
  RLF_CHECK_ARG(!name.empty(), "give --algo (or a --config file with an 'algo' key)");
  // A key set twice would keep its last value without a word.
  {
    std::map<std::string, std::string> given;
    for (const auto& s : sets) {
      const std::string key = s.substr(0, s.find('='));
      auto [it, fresh] = given.emplace(key, s);
      RLF_CHECK_ARG(fresh || s.find('=') == std::string::npos, "--set ", key, " is given twice (", it->second,
                    " and ", s, "); give it once");
    }
  }
  const AlgoSpec& spec = FindAlgorithm(name);
  TrainConfig c;
  c.algo = spec.make_config();
  c.run.algo = name;
  c.run.log_interval = 0;  // unless a preset, the file or --set gives one: AutoLogInterval below
  // The env comes from --env or the file's `env` key (read before picking the
  // preset); when both give one they must agree.
  std::string file_env;
  if (!file_text.empty()) {
    YAML::Node root = YAML::Load(file_text);
    if (root.IsMap() && root["env"] && root["env"].IsScalar()) file_env = root["env"].Scalar();
  }
  RLF_CHECK_ARG(env.empty() || file_env.empty() || env == file_env, "--env ", env, " differs from 'env: ", file_env,
                "' in ", config_file, "; give the env once");
  c.run.env = env.empty() ? file_env : env;
  // An offline agent's dataset names the env it was recorded in, however
  // `dataset` is given (--dataset, --set, the file): read from the file and
  // `sets` applied to a scratch config, as they will be below. So do sft's
  // demonstrations (`demo_dataset`), which must be of the run's env.
  std::optional<Kwargs> dataset_kwargs;
  std::optional<DatasetInfo> other_envs_dataset;  // recorded in another env than the run's
  std::string dataset;
  {
    TrainConfig probe;
    probe.algo = spec.make_config();
    if (!file_text.empty()) ConfigIO::LoadYamlText(file_text, config_file, probe);
    for (const auto& s : sets) ConfigIO::Set(s, probe);
    StringFieldReader reader("dataset", &dataset);
    probe.Visit(reader);
    bool demonstrations = false;
    if (dataset.empty()) {
      StringFieldReader demo_reader("demo_dataset", &dataset);
      probe.Visit(demo_reader);
      demonstrations = !dataset.empty();
    }
    if (!dataset.empty()) {
      const DatasetInfo info = ReadDatasetInfo(dataset);
      if (c.run.env.empty() || c.run.env == info.env_id) {
        RLF_CHECK_ARG(!info.env_id.empty(), "dataset ", dataset, " names no env (metadata env_spec): pass --env ID");
        c.run.env = info.env_id;
        dataset_kwargs = info.env_kwargs;
        for (const auto& k : info.ignored_kwargs)
          c.notes.push_back(StrCat("dataset ", dataset, ": its env_spec's kwarg ", k,
                                   " is ignored (set it with --set env_kwargs=...)"));
      } else if (!info.env_id.empty() && !demonstrations) {  // (sft refuses another env's demonstrations)
        other_envs_dataset = info;
      }
    }
  }
  RLF_CHECK_ARG(!c.run.env.empty(), "give --env (or a --config file with an 'env' key)");
  const std::string chosen_env = c.run.env;
  const std::string alias_of = Registry::Global().Spec(c.run.env).alias_of;
  const auto& presets = EmbeddedPresets();
  std::string key = preset.empty() ? c.run.env : c.run.env + ":" + preset;
  YAML::Node all;
  if (auto it = presets.find(name); it != presets.end()) all = YAML::Load(it->second);
  // An older name (Taxi-v3) trains with its current ID's preset (it trained
  // with the defaults without a word).
  if (all.IsMap() && !all[key] && !alias_of.empty()) {
    const std::string current = preset.empty() ? alias_of : alias_of + ":" + preset;
    if (all[current]) {
      c.notes.push_back(StrCat(c.run.env, " is an older name of ", alias_of, ": ", name, "'s preset ", current,
                               " is used"));
      key = current;
    }
  }
  if (all.IsMap() && all[key]) {
    YAML::Emitter e;
    e << all[key];
    ConfigIO::LoadYamlText(e.c_str(), StrCat("configs/", name, ".yaml[", key, "]"), c);
    c.used_preset = true;
  } else if (!preset.empty()) {
    std::vector<std::string> names;  // the env's named presets (an older name's: its current ID's)
    if (all.IsMap())
      for (const auto& kv : all) {
        const std::string k = kv.first.as<std::string>();
        for (const std::string& id : {c.run.env, alias_of})
          if (!id.empty() && k.rfind(id + ":", 0) == 0) names.push_back(k.substr(id.size() + 1));
      }
    throw InvalidArgument(StrCat("no preset '", preset, "' for ", name, " on ", c.run.env, "; available: ",
                                 names.empty() ? "none" : Join(names, ", ")));
  }
  if (dataset_kwargs) c.run.env_kwargs = *dataset_kwargs;
  if (!file_text.empty()) ConfigIO::LoadYamlText(file_text, config_file, c);
  if (!env.empty() || dataset_kwargs) c.run.env = chosen_env;
  for (const auto& s : sets) ConfigIO::Set(s, c);
  if (steps) c.run.total_steps = *steps;
  if (seed) c.run.seed = *seed;
  RLF_CHECK_ARG(c.run.algo == name, "config key 'algo' cannot be changed with --set (use --algo)");
  RLF_CHECK_ARG(c.run.env == chosen_env, "config key 'env' cannot be changed with --set (use --env)");
  if (c.run.log_interval == 0) c.run.log_interval = AutoLogInterval(*c.algo, c.run.num_envs);
  AbsolutePaths absolute;
  c.Visit(absolute);
  c.Validate();
  // Thread counts that cannot all do work.
  const unsigned cores = std::thread::hardware_concurrency();
  if (cores > 0 && c.run.torch_threads > static_cast<int64_t>(cores))
    c.notes.push_back(StrCat("config key torch_threads is ", c.run.torch_threads, ", more than this machine's ", cores,
                             " cores: the threads take turns on them, which slows training"));
  if (c.run.env_threads > c.run.num_envs)
    c.notes.push_back(StrCat("config key env_threads is ", c.run.env_threads, ", more than num_envs ",
                             c.run.num_envs, ": ", c.run.num_envs, " threads step the envs"));
  // Data of another env whose spaces match trains without a word otherwise
  // (spaces that differ are the agent's one-line error).
  if (other_envs_dataset) {
    auto made = Make(c.run.env, c.run.env_kwargs);
    if (made->observation_space() == other_envs_dataset->observation_space &&
        made->action_space() == other_envs_dataset->action_space)
      c.notes.push_back(StrCat("dataset ", dataset, " was recorded in ", other_envs_dataset->env_id,
                               "; the run trains and evaluates in ", c.run.env, " (--env)"));
  }
  return c;
}

TrainConfig TrainConfig::FromYamlFile(const std::string& path) { return FromYamlText(ReadFile(path), path); }

TrainConfig TrainConfig::FromYamlText(const std::string& text, const std::string& source) {
  const auto name = AlgoKey(text, source);
  RLF_CHECK_ARG(name.has_value(), source, " has no 'algo' key");
  TrainConfig c;
  c.algo = FindAlgorithm(*name).make_config();
  c.run.log_interval = 0;  // as in Resolve: 0 or no key is the agent's default
  ConfigIO::LoadYamlText(text, source, c);
  if (c.run.log_interval == 0) c.run.log_interval = AutoLogInterval(*c.algo, c.run.num_envs);
  // A run written before A2C and A3C had adam_eps trained Adam with
  // libtorch's 1e-8 (the default is now SB3's 1e-5): it resumes with that.
  if ((*name == "a2c" || *name == "a3c") && !YAML::Load(text)["adam_eps"]) ConfigIO::Set("adam_eps=1e-8", c);
  // So did a QR-DQN run written before QR-DQN took sb3-contrib's 0.01 /
  // batch_size (its max_grad_norm is in the file: 10 then).
  if (*name == "qr-dqn" && !YAML::Load(text)["adam_eps"]) ConfigIO::Set("adam_eps=1e-8", c);
  c.Validate();
  return c;
}

}  // namespace rlforge
