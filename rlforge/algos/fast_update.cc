#include "rlforge/algos/fast_update.h"

#include <cblas.h>

#include <cmath>
#include <limits>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

float* GradOf(torch::Tensor& p) {
  if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
  return p.mutable_grad().data_ptr<float>();
}

}  // namespace

bool FastActorCriticUpdate::Supported(ActorCriticImpl& net) {
  if (net.is_image() || net.shares_features() || net.use_sde()) return false;
  const auto kind = net.action_space().kind();
  if (kind != SpaceKind::kDiscrete && kind != SpaceKind::kMultiDiscrete && kind != SpaceKind::kBox) return false;
  const std::string& act = net.pi_torso()->activation();
  if (act != "tanh" && act != "relu") return false;
  for (const auto& p : net.parameters())
    if (p.scalar_type() != torch::kFloat32 || !p.is_contiguous()) return false;
  return true;
}

FastActorCriticUpdate::FastActorCriticUpdate(ActorCritic net) : net_(std::move(net)) {
  RLF_CHECK(Supported(*net_), "FastActorCriticUpdate: unsupported network");
  tanh_ = net_->pi_torso()->activation() == "tanh";
  pi_.tanh = vf_.tanh = tanh_;
  gaussian_ = net_->action_space().kind() == SpaceKind::kBox;
  if (net_->action_space().kind() == SpaceKind::kDiscrete) segments_ = {net_->action_space().n()};
  if (net_->action_space().kind() == SpaceKind::kMultiDiscrete) segments_ = net_->action_space().nvec();
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
  const size_t hidden = t.layers.size() - 1;
  std::vector<float>* d_y = &t.d_out;
  for (size_t k = t.layers.size(); k-- > 0;) {
    auto& lin = t.layers[k];
    const int64_t out = lin->weight.size(0), in = lin->weight.size(1);
    const float* a_in = k == 0 ? x : t.acts[k - 1].data();
    std::vector<float>& dz = *d_y;  // already multiplied by the activation's derivative
    float* gw = GradOf(lin->weight);
    float* gb = GradOf(lin->bias);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(out), static_cast<int>(in),
                static_cast<int>(batch), 1.0f, dz.data(), static_cast<int>(out), a_in, static_cast<int>(in), 0.0f, gw,
                static_cast<int>(in));
    std::fill(gb, gb + out, 0.0f);
    for (int64_t i = 0; i < batch; ++i)
      for (int64_t j = 0; j < out; ++j) gb[j] += dz[i * out + j];
    if (k == 0) break;
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
    (void)hidden;
  }
}

namespace {
// Masked softmax of one categorical segment: p (0 where illegal), log p, and
// returns the segment's entropy.
double SegmentSoftmax(const float* l, const bool* m, int64_t n, double* p, double* logp) {
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < n; ++j)
    if (!m || m[j]) mx = std::max<double>(mx, l[j]);
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    p[j] = (!m || m[j]) ? std::exp(l[j] - mx) : 0.0;
    sum += p[j];
  }
  const double log_sum = std::log(sum);
  double entropy = 0;
  for (int64_t j = 0; j < n; ++j) {
    p[j] /= sum;
    logp[j] = l[j] - mx - log_sum;
    if (p[j] > 0) entropy -= p[j] * logp[j];
  }
  return entropy;
}
}  // namespace

