// A replay seeded from a dataset (config key replay_dataset): every
// transition stored once, n-step returns that stay inside their lane, DQN
// and SAC starting their first update phase with it, and the errors.
#include "rlforge/algos/replay_dataset.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "rlforge/algos/dqn/dqn.h"
#include "rlforge/algos/sac/sac.h"
#include "rlforge/data/dataset.h"
#include "rlforge/env/vector_env.h"
#include "rlforge/train/runner.h"
#include "rlforge/train/testing.h"
#include "rlforge/train/train_config.h"

namespace rlforge {
namespace {

using testing_util::FreshDir;
using testing_util::Quiet;

std::string RandomDataset(const std::string& env_id, const std::string& name, int64_t episodes) {
  const std::string dir = FreshDir("replay_dataset", name);
  VectorEnvOptions o;
  o.num_envs = 2;
  auto envs = VectorEnv::Make(env_id, {}, o);
  RandomPolicy random(envs->single_action_space(), 3);
  DatasetInfo info;
  info.env_id = env_id;
  WriteDataset(RecordDataset(*envs, random, {episodes, 11, 0.0}, info), dir);
  return dir;
}

TEST(ReplayDatasetTest, LanesKeepEveryTransitionAndTheirNStepReturns) {
  const std::string dir = RandomDataset("CartPole-v1", "lanes", 5);
  const Dataset d = ReadDataset(dir);
  const int64_t T = d.steps(), n = 3;
  auto env = VectorEnv::Make("CartPole-v1", {}, VectorEnvOptions{});
  const Space obs = env->single_observation_space(), act = env->single_action_space();
  ReplayBuffer replay(T + 10, obs.nbytes(), 0, n);
  const std::vector<int64_t> slots = SeedReplayFromDataset(dir, obs, act, &replay);
  ASSERT_EQ(static_cast<int64_t>(slots.size()), T);
  ASSERT_EQ(replay.size(), T);
  // Lane i holds steps [start_i, start_i+1) in order; slot order is round by round.
  std::vector<int64_t> start = {0};
  for (int64_t i = 0; i < n; ++i) start.push_back(start.back() + T / n + (i < T % n ? 1 : 0));
  std::map<int64_t, int64_t> step_of_slot;
  size_t j = 0;
  for (int64_t k = 0; k <= T / n; ++k)
    for (int64_t i = 0; i < n; ++i)
      if (start[i] + k < start[i + 1]) step_of_slot[slots[j++]] = start[i] + k;
  ASSERT_EQ(j, slots.size());
  ASSERT_EQ(step_of_slot.size(), static_cast<size_t>(T));  // every slot distinct
  // Online steps of the n envs follow (reward 100): no return of the
  // dataset's may run into them.
  const std::vector<uint8_t> zeros(obs.nbytes(), 0);
  for (int64_t k = 0; k < 2 * n; ++k) replay.Add(zeros.data(), zeros.data(), int64_t{0}, 100.0f, false, false, nullptr);
  const double gamma = 0.5;
  for (const auto& [slot, t] : step_of_slot) {
    ReplayBuffer::Batch b;
    replay.Gather({slot}, 3, gamma, &b);
    // Expected: up to 3 steps, stopping at an episode's end or the lane's.
    int64_t lane = 0;
    while (t >= start[lane + 1]) ++lane;
    double R = 0, disc = 1;
    int64_t u = t;
    for (int64_t k = 0; k < 3; ++k, ++u) {
      R += disc * d.rewards[u];
      disc *= gamma;
      if (d.terminated[u] || d.truncated[u] || u + 1 == start[lane + 1]) break;
    }
    if (u == t + 3) --u;  // the loop ran out: u is one past the last step used
    EXPECT_NEAR(b.reward[0], R, 1e-5) << "step " << t;
    EXPECT_FLOAT_EQ(b.discount[0], static_cast<float>(disc)) << "step " << t;
    EXPECT_EQ(b.terminated[0], d.terminated[u]) << "step " << t;
    EXPECT_EQ(std::memcmp(b.next_obs.data(), d.observation(d.row[u] + 1), obs.nbytes()), 0) << "step " << t;
    int64_t a = 0;
    std::memcpy(&a, d.action(t), sizeof(a));
    EXPECT_EQ(b.action[0], a) << "step " << t;
  }
}

TEST(ReplayDatasetTest, ErrorsNameTheProblem) {
  const std::string dir = RandomDataset("CartPole-v1", "errors", 3);
  auto env = VectorEnv::Make("Acrobot-v1", {}, VectorEnvOptions{});
  ReplayBuffer other(1000, env->single_observation_space().nbytes(), 0, 1);
  try {
    SeedReplayFromDataset(dir, env->single_observation_space(), env->single_action_space(), &other);
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("but the env has"), std::string::npos) << e.what();
  }
  auto cp = VectorEnv::Make("CartPole-v1", {}, VectorEnvOptions{});
  ReplayBuffer small(10, cp->single_observation_space().nbytes(), 0, 1);
  try {
    SeedReplayFromDataset(dir, cp->single_observation_space(), cp->single_action_space(), &small);
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("more than the replay holds (buffer_size 10)"), std::string::npos) << e.what();
  }
  try {
    Train(TrainConfig::Resolve("dqn", "CartPole-v1", "", {"replay_dataset=/nonexistent/dataset"}, 100, 0),
          FreshDir("replay_dataset", "missing"), Quiet());
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dataset"), std::string::npos) << e.what();
  }
}

