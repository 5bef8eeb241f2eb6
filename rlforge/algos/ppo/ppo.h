// rlforge/algos/ppo/ppo.h — Proximal Policy Optimization (Schulman et al., 2017).
//
// Per iteration: collect n_steps x num_envs transitions, compute GAE(gamma,
// lambda), then n_epochs passes of minibatch SGD (Adam) on
//   L = L_clip + ent_coef * L_entropy + vf_coef * L_value
//   L_clip    = -mean(min(r A, clip(r, 1 - eps, 1 + eps) A)),  r = exp(log pi - log pi_old)
//   L_value   = mean((R - V)^2), or with clip_range_vf the value prediction is
//               V_old + clip(V - V_old, -c, c) (SB3's form)
//   L_entropy = -mean(H)
// A normalized per minibatch (normalize_advantage), global-norm gradient
// clipping (max_grad_norm), linear or constant schedules for the learning
// rate and eps, and an optional early stop of the epoch loop when the approx
// KL, mean((r - 1) - log r), exceeds 1.5 target_kl (as SB3). With
// pretrain_policy set, the first iteration first clones that scripted
// policy's demonstrations (OnPolicyAlgorithm::Pretrain). The loss and its
// gradient are rlforge/algos/actor_critic_loss.h's.
#ifndef RLFORGE_ALGOS_PPO_PPO_H_
#define RLFORGE_ALGOS_PPO_PPO_H_

#include <cmath>
#include <optional>

#include "rlforge/algos/on_policy.h"
#include "rlforge/config/config.h"

namespace rlforge {

// The rollout, loss and optimizer hyperparameters PPO and recurrent PPO
// (recurrent_ppo.h) share, with their config keys.
struct PpoCoreConfig {
  int64_t n_steps = 2048;           // steps per env per rollout
  int64_t batch_size = 64;          // minibatch size
  int64_t n_epochs = 10;            // passes over each rollout
  double gamma = 0.99;              // discount
  double gae_lambda = 0.95;         // GAE lambda
  Schedule clip_range = Schedule::Constant(0.2);  // PPO epsilon
  std::optional<double> clip_range_vf;            // value clipping (null = off)
  bool normalize_advantage = true;  // standardize advantages per minibatch
  double ent_coef = 0.0;            // entropy bonus coefficient
  double vf_coef = 0.5;             // value loss coefficient
  double max_grad_norm = 0.5;       // global gradient-norm clip
  std::optional<double> target_kl;  // early-stop threshold (null = off)
  Schedule learning_rate = Schedule::Constant(3e-4);  // Adam step size
  double adam_eps = 1e-5;           // Adam epsilon

  void Visit(FieldVisitor& v);
  void Validate() const;
};

// PPO's terms of an actor-critic batch (clip ranges, old log-probs and
// values, coefficients) for a minibatch whose base fields are set.
void SetPpoTerms(const PpoCoreConfig& c, double clip, const torch::Tensor& old_log_prob,
                 const torch::Tensor& old_values, ActorCriticBatch* batch);

// The per-iteration losses PPO and recurrent PPO report, averaged over the
// minibatches of one iteration: every update's and, as SB3 logs it, the one
// whose approx KL stopped the epochs (target_kl), which takes no step.
struct PpoUpdateStats {
  double policy = 0, value = 0, entropy = 0, approx_kl = 0, clip_fraction = 0, last_loss = 0;
  double grad_norm = std::nan("");  // the last update's (none: blank)
  int64_t minibatches = 0;          // losses averaged
  int64_t updates = 0;              // optimizer steps
  // A minibatch's losses; with `clipped_grad_norm`, its optimizer step was taken.
  void Add(const ActorCriticLossValues& l, std::optional<double> clipped_grad_norm);
  // policy_loss ... n_updates (the keys both agents declare).
  Metrics ToMetrics(double explained_variance, double learning_rate, double clip_range) const;
};

struct PpoConfig : PpoCoreConfig {
  bool fast_update = true;          // hand-written gradients for plain MLP policies (rlforge/algos/fast_update.h)
  PolicyConfig policy;
  PretrainConfig pretrain;          // behaviour cloning before the first rollout (rlforge/algos/on_policy.h)

  void Visit(FieldVisitor& v);
  void Validate() const;
};

class Ppo : public OnPolicyAlgorithm {
 public:
  // Data-parallel across the ranks of a job (rlforge/dist/): each rank steps
  // num_envs / world_size envs, every minibatch's gradient is averaged over
  // the ranks before the step (batch_size is the global minibatch).
  static constexpr uint32_t kRunKeys = OnPolicyAlgorithm::kRunKeys | kRunDistributed;
  Ppo(const RunContext& ctx, const PpoConfig& config);
  Metrics Iterate() override;

 protected:
  // Iterate's second half: the epochs of minibatch updates on the rollout
  // just collected.
  Metrics Update();

 private:
  PpoConfig config_;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_PPO_PPO_H_
