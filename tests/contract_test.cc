// The agent contract (rlforge/algos/algorithm.h), checked for every registered
// agent: built the same way, metrics declared up front (progress.csv has every
// column from its first row), run-level keys it does not honour rejected by
// name, and checkpoints that name the problem when they do not fit; and every
// preset of configs/*.yaml resolves and validates.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "rlforge/algos/algorithm.h"
#include "rlforge/core/checkpoint_file.h"
#include "rlforge/core/file_io.h"
#include "rlforge/data/dataset.h"
#include "rlforge/train/runner.h"
#include "rlforge/train/testing.h"
#include "rlforge/train/train_config.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

using testing_util::Quiet;
std::string FreshDir(const std::string& name) { return testing_util::FreshDir("contract_test", name); }

// Random play in `env` as a dataset (rlforge record's format), made once per
// process for each (env, episodes).
std::string RandomPlayDataset(const std::string& env, int64_t episodes) {
  static std::map<std::string, std::string> made;
  const std::string name = StrCat("random_play_", env, "_", episodes);
  if (auto it = made.find(name); it != made.end()) return it->second;
  const std::string dir = FreshDir(name);
  VectorEnvOptions o;
  auto envs = VectorEnv::Make(env, {}, o);
  RandomPolicy random(envs->single_action_space(), 1);
  DatasetInfo info;
  info.env_id = env;
  WriteDataset(RecordDataset(*envs, random, {episodes, 0, 0.0}, info), dir);
  return made[name] = dir;
}

// An agent's config.yaml with every key at its default.
std::string DefaultYaml(const std::string& algo) {
  TrainConfig probe;
  probe.algo = FindAlgorithm(algo).make_config();
  return probe.ToYaml();
}

bool TakesDataset(const std::string& algo) { return DefaultYaml(algo).find("\ndataset:") != std::string::npos; }

// Each agent on the first env its preset file names (an env it plays), for a
// few hundred steps: nothing here names an agent, so a new one is covered by
// adding its registry line and preset.
TrainConfig SmallConfig(const std::string& algo) {
  std::string env = "CartPole-v1";
  const auto& presets = EmbeddedPresets();
  if (auto it = presets.find(algo); it != presets.end()) {
    std::istringstream yaml(it->second);
    for (std::string line; std::getline(yaml, line);)
      if (!line.empty() && line[0] != ' ' && line[0] != '#' && line.back() == ':' &&
          line.find(':') == line.size() - 1) {
        env = line.substr(0, line.size() - 1);
        break;
      }
  }
  // Offline agents learn from a dataset (config key `dataset`): a small one of
  // random CartPole play, recorded once per process.
  const std::string yaml = DefaultYaml(algo);
  // Language-model agents (text envs): a tiny transformer, few demonstrations.
  if (env.rfind("Text", 0) == 0) {
    std::vector<std::string> sets = {"eval_episodes=0", "d_model=16", "n_layers=1", "n_heads=2"};
    if (yaml.find("\ndemonstrations:") != std::string::npos) sets.push_back("demonstrations=64");
    // (A reward model answers no prompts: eval_prompts is the policies'.)
    sets.push_back(yaml.find("\npairs:") != std::string::npos ? "pairs=64" : "eval_prompts=8");
    return TrainConfig::Resolve(algo, env, "", sets, 600, 0);
  }
  if (!TakesDataset(algo)) return TrainConfig::Resolve(algo, env, "", {"eval_episodes=0"}, 600, 0);
  return TrainConfig::Resolve(
      algo, "CartPole-v1", "",
      {"eval_episodes=0", "dataset=" + RandomPlayDataset("CartPole-v1", 20), "updates_per_iteration=50"}, 600, 0);
}

TEST(ContractTest, EveryAgentIsBuiltTheSameWayAndReportsOnlyDeclaredMetrics) {
  for (const AlgoSpec& spec : Algorithms()) {
    SCOPED_TRACE(spec.name);
    const TrainConfig c = SmallConfig(spec.name);
    std::unique_ptr<Algorithm> algo = MakeAlgorithm(c.Context(), *c.algo);
    const auto& declared = algo->metric_names();
    EXPECT_FALSE(declared.empty());
    const std::set<std::string> names(declared.begin(), declared.end());
    EXPECT_EQ(names.size(), declared.size()) << "a metric is declared twice";
    for (int i = 0; i < 3 && algo->num_timesteps() < c.run.total_steps; ++i)
      for (const auto& [key, value] : algo->Iterate()) EXPECT_TRUE(names.count(key)) << "undeclared metric " << key;
    EXPECT_GT(algo->num_timesteps(), 0);
    if (algo->acts()) {
      EXPECT_NE(algo->MakePolicy(true), nullptr);
    } else {
      EXPECT_THROW(algo->MakePolicy(true), InvalidArgument);
    }
  }
}