torch::Tensor FastActorCriticUpdate::LogProb(const FastLossInputs& in) {
  const int64_t B = in.features.size(0), D = in.features.size(1);
  pi_.Forward(in.features.data_ptr<float>(), B, D);
  const int64_t n = pi_.layers.back()->weight.size(0);
  auto out = torch::empty({B});
  float* lp = out.data_ptr<float>();
  if (gaussian_) {
    const float* ls = net_->log_std().data_ptr<float>();
    const float* a = in.actions.data_ptr<float>();
    const double c = 0.5 * std::log(2 * M_PI);
    for (int64_t i = 0; i < B; ++i) {
      double s = 0;
      for (int64_t j = 0; j < n; ++j) {
        const double z = (a[i * n + j] - pi_.out[i * n + j]) / std::exp(ls[j]);
        s += -0.5 * z * z - ls[j] - c;
      }
      lp[i] = static_cast<float>(s);
    }
    return out;
  }
  const int64_t* a = in.actions.data_ptr<int64_t>();
  const bool* m = in.masks.defined() ? in.masks.data_ptr<bool>() : nullptr;
  const int64_t k = static_cast<int64_t>(segments_.size());
  std::vector<double> p(n), logp(n);
  for (int64_t i = 0; i < B; ++i) {
    double total = 0;
    for (int64_t d = 0, o = 0; d < k; o += segments_[d], ++d) {
      SegmentSoftmax(pi_.out.data() + i * n + o, m ? m + i * n + o : nullptr, segments_[d], p.data(), logp.data());
      total += logp[a[i * k + d]];
    }
    lp[i] = static_cast<float>(total);
  }
  return out;
}

FastLossResult FastActorCriticUpdate::Backward(const FastLossInputs& in) {
  const int64_t B = in.features.size(0), D = in.features.size(1);
  RLF_CHECK(in.features.scalar_type() == torch::kFloat32 && in.features.is_contiguous(),
            "fast update: features must be contiguous float32");
  const float* x = in.features.data_ptr<float>();
  pi_.Forward(x, B, D);
  vf_.Forward(x, B, D);
  const int64_t n = pi_.layers.back()->weight.size(0);
  const float* old_lp = in.old_log_prob.data_ptr<float>();
  const float* adv = in.advantages.data_ptr<float>();
  const float* ret = in.returns.data_ptr<float>();
  const double inv_b = 1.0 / static_cast<double>(B);
  FastLossResult r;
  pi_.d_out.assign(static_cast<size_t>(B * n), 0.0f);
  vf_.d_out.resize(static_cast<size_t>(B));
  std::vector<double> d_log_std(gaussian_ ? n : 0, 0.0);
  const float* ls = gaussian_ ? net_->log_std().data_ptr<float>() : nullptr;
  const double half_log_2pi = 0.5 * std::log(2 * M_PI);
  std::vector<double> p(n), logp(n), seg_entropy(segments_.size());
  for (int64_t i = 0; i < B; ++i) {
    // Log-probability of the taken action and the entropy.
    double lp = 0, entropy = 0;
    const float* l = pi_.out.data() + i * n;
    if (gaussian_) {
      const float* a = in.actions.data_ptr<float>() + i * n;
      for (int64_t j = 0; j < n; ++j) {
        const double z = (a[j] - l[j]) / std::exp(ls[j]);
        lp += -0.5 * z * z - ls[j] - half_log_2pi;
        entropy += ls[j] + 0.5 + half_log_2pi;
      }
    } else {
      const bool* m = in.masks.defined() ? in.masks.data_ptr<bool>() + i * n : nullptr;
      const int64_t* act = in.actions.data_ptr<int64_t>() + i * static_cast<int64_t>(segments_.size());
      for (size_t d = 0, o = 0; d < segments_.size(); o += segments_[d], ++d) {
        seg_entropy[d] = SegmentSoftmax(l + o, m ? m + o : nullptr, segments_[d], p.data() + o, logp.data() + o);
        entropy += seg_entropy[d];
        lp += logp[o + act[d]];
      }
    }
    // Clipped surrogate and its derivative with respect to log pi(a|s).
    const double ratio = std::exp(lp - old_lp[i]);
    const double a_i = adv[i];
    const double surr1 = ratio * a_i;
    const double clipped = std::min(std::max(ratio, 1.0 - in.clip_range), 1.0 + in.clip_range);
    const double surr2 = clipped * a_i;
    r.policy_loss -= std::min(surr1, surr2) * inv_b;
    r.entropy += entropy * inv_b;
    r.approx_kl += ((ratio - 1) - (lp - old_lp[i])) * inv_b;
    r.clip_fraction += (std::abs(ratio - 1) > in.clip_range ? 1.0 : 0.0) * inv_b;
    const double g = surr1 <= surr2 ? -a_i * ratio * inv_b : 0.0;  // dL/dlogp_i
    float* dl = pi_.d_out.data() + i * n;
    if (gaussian_) {
      const float* a = in.actions.data_ptr<float>() + i * n;
      for (int64_t j = 0; j < n; ++j) {
        const double s = std::exp(ls[j]);
        const double z = (a[j] - l[j]) / s;
        dl[j] = static_cast<float>(g * z / s);
        d_log_std[j] += g * (z * z - 1);
      }
    } else {
      // Each segment: g (onehot - p) for the surrogate, and
      // d(-ent_coef H / B)/dlogit_j = ent_coef / B p_j (log p_j + H_segment).
      const int64_t* act = in.actions.data_ptr<int64_t>() + i * static_cast<int64_t>(segments_.size());
      for (size_t d = 0, o = 0; d < segments_.size(); o += segments_[d], ++d) {
        for (int64_t j = 0; j < segments_[d]; ++j) {
          if (p[o + j] == 0) continue;
          double v = g * ((j == act[d] ? 1.0 : 0.0) - p[o + j]);
          v += in.ent_coef * inv_b * p[o + j] * (logp[o + j] + seg_entropy[d]);
          dl[o + j] = static_cast<float>(v);
        }
      }
    }
    // Value loss.
    const double v = vf_.out[i];
    r.value_loss += (ret[i] - v) * (ret[i] - v) * inv_b;
    vf_.d_out[i] = static_cast<float>(in.vf_coef * 2.0 * (v - ret[i]) * inv_b);
  }
  pi_.Backward(x, B, D);
  vf_.Backward(x, B, D);
  if (gaussian_) {
    auto log_std = net_->log_std();
    float* gls = GradOf(log_std);
    for (int64_t j = 0; j < n; ++j) gls[j] = static_cast<float>(d_log_std[j] - in.ent_coef);
  }
  return r;
}

