#include "rlforge/algos/lm/lm_agent.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <cmath>

#include "rlforge/algos/off_policy.h"
#include "rlforge/env/registry.h"
#include "rlforge/env/text.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void LmModelConfig::Visit(FieldVisitor& v) {
  v.Field("d_model", &d_model, "transformer width");
  v.Field("n_layers", &n_layers, "transformer blocks");
  v.Field("n_heads", &n_heads, "attention heads (divides d_model)");
  v.Field("d_ff", &d_ff, "MLP width of each block (0: 4 d_model)");
}

void LmModelConfig::Validate() const {
  RLF_CHECK_ARG(d_model >= 4 && d_model <= 4096, "config key 'd_model' must be in 4..4096, got ", d_model);
  RLF_CHECK_ARG(n_layers >= 1 && n_layers <= 64, "config key 'n_layers' must be in 1..64, got ", n_layers);
  RLF_CHECK_ARG(n_heads >= 1 && d_model % n_heads == 0, "config key 'n_heads' must divide d_model (", d_model,
                "), got ", n_heads);
  RLF_CHECK_ARG(d_ff >= 0 && d_ff <= 65536, "config key 'd_ff' must be in 0..65536, got ", d_ff);
  // Weights, gradients and AdamW's two moments: 16 bytes a parameter.
  TransformerConfig c;
  c.d_model = d_model;
  c.n_layers = n_layers;
  c.n_heads = n_heads;
  c.d_ff = d_ff;
  c.context = 512;
  const int64_t params = c.NumParameters();
  RLF_CHECK_ARG(params <= 100'000'000, "config keys d_model, n_layers, d_ff: a transformer of ", params,
                " parameters (", params * 16 / (1 << 20), " MiB of weights, gradients and optimizer state) is more "
                "than the 1e8 these agents take");
}

void LmCommonConfig::Visit(FieldVisitor& v) {
  model.Visit(v);
  v.Field("learning_rate", &learning_rate, "AdamW's peak learning rate");
  v.Field("weight_decay", &weight_decay, "AdamW's decoupled weight decay");
  v.Field("warmup_updates", &warmup_updates, "updates of linear learning-rate warm-up");
  v.Field("min_lr_fraction", &min_lr_fraction, "cosine decay ends at this fraction of the peak learning rate (1: constant)");
  v.Field("max_grad_norm", &max_grad_norm, "global gradient-norm clip");
  v.Field("precision", &precision, "fp32, or bf16: training forward and backward passes under CPU autocast to bfloat16");
  v.Field("eval_prompts", &eval_prompts, "held-out prompts answered after every iteration: greedily (eval_accuracy) and sampled at temperature 1 (eval_sampled_accuracy); 0: none");
}

void LmCommonConfig::Validate() const {
  model.Validate();
  RLF_CHECK_ARG(learning_rate > 0 && learning_rate < 1, "config key 'learning_rate' must be in (0, 1), got ", learning_rate);
  RLF_CHECK_ARG(weight_decay >= 0 && weight_decay < 1, "config key 'weight_decay' must be in [0, 1), got ", weight_decay);
  RLF_CHECK_ARG(warmup_updates >= 0, "config key 'warmup_updates' must be >= 0, got ", warmup_updates);
  RLF_CHECK_ARG(min_lr_fraction >= 0 && min_lr_fraction <= 1, "config key 'min_lr_fraction' must be in [0, 1], got ",
                min_lr_fraction);
  RLF_CHECK_ARG(max_grad_norm > 0, "config key 'max_grad_norm' must be > 0, got ", max_grad_norm);
  RLF_CHECK_ARG(precision == "fp32" || precision == "bf16", "config key 'precision' must be fp32 or bf16, got '",
                precision, "'");
  RLF_CHECK_ARG(eval_prompts >= 0 && eval_prompts <= 100000, "config key 'eval_prompts' must be in 0..100000, got ",
                eval_prompts);
}

// libtorch 2.4 moved CPU autocast to device-generic calls.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define RLF_AUTOCAST_GENERIC 1
#endif

Bf16Autocast::Bf16Autocast(bool on) : on_(on) {
  if (!on_) return;
#ifdef RLF_AUTOCAST_GENERIC
  previous_ = at::autocast::is_autocast_enabled(at::kCPU);
  at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCPU, true);
