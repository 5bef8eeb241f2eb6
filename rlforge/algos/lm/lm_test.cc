#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "rlforge/algos/lm/grpo.h"
#include "rlforge/algos/lm/lm_losses.h"
#include "rlforge/algos/lm/reward_model.h"
#include "rlforge/algos/lm/sft.h"
#include "rlforge/data/dataset.h"
#include "rlforge/env/registry.h"
#include "rlforge/env/text.h"
#include "rlforge/train/runner.h"
#include "rlforge/train/testing.h"

namespace rlforge {
namespace {

RunContext TextContext(const std::string& algo, const std::string& env = "TextAddition-v0", int64_t steps = 100) {
  RunContext ctx;
  ctx.algo = algo;
  ctx.run.env = env;
  ctx.run.total_steps = steps;
  ctx.run.seed = 1;
  return ctx;
}

LmCommonConfig Tiny() {
  LmCommonConfig c;
  c.model.d_model = 32;
  c.model.n_layers = 1;
  c.model.n_heads = 2;
  c.eval_prompts = 16;
  return c;
}

// The log-probabilities training uses are those generation samples from: for
// greedy responses, the generated token is the argmax of the training
// forward pass at every response position, and its log-prob equals the one
// generation computed, whatever the padding of the batch.
TEST(LmAgent, TrainingLogProbsMatchGeneration) {
  SftConfig c;
  c.common = Tiny();
  Sft sft(TextContext("sft"), c);
  TransformerLM& m = sft.model();
  torch::NoGradGuard no_grad;
  std::vector<std::vector<int64_t>> prompts = {{1, 20, 21, 14, 22, 32}, {1, 19, 14, 19, 32}, {1, 25, 26, 27, 14, 28, 29, 30, 32}};
  torch::Generator g = at::detail::createCPUGenerator(0);
  SamplingConfig greedy;
  greedy.temperature = 0;
  torch::Tensor resp = Generate(m, prompts, 6, greedy, g, text::kFirstAction, text::kEos, text::kPad);
  LmSequences s = LayOut(prompts, resp);
  LmTokenStats st = TokenStats(m, s, resp, text::kFirstAction);
  // Recompute each row alone, step by step, from full forward passes.
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int64_t> seq = prompts[i];
    for (int64_t j = 0; j < resp.size(1) && resp[i][j].item<int64_t>() != text::kPad; ++j) {
      PaddedBatch p = LeftPad({seq}, text::kPad);
      torch::Tensor logits = ActionLogits(m->Logits(m->Hidden(p.tokens, p.positions, p.valid)[0][-1]), text::kFirstAction);
      torch::Tensor logp = torch::log_softmax(logits, -1);
      const int64_t tok = resp[i][j].item<int64_t>();
      EXPECT_EQ(logits.argmax().item<int64_t>() + text::kFirstAction, tok) << i << "," << j;
      EXPECT_NEAR(logp[tok - text::kFirstAction].item<double>(), st.logp[i][j].item<double>(), 1e-5) << i << "," << j;
      seq.push_back(tok);
    }
  }
  // Padding (left of short prompts, right of short responses) gets no log-prob.
  EXPECT_TRUE(((st.logp != 0) == (resp != text::kPad)).all().item<bool>());
}

using testing_util::FreshDir;
using testing_util::Quiet;

const std::vector<std::string> kTinySets = {"d_model=16", "n_layers=1", "n_heads=2", "eval_prompts=8",
                                            "eval_episodes=2", "checkpoint_interval=0"};

// `a` with the settings of `b` (a key in both takes b's value: a key given
// twice is refused).
std::vector<std::string> With(std::vector<std::string> a, const std::vector<std::string>& b) {
  for (const std::string& s : b) {
    const std::string key = s.substr(0, s.find('=') + 1);
    a.erase(std::remove_if(a.begin(), a.end(), [&](const std::string& x) { return x.rfind(key, 0) == 0; }), a.end());
    a.push_back(s);
  }
  return a;
}

// A small SFT run on TextSort-v0 (3 digits) that RL agents start from: right
// about half the time, so that groups of responses differ in reward.
std::string SortSftRun() {
  static const std::string dir = [] {
    const std::string out = FreshDir("lm", "sort_sft_start");
    Train(TrainConfig::Resolve("sft", "TextSort-v0", "",
                               {"env_kwargs={length: 3}", "d_model=32", "n_layers=1", "n_heads=2", "batch_size=32",
                                "demonstrations=2000", "updates_per_iteration=200", "eval_prompts=0", "eval_episodes=0",
                                "checkpoint_interval=0"},
                               600, 0),
          out, Quiet());
    return out;
  }();
  return dir;
}

// Stopped halfway and resumed, a run ends with the unbroken run's weights
// (model, reference, optimizer, sampling generator and prompt stream all
// come back), and the weights did move.
class LmResumeTest : public ::testing::TestWithParam<const char*> {};

TEST_P(LmResumeTest, ResumedRunEndsWithTheUnbrokenRunsWeights) {
  const std::string algo = GetParam();
  std::vector<std::string> sets = {"eval_prompts=8", "eval_episodes=2", "checkpoint_interval=0"};
  int64_t half = 0;
  if (algo == "sft") {
    sets = With(sets, {"d_model=16", "n_layers=1", "n_heads=2", "demonstrations=64", "batch_size=8",
                       "updates_per_iteration=5"});
    half = 10;
  } else {
    sets = With(sets, {"env_kwargs={length: 3}", "d_model=32", "n_layers=1", "n_heads=2", "init_from=" + SortSftRun(),
                       "prompts_per_iteration=8", "epochs=2", "minibatches=2", "learning_rate=1e-3",
                       "kl_target=0.001", "kl_horizon=40"});  // the adapted kl_coef comes back too
    if (algo == "grpo") sets.push_back("group_size=4");
    half = 300;
  }
  const std::string a = FreshDir("lm", algo + "_full"), b = FreshDir("lm", algo + "_half");
  const TrainResult full = Train(TrainConfig::Resolve(algo, "TextSort-v0", "", sets, 2 * half, 3), a, Quiet());
  const TrainResult part = Train(TrainConfig::Resolve(algo, "TextSort-v0", "", sets, half, 3), b, Quiet());
  ASSERT_LT(part.timesteps, full.timesteps);
  Resume(b, 2 * half, Quiet());
  LoadedRun ra = LoadRun(a), rb = LoadRun(b);
  EXPECT_EQ(ra.algorithm->num_timesteps(), rb.algorithm->num_timesteps());
  const auto pa = ra.algorithm->network()->parameters(), pb = rb.algorithm->network()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << algo << " parameter " << i;
  if (algo != "sft") {
    LoadedRun start = LoadRun(SortSftRun());
    const auto p0 = start.algorithm->network()->parameters();
    bool moved = false;
    for (size_t i = 0; i < pa.size(); ++i) moved = moved || !torch::equal(pa[i], p0[i]);
    EXPECT_TRUE(moved) << algo << " never changed the SFT weights";
  }
}

INSTANTIATE_TEST_SUITE_P(Agents, LmResumeTest, ::testing::Values("sft", "grpo", "ppo-lm"),
                         [](const auto& info) { return std::string(info.param) == "ppo-lm" ? "ppo_lm" : info.param; });

// `--init-from` an SFT run: the RL agent's policy and its frozen reference are
// the SFT weights, so the first iteration's KL to the reference is 0.
TEST(LmWarmStart, GrpoStartsFromTheSftModelAndLeashesToIt) {
  const std::string sft = FreshDir("lm", "ws_sft");
  Train(TrainConfig::Resolve("sft", "TextSort-v0", "", With(kTinySets, {"demonstrations=64", "batch_size=8",
                                                                         "updates_per_iteration=10"}), 20, 0),
        sft, Quiet());
  TrainConfig c = TrainConfig::Resolve("grpo", "TextSort-v0", "", With(kTinySets, {"prompts_per_iteration=4"}), 1000, 1);
  auto algo = MakeAlgorithm(c.Context(), *c.algo);
  WarmStart(*algo, sft, false);
  auto& grpo = dynamic_cast<Grpo&>(*algo);
  LoadedRun src = LoadRun(sft);
  const auto a = grpo.model()->parameters(), b = src.algorithm->network()->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
  const auto ref = grpo.reference()->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(ref[i], b[i])) << i;
  EXPECT_LT(grpo.Iterate().at("kl"), 1e-7);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(ref[i], b[i])) << i;  // frozen
}

