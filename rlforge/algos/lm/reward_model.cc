#include "rlforge/algos/lm/reward_model.h"

#include <tuple>

#include "rlforge/env/registry.h"
#include "rlforge/env/text.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void RewardModelConfig::Visit(FieldVisitor& v) {
  common.Visit(v);
  v.Field("chosen_policy", &chosen_policy, "what writes the preferred response of each pair: a scripted policy, or a "
          "language model's run directory, a path with a '/' such as ./runs/sft (sampled at temperature 1); "
          "comma-separated: pair i uses entry i mod n");
  v.Field("rejected_policy", &rejected_policy, "what writes the other response (as chosen_policy)");
  v.Field("pairs", &pairs, "preference pairs made (those the env scores apart are kept)");
  v.Field("holdout_fraction", &holdout_fraction, "fraction of the pairs held out for pairwise accuracy");
  v.Field("batch_size", &batch_size, "pairs per update");
  v.Field("updates_per_iteration", &updates_per_iteration, "updates per iteration (one progress row)");
}

void RewardModelConfig::Validate() const {
  common.Validate();
  RLF_CHECK_ARG(common.eval_prompts == 0,
                "config key 'eval_prompts' is for the policies (sft, grpo, ppo-lm): a reward model answers no prompts "
                "(its held-out figure is holdout_accuracy, from holdout_fraction)");
  RLF_CHECK_ARG(pairs >= 10 && pairs <= 10000000, "config key 'pairs' must be in 10..1e7, got ", pairs);
  RLF_CHECK_ARG(holdout_fraction > 0 && holdout_fraction < 1, "config key 'holdout_fraction' must be in (0, 1), got ",
                holdout_fraction);
  RLF_CHECK_ARG(batch_size >= 1 && batch_size <= 8192, "config key 'batch_size' must be in 1..8192, got ", batch_size);
  RLF_CHECK_ARG(updates_per_iteration >= 1, "config key 'updates_per_iteration' must be >= 1, got ",
                updates_per_iteration);
}

torch::Tensor BradleyTerryLoss(const torch::Tensor& chosen, const torch::Tensor& rejected) {
  return -torch::log_sigmoid(chosen - rejected).mean();
}

torch::Tensor RewardScores(TransformerLM& model, const std::vector<std::vector<int64_t>>& prompts,
                           const torch::Tensor& responses) {
  LmSequences s = LayOut(prompts, responses);
  torch::Tensor h = model->Hidden(s.tokens, s.positions, s.valid);
  torch::Tensor last = s.prompt_width - 1 + (responses != text::kPad).sum(1);  // [N]
  return model->Values(h.index({torch::arange(responses.size(0)), last}));
}

namespace {

std::vector<std::string> SplitSpecs(const std::string& key, const std::string& list) {
  std::vector<std::string> out = SplitTrimmed(list, ',');
  for (const std::string& spec : out)
    RLF_CHECK_ARG(!spec.empty(), "config key '", key, "': ",
                  list.empty() ? std::string("names no policy") : "an empty entry in '" + list + "'");
  return out;
}

// A run directory or checkpoint file (a path: it holds a '/'), not a
// scripted policy's name — decided by the text alone, so that a config
// means the same from any working directory.
bool IsRunPath(const std::string& spec) { return spec.find('/') != std::string::npos; }

}  // namespace

RewardModel::RewardModel(const RunContext& ctx, const RewardModelConfig& config)
    : LmAgent(ctx, config.common), config_(config) {
  for (const auto& [key, list, out] : {std::tuple{"chosen_policy", &config.chosen_policy, &chosen_specs_},
                                       std::tuple{"rejected_policy", &config.rejected_policy, &rejected_specs_}}) {
    for (const std::string& spec : SplitSpecs(key, *list)) {
      out->push_back({spec, nullptr});
      if (!IsRunPath(spec)) {
        RLF_CHECK_ARG(Registry::Global().IsScriptedPolicy(spec), "config key '", key, "': '", spec,
                      "' is neither a scripted policy nor a run directory (a path holding '/'); valid for ",
                      ctx.run.env, ": ", Registry::Global().ScriptedPolicyList(ctx.run.env), ", DIR");
        CheckScriptedPolicyFits(key, spec, ctx.run.env, ctx.run.env_kwargs);
        continue;
      }
      // A language model's run: its responses, sampled at temperature 1 (the
      // policy's own samples, as preference labels are collected in RLHF).
      // Loaded only when training: a reward model loaded to score (or
      // inspect) makes no pairs.
      if (!ctx.load_run) continue;
      std::unique_ptr<Algorithm> run;
      try {
        run = ctx.load_run(spec);
      } catch (const Error& e) {
        throw InvalidArgument(StrCat("config key '", key, "': ", e.what()));
      }
      auto* lm = dynamic_cast<LmAgent*>(run.get());
      RLF_CHECK_ARG(lm != nullptr && run->acts(), "config key '", key, "': '", spec,
                    "' is not a language model's run (sft, grpo or ppo-lm)");
      lm->CheckTrainedOn(StrCat("config key '", key, "': '", spec, "'"), ctx.run.env, ctx.run.env_kwargs);
      out->back().policy = run->MakePolicy(/*deterministic=*/false);  // a copy of its model: the run is let go
    }
  }
  DeclareMetrics({"loss", "accuracy", "holdout_accuracy", "margin", "learning_rate", "grad_norm", "pairs"});
}

std::unique_ptr<Policy> RewardModel::MakePolicy(bool) {
  throw InvalidArgument(ctx_.algo + " run: a reward model scores responses and writes none, so it is no policy; "
                        "use it as reward_model of a grpo or ppo-lm run");
}

