// rlforge/env/running_stats.h — running mean and variance of vectors.
//
// The parallel-update formula of Chan, Golub & LeVeque (1979), as Gymnasium's
// and SB3's RunningMeanStd use it: merging a batch with mean m_b, variance v_b
// and count n_b into (m, v, n):
//   d = m_b - m,  N = n + n_b,  m' = m + d n_b / N,
//   v' = (v n + v_b n_b + d^2 n n_b / N) / N.
// Starts at mean 0, var 1, count 1e-4 (Gymnasium's epsilon) so that early
// normalization is well defined. A plain value: copy to save, assign to restore.
#ifndef RLFORGE_ENV_RUNNING_STATS_H_
#define RLFORGE_ENV_RUNNING_STATS_H_

#include <cstdint>
#include <vector>

namespace rlforge {

class RunningMeanStd {
 public:
  explicit RunningMeanStd(int64_t size = 1, double initial_count = 1e-4)
      : mean_(size, 0.0), var_(size, 1.0), count_(initial_count) {}

  int64_t size() const { return static_cast<int64_t>(mean_.size()); }
  // Adds one sample x[0..size).
  void Update(const double* x);
  // Adds a batch [n, size] row-major.
  void UpdateBatch(const double* x, int64_t n);

  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& var() const { return var_; }
  double count() const { return count_; }
  void Set(std::vector<double> mean, std::vector<double> var, double count);

  template <class A>
  void Fields(A& ar) {
    ar(mean_), ar(var_), ar(count_);
  }

  friend bool operator==(const RunningMeanStd& a, const RunningMeanStd& b) {
    return a.mean_ == b.mean_ && a.var_ == b.var_ && a.count_ == b.count_;
  }

 private:
  std::vector<double> mean_, var_;
  double count_;
};

}  // namespace rlforge

#endif  // RLFORGE_ENV_RUNNING_STATS_H_