#else
  previous_ = at::autocast::is_cpu_enabled();
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
#endif
}

Bf16Autocast::~Bf16Autocast() {
  if (!on_) return;
#ifdef RLF_AUTOCAST_GENERIC
  at::autocast::set_autocast_enabled(at::kCPU, previous_);
#else
  at::autocast::set_cpu_enabled(previous_);
#endif
  at::autocast::clear_cache();
}

LmSequences LayOut(const std::vector<std::vector<int64_t>>& prompts, const torch::Tensor& responses) {
  PaddedBatch p = LeftPad(prompts, text::kPad);
  const int64_t N = responses.size(0), R = responses.size(1);
  LmSequences s;
  s.prompt_width = p.tokens.size(1);
  torch::Tensor real = responses != text::kPad;
  torch::Tensor start = p.positions.select(1, s.prompt_width - 1).unsqueeze(1) + 1;  // [N, 1]
  s.tokens = torch::cat({p.tokens, responses}, 1);
  s.positions = torch::cat({p.positions, start + torch::arange(R, torch::kLong).unsqueeze(0).expand({N, R})}, 1);
  s.valid = torch::cat({p.valid, real}, 1);
  s.mask = real.to(torch::kFloat32);
  return s;
}

LmTokenStats TokenStats(TransformerLM& model, const LmSequences& s, const torch::Tensor& responses,
                        int64_t first_token, bool values, bool value_grad_to_trunk) {
  const int64_t R = responses.size(1);
  // Response tokens are read at the columns before them; the last response
  // column predicts nothing.
  torch::Tensor h = model->Hidden(s.tokens.narrow(1, 0, s.prompt_width + R - 1),
                                  s.positions.narrow(1, 0, s.prompt_width + R - 1),
                                  s.valid.narrow(1, 0, s.prompt_width + R - 1))
                        .narrow(1, s.prompt_width - 1, R);
  torch::Tensor logp_all = torch::log_softmax(ActionLogits(model->Logits(h), first_token), -1);
  torch::Tensor index = (responses - first_token).clamp_min(0).unsqueeze(-1);
  LmTokenStats out;
  out.logp = logp_all.gather(-1, index).squeeze(-1) * s.mask;
  out.entropy = -(logp_all.exp() * logp_all).sum(-1) * s.mask;
  if (values) out.values = model->Values(value_grad_to_trunk ? h : h.detach()) * s.mask;
  return out;
}

LmTokenStats TokenStatsNoGrad(TransformerLM& model, const std::vector<std::vector<int64_t>>& prompts,
                              const torch::Tensor& responses, int64_t first_token, bool values, int64_t chunk) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> logp, entropy, value;
  const int64_t N = responses.size(0);
  for (int64_t start = 0; start < N; start += chunk) {
    const int64_t n = std::min(chunk, N - start);
    std::vector<std::vector<int64_t>> p(prompts.begin() + start, prompts.begin() + start + n);
    torch::Tensor r = responses.narrow(0, start, n);
    LmTokenStats st = TokenStats(model, LayOut(p, r), r, first_token, values);
    logp.push_back(st.logp);
    entropy.push_back(st.entropy);
    if (values) value.push_back(st.values);
  }
  LmTokenStats out;
  out.logp = torch::cat(logp);
  out.entropy = torch::cat(entropy);
  if (values) out.values = torch::cat(value);
  return out;
}

std::vector<std::vector<int64_t>> SelectRows(const std::vector<std::vector<int64_t>>& rows, const torch::Tensor& idx) {
  std::vector<std::vector<int64_t>> out;
  out.reserve(static_cast<size_t>(idx.size(0)));
  auto a = idx.accessor<int64_t, 1>();
  for (int64_t i = 0; i < idx.size(0); ++i) out.push_back(rows[a[i]]);
  return out;
}