FastActorCriticUpdate::ActResult FastActorCriticUpdate::Act(const torch::Tensor& features, const torch::Tensor& masks,
                                                             torch::Generator* gen) {
  const int64_t B = features.size(0), D = features.size(1);
  const float* x = features.data_ptr<float>();
  pi_.Forward(x, B, D);
  vf_.Forward(x, B, D);
  const int64_t n = pi_.layers.back()->weight.size(0);
  ActResult r;
  r.value = torch::from_blob(vf_.out.data(), {B}, torch::kFloat32).clone();
  r.log_prob = torch::empty({B});
  float* lp = r.log_prob.data_ptr<float>();
  if (gaussian_) {
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
  const int64_t k = static_cast<int64_t>(segments_.size());
  const std::vector<int64_t> u_shape = k == 1 ? std::vector<int64_t>{B} : std::vector<int64_t>{B, k};
  auto u = gen ? at::rand(u_shape, *gen) : torch::rand(u_shape);
  const float* uu = u.data_ptr<float>();
  r.actions = k == 1 ? torch::empty({B}, torch::kLong) : torch::empty({B, k}, torch::kLong);
  int64_t* a = r.actions.data_ptr<int64_t>();
  const bool* m = masks.defined() ? masks.data_ptr<bool>() : nullptr;
  std::vector<double> p(n), logp(n);
  for (int64_t i = 0; i < B; ++i) {
    double total = 0;
    for (int64_t d = 0, o = 0; d < k; o += segments_[d], ++d) {
      SegmentSoftmax(pi_.out.data() + i * n + o, m ? m + i * n + o : nullptr, segments_[d], p.data(), logp.data());
      // Inverse CDF over the legal values.
      double c = 0;
      int64_t pick = -1, last_legal = 0;
      for (int64_t j = 0; j < segments_[d]; ++j) {
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
