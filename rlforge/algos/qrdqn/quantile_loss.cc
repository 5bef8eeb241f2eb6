#include "rlforge/algos/qrdqn/quantile_loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace rlforge {

void QuantileHead::QValues(const float* outputs, int64_t rows, int64_t num_actions, float* q) const {
  for (int64_t r = 0; r < rows * num_actions; ++r) {
    const float* theta = outputs + r * n_;
    double sum = 0;
    for (int64_t k = 0; k < n_; ++k) sum += theta[k];
    q[r] = static_cast<float>(sum / static_cast<double>(n_));
  }
}

QLossValues QuantileHead::Loss(const float* online, const float* target_next, const float* online_next,
                               const QBatch& b, double* td, float* d_online) const {
  RLF_CHECK(b.demo_rows == 0, "the quantile head has no demonstration (large-margin) term");
  const int64_t B = b.size, A = b.num_actions, N = n_;
  std::fill(d_online, d_online + B * A * N, 0.0f);
  std::vector<float> next_q(A);
  std::vector<double> y(N), grad(N);
  QLossValues out;
  for (int64_t i = 0; i < B; ++i) {
    // a*: the greedy legal next action by mean quantile.
    QValues((online_next ? online_next : target_next) + i * A * N, 1, A, next_q.data());
    const int64_t best = GreedyLegalAction(next_q.data(), A, b.next_masks ? b.next_masks + i * A : nullptr);
    const bool bootstrap = !b.terminated[i] && best >= 0;
    const float* theta_next = target_next + (i * A + std::max<int64_t>(best, 0)) * N;
    double mean_y = 0;
    for (int64_t j = 0; j < N; ++j) {
      y[j] = b.rewards[i] + (bootstrap ? b.discounts[i] * theta_next[j] : 0.0);
      mean_y += y[j] / N;
    }
    const float* theta = online + (i * A + b.actions[i]) * N;
    double loss = 0, mean_theta = 0;
    for (int64_t k = 0; k < N; ++k) {
      const double tau = (2.0 * k + 1.0) / (2.0 * N);
      mean_theta += theta[k] / static_cast<double>(N);
      double g = 0;
      for (int64_t j = 0; j < N; ++j) {
        const double u = y[j] - theta[k];
        const double weight = std::abs(tau - (u < 0 ? 1.0 : 0.0));
        const double abs_u = std::abs(u);
        loss += weight * (abs_u <= 1 ? 0.5 * u * u : abs_u - 0.5);
        g -= weight * (abs_u <= 1 ? u : (u > 0 ? 1.0 : -1.0));
      }
      grad[k] = g;
    }
    const double w = b.weights[i];
    out.loss += w * loss / static_cast<double>(N * B);
    float* d = d_online + (i * A + b.actions[i]) * N;
    for (int64_t k = 0; k < N; ++k) d[k] = static_cast<float>(w * grad[k] / static_cast<double>(N * B));
    td[i] = mean_theta - mean_y;
  }
  return out;
}

}  // namespace rlforge