// log_interval's default: SAC and DQN iterate train_freq steps, and a row per
// iteration was a row per env step for SAC (a 500k-step run wrote ~460 MB of
// TensorBoard events). They log about every 1000 env steps; an agent whose
// iteration is its own size logs every iteration; a given value stands.
TEST(ContractTest, LogIntervalDefaultsToAbout1000EnvSteps) {
  auto interval = [](const std::string& algo, const std::string& env, std::vector<std::string> sets) {
    return TrainConfig::Resolve(algo, env, "", sets, std::nullopt, 0).run.log_interval;
  };
  EXPECT_EQ(interval("sac", "Pendulum-v1", {"train_freq=1", "num_envs=1"}), 1000);
  EXPECT_EQ(interval("td3", "Pendulum-v1", {"train_freq=4", "num_envs=2"}), 125);
  EXPECT_EQ(interval("dqn", "CartPole-v1", {"train_freq=256", "num_envs=1"}), 3);
  EXPECT_EQ(interval("dqn", "CartPole-v1", {"train_freq=2000", "num_envs=1"}), 1);
  EXPECT_EQ(interval("qr-dqn", "CartPole-v1", {"train_freq=4", "num_envs=1"}), 250);
  EXPECT_EQ(interval("ppo", "CartPole-v1", {}), 1);
  EXPECT_EQ(interval("sac", "Pendulum-v1", {"log_interval=7"}), 7);
  // What the run's config.yaml records is the number: a resume logs alike.
  TrainConfig c = TrainConfig::Resolve("sac", "Pendulum-v1", "", {"train_freq=1", "num_envs=1"}, std::nullopt, 0);
  const std::string yaml = c.ToYaml();
  EXPECT_NE(yaml.find("log_interval: 1000"), std::string::npos);
  // A run's config.yaml with log_interval 0 (or none) resumes with the same
  // default (it was refused as "must be >= 1").
  std::string zero = yaml;
  zero.replace(zero.find("log_interval: 1000"), 18, "log_interval: 0");
  EXPECT_EQ(TrainConfig::FromYamlText(zero, "config.yaml").run.log_interval, 1000);
}

// The runner writes every declared column from the first row (a row per
// iteration here, log_interval 1): DQN's loss,
// which exists only once learning starts, is a column of the first row (empty
// there) and filled later.
TEST(ContractTest, ProgressCsvHasEveryColumnFromTheFirstRow) {
  const std::string dir = FreshDir("dqn_columns");
  Train(TrainConfig::Resolve("dqn", "CartPole-v1", "",
                             {"learning_starts=500", "train_freq=100", "eval_episodes=0", "net_arch=[16]",
                              "log_interval=1"},
                             1000, 0),
        dir, Quiet());
  const std::vector<std::vector<std::string>> rows = testing_util::ProgressRows(dir);
  ASSERT_GE(rows.size(), 3u);
  const auto& header = rows[0];
  const auto loss = std::find(header.begin(), header.end(), "loss");
  ASSERT_NE(loss, header.end()) << "progress.csv lacks DQN's loss column";
  const size_t col = static_cast<size_t>(loss - header.begin());
  EXPECT_EQ(rows[1].size(), header.size());
  EXPECT_TRUE(rows[1][col].empty()) << "no loss before learning starts";
  EXPECT_FALSE(rows.back()[col].empty()) << "the loss once learning runs";
}

