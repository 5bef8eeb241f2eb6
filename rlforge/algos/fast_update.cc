#include "rlforge/algos/fast_update.h"

#include <cblas.h>

#include <cmath>
#include <limits>

#include "rlforge/core/error.h"

// The categorical draws below use SegmentSoftmax (rlforge/algos/actor_critic_loss.h).

namespace rlforge {
float* MutableGrad(torch::Tensor& p) {
  if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
  return p.mutable_grad().data_ptr<float>();
}

bool FastActorCritic::Supported(ActorCriticImpl& net) {
  if (net.is_image() || net.shares_features() || net.use_sde()) return false;
  const auto kind = net.action_space().kind();
  if (kind != SpaceKind::kDiscrete && kind != SpaceKind::kMultiDiscrete && kind != SpaceKind::kBox) return false;
  const std::string& act = net.pi_torso()->activation();
  if (act != "tanh" && act != "relu") return false;
  for (const auto& p : net.parameters())
    if (p.scalar_type() != torch::kFloat32 || !p.is_contiguous()) return false;
  return true;
}

FastActorCritic::FastActorCritic(ActorCritic net) : net_(std::move(net)), head_(net_->action_space()) {
  RLF_CHECK(Supported(*net_), "FastActorCritic: unsupported network");
  pi_.tanh = vf_.tanh = net_->pi_torso()->activation() == "tanh";
  pi_.layers = net_->pi_torso()->layers();
  pi_.layers.push_back(net_->pi_head());
  vf_.layers = net_->vf_torso()->layers();
  vf_.layers.push_back(net_->vf_head());
}

void MlpKernel::Forward(const float* x, int64_t batch, int64_t in_dim) {
  MlpKernel& t = *this;
  const size_t hidden = t.layers.size() - 1;
  t.acts.resize(hidden);
  const float* input = x;
  int64_t in = in_dim;
  for (size_t k = 0; k < t.layers.size(); ++k) {
    auto& lin = t.layers[k];
    const int64_t out = lin->weight.size(0);
    std::vector<float>& y = k < hidden ? t.acts[k] : t.out;
    y.resize(static_cast<size_t>(batch * out));
    const float* w = lin->weight.data_ptr<float>();
    const float* b = lin->bias.data_ptr<float>();
    for (int64_t i = 0; i < batch; ++i) std::copy(b, b + out, y.data() + i * out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(batch), static_cast<int>(out),
                static_cast<int>(in), 1.0f, input, static_cast<int>(in), w, static_cast<int>(in), 1.0f, y.data(),
                static_cast<int>(out));
    if (k < hidden) {
      if (t.tanh) {
        // One vectorized call (libtorch's SLEEF tanh): scalar tanhf costs more
        // than every matrix product of the update together.
        torch::from_blob(y.data(), {static_cast<int64_t>(y.size())}, torch::kFloat32).tanh_();
      } else {
        for (auto& v : y) v = v > 0 ? v : 0;
      }
    }
    input = y.data();
    in = out;
  }
}

// Given t.d_out [B, n] = dL/d(head output), writes every layer's gradient.
void MlpKernel::Backward(const float* x, int64_t batch, int64_t in_dim) {
  MlpKernel& t = *this;
  std::vector<float>* d_y = &t.d_out;
  for (size_t k = t.layers.size(); k-- > 0;) {
    auto& lin = t.layers[k];
    const int64_t out = lin->weight.size(0), in = lin->weight.size(1);
    const float* a_in = k == 0 ? x : t.acts[k - 1].data();
    std::vector<float>& dz = *d_y;  // already multiplied by the activation's derivative
    if (t.param_grads) {
      float* gw = MutableGrad(lin->weight);
      float* gb = MutableGrad(lin->bias);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(out), static_cast<int>(in),
                  static_cast<int>(batch), 1.0f, dz.data(), static_cast<int>(out), a_in, static_cast<int>(in), 0.0f,
                  gw, static_cast<int>(in));
      std::fill(gb, gb + out, 0.0f);
      for (int64_t i = 0; i < batch; ++i)
        for (int64_t j = 0; j < out; ++j) gb[j] += dz[i * out + j];
    }
    if (k == 0) {
      if (t.input_grad) {  // dX = dZ_0 W_0
        t.d_in.resize(static_cast<size_t>(batch * in));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(batch), static_cast<int>(in),
                    static_cast<int>(out), 1.0f, dz.data(), static_cast<int>(out), lin->weight.data_ptr<float>(),
                    static_cast<int>(in), 0.0f, t.d_in.data(), static_cast<int>(in));
      }
      break;
    }
    // dA_{k-1} = dZ_k W_k, then through the activation of layer k - 1.
    std::vector<float>& da = (d_y == &t.d_a) ? t.d_z : t.d_a;
    da.resize(static_cast<size_t>(batch * in));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(batch), static_cast<int>(in),
                static_cast<int>(out), 1.0f, dz.data(), static_cast<int>(out), lin->weight.data_ptr<float>(),
                static_cast<int>(in), 0.0f, da.data(), static_cast<int>(in));
    const std::vector<float>& a = t.acts[k - 1];
    if (t.tanh) {
      for (size_t n = 0; n < da.size(); ++n) da[n] *= 1.0f - a[n] * a[n];
    } else {
      for (size_t n = 0; n < da.size(); ++n) da[n] = a[n] > 0 ? da[n] : 0.0f;
    }
    d_y = &da;
  }
}

