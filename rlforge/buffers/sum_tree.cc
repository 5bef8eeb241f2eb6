#include "rlforge/buffers/sum_tree.h"

#include "rlforge/core/error.h"

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

}  // namespace rlforge