// With kl_target, each iteration's kl_coef is the last one's moved by the
// adaptive controller's step from the last KL; without, it stays kl_coef.
TEST(LmAdaptiveKl, CoefficientFollowsTheController) {
  for (const std::string algo : {"grpo", "ppo-lm"}) {
    SCOPED_TRACE(algo);
    for (const bool adaptive : {true, false}) {
      std::vector<std::string> sets = {"env_kwargs={length: 3}", "d_model=32", "n_layers=1", "n_heads=2",
                                       "prompts_per_iteration=8", "eval_prompts=0", "learning_rate=1e-3",
                                       "kl_coef=0.05"};
      if (adaptive) sets = With(sets, {"kl_target=0.001", "kl_horizon=50"});
      if (algo == "grpo") sets.push_back("group_size=4");
      TrainConfig c = TrainConfig::Resolve(algo, "TextSort-v0", "", sets, 100000, 0);
      auto agent = MakeAlgorithm(c.Context(), *c.algo);
      WarmStart(*agent, SortSftRun(), false);
      const int64_t n = algo == "grpo" ? 32 : 8;
      Metrics prev = agent->Iterate();
      EXPECT_DOUBLE_EQ(prev.at("kl_coef"), 0.05);
      for (int i = 0; i < 4; ++i) {
        const Metrics m = agent->Iterate();
        const double want = adaptive ? AdaptiveKlCoef(prev.at("kl_coef"), prev.at("kl"), 0.001, n, 50) : 0.05;
        EXPECT_NEAR(m.at("kl_coef"), want, 1e-12) << i;
        prev = m;
      }
      if (adaptive) {
        EXPECT_NE(prev.at("kl_coef"), 0.05);
      }
    }
  }
}

