#include "rlforge/env/vector_env.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "rlforge/env/async_vector_env.h"
#include "rlforge/env/registry.h"

// Counts heap allocations while g_counting is set, to check that stepping
// allocates nothing.
namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_allocations{0};
}  // namespace

void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace rlforge {
namespace {

TEST(VectorEnvTest, EnvIIsSeededWithSeedPlusI) {
  VectorEnvOptions opt;
  opt.num_envs = 4;
  auto envs = VectorEnv::Make("CartPole-v1", {}, opt);
  envs->Reset(100);
  for (int i = 0; i < 4; ++i) {
    auto single = Make("CartPole-v1");
    float obs[4];
    single->Reset(100 + i, obs);
    EXPECT_EQ(std::memcmp(obs, envs->observations_as<float>() + 4 * i, sizeof(obs)), 0) << "env " << i;
  }
}

// The first unseeded Reset is Reset(0)'s: the copies start apart (they all
// started on one env's default stream, identical rows).
TEST(VectorEnvTest, AFirstUnseededResetSeedsTheCopiesApart) {
  VectorEnvOptions opt;
  opt.num_envs = 4;
  auto unseeded = VectorEnv::Make("CartPole-v1", {}, opt);
  auto seeded = VectorEnv::Make("CartPole-v1", {}, opt);
  unseeded->Reset(std::nullopt);
  seeded->Reset(0);
  EXPECT_EQ(std::memcmp(unseeded->observations(), seeded->observations(), 4 * 4 * sizeof(float)), 0);
  const float* o = unseeded->observations_as<float>();
  EXPECT_NE(std::memcmp(o, o + 4, 4 * sizeof(float)), 0);
  AsyncVectorEnv async([] { return Make("CartPole-v1"); }, 4, 1, 4);
  async.Reset(std::nullopt);
  async.Recv();
  for (int b = 0; b < 4; ++b) {
    const int i = async.env_ids()[b];
    EXPECT_EQ(std::memcmp(static_cast<const float*>(async.observations()) + 4 * b, seeded->observations_as<float>() + 4 * i,
                          4 * sizeof(float)), 0) << "env " << i;
  }
}

TEST(VectorEnvTest, SameStepAutoresetKeepsTheFinalObservation) {
  VectorEnvOptions opt;
  opt.num_envs = 2;
  auto envs = VectorEnv::Make("CartPole-v1", {}, opt);
  envs->Reset(7);
  // Reference: env 0 alone, always pushing right, reset without a seed after the end.
  auto ref = Make("CartPole-v1");
  float obs[4];
  ref->Reset(7, obs);
  std::vector<int64_t> actions = {1, 1};
  int ended = 0;
  double ret = 0;
  for (int t = 0; t < 200 && ended < 3; ++t) {
    envs->Step(actions.data());
    StepResult r = ref->StepDiscrete(1, obs);
    ret += r.reward;
    ASSERT_EQ(envs->terminated()[0], r.terminated);
    ASSERT_EQ(envs->truncated()[0], r.truncated);
    ASSERT_EQ(envs->rewards()[0], static_cast<float>(r.reward));
    if (r.done()) {
      ++ended;
      // The final observation is kept; the batch row already holds the next episode's start.
      EXPECT_EQ(std::memcmp(envs->final_observations_as<float>(), obs, sizeof(obs)), 0);
      EXPECT_EQ(envs->episode_return(0), ret);
      EXPECT_EQ(envs->episode_length(0), static_cast<int64_t>(ret));
      ret = 0;
      ref->Reset(std::nullopt, obs);
    }
    ASSERT_EQ(std::memcmp(envs->observations_as<float>(), obs, sizeof(obs)), 0) << "step " << t;
  }
  EXPECT_EQ(ended, 3);
}

// Gymnasium's next-step autoreset: the batch row keeps the final observation,
// and the following Step resets the env instead of stepping it (reward 0,
// flags false), whatever its action.
TEST(VectorEnvTest, NextStepAutoresetResetsOnTheFollowingStep) {
  VectorEnvOptions opt;
  opt.num_envs = 1;
  opt.autoreset = AutoresetMode::kNextStep;
  auto envs = VectorEnv::Make("CartPole-v1", {}, opt);
  envs->Reset(7);
  auto ref = Make("CartPole-v1");
  float obs[4];
  ref->Reset(7, obs);
  const int64_t right = 1;
  int ended = 0, resets = 0;
  bool reset_next = false;
  for (int t = 0; t < 200 && ended < 3; ++t) {
    envs->Step(&right);
    if (reset_next) {
      ref->Reset(std::nullopt, obs);
      ++resets;
      ASSERT_EQ(envs->rewards()[0], 0.f);
      ASSERT_FALSE(envs->terminated()[0] || envs->truncated()[0] || envs->ended()[0]);
      reset_next = false;
    } else {
      StepResult r = ref->StepDiscrete(1, obs);
      ASSERT_EQ(envs->terminated()[0], r.terminated);
      ASSERT_EQ(envs->ended()[0], r.done());
      ASSERT_EQ(envs->rewards()[0], static_cast<float>(r.reward));
      if (r.done()) ++ended, reset_next = true;
    }
    ASSERT_EQ(std::memcmp(envs->observations_as<float>(), obs, sizeof(obs)), 0) << "step " << t;
  }
  EXPECT_EQ(ended, 3);
  EXPECT_EQ(resets, 2);
}

// Disabled autoreset: an ended env must be reset by mask before it is stepped;
// ResetMasked touches only the masked envs.
TEST(VectorEnvTest, DisabledAutoresetNeedsAMaskedReset) {
  VectorEnvOptions opt;
  opt.num_envs = 2;
  opt.autoreset = AutoresetMode::kDisabled;
  auto envs = VectorEnv::Make("CartPole-v1", {}, opt);
  envs->Reset(3);
  // Env 0 always pushes right (ends within ~30 steps); env 1 alternates (lasts longer).
  std::vector<int64_t> actions = {1, 0};
  int t = 0;
  while (!envs->ended()[0]) actions[1] = t % 2, envs->Step(actions.data()), ++t;
  ASSERT_LT(t, 500);
  ASSERT_FALSE(envs->ended()[1]);
  const int done = 0, other = 1;
  float kept[4], final_obs[4];
  std::memcpy(kept, envs->observations_as<float>() + 4 * other, sizeof(kept));
  std::memcpy(final_obs, envs->observations_as<float>() + 4 * done, sizeof(final_obs));
  EXPECT_EQ(std::memcmp(final_obs, envs->final_observations_as<float>() + 4 * done, sizeof(final_obs)), 0);
  try {
    envs->Step(actions.data());
    FAIL() << "stepping an ended env with autoreset disabled must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("autoreset is disabled"), std::string::npos) << e.what();
  }
  uint8_t mask[2] = {0, 0};
  mask[done] = 1;
  envs->ResetMasked(40, mask);
  auto ref = Make("CartPole-v1");
  float obs[4];
  ref->Reset(40 + done, obs);
  EXPECT_EQ(std::memcmp(envs->observations_as<float>() + 4 * done, obs, sizeof(obs)), 0);
  EXPECT_EQ(std::memcmp(envs->observations_as<float>() + 4 * other, kept, sizeof(kept)), 0);
  envs->Step(actions.data());  // both step again
  EXPECT_THROW(ParseAutoresetMode("next-step"), InvalidArgument);
  EXPECT_EQ(ParseAutoresetMode("next_step"), AutoresetMode::kNextStep);
  std::string state;
  EXPECT_THROW(envs->SaveState(&state), Error);
}

// A bad action in any row is refused before any env steps (once, the rows
// before it had already stepped).
TEST(VectorEnvTest, ABadActionChangesNoEnv) {
  for (int threads : {1, 2}) {
    VectorEnvOptions opt;
    opt.num_envs = 4;
    opt.num_threads = threads;
    auto envs = VectorEnv::Make("CartPole-v1", {}, opt);
    envs->Reset(0);
    std::vector<float> before(envs->observations_as<float>(), envs->observations_as<float>() + 16);
    const std::vector<int64_t> actions = {0, 0, 2, 0};
    try {
      envs->Step(actions.data());
      FAIL() << "action 2 is outside Discrete(2)";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("env 2"), std::string::npos) << e.what();
    }
    EXPECT_EQ(std::memcmp(before.data(), envs->observations_as<float>(), 16 * sizeof(float)), 0);
  }
}

// An action inside the space that the env itself refuses (an occupied
// square) is named by its env index too (it was the env's bare message).
TEST(VectorEnvTest, AnActionTheEnvRefusesIsNamedByItsEnv) {
  VectorEnvOptions opt;
  opt.num_envs = 2;
  auto envs = VectorEnv::Make("TicTacToe-v0", {}, opt);
  envs->Reset(0);
  const std::vector<int64_t> first = {4, 4}, second = {0, 4};
  envs->Step(first.data());
  try {
    envs->Step(second.data());
    FAIL() << "square 4 of env 1 is taken";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()).rfind("env 1: TicTacToe-v0: illegal move 4", 0), 0u) << e.what();
  }
}

