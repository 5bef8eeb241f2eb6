// rlforge/buffers/gae.h — generalized advantage estimation (Schulman et al.,
// 2016), torch-free.
//
// For a rollout of T steps of N envs, row-major [t][i]:
//   delta_t = r_t + gamma * V'_t - V_t
//   A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1},   A_T = 0
//   R_t     = A_t + V_t                     (the value target)
// where V'_t is the value of the state after step t, assembled by the caller:
//   - 0 when step t terminated the episode (never bootstrap a terminal state);
//   - V(final observation) when step t truncated it (bootstrap);
//   - V(s_{t+1}) otherwise (for t = T - 1, the value of the observation the
//     next rollout starts from).
// done_t (terminated or truncated) stops the recursion at episode boundaries.
// lambda = 0 gives one-step TD errors; lambda = 1 gives Monte-Carlo returns
// bootstrapped only at truncation and at the rollout's end.
#ifndef RLFORGE_BUFFERS_GAE_H_
#define RLFORGE_BUFFERS_GAE_H_

#include <cstdint>

namespace rlforge {

void ComputeGae(int64_t steps, int64_t num_envs, const float* rewards, const float* values, const float* next_values,
                const uint8_t* dones, double gamma, double lambda, float* advantages, float* returns);

}  // namespace rlforge

#endif  // RLFORGE_BUFFERS_GAE_H_
