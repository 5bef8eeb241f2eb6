// rlforge/algos/pg/reinforce.h — REINFORCE (Williams, 1992) with an optional
// learned baseline.
//
// Each iteration resets the envs and steps them with the current policy until
// the first `episodes_per_update` episodes to start have finished (partial
// episodes are dropped, so every sample comes from the current policy; the
// first to finish would be biased towards short episodes). For each episode the
// Monte-Carlo reward-to-go is
//   G_t = r_t + gamma G_{t+1},  G_T = 0 at termination, V(final obs) at
//   truncation when a baseline is learned (else 0),
// and the loss is
//   L = -mean((G_t - b(s_t)) log pi(a_t|s_t)) + vf_coef mean((G_t - V(s_t))^2) - ent_coef mean(H)
// with b = V (detached) when use_baseline, else b = 0; the weights G - b are
// standardized per batch when normalize_advantage. Adam, gradient clipping.
// The loss and its gradient are rlforge/algos/actor_critic_loss.h's
// policy-gradient form (A = G - b; without a baseline no value term).
// REINFORCE does not honour normalize_reward (its returns are the episodes'
// own).
#ifndef RLFORGE_ALGOS_PG_REINFORCE_H_
#define RLFORGE_ALGOS_PG_REINFORCE_H_

#include "rlforge/algos/on_policy.h"
#include "rlforge/config/config.h"

namespace rlforge {

struct ReinforceConfig {
  int64_t episodes_per_update = 16;  // complete episodes per gradient step
  double gamma = 0.99;               // discount
  bool use_baseline = true;          // learn V(s) and subtract it
  bool normalize_advantage = true;   // standardize G - b per batch
  double ent_coef = 0.0;             // entropy bonus coefficient
  double vf_coef = 0.5;              // baseline loss coefficient
  double max_grad_norm = 1.0;        // global gradient-norm clip
  Schedule learning_rate = Schedule::Constant(1e-3);  // Adam step size
  PolicyConfig policy;

  void Visit(FieldVisitor& v);
  void Validate() const;
};

// Discounted reward-to-go of one episode: G_t = r_t + gamma G_{t+1}, G_T = bootstrap.
std::vector<double> RewardToGo(const std::vector<double>& rewards, double gamma, double bootstrap);

class Reinforce : public OnPolicyAlgorithm {
 public:
  static constexpr uint32_t kRunKeys = kRunNumEnvs | kRunEnvThreads | kRunTorchThreads | kRunNormalizeObs;

  Reinforce(const RunContext& ctx, const ReinforceConfig& config);
  Metrics Iterate() override;

 private:
  ReinforceConfig config_;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_PG_REINFORCE_H_
