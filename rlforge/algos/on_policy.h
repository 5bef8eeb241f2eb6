// rlforge/algos/on_policy.h — what the policy-gradient agents (PPO, A2C, A3C,
// REINFORCE) share: the actor-critic network, rollout collection with GAE,
// the loss's back-propagation, behaviour-cloning pretraining, normalization
// and the checkpointed state.
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
// The vector env's buffers are wrapped, not copied: each step's observations
// and masks are written once, into the rollout's storage row, and the policy
// acts on that row. Actions are sampled from a torch::Generator owned here
// (seeded from the run seed), stored unclipped, and clipped into the Box only
// on the way to the env.
// Losses: ComputeActorCriticLoss (rlforge/algos/actor_critic_loss.h) gives
// dL/d(network outputs); Backprop carries it through the network with the
// hand-written MLP kernels (fast_update, plain MLP policies) or autograd.
#ifndef RLFORGE_ALGOS_ON_POLICY_H_
#define RLFORGE_ALGOS_ON_POLICY_H_

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rlforge/algos/actor_critic_loss.h"
#include "rlforge/algos/algorithm.h"
#include "rlforge/algos/fast_update.h"
#include "rlforge/data/demonstrations.h"
#include "rlforge/env/running_stats.h"
#include "rlforge/env/vector_env.h"
#include "rlforge/nn/policy.h"

