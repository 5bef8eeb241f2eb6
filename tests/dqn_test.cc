// DQN: replay buffer behaviour and memory, exact resume with the replay in the
// checkpoint, and the zoo's CartPole preset learning target.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "rlforge/algos/dqn/dqn.h"
#include "rlforge/buffers/replay_buffer.h"
#include "rlforge/buffers/sum_tree.h"
#include "rlforge/train/runner.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

TEST(ReplayBufferTest, FifoOverwriteAndSampling) {
  ReplayBuffer rb(3, 2, 2);
  for (int k = 0; k < 5; ++k) {
    const float o[2] = {float(k), float(k)}, n[2] = {float(k + 1), float(k + 1)};
    const uint8_t m[2] = {1, static_cast<uint8_t>(k % 2)};
    rb.Add(o, n, k, 10.0f * k, k == 4, m);
  }
  EXPECT_EQ(rb.size(), 3);  // transitions 2, 3, 4 remain
  ReplayBuffer::Batch b;
  Rng rng(0);
  std::set<int64_t> seen;
  for (int t = 0; t < 50; ++t) {
    rb.Sample(4, rng, &b);
    for (int i = 0; i < 4; ++i) {
      const int64_t k = b.action[i];
      seen.insert(k);
      EXPECT_EQ(b.obs[2 * i], k);
      EXPECT_EQ(b.next_obs[2 * i], k + 1);
      EXPECT_EQ(b.reward[i], 10.0f * k);
      EXPECT_EQ(b.terminated[i], k == 4);
      EXPECT_EQ(b.next_mask[2 * i + 1], k % 2);
    }
  }
  EXPECT_EQ(seen, (std::set<int64_t>{2, 3, 4}));
  std::string state;
  rb.Save(&state);
  ReplayBuffer copy(3, 2, 2);
  copy.Load(state);
  EXPECT_EQ(copy.size(), 3);
  EXPECT_THROW(ReplayBuffer(4, 2, 2).Load(state), Error);
}

TEST(ReplayBufferTest, MillionCartPoleTransitionsCostTheirRawBytes) {
  // Raw bytes of a CartPole transition: obs and next obs (2 x 4 float32),
  // action (int64), reward (float32), terminated (1 byte) = 45.
  ReplayBuffer rb(1000000, 4, 0);
  EXPECT_LE(static_cast<double>(rb.bytes()), 1.3 * 45.0 * 1000000);
}

TEST(SumTreeTest, SumsFindsAndSamplesProportionally) {
  SumTree t(5);
  const double p[5] = {1, 0, 3, 2, 4};
  for (int i = 0; i < 5; ++i) t.Set(i, p[i]);
  EXPECT_DOUBLE_EQ(t.Total(), 10.0);
  EXPECT_EQ(t.Find(0.5), 0);
  EXPECT_EQ(t.Find(1.0), 2);  // slot 1 has priority 0: never found
  EXPECT_EQ(t.Find(3.99), 2);
  EXPECT_EQ(t.Find(4.0), 3);
  EXPECT_EQ(t.Find(9.99), 4);
  t.Set(2, 0.5);
  EXPECT_DOUBLE_EQ(t.Total(), 7.5);
  Rng rng(0);
  std::vector<int> counts(5, 0);
  const int n = 75000;
  for (int k = 0; k < n; ++k) ++counts[t.Find(rng.Uniform() * t.Total())];
  EXPECT_EQ(counts[1], 0);
  const double expected[5] = {1, 0, 0.5, 2, 4};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(counts[i] / double(n), expected[i] / 7.5, 0.01) << i;
}

// Trains 3,000 steps with checkpoints every 1,000, resumes a copy from the
// 1,000-step checkpoint, and compares the final Q-networks.
void ExpectExactResume(const std::string& name, std::vector<std::string> sets) {
  const std::string root = testing::TempDir() + "/rlforge_dqn_resume_" + name;
  fs::remove_all(root);
  fs::create_directories(root);
  sets.insert(sets.end(), {"learning_starts=200", "train_freq=100", "gradient_steps=10", "buffer_size=5000",
                           "checkpoint_interval=1000", "eval_episodes=0"});
  RunnerOptions quiet;
  quiet.progress = false;
  Train(TrainConfig::Resolve("dqn", "CartPole-v1", "", sets, 3000, 1), root + "/a", quiet);
  fs::copy(root + "/a", root + "/b", fs::copy_options::recursive);
  fs::remove(root + "/b/checkpoints/final.pt");
  fs::remove(root + "/b/checkpoints/step_2000.pt");
  Resume(root + "/b", std::nullopt, quiet);
  auto a = LoadRun(root + "/a"), b = LoadRun(root + "/b");
  auto pa = dynamic_cast<Dqn&>(*a.algorithm).q_net()->parameters();
  auto pb = dynamic_cast<Dqn&>(*b.algorithm).q_net()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << name << " parameter " << i;
}

TEST(DqnTest, ResumeWithTheReplayBufferIsExact) { ExpectExactResume("uniform", {}); }

TEST(DqnTest, PrioritizedReplayResumesExactly) { ExpectExactResume("prioritized", {"prioritized_replay=true"}); }

// The zoo's preset: 50k steps, seed 0, 100-episode deterministic evaluation.
TEST(LearningTest, PrioritizedDqnSolvesCartPoleWithin50kSteps) {
  const std::string dir = testing::TempDir() + "/rlforge_dqn_per_cartpole";
  fs::remove_all(dir);
  RunnerOptions quiet;
  quiet.progress = false;
  const TrainResult r =
      Train(TrainConfig::Resolve("dqn", "CartPole-v1", "", {"prioritized_replay=true"}, std::nullopt, 0), dir, quiet);
  std::printf("DQN + prioritized replay CartPole-v1: eval return %.1f\n", r.eval.mean_return);
  EXPECT_GE(r.eval.mean_return, 475.0);
}

TEST(LearningTest, DqnSolvesCartPoleWithin50kSteps) {
  const std::string dir = testing::TempDir() + "/rlforge_dqn_cartpole";
  fs::remove_all(dir);
  RunnerOptions quiet;
  quiet.progress = false;
  const TrainResult r = Train(TrainConfig::Resolve("dqn", "CartPole-v1", "", {}, std::nullopt, 0), dir, quiet);
  std::printf("DQN CartPole-v1: %lld steps in %.1f s, eval return %.1f +- %.1f\n",
              static_cast<long long>(r.timesteps), r.seconds, r.eval.mean_return, r.eval.std_return);
  EXPECT_GE(r.eval.mean_return, 475.0);
}

}  // namespace
}  // namespace rlforge