LmEpisode PlayEpisode(Env& env, Policy& policy, uint64_t seed) {
  const int64_t context = env.observation_space().shape()[0];
  std::vector<int64_t> obs(context);
  Info info;
  env.Reset(seed, obs.data(), &info);
  LmEpisode e;
  e.prompt = text::Prefix(obs.data(), context);
  for (;;) {
    int64_t a = 0;
    policy.Act(obs.data(), nullptr, 1, &a);
    e.response.push_back(a);
    StepResult r = env.Step(&a, obs.data());
    e.ret += r.reward;
    if (r.done()) {
      e.success = r.info.Get("is_success").value_or(0) == 1.0;
      return e;
    }
  }
}

namespace {

// Greedy or sampled next tokens for observation rows (full recompute: the
// runner's evaluations, `rlforge eval` and `play`).
class LmPolicy : public Policy {
 public:
  LmPolicy(TransformerLM model, int64_t context, int64_t first_token, bool deterministic, uint64_t seed)
      : model_(std::move(model)), context_(context), first_token_(first_token), deterministic_(deterministic) {
    gen_ = at::detail::createCPUGenerator(seed);
  }
  void Act(const void* observations, const uint8_t*, int n, void* actions) override {
    torch::NoGradGuard no_grad;
    const auto* obs = static_cast<const int64_t*>(observations);
    // Tokens outside the vocabulary would index past the embedding table.
    const int64_t vocab = model_->config().vocab_size;
    for (int64_t i = 0; i < n * context_; ++i)
      RLF_CHECK_ARG(obs[i] >= 0 && obs[i] < vocab, "observation ", i / context_, ", position ", i % context_,
                    ": token ", obs[i], " is outside the vocabulary 0..", vocab - 1);
    std::vector<int64_t> len(n);
    int64_t width = 1;
    for (int i = 0; i < n; ++i) width = std::max(width, len[i] = std::max<int64_t>(1, text::Length(obs + i * context_, context_)));
    torch::Tensor tokens = torch::from_blob(const_cast<int64_t*>(obs), {n, context_}, torch::kLong).narrow(1, 0, width).clone();
    torch::Tensor positions = torch::arange(width, torch::kLong).unsqueeze(0).expand({n, width});
    torch::Tensor h = model_->Hidden(tokens, positions, tokens != text::kPad);
    torch::Tensor last = torch::from_blob(len.data(), {n}, torch::kLong).clone() - 1;
    torch::Tensor logits = ActionLogits(model_->Logits(h.index({torch::arange(n), last})), first_token_);
    SamplingConfig s;
    if (deterministic_) s.temperature = 0;
    torch::Tensor a = SampleLogits(logits, s, gen_) + first_token_;
    std::memcpy(actions, a.contiguous().data_ptr<int64_t>(), sizeof(int64_t) * n);
  }
  std::string name() const override { return "transformer"; }

 private:
  TransformerLM model_;
  int64_t context_, first_token_;
  bool deterministic_;
  torch::Generator gen_;
};

constexpr uint64_t kEvalStream = 0x5EEDE7A1ull;

}  // namespace

LmAgent::LmAgent(const RunContext& ctx, const LmCommonConfig& common)
    : Algorithm(ctx), common_(common), env_(ctx.MakeEnv()) {
  const Space& obs = env_->observation_space();
  const Space& act = env_->action_space();
  RLF_CHECK_ARG(obs.kind() == SpaceKind::kBox && obs.dtype() == DType::kInt64 && obs.shape().size() == 1 &&
                    act.kind() == SpaceKind::kDiscrete && act.start() + act.n() <= text::kVocabSize &&
                    env_->num_players() == 1,
                ctx.algo, " trains language models on text envs (int64 token observations, Discrete token actions: "
                "TextAddition-v0, TextSort-v0, ...); ", env_->name(), " is not one");
  // Answers are scored by stepping copies of the env (Score): one that
  // cannot be copied (a Python env) failed at the first evaluation.
  try {
    env_->Clone();
  } catch (const Error& e) {
    throw InvalidArgument(StrCat(ctx.algo, " scores answers by stepping copies of the env, and ", e.what(),
                                 " (a text env for the LM agents is written in C++: docs/architecture.md)"));
  }
  context_ = obs.shape()[0];
  first_token_ = act.start();
  max_response_ = context_ - 2;
  TransformerConfig tc;
  tc.vocab_size = text::kVocabSize;
  tc.context = context_;
  tc.d_model = common.model.d_model;
  tc.n_layers = common.model.n_layers;
  tc.n_heads = common.model.n_heads;
  tc.d_ff = common.model.d_ff;
  torch::manual_seed(static_cast<uint64_t>(ctx.run.seed));
  model_ = TransformerLM(tc);
  opt_ = std::make_unique<torch::optim::AdamW>(
      model_->parameters(), torch::optim::AdamWOptions(common.learning_rate).weight_decay(common.weight_decay));
  gen_ = at::detail::createCPUGenerator(static_cast<uint64_t>(ctx.run.seed) * 7919 + 17);
  prompt_rng_.Seed(static_cast<uint64_t>(ctx.run.seed));
  Rng eval_rng(static_cast<uint64_t>(ctx.run.seed) ^ kEvalStream);
  for (int64_t i = 0; i < common.eval_prompts; ++i) {
    eval_seeds_.push_back(eval_rng.Next());
    eval_prompts_.push_back(PromptOf(eval_seeds_.back()));
  }
}

