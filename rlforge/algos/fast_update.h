// rlforge/algos/fast_update.h — hand-written forward and backward passes of
// the MLP actor-critic for the policy-gradient losses, without autograd.
//
// Small networks on small batches spend most of their time in per-operation
// overhead (dispatch, autograd graph, allocation), not in arithmetic. For the
// common case — separate MLP torsos with tanh or ReLU, a Discrete or
// MultiDiscrete (optionally masked) or diagonal-Gaussian head, float inputs —
// this computes the loss
//   L = mean_i[-min(r_i A_i, clip(r_i, 1 - eps, 1 + eps) A_i)]
//       - ent_coef mean_i H_i + vf_coef mean_i (R_i - V_i)^2
// and writes dL/dtheta into every parameter's .grad with a few BLAS calls and
// plain loops over preallocated buffers. With eps = infinity and old log-probs
// equal to the current ones, the policy term is A2C's -mean(A log pi)
// gradient (d/dlogp of -r A at r = 1). The same gradients as autograd's up to
// float rounding (tests/fast_update_test.cc compares them).
#ifndef RLFORGE_ALGOS_FAST_UPDATE_H_
#define RLFORGE_ALGOS_FAST_UPDATE_H_

#include <torch/torch.h>

#include <vector>

#include "rlforge/nn/policy.h"

namespace rlforge {

// Forward and backward passes of an MLP (hidden Linear + tanh/ReLU layers,
// then a Linear head) on its parameters' own storage, with BLAS and loops.
// Backward takes d_out = dL/d(head output) [B, n] and writes every layer's
// weight and bias gradient into the parameters' .grad (overwriting it).
struct MlpKernel {
  std::vector<torch::nn::Linear> layers;  // hidden layers, then the head
  bool tanh = true;                       // tanh (else ReLU) after each hidden layer
  std::vector<std::vector<float>> acts;   // activations per hidden layer [B, out]
  std::vector<float> out;                 // head output [B, n]
  std::vector<float> d_out, d_a, d_z;     // gradient w.r.t. the output, scratch
  void Forward(const float* x, int64_t batch, int64_t in_dim);
  void Backward(const float* x, int64_t batch, int64_t in_dim);
};

struct FastLossInputs {
  torch::Tensor features;   // [B, D] float, contiguous: the preprocessed observations
  torch::Tensor actions;    // [B] int64 (Discrete), [B, K] int64 (MultiDiscrete) or [B, A] float (Box)
  torch::Tensor masks;      // [B, A] bool or undefined
  torch::Tensor old_log_prob;  // [B]; for A2C pass the current log-probs (see a2c.cc)
  torch::Tensor advantages;    // [B], already normalized if wanted
  torch::Tensor returns;       // [B]
  double clip_range = 0.2;     // +inf: no clipping (A2C)
  double ent_coef = 0.0;
  double vf_coef = 0.5;
};

struct FastLossResult {
  double policy_loss = 0, value_loss = 0, entropy = 0, approx_kl = 0, clip_fraction = 0;
};

class FastActorCriticUpdate {
 public:
  // Whether the network qualifies (see the header comment).
  static bool Supported(ActorCriticImpl& net);
  explicit FastActorCriticUpdate(ActorCritic net);
  // Computes the losses and writes the gradients into the parameters' .grad.
  FastLossResult Backward(const FastLossInputs& in);
  // Log-probabilities of actions under the current network, [B] (for A2C).
  torch::Tensor LogProb(const FastLossInputs& in);

  // Acting: samples actions for a batch of preprocessed observations (masks
  // [B, A] bool or undefined) with uniform / normal draws from gen.
  struct ActResult {
    torch::Tensor actions;   // [B] int64 or [B, A] float (unclipped)
    torch::Tensor log_prob;  // [B]
    torch::Tensor value;     // [B]
  };
  ActResult Act(const torch::Tensor& features, const torch::Tensor& masks, torch::Generator* gen);
  // The policy head's raw output [B, n] of the last Act / Backward / LogProb.
  const float* policy_output() const { return pi_.out.data(); }

 private:
  ActorCritic net_;
  bool tanh_;
  bool gaussian_;
  std::vector<int64_t> segments_;  // categorical sizes: {n} for Discrete, nvec for MultiDiscrete
  MlpKernel pi_, vf_;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_FAST_UPDATE_H_