TEST(ReplayDatasetTest, DqnStartsWithTheDatasetInItsReplay) {
  const std::string dir = RandomDataset("CartPole-v1", "dqn", 4);
  const int64_t T = ReadDataset(dir).steps();
  TrainConfig c = TrainConfig::Resolve(
      "dqn", "CartPole-v1", "",
      {"replay_dataset=" + dir, "learning_starts=0", "num_envs=2", "train_freq=1", "gradient_steps=1", "net_arch=[8]",
       "buffer_size=5000"},
      1000, 0);
  auto algo = MakeAlgorithm(c.Context(), *c.algo);
  const Metrics m = algo->Iterate();
  EXPECT_EQ(m.at("replay_size"), static_cast<double>(T + 2));
  EXPECT_EQ(m.at("gradient_steps"), 1.0);  // learning at once, from the dataset's transitions
}

// With demonstrations too (DQfD's pretraining takes gradient steps first),
// the dataset is still added.
TEST(ReplayDatasetTest, DqnWithDemonstrationsStillSeedsItsReplay) {
  const std::string dir = RandomDataset("LunarLander-v3", "dqn_demo", 2);
  const int64_t T = ReadDataset(dir).steps();
  TrainConfig c = TrainConfig::Resolve("dqn", "LunarLander-v3", "",
                                       {"replay_dataset=" + dir, "learning_starts=0", "num_envs=1", "train_freq=1",
                                        "gradient_steps=1", "net_arch=[8]", "demo_policy=heuristic",
                                        "demo_episodes=1", "demo_pretrain_steps=3", "batch_size=8"},
                                       1000, 0);
  auto algo = MakeAlgorithm(c.Context(), *c.algo);
  const Metrics m = algo->Iterate();
  EXPECT_EQ(m.at("replay_size"), static_cast<double>(T + 1));
}

TEST(ReplayDatasetTest, SacStoresTheDatasetsActionsScaled) {
  const std::string dir = RandomDataset("Pendulum-v1", "sac", 2);
  const Dataset d = ReadDataset(dir);
  TrainConfig c = TrainConfig::Resolve(
      "sac", "Pendulum-v1", "",
      {"replay_dataset=" + dir, "learning_starts=0", "net_arch=[8]", "batch_size=8", "buffer_size=1000"}, 1000, 0);
  auto algo = MakeAlgorithm(c.Context(), *c.algo);
  auto& sac = dynamic_cast<Sac&>(*algo);
  const Metrics m = sac.Iterate();
  EXPECT_EQ(m.at("replay_size"), static_cast<double>(d.steps() + 1));
  ReplayBuffer::Batch b;
  sac.replay().Gather({0, 1}, 1, 0.99, &b);
  // Pendulum's torque in [-2, 2] is stored as torque / 2.
  for (int k = 0; k < 2; ++k) {
    float torque = 0;
    std::memcpy(&torque, d.action(k), sizeof(float));
    EXPECT_FLOAT_EQ(b.action_vec[k], torque / 2.0f) << k;
    EXPECT_FLOAT_EQ(b.reward[k], static_cast<float>(d.rewards[k])) << k;
  }
}

}  // namespace
}  // namespace rlforge
