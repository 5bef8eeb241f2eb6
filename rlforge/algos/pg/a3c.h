// rlforge/algos/pg/a3c.h — Asynchronous Advantage Actor-Critic (Mnih et al.,
// 2016).
//
// `workers` threads each own a slice of the envs (num_envs / workers), a local
// copy of the actor-critic and their own action-sampling RNG. A worker loop:
//   1. copy the shared parameters into its local network (under the lock);
//   2. collect n_steps per env and compute n-step / GAE(lambda) targets;
//   3. compute the A2C loss on the local network and back-propagate (in
//      parallel with the other workers);
//   4. under the lock: copy its gradients onto the shared parameters, clip
//      their global norm and step the one shared optimizer (RMSProp with
//      shared statistics, as the paper's best variant, or Adam).
// Iterate() runs the workers until `steps_per_iteration` more env steps are
// done, then joins them, so checkpoints and logs see a quiescent state. With
// one worker a run is reproducible bit for bit; with several, the order in
// which workers apply gradients depends on thread timing.
#ifndef RLFORGE_ALGOS_PG_A3C_H_
#define RLFORGE_ALGOS_PG_A3C_H_

#include <mutex>

#include "rlforge/algos/on_policy.h"
#include "rlforge/algos/pg/a2c.h"
#include "rlforge/config/config.h"

namespace rlforge {

// A3C's keys are A2C's (n_steps, gamma, gae_lambda, coefficients, learning
// rate, RMSProp or Adam, normalize_advantage, fast_update, the policy) plus:
struct A3cConfig : A2cConfig {
  int64_t workers = 2;                 // asynchronous worker threads
  int64_t steps_per_iteration = 4000;  // env steps between logs/checkpoints

  void Visit(FieldVisitor& v);
  void Validate() const;
};

class A3c : public Algorithm {
 public:
  // Observation and reward normalization are not honoured (each worker would
  // keep its own statistics).
  static constexpr uint32_t kRunKeys = kRunNumEnvs | kRunEnvThreads | kRunTorchThreads;

  A3c(const RunContext& ctx, const A3cConfig& config);
  ~A3c() override;
  Metrics Iterate() override;
  int64_t num_timesteps() const override { return steps_; }
  void TakeFinishedEpisodes(std::vector<double>* returns, std::vector<int64_t>* lengths) override;
  // The shared network and optimizer, the step count, and each worker's
  // state (its envs, network copy and generator) under "worker_K/".
  void VisitState(StateVisitor& v) override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  torch::nn::Module* network() override { return shared_.get(); }
  ActorCritic& shared() { return shared_; }

  class Worker;

 protected:
  runtime::Model ExportModel() override;

 private:
  void RunWorker(int k, int64_t target, Metrics* metrics, int64_t* updates);

  A3cConfig config_;
  ActorCritic shared_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex mu_;
  int64_t steps_ = 0;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_PG_A3C_H_