namespace rlforge {

namespace dist {
class Communicator;
}

// Running statistics in a job of several ranks (rlforge/dist/): each rank
// adds its own samples to its running statistics and to `acc` ([count,
// sum[d], sum of squares[d]] since the last merge); MergeRankMoments sums
// every rank's acc, adds those moments to `base` (the statistics all ranks
// agreed on at the last merge) by the parallel-variance formula, and sets
// *local = *base, so that after it every rank holds the statistics of all
// ranks' samples. Called at the same point on every rank (a collective).
void AccumulateMoments(const double* x, int64_t n, int64_t d, std::vector<double>* acc);
void MergeRankMoments(dist::Communicator& comm, std::vector<double>* acc, RunningMeanStd* base, RunningMeanStd* local);

// Observation statistics (normalize_obs) of a job, by the functions above:
// Normalize updates the rank's statistics with its own rows (and their
// moments); Merge, after each rollout on every rank, makes them the job's.
struct ObsNormalizer {
  RunningMeanStd rms;   // what observations are normalized with
  RunningMeanStd base;  // rms at the last merge
  std::vector<double> acc;
  double clip = 10.0;   // VecNormalize's clip
  // raw [B, ...] -> normalized float (updating rms when update).
  torch::Tensor Normalize(const torch::Tensor& raw, bool update, dist::Communicator* comm);
  void Merge(dist::Communicator& comm) { MergeRankMoments(comm, &acc, &base, &rms); }
  // After loading rms from a checkpoint (written at a merge point).
  void Loaded() { base = rms; }
};

// The data-parallel pieces of a minibatch update in a job (comm non-null;
// both are collectives):
// (A - mean) / (std + 1e-8) with the mean and std of the global batch ...
torch::Tensor StandardizeAdvantages(const torch::Tensor& adv, dist::Communicator* comm);
// ... and the global batch's gradient and loss values in place of this
// rank's (over `rows` rows): one all-reduce of [rows x (every parameter's
// .grad, the loss values), rows] (buffer: scratch kept by the caller).
void AverageOverRanks(dist::Communicator& comm, torch::nn::Module& net, double rows, ActorCriticLossValues* l,
                      std::vector<float>* buffer);
// The time_comm and comm_bytes metrics: comm's totals since *last (updated).
void AddCommMetrics(const dist::Communicator& comm, std::pair<double, double>* last, Metrics* m);

// Behaviour-cloning pretraining from a scripted policy's demonstrations
// (rlforge/data/demonstrations.h), before the first rollout:
// `epochs` passes of minibatch Adam over the recorded steps minimizing
//   -mean log pi(a_demo | s) + vf_coef mean (G - V(s))^2,
// G the demonstration's discounted return-to-go (the agent's gamma): the
// actor-critic loss with A = 1 and no entropy term. The actor then starts
// from the demonstrator's behaviour and the critic from its values; the RL
// updates take over from there.
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
// The pretrain_* keys set without pretrain_policy (for WarnInertKeys).
std::vector<std::string> InertPretrainKeys(const PretrainConfig& c);
// When an agent is built: the scripted policy plays `env` (with `kwargs`) and
// its actions can be demonstrated (Discrete or MultiDiscrete; a Box env's
// heuristic cannot be cloned this way: use bc on a recorded dataset).
// InvalidArgument naming pretrain_policy otherwise.
void CheckPretrainFits(const PretrainConfig& c, const std::string& env, const Kwargs& kwargs, const Space& actions);
// The demonstrations that pretraining clones: c.episodes episodes of the
// scripted policy on `env` (an instance of the run's env), seeded from the
// run's seed (ppo and recurrent-ppo clone the same episodes).
Demonstrations RecordPretrainDemonstrations(const PretrainConfig& c, const RunContext& ctx, Env& env);

// Registers the policy keys (net_arch, activation, ortho_init,
// share_features, log_std_init) of an agent's config.
void VisitPolicyFields(FieldVisitor& v, PolicyConfig* policy);
// Warns (once a process, on the job's root, for a run) about policy keys set
// to values that change nothing: sde_sample_freq without use_sde,
// log_std_init with actions that are not Box.
void WarnInertPolicyKeys(const RunContext& ctx, const PolicyConfig& policy, const Space& actions);

// torch dtype of a space's elements.
torch::ScalarType TorchDType(DType dtype);
// Sampled actions -> the env's action layout (contiguous): Discrete adds the
// space's start, Box clips into the bounds (the sample itself stays unclipped).
torch::Tensor ToEnvActions(const torch::Tensor& actions, const Space& act_space);
// A batch of raw observations in the env's dtype, [rows, obs...]: a view of
// `data` (no copy; valid while data is), or a copy.
torch::Tensor ObservationView(const void* data, int64_t rows, const Space& obs_space);
torch::Tensor ObservationTensor(const void* data, int64_t rows, const Space& obs_space);
// (x - mean) / sqrt(var + 1e-8), clipped to +-clip; x [B, ...] float.
torch::Tensor ApplyObsNormalization(const torch::Tensor& x, const RunningMeanStd& rms, double clip);
// The same after adding the batch raw [B, ...] to the statistics (update).
torch::Tensor NormalizeObservations(const torch::Tensor& raw, RunningMeanStd* rms, double clip, bool update);
// Rollout storage [T, N, ...]: observations in the env's dtype (float32 when
// normalized), and actions as the policies sample them (long for Discrete
// [T, N] and MultiDiscrete [T, N, k], float [T, N, d] for Box).
torch::Tensor RolloutObservations(int64_t T, int64_t N, const Space& obs_space, bool normalized);
torch::Tensor RolloutActions(int64_t T, int64_t N, const Space& act_space);
// 1 - Var(returns - values) / Var(returns) over a rollout (NaN when the
// returns do not vary).
double ExplainedVariance(const torch::Tensor& returns, const torch::Tensor& values);
// Clips net's global gradient norm to max_norm and returns the norm before
// clipping; Error naming the parameter (and `step`) when a gradient is NaN or
// Inf.
double ClipGradientsOrThrow(torch::nn::Module& net, double max_norm, int64_t step);
// Says once a process (a resume may build the agent for several checkpoints)
// when batch_size exceeds a rollout of n_steps x num_envs (the job's total):
// every epoch then takes the whole rollout as one minibatch, as SB3's does.
void WarnBatchAboveRollout(const RunContext& ctx, int64_t batch_size, int64_t n_steps);
// Error naming the loss `what` when it is NaN, Inf or beyond float range.
void CheckFiniteLoss(double value, const char* what);
// Error when the policy's Box actions (about to be stepped) are NaN or Inf:
// the policy failed, not the env (its check would name the env).
void CheckFiniteActions(const torch::Tensor& env_actions, const Space& space, int64_t step);

// A batch over contiguous tensors (the caller keeps them alive): actions
// [B] / [B, k] / [B, d], masks [B, width] bool or undefined, the rest [B].
ActorCriticBatch MakeActorCriticBatch(const torch::Tensor& actions, const torch::Tensor& masks,
                                      const torch::Tensor& advantages, const torch::Tensor& returns);

// The actor-critic loss on a batch, with dL/dtheta written into net's
// parameters' .grad (replacing what was there): the loss on the network's
// outputs (ComputeActorCriticLoss) carried back through the network by
// autograd from a forward pass of obs [B, ...] ...
ActorCriticLossValues BackpropAutograd(ActorCriticImpl& net, const ActionHead& head, const torch::Tensor& obs,
                                       const ActorCriticBatch& batch);
// ... or by the hand-written kernels from features = net.Preprocess(obs)
// (contiguous float [B, D]).
ActorCriticLossValues BackpropKernels(FastActorCritic& kernels, ActorCriticImpl& net, const ActionHead& head,
                                      const torch::Tensor& features, const ActorCriticBatch& batch);
// ComputeActorCriticLoss on an autograd forward's outputs h: *outputs gets
// them contiguous (pi, value[, log_std]) and *grads dL/d(each).
ActorCriticLossValues ActorCriticLossOnOutputs(const ActionHead& head, const ActorCriticImpl::HeadOutputs& h,
                                               const ActorCriticBatch& batch, std::vector<torch::Tensor>* outputs,
                                               std::vector<torch::Tensor>* grads);

// VecNormalize's reward scaling (normalize_reward): each env's discounted
// return R <- gamma R + r feeds running statistics, and the rollout's rewards
// are r / sqrt(var(R) + 1e-8), clipped to +-10; R restarts where an episode
// ends. Shared by the on-policy agents and recurrent-ppo.
class ReturnScaler {
 public:
  ReturnScaler() = default;
  // in_job: also record the returns' moments for Merge (a job of several ranks).
  ReturnScaler(int64_t num_envs, bool in_job)
      : rms_(1), running_(static_cast<size_t>(num_envs), 0.0), in_job_(in_job) {}
  // raw [N] -> scaled [N] (may alias).
  void Scale(const float* raw, float* scaled, double gamma);
  void EndEpisode(int64_t i) { running_[static_cast<size_t>(i)] = 0.0; }
  // Checkpoint fields under their historical names: the statistics
  // ("ret_rms", shared by the ranks of a job) and each env's running return
  // ("running_return", the rank's own).
  void VisitShared(StateVisitor& v);
  void VisitOwn(StateVisitor& v) { v("running_return", &running_); }
  void Visit(StateVisitor& v) {
    VisitShared(v);
    VisitOwn(v);
  }
  // Merges the ranks' statistics (MergeRankMoments); every rank calls it.
  void Merge(dist::Communicator& comm) { MergeRankMoments(comm, &acc_, &base_, &rms_); }

