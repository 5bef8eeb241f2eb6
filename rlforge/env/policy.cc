#include "rlforge/env/policy.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace rlforge {

RandomPolicy::RandomPolicy(const Space& action_space, uint64_t seed, bool use_masks, std::string name)
    : space_(action_space), rng_(seed), use_masks_(use_masks), name_(std::move(name)) {}

void RandomPolicy::Act(const void* /*observations*/, const uint8_t* masks, int n, void* actions) {
  auto* out = static_cast<uint8_t*>(actions);
  const size_t bytes = space_.nbytes();
  const int64_t mask_size = space_.mask_size();
  if (use_masks_ && conditional_mask_ && space_.kind() == SpaceKind::kMultiDiscrete) {
    // Dimension by dimension: each value uniform among those legal given the earlier ones.
    const std::vector<int64_t>& nvec = space_.nvec();
    auto* a = static_cast<int64_t*>(actions);
    for (int i = 0; i < n; ++i)
      SampleConditional(
          rng_, nvec, [&](const int64_t* prefix, int dim, uint8_t* mask) { conditional_mask_(i, prefix, dim, mask); },
          a + static_cast<int64_t>(i) * static_cast<int64_t>(nvec.size()));
    return;
  }
  for (int i = 0; i < n; ++i)
    space_.Sample(rng_, out + i * bytes, use_masks_ && masks ? masks + i * mask_size : nullptr);
}

}  // namespace rlforge
