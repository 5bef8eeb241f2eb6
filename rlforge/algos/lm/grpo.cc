#include "rlforge/algos/lm/grpo.h"

#include <algorithm>
#include <cmath>

#include "rlforge/algos/lm/lm_losses.h"
#include "rlforge/algos/lm/reward_model.h"
#include "rlforge/core/checkpoint_file.h"
#include "rlforge/env/text.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void LmRlConfig::Visit(FieldVisitor& v) {
  common.Visit(v);
  v.Field("prompts_per_iteration", &prompts_per_iteration, "prompts per iteration");
  v.Field("temperature", &temperature, "sampling temperature of the rollouts");
  v.Field("top_k", &top_k, "sample among the k likeliest tokens (0: all)");
  v.Field("top_p", &top_p, "nucleus sampling: the likeliest tokens holding this mass (1: all)");
  v.Field("epochs", &epochs, "passes over each rollout");
  v.Field("minibatches", &minibatches, "minibatches per pass");
  v.Field("clip_range", &clip_range, "PPO clip of the probability ratio (below 1, and above unless clip_range_high)");
  v.Field("clip_range_high", &clip_range_high, "clip of the ratio above 1 (0: clip_range; DAPO's clip-higher uses more)");
  v.Field("kl_coef", &kl_coef, "weight of the KL penalty to the reference model (0: none)");
  v.Field("kl_target", &kl_target, "adaptive KL: the per-token KL to the reference to hold by adapting kl_coef after "
          "every iteration (0: kl_coef fixed)");
  v.Field("kl_horizon", &kl_horizon, "adaptive KL: responses over which kl_coef changes by at most 20%");
  v.Field("reward_model", &reward_model, "a trained rm run (directory or checkpoint) whose score r(x, y) is the "
          "reward instead of the env's verifier, which still gives accuracy and verifier_reward (\"\": the verifier)");
}

void LmRlConfig::Validate() const {
  common.Validate();
  RLF_CHECK_ARG(prompts_per_iteration >= 1 && prompts_per_iteration <= 65536,
                "config key 'prompts_per_iteration' must be in 1..65536, got ", prompts_per_iteration);
  RLF_CHECK_ARG(temperature > 0 && temperature <= 10, "config key 'temperature' must be in (0, 10], got ", temperature);
  RLF_CHECK_ARG(top_k >= 0, "config key 'top_k' must be >= 0, got ", top_k);
  RLF_CHECK_ARG(top_p > 0 && top_p <= 1, "config key 'top_p' must be in (0, 1], got ", top_p);
  RLF_CHECK_ARG(epochs >= 1 && epochs <= 100, "config key 'epochs' must be in 1..100, got ", epochs);
  RLF_CHECK_ARG(minibatches >= 1, "config key 'minibatches' must be >= 1, got ", minibatches);
  RLF_CHECK_ARG(clip_range > 0 && clip_range < 1, "config key 'clip_range' must be in (0, 1), got ", clip_range);
  RLF_CHECK_ARG(clip_range_high >= 0 && clip_range_high <= 10, "config key 'clip_range_high' must be in [0, 10], got ",
                clip_range_high);
  RLF_CHECK_ARG(kl_coef >= 0, "config key 'kl_coef' must be >= 0, got ", kl_coef);
  RLF_CHECK_ARG(kl_target >= 0 && std::isfinite(kl_target), "config key 'kl_target' must be >= 0, got ", kl_target);
  RLF_CHECK_ARG(kl_target == 0 || kl_coef > 0, "config key 'kl_target' adapts kl_coef by factors, so kl_coef must "
                "be > 0 (its starting value)");
  RLF_CHECK_ARG(kl_horizon >= 1, "config key 'kl_horizon' must be >= 1, got ", kl_horizon);
}