 private:
  static constexpr double kClip = 10.0;
  RunningMeanStd rms_{1};
  RunningMeanStd base_{1};  // rms_ at the last merge (jobs of several ranks)
  std::vector<double> acc_;
  std::vector<double> running_;
  bool in_job_ = false;
};


class OnPolicyAlgorithm : public Algorithm {
 public:
  // Every run-level key: envs, threads, observation and reward normalization.
  static constexpr uint32_t kRunKeys =
      kRunNumEnvs | kRunEnvThreads | kRunTorchThreads | kRunNormalizeObs | kRunNormalizeReward;

  int64_t num_timesteps() const override { return num_timesteps_; }
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  // Network, optimizer, action-sampling generator, counters, normalization
  // statistics, pretraining metrics and the vector env's full state.
  void VisitState(StateVisitor& v) override;
  torch::nn::Module* network() override { return policy_.get(); }

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
  // The names of pretrain_metrics().
  static std::vector<std::string> PretrainMetricNames();

 protected:
  runtime::Model ExportModel() override;
  // n_steps, gamma and gae_lambda of the rollouts and the network's settings
  // come from the agent's config; everything else from ctx.
  OnPolicyAlgorithm(const RunContext& ctx, int64_t n_steps, double gamma, double gae_lambda,
                    const PolicyConfig& policy);

