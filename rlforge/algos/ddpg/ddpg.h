// rlforge/algos/ddpg/ddpg.h — Deep Deterministic Policy Gradient (Lillicrap et
// al., 2016).
//
// A deterministic actor mu(s) in [-1, 1]^d and one critic Q(s, a) learned
// from replay (rlforge/algos/off_policy.h):
//   critic: minimize mean (Q(s, a) - y)^2,  y = R + discount (1 - terminated) Q'(s', mu'(s')),
//   actor:  minimize -mean Q(s, mu(s))  (the deterministic policy gradient),
//   targets: theta' <- tau theta + (1 - tau) theta' after every update,
// exploring with Gaussian or Ornstein-Uhlenbeck noise on the action. This is
// TD3 (rlforge/algos/td3/td3.h) with one critic, no target smoothing and an
// actor update every step, as SB3 builds its DDPG; the config has only
// DDPG's keys.
#ifndef RLFORGE_ALGOS_DDPG_DDPG_H_
#define RLFORGE_ALGOS_DDPG_DDPG_H_

#include "rlforge/algos/td3/td3.h"

namespace rlforge {

struct DdpgConfig : OffPolicyConfig {
  DdpgConfig() {
    learning_rate = Schedule::Constant(1e-3);
    net_arch = {400, 300};
  }
  // TD3's settings that make it DDPG.
  Td3Config AsTd3() const;
};

class Ddpg : public Td3 {
 public:
  Ddpg(const RunContext& ctx, const DdpgConfig& config) : Td3(ctx, config.AsTd3()) {}
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_DDPG_DDPG_H_