std::vector<int64_t> LmAgent::PromptOf(uint64_t seed) const {
  std::vector<int64_t> obs(context_);
  Info info;
  env_->Reset(seed, obs.data(), &info);
  return text::Prefix(obs.data(), context_);
}

torch::Tensor LmAgent::GenerateAll(const std::vector<std::vector<int64_t>>& prompts, const SamplingConfig& sampling,
                                   torch::Generator& gen) {
  model_->eval();
  std::vector<torch::Tensor> chunks;
  int64_t longest = 0;
  for (size_t start = 0; start < prompts.size(); start += kLmChunk) {
    const size_t end = std::min(prompts.size(), start + static_cast<size_t>(kLmChunk));
    std::vector<std::vector<int64_t>> p(prompts.begin() + start, prompts.begin() + end);
    int64_t width = 0;
    for (const auto& q : p) width = std::max<int64_t>(width, static_cast<int64_t>(q.size()));
    chunks.push_back(Generate(model_, p, context_ - width, sampling, gen, first_token_, text::kEos, text::kPad));
    longest = std::max(longest, chunks.back().size(1));
  }
  model_->train();
  for (auto& c : chunks)  // to one width
    c = torch::constant_pad_nd(c, {0, longest - c.size(1)}, text::kPad);
  return torch::cat(chunks);
}

void LmAgent::Score(const std::vector<uint64_t>& seeds, int64_t group, const torch::Tensor& responses,
                    torch::Tensor* rewards, torch::Tensor* correct) const {
  const int64_t N = responses.size(0), R = responses.size(1);
  *rewards = torch::zeros({N}, torch::kFloat32);
  *correct = torch::zeros({N}, torch::kFloat32);
  auto resp = responses.accessor<int64_t, 2>();
  std::vector<int64_t> obs(context_);
  Info info;
  for (size_t i = 0; i < seeds.size(); ++i) {
    env_->Reset(seeds[i], obs.data(), &info);
    for (int64_t g = 0; g < group; ++g) {
      const int64_t row = static_cast<int64_t>(i) * group + g;
      std::unique_ptr<Env> copy = env_->Clone();
      double ret = 0;
      bool success = false;
      int64_t j = 0;
      for (; j < R && resp[row][j] != text::kPad; ++j) {
        StepResult r = copy->Step(&resp[row][j], obs.data());
        ret += r.reward;
        if (r.done()) {
          success = r.info.Get("is_success").value_or(0) == 1.0;
          ++j;
          break;
        }
      }
      for (int64_t k = j; k < R; ++k) resp[row][k] = text::kPad;  // past the env's end: not part of the response
      (*rewards)[row] = ret;
      (*correct)[row] = success ? 1.0f : 0.0f;
    }
  }
}

LmRollout LmAgent::Collect(int64_t prompts, int64_t group, const SamplingConfig& sampling) {
  std::vector<uint64_t> seeds;
  LmRollout r;
  for (int64_t i = 0; i < prompts; ++i) {
    seeds.push_back(prompt_rng_.Next());
    std::vector<int64_t> p = PromptOf(seeds.back());
    for (int64_t g = 0; g < group; ++g) r.prompts.push_back(p);
  }
  r.responses = GenerateAll(r.prompts, sampling, gen_);
  Score(seeds, group, r.responses, &r.rewards, &r.correct);
  r.lengths = (r.responses != text::kPad).sum(1);
  return r;
}