void LmRlConfig::CheckResponses(int64_t responses) const {
  // One iteration moves the adaptive coefficient by up to 20% x responses /
  // kl_horizon: a horizon shorter than an iteration could flip its sign.
  RLF_CHECK_ARG(kl_target == 0 || kl_horizon >= responses, "config key 'kl_horizon' (", kl_horizon,
                ") must be at least the responses per iteration (", responses, "): each iteration moves kl_coef by up "
                "to 20% x responses / kl_horizon");
  RLF_CHECK_ARG(responses <= 65536, responses, " responses per iteration are too many (prompts_per_iteration",
                responses > prompts_per_iteration ? " x group_size" : "", "; at most 65536)");
  RLF_CHECK_ARG(minibatches <= responses, "config key 'minibatches' (", minibatches,
                ") exceeds the responses per iteration (", responses, ")");
  RLF_CHECK_ARG(responses / minibatches <= 8192, "a minibatch of ", responses / minibatches,
                " responses is too large (at most 8192: raise 'minibatches')");
}

void GrpoConfig::Visit(FieldVisitor& v) {
  rl.Visit(v);
  v.Field("group_size", &group_size, "responses sampled per prompt (G)");
  v.Field("scale_rewards", &scale_rewards, "divide advantages by the group's reward std (false: Dr.GRPO)");
  v.Field("advantage_eps", &advantage_eps, "eps of (r - mean) / (std + eps)");
  v.Field("loss_aggregation", &loss_aggregation, "token-mean (DAPO), seq-mean (GRPO), seq-sum-norm (Dr.GRPO)");
}

void GrpoConfig::Validate() const {
  rl.Validate();
  RLF_CHECK_ARG(group_size >= 2 && group_size <= 4096, "config key 'group_size' must be in 2..4096, got ", group_size);
  rl.CheckResponses(rl.prompts_per_iteration * group_size);
  RLF_CHECK_ARG(advantage_eps > 0, "config key 'advantage_eps' must be > 0, got ", advantage_eps);
  RLF_CHECK_ARG(IsLossAggregation(loss_aggregation), "config key 'loss_aggregation' must be token-mean, seq-mean or "
                "seq-sum-norm, got '", loss_aggregation, "'");
}

void PpoLmConfig::Visit(FieldVisitor& v) {
  rl.Visit(v);
  v.Field("vf_coef", &vf_coef, "weight of the value loss");
  v.Field("ent_coef", &ent_coef, "entropy bonus");
  v.Field("gamma", &gamma, "discount over tokens");
  v.Field("gae_lambda", &gae_lambda, "GAE lambda over tokens");
  v.Field("value_trains_trunk", &value_trains_trunk, "let the value loss's gradient reach the shared transformer (false: it trains the value head alone)");
}

void PpoLmConfig::Validate() const {
  rl.Validate();
  rl.CheckResponses(rl.prompts_per_iteration);
  RLF_CHECK_ARG(vf_coef >= 0, "config key 'vf_coef' must be >= 0, got ", vf_coef);
  RLF_CHECK_ARG(ent_coef >= 0, "config key 'ent_coef' must be >= 0, got ", ent_coef);
  RLF_CHECK_ARG(gamma > 0 && gamma <= 1, "config key 'gamma' must be in (0, 1], got ", gamma);
  RLF_CHECK_ARG(gae_lambda >= 0 && gae_lambda <= 1, "config key 'gae_lambda' must be in [0, 1], got ", gae_lambda);
}

namespace {

uint32_t WeightsCrc(torch::nn::Module& m) {
  uint32_t crc = 0;
  for (const auto& p : m.named_parameters(true)) {
    crc = Crc32(p.key().data(), p.key().size(), crc);
    torch::Tensor t = p.value().contiguous();
    crc = Crc32(t.data_ptr(), static_cast<size_t>(t.numel() * t.element_size()), crc);
  }
  return crc;
}

}  // namespace