// SFT learns to sort three digits from the solver's demonstrations, recorded
// as a dataset (`rlforge record`'s format) and read back: held-out greedy
// exact match >= 0.9 after 1200 updates of a 1-layer, 32-wide model.
TEST(Sft, LearnsToSortFromARecordedDataset) {
  const std::string data = FreshDir("lm", "sort_dataset");
  std::filesystem::remove_all(data);
  VectorEnvOptions o;
  o.num_envs = 4;
  const Kwargs kw({{"length", "3"}});
  auto envs = VectorEnv::Make("TextSort-v0", kw, o);
  auto probe = Make("TextSort-v0", kw);
  auto solver = Registry::Global().MakeScriptedPolicy("solver", "TextSort-v0", *probe, 0);
  DatasetInfo info;
  info.env_id = "TextSort-v0";
  info.env_kwargs = kw;
  WriteDataset(RecordDataset(*envs, *solver, {2000, 1, 0.0}, info), data);
  const std::string out = FreshDir("lm", "sort_sft");
  TrainConfig c = TrainConfig::Resolve("sft", "TextSort-v0", "",
                                       {"env_kwargs={length: 3}", "demo_dataset=" + data, "d_model=32", "n_layers=1",
                                        "n_heads=2", "batch_size=32", "updates_per_iteration=400", "eval_prompts=256",
                                        "eval_episodes=100"},
                                       1200, 0);
  auto algo = MakeAlgorithm(c.Context(), *c.algo);
  auto& sft = dynamic_cast<Sft&>(*algo);
  Metrics m;
  while (sft.num_timesteps() < 1200) m = sft.Iterate();
  EXPECT_EQ(sft.num_demonstrations(), 2000);
  EXPECT_EQ(m.at("demo_accuracy"), 1.0);
  EXPECT_GE(m.at("eval_accuracy"), 0.9);
  // Without --env the run takes the dataset's env and kwargs.
  TrainConfig from_data = TrainConfig::Resolve("sft", "", "", {"demo_dataset=" + data}, 10, 0);
  EXPECT_EQ(from_data.run.env, "TextSort-v0");
  EXPECT_EQ(from_data.run.env_kwargs.GetInt("length", 0), 3);
  // A dataset of another env is refused by name.
  TrainConfig wrong = TrainConfig::Resolve("sft", "TextAddition-v0", "", {"demo_dataset=" + data}, 10, 0);
  auto other = MakeAlgorithm(wrong.Context(), *wrong.algo);
  EXPECT_THROW(other->Iterate(), InvalidArgument);
}

