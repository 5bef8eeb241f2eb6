// The league's bookkeeping on worked numbers: who plays whom, Five's quality
// update, ratings against frozen opponents, and exact save/load.
#include "rlforge/algos/league/league.h"

#include <gtest/gtest.h>

#include <cmath>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

LeagueConfig Config() {
  LeagueConfig c;
  c.self_play = true;
  c.rating_bots = "random,greedy";
  return c;
}

TEST(LeagueTest, EveryGameIsAgainstTheLatestPolicyUntilTheFirstSnapshot) {
  League league(Config(), 1);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(league.SampleOpponent(), League::kLatest);
}

TEST(LeagueTest, PastOpponentsTakeTheirShareByQuality) {
  League league(Config(), 2);
  league.AddSnapshot(0, 0);
  league.AddSnapshot(10, 1000);
  // Equal scores: 0.8 latest, 0.1 each snapshot.
  int counts[3] = {0, 0, 0};
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++counts[league.SampleOpponent() + 1];
  // Binomial standard deviations: 80 (latest), 60 (each snapshot); 5 of them.
  EXPECT_NEAR(counts[0], 0.8 * n, 400);
  EXPECT_NEAR(counts[1], 0.1 * n, 300);
  EXPECT_NEAR(counts[2], 0.1 * n, 300);
}

TEST(LeagueTest, BotsTakeBotFractionOfTheGamesUniformly) {
  LeagueConfig c = Config();  // bots random, greedy
  c.bot_fraction = 0.5;
  League league(c, 6);
  league.AddSnapshot(0, 0);
  // 0.5 bots (0.25 each), then 0.8 x 0.5 = 0.4 latest, 0.1 the snapshot.
  int bots[2] = {0, 0}, latest = 0, past = 0;
  const int n = 40000;
  for (int i = 0; i < n; ++i) {
    const int64_t o = league.SampleOpponent();
    if (League::IsBot(o)) ++bots[League::BotIndex(o)];
    else if (o == League::kLatest) ++latest;
    else ++past;
  }
  EXPECT_NEAR(bots[0], 0.25 * n, 450);
  EXPECT_NEAR(bots[1], 0.25 * n, 450);
  EXPECT_NEAR(latest, 0.4 * n, 500);
  EXPECT_NEAR(past, 0.1 * n, 300);
  league.RecordGame(League::BotOpponent(1), 1);
  league.RecordGame(League::BotOpponent(0), -1);
  EXPECT_EQ(league.quality(0), 0.0);  // bots have no quality score
  const League::Counts counts = league.TakeCounts();
  EXPECT_EQ(counts.bot_games, 2);
  EXPECT_EQ(counts.bot_wins, 1);
  c.rating_bots = "";
  EXPECT_THROW(League(c, 0), InvalidArgument);  // bot_fraction without bots
}

TEST(LeagueTest, QualityFallsWhenTheLearnerWinsByFivesRule) {
  LeagueConfig c = Config();
  c.quality_lr = 0.01;
  League league(c, 3);
  league.AddSnapshot(0, 0);
  league.AddSnapshot(10, 1000);
  EXPECT_DOUBLE_EQ(league.Probability(0), 0.5);
  // A win over snapshot 0: q0 = 0 - 0.01 / (2 * 0.5) = -0.01.
  league.RecordGame(0, 1);
  EXPECT_NEAR(league.quality(0), -0.01, 1e-15);
  EXPECT_EQ(league.quality(1), 0.0);
  // p0 = e^-0.01 / (e^-0.01 + 1) = 0.49750002083; another win:
  // q0 = -0.01 - 0.01 / (2 * 0.49750002083) = -0.02005025...
  EXPECT_NEAR(league.Probability(0), 0.49750002083, 1e-10);
  league.RecordGame(0, 1);
  EXPECT_NEAR(league.quality(0), -0.01 - 0.01 / (2 * 0.49750002083), 1e-10);
  // Draws, losses and games against the latest policy change nothing.
  const double q0 = league.quality(0);
  league.RecordGame(0, 0);
  league.RecordGame(0, -1);
  league.RecordGame(League::kLatest, 1);
  EXPECT_EQ(league.quality(0), q0);
  // A new snapshot starts at the best score in the pool (snapshot 1's 0).
  league.AddSnapshot(20, 2000);
  EXPECT_EQ(league.quality(2), 0.0);
  const League::Counts counts = league.TakeCounts();
  EXPECT_EQ(counts.past_games, 4);
  EXPECT_EQ(counts.past_wins, 2);
  EXPECT_EQ(counts.latest_games, 1);
  EXPECT_EQ(counts.latest_wins, 1);
  EXPECT_EQ(league.TakeCounts().past_games, 0);
}

