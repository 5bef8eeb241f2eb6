#include "rlforge/data/inspect.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

namespace rlforge {
namespace {

namespace fs = std::filesystem;

std::string Dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("rlforge_inspect_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}

class ConstantPolicy : public Policy {
 public:
  void Act(const void*, const uint8_t*, int n, void* actions) override {
    for (int i = 0; i < n; ++i) static_cast<int64_t*>(actions)[i] = 0;
  }
  std::string name() const override { return "constant"; }
};

Dataset Record(Policy& policy, int64_t episodes) {
  VectorEnvOptions o;
  o.num_envs = 4;
  auto envs = VectorEnv::Make("CartPole-v1", {}, o);
  DatasetInfo info;
  info.env_id = "CartPole-v1";
  return RecordDataset(*envs, policy, {episodes, 21, 0.0}, info);
}

Dataset RecordRandom(int64_t episodes) {
  RandomPolicy p(Space::Discrete(2), 4);
  return Record(p, episodes);
}

std::vector<std::string> Codes(const DatasetReport& r) {
  std::vector<std::string> c;
  for (const auto& f : r.flags) c.push_back(f.code + ": " + f.message);
  return c;
}

TEST(InspectTest, ACleanDatasetRaisesNoFlagAndReplays) {
  const std::string dir = Dir("clean");
  Dataset d = RecordRandom(20);
  d.info.ref_min_score = 0;
  d.info.ref_max_score = 500;
  WriteDataset(d, dir);
  const DatasetReport r = InspectDataset(dir);
  EXPECT_TRUE(r.flags.empty()) << ::testing::PrintToString(Codes(r));
  EXPECT_EQ(r.replayed, 4);  // each env's first episode has its seed
  EXPECT_EQ(r.replay_mismatches, 0);
  EXPECT_NEAR(*r.normalized_score, r.mean_return / 500.0, 1e-12);
  EXPECT_EQ(r.terminated_episodes, 20);
  ASSERT_EQ(r.actions.size(), 1u);
  EXPECT_EQ(r.actions[0].counts[0] + r.actions[0].counts[1], d.steps());
  EXPECT_GT(r.actions[0].entropy_ratio, 0.95);
  // CartPole's reward is constant 1: its correlation is undefined, not flagged.
  EXPECT_EQ(r.correlation.size(), 5u);
  EXPECT_NE(r.ToJson().find("\"flags\": []"), std::string::npos);
  fs::remove_all(dir);
}

TEST(InspectTest, FlagsEachDefectOfADamagedDataset) {
  // NaNs in an observation.
  {
    const std::string dir = Dir("nan");
    Dataset d = RecordRandom(6);
    reinterpret_cast<float*>(d.obs.data())[5] = NAN;
    WriteDataset(d, dir);
    const DatasetReport r = InspectDataset(dir);
    EXPECT_TRUE(r.has_flag("non_finite")) << ::testing::PrintToString(Codes(r));
    EXPECT_EQ(r.non_finite_obs, 1);
    fs::remove_all(dir);
  }
  // A missing field.
  {
    const std::string dir = Dir("missing");
    WriteDataset(RecordRandom(6), dir);
    hid_t f = H5Fopen((dir + "/main_data.hdf5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "episode_2/actions", H5P_DEFAULT);
    H5Fclose(f);
    const DatasetReport r = InspectDataset(dir);
    EXPECT_TRUE(r.has_flag("missing_field")) << ::testing::PrintToString(Codes(r));
    EXPECT_EQ(r.data.episodes(), 5);
    fs::remove_all(dir);
  }
  // All one action.
  {
    const std::string dir = Dir("one_action");
    ConstantPolicy constant;
    WriteDataset(Record(constant, 10), dir);
    const DatasetReport r = InspectDataset(dir);
    EXPECT_TRUE(r.has_flag("single_action")) << ::testing::PrintToString(Codes(r));
    EXPECT_DOUBLE_EQ(r.actions[0].top_share, 1.0);
    fs::remove_all(dir);
  }
  // Duplicated episodes.
  {
    const std::string dir = Dir("duplicates");
    const Dataset d = RecordRandom(4);
    Dataset twice = d;
    const int64_t T = d.episode_length(1), t0 = d.episode_first_step[1];
    std::vector<double> rewards(d.rewards.begin() + t0, d.rewards.begin() + t0 + T);
    twice.AddEpisode(d.observation(d.row[t0]), nullptr, d.action(t0), rewards.data(), d.terminated.data() + t0,
                     d.truncated.data() + t0, T, -1);
    WriteDataset(twice, dir);
    const DatasetReport r = InspectDataset(dir);
    EXPECT_TRUE(r.has_flag("duplicate_episodes")) << ::testing::PrintToString(Codes(r));
    EXPECT_EQ(r.duplicate_episodes, 1);
    EXPECT_TRUE(r.has_flag("duplicate_transitions"));
    fs::remove_all(dir);
  }
  // A reward the env does not give (replay).
  {
    const std::string dir = Dir("reward");
    Dataset d = RecordRandom(4);
    d.rewards[d.episode_first_step[0] + 1] = 2.0;
    WriteDataset(d, dir);
    const DatasetReport r = InspectDataset(dir);
    EXPECT_TRUE(r.has_flag("replay_mismatch")) << ::testing::PrintToString(Codes(r));
    EXPECT_NE(r.replay_note.find("the reward of step 1"), std::string::npos) << r.replay_note;
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace rlforge
