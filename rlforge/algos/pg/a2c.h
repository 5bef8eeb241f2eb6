// rlforge/algos/pg/a2c.h — Advantage Actor-Critic, synchronous (A2C; Mnih et
// al., 2016, as OpenAI baselines and SB3 run it).
//
// Per iteration: n_steps x num_envs transitions, GAE(gamma, lambda) targets
// (lambda = 1: n-step returns bootstrapped at the rollout's end), then one
// gradient step on the whole batch:
//   L = -mean(A log pi(a|s)) + vf_coef mean((R - V)^2) - ent_coef mean(H)
// with global-norm clipping and RMSProp (alpha, eps, as the paper) or Adam.
// The loss and its gradient are rlforge/algos/actor_critic_loss.h's (the
// policy-gradient form).
#ifndef RLFORGE_ALGOS_PG_A2C_H_
#define RLFORGE_ALGOS_PG_A2C_H_

#include "rlforge/algos/on_policy.h"
#include "rlforge/config/config.h"

namespace rlforge {

struct A2cConfig {
  int64_t n_steps = 5;              // steps per env per update
  double gamma = 0.99;              // discount
  double gae_lambda = 1.0;          // GAE lambda (1: n-step returns)
  double ent_coef = 0.0;            // entropy bonus coefficient
  double vf_coef = 0.5;             // value loss coefficient
  double max_grad_norm = 0.5;       // global gradient-norm clip
  Schedule learning_rate = Schedule::Constant(7e-4);  // step size
  bool use_rms_prop = true;         // RMSProp (else Adam)
  double rms_prop_alpha = 0.99;     // RMSProp smoothing
  double rms_prop_eps = 1e-5;       // RMSProp epsilon
  double adam_eps = 1e-5;           // Adam epsilon (use_rms_prop: false; SB3's actor-critic policies' Adam default)
  bool normalize_advantage = false; // standardize advantages per batch
  bool fast_update = true;          // hand-written gradients for plain MLP policies
  PolicyConfig policy;

  void Visit(FieldVisitor& v);
  void Validate() const;
};

// The optimizer A2C and A3C step: RMSProp (alpha, eps) or Adam, as plain
// loops; the other optimizer's keys, when set, are warned about (no effect).
std::unique_ptr<torch::optim::Optimizer> MakeA2cOptimizer(const RunContext& ctx, const A2cConfig& config,
                                                          std::vector<torch::Tensor> params);

class A2c : public OnPolicyAlgorithm {
 public:
  // Data-parallel across the ranks of a job (rlforge/dist/): each rank steps
  // num_envs / world_size envs; the gradient is the global rollout's.
  static constexpr uint32_t kRunKeys = OnPolicyAlgorithm::kRunKeys | kRunDistributed;
  A2c(const RunContext& ctx, const A2cConfig& config);
  Metrics Iterate() override;

 private:
  A2cConfig config_;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_PG_A2C_H_
