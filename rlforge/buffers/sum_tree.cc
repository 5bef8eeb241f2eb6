#include "rlforge/buffers/sum_tree.h"

#include <algorithm>
#include <cmath>

#include "rlforge/core/error.h"
#include "rlforge/core/state_io.h"

namespace rlforge {

SumTree::SumTree(int64_t capacity) : capacity_(capacity), leaves_(1) {
  RLF_CHECK_ARG(capacity >= 1, "sum tree capacity must be >= 1");
  while (leaves_ < capacity) leaves_ *= 2;
  tree_.assign(2 * leaves_, 0.0);
}

void SumTree::Set(int64_t i, double priority) {
  RLF_CHECK(i >= 0 && i < capacity_ && priority >= 0, "sum tree: bad index ", i, " or priority ", priority);
  int64_t node = leaves_ + i;
  const double delta = priority - tree_[node];
  for (; node >= 1; node /= 2) tree_[node] += delta;
}

int64_t SumTree::Find(double u) const {
  int64_t node = 1;
  while (node < leaves_) {
    const int64_t left = 2 * node;
    if (u < tree_[left] || tree_[left + 1] <= 0) {
      node = left;
    } else {
      u -= tree_[left];
      node = left + 1;
    }
  }
  int64_t i = node - leaves_;
  return i < capacity_ ? i : capacity_ - 1;
}

void SampleProportional(const SumTree& tree, int64_t size, double beta, Rng& rng, std::vector<int64_t>* slots,
                        std::vector<float>* weights) {
  const int64_t count = static_cast<int64_t>(slots->size());
  weights->resize(slots->size());
  const double total = tree.Total();
  double max_w = 0;
  for (int64_t k = 0; k < count; ++k) {
    const double u = (k + rng.Uniform()) * total / count;
    const int64_t slot = std::min(tree.Find(u), size - 1);
    (*slots)[k] = slot;
    const double p = std::max(tree.Get(slot), 1e-12) / total;
    const double w = std::pow(static_cast<double>(size) * p, -beta);
    (*weights)[k] = static_cast<float>(w);
    max_w = std::max(max_w, w);
  }
  for (auto& w : *weights) w = static_cast<float>(w / max_w);
}

void SumTree::SaveState(std::string* out) const {
  StateWriter w(out);
  w(capacity_), w(tree_);
}

void SumTree::LoadState(std::string_view in) {
  StateReader r(in, "priority tree");
  int64_t capacity = 0;
  std::vector<double> tree;
  r(capacity), r(tree);
  r.ExpectEnd();
  RLF_CHECK(capacity == capacity_ && tree.size() == tree_.size(), "priority tree of capacity ", capacity,
            " for a buffer of ", capacity_);
  tree_ = std::move(tree);
}

void UpdatePriorities(SumTree& tree, const std::vector<int64_t>& slots, const double* td, double alpha, double eps,
                      double* max_priority) {
  for (size_t k = 0; k < slots.size(); ++k) {
    const double p = std::abs(td[k]) + eps;
    *max_priority = std::max(*max_priority, p);
    tree.Set(slots[k], std::pow(p, alpha));
  }
}

}  // namespace rlforge