LmRlAgent::LmRlAgent(const RunContext& ctx, const LmRlConfig& config)
    : LmAgent(ctx, config.common), rl_(config), ref_(model_->config()), kl_coef_(config.kl_coef) {
  ref_.CopyFrom(model_);
  const std::string& path = rl_.reward_model;
  if (path.empty() || !ctx.load_run) return;  // no reward model, or built to act only (eval, play, export)
  std::unique_ptr<Algorithm> run;
  try {
    run = ctx.load_run(path);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(StrCat("config key 'reward_model': ", e.what()));
  } catch (const Error& e) {
    throw Error(StrCat("config key 'reward_model': ", e.what()));
  }
  auto* rm = dynamic_cast<RewardModel*>(run.get());
  RLF_CHECK_ARG(rm != nullptr, "config key 'reward_model': '", path,
                "' is not a reward model's run (train one with rlforge train --algo rm)");
  rm->CheckTrainedOn("config key 'reward_model': '" + path + "'", ctx.run.env, ctx.run.env_kwargs);
  RLF_CHECK_ARG(rm->context() >= context_, "config key 'reward_model': '", path, "' reads at most ", rm->context(),
                " tokens; ", ctx.run.env, " needs ", context_);
  reward_model_ = rm->model();  // shared: outlives `run`
  reward_model_->eval();
  for (auto& p : reward_model_->parameters()) p.set_requires_grad(false);
  reward_model_crc_ = WeightsCrc(*reward_model_);
}

void LmRlAgent::VisitState(StateVisitor& v) {
  VisitLmState(v);
  VisitModule(v, "reference", *ref_.model());
  v("tokens", &tokens_);
  v("updates", &updates_);
  v("kl_coef", &kl_coef_);
  if (!rl_.reward_model.empty()) {
    uint32_t crc = reward_model_crc_;
    v("reward_model_crc", &crc);
    // Checked when the reward model was loaded (training); an agent built
    // to act only has none to compare.
    RLF_CHECK_ARG(!reward_model_ || crc == reward_model_crc_, "config key 'reward_model': the weights of '",
                  rl_.reward_model, "' are not those this run trained with (its run was trained further since); "
                  "resume with the reward model this run started with (set reward_model in config.yaml to that "
                  "run's checkpoint file, checkpoints/step_N.pt, when it still has it)");
  }
}

torch::Tensor LmRlAgent::RewardModelScores(const std::vector<std::vector<int64_t>>& prompts,
                                           const torch::Tensor& responses) {
  RLF_CHECK_ARG(reward_model_, ctx_.algo, ": config key 'reward_model' is set but the reward model was not loaded "
                "(an agent built outside rlforge train cannot load runs)");
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> scores;
  const int64_t N = responses.size(0);
  for (int64_t start = 0; start < N; start += kLmChunk) {
    const int64_t n = std::min(kLmChunk, N - start);
    std::vector<std::vector<int64_t>> p(prompts.begin() + start, prompts.begin() + start + n);
    scores.push_back(RewardScores(reward_model_, p, responses.narrow(0, start, n)).to(torch::kFloat32));
  }
  return torch::cat(scores);
}

LmRollout LmRlAgent::Rollout(int64_t prompts, int64_t group) {
  LmRollout r = Collect(prompts, group, rl_.sampling());
  // Each response is an episode of the text env: its return is the env's
  // reward (the verifier's, with a reward model too), its length the tokens.
  for (int64_t i = 0; i < r.rewards.size(0); ++i)
    episodes_.Add(r.rewards[i].item<double>(), r.lengths[i].item<int64_t>());
  if (!rl_.reward_model.empty()) {
    verifier_reward_ = r.rewards.mean().item<double>();
    r.rewards = RewardModelScores(r.prompts, r.responses);
  }
  return r;
}

void LmRlAgent::AdaptKlCoef(double kl, int64_t responses) {
  if (rl_.kl_target > 0 && std::isfinite(kl)) kl_coef_ = AdaptiveKlCoef(kl_coef_, kl, rl_.kl_target, responses, rl_.kl_horizon);
}

void LmRlAgent::DeclareRewardModelMetrics() {
  if (!rl_.reward_model.empty()) DeclareMetrics({"verifier_reward"});
}

namespace {

// Row indices of minibatch k of a shuffled pass.
std::vector<torch::Tensor> Minibatches(int64_t n, int64_t count, torch::Generator& gen) {
  torch::Tensor perm = torch::randperm(n, gen, torch::kLong);
  return perm.chunk(count);
}


}  // namespace

