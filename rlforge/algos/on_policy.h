// rlforge/algos/on_policy.h — rollout collection shared by PPO and A2C.
//
// Each iteration steps the vector env n_steps times with the current policy,
// storing [T, N] tensors (T = n_steps, N = num_envs), then computes GAE
// advantages and value targets (rlforge/buffers/gae.h). The value V'_t of the
// state after step t is:
//   0                       when step t terminated the episode;
//   V(final observation)    when it truncated it (one batched forward over
//                           the truncated rows of final_observations());
//   V(s_{t+1})              otherwise (for the last step, the observation the
//                           next rollout starts from).
// Actions are sampled from a torch::Generator owned here (seeded from the run
// seed), stored unclipped, and clipped into the Box only on the way to the env.
#ifndef RLFORGE_ALGOS_ON_POLICY_H_
#define RLFORGE_ALGOS_ON_POLICY_H_

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rlforge/algos/algorithm.h"
#include "rlforge/algos/fast_update.h"
#include "rlforge/env/running_stats.h"
#include "rlforge/env/vector_env.h"
#include "rlforge/nn/policy.h"
#include "rlforge/train/config.h"
#include "rlforge/train/demonstrations.h"

namespace rlforge {

struct OnPolicySetup {
  std::string env_id;
  Kwargs env_kwargs;
  int num_envs = 8;
  int env_threads = 1;
  uint64_t seed = 0;
  int64_t n_steps = 32;
  double gamma = 0.99;
  double gae_lambda = 0.95;
  PolicyConfig policy;
  // VecNormalize-style normalization with statistics shared by all envs:
  // observations (x - mean) / sqrt(var + 1e-8) clipped to +-clip_obs; rewards
  // divided by the std of the discounted return, clipped to +-clip_reward.
  bool normalize_obs = false;
  bool normalize_reward = false;
  double clip_obs = 10.0;
  double clip_reward = 10.0;
};

// The actor-critic (A2C) loss terms for a batch (tensors [B]):
//   -mean(A log pi), mean((R - V)^2), -mean(H).
struct A2cLosses {
  torch::Tensor policy_loss, value_loss, entropy_loss;
};
A2cLosses ComputeA2cLosses(const torch::Tensor& log_prob, const torch::Tensor& advantages,
                           const torch::Tensor& values, const torch::Tensor& returns, const torch::Tensor& entropy);

// Behaviour-cloning pretraining from a scripted policy's demonstrations
// (rlforge/train/demonstrations.h), before the first rollout:
// `epochs` passes of minibatch Adam over the recorded steps minimizing
//   -mean log pi(a_demo | s) + vf_coef mean (G - V(s))^2,
// G the demonstration's discounted return-to-go (the agent's gamma). The
// actor then starts from the demonstrator's behaviour and the critic from its
// values; the RL updates take over from there.
struct PretrainConfig {
  std::string policy;        // scripted policy to imitate ("": no pretraining), e.g. heuristic
  int64_t episodes = 50;     // demonstration episodes
  int64_t epochs = 20;       // passes over them
  int64_t batch_size = 256;  // minibatch size
  double learning_rate = 1e-3;
  double vf_coef = 0.5;      // weight of the value regression
};
void VisitPretrainFields(FieldVisitor& v, PretrainConfig* c);
void ValidatePretrain(const PretrainConfig& c);

struct ActorCriticLossValues {
  double policy_loss = 0, value_loss = 0, entropy_loss = 0, loss = 0;
};

// Registers the policy keys (net_arch, activation, ortho_init,
// share_features, log_std_init) of an algorithm's config.
void VisitPolicyFields(FieldVisitor& v, PolicyConfig* policy);

// torch dtype of a space's elements.
torch::ScalarType TorchDType(DType dtype);
// Sampled actions -> the env's action layout (contiguous): Discrete adds the
// space's start, Box clips into the bounds (the sample itself stays unclipped).
torch::Tensor ToEnvActions(const torch::Tensor& actions, const Space& act_space);
// A batch of raw observations in the env's dtype, [rows, obs...], copied.
torch::Tensor ObservationTensor(const void* data, int64_t rows, const Space& obs_space);

class OnPolicyAlgorithm : public Algorithm {
 public:
  int64_t num_timesteps() const override { return num_timesteps_; }
  void TakeFinishedEpisodes(std::vector<double>* returns, std::vector<int64_t>* lengths) override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  // Checkpoint: network, optimizer, action-sampling RNG, counters and the
  // vector env's full state; written atomically (temp file, fsync, rename).
  void Save(const std::string& path) const override;
  void Load(const std::string& path) override;
  // The same contents into / out of an archive (A3C nests one per worker).
  void WriteTo(torch::serialize::OutputArchive& archive) const;
  void ReadFrom(torch::serialize::InputArchive& archive);
  ActorCritic& policy() { return policy_; }
  VectorEnv& envs() { return *envs_; }
  // Records c.episodes demonstration episodes of c.policy on a fresh env
  // (seeds from the run seed, apart from the training envs') and clones them
  // (see PretrainConfig). Sets pretrain_metrics(): pretrain_demo_steps,
  // pretrain_demo_return, pretrain_demo_success, pretrain_nll (mean negative
  // log-likelihood of the demonstrated actions after training),
  // pretrain_accuracy (fraction of steps where the greedy action is the
  // demonstrated one) and pretrain_value_loss.
  void Pretrain(const PretrainConfig& c);
  const Metrics& pretrain_metrics() const { return pretrain_metrics_; }

