// rlforge/algos/dqn/dqn.h — Deep Q-Networks (Mnih et al., 2015) with Double
// DQN (van Hasselt et al., 2016) and legal-action masks.
//
// Each iteration steps the vector env train_freq times (epsilon-greedy on the
// online network; epsilon decays linearly from exploration_initial_eps to
// exploration_final_eps over exploration_fraction of training), storing
// transitions in a replay buffer, then (after learning_starts steps) takes
// gradient_steps Adam steps on minibatches drawn uniformly, by priority
// (Schaul et al., 2016) or by recency:
//   y = R + gamma^K (1 - terminated) Q_target(s_{t+K}, a*),
//   R = sum_{k<K} gamma^k r_{t+k}  (K = n_step, or fewer at an episode's end)
//   a* = argmax_{legal a'} Q_target(s', a')      (DQN)
//   a* = argmax_{legal a'} Q_online(s', a')      (Double DQN)
//   loss = Huber(Q_online(s, a) - y)  (or MSE)
// The Q-network is an MLP on vector observations (Discrete and MultiDiscrete
// one-hot) or the Nature CNN on uint8 images, optionally with a dueling head
// (Wang et al., 2016): Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a').
// The target network is updated every target_update_interval env steps,
// theta' <- tau theta + (1 - tau) theta' (tau = 1: a hard copy). Illegal
// actions are never chosen, neither by exploration nor greedily, and the max
// in the target runs over the next state's legal actions (stored in replay).
// Truncated transitions bootstrap from the final observation.
// Learning from demonstrations (DQfD, Hester et al., 2018), with demo_policy
// set: demo_episodes episodes of that scripted policy are recorded into a
// separate replay that is never overwritten; demo_pretrain_steps gradient
// steps train on them alone (the target network hard-copied every 1,000 of
// them and at the end); then a demo_fraction share of every minibatch comes
// from them. On demonstration rows the loss adds the large-margin term
//   demo_margin_weight · (max_{legal a} [Q(s, a) + l(a_E, a)] − Q(s, a_E)),
// l = demo_margin for a ≠ a_E and 0 for the demonstrated a_E, which pushes
// the demonstrated action's value above the others'.
// The loss is defined once, on the network's outputs (QHead below: DQN's
// ExpectedQHead; QR-DQN brings its own): it gives dL/d(outputs), and the
// hand-written MLP kernels (fast_update) or autograd carry it back. Other
// value-based agents reuse this machinery (replay, exploration, target
// network, checkpoints) through the protected constructor with their head.
#ifndef RLFORGE_ALGOS_DQN_DQN_H_
#define RLFORGE_ALGOS_DQN_DQN_H_

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rlforge/algos/algorithm.h"
#include "rlforge/algos/fast_update.h"
#include "rlforge/buffers/replay_buffer.h"
#include "rlforge/buffers/sum_tree.h"
#include "rlforge/config/config.h"
#include "rlforge/core/rng.h"
#include "rlforge/env/vector_env.h"
#include "rlforge/nn/policy.h"

