// rlforge/nn/recurrent_policy.h — the recurrent actor-critic network
// (recurrent PPO, rlforge/algos/ppo/recurrent_ppo.h).
//
// Laid out as sb3-contrib's RecurrentActorCriticPolicy:
//   features = preprocess(obs)                     (policy.h; Nature CNN for images)
//   actor:  features -> LSTM/GRU (rnn_layers x rnn_hidden_size) -> MLP net_arch -> pi head
//   critic: features -> its own LSTM/GRU           (critic_rnn: separate, the default)
//                    |  the actor's output, detached (critic_rnn: shared; the
//                    |  value loss does not train the actor's RNN)
//                    |  Linear(features, rnn_hidden_size) (critic_rnn: none)
//           -> MLP net_arch -> value head
// rnn_type none drops the recurrent cores (features -> MLPs -> heads).
// Before each step the state of every row that starts an episode is zeroed:
//   h <- (1 - start) h,  c <- (1 - start) c
// so one rollout can hold many episodes per env, and a sequence replayed in
// the update sees exactly the resets it saw while acting. Heads are
// initialized as ActorCritic's (orthogonal, gains 0.01 and 1, with
// ortho_init); the RNN keeps libtorch's default initialization.
#ifndef RLFORGE_NN_RECURRENT_POLICY_H_
#define RLFORGE_NN_RECURRENT_POLICY_H_

#include <torch/torch.h>

#include <string>

#include "rlforge/nn/policy.h"

namespace rlforge {

struct RecurrentPolicyConfig {
  PolicyConfig mlp;             // net_arch (after the RNN), activation, ortho_init, log_std_init
  // lstm, gru, or none: a feed-forward network (features -> MLPs -> heads,
  // no state) trained by the same code, for comparisons.
  std::string rnn_type = "lstm";
  int64_t rnn_hidden_size = 256;  // sb3-contrib's lstm_hidden_size
  int64_t rnn_layers = 1;         // stacked RNN layers
  std::string critic_rnn = "separate";  // separate, shared or none
  // LSTMs run through rlforge/nn/lstm_kernels.h's hand-written forward and
  // backward (one autograd node per layer and sequence) instead of
  // torch::nn::LSTM step by step; same weights, same results to rounding.
  bool fast_lstm = true;
};
// InvalidArgument naming the config key that is out of range.
void ValidateRecurrentPolicy(const RecurrentPolicyConfig& c);

// The recurrent state of a batch of B rows: [layers, B, hidden] each; c only
// for LSTMs, the critic's only with critic_rnn separate.
struct RecurrentState {
  torch::Tensor pi_h, pi_c, vf_h, vf_c;
  // Rows `rows` (long indices) of every tensor, as [layers, rows, hidden].
  RecurrentState Rows(const torch::Tensor& rows) const;
  // Copies of the tensors (a snapshot that later steps do not change).
  RecurrentState Clone() const;
};

class RecurrentActorCriticImpl : public torch::nn::Module {
 public:
  RecurrentActorCriticImpl(const Space& obs_space, const Space& act_space, const RecurrentPolicyConfig& config);

  // The zero state of `rows` rows.
  RecurrentState InitialState(int64_t rows) const;

  // One step for B rows: obs [B, ...] raw, starts [B] float (1 where obs is
  // the first of an episode), *state in and out.
  struct StepOutput {
    ActorCriticImpl::HeadOutputs heads;  // pi [B, width], log_std, value [B]
    torch::Tensor latent;                // [B, latent] the policy MLP's output (gSDE's z)
  };
  StepOutput Step(const torch::Tensor& obs, const torch::Tensor& starts, RecurrentState* state);
  // The critic alone for one step (no state change): V of obs from `state`,
  // with no reset (bootstrapping from a truncated episode's final observation).
  torch::Tensor Value(const torch::Tensor& obs, const RecurrentState& state);

  // A sequence of L steps for B rows from `initial`: obs [L, B, ...], starts
  // [L, B]; heads for the L * B rows in time-major order (row t * B + j), in
  // the autograd graph (truncated back-propagation through the L steps).
  // With final_state, the state after the last step; with latent, the
  // policy MLP's output for those rows.
  ActorCriticImpl::HeadOutputs Sequence(const torch::Tensor& obs, const torch::Tensor& starts,
                                        const RecurrentState& initial, RecurrentState* final_state = nullptr,
                                        torch::Tensor* latent = nullptr);

  // gSDE (use_sde, Box actions): log_std is [latent, act] and the heads'
  // log_std per row (rlforge/nn/policy.h's SdeLogStd); one exploration
  // matrix per env, drawn here, gives the action mean + z^T W.
  bool use_sde() const { return config_.mlp.use_sde; }
  void ResampleSdeNoise(int64_t n, torch::Generator* gen) { sde_noise_ = SdeNoise(n, log_std_, gen); }
  torch::Tensor SdeActions(const StepOutput& out) const { return rlforge::SdeActions(out.heads.pi, out.latent, sde_noise_); }

  ActionDistribution Distribution(const ActorCriticImpl::HeadOutputs& heads, const torch::Tensor& mask) const;
  const Space& action_space() const { return act_space_; }
  torch::Tensor log_std() const { return log_std_; }
  bool lstm() const { return lstm_; }
  const RecurrentPolicyConfig& config() const { return config_; }

  // The parts, for the export (rlforge/algos/export_model.h).
  bool core() const { return core_; }
  bool is_image() const { return image_; }
  const NatureCnn& cnn() const { return cnn_; }
  // The actor's RNN weights of layer l: weight_ih, weight_hh, bias_ih, bias_hh.
  std::vector<torch::Tensor> ActorRnnWeights(int64_t layer) const;
  const Mlp& pi_mlp() const { return pi_mlp_; }
  const Mlp& vf_mlp() const { return vf_mlp_; }
  const torch::nn::Linear& pi_head() const { return pi_head_; }
  const torch::nn::Linear& vf_head() const { return vf_head_; }

 private:
  torch::Tensor Features(const torch::Tensor& obs);
  // The actor's or the critic's RNN over x [steps, B, F] from h (and c),
  // updated in place; outputs [steps, B, hidden].
  torch::Tensor RnnRun(bool critic, const torch::Tensor& x, torch::Tensor* h, torch::Tensor* c);
  ActorCriticImpl::HeadOutputs Heads(const torch::Tensor& pi_latent, const torch::Tensor& vf_latent,
                                     torch::Tensor* latent);

  Space obs_space_, act_space_;
  RecurrentPolicyConfig config_;
  bool lstm_ = true, core_ = true, image_ = false;
  NatureCnn cnn_{nullptr};
  torch::nn::LSTM pi_lstm_{nullptr}, vf_lstm_{nullptr};
  torch::nn::GRU pi_gru_{nullptr}, vf_gru_{nullptr};
  torch::nn::Linear vf_in_{nullptr};  // critic_rnn none
  Mlp pi_mlp_{nullptr}, vf_mlp_{nullptr};
  torch::nn::Linear pi_head_{nullptr}, vf_head_{nullptr};
  torch::Tensor log_std_;
  torch::Tensor sde_noise_;  // [n, latent, act] exploration matrices (gSDE)
};
TORCH_MODULE(RecurrentActorCritic);

}  // namespace rlforge

#endif  // RLFORGE_NN_RECURRENT_POLICY_H_
