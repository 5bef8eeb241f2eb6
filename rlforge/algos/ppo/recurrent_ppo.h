// rlforge/algos/ppo/recurrent_ppo.h — PPO with a recurrent (LSTM or GRU)
// policy, for partially observed envs (sb3-contrib's RecurrentPPO; the policy
// of OpenAI Five).
//
// Acting: the network (rlforge/nn/recurrent_policy.h) carries one state per
// env across steps and across rollouts; it is zeroed where an episode starts,
// also after an autoreset in the middle of a rollout. The rollout keeps, for
// each step, the observation and whether it starts an episode, and the state
// at the start of every chunk of bptt_len steps.
//
// Update: the rollout of T steps x N envs is cut into N x T / bptt_len
// sequences (one env, bptt_len consecutive steps). Each epoch shuffles the
// sequences and takes batch_size / bptt_len of them per minibatch; each
// sequence is replayed from its stored initial state, step by step with the
// same resets as while acting (so with unchanged weights its log-probs and
// values are those computed while acting), and the loss back-propagates
// through its bptt_len steps (truncated BPTT). With recompute_states the
// chunk-initial states are recomputed with the current weights before every
// epoch after the first. The loss, advantage normalization per minibatch,
// clipping, schedules and early stop are PPO's (rlforge/algos/ppo/ppo.h).
// sb3-contrib instead splits its minibatches at episode boundaries and pads
// them; with bptt_len = n_steps (the default) every episode fragment in a
// rollout is back-propagated whole, as there.
//
// Behaviour-cloning pretraining (pretrain_policy, as PPO's; PretrainConfig in
// rlforge/algos/on_policy.h): before the first rollout, the scripted policy's
// demonstration episodes are laid end to end in up to 16 parallel streams
// (each episode whole in one stream, starts flagged as in a rollout), cut into
// sequences of bptt_len steps, and cloned by minibatch Adam on
//   -log pi(a_demo | history) + vf_coef (G - V(history))^2
// with truncated BPTT through each sequence. Before every epoch the
// sequences' initial states are recomputed with the current weights by
// running the streams from their start, so a sequence in the middle of an
// episode starts from the memory of that episode's earlier steps.
#ifndef RLFORGE_ALGOS_PPO_RECURRENT_PPO_H_
#define RLFORGE_ALGOS_PPO_RECURRENT_PPO_H_

#include <memory>
#include <optional>

#include "rlforge/algos/actor_critic_loss.h"
#include "rlforge/algos/algorithm.h"
#include "rlforge/algos/league/league.h"
#include "rlforge/algos/on_policy.h"
#include "rlforge/algos/ppo/ppo.h"
#include "rlforge/config/config.h"
#include "rlforge/env/running_stats.h"
#include "rlforge/nn/recurrent_policy.h"

namespace rlforge {

struct RecurrentPpoConfig : PpoCoreConfig {
  RecurrentPpoConfig() { n_steps = 128, batch_size = 128; }
  int64_t bptt_len = 0;             // steps per sequence (0: n_steps); batch_size counts steps
  bool recompute_states = false;    // refresh the sequences' initial states each epoch
  RecurrentPolicyConfig policy;
  PretrainConfig pretrain;  // behaviour cloning before the first rollout (see above)
  LeagueConfig league;  // self-play (rlforge/algos/league/league.h)

  void Visit(FieldVisitor& v);
  void Validate() const;
  int64_t sequence_length() const { return bptt_len > 0 ? bptt_len : n_steps; }
};

class RecurrentPpo : public Algorithm {
 public:
  // Data-parallel across the ranks of a job as PPO is (rlforge/dist/;
  // without self-play): each rank steps num_envs / world_size envs and
  // every minibatch of batch_size / world_size rows per rank is averaged.
  static constexpr uint32_t kRunKeys =
      kRunNumEnvs | kRunEnvThreads | kRunTorchThreads | kRunNormalizeObs | kRunNormalizeReward | kRunDistributed;

  RecurrentPpo(const RunContext& ctx, const RecurrentPpoConfig& config);
  Metrics Iterate() override;
  int64_t num_timesteps() const override { return num_timesteps_; }
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  void VisitState(StateVisitor& v) override;
  torch::nn::Module* network() override { return net_.get(); }
  int64_t num_snapshots() const override { return static_cast<int64_t>(snapshots_.size()); }
  std::unique_ptr<Policy> MakeSnapshotPolicy(int64_t k, bool deterministic) override;
  std::vector<ScalarEvent> TakeScalarEvents() override;
  std::string evaluation_opponent() const override;
  std::map<std::string, std::string> RunFiles() const override;
  // Self-play: the league (null without self_play), each env's current
  // opponent (League::kLatest, a snapshot index, or League::BotOpponent(b))
  // and snapshot k's network.
  const League* league() const { return league_.get(); }
  const std::vector<int64_t>& opponents() const { return opponents_; }
  RecurrentActorCritic snapshot(int64_t k) const { return snapshots_.at(k); }

