// rlforge/algos/fast_update.h — hand-written forward and backward passes of
// plain MLP networks, without autograd.
//
// Small networks on small batches spend most of their time in per-operation
// overhead (dispatch, autograd graph, allocation), not in arithmetic. For the
// common case — MLP torsos with tanh or ReLU and a Linear head, float inputs —
// MlpKernel runs the forward pass and, given dL/d(output), writes dL/dtheta
// into every parameter's .grad with a few BLAS calls and plain loops over
// preallocated buffers. The losses themselves are defined once, on the
// networks' outputs (rlforge/algos/actor_critic_loss.h for the policy-gradient
// agents, DQN's and QR-DQN's in their folders); either these kernels or
// autograd carry their gradient back through the torso, and
// tests/fast_update_test.cc checks that both give the same gradients.
#ifndef RLFORGE_ALGOS_FAST_UPDATE_H_
#define RLFORGE_ALGOS_FAST_UPDATE_H_

#include <torch/torch.h>

#include <vector>

#include "rlforge/algos/actor_critic_loss.h"
#include "rlforge/nn/policy.h"

namespace rlforge {

// p's .grad storage (allocated as zeros when p has none).
float* MutableGrad(torch::Tensor& p);

// Forward and backward passes of an MLP (hidden Linear + tanh/ReLU layers,
// then a Linear head) on its parameters' own storage, with BLAS and loops.
// Backward takes d_out = dL/d(head output) [B, n] and writes every layer's
// weight and bias gradient into the parameters' .grad (overwriting it);
// with input_grad it also writes dL/d(input) into d_in [B, in_dim] (an
// actor's loss through a critic's action input), and without param_grads it
// leaves .grad alone and computes only that.
struct MlpKernel {
  std::vector<torch::nn::Linear> layers;  // hidden layers, then the head
  bool tanh = true;                       // tanh (else ReLU) after each hidden layer
  bool param_grads = true;                // Backward writes the parameters' .grad
  bool input_grad = false;                // Backward writes d_in
  std::vector<std::vector<float>> acts;   // activations per hidden layer [B, out]
  std::vector<float> out;                 // head output [B, n]
  std::vector<float> d_out, d_a, d_z;     // gradient w.r.t. the output, scratch
  std::vector<float> d_in;                // dL/d(input) [B, in_dim] (input_grad)
  void Forward(const float* x, int64_t batch, int64_t in_dim);
  void Backward(const float* x, int64_t batch, int64_t in_dim);
};

// The separate-torso MLP actor-critic (ActorCritic without a CNN, shared
// features or gSDE; Discrete, MultiDiscrete or Box actions) on MlpKernels.
class FastActorCritic {
 public:
  // Whether the network qualifies (see above).
  static bool Supported(ActorCriticImpl& net);
  explicit FastActorCritic(ActorCritic net);

  // Forward pass of features [B, D] (float, contiguous): the policy head's
  // output pi() [B, width] and the values value() [B].
  void Forward(const torch::Tensor& features);
  const float* pi() const { return pi_.out.data(); }
  const float* value() const { return vf_.out.data(); }
  // The gradient buffers Backward reads, sized for the last Forward:
  // d_pi [B, width], d_value [B].
  float* d_pi() { return pi_.d_out.data(); }
  float* d_value() { return vf_.d_out.data(); }
  // Writes dL/dtheta of every torso and head parameter (from d_pi, d_value)
  // into .grad, for the features of the last Forward.
  void Backward(const torch::Tensor& features);

  // Acting: samples actions for a batch of features (masks [B, A] bool or
  // undefined) with uniform / normal draws from gen.
  struct ActResult {
    torch::Tensor actions;   // [B] int64, [B, k] int64 or [B, A] float (unclipped)
    torch::Tensor log_prob;  // [B]
    torch::Tensor value;     // [B]
  };
  ActResult Act(const torch::Tensor& features, const torch::Tensor& masks, torch::Generator* gen);

 private:
  ActorCritic net_;
  ActionHead head_;
  MlpKernel pi_, vf_;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_FAST_UPDATE_H_
