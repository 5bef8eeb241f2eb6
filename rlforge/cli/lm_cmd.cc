// rlforge lm sample — answers from a trained language-model run;
// rlforge bench lm — generation and training speed of the transformer.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "rlforge/algos/lm/lm_agent.h"
#include "rlforge/algos/lm/reward_model.h"
#include "rlforge/cli/common.h"
#include "rlforge/env/registry.h"
#include "rlforge/env/text.h"
#include "rlforge/envs/text/text_task.h"
#include "rlforge/nn/blas.h"
#include "rlforge/train/runner.h"

namespace rlforge::cli {
namespace {

struct SampleArgs {
  std::string run;
  std::vector<std::string> prompts;
  int64_t n = 1;
  double temperature = 0.0, top_p = 1.0;
  int64_t top_k = 0;
  uint64_t seed = 0;
  std::string reward_model;
  bool json = false;
};

void RunSample(const SampleArgs& a) {
  // (CLI11's ranges let NaN through.)
  RLF_CHECK_ARG(a.temperature >= 0 && a.temperature <= 10, "--temperature must be in [0, 10], got ", a.temperature);
  RLF_CHECK_ARG(a.top_p > 0 && a.top_p <= 1, "--top-p must be in (0, 1], got ", a.top_p);
  RLF_CHECK_ARG(a.temperature > 0 || (a.top_k == 0 && a.top_p == 1.0),
                "--top-k and --top-p choose among sampled tokens: they need --temperature > 0 (0 is greedy)");
  for (const std::string& p : a.prompts) RLF_CHECK_ARG(!p.empty(), "--prompt is empty");
  const std::string algo = LoadRunConfig(a.run).run.algo;
  RLF_CHECK_ARG(algo == "sft" || algo == "grpo" || algo == "ppo-lm", a.run, " is a ", algo,
                " run, not a language model's (sft, grpo, ppo-lm)");
  LoadedRun run = LoadRun(a.run);
  auto* lm = dynamic_cast<LmAgent*>(run.algorithm.get());
  RLF_CHECK(lm != nullptr, a.run, ": ", algo, " is not a language-model agent");
  // --reward-model: an rm run of the same env scores each answer too.
  std::optional<LoadedRun> rm_run;
  RewardModel* rm = nullptr;
  if (!a.reward_model.empty()) {
    std::string rm_algo;
    try {
      rm_algo = LoadRunConfig(a.reward_model).run.algo;
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(StrCat("--reward-model: ", e.what()));
    }
    RLF_CHECK_ARG(rm_algo == "rm", "--reward-model: ", a.reward_model, " is a ", rm_algo, " run, not a reward model's (rm)");
    rm_run = LoadRun(a.reward_model);
    rm = dynamic_cast<RewardModel*>(rm_run->algorithm.get());
    RLF_CHECK(rm != nullptr, "--reward-model: ", a.reward_model, " is not a reward model");
    rm->CheckTrainedOn("--reward-model " + a.reward_model, run.config.run.env, run.config.run.env_kwargs);
    RLF_CHECK_ARG(rm->context() >= lm->context(), "--reward-model ", a.reward_model, " reads at most ", rm->context(),
                  " tokens; ", a.run, " writes ", lm->context());
    rm->model()->eval();
  }
  std::unique_ptr<Env> env = Make(run.config.run.env, run.config.run.env_kwargs);
  const auto* text_env = dynamic_cast<const TextEnv*>(&env->unwrapped());
  torch::Generator gen = at::detail::createCPUGenerator(a.seed);
  SamplingConfig s{a.temperature, a.top_k, a.top_p};
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& prompt : a.prompts) {
    std::vector<int64_t> tokens = {text::kBos};
    for (int64_t t : text::Encode(prompt)) tokens.push_back(t);
    int64_t room = lm->context() - static_cast<int64_t>(tokens.size());
    // The env cuts a response off after max_response characters (the <eos> after them is one more token).
    if (text_env != nullptr) room = std::min(room, text_env->max_response() + 1);
    RLF_CHECK_ARG(room >= 1, "prompt '", prompt, "' has ", tokens.size(), " tokens; the model's context is ",
                  lm->context());
    std::vector<std::vector<int64_t>> batch(a.n, tokens);
    lm->model()->eval();
    torch::Tensor resp = Generate(lm->model(), batch, room, s, gen, env->action_space().start(), text::kEos, text::kPad);
    std::optional<TextProblem> problem;
    if (text_env != nullptr) {
      try {
        problem = text_env->task().FromPrompt(prompt);
      } catch (const InvalidArgument&) {
      }
    }
    for (int64_t i = 0; i < a.n; ++i) {
      std::vector<int64_t> r(resp[i].data_ptr<int64_t>(), resp[i].data_ptr<int64_t>() + resp.size(1));
      const bool ended = std::find(r.begin(), r.end(), text::kEos) != r.end();
      const std::string answer = text::Decode(r);
      nlohmann::json j = {{"prompt", prompt}, {"response", answer}, {"ended", ended}};
      if (problem) {
        j["score"] = ended ? text_env->task().Score(*problem, answer) : text_env->task().Malformed();
        // A prompt no answer solves (a countdown target its numbers cannot reach) has no reference.
        j["reference"] = problem->answer.empty() ? nlohmann::json() : nlohmann::json(problem->answer);
      }
      if (rm != nullptr) {
        torch::NoGradGuard no_grad;
        j["rm_score"] = RewardScores(rm->model(), {tokens}, resp.narrow(0, i, 1)).item<double>();
      }
      if (a.json) {
        out.push_back(j);
      } else {
        std::cout << prompt << answer << (ended ? "" : " (no <eos>)");
        if (problem)
          std::cout << "   score " << j["score"].get<double>()
                    << (problem->answer.empty() ? " (no reference answer: none is right)"
                                                : " (reference " + problem->answer + ")");
        if (rm != nullptr) std::cout << "   rm score " << j["rm_score"].get<double>();
        std::cout << "\n";
      }
    }
  }
  if (a.json) std::cout << out.dump(2) << "\n";
}

struct BenchLmArgs {
  int64_t d_model = 128, n_layers = 2, n_heads = 4, batch = 64, prompt = 8, new_tokens = 24, threads = 1;
  double seconds = 1.0;
  std::string precision = "fp32";
  bool json = false;
};

template <typename F>
double TimeIt(double seconds, F&& f) {
  int64_t rounds = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double secs = 0;
  while (secs < seconds || rounds < 2) {
    f();
    ++rounds;
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return secs / static_cast<double>(rounds);
}

void RunBenchLm(const BenchLmArgs& a) {
  SetComputeThreads(static_cast<int>(a.threads));
  TransformerConfig c;
  c.context = a.prompt + a.new_tokens;
  c.d_model = a.d_model;
  c.n_layers = a.n_layers;
  c.n_heads = a.n_heads;
  RLF_CHECK_ARG(a.seconds >= 0.01 && a.seconds <= 600, "--seconds must be in [0.01, 600], got ", a.seconds);
  RLF_CHECK_ARG(a.n_heads >= 1 && a.d_model % a.n_heads == 0, "--d-model (", a.d_model,
                ") must be a positive multiple of --n-heads (", a.n_heads, ")");
  RLF_CHECK_ARG(c.NumParameters() <= 100'000'000, "--d-model/--n-layers: a transformer of ", c.NumParameters(),
                " parameters is more than the 1e8 the LM agents take");
  torch::manual_seed(0);
  TransformerLM model(c);
  model->eval();
  std::vector<std::vector<int64_t>> prompts(a.batch, std::vector<int64_t>(a.prompt, 5));
  for (int64_t i = 0; i < a.batch; ++i) prompts[i][0] = text::kBos;
  SamplingConfig s;  // temperature 1: every row runs to new_tokens unless it samples <eos>
  // Only printable tokens, so that no row stops early and both runs generate
  // exactly batch x new_tokens tokens: stop token -1 never matches.
  auto generate = [&](bool cache) {
    torch::Generator g = at::detail::createCPUGenerator(1);
    return Generate(model, prompts, a.new_tokens, s, g, 3, -1, text::kPad, cache);
  };
  const int64_t generated = a.batch * a.new_tokens;
  const double t_cache = TimeIt(a.seconds, [&] { generate(true); });
  const double t_full = TimeIt(a.seconds, [&] { generate(false); });
  // Training: forward + backward + AdamW on [batch, context] sequences.
  model->train();
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-4));
  torch::Tensor tokens = torch::randint(3, text::kVocabSize, {a.batch, c.context}, torch::kLong);
  torch::Tensor positions = torch::arange(c.context, torch::kLong).unsqueeze(0).expand({a.batch, c.context});
  torch::Tensor valid = torch::ones({a.batch, c.context}, torch::kBool);
  const double t_train = TimeIt(a.seconds, [&] {
    opt.zero_grad();
    torch::Tensor loss;
    {
      Bf16Autocast autocast(a.precision == "bf16");
      torch::Tensor h = model->Hidden(tokens.narrow(1, 0, c.context - 1), positions.narrow(1, 0, c.context - 1),
                                      valid.narrow(1, 0, c.context - 1));
      loss = torch::nn::functional::cross_entropy(model->Logits(h).reshape({-1, c.vocab_size}),
                                                  tokens.narrow(1, 1, c.context - 1).reshape(-1));
    }
    loss.backward();
    opt.step();
  });
  const double train_tokens = static_cast<double>(a.batch * (c.context - 1));
  // FLOPs of a training step: 6 per parameter-token for the matrix products
  // (forward 2, backward 4), plus attention's QK^T and AV (6 x 2 T^2 d per layer).
  const double params = static_cast<double>(c.NumParameters());
  const double T = static_cast<double>(c.context - 1);
  const double flops = 6.0 * params * train_tokens + 6.0 * 2.0 * T * T * c.d_model * c.n_layers * a.batch;
  // The ceiling: torch::mm at the step's largest products (tokens x d x 3d for
  // QKV, tokens x d x 4d for the MLP, tokens x d x vocab for the head).
  torch::Tensor x = torch::randn({a.batch * (c.context - 1), c.d_model});
  torch::Tensor w1 = torch::randn({c.d_model, 4 * c.d_model});
  if (a.precision == "bf16") {  // the ceiling of bf16 training: bf16 products
    x = x.to(torch::kBFloat16);
    w1 = w1.to(torch::kBFloat16);
  }
  const double t_mm = TimeIt(0.5, [&] { torch::mm(x, w1); });
  const double mm_gflops = 2.0 * x.size(0) * c.d_model * 4 * c.d_model / t_mm / 1e9;
  nlohmann::json j = {{"parameters", c.NumParameters()},
                      {"batch", a.batch},
                      {"prompt_tokens", a.prompt},
                      {"new_tokens", a.new_tokens},
                      {"torch_threads", a.threads},
                      {"precision", a.precision},
                      {"generate_tokens_per_second_kv_cache", generated / t_cache},
                      {"generate_tokens_per_second_recompute", generated / t_full},
                      {"kv_cache_speedup", t_full / t_cache},
                      {"train_tokens_per_second", train_tokens / t_train},
                      {"train_gflops", flops / t_train / 1e9},
                      {"raw_mm_gflops", mm_gflops}};
  if (a.json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("transformer: %lld parameters (d_model %lld, %lld layers, %lld heads), batch %lld, %lld prompt + %lld new tokens, %lld torch thread(s)\n",
              static_cast<long long>(c.NumParameters()), static_cast<long long>(a.d_model),
              static_cast<long long>(a.n_layers), static_cast<long long>(a.n_heads), static_cast<long long>(a.batch),
              static_cast<long long>(a.prompt), static_cast<long long>(a.new_tokens), static_cast<long long>(a.threads));
  std::printf("  generation, KV cache   %10.0f tokens/s\n", generated / t_cache);
  const double speedup = t_full / t_cache;
  std::printf("  generation, recompute  %10.0f tokens/s   (the cache is %.2fx %s)\n", generated / t_full,
              speedup >= 1 ? speedup : 1 / speedup, speedup >= 1 ? "faster" : "slower");
  std::printf("  training (%s)         %10.0f tokens/s   %.2f GFLOP/s; raw %s torch::mm at [%lld x %lld] x [%lld x %lld]: %.2f GFLOP/s (%.0f%%)\n",
              a.precision.c_str(), train_tokens / t_train, flops / t_train / 1e9, a.precision.c_str(),
              static_cast<long long>(x.size(0)),
              static_cast<long long>(c.d_model), static_cast<long long>(c.d_model), static_cast<long long>(4 * c.d_model),
              mm_gflops, 100.0 * flops / t_train / 1e9 / mm_gflops);
}

}  // namespace

