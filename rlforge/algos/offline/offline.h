// rlforge/algos/offline/offline.h — what the offline agents (bc, cql, iql)
// share: a Minari dataset (rlforge/data/dataset.h) as transition tensors, a
// held-out split, minibatch sampling, and the losses that define them.
//
// Offline agents never step an env while learning. Their "steps" are gradient
// updates: total_steps (--steps) counts updates, each Iterate() does
// updates_per_iteration of them and logs one row, and the runner's periodic
// and final evaluations play the learned policy in the dataset's env (its
// ID comes from the dataset's metadata unless --env says otherwise).
//
// The dataset is read from the config key `dataset` (a directory) when the
// agent first trains (Iterate), not when it is built: a trained run's policy
// is loaded, evaluated, exported or served without its dataset. A checkpoint
// records the dataset's fingerprint (a hash of its arrays, masks included):
// resuming against a dataset that has changed is refused.
#ifndef RLFORGE_ALGOS_OFFLINE_OFFLINE_H_
#define RLFORGE_ALGOS_OFFLINE_OFFLINE_H_

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "rlforge/algos/algorithm.h"
#include "rlforge/data/dataset.h"

namespace rlforge {

struct OfflineConfig {
  std::string dataset;                   // dataset directory (Minari layout)
  double holdout_fraction = 0.1;         // episodes held out for validation metrics
  int64_t batch_size = 256;              // minibatch size
  int64_t updates_per_iteration = 1000;  // gradient steps per log row
  // Adam's step size: a number, or lin_/cos_ over the run's updates (total_steps).
  Schedule learning_rate = Schedule::Constant(3e-4);
  double max_grad_norm = 10.0;           // gradient-norm clip of each network
  std::vector<int64_t> net_arch = {256, 256};  // hidden layers of every network
  std::string activation = "relu";       // relu or tanh

