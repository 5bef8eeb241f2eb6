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
#ifndef RLFORGE_ALGOS_OFFLINE_CQL_H_
#define RLFORGE_ALGOS_OFFLINE_CQL_H_

#include "rlforge/algos/dqn/dqn.h"
#include "rlforge/algos/offline/offline.h"

namespace rlforge {

struct CqlConfig {
  OfflineConfig offline;
  double gamma = 0.99;  // discount factor
  double alpha = 1.0;   // weight of the CQL regularizer (0: offline DQN)
  double tau = 0.005;   // target-network Polyak coefficient per step
  bool huber = true;    // Huber TD loss (else squared error)

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

 protected:
  runtime::Model ExportModel() override;

 private:
  void PrepareData() override;
  CqlConfig config_;
  std::shared_ptr<ExpectedQHead> head_;
  int64_t num_actions_ = 0;
  torch::Tensor features_, next_features_;  // [N, FeatureSize]
  torch::Tensor next_masks_u8_;             // uint8 [N, A] (undefined: no masks)
  QNetwork q_{nullptr}, target_{nullptr};
  std::unique_ptr<torch::optim::Adam> opt_;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_OFFLINE_CQL_H_
