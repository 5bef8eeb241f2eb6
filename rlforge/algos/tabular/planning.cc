#include "rlforge/algos/tabular/planning.h"

#include <algorithm>
#include <cmath>

namespace rlforge {
namespace {

double Backup(const TransitionModel& m, const std::vector<double>& v, int64_t s, int64_t a, double gamma) {
  double q = 0;
  for (const Transition& t : m.Outcomes(s, a)) q += t.prob * (t.reward + (t.terminated ? 0.0 : gamma * v[t.next_state]));
  return q;
}

}  // namespace

PlanningResult ValueIteration(const TransitionModel& m, double gamma, double tolerance, int64_t max_sweeps) {
  const int64_t S = m.num_states(), A = m.num_actions();
  PlanningResult r;
  r.v.assign(S, 0.0);
  r.q.assign(S * A, 0.0);
  r.policy.assign(S, 0);
  for (r.sweeps = 1; r.sweeps <= max_sweeps; ++r.sweeps) {
    double delta = 0;
    for (int64_t s = 0; s < S; ++s) {
      double best = -INFINITY;
      for (int64_t a = 0; a < A; ++a) best = std::max(best, Backup(m, r.v, s, a, gamma));
      delta = std::max(delta, std::abs(best - r.v[s]));
      r.v[s] = best;
    }
    if (delta < tolerance) break;
  }
  for (int64_t s = 0; s < S; ++s) {
    for (int64_t a = 0; a < A; ++a) r.q[s * A + a] = Backup(m, r.v, s, a, gamma);
    r.policy[s] = std::max_element(r.q.begin() + s * A, r.q.begin() + (s + 1) * A) - (r.q.begin() + s * A);
  }
  return r;
}

std::vector<double> PolicyEvaluation(const TransitionModel& m, const std::vector<int64_t>& policy, double gamma,
                                     double tolerance, int64_t max_sweeps) {
  std::vector<double> v(m.num_states(), 0.0);
  for (int64_t sweep = 0; sweep < max_sweeps; ++sweep) {
    double delta = 0;
    for (int64_t s = 0; s < m.num_states(); ++s) {
      const double nv = Backup(m, v, s, policy[s], gamma);
      delta = std::max(delta, std::abs(nv - v[s]));
      v[s] = nv;
    }
    if (delta < tolerance) break;
  }
  return v;
}

}  // namespace rlforge
