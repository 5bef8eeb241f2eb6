// rlforge/algos/offline/cql.h — Conservative Q-Learning for discrete actions
// (Kumar et al., 2020), on DQN's Q-network and TD loss.
//
// Each gradient step minimizes, on a minibatch of dataset transitions,
//   L = TD(Q) + alpha mean_i [ logsumexp_a Q(s_i, a) - Q(s_i, a_i) ]
// where TD is DQN's loss (ExpectedQHead: Huber or MSE against
// y = r + gamma (1 - terminated) Q_target(s', a*), a* the online network's
// greedy legal action at s', Double DQN) and the second term, the CQL(H)
// regularizer (CqlRegularizer in offline.h), pushes Q down on every legal
// action and up on the dataset's, so that actions the data never took do not
// look better than they are. alpha = 0 is plain offline DQN. The target
// network follows by Polyak averaging with tau every step. The policy is
// greedy in Q over the legal actions (masks from the data and the env).
//
// MultiDiscrete actions (masked, as TowerDefense-v0's) use a factored Q
// (FactoredQ in offline.h): one output per value of each dimension and
// Q(s, a) = sum_d q_d(s, a_d), which makes the greedy action, the Double DQN
// target y = r + gamma (1 - terminated) sum_d q'_d(s', argmax_d q_d(s', .))
// and the regularizer's logsumexp over the product of the dimensions' legal
// sets exact and cheap (sum over dimensions instead of over prod nvec joint
// actions). The TD loss is Huber (or squared error) on Q(s, a) - y. Where the
// env restricts a dimension given the earlier ones (conditional masks), the
// policy picks dimension by dimension, each the best legal value given the
// ones before, as the actor-critics do.
//
// Box actions (ContinuousCql; `--algo cql` picks it by the env's action
// space) run CQL(H) on SAC's networks, as the paper's continuous experiments
// do: a squashed Gaussian actor and twin critics on actions scaled to
// [-1, 1] (rlforge/algos/sac/sac.h). Each gradient step, on a minibatch:
//   temperature: SAC's, L(log ent_coef) = -mean[log ent_coef (log pi(a_pi|s) + H_target)],
//   critics:     L = 1/2 sum_i mean (Q_i(s, a) - y)^2 (Huber with huber: true)
//                  + alpha ContinuousCqlRegularizer (offline.h),
//                y = r + gamma (1 - terminated) min_i Q'_i(s', a'), a' ~ pi(.|s')
//                (soft_q_backup: less ent_coef log pi(a'|s') as SAC's; off by
//                default as in d3rlpy's and CORL's CQL: with the entropy
//                target -dim(A) the soft value drifts down by ent_coef x
//                |log pi| per step, which on LunarLanderContinuous swamped
//                the rewards),
//                the logsumexp over M = 3 n_action_samples actions per state:
//                uniform on [-1, 1]^A (log-density -A log 2), pi(.|s) and
//                pi(.|s') (their log pi, no gradient), each at Q_i(s, .),
//   actor:       SAC's, L = mean[ent_coef log pi(a_pi|s) - min_i Q_i(s, a_pi)],
//   targets:     Polyak averaging with tau.
// For any actions, with alpha_learning_rate > 0 the regularizer's weight is
// alpha x lambda, lambda tuned by dual gradient ascent as in the paper's
// Lagrangian form (and d3rlpy's continuous default): L(log lambda) =
// -lambda (R - alpha_threshold), R the regularizer (per critic for Box
// actions: the importance-sampled logsumexp less log M, so d3rlpy's threshold
// t reads t - log M here), one Adam step per update before the Q step. Below the threshold lambda shrinks, above it lambda grows, so
// the gap between the logsumexp and Q on the data's actions settles at the
// threshold (with alpha fixed at 5 on LunarLanderContinuous's expert data the
// gap kept widening and Q on the data's actions fell steadily: mean 2.7 after
// 1k updates, -167 after 19k). deterministic_backup takes the target at
// tanh(mu(s')), as d3rlpy does.
// The actor and temperature learn at actor_learning_rate, the critics at
// learning_rate (d3rlpy's 1e-4 and 3e-4).
// The networks carry SAC's names ("actor", "critics"), so `train --algo sac
// --init-from` a continuous cql run continues online from it (same net_arch).
// The deterministic policy is tanh(mu(s)) mapped to the Box.
#ifndef RLFORGE_ALGOS_OFFLINE_CQL_H_
#define RLFORGE_ALGOS_OFFLINE_CQL_H_

#include "rlforge/algos/dqn/dqn.h"
#include "rlforge/algos/off_policy.h"
#include "rlforge/algos/offline/offline.h"
#include "rlforge/algos/sac/sac.h"