Metrics LmRlAgent::Update(const LmRollout& r, const torch::Tensor& old_logp, const torch::Tensor& advantages,
                          bool values, const MinibatchLoss& loss_of) {
  const int64_t N = r.responses.size(0);
  const double high = rl_.clip_range_high > 0 ? rl_.clip_range_high : rl_.clip_range;
  const bool trunk = value_grad_to_trunk();
  double ent_sum = 0, clip_sum = 0, loss_sum = 0, norm_sum = 0, lr = 0;
  int64_t steps = 0;
  for (int64_t e = 0; e < rl_.epochs; ++e) {
    for (const torch::Tensor& idx : Minibatches(N, rl_.minibatches, gen_)) {
      torch::Tensor resp = r.responses.index_select(0, idx);
      LmSequences s = LayOut(SelectRows(r.prompts, idx), resp);
      torch::Tensor old = old_logp.index_select(0, idx);
      LmTokenStats st;
      torch::Tensor loss;
      {
        Bf16Autocast autocast(bf16());
        st = TokenStats(model_, s, resp, first_token_, values, trunk);
        st.logp = st.logp.to(torch::kFloat32);
        torch::Tensor pg = ClippedTokenLoss(st.logp, old, advantages.index_select(0, idx), s.mask, rl_.clip_range, high);
        loss = loss_of(idx, s, st, pg);
      }
      opt_->zero_grad();
      loss.backward();
      lr = LearningRate(updates_, ctx_.Progress(tokens_));
      norm_sum += OptimizerStep(lr);
      ++updates_;
      ++steps;
      torch::NoGradGuard no_grad;
      const double tokens = s.mask.sum().clamp_min(1.0).item<double>();
      ent_sum += st.entropy.sum().item<double>() / tokens;
      torch::Tensor ratio = torch::exp(st.logp - old);
      clip_sum += (((ratio < 1 - rl_.clip_range) | (ratio > 1 + high)).to(torch::kFloat32) * s.mask).sum().item<double>() / tokens;
      loss_sum += loss.item<double>();
    }
  }
  tokens_ += r.lengths.sum().item<int64_t>();
  last_update_steps_ = steps;
  Metrics m;
  m["reward"] = r.rewards.mean().item<double>();
  if (!rl_.reward_model.empty()) m["verifier_reward"] = verifier_reward_;
  m["accuracy"] = r.correct.mean().item<double>();
  if (!eval_prompts_.empty()) {
    m["eval_accuracy"] = EvalAccuracy();
    m["eval_sampled_accuracy"] = EvalAccuracy(1.0);
  }
  m["response_length"] = r.lengths.to(torch::kFloat64).mean().item<double>();
  m["entropy"] = ent_sum / steps;
  m["clip_fraction"] = clip_sum / steps;
  m["loss"] = loss_sum / steps;
  m["learning_rate"] = lr;
  m["grad_norm"] = norm_sum / steps;
  return m;
}

Grpo::Grpo(const RunContext& ctx, const GrpoConfig& config) : LmRlAgent(ctx, config.rl), config_(config) {
  DeclareMetrics({"reward", "accuracy", "eval_accuracy", "eval_sampled_accuracy", "kl", "kl_coef", "response_length", "entropy",
                  "clip_fraction", "zero_spread", "loss", "learning_rate", "grad_norm"});
  DeclareRewardModelMetrics();
}

