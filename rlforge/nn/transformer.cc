#include "rlforge/nn/transformer.h"

#include <cmath>

#include "rlforge/core/error.h"

namespace rlforge {

namespace F = torch::nn::functional;

int64_t TransformerConfig::NumParameters() const {
  const int64_t ff = d_ff > 0 ? d_ff : 4 * d_model;
  const int64_t block = 2 * 2 * d_model + (d_model * 3 * d_model + 3 * d_model) + (d_model * d_model + d_model) +
                        (d_model * ff + ff) + (ff * d_model + d_model);
  return vocab_size * d_model + context * d_model + n_layers * block + 2 * d_model + d_model + 1;
}

TransformerLMImpl::TransformerLMImpl(const TransformerConfig& c) : c_(c) {
  RLF_CHECK_ARG(c.d_model > 0 && c.n_heads > 0 && c.d_model % c.n_heads == 0, "transformer: d_model (", c.d_model,
                ") must be a positive multiple of n_heads (", c.n_heads, ")");
  RLF_CHECK_ARG(c.n_layers >= 1 && c.context >= 2 && c.vocab_size >= 2, "transformer: needs n_layers >= 1, context >= 2");
  const int64_t ff = c.d_ff > 0 ? c.d_ff : 4 * c.d_model;
  tok_ = register_module("tok", torch::nn::Embedding(c.vocab_size, c.d_model));
  pos_ = register_module("pos", torch::nn::Embedding(c.context, c.d_model));
  const double std = 0.02, resid_std = 0.02 / std::sqrt(2.0 * static_cast<double>(c.n_layers));
  torch::NoGradGuard no_grad;
  tok_->weight.normal_(0, std);
  pos_->weight.normal_(0, std);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    Block b;
    const std::string p = "block" + std::to_string(l) + "_";
    b.ln1 = register_module(p + "ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));
    b.qkv = register_module(p + "qkv", torch::nn::Linear(c.d_model, 3 * c.d_model));
    b.proj = register_module(p + "proj", torch::nn::Linear(c.d_model, c.d_model));
    b.ln2 = register_module(p + "ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));
    b.fc = register_module(p + "fc", torch::nn::Linear(c.d_model, ff));
    b.out = register_module(p + "out", torch::nn::Linear(ff, c.d_model));
    for (auto* lin : {&b.qkv, &b.fc}) (*lin)->weight.normal_(0, std), (*lin)->bias.zero_();
    for (auto* lin : {&b.proj, &b.out}) (*lin)->weight.normal_(0, resid_std), (*lin)->bias.zero_();
    blocks_.push_back(b);
  }
  ln_f_ = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));
  value_ = register_module("value", torch::nn::Linear(c.d_model, 1));
  value_->weight.normal_(0, std);
  value_->bias.zero_();
}