 protected:
  explicit OnPolicyAlgorithm(const OnPolicySetup& setup);

  // Steps the envs n_steps times and fills the rollout tensors and GAE.
  void CollectRollout();
  torch::Tensor MaskTensor() const;
  double ExplainedVariance() const;
  // Raw observations -> network input (normalized when normalize_obs).
  torch::Tensor NormalizeObs(const torch::Tensor& raw, bool update);
  // The A2C loss over the whole last rollout, back-propagated into the
  // policy's .grad (hand-written kernels when available, else autograd).
  ActorCriticLossValues BackpropActorCriticLoss(bool normalize_advantage, double ent_coef, double vf_coef,
                                                const char* what);
  // Adds time_env / time_act (seconds in the last CollectRollout), time_update
  // (since update_start) and update_samples (samples forwarded and
  // back-propagated) to m: what `rlforge bench train` reports.
  void AddTimings(Metrics* m, std::chrono::steady_clock::time_point update_start, int64_t update_samples) const;
  // Sets every parameter group's learning rate.
  void SetLearningRate(double lr);
  // Clips the global gradient norm and returns the norm before clipping;
  // throws Error naming the parameter when a gradient is NaN or Inf.
  double ClipGradients(double max_norm);
  // Throws Error naming the loss when it is NaN or Inf.
  static void CheckFinite(const torch::Tensor& value, const char* what);
  // Also rejects values beyond float range (a diverging loss).
  static void CheckFinite(double value, const char* what);

  OnPolicySetup setup_;
  std::unique_ptr<VectorEnv> envs_;
  ActorCritic policy_{nullptr};
  torch::Generator gen_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;  // made by the subclass
  // Hand-written forward/backward for plain MLP policies (set by the
  // subclass when enabled and applicable); also used for acting.
  std::unique_ptr<FastActorCriticUpdate> fast_;
  // MultiDiscrete env with conditional masks: actions drawn dimension by dimension.
  bool conditional_ = false;
  int64_t num_timesteps_ = 0;
  int64_t iterations_ = 0;
  double time_env_ = 0, time_act_ = 0;  // seconds in the last rollout
  std::vector<int64_t> obs_shape_;  // element shape

  // Rollout storage.
  torch::Tensor obs_;          // [T, N, obs...] env dtype
  torch::Tensor masks_;        // [T, N, mask] bool, undefined without masks
  torch::Tensor actions_;      // [T, N] long | [T, N, k] long | [T, N, d] float
  torch::Tensor log_probs_;    // [T, N]
  torch::Tensor values_;       // [T, N]
  torch::Tensor rewards_;      // [T, N]
  torch::Tensor next_values_;  // [T, N]
  torch::Tensor dones_;        // [T, N] uint8
  torch::Tensor advantages_;   // [T, N]
  torch::Tensor returns_;      // [T, N]

  EpisodeLog episodes_;
  Metrics pretrain_metrics_;  // empty without pretraining (saved in checkpoints)

  RunningMeanStd obs_rms_;            // observation statistics (normalize_obs)
  RunningMeanStd ret_rms_;            // discounted-return statistics (normalize_reward)
  std::vector<double> running_return_;  // [N] discounted return per env
};

// Policy adapter for evaluation: acts with the network, sampled or greedy.
class ActorCriticPolicy : public Policy {
 public:
  // obs_rms: frozen observation statistics, when the agent normalized them.
  ActorCriticPolicy(ActorCritic net, const Space& obs_space, const Space& act_space, bool deterministic,
                    uint64_t seed, std::optional<RunningMeanStd> obs_rms = std::nullopt, double clip_obs = 10.0);
  void Act(const void* observations, const uint8_t* masks, int n, void* actions) override;
  std::string name() const override { return deterministic_ ? "greedy" : "stochastic"; }

 private:
  ActorCritic net_;
  Space obs_space_, act_space_;
  bool deterministic_;
  torch::Generator gen_;
  std::optional<RunningMeanStd> obs_rms_;
  double clip_obs_;
};

// (x - mean) / sqrt(var + 1e-8), clipped to +-clip; x [B, ...] float.
torch::Tensor ApplyObsNormalization(const torch::Tensor& x, const RunningMeanStd& rms, double clip);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_ON_POLICY_H_