TEST(VectorEnvTest, ThreadedMatchesSynchronousExactly) {
  for (const char* id : {"CartPole-v1", "Taxi-v4", "Pendulum-v1"}) {
    VectorEnvOptions sync_opt, threaded_opt;
    sync_opt.num_envs = threaded_opt.num_envs = 13;
    threaded_opt.num_threads = 3;
    auto a = VectorEnv::Make(id, {}, sync_opt);
    auto b = VectorEnv::Make(id, {}, threaded_opt);
    EXPECT_EQ(b->num_threads(), 3);
    a->Reset(1);
    b->Reset(1);
    const Space& space = a->single_action_space();
    std::vector<uint8_t> act(13 * space.nbytes());
    Rng rng(2);
    const size_t obs_bytes = 13 * a->single_observation_space().nbytes();
    for (int t = 0; t < 500; ++t) {
      for (int i = 0; i < 13; ++i) space.Sample(rng, act.data() + i * space.nbytes());
      a->Step(act.data());
      b->Step(act.data());
      ASSERT_EQ(std::memcmp(a->observations(), b->observations(), obs_bytes), 0) << id << " step " << t;
      ASSERT_EQ(std::memcmp(a->rewards(), b->rewards(), 13 * sizeof(float)), 0);
      ASSERT_EQ(std::memcmp(a->terminated(), b->terminated(), 13), 0);
      ASSERT_EQ(std::memcmp(a->truncated(), b->truncated(), 13), 0);
    }
  }
}

