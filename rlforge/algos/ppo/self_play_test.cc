// Self-play with a league (recurrent-ppo, self_play: true) on Arena-v0: who
// plays agent 1, frozen snapshots, ratings in the run directory, a
// feed-forward core trained by the same code, exact resume and clear errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "rlforge/algos/ppo/recurrent_ppo.h"
#include "rlforge/train/runner.h"
#include "rlforge/train/train_config.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

RunContext ArenaContext(int64_t seed = 0) {
  RunContext ctx;
  ctx.algo = "recurrent-ppo";
  ctx.run.env = "Arena-v0";
  ctx.run.env_kwargs = Kwargs{{"opponent", "external"}, {"team_size", "1"}};
  ctx.run.num_envs = 4;
  ctx.run.seed = seed;
  ctx.run.total_steps = 100000;
  return ctx;
}

RecurrentPpoConfig SelfPlayConfig(const std::string& rnn = "lstm") {
  RecurrentPpoConfig c;
  c.n_steps = 128;
  c.bptt_len = 16;
  c.batch_size = 128;
  c.n_epochs = 1;
  c.policy.rnn_type = rnn;
  c.policy.rnn_hidden_size = 8;
  c.policy.mlp.net_arch = {8};
  c.league.self_play = true;
  c.league.snapshot_interval = 1;
  c.league.rating_games = 4;
  return c;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// The initial policy is snapshot 0; it keeps the weights it was taken with
// while the learner's change; with latest_fraction 0 every game after the
// first is against a snapshot (games last at most 100 steps: every env
// finishes one in a 128-step rollout).
TEST(SelfPlayTest, SnapshotsAreFrozenAndOpponentsDrawnFromTheLeague) {
  RecurrentPpoConfig c = SelfPlayConfig();
  c.league.latest_fraction = 0.0;
  RecurrentPpo algo(ArenaContext(), c);
  std::vector<torch::Tensor> initial;
  for (const auto& p : algo.net()->parameters()) initial.push_back(p.detach().clone());
  for (int64_t o : algo.opponents()) EXPECT_EQ(o, League::kLatest);  // no snapshot yet
  const Metrics m = algo.Iterate();
  ASSERT_EQ(algo.num_snapshots(), 2);  // the initial policy, and after iteration 1
  EXPECT_EQ(m.at("league_snapshots"), 2.0);
  for (int64_t o : algo.opponents()) EXPECT_GE(o, 0);
  EXPECT_EQ(m.at("league_past_fraction"), 0.0);  // the games that ended began before snapshot 0
  const auto snap0 = algo.snapshot(0)->parameters(), now = algo.net()->parameters();
  bool changed = false;
  for (size_t j = 0; j < initial.size(); ++j) {
    EXPECT_TRUE(torch::equal(snap0[j], initial[j])) << "snapshot 0 parameter " << j;
    changed = changed || !torch::equal(now[j], initial[j]);
  }
  EXPECT_TRUE(changed) << "the update changed no weight";
  const auto snap1 = algo.snapshot(1)->parameters();
  for (size_t j = 0; j < now.size(); ++j) EXPECT_TRUE(torch::equal(snap1[j], now[j])) << j;
  // Ratings: the three bots, then each snapshot.
  const auto& rows = algo.league()->rows();
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].player, "bot:random");
  EXPECT_EQ(rows[2].player, "bot:tactic");
  EXPECT_EQ(rows[3].player, "snapshot:0");
  EXPECT_EQ(rows[3].games, 12);  // 4 against each bot
  EXPECT_EQ(rows[4].games, 16);  // and 4 against snapshot 0
  EXPECT_GT(algo.league()->rating("bot:tactic").mu, algo.league()->rating("bot:random").mu);
  const auto events = algo.TakeScalarEvents();
  EXPECT_FALSE(events.empty());
  EXPECT_TRUE(algo.TakeScalarEvents().empty());
  ASSERT_EQ(algo.RunFiles().count("ratings.csv"), 1u);
  EXPECT_EQ(algo.evaluation_opponent(), "tactic");
  // Every game finished in the next rollout began against a snapshot.
  EXPECT_EQ(algo.Iterate().at("league_past_fraction"), 1.0);
  // A snapshot as a policy; a missing one is named.
  EXPECT_NE(algo.MakeSnapshotPolicy(1, true), nullptr);
  try {
    algo.MakeSnapshotPolicy(3, true);
    ADD_FAILURE() << "snapshot 3 does not exist";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("snapshots 0..2"), std::string::npos) << e.what();
  }
}

// rnn_type none: no state, no recurrent layer; the same self-play training.
TEST(SelfPlayTest, FeedForwardCoreTrainsTheSameWay) {
  RecurrentPpo algo(ArenaContext(1), SelfPlayConfig("none"));
  EXPECT_FALSE(algo.net()->InitialState(4).pi_h.defined());
  for (const auto& p : algo.net()->named_parameters()) {
    EXPECT_EQ(p.key().find("lstm"), std::string::npos) << p.key();
    EXPECT_EQ(p.key().find("gru"), std::string::npos) << p.key();
  }
  const Metrics m = algo.Iterate();
  EXPECT_TRUE(std::isfinite(m.at("policy_loss")));
  EXPECT_EQ(algo.num_snapshots(), 2);
}

