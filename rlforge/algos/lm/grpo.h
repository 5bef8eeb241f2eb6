// rlforge/algos/lm/grpo.h — reinforcement learning for the transformer from
// verifiable rewards: GRPO, and PPO for token sequences (ppo-lm).
//
// GRPO (Shao et al., 2024; the choices of Dr.GRPO and DAPO as options): per
// iteration, prompts_per_iteration prompts, group_size responses sampled for
// each (temperature, top_k, top_p), scored by the env's verifier; every token
// of response i gets the advantage A_i = (r_i - mean) / (std + eps) of its
// group (scale_rewards false: r_i - mean); then epochs x minibatches updates of
//   L = agg_t[ -min(rho A, clip(rho, 1 - clip_range, 1 + clip_range_high) A)
//              + kl_coef k3(pi_theta, pi_ref) ]
// with rho = pi_theta / pi_old per token, k3 the KL estimator to the frozen
// reference (the policy when training started: after `--init-from`, the SFT
// model) and agg the loss_aggregation. Groups whose rewards are all equal
// (all right or all wrong) have zero advantages: only the KL term moves them
// (metric zero_spread: their fraction).
//
// PPO-LM (Ouyang et al., 2022, as TRL's PPOTrainer): one response per prompt;
// each token's reward is -kl_coef (log pi_old - log pi_ref) and the last also
// gets the verifier's score; the value head (on the shared trunk) gives GAE
// advantages over tokens (gamma, gae_lambda), normalized over the batch;
// epochs x minibatches updates of the clipped surrogate + vf_coef x the value
// loss - ent_coef x entropy. The value head starts untrained after SFT: by
// default its loss trains the head alone (value_trains_trunk false). Measured
// on TextAddition-v0 (greedy accuracy 0.65 after SFT, first iteration): with
// PPO's 4 x 4 minibatches of 16 it fell to 0.35 with the value gradients in
// the trunk and 0.42 without; with one update of 256 responses (the default)
// to 0.656 with them — no harm seen there, the head-only default is caution.
//
// Both count steps as generated tokens (env steps: one per token).
//
// Adaptive KL (Ziegler et al., 2019; TRL's AdaptiveKLController), with
// kl_target > 0: after each iteration, with KL the iteration's per-token KL
// metric and n its responses,
//   kl_coef <- kl_coef (1 + clip(KL / kl_target - 1, -0.2, 0.2) n / kl_horizon)
// so the leash tightens while the policy drifts past the target and loosens
// while it stays within (metric kl_coef; checkpointed).
//
// Rewards from a learned model (RLHF's loop): with reward_model set to a
// trained `rm` run, a response's reward is that model's score r(x, y) (its
// scalar head at the response's last token, rlforge/algos/lm/reward_model.h)
// instead of the env's verifier, which still gives accuracy, the evaluations
// and the metric verifier_reward — so a policy that learns to please the
// reward model without being right shows as reward rising while
// verifier_reward does not. The reward model is frozen, loaded from its run
// when training starts and when it resumes (a checksum of its weights is
// checkpointed: a resume with other weights is refused).
#ifndef RLFORGE_ALGOS_LM_GRPO_H_
#define RLFORGE_ALGOS_LM_GRPO_H_

#include <functional>

#include "rlforge/algos/lm/lm_agent.h"

namespace rlforge {

// What GRPO and PPO-LM share.
struct LmRlConfig {
  LmCommonConfig common;
  int64_t prompts_per_iteration = 32;  // prompts per iteration
  double temperature = 1.0;            // sampling temperature of the rollouts
  int64_t top_k = 0;                   // sample among the k likeliest tokens (0: all)
  double top_p = 1.0;                  // nucleus sampling mass (1: all)
  int64_t epochs = 1;                  // passes over each rollout
  int64_t minibatches = 1;             // minibatches per pass
  double clip_range = 0.2;             // PPO ratio clip (below 1)
  double clip_range_high = 0.0;        // ratio clip above 1 (0: clip_range; DAPO's clip-higher: larger)
  double kl_coef = 0.04;               // weight of the KL to the reference
  std::string reward_model;            // an rm run whose score replaces the verifier's reward ("": the verifier)
  double kl_target = 0.0;              // adaptive KL: per-token KL to hold (0: kl_coef stays fixed)
  int64_t kl_horizon = 10000;          // adaptive KL: responses over which kl_coef moves by up to 20%

