// rlforge/algos/tabular/planning.h — dynamic programming over a toy-text
// env's transition model (ground truth for the tabular learners).
//
//   Q(s, a) = sum_{(p, s', r, done)} p (r + gamma (1 - done) V(s'))
//   value iteration:   V(s) <- max_a Q(s, a) until max |dV| < tolerance
//   policy evaluation: V(s) <- Q(s, pi(s))   until max |dV| < tolerance
// (Sutton & Barto, ch. 4). Terminal transitions do not bootstrap, as
// everywhere in rlforge.
#ifndef RLFORGE_ALGOS_TABULAR_PLANNING_H_
#define RLFORGE_ALGOS_TABULAR_PLANNING_H_

#include <cstdint>
#include <vector>

#include "rlforge/env/transition_model.h"

namespace rlforge {

struct PlanningResult {
  std::vector<double> v;       // [S]
  std::vector<double> q;       // [S * A]
  std::vector<int64_t> policy; // [S] greedy action (lowest index on ties)
  int64_t sweeps = 0;
};

PlanningResult ValueIteration(const TransitionModel& model, double gamma, double tolerance = 1e-10,
                              int64_t max_sweeps = 1'000'000);
std::vector<double> PolicyEvaluation(const TransitionModel& model, const std::vector<int64_t>& policy, double gamma,
                                     double tolerance = 1e-10, int64_t max_sweeps = 1'000'000);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_TABULAR_PLANNING_H_