// -mean log sigmoid(c - r) for margins 2 and 0: (log(1 + e^-2) + log 2) / 2.
TEST(RewardModel, BradleyTerryWorkedExample) {
  const double loss = BradleyTerryLoss(torch::tensor({2.0, 0.5}), torch::tensor({0.0, 0.5})).item<double>();
  EXPECT_NEAR(loss, (std::log1p(std::exp(-2.0)) + std::log(2.0)) / 2.0, 1e-6);
}

// A reward model learns which of two answers to a sorting prompt is right
// (the solver's, or the same list with two neighbours swapped): held-out
// pairwise accuracy >= 0.9, from 0.5 at chance.
TEST(RewardModel, RanksRightAnswersAboveMistakes) {
  TrainConfig c = TrainConfig::Resolve("rm", "TextSort-v0", "",
                                       {"env_kwargs={length: 3}", "d_model=32", "n_layers=1", "n_heads=2", "pairs=2000",
                                        "updates_per_iteration=300", "learning_rate=2e-3"},
                                       600, 0);
  auto algo = MakeAlgorithm(c.Context(), *c.algo);
  auto& rm = dynamic_cast<RewardModel&>(*algo);
  const double before = rm.HoldoutAccuracy();
  Metrics m;
  while (rm.num_timesteps() < 600) m = rm.Iterate();
  EXPECT_GT(rm.num_pairs(), 1500);  // lists of equal digits give no pair
  EXPECT_LT(before, 0.7);
  EXPECT_GE(m.at("holdout_accuracy"), 0.9) << "train accuracy " << m.at("accuracy");
}

// A small reward model for TextSort-v0 (3 digits): the solver's answers
// against one swapped pair, trained through the runner as `rlforge train
// --algo rm` does.
std::string SortRewardModelRun() {
  static const std::string dir = [] {
    const std::string out = FreshDir("lm", "sort_rm");
    Train(TrainConfig::Resolve("rm", "TextSort-v0", "",
                               {"env_kwargs={length: 3}", "d_model=32", "n_layers=1", "n_heads=2", "pairs=2000",
                                "updates_per_iteration=300", "learning_rate=2e-3", "checkpoint_interval=0"},
                               600, 0),
          out, Quiet());
    return out;
  }();
  return dir;
}

// The RL agents with reward_model: a rollout's rewards are exactly the reward
// model's scores r(x, y) of its responses (not the verifier's 0/1), the
// verifier still gives accuracy and verifier_reward, and the reward model is
// frozen.
// Each sampled response is an episode of the text env: progress.csv's
// episodes, ep_return_mean and ep_length_mean (they were 0 and empty).
TEST(LmEpisodes, EveryResponseIsAnEpisode) {
  for (const char* algo : {"grpo", "ppo-lm"}) {
    TrainConfig c = TrainConfig::Resolve(algo, "TextAddition-v0", "", {"prompts_per_iteration=8", "eval_prompts=0"},
                                         2000, 0);
    auto agent = MakeAlgorithm(c.Context(), *c.algo);
    const Metrics m = agent->Iterate();
    std::vector<double> returns;
    std::vector<int64_t> lengths;
    agent->TakeFinishedEpisodes(&returns, &lengths);
    ASSERT_EQ(returns.size(), std::string(algo) == "grpo" ? 8u * 8u : 8u) << algo;  // grpo: group_size 8
    double r = 0, l = 0;
    for (size_t i = 0; i < returns.size(); ++i) r += returns[i], l += static_cast<double>(lengths[i]);
    EXPECT_NEAR(r / returns.size(), m.at("reward"), 1e-6) << algo;
    EXPECT_NEAR(l / lengths.size(), m.at("response_length"), 1e-6) << algo;
  }
}

