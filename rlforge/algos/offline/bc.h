// rlforge/algos/offline/bc.h — behaviour cloning from a dataset.
//
// The policy network (the actor-critic of rlforge/nn/policy.h; its critic is
// unused) is fitted to the dataset's actions by maximum likelihood:
//   L = -mean_i w_i log pi(a_i | s_i) - ent_coef mean_i H(pi(.|s_i))
//       + vf_coef mean_i (G_i - V(s_i))^2
// over minibatches of the training episodes: the actor-critic loss with
// A = w (rlforge/algos/actor_critic_loss.h). G is the discounted return-to-go
// of the data (gamma): the value head then holds the behaviour policy's
// values, which a warm-started PPO or A2C (train --init-from) needs, or its
// first updates follow the advantages of an untrained critic. Categorical
// heads (Discrete, MultiDiscrete with masks) are classifiers; Box actions get
// a diagonal Gaussian whose mean is the greedy action.
//
// Imbalanced actions: class_balance "weights" sets w_i to the mean over action
// dimensions of N / (C_k x count_k(a_ik)) (scikit-learn's "balanced" class
// weights; C_k the classes that occur), "resample" draws minibatches with
// probability proportional to that weight instead (w = 1), "none" uses w = 1.
//
// After every iteration the held-out episodes are scored: negative
// log-likelihood, and for categorical actions accuracy, macro-F1 and the
// per-class report (precision, recall, confusion matrix) written to
// bc_report.json in the run directory; for Box actions the mean squared error
// of the greedy action. Early stopping (early_stopping_patience > 0) ends the
// run after that many iterations without a lower held-out NLL and restores
// the best weights.
#ifndef RLFORGE_ALGOS_OFFLINE_BC_H_
#define RLFORGE_ALGOS_OFFLINE_BC_H_

#include "rlforge/algos/actor_critic_loss.h"
#include "rlforge/algos/offline/offline.h"
#include "rlforge/nn/policy.h"

namespace rlforge {

struct BcConfig {
  OfflineConfig offline;
  std::string class_balance = "none";  // none, weights or resample
  double ent_coef = 0.0;               // entropy bonus
  int64_t early_stopping_patience = 0; // iterations without a better held-out NLL before stopping (0: never)
  double gamma = 0.99;                 // discount of the returns-to-go the value head learns
  double vf_coef = 0.5;                // weight of the value regression on returns-to-go (0: actor only)

  // The policy network of PPO/A2C's defaults (64x64 tanh), so that a clone
  // warm-starts them (train --init-from).
  BcConfig() {
    offline.net_arch = {64, 64};
    offline.activation = "tanh";
  }
  void Visit(FieldVisitor& v);
  void Validate() const;
};

// The policy an offline actor learns: the actor-critic network, its action
// head and its Adam optimizer, with the weighted log-likelihood step that BC
// and IQL's actor share.
class OfflineActor {
 public:
  OfflineActor(const Space& obs_space, const Space& act_space, const OfflineConfig& c);
  // One Adam step on -mean w log pi(a|s) - ent_coef H; returns the loss.
  // returns: value targets (undefined with vf_coef 0).
  double Step(const torch::Tensor& obs, const torch::Tensor& actions, const torch::Tensor& masks,
              const torch::Tensor& weights, double ent_coef, double max_grad_norm,
              const torch::Tensor& returns = {}, double vf_coef = 0.0);
  // Mean -log pi(a|s) over rows (no gradient), in chunks.
  double Nll(const torch::Tensor& obs, const torch::Tensor& actions, const torch::Tensor& masks);
  // Greedy actions (as sampled actions are laid out: long or float).
  torch::Tensor Greedy(const torch::Tensor& obs, const torch::Tensor& masks);
  std::unique_ptr<Policy> MakePolicy(bool deterministic, uint64_t seed) const;
  void SetLearningRate(double lr);
  double learning_rate() const;  // the optimizer's, as last set
  void Visit(StateVisitor& v, const std::string& prefix);
  ActorCritic& net() { return net_; }
  const ActionHead& head() const { return head_; }

 private:
  Space obs_space_, act_space_;
  ActionHead head_;
  ActorCritic net_{nullptr};
  std::unique_ptr<torch::optim::Adam> opt_;
};

class Bc : public OfflineAlgorithm {
 public:
  Bc(const RunContext& ctx, const BcConfig& config);
  Metrics Iterate() override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  void VisitState(StateVisitor& v) override;
  torch::nn::Module* network() override { return actor_.net().get(); }
  bool finished() const override { return stopped_; }
  void NetworkLoaded() override;
  std::map<std::string, std::string> RunFiles() const override;
  // Per-sample class weights of the training steps (1 without balancing).
  const torch::Tensor& class_weights() const { return weights_; }

 protected:
  runtime::Model ExportModel() override;

 private:
  void PrepareData() override;
  void Score(Metrics* m);

  BcConfig config_;
  OfflineActor actor_;
  ActorCritic best_{nullptr};  // the weights with the lowest held-out NLL so far
  torch::Tensor weights_;  // [train steps]
  double best_nll_ = INFINITY;
  int64_t since_best_ = 0;
  bool stopped_ = false;
  std::string report_;
};

// w_i for the rows of `actions` (long [N] or [N, k]): the mean over
// dimensions of N / (C_k count_k(a_ik)).
torch::Tensor BalancedClassWeights(const torch::Tensor& actions, const std::vector<int64_t>& classes);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_OFFLINE_BC_H_
