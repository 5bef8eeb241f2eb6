// rlforge/algos/search/muzero.h — MuZero (Schrittwieser et al., 2020):
// planning with a learned model, for single-player envs (CartPole-v1) and
// two-player games.
//
// Networks (MLPs over flat observations; hidden states min-max scaled to
// [0, 1] per sample, as in the paper):
//   representation h: observation -> s0
//   dynamics g:       (s, one-hot a) -> (s', reward)
//   prediction f:     s -> (policy logits, value)
// Value and reward are categorical over the integers −S..S of the scaled
// target φ(x) = sign(x)(sqrt(|x| + 1) − 1) + εx (ε = 0.001); a scalar is
// projected onto its two nearest support points, and read back as
// φ⁻¹(Σ p_i i).
// Self-play: MCTS over the learned model (the root's legal-action mask from
// the env, every action inside the tree), Dirichlet noise, visit-count
// temperature (single-player: 1, 0.5, 0.25 over the first 50%, 75%, rest of
// training; two-player: 1 for the first `temperature_moves` moves, then
// greedy). Each move searches a fresh tree from the real observation (a kept
// subtree's root would be a predicted state, drifting further every move).
// Two-player games alternate the player to move at every tree level.
// Learning: prioritized replay of positions (P ∝ p^α, p = |search value −
// target| for new positions, |predicted value − target| after each update;
// importance weights (N P)^−β); from each sampled position the model unrolls
// K steps with the actions actually taken; targets: n-step bootstrapped values
// z_t = Σ_{i<n} γ^i u_{t+i} + γ^n v_{t+n} (signs flipped for the opponent's
// rewards and values in two-player games; past the end of a terminated game
// 0; a truncated game bootstraps from the network's value of its final
// observation), the observed rewards and the search policies (no policy loss
// past the end). Board games: each sampled segment is seen under a random
// symmetry of the board (`augment`), its observation and every unrolled action
// and policy permuted alike. Each unrolled step's loss is scaled by 1/K and the gradient
// into the dynamics' hidden state by 0.5.
// Actors as in AlphaZero (`num_actors` threads, or inline with 0).
#ifndef RLFORGE_ALGOS_SEARCH_MUZERO_H_
#define RLFORGE_ALGOS_SEARCH_MUZERO_H_

#include <torch/torch.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rlforge/algos/algorithm.h"
#include "rlforge/algos/search/mcts.h"
#include "rlforge/algos/search/self_play.h"
#include "rlforge/buffers/sum_tree.h"
#include "rlforge/config/config.h"
#include "rlforge/env/env.h"

namespace rlforge::search {

// The invertible value transform φ and its inverse.
double ScaleValue(double x, double eps = 0.001);
double UnscaleValue(double y, double eps = 0.001);
// Two-hot projection of φ(x) onto the support −S..S (2S + 1 probabilities).
void ScalarToSupport(double x, int support, float* out);
// φ⁻¹ of the expected support value of probabilities p (2S + 1).
double SupportToScalar(const float* p, int support);

struct MuZeroConfig {
  MctsConfig mcts;
  int64_t simulations = 50;             // simulations per self-play move
  int64_t search_batch = 4;             // leaves per model call
  int64_t eval_simulations = 50;        // simulations per move of the trained policy
  int64_t temperature_moves = 4;        // two-player games: moves drawn ∝ visits
  double discount = 0.997;              // γ
  int64_t unroll_steps = 5;             // K
  int64_t td_steps = 10;                // n of the value targets
  int64_t support_size = 20;            // S: value and reward support −S..S
  int64_t latent_size = 64;             // hidden-state width
  std::vector<int64_t> net_arch = {64}; // hidden layers of each of h, g, f
  int64_t num_actors = 1;               // self-play threads (0: inline, deterministic)
  int64_t games_per_iteration = 2;      // games consumed per Iterate()
  double updates_per_move = 0.5;        // gradient steps per new move (replay ratio)
  int64_t batch_size = 128;             // positions per gradient step
  int64_t replay_size = 50000;          // positions kept
  int64_t learning_starts = 1000;       // moves before the first update
  double learning_rate = 3e-3;          // Adam step size
  double weight_decay = 1e-4;           // L2 in Adam
  double value_loss_weight = 0.25;      // weight of the value loss
  double priority_alpha = 1.0;          // prioritized replay exponent (0: uniform)
  double priority_beta = 1.0;           // importance-weight exponent
  double max_grad_norm = 5.0;           // gradient-norm clip
  bool augment = true;                  // board games: a random board symmetry per sampled segment

