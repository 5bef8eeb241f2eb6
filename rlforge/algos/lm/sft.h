// rlforge/algos/lm/sft.h — supervised fine-tuning of the transformer on
// demonstrations of a text task.
//
// Demonstrations are episodes of a text env played by a scripted policy
// (demo_policy: the env's "solver", or "noisy:P" with a plausible mistake in a
// fraction P of them, so that reinforcement learning has something to fix) or
// read from a dataset (`demo_dataset`: a Minari dataset of the same env, e.g. from
// `rlforge record`). The loss is the cross-entropy of the response tokens
// (<eos> included) given the prompt:
//   L = -sum_{i,t} log pi(o_i,t | prompt_i, o_i,<t) / sum_i |o_i|
// averaged over batch_size x grad_accumulation sequences per update, AdamW with
// linear warm-up and cosine decay, gradient-norm clipping. "Steps" are
// updates (--steps counts them). After every iteration the held-out prompts
// are answered greedily (eval_accuracy: exact match by the env's verifier).
#ifndef RLFORGE_ALGOS_LM_SFT_H_
#define RLFORGE_ALGOS_LM_SFT_H_

#include "rlforge/algos/lm/lm_agent.h"

namespace rlforge {

struct SftConfig {
  LmCommonConfig common;
  std::string demo_policy = "noisy:0.2";  // scripted policy that writes the demonstrations
  int64_t demonstrations = 20000;         // demonstration episodes (unless dataset is set)
  std::string demo_dataset;               // a dataset directory to learn from instead
  int64_t batch_size = 64;                // sequences per forward pass
  int64_t grad_accumulation = 1;          // forward passes per update
  int64_t updates_per_iteration = 100;    // updates per progress row

  void Visit(FieldVisitor& v);
  void Validate() const;
};

class Sft : public LmAgent {
 public:
  Sft(const RunContext& ctx, const SftConfig& config);
  Metrics Iterate() override;
  int64_t num_timesteps() const override { return updates_; }
  void VisitState(StateVisitor& v) override;
  // The demonstrations (made on first use): prompts, responses [D, R], and
  // the fraction of them that are right.
  void EnsureDemonstrations();
  // Training needs the demonstrations: a missing demo_dataset fails before
  // the runner touches the run directory.
  void PrepareToTrain() override { EnsureDemonstrations(); }
  double demo_accuracy() const { return demo_accuracy_; }
  int64_t num_demonstrations() const { return static_cast<int64_t>(demo_prompts_.size()); }

 private:
  SftConfig config_;
  int64_t updates_ = 0;
  bool demos_ready_ = false;
  std::vector<std::vector<int64_t>> demo_prompts_;
  torch::Tensor demo_responses_;
  double demo_accuracy_ = 0;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_LM_SFT_H_
