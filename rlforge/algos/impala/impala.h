// rlforge/algos/impala/impala.h — IMPALA (Espeholt et al., 2018): actors
// that act and a learner that learns, decoupled, with V-trace correcting for
// the actors' stale policies.
//
// Actors run the latest weights they have fetched on their own vector envs
// and send unrolls of n_steps steps (observations, actions, the behaviour
// policy's log-probabilities, rewards, episode ends) to the learner. Each
// Iterate() of the learner takes batch_size unrolls, recomputes pi and V on
// them, forms V-trace targets and advantages (rlforge/buffers/vtrace.h), and
// takes one optimizer step on
//   L = -mean(rho_t (r_t + gamma v_{t+1} - V(x_t)) log pi(a_t|x_t))
//       + vf_coef mean((v_t - V(x_t))^2) - ent_coef mean(H(pi(.|x_t)))
// then publishes its weights (a new version). policy_lag, the learner's
// version minus the version an unroll was acted with, is logged.
//
// Actors are `num_actors` threads of the learner's process, and, in a job
// (rlforge launch --nproc N -- train --algo impala ...), every rank other than
// 0 is an actor process (RunImpalaActor) that talks to the learner through the
// job's c10d TCPStore (ImpalaStoreChannel): an actor may join late or die
// without stopping the learner, which waits up to RLFORGE_DIST_TIMEOUT for
// unrolls before it gives up. Actors are not checkpointed: a resumed run
// restarts them (fresh episodes), so IMPALA resumes the learner exactly but
// not the actors' trajectories; with threads the order in which unrolls
// arrive depends on timing.
#ifndef RLFORGE_ALGOS_IMPALA_IMPALA_H_
#define RLFORGE_ALGOS_IMPALA_IMPALA_H_

#include <torch/torch.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rlforge/algos/algorithm.h"
#include "rlforge/algos/on_policy.h"
#include "rlforge/config/config.h"
#include "rlforge/dist/communicator.h"
#include "rlforge/nn/policy.h"

namespace rlforge {

struct ImpalaConfig {
  int64_t n_steps = 20;         // unroll length
  int64_t actor_envs = 8;       // envs per actor
  int64_t num_actors = 2;       // actor threads in the learner's process
  int64_t batch_size = 4;       // unrolls per learner update
  int64_t max_queued = 2;       // unrolls an actor may have waiting for the learner (then it waits)
  double gamma = 0.99;
  double vtrace_lambda = 1.0;   // V-trace's lambda (trace cutting)
  double rho_bar = 1.0;         // clip of the importance weights
  double c_bar = 1.0;           // clip of the trace coefficients
  double ent_coef = 0.01;
  double vf_coef = 0.5;
  double max_grad_norm = 40.0;
  Schedule learning_rate = Schedule::Constant(6e-4);
  double rmsprop_alpha = 0.99;  // RMSProp decay (the paper's optimizer)
  double rmsprop_eps = 0.01;
  PolicyConfig policy;

  void Visit(FieldVisitor& v);
  void Validate() const;
};

// One unroll as actors send it (serialized with StateWriter).
struct ImpalaUnroll {
  int64_t version = 0;  // the weights it was acted with
  int64_t actor = 0;
  int64_t T = 0, N = 0;
  std::vector<float> obs;        // [T + 1, N, obs...] as float (the last row bootstraps)
  std::vector<float> final_obs;  // [T, N, obs...], the final observation where a step truncated
  std::vector<float> actions;    // [T, N, act] (Discrete: the index as float)
  std::vector<float> log_probs;  // [T, N] behaviour log mu(a|x)
  std::vector<float> rewards;    // [T, N]
  std::vector<uint8_t> terminated, truncated;  // [T, N]
  std::vector<double> episode_returns;
  std::vector<int64_t> episode_lengths;
  std::string Serialize() const;
  static ImpalaUnroll Deserialize(const std::string& bytes);
};

// How actors and the learner meet: unrolls one way, weights the other.
class ImpalaChannel {
 public:
  virtual ~ImpalaChannel() = default;
  // Actor `actor`'s unrolls still waiting for the learner.
  virtual int64_t Waiting(int64_t actor) = 0;
  virtual void PushUnroll(int64_t actor, const std::string& bytes) = 0;
  // Appends up to max unrolls that have arrived (does not block).
  virtual void PopUnrolls(size_t max, std::vector<std::string>* out) = 0;
  virtual void PublishWeights(int64_t version, const std::string& bytes) = 0;
  // The weights when a version newer than `have` exists (else false).
  virtual bool FetchWeights(int64_t have, int64_t* version, std::string* bytes) = 0;
  virtual void SetDone() = 0;
  virtual bool Done() = 0;
};

// Within one process (the learner's actor threads).
class ImpalaLocalChannel : public ImpalaChannel {
 public:
  int64_t Waiting(int64_t actor) override;
  void PushUnroll(int64_t actor, const std::string& bytes) override;
  void PopUnrolls(size_t max, std::vector<std::string>* out) override;
  void PublishWeights(int64_t version, const std::string& bytes) override;
  bool FetchWeights(int64_t have, int64_t* version, std::string* bytes) override;
  void SetDone() override { done_ = true; }
  bool Done() override { return done_; }

