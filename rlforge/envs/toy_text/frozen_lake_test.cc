#include "rlforge/envs/toy_text/frozen_lake.h"

#include <gtest/gtest.h>

#include "rlforge/env/registry.h"

namespace rlforge {
namespace {

void ExpectOutcome(const Transition& t, double p, int64_t next, double reward, bool term) {
  EXPECT_NEAR(t.prob, p, 1e-12);
  EXPECT_EQ(t.next_state, next);
  EXPECT_EQ(t.reward, reward);
  EXPECT_EQ(t.terminated, term);
}

TEST(FrozenLakeTest, SlipperyTransitionsMatchGymnasium) {
  FrozenLake env;
  // State 14 (row 3, col 2), action right: [down -> 14, right -> 15 (goal), up -> 10].
  auto out = env.model().Outcomes(14, FrozenLake::kRight);
  ASSERT_EQ(out.size(), 3u);
  ExpectOutcome(out.begin()[0], 1.0 / 3, 14, 0, false);
  ExpectOutcome(out.begin()[1], 1.0 / 3, 15, 1, true);
  ExpectOutcome(out.begin()[2], 1.0 / 3, 10, 0, false);
  // Holes and the goal are absorbing in the model.
  auto hole = env.model().Outcomes(5, FrozenLake::kUp);
  ASSERT_EQ(hole.size(), 1u);
  ExpectOutcome(*hole.begin(), 1.0, 5, 0, true);
  FrozenLakeConfig c8;
  c8.map_name = "8x8";
  FrozenLake big(c8, "FrozenLake8x8-v1");
  ExpectOutcome(*big.model().Outcomes(54, FrozenLake::kLeft).begin(), 1.0, 54, 0, true);
}

TEST(FrozenLakeTest, SuccessRateAndRewardSchedule) {
  FrozenLakeConfig c;
  c.success_rate = 0.8;
  c.reward_schedule = {10, -5, -0.1};
  FrozenLake env(c);
  auto out = env.model().Outcomes(0, FrozenLake::kRight);
  ExpectOutcome(out.begin()[0], 0.1, 4, -0.1, false);  // down
  ExpectOutcome(out.begin()[1], 0.8, 1, -0.1, false);  // right
  ExpectOutcome(out.begin()[2], 0.1, 0, -0.1, false);  // up (stays)
  ExpectOutcome(env.model().Outcomes(14, FrozenLake::kRight).begin()[1], 0.8, 15, 10, true);
  ExpectOutcome(env.model().Outcomes(1, FrozenLake::kDown).begin()[1], 0.8, 5, -5, true);
}

TEST(FrozenLakeTest, DeterministicPathReachesGoal) {
  FrozenLakeConfig c;
  c.is_slippery = false;
  FrozenLake env(c);
  int64_t s;
  env.Reset(0, &s);
  EXPECT_EQ(s, 0);
  const int64_t path[] = {1, 1, 2, 2, 1, 2};  // down down right right down right
  StepResult r;
  for (int64_t a : path) r = env.StepDiscrete(a, &s);
  EXPECT_EQ(s, 15);
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(r.reward, 1.0);
  EXPECT_EQ(r.info.Get("is_success").value_or(-1), 1.0);
  env.Reset(0, &s);
  env.StepDiscrete(FrozenLake::kRight, &s);
  r = env.StepDiscrete(FrozenLake::kDown, &s);  // (1,1) is a hole
  EXPECT_EQ(s, 5);
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(r.reward, 0.0);
  EXPECT_EQ(r.info.Get("is_success").value_or(-1), 0.0);
}

TEST(FrozenLakeTest, SlipFrequenciesAreOneThirdEach) {
  FrozenLake env;
  int64_t s;
  int counts[3] = {0, 0, 0};
  const int n = 30000;
  env.Reset(1, &s);
  for (int i = 0; i < n; ++i) {
    env.set_state(0);
    env.StepDiscrete(FrozenLake::kDown, &s);  // left -> 0, down -> 4, right -> 1
    if (s == 0) ++counts[0];
    if (s == 4) ++counts[1];
    if (s == 1) ++counts[2];
    env.Reset(std::nullopt, &s);
  }
  EXPECT_EQ(counts[0] + counts[1] + counts[2], n);
  // sd of each count is sqrt(n p (1-p)) ~ 82.
  for (int c : counts) EXPECT_NEAR(c, n / 3.0, 400);
}

TEST(FrozenLakeTest, RandomMapsAreSolvableAndSeeded) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto m = GenerateRandomFrozenLakeMap(6, 0.6, seed);
    ASSERT_EQ(m.size(), 6u);
    EXPECT_EQ(m[0][0], 'S');
    EXPECT_EQ(m[5][5], 'G');
    EXPECT_EQ(m, GenerateRandomFrozenLakeMap(6, 0.6, seed));
  }
  EXPECT_NE(GenerateRandomFrozenLakeMap(8, 0.8, 1), GenerateRandomFrozenLakeMap(8, 0.8, 2));
  auto env = Make("FrozenLake-v1", {{"map_name", "random"}, {"map_size", "5"}, {"map_seed", "3"}});
  EXPECT_EQ(env->observation_space().n(), 25);
}

