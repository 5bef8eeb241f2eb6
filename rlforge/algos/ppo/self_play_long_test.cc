// Self-play with a league on Arena-v0 (2v2 under fog), ctest label `long`:
// the presets selfplay (LSTM) and selfplay-ff (feed-forward, same code and
// settings) trained for 1.5M steps, then 200 games against the tactic bot, as
//   rlforge eval --policy RUN --opponent bot:tactic --episodes 200
// and the snapshots' TrueSkill ratings from ratings.csv. Measured with seed 0:
// LSTM 87.5% of the 200 games, ratings 27.77 -> 36.74 (first and last ten
// snapshots; tactic 31.48), 26.4 min; feed-forward 73.5%, 28.17 -> 35.59.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "rlforge/algos/ppo/recurrent_ppo.h"
#include "rlforge/env/registry.h"
#include "rlforge/train/runner.h"

namespace rlforge {
namespace {

struct LeagueResult {
  double win_rate = 0;           // 200 deterministic games against tactic
  double first_mu = 0, last_mu = 0;  // mean rating of the first and last ten snapshots
  double tactic_mu = 0;
};

LeagueResult TrainLeague(const std::string& preset, int64_t seed) {
  const std::string dir = testing::TempDir() + "/rlforge_long/selfplay-" + preset + "-" + std::to_string(seed);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path());
  RunnerOptions quiet;
  quiet.progress = false;
  const TrainResult r = Train(TrainConfig::Resolve("recurrent-ppo", "Arena-v0", preset, {}, std::nullopt, seed), dir, quiet);
  LoadedRun run = LoadRun(dir);
  auto& algo = dynamic_cast<RecurrentPpo&>(*run.algorithm);
  VectorEnvOptions opt;
  opt.num_envs = 8;
  auto envs = VectorEnv::Make("Arena-v0", run.config.run.env_kwargs, opt);
  auto policy = algo.MakePolicy(/*deterministic=*/true);
  auto tactic = Registry::Global().MakeScriptedPolicy("tactic", "Arena-v0", envs->env(0), 0x5A5A5A5AULL);
  LeagueResult out;
  out.win_rate = EvaluateTeams(*envs, *policy, *tactic, 200, 0).win_rate();
  std::vector<double> mu;
  for (const auto& row : algo.league()->rows())
    if (row.player.rfind("snapshot:", 0) == 0) mu.push_back(row.mu);
  const size_t k = std::min<size_t>(10, mu.size() / 2);
  for (size_t i = 0; i < k; ++i) out.first_mu += mu[i] / k, out.last_mu += mu[mu.size() - 1 - i] / k;
  out.tactic_mu = algo.league()->rating("bot:tactic").mu;
  std::printf("%s seed %lld: %lld steps in %.1f s; vs tactic %.3f of 200; rating first %.2f, last %.2f (tactic %.2f)\n",
              preset.c_str(), static_cast<long long>(seed), static_cast<long long>(r.timesteps), r.seconds,
              out.win_rate, out.first_mu, out.last_mu, out.tactic_mu);
  return out;
}

TEST(SelfPlayLongTest, LstmLeagueBeatsTheTacticBot) {
  const LeagueResult lstm = TrainLeague("selfplay", 0);
  EXPECT_GE(lstm.win_rate, 0.8);
  EXPECT_GT(lstm.last_mu, lstm.first_mu + 2.0);  // the rating rose across snapshots
  EXPECT_GT(lstm.last_mu, lstm.tactic_mu);
}

TEST(SelfPlayLongTest, FeedForwardLeague) {
  const LeagueResult ff = TrainLeague("selfplay-ff", 0);
  EXPECT_GE(ff.win_rate, 0.6);
  EXPECT_GT(ff.last_mu, ff.first_mu + 2.0);
}

}  // namespace
}  // namespace rlforge
