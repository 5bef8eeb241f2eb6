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
#include "rlforge/train/config.h"

namespace rlforge {

struct A3cConfig {
  int64_t workers = 2;                 // asynchronous worker threads
  int64_t n_steps = 5;                 // steps per env per worker update
  int64_t steps_per_iteration = 4000;  // env steps between logs/checkpoints
  double gamma = 0.99;                 // discount
  double gae_lambda = 1.0;             // GAE lambda (1: n-step returns)
  double ent_coef = 0.0;               // entropy bonus coefficient
  double vf_coef = 0.5;                // value loss coefficient
  double max_grad_norm = 0.5;          // global gradient-norm clip
  Schedule learning_rate = Schedule::Constant(7e-4);  // step size
  bool use_rms_prop = true;            // shared RMSProp (else shared Adam)
  double rms_prop_alpha = 0.99;        // RMSProp smoothing
  double rms_prop_eps = 1e-5;          // RMSProp epsilon
  PolicyConfig policy;

  void Visit(FieldVisitor& v);
  void Validate() const;
};

class A3c : public Algorithm {
 public:
  A3c(const OnPolicySetup& setup, const A3cConfig& config, int64_t total_steps);
  ~A3c() override;
  Metrics Iterate() override;
  int64_t num_timesteps() const override { return steps_; }
  void TakeFinishedEpisodes(std::vector<double>* returns, std::vector<int64_t>* lengths) override;
  void Save(const std::string& path) const override;
  void Load(const std::string& path) override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  ActorCritic& shared() { return shared_; }

  class Worker;

 private:
  void RunWorker(int k, int64_t target, Metrics* metrics, int64_t* updates);

  A3cConfig config_;
  OnPolicySetup setup_;
  int64_t total_steps_;
  ActorCritic shared_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex mu_;
  int64_t steps_ = 0;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_PG_A3C_H_
