#include "rlforge/runtime/policy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "rlforge/runtime/text.h"

// The kernels are compiled for AVX-512, AVX2 and a portable baseline; the
// loader picks the best the CPU has.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RLF_RT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RLF_RT_CLONES
#endif

namespace rlforge::runtime {

namespace {

// y[0..m) += a * x[0..m)
RLF_RT_CLONES void Axpy(float* y, const float* x, float a, int64_t m) {
  for (int64_t j = 0; j < m; ++j) y[j] += a * x[j];
}
RLF_RT_CLONES void AxpyInt8(float* y, const int8_t* x, float a, int64_t m) {
  for (int64_t j = 0; j < m; ++j) y[j] += a * static_cast<float>(x[j]);
}

// rows x [rows, in] -> y [rows, out] with wt [in, out] (float or int8 with
// per-output scales); four rows at a time so each weight row is read once
// per four.
RLF_RT_CLONES void LinearRows(const float* x, int64_t rows, int64_t in, int64_t out, const float* wt,
                              const int8_t* qt, const float* scale, const float* bias, float* y) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    float* y0 = y + r * out;
    float* y1 = y0 + out;
    float* y2 = y1 + out;
    float* y3 = y2 + out;
    std::fill(y0, y0 + 4 * out, 0.0f);
    const float* x0 = x + r * in;
    for (int64_t i = 0; i < in; ++i) {
      const float a0 = x0[i], a1 = x0[in + i], a2 = x0[2 * in + i], a3 = x0[3 * in + i];
      if (qt) {
        const int8_t* w = qt + i * out;
        for (int64_t j = 0; j < out; ++j) {
          const float wj = static_cast<float>(w[j]);
          y0[j] += a0 * wj, y1[j] += a1 * wj, y2[j] += a2 * wj, y3[j] += a3 * wj;
        }
      } else {
        const float* w = wt + i * out;
        for (int64_t j = 0; j < out; ++j) {
          const float wj = w[j];
          y0[j] += a0 * wj, y1[j] += a1 * wj, y2[j] += a2 * wj, y3[j] += a3 * wj;
        }
      }
    }
  }
  for (; r < rows; ++r) {
    float* yr = y + r * out;
    std::fill(yr, yr + out, 0.0f);
    const float* xr = x + r * in;
    for (int64_t i = 0; i < in; ++i) {
      if (xr[i] == 0.0f) continue;  // one-hot inputs and ReLU zeros
      if (qt) AxpyInt8(yr, qt + i * out, xr[i], out);
      else Axpy(yr, wt + i * out, xr[i], out);
    }
  }
  for (r = 0; r < rows; ++r) {
    float* yr = y + r * out;
    if (scale)
      for (int64_t j = 0; j < out; ++j) yr[j] = yr[j] * scale[j] + bias[j];
    else
      for (int64_t j = 0; j < out; ++j) yr[j] += bias[j];
  }
}

// y [out, P] = w [out, J] . col [J, P] (+ bias; int8: times the scale):
// four outputs at a time, so that each row of col is read once per four.
RLF_RT_CLONES void ConvOutputs(const float* col, int64_t J, int64_t P, int64_t out, const float* w, const int8_t* q,
                               const float* scale, const float* bias, float* y) {
  auto weight = [&](int64_t o, int64_t j) { return q ? static_cast<float>(q[o * J + j]) : w[o * J + j]; };
  int64_t o = 0;
  for (; o + 4 <= out; o += 4) {
    float* y0 = y + o * P;
    float* y1 = y0 + P;
    float* y2 = y1 + P;
    float* y3 = y2 + P;
    std::fill(y0, y0 + 4 * P, 0.0f);
    for (int64_t j = 0; j < J; ++j) {
      const float w0 = weight(o, j), w1 = weight(o + 1, j), w2 = weight(o + 2, j), w3 = weight(o + 3, j);
      const float* c = col + j * P;
      for (int64_t k = 0; k < P; ++k) {
        const float v = c[k];
        y0[k] += w0 * v, y1[k] += w1 * v, y2[k] += w2 * v, y3[k] += w3 * v;
      }
    }
  }
  for (; o < out; ++o) {
    float* yo = y + o * P;
    std::fill(yo, yo + P, 0.0f);
    for (int64_t j = 0; j < J; ++j) Axpy(yo, col + j * P, weight(o, j), P);
  }
  for (o = 0; o < out; ++o) {
    float* yo = y + o * P;
    const float sc = scale ? scale[o] : 1.0f;
    for (int64_t k = 0; k < P; ++k) yo[k] = yo[k] * sc + bias[o];
  }
}

