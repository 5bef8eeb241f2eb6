#include "rlforge/env/evaluation.h"

#include <gtest/gtest.h>

#include <cstring>

#include "rlforge/env/registry.h"

namespace rlforge {
namespace {

// Episodes last 1, 11 or 21 steps depending on the seed the env was first
// reset with (seed % 3), reward 2 per step.
class SeedLengthEnv : public EnvBase<SeedLengthEnv> {
 public:
  const Space& observation_space() const override { return obs_; }
  const Space& action_space() const override { return act_; }
  std::string name() const override { return "SeedLength-v0"; }
  std::string RenderText() const override { return "t=" + std::to_string(t_); }
  int length() const { return length_; }
  void ResetImpl(void* obs, Info*) {
    if (length_ == 0) length_ = 1 + 10 * static_cast<int>(rng_.state()[0] % 3);
    t_ = 0;
    *static_cast<float*>(obs) = 0;
  }
  void StepImpl(const void*, void* obs, StepResult* r) {
    ++t_;
    r->reward = 2;
    r->terminated = t_ >= length_;
    *static_cast<float*>(obs) = static_cast<float>(t_);
  }

 private:
  Space obs_ = Space::Box(0, 100, {1});
  Space act_ = Space::Discrete(2);
  int length_ = 0, t_ = 0;
};

TEST(EvaluateTest, ExactEpisodeCountAndUnbiasedQuotas) {
  VectorEnvOptions opt;
  opt.num_envs = 3;
  VectorEnv envs([] { return std::make_unique<SeedLengthEnv>(); }, opt);
  RandomPolicy policy(envs.single_action_space(), 1);
  const EpisodeStats s = Evaluate(envs, policy, 30, /*seed=*/0);
  EXPECT_EQ(s.episodes, 30);
  EXPECT_EQ(s.returns.size(), 30u);
  // Every env contributes exactly 10 episodes, so the total length is 10 times
  // the sum of the envs' lengths, whatever their order of finishing.
  int64_t expected = 0, sum = 0;
  for (int i = 0; i < 3; ++i) expected += 10 * dynamic_cast<const SeedLengthEnv&>(envs.env(i)).length();
  for (int64_t l : s.lengths) sum += l;
  EXPECT_EQ(sum, expected);
  EXPECT_DOUBLE_EQ(s.mean_return, 2 * s.mean_length);
  EXPECT_FALSE(s.success_rate.has_value());
}

// A recurrent policy must hear of every episode start before the Act that
// sees its first observation (SeedLengthEnv's observation is 0 exactly then),
// and of no other.
class StartRecordingPolicy : public Policy {
 public:
  void StartEpisodes(const uint8_t* rows_starting, int n) override {
    told.assign(rows_starting, rows_starting + n);
  }
  void Act(const void* observations, const uint8_t*, int n, void* actions) override {
    ASSERT_EQ(static_cast<int>(told.size()), n) << "Act before StartEpisodes";
    const auto* obs = static_cast<const float*>(observations);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(told[i], obs[i] == 0.0f ? 1 : 0) << "row " << i << " at t " << obs[i];
      starts += told[i];
      static_cast<int64_t*>(actions)[i] = 0;
    }
    told.assign(n, 0);
  }
  std::string name() const override { return "recorder"; }
  std::vector<uint8_t> told;
  int64_t starts = 0;
};

TEST(EvaluateTest, TellsPoliciesWhereEpisodesStart) {
  VectorEnvOptions opt;
  opt.num_envs = 3;
  VectorEnv envs([] { return std::make_unique<SeedLengthEnv>(); }, opt);
  StartRecordingPolicy p;
  const EpisodeStats s = Evaluate(envs, p, 7, 5);
  EXPECT_EQ(s.episodes, 7);
  EXPECT_GE(p.starts, 7);
}

// Matches tell both players of every new game (recurrent policies reset).
TEST(EvaluateTest, MatchesTellBothPlayersWhereGamesStart) {
  struct Counting : public RandomPolicy {
    using RandomPolicy::RandomPolicy;
    void StartEpisodes(const uint8_t* rows, int n) override { starts += n == 1 && rows[0] == 1; }
    int starts = 0;
  };
  auto env = Make("TicTacToe-v0");
  Counting a(env->action_space(), 1, true), b(env->action_space(), 2, true);
  EvaluateMatch(*env, a, b, 6, 0);
  EXPECT_EQ(a.starts, 6);
  EXPECT_EQ(b.starts, 6);
}

TEST(EvaluateTest, SuccessRateForEnvsThatDefineIt) {
  VectorEnvOptions opt;
  opt.num_envs = 4;
  auto envs = VectorEnv::Make("FrozenLake-v1", {{"is_slippery", "false"}, {"desc", "SG"}}, opt);
  RandomPolicy policy(envs->single_action_space(), 3);
  const EpisodeStats s = Evaluate(*envs, policy, 200, 0);
  ASSERT_TRUE(s.success_rate.has_value());
  // Only "right" reaches G; every other action leaves the agent on S, so
  // every episode (limit 100 steps) ends at the goal.
  EXPECT_EQ(*s.success_rate, 1.0);
  EXPECT_EQ(s.mean_return, 1.0);
}

// Always the same Discrete action: "left" on CliffWalking keeps the agent on
// the start tile forever (the env has no step limit).
class ConstantPolicy : public Policy {
 public:
  explicit ConstantPolicy(int64_t action) : action_(action) {}
  void Act(const void*, const uint8_t*, int n, void* actions) override {
    for (int i = 0; i < n; ++i) static_cast<int64_t*>(actions)[i] = action_;
  }
  std::string name() const override { return "constant"; }

