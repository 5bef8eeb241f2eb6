// rlforge/nn/lstm_kernels.h — an LSTM layer over a whole sequence with
// episode resets, forward and backward written by hand.
//
// The recurrent policy's update (rlforge/nn/recurrent_policy.h) replays
// sequences of L steps; through libtorch's LSTM module every step is a dozen
// small autograd nodes, and for the small layers RL uses that bookkeeping,
// not arithmetic, is the update's time. This layer is one autograd node:
//   forward:  the input projection of all L steps in one matrix product, then
//             per step  h' = keep_t h, c' = keep_t c,
//                       [i f g o] = x_t W_ih^T + b_ih + b_hh + h' W_hh^T,
//                       i, f, o = sigmoid, g = tanh,
//                       c = f c' + i g,  h = o tanh(c);
//   backward: back-propagation through time by hand, the weight gradients as
//             two matrix products over all steps.
// Weights are laid out as torch::nn::LSTM's (gate order i, f, g, o), so the
// module's parameters are used as they are; keep [L, B] is 1 - (episode
// start). Checked against autograd through torch::nn::LSTM in tests.
#ifndef RLFORGE_NN_LSTM_KERNELS_H_
#define RLFORGE_NN_LSTM_KERNELS_H_

#include <torch/torch.h>

#include <tuple>

namespace rlforge {

// x [L, B, In], h0 and c0 [B, H], keep [L, B] float; returns the outputs
// [L, B, H] and the final h and c [B, H]. Differentiable in x, h0, c0 and the
// four weights.
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> LstmSequence(
    const torch::Tensor& x, const torch::Tensor& h0, const torch::Tensor& c0, const torch::Tensor& keep,
    const torch::Tensor& w_ih, const torch::Tensor& w_hh, const torch::Tensor& b_ih, const torch::Tensor& b_hh);

}  // namespace rlforge

#endif  // RLFORGE_NN_LSTM_KERNELS_H_
