// The conformance suite: every registered env (and the main kwarg variants)
// must pass CheckEnv — spaces, observations in bounds, determinism under a
// seed, errors on step-after-end and invalid actions, clone/restore, render.
// Envs added by later issues are picked up from the registry automatically.
#include <gtest/gtest.h>

#include "rlforge/env/env_checker.h"
#include "rlforge/env/registry.h"
#include "rlforge/env/wrappers.h"

namespace rlforge {
namespace {

struct Case {
  std::string id;
  Kwargs kwargs;
};
// Keeps gtest from dumping the bytes of a Case in test names and logs.
void PrintTo(const Case& c, std::ostream* os) { *os << c.id << " " << c.kwargs.ToString(); }

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const auto& id : Registry::Global().Ids()) cases.push_back({id, {}});
  cases.push_back({"FrozenLake-v1", {{"is_slippery", "false"}}});
  cases.push_back({"FrozenLake-v1", {{"map_name", "random"}, {"map_size", "6"}, {"map_seed", "4"}}});
  cases.push_back({"FrozenLake-v1", {{"success_rate", "0.8"}, {"reward_schedule", "1,-1,-0.01"}}});
  cases.push_back({"Taxi-v4", {{"is_rainy", "true"}}});
  cases.push_back({"Taxi-v4", {{"is_rainy", "true"}, {"fickle_passenger", "true"}, {"fickle_probability", "1"}}});
  cases.push_back({"CartPole-v1", {{"sutton_barto_reward", "true"}, {"max_episode_steps", "50"}}});
  cases.push_back({"Blackjack-v1", {{"natural", "true"}, {"sab", "true"}}});
  for (const char* stage : {"2", "3", "4", "0"}) cases.push_back({"TowerDefense-v0", {{"stage", stage}}});
  cases.push_back({"TowerDefense-v0", {{"flat_actions", "true"}, {"stage", "4"}}});
  cases.push_back({"TowerDefense-v0", {{"obs_mode", "pixels"}}});
  cases.push_back({"TowerDefense-v0", {{"stage", "0"}, {"procedural_seed", "3"}, {"procedural_difficulty", "1"}}});
  return cases;
}

class ConformanceTest : public testing::TestWithParam<Case> {};

TEST_P(ConformanceTest, PassesTheEnvChecker) {
  auto env = Make(GetParam().id, GetParam().kwargs);
  const auto problems = CheckEnv(*env);
  EXPECT_TRUE(problems.empty()) << GetParam().id << ":\n  " << Join(problems, "\n  ");
}

TEST_P(ConformanceTest, WrappedStackStillPasses) {
  auto env = std::make_unique<RecordEpisodeStatistics>(Make(GetParam().id, GetParam().kwargs));
  CheckOptions opt;
  opt.check_rgb = false;
  opt.seed = 3;
  const auto problems = CheckEnv(*env, opt);
  EXPECT_TRUE(problems.empty()) << GetParam().id << ":\n  " << Join(problems, "\n  ");
}

TEST_P(ConformanceTest, ClonesAreIndependent) {
  auto env = Make(GetParam().id, GetParam().kwargs);
  std::vector<uint8_t> obs(env->observation_space().nbytes()), act(env->action_space().nbytes());
  env->Reset(1, obs.data());
  auto clone = env->Clone();
  // Stepping the clone must not move the original.
  Rng rng(0);
  env->action_space().Sample(rng, act.data());
  clone->Step(act.data(), obs.data());
  auto fresh = Make(GetParam().id, GetParam().kwargs);
  std::vector<uint8_t> a(obs.size()), b(obs.size());
  fresh->Reset(1, a.data());
  env->Step(act.data(), b.data());
  fresh->Step(act.data(), a.data());
  EXPECT_EQ(a, b);
}

std::string CaseName(const testing::TestParamInfo<Case>& info) {
  std::string name = info.param.id + (info.param.kwargs.empty() ? "" : "_" + std::to_string(info.index));
  for (char& c : name)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(AllEnvs, ConformanceTest, testing::ValuesIn(AllCases()), CaseName);

}  // namespace
}  // namespace rlforge