void AddLmCommand(CLI::App& app) {
  auto* lm = app.add_subcommand("lm", "Language-model runs (sft, grpo, ppo-lm on the text envs): sample answers");
  lm->require_subcommand(1);
  auto a = std::make_shared<SampleArgs>();
  auto* sample = lm->add_subcommand("sample", "Answer prompts with a trained run's transformer (and score them with the env's verifier)");
  sample->add_option("run", a->run, "Run directory or checkpoint")->required();
  sample->add_option("--prompt", a->prompts, "Prompt text, e.g. '123+456=' (repeatable)")->required();
  sample->add_option("--n", a->n, "Responses per prompt")->transform(IntegerFor(a->n))->check(CLI::Range(1, 4096))->capture_default_str();
  sample->add_option("--temperature", a->temperature, "Sampling temperature (0: greedy)")->check(CLI::Range(0.0, 10.0))->capture_default_str();
  sample->add_option("--top-k", a->top_k, "Sample among the k likeliest tokens (0: all)")->transform(IntegerFor(a->top_k))->check(CLI::Range(int64_t{0}, int64_t{1000}))->capture_default_str();
  sample->add_option("--top-p", a->top_p, "Nucleus sampling mass (1: all)")->check(CLI::Range(1e-6, 1.0))->capture_default_str();
  sample->add_option("--seed", a->seed, "Sampling seed")->transform(IntegerFor(a->seed))->capture_default_str();
  sample->add_option("--reward-model", a->reward_model, "An rm run of the same env: print its score r(x, y) of each answer too");
  sample->add_flag("--json", a->json, "Print JSON");
  sample->callback([a] { RunSample(*a); });
}

