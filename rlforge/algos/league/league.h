// rlforge/algos/league/league.h — self-play with a league of past selves, as
// OpenAI Five trained (Berner et al., 2019, "Dota 2 with Large Scale Deep
// Reinforcement Learning", section 3.4 and appendix N).
//
// The learner plays agent 0 of a two-agent env (Arena-v0 with
// opponent=external); each new game's agent 1 is drawn here:
//   - optionally, with probability bot_fraction (default 0: pure self-play),
//     one of the reference bots, uniformly;
//   - else with probability latest_fraction (Five: 0.8) the current policy;
//   - otherwise a past snapshot i, with probability p_i = softmax(q)_i over
//     the snapshots' quality scores q. When the learner beats snapshot i,
//       q_i <- q_i - quality_lr / (N p_i)          (N snapshots)
//     so opponents the learner has learned to beat are drawn less often. A
//     new snapshot (added every snapshot_interval iterations) starts at the
//     highest score in the pool (0 for the first).
// Ratings: TrueSkill (ratings.h). When the league starts, the reference bots
// (rating_bots, scripted policies of the env) play each other rating_games
// games per pair, from the prior N(25, 25/3), and are then frozen. Every new
// snapshot starts from the prior and plays rating_games games against each
// bot and against the previous snapshot (both frozen: only the new
// snapshot's rating moves). The newest snapshot's rating is the learner's;
// ratings.csv lists every rating as it was set.
//
// The League keeps the bookkeeping (scores, ratings, who plays whom and the
// draws' generator); the agent keeps the snapshot networks and plays the
// games. All of it is in the checkpoint (Visit), so a resumed run draws the
// same opponents as an unbroken one.
#ifndef RLFORGE_ALGOS_LEAGUE_LEAGUE_H_
#define RLFORGE_ALGOS_LEAGUE_LEAGUE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "rlforge/algos/league/ratings.h"
#include "rlforge/config/config.h"
#include "rlforge/core/rng.h"
#include "rlforge/core/state_io.h"

namespace rlforge {

struct LeagueConfig {
  bool self_play = false;
  int64_t snapshot_interval = 10;    // iterations between snapshots
  double latest_fraction = 0.8;      // games against the current policy
  double bot_fraction = 0.0;         // games against the reference bots (before latest_fraction)
  double quality_lr = 0.01;          // eta of the quality update
  int64_t rating_games = 40;         // per snapshot and reference opponent
  std::string rating_bots = "random,greedy,tactic";  // the env's scripted policies, weakest first
  bool rating_deterministic = false;  // snapshots play rating games greedily (else they sample, as in training)

  void Visit(FieldVisitor& v);
  void Validate() const;
  std::vector<std::string> bots() const;
};

// One rating as it was set (a row of ratings.csv).
struct RatingRow {
  int64_t iteration = 0, timesteps = 0;
  std::string player;  // "bot:NAME" or "snapshot:K"
  double mu = 0, sigma = 0;
  int64_t games = 0, wins = 0, draws = 0, losses = 0;  // the rating games just played
  template <class A>
  void Fields(A& ar) {
    ar(iteration), ar(timesteps), ar(player), ar(mu), ar(sigma), ar(games), ar(wins), ar(draws), ar(losses);
  }
};

class League {
 public:
  static constexpr int64_t kLatest = -1;
  // Reference bot b (config().bots()[b]) as a training opponent: -2 - b.
  static int64_t BotOpponent(int64_t b) { return -2 - b; }
  static bool IsBot(int64_t opponent) { return opponent <= -2; }
  static int64_t BotIndex(int64_t opponent) { return -2 - opponent; }

  League(const LeagueConfig& config, uint64_t seed);

  // The opponent of a new game: a bot (with probability bot_fraction), else
  // kLatest or a snapshot index.
  int64_t SampleOpponent();
  // A finished training game against `opponent` (1 learner win, 0 draw,
  // -1 loss): Five's quality update on a win over a snapshot.
  void RecordGame(int64_t opponent, int outcome);
  // Registers a snapshot taken at (iteration, timesteps); returns its index.
  int64_t AddSnapshot(int64_t iteration, int64_t timesteps);
  int64_t num_snapshots() const { return static_cast<int64_t>(quality_.size()); }
  double quality(int64_t k) const { return quality_.at(k); }
  // softmax(q)_k: the chance snapshot k is drawn when a past opponent is.
  double Probability(int64_t k) const;

  // Ratings. Bots are rated once (RateBots), then frozen.
  bool bots_rated() const { return bots_rated_; }
  // outcomes[i][j]: bot i's results against bot j (i < j) in game order.
  void RateBots(const std::vector<std::vector<std::vector<int>>>& outcomes);
  // Snapshot k's rating from its games against each opponent (bot:NAME or
  // snapshot:J, frozen), outcomes in game order; appends the rating row.
  void RateSnapshot(int64_t k, const std::vector<std::pair<std::string, std::vector<int>>>& games);
  const Rating& rating(const std::string& player) const;
  const std::vector<RatingRow>& rows() const { return rows_; }
  // ratings.csv: iteration,timesteps,player,mu,sigma,conservative,games,wins,draws,losses
  std::string RatingsCsv() const;

  // Counters since the last TakeCounts: training games against the latest
  // policy and against snapshots, and the learner's wins in each.
  struct Counts {
    int64_t latest_games = 0, latest_wins = 0, past_games = 0, past_wins = 0, bot_games = 0, bot_wins = 0;
  };
  Counts TakeCounts();

  // A seed for the next rating match (drawn from the league's generator).
  uint64_t NextSeed() { return rng_.Next(); }
  const LeagueConfig& config() const { return config_; }
  // Everything but the config (a checkpoint field of its own).
  template <class A>
  void Fields(A& ar) {
    Rng::State st = rng_.state();
    ar(st);
    rng_.set_state(st);
    ar(quality_), ar(snapshot_iteration_), ar(snapshot_timesteps_), ar(players_), ar(ratings_), ar(bots_rated_),
        ar(counts_);
    uint64_t n = rows_.size();
    ar(n);
    rows_.resize(n);
    for (auto& r : rows_) r.Fields(ar);
  }

 private:
  Rating& MutableRating(const std::string& player);

  LeagueConfig config_;
  int64_t num_bots_ = 0;
  Rng rng_;
  std::vector<double> quality_;
  std::vector<int64_t> snapshot_iteration_, snapshot_timesteps_;
  std::vector<std::string> players_;
  std::vector<Rating> ratings_;
  std::vector<RatingRow> rows_;
  bool bots_rated_ = false;
  Counts counts_;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_LEAGUE_LEAGUE_H_