std::string ResolveError(const std::string& algo, const std::string& env, const std::vector<std::string>& sets) {
  try {
    TrainConfig::Resolve(algo, env, "", sets, 1000, 0);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

TEST(ContractTest, RunLevelKeysAnAgentDoesNotHonourAreRejectedByName) {
  EXPECT_NE(ResolveError("dqn", "CartPole-v1", {"normalize_obs=true"})
                .find("config key 'normalize_obs' is not supported by dqn"),
            std::string::npos);
  EXPECT_NE(ResolveError("dqn", "CartPole-v1", {"normalize_reward=true"})
                .find("config key 'normalize_reward' is not supported by dqn"),
            std::string::npos);
  EXPECT_NE(ResolveError("alphazero", "TicTacToe-v0", {"num_envs=4"})
                .find("config key 'num_envs' is not supported by alphazero"),
            std::string::npos);
  EXPECT_NE(ResolveError("muzero", "CartPole-v1", {"normalize_obs=true"})
                .find("config key 'normalize_obs' is not supported by muzero"),
            std::string::npos);
  EXPECT_NE(ResolveError("q-learning", "FrozenLake-v1", {"env_threads=2"})
                .find("config key 'env_threads' is not supported by q-learning"),
            std::string::npos);
  EXPECT_NE(ResolveError("reinforce", "CartPole-v1", {"normalize_reward=true"})
                .find("config key 'normalize_reward' is not supported by reinforce"),
            std::string::npos);
  EXPECT_NE(ResolveError("a3c", "CartPole-v1", {"normalize_obs=true"})
                .find("config key 'normalize_obs' is not supported by a3c"),
            std::string::npos);
  // Keys an agent honours pass.
  EXPECT_EQ(ResolveError("ppo", "CartPole-v1", {"normalize_obs=true", "normalize_reward=true", "num_envs=4"}), "");
  EXPECT_EQ(ResolveError("dqn", "CartPole-v1", {"num_envs=4", "env_threads=2"}), "");
}

std::string LoadError(Algorithm& algo, const std::string& path) {
  try {
    algo.Load(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ContractTest, CheckpointsThatDoNotFitAreNamedErrors) {
  const std::string dir = FreshDir("checkpoints");
  fs::create_directories(dir);
  TrainConfig ppo = TrainConfig::Resolve("ppo", "CartPole-v1", "", {"net_arch=[8]"}, 1000, 0);
  auto agent = MakeAlgorithm(ppo.Context(), *ppo.algo);
  agent->Iterate();
  const std::string path = dir + "/ppo.pt";
  agent->Save(path);
  // The same agent and configuration: loads.
  auto same = MakeAlgorithm(ppo.Context(), *ppo.algo);
  EXPECT_EQ(LoadError(*same, path), "");
  EXPECT_EQ(same->num_timesteps(), agent->num_timesteps());
  // Another agent.
  TrainConfig a2c = TrainConfig::Resolve("a2c", "CartPole-v1", "", {"net_arch=[8]"}, 1000, 0);
  auto other = MakeAlgorithm(a2c.Context(), *a2c.algo);
  EXPECT_NE(LoadError(*other, path).find("was written by ppo, not a2c"), std::string::npos);
  // Another network size.
  TrainConfig wider = TrainConfig::Resolve("ppo", "CartPole-v1", "", {"net_arch=[16]"}, 1000, 0);
  auto mismatched = MakeAlgorithm(wider.Context(), *wider.algo);
  const std::string shape_error = LoadError(*mismatched, path);
  EXPECT_NE(shape_error.find("does not fit this ppo configuration"), std::string::npos) << shape_error;
  EXPECT_NE(shape_error.find("[8, 4] in the checkpoint and [16, 4] in this configuration"), std::string::npos)
      << shape_error;
  // A truncated file, a corrupted byte, and a checkpoint of an earlier rlforge (a torch zip archive).
  const std::string bytes = ReadWholeFile(path, "checkpoint");
  WriteFileAtomically(dir + "/truncated.pt", bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(LoadError(*same, dir + "/truncated.pt").find("cannot be read (truncated)"), std::string::npos);
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x40;
  WriteFileAtomically(dir + "/flipped.pt", flipped);
  EXPECT_NE(LoadError(*same, dir + "/flipped.pt").find("fails its checksum"), std::string::npos);
  WriteFileAtomically(dir + "/old.pt", std::string("PK\x03\x04", 4) + "archive/data.pkl");
  EXPECT_NE(LoadError(*same, dir + "/old.pt").find("written by an earlier rlforge"), std::string::npos);
  // A non-finite parameter is never written; the previous checkpoint stays.
  {
    torch::NoGradGuard no_grad;
    agent->network()->parameters()[0].view(-1)[0] = std::nanf("");
  }
  try {
    agent->Save(path);
    FAIL() << "a non-finite network was saved";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not finite"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(ReadWholeFile(path, "checkpoint"), bytes);
}

// Every preset in configs/*.yaml resolves and validates (keys that exist,
// values in range, env kwargs the env takes): a mistyped preset would
// otherwise fail only when a user first trains with it.
TEST(ContractTest, EveryEmbeddedPresetResolvesAndValidates) {
  int checked = 0;
  for (const auto& [algo, text] : EmbeddedPresets()) {
    const YAML::Node file = YAML::Load(text);
    for (const auto& entry : file) {
      const std::string key = entry.first.as<std::string>();
      const size_t colon = key.find(':');
      const std::string env = key.substr(0, colon), preset = colon == std::string::npos ? "" : key.substr(colon + 1);
      SCOPED_TRACE(algo + " " + key);
      try {
        // An offline agent's preset leaves its dataset to the user: two
        // episodes of random play in the preset's env stand in for it.
        std::vector<std::string> sets;
        if (TakesDataset(algo)) sets.push_back("dataset=" + RandomPlayDataset(env, 2));
        TrainConfig c = TrainConfig::Resolve(algo, env, "", sets, std::nullopt, 0, preset);
        EXPECT_TRUE(c.used_preset);
        c.Validate();
        ++checked;
      } catch (const std::exception& e) {
        ADD_FAILURE() << algo << " preset " << key << ": " << e.what();
      }
    }
  }
  EXPECT_GE(checked, 101);  // configs/*.yaml held 101 presets when this was written
}

}  // namespace
}  // namespace rlforge
