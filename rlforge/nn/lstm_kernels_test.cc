// The hand-written LSTM sequence kernel against autograd through
// torch::nn::LSTM stepped one step at a time with the same resets.
#include "rlforge/nn/lstm_kernels.h"

#include <gtest/gtest.h>

#include "rlforge/nn/recurrent_policy.h"

namespace rlforge {
namespace {

TEST(LstmKernelsTest, ForwardAndGradientsMatchAutogradWithResets) {
  torch::manual_seed(3);
  const int64_t L = 7, B = 3, In = 5, H = 4;
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(In, H));
  auto p = lstm->named_parameters();
  const auto x = torch::randn({L, B, In}).requires_grad_(true);
  const auto h0 = torch::randn({B, H}).requires_grad_(true);
  const auto c0 = torch::randn({B, H}).requires_grad_(true);
  // Row 0 restarts at steps 2 and 5, row 2 at step 0, row 1 never.
  auto keep = torch::ones({L, B});
  keep[2][0] = 0, keep[5][0] = 0, keep[0][2] = 0;
  const auto w_out = torch::randn({L, B, H}), w_h = torch::randn({B, H}), w_c = torch::randn({B, H});

  // Reference: the module, one step at a time, the state scaled by keep.
  torch::Tensor h = h0.unsqueeze(0), c = c0.unsqueeze(0);
  std::vector<torch::Tensor> outs;
  for (int64_t t = 0; t < L; ++t) {
    const auto k = keep[t].reshape({1, B, 1});
    auto r = lstm->forward(x[t].unsqueeze(0), std::make_tuple(h * k, c * k));
    outs.push_back(std::get<0>(r)[0]);
    h = std::get<0>(std::get<1>(r));
    c = std::get<1>(std::get<1>(r));
  }
  const auto ref_out = torch::stack(outs);
  const auto ref_loss = (ref_out * w_out).sum() + (h[0] * w_h).sum() + (c[0] * w_c).sum();
  const std::vector<torch::Tensor> inputs = {x, h0, c0, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"],
                                             p["bias_hh_l0"]};
  const auto ref_grads = torch::autograd::grad({ref_loss}, inputs);

  auto [out, hT, cT] =
      LstmSequence(x, h0, c0, keep, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"]);
  EXPECT_TRUE(torch::allclose(out, ref_out, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(hT, h[0], 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(cT, c[0], 1e-5, 1e-6));
  const auto loss = (out * w_out).sum() + (hT * w_h).sum() + (cT * w_c).sum();
  const auto grads = torch::autograd::grad({loss}, inputs);
  const char* names[] = {"x", "h0", "c0", "weight_ih", "weight_hh", "bias_ih", "bias_hh"};
  for (size_t i = 0; i < grads.size(); ++i)
    EXPECT_TRUE(torch::allclose(grads[i], ref_grads[i], 1e-4, 1e-5))
        << names[i] << ": max difference " << (grads[i] - ref_grads[i]).abs().max().item<float>();
  // Row 2's reset at step 0 cuts h0 and c0 off entirely.
  EXPECT_EQ(grads[1][2].abs().sum().item<float>(), 0.0f);
  EXPECT_GT(grads[1][1].abs().sum().item<float>(), 0.0f);
}

// The recurrent network gives the same heads and parameter gradients with
// the kernel as through torch's LSTM, for two stacked layers.
TEST(LstmKernelsTest, RecurrentNetworkSameWithAndWithoutKernel) {
  RecurrentPolicyConfig c;
  c.rnn_hidden_size = 8;
  c.rnn_layers = 2;
  c.mlp.net_arch = {8};
  torch::manual_seed(5);
  RecurrentActorCritic fast(Space::Box(-1.0, 1.0, {3}), Space::Discrete(3), c);
  c.fast_lstm = false;
  RecurrentActorCritic slow(Space::Box(-1.0, 1.0, {3}), Space::Discrete(3), c);
  {
    torch::NoGradGuard g;
    auto ps = slow->parameters(), pf = fast->parameters();
    for (size_t i = 0; i < ps.size(); ++i) ps[i].copy_(pf[i]);
  }
  const auto obs = torch::randn({6, 4, 3});
  auto starts = torch::zeros({6, 4});
  starts[0].fill_(1), starts[3][1] = 1, starts[4][2] = 1;
  RecurrentState s0 = fast->InitialState(4);
  s0.pi_h.normal_(), s0.pi_c.normal_(), s0.vf_h.normal_(), s0.vf_c.normal_();
  const auto a = fast->Sequence(obs, starts, s0), b = slow->Sequence(obs, starts, s0);
  EXPECT_TRUE(torch::allclose(a.pi, b.pi, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(a.value, b.value, 1e-5, 1e-6));
  (a.pi.square().sum() + a.value.sum()).backward();
  (b.pi.square().sum() + b.value.sum()).backward();
  auto pf = fast->named_parameters(), ps = slow->named_parameters();
  for (const auto& item : pf) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_TRUE(torch::allclose(item.value().grad(), ps[item.key()].grad(), 1e-4, 1e-5)) << item.key();
  }
}

}  // namespace
}  // namespace rlforge
