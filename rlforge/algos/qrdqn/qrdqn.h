// rlforge/algos/qrdqn/qrdqn.h — Quantile Regression DQN (QR-DQN; Dabney et
// al., 2018): DQN whose network predicts N quantiles of the return per action
// (rlforge/algos/qrdqn/quantile_loss.h has the head and its loss).
//
// Everything else is DQN's (rlforge/algos/dqn/dqn.h): replay (uniform,
// prioritized or recency-weighted, n-step), epsilon-greedy exploration over
// legal actions, the target network, Double DQN's action selection, the MLP or
// Nature-CNN torso, the hand-written kernels, checkpoints and metrics. Its
// config is DQN's keys plus n_quantiles; DQN's dueling head, MSE loss and
// demonstrations (DQfD) are not part of QR-DQN and are rejected by name.
#ifndef RLFORGE_ALGOS_QRDQN_QRDQN_H_
#define RLFORGE_ALGOS_QRDQN_QRDQN_H_

#include "rlforge/algos/dqn/dqn.h"

namespace rlforge {

struct QrDqnConfig {
  // DQN's keys (replay, exploration, target, network, optimizer), with
  // sb3-contrib's QRDQN defaults where they differ from DQN's: learning rate
  // 5e-5, epsilon decayed to 0.01 over 0.5% of training, no gradient
  // clipping, and Adam's epsilon 0.01 / batch_size (adam_eps null).
  DqnConfig dqn = SbContribDefaults();
  int64_t n_quantiles = 200;  // quantiles per action (SB3-contrib's default)

  static DqnConfig SbContribDefaults() {
    DqnConfig c;
    c.learning_rate = Schedule::Constant(5e-5);
    c.exploration_fraction = 0.005;
    c.exploration_final_eps = 0.01;
    c.max_grad_norm.reset();
    return c;
  }

  void Visit(FieldVisitor& v);
  void Validate() const;
  int64_t StepsPerIteration(int64_t num_envs) const { return dqn.StepsPerIteration(num_envs); }
};

class QrDqn : public Dqn {
 public:
  QrDqn(const RunContext& ctx, const QrDqnConfig& config);
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_QRDQN_QRDQN_H_
