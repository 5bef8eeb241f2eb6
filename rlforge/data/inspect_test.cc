#include "rlforge/data/inspect.h"
#include "rlforge/env/registry.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>

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

Dataset Record(const std::string& env_id, Policy& policy, int64_t episodes, int num_envs = 4, uint64_t seed = 21,
               const Kwargs& kwargs = {}) {
  VectorEnvOptions o;
  o.num_envs = num_envs;
  auto envs = VectorEnv::Make(env_id, kwargs, o);
  DatasetInfo info;
  info.env_id = env_id;
  info.env_kwargs = kwargs;
  return RecordDataset(*envs, policy, {episodes, seed, 0.0}, info);
}

Dataset Record(Policy& policy, int64_t episodes) { return Record("CartPole-v1", policy, episodes); }

Dataset RecordRandom(int64_t episodes) {
  RandomPolicy p(Space::Discrete(2), 4);
  return Record(p, episodes);
}

std::vector<std::string> Codes(const DatasetReport& r) {
  std::vector<std::string> c;
  for (const auto& f : r.flags) c.push_back(f.code + ": " + f.message);
  return c;
}

// Rewrites dir's metadata.json through `edit` (as another tool would).
void EditMetadata(const std::string& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json meta;
  {
    std::ifstream f(dir + "/metadata.json");
    meta = nlohmann::json::parse(f);
  }
  edit(meta);
  std::ofstream(dir + "/metadata.json") << meta.dump();
}

