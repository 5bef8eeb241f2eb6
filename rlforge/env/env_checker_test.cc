#include "rlforge/env/env_checker.h"

#include <gtest/gtest.h>

#include "rlforge/env/registry.h"

namespace rlforge {
namespace {

// A user env that breaks the contract on purpose: observations leave the
// space, it ignores seeds (uses a global counter), never refuses a step after
// the end, and Clone() forgets the state.
int g_counter = 0;

class BrokenEnv : public Env {
 public:
  BrokenEnv() : obs_(Space::Box(0, 1, {1})), act_(Space::Discrete(2)) {}
  const Space& observation_space() const override { return obs_; }
  const Space& action_space() const override { return act_; }
  std::string name() const override { return "Broken-v0"; }
  void Reset(std::optional<uint64_t>, void* obs, Info* info) override {
    t_ = 0;
    *static_cast<float*>(obs) = 0.5f;
  }
  StepResult Step(const void* action, void* obs) override {
    ++t_;
    *static_cast<float*>(obs) = static_cast<float>(++g_counter % 7) / 3.0f;  // above 1 is outside [0, 1]
    StepResult r;
    r.terminated = t_ >= 5;
    r.reward = 1;
    return r;
  }
  std::string RenderText() const override { return ""; }
  std::unique_ptr<Env> Clone() const override { return std::make_unique<BrokenEnv>(); }
  void Restore(const Env&) override {}

 private:
  Space obs_, act_;
  int t_ = 0;
};

bool Mentions(const std::vector<std::string>& problems, const std::string& text) {
  for (const auto& p : problems)
    if (p.find(text) != std::string::npos) return true;
  return false;
}

TEST(EnvCheckerTest, ListsEveryViolationOfABrokenEnv) {
  BrokenEnv env;
  const auto problems = CheckEnv(env);
  EXPECT_TRUE(Mentions(problems, "outside the observation space")) << Join(problems, "\n");
  EXPECT_TRUE(Mentions(problems, "not deterministic"));
  EXPECT_TRUE(Mentions(problems, "step() after the episode ended did not raise"));
  EXPECT_TRUE(Mentions(problems, "Clone() does not continue"));
  EXPECT_TRUE(Mentions(problems, "RenderText() returned an empty string"));
  EXPECT_TRUE(Mentions(problems, "did not raise an error"));
}

TEST(EnvCheckerTest, BuiltinEnvPasses) {
  auto env = Make("Acrobot-v1");
  EXPECT_TRUE(CheckEnv(*env).empty());
}

// The multi-agent API: agent 1 of Arena-v0 (opponent=external) acts in every
// step of the check, and its observations and rewards are checked.
TEST(EnvCheckerTest, MultiAgentEnvPassesAndItsAgentsAreChecked) {
  auto env = Make("Arena-v0", Kwargs({{"opponent", "external"}, {"strict", "true"}}));
  ASSERT_EQ(env->num_agents(), 2);
  const auto problems = CheckEnv(*env);
  EXPECT_TRUE(problems.empty()) << Join(problems, "\n");
}

}  // namespace
}  // namespace rlforge
