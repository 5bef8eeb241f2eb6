// rlforge/nn/transformer.h — a small decoder-only transformer language model
// (GPT-2's layout) for the text envs (rlforge/env/text.h) and the LM agents
// (rlforge/algos/lm/).
//
//   h_0 = E[token] + P[position]
//   h   = h + Attention(LayerNorm(h))      causal multi-head self-attention
//   h   = h + MLP(LayerNorm(h))            d -> 4d -> d, GELU
//   logits = LayerNorm(h) E^T              output head tied to the embedding
//   value  = LayerNorm(h) w + b            a scalar head (PPO's critic)
// Weights start as GPT-2's: N(0, 0.02), the residual projections
// N(0, 0.02 / sqrt(2 layers)).
//
// Batches of sequences of different lengths are laid out as one tensor with
// a key mask (key_valid, false at padding) and per-token positions: prompts
// are padded on the left for generation (every row's next token is then in
// the same column), and responses on the right. A query attends to the
// valid keys at or before its own column, and always to itself, so padding
// never reaches a real token and a pad's own row stays finite.
//
// Generation keeps each layer's keys and values (KvCache): a step feeds one
// column and attends over the cache, O(T) per token instead of O(T^2) for
// recomputing the whole prefix — the same numbers either way
// (transformer_test.cc).
#ifndef RLFORGE_NN_TRANSFORMER_H_
#define RLFORGE_NN_TRANSFORMER_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace rlforge {

struct TransformerConfig {
  int64_t vocab_size = 98;
  int64_t context = 32;  // most positions
  int64_t d_model = 64;
  int64_t n_layers = 2;
  int64_t n_heads = 4;
  int64_t d_ff = 0;  // 0: 4 d_model
  // Parameter count of this configuration (without building it).
  int64_t NumParameters() const;
};

// Per-layer keys and values of the columns seen so far.
struct KvCache {
  std::vector<torch::Tensor> keys, values;  // [B, heads, T, head_dim] per layer
  torch::Tensor valid;                      // bool [B, T]
  int64_t length() const { return valid.defined() ? valid.size(1) : 0; }
};

class TransformerLMImpl : public torch::nn::Module {
 public:
  explicit TransformerLMImpl(const TransformerConfig& c);
  // Final hidden states [B, T, d] of tokens [B, T] (long) at positions
  // [B, T]; key_valid [B, T] says which of the new columns are real tokens.
  // With a cache, attends over its columns as well and appends the new ones.
  torch::Tensor Hidden(const torch::Tensor& tokens, const torch::Tensor& positions, const torch::Tensor& key_valid,
                       KvCache* cache = nullptr);
  torch::Tensor Logits(const torch::Tensor& hidden);  // [.., vocab]
  torch::Tensor Values(const torch::Tensor& hidden);  // [..]
  const TransformerConfig& config() const { return c_; }

 private:
  struct Block {
    torch::nn::LayerNorm ln1{nullptr}, ln2{nullptr};
    torch::nn::Linear qkv{nullptr}, proj{nullptr}, fc{nullptr}, out{nullptr};
  };
  TransformerConfig c_;
  torch::nn::Embedding tok_{nullptr}, pos_{nullptr};
  std::vector<Block> blocks_;
  torch::nn::LayerNorm ln_f_{nullptr};
  torch::nn::Linear value_{nullptr};
};
TORCH_MODULE(TransformerLM);

// Sampling settings: temperature 0 is greedy; top_k 0 and top_p 1 keep every token.
struct SamplingConfig {
  double temperature = 1.0;
  int64_t top_k = 0;
  double top_p = 1.0;
};

// The text envs' actions are tokens first_token.. (rlforge/env/text.h: <eos>
// and the printable characters): a policy's logits are the model's logits
// from that column on, and action a is token first_token + a.
torch::Tensor ActionLogits(const torch::Tensor& logits, int64_t first_token);

// Draws one index per row from logits [B, A] under `s` (greedy when
// temperature is 0) with `gen`.
torch::Tensor SampleLogits(const torch::Tensor& logits, const SamplingConfig& s, torch::Generator& gen);

// Left-pads token lists into [B, width] with pad_token; returns (tokens,
// positions, valid). InvalidArgument for an empty batch or an empty row.
struct PaddedBatch {
  torch::Tensor tokens, positions, valid;
};
PaddedBatch LeftPad(const std::vector<std::vector<int64_t>>& rows, int64_t pad_token);
// Token lists as rows of one long tensor [B, max(1, longest)], padded on the
// right with pad_token (responses).
torch::Tensor RightPad(const std::vector<std::vector<int64_t>>& rows, int64_t pad_token);

// Batched generation: up to max_new tokens after each prompt, sampled from
// the action tokens (first_token..), stopping a row at stop_token. Returns
// [B, n] tokens (n <= max_new; after a row's stop token: pad_token). With
// use_cache false every step recomputes the whole prefix (the reference the
// cache is tested against, and the baseline of `rlforge bench lm`).
torch::Tensor Generate(TransformerLM& model, const std::vector<std::vector<int64_t>>& prompts, int64_t max_new,
                       const SamplingConfig& s, torch::Generator& gen, int64_t first_token, int64_t stop_token,
                       int64_t pad_token, bool use_cache = true);

}  // namespace rlforge

#endif  // RLFORGE_NN_TRANSFORMER_H_
