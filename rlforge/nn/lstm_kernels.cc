#include "rlforge/nn/lstm_kernels.h"

#include <cmath>

namespace rlforge {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

inline float Sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

struct LstmSequenceFunction : public torch::autograd::Function<LstmSequenceFunction> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& h0,
                               const torch::Tensor& c0, const torch::Tensor& keep, const torch::Tensor& w_ih,
                               const torch::Tensor& w_hh, const torch::Tensor& b_ih, const torch::Tensor& b_hh) {
    const int64_t L = x.size(0), B = x.size(1), H = w_hh.size(1);
    // Every step's input projection (and both biases) in one product.
    const torch::Tensor xg = torch::addmm(b_ih + b_hh, x.reshape({L * B, -1}), w_ih.t()).reshape({L, B, 4 * H});
    const torch::Tensor w_hh_t = w_hh.t().contiguous();
    // Saved for the backward pass: the gates after their nonlinearity
    // [i f g o], the state after the reset (h', c') and tanh(c).
    torch::Tensor acts = torch::empty({L, B, 4 * H});
    torch::Tensor hp = torch::empty({L, B, H}), cp = torch::empty({L, B, H}), tc = torch::empty({L, B, H});
    torch::Tensor out = torch::empty({L, B, H});
    torch::Tensor c = c0.clone();
    const float* kp = keep.data_ptr<float>();
    const float* h_prev = h0.data_ptr<float>();
    float* cv = c.data_ptr<float>();
    for (int64_t t = 0; t < L; ++t) {
      float* hpt = hp.data_ptr<float>() + t * B * H;
      float* cpt = cp.data_ptr<float>() + t * B * H;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < H; ++j) {
          hpt[b * H + j] = kp[t * B + b] * h_prev[b * H + j];
          cpt[b * H + j] = kp[t * B + b] * cv[b * H + j];
        }
      torch::Tensor a = acts[t];
      torch::addmm_out(a, xg[t], hp[t], w_hh_t);
      float* ap = a.data_ptr<float>();
      float* tct = tc.data_ptr<float>() + t * B * H;
      float* ht = out.data_ptr<float>() + t * B * H;
      for (int64_t b = 0; b < B; ++b) {
        float* row = ap + b * 4 * H;
        for (int64_t j = 0; j < H; ++j) {
          const float i = Sigmoid(row[j]), f = Sigmoid(row[H + j]), g = std::tanh(row[2 * H + j]),
                      o = Sigmoid(row[3 * H + j]);
          row[j] = i, row[H + j] = f, row[2 * H + j] = g, row[3 * H + j] = o;
          const float cn = f * cpt[b * H + j] + i * g;
          cv[b * H + j] = cn;
          tct[b * H + j] = std::tanh(cn);
          ht[b * H + j] = o * tct[b * H + j];
        }
      }
      h_prev = ht;
    }
    ctx->save_for_backward({x, keep, w_ih, w_hh, acts, hp, cp, tc});
    return {out, out[L - 1].clone(), c};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &keep = saved[1], &w_ih = saved[2], &w_hh = saved[3], &acts = saved[4],
                        &hp = saved[5], &cp = saved[6], &tc = saved[7];
    const int64_t L = x.size(0), B = x.size(1), H = w_hh.size(1);
    const torch::Tensor d_out = grads[0].defined() ? grads[0].contiguous() : torch::zeros({L, B, H});
    torch::Tensor dh = grads[1].defined() ? grads[1].contiguous().clone() : torch::zeros({B, H});
    torch::Tensor dc = grads[2].defined() ? grads[2].contiguous().clone() : torch::zeros({B, H});
    torch::Tensor d_gates = torch::empty({L, B, 4 * H});
    torch::Tensor dh_prev = torch::empty({B, H});
    const float* kp = keep.data_ptr<float>();
    float* dhp = dh.data_ptr<float>();
    float* dcp = dc.data_ptr<float>();
    for (int64_t t = L - 1; t >= 0; --t) {
      const float* ap = acts.data_ptr<float>() + t * B * 4 * H;
      const float* tct = tc.data_ptr<float>() + t * B * H;
      const float* cpt = cp.data_ptr<float>() + t * B * H;
      const float* dot = d_out.data_ptr<float>() + t * B * H;
      float* dg = d_gates.data_ptr<float>() + t * B * 4 * H;
      for (int64_t b = 0; b < B; ++b) {
        const float k = kp[t * B + b];
        for (int64_t j = 0; j < H; ++j) {
          const int64_t e = b * H + j;
          const float* row = ap + b * 4 * H;
          const float i = row[j], f = row[H + j], g = row[2 * H + j], o = row[3 * H + j];
          const float d_h = dhp[e] + dot[e];
          // h = o tanh(c): dc += dh o (1 - tanh^2 c), do = dh tanh c.
          const float d_c = dcp[e] + d_h * o * (1.0f - tct[e] * tct[e]);
          float* drow = dg + b * 4 * H;
          drow[j] = d_c * g * i * (1.0f - i);
          drow[H + j] = d_c * cpt[e] * f * (1.0f - f);
          drow[2 * H + j] = d_c * i * (1.0f - g * g);
          drow[3 * H + j] = d_h * tct[e] * o * (1.0f - o);
          // Through the reset: the previous c entered as keep_t times itself.
          dcp[e] = d_c * f * k;
        }
      }
      torch::mm_out(dh_prev, d_gates[t], w_hh);
      const float* dp = dh_prev.data_ptr<float>();
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < H; ++j) dhp[b * H + j] = dp[b * H + j] * kp[t * B + b];
    }
    const torch::Tensor dg2 = d_gates.reshape({L * B, 4 * H});
    const torch::Tensor d_w_ih = torch::mm(dg2.t(), x.reshape({L * B, -1}));
    const torch::Tensor d_w_hh = torch::mm(dg2.t(), hp.reshape({L * B, H}));
    const torch::Tensor d_b = dg2.sum(0);
    const torch::Tensor d_x = torch::mm(dg2, w_ih).reshape(x.sizes());
    return {d_x, dh, dc, torch::Tensor(), d_w_ih, d_w_hh, d_b, d_b.clone()};
  }
};

}  // namespace

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> LstmSequence(
    const torch::Tensor& x, const torch::Tensor& h0, const torch::Tensor& c0, const torch::Tensor& keep,
    const torch::Tensor& w_ih, const torch::Tensor& w_hh, const torch::Tensor& b_ih, const torch::Tensor& b_hh) {
  TORCH_CHECK(x.is_cpu() && w_ih.is_cpu() && x.scalar_type() == torch::kFloat32,
              "LstmSequence: float32 CPU tensors only (use fast_update: false elsewhere)");
  auto out = LstmSequenceFunction::apply(x.contiguous(), h0.contiguous(), c0.contiguous(),
                                         keep.to(torch::kFloat32).contiguous(), w_ih, w_hh, b_ih, b_hh);
  return {out[0], out[1], out[2]};
}

}  // namespace rlforge
