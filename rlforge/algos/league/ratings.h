// rlforge/algos/league/ratings.h — TrueSkill ratings for two-sided games (a
// learner, its snapshots and scripted bots rated from evaluation matches;
// the league of issue 17 builds on it).
//
// TrueSkill (Herbrich, Minka and Graepel, 2007) for one-against-one games,
// with the usual defaults: a new rating is N(mu 25, sigma 25/3), performance
// noise beta = sigma0 / 2, dynamics tau = sigma0 / 100 (added to every
// variance before a game), draw probability 0.10 (the draw margin
// eps = Phi^-1((p + 1) / 2) sqrt(2) beta). For winner w and loser l, with
// c^2 = 2 beta^2 + sigma_w^2 + sigma_l^2, t = (mu_w - mu_l) / c, e = eps / c:
//   win:  v = N(t - e) / Phi(t - e),  w = v (v + t - e);
//   draw: v = (N(-e - t) - N(e - t)) / (Phi(e - t) - Phi(-e - t)),
//         w = v^2 + ((e - t) N(e - t) + (e + t) N(e + t)) / (Phi(e - t) - Phi(-e - t));
//   mu_w += sigma_w^2 / c v,  mu_l -= sigma_l^2 / c v,
//   sigma_i^2 *= 1 - sigma_i^2 / c^2 w.
// The tests check it against the `trueskill` package (PyPI) on worked games.
#ifndef RLFORGE_TRAIN_RATINGS_H_
#define RLFORGE_TRAIN_RATINGS_H_

namespace rlforge {

struct TrueSkillOptions {
  double mu = 25.0;
  double sigma = 25.0 / 3.0;
  double beta = 25.0 / 6.0;
  double tau = 25.0 / 300.0;
  double draw_probability = 0.10;
};

struct Rating {
  double mu = 25.0, sigma = 25.0 / 3.0;
  // The conservative estimate mu - 3 sigma (what leaderboards rank by).
  double conservative() const { return mu - 3.0 * sigma; }
};

// The new ratings after a game: `a` beat `b` (outcome 1), drew (0) or lost (-1).
void RateGame(Rating* a, Rating* b, int outcome, const TrueSkillOptions& o = {});
// The probability that `a` beats `b` (ignoring draws): Phi((mu_a - mu_b) / c).
double WinProbability(const Rating& a, const Rating& b, const TrueSkillOptions& o = {});
// TrueSkill's match quality (the draw probability relative to the most even
// game): sqrt(2 beta^2 / c^2) exp(-(mu_a - mu_b)^2 / (2 c^2)).
double MatchQuality(const Rating& a, const Rating& b, const TrueSkillOptions& o = {});
// Phi^-1 for p in (0, 1).
double InverseNormalCdf(double p);

}  // namespace rlforge

#endif  // RLFORGE_TRAIN_RATINGS_H_
