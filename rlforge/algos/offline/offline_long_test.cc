// Offline learning on CartPole-v1 datasets made by rlforge's own PPO, on a
// LunarLander-v3 dataset of the scripted lander with noise, a TowerDefense-v0
// dataset of the scripted defender with noise, and CQL for Box
// actions on a Pendulum-v1 dataset of its own SAC (make test-long;
// docs/offline.md has the figures over more seeds).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "rlforge/data/dataset.h"
#include "rlforge/env/registry.h"
#include "rlforge/train/testing.h"

namespace rlforge {
namespace {

using testing_util::FreshDir;
using testing_util::Quiet;

double FinalReturn(const std::string& run) {
  std::ifstream f(run + "/eval.json");
  return nlohmann::json::parse(f)["mean_return"].get<double>();
}

// A dataset of `policy` (a run directory) on its env (with the run's env kwargs).
std::string Record(const std::string& run, bool deterministic, double epsilon, int64_t episodes,
                   double* mean_return) {
  LoadedRun r = LoadRun(run);
  const std::string env = r.config.run.env;
  VectorEnvOptions o;
  o.num_envs = 8;
  auto envs = VectorEnv::Make(env, r.config.run.env_kwargs, o);
  auto policy = r.algorithm->MakePolicy(deterministic);
  DatasetInfo info;
  info.env_id = env;
  info.env_kwargs = r.config.run.env_kwargs;
  const Dataset d = RecordDataset(*envs, *policy, {episodes, 0, epsilon}, info);
  const std::string dir =
      FreshDir("offline_long", "data_" + env + (deterministic ? "_expert" : "_medium") + std::to_string(epsilon));
  WriteDataset(d, dir);
  *mean_return = 0;
  for (double x : d.EpisodeReturns()) *mean_return += x / static_cast<double>(d.episodes());
  return dir;
}

// A dataset of env `id`'s scripted `policy` taking uniform actions with
// probability epsilon (8 envs), and its mean return.
std::string RecordScripted(const std::string& id, const std::string& policy, int64_t episodes, double epsilon,
                           const std::string& name, double* mean_return) {
  VectorEnvOptions o;
  o.num_envs = 8;
  auto envs = VectorEnv::Make(id, {}, o);
  auto scripted = Registry::Global().MakeScriptedPolicy(policy, id, envs->env(0), 0);
  DatasetInfo info;
  info.env_id = id;
  const Dataset d = RecordDataset(*envs, *scripted, {episodes, 0, epsilon}, info);
  const std::string dir = FreshDir("offline_long", "data_" + name);
  WriteDataset(d, dir);
  *mean_return = 0;
  for (double x : d.EpisodeReturns()) *mean_return += x / static_cast<double>(d.episodes());
  std::printf("behaviour (%s) %.2f\n", name.c_str(), *mean_return);
  return dir;
}

// The mean and the worst final return over seeds 0..seeds-1 of `algo` with
// its preset on the dataset (plus `sets`).
std::pair<double, double> OverSeeds(const std::string& algo, const std::string& dataset, int seeds,
                                    std::vector<std::string> sets = {}) {
  double sum = 0, worst = INFINITY;
  sets.push_back("dataset=" + dataset);
  for (int s = 0; s < seeds; ++s) {
    const std::string out = FreshDir("offline_long", algo + "_" + std::to_string(s) + "_" + std::to_string(sets.size()) +
                                                         "_" + std::filesystem::path(dataset).filename().string());
    Train(TrainConfig::Resolve(algo, ReadDatasetInfo(dataset).env_id, "", sets, std::nullopt, s), out, Quiet());
    const double r = FinalReturn(out);
    std::printf("%s seed %d on %s: %.2f\n", algo.c_str(), s, dataset.c_str(), r);
    sum += r;
    worst = std::min(worst, r);
  }
  return {sum / seeds, worst};
}

double MeanOverSeeds(const std::string& algo, const std::string& dataset, int seeds) {
  return OverSeeds(algo, dataset, seeds).first;
}

// CartPole-v1: medium = PPO after 12k steps, sampled, 10% uniform actions;
// expert = PPO at 100k, greedy. CQL (its preset: 256x256, alpha 0.2) and IQL
// reach the behaviour's return and beat BC; BC reaches 95% of the expert.
TEST(OfflineLongTest, CartPoleMediumAndExpertDatasets) {
  const std::string medium_run = FreshDir("offline_long", "ppo_medium");
  const std::string expert_run = FreshDir("offline_long", "ppo_expert");
  Train(TrainConfig::Resolve("ppo", "CartPole-v1", "", {"eval_episodes=10"}, 12000, 0), medium_run, Quiet());
  Train(TrainConfig::Resolve("ppo", "CartPole-v1", "", {"eval_episodes=10"}, std::nullopt, 0), expert_run, Quiet());
  double behaviour = 0, expert = 0;
  const std::string medium = Record(medium_run, false, 0.1, 200, &behaviour);
  const std::string expert_data = Record(expert_run, true, 0.0, 100, &expert);
  std::printf("behaviour (medium) %.2f, expert %.2f\n", behaviour, expert);
  ASSERT_LT(behaviour, 0.8 * expert) << "the medium policy is not medium";
  // BC and CQL over ten seeds: CQL's margin over BC (54 in docs/offline.md)
  // is clear over ten, not over three (seeds 0-2 alone favour BC).
  const auto [bc, bc_worst] = OverSeeds("bc", medium, 10);
  const auto [cql, cql_worst] = OverSeeds("cql", medium, 10);
  std::printf("medium: bc %.2f (worst %.2f), cql %.2f (worst %.2f)\n", bc, bc_worst, cql, cql_worst);
  EXPECT_GE(cql, behaviour);
  EXPECT_GT(cql, bc);
  const int seeds = 3;
  const double iql = MeanOverSeeds("iql", medium, seeds);
  EXPECT_GE(iql, behaviour);
  EXPECT_GT(iql, bc);  // IQL's three seeds against BC's ten
  EXPECT_GE(MeanOverSeeds("bc", expert_data, seeds), 0.95 * expert);
}

// LunarLander-v3, medium: the scripted lander with 20% uniform actions (as
// scripts/offline_results.sh). bc, cql (its preset: alpha 5, 256x256) and
// iql (its preset: beta 1) each beat the data on every seed, and cql and iql
// beat bc over five seeds; CQL with alpha 1 hovered, IQL with beta 3 stayed
// below BC (docs/offline.md).
TEST(OfflineLongTest, LunarLanderMediumDataset) {
  double behaviour = 0;
  const std::string medium = RecordScripted("LunarLander-v3", "heuristic", 200, 0.2, "lunarlander_medium", &behaviour);
  const int seeds = 5;
  std::map<std::string, double> mean_of;
  for (const std::string algo : {"bc", "cql", "iql"}) {
    const auto [mean, worst] = OverSeeds(algo, medium, seeds);
    std::printf("%s on LunarLander medium: %.2f (worst %.2f)\n", algo.c_str(), mean, worst);
    EXPECT_GT(worst, behaviour) << algo;
    mean_of[algo] = mean;
  }
  EXPECT_GT(mean_of["cql"], mean_of["bc"]);
  EXPECT_GT(mean_of["iql"], mean_of["bc"]);
}

// TowerDefense-v0, medium: the scripted defender with 3% uniform legal actions (as
// scripts/offline_results.sh). CQL's factored Q (its preset) wins every
// evaluation game on each of three seeds, as BC and IQL do (docs/offline.md).
TEST(OfflineLongTest, TowerDefenseMediumDatasetCql) {
  double behaviour = 0;
  const std::string medium =
      RecordScripted("TowerDefense-v0", "heuristic", 100, 0.03, "towerdefense_medium", &behaviour);
  const auto [mean, worst] = OverSeeds("cql", medium, 3);
  std::printf("cql on TowerDefense medium: %.2f (worst %.2f)\n", mean, worst);
  EXPECT_GT(worst, behaviour);
  EXPECT_GE(worst, 1.45 - 1e-6);  // every game won with nothing leaked: the scripted defender's return
}

// TowerDefense-v0, medium from a half-trained agent (as
// scripts/offline_results.sh): PPO from scratch (its preset's env, no
// demonstrations) stopped at 36,864 steps, recorded sampled. Its greedy
// policy loses every game; BC, which clones the most likely action, lost
// every game on one seed of five and won 80-100% on the others; CQL and IQL,
// which learn which of the data's actions won, won every game on each
// (docs/offline.md).
TEST(OfflineLongTest, TowerDefenseHalfTrainedPpoDataset) {
  const std::string ppo = FreshDir("offline_long", "ppo_td_medium");
  Train(TrainConfig::Resolve("ppo", "TowerDefense-v0", "", {"pretrain_policy="}, 36864, 0), ppo, Quiet());
  double behaviour = 0;
  const std::string medium = Record(ppo, false, 0.0, 200, &behaviour);
  std::printf("behaviour %.3f, PPO greedy %.3f\n", behaviour, FinalReturn(ppo));
  ASSERT_LT(FinalReturn(ppo), 0.0) << "the half-trained PPO already wins greedily";
  const int seeds = 3;
  const auto [bc, bc_worst] = OverSeeds("bc", medium, seeds);
  const auto [cql, cql_worst] = OverSeeds("cql", medium, seeds);
  const auto [iql, iql_worst] = OverSeeds("iql", medium, seeds);
  std::printf("bc %.3f (worst %.3f), cql %.3f (worst %.3f), iql %.3f (worst %.3f)\n", bc, bc_worst, cql, cql_worst,
              iql, iql_worst);
  EXPECT_GT(cql_worst, behaviour);
  EXPECT_GT(iql_worst, behaviour);
  EXPECT_GE(cql_worst, 1.4);  // won (nearly) every game
  EXPECT_GE(iql_worst, 1.4);
  EXPECT_LT(bc, cql);
  EXPECT_LT(bc, iql);
}

// Box actions: SAC's fast preset as the expert, with 30% uniform actions as
// the behaviour. CQL (its preset: alpha 5, 10k updates) must beat the data
// on every seed and beat offline SAC (alpha 0), which overestimates the
// actions the data never took.
TEST(OfflineLongTest, BoxCqlBeatsPendulumDataAndOfflineSac) {
  const std::string sac = FreshDir("offline_long", "sac_pendulum");
  Train(TrainConfig::Resolve("sac", "Pendulum-v1", "", {"eval_episodes=10"}, std::nullopt, 0, "fast"), sac, Quiet());
  double behaviour = 0;
  const std::string medium = Record(sac, true, 0.3, 50, &behaviour);
  std::printf("behaviour %.2f, expert %.2f\n", behaviour, FinalReturn(sac));
  const int seeds = 3;
  const auto [cql, cql_worst] = OverSeeds("cql", medium, seeds);
  const auto [plain, plain_worst] = OverSeeds("cql", medium, seeds, {"alpha=0"});
  std::printf("cql %.2f (worst %.2f), offline sac %.2f (worst %.2f)\n", cql, cql_worst, plain, plain_worst);
  EXPECT_GT(cql_worst, behaviour);
  EXPECT_GT(cql, plain);
}

// LunarLanderContinuous-v3, medium: the scripted lander with 40% uniform
// actions (as scripts/offline_box_results.sh). CQL with its preset (alpha's
// multiplier tuned towards a regularizer of 0) beats the data on every seed
// and BC on average; with alpha fixed at 5 the lander ended below the data on
// seeds 0 and 1 (docs/offline.md).
TEST(OfflineLongTest, BoxCqlLunarLanderContinuousMediumDataset) {
  double behaviour = 0;
  const std::string medium =
      RecordScripted("LunarLanderContinuous-v3", "heuristic", 300, 0.4, "llc_medium", &behaviour);
  const int seeds = 3;
  const auto [bc, bc_worst] = OverSeeds("bc", medium, seeds);
  const auto [cql, cql_worst] = OverSeeds("cql", medium, seeds);
  std::printf("bc %.2f (worst %.2f), cql %.2f (worst %.2f), behaviour %.2f\n", bc, bc_worst, cql, cql_worst, behaviour);
  EXPECT_GT(cql_worst, behaviour);
  EXPECT_GT(cql, bc);
}

}  // namespace
}  // namespace rlforge