torch::Tensor TransformerLMImpl::Hidden(const torch::Tensor& tokens, const torch::Tensor& positions,
                                        const torch::Tensor& key_valid, KvCache* cache) {
  const int64_t B = tokens.size(0), T = tokens.size(1), H = c_.n_heads, hd = c_.d_model / c_.n_heads;
  const int64_t past = cache != nullptr ? cache->length() : 0;
  RLF_CHECK_ARG(past + T <= c_.context || cache == nullptr,
                "transformer: ", past + T, " columns exceed the context of ", c_.context);
  RLF_CHECK_ARG(positions.max().item<int64_t>() < c_.context, "transformer: position ",
                positions.max().item<int64_t>(), " is beyond the context of ", c_.context);
  torch::Tensor h = tok_->forward(tokens) + pos_->forward(positions);
  // allowed[b, i, j]: query column past + i may read key column j.
  torch::Tensor valid = key_valid.to(torch::kBool);
  if (cache != nullptr) {
    valid = cache->valid.defined() ? torch::cat({cache->valid, valid}, 1) : valid;
    cache->valid = valid;
  }
  const int64_t S = past + T;
  torch::Tensor q_col = torch::arange(past, S, torch::kLong).unsqueeze(1);  // [T, 1]
  torch::Tensor k_col = torch::arange(0, S, torch::kLong).unsqueeze(0);     // [1, S]
  torch::Tensor causal = k_col <= q_col;
  torch::Tensor self = k_col == q_col;
  torch::Tensor allowed = (causal.unsqueeze(0) & valid.unsqueeze(1)) | self.unsqueeze(0);  // [B, T, S]
  torch::Tensor bias = torch::zeros({B, 1, T, S}, h.options()).masked_fill(~allowed.unsqueeze(1), -1e9);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  if (cache != nullptr && cache->keys.empty()) {
    cache->keys.resize(blocks_.size());
    cache->values.resize(blocks_.size());
  }
  for (size_t l = 0; l < blocks_.size(); ++l) {
    Block& b = blocks_[l];
    torch::Tensor qkv = b.qkv->forward(b.ln1->forward(h)).view({B, T, 3, H, hd}).permute({2, 0, 3, 1, 4});
    torch::Tensor q = qkv[0], k = qkv[1], v = qkv[2];  // [B, H, T, hd]
    if (cache != nullptr) {
      if (cache->keys[l].defined()) {
        k = torch::cat({cache->keys[l], k}, 2);
        v = torch::cat({cache->values[l], v}, 2);
      }
      cache->keys[l] = k;
      cache->values[l] = v;
    }
    torch::Tensor att = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * scale + bias, -1);
    torch::Tensor y = torch::matmul(att, v).transpose(1, 2).reshape({B, T, c_.d_model});
    h = h + b.proj->forward(y);
    h = h + b.out->forward(F::gelu(b.fc->forward(b.ln2->forward(h))));
  }
  return ln_f_->forward(h);
}

torch::Tensor TransformerLMImpl::Logits(const torch::Tensor& hidden) { return torch::matmul(hidden, tok_->weight.t()); }

torch::Tensor TransformerLMImpl::Values(const torch::Tensor& hidden) { return value_->forward(hidden).squeeze(-1); }

torch::Tensor ActionLogits(const torch::Tensor& logits, int64_t first_token) {
  return logits.narrow(-1, first_token, logits.size(-1) - first_token);
}

torch::Tensor SampleLogits(const torch::Tensor& logits, const SamplingConfig& s, torch::Generator& gen) {
  RLF_CHECK_ARG(s.temperature >= 0 && s.top_k >= 0 && s.top_p > 0 && s.top_p <= 1,
                "sampling: needs temperature >= 0, top_k >= 0 and top_p in (0, 1]");
  if (s.temperature == 0) return logits.argmax(-1);
  torch::Tensor l = logits.to(torch::kFloat32) / s.temperature;
  const int64_t A = l.size(-1);
  if (s.top_k > 0 && s.top_k < A) {
    torch::Tensor kth = std::get<0>(l.topk(s.top_k, -1)).select(-1, s.top_k - 1).unsqueeze(-1);
    l = l.masked_fill(l < kth, -std::numeric_limits<float>::infinity());
  }
  if (s.top_p < 1) {
    // Nucleus: the smallest set of most likely tokens whose probability
    // reaches top_p (the most likely token always stays).
    auto [sorted, order] = l.sort(-1, /*descending=*/true);
    torch::Tensor probs = torch::softmax(sorted, -1);
    torch::Tensor before = probs.cumsum(-1) - probs;  // mass of the tokens ranked above
    torch::Tensor drop_sorted = before >= s.top_p;
    torch::Tensor drop = torch::zeros_like(drop_sorted).scatter(-1, order, drop_sorted);
    l = l.masked_fill(drop, -std::numeric_limits<float>::infinity());
  }
  return torch::multinomial(torch::softmax(l, -1), 1, false, gen).squeeze(-1);
}

