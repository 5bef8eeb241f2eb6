#include "rlforge/algos/lm/sft.h"

#include "rlforge/data/dataset.h"
#include "rlforge/env/registry.h"
#include "rlforge/env/text.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void SftConfig::Visit(FieldVisitor& v) {
  common.Visit(v);
  v.Field("demo_policy", &demo_policy, "scripted policy that writes the demonstrations (solver, noisy:P; unused with demo_dataset)");
  v.Field("demonstrations", &demonstrations, "demonstration episodes played by demo_policy (unused with demo_dataset)");
  v.Field("demo_dataset", &demo_dataset, "learn from the episodes of this dataset directory (rlforge record) instead of demo_policy's");
  v.Field("batch_size", &batch_size, "sequences per forward pass");
  v.Field("grad_accumulation", &grad_accumulation, "forward passes whose gradients make one update");
  v.Field("updates_per_iteration", &updates_per_iteration, "updates per iteration (one progress row)");
}

void SftConfig::Validate() const {
  common.Validate();
  RLF_CHECK_ARG(demonstrations >= 1 && demonstrations <= 10000000, "config key 'demonstrations' must be in 1..1e7, got ",
                demonstrations);
  RLF_CHECK_ARG(batch_size >= 1 && batch_size <= 65536, "config key 'batch_size' must be in 1..65536, got ", batch_size);
  RLF_CHECK_ARG(grad_accumulation >= 1 && grad_accumulation <= 1024, "config key 'grad_accumulation' must be in 1..1024, got ",
                grad_accumulation);
  RLF_CHECK_ARG(updates_per_iteration >= 1, "config key 'updates_per_iteration' must be >= 1, got ", updates_per_iteration);
}

Sft::Sft(const RunContext& ctx, const SftConfig& config) : LmAgent(ctx, config.common), config_(config) {
  if (config.demo_dataset.empty()) CheckScriptedPolicyFits("demo_policy", config.demo_policy, ctx.run.env, ctx.run.env_kwargs);
  DeclareMetrics({"loss", "learning_rate", "grad_norm", "eval_accuracy", "eval_sampled_accuracy", "demo_accuracy"});
}

void Sft::EnsureDemonstrations() {
  if (demos_ready_) return;
  std::vector<std::vector<int64_t>> responses;
  double right = 0;
  if (!config_.demo_dataset.empty()) {
    Dataset d = ReadDataset(config_.demo_dataset);
    // The env's own kwargs must agree; a step cap `record` wrote (max_episode_steps) does not matter.
    Kwargs recorded;
    for (const auto& [k, v] : d.info.env_kwargs.items())
      if (k != "max_episode_steps") recorded.Set(k, v);
    const bool same_env = d.info.env_id.empty() || (d.info.env_id == ctx_.run.env &&
                                                    SameEnvKwargs(ctx_.run.env, recorded, ctx_.run.env_kwargs,
                                                                  {"max_episode_steps"}));
    RLF_CHECK_ARG(same_env && d.info.observation_space.ToString() == env_->observation_space().ToString() &&
                      d.info.action_space.ToString() == env_->action_space().ToString(),
                  "sft: dataset ", config_.demo_dataset, " holds episodes of ",
                  d.info.env_id.empty() ? d.info.observation_space.ToString() : DescribeEnv(d.info.env_id, recorded),
                  ", not of ", DescribeEnv(ctx_.run.env, ctx_.run.env_kwargs));
    for (int64_t e = 0; e < d.episodes(); ++e) {
      const int64_t first = d.episode_first_step[e], n = d.episode_length(e);
      const auto* obs = reinterpret_cast<const int64_t*>(d.obs.data() + d.row[first] * d.obs_bytes);
      demo_prompts_.push_back(text::Prefix(obs, context_));
      const auto* actions = reinterpret_cast<const int64_t*>(d.actions.data() + first * d.act_bytes);
      responses.emplace_back(actions, actions + n);
      double ret = 0;
      for (int64_t t = 0; t < n; ++t) ret += d.rewards[first + t];
      right += ret == 1.0;
    }
  } else {
    std::unique_ptr<Env> env = ctx_.MakeEnv();
    std::unique_ptr<Policy> policy = Registry::Global().MakeScriptedPolicy(
        config_.demo_policy, ctx_.run.env, *env, static_cast<uint64_t>(ctx_.run.seed));
    Rng seeds(static_cast<uint64_t>(ctx_.run.seed) ^ 0xDE3053ull);
    for (int64_t i = 0; i < config_.demonstrations; ++i) {
      LmEpisode e = PlayEpisode(*env, *policy, seeds.Next());
      demo_prompts_.push_back(std::move(e.prompt));
      responses.push_back(std::move(e.response));
      right += e.success;
    }
  }
  RLF_CHECK_ARG(!responses.empty(), "sft: no demonstrations");
  demo_responses_ = RightPad(responses, text::kPad);
  demo_accuracy_ = right / static_cast<double>(responses.size());
  demos_ready_ = true;
}

Metrics Sft::Iterate() {
  EnsureDemonstrations();
  const int64_t D = demo_responses_.size(0);
  double loss_sum = 0, norm = 0, lr = 0;
  int64_t done = 0;
  model_->train();
  for (int64_t u = 0; u < config_.updates_per_iteration && updates_ < ctx_.run.total_steps; ++u) {
    opt_->zero_grad();
    for (int64_t k = 0; k < config_.grad_accumulation; ++k) {
      torch::Tensor idx = torch::randint(D, {config_.batch_size}, gen_, torch::kLong);
      const std::vector<std::vector<int64_t>> prompts = SelectRows(demo_prompts_, idx);
      torch::Tensor responses = demo_responses_.index_select(0, idx);
      // Trim the batch's responses to its longest one.
      const int64_t R = std::max<int64_t>(1, (responses != text::kPad).sum(1).max().item<int64_t>());
      responses = responses.narrow(1, 0, R);
      LmSequences s = LayOut(prompts, responses);
      torch::Tensor loss;
      {
        Bf16Autocast autocast(bf16());
        LmTokenStats st = TokenStats(model_, s, responses, first_token_);
        loss = -st.logp.sum() / s.mask.sum().clamp_min(1.0) / static_cast<double>(config_.grad_accumulation);
      }
      loss.backward();
      loss_sum += loss.item<double>();
    }
    lr = LearningRate(updates_, ctx_.Progress(updates_));
    norm += OptimizerStep(lr);
    ++updates_;
    ++done;
  }
  Metrics m;
  m["loss"] = done ? loss_sum / static_cast<double>(done) : 0;
  m["learning_rate"] = lr;
  m["grad_norm"] = done ? norm / static_cast<double>(done) : 0;
  if (!eval_prompts_.empty()) {
    m["eval_accuracy"] = EvalAccuracy();
    m["eval_sampled_accuracy"] = EvalAccuracy(1.0);
  }
  m["demo_accuracy"] = demo_accuracy_;
  return m;
}

void Sft::VisitState(StateVisitor& v) {
  VisitLmState(v);
  v("updates", &updates_);
}

}  // namespace rlforge
