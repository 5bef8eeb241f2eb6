// rlforge/algos/lm/reward_model.h — a learned reward model from preference
// pairs (Bradley-Terry), the alternative to a verifier when answers cannot
// be checked by a program.
//
// Pairs are made from the env: for one prompt (Reset(seed)), the response of
// chosen_policy and that of rejected_policy (the env's scripted policies:
// by default its "solver" and "noisy:1", a plausible mistake every time; or
// a language model's run, sampled: its own answers, as RLHF labels the
// policy's samples), kept when the env scores the chosen one higher. The model is the
// transformer with its scalar head read at a response's last token (<eos>):
// r(x, y). Bradley-Terry: P(y_c preferred to y_r) = sigmoid(r(x, y_c) -
// r(x, y_r)), trained by minimizing
//   L = -mean log sigmoid(r(x, y_c) - r(x, y_r))
// with AdamW as SFT. holdout_fraction of the pairs are held out; after every
// iteration their pairwise accuracy (the fraction with r(x, y_c) > r(x, y_r))
// is logged as holdout_accuracy. Steps are updates.
#ifndef RLFORGE_ALGOS_LM_REWARD_MODEL_H_
#define RLFORGE_ALGOS_LM_REWARD_MODEL_H_

#include "rlforge/algos/lm/lm_agent.h"

namespace rlforge {

struct RewardModelConfig {
  LmCommonConfig common;
  // What writes each pair's responses: scripted policies or language models'
  // run directories, comma-separated (pair i uses entry i mod n).
  std::string chosen_policy = "solver";    // the preferred responses
  std::string rejected_policy = "noisy:1";  // the others
  int64_t pairs = 20000;                    // preference pairs made
  double holdout_fraction = 0.1;            // pairs held out for pairwise accuracy
  int64_t batch_size = 64;                  // pairs per update
  int64_t updates_per_iteration = 100;      // updates per progress row
  RewardModelConfig() { common.eval_prompts = 0; }
  void Visit(FieldVisitor& v);
  void Validate() const;
};

// Bradley-Terry's loss -mean log sigmoid(chosen - rejected) of reward scores [N].
torch::Tensor BradleyTerryLoss(const torch::Tensor& chosen, const torch::Tensor& rejected);

// r(x, y) for each (prompt, response) row: the scalar head at the response's
// last token ([N]; a response of no tokens is read at the prompt's last).
torch::Tensor RewardScores(TransformerLM& model, const std::vector<std::vector<int64_t>>& prompts,
                           const torch::Tensor& responses);

class RewardModel : public LmAgent {
 public:
  RewardModel(const RunContext& ctx, const RewardModelConfig& config);
  Metrics Iterate() override;
  int64_t num_timesteps() const override { return updates_; }
  // A reward model scores responses; it does not write them: MakePolicy
  // throws InvalidArgument (eval, play, record, the runner's evaluations).
  bool acts() const override { return false; }
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  void VisitState(StateVisitor& v) override;
  // Pairwise accuracy on the held-out pairs (made on first use).
  double HoldoutAccuracy();
  int64_t num_pairs() { EnsurePairs(); return static_cast<int64_t>(prompts_.size()); }

 private:
  void EnsurePairs();
  double Accuracy(const torch::Tensor& rows);

  // An entry of chosen_policy or rejected_policy: a scripted policy's name
  // (no policy kept: it is made with the pairs), or a language model's run
  // (its sampling policy, made at construction when training).
  struct PairPolicy {
    std::string spec;
    std::unique_ptr<Policy> policy;
  };

  RewardModelConfig config_;
  std::vector<PairPolicy> chosen_specs_, rejected_specs_;
  int64_t updates_ = 0;
  bool ready_ = false;
  std::vector<std::vector<int64_t>> prompts_;
  torch::Tensor chosen_, rejected_;  // [P, R] response tokens
  torch::Tensor train_, holdout_;    // pair indices
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_LM_REWARD_MODEL_H_