void AddBenchLmCommand(CLI::App& bench) {
  auto a = std::make_shared<BenchLmArgs>();
  auto* cmd = bench.add_subcommand("lm", "Transformer tokens/s: generation with and without the KV cache, and training");
  cmd->add_option("--d-model", a->d_model, "Width")->transform(IntegerFor(a->d_model))->check(CLI::Range(int64_t{4}, int64_t{4096}))->capture_default_str();
  cmd->add_option("--n-layers", a->n_layers, "Blocks")->transform(IntegerFor(a->n_layers))->check(CLI::Range(int64_t{1}, int64_t{64}))->capture_default_str();
  cmd->add_option("--n-heads", a->n_heads, "Attention heads")->transform(IntegerFor(a->n_heads))->check(CLI::Range(int64_t{1}, int64_t{64}))->capture_default_str();
  cmd->add_option("--batch", a->batch, "Sequences per batch")->transform(IntegerFor(a->batch))->check(CLI::Range(int64_t{1}, int64_t{4096}))->capture_default_str();
  cmd->add_option("--prompt-tokens", a->prompt, "Prompt length")->transform(IntegerFor(a->prompt))->check(CLI::Range(int64_t{1}, int64_t{2048}))->capture_default_str();
  cmd->add_option("--new-tokens", a->new_tokens, "Tokens generated per sequence")->transform(IntegerFor(a->new_tokens))->check(CLI::Range(int64_t{1}, int64_t{2048}))->capture_default_str();
  cmd->add_option("--threads", a->threads, "libtorch threads")->transform(IntegerFor(a->threads))->check(CLI::Range(int64_t{1}, int64_t{256}))->capture_default_str();
  cmd->add_option("--seconds", a->seconds, "Time each measurement for at least this long")->check(CLI::Range(0.01, 600.0))->capture_default_str();
  cmd->add_option("--precision", a->precision, "Training precision: fp32, or bf16 (CPU autocast)")->check(CLI::IsMember({"fp32", "bf16"}))->capture_default_str();
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a] { RunBenchLm(*a); });
}

}  // namespace rlforge::cli
