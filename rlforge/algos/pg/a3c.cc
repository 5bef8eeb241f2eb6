#include "rlforge/algos/pg/a3c.h"

#include <cstring>
#include <limits>
#include <thread>

#include "rlforge/algos/export_model.h"
#include "rlforge/algos/flat_adam.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void A3cConfig::Visit(FieldVisitor& v) {
  v.Field("workers", &workers, "asynchronous worker threads");
  v.Field("steps_per_iteration", &steps_per_iteration, "env steps between logs and checkpoints");
  A2cConfig::Visit(v);
}

void A3cConfig::Validate() const {
  RLF_CHECK_ARG(workers >= 1, "config key 'workers' must be >= 1, got ", workers);
  RLF_CHECK_ARG(steps_per_iteration >= 1, "config key 'steps_per_iteration' must be >= 1");
  A2cConfig::Validate();
}

// A worker: its envs, local network and rollout storage, reusing the
// on-policy collection code. Its own optimizer is never stepped.
class A3c::Worker : public OnPolicyAlgorithm {
 public:
  Worker(const RunContext& ctx, const A3cConfig& config)
      : OnPolicyAlgorithm(ctx, config.n_steps, config.gamma, config.gae_lambda, config.policy), config_(config) {
    optimizer_ = std::make_unique<torch::optim::SGD>(policy_->parameters(), torch::optim::SGDOptions(0.0));
    if (config.fast_update && FastActorCritic::Supported(*policy_)) fast_ = std::make_unique<FastActorCritic>(policy_);
  }
  // Collects a rollout and leaves the A2C loss's gradients in the local network.
  Metrics CollectAndBackprop() {
    CollectRollout();
    policy_->train();
    const ActorCriticLossValues l =
        BackpropRollout(config_.normalize_advantage, config_.ent_coef, config_.vf_coef, "A3C loss");
    return {{"policy_loss", l.policy_loss},
            {"value_loss", l.value_loss},
            {"entropy_loss", -l.entropy},
            {"explained_variance", ExplainedVariance()}};
  }
  Metrics Iterate() override { return CollectAndBackprop(); }
  int64_t rollout_steps() const { return n_steps_ * envs_->num_envs(); }

 private:
  A3cConfig config_;
};

A3c::A3c(const RunContext& ctx, const A3cConfig& config) : Algorithm(ctx), config_(config) {
  config_.Validate();
  RLF_CHECK_ARG(ctx.run.num_envs % config.workers == 0, "num_envs (", ctx.run.num_envs,
                ") must be a multiple of workers (", config.workers, ")");
  for (int64_t k = 0; k < config.workers; ++k) {
    RunContext worker = ctx;
    worker.run.num_envs = ctx.run.num_envs / config.workers;
    worker.run.seed = ctx.run.seed + 1000 * k;
    workers_.push_back(std::make_unique<Worker>(worker, config));
  }
  torch::manual_seed(static_cast<uint64_t>(ctx.run.seed));
  shared_ = ActorCritic(workers_[0]->envs().single_observation_space(), workers_[0]->envs().single_action_space(),
                        config.policy);
  optimizer_ = MakeA2cOptimizer(ctx, config, shared_->parameters());
  DeclareMetrics({"policy_loss", "value_loss", "entropy_loss", "explained_variance", "learning_rate", "grad_norm",
                  "n_updates"});
}

A3c::~A3c() = default;

