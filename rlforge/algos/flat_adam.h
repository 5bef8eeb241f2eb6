// rlforge/algos/flat_adam.h — Adam (Kingma & Ba, 2015) as plain loops.
//
// The same update as torch::optim::Adam without weight decay or AMSGrad:
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// but one pass over each parameter's floats instead of ~8 tensor operations
// per parameter, which on the small networks of classic-control agents costs
// more than the arithmetic. Learning rate and betas are read from the param
// group's AdamOptions, so schedules work as for torch's Adam; save/load
// store the moments and the step count. A parameter that does not require
// gradients (frozen: config key freeze) is left alone even when a
// hand-written kernel wrote its .grad, as torch's optimizers leave a
// parameter autograd gave no gradient; so are they by FlatRmsprop and left
// out of ClipGradNorm's norm.
#ifndef RLFORGE_ALGOS_FLAT_ADAM_H_
#define RLFORGE_ALGOS_FLAT_ADAM_H_

#include <torch/torch.h>

#include <vector>

namespace rlforge {

class FlatAdam : public torch::optim::Adam {
 public:
  FlatAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options);
  torch::Tensor step(LossClosure closure = nullptr) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  std::vector<torch::Tensor> params_, m_, v_;
  int64_t t_ = 0;
};

// RMSProp as torch::optim::RMSprop without momentum, centering or weight
// decay: s = alpha s + (1 - alpha) g^2, p -= lr g / (sqrt(s) + eps); as plain
// loops, for the same reason as FlatAdam.
class FlatRmsprop : public torch::optim::RMSprop {
 public:
  FlatRmsprop(std::vector<torch::Tensor> params, torch::optim::RMSpropOptions options);
  torch::Tensor step(LossClosure closure = nullptr) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  std::vector<torch::Tensor> params_, square_avg_;
};

// Sets every parameter group's learning rate (Adam, RMSProp or SGD options).
void SetLearningRate(torch::optim::Optimizer& optimizer, double lr);
// The first parameter group's learning rate (0 for other optimizers).
double LearningRate(const torch::optim::Optimizer& optimizer);

// Global-norm gradient clipping as plain loops (torch's clip_grad_norm_
// semantics: scale by max_norm / (norm + 1e-6) when that is below 1).
// Returns the norm before clipping (NaN/Inf when a gradient is not finite).
double ClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_FLAT_ADAM_H_