  // Steps the envs n_steps times and fills the rollout tensors and GAE.
  void CollectRollout();
  // The env's legal-action masks [N, mask] as a bool view (undefined without masks).
  torch::Tensor MaskView() const;
  // With conditional masks (conditional_): actions redrawn dimension by
  // dimension from the policy's logits [N, mask], their log-probs, and the
  // masks each dimension was drawn under (bool [N, mask]), which the update
  // takes as the step's masks to recompute the same log-probs.
  struct ConditionalDraw {
    torch::Tensor actions, log_probs, masks;
  };
  ConditionalDraw DrawConditional(const torch::Tensor& logits);
  double ExplainedVariance() const;
  // Raw observations -> network input (normalized when normalize_obs).
  torch::Tensor NormalizeObs(const torch::Tensor& raw, bool update);
  // What Backprop takes for raw (possibly normalized) observations obs
  // [B, ...]: the preprocessed features with the hand-written kernels, obs
  // itself with autograd.
  torch::Tensor BackpropInput(const torch::Tensor& obs) const;
  // The actor-critic loss on a batch (input from BackpropInput, B rows),
  // with dL/dtheta written into the policy's .grad by the kernels or
  // autograd; throws Error naming `what` when the loss is not finite.
  ActorCriticLossValues Backprop(const torch::Tensor& input, const ActorCriticBatch& batch, const char* what);
  // The policy-gradient (A2C) loss over the whole last rollout, back-propagated.
  ActorCriticLossValues BackpropRollout(bool normalize_advantage, double ent_coef, double vf_coef, const char* what);
  // The rollout flattened to [T * N, ...] batch tensors.
  struct FlatRollout {
    torch::Tensor obs, masks, actions, log_probs, values, advantages, returns;
  };
  FlatRollout Flatten() const;
  // Declares and reports time_env / time_act (seconds in the last
  // CollectRollout), time_update (since update_start), update_samples
  // (samples forwarded and back-propagated) and update_flops (their network
  // products' floating-point operations): what `rlforge bench train` reads.
  // In a job also time_comm and comm_bytes: seconds in collectives (waiting
  // for the slowest rank included) and bytes this rank reduced or gathered
  // since the last report (`rlforge bench distributed` reads them).
  void DeclareTimingMetrics();
  void AddTimings(Metrics* m, std::chrono::steady_clock::time_point update_start, int64_t update_samples);
  // Called first thing in Iterate: an iteration's time_comm and comm_bytes
  // are its own collectives' (the runner's between iterations, and a
  // resume's, were counted in, so a resumed run's first row differed from
  // the unbroken run's).
  void StartCommCount();
  // Clips the global gradient norm and returns the norm before clipping;
  // throws Error naming the parameter when a gradient is NaN or Inf.
  double ClipGradients(double max_norm);
  // Throws Error naming the loss when it is NaN, Inf or beyond float range.
  void CheckFinite(double value, const char* what) const;
  // (A - mean) / (std + 1e-8) over the batch: in a job, mean and std of the
  // global batch (every rank's rows; a collective).
  torch::Tensor StandardizeAdvantages(const torch::Tensor& adv) const {
    return rlforge::StandardizeAdvantages(adv, comm());
  }
  // The job this agent trains in (null: a single process), its rank and size.
  dist::Communicator* comm() const { return ctx_.comm.get(); }

  int64_t n_steps_;
  double gamma_, gae_lambda_;
  PolicyConfig policy_config_;
  std::unique_ptr<VectorEnv> envs_;
  ActorCritic policy_{nullptr};
  ActionHead head_;
  torch::Generator gen_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;  // made by the subclass
  // Hand-written forward/backward for plain MLP policies (set by the
  // subclass when enabled and applicable); also used for acting.
  std::unique_ptr<FastActorCritic> fast_;
  // MultiDiscrete env with conditional masks: actions drawn dimension by dimension.
  bool conditional_ = false;
  int64_t num_timesteps_ = 0;
  int64_t iterations_ = 0;
  double time_env_ = 0, time_act_ = 0;  // seconds in the last rollout
  double flops_per_sample_ = 0;         // 6 x the policy's Linear weights (forward + backward)
  std::vector<int64_t> obs_shape_;      // element shape

  // Rollout storage.
  torch::Tensor obs_;          // [T, N, obs...] env dtype (float32 with normalize_obs)
  torch::Tensor masks_;        // [T, N, mask] bool, undefined without masks
  torch::Tensor actions_;      // [T, N] long | [T, N, k] long | [T, N, d] float
  torch::Tensor log_probs_;    // [T, N]
  torch::Tensor values_;       // [T, N]
  torch::Tensor rewards_;      // [T, N]
  torch::Tensor next_values_;  // [T, N]
  torch::Tensor dones_;        // [T, N] uint8
  torch::Tensor advantages_;   // [T, N]
  torch::Tensor returns_;      // [T, N]

  Metrics pretrain_metrics_;  // empty without pretraining (saved in checkpoints)

  ObsNormalizer obs_norm_;            // observation statistics (normalize_obs)
  std::vector<float> grad_buffer_;    // AverageOverRanks' all-reduce buffer
  std::pair<double, double> comm_reported_{0, 0};  // AddCommMetrics' last totals
  ReturnScaler return_scaler_;        // normalize_reward
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

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_ON_POLICY_H_
