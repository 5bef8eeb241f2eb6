#include "rlforge/env/policy.h"

namespace rlforge {

RandomPolicy::RandomPolicy(const Space& action_space, uint64_t seed, bool use_masks)
    : space_(action_space), rng_(seed), use_masks_(use_masks) {}

void RandomPolicy::Act(const void* /*observations*/, const uint8_t* masks, int n, void* actions) {
  auto* out = static_cast<uint8_t*>(actions);
  const size_t bytes = space_.nbytes();
  const int64_t mask_size = space_.mask_size();
  for (int i = 0; i < n; ++i)
    space_.Sample(rng_, out + i * bytes, use_masks_ && masks ? masks + i * mask_size : nullptr);
}

}  // namespace rlforge