namespace rlforge {

struct CqlConfig {
  OfflineConfig offline;
  double gamma = 0.99;  // discount factor
  double alpha = 1.0;   // weight of the CQL regularizer (0: offline DQN)
  double tau = 0.005;   // target-network Polyak coefficient per step
  bool huber = true;    // Huber TD loss (else squared error)
  // Box actions only (defaults as d3rlpy's continuous CQL):
  int64_t n_action_samples = 10;        // actions per state of each kind in the logsumexp
  std::string ent_coef = "auto";        // SAC's temperature: auto, auto_<initial> or a number
  std::string target_entropy = "auto";  // auto (-dim(A)) or a number
  Schedule actor_learning_rate = Schedule::Constant(1e-4);  // Adam step size of the actor and the temperature
  bool soft_q_backup = false;           // the target includes -ent_coef log pi(a'|s') (SAC's soft backup)
  bool deterministic_backup = false;     // the target at a' = tanh(mu(s')) instead of a' ~ pi(.|s')
  // Any actions: the regularizer's weight alpha x lambda tuned by dual
  // gradient ascent (CqlWeight in offline.h, CQL's Lagrangian form); 0: fixed.
  double alpha_learning_rate = 0.0;
  double alpha_threshold = 0.0;  // the regularizer's target value (per critic)

  void Visit(FieldVisitor& v);
  void Validate() const;
};

class Cql : public OfflineAlgorithm {
 public:
  Cql(const RunContext& ctx, const CqlConfig& config);
  Metrics Iterate() override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  void VisitState(StateVisitor& v) override;
  torch::nn::Module* network() override { return q_.get(); }
  void NetworkLoaded() override;
  torch::nn::Module* target_network() { return target_.get(); }
  double cql_lambda() const { return weight_.lambda(); }  // alpha's multiplier (1 when fixed)

 protected:
  runtime::Model ExportModel() override;

 private:
  void PrepareData() override;
  CqlConfig config_;
  // One gradient step on the factored Q (MultiDiscrete); adds to the sums.
  void FactoredStep(const torch::Tensor& idx, double* loss, double* td_loss, double* reg, double* weight,
                    double* q_data);
  std::shared_ptr<ExpectedQHead> head_;
  int64_t num_actions_ = 0;               // outputs: n, or sum nvec (MultiDiscrete)
  std::vector<int64_t> nvec_;             // MultiDiscrete: the dimensions (empty: Discrete)
  torch::Tensor next_masks_u8_;             // uint8 [N, A] (undefined: no masks)
  QNetwork q_{nullptr}, target_{nullptr};
  std::unique_ptr<torch::optim::Adam> opt_;
  CqlWeight weight_;
};

// CQL for Box actions on SAC's networks (the header comment).
class ContinuousCql : public OfflineAlgorithm {
 public:
  ContinuousCql(const RunContext& ctx, const CqlConfig& config);
  Metrics Iterate() override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  void VisitState(StateVisitor& v) override;
  torch::nn::Module* network() override { return &nets_; }
  void NetworkLoaded() override;
  SquashedGaussianActor& actor() { return actor_; }
  Critics& critics() { return critics_; }
  Critics& critic_target() { return target_; }
  double ent_coef() const { return std::exp(log_alpha_.item<double>()); }
  double cql_lambda() const { return weight_.lambda(); }  // alpha's multiplier (1 when fixed)

 protected:
  runtime::Model ExportModel() override;

 private:
  void PrepareData() override;
  // a ~ pi(.|s) at features f [R, D] with a fresh draw: actions [R, A] and log pi [R].
  std::pair<torch::Tensor, torch::Tensor> Sample(const torch::Tensor& f);
  // The deterministic action tanh(mu(s)) at features f [R, D]: [R, A].
  torch::Tensor Mode(const torch::Tensor& f) { return torch::tanh(actor_->forward(f).narrow(1, 0, act_dim_)); }
  // Q_i at features f [R, D] and scaled actions a [R, A]: [R, n].
  torch::Tensor Q(Critics& c, const torch::Tensor& f, const torch::Tensor& a) { return c->forward(torch::cat({f, a}, 1)); }

  CqlConfig config_;
  int64_t act_dim_ = 0;
  std::vector<float> low_, high_;
  SquashedGaussianActor actor_{nullptr};
  Critics critics_{nullptr}, target_{nullptr};
  torch::nn::Module nets_;
  torch::Tensor log_alpha_;  // log ent_coef (a learned parameter when ent_coef is auto)
  bool learn_alpha_ = true;
  double target_entropy_ = 0;
  CqlWeight weight_;
  std::unique_ptr<torch::optim::Adam> actor_opt_, critic_opt_, alpha_opt_;
  torch::Tensor scaled_actions_;  // [N, A]
};

// `--algo cql`: Cql for the env's Discrete and MultiDiscrete actions, ContinuousCql for Box.
std::unique_ptr<Algorithm> MakeCql(const RunContext& ctx, const CqlConfig& config);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_OFFLINE_CQL_H_