namespace rlforge {

// The prioritized-replay keys of `config` set away from `defaults` while
// prioritized_replay is off (DQN's and the off-policy actor-critics'
// configs), worded for WarnInertKeys.
template <typename Config>
std::vector<std::string> InertPrioritizedKeys(const Config& config, const Config& defaults) {
  std::vector<std::string> why;
  if (config.prioritized_replay) return why;
  for (const auto& [key, set] : {std::pair{"prioritized_alpha", config.prioritized_alpha != defaults.prioritized_alpha},
                                 std::pair{"prioritized_beta0", config.prioritized_beta0 != defaults.prioritized_beta0},
                                 std::pair{"prioritized_eps", config.prioritized_eps != defaults.prioritized_eps}})
    if (set) why.push_back(std::string(key) + " shapes prioritized replay, and prioritized_replay is false");
  return why;
}

struct DqnConfig {
  Schedule learning_rate = Schedule::Constant(1e-4);  // Adam step size
  int64_t buffer_size = 1000000;          // replay capacity (transitions)
  int64_t learning_starts = 100;          // env steps before the first update
  int64_t batch_size = 32;                // minibatch size
  double tau = 1.0;                       // target update coefficient (1: hard copy)
  double gamma = 0.99;                    // discount
  int64_t train_freq = 4;                 // env steps (per env) between update phases
  int64_t gradient_steps = 1;             // gradient steps per update phase (-1: as many as env steps collected)
  int64_t target_update_interval = 10000; // env steps between target updates
  double exploration_fraction = 0.1;      // fraction of training over which epsilon decays
  double exploration_initial_eps = 1.0;   // epsilon at the start
  double exploration_final_eps = 0.05;    // epsilon after the decay
  // Global gradient-norm clip; null: none (QR-DQN's default, as sb3-contrib's).
  std::optional<double> max_grad_norm = 10.0;
  // Adam's epsilon; null: the agent's default (DQN 1e-8, SB3's; QR-DQN
  // 0.01 / batch_size, sb3-contrib's, after the QR-DQN paper).
  std::optional<double> adam_eps;
  bool double_q = false;                  // Double DQN targets
  std::string loss = "huber";             // huber or mse
  bool save_replay = true;                // store the replay buffer in checkpoints (exact resume)
  bool fast_update = true;                // hand-written forward/backward (rlforge/algos/fast_update.h)
  std::string replay_dataset;             // dataset whose transitions fill the replay first ("": none)
  // Prioritized replay (Schaul et al., 2016): P(i) ~ p_i^alpha with p_i =
  // |TD error| + eps (new transitions get the largest priority so far);
  // importance weights (N P(i))^-beta, normalized by the batch maximum, with
  // beta annealed linearly from prioritized_beta0 to 1 over training.
  bool prioritized_replay = false;
  double prioritized_alpha = 0.6;
  double prioritized_beta0 = 0.4;
  double prioritized_eps = 1e-6;
  // Recency-weighted replay: a transition k steps older than the newest is
  // drawn with weight recency_decay^k (1: uniform). 0.9999 halves the weight
  // every 6,931 transitions.
  double recency_decay = 1.0;
  int64_t n_step = 1;                     // n-step returns
  bool dueling = false;                   // dueling value/advantage head
  std::vector<int64_t> net_arch = {64, 64};  // hidden layer sizes (after the CNN for images)
  std::string activation = "relu";        // tanh or relu
  // Demonstrations (DQfD; see the header comment).
  std::string demo_policy;                // scripted policy recorded ("": none), e.g. heuristic
  int64_t demo_episodes = 50;             // episodes recorded
  int64_t demo_pretrain_steps = 10000;    // gradient steps on the demonstrations before training
  double demo_fraction = 0.25;            // share of each minibatch drawn from them afterwards
  double demo_margin = 0.8;               // margin l of the supervised loss
  double demo_margin_weight = 1.0;        // weight of the supervised loss