  void Visit(FieldVisitor& v);
  void Validate() const;
};

// A dataset as tensors, one row per step (t), for learning.
struct OfflineData {
  Space obs_space, act_space;
  int64_t steps = 0;
  torch::Tensor obs, next_obs;  // [N, obs...] in the observation dtype (next: the step's o_{t+1})
  // Actions as policies sample them: long [N] (Discrete, start removed), long
  // [N, k] (MultiDiscrete), float [N, d] (Box, MultiBinary as 0/1 floats).
  torch::Tensor actions;
  torch::Tensor rewards;     // float [N]
  torch::Tensor terminated;  // float [N]: 1 where the step ended the episode by termination
  torch::Tensor masks, next_masks;  // bool [N, mask] legal actions at o_t and o_{t+1} (undefined: none)
  torch::Tensor returns_to_go;  // float [N] discounted return of the rest of the episode
  torch::Tensor train, holdout;  // long: step indices of the training and held-out episodes
  std::vector<double> episode_returns;  // undiscounted, every episode
  uint64_t fingerprint = 0;
};

// The dataset in `dir` as tensors for an env with spaces obs_space/act_space
// (InvalidArgument naming both when they differ). The last
// round(holdout_fraction x episodes) episodes of a seeded permutation are
// held out (at least one episode stays for training).
OfflineData LoadOfflineData(const std::string& dir, const Space& obs_space, const Space& act_space,
                            double holdout_fraction, double gamma, uint64_t seed);


// ---- Losses (worked examples in offline_test.cc) ----------------------------

// CQL's regularizer for discrete actions (Kumar et al., 2020, eq. 4 with the
// entropy regularizer): mean_i [ logsumexp_a Q(s_i, a) - Q(s_i, a_i) ] over
// the legal actions (masks: bool [B, A], or undefined for all legal).
// q: [B, A], actions: long [B].
torch::Tensor CqlRegularizer(const torch::Tensor& q, const torch::Tensor& actions, const torch::Tensor& masks);

// Factored Q-values for MultiDiscrete actions (the linear decomposition of
// Tang & Wiens, 2023; DecQN, Seyde et al., 2023, averages instead): the
// network gives one value per value of each dimension, q: [B, sum nvec] (the
// dimensions' columns side by side, as masks lay them out), and
//   Q(s, a) = sum_d q_d(s, a_d).
// Over the product of the dimensions' legal sets the greedy action is each
// dimension's argmax and the logsumexp splits by dimension:
//   log sum_a exp Q(s, a) = sum_d log sum_{a_d} exp q_d(s, a_d).
// FactoredQ: Q(s_i, a_i) [B] at actions long [B, k].
torch::Tensor FactoredQ(const torch::Tensor& q, const torch::Tensor& actions, const std::vector<int64_t>& nvec);
// sum_d values_d(s_i, a*_d), a*_d the legal argmax of select_d (Double DQN:
// select = the online network's outputs, values = the target network's);
// masks bool [B, sum nvec] or undefined. A dimension with no legal value
// adds 0. [B].
torch::Tensor FactoredGreedyValue(const torch::Tensor& values, const torch::Tensor& select, const torch::Tensor& masks,
                                  const std::vector<int64_t>& nvec);
// CQL(H)'s regularizer of the factored Q over the product of the legal sets:
// mean_i [ logsumexp_a Q(s_i, a) - Q(s_i, a_i) ] = the sum over dimensions of
// CqlRegularizer on each dimension's columns.
torch::Tensor FactoredCqlRegularizer(const torch::Tensor& q, const torch::Tensor& actions, const torch::Tensor& masks,
                                     const std::vector<int64_t>& nvec);

// CQL's regularizer for continuous actions (Kumar et al., 2020, CQL(H) with
// the importance-sampled logsumexp of its appendix): for each critic i,
//   mean_b [ log (1/M sum_m exp(w[b, m, i])) - q_data[b, i] ],
// summed over the critics, where w = Q_i(s_b, a_m) - log mu(a_m) are the
// critic's values at M sampled actions less the log-density of the
// distribution each was drawn from (so that logsumexp estimates
// log integral exp Q(s, a) da). q_data: [B, n], w: [B, M, n].
torch::Tensor ContinuousCqlRegularizer(const torch::Tensor& q_data, const torch::Tensor& w);

// The weight of CQL's regularizer: alpha, or alpha x lambda in the paper's
// Lagrangian form (learning_rate > 0), lambda = exp(log lambda) from 1 (kept
// in [1e-6, 1e6]) tuned by dual gradient ascent, one Adam step per update on
//   L(log lambda) = -lambda (R - threshold),
// R the regularizer's value (per critic): lambda shrinks while R is under the
// threshold and grows while it is over, so the gap between the logsumexp and
// Q on the data's actions settles near the threshold.
class CqlWeight {
 public:
  CqlWeight(double alpha, double learning_rate, double threshold);
  // The weight for this update (alpha x lambda before the dual step), then
  // the dual step on R (none when alpha is fixed).
  double Step(double regularizer);
  double lambda() const { return std::exp(log_lambda_.item<double>()); }
  // lambda and its optimizer, only when learned: runs with a fixed alpha keep
  // their checkpoints' keys.
  void Visit(StateVisitor& v);

 private:
  static constexpr double kLogMin = -13.815510557964274, kLogMax = 13.815510557964274;  // log 1e-6, log 1e6
  double alpha_, threshold_;
  torch::Tensor log_lambda_;
  std::unique_ptr<torch::optim::Adam> opt_;
};

// IQL's expectile loss (Kostrikov et al., 2021, eq. 5) of u = target - V:
// mean |tau - 1(u < 0)| u^2.
torch::Tensor ExpectileLoss(const torch::Tensor& u, double tau);

// IQL's advantage weights for the actor (eq. 7): exp(beta A) capped at max_weight.
torch::Tensor AdvantageWeights(const torch::Tensor& advantages, double beta, double max_weight);

// How well predicted discrete actions match the data's, per action dimension
// (Discrete: one; MultiDiscrete: one per entry): the confusion matrix
// (rows: data's class, columns: predicted), per-class precision, recall, F1
// and support, their macro average over the classes that occur in either
// (as scikit-learn's f1_score(average="macro"); 0 where undefined), and the
// accuracy (every dimension right).
struct ClassReport {
  struct Dimension {
    std::vector<std::vector<int64_t>> confusion;
    std::vector<double> precision, recall, f1;
    std::vector<int64_t> support;
    double macro_f1 = 0;
  };
  std::vector<Dimension> dims;
  double accuracy = 0;
  double macro_f1 = 0;  // mean over dimensions
  int64_t rows = 0;
  std::string ToJson() const;
};
// predicted, target: long [B] or [B, k]; classes: the size of each dimension.
ClassReport Classify(const torch::Tensor& predicted, const torch::Tensor& target, const std::vector<int64_t>& classes);
// The class sizes of a discrete action space ({n} or nvec; empty for Box).
std::vector<int64_t> ActionClasses(const Space& act_space);

// The shared plumbing of an offline agent: the dataset, the generator that
// draws minibatches, the update counter and the checkpointed fingerprint.
class OfflineAlgorithm : public Algorithm {
 public:
  // Offline agents honour torch_threads; envs are the runner's (evaluation).
  static constexpr uint32_t kRunKeys = kRunTorchThreads;

