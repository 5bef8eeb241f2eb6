// rlforge/algos/lm/lm_agent.h — what the language-model agents (sft, grpo,
// ppo-lm) share: a text env (rlforge/envs/text/, tokens of
// rlforge/env/text.h), a transformer policy (rlforge/nn/transformer.h),
// prompts drawn from the env, batched generation with a KV cache, scoring by
// the env's own verifier, and held-out exact-match accuracy.
//
// A prompt is what a text env shows after Reset(seed): <bos> + the prompt
// text. A response is scored by stepping a copy of that env through its
// tokens: the episode's return is the task's reward (1 right, 0 wrong,
// -format_penalty malformed), is_success marks a right answer. So any env
// with the text envs' observation and action layout can be trained on,
// including one a user registers.
//
// Training prompts come from env seeds drawn by the agent's checkpointed
// prompt generator; the evaluation prompts (eval_prompts of them: the metrics
// eval_accuracy, greedy, and eval_sampled_accuracy, temperature 1) from a
// second, fixed stream of seeds, and the runner's evaluations from seed +
// 1,000,000 + i, as for every agent. Disjoint seeds, not disjoint problems: a
// task with few distinct problems repeats training ones in evaluation
// (TextSort-v0 has 10^5 lists of 5 digits; TextTowerDefense-v0 on a
// hand-made stage has one map).
#ifndef RLFORGE_ALGOS_LM_LM_AGENT_H_
#define RLFORGE_ALGOS_LM_LM_AGENT_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rlforge/algos/algorithm.h"
#include "rlforge/nn/transformer.h"

namespace rlforge {

// The model's shape (the context comes from the env).
struct LmModelConfig {
  int64_t d_model = 128;
  int64_t n_layers = 2;
  int64_t n_heads = 4;
  int64_t d_ff = 0;  // 0: 4 d_model
  void Visit(FieldVisitor& v);
  void Validate() const;
};

// Settings every LM agent has.
struct LmCommonConfig {
  LmModelConfig model;
  double learning_rate = 1e-3;   // AdamW's peak step size
  double weight_decay = 0.01;    // AdamW's decoupled weight decay
  int64_t warmup_updates = 50;   // linear warm-up of the learning rate
  double min_lr_fraction = 0.1;  // cosine decay to this fraction of the peak at the last update
  double max_grad_norm = 1.0;    // global gradient-norm clip
  std::string precision = "fp32";  // fp32, or bf16: training passes under CPU autocast (bfloat16 matrix products)
  int64_t eval_prompts = 256;    // held-out prompts answered after every iteration, greedily and sampled (0: none)
  void Visit(FieldVisitor& v);
  void Validate() const;
};

// A batch of prompts and sampled responses with their rewards.
struct LmRollout {
  std::vector<std::vector<int64_t>> prompts;  // one per response (a prompt repeats across its group)
  torch::Tensor responses;  // long [N, R]: tokens, <pad> after <eos>
  torch::Tensor rewards;    // float [N]
  torch::Tensor correct;    // float [N]: is_success
  torch::Tensor lengths;    // long [N]: tokens of each response (<eos> included)
};

// The tensors of prompts + responses laid out for one forward pass: prompts
// left-padded, responses after them; column Lp - 1 + j predicts response
// token j.
struct LmSequences {
  torch::Tensor tokens, positions, valid;  // [N, Lp + R]
  torch::Tensor mask;                      // float [N, R]: 1 at real response tokens
  int64_t prompt_width = 0;
};
LmSequences LayOut(const std::vector<std::vector<int64_t>>& prompts, const torch::Tensor& responses);

// Turns libtorch's CPU autocast to bfloat16 on for its lifetime (when `on`):
// matrix products run in bf16, reductions and softmaxes in fp32, weights and
// optimizer state stay fp32. Restores the previous state.
class Bf16Autocast {
 public:
  explicit Bf16Autocast(bool on);
  ~Bf16Autocast();
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool on_, previous_ = false;
};

// Rollouts are generated and scored in chunks of this many responses.
inline constexpr int64_t kLmChunk = 512;

// Per response token: log pi(token), the policy's entropy and (with values)
// the value head; all [N, R]. With value_grad_to_trunk false the value head
// reads the trunk's states without passing gradients into them (its loss
// then trains the head alone).
struct LmTokenStats {
  torch::Tensor logp, entropy, values;
};
LmTokenStats TokenStats(TransformerLM& model, const LmSequences& s, const torch::Tensor& responses,
                        int64_t first_token, bool values = false, bool value_grad_to_trunk = true);

// TokenStats without gradients over a whole rollout, in chunks of `chunk`
// responses (attention's memory grows with rows x length^2).
LmTokenStats TokenStatsNoGrad(TransformerLM& model, const std::vector<std::vector<int64_t>>& prompts,
                              const torch::Tensor& responses, int64_t first_token, bool values = false,
                              int64_t chunk = 512);

// rows[idx[i]] for each i (prompts of a minibatch).
std::vector<std::vector<int64_t>> SelectRows(const std::vector<std::vector<int64_t>>& rows, const torch::Tensor& idx);

// One episode of `policy` in `env` from reset seed `seed`: the prompt the env
// showed, the response tokens the policy wrote, the return and whether the
// episode ended in success.
struct LmEpisode {
  std::vector<int64_t> prompt, response;
  double ret = 0;
  bool success = false;
};
LmEpisode PlayEpisode(Env& env, Policy& policy, uint64_t seed);

class LmAgent : public Algorithm {
 public:
  static constexpr uint32_t kRunKeys = kRunTorchThreads;
  LmAgent(const RunContext& ctx, const LmCommonConfig& common);

  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  torch::nn::Module* network() override { return model_.get(); }
  bool warm_start_needs_every_parameter() const override { return true; }
  runtime::Model ExportModel() override;  // InvalidArgument: not supported yet
  // Exact-match accuracy on the held-out prompts: greedy (temperature 0), or
  // sampled at `temperature` (one response per prompt, from a generator
  // seeded the same way at every call, so successive values differ only by
  // the model).
  double EvalAccuracy(double temperature = 0.0);
  // Samples `group` responses to each of `prompts` new training prompts.
  LmRollout Collect(int64_t prompts, int64_t group, const SamplingConfig& sampling);
  // Rewards and successes of responses to the prompts of envs `seeds`.
  void Score(const std::vector<uint64_t>& seeds, int64_t group, const torch::Tensor& responses, torch::Tensor* rewards,
             torch::Tensor* correct) const;
  TransformerLM& model() { return model_; }
  // InvalidArgument "<what> was trained on <its env and kwargs>, not on ..."
  // unless it was trained on env `id` with `kwargs` (a run another one reads:
  // a reward model, a policy writing preference pairs).
  void CheckTrainedOn(const std::string& what, const std::string& id, const Kwargs& kwargs) const;
  int64_t context() const { return context_; }
  int64_t max_response() const { return max_response_; }

