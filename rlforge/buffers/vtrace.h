// rlforge/buffers/vtrace.h — V-trace off-policy targets (Espeholt et al.,
// 2018, "IMPALA", section 4.1), torch-free.
//
// Trajectories of T steps of N envs, row-major [t][i], collected by a
// behaviour policy mu (an actor's possibly stale weights) and corrected
// towards the learner's policy pi. With the log importance ratios
// log(pi(a_t|x_t) / mu(a_t|x_t)):
//   rho_t   = min(rho_bar, pi/mu)           (truncated importance weights)
//   c_t     = lambda min(c_bar, pi/mu)      ("trace cutting" coefficients)
//   delta_t = rho_t (r_t + gamma V'_t - V_t)
//   v_t     = V_t + delta_t + gamma_t c_t (v_{t+1} - V(x_{t+1})),   v_T = V(x_T)
// which is the paper's definition
//   v_s = V(x_s) + sum_{t=s}^{s+n-1} gamma^{t-s} (prod_{i=s}^{t-1} c_i) delta_t
// written backwards. V'_t is the value of the state after step t, assembled as
// for GAE (rlforge/buffers/gae.h): 0 after termination, V(final observation)
// after truncation, V(x_{t+1}) otherwise; gamma_t = gamma (1 - done_t) stops
// the traces at episode ends. The policy-gradient advantage is
//   A_t = rho_t (r_t + gamma v'_{t+1} - V_t),
// v'_{t+1} the V-trace target of the next state (v_{t+1} within the episode;
// V'_t itself at the rollout's end or at a truncation; 0 after termination).
// With pi = mu and rho_bar, c_bar >= 1 (lambda = 1) v_t is the n-step
// return bootstrapped from V at the end (the paper's Remark 1), and with
// lambda < 1 it is the lambda-return.
#ifndef RLFORGE_BUFFERS_VTRACE_H_
#define RLFORGE_BUFFERS_VTRACE_H_

#include <cstdint>

namespace rlforge {

struct VTraceOptions {
  double gamma = 0.99;
  double lambda = 1.0;
  double rho_bar = 1.0;  // clip of the importance weights in delta_t and A_t
  double c_bar = 1.0;    // clip of the trace coefficients
};

// Writes the value targets vs [T, N] and advantages [T, N] (and, when
// rhos_out is given, the clipped rho_t [T, N]).
void ComputeVTrace(int64_t steps, int64_t num_envs, const float* log_ratios, const float* rewards,
                   const float* values, const float* next_values, const uint8_t* dones, const VTraceOptions& options,
                   float* vs, float* advantages, float* rhos_out = nullptr);

}  // namespace rlforge

#endif  // RLFORGE_BUFFERS_VTRACE_H_