// A league run killed after its checkpoint at step 512 and resumed ends with
// the same weights, snapshots, ratings and opponents as one never stopped
// (bots among the opponents included).
TEST(SelfPlayTest, ResumeIsExact) {
  const std::string root = testing::TempDir() + "/rlforge_resume_self_play";
  fs::remove_all(root);
  fs::create_directories(root);
  const std::vector<std::string> sets = {
      "env_kwargs={opponent: external, team_size: 1}", "self_play=true", "snapshot_interval=2", "rating_games=4",
      "num_envs=4", "n_steps=32", "bptt_len=8", "batch_size=64", "n_epochs=2", "rnn_hidden_size=8",
      "net_arch=[8]", "checkpoint_interval=512", "eval_episodes=0", "latest_fraction=0.5", "bot_fraction=0.3"};
  RunnerOptions quiet;
  quiet.progress = false;
  Train(TrainConfig::Resolve("recurrent-ppo", "Arena-v0", "", sets, 1280, 4), root + "/a", quiet);
  fs::copy(root + "/a", root + "/b", fs::copy_options::recursive);
  fs::remove(root + "/b/checkpoints/final.pt");
  fs::remove(root + "/b/checkpoints/step_1024.pt");
  ASSERT_TRUE(fs::exists(root + "/b/checkpoints/step_512.pt"));
  fs::remove(root + "/b/ratings.csv");  // the resumed run writes its own
  Resume(root + "/b", std::nullopt, quiet);
  auto a = LoadRun(root + "/a"), b = LoadRun(root + "/b");
  auto& ra = dynamic_cast<RecurrentPpo&>(*a.algorithm);
  auto& rb = dynamic_cast<RecurrentPpo&>(*b.algorithm);
  EXPECT_EQ(ra.num_timesteps(), 1280);
  auto pa = ra.net()->parameters(), pb = rb.net()->parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
  ASSERT_EQ(ra.num_snapshots(), 6);  // iterations 0, 2, 4, 6, 8, 10
  ASSERT_EQ(rb.num_snapshots(), 6);
  for (int64_t k = 0; k < 6; ++k) {
    auto sa = ra.snapshot(k)->parameters(), sb = rb.snapshot(k)->parameters();
    for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(torch::equal(sa[i], sb[i])) << "snapshot " << k << " " << i;
    EXPECT_EQ(ra.league()->quality(k), rb.league()->quality(k)) << k;
  }
  EXPECT_EQ(ra.opponents(), rb.opponents());
  const std::string csv = ReadFile(root + "/a/ratings.csv");
  EXPECT_EQ(csv, ReadFile(root + "/b/ratings.csv"));
  EXPECT_EQ(csv, ra.league()->RatingsCsv());
  EXPECT_EQ(rb.league()->RatingsCsv(), csv);
  EXPECT_NE(csv.find("snapshot:5"), std::string::npos);
}

TEST(SelfPlayTest, ClearErrors) {
  auto message = [](const std::string& env, std::vector<std::string> sets) -> std::string {
    try {
      auto c = TrainConfig::Resolve("recurrent-ppo", env, "", sets, 1000, 0);
      MakeAlgorithm(c.Context(), *c.algo);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message("CartPoleNoVel-v1", {"self_play=true"}).find("'self_play' needs a two-agent env"),
            std::string::npos);
  EXPECT_NE(message("Arena-v0", {"self_play=true", "env_kwargs={opponent: tactic}"})
                .find("Arena-v0 has two with env_kwargs {opponent: external}"),
            std::string::npos);
  EXPECT_NE(message("Arena-v0", {"self_play=true", "env_kwargs={opponent: external}", "rating_bots=random,wizard"})
                .find("config key 'rating_bots'"),
            std::string::npos);
  // A bot under two of its names (medium is greedy) would be rated as two players.
  EXPECT_NE(message("Arena-v0", {"self_play=true", "env_kwargs={opponent: external}", "rating_bots=greedy,medium"})
                .find("names the greedy bot twice ('greedy' and 'medium')"),
            std::string::npos);
  EXPECT_NE(message("Arena-v0", {"self_play=true", "env_kwargs={opponent: external}", "rating_bots=strong,weak,tactic"})
                .find("names the tactic bot twice ('strong' and 'tactic')"),
            std::string::npos);
  EXPECT_NE(message("Arena-v0", {"self_play=true", "env_kwargs={opponent: external}", "normalize_obs=true"})
                .find("does not support normalize_obs"),
            std::string::npos);
  EXPECT_NE(message("Arena-v0", {"self_play=true", "env_kwargs={opponent: external}", "latest_fraction=2"})
                .find("'latest_fraction' must be in [0, 1]"),
            std::string::npos);
}

}  // namespace
}  // namespace rlforge
