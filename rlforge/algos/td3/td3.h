// rlforge/algos/td3/td3.h — Twin Delayed DDPG (Fujimoto et al., 2018).
//
// A deterministic actor mu(s) = tanh(MLP(s)) in [-1, 1]^d and n_critics
// (two) Q-networks, trained from replay (rlforge/algos/off_policy.h) with
// three changes to DDPG:
//   - clipped double Q: the target takes the smallest target critic,
//       y = R + discount (1 - terminated) min_i Q'_i(s', a'),
//   - target policy smoothing: a' = clip(mu'(s') + clip(eps, -c, c), -1, 1),
//       eps ~ N(0, target_policy_noise^2), c = target_noise_clip,
//   - delayed updates: the actor and the target networks change once every
//     policy_delay critic updates.
// Critic loss: sum_i mean (Q_i(s, a) - y)^2 (SB3's, without a 1/2).
// Actor loss: -mean Q_1(s, mu(s)), through the critic's action input.
// Targets: theta' <- tau theta + (1 - tau) theta' for actor and critics,
// after each actor update. Exploration: the actor's action plus action_noise
// (normal or Ornstein-Uhlenbeck), clipped to [-1, 1].
// DDPG (Lillicrap et al., 2016; algos/ddpg) is this with one critic, no
// smoothing and policy_delay 1, as SB3 builds it.
#ifndef RLFORGE_ALGOS_TD3_TD3_H_
#define RLFORGE_ALGOS_TD3_TD3_H_

#include "rlforge/algos/off_policy.h"

namespace rlforge {

struct Td3Config : OffPolicyConfig {
  int64_t policy_delay = 2;          // critic updates per actor (and target) update
  double target_policy_noise = 0.2;  // sigma of the smoothing noise on the target action
  double target_noise_clip = 0.5;    // the smoothing noise is clipped to +-this
  int64_t n_critics = 2;             // critics (the target takes their minimum)

  Td3Config() {
    learning_rate = Schedule::Constant(1e-3);
    net_arch = {400, 300};
  }
  void Visit(FieldVisitor& v);
  void Validate() const;
};

// mu(s) = tanh(head(torso(s))): the scaled action in [-1, 1]^d.
class DeterministicActorImpl : public torch::nn::Module {
 public:
  DeterministicActorImpl(int64_t obs_dim, int64_t act_dim, const std::vector<int64_t>& net_arch,
                         const std::string& activation);
  torch::Tensor forward(const torch::Tensor& features);
  std::vector<torch::nn::Linear> layers() const;  // torso, then head (for MlpKernel)
  const Mlp& torso() const { return torso_; }
  const torch::nn::Linear& head() const { return head_; }

 private:
  Mlp torso_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(DeterministicActor);

class Td3 : public OffPolicyActorCritic {
 public:
  Td3(const RunContext& ctx, const Td3Config& config);

  double CriticGradients(bool fast) override;
  double ActorGradients(bool fast) override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  torch::nn::Module* network() override { return &nets_; }
  // After a warm start: both target networks become copies.
  void NetworkLoaded() override {
    OffPolicyActorCritic::NetworkLoaded();
    PolyakUpdate(*actor_, *actor_target_, 1.0);
  }
  double flops_per_gradient_step() const override;
  DeterministicActor& actor() { return actor_; }
  DeterministicActor& actor_target() { return actor_target_; }
  // The last SampleBatch's clipped smoothing noise [B, A].
  const std::vector<float>& smoothing() const { return smoothing_; }

 protected:
  runtime::Model ExportModel() override;
  void ActScaled(const float* features, int n, bool deterministic, Rng& rng, float* scaled) override;
  void VisitAgentState(StateVisitor& v) override;
  double TrainStep() override;
  Metrics AgentMetrics() override;
  void DrawStepNoise() override;
  void SetAgentLearningRate(double lr) override;

 private:
  Td3Config td3_;
  DeterministicActor actor_{nullptr}, actor_target_{nullptr};
  torch::nn::Module nets_;  // actor and critics (the benchmark's shapes)
  std::unique_ptr<torch::optim::Adam> actor_optimizer_;
  MlpKernel actor_k_, actor_target_k_, actor_act_k_;
  std::vector<float> smoothing_;  // [B, A] clipped smoothing noise of this step
  std::vector<float> next_a_, q_next_, a_pi_, q_pi_, coef_, d_a_;
  double actor_loss_ = 0;
  bool actor_loss_set_ = false;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_TD3_TD3_H_
