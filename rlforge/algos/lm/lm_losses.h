// rlforge/algos/lm/lm_losses.h — the pieces of RL for language models, each
// a function with a worked example in lm_losses_test.cc.
//
// Notation: N responses o_i of |o_i| tokens (mask [N, R] marks them; R the
// generation budget), log pi_theta(o_i,t), the sampling policy's log-probs
// (old) and the frozen reference's (ref).
#ifndef RLFORGE_ALGOS_LM_LM_LOSSES_H_
#define RLFORGE_ALGOS_LM_LM_LOSSES_H_

#include <torch/torch.h>

#include <string>

namespace rlforge {

// GRPO's group-relative advantages (Shao et al., 2024): rewards [P x G] in
// groups of G consecutive responses to one prompt,
//   A_i = (r_i - mean_group(r)) / (std_group(r) + eps)   (scale_by_std; the
//   population std — TRL divides by the sample std, sqrt(G / (G - 1)) times
//   larger), or r_i - mean without scaling (Dr.GRPO, Liu et al., 2025). A group whose rewards are all equal carries no signal:
// its advantages are exactly 0. *zero_spread receives the fraction of such groups.
torch::Tensor GroupAdvantages(const torch::Tensor& rewards, int64_t group, bool scale_by_std, double eps,
                              double* zero_spread = nullptr);

// Schulman's k3 estimator of KL(pi_theta || pi_ref) per token, from samples of
// pi_theta: exp(ref - logp) - (ref - logp) - 1 (>= 0, unbiased).
torch::Tensor KlK3(const torch::Tensor& logp, const torch::Tensor& ref_logp);

// PPO's clipped surrogate per token, as a loss:
//   -min(rho A, clip(rho, 1 - clip_low, 1 + clip_high) A),  rho = exp(logp - old_logp)
// (clip_high > clip_low is DAPO's "clip-higher"). advantages: [N] (one per
// response, GRPO) or [N, R] (per token, PPO); zero outside mask.
torch::Tensor ClippedTokenLoss(const torch::Tensor& logp, const torch::Tensor& old_logp,
                               const torch::Tensor& advantages, const torch::Tensor& mask, double clip_low,
                               double clip_high);

// Aggregates a per-token loss [N, R] over the masked tokens:
//   "token-mean"    sum / number of tokens (DAPO: every token weighs the same)
//   "seq-mean"      mean over responses of each response's token mean (GRPO's
//                   original 1/|o_i|, which favours long wrong answers)
//   "seq-sum-norm"  sum / (N x budget), budget the most tokens a response may
//                   have (Dr.GRPO: a constant normalizer, no length bias;
//                   0: the tensor's width R)
torch::Tensor AggregateTokenLoss(const torch::Tensor& loss, const torch::Tensor& mask, const std::string& mode,
                                 int64_t budget = 0);
// Whether `mode` is one of those.
bool IsLossAggregation(const std::string& mode);

// Generalized advantage estimation over the tokens of each response
// (rewards, values, mask: [N, R]; the value after a response's last token is
// 0): delta_t = r_t + gamma V_{t+1} - V_t, A_t = delta_t + gamma lambda A_{t+1}.
// Returns (advantages, returns = advantages + values), zero outside mask.
std::pair<torch::Tensor, torch::Tensor> TokenGae(const torch::Tensor& rewards, const torch::Tensor& values,
                                                 const torch::Tensor& mask, double gamma, double lambda);

// The adaptive KL controller's step (Ziegler et al., 2019): the coefficient
// after an iteration of n responses whose KL was kl,
//   coef (1 + clip(kl / target - 1, -0.2, 0.2) n / horizon).
double AdaptiveKlCoef(double coef, double kl, double target, int64_t n, int64_t horizon);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_LM_LM_LOSSES_H_
