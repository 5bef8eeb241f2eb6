#include "rlforge/nn/distributions.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "rlforge/core/error.h"

namespace rlforge {

int64_t GreedyLegalAction(const float* q, int64_t num_actions, const uint8_t* mask) {
  int64_t best = -1;
  for (int64_t a = 0; a < num_actions; ++a)
    if ((!mask || mask[a]) && (best < 0 || q[a] > q[best])) best = a;
  return best;
}

MaskedCategorical::MaskedCategorical(torch::Tensor logits, std::optional<torch::Tensor> mask) : mask_(mask) {
  if (mask_) {
    RLF_CHECK(mask_->sizes() == logits.sizes(), "mask shape ", mask_->sizes(), " != logits shape ", logits.sizes());
    const auto min = std::numeric_limits<float>::lowest();
    logits = logits.masked_fill(mask_->logical_not(), min);
  }
  logits_ = logits - logits.logsumexp(-1, /*keepdim=*/true);
}

torch::Tensor MaskedCategorical::log_prob(const torch::Tensor& actions) const {
  return logits_.gather(-1, actions.to(torch::kLong).unsqueeze(-1)).squeeze(-1);
}

torch::Tensor MaskedCategorical::entropy() const {
  auto p = logits_.exp();
  auto plogp = p * logits_;
  if (mask_) plogp = plogp.masked_fill(mask_->logical_not(), 0.0);
  return -plogp.sum(-1);
}

torch::Tensor MaskedCategorical::sample(torch::Generator* gen) const {
  auto p = logits_.exp();
  if (gen) return torch::multinomial(p, 1, /*replacement=*/true, *gen).squeeze(-1);
  return torch::multinomial(p, 1, /*replacement=*/true).squeeze(-1);
}

torch::Tensor MaskedCategorical::mode() const { return logits_.argmax(-1); }

MultiCategorical::MultiCategorical(const torch::Tensor& logits, const std::vector<int64_t>& nvec,
                                   std::optional<torch::Tensor> mask) {
  int64_t offset = 0;
  for (int64_t n : nvec) {
    std::optional<torch::Tensor> m;
    if (mask) m = mask->narrow(-1, offset, n);
    dims_.emplace_back(logits.narrow(-1, offset, n), m);
    offset += n;
  }
  RLF_CHECK(offset == logits.size(-1), "MultiCategorical: logits have ", logits.size(-1), " entries, nvec sums to ",
            offset);
}

torch::Tensor MultiCategorical::log_prob(const torch::Tensor& actions) const {
  torch::Tensor total;
  for (size_t i = 0; i < dims_.size(); ++i) {
    auto lp = dims_[i].log_prob(actions.select(-1, static_cast<int64_t>(i)));
    total = i == 0 ? lp : total + lp;
  }
  return total;
}

torch::Tensor MultiCategorical::entropy() const {
  torch::Tensor total;
  for (size_t i = 0; i < dims_.size(); ++i) total = i == 0 ? dims_[i].entropy() : total + dims_[i].entropy();
  return total;
}

torch::Tensor MultiCategorical::sample(torch::Generator* gen) const {
  std::vector<torch::Tensor> parts;
  for (const auto& d : dims_) parts.push_back(d.sample(gen));
  return torch::stack(parts, -1);
}

torch::Tensor MultiCategorical::mode() const {
  std::vector<torch::Tensor> parts;
  for (const auto& d : dims_) parts.push_back(d.mode());
  return torch::stack(parts, -1);
}

DiagGaussian::DiagGaussian(torch::Tensor mean, torch::Tensor log_std)
    : mean_(std::move(mean)), log_std_(std::move(log_std)) {
  log_std_ = log_std_.expand_as(mean_);
  std_ = log_std_.exp();
}

torch::Tensor DiagGaussian::log_prob(const torch::Tensor& actions) const {
  const double half_log_2pi = 0.5 * std::log(2 * M_PI);
  auto z = (actions - mean_) / std_;
  return (-0.5 * z * z - log_std_ - half_log_2pi).sum(-1);
}

torch::Tensor DiagGaussian::entropy() const {
  const double c = 0.5 + 0.5 * std::log(2 * M_PI);
  return (log_std_ + c).sum(-1);
}

torch::Tensor DiagGaussian::sample(torch::Generator* gen) const {
  torch::Tensor eps = gen ? at::normal(0.0, 1.0, mean_.sizes(), *gen) : torch::randn_like(mean_);
  return mean_ + eps * std_;
}

void ConditionalMultiCategorical(const float* logits, int n, const std::vector<int64_t>& nvec,
                                 const ConditionalMaskFn& mask_fn, const float* uniforms, int64_t* actions,
                                 float* log_probs, uint8_t* masks) {
  const int64_t k = static_cast<int64_t>(nvec.size());
  int64_t total = 0, widest = 0;
  for (int64_t v : nvec) total += v, widest = std::max(widest, v);
  std::vector<uint8_t> m(static_cast<size_t>(widest));
  std::vector<double> p(static_cast<size_t>(widest));
  for (int i = 0; i < n; ++i) {
    int64_t* a = actions + i * k;
    double lp = 0;
    for (int64_t d = 0, o = 0; d < k; o += nvec[d], ++d) {
      mask_fn(i, a, static_cast<int>(d), m.data());
      const float* l = logits + i * total + o;
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < nvec[d]; ++j)
        if (m[j]) mx = std::max<double>(mx, l[j]);
      RLF_CHECK(std::isfinite(mx), "env ", i, " has no legal value in action dimension ", d);
      double sum = 0;
      for (int64_t j = 0; j < nvec[d]; ++j) sum += p[j] = m[j] ? std::exp(l[j] - mx) : 0.0;
      int64_t pick = -1;
      if (uniforms) {
        const double u = uniforms[i * k + d] * sum;
        double c = 0;
        for (int64_t j = 0; j < nvec[d] && pick < 0; ++j) {
          if (!m[j]) continue;
          c += p[j];
          if (u < c) pick = j;
        }
        if (pick < 0)
          for (int64_t j = nvec[d] - 1; j >= 0 && pick < 0; --j)
            if (m[j]) pick = j;
      } else {
        for (int64_t j = 0; j < nvec[d]; ++j)
          if (m[j] && (pick < 0 || l[j] > l[pick])) pick = j;
      }
      a[d] = pick;
      lp += l[pick] - mx - std::log(sum);
      if (masks) std::copy(m.begin(), m.begin() + nvec[d], masks + i * total + o);
    }
    if (log_probs) log_probs[i] = static_cast<float>(lp);
  }
}

}  // namespace rlforge
