// rlforge/algos/dqn/dqn.h — Deep Q-Networks (Mnih et al., 2015) with Double
// DQN (van Hasselt et al., 2016) and legal-action masks.
//
// Each iteration steps the vector env train_freq times (epsilon-greedy on the
// online network; epsilon decays linearly from exploration_initial_eps to
// exploration_final_eps over exploration_fraction of training), storing
// transitions in a uniform replay buffer, then (after learning_starts steps)
// takes gradient_steps Adam steps on minibatches:
//   y = r + gamma (1 - terminated) Q_target(s', a*),
//   a* = argmax_{legal a'} Q_target(s', a')      (DQN)
//   a* = argmax_{legal a'} Q_online(s', a')      (Double DQN)
//   loss = Huber(Q_online(s, a) - y)  (or MSE)
// The target network is updated every target_update_interval env steps,
// theta' <- tau theta + (1 - tau) theta' (tau = 1: a hard copy). Illegal
// actions are never chosen, neither by exploration nor greedily, and the max
// in the target runs over the next state's legal actions (stored in replay).
// Truncated transitions bootstrap from the final observation.
#ifndef RLFORGE_ALGOS_DQN_DQN_H_
#define RLFORGE_ALGOS_DQN_DQN_H_

#include <torch/torch.h>

#include <memory>

#include "rlforge/algos/algorithm.h"
#include "rlforge/algos/fast_update.h"
#include "rlforge/buffers/replay_buffer.h"
#include "rlforge/buffers/sum_tree.h"
#include "rlforge/env/vector_env.h"
#include "rlforge/nn/policy.h"
#include "rlforge/train/config.h"

namespace rlforge {

struct DqnConfig {
  Schedule learning_rate = Schedule::Constant(1e-4);  // Adam step size
  int64_t buffer_size = 1000000;          // replay capacity (transitions)
  int64_t learning_starts = 100;          // env steps before the first update
  int64_t batch_size = 32;                // minibatch size
  double tau = 1.0;                       // target update coefficient (1: hard copy)
  double gamma = 0.99;                    // discount
  int64_t train_freq = 4;                 // env steps (per env) between update phases
  int64_t gradient_steps = 1;             // gradient steps per update phase
  int64_t target_update_interval = 10000; // env steps between target updates
  double exploration_fraction = 0.1;      // fraction of training over which epsilon decays
  double exploration_initial_eps = 1.0;   // epsilon at the start
  double exploration_final_eps = 0.05;    // epsilon after the decay
  double max_grad_norm = 10.0;            // global gradient-norm clip
  bool double_q = false;                  // Double DQN targets
  std::string loss = "huber";             // huber or mse
  bool save_replay = true;                // store the replay buffer in checkpoints (exact resume)
  bool fast_update = true;                // hand-written forward/backward (rlforge/algos/fast_update.h)
  // Prioritized replay (Schaul et al., 2016): P(i) ~ p_i^alpha with p_i =
  // |TD error| + eps (new transitions get the largest priority so far);
  // importance weights (N P(i))^-beta, normalized by the batch maximum, with
  // beta annealed linearly from prioritized_beta0 to 1 over training.
  bool prioritized_replay = false;
  double prioritized_alpha = 0.6;
  double prioritized_beta0 = 0.4;
  double prioritized_eps = 1e-6;
  std::vector<int64_t> net_arch = {64, 64};  // hidden layer sizes
  std::string activation = "relu";        // tanh or relu

  void Visit(FieldVisitor& v);
  void Validate() const;
};

class QNetworkImpl : public torch::nn::Module {
 public:
  QNetworkImpl(int64_t in, int64_t actions, const std::vector<int64_t>& net_arch, const std::string& activation);
  torch::Tensor forward(torch::Tensor x);  // [B, in] -> [B, actions]
  std::vector<torch::nn::Linear> layers() const;  // hidden layers, then the head
  bool tanh() const { return torso_->activation() == "tanh"; }

 private:
  Mlp torso_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(QNetwork);

class Dqn : public Algorithm {
 public:
  Dqn(const std::string& env_id, const Kwargs& env_kwargs, int num_envs, int env_threads, uint64_t seed,
      const DqnConfig& config, int64_t total_steps);
  Metrics Iterate() override;
  int64_t num_timesteps() const override { return steps_; }
  void TakeFinishedEpisodes(std::vector<double>* returns, std::vector<int64_t>* lengths) override;
  void Save(const std::string& path) const override;
  void Load(const std::string& path) override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;

  double epsilon() const;
  QNetwork& q_net() { return q_; }
  const ReplayBuffer& replay() const { return replay_; }

 private:
  void Features(const void* obs, int64_t rows, float* out) const;
  double Update();
  double FastUpdate();  // the same update with MlpKernel instead of autograd

  DqnConfig config_;
  int64_t total_steps_;
  std::unique_ptr<VectorEnv> envs_;
  Space obs_space_, act_space_;
  int64_t obs_dim_, num_actions_;
  QNetwork q_{nullptr}, target_{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer_;
  ReplayBuffer replay_;
  ReplayBuffer::Batch batch_;
  SumTree priorities_;
  double max_priority_ = 1.0;
  std::vector<int64_t> slots_;     // the last batch's slots
  std::vector<float> weights_;     // the last batch's importance weights (1 without prioritization)
  void SampleBatch();
  void UpdatePriorities(const std::vector<double>& td);
  bool fast_ = false;
  MlpKernel online_, online_next_, target_kernel_;
  Rng rng_;
  int64_t steps_ = 0, updates_ = 0, last_target_update_ = 0;
  EpisodeLog episodes_;
};

// Greedy policy of a Q-network over legal actions.
class QNetworkPolicy : public Policy {
 public:
  QNetworkPolicy(QNetwork net, Space obs_space, Space act_space);
  void Act(const void* observations, const uint8_t* masks, int n, void* actions) override;
  std::string name() const override { return "greedy"; }

 private:
  QNetwork net_;
  Space obs_space_, act_space_;
};

// Raw observations -> float features: Box as is, Discrete one-hot.
int64_t FeatureSize(const Space& obs_space);
void ObservationFeatures(const Space& obs_space, const void* obs, int64_t rows, float* out);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_DQN_DQN_H_