void A3c::RunWorker(int k, int64_t target, Metrics* metrics, int64_t* updates) {
  Worker& w = *workers_[k];
  auto local = w.policy()->parameters();
  auto shared = shared_->parameters();
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (steps_ >= target) return;
      for (size_t i = 0; i < local.size(); ++i)
        std::memcpy(local[i].data_ptr<float>(), shared[i].data_ptr<float>(), shared[i].numel() * sizeof(float));
    }
    Metrics m = w.CollectAndBackprop();
    std::lock_guard<std::mutex> lock(mu_);
    const double lr = config_.learning_rate.Value(ctx_.ProgressRemaining(steps_));
    SetLearningRate(*optimizer_, lr);
    for (size_t i = 0; i < local.size(); ++i) {
      if (!local[i].grad().defined()) continue;
      if (!shared[i].grad().defined()) shared[i].mutable_grad() = torch::zeros_like(shared[i]);
      std::memcpy(shared[i].mutable_grad().data_ptr<float>(), local[i].grad().data_ptr<float>(),
                  local[i].numel() * sizeof(float));
    }
    const double norm = ClipGradNorm(shared, config_.max_grad_norm);
    RLF_CHECK(std::isfinite(norm), "non-finite gradient norm in A3C worker ", k, " at step ", steps_,
              "; training stopped");
    optimizer_->step();
    steps_ += w.rollout_steps();
    for (const auto& [key, v] : m) (*metrics)[key] += v;
    (*metrics)["learning_rate"] = lr;
    (*metrics)["grad_norm"] += norm;
    ++*updates;
  }
}

Metrics A3c::Iterate() {
  const int64_t target = std::min(ctx_.run.total_steps, steps_ + config_.steps_per_iteration);
  const int n = static_cast<int>(workers_.size());
  std::vector<Metrics> metrics(n);
  std::vector<int64_t> updates(n, 0);
  std::vector<std::exception_ptr> errors(n);
  auto body = [&](int k) {
    try {
      RunWorker(k, target, &metrics[k], &updates[k]);
    } catch (...) {
      errors[k] = std::current_exception();
      std::lock_guard<std::mutex> lock(mu_);
      steps_ = std::max(steps_, target);  // stop the other workers
    }
  };
  if (n == 1) {
    body(0);
  } else {
    std::vector<std::thread> threads;
    for (int k = 0; k < n; ++k) threads.emplace_back(body, k);
    for (auto& t : threads) t.join();
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  Metrics out;
  int64_t total_updates = 0;
  for (int k = 0; k < n; ++k) {
    total_updates += updates[k];
    for (const auto& [key, v] : metrics[k])
      if (key != "learning_rate") out[key] += v;
    if (metrics[k].count("learning_rate")) out["learning_rate"] = metrics[k]["learning_rate"];
  }
  for (auto& [key, v] : out)
    if (key != "learning_rate") v /= std::max<int64_t>(total_updates, 1);
  out["n_updates"] = static_cast<double>(total_updates);
  return out;
}

void A3c::TakeFinishedEpisodes(std::vector<double>* returns, std::vector<int64_t>* lengths) {
  for (auto& w : workers_) w->TakeFinishedEpisodes(returns, lengths);
}

void A3c::VisitState(StateVisitor& v) {
  VisitModule(v, "shared", *shared_);
  VisitOptimizer(v, "optimizer", *optimizer_);
  v("num_timesteps", &steps_);
  for (size_t k = 0; k < workers_.size(); ++k) {
    PrefixedStateVisitor worker(v, StrCat("worker_", k));
    workers_[k]->VisitState(worker);
  }
}

std::unique_ptr<Policy> A3c::MakePolicy(bool deterministic) {
  const VectorEnv& envs = workers_[0]->envs();
  return std::make_unique<ActorCriticPolicy>(shared_, envs.single_observation_space(), envs.single_action_space(),
                                             deterministic, static_cast<uint64_t>(ctx_.run.seed) + 7);
}

}  // namespace rlforge

namespace rlforge {

runtime::Model A3c::ExportModel() {
  const VectorEnv& envs = workers_[0]->envs();
  runtime::Model m =
      ExportActorCritic(*shared_, envs.single_observation_space(), envs.single_action_space(), std::nullopt, 10.0);
  m.conditional_mask = static_cast<bool>(envs.conditional_mask_fn());
  m.action_mask = envs.has_action_mask();
  return m;
}

}  // namespace rlforge