// tanh as a rational function of x (odd polynomial of degree 13 over an even
// one of degree 6, the minimax fit Eigen uses; inputs clamped to +-7.905,
// where tanh is 1 in float32): at most 4e-7 from tanh, and a loop the
// compiler vectorizes (std::tanh is a call per element).
RLF_RT_CLONES void FastTanh(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = std::min(std::max(y[i], -7.90531110763549805f), 7.90531110763549805f);
    const float x2 = x * x;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 - 8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    y[i] = std::abs(y[i]) < 0.0004f ? y[i] : x * p / q;
  }
}

RLF_RT_CLONES void Relu(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}

void Activate(Activation a, float* y, int64_t n) {
  if (a == Activation::kRelu) Relu(y, n);
  else if (a == Activation::kTanh) FastTanh(y, n);
}

uint64_t SplitMix(uint64_t* s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

Policy Policy::Load(const std::string& path) { return Policy(runtime::Load(path)); }

Policy::Policy(Model model) : model_(std::move(model)) {
  model_.Validate();
  try {
    Prepare();
    Seed(0);
    EnsureCapacity(1);
  } catch (const std::bad_alloc&) {
    throw Error(Cat("the model does not fit in memory (", widest_, " values per layer output, ", col_size_,
                    " per im2col buffer)"));
  }
}

Policy::Policy(const Policy& other) : Policy(other.model_) {
  std::copy(std::begin(other.rng_), std::end(other.rng_), std::begin(rng_));
  conditional_mask_ = other.conditional_mask_;
  if (other.capacity_ > capacity_) EnsureCapacity(other.capacity_);
  state_ = other.state_;
}

Policy& Policy::operator=(const Policy& other) {
  if (this != &other) *this = Policy(other);
  return *this;
}

void Policy::Prepare() {
  auto prepare = [&](const std::vector<Layer>& chain, std::vector<Prepared>* out) {
    for (const Layer& l : chain) {
      Prepared p{&l, {}, {}};
      widest_ = std::max(widest_, l.output_size());
      if (l.kind == LayerKind::kLinear) {
        // [out, in] -> [in, out]
        if (l.quantized()) {
          p.q.resize(l.qweight.size());
          for (int64_t o = 0; o < l.out; ++o)
            for (int64_t i = 0; i < l.in; ++i) p.q[i * l.out + o] = l.qweight[o * l.in + i];
        } else {
          p.w.resize(l.weight.size());
          for (int64_t o = 0; o < l.out; ++o)
            for (int64_t i = 0; i < l.in; ++i) p.w[i * l.out + o] = l.weight[o * l.in + i];
        }
      } else {
        p.w = l.weight;  // already [out, in * k * k]
        p.q = l.qweight;
        col_size_ = std::max(col_size_, l.in * l.kernel * l.kernel * l.out_h() * l.out_w());
      }
      out->push_back(std::move(p));
    }
  };
  int64_t features = model_.obs_kind == ObsKind::kDiscrete ? model_.obs_n : 0;
  for (int64_t n : model_.obs_nvec) features += n;
  if (model_.obs_kind == ObsKind::kBox || model_.obs_kind == ObsKind::kImage) features = model_.obs_size();
  widest_ = std::max(features, model_.outputs_size());
  prepare(model_.encoder, &encoder_);
  prepare(model_.shared, &shared_);
  prepare(model_.policy, &policy_);
  prepare(model_.value, &value_);
  prepare(model_.rnn, &rnn_);  // its outputs go to the core's own buffers
}

void Policy::EnsureCapacity(int64_t n) {
  if (n <= capacity_) return;
  const auto rows = static_cast<size_t>(n * widest_);
  for (auto* v : {&in_, &a_, &b_, &c_, &d_}) v->resize(rows);
  col_.resize(static_cast<size_t>(col_size_));
  q_.resize(static_cast<size_t>(n * std::max<int64_t>(model_.mask_size(), 1)));
  prefix_.resize(static_cast<size_t>(std::max<int64_t>(model_.action_size(), 1)));
  int64_t widest_dim = 1;
  for (int64_t v : model_.nvec) widest_dim = std::max(widest_dim, v);
  dim_mask_.resize(static_cast<size_t>(widest_dim));
  if (model_.recurrent()) {
    const auto H = static_cast<size_t>(n * model_.rnn_hidden);
    state_.resize(static_cast<size_t>(n * model_.state_size()), 0.0f);  // new rows start at zero
    gi_.resize(H * (model_.rnn_kind == RnnKind::kLstm ? 4 : 3));
    gh_.resize(gi_.size());
    for (auto* v : {&hin_, &core_a_, &core_b_}) v->resize(H);
    saved_.resize(state_.size());
  }
  capacity_ = n;
}

void Policy::ResetState() { std::fill(state_.begin(), state_.end(), 0.0f); }

void Policy::ResetState(int64_t row) {
  if (!recurrent()) return;
  if (row < 0 || row >= (int64_t{1} << 20)) throw Error(Cat("ResetState: row ", row, " out of range"));
  if (row >= capacity_) return;  // never stepped: already zero when it is
  const int64_t S = state_size();
  std::fill(state_.begin() + row * S, state_.begin() + (row + 1) * S, 0.0f);
}

void Policy::GetState(int64_t n, float* state) const {
  CheckRows(n);
  const int64_t S = state_size();
  const int64_t have = std::min(n, capacity_);
  std::copy_n(state_.data(), have * S, state);
  std::fill(state + have * S, state + n * S, 0.0f);
}

void Policy::SetState(int64_t n, const float* state) {
  CheckRows(n);
  if (!recurrent()) return;
  EnsureCapacity(n);
  const int64_t S = state_size();
  for (int64_t i = 0; i < n * S; ++i)
    if (!std::isfinite(state[i])) throw Error(Cat("SetState: value ", i % S, " of row ", i / S, " is not finite"));
  std::copy_n(state, n * S, state_.data());
}

const float* Policy::Core(const float* x, int64_t n) {
  const int64_t H = model_.rnn_hidden, L = model_.rnn_layers(), S = state_size();
  const bool lstm = model_.rnn_kind == RnnKind::kLstm;
  const int64_t G = (lstm ? 4 : 3) * H;
  auto sigmoid = [](float v) { return 1.0f / (1.0f + std::exp(-v)); };
  float* out = core_a_.data();
  for (int64_t l = 0; l < L; ++l) {
    const Prepared& ih = rnn_[2 * l];
    const Prepared& hh = rnn_[2 * l + 1];
    // The rows' h of this layer, gathered: [n, H].
    for (int64_t r = 0; r < n; ++r) std::copy_n(state_.data() + r * S + l * H, H, hin_.data() + r * H);
    LinearRows(x, n, ih.layer->in, G, ih.w.data(), nullptr, nullptr, ih.layer->bias.data(), gi_.data());
    LinearRows(hin_.data(), n, H, G, hh.w.data(), nullptr, nullptr, hh.layer->bias.data(), gh_.data());
    for (int64_t r = 0; r < n; ++r) {
      const float* a = gi_.data() + r * G;
      const float* b = gh_.data() + r * G;
      float* h = state_.data() + r * S + l * H;
      float* o = out + r * H;
      if (lstm) {
        float* c = state_.data() + r * S + (L + l) * H;
        for (int64_t j = 0; j < H; ++j) {
          const float i = sigmoid(a[j] + b[j]), f = sigmoid(a[H + j] + b[H + j]);
          const float g = std::tanh(a[2 * H + j] + b[2 * H + j]), og = sigmoid(a[3 * H + j] + b[3 * H + j]);
          c[j] = f * c[j] + i * g;
          o[j] = h[j] = og * std::tanh(c[j]);
        }
      } else {
        for (int64_t j = 0; j < H; ++j) {
          const float rg = sigmoid(a[j] + b[j]), z = sigmoid(a[H + j] + b[H + j]);
          const float nn = std::tanh(a[2 * H + j] + rg * b[2 * H + j]);
          o[j] = h[j] = (1.0f - z) * nn + z * h[j];
        }
      }
    }
    x = out;
    out = out == core_a_.data() ? core_b_.data() : core_a_.data();
  }
  return x;
}

void Policy::Reserve(int64_t n) {
  CheckRows(n);
  EnsureCapacity(n);
}

void Policy::CheckRows(int64_t n) const {
  if (n < 1 || n > (int64_t{1} << 20)) throw Error(Cat("batch of ", n, " rows; 1 to 1048576 are accepted"));
}

void Policy::Seed(uint64_t seed) {
  uint64_t s = seed;
  for (auto& r : rng_) r = SplitMix(&s);
}

double Policy::Uniform() {
  // xoshiro256**
  const uint64_t result = ((rng_[1] * 5) << 7 | (rng_[1] * 5) >> 57) * 9;
  const uint64_t t = rng_[1] << 17;
  rng_[2] ^= rng_[0], rng_[3] ^= rng_[1], rng_[1] ^= rng_[2], rng_[0] ^= rng_[3];
  rng_[2] ^= t;
  rng_[3] = (rng_[3] << 45) | (rng_[3] >> 19);
  return static_cast<double>(result >> 11) * 0x1.0p-53;
}

double Policy::Normal() {
  // Box-Muller, one draw per call (simple, and exact per seed).
  const double u1 = 1.0 - Uniform(), u2 = Uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

void Policy::Preprocess(const float* obs, int64_t n, float* out) const {
  const Model& m = model_;
  const int64_t d = m.obs_size();
  // A NaN or infinite observation would give an arbitrary action: refused,
  // as Python's predict and the server refuse it (Discrete ones below).
  if (m.obs_kind == ObsKind::kBox || m.obs_kind == ObsKind::kImage)
    for (int64_t j = 0; j < n * d; ++j)
      if (!std::isfinite(obs[j]))
        throw Error(Cat("observation value ", j % d, " of row ", j / d, " is ", obs[j], " (not finite)"));
  switch (m.obs_kind) {
    case ObsKind::kBox:
      if (m.obs_mean.empty()) {
        std::memcpy(out, obs, static_cast<size_t>(n * d) * sizeof(float));
      } else {
        const auto clip = static_cast<float>(m.obs_clip), eps = static_cast<float>(m.obs_eps);
        for (int64_t r = 0; r < n; ++r)
          for (int64_t i = 0; i < d; ++i) {
            const float x = (obs[r * d + i] - m.obs_mean[i]) / std::sqrt(m.obs_var[i] + eps);
            out[r * d + i] = std::min(std::max(x, -clip), clip);
          }
      }
      return;
    case ObsKind::kDiscrete:
      std::fill(out, out + n * m.obs_n, 0.0f);
      for (int64_t r = 0; r < n; ++r) {
        const float v = obs[r];
        const double k = static_cast<double>(v) - static_cast<double>(m.obs_start);
        if (!(k >= 0 && k < static_cast<double>(m.obs_n)) || k != std::floor(k))
          throw Error(Cat("observation ", v, " of row ", r, " is not in Discrete(", m.obs_n, ", start=", m.obs_start,
                          ")"));
        out[r * m.obs_n + static_cast<int64_t>(k)] = 1.0f;
      }
      return;
    case ObsKind::kMultiDiscrete: {
      int64_t width = 0;
      for (int64_t v : m.obs_nvec) width += v;
      std::fill(out, out + n * width, 0.0f);
      for (int64_t r = 0; r < n; ++r) {
        int64_t offset = 0;
        for (size_t j = 0; j < m.obs_nvec.size(); ++j) {
          const float v = obs[r * d + static_cast<int64_t>(j)];
          if (!(v >= 0 && v < static_cast<float>(m.obs_nvec[j])) || v != std::floor(v))
            throw Error(Cat("observation value ", v, " of row ", r, " dimension ", j, " is not in [0, ",
                            m.obs_nvec[j], ")"));
          out[r * width + offset + static_cast<int64_t>(v)] = 1.0f;
          offset += m.obs_nvec[j];
        }
      }
      return;
    }
    case ObsKind::kImage: {
      const int64_t c = m.channels_last ? m.obs_shape[2] : m.obs_shape[0];
      const int64_t hw = d / c;
      for (int64_t r = 0; r < n; ++r) {
        const float* in = obs + r * d;
        float* o = out + r * d;
        if (!m.channels_last) {
          for (int64_t k = 0; k < d; ++k) o[k] = in[k] / 255.0f;
        } else {
          for (int64_t p = 0; p < hw; ++p)
            for (int64_t ch = 0; ch < c; ++ch) o[ch * hw + p] = in[p * c + ch] / 255.0f;
        }
      }
      return;
    }
  }
}

const float* Policy::RunChain(const std::vector<Prepared>& chain, const float* in, int64_t n, float* a, float* b) {
  const float* x = in;
  for (const Prepared& p : chain) {
    const Layer& l = *p.layer;
    float* y = (x == a) ? b : a;
    if (l.kind == LayerKind::kLinear) {
      LinearRows(x, n, l.in, l.out, p.w.empty() ? nullptr : p.w.data(), p.q.empty() ? nullptr : p.q.data(),
                 l.quantized() ? l.qscale.data() : nullptr, l.bias.data(), y);
    } else {
      const int64_t k = l.kernel, s = l.stride, oh = l.out_h(), ow = l.out_w(), P = oh * ow, J = l.in * k * k;
      const int64_t in_size = l.input_size(), out_size = l.output_size();
      for (int64_t r = 0; r < n; ++r) {
        const float* xr = x + r * in_size;
        float* col = col_.data();
        for (int64_t c = 0; c < l.in; ++c)
          for (int64_t ki = 0; ki < k; ++ki)
            for (int64_t kj = 0; kj < k; ++kj) {
              float* dst = col + ((c * k + ki) * k + kj) * P;
              for (int64_t i = 0; i < oh; ++i) {
                const float* src = xr + (c * l.in_h + i * s + ki) * l.in_w + kj;
                for (int64_t j = 0; j < ow; ++j) dst[i * ow + j] = src[j * s];
              }
            }
        float* yr = y + r * out_size;
        if (l.quantized()) ConvOutputs(col, J, P, l.out, nullptr, p.q.data(), l.qscale.data(), l.bias.data(), yr);
        else ConvOutputs(col, J, P, l.out, p.w.data(), nullptr, nullptr, l.bias.data(), yr);
      }
    }
    Activate(l.activation, y, n * l.output_size());
    x = y;
  }
  return x;
}

void Policy::Forward(const float* obs, int64_t n, bool want_value) {
  CheckRows(n);
  EnsureCapacity(n);
  Preprocess(obs, n, in_.data());
  const float* trunk = RunChain(encoder_, in_.data(), n, a_.data(), b_.data());
  if (model_.encoder_minmax) {
    // The encoder's output lies in a_ or b_ (it is not empty): scale in place.
    float* s = const_cast<float*>(trunk);
    const int64_t w = model_.encoder.back().output_size();
    for (int64_t r = 0; r < n; ++r) {
      float* row = s + r * w;
      float lo = row[0], hi = row[0];
      for (int64_t i = 1; i < w; ++i) lo = std::min(lo, row[i]), hi = std::max(hi, row[i]);
      const float span = std::max(hi - lo, 1e-5f);
      for (int64_t i = 0; i < w; ++i) row[i] = (row[i] - lo) / span;
    }
  }
  if (model_.recurrent()) {
    // Kept until the call succeeds (Unstep on a failure after this point).
    std::copy_n(state_.data(), n * state_size(), saved_.data());
    trunk = Core(trunk, n);
  }
  trunk = RunChain(shared_, trunk, n, trunk == a_.data() ? b_.data() : a_.data(), c_.data());
  // The trunk lies in in_, a_, b_, c_ or a core buffer; the chains after it
  // use the others.
  float* free1 = d_.data();
  float* free2 = nullptr;
  for (float* f : {a_.data(), b_.data(), c_.data(), in_.data()})
    if (f != trunk && !free2) free2 = f;
  pi_ = RunChain(policy_, trunk, n, free1, free2);
  if (want_value && !value_.empty()) {
    // The policy's output is in free1 or free2 (or is the trunk); keep it.
    float* v1 = nullptr;
    float* v2 = nullptr;
    for (float* f : {in_.data(), a_.data(), b_.data(), c_.data(), d_.data()}) {
      if (f == trunk || f == pi_) continue;
      if (!v1) v1 = f;
      else if (!v2) v2 = f;
    }
    v_ = RunChain(value_, trunk, n, v1, v2);
  }
}

void Policy::Unstep(int64_t n) {
  if (recurrent()) std::copy_n(saved_.data(), n * state_size(), state_.data());
}

void Policy::QValues(const float* out, int64_t n, float* q) const {
  const Model& m = model_;
  const int64_t A = m.num_actions, w = m.outputs_size();
  for (int64_t r = 0; r < n; ++r) {
    const float* o = out + r * w;
    float* qr = q + r * A;
    if (m.dueling) {
      double mean = 0;
      for (int64_t a = 0; a < A; ++a) mean += o[1 + a];
      mean /= static_cast<double>(A);
      for (int64_t a = 0; a < A; ++a) qr[a] = static_cast<float>(o[0] + o[1 + a] - mean);
    } else if (m.quantiles > 1) {
      for (int64_t a = 0; a < A; ++a) {
        double s = 0;
        for (int64_t k = 0; k < m.quantiles; ++k) s += o[a * m.quantiles + k];
        qr[a] = static_cast<float>(s / static_cast<double>(m.quantiles));
      }
    } else {
      std::copy_n(o, A, qr);
    }
  }
}

int64_t Policy::PickCategorical(const float* logits, int64_t width, const uint8_t* mask, bool deterministic) {
  int64_t best = -1;
  for (int64_t j = 0; j < width; ++j)
    if ((!mask || mask[j]) && (best < 0 || logits[j] > logits[best])) best = j;
  if (best < 0) throw Error("the mask leaves no legal action");
  if (deterministic) return best;
  const double mx = logits[best];
  double sum = 0;
  for (int64_t j = 0; j < width; ++j)
    if (!mask || mask[j]) sum += std::exp(logits[j] - mx);
  const double u = Uniform() * sum;
  double c = 0;
  int64_t last = best;
  for (int64_t j = 0; j < width; ++j) {
    if (mask && !mask[j]) continue;
    c += std::exp(logits[j] - mx);
    last = j;
    if (u < c) return j;
  }
  return last;
}

int64_t Policy::Act(const float* obs, const uint8_t* mask, bool deterministic) {
  if (model_.head == HeadKind::kGaussian || model_.head == HeadKind::kMultiCategorical)
    throw Error(Cat("Act(obs, mask) returns one Discrete action; this policy's head is ",
                    model_.head == HeadKind::kGaussian ? "gaussian" : "multi_categorical",
                    ": use the batch form"));
  int64_t a;
  Act(obs, 1, mask, &a, deterministic);
  return a;
}

void Policy::Act(const float* obs, int64_t n, const uint8_t* masks, int64_t* actions, bool deterministic) {
  const Model& m = model_;
  if (m.head == HeadKind::kGaussian) throw Error("this policy has Box actions: call Act(obs, n, float* actions)");
  Forward(obs, n, false);
  try {
    PickActions(n, masks, actions, deterministic);
  } catch (...) {
    Unstep(n);  // a refused call leaves the states as they were
    throw;
  }
}

void Policy::PickActions(int64_t n, const uint8_t* masks, int64_t* actions, bool deterministic) {
  const Model& m = model_;
  const int64_t w = m.outputs_size(), ms = m.mask_size();
  switch (m.head) {
    case HeadKind::kCategorical:
      for (int64_t r = 0; r < n; ++r)
        actions[r] = PickCategorical(pi_ + r * w, w, masks ? masks + r * ms : nullptr, deterministic) + m.action_start;
      return;
    case HeadKind::kQValues:
      QValues(pi_, n, q_.data());
      for (int64_t r = 0; r < n; ++r)
        actions[r] = PickCategorical(q_.data() + r * m.num_actions, m.num_actions, masks ? masks + r * ms : nullptr,
                                     true) + m.action_start;
      return;
    case HeadKind::kMultiCategorical: {
      const int64_t k = static_cast<int64_t>(m.nvec.size());
      for (int64_t r = 0; r < n; ++r) {
        int64_t* a = actions + r * k;
        for (int64_t d = 0, o = 0; d < k; o += m.nvec[d], ++d) {
          const uint8_t* mask = masks ? masks + r * ms + o : nullptr;
          if (conditional_mask_) {
            conditional_mask_(r, a, static_cast<int>(d), dim_mask_.data());
            mask = dim_mask_.data();
          }
          try {
            a[d] = PickCategorical(pi_ + r * w + o, m.nvec[d], mask, deterministic);
          } catch (const Error&) {
            throw Error(Cat("row ", r, ": the mask leaves no legal value in action dimension ", d));
          }
        }
      }
      return;
    }
    case HeadKind::kGaussian: break;
  }
}

void Policy::Act(const float* obs, int64_t n, float* actions, bool deterministic) {
  const Model& m = model_;
  if (m.head != HeadKind::kGaussian) throw Error("this policy has Discrete actions: call Act(obs, n, masks, int64_t*)");
  Forward(obs, n, false);
  const int64_t d = m.action_size();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i) {
      float a = pi_[r * d + i];
      if (!deterministic) a += std::exp(m.log_std[i]) * static_cast<float>(Normal());
      actions[r * d + i] = std::min(std::max(a, m.low[i]), m.high[i]);
    }
}

void Policy::Values(const float* obs, int64_t n, float* values) {
  if (!model_.has_value()) throw Error(Cat("this ", model_.algo, " policy has no value head"));
  Forward(obs, n, true);
  const int64_t S = model_.value_support;
  if (S == 0) {
    std::copy_n(v_, n, values);
    return;
  }
  // Logits over -S..S: the expectation under their softmax, then h^-1.
  const double eps = model_.value_eps;
  for (int64_t r = 0; r < n; ++r) {
    const float* l = v_ + r * (2 * S + 1);
    double mx = l[0], sum = 0, y = 0;
    for (int64_t i = 1; i <= 2 * S; ++i) mx = std::max<double>(mx, l[i]);
    for (int64_t i = 0; i <= 2 * S; ++i) {
      const double e = std::exp(l[i] - mx);
      sum += e, y += e * static_cast<double>(i - S);
    }
    y /= sum;
    const double t = (std::sqrt(1.0 + 4.0 * eps * (std::abs(y) + 1.0 + eps)) - 1.0) / (2.0 * eps);
    values[r] = static_cast<float>((y > 0 ? 1.0 : y < 0 ? -1.0 : 0.0) * (t * t - 1.0));
  }
}

void Policy::Outputs(const float* obs, int64_t n, float* outputs) {
  Forward(obs, n, false);
  std::copy_n(pi_, n * model_.outputs_size(), outputs);
}

void Policy::Scores(const float* obs, int64_t n, const uint8_t* masks, float* scores) {
  const Model& m = model_;
  if (m.head == HeadKind::kGaussian) throw Error("a gaussian head has no action scores: use Outputs");
  Forward(obs, n, false);
  if (m.head == HeadKind::kQValues) {
    QValues(pi_, n, scores);
    return;
  }
  try {
    Probabilities(n, masks, scores);
  } catch (...) {
    Unstep(n);
    throw;
  }
}

void Policy::Probabilities(int64_t n, const uint8_t* masks, float* scores) {
  const Model& m = model_;
  const int64_t w = m.outputs_size();
  // Categorical: one block of w; multi_categorical: one block per dimension.
  const size_t blocks = m.head == HeadKind::kCategorical ? 1 : m.nvec.size();
  for (int64_t r = 0; r < n; ++r)
    for (size_t d = 0, o = 0; d < blocks; ++d) {
      const int64_t width = m.head == HeadKind::kCategorical ? w : m.nvec[d];
      const float* l = pi_ + r * w + o;
      const uint8_t* mask = masks ? masks + r * w + o : nullptr;
      float* p = scores + r * w + o;
      double mx = -std::numeric_limits<double>::infinity(), sum = 0;
      for (int64_t j = 0; j < width; ++j)
        if (!mask || mask[j]) mx = std::max<double>(mx, l[j]);
      if (!std::isfinite(mx)) throw Error(Cat("row ", r, ": the mask leaves no legal action"));
      for (int64_t j = 0; j < width; ++j) sum += p[j] = (!mask || mask[j]) ? static_cast<float>(std::exp(l[j] - mx)) : 0.0f;
      for (int64_t j = 0; j < width; ++j) p[j] = static_cast<float>(p[j] / sum);
      o += static_cast<size_t>(width);
    }
}

}  // namespace rlforge::runtime