void FastActorCritic::Forward(const torch::Tensor& features) {
  RLF_CHECK(features.scalar_type() == torch::kFloat32 && features.is_contiguous() && features.dim() == 2,
            "fast update: features must be contiguous float32 [B, D]");
  const int64_t B = features.size(0), D = features.size(1);
  const float* x = features.data_ptr<float>();
  pi_.Forward(x, B, D);
  vf_.Forward(x, B, D);
  pi_.d_out.resize(pi_.out.size());
  vf_.d_out.resize(vf_.out.size());
}

void FastActorCritic::Backward(const torch::Tensor& features) {
  const int64_t B = features.size(0), D = features.size(1);
  const float* x = features.data_ptr<float>();
  pi_.Backward(x, B, D);
  vf_.Backward(x, B, D);
}

FastActorCritic::ActResult FastActorCritic::Act(const torch::Tensor& features, const torch::Tensor& masks,
                                                torch::Generator* gen) {
  const int64_t B = features.size(0), D = features.size(1);
  const float* x = features.data_ptr<float>();
  pi_.Forward(x, B, D);
  vf_.Forward(x, B, D);
  const int64_t n = head_.width();
  ActResult r;
  r.value = torch::from_blob(vf_.out.data(), {B}, torch::kFloat32).clone();
  r.log_prob = torch::empty({B});
  float* lp = r.log_prob.data_ptr<float>();
  if (head_.gaussian()) {
    auto eps = gen ? at::normal(0.0, 1.0, {B, n}, *gen) : torch::randn({B, n});
    r.actions = torch::empty({B, n});
    const float* e = eps.data_ptr<float>();
    float* a = r.actions.data_ptr<float>();
    const float* ls = net_->log_std().data_ptr<float>();
    const double c = 0.5 * std::log(2 * M_PI);
    for (int64_t i = 0; i < B; ++i) {
      double s = 0;
      for (int64_t j = 0; j < n; ++j) {
        a[i * n + j] = pi_.out[i * n + j] + std::exp(ls[j]) * e[i * n + j];
        s += -0.5 * static_cast<double>(e[i * n + j]) * e[i * n + j] - ls[j] - c;
      }
      lp[i] = static_cast<float>(s);
    }
    return r;
  }
  // One uniform per row and dimension ([B] for Discrete, as before).
  const auto& segments = head_.segments();
  const int64_t k = static_cast<int64_t>(segments.size());
  const std::vector<int64_t> u_shape = k == 1 ? std::vector<int64_t>{B} : std::vector<int64_t>{B, k};
  auto u = gen ? at::rand(u_shape, *gen) : torch::rand(u_shape);
  const float* uu = u.data_ptr<float>();
  r.actions = k == 1 ? torch::empty({B}, torch::kLong) : torch::empty({B, k}, torch::kLong);
  int64_t* a = r.actions.data_ptr<int64_t>();
  const bool* m = masks.defined() ? masks.data_ptr<bool>() : nullptr;
  std::vector<double> p(n), logp(n);
  for (int64_t i = 0; i < B; ++i) {
    double total = 0;
    for (int64_t d = 0, o = 0; d < k; o += segments[d], ++d) {
      SegmentSoftmax(pi_.out.data() + i * n + o, m ? m + i * n + o : nullptr, segments[d], p.data(), logp.data());
      // Inverse CDF over the legal values.
      double c = 0;
      int64_t pick = -1, last_legal = 0;
      for (int64_t j = 0; j < segments[d]; ++j) {
        if (p[j] == 0) continue;
        last_legal = j;
        c += p[j];
        if (pick < 0 && uu[i * k + d] < c) pick = j;
      }
      if (pick < 0) pick = last_legal;
      a[i * k + d] = pick;
      total += logp[pick];
    }
    lp[i] = static_cast<float>(total);
  }
  return r;
}

}  // namespace rlforge
