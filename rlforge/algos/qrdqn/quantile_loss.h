// rlforge/algos/qrdqn/quantile_loss.h — QR-DQN's head: the return's
// distribution per action as N quantiles, learned by quantile regression
// (Dabney et al., 2018, "Distributional Reinforcement Learning with Quantile
// Regression").
//
// The network outputs theta_k(s, a), k = 0..N-1, the quantiles at the
// midpoints tau_k = (2k + 1) / (2N) (action-major: [B, A, N]); Q(s, a) is
// their mean, and the agent acts greedily in Q. For a transition with n-step
// return R, discount gamma^n and the greedy legal next action
//   a* = argmax_a' mean_k theta'_k(s', a')   (theta' the target network's;
//                                            the online network's with Double DQN)
// the targets are y_j = R + gamma^n (1 - terminated) theta'_j(s', a*) and the
// loss is the quantile Huber loss (kappa = 1), summed over the predicted
// quantiles and averaged over the targets and the batch:
//   L = (1/B) sum_i w_i (1/N) sum_j sum_k |tau_k - 1{u_jk < 0}| h(u_jk),
//   u_jk = y_j - theta_k(s, a),  h(u) = u^2 / 2 if |u| <= 1 else |u| - 1/2
// (w the importance weights). Its gradient, the indicator held fixed:
//   dL/dtheta_k = -(w_i / (B N)) sum_j |tau_k - 1{u_jk < 0}| h'(u_jk),
//   h'(u) = u if |u| <= 1 else sign(u).
// The TD error reported for prioritized replay is mean_k theta_k - mean_j y_j.
#ifndef RLFORGE_ALGOS_QRDQN_QUANTILE_LOSS_H_
#define RLFORGE_ALGOS_QRDQN_QUANTILE_LOSS_H_

#include "rlforge/algos/dqn/dqn.h"

namespace rlforge {

class QuantileHead : public QHead {
 public:
  explicit QuantileHead(int64_t n_quantiles) : n_(n_quantiles) {}
  int64_t outputs_per_action() const override { return n_; }
  void QValues(const float* outputs, int64_t rows, int64_t num_actions, float* q) const override;
  QLossValues Loss(const float* online, const float* target_next, const float* online_next, const QBatch& batch,
                   double* td, float* d_online) const override;

 private:
  int64_t n_;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_QRDQN_QUANTILE_LOSS_H_