TEST(LeagueTest, ASnapshotIsRatedAgainstFrozenOpponents) {
  League league(Config(), 4);
  // Two bots, four games: random wins one, greedy three.
  std::vector<std::vector<std::vector<int>>> bots(2, std::vector<std::vector<int>>(2));
  bots[0][1] = {-1, -1, 1, -1};
  league.RateBots(bots);
  Rating r, g;
  for (int o : bots[0][1]) RateGame(&r, &g, o);
  EXPECT_DOUBLE_EQ(league.rating("bot:random").mu, r.mu);
  EXPECT_DOUBLE_EQ(league.rating("bot:greedy").sigma, g.sigma);
  EXPECT_GT(g.mu, r.mu);
  // One win of a new snapshot over a player at the prior gives trueskill's
  // rate_1vs1 (29.39583202, 7.17147559) — here against greedy, frozen.
  league.AddSnapshot(5, 500);
  league.RateSnapshot(0, {{"bot:greedy", {1}}});
  Rating mine, theirs = g;
  RateGame(&mine, &theirs, 1);
  EXPECT_DOUBLE_EQ(league.rating("snapshot:0").mu, mine.mu);
  EXPECT_DOUBLE_EQ(league.rating("bot:greedy").mu, g.mu);  // unchanged
  // Interleaved game by game across opponents.
  league.AddSnapshot(10, 1000);
  league.RateSnapshot(1, {{"bot:random", {1, 1}}, {"snapshot:0", {0}}});
  Rating s1, rr = league.rating("bot:random"), s0 = league.rating("snapshot:0");
  Rating a = rr, b = s0, c = rr;
  RateGame(&s1, &a, 1);
  RateGame(&s1, &b, 0);
  RateGame(&s1, &c, 1);
  EXPECT_DOUBLE_EQ(league.rating("snapshot:1").mu, s1.mu);
  EXPECT_DOUBLE_EQ(league.rating("snapshot:1").sigma, s1.sigma);
  const std::string csv = league.RatingsCsv();
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "iteration,timesteps,player,mu,sigma,conservative,games,wins,draws,losses");
  EXPECT_NE(csv.find("\n10,1000,snapshot:1,"), std::string::npos);
  EXPECT_NE(csv.find(",3,2,1,0\n"), std::string::npos);  // snapshot 1: 3 games, 2 wins, 1 draw
  EXPECT_NE(csv.find("bot:random,"), std::string::npos);
  EXPECT_THROW(league.rating("snapshot:7"), InvalidArgument);
}

TEST(LeagueTest, SavedAndLoadedItDrawsTheSameOpponents) {
  League a(Config(), 5);
  std::vector<std::vector<std::vector<int>>> bots(2, std::vector<std::vector<int>>(2));
  bots[0][1] = {-1, 0, -1};
  a.RateBots(bots);
  a.AddSnapshot(0, 0);
  a.RateSnapshot(0, {{"bot:greedy", {1, -1}}});
  a.AddSnapshot(1, 10);
  a.RecordGame(1, 1);
  for (int i = 0; i < 7; ++i) a.SampleOpponent();
  std::string bytes;
  StateWriter w(&bytes);
  a.Fields(w);
  League b(Config(), 999);
  StateReader r(bytes, "league");
  b.Fields(r);
  r.ExpectEnd();
  EXPECT_EQ(b.num_snapshots(), 2);
  EXPECT_EQ(b.quality(1), a.quality(1));
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.SampleOpponent(), b.SampleOpponent()) << i;
  EXPECT_EQ(a.NextSeed(), b.NextSeed());
  EXPECT_EQ(a.RatingsCsv(), b.RatingsCsv());
  EXPECT_EQ(b.rows().size(), 3u);  // two bots, snapshot 0
  EXPECT_TRUE(b.bots_rated());
  EXPECT_EQ(b.rating("snapshot:0").mu, a.rating("snapshot:0").mu);
  EXPECT_EQ(b.rating("bot:greedy").sigma, a.rating("bot:greedy").sigma);
}

TEST(LeagueTest, BadKeysAreNamed) {
  auto message = [](LeagueConfig c) {
    try {
      League l(c, 0);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  LeagueConfig c = Config();
  c.latest_fraction = 1.5;
  EXPECT_NE(message(c).find("'latest_fraction' must be in [0, 1]"), std::string::npos);
  c = Config();
  c.snapshot_interval = 0;
  EXPECT_NE(message(c).find("'snapshot_interval' must be >= 1"), std::string::npos);
  c = Config();
  c.rating_bots = "tactic, tactic";
  EXPECT_NE(message(c).find("names 'tactic' twice"), std::string::npos);
  c = Config();
  c.rating_bots = "";
  EXPECT_NE(message(c).find("'rating_bots' must name at least one"), std::string::npos);
  c = Config();
  c.rating_bots = " random ,greedy,";
  EXPECT_EQ(c.bots(), (std::vector<std::string>{"random", "greedy"}));
}

}  // namespace
}  // namespace rlforge
