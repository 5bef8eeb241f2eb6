// rlforge/nn/state.h — networks, optimizers, generators and tensors as
// checkpoint fields (see rlforge/core/state_io.h for StateVisitor).
//
//   VisitModule     every parameter and buffer by name: dtype, shape, bytes.
//                   Loading checks that the names and shapes match this
//                   network's and says which one differs; saving refuses a
//                   non-finite parameter (a diverged run keeps its last good
//                   checkpoint).
//   VisitOptimizer  the optimizer's own state (torch's serialization).
//   VisitGenerator  a torch::Generator's state.
//   VisitTensor     one tensor (dtype, shape, bytes); loading replaces it.
#ifndef RLFORGE_NN_STATE_H_
#define RLFORGE_NN_STATE_H_

#include <torch/torch.h>

#include <string>

#include "rlforge/core/state_io.h"

namespace rlforge {

void VisitModule(StateVisitor& v, const std::string& name, torch::nn::Module& module);
void VisitOptimizer(StateVisitor& v, const std::string& name, torch::optim::Optimizer& optimizer);
void VisitGenerator(StateVisitor& v, const std::string& name, torch::Generator* generator);
void VisitTensor(StateVisitor& v, const std::string& name, torch::Tensor* tensor);
// A learned tensor outside any module (a log temperature, a Lagrange
// multiplier): loaded in place, so that its optimizer keeps holding it.
void VisitParameter(StateVisitor& v, const std::string& name, torch::Tensor& param);

}  // namespace rlforge

#endif  // RLFORGE_NN_STATE_H_