// The report of dataset d, written to a fresh directory that is removed again.
DatasetReport Inspected(const std::string& name, const Dataset& d, int64_t replay_episodes = 10) {
  const std::string dir = Dir(name);
  WriteDataset(d, dir);
  DatasetReport r = InspectDataset(dir, {replay_episodes});
  fs::remove_all(dir);
  return r;
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

// Wrong counts in metadata.json leave no episode out: they were reported as
// "1 damaged (left out)". A dataset of no episodes is flagged (it passed
// --strict with "flags: none" and a mean return of 0). A number written as
// text was read as absent ("only one reference score is given").
TEST(InspectTest, MetadataCountsEmptyDatasetsAndTextNumbersAreSaidForWhatTheyAre) {
  const std::string dir = Dir("metadata");
  WriteDataset(RecordRandom(3), dir);
  EditMetadata(dir, [](nlohmann::json& m) { m["total_episodes"] = 5; });
  {
    const DatasetReport r = InspectDataset(dir);
    EXPECT_TRUE(r.problems.empty()) << ::testing::PrintToString(r.problems);
    ASSERT_EQ(r.metadata_problems.size(), 1u);
    EXPECT_NE(r.metadata_problems[0].find("total_episodes is 5"), std::string::npos) << r.metadata_problems[0];
    EXPECT_TRUE(r.has_flag("malformed"));
    EXPECT_NE(r.ToText().find("unfinished; 0 damaged (left out)"), std::string::npos) << r.ToText();
  }
  // No episodes at all.
  hid_t f = H5Fopen((dir + "/main_data.hdf5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  for (const char* g : {"episode_0", "episode_1", "episode_2"}) H5Ldelete(f, g, H5P_DEFAULT);
  H5Fclose(f);
  EditMetadata(dir, [](nlohmann::json& m) {
    m["total_episodes"] = 0, m["total_steps"] = 0, m["ref_min_score"] = 0, m["ref_max_score"] = 500;
  });
  {
    const DatasetReport r = InspectDataset(dir);
    EXPECT_TRUE(r.has_flag("empty")) << ::testing::PrintToString(Codes(r));
    EXPECT_TRUE(std::isnan(r.mean_return));
    const std::string text = r.ToText();
    for (const char* want : {"return: (no episodes)", "behaviour mean return (no episodes)",
                             "(not computed: fewer than 2 steps)"})
      EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
    EXPECT_EQ(text.find("no reference scores"), std::string::npos) << text;  // it has them: nothing to normalize
    EXPECT_TRUE(nlohmann::json::parse(r.ToJson())["score"]["mean_return"].is_null());
  }
  EditMetadata(dir, [](nlohmann::json& m) { m["ref_min_score"] = 0, m["ref_max_score"] = "500"; });
  try {
    InspectDataset(dir);
    ADD_FAILURE() << "a reference score written as text was taken";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'ref_max_score' must be a number (or null), got string \"500\""),
              std::string::npos)
        << e.what();
  }
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

TEST(InspectTest, FlagsRecordingErrorsTrainingWouldMeet) {
  // An action outside Discrete(2) is out of the space, not non-finite, and
  // takes no share of the classes (the entropy stays a fraction of log 2).
  {
    Dataset d = RecordRandom(6);
    *reinterpret_cast<int64_t*>(d.actions.data() + 3 * d.act_bytes) = 5;
    const DatasetReport r = Inspected("act5", d);
    EXPECT_TRUE(r.has_flag("out_of_space")) << ::testing::PrintToString(Codes(r));
    EXPECT_FALSE(r.has_flag("non_finite")) << ::testing::PrintToString(Codes(r));
    EXPECT_EQ(r.out_of_space_actions, 1);
    EXPECT_EQ(r.non_finite_actions, 0);
    EXPECT_EQ(r.actions[0].counts[0] + r.actions[0].counts[1], d.steps() - 1);
    EXPECT_LE(r.actions[0].entropy_ratio, 1.0);
  }
  // A step marked terminated in the middle of its episode.
  {
    Dataset d = RecordRandom(6);
    d.terminated[d.episode_first_step[2] + 1] = 1;
    const DatasetReport r = Inspected("early", d);
    EXPECT_TRUE(r.has_flag("early_end")) << ::testing::PrintToString(Codes(r));
  }
  // An episode missing every field is one damaged episode.
  {
    const std::string dir = Dir("all_missing");
    WriteDataset(RecordRandom(6), dir);
    hid_t f = H5Fopen((dir + "/main_data.hdf5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    for (const char* field : {"observations", "actions", "rewards", "terminations", "truncations"})
      H5Ldelete(f, (std::string("episode_3/") + field).c_str(), H5P_DEFAULT);
    H5Fclose(f);
    const DatasetReport r = InspectDataset(dir);
    EXPECT_EQ(r.problems.size(), 1u) << ::testing::PrintToString(r.problems);
    EXPECT_EQ(r.data.episodes(), 5);
    fs::remove_all(dir);
  }
}

TEST(InspectTest, MasksThatLeaveNoLegalActionOrThatTheActionBreaksAreFlagged) {
  const auto probe = Make("TowerDefense-v0");
  auto policy = Registry::Global().MakeScriptedPolicy("heuristic", "TowerDefense-v0", *probe, 3);
  const Dataset clean = Record("TowerDefense-v0", *policy, 2, /*num_envs=*/2, /*seed=*/5);
  ASSERT_GT(clean.mask_size, 0);
  {
    const DatasetReport r = Inspected("masks_clean", clean, /*replay_episodes=*/0);
    EXPECT_FALSE(r.has_flag("no_legal_action") || r.has_flag("illegal_action")) << ::testing::PrintToString(Codes(r));
  }
  {
    // Row 5's mask all zero: no legal value anywhere, and the action of its
    // step breaks it.
    Dataset d = clean;
    std::fill_n(d.masks.begin() + 5 * d.mask_size, d.mask_size, 0);
    const DatasetReport r = Inspected("masks_zero", d, /*replay_episodes=*/0);
    EXPECT_TRUE(r.has_flag("no_legal_action")) << ::testing::PrintToString(Codes(r));
    EXPECT_TRUE(r.has_flag("illegal_action")) << ::testing::PrintToString(Codes(r));
  }
}

TEST(InspectTest, ANonFiniteBoxActionIsNotAConstantOne) {
  RandomPolicy random(Make("Pendulum-v1")->action_space(), 8);
  Dataset d = Record("Pendulum-v1", random, 2, /*num_envs=*/2, /*seed=*/9);
  reinterpret_cast<float*>(d.actions.data())[3] = NAN;
  const DatasetReport r = Inspected("nan_box", d, /*replay_episodes=*/0);
  EXPECT_TRUE(r.has_flag("non_finite")) << ::testing::PrintToString(Codes(r));
  EXPECT_FALSE(r.has_flag("single_action")) << ::testing::PrintToString(Codes(r));
  EXPECT_TRUE(std::isfinite(r.actions[0].mean) && r.actions[0].std > 0);
}

TEST(InspectTest, AnotherLibrarysEnvSpecKeepsTheKwargsRlforgeTakesAndItsDrawsAreNotFlagged) {
  // Slippery FrozenLake episodes whose recorded seeds are not the ones that
  // drew their slips: as another library's recording looks to rlforge.
  RandomPolicy random(Space::Discrete(4), 5);
  Dataset d = Record("FrozenLake-v1", random, 16, /*num_envs=*/8, /*seed=*/7);
  for (auto& seed : d.episode_seed)
    if (seed >= 0) seed += 1000;
  const std::string dir = Dir("foreign");
  WriteDataset(d, dir);
  const DatasetReport ours = InspectDataset(dir);
  EXPECT_TRUE(ours.has_flag("replay_mismatch")) << ::testing::PrintToString(Codes(ours));
  // Gymnasium's env_spec, as Minari stores it (a JSON string).
  EditMetadata(dir, [](nlohmann::json& meta) {
    meta["env_spec"] = nlohmann::json{{"id", "FrozenLake-v1"},
                                      {"entry_point", "gymnasium.envs.toy_text.frozen_lake:FrozenLakeEnv"},
                                      {"max_episode_steps", 50},
                                      {"kwargs",
                                       {{"desc", {"SFFF", "FHFH", "FFFH", "HFFG"}}, {"is_slippery", true},
                                        {"reward_schedule", {1, 0, 0}}, {"success_rate", "lots"},
                                        {"render_mode", nullptr}, {"not_rlforges", 3}}}}
                           .dump();
  });
  const DatasetInfo read = ReadDatasetInfo(dir);
  EXPECT_TRUE(read.foreign_env_spec);
  // Gymnasium's lists in rlforge's format; a value rlforge's env cannot take
  // is reported with the kwargs it does not have.
  EXPECT_EQ(read.env_kwargs.Find("desc"), std::optional<std::string>("SFFF/FHFH/FFFH/HFFG"));
  EXPECT_EQ(read.env_kwargs.Find("reward_schedule"), std::optional<std::string>("1,0,0"));
  EXPECT_EQ(read.env_kwargs.Find("is_slippery"), std::optional<std::string>("true"));
  EXPECT_EQ(read.env_kwargs.Find("max_episode_steps"), std::optional<std::string>("50"));
  EXPECT_FALSE(read.env_kwargs.Has("render_mode"));
  ASSERT_EQ(read.ignored_kwargs.size(), 2u);
  EXPECT_EQ(read.ignored_kwargs[0], "not_rlforges=3 (no such kwarg)");
  EXPECT_EQ(read.ignored_kwargs[1].rfind("success_rate=lots (a value rlforge's FrozenLake-v1 does not take: ", 0), 0u)
      << read.ignored_kwargs[1];
  EXPECT_NO_THROW(Make("FrozenLake-v1", read.env_kwargs));
  const DatasetReport theirs = InspectDataset(dir);
  EXPECT_GT(theirs.replay_mismatches, 0);
  EXPECT_EQ(theirs.replay_unverifiable, theirs.replay_mismatches);
  EXPECT_FALSE(theirs.has_flag("replay_mismatch")) << ::testing::PrintToString(Codes(theirs));
  EXPECT_NE(theirs.ToText().find("(ignored): not_rlforges=3 (no such kwarg), success_rate=lots"), std::string::npos)
      << theirs.ToText();
  fs::remove_all(dir);
}

// Rainy Taxi's start differs under another seeding; starting its replay
// from the recorded first observation (toy-text envs set their state from
// one) drew rlforge's slips instead of the recorder's: every episode was
// flagged a mismatch. A stochastic env is not started so; a deterministic
// Taxi is, and its episodes replay exactly.
TEST(InspectTest, AnotherLibrarysStochasticToyTextStartsAreNotReplayedFromTheirObservation) {
  for (const bool rainy : {true, false}) {
    RandomPolicy random(Space::Discrete(6), 5);
    Dataset d = Record("Taxi-v3", random, 8, /*num_envs=*/4, /*seed=*/7,
                       Kwargs({{"is_rainy", rainy ? "true" : "false"}, {"max_episode_steps", "40"}}));
    for (auto& seed : d.episode_seed)
      if (seed >= 0) seed += 1000;
    const std::string dir = Dir(rainy ? "foreign_rainy_taxi" : "foreign_taxi");
    WriteDataset(d, dir);
    EditMetadata(dir, [&](nlohmann::json& meta) {
      meta["env_spec"] = nlohmann::json{{"id", "Taxi-v3"},
                                        {"entry_point", "gymnasium.envs.toy_text.taxi:TaxiEnv"},
                                        {"max_episode_steps", 40},
                                        {"kwargs", {{"is_rainy", rainy}}}}
                             .dump();
    });
    const DatasetReport r = InspectDataset(dir);
    EXPECT_FALSE(r.has_flag("replay_mismatch")) << rainy << " " << ::testing::PrintToString(Codes(r)) << r.replay_note;
    if (!rainy) EXPECT_GT(r.replayed, 0) << r.replay_note;  // from their first observations, exactly
    fs::remove_all(dir);
  }
}

TEST(InspectTest, AnotherLibrarysClassicControlEpisodesAreStillChecked) {
  // CartPole episodes whose seeds rlforge's reset does not reproduce (as
  // Gymnasium's): replayed from their recorded first observations, where
  // the dynamics are deterministic, so a reward the env does not give is
  // flagged under another library's env_spec too.
  Dataset d = RecordRandom(8);
  for (auto& seed : d.episode_seed)
    if (seed >= 0) seed += 1000;
  d.rewards[d.episode_first_step[0] + 1] = 2.0;
  const std::string dir = Dir("foreign_cartpole");
  WriteDataset(d, dir);
  EditMetadata(dir, [](nlohmann::json& meta) {
    meta["env_spec"] = nlohmann::json{{"id", "CartPole-v1"},
                                      {"entry_point", "gymnasium.envs.classic_control.cartpole:CartPoleEnv"},
                                      {"max_episode_steps", 500},
                                      {"kwargs", nlohmann::json::object()}}
                           .dump();
  });
  const DatasetReport r = InspectDataset(dir);
  EXPECT_TRUE(r.data.info.foreign_env_spec);
  EXPECT_EQ(r.replay_unverifiable, 0);
  EXPECT_TRUE(r.has_flag("replay_mismatch")) << ::testing::PrintToString(Codes(r));
  fs::remove_all(dir);
}

TEST(InspectTest, AnotherLibrarysDeterministicEpisodesAreStillChecked) {
  // Non-slippery FrozenLake starts in one state and has one outcome per move:
  // another library's episode replays exactly whatever its seeds, so a
  // reward the env does not give is flagged (it used to count as
  // unverifiable, as a slippery lake's draws are).
  RandomPolicy random(Space::Discrete(4), 5);
  Dataset d = Record("FrozenLake-v1", random, 16, /*num_envs=*/8, /*seed=*/7, Kwargs{{"is_slippery", "false"}});
  for (auto& seed : d.episode_seed)
    if (seed >= 0) seed += 1000;
  d.rewards[d.episode_first_step[0]] = 5.0;
  const std::string dir = Dir("foreign_deterministic");
  WriteDataset(d, dir);
  EditMetadata(dir, [](nlohmann::json& meta) {
    meta["env_spec"] = nlohmann::json{{"id", "FrozenLake-v1"},
                                      {"entry_point", "gymnasium.envs.toy_text.frozen_lake:FrozenLakeEnv"},
                                      {"max_episode_steps", 100},
                                      {"kwargs", {{"is_slippery", false}}}}
                           .dump();
  });
  const DatasetReport r = InspectDataset(dir);
  EXPECT_TRUE(r.data.info.foreign_env_spec);
  EXPECT_EQ(r.data.info.env_kwargs.Find("is_slippery"), std::optional<std::string>("false"));
  EXPECT_EQ(r.replay_mismatches, 1);
  EXPECT_EQ(r.replay_unverifiable, 0);
  EXPECT_TRUE(r.has_flag("replay_mismatch")) << ::testing::PrintToString(Codes(r));
  fs::remove_all(dir);
}

TEST(InspectTest, ReferenceScoresThatCannotNormalizeAreFlaggedAndNotWritten) {
  Dataset d = RecordRandom(4);
  d.info.ref_min_score = 10;
  d.info.ref_max_score = 10;
  const std::string dir = Dir("refs");
  EXPECT_THROW(WriteDataset(d, dir), InvalidArgument);
  EXPECT_FALSE(fs::exists(dir + "/metadata.json"));
  d.info.ref_max_score = 500;
  WriteDataset(d, dir);
  // Edited by hand afterwards: min == max.
  EditMetadata(dir, [](nlohmann::json& meta) {
    ASSERT_EQ(meta["ref_max_score"].get<double>(), 500.0);
    meta["ref_max_score"] = 10.0;
  });
  const DatasetReport r = InspectDataset(dir, {/*replay_episodes=*/0});
  EXPECT_TRUE(r.has_flag("bad_reference_scores")) << ::testing::PrintToString(Codes(r));
  EXPECT_FALSE(r.normalized_score.has_value());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rlforge
