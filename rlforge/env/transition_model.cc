#include "rlforge/env/transition_model.h"

#include <cmath>

#include "rlforge/core/error.h"

namespace rlforge {

TransitionModel::TransitionModel(int64_t num_states, int64_t num_actions)
    : num_states_(num_states), num_actions_(num_actions) {
  offsets_.reserve(num_states * num_actions + 1);
  offsets_.push_back(0);
}

void TransitionModel::Add(int64_t s, int64_t a, std::vector<Transition> outcomes) {
  const size_t k = offsets_.size() - 1;
  RLF_CHECK(static_cast<int64_t>(k) == s * num_actions_ + a, "TransitionModel::Add out of order at (", s, ", ", a, ")");
  RLF_CHECK(!outcomes.empty(), "TransitionModel: (", s, ", ", a, ") has no outcome");
  double total = 0;
  for (const auto& t : outcomes) total += t.prob;
  RLF_CHECK(std::abs(total - 1.0) < 1e-9, "TransitionModel: probabilities of (", s, ", ", a, ") sum to ", total);
  double c = 0;
  for (auto& t : outcomes) t.cumulative = (c += t.prob);
  transitions_.insert(transitions_.end(), outcomes.begin(), outcomes.end());
  offsets_.push_back(static_cast<uint32_t>(transitions_.size()));
}

void TransitionModel::SetInitial(std::vector<double> weights) {
  RLF_CHECK(static_cast<int64_t>(weights.size()) == num_states_, "initial distribution needs ", num_states_, " entries");
  double total = 0;
  for (double w : weights) total += w;
  RLF_CHECK(total > 0, "initial distribution is all zero");
  initial_ = std::move(weights);
  initial_cdf_.resize(initial_.size());
  double c = 0;
  for (size_t i = 0; i < initial_.size(); ++i) {
    initial_[i] /= total;
    c += initial_[i];
    initial_cdf_[i] = c;
  }
}

const Transition& TransitionModel::Sample(int64_t s, int64_t a, Rng& rng) const {
  const Range r = Outcomes(s, a);
  if (r.size() == 1) return *r.first;
  // The first outcome whose cumulative probability exceeds u, i.e. index =
  // number of cumulative values <= u; counted without branches, because u is
  // random and a mispredicted branch costs more than the whole draw.
  const double u = rng.Uniform();
  const size_t n = r.size();
  size_t k = 0;
  for (size_t i = 0; i + 1 < n; ++i) k += r.first[i].cumulative <= u;
  return r.first[k];
}

int64_t TransitionModel::SampleInitial(Rng& rng) const {
  const double u = rng.Uniform();
  for (size_t i = 0; i < initial_cdf_.size(); ++i)
    if (initial_cdf_[i] > u) return static_cast<int64_t>(i);
  // Rounding left u above the last cumulative value: take the last state with
  // positive probability.
  for (size_t i = initial_.size(); i-- > 0;)
    if (initial_[i] > 0) return static_cast<int64_t>(i);
  return 0;
}

}  // namespace rlforge
