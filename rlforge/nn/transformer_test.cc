#include "rlforge/nn/transformer.h"

#include <gtest/gtest.h>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

TransformerLM SmallModel(int64_t context = 24) {
  torch::manual_seed(3);
  TransformerConfig c;
  c.vocab_size = 20;
  c.context = context;
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = 4;
  TransformerLM m(c);
  m->eval();
  return m;
}

TEST(Transformer, ParameterCount) {
  TransformerConfig c;
  c.vocab_size = 98;
  c.context = 16;
  c.d_model = 128;
  c.n_layers = 2;
  TransformerLM m(c);
  int64_t n = 0;
  for (const auto& p : m->parameters()) n += p.numel();
  EXPECT_EQ(n, c.NumParameters());
  EXPECT_THROW(TransformerLM(TransformerConfig{98, 16, 30, 2, 4, 0}), InvalidArgument);  // 30 % 4 != 0
}

// A token's hidden state depends only on the tokens at or before it: a row's
// states alone equal its states inside a left-padded batch with a longer row,
// and changing a later token leaves the earlier states unchanged.
TEST(Transformer, CausalAndPaddingInvariant) {
  TransformerLM m = SmallModel();
  torch::NoGradGuard no_grad;
  std::vector<int64_t> a = {1, 5, 6, 7}, b = {1, 9, 8, 7, 6, 5, 4};
  PaddedBatch alone = LeftPad({a}, 0), both = LeftPad({a, b}, 0);
  torch::Tensor ha = m->Hidden(alone.tokens, alone.positions, alone.valid)[0];
  torch::Tensor hb = m->Hidden(both.tokens, both.positions, both.valid)[0].narrow(0, 3, 4);
  EXPECT_TRUE(torch::allclose(ha, hb, 1e-5, 1e-5)) << (ha - hb).abs().max();
  torch::Tensor t2 = alone.tokens.clone();
  t2[0][3] = 11;
  torch::Tensor h2 = m->Hidden(t2, alone.positions, alone.valid)[0];
  EXPECT_TRUE(torch::allclose(ha.narrow(0, 0, 3), h2.narrow(0, 0, 3), 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(ha[3], h2[3], 1e-3, 1e-3));
  EXPECT_TRUE(torch::isfinite(m->Hidden(both.tokens, both.positions, both.valid)).all().item<bool>());
}

// The KV cache computes the same numbers as recomputing the prefix: the
// states of a sequence fed one column at a time equal those of one pass, and
// generation with and without the cache writes the same tokens (greedy and
// sampled with equal generators), stopping rows at the stop token.
TEST(Transformer, KvCacheEqualsRecompute) {
  TransformerLM m = SmallModel();
  torch::NoGradGuard no_grad;
  PaddedBatch p = LeftPad({{1, 4, 5}, {1, 6, 7, 8, 9}}, 0);
  torch::Tensor full = m->Hidden(p.tokens, p.positions, p.valid);
  KvCache cache;
  torch::Tensor first = m->Hidden(p.tokens.narrow(1, 0, 2), p.positions.narrow(1, 0, 2), p.valid.narrow(1, 0, 2), &cache);
  std::vector<torch::Tensor> cols = {first};
  for (int64_t j = 2; j < 5; ++j)
    cols.push_back(m->Hidden(p.tokens.narrow(1, j, 1), p.positions.narrow(1, j, 1), p.valid.narrow(1, j, 1), &cache));
  torch::Tensor stepped = torch::cat(cols, 1);
  EXPECT_TRUE(torch::allclose(full.masked_select(p.valid.unsqueeze(-1)), stepped.masked_select(p.valid.unsqueeze(-1)),
                              1e-5, 1e-5));
  EXPECT_EQ(cache.length(), 5);
  std::vector<std::vector<int64_t>> prompts = {{1, 4}, {1, 6, 7, 8}, {1, 3, 3, 3, 3, 3}};
  for (double temperature : {0.0, 1.0}) {
    SamplingConfig s;
    s.temperature = temperature;
    torch::Generator g1 = at::detail::createCPUGenerator(11), g2 = at::detail::createCPUGenerator(11);
    torch::Tensor with = Generate(m, prompts, 12, s, g1, 2, 2, 0, true);
    torch::Tensor without = Generate(m, prompts, 12, s, g2, 2, 2, 0, false);
    EXPECT_TRUE(torch::equal(with, without)) << with << without;
    // After a row's stop token only padding follows.
    auto w = with.accessor<int64_t, 2>();
    for (int64_t i = 0; i < with.size(0); ++i) {
      bool stopped = false;
      for (int64_t j = 0; j < with.size(1); ++j) {
        if (stopped) EXPECT_EQ(w[i][j], 0);
        else EXPECT_GE(w[i][j], 2);
        stopped = stopped || w[i][j] == 2;
      }
    }
  }
  torch::Generator g = at::detail::createCPUGenerator(1);
  EXPECT_THROW(Generate(m, prompts, 30, SamplingConfig{}, g, 2, 2, 0), InvalidArgument);  // beyond the context
  EXPECT_THROW(Generate(m, {{1, 4}, {}}, 3, SamplingConfig{}, g, 2, 2, 0), InvalidArgument);  // an empty prompt
}

TEST(Transformer, SamplingSettings) {
  torch::Tensor logits = torch::log(torch::tensor({{0.5, 0.3, 0.15, 0.05}})).expand({20000, 4}).contiguous();
  torch::Generator g = at::detail::createCPUGenerator(5);
  SamplingConfig s;
  torch::Tensor x = SampleLogits(logits, s, g);
  const double probs[4] = {0.5, 0.3, 0.15, 0.05};
  for (int k = 0; k < 4; ++k) EXPECT_NEAR((x == k).to(torch::kFloat64).mean().item<double>(), probs[k], 0.015);
  s.top_k = 1;
  EXPECT_TRUE((SampleLogits(logits, s, g) == 0).all().item<bool>());
  s.top_k = 0;
  s.top_p = 0.7;  // {0.5, 0.3} reach 0.7: renormalized to 0.625, 0.375
  x = SampleLogits(logits, s, g);
  EXPECT_TRUE((x <= 1).all().item<bool>());
  EXPECT_NEAR((x == 0).to(torch::kFloat64).mean().item<double>(), 0.625, 0.015);
  s.top_p = 1;
  s.temperature = 0.5;  // p^2 renormalized: 0.25, 0.09, 0.0225, 0.0025 / 0.365
  x = SampleLogits(logits, s, g);
  EXPECT_NEAR((x == 0).to(torch::kFloat64).mean().item<double>(), 0.25 / 0.365, 0.015);
  s.temperature = 0;
  EXPECT_TRUE((SampleLogits(logits, s, g) == 0).all().item<bool>());
}

}  // namespace
}  // namespace rlforge
