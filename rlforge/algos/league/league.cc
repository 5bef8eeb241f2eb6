#include "rlforge/algos/league/league.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "rlforge/core/error.h"

namespace rlforge {

void LeagueConfig::Visit(FieldVisitor& v) {
  v.Field("self_play", &self_play,
          "train against the current policy and past snapshots (a two-agent env: Arena-v0 with opponent=external)");
  v.Field("snapshot_interval", &snapshot_interval, "self-play: iterations between snapshots added to the league");
  v.Field("latest_fraction", &latest_fraction,
          "self-play: fraction of the games not against bots that are against the current policy (the rest: "
          "snapshots, by quality)");
  v.Field("bot_fraction", &bot_fraction,
          "self-play: fraction of games against the reference bots (rating_bots; 0: pure self-play)");
  v.Field("quality_lr", &quality_lr, "self-play: step of the quality score update when the learner beats a snapshot");
  v.Field("rating_games", &rating_games,
          "self-play: TrueSkill rating games of a new snapshot against each reference bot and the previous snapshot");
  v.Field("rating_bots", &rating_bots, "self-play: the env's scripted policies rated as fixed references (comma-separated)");
  v.Field("rating_deterministic", &rating_deterministic,
          "self-play: snapshots take greedy actions in rating games (false: they sample, as in training)");
}

std::vector<std::string> LeagueConfig::bots() const {
  std::vector<std::string> out;
  std::string cur;
  for (const char ch : rating_bots + ",") {
    if (ch != ',') {
      if (ch != ' ') cur += ch;
      continue;
    }
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
  }
  return out;
}

void LeagueConfig::Validate() const {
  RLF_CHECK_ARG(snapshot_interval >= 1, "config key 'snapshot_interval' must be >= 1, got ", snapshot_interval);
  RLF_CHECK_ARG(latest_fraction >= 0 && latest_fraction <= 1, "config key 'latest_fraction' must be in [0, 1], got ",
                latest_fraction);
  RLF_CHECK_ARG(bot_fraction >= 0 && bot_fraction <= 1, "config key 'bot_fraction' must be in [0, 1], got ",
                bot_fraction);
  RLF_CHECK_ARG(bot_fraction == 0 || !bots().empty(), "config key 'bot_fraction' needs rating_bots");
  RLF_CHECK_ARG(quality_lr >= 0 && std::isfinite(quality_lr), "config key 'quality_lr' must be >= 0, got ", quality_lr);
  RLF_CHECK_ARG(rating_games >= 0 && rating_games <= 100000, "config key 'rating_games' must be in 0..100000, got ",
                rating_games);
  const auto b = bots();
  RLF_CHECK_ARG(!self_play || !b.empty(), "config key 'rating_bots' must name at least one of the env's scripted bots "
                                          "(weakest first): ratings are anchored on them and the last one is the "
                                          "evaluation opponent");
  for (size_t i = 0; i < b.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      RLF_CHECK_ARG(b[i] != b[j], "config key 'rating_bots' names '", b[i], "' twice");
}

League::League(const LeagueConfig& config, uint64_t seed) : config_(config), rng_(seed) {
  config_.Validate();
  num_bots_ = static_cast<int64_t>(config_.bots().size());
}

double League::Probability(int64_t k) const {
  const double top = *std::max_element(quality_.begin(), quality_.end());
  double sum = 0;
  for (double q : quality_) sum += std::exp(q - top);
  return std::exp(quality_.at(k) - top) / sum;
}

int64_t League::SampleOpponent() {
  // All draws always happen, so the sequence does not depend on the pool.
  const double u = rng_.Uniform(), v = rng_.Uniform(), w = rng_.Uniform();
  const double bots = config_.bot_fraction;
  if (num_bots_ > 0 && u < bots)
    return BotOpponent(std::min(num_bots_ - 1, static_cast<int64_t>(w * static_cast<double>(num_bots_))));
  if (quality_.empty() || u < bots + (1 - bots) * config_.latest_fraction) return kLatest;
  // softmax(q) once per draw.
  const int64_t n = num_snapshots();
  const double top = *std::max_element(quality_.begin(), quality_.end());
  double sum = 0;
  for (double q : quality_) sum += std::exp(q - top);
  double acc = 0;
  for (int64_t k = 0; k < n; ++k) {
    acc += std::exp(quality_[k] - top) / sum;
    if (v < acc) return k;
  }
  return n - 1;
}

void League::RecordGame(int64_t opponent, int outcome) {
  if (opponent == kLatest) {
    ++counts_.latest_games;
    counts_.latest_wins += outcome > 0;
    return;
  }
  if (IsBot(opponent)) {
    RLF_CHECK(BotIndex(opponent) < num_bots_, "League: no bot ", BotIndex(opponent));
    ++counts_.bot_games;
    counts_.bot_wins += outcome > 0;
    return;
  }
  RLF_CHECK(opponent >= 0 && opponent < num_snapshots(), "League: no snapshot ", opponent);
  ++counts_.past_games;
  counts_.past_wins += outcome > 0;
  if (outcome > 0)
    quality_[opponent] -= config_.quality_lr / (static_cast<double>(num_snapshots()) * Probability(opponent));
}

int64_t League::AddSnapshot(int64_t iteration, int64_t timesteps) {
  quality_.push_back(quality_.empty() ? 0.0 : *std::max_element(quality_.begin(), quality_.end()));
  snapshot_iteration_.push_back(iteration);
  snapshot_timesteps_.push_back(timesteps);
  return num_snapshots() - 1;
}

Rating& League::MutableRating(const std::string& player) {
  for (size_t i = 0; i < players_.size(); ++i)
    if (players_[i] == player) return ratings_[i];
  players_.push_back(player);
  ratings_.push_back(Rating{});
  return ratings_.back();
}

const Rating& League::rating(const std::string& player) const {
  for (size_t i = 0; i < players_.size(); ++i)
    if (players_[i] == player) return ratings_[i];
  throw InvalidArgument(StrCat("the league has no rated player '", player, "'"));
}

void League::RateBots(const std::vector<std::vector<std::vector<int>>>& outcomes) {
  const auto bots = config_.bots();
  RLF_CHECK(outcomes.size() == bots.size(), "RateBots: one row per bot");
  for (const auto& b : bots) MutableRating("bot:" + b);
  // Game by game, the pairs interleaved, so no pair's games all come last.
  size_t most = 0;
  for (const auto& row : outcomes)
    for (const auto& g : row) most = std::max(most, g.size());
  std::vector<RatingRow> rows(bots.size());
  for (size_t i = 0; i < bots.size(); ++i) rows[i].player = "bot:" + bots[i];
  for (size_t g = 0; g < most; ++g)
    for (size_t i = 0; i < bots.size(); ++i)
      for (size_t j = i + 1; j < bots.size(); ++j) {
        if (g >= outcomes[i][j].size()) continue;
        const int o = outcomes[i][j][g];
        RateGame(&MutableRating("bot:" + bots[i]), &MutableRating("bot:" + bots[j]), o);
        for (auto [p, r] : {std::pair{i, o}, std::pair{j, -o}}) {
          ++rows[p].games;
          rows[p].wins += r > 0, rows[p].draws += r == 0, rows[p].losses += r < 0;
        }
      }
  for (auto& row : rows) {
    const Rating& r = rating(row.player);
    row.mu = r.mu, row.sigma = r.sigma;
    rows_.push_back(row);
  }
  bots_rated_ = true;
}

void League::RateSnapshot(int64_t k, const std::vector<std::pair<std::string, std::vector<int>>>& games) {
  RLF_CHECK(k >= 0 && k < num_snapshots(), "League: no snapshot ", k);
  const std::string me = StrCat("snapshot:", k);
  Rating mine = Rating{};
  RatingRow row;
  row.iteration = snapshot_iteration_[k], row.timesteps = snapshot_timesteps_[k], row.player = me;
  size_t most = 0;
  for (const auto& [_, g] : games) most = std::max(most, g.size());
  for (size_t g = 0; g < most; ++g)
    for (const auto& [who, outcomes] : games) {
      if (g >= outcomes.size()) continue;
      Rating theirs = rating(who);  // frozen: a copy
      const int o = outcomes[g];
      RateGame(&mine, &theirs, o);
      ++row.games;
      row.wins += o > 0, row.draws += o == 0, row.losses += o < 0;
    }
  MutableRating(me) = mine;
  row.mu = mine.mu, row.sigma = mine.sigma;
  rows_.push_back(row);
}

std::string League::RatingsCsv() const {
  std::string out = "iteration,timesteps,player,mu,sigma,conservative,games,wins,draws,losses\n";
  char buf[256];
  for (const auto& r : rows_) {
    std::snprintf(buf, sizeof(buf), "%lld,%lld,%s,%.6f,%.6f,%.6f,%lld,%lld,%lld,%lld\n",
                  static_cast<long long>(r.iteration), static_cast<long long>(r.timesteps), r.player.c_str(), r.mu,
                  r.sigma, r.mu - 3 * r.sigma, static_cast<long long>(r.games), static_cast<long long>(r.wins),
                  static_cast<long long>(r.draws), static_cast<long long>(r.losses));
    out += buf;
  }
  return out;
}

League::Counts League::TakeCounts() {
  const Counts c = counts_;
  counts_ = {};
  return c;
}

}  // namespace rlforge
