#include "rlforge/env/running_stats.h"

#include "rlforge/core/error.h"

namespace rlforge {

void RunningMeanStd::Update(const double* x) {
  const double n = count_ + 1.0;
  for (size_t i = 0; i < mean_.size(); ++i) {
    const double d = x[i] - mean_[i];
    mean_[i] += d / n;
    var_[i] = (var_[i] * count_ + d * d * count_ / n) / n;
  }
  count_ = n;
}

void RunningMeanStd::UpdateBatch(const double* x, int64_t n) {
  if (n <= 0) return;
  const size_t d = mean_.size();
  for (size_t i = 0; i < d; ++i) {
    double bm = 0;
    for (int64_t k = 0; k < n; ++k) bm += x[k * d + i];
    bm /= static_cast<double>(n);
    double bv = 0;
    for (int64_t k = 0; k < n; ++k) {
      const double e = x[k * d + i] - bm;
      bv += e * e;
    }
    bv /= static_cast<double>(n);
    const double total = count_ + static_cast<double>(n);
    const double delta = bm - mean_[i];
    mean_[i] += delta * static_cast<double>(n) / total;
    var_[i] = (var_[i] * count_ + bv * static_cast<double>(n) +
               delta * delta * count_ * static_cast<double>(n) / total) / total;
  }
  count_ += static_cast<double>(n);
}

void RunningMeanStd::Set(std::vector<double> mean, std::vector<double> var, double count) {
  RLF_CHECK_ARG(mean.size() == var.size(), "RunningMeanStd: mean and var sizes differ");
  RLF_CHECK_ARG(count > 0, "RunningMeanStd: count must be positive");
  mean_ = std::move(mean);
  var_ = std::move(var);
  count_ = count;
}

}  // namespace rlforge
