#include "rlforge/buffers/vtrace.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace rlforge {

void ComputeVTrace(int64_t T, int64_t N, const float* log_ratios, const float* rewards, const float* values,
                   const float* next_values, const uint8_t* dones, const VTraceOptions& o, float* vs,
                   float* advantages, float* rhos_out) {
  // acc_i = v_{t+1} - V(x_{t+1}) for env i, carried backwards (0 past the
  // rollout's end, where v_T = V(x_T)).
  std::vector<double> acc(static_cast<size_t>(N), 0.0);
  for (int64_t t = T - 1; t >= 0; --t) {
    for (int64_t i = 0; i < N; ++i) {
      const int64_t k = t * N + i;
      const double ratio = std::exp(static_cast<double>(log_ratios[k]));
      const double rho = std::min(o.rho_bar, ratio);
      const double c = o.lambda * std::min(o.c_bar, ratio);
      const double v = values[k], v_next = next_values[k];
      const double delta = rho * (rewards[k] + o.gamma * v_next - v);
      // v_t - V_t; the trace stops at an episode's end.
      const double vs_minus_v = delta + (dones[k] ? 0.0 : o.gamma * c * acc[static_cast<size_t>(i)]);
      vs[k] = static_cast<float>(v + vs_minus_v);
      // v'_{t+1}: the next state's V-trace target inside the episode, V'_t
      // at an episode's end (0 after termination, V(final obs) after
      // truncation) and at the rollout's end (acc = 0 there).
      const double next_target = v_next + (dones[k] ? 0.0 : acc[static_cast<size_t>(i)]);
      advantages[k] = static_cast<float>(rho * (rewards[k] + o.gamma * next_target - v));
      if (rhos_out) rhos_out[k] = static_cast<float>(rho);
      acc[static_cast<size_t>(i)] = vs_minus_v;
    }
  }
}

}  // namespace rlforge