TEST(RewardModel, GrpoAndPpoLmAreRewardedByItsScores) {
  const std::string rm_dir = SortRewardModelRun();
  LoadedRun rm = LoadRun(rm_dir);
  TransformerLM rm_model = dynamic_cast<RewardModel&>(*rm.algorithm).model();
  for (const std::string algo : {"grpo", "ppo-lm"}) {
    SCOPED_TRACE(algo);
    TrainConfig c = TrainConfig::Resolve(algo, "TextSort-v0", "",
                                         {"env_kwargs={length: 3}", "d_model=32", "n_layers=1", "n_heads=2",
                                          "init_from=" + SortSftRun(), "prompts_per_iteration=16", "eval_prompts=0",
                                          "reward_model=" + rm_dir},
                                         2000, 0);
    auto algo_ptr = BuildAlgorithm(c);  // as rlforge train: the reward model loads
    auto& agent = dynamic_cast<LmRlAgent&>(*algo_ptr);
    WarmStart(agent, SortSftRun(), false);
    EXPECT_EQ(agent.metric_names().back(), "verifier_reward");
    LmRollout r = agent.Rollout(16, 2);
    torch::Tensor expected;
    {
      torch::NoGradGuard no_grad;
      expected = RewardScores(rm_model, r.prompts, r.responses);
    }
    ASSERT_EQ(r.rewards.sizes(), expected.sizes());
    EXPECT_TRUE(torch::allclose(r.rewards, expected, 1e-6, 1e-6));
    // Scores, not the verifier's {0, 1}: right answers score higher on average.
    EXPECT_GT(((r.rewards != 0) & (r.rewards != 1)).sum().item<int64_t>(), 0);
    torch::Tensor right = r.correct > 0.5;
    ASSERT_GT(right.sum().item<int64_t>(), 0);
    ASSERT_LT(right.sum().item<int64_t>(), right.numel());
    EXPECT_GT(r.rewards.index({right}).mean().item<double>(), r.rewards.index({~right}).mean().item<double>());
    const Metrics m = agent.Iterate();
    EXPECT_TRUE(m.count("verifier_reward"));
    EXPECT_GE(m.at("verifier_reward"), 0.0);
    EXPECT_LE(m.at("verifier_reward"), 1.0);
    // Frozen: no gradients, and the weights it was loaded with after an update.
    const auto loaded = rm_model->parameters(), used = agent.reward_model()->parameters();
    ASSERT_EQ(loaded.size(), used.size());
    for (size_t i = 0; i < used.size(); ++i) {
      EXPECT_FALSE(used[i].requires_grad());
      EXPECT_TRUE(torch::equal(used[i], loaded[i])) << i;
    }
  }
  // Built to act only (eval, play, export: no loader), the agent acts but
  // cannot be trained with the reward model.
  TrainConfig c = TrainConfig::Resolve("grpo", "TextSort-v0", "",
                                       {"env_kwargs={length: 3}", "d_model=32", "n_layers=1", "n_heads=2",
                                        "prompts_per_iteration=4", "eval_prompts=0", "reward_model=" + rm_dir},
                                       100, 0);
  auto bare = BuildAlgorithm(c, {}, /*training=*/false);
  EXPECT_NE(bare->MakePolicy(true), nullptr);
  EXPECT_THROW(bare->Iterate(), InvalidArgument);
}

// rejected_policy may name a language model's run, whose sampled answers
// are then the rejected ones where the env finds them wrong (a policy's own
// samples labelled, as RLHF collects preferences); entries alternate.
TEST(RewardModel, PairsFromALanguageModelsOwnSamples) {
  auto rm_with = [](const std::string& rejected, int64_t pairs) {
    TrainConfig c = TrainConfig::Resolve("rm", "TextSort-v0", "",
                                         {"env_kwargs={length: 3}", "d_model=32", "n_layers=1", "n_heads=2",
                                          "pairs=" + std::to_string(pairs), "rejected_policy=" + rejected},
                                         10, 0);
    return BuildAlgorithm(c);
  };
  // The SFT run is right about half the time: about half of its samples make a pair.
  auto from_sft = rm_with(SortSftRun(), 400);
  const int64_t sft_pairs = dynamic_cast<RewardModel&>(*from_sft).num_pairs();
  EXPECT_GT(sft_pairs, 80);
  EXPECT_LT(sft_pairs, 360);
  // noisy:1 is always wrong (save lists of one digit), so alternating adds about 200 more.
  auto mixed = rm_with("noisy:1," + SortSftRun(), 800);
  const int64_t mixed_pairs = dynamic_cast<RewardModel&>(*mixed).num_pairs();
  EXPECT_GT(mixed_pairs, sft_pairs + 150);
  // Not a language model, or another env: refused by name.
  try {
    rm_with(SortRewardModelRun(), 10);
    ADD_FAILURE() << "a reward model's run wrote rejected answers";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("not a language model's run"), std::string::npos) << e.what();
  }
  TrainConfig other = TrainConfig::Resolve("rm", "TextAddition-v0", "", {"rejected_policy=" + SortSftRun()}, 10, 0);
  EXPECT_THROW(BuildAlgorithm(other), InvalidArgument);
}

