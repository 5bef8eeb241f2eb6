// rlforge/buffers/sum_tree.h — a binary sum tree over priorities, for
// prioritized experience replay (Schaul et al., 2016).
//
// Leaves hold non-negative priorities p_i; every inner node holds the sum of
// its children, so Total() is O(1), Set() and Find(u) are O(log n): Find
// returns the leaf i with prefix(i) <= u < prefix(i) + p_i, i.e. sampling u
// uniformly in [0, Total()) draws i with probability p_i / Total().
#ifndef RLFORGE_BUFFERS_SUM_TREE_H_
#define RLFORGE_BUFFERS_SUM_TREE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rlforge/core/rng.h"

namespace rlforge {

class SumTree {
 public:
  explicit SumTree(int64_t capacity);
  int64_t capacity() const { return capacity_; }
  void Set(int64_t i, double priority);
  double Get(int64_t i) const { return tree_[leaves_ + i]; }
  double Total() const { return tree_[1]; }
  int64_t Find(double u) const;
  const std::vector<double>& nodes() const { return tree_; }
  // Every node, for checkpoints (LoadState needs a tree of the same capacity).
  void SaveState(std::string* out) const;
  void LoadState(std::string_view in);

 private:
  int64_t capacity_, leaves_;
  std::vector<double> tree_;  // [2 * leaves], root at 1, leaves at [leaves, leaves + capacity)
};

// Prioritized replay's draw: one leaf from each of slots->size() equal slices
// of the total priority (stratified), among leaves [0, size). Writes the
// importance weights (size P(i))^-beta, divided by the batch's largest.
void SampleProportional(const SumTree& tree, int64_t size, double beta, Rng& rng, std::vector<int64_t>* slots,
                        std::vector<float>* weights);

// After a gradient step: slot slots[k] gets priority (|td[k]| + eps)^alpha
// (k < slots.size()), and *max_priority (new transitions' priority) grows to
// the largest |td| + eps seen.
void UpdatePriorities(SumTree& tree, const std::vector<int64_t>& slots, const double* td, double alpha, double eps,
                      double* max_priority);

}  // namespace rlforge

#endif  // RLFORGE_BUFFERS_SUM_TREE_H_
