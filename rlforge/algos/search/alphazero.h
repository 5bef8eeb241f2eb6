// rlforge/algos/search/alphazero.h — AlphaZero (Silver et al., 2018) for
// two-player, perfect-information envs (TicTacToe-v0, ConnectFour-v0).
//
// Self-play: each move runs MCTS over the true simulator (env clones; the
// tree keeps the chosen subtree for the next move) with a policy-value
// network evaluating leaves in batches; the first `temperature_moves` moves
// are drawn in proportion to the root visits, later ones greedily; Dirichlet
// noise at the root. Every position stores (observation, mask, visit
// distribution π, player to move); when the game ends each gets z = the final
// return of its player.
// Learning: minibatches from a replay of recent positions (optionally
// augmented by the board's symmetries), loss = −Σ π log p + (z − v)² with L2
// weight decay in Adam.
// Actors: `num_actors` threads play games with a snapshot of the network and
// push them through a queue; each Iterate() takes at least
// `games_per_iteration` games from it, then makes `updates_per_iteration`
// gradient steps and publishes the new weights. num_actors = 0 plays the games
// inside Iterate() instead (deterministic under a seed: tests, exact resume).
// The trained policy (MakePolicy) searches from the observation with
// `eval_simulations` simulations and no noise: greedy on visits when
// deterministic, else in proportion to them.
#ifndef RLFORGE_ALGOS_SEARCH_ALPHAZERO_H_
#define RLFORGE_ALGOS_SEARCH_ALPHAZERO_H_

#include <torch/torch.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rlforge/algos/algorithm.h"
#include "rlforge/algos/search/mcts.h"
#include "rlforge/algos/search/self_play.h"
#include "rlforge/config/config.h"
#include "rlforge/env/env.h"

namespace rlforge::search {

struct AlphaZeroConfig {
  MctsConfig mcts;                     // search (c_init, noise, ... see VisitMcts)
  // The trained policy's search normalizes Q by the tree's bounds only when
  // this is set: with MuZero's normalization unvisited moves score the tree's
  // minimum and a long search narrows; our ConnectFour agent (self-play with
  // it) won 95% against alpha-beta depth 2 with 400 simulations without it,
  // 65% with it.
  bool eval_minmax_normalize = false;
  int64_t simulations = 100;           // simulations per self-play move
  int64_t search_batch = 8;            // leaves per network call
  int64_t eval_simulations = 100;      // simulations per move of the trained policy
  int64_t temperature_moves = 4;       // moves drawn ∝ visits before greedy play
  int64_t num_actors = 1;              // self-play threads (0: inline, deterministic)
  int64_t games_per_iteration = 8;     // games consumed per Iterate()
  int64_t updates_per_iteration = 32;  // gradient steps per Iterate()
  int64_t batch_size = 128;            // positions per gradient step
  int64_t replay_size = 20000;         // positions kept
  double learning_rate = 1e-3;         // Adam step size
  double weight_decay = 1e-4;          // L2 in Adam
  bool augment = true;                 // train on the board's symmetries
  std::vector<int64_t> net_arch = {128, 128};

  void Visit(FieldVisitor& v);
  void Validate() const;
};

// MLP torso, then a policy head (logits) and a value head (tanh).
class PolicyValueNetImpl : public torch::nn::Module {
 public:
  PolicyValueNetImpl(int64_t obs_size, int64_t num_actions, const std::vector<int64_t>& net_arch);
  // [B, obs] -> (logits [B, A], value [B])
  std::pair<torch::Tensor, torch::Tensor> forward(torch::Tensor x);
  // Masked move probabilities and values for n observations (no grad).
  void Evaluate(const float* obs, const uint8_t* masks, int64_t n, float* priors, float* values);
  int64_t obs_size() const { return obs_size_; }
  int64_t num_actions() const { return num_actions_; }
  // The parts (export): the ReLU torso's Linear layers, the heads.
  std::vector<torch::nn::Linear> torso_layers() const;
  const torch::nn::Linear& policy_head() const { return policy_; }
  const torch::nn::Linear& value_head() const { return value_; }

 private:
  int64_t obs_size_, num_actions_;
  torch::nn::Sequential torso_{nullptr};
  torch::nn::Linear policy_{nullptr}, value_{nullptr};
};
TORCH_MODULE(PolicyValueNet);

// The true simulator as a search model: a node's state is an env clone;
// leaves are evaluated by `net` in one batch per Expand call.
class EnvSearchModel : public SearchModel {
 public:
  EnvSearchModel(PolicyValueNet net, int num_actions);
  int num_actions() const override { return num_actions_; }
  void Clear() { states_.clear(); }
  // The node for `env`'s current state, whose observation is `obs` (a clone is kept).
  NodeEval Root(const Env& env, const float* obs);
  void Expand(const std::vector<int>& parents, const std::vector<int>& actions, std::vector<NodeEval>* out) override;

 private:
  PolicyValueNet net_;
  int num_actions_;
  std::vector<std::unique_ptr<Env>> states_;
  std::vector<float> obs_, priors_, values_;
  std::vector<uint8_t> masks_;
};

class AlphaZero : public Algorithm {
 public:
  // Self-play runs in its actor threads on single envs: of the run-level
  // keys only torch_threads applies.
  static constexpr uint32_t kRunKeys = kRunTorchThreads;

  AlphaZero(const RunContext& ctx, const AlphaZeroConfig& config);
  ~AlphaZero() override;

  Metrics Iterate() override;
  int64_t num_timesteps() const override { return steps_; }
  // Network, optimizer, RNG, counters and the replay's filled rows (the
  // actors stop before a load).
  void VisitState(StateVisitor& v) override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  torch::nn::Module* network() override { return net_.get(); }
  // The network alone, greedy on its masked prior (no search): what an
  // export computes.
  std::unique_ptr<Policy> MakeNetworkPolicy() override;

  // One self-play game with `net` (used by the actors and by inline mode).
  GameRecord PlayGame(Env& env, PolicyValueNet net, Rng& rng, uint64_t seed) const;

 protected:
  runtime::Model ExportModel() override;

 private:
  void AddGame(const GameRecord& g);
  std::pair<double, double> Update();

  uint64_t seed_;
  AlphaZeroConfig config_;
  std::unique_ptr<Env> env_;  // inline self-play
  int64_t obs_size_ = 0, num_actions_ = 0;
  PolicyValueNet net_{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer_;
  Rng rng_;
  int64_t steps_ = 0, games_ = 0, updates_ = 0;
  // Replay of positions (a ring).
  std::vector<float> r_obs_, r_pi_, r_z_;
  std::vector<uint8_t> r_mask_;
  int64_t r_size_ = 0, r_next_ = 0;
  // The env's symmetries (Env::Symmetries(), the identity first; only the
  // identity without augment).
  std::vector<Symmetry> symmetries_;
  ActorPool<PolicyValueNet> actors_;
};

}  // namespace rlforge::search

#endif  // RLFORGE_ALGOS_SEARCH_ALPHAZERO_H_