 private:
  int64_t action_;
};

// `random` on a single-agent env is uniform over the action space (as
// Gymnasium's sample()); `random-legal` honours the masks, conditional ones
// included: TowerDefense's strict mode throws on the first illegal action.
TEST(EvaluateTest, RandomLegalHonoursMasksOfSingleAgentEnvs) {
  VectorEnvOptions opt;
  opt.num_envs = 2;
  auto envs = VectorEnv::Make("TowerDefense-v0", {{"strict", "true"}}, opt);
  auto uniform = Registry::Global().MakeScriptedPolicy("random", "TowerDefense-v0", envs->env(0), 1);
  EXPECT_THROW(Evaluate(*envs, *uniform, 4, 0), std::exception);
  auto strict = VectorEnv::Make("TowerDefense-v0", {{"strict", "true"}}, opt);
  auto legal = Registry::Global().MakeScriptedPolicy("random-legal", "TowerDefense-v0", strict->env(0), 1);
  EXPECT_EQ(legal->name(), "random-legal");
  const EpisodeStats stats = Evaluate(*strict, *legal, 4, 0);
  EXPECT_EQ(stats.episodes, 4);
  EXPECT_GT(stats.mean_length, 10.0);
  EXPECT_TRUE(Registry::Global().IsScriptedPolicy("random-legal"));
}

TEST(EvaluationStepCapTest, OnlyEnvsWithoutALimitAreCapped) {
  EXPECT_TRUE(NeedsEvaluationStepCap("CliffWalking-v1", {}));
  EXPECT_FALSE(NeedsEvaluationStepCap("CartPole-v1", {}));
  EXPECT_TRUE(NeedsEvaluationStepCap("CartPole-v1", {{"max_episode_steps", "0"}}));
  EXPECT_FALSE(NeedsEvaluationStepCap("CliffWalking-v1", {{"max_episode_steps", "50"}}));
  EXPECT_EQ(EvaluationKwargs("CliffWalking-v1", {}, 77).Find("max_episode_steps"), "77");
  EXPECT_EQ(EvaluationKwargs("CartPole-v1", {{"max_episode_steps", "0"}}, 77).Find("max_episode_steps"), "77");
  EXPECT_EQ(EvaluationKwargs("CartPole-v1", {}, 77).Find("max_episode_steps"), std::nullopt);
  EXPECT_THROW(EvaluationKwargs("CliffWalking-v1", {}, 0, "--max-episode-steps"), InvalidArgument);
}

TEST(EvaluationStepCapTest, APolicyThatNeverFinishesEndsTruncatedAtTheCap) {
  VectorEnvOptions opt;
  opt.num_envs = 2;
  auto envs = VectorEnv::Make("CliffWalking-v1", EvaluationKwargs("CliffWalking-v1", {}, 250), opt);
  ConstantPolicy left(3);
  const EpisodeStats s = Evaluate(*envs, left, 4, 0);
  EXPECT_EQ(s.episodes, 4);
  EXPECT_EQ(s.truncated, 4);
  EXPECT_EQ(s.mean_length, 250);
  EXPECT_EQ(s.mean_return, -250);  // -1 per step
}

TEST(EvaluationStepCapTest, TerminatedEpisodesAreNotCountedTruncated) {
  VectorEnvOptions opt;
  opt.num_envs = 2;
  ConstantPolicy right(2);  // "right" on the map S H falls into the hole: terminated after one step
  auto lake = VectorEnv::Make("FrozenLake-v1", {{"is_slippery", "false"}, {"desc", "SH"}}, opt);
  const EpisodeStats s = Evaluate(*lake, right, 6, 0);
  EXPECT_EQ(s.episodes, 6);
  EXPECT_EQ(s.truncated, 0);
  EXPECT_EQ(s.mean_length, 1);
}

// Arena-v0's every unit stays: nobody holds the objective (the teams start
// on the edges) and nobody fights, so every game is a draw at 100 steps.
class StayPolicy : public Policy {
 public:
  explicit StayPolicy(size_t bytes) : bytes_(bytes) {}
  void Act(const void*, const uint8_t*, int n, void* actions) override {
    std::memset(actions, 0, bytes_ * static_cast<size_t>(n));
  }
  std::string name() const override { return "stay"; }