// map_size=100000 used to overflow int indices (a segfault after 50 s);
// a tiny map_p used to retry forever.
TEST(FrozenLakeTest, RandomMapSizeAndDensityAreBounded) {
  for (const char* size : {"100000", "1025", "1", "-3", "4294967298"}) {
    try {
      Make("FrozenLake-v1", {{"map_name", "random"}, {"map_size", size}});
      ADD_FAILURE() << "map_size " << size << " was accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("map_size"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(GenerateRandomFrozenLakeMap(64, 1e-6, 0), InvalidArgument);
  // The random map's kwargs on a named map did nothing, silently; a negative seed wrapped around.
  EXPECT_THROW(Make("FrozenLake-v1", {{"map_size", "6"}}), InvalidArgument);
  EXPECT_THROW(Make("FrozenLake8x8-v1", {{"map_p", "0.5"}}), InvalidArgument);
  EXPECT_THROW(Make("FrozenLake-v1", {{"desc", "SF/FG"}, {"map_name", "random"}, {"map_seed", "2"}}), InvalidArgument);
  EXPECT_THROW(Make("FrozenLake-v1", {{"map_name", "random"}, {"map_seed", "-1"}}), InvalidArgument);
  EXPECT_EQ(Make("FrozenLake-v1", {{"map_name", "random"}, {"map_size", "1024"}})->observation_space().n(),
            1024 * 1024);
}

TEST(FrozenLakeTest, CustomMapFromKwargs) {
  auto env = Make("FrozenLake-v1", {{"desc", "SFF/FHF/FFG"}, {"is_slippery", "false"}});
  EXPECT_EQ(env->observation_space().n(), 9);
  int64_t s;
  env->Reset(0, &s);
  env->StepDiscrete(FrozenLake::kRight, &s);
  env->StepDiscrete(FrozenLake::kRight, &s);
  env->StepDiscrete(FrozenLake::kDown, &s);
  StepResult r = env->StepDiscrete(FrozenLake::kDown, &s);
  EXPECT_EQ(s, 8);
  EXPECT_TRUE(r.terminated);
  EXPECT_THROW(Make("FrozenLake-v1", {{"desc", "SFX/FFG"}}), InvalidArgument);
  // An empty desc is the default (map_name's map), as `rlforge envs -v` documents it.
  EXPECT_EQ(Make("FrozenLake-v1", {{"desc", ""}, {"map_name", "8x8"}})->observation_space(), Space::Discrete(64));
  EXPECT_THROW(Make("FrozenLake-v1", {{"desc", "SF/FFG"}}), InvalidArgument);
  EXPECT_THROW(Make("FrozenLake-v1", {{"map_name", "5x5"}}), InvalidArgument);
  EXPECT_THROW(Make("FrozenLake-v1", {{"reward_schedule", "1,0"}}), InvalidArgument);
}

TEST(FrozenLakeTest, RegisteredLimitsAndText) {
  auto env = Make("FrozenLake8x8-v1");
  EXPECT_EQ(env->observation_space().n(), 64);
  int64_t s;
  env->Reset(0, &s);
  const std::string text = env->RenderText();
  EXPECT_NE(text.find("\x1b[41mS\x1b[0m"), std::string::npos);
  EXPECT_NE(text.find("FFFHFFFG"), std::string::npos);
}

}  // namespace
}  // namespace rlforge