// A reward_model that is missing, not a reward model, or learned another env
// is refused by name before the run directory is made.
TEST(RewardModel, OneThatDoesNotFitIsRefusedByName) {
  auto expect_error = [](const std::string& env, const std::string& rm, const std::string& needle) {
    const std::string out = FreshDir("lm", "rm_refused");
    std::filesystem::remove_all(out);
    try {
      Train(TrainConfig::Resolve("grpo", env, "", {"d_model=32", "n_layers=1", "n_heads=2", "reward_model=" + rm}, 100,
                                 0),
            out, Quiet());
      ADD_FAILURE() << "no error for " << needle;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("reward_model"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(out));
  };
  expect_error("TextSort-v0", "/nonexistent/rm_run", "/nonexistent/rm_run");
  expect_error("TextSort-v0", SortSftRun(), "not a reward model");
  expect_error("TextAddition-v0", SortRewardModelRun(), "was trained on TextSort-v0");
  expect_error("TextSort-v0", SortRewardModelRun(), "was trained on TextSort-v0");  // length 3, not 5
}

// Stopped and resumed, a grpo run with a reward model ends with the unbroken
// run's weights; resuming it after the reward model's own run was trained
// further (other weights) is refused by name.
TEST(RewardModel, ResumeIsExactAndRefusesAnotherRewardModel) {
  const std::string rm_dir = FreshDir("lm", "resume_rm");
  const std::vector<std::string> rm_sets = {"env_kwargs={length: 3}", "d_model=32", "n_layers=1", "n_heads=2",
                                            "pairs=200", "updates_per_iteration=20", "checkpoint_interval=0"};
  Train(TrainConfig::Resolve("rm", "TextSort-v0", "", rm_sets, 20, 0), rm_dir, Quiet());
  const std::vector<std::string> sets = {"env_kwargs={length: 3}", "d_model=32", "n_layers=1", "n_heads=2",
                                         "init_from=" + SortSftRun(), "prompts_per_iteration=8", "group_size=4",
                                         "eval_prompts=4", "eval_episodes=2", "checkpoint_interval=0",
                                         "learning_rate=1e-3", "reward_model=" + rm_dir};
  const std::string a = FreshDir("lm", "rm_grpo_full"), b = FreshDir("lm", "rm_grpo_half");
  Train(TrainConfig::Resolve("grpo", "TextSort-v0", "", sets, 600, 3), a, Quiet());
  const TrainResult part = Train(TrainConfig::Resolve("grpo", "TextSort-v0", "", sets, 300, 3), b, Quiet());
  ASSERT_LT(part.timesteps, 600);
  Resume(b, 600, Quiet());
  LoadedRun ra = LoadRun(a), rb = LoadRun(b);
  const auto pa = ra.algorithm->network()->parameters(), pb = rb.algorithm->network()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
  std::ifstream csv(a + "/progress.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_NE(header.find(",verifier_reward"), std::string::npos) << header;
  Resume(rm_dir, 40, Quiet());  // the reward model's weights change
  try {
    Resume(b, 900, Quiet());
    ADD_FAILURE() << "resumed with another reward model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reward_model"), std::string::npos) << e.what();
  }
}

// A reward model is no policy: MakePolicy refuses by name, and its runs end
// without evaluation episodes whatever eval_episodes says.
TEST(RewardModel, IsNoPolicy) {
  const std::string dir = FreshDir("lm", "rm_no_policy");
  const TrainResult r = Train(TrainConfig::Resolve("rm", "TextCountdown-v0", "",
                                                   {"d_model=16", "n_layers=1", "n_heads=2", "pairs=100",
                                                    "updates_per_iteration=5", "eval_episodes=5"},
                                                   5, 0),
                              dir, Quiet());
  EXPECT_EQ(r.eval.episodes, 0);
  LoadedRun run = LoadRun(dir);
  EXPECT_FALSE(run.algorithm->acts());
  try {
    run.algorithm->MakePolicy(true);
    ADD_FAILURE() << "a reward model made a policy";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("reward_model"), std::string::npos) << e.what();
  }
}

