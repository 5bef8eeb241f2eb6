// rlforge/algos/export_model.h — agents' networks as runtime models
// (rlforge/runtime/model.h): the one description that the rlf, TorchScript
// and ONNX exports are all written from.
//
// An agent whose policy is a network overrides Algorithm::ExportModel with
// these helpers; Algorithm::Export adds where the model came from.
#ifndef RLFORGE_ALGOS_EXPORT_MODEL_H_
#define RLFORGE_ALGOS_EXPORT_MODEL_H_

#include <optional>
#include <vector>

#include "rlforge/env/running_stats.h"
#include "rlforge/env/space.h"
#include "rlforge/nn/policy.h"
#include "rlforge/runtime/model.h"

namespace rlforge {

class QNetworkImpl;
class RecurrentActorCriticImpl;

// A torch Linear as a runtime layer followed by `activation`.
runtime::Layer ExportLinear(const torch::nn::Linear& linear, runtime::Activation activation);
// An MLP torso's layers.
std::vector<runtime::Layer> ExportMlp(const MlpImpl& mlp);
// The Linear layers of a Sequential, each with the ReLU or Tanh that follows
// it (none when none does).
std::vector<runtime::Layer> ExportSequential(const torch::nn::Sequential& seq);
// The Nature CNN's layers for an input [C, H, W].
std::vector<runtime::Layer> ExportNatureCnn(const NatureCnnImpl& cnn, const std::vector<int64_t>& chw);
// The observation part of a model (kind, shape, dtype, start/nvec, layout);
// InvalidArgument for spaces the networks do not take.
void ExportObservation(const Space& obs_space, runtime::Model* model);

// PPO, A2C, A3C, REINFORCE: the actor-critic network with its head and, when
// the agent normalized observations, the frozen statistics folded in.
runtime::Model ExportActorCritic(ActorCriticImpl& net, const Space& obs_space, const Space& act_space,
                                 const std::optional<RunningMeanStd>& obs_rms, double clip_obs);
// Recurrent PPO: encoder (images) -> the actor's LSTM/GRU core -> its MLP ->
// head. The value is exported when it can be computed from the same core
// (critic_rnn: shared, or rnn_type none); a separate critic RNN is not
// exported (the export is the policy). gSDE policies are refused.
runtime::Model ExportRecurrentActorCritic(RecurrentActorCriticImpl& net, const Space& obs_space,
                                          const Space& act_space, const std::optional<RunningMeanStd>& obs_rms,
                                          double clip_obs);
// The DQN family: a Q-network (quantiles: outputs per action, QR-DQN). A
// factored MultiDiscrete Q-network (offline CQL) exports as a
// multi_categorical head over the Q-values: deterministic, it is the greedy
// policy (sampled, a Boltzmann policy at temperature 1).
runtime::Model ExportQNetwork(const QNetworkImpl& net, const Space& obs_space, const Space& act_space,
                              int64_t quantiles);

// The off-policy actor-critics' deterministic policy (TD3/DDPG's actor, SAC's
// mean action): action = low + (tanh(head(torso(x))[:A]) + 1) (high - low) / 2,
// as a Gaussian head whose mean is that action (the rescale is one more
// diagonal Linear layer) and whose log_std is -20 (no sampling noise to
// speak of: these exports are the deterministic policy). With clip_mean > 0
// (SAC with gSDE) the mean is clamped to [-clip_mean, clip_mean] before the
// tanh, written with two more layers: relu(mu + c) - relu(mu - c) - c.
runtime::Model ExportSquashedActor(const MlpImpl& torso, const torch::nn::Linear& head, const Space& obs_space,
                                   const Space& act_space, double clip_mean = 0.0);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_EXPORT_MODEL_H_
