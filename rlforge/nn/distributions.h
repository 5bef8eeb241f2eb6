// rlforge/nn/distributions.h — action distributions for policy-gradient agents.
//
//   MaskedCategorical   Discrete actions. Illegal actions (mask 0) get logit
//                       -inf-like (the float minimum), so they have probability
//                       0, are never sampled, and contribute nothing to the
//                       entropy: H = -sum_{legal} p log p.
//   MultiCategorical    MultiDiscrete: one MaskedCategorical per dimension over
//                       slices of the logits; log-prob and entropy are sums.
//   DiagGaussian        Box actions: N(mean, diag(exp(log_std))^2) with a
//                       state-independent log_std; log p(a) = sum_i
//                       -((a_i - mu_i)^2 / (2 s_i^2)) - log s_i - log(2 pi) / 2.
//                       Actions are sampled and stored unclipped; clipping to
//                       the Box happens only on the way to the env.
// Shapes: logits [B, n], mask [B, n] (bool), actions [B] (int64) for
// Discrete, [B, k] (int64) for MultiDiscrete, [B, d] (float) for Box;
// log_prob and entropy return [B].
#ifndef RLFORGE_NN_DISTRIBUTIONS_H_
#define RLFORGE_NN_DISTRIBUTIONS_H_

#include <torch/torch.h>

#include <optional>
#include <vector>

#include "rlforge/env/env.h"

namespace rlforge {

// MultiDiscrete actions drawn dimension by dimension, each under the mask
// `mask_fn` gives for the values already chosen (envs with conditional
// masks; see Env::ConditionalActionMask), so a jointly illegal action is never
// produced. logits: [n, sum nvec] raw head outputs; uniforms: [n, k] in [0, 1)
// to sample by inverse CDF, or null for the most likely legal value of each
// dimension. Writes actions [n, k], log_probs [n] (sum over dimensions of the
// masked log-softmax; may be null) and masks [n, sum nvec] (the masks used,
// so that MultiCategorical with them recomputes the same log-probs; may be null).
void ConditionalMultiCategorical(const float* logits, int n, const std::vector<int64_t>& nvec,
                                 const ConditionalMaskFn& mask_fn, const float* uniforms, int64_t* actions,
                                 float* log_probs, uint8_t* masks);

// The first best legal action under scores q [A] (Q-values or logits; mask
// null: all legal); -1 when none is legal.
int64_t GreedyLegalAction(const float* q, int64_t num_actions, const uint8_t* mask);

class MaskedCategorical {
 public:
  // mask: optional [B, n] bool, true = legal. Every row needs a legal action.
  explicit MaskedCategorical(torch::Tensor logits, std::optional<torch::Tensor> mask = std::nullopt);
  torch::Tensor log_prob(const torch::Tensor& actions) const;  // [B]
  torch::Tensor entropy() const;                                // [B]
  torch::Tensor sample(torch::Generator* gen = nullptr) const;  // [B] int64
  torch::Tensor mode() const;                                   // [B] int64
  const torch::Tensor& logits() const { return logits_; }       // normalized log-probs [B, n]
  torch::Tensor probs() const { return logits_.exp(); }

 private:
  torch::Tensor logits_;                 // [B, n], log-softmax of the masked logits
  std::optional<torch::Tensor> mask_;    // [B, n] bool
};

class MultiCategorical {
 public:
  MultiCategorical(const torch::Tensor& logits, const std::vector<int64_t>& nvec,
                   std::optional<torch::Tensor> mask = std::nullopt);
  torch::Tensor log_prob(const torch::Tensor& actions) const;  // [B]
  torch::Tensor entropy() const;                                // [B]
  torch::Tensor sample(torch::Generator* gen = nullptr) const;  // [B, k]
  torch::Tensor mode() const;                                   // [B, k]

 private:
  std::vector<MaskedCategorical> dims_;
};

class DiagGaussian {
 public:
  // mean [B, d]; log_std [d] (or [B, d]).
  DiagGaussian(torch::Tensor mean, torch::Tensor log_std);
  torch::Tensor log_prob(const torch::Tensor& actions) const;  // [B]
  torch::Tensor entropy() const;                                // [B]
  torch::Tensor sample(torch::Generator* gen = nullptr) const;  // [B, d]
  torch::Tensor mode() const { return mean_; }
  const torch::Tensor& mean() const { return mean_; }
  torch::Tensor std() const { return std_; }

 private:
  torch::Tensor mean_, log_std_, std_;
};

}  // namespace rlforge

#endif  // RLFORGE_NN_DISTRIBUTIONS_H_