PaddedBatch LeftPad(const std::vector<std::vector<int64_t>>& rows, int64_t pad_token) {
  int64_t width = 0;
  for (const auto& r : rows) {
    RLF_CHECK_ARG(!r.empty(), "transformer: an empty token sequence (a prompt needs at least <bos>)");
    width = std::max<int64_t>(width, static_cast<int64_t>(r.size()));
  }
  const int64_t B = static_cast<int64_t>(rows.size());
  RLF_CHECK_ARG(B > 0, "transformer: an empty batch");
  PaddedBatch p;
  p.tokens = torch::full({B, width}, pad_token, torch::kLong);
  p.positions = torch::zeros({B, width}, torch::kLong);
  p.valid = torch::zeros({B, width}, torch::kBool);
  auto tok = p.tokens.accessor<int64_t, 2>();
  auto pos = p.positions.accessor<int64_t, 2>();
  auto val = p.valid.accessor<bool, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = static_cast<int64_t>(rows[b].size()), pad = width - n;
    for (int64_t j = 0; j < n; ++j) {
      tok[b][pad + j] = rows[b][j];
      pos[b][pad + j] = j;
      val[b][pad + j] = true;
    }
  }
  return p;
}

torch::Tensor RightPad(const std::vector<std::vector<int64_t>>& rows, int64_t pad_token) {
  int64_t width = 1;
  for (const auto& r : rows) width = std::max<int64_t>(width, static_cast<int64_t>(r.size()));
  torch::Tensor t = torch::full({static_cast<int64_t>(rows.size()), width}, pad_token, torch::kLong);
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy(rows[i].begin(), rows[i].end(), t[static_cast<int64_t>(i)].data_ptr<int64_t>());
  return t;
}

torch::Tensor Generate(TransformerLM& model, const std::vector<std::vector<int64_t>>& prompts, int64_t max_new,
                       const SamplingConfig& s, torch::Generator& gen, int64_t first_token, int64_t stop_token,
                       int64_t pad_token, bool use_cache) {
  torch::NoGradGuard no_grad;
  const int64_t B = static_cast<int64_t>(prompts.size());
  PaddedBatch p = LeftPad(prompts, pad_token);
  RLF_CHECK_ARG(p.tokens.size(1) + max_new <= model->config().context, "generate: prompts of ", p.tokens.size(1),
                " tokens and ", max_new, " new ones exceed the model's context of ", model->config().context);
  torch::Tensor next_pos = p.positions.select(1, p.positions.size(1) - 1) + 1;  // [B]
  torch::Tensor done = torch::zeros({B}, torch::kBool);
  std::vector<torch::Tensor> out;
  KvCache cache;
  torch::Tensor all_tokens = p.tokens, all_pos = p.positions, all_valid = p.valid;
  torch::Tensor h = model->Hidden(p.tokens, p.positions, p.valid, use_cache ? &cache : nullptr);
  for (int64_t t = 0; t < max_new; ++t) {
    torch::Tensor logits = ActionLogits(model->Logits(h.select(1, h.size(1) - 1)), first_token);
    torch::Tensor tok = SampleLogits(logits, s, gen) + first_token;
    tok = torch::where(done, torch::full_like(tok, pad_token), tok);
    out.push_back(tok);
    torch::Tensor valid = ~done;
    done = done | (tok == stop_token);
    if (done.all().item<bool>() || t + 1 == max_new) break;
    torch::Tensor col = tok.unsqueeze(1), pos = next_pos.unsqueeze(1), val = valid.unsqueeze(1);
    next_pos = next_pos + 1;
    if (use_cache) {
      h = model->Hidden(col, pos, val, &cache);
    } else {
      all_tokens = torch::cat({all_tokens, col}, 1);
      all_pos = torch::cat({all_pos, pos}, 1);
      all_valid = torch::cat({all_valid, val}, 1);
      h = model->Hidden(all_tokens, all_pos, all_valid);
    }
  }
  return out.empty() ? torch::zeros({B, 0}, torch::kLong) : torch::stack(out, 1);
}

}  // namespace rlforge