Metrics Grpo::Iterate() {
  const int64_t G = config_.group_size;
  LmRollout r = Rollout(rl_.prompts_per_iteration, G);
  double zero_spread = 0;
  torch::Tensor adv = GroupAdvantages(r.rewards, G, config_.scale_rewards, config_.advantage_eps, &zero_spread);
  torch::Tensor old_logp = TokenStatsNoGrad(model_, r.prompts, r.responses, first_token_).logp;
  torch::Tensor ref_logp = ref_.LogProbs(r.prompts, r.responses, first_token_);
  double kl_sum = 0;
  Metrics m = Update(r, old_logp, adv, /*values=*/false,
                     [&](const torch::Tensor& idx, const LmSequences& s, const LmTokenStats& st, const torch::Tensor& pg) {
                       torch::Tensor kl = KlK3(st.logp, ref_logp.index_select(0, idx)) * s.mask;
                       {
                         torch::NoGradGuard no_grad;
                         kl_sum += kl.sum().item<double>() / s.mask.sum().clamp_min(1.0).item<double>();
                       }
                       // seq-sum-norm's constant: the longest response the context allows.
                       return AggregateTokenLoss(pg + kl_coef_ * kl, s.mask, config_.loss_aggregation,
                                                 max_response_);
                     });
  m["kl"] = kl_sum / static_cast<double>(last_update_steps_);
  m["kl_coef"] = kl_coef_;
  m["zero_spread"] = zero_spread;
  AdaptKlCoef(m["kl"], r.responses.size(0));
  return m;
}

PpoLm::PpoLm(const RunContext& ctx, const PpoLmConfig& config) : LmRlAgent(ctx, config.rl), config_(config) {
  DeclareMetrics({"reward", "accuracy", "eval_accuracy", "eval_sampled_accuracy", "kl", "kl_coef", "response_length", "entropy",
                  "clip_fraction", "value_loss", "explained_variance", "loss", "learning_rate", "grad_norm"});
  DeclareRewardModelMetrics();
}

Metrics PpoLm::Iterate() {
  LmRollout r = Rollout(rl_.prompts_per_iteration, 1);
  const int64_t N = r.responses.size(0);
  const torch::Tensor mask = (r.responses != text::kPad).to(torch::kFloat32);
  LmTokenStats old = TokenStatsNoGrad(model_, r.prompts, r.responses, first_token_, /*values=*/true);
  torch::Tensor old_logp = old.logp, values = old.values;
  torch::Tensor ref_logp = ref_.LogProbs(r.prompts, r.responses, first_token_);
  // Per-token rewards: the KL penalty everywhere, the score at the last token.
  torch::Tensor rewards = -kl_coef_ * (old_logp - ref_logp) * mask;
  torch::Tensor last = (r.lengths - 1).clamp_min(0);
  rewards.index_put_({torch::arange(N), last},
                     rewards.index({torch::arange(N), last}) + r.rewards * (r.lengths > 0).to(torch::kFloat32));
  auto [adv, returns] = TokenGae(rewards, values, mask, config_.gamma, config_.gae_lambda);
  const double count = mask.sum().clamp_min(1.0).item<double>();
  const double mean = adv.sum().item<double>() / count;
  const double var = ((adv - mean) * mask).pow(2).sum().item<double>() / count;
  adv = ((adv - mean) / std::sqrt(var + 1e-8)) * mask;
  double vloss_sum = 0;
  Metrics m = Update(r, old_logp, adv, /*values=*/true,
                     [&](const torch::Tensor& idx, const LmSequences& s, const LmTokenStats& st, const torch::Tensor& pg) {
                       torch::Tensor vloss = 0.5 * (st.values - returns.index_select(0, idx)).pow(2) * s.mask;
                       {
                         torch::NoGradGuard no_grad;
                         vloss_sum += vloss.sum().item<double>() / s.mask.sum().clamp_min(1.0).item<double>();
                       }
                       return AggregateTokenLoss(pg + config_.vf_coef * vloss - config_.ent_coef * st.entropy, s.mask,
                                                 "token-mean");
                     });
  const double ret_var = ((returns - returns.sum() / count) * mask).pow(2).sum().item<double>() / count;
  const double resid_var = ((returns - values) * mask).pow(2).sum().item<double>() / count;
  m["kl"] = ((old_logp - ref_logp) * mask).sum().item<double>() / count;
  m["kl_coef"] = kl_coef_;
  AdaptKlCoef(m["kl"], N);
  m["value_loss"] = vloss_sum / static_cast<double>(last_update_steps_);
  m["explained_variance"] = ret_var > 0 ? 1.0 - resid_var / ret_var : 0.0;
  return m;
}

}  // namespace rlforge
