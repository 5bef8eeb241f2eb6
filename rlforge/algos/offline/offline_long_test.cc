// Offline learning on CartPole-v1 datasets made by rlforge's own PPO
// (make test-long; docs/offline.md has the five-seed figures).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "rlforge/data/dataset.h"
#include "rlforge/train/testing.h"

namespace rlforge {
namespace {

using testing_util::FreshDir;
using testing_util::Quiet;

double FinalReturn(const std::string& run) {
  std::ifstream f(run + "/eval.json");
  return nlohmann::json::parse(f)["mean_return"].get<double>();
}

// A dataset of `policy` (a run directory) on CartPole-v1.
std::string Record(const std::string& run, bool deterministic, double epsilon, int64_t episodes,
                   double* mean_return) {
  LoadedRun r = LoadRun(run);
  VectorEnvOptions o;
  o.num_envs = 8;
  auto envs = VectorEnv::Make("CartPole-v1", {}, o);
  auto policy = r.algorithm->MakePolicy(deterministic);
  DatasetInfo info;
  info.env_id = "CartPole-v1";
  const Dataset d = RecordDataset(*envs, *policy, {episodes, 0, epsilon}, info);
  const std::string dir = FreshDir("offline_long", std::string("data_") + (deterministic ? "expert" : "medium"));
  WriteDataset(d, dir);
  *mean_return = 0;
  for (double x : d.EpisodeReturns()) *mean_return += x / static_cast<double>(d.episodes());
  return dir;
}

double MeanOverSeeds(const std::string& algo, const std::string& dataset, int seeds) {
  double sum = 0;
  for (int s = 0; s < seeds; ++s) {
    const std::string out = FreshDir("offline_long", algo + "_" + std::to_string(s) + "_" +
                                                         std::filesystem::path(dataset).filename().string());
    Train(TrainConfig::Resolve(algo, "CartPole-v1", "", {"dataset=" + dataset}, std::nullopt, s), out, Quiet());
    const double r = FinalReturn(out);
    std::printf("%s seed %d on %s: %.2f\n", algo.c_str(), s, dataset.c_str(), r);
    sum += r;
  }
  return sum / seeds;
}

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
  const int seeds = 3;
  const double bc = MeanOverSeeds("bc", medium, seeds);
  const double cql = MeanOverSeeds("cql", medium, seeds);
  const double iql = MeanOverSeeds("iql", medium, seeds);
  EXPECT_GE(cql, behaviour);
  EXPECT_GE(iql, behaviour);
  EXPECT_GT(iql, bc);
  EXPECT_GE(MeanOverSeeds("bc", expert_data, seeds), 0.95 * expert);
}

}  // namespace
}  // namespace rlforge
