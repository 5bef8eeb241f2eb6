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
    std::vector<uint8_t> dim_mask(static_cast<size_t>(*std::max_element(nvec.begin(), nvec.end())));
    auto* a = static_cast<int64_t*>(actions);
    for (int i = 0; i < n; ++i) {
      int64_t* row = a + static_cast<int64_t>(i) * static_cast<int64_t>(nvec.size());
      std::fill(row, row + nvec.size(), 0);
      for (size_t d = 0; d < nvec.size(); ++d) {
        conditional_mask_(i, row, static_cast<int>(d), dim_mask.data());
        const int64_t k = SampleMasked(rng_, dim_mask.data(), nvec[d]);
        row[d] = k < 0 ? 0 : k;
      }
    }
    return;
  }
  for (int i = 0; i < n; ++i)
    space_.Sample(rng_, out + i * bytes, use_masks_ && masks ? masks + i * mask_size : nullptr);
}

}  // namespace rlforge