TEST(VectorEnvTest, MasksFollowTheCurrentObservations) {
  VectorEnvOptions opt;
  opt.num_envs = 3;
  auto envs = VectorEnv::Make("Taxi-v4", {}, opt);
  ASSERT_TRUE(envs->has_action_mask());
  EXPECT_EQ(envs->mask_size(), 6);
  envs->Reset(0);
  std::vector<int64_t> act = {0, 1, 2};
  for (int t = 0; t < 50; ++t) {
    envs->Step(act.data());
    for (int i = 0; i < 3; ++i) {
      uint8_t m[6];
      envs->env(i).ActionMask(m);
      ASSERT_EQ(std::memcmp(m, envs->action_masks() + 6 * i, 6), 0);
    }
  }
  auto cart = VectorEnv::Make("CartPole-v1", {}, opt);
  EXPECT_EQ(cart->action_masks(), nullptr);
}

TEST(VectorEnvTest, StepAllocatesNothing) {
  for (int threads : {1, 2}) {
    VectorEnvOptions opt;
    opt.num_envs = 16;
    opt.num_threads = threads;
    auto envs = VectorEnv::Make("CartPole-v1", {}, opt);
    envs->Reset(0);
    std::vector<int64_t> act(16, 1);
    envs->Step(act.data());  // warm up
    g_allocations = 0;
    g_counting = true;
    for (int t = 0; t < 2000; ++t) envs->Step(act.data());  // many episode ends and autoresets
    g_counting = false;
    EXPECT_EQ(g_allocations.load(), 0) << threads << " thread(s)";
  }
}

TEST(VectorEnvTest, SaveAndLoadStateResumeExactly) {
  for (const char* id : {"CartPole-v1", "Taxi-v4", "FrozenLake-v1"}) {
    VectorEnvOptions opt;
    opt.num_envs = 5;
    auto a = VectorEnv::Make(id, {}, opt);
    auto b = VectorEnv::Make(id, {}, opt);
    a->Reset(3);
    b->Reset(99);  // different, to be overwritten
    const Space& space = a->single_action_space();
    std::vector<uint8_t> act(5 * space.nbytes());
    Rng rng(4);
    auto step = [&](VectorEnv& v) {
      for (int i = 0; i < 5; ++i) space.Sample(rng, act.data() + i * space.nbytes());
      v.Step(act.data());
    };
    for (int t = 0; t < 37; ++t) step(*a);
    std::string state;
    a->SaveState(&state);
    b->LoadState(state);
    const size_t obs_bytes = 5 * a->single_observation_space().nbytes();
    for (int t = 0; t < 300; ++t) {
      Rng saved = rng;
      step(*a);
      rng = saved;
      step(*b);
      ASSERT_EQ(std::memcmp(a->observations(), b->observations(), obs_bytes), 0) << id << " step " << t;
      ASSERT_EQ(std::memcmp(a->rewards(), b->rewards(), 5 * sizeof(float)), 0);
      for (int i = 0; i < 5; ++i) ASSERT_EQ(a->episode_return(i), b->episode_return(i));
    }
    EXPECT_THROW(b->LoadState(state.substr(0, state.size() - 3)), Error);
  }
}

TEST(VectorEnvTest, BadOptionsAndActionsAreReported) {
  VectorEnvOptions opt;
  opt.num_envs = 0;
  EXPECT_THROW(VectorEnv::Make("CartPole-v1", {}, opt), InvalidArgument);
  opt.num_envs = 2;
  auto envs = VectorEnv::Make("CartPole-v1", {}, opt);
  envs->Reset(0);
  std::vector<int64_t> act = {0, 5};
  EXPECT_THROW(envs->Step(act.data()), InvalidArgument);
  EXPECT_THROW(envs->observations_as<double>(), Error);
}

}  // namespace
}  // namespace rlforge