  LmRlConfig() {
    common.learning_rate = 1e-4;
    common.warmup_updates = 25;  // Adam's first steps move every weight by ~lr: a fresh optimizer on an SFT model cost 10 points of greedy accuracy in one update without it
    common.min_lr_fraction = 1.0;
  }
  void Visit(FieldVisitor& v);
  void Validate() const;
  // InvalidArgument unless `responses` per iteration split into minibatches
  // that fit (at most 65536 responses, 8192 a minibatch).
  void CheckResponses(int64_t responses) const;
  SamplingConfig sampling() const { return {temperature, top_k, top_p}; }
};

struct GrpoConfig {
  LmRlConfig rl;
  int64_t group_size = 8;                    // responses per prompt
  bool scale_rewards = true;                 // divide by the group's std (false: Dr.GRPO)
  double advantage_eps = 1e-4;               // eps of (r - mean) / (std + eps)
  std::string loss_aggregation = "token-mean";  // token-mean (DAPO), seq-mean (GRPO), seq-sum-norm (Dr.GRPO)
  void Visit(FieldVisitor& v);
  void Validate() const;
};

struct PpoLmConfig {
  LmRlConfig rl;
  double vf_coef = 0.5;      // weight of the value loss
  double ent_coef = 0.0;     // entropy bonus
  double gamma = 1.0;        // discount over tokens
  double gae_lambda = 0.95;  // GAE lambda over tokens
  bool value_trains_trunk = false;  // the value loss's gradient reaches the shared transformer
  // One update per rollout of 256 responses: with PPO's usual 4 epochs x 4
  // minibatches of 16 at learning rate 1e-4, Adam's early steps on such
  // small, noisy batches undid the SFT policy (TextAddition-v0: greedy
  // accuracy 0.65 -> 0.42 in the first iteration, entropy doubling).
  PpoLmConfig() {
    rl.prompts_per_iteration = 256;
    rl.kl_coef = 0.05;
  }
  void Visit(FieldVisitor& v);
  void Validate() const;
};

// The shared loop: rollouts, the reference, minibatch updates.
class LmRlAgent : public LmAgent {
 public:
  LmRlAgent(const RunContext& ctx, const LmRlConfig& config);
  int64_t num_timesteps() const override { return tokens_; }
  void NetworkLoaded() override { ref_.CopyFrom(model_); }
  TransformerLM& reference() { return ref_.model(); }
  // The frozen reward model (null without reward_model, or when built to act only).
  TransformerLM& reward_model() { return reward_model_; }
  // The reward model's scores r(x, y) of responses ([N]); reward_model must
  // be set.
  torch::Tensor RewardModelScores(const std::vector<std::vector<int64_t>>& prompts, const torch::Tensor& responses);
  // Collect() with the rollout's rewards from the reward model when one is
  // set (the verifier's mean kept for the metric verifier_reward).
  LmRollout Rollout(int64_t prompts, int64_t group);
  void VisitState(StateVisitor& v) override;

 protected:
  // The loss of one minibatch (rows idx of the rollout, laid out as s, with
  // the policy's token stats st and the clipped surrogate pg per token).
  using MinibatchLoss = std::function<torch::Tensor(const torch::Tensor& idx, const LmSequences& s,
                                                    const LmTokenStats& st, const torch::Tensor& pg)>;
  // epochs x minibatches updates of loss_of on the rollout (values: compute
  // the value head); returns the metrics every RL agent logs (reward,
  // accuracy, the evaluations, response_length, entropy, clip_fraction, loss,
  // learning_rate, grad_norm) and advances the token count.
  Metrics Update(const LmRollout& r, const torch::Tensor& old_logp, const torch::Tensor& advantages, bool values,
                 const MinibatchLoss& loss_of);
  // Declares verifier_reward when a reward model is set (after the agent's
  // own metrics: progress.csv's last column).
  void DeclareRewardModelMetrics();
  // Whether the value loss reaches the shared transformer (PPO-LM's setting).
  virtual bool value_grad_to_trunk() const { return true; }

  LmRlConfig rl_;
  LmReference ref_;
  TransformerLM reward_model_{nullptr};  // frozen; null without reward_model, or when built only to act
  uint32_t reward_model_crc_ = 0;        // checksum of its weights
  double verifier_reward_ = 0;           // the last rollout's mean verifier reward
  double kl_coef_ = 0;                   // the KL weight in use (rl_.kl_coef, adapted with kl_target)
  // The adaptive KL step after an iteration of `responses` responses whose
  // per-token KL was `kl`; no-op without kl_target.
  void AdaptKlCoef(double kl, int64_t responses);
  int64_t tokens_ = 0, updates_ = 0;
  int64_t last_update_steps_ = 1;  // minibatch updates of the last Update
};

class Grpo : public LmRlAgent {
 public:
  Grpo(const RunContext& ctx, const GrpoConfig& config);
  Metrics Iterate() override;

 private:
  GrpoConfig config_;
};

class PpoLm : public LmRlAgent {
 public:
  PpoLm(const RunContext& ctx, const PpoLmConfig& config);
  Metrics Iterate() override;

 protected:
  bool value_grad_to_trunk() const override { return config_.value_trains_trunk; }

 private:
  PpoLmConfig config_;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_LM_GRPO_H_