  OfflineAlgorithm(const RunContext& ctx, const OfflineConfig& config, double gamma);
  int64_t num_timesteps() const override { return updates_; }
  // The dataset (read on first use).
  const OfflineData& data() {
    EnsureData();
    return data_;
  }
  // Training needs the dataset: read it now (a missing or changed one fails
  // before the runner touches the run directory).
  void PrepareToTrain() override { EnsureData(); }

 protected:
  // Reads the dataset if not yet read (checking it against the checkpoint's
  // fingerprint after a Load), then calls PrepareData() once.
  void EnsureData();
  // What an agent derives from the dataset (features, class weights).
  virtual void PrepareData() {}
  // A minibatch of training step indices (uniform with replacement, or by
  // `weights` over data().train when defined).
  torch::Tensor SampleIndices(int64_t n, const torch::Tensor& weights = {});
  // A schedule's value at this update: progress is updates done / total_steps.
  double Rate(const Schedule& s) const { return s.Value(ctx_.ProgressRemaining(updates_)); }
  // Counters, the generator and the fingerprint (the agent adds its networks).
  void VisitCommonState(StateVisitor& v);
  // Float features (FeatureSize wide, OfflineFeatures) of the dataset's rows
  // idx at o_t (next: at o_{t+1}). Flat observations are converted once, by
  // PrepareFeatures (call it from PrepareData); image observations at each
  // call, since their floats for a whole dataset would take four bytes a pixel.
  void PrepareFeatures();
  torch::Tensor Features(const torch::Tensor& idx, bool next = false) const;
  // f(Features(rows)) over the rows idx in chunks of 4,096, concatenated
  // (held-out metrics: image features for the whole held-out set at once
  // could take gigabytes).
  torch::Tensor MapFeatures(const torch::Tensor& idx, const std::function<torch::Tensor(const torch::Tensor&)>& f) const;

  OfflineConfig offline_;
  double gamma_;
  Space obs_space_, act_space_;  // the env's (the dataset's must equal them)
  bool env_has_masks_ = false;
  bool env_conditional_masks_ = false;  // MultiDiscrete dimensions restricted given the earlier ones
  OfflineData data_;  // empty until EnsureData()
  torch::Generator gen_;
  int64_t updates_ = 0;

 private:
  bool loaded_ = false;
  std::optional<uint64_t> checkpoint_fingerprint_;  // from the last Load
  torch::Tensor features_, next_features_;           // [N, FeatureSize] (undefined: images)
};

// theta' <- (1 - tau) theta' + tau theta with ATen's ops, every step of cql
// and iql. (Copies, tau = 1, use PolyakUpdate of algos/off_policy.h. Its
// float loop rounds differently from ATen's fused add in the last bits; the
// offline results in docs/offline.md were measured with this one, so the two
// are unified together with a rerun of those results.)
void SoftUpdate(torch::nn::Module& online, torch::nn::Module& target, double tau);

// Float view of observations for networks (the policy's own preprocessing).
torch::Tensor OfflineFeatures(const torch::Tensor& obs, const Space& obs_space);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_OFFLINE_OFFLINE_H_