 private:
  size_t bytes_;
};

// A game that ends by truncation (a time limit, a step cap) without the env
// calling it a draw is a draw, not a loss: nobody won it.
TEST(EvaluateTeamsTest, GameOutcomeOfEachEnding) {
  Info win, draw, none;
  win.Set("is_success", 1.0);
  draw.Set("draw", 1.0);
  none.Set("is_success", 0.0);
  EXPECT_EQ(GameOutcome(win, false), 1);
  EXPECT_EQ(GameOutcome(win, true), 1);
  EXPECT_EQ(GameOutcome(draw, false), 0);
  EXPECT_EQ(GameOutcome(none, true), 0);   // truncated, no winner: a draw
  EXPECT_EQ(GameOutcome(none, false), -1);  // terminated without a win: a loss
  EXPECT_EQ(GameOutcome(Info{}, true), 0);
}

TEST(EvaluateTeamsTest, OutcomesOfWorkedGames) {
  VectorEnvOptions opt;
  opt.num_envs = 3;
  auto envs = VectorEnv::Make("Arena-v0", Kwargs{{"opponent", "external"}}, opt);
  StayPolicy stay(envs->single_action_space().nbytes());
  const MatchStats draws = EvaluateTeams(*envs, stay, stay, 7, 0);
  EXPECT_EQ(draws.games, 7);
  EXPECT_EQ(draws.draws, 7);
  EXPECT_EQ(draws.outcomes, std::vector<int>(7, 0));
  EXPECT_EQ(draws.stats.mean_length, 100.0);
  EXPECT_EQ(draws.stats.episodes, 7);
  // One greedy unit walks to the objective and holds it against a unit that
  // stays out of sight on an open map: it wins every game, as agent 0 or 1.
  auto solo = VectorEnv::Make("Arena-v0", Kwargs{{"opponent", "external"}, {"team_size", "1"}, {"walls", "0"}}, opt);
  StayPolicy stay1(solo->single_action_space().nbytes());
  auto greedy = Registry::Global().MakeScriptedPolicy("greedy", "Arena-v0", solo->env(0), 1);
  const MatchStats wins = EvaluateTeams(*solo, *greedy, stay1, 10, 0);
  EXPECT_EQ(wins.wins, 10);
  EXPECT_EQ(wins.stats.success_rate, 1.0);
  const MatchStats losses = EvaluateTeams(*solo, stay1, *greedy, 10, 0);
  EXPECT_EQ(losses.losses, 10);
  EXPECT_LT(losses.stats.mean_return, 0.0);
  // Random legal play (masks honoured: Arena's strict mode would throw).
  auto strict = VectorEnv::Make("Arena-v0", Kwargs{{"opponent", "external"}, {"strict", "true"}}, opt);
  auto random = Registry::Global().MakeScriptedPolicy("random", "Arena-v0", strict->env(0), 2);
  auto tactic = Registry::Global().MakeScriptedPolicy("tactic", "Arena-v0", strict->env(0), 3);
  const MatchStats m = EvaluateTeams(*strict, *tactic, *random, 30, 0);
  EXPECT_EQ(m.wins + m.draws + m.losses, 30);
  EXPECT_GE(m.wins, 25);
  // A one-agent env is refused with the reason.
  auto single = VectorEnv::Make("Arena-v0", Kwargs{}, opt);
  EXPECT_THROW(EvaluateTeams(*single, stay, stay, 3, 0), InvalidArgument);
}

}  // namespace
}  // namespace rlforge
