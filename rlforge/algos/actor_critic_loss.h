// rlforge/algos/actor_critic_loss.h — the actor-critic objective of every
// policy-gradient agent (PPO, A2C, A3C, REINFORCE, behaviour cloning), in one
// place: its value and its gradient with respect to the network's outputs.
//
// For a batch of B samples with network outputs u_i (the policy head's raw
// output: categorical logits, one segment per action dimension, or a Gaussian
// mean), log standard deviations (Gaussian) and values V_i:
//   L = mean_i l_i + vf_coef mean_i (R_i - V'_i)^2 - ent_coef mean_i H_i
// with the policy term
//   PPO (Schulman et al., 2017), clip range eps:
//     l = -min(r A, clip(r, 1 - eps, 1 + eps) A),  r = exp(log pi(a|s) - log pi_old(a|s))
//   policy gradient (A2C, A3C, REINFORCE; behaviour cloning with A = 1):
//     l = -A log pi(a|s)
// and V' = V, or V_old + clip(V - V_old, -c, c) with value clipping (SB3's
// clip_range_vf). Distributions:
//   masked categorical per segment: p = softmax over the legal values (the
//     illegal ones have p = 0 and add nothing to H), H = -sum p log p;
//     dlog p_a/du_j = [j = a] - p_j, dH/du_j = -p_j (log p_j + H);
//   diagonal Gaussian N(u, sigma^2), z = (a - u) / sigma:
//     log pi = sum_j -z_j^2 / 2 - log sigma_j - log(2 pi) / 2,
//     dlog pi/du_j = z_j / sigma_j, dlog pi/dlog sigma_j = z_j^2 - 1,
//     H = sum_j log sigma_j + 1/2 + log(2 pi) / 2.
// ComputeActorCriticLoss returns the terms and writes dL/d(outputs); the
// hand-written MLP kernels (rlforge/algos/fast_update.h) or autograd carry that
// back through the network (OnPolicyAlgorithm::Backprop). Sums run in double.
#ifndef RLFORGE_ALGOS_ACTOR_CRITIC_LOSS_H_
#define RLFORGE_ALGOS_ACTOR_CRITIC_LOSS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "rlforge/env/space.h"

namespace rlforge {

// The distribution a policy head parameterizes, by the action space:
// categorical segments (Discrete: {n}; MultiDiscrete: nvec) or a diagonal
// Gaussian (Box, width = action dimensions).
class ActionHead {
 public:
  explicit ActionHead(const Space& action_space);
  bool gaussian() const { return gaussian_; }
  int64_t width() const { return width_; }                      // outputs per sample
  const std::vector<int64_t>& segments() const { return segments_; }  // categorical sizes

 private:
  bool gaussian_ = false;
  int64_t width_ = 0;
  std::vector<int64_t> segments_;
};

// Masked softmax of one categorical segment of n logits (mask null: all
// legal): p (0 where illegal) and log p; returns the segment's entropy.
double SegmentSoftmax(const float* logits, const bool* mask, int64_t n, double* p, double* logp);

struct ActorCriticBatch {
  int64_t size = 0;                     // B
  const void* actions = nullptr;        // [B, k] int64 (categorical) or [B, d] float (Gaussian)
  const bool* masks = nullptr;          // [B, width] legal values, or null
  const float* advantages = nullptr;    // [B], already normalized if wanted
  const float* returns = nullptr;       // [B] value targets
  std::optional<double> clip_range;     // PPO's eps (then old_log_prob); unset: the policy gradient
  const float* old_log_prob = nullptr;  // [B] log pi_old(a|s), with clip_range
  std::optional<double> clip_range_vf;  // value clipping (then old_values)
  const float* old_values = nullptr;    // [B]
  double ent_coef = 0.0;
  double vf_coef = 0.5;
};

// The network's outputs for the batch (float arrays).
struct ActorCriticOutputs {
  const float* pi = nullptr;       // [B, width]
  const float* log_std = nullptr;  // Gaussian: [width], or [B, width] with log_std_per_sample
  bool log_std_per_sample = false;
  const float* value = nullptr;    // [B]
};

// dL/d(outputs), written by ComputeActorCriticLoss (every entry).
struct ActorCriticGradients {
  float* d_pi = nullptr;       // [B, width]
  float* d_log_std = nullptr;  // shaped as log_std; Gaussian only
  float* d_value = nullptr;    // [B]
};

struct ActorCriticLossValues {
  double policy_loss = 0;  // mean l_i
  double value_loss = 0;   // mean (R - V')^2
  double entropy = 0;      // mean H
  double approx_kl = 0;    // PPO: mean((r - 1) - log r)
  double clip_fraction = 0;  // PPO: fraction with |r - 1| > eps
  double loss = 0;         // L
};

ActorCriticLossValues ComputeActorCriticLoss(const ActionHead& head, const ActorCriticOutputs& out,
                                             const ActorCriticBatch& batch, ActorCriticGradients* grads);

// log pi(a_i|s_i) for the batch's actions and masks, into log_prob [B].
void ActorCriticLogProbs(const ActionHead& head, const ActorCriticOutputs& out, const ActorCriticBatch& batch,
                         float* log_prob);

// The policy term for one sample and its derivative with respect to
// log pi(a|s): the policy gradient's -A log pi, and PPO's clipped surrogate.
struct PolicyTerm {
  double loss = 0, d_log_prob = 0;
};
PolicyTerm PolicyGradientTerm(double log_prob, double advantage);
struct SurrogateTerm {
  double loss = 0, d_log_prob = 0;
  double ratio = 1;
  bool clipped = false;  // |r - 1| > eps
};
SurrogateTerm ClippedSurrogate(double log_prob, double old_log_prob, double advantage, double clip_range);

// The value term for one sample: (R - V')^2 and its derivative with respect to V.
struct ValueTerm {
  double loss = 0, d_value = 0;
};
ValueTerm ValueLoss(double value, double target, std::optional<double> clip_range_vf, double old_value);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_ACTOR_CRITIC_LOSS_H_