double LmAgent::EvalAccuracy(double temperature) {
  if (eval_prompts_.empty()) return 0;
  SamplingConfig sampling;
  sampling.temperature = temperature;
  torch::Generator gen = at::detail::createCPUGenerator(static_cast<uint64_t>(ctx_.run.seed) ^ kEvalStream);
  torch::Tensor rewards, correct;
  Score(eval_seeds_, 1, GenerateAll(eval_prompts_, sampling, gen), &rewards, &correct);
  return correct.mean().item<double>();
}

void LmAgent::CheckTrainedOn(const std::string& what, const std::string& id, const Kwargs& kwargs) const {
  RLF_CHECK_ARG(ctx_.run.env == id && SameEnvKwargs(id, ctx_.run.env_kwargs, kwargs), what, " was trained on ",
                DescribeEnv(ctx_.run.env, ctx_.run.env_kwargs), ", not on ", DescribeEnv(id, kwargs));
}

runtime::Model LmAgent::ExportModel() {
  throw InvalidArgument(ctx_.algo + ": exporting or serving a transformer language model is not supported yet (the runtime "
                        "and the TorchScript/ONNX writers take MLP and CNN policies)" +
                        (acts() ? "; sample it with rlforge lm sample" : ""));
}

std::unique_ptr<Policy> LmAgent::MakePolicy(bool deterministic) {
  TransformerLM copy(model_->config());
  PolyakUpdate(*model_, *copy, 1.0);  // tau 1: a copy
  copy->eval();
  return std::make_unique<LmPolicy>(copy, context_, first_token_, deterministic,
                                    static_cast<uint64_t>(ctx_.run.seed) + 4242);
}

double LmAgent::LearningRate(int64_t u, double progress) const {
  const double peak = common_.learning_rate;
  if (u < common_.warmup_updates) return peak * static_cast<double>(u + 1) / static_cast<double>(common_.warmup_updates + 1);
  progress = std::clamp(progress, 0.0, 1.0);
  const double floor = peak * common_.min_lr_fraction;
  return floor + (peak - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

double LmAgent::OptimizerStep(double lr) {
  const double norm = torch::nn::utils::clip_grad_norm_(model_->parameters(), common_.max_grad_norm);
  for (auto& group : opt_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  opt_->step();
  return norm;
}

void LmAgent::VisitLmState(StateVisitor& v) {
  // n_heads changes no tensor's shape: a checkpoint loaded into a model with
  // other heads would load without complaint and compute something else.
  const TransformerConfig& c = model_->config();
  const int64_t d_ff = c.d_ff > 0 ? c.d_ff : 4 * c.d_model;  // 0 means 4 d_model
  std::vector<int64_t> shape = {c.d_model, c.n_layers, c.n_heads, d_ff, c.context}, saved = shape;
  v("model_shape", &saved);
  if (saved.size() == 5 && saved[3] == 0) saved[3] = 4 * saved[0];  // d_ff as configured (0: 4 d_model)
  RLF_CHECK(saved == shape, ctx_.algo, " checkpoint: its transformer has (d_model, n_layers, n_heads, d_ff, context) = (",
            Join(saved, ", "), "); this config has (", Join(shape, ", "), ")");
  VisitModule(v, "model", *model_);
  VisitOptimizer(v, "optimizer", *opt_);
  VisitGenerator(v, "sampling_generator", &gen_);
  v("prompt_rng", &prompt_rng_);
}

void LmReference::CopyFrom(TransformerLM& model) {
  PolyakUpdate(*model, *model_, 1.0);  // tau 1: a copy
  for (auto& p : model_->parameters()) p.set_requires_grad(false);
}

torch::Tensor LmReference::LogProbs(const std::vector<std::vector<int64_t>>& prompts, const torch::Tensor& responses,
                                    int64_t first_token) {
  return TokenStatsNoGrad(model_, prompts, responses, first_token).logp;
}

}  // namespace rlforge
