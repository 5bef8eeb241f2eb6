// rlforge/algos/off_policy.h — the machinery the off-policy actor-critics for
// continuous actions share (DDPG, TD3: algos/ddpg, algos/td3; SAC: algos/sac).
//
// Collection follows SB3's OffPolicyAlgorithm: each iteration steps the
// vector env train_freq times (per env); until learning_starts env steps the
// actions are uniform over the Box, afterwards the agent's own (SAC: sampled;
// DDPG/TD3: the actor's plus exploration noise). Then, once more than
// learning_starts steps are done, gradient_steps gradient steps (-1: one per
// env step collected). Actions live in the networks' space [-1, 1]^d:
//   env action = low + (a + 1) (high - low) / 2,
// so every Box with finite bounds works; the replay stores the scaled action
// (float32 vectors in DQN's replay buffer, rlforge/buffers/replay_buffer.h,
// with its n-step returns and prioritized sampling). Truncated transitions
// bootstrap from the final observation; terminated ones do not.
//
// The critics are n_critics MLPs Q_i(s, a) on [features, action], trained
// towards a target y that each agent defines (its TD target) with
//   loss = critic_loss_scale * sum_i mean_b w_b (Q_i(s_b, a_b) - y_b)^2,
// w the importance weights (1 without prioritization). Target networks
// follow theta' <- tau theta + (1 - tau) theta' (Polyak averaging).
//
// Each gradient step has the same phases for every agent, public so that
// tests can run them one at a time: SampleBatch() draws a minibatch and the
// Gaussian noise the step uses; CriticGradients(fast) and
// ActorGradients(fast) write the losses' gradients into .grad, either with the
// hand-written MLP kernels (rlforge/algos/fast_update.h) or with autograd
// (tests check that both agree); GradientStep() runs them with the optimizer
// steps in the agent's order.
#ifndef RLFORGE_ALGOS_OFF_POLICY_H_
#define RLFORGE_ALGOS_OFF_POLICY_H_

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rlforge/algos/algorithm.h"
#include "rlforge/algos/fast_update.h"
#include "rlforge/buffers/replay_buffer.h"
#include "rlforge/buffers/sum_tree.h"
#include "rlforge/config/config.h"
#include "rlforge/env/vector_env.h"
#include "rlforge/nn/policy.h"

namespace rlforge {

// The hyperparameters every off-policy actor-critic has (SB3's names and,
// unless an agent says otherwise, SB3's defaults).
struct OffPolicyConfig {
  Schedule learning_rate = Schedule::Constant(3e-4);  // Adam step size (actor, critics, entropy)
  int64_t buffer_size = 1000000;          // replay capacity (transitions)
  int64_t learning_starts = 100;          // env steps of uniform actions before learning
  int64_t batch_size = 256;               // minibatch size
  double tau = 0.005;                     // Polyak coefficient of the target networks
  double gamma = 0.99;                    // discount
  int64_t train_freq = 1;                 // env steps (per env) between update phases
  int64_t gradient_steps = 1;             // gradient steps per update phase (-1: one per env step collected)
  int64_t n_step = 1;                     // n-step returns
  bool prioritized_replay = false;        // prioritized replay (as DQN's; priorities |TD error| of critic 1)
  double prioritized_alpha = 0.6;
  double prioritized_beta0 = 0.4;
  double prioritized_eps = 1e-6;
  std::vector<int64_t> net_arch = {256, 256};  // hidden layers of the actor and of each critic
  std::vector<int64_t> critic_arch;       // the critics' hidden layers when they differ (empty: net_arch)
  std::string activation = "relu";        // relu or tanh
  // Exploration noise added to the scaled action (DDPG/TD3; SAC explores by
  // its own sampling): none, normal, or ornstein-uhlenbeck.
  std::string action_noise = "none";
  double noise_std = 0.1;                 // sigma of the noise
  double noise_theta = 0.15;              // OU: mean reversion rate
  double noise_dt = 0.01;                 // OU: time step
  bool save_replay = true;                // store the replay in checkpoints (exact resume)
  bool fast_update = true;                // hand-written forward/backward (else autograd)
  std::string replay_dataset;             // dataset whose transitions fill the replay first ("": none)

