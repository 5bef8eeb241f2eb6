#include "rlforge/algos/lm/lm_losses.h"

#include <algorithm>

#include "rlforge/core/error.h"

namespace rlforge {

torch::Tensor GroupAdvantages(const torch::Tensor& rewards, int64_t group, bool scale_by_std, double eps,
                              double* zero_spread) {
  RLF_CHECK_ARG(group >= 1 && rewards.numel() % group == 0, "group advantages: ", rewards.numel(),
                " rewards do not split into groups of ", group);
  torch::Tensor r = rewards.to(torch::kFloat64).view({-1, group});
  torch::Tensor mean = r.mean(1, true);
  torch::Tensor std = r.std(1, /*unbiased=*/false, true);
  torch::Tensor flat = (r.amax(1, true) == r.amin(1, true));  // no spread: exactly zero
  torch::Tensor a = r - mean;
  if (scale_by_std) a = a / (std + eps);
  a = a.masked_fill(flat.expand_as(a), 0.0);
  if (zero_spread != nullptr) *zero_spread = flat.to(torch::kFloat64).mean().item<double>();
  return a.view(-1).to(rewards.scalar_type());
}

torch::Tensor KlK3(const torch::Tensor& logp, const torch::Tensor& ref_logp) {
  torch::Tensor d = ref_logp - logp;
  return torch::exp(d) - d - 1.0;
}

torch::Tensor ClippedTokenLoss(const torch::Tensor& logp, const torch::Tensor& old_logp,
                               const torch::Tensor& advantages, const torch::Tensor& mask, double clip_low,
                               double clip_high) {
  torch::Tensor a = advantages.dim() == 1 ? advantages.unsqueeze(1).expand_as(logp) : advantages;
  torch::Tensor ratio = torch::exp(logp - old_logp);
  torch::Tensor unclipped = ratio * a;
  torch::Tensor clipped = ratio.clamp(1.0 - clip_low, 1.0 + clip_high) * a;
  return -torch::min(unclipped, clipped) * mask;
}

bool IsLossAggregation(const std::string& mode) {
  return mode == "token-mean" || mode == "seq-mean" || mode == "seq-sum-norm";
}

torch::Tensor AggregateTokenLoss(const torch::Tensor& loss, const torch::Tensor& mask, const std::string& mode,
                                 int64_t budget) {
  torch::Tensor masked = loss * mask;
  if (mode == "token-mean") return masked.sum() / mask.sum().clamp_min(1.0);
  if (mode == "seq-mean") return (masked.sum(1) / mask.sum(1).clamp_min(1.0)).mean();
  if (mode == "seq-sum-norm")
    return masked.sum() / static_cast<double>(loss.size(0) * (budget > 0 ? budget : loss.size(1)));
  throw InvalidArgument("loss aggregation '" + mode + "' is not one of token-mean, seq-mean, seq-sum-norm");
}

std::pair<torch::Tensor, torch::Tensor> TokenGae(const torch::Tensor& rewards, const torch::Tensor& values,
                                                 const torch::Tensor& mask, double gamma, double lambda) {
  const int64_t R = rewards.size(1);
  torch::Tensor adv = torch::zeros_like(rewards);
  torch::Tensor next_value = torch::zeros({rewards.size(0)}, rewards.options());
  torch::Tensor next_adv = torch::zeros({rewards.size(0)}, rewards.options());
  for (int64_t t = R - 1; t >= 0; --t) {
    torch::Tensor m = mask.select(1, t);
    torch::Tensor v = values.select(1, t);
    torch::Tensor delta = rewards.select(1, t) + gamma * next_value - v;
    torch::Tensor a = (delta + gamma * lambda * next_adv) * m;
    adv.select(1, t).copy_(a);
    // Outside the response (padding) the chain restarts: V and A after the last token are 0.
    next_value = v * m;
    next_adv = a;
  }
  return {adv, (adv + values) * mask};
}

double AdaptiveKlCoef(double coef, double kl, double target, int64_t n, int64_t horizon) {
  const double error = std::clamp(kl / target - 1.0, -0.2, 0.2);
  return coef * (1.0 + error * static_cast<double>(n) / static_cast<double>(horizon));
}

}  // namespace rlforge