void RewardModel::EnsurePairs() {
  if (ready_) return;
  std::unique_ptr<Env> env = ctx_.MakeEnv();
  const uint64_t seed = static_cast<uint64_t>(ctx_.run.seed);
  // Scripted policies are made here, for this env (and live no longer);
  // runs' policies were made at construction.
  std::vector<std::unique_ptr<Policy>> scripted;
  auto make = [&](const std::vector<PairPolicy>& specs, uint64_t policy_seed) {
    std::vector<Policy*> out;
    for (const PairPolicy& p : specs) {
      RLF_CHECK_ARG(p.policy || !IsRunPath(p.spec), ctx_.algo, ": '", p.spec,
                    "' is a run, and runs are loaded only when training (rlforge train)");
      if (p.policy) {
        out.push_back(p.policy.get());
      } else {
        scripted.push_back(Registry::Global().MakeScriptedPolicy(p.spec, ctx_.run.env, *env, policy_seed));
        out.push_back(scripted.back().get());
      }
    }
    return out;
  };
  const std::vector<Policy*> chosen = make(chosen_specs_, seed), rejected = make(rejected_specs_, seed + 1);
  Rng seeds(seed ^ 0xBE77E2ull);
  std::vector<std::vector<int64_t>> c_rows, r_rows;
  for (int64_t i = 0; i < config_.pairs; ++i) {
    const uint64_t s = seeds.Next();
    LmEpisode c = PlayEpisode(*env, *chosen[i % chosen.size()], s);
    LmEpisode r = PlayEpisode(*env, *rejected[i % rejected.size()], s);
    if (c.ret <= r.ret) continue;  // not a preference the env agrees with
    prompts_.push_back(std::move(c.prompt));
    c_rows.push_back(std::move(c.response));
    r_rows.push_back(std::move(r.response));
  }
  const int64_t P = static_cast<int64_t>(prompts_.size());
  RLF_CHECK_ARG(P >= 2, ctx_.algo, ": ", config_.chosen_policy, " and ", config_.rejected_policy,
                " gave ", P == 0 ? "no pairs" : "only one pair", " that ", ctx_.run.env, " scores apart (",
                config_.pairs, " tried; two are needed, one to train on and one held out)");
  chosen_ = RightPad(c_rows, text::kPad);
  rejected_ = RightPad(r_rows, text::kPad);
  torch::Generator split = at::detail::createCPUGenerator(seed ^ 0x5B117ull);
  torch::Tensor perm = torch::randperm(P, split, torch::kLong);
  const int64_t held = std::clamp<int64_t>(static_cast<int64_t>(std::llround(config_.holdout_fraction * P)), 1, P - 1);
  holdout_ = perm.narrow(0, 0, held);
  train_ = perm.narrow(0, held, P - held);
  ready_ = true;
}

double RewardModel::Accuracy(const torch::Tensor& rows) {
  torch::NoGradGuard no_grad;
  double right = 0;
  for (int64_t start = 0; start < rows.size(0); start += kLmChunk) {
    torch::Tensor idx = rows.narrow(0, start, std::min(kLmChunk, rows.size(0) - start));
    const std::vector<std::vector<int64_t>> p = SelectRows(prompts_, idx);
    torch::Tensor rc = RewardScores(model_, p, chosen_.index_select(0, idx));
    torch::Tensor rr = RewardScores(model_, p, rejected_.index_select(0, idx));
    right += (rc > rr).sum().item<double>();
  }
  return right / static_cast<double>(rows.size(0));
}

double RewardModel::HoldoutAccuracy() {
  EnsurePairs();
  return Accuracy(holdout_);
}

Metrics RewardModel::Iterate() {
  EnsurePairs();
  double loss_sum = 0, acc_sum = 0, margin_sum = 0, norm_sum = 0, lr = 0;
  int64_t done = 0;
  model_->train();
  for (int64_t u = 0; u < config_.updates_per_iteration && updates_ < ctx_.run.total_steps; ++u) {
    torch::Tensor pick = torch::randint(train_.size(0), {config_.batch_size}, gen_, torch::kLong);
    torch::Tensor idx = train_.index_select(0, pick);
    const std::vector<std::vector<int64_t>> p = SelectRows(prompts_, idx);
    torch::Tensor rc, rr, loss;
    {
      Bf16Autocast autocast(bf16());
      rc = RewardScores(model_, p, chosen_.index_select(0, idx)).to(torch::kFloat32);
      rr = RewardScores(model_, p, rejected_.index_select(0, idx)).to(torch::kFloat32);
      loss = BradleyTerryLoss(rc, rr);
    }
    opt_->zero_grad();
    loss.backward();
    lr = LearningRate(updates_, ctx_.Progress(updates_));
    norm_sum += OptimizerStep(lr);
    ++updates_;
    ++done;
    loss_sum += loss.item<double>();
    acc_sum += (rc > rr).to(torch::kFloat64).mean().item<double>();
    margin_sum += (rc - rr).mean().item<double>();
  }
  Metrics m;
  const double n = std::max<int64_t>(done, 1);
  m["loss"] = loss_sum / n;
  m["accuracy"] = acc_sum / n;
  m["holdout_accuracy"] = Accuracy(holdout_);
  m["margin"] = margin_sum / n;
  m["learning_rate"] = lr;
  m["grad_norm"] = norm_sum / n;
  m["pairs"] = static_cast<double>(prompts_.size());
  return m;
}

void RewardModel::VisitState(StateVisitor& v) {
  VisitLmState(v);
  v("updates", &updates_);
}

}  // namespace rlforge