  void Visit(FieldVisitor& v);
  void Validate() const;
  // One iteration collects train_freq steps of every env.
  int64_t StepsPerIteration(int64_t num_envs) const { return train_freq * num_envs; }
};

// Exploration noise per env (SB3's NormalActionNoise and
// OrnsteinUhlenbeckActionNoise): normal draws sigma N(0, 1); the OU process
//   x <- x + theta (0 - x) dt + sigma sqrt(dt) N(0, 1)
// (stationary variance sigma^2 / (theta (2 - theta dt)), lag-1 correlation
// 1 - theta dt), restarted at 0 when the env's episode ends.
class ActionNoise {
 public:
  enum class Kind { kNone, kNormal, kOrnsteinUhlenbeck };
  ActionNoise() = default;
  ActionNoise(const std::string& kind, int64_t dim, int num_envs, double sigma, double theta, double dt);
  Kind kind() const { return kind_; }
  // Adds env i's next noise to a[0..dim).
  void Add(Rng& rng, int env, float* a);
  void Reset(int env);  // the env's episode ended
  template <class A>
  void Fields(A& a) {
    a(state_);
  }

 private:
  Kind kind_ = Kind::kNone;
  int64_t dim_ = 0;
  double sigma_ = 0, theta_ = 0, dt_ = 0;
  std::vector<double> state_;  // OU: [num_envs, dim]
};

// The critics: n MLPs Q_i([features, action]) -> 1, held together.
class CriticsImpl : public torch::nn::Module {
 public:
  CriticsImpl(int64_t obs_dim, int64_t act_dim, int64_t n, const std::vector<int64_t>& net_arch,
              const std::string& activation);
  // [B, obs_dim + act_dim] -> [B, n].
  torch::Tensor forward(const torch::Tensor& obs_action);
  // Critic i's layers (hidden layers, then its head) for MlpKernel.
  std::vector<torch::nn::Linear> layers(int64_t i) const;
  int64_t size() const { return static_cast<int64_t>(torsos_.size()); }
  bool tanh() const { return torsos_[0]->activation() == "tanh"; }
  std::vector<torch::Tensor> critic_parameters(int64_t i) const;

 private:
  std::vector<Mlp> torsos_;
  std::vector<torch::nn::Linear> heads_;
};
TORCH_MODULE(Critics);

// theta' <- tau theta + (1 - tau) theta' over two modules' parameters.
void PolyakUpdate(torch::nn::Module& from, torch::nn::Module& to, double tau);

// The bounds of a one-dimensional float Box action space with finite bounds,
// which `algo` rescales to [-1, 1] (InvalidArgument naming env_id otherwise).
void ScaledBoxBounds(const Space& act_space, const std::string& algo, const std::string& env_id,
                     std::vector<float>* low, std::vector<float>* high);

// A policy that acts with an actor in the scaled action space: observation
// features [n, FeatureSize] -> actions in [-1, 1] (act; deterministic: the
// mode, else a draw from the policy's own Rng seeded with `seed`), clipped
// and mapped to the Box [low, high] as env actions.
using ScaledActFn = std::function<void(const float* features, int n, bool deterministic, Rng& rng, float* scaled)>;
std::unique_ptr<Policy> MakeScaledActorPolicy(ScaledActFn act, bool deterministic, const Space& obs_space,
                                              const Space& act_space, std::vector<float> low, std::vector<float> high,
                                              uint64_t seed);

class OffPolicyActorCritic : public Algorithm {
 public:
  static constexpr uint32_t kRunKeys = kRunNumEnvs | kRunEnvThreads | kRunTorchThreads;

  Metrics Iterate() override;
  int64_t num_timesteps() const override { return steps_; }
  void VisitState(StateVisitor& v) override;
  // After a warm start: the target critics become copies of the critics.
  void NetworkLoaded() override { SyncCriticTarget(1.0); }

  // One gradient step's phases (see the header comment).
  void SampleBatch();
  virtual double CriticGradients(bool fast) = 0;
  virtual double ActorGradients(bool fast) = 0;
  double GradientStep();

  Critics& critics() { return critics_; }
  Critics& critic_target() { return critic_target_; }
  // The last SampleBatch's transitions and the last CriticGradients' targets y.
  const ReplayBuffer::Batch& batch() const { return batch_; }
  const std::vector<float>& targets() const { return y_; }
  const ReplayBuffer& replay() const { return replay_; }
  int64_t obs_dim() const { return obs_dim_; }
  int64_t act_dim() const { return act_dim_; }
  // Multiply-adds x 2 of the last gradient step's matrix products.
  virtual double flops_per_gradient_step() const = 0;
  // Env action from a scaled one in [-1, 1] (clipped first), and back.
  void Unscale(const float* scaled, float* env_action) const;
  void Scale(const float* env_action, float* scaled) const;

