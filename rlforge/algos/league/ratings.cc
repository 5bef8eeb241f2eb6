#include "rlforge/algos/league/ratings.h"

#include <cmath>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

double Pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }
double Cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

double DrawMargin(const TrueSkillOptions& o) {
  return InverseNormalCdf((o.draw_probability + 1.0) / 2.0) * std::sqrt(2.0) * o.beta;
}

}  // namespace

double InverseNormalCdf(double p) {
  RLF_CHECK_ARG(p > 0.0 && p < 1.0, "InverseNormalCdf: p must be in (0, 1), got ", p);
  // Newton's method on Phi(x) = p from a logistic first guess.
  double x = std::log(p / (1.0 - p)) / 1.702;
  for (int i = 0; i < 50; ++i) {
    const double step = (Cdf(x) - p) / Pdf(x);
    x -= step;
    if (std::abs(step) < 1e-14) break;
  }
  return x;
}

void RateGame(Rating* a, Rating* b, int outcome, const TrueSkillOptions& o) {
  RLF_CHECK_ARG(outcome >= -1 && outcome <= 1, "RateGame: outcome must be 1, 0 or -1, got ", outcome);
  RLF_CHECK_ARG(o.draw_probability >= 0.0 && o.draw_probability < 1.0, "draw_probability must be in [0, 1)");
  Rating* winner = outcome >= 0 ? a : b;
  Rating* loser = outcome >= 0 ? b : a;
  const double var_w = winner->sigma * winner->sigma + o.tau * o.tau;
  const double var_l = loser->sigma * loser->sigma + o.tau * o.tau;
  const double c2 = 2.0 * o.beta * o.beta + var_w + var_l, c = std::sqrt(c2);
  const double t = (winner->mu - loser->mu) / c, e = DrawMargin(o) / c;
  double v, w;
  if (outcome != 0) {
    const double x = t - e;
    // Far in the tail Phi underflows; there v -> -x (the ratio's limit).
    const double cdf = Cdf(x);
    v = cdf > 1e-300 ? Pdf(x) / cdf : -x;
    w = v * (v + x);
  } else {
    const double denom = Cdf(e - t) - Cdf(-e - t);
    if (denom > 1e-300) {
      v = (Pdf(-e - t) - Pdf(e - t)) / denom;
      w = v * v + ((e - t) * Pdf(e - t) + (e + t) * Pdf(e + t)) / denom;
    } else {
      v = t < 0 ? -t - e : -t + e;
      w = 1.0;
    }
  }
  winner->mu += var_w / c * v;
  loser->mu -= var_l / c * v;
  winner->sigma = std::sqrt(var_w * std::max(1.0 - var_w / c2 * w, 1e-12));
  loser->sigma = std::sqrt(var_l * std::max(1.0 - var_l / c2 * w, 1e-12));
}

double WinProbability(const Rating& a, const Rating& b, const TrueSkillOptions& o) {
  const double c = std::sqrt(2.0 * o.beta * o.beta + a.sigma * a.sigma + b.sigma * b.sigma);
  return Cdf((a.mu - b.mu) / c);
}

double MatchQuality(const Rating& a, const Rating& b, const TrueSkillOptions& o) {
  const double c2 = 2.0 * o.beta * o.beta + a.sigma * a.sigma + b.sigma * b.sigma;
  const double d = a.mu - b.mu;
  return std::sqrt(2.0 * o.beta * o.beta / c2) * std::exp(-d * d / (2.0 * c2));
}

}  // namespace rlforge
