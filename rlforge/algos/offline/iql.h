// rlforge/algos/offline/iql.h — Implicit Q-Learning (Kostrikov, Nair and
// Levine, 2021) for any action space.
//
// Three parts learn from dataset transitions only, never querying Q at
// actions the data did not take:
//   V (state value) by expectile regression towards min(Q1', Q2')(s, a):
//     L_V = mean |tau - 1(u < 0)| u^2,  u = min Q'(s, a) - V(s)   (eq. 5)
//   twin Q by TD against V at the next state:
//     L_Q = mean_j (r + gamma (1 - terminated) V(s') - Q_j(s, a))^2  (eq. 6)
//   the actor by advantage-weighted regression:
//     L_pi = -mean exp(beta (min Q'(s, a) - V(s))) capped at max_weight
//            x log pi(a | s)                                        (eq. 7)
// Q' are Polyak-averaged copies of Q (tau_target). Q(s, a) is one output
// per action for Discrete actions, else a network of [features(s), a]
// (MultiDiscrete actions one-hot, Box actions as they are). The actor is the
// actor-critic policy network (OfflineActor, as BC's), so masks and
// MultiDiscrete work as for every policy; the expectile 0.5 with beta 0 gives
// BC's objective.
#ifndef RLFORGE_ALGOS_OFFLINE_IQL_H_
#define RLFORGE_ALGOS_OFFLINE_IQL_H_

#include "rlforge/algos/offline/bc.h"
#include "rlforge/algos/offline/offline.h"

namespace rlforge {

struct IqlConfig {
  OfflineConfig offline;
  double gamma = 0.99;       // discount factor
  double expectile = 0.7;    // tau of the value's expectile regression (0.5: the mean)
  double beta = 3.0;         // inverse temperature of the advantage weights
  double max_weight = 100.0; // cap on exp(beta A)
  double tau = 0.005;        // target Q Polyak coefficient per step
  // The actor's Adam step size (Q and V learn at offline.learning_rate).
  // IQL's reference code decays it with a cosine (cos_3e-4).
  Schedule actor_learning_rate = Schedule::Constant(3e-4);

  void Visit(FieldVisitor& v);
  void Validate() const;
};

// An MLP with a linear output of width `out`.
class MlpHeadImpl : public torch::nn::Module {
 public:
  MlpHeadImpl(int64_t in, const std::vector<int64_t>& hidden, const std::string& activation, int64_t out);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  Mlp torso_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(MlpHead);

class Iql : public OfflineAlgorithm {
 public:
  Iql(const RunContext& ctx, const IqlConfig& config);
  Metrics Iterate() override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  void VisitState(StateVisitor& v) override;
  torch::nn::Module* network() override { return actor_.net().get(); }

 protected:
  runtime::Model ExportModel() override;

 private:
  void PrepareData() override;
  // Q_j(s, a) [B] of network q at features f and dataset actions rows idx.
  torch::Tensor Q(MlpHead& q, const torch::Tensor& f, const torch::Tensor& idx);

  IqlConfig config_;
  bool discrete_ = false;
  torch::Tensor action_features_;
  MlpHead q1_{nullptr}, q2_{nullptr}, q1_target_{nullptr}, q2_target_{nullptr}, v_{nullptr};
  std::unique_ptr<torch::optim::Adam> q_opt_, v_opt_;
  OfflineActor actor_;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_OFFLINE_IQL_H_