 private:
  std::mutex mu_;
  std::deque<std::pair<int64_t, std::string>> unrolls_;  // (actor, unroll)
  int64_t version_ = 0;
  std::string weights_;
  std::atomic<bool> done_{false};
};

// Over the job's c10d store: each actor registers for an id and writes its
// k-th unroll to impala/unroll/<id>/<k> before counting it in
// impala/count/<id>, so the learner never waits on a half-written one; the
// learner deletes what it has read and counts it in impala/read/<id> (the
// actor's backlog). Weights are one key and a version counter.
class ImpalaStoreChannel : public ImpalaChannel {
 public:
  explicit ImpalaStoreChannel(c10::intrusive_ptr<c10d::Store> store);
  // Actors: an id of their own (registration order).
  int64_t Register();
  int64_t Waiting(int64_t actor) override;
  void PushUnroll(int64_t actor, const std::string& bytes) override;
  void PopUnrolls(size_t max, std::vector<std::string>* out) override;
  void PublishWeights(int64_t version, const std::string& bytes) override;
  bool FetchWeights(int64_t have, int64_t* version, std::string* bytes) override;
  void SetDone() override;
  bool Done() override;
  // Actors: say they stopped after Done(); the learner waits (bounded) for
  // the word of every registered actor, and of at least `expected` (its
  // job's actor ranks), before its process, the store's host, exits.
  void ConfirmExit();
  void WaitForExits(int64_t expected, std::chrono::milliseconds timeout);
  // The number of actors that have registered.
  int64_t actors();
  // The learner's env, spaces and network size, which actors check theirs against.
  void PublishSignature(const std::string& signature);
  std::string WaitSignature(std::chrono::milliseconds timeout);

 private:
  c10::intrusive_ptr<c10d::Store> store_;
  int64_t id_ = -1, pushed_ = 0;
  std::vector<int64_t> read_;  // learner: unrolls read per actor
};

// An actor: its envs, a copy of the policy, and a loop that fetches weights,
// acts n_steps and pushes the unroll, until the channel says done or `stop`.
class ImpalaActor {
 public:
  ImpalaActor(const RunContext& ctx, const ImpalaConfig& config, int64_t id);
  void Run(ImpalaChannel& channel, const std::atomic<bool>& stop);
  // Its env, spaces and network size (what the learner's must match).
  std::string Signature();
  // The id the channel knows this actor by (default: its id).
  void set_channel_id(int64_t id) { channel_id_ = id; }

 private:
  ImpalaUnroll Collect();
  RunContext ctx_;
  ImpalaConfig config_;
  int64_t id_, channel_id_;
  std::unique_ptr<VectorEnv> envs_;
  ActorCritic net_{nullptr};
  torch::Generator gen_;
  int64_t version_ = 0;
};

class Impala : public Algorithm {
 public:
  // In a job, rank 0 is the learner and the other ranks are actors
  // (kRunActorLearner; the runner gives the learner ctx.store).
  static constexpr uint32_t kRunKeys = kRunTorchThreads | kRunActorLearner;

  Impala(const RunContext& ctx, const ImpalaConfig& config);
  ~Impala() override;
  Metrics Iterate() override;
  int64_t num_timesteps() const override { return num_timesteps_; }
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  // The learner: network, optimizer, step count, weights version.
  void VisitState(StateVisitor& v) override;
  torch::nn::Module* network() override { return net_.get(); }

 protected:
  runtime::Model ExportModel() override;

 private:
  void StartActors();
  // Stops the actor threads and tells actor processes the run is done;
  // wait_for_actors (a finished run) also waits, bounded, for them to leave.
  void StopActors(bool wait_for_actors = true);
  void Publish();
  ImpalaConfig config_;
  Space obs_space_, act_space_;
  ActorCritic net_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  int64_t num_timesteps_ = 0, version_ = 0, updates_ = 0;
  ImpalaLocalChannel local_;
  std::unique_ptr<ImpalaStoreChannel> remote_;
  std::vector<std::thread> threads_;
  bool started_ = false;
  std::atomic<bool> stop_{false};
  std::mutex error_mu_;
  std::exception_ptr actor_error_;
};

// The body of an actor rank of an IMPALA job (ranks 1..): joins the store,
// acts until the learner says done; Error when the learner is gone.
void RunImpalaActor(const RunContext& ctx, const ImpalaConfig& config, const dist::JobEnv& job);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_IMPALA_IMPALA_H_