  void Visit(FieldVisitor& v);
  void Validate() const;
  // One iteration collects train_freq steps of every env.
  int64_t StepsPerIteration(int64_t num_envs) const { return train_freq * num_envs; }
};

// Raw observations -> float features: Box as is (uint8 images scaled to
// [0, 1] and laid out [C, H, W]), Discrete and MultiDiscrete one-hot.
int64_t FeatureSize(const Space& obs_space);
void ObservationFeatures(const Space& obs_space, const void* obs, int64_t rows, float* out);
// (Whether observations are images for the Nature CNN: IsImageSpace, rlforge/nn/policy.h.)

// Dueling aggregation on a head's raw output [B, 1 + A] (column 0: V):
// q[i, a] = raw[i, 0] + raw[i, 1 + a] - mean_a' raw[i, 1 + a'], and its
// backward, d_raw from d_q.
void DuelingForward(const float* raw, int64_t batch, int64_t actions, float* q);
void DuelingBackward(const float* d_q, int64_t batch, int64_t actions, float* d_raw);

// A minibatch of transitions for a value head's loss (arrays of the batch's rows).
struct QBatch {
  int64_t size = 0;                       // B
  int64_t num_actions = 0;                // A
  const int64_t* actions = nullptr;       // [B] taken, 0-based
  const float* rewards = nullptr;         // [B] n-step returns R
  const float* discounts = nullptr;       // [B] gamma^K
  const uint8_t* terminated = nullptr;    // [B]
  const uint8_t* next_masks = nullptr;    // [B, A] legal actions at s' (null: all)
  const float* weights = nullptr;         // [B] importance weights
  int64_t demo_rows = 0;                  // the last demo_rows rows are demonstrations (DQfD)
  const uint8_t* demo_masks = nullptr;    // [demo_rows, A] legal actions at their s (null: all)
};

struct QLossValues {
  double loss = 0;
  double margin_loss = 0;  // DQfD's large-margin term (before its weight)
};

// What a value-based agent's network predicts and how it learns it: for each
// action, outputs_per_action() numbers (DQN: the Q-value; QR-DQN: quantiles
// of the return). The agent acts greedily in QValues.
class QHead {
 public:
  virtual ~QHead() = default;
  virtual int64_t outputs_per_action() const = 0;
  // Q(s, a) [rows, A] from network outputs [rows, A * outputs_per_action()].
  virtual void QValues(const float* outputs, int64_t rows, int64_t num_actions, float* q) const = 0;
  // The loss on a batch, from the online network's outputs at s, the target
  // network's at s' and (Double DQN) the online network's at s' (else null);
  // writes the TD errors td [B] (priorities) and dL/d(online outputs) (every
  // entry).
  virtual QLossValues Loss(const float* online, const float* target_next, const float* online_next,
                           const QBatch& batch, double* td, float* d_online) const = 0;
};

// DQN's head: outputs are Q-values; the loss is the TD loss (Huber or MSE)
// against y = R + discount (1 - terminated) Q_target(s', a*) with a* the
// greedy legal action of the target network (Double DQN: of the online
// network), weighted by the importance weights, plus DQfD's large-margin term
// on the demonstration rows (see the header comment).
class ExpectedQHead : public QHead {
 public:
  ExpectedQHead(bool huber, double margin, double margin_weight)
      : huber_(huber), margin_(margin), margin_weight_(margin_weight) {}
  int64_t outputs_per_action() const override { return 1; }
  void QValues(const float* outputs, int64_t rows, int64_t num_actions, float* q) const override;
  QLossValues Loss(const float* online, const float* target_next, const float* online_next, const QBatch& batch,
                   double* td, float* d_online) const override;

 private:
  bool huber_;
  double margin_, margin_weight_;
};

class QNetworkImpl : public torch::nn::Module {
 public:
  // outputs_per_action: the head's (1: Q-values; dueling needs 1).
  QNetworkImpl(const Space& obs_space, int64_t actions, const std::vector<int64_t>& net_arch,
               const std::string& activation, bool dueling, int64_t outputs_per_action = 1);
  // [B, FeatureSize] float features -> [B, actions * outputs_per_action] outputs.
  torch::Tensor forward(torch::Tensor features);
  // MLP networks: hidden layers, then the head (1 + actions outputs when dueling).
  std::vector<torch::nn::Linear> layers() const;
  bool tanh() const { return torso_->activation() == "tanh"; }
  bool image() const { return !cnn_.is_empty(); }
  bool dueling() const { return dueling_; }
  // The image encoder (null for flat observations) and its input [C, H, W].
  const NatureCnn& cnn() const { return cnn_; }
  const std::vector<int64_t>& chw() const { return chw_; }

 private:
  std::vector<int64_t> chw_;
  bool dueling_;
  int64_t actions_;
  int64_t outputs_per_action_;
  NatureCnn cnn_{nullptr};
  Mlp torso_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(QNetwork);

class Dqn : public Algorithm {
 public:
  static constexpr uint32_t kRunKeys = kRunNumEnvs | kRunEnvThreads | kRunTorchThreads;

  Dqn(const RunContext& ctx, const DqnConfig& config);
  // The first call with demo_policy set records the demonstrations and
  // pretrains on them (Iterate does it; public for tests).
  void PrepareDemonstrations();
  const ReplayBuffer& demo_replay() const { return demo_replay_; }
  Metrics Iterate() override;
  int64_t num_timesteps() const override { return steps_; }
  // Networks, optimizer, RNG, counters, the vector env, and (save_replay)
  // the replay buffer with its priorities; the demonstrations' accuracy.
  void VisitState(StateVisitor& v) override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;

 protected:
  runtime::Model ExportModel() override;

 public:
  torch::nn::Module* network() override { return q_.get(); }
  void NetworkLoaded() override { SyncTarget(1.0); }

  double epsilon() const;
  // The optimizer's epsilon and the gradient-norm clip in use (null: none).
  double adam_eps() const;
  std::optional<double> max_grad_norm() const { return config_.max_grad_norm; }
  QNetwork& q_net() { return q_; }
  const ReplayBuffer& replay() const { return replay_; }
  // Multiply-adds x 2 of one gradient step's matrix products (for the
  // benchmark's GFLOP/s).
  double flops_per_gradient_step() const;

