#include "rlforge/algos/ddpg/ddpg.h"

namespace rlforge {

Td3Config DdpgConfig::AsTd3() const {
  Td3Config c;
  static_cast<OffPolicyConfig&>(c) = *this;
  c.n_critics = 1;
  c.policy_delay = 1;
  c.target_policy_noise = 0;
  c.target_noise_clip = 0;
  return c;
}

}  // namespace rlforge