  RecurrentActorCritic& net() { return net_; }
  // One rollout without an update (Iterate's first half; tests, benchmarks).
  void CollectRollout();
  // The update's view of sequences `seqs` (ids k * N + n, see above): the
  // heads replayed with the current weights from their stored initial states,
  // and the log-probs stored while acting, both for rows t * G + j.
  std::pair<ActorCriticImpl::HeadOutputs, torch::Tensor> ReplaySequences(const torch::Tensor& seqs);
  // Recomputes the states at the chunk starts with the current weights
  // (recompute_states does it before every epoch after the first).
  void RecomputeChunkStates();
  const std::vector<RecurrentState>& chunk_states() const { return chunk_states_; }
  VectorEnv& envs() { return *envs_; }
  // The last rollout, [T, N]: log pi(a|s) and V(s) computed while acting,
  // and the episode-start flags (tests replay them).
  const torch::Tensor& rollout_log_probs() const { return log_probs_; }
  const torch::Tensor& rollout_values() const { return values_; }
  const torch::Tensor& rollout_starts() const { return starts_; }
  const torch::Tensor& rollout_dones() const { return dones_; }
  const torch::Tensor& rollout_obs() const { return obs_; }
  const torch::Tensor& rollout_actions() const { return actions_; }
  const torch::Tensor& rollout_masks() const { return masks_; }
  // The state each env's rollout started from, [layers, N, hidden] each.
  RecurrentState rollout_initial_state() const;
  // Heads for the whole last rollout replayed with the current weights from
  // its initial states, rows t * N + n.
  ActorCriticImpl::HeadOutputs ReplayRollout();
  // Behaviour cloning of config.pretrain (see above); Iterate runs it before
  // the first rollout. Sets pretrain_metrics(): OnPolicyAlgorithm::
  // PretrainMetricNames(), the fit measured over every demonstrated step
  // with each episode played from its start.
  void Pretrain();
  const Metrics& pretrain_metrics() const { return pretrain_metrics_; }

 protected:
  runtime::Model ExportModel() override;

 private:
  torch::Tensor NormalizeObs(const torch::Tensor& raw, bool update);
  // Sequence ids [G] -> their steps as [L, G, ...] (time-major).
  torch::Tensor Gather(const torch::Tensor& t, const torch::Tensor& seqs) const;
  // The initial states of sequences `seqs` (sequence k * N + n starts from
  // chunks[k]'s row n).
  static RecurrentState GatherStates(const std::vector<RecurrentState>& chunks, const torch::Tensor& seqs);
  // Self-play: agent 1's actions for the coming Step, each env's from its
  // opponent's network (rows grouped by opponent); after the Step, the
  // finished games' results and their next opponents.
  void ActOpponents();
  void FinishGames();
  // A snapshot of the current weights, rated against the bots and the
  // previous snapshot (the bots themselves the first time).
  void AddSnapshot();
  std::vector<int> PlayRatingGames(Policy& a, Policy& b);
  std::unique_ptr<Policy> MakeBot(const std::string& name);

  RecurrentPpoConfig config_;
  std::unique_ptr<VectorEnv> envs_;
  RecurrentActorCritic net_{nullptr};
  ActionHead head_;
  torch::Generator gen_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  int64_t num_timesteps_ = 0, iterations_ = 0;
  double time_env_ = 0, time_act_ = 0;  // seconds in the last rollout
  bool conditional_ = false;  // MultiDiscrete env with conditional masks
  ObsNormalizer obs_norm_;      // normalize_obs
  ReturnScaler return_scaler_;  // normalize_reward
  std::vector<float> grad_buffer_;                 // AverageOverRanks' scratch (jobs)
  std::pair<double, double> comm_reported_{0, 0};  // AddCommMetrics' last totals
  std::vector<int64_t> obs_shape_;
  Metrics pretrain_metrics_;  // empty without pretraining (saved in checkpoints)

  // Carried across rollouts (and checkpoints): each env's state and whether
  // its next observation starts an episode.
  RecurrentState state_;
  torch::Tensor next_starts_;  // [N] float

  // Rollout storage, [T, N, ...].
  torch::Tensor obs_, starts_, masks_, actions_, log_probs_, values_, rewards_, next_values_, dones_, advantages_,
      returns_;
  // The states at the chunk starts, [K = T / L] of [layers, N, hidden].
  std::vector<RecurrentState> chunk_states_;

  // Self-play (config key self_play).
  std::unique_ptr<League> league_;
  std::vector<RecurrentActorCritic> snapshots_;
  std::vector<int64_t> opponents_;  // [N]
  RecurrentState opp_state_;        // agent 1's state in each env
  torch::Generator opp_gen_;        // agent 1's action draws
  std::vector<uint8_t> opp_obs_, opp_masks_;
  std::unique_ptr<VectorEnv> rating_envs_;
  std::vector<std::unique_ptr<Policy>> bots_;  // bot_fraction > 0: training opponents
  std::vector<ScalarEvent> events_;
};

// Policy adapter for evaluation and play: one state per row of the Act
// batch, zeroed by StartEpisodes (and for every row when n changes).
class RecurrentActorCriticPolicy : public Policy {
 public:
  RecurrentActorCriticPolicy(RecurrentActorCritic net, const Space& obs_space, const Space& act_space,
                             bool deterministic, uint64_t seed, std::optional<RunningMeanStd> obs_rms,
                             double clip_obs);
  void Act(const void* observations, const uint8_t* masks, int n, void* actions) override;
  void StartEpisodes(const uint8_t* rows_starting, int n) override;
  bool recurrent() const override { return net_->core(); }
  std::string name() const override { return deterministic_ ? "greedy" : "stochastic"; }

 private:
  RecurrentActorCritic net_;
  Space obs_space_, act_space_;
  bool deterministic_;
  torch::Generator gen_;
  std::optional<RunningMeanStd> obs_rms_;
  double clip_obs_;
  RecurrentState state_;
  torch::Tensor starts_;  // [n] float
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_PPO_RECURRENT_PPO_H_
