#include "rlforge/algos/flat_adam.h"

#include <algorithm>
#include <cmath>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

// The element loops, compiled for AVX-512, AVX2 and baseline x86-64 and
// picked at load time (GCC function multi-versioning); elsewhere plain code.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define RLFORGE_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RLFORGE_VECTOR_CLONES
#endif

RLFORGE_VECTOR_CLONES
void AdamUpdate(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v, int64_t n,
                float b1, float b2, float step_size, float inv_sqrt_bias2, float eps) {
  for (int64_t i = 0; i < n; ++i) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    p[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bias2 + eps);
  }
}

RLFORGE_VECTOR_CLONES
void RmspropUpdate(float* __restrict p, const float* __restrict g, float* __restrict s, int64_t n, float lr,
                   float alpha, float eps) {
  for (int64_t i = 0; i < n; ++i) {
    s[i] = alpha * s[i] + (1 - alpha) * g[i] * g[i];
    p[i] -= lr * g[i] / (std::sqrt(s[i]) + eps);
  }
}

// Sum of squares of a block, in sixteen independent float partial sums (the
// loop vectorizes; one double accumulator is a long dependency chain).
RLFORGE_VECTOR_CLONES
double BlockSumOfSquares(const float* g, int64_t n) {
  float part[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) part[j] += g[i + j] * g[i + j];
  double block = 0;
  for (; i < n; ++i) block += static_cast<double>(g[i]) * g[i];
  for (float f : part) block += f;
  return block;
}

RLFORGE_VECTOR_CLONES
void Scale(float* g, int64_t n, float c) {
  for (int64_t i = 0; i < n; ++i) g[i] *= c;
}

}  // namespace

FlatAdam::FlatAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options)
    : torch::optim::Adam(params, options), params_(std::move(params)) {
  RLF_CHECK_ARG(!options.amsgrad() && options.weight_decay() == 0, "FlatAdam supports neither AMSGrad nor weight decay");
  for (const auto& p : params_) {
    RLF_CHECK(p.scalar_type() == torch::kFloat32 && p.is_contiguous(), "FlatAdam needs contiguous float32 parameters");
    m_.push_back(torch::zeros_like(p));
    v_.push_back(torch::zeros_like(p));
  }
}

torch::Tensor FlatAdam::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure) loss = closure();
  const auto& o = static_cast<const torch::optim::AdamOptions&>(param_groups()[0].options());
  const double lr = o.lr(), b1 = std::get<0>(o.betas()), b2 = std::get<1>(o.betas()), eps = o.eps();
  ++t_;
  const double bias1 = 1.0 - std::pow(b1, static_cast<double>(t_));
  const double bias2 = 1.0 - std::pow(b2, static_cast<double>(t_));
  const float step_size = static_cast<float>(lr / bias1);
  const float inv_sqrt_bias2 = static_cast<float>(1.0 / std::sqrt(bias2));
  const float fb1 = static_cast<float>(b1), fb2 = static_cast<float>(b2), feps = static_cast<float>(eps);
  for (size_t k = 0; k < params_.size(); ++k) {
    if (!params_[k].grad().defined() || !params_[k].requires_grad()) continue;  // frozen: left alone
    AdamUpdate(params_[k].data_ptr<float>(), params_[k].grad().data_ptr<float>(), m_[k].data_ptr<float>(),
               v_[k].data_ptr<float>(), params_[k].numel(), fb1, fb2, step_size, inv_sqrt_bias2, feps);
  }
  return loss;
}

void FlatAdam::save(torch::serialize::OutputArchive& archive) const {
  archive.write("flat_adam_step", torch::tensor(t_));
  for (size_t k = 0; k < m_.size(); ++k) {
    archive.write("flat_adam_m_" + std::to_string(k), m_[k]);
    archive.write("flat_adam_v_" + std::to_string(k), v_[k]);
  }
}

void FlatAdam::load(torch::serialize::InputArchive& archive) {
  torch::Tensor t;
  archive.read("flat_adam_step", t);
  t_ = t.item<int64_t>();
  for (size_t k = 0; k < m_.size(); ++k) {
    torch::Tensor m, v;
    archive.read("flat_adam_m_" + std::to_string(k), m);
    archive.read("flat_adam_v_" + std::to_string(k), v);
    RLF_CHECK(m.sizes() == m_[k].sizes() && v.sizes() == v_[k].sizes(), "optimizer state does not match the network");
    m_[k].copy_(m);
    v_[k].copy_(v);
  }
}