  void Visit(FieldVisitor& v);
  void Validate() const;
};

class MuZeroNetImpl : public torch::nn::Module {
 public:
  MuZeroNetImpl(int64_t obs_size, int64_t num_actions, int64_t latent, const std::vector<int64_t>& hidden,
                int64_t support);
  torch::Tensor Represent(torch::Tensor obs);
  // (s, actions [B] long) -> (s', reward logits)
  std::pair<torch::Tensor, torch::Tensor> Dynamics(torch::Tensor s, torch::Tensor actions);
  // s -> (policy logits, value logits)
  std::pair<torch::Tensor, torch::Tensor> Predict(torch::Tensor s);
  int64_t obs_size() const { return obs_size_; }
  int64_t num_actions() const { return num_actions_; }
  int64_t latent() const { return latent_; }
  int64_t support() const { return support_; }
  // The parts (export).
  const torch::nn::Sequential& representation() const { return repr_; }
  const torch::nn::Sequential& prediction() const { return pred_; }
  const torch::nn::Linear& policy_head() const { return policy_; }
  const torch::nn::Linear& value_head() const { return value_; }

 private:
  int64_t obs_size_, num_actions_, latent_, support_;
  torch::nn::Sequential repr_{nullptr}, dyn_{nullptr}, reward_{nullptr}, pred_{nullptr};
  torch::nn::Linear policy_{nullptr}, value_{nullptr};
};
TORCH_MODULE(MuZeroNet);

// The learned model as a search model: a node's state is a row of latents.
class LatentSearchModel : public SearchModel {
 public:
  LatentSearchModel(MuZeroNet net, int num_players);
  int num_actions() const override { return static_cast<int>(net_->num_actions()); }
  void Clear() { latents_.clear(), players_.clear(); }
  NodeEval Root(const float* obs, const uint8_t* mask, int player);
  void Expand(const std::vector<int>& parents, const std::vector<int>& actions, std::vector<NodeEval>* out) override;

 private:
  MuZeroNet net_;
  int num_players_;
  std::vector<float> latents_;  // [states, latent]
  std::vector<int8_t> players_;
};

// Value, reward and policy targets of one sampled position (for tests).
struct UnrollTargets {
  std::vector<float> values;    // [K + 1]
  std::vector<float> rewards;   // [K + 1] (index 0 unused: 0)
  std::vector<float> policies;  // [K + 1, A]
  std::vector<uint8_t> policy_mask;  // [K + 1] 1 where a policy target exists
  std::vector<int64_t> actions;      // [K] actions unrolled (random past the end)
};
// z for position t of g (see the header comment).
double ValueTarget(const GameRecord& g, int64_t t, int64_t td_steps, double discount);
UnrollTargets MakeTargets(const GameRecord& g, int64_t t, int64_t unroll_steps, int64_t td_steps, double discount,
                          Rng& rng);

class MuZero : public Algorithm {
 public:
  // Self-play runs in its actor threads on single envs: of the run-level
  // keys only torch_threads applies.
  static constexpr uint32_t kRunKeys = kRunTorchThreads;

  MuZero(const RunContext& ctx, const MuZeroConfig& config);
  ~MuZero() override;

  Metrics Iterate() override;
  int64_t num_timesteps() const override { return steps_; }
  // Network, optimizer, RNG, counters, the stored games, the position ring
  // and its priorities (the actors stop before a load).
  void VisitState(StateVisitor& v) override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  torch::nn::Module* network() override { return net_.get(); }

  // Representation and prediction alone, greedy on the masked prior (no
  // search over the dynamics): what an export computes.
  std::unique_ptr<Policy> MakeNetworkPolicy() override;

 protected:
  runtime::Model ExportModel() override;

 private:
  GameRecord PlayGame(Env& env, MuZeroNet net, Rng& rng, uint64_t seed, double temperature) const;
  double Temperature(int64_t steps) const;
  void AddGame(GameRecord g);
  std::pair<double, Metrics> Update();

  uint64_t seed_;
  MuZeroConfig config_;
  std::unique_ptr<Env> env_;
  int num_players_ = 1;
  int64_t obs_size_ = 0, num_actions_ = 0;
  // The env's symmetries (Env::Symmetries(), the identity first) when augmenting; empty otherwise.
  std::vector<Symmetry> symmetries_;
  MuZeroNet net_{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer_;
  Rng rng_;
  int64_t steps_ = 0, games_ = 0, updates_ = 0;
  double update_credit_ = 0;
  // Replay: games, and a ring of positions (game id, move) with priorities.
  std::deque<GameRecord> games_store_;
  int64_t first_game_id_ = 0;
  std::vector<int64_t> slot_game_, slot_move_;
  SumTree priorities_;
  int64_t positions_ = 0;  // positions ever added
  double max_priority_ = 1.0;
  ActorPool<MuZeroNet> actors_;
};

}  // namespace rlforge::search

#endif  // RLFORGE_ALGOS_SEARCH_MUZERO_H_