 protected:
  // The prompt tokens an env shows after Reset(seed).
  std::vector<int64_t> PromptOf(uint64_t seed) const;
  // Responses to `prompts` (generated in chunks of kLmChunk rows), [N, R]
  // with <pad> after each row's <eos>.
  torch::Tensor GenerateAll(const std::vector<std::vector<int64_t>>& prompts, const SamplingConfig& sampling,
                            torch::Generator& gen);
  // Learning rate at update u, `progress` (0..1) through the run: linear
  // warm-up over warmup_updates, then cosine from the peak down to
  // min_lr_fraction of it at progress 1.
  double LearningRate(int64_t u, double progress) const;
  // Clip, set the learning rate and step; returns the gradient norm before clipping.
  double OptimizerStep(double lr);
  void VisitLmState(StateVisitor& v);

  bool bf16() const { return common_.precision == "bf16"; }

  LmCommonConfig common_;
  std::unique_ptr<Env> env_;  // a probe: prompts and scoring run on its copies
  int64_t context_ = 0, max_response_ = 0, first_token_ = 0;
  TransformerLM model_{nullptr};
  std::unique_ptr<torch::optim::AdamW> opt_;
  torch::Generator gen_;      // sampling
  Rng prompt_rng_;            // training prompts' env seeds
  std::vector<std::vector<int64_t>> eval_prompts_;
  std::vector<uint64_t> eval_seeds_;
};

// The frozen reference an RL agent is leashed to (KL penalty): a copy of the
// policy taken when training starts (after a warm start: of the warm-started
// weights; Algorithm::NetworkLoaded), checkpointed with the run.
class LmReference {
 public:
  explicit LmReference(const TransformerConfig& c) : model_(c) { model_->eval(); }
  void CopyFrom(TransformerLM& model);
  torch::Tensor LogProbs(const std::vector<std::vector<int64_t>>& prompts, const torch::Tensor& responses,
                         int64_t first_token);
  TransformerLM& model() { return model_; }

 private:
  TransformerLM model_;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_LM_LM_AGENT_H_