 protected:
  OffPolicyActorCritic(const RunContext& ctx, const OffPolicyConfig& config, int64_t n_critics);
  // The agent's actions for a batch of features [n, obs_dim], scaled to
  // [-1, 1] (deterministic: the policy's mode; else a draw from rng).
  virtual void ActScaled(const float* features, int n, bool deterministic, Rng& rng, float* scaled) = 0;
  // The actor and the agent's own state (networks, optimizers, counters).
  virtual void VisitAgentState(StateVisitor& v) = 0;
  // The agent's own optimizer steps etc. for one gradient step; returns the
  // critic loss (the base does sampling, timing and the step count).
  virtual double TrainStep() = 0;
  virtual Metrics AgentMetrics() = 0;
  // The Gaussian draws of the next gradient step (SampleBatch calls it).
  virtual void DrawStepNoise() = 0;
  // The agent's own optimizers' learning rate (the critics' is set here).
  virtual void SetAgentLearningRate(double lr) = 0;
  // Called before the k-th vector step of each collection phase (k = 0, 1, ...).
  virtual void BeginCollectStep(int64_t /*k*/) {}
  // Whether the steps before learning_starts take uniform actions (SB3's warm-up).
  virtual bool UniformWarmup() const { return true; }
  // A policy that acts with `act` (the agent's actor, captured by value).
  std::unique_ptr<Policy> MakeActorPolicy(ScaledActFn act, bool deterministic) const;

  // The target critics' values [B, n] at the batch's next observations and
  // next_actions [B, act_dim] (kernels, or torch without gradients).
  void TargetCriticValues(const float* next_actions, bool fast, std::vector<float>* q);
  // The critic loss against targets y [B], its gradients written into the
  // critics' .grad (scale: 0.5 for SAC, 1 for TD3); critic 1's TD errors
  // kept for the priorities.
  double CriticLoss(const std::vector<float>& y, double scale, bool fast);
  // Fast path of an actor loss through the critics: CriticValuesAt runs the
  // first `used` critics at the batch's observations and `actions`
  // [B, act_dim] (values [B, n] into *q, 0 for the others); CriticActionGradient then writes dL/d(actions) of
  // L = sum_b sum_i coef[b, i] Q_i(s_b, a_b) into *d_actions, leaving the
  // critics' .grad alone.
  void CriticValuesAt(const float* actions, int64_t used, std::vector<float>* q);
  void CriticActionGradient(const std::vector<float>& coef, std::vector<float>* d_actions);
  void SyncCriticTarget(double tau) { PolyakUpdate(*critics_, *critic_target_, tau); }
  void UpdatePriorities();

  OffPolicyConfig config_;
  std::unique_ptr<VectorEnv> envs_;
  Space obs_space_, act_space_;
  int64_t obs_dim_ = 0, act_dim_ = 0;
  std::vector<float> low_, high_;
  Critics critics_{nullptr}, critic_target_{nullptr};
  std::unique_ptr<torch::optim::Adam> critic_optimizer_;
  ReplayBuffer replay_;
  ReplayBuffer::Batch batch_;
  std::vector<float> obs_, next_;  // the batch's features [B, obs_dim]
  std::vector<float> weights_;     // importance weights [B]
  std::vector<int64_t> slots_;
  std::vector<double> td_;
  SumTree priorities_;
  double max_priority_ = 1.0;
  bool fast_ = false;
  // Kernels of the critics at (s, a) for the critic loss, at (s, a_pi) for
  // the actor's, and of the target critics at s'.
  std::vector<MlpKernel> critic_k_, critic_pi_k_, critic_target_k_;
  std::vector<float> sa_, sa_pi_;  // [B, obs + act] critic inputs
  std::vector<float> y_;           // [B] the critics' targets
  ActionNoise noise_;
  Rng rng_;
  int64_t steps_ = 0, updates_ = 0;
  int64_t phase_step_ = 0;  // index of the gradient step within the current update phase (SB3's gradient_step)
  double time_sample_ = 0;

 private:
  // Scratch of the collection loop.
  std::vector<float> act_features_, act_scaled_, act_env_;
  std::vector<uint8_t> act_prev_obs_;
  double critic_loss_sum_ = 0;
};

// Weights (multiply-adds per row) of a network's first layer and of all the
// others: the flop counts' parts (a backward pass needs no input gradient at
// the first layer unless the input is an action).
std::pair<double, double> FirstAndLaterWeights(const std::vector<torch::nn::Linear>& layers);

// Concatenates features [B, D] and actions [B, A] row by row into out [B, D + A].
void ConcatRows(const float* x, int64_t d, const float* a, int64_t k, int64_t rows, std::vector<float>* out);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_OFF_POLICY_H_