FlatRmsprop::FlatRmsprop(std::vector<torch::Tensor> params, torch::optim::RMSpropOptions options)
    : torch::optim::RMSprop(params, options), params_(std::move(params)) {
  RLF_CHECK_ARG(options.momentum() == 0 && !options.centered() && options.weight_decay() == 0,
                "FlatRmsprop supports neither momentum, centering nor weight decay");
  for (const auto& p : params_) {
    RLF_CHECK(p.scalar_type() == torch::kFloat32 && p.is_contiguous(), "FlatRmsprop needs contiguous float32 parameters");
    square_avg_.push_back(torch::zeros_like(p));
  }
}

torch::Tensor FlatRmsprop::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure) loss = closure();
  const auto& o = static_cast<const torch::optim::RMSpropOptions&>(param_groups()[0].options());
  const float lr = static_cast<float>(o.lr()), alpha = static_cast<float>(o.alpha()), eps = static_cast<float>(o.eps());
  for (size_t k = 0; k < params_.size(); ++k) {
    if (!params_[k].grad().defined() || !params_[k].requires_grad()) continue;  // frozen: left alone
    RmspropUpdate(params_[k].data_ptr<float>(), params_[k].grad().data_ptr<float>(),
                  square_avg_[k].data_ptr<float>(), params_[k].numel(), lr, alpha, eps);
  }
  return loss;
}

void FlatRmsprop::save(torch::serialize::OutputArchive& archive) const {
  for (size_t k = 0; k < square_avg_.size(); ++k) archive.write("flat_rmsprop_" + std::to_string(k), square_avg_[k]);
}

void FlatRmsprop::load(torch::serialize::InputArchive& archive) {
  for (size_t k = 0; k < square_avg_.size(); ++k) {
    torch::Tensor s;
    archive.read("flat_rmsprop_" + std::to_string(k), s);
    RLF_CHECK(s.sizes() == square_avg_[k].sizes(), "optimizer state does not match the network");
    square_avg_[k].copy_(s);
  }
}

double ClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm) {
  // Blocks of 1024 summed in float lanes, the blocks in double.
  double sq = 0;
  for (const auto& p : params) {
    if (!p.grad().defined() || !p.requires_grad()) continue;  // frozen parameters do not count
    const float* g = p.grad().data_ptr<float>();
    const int64_t n = p.numel();
    for (int64_t start = 0; start < n; start += 1024) sq += BlockSumOfSquares(g + start, std::min<int64_t>(1024, n - start));
  }
  const double norm = std::sqrt(sq);
  const double coef = max_norm / (norm + 1e-6);
  if (std::isfinite(norm) && coef < 1.0) {
    const float c = static_cast<float>(coef);
    for (const auto& p : params) {
      if (!p.grad().defined() || !p.requires_grad()) continue;
      Scale(p.grad().data_ptr<float>(), p.numel(), c);
    }
  }
  return norm;
}

void SetLearningRate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) {
    auto& options = group.options();
    if (auto* adam = dynamic_cast<torch::optim::AdamOptions*>(&options)) adam->lr(lr);
    else if (auto* rms = dynamic_cast<torch::optim::RMSpropOptions*>(&options)) rms->lr(lr);
    else if (auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&options)) sgd->lr(lr);
  }
}

double LearningRate(const torch::optim::Optimizer& optimizer) {
  if (optimizer.param_groups().empty()) return 0.0;
  const auto& options = optimizer.param_groups().front().options();
  if (const auto* adam = dynamic_cast<const torch::optim::AdamOptions*>(&options)) return adam->lr();
  if (const auto* rms = dynamic_cast<const torch::optim::RMSpropOptions*>(&options)) return rms->lr();
  if (const auto* sgd = dynamic_cast<const torch::optim::SGDOptions*>(&options)) return sgd->lr();
  return 0.0;
}

}  // namespace rlforge
