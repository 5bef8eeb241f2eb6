#include "rlforge/buffers/gae.h"

namespace rlforge {

void ComputeGae(int64_t steps, int64_t num_envs, const float* rewards, const float* values, const float* next_values,
                const uint8_t* dones, double gamma, double lambda, float* advantages, float* returns) {
  for (int64_t i = 0; i < num_envs; ++i) {
    double next_adv = 0.0;
    for (int64_t t = steps - 1; t >= 0; --t) {
      const int64_t k = t * num_envs + i;
      const double delta = rewards[k] + gamma * next_values[k] - values[k];
      const double adv = delta + gamma * lambda * (dones[k] ? 0.0 : 1.0) * next_adv;
      advantages[k] = static_cast<float>(adv);
      returns[k] = static_cast<float>(adv + values[k]);
      next_adv = adv;
    }
  }
}

}  // namespace rlforge
