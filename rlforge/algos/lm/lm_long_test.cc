// The targets of docs/lm.md (ctest label long: make test-long): for three
// seeds, SFT on noisy demonstrations and then GRPO and PPO-LM from it, with
// the presets (configs/sft.yaml, grpo.yaml, ppo-lm.yaml); and GRPO from a
// learned reward model (configs/rm.yaml).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "rlforge/algos/lm/lm_agent.h"
#include "rlforge/train/runner.h"
#include "rlforge/train/testing.h"

namespace rlforge {
namespace {

using testing_util::FreshDir;
using testing_util::Quiet;

struct Accuracy {
  double greedy = 0, sampled = 0;  // the agent's 256 evaluation prompts
  double env_success = 0;          // eval.json: the runner's greedy episodes in the env
  double kl = 0;                   // last progress row (RL runs)
};

double LastColumn(const std::string& dir, const std::string& column) {
  std::ifstream csv(dir + "/progress.csv");
  std::string header, line, last;
  std::getline(csv, header);
  while (std::getline(csv, line))
    if (!line.empty()) last = line;
  std::vector<std::string> names, cells;
  std::stringstream h(header), l(last);
  for (std::string c; std::getline(h, c, ',');) names.push_back(c);
  for (std::string c; std::getline(l, c, ',');) cells.push_back(c);
  for (size_t i = 0; i < names.size() && i < cells.size(); ++i)
    if (names[i] == column && !cells[i].empty()) return std::stod(cells[i]);
  return 0;
}

// A finished run's figures.
Accuracy Measure(const std::string& dir) {
  LoadedRun run = LoadRun(dir);
  auto& lm = dynamic_cast<LmAgent&>(*run.algorithm);
  Accuracy a{lm.EvalAccuracy(0.0), lm.EvalAccuracy(1.0), 0, LastColumn(dir, "kl")};
  std::ifstream eval(dir + "/eval.json");
  a.env_success = nlohmann::json::parse(eval).at("success_rate").get<double>();
  return a;
}

// SFT then each RL agent from it; returns {sft, grpo, ppo-lm} and the seconds of SFT + the slower RL run.
std::vector<Accuracy> Pipeline(const std::string& env, int64_t seed, double* seconds) {
  const std::string tag = env + "_" + std::to_string(seed);
  const std::string sft = FreshDir("lm_long", "sft_" + tag);
  auto t0 = std::chrono::steady_clock::now();
  Train(TrainConfig::Resolve("sft", env, "", {}, std::nullopt, seed), sft, Quiet());
  const double t_sft = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<Accuracy> out = {Measure(sft)};
  double t_rl = 0;
  for (const char* algo : {"grpo", "ppo-lm"}) {
    const std::string dir = FreshDir("lm_long", std::string(algo) + "_" + tag);
    t0 = std::chrono::steady_clock::now();
    Train(TrainConfig::Resolve(algo, env, "", {"init_from=" + sft}, std::nullopt, seed), dir, Quiet());
    t_rl = std::max(t_rl, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    out.push_back(Measure(dir));
  }
  *seconds = t_sft + t_rl;
  const char* names[3] = {"sft", "grpo", "ppo-lm"};
  for (int k = 0; k < 3; ++k)
    std::printf("%s seed %lld %-6s greedy %.3f sampled %.3f env-success %.3f kl %.4f\n", env.c_str(),
                static_cast<long long>(seed), names[k], out[k].greedy, out[k].sampled, out[k].env_success, out[k].kl);
  std::printf("%s seed %lld: SFT %.0f s + slower RL run = %.0f s\n", env.c_str(), static_cast<long long>(seed), t_sft,
              *seconds);
  std::fflush(stdout);
  return out;
}

// 3-digit addition from demonstrations half of which are wrong: RL raises
// the held-out exact match of the policy's own (temperature-1) answers by at
// least 20 points on average over the seeds (12 at worst), without losing
// greedy accuracy; SFT + RL take under 20 minutes.
TEST(LmLong, AdditionRlRaisesSampledAccuracy) {
  double gain[2] = {0, 0};
  for (int64_t seed = 0; seed < 3; ++seed) {
    double seconds = 0;
    const std::vector<Accuracy> a = Pipeline("TextAddition-v0", seed, &seconds);
    EXPECT_LT(seconds, 1200.0);
    for (int k = 1; k <= 2; ++k) {
      const double g = a[k].sampled - a[0].sampled;
      EXPECT_GE(g, 0.12) << "seed " << seed << (k == 1 ? " grpo" : " ppo-lm");
      EXPECT_GE(a[k].greedy, a[0].greedy - 0.03) << "seed " << seed << (k == 1 ? " grpo" : " ppo-lm");
      gain[k - 1] += g / 3.0;
    }
  }
  EXPECT_GE(gain[0], 0.20) << "grpo";
  EXPECT_GE(gain[1], 0.20) << "ppo-lm";
}

// TowerDefense-v0 stage 1 as a text task: the RL-tuned model's sampled plans
// win more often than the SFT model's (each plan played by the env).
TEST(LmLong, TowerDefensePlansWinMoreOftenAfterRl) {
  for (int64_t seed = 0; seed < 3; ++seed) {
    double seconds = 0;
    const std::vector<Accuracy> a = Pipeline("TextTowerDefense-v0", seed, &seconds);
    EXPECT_GE(a[1].sampled, a[0].sampled + 0.15) << "seed " << seed << " grpo";
    EXPECT_GE(a[2].sampled, a[0].sampled + 0.15) << "seed " << seed << " ppo-lm";
    EXPECT_GE(a[1].greedy, a[0].greedy) << "seed " << seed << " grpo";
  }
}

// RL from a learned reward model on 5-digit sorting (docs/lm.md): the
// reward model tells right answers from swapped ones perfectly on held-out
// pairs, yet GRPO with the preset's fixed KL weight exploits it (its answers
// end less often right than the SFT model's); with the adaptive KL
// controller the same run raises sampled accuracy by at least 20 points and
// keeps greedy accuracy. Measured: fixed 0.066 / 0.004 / 0.000, adaptive
// 0.824 / 0.750 / 0.824 from SFT 0.488 / 0.465 / 0.473 (sampled).
TEST(LmLong, RewardModelIsExploitedWithoutAnAdaptiveLeash) {
  const std::string env = "TextSort-v0";
  for (int64_t seed = 0; seed < 3; ++seed) {
    const std::string tag = std::to_string(seed);
    const std::string sft = FreshDir("lm_long", "rm_sft_" + tag), rm = FreshDir("lm_long", "rm_" + tag);
    Train(TrainConfig::Resolve("sft", env, "", {}, std::nullopt, seed), sft, Quiet());
    Train(TrainConfig::Resolve("rm", env, "", {}, std::nullopt, seed), rm, Quiet());
    const double holdout = LastColumn(rm, "holdout_accuracy");
    Accuracy runs[2];
    for (int adaptive = 0; adaptive < 2; ++adaptive) {
      std::vector<std::string> sets = {"init_from=" + sft, "reward_model=" + rm};
      if (adaptive) sets.insert(sets.end(), {"kl_coef=0.05", "kl_target=0.05", "kl_horizon=500"});
      const std::string dir = FreshDir("lm_long", std::string(adaptive ? "rm_akl_" : "rm_fixed_") + tag);
      Train(TrainConfig::Resolve("grpo", env, "", sets, std::nullopt, seed), dir, Quiet());
      runs[adaptive] = Measure(dir);
    }
    const Accuracy base = Measure(sft);
    std::printf("%s seed %lld: rm held-out %.3f; sampled/greedy SFT %.3f/%.3f, grpo+rm fixed %.3f/%.3f (kl %.2f), "
                "adaptive %.3f/%.3f (kl %.3f)\n",
                env.c_str(), static_cast<long long>(seed), holdout, base.sampled, base.greedy, runs[0].sampled,
                runs[0].greedy, runs[0].kl, runs[1].sampled, runs[1].greedy, runs[1].kl);
    std::fflush(stdout);
    EXPECT_GE(holdout, 0.99) << "seed " << seed;
    EXPECT_LT(runs[0].sampled, base.sampled) << "seed " << seed << ": the fixed leash held";
    EXPECT_GE(runs[1].sampled, base.sampled + 0.2) << "seed " << seed;
    EXPECT_GE(runs[1].greedy, 0.85) << "seed " << seed;
  }
}

}  // namespace
}  // namespace rlforge