// A checkpoint loads only into a transformer of its own shape, n_heads
// included (which changes no tensor's shape).
TEST(LmAgent, CheckpointRefusesAnotherHeadCount) {
  const std::string dir = FreshDir("lm", "heads");
  Train(TrainConfig::Resolve("sft", "TextSort-v0", "", With(kTinySets, {"demonstrations=16", "batch_size=8",
                                                                         "updates_per_iteration=2", "eval_episodes=0"}),
                             2, 0),
        dir, Quiet());
  std::ifstream in(dir + "/config.yaml");
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  const size_t at = yaml.find("n_heads: 2");
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at, 10, "n_heads: 4");
  std::ofstream(dir + "/config.yaml") << yaml;
  try {
    LoadRun(dir);
    ADD_FAILURE() << "loaded a 2-head checkpoint into 4 heads";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("its transformer has (d_model, n_layers, n_heads, d_ff, context) = (16, 1, 2, "
                                         "64,"),
              std::string::npos)
        << e.what();
  }
  // d_ff 0 means 4 d_model: the same transformer as d_ff 64 at d_model 16.
  yaml.replace(at, 10, "n_heads: 2");
  const size_t ff = yaml.find("d_ff: 0");
  ASSERT_NE(ff, std::string::npos);
  yaml.replace(ff, 7, "d_ff: 64");
  std::ofstream(dir + "/config.yaml") << yaml;
  EXPECT_NO_THROW(LoadRun(dir));
}

// precision: bf16 runs the training passes' matrix products in bfloat16
// (autocast, restored afterwards) and learns as fp32 does: the same seeded
// SFT run's mean loss over its first 60 updates within 3%.
TEST(Sft, Bf16AutocastTrainsLikeFp32) {
  torch::Tensor a = torch::randn({4, 4}), b = torch::randn({4, 4});
  {
    Bf16Autocast on(true);
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat32);
  double loss[2];
  for (int k = 0; k < 2; ++k) {
    TrainConfig c = TrainConfig::Resolve("sft", "TextSort-v0", "",
                                         {"d_model=32", "n_layers=1", "n_heads=2", "demonstrations=500", "batch_size=32",
                                          "updates_per_iteration=60", "eval_prompts=0",
                                          std::string("precision=") + (k ? "bf16" : "fp32")},
                                         60, 0);
    auto algo = MakeAlgorithm(c.Context(), *c.algo);
    loss[k] = algo->Iterate().at("loss");
  }
  EXPECT_NE(loss[1], loss[0]) << "precision=bf16 changed nothing";
  EXPECT_NEAR(loss[1], loss[0], 0.03 * loss[0]) << "fp32 " << loss[0] << " bf16 " << loss[1];
}

// Bad settings are refused by name before anything runs.
TEST(LmConfig, ClearErrors) {
  auto expect_error = [](const std::string& algo, const std::string& env, const std::vector<std::string>& sets,
                         const std::string& needle) {
    try {
      TrainConfig c = TrainConfig::Resolve(algo, env, "", sets, 100, 0);
      MakeAlgorithm(c.Context(), *c.algo);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("grpo", "CartPole-v1", {}, "is not one");
  expect_error("grpo", "TextSort-v0", {"group_size=1"}, "group_size");
  expect_error("grpo", "TextSort-v0", {"loss_aggregation=sum"}, "loss_aggregation");
  expect_error("sft", "TextSort-v0", {"n_heads=3"}, "n_heads");
  expect_error("sft", "TextSort-v0", {"demo_policy=heuristic"}, "heuristic");
  expect_error("grpo", "TextSort-v0", {"kl_target=0.1", "kl_coef=0"}, "kl_coef must be > 0");
  expect_error("ppo-lm", "TextSort-v0", {"kl_horizon=0"}, "kl_horizon");
  // A horizon shorter than an iteration's responses (256) could flip kl_coef's sign.
  expect_error("grpo", "TextSort-v0", {"kl_target=0.1", "kl_horizon=100"}, "at least the responses per iteration");
  expect_error("rm", "TextSort-v0", {"rejected_policy="}, "names no policy");
  // A name that is neither listed every scripted policy of every env.
  expect_error("rm", "TextSort-v0", {"rejected_policy=bogus"},
               "config key 'rejected_policy': 'bogus' is neither a scripted policy nor a run directory (a path "
               "holding '/'); valid for TextSort-v0: random, random-legal, solver, noisy:P, DIR");
  expect_error("rm", "TextSort-v0", {"rejected_policy=noisy:1,"}, "an empty entry");
}

}  // namespace
}  // namespace rlforge