  // One gradient step's parts, public for tests: draw a minibatch; compute the
  // loss on it and write dL/dtheta into the Q-network's .grad, the network's
  // outputs and backward pass from the hand-written kernels (fast) or autograd.
  void SampleBatch();
  double LossAndGradients(bool fast);

 protected:
  // For value-based agents with another head (QR-DQN): everything else is DQN's.
  Dqn(const RunContext& ctx, const DqnConfig& config, std::unique_ptr<QHead> head);

 private:
  void Features(const void* obs, int64_t rows, float* out) const;
  void Act(const float* features, const uint8_t* masks, int n, int64_t* actions);
  double GradientStep();  // sample, loss and gradients, clip, Adam step
  void SyncTarget(double tau);  // theta' <- tau theta + (1 - tau) theta' (tau 1: a copy)
  // The network's outputs [rows, A * k] after a kernel's Forward (dueling aggregated).
  const float* KernelOutputs(MlpKernel& k, int64_t rows, std::vector<float>* scratch);
  QBatch MakeQBatch() const;

  DqnConfig config_;
  std::shared_ptr<const QHead> head_;
  std::unique_ptr<VectorEnv> envs_;
  Space obs_space_, act_space_;
  int64_t obs_dim_, num_actions_, out_dim_;  // out_dim_ = num_actions_ * outputs per action
  QNetwork q_{nullptr}, target_{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer_;
  ReplayBuffer replay_;
  ReplayBuffer::Batch batch_;
  std::vector<float> batch_obs_, batch_next_;  // the batch's features
  std::vector<float> out_scratch_, out_next_scratch_, out_target_scratch_, act_scratch_, act_q_, d_out_;
  std::vector<double> td_;
  std::vector<float> act_features_;
  std::vector<int64_t> act_actions_, act_env_actions_;
  std::vector<uint8_t> act_prev_obs_;
  SumTree priorities_;
  double max_priority_ = 1.0;
  std::vector<int64_t> slots_;     // the last batch's slots
  std::vector<float> weights_;     // the last batch's importance weights (1 without prioritization)
  void UpdatePriorities(const std::vector<double>& td);  // from the last batch's TD errors
  bool fast_ = false;
  MlpKernel online_, online_next_, target_kernel_, actor_;
  double time_sample_ = 0;  // seconds sampling and gathering batches in the last iteration
  Rng rng_;
  int64_t steps_ = 0, updates_ = 0, last_target_update_ = 0;
  // Demonstrations: their replay (one stream, never overwritten), the legal
  // mask at each one's state, and the last batch's demonstration rows (its
  // last batch_demo_rows_ rows) with their masks.
  ReplayBuffer demo_replay_;
  std::vector<uint8_t> demo_masks_;
  std::vector<int64_t> demo_slots_;
  ReplayBuffer::Batch demo_batch_;
  std::vector<uint8_t> batch_demo_masks_;
  std::vector<float> agent_weights_;
  int64_t batch_demo_rows_ = 0;
  bool pretraining_ = false;
  double margin_loss_ = 0;            // the last gradient step's margin term
  double demo_accuracy_ = -1;         // after pretraining: greedy action = demonstrated one (saved)
  double demo_return_ = 0;            // the demonstrations' mean episode return
};

// Greedy policy of a Q-network over legal actions (Q from the head's QValues).
class QNetworkPolicy : public Policy {
 public:
  // epsilon > 0 (Discrete actions): epsilon-greedy, as SB3's DQN predicts
  // with deterministic=False (a uniformly random legal action with
  // probability epsilon), drawn from a generator seeded with `seed`.
  QNetworkPolicy(QNetwork net, std::shared_ptr<const QHead> head, Space obs_space, Space act_space,
                 double epsilon = 0.0, uint64_t seed = 0);
  void Act(const void* observations, const uint8_t* masks, int n, void* actions) override;
  std::string name() const override { return epsilon_ > 0 ? "epsilon-greedy" : "greedy"; }

 private:
  QNetwork net_;
  std::shared_ptr<const QHead> head_;
  Space obs_space_, act_space_;
  double epsilon_;
  Rng rng_;
  std::vector<float> feats_, q_;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_DQN_DQN_H_
