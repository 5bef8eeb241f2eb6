#include "rlforge/data/dataset.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "rlforge/core/error.h"
#include "rlforge/data/inspect.h"
#include "rlforge/data/jpeg.h"
#include "rlforge/env/registry.h"

namespace rlforge {
namespace {

namespace fs = std::filesystem;

std::string TempDir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("rlforge_dataset_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}

std::unique_ptr<VectorEnv> MakeVec(const std::string& id, int n) {
  VectorEnvOptions o;
  o.num_envs = n;
  return VectorEnv::Make(id, {}, o);
}

Dataset RecordCartPole(int64_t episodes, int num_envs, double epsilon = 0.0) {
  auto envs = MakeVec("CartPole-v1", num_envs);
  RandomPolicy policy(envs->single_action_space(), 3);
  DatasetInfo info;
  info.dataset_id = "rlforge/cartpole/random-v0";
  info.env_id = "CartPole-v1";
  info.algorithm_name = "random";
  return RecordDataset(*envs, policy, {episodes, 11, epsilon}, info);
}

// The strings Minari 0.5.3 writes for CartPole-v1's spaces (its metadata.json).
TEST(DatasetTest, SpacesSerializeAsMinariDoes) {
  auto env = Registry::Global().Make("CartPole-v1", {});
  EXPECT_EQ(SerializeSpace(env->observation_space()),
            R"({"type": "Box", "dtype": "float32", "shape": [4], "low": [-4.800000190734863, -Infinity, )"
            R"(-0.41887903213500977, -Infinity], "high": [4.800000190734863, Infinity, 0.41887903213500977, )"
            R"(Infinity]})");
  EXPECT_EQ(SerializeSpace(env->action_space()), R"({"type": "Discrete", "dtype": "int64", "start": 0, "n": 2})");
  for (const Space& s : {env->observation_space(), env->action_space(), Space::MultiDiscrete({3, 4, 2}),
                         Space::Box(0, 255, {2, 3, 1}, DType::kUInt8), Space::Discrete(5, -2), Space::MultiBinary(4)})
    EXPECT_EQ(DeserializeSpace(SerializeSpace(s)), s) << s.ToString();
  // Nested bounds (numpy's tolist) for a multi-dimensional Box.
  EXPECT_NE(SerializeSpace(Space::Box(-1, 1, {2, 2})).find("[[-1.0, -1.0], [-1.0, -1.0]]"), std::string::npos);
  EXPECT_THROW(DeserializeSpace(R"({"type": "Text", "max_length": 3})"), InvalidArgument);
}

TEST(DatasetTest, RecordKeepsEpisodesWholeAndChained) {
  const Dataset d = RecordCartPole(7, 3);
  ASSERT_EQ(d.episodes(), 7);
  EXPECT_EQ(d.rows(), d.steps() + 7);
  for (int64_t e = 0; e < d.episodes(); ++e) {
    const int64_t t0 = d.episode_first_step[e], T = d.episode_length(e);
    ASSERT_GE(T, 1);
    for (int64_t t = t0; t < t0 + T - 1; ++t) EXPECT_FALSE(d.terminated[t] || d.truncated[t]);
    EXPECT_TRUE(d.terminated[t0 + T - 1] || d.truncated[t0 + T - 1]);
    for (int64_t t = t0; t < t0 + T; ++t) EXPECT_EQ(d.row[t], d.row[t0] + (t - t0));
    EXPECT_DOUBLE_EQ(d.EpisodeReturns()[e], static_cast<double>(T));  // CartPole: +1 per step
  }
  // Each env's first episode has its reset seed: 11 + i. Replaying episode 0
  // from its seed with its actions reproduces its observations exactly.
  auto env = Registry::Global().Make("CartPole-v1", {});
  for (int64_t e = 0; e < d.episodes(); ++e) {
    if (d.episode_seed[e] < 0) continue;
    std::vector<float> o(4);
    Info info;
    env->Reset(static_cast<uint64_t>(d.episode_seed[e]), o.data(), &info);
    const int64_t t0 = d.episode_first_step[e];
    EXPECT_EQ(std::memcmp(o.data(), d.observation(d.row[t0]), 16), 0);
    for (int64_t t = t0; t < t0 + d.episode_length(e); ++t) {
      StepResult r = env->Step(d.action(t), o.data());
      EXPECT_EQ(std::memcmp(o.data(), d.observation(d.row[t] + 1), 16), 0) << "episode " << e << " step " << t;
      EXPECT_EQ(r.terminated, d.terminated[t] != 0);
    }
  }
}

TEST(DatasetTest, WriteThenReadGivesTheSameBytes) {
  const std::string dir = TempDir("roundtrip");
  const Dataset d = RecordCartPole(5, 2, 0.5);
  DatasetInfo info = d.info;
  Dataset w = d;
  w.info.ref_min_score = 9.5;
  w.info.ref_max_score = 500;
  w.info.num_episodes_average_score = 100;
  WriteDataset(w, dir);
  const Dataset r = ReadDataset(dir);
  EXPECT_EQ(r.info.env_id, "CartPole-v1");
  EXPECT_EQ(r.info.dataset_id, "rlforge/cartpole/random-v0");
  EXPECT_EQ(r.info.algorithm_name, "random");
  EXPECT_EQ(r.info.observation_space, d.info.observation_space);
  EXPECT_EQ(r.info.action_space, d.info.action_space);
  EXPECT_EQ(*r.info.ref_min_score, 9.5);
  EXPECT_EQ(*r.info.ref_max_score, 500);
  EXPECT_EQ(r.obs, d.obs);
  EXPECT_EQ(r.actions, d.actions);
  EXPECT_EQ(r.rewards, d.rewards);
  EXPECT_EQ(r.terminated, d.terminated);
  EXPECT_EQ(r.truncated, d.truncated);
  EXPECT_EQ(r.row, d.row);
  EXPECT_EQ(r.episode_seed, d.episode_seed);
  // The booleans are h5py's: an enum over int8 with FALSE = 0, TRUE = 1.
  hid_t f = H5Fopen((dir + "/main_data.hdf5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t ds = H5Dopen2(f, "episode_0/terminations", H5P_DEFAULT);
  hid_t t = H5Dget_type(ds);
  EXPECT_EQ(H5Tget_class(t), H5T_ENUM);
  EXPECT_EQ(H5Tget_size(t), 1u);
  char name[16] = {};
  int8_t one = 1;
  H5Tenum_nameof(t, &one, name, sizeof(name));
  EXPECT_STREQ(name, "TRUE");
  H5Tclose(t);
  H5Dclose(ds);
  H5Fclose(f);
  // A second write to the same directory is refused, and leaves it as it was.
  EXPECT_THROW(WriteDataset(w, dir), InvalidArgument);
  EXPECT_EQ(ReadDataset(dir).steps(), d.steps());
  fs::remove_all(dir);
}

// A smooth RGB test card (gradients and a square), JPEG's easy case.
std::vector<uint8_t> TestCard(int h, int w, int c) {
  std::vector<uint8_t> p(static_cast<size_t>(h * w * c));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) {
        const bool square = x >= w / 4 && x < w / 2 && y >= h / 4 && y < h / 2;
        p[(y * w + x) * c + k] = static_cast<uint8_t>(square ? 200 : x * 160 / w + k * 30 + y);
      }
  return p;
}

double MeanAbsDiff(const uint8_t* a, const uint8_t* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += std::abs(static_cast<int>(a[i]) - static_cast<int>(b[i]));
  return s / static_cast<double>(n);
}

TEST(JpegTest, FramesRoundTripClosely) {
  for (int c : {1, 3}) {
    const int h = 48, w = 64;
    const std::vector<uint8_t> card = TestCard(h, w, c);
    const std::vector<uint8_t> jpeg = EncodeJpeg(card.data(), h, w, c);
    ASSERT_GT(jpeg.size(), 4u);
    EXPECT_EQ(jpeg[0], 0xFF);  // SOI marker
    EXPECT_EQ(jpeg[1], 0xD8);
    EXPECT_LT(jpeg.size(), card.size());  // compressed
    std::vector<uint8_t> back(card.size());
    DecodeJpeg(jpeg.data(), jpeg.size(), h, w, c, back.data(), "card");
    EXPECT_LT(MeanAbsDiff(card.data(), back.data(), card.size()), 4.0) << c << " channels";
    EXPECT_NE(card, back);  // lossy at quality 75
    // Another size, damaged bytes and non-JPEG bytes are named.
    try {
      DecodeJpeg(jpeg.data(), jpeg.size(), h, w + 1, c, back.data(), "episode_3: observation 7");
      ADD_FAILURE() << "no error";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("episode_3: observation 7: a JPEG frame of 48x64, want 48x65"),
                std::string::npos) << e.what();
    }
    // Truncated (libjpeg would fill in the rest, with a warning): refused, as Pillow refuses it.
    const std::vector<uint8_t> half(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() / 2));
    try {
      DecodeJpeg(half.data(), half.size(), h, w, c, back.data(), "half");
      ADD_FAILURE() << "no error";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("half: not a readable JPEG frame"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
    // A header that claims 65000 x 65000 is refused before anything is allocated for it.
    std::vector<uint8_t> huge = jpeg;
    for (size_t i = 0; i + 8 < huge.size(); ++i)
      if (huge[i] == 0xFF && huge[i + 1] == 0xC0) {  // SOF0: length, precision, height, width
        huge[i + 5] = huge[i + 7] = 0xFD;
        huge[i + 6] = huge[i + 8] = 0xE8;
        break;
      }
    try {
      DecodeJpeg(huge.data(), huge.size(), h, w, c, back.data(), "huge");
      ADD_FAILURE() << "no error";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("a JPEG frame of 65000x65000"), std::string::npos) << e.what();
    }
    const std::vector<uint8_t> junk = {1, 2, 3, 4, 5, 6, 7, 8};
    try {
      DecodeJpeg(junk.data(), junk.size(), h, w, c, back.data(), "frame");
      ADD_FAILURE() << "no error";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("frame: not a readable JPEG frame"), std::string::npos) << e.what();
    }
  }
}

// TowerDefense-v0's pixels ([56, 80, 3] uint8, 0..255): Minari's image space,
// stored one JPEG per observation; read back as the decoded frames, every
// other field exactly.
TEST(DatasetTest, ImageObservationsTravelAsJpegFrames) {
  VectorEnvOptions o;
  o.num_envs = 2;
  auto envs = VectorEnv::Make("TowerDefense-v0", Kwargs({{"obs_mode", "pixels"}, {"max_ticks", "60"}}), o);
  ASSERT_TRUE(IsMinariImageSpace(envs->single_observation_space()));
  RandomPolicy policy(envs->single_action_space(), 3, true);
  DatasetInfo info;
  info.env_id = "TowerDefense-v0";
  info.env_kwargs = Kwargs({{"obs_mode", "pixels"}, {"max_ticks", "60"}});
  const Dataset d = RecordDataset(*envs, policy, {3, 5, 0.0}, info);
  const std::string dir = TempDir("images");
  WriteDataset(d, dir);
  const Dataset r = ReadDataset(dir);
  ASSERT_EQ(r.obs.size(), d.obs.size());
  // Flat colours with sharp edges, chroma at half resolution: 4.6 levels on average here.
  EXPECT_LT(MeanAbsDiff(r.obs.data(), d.obs.data(), d.obs.size()), 8.0);
  EXPECT_EQ(r.actions, d.actions);
  EXPECT_EQ(r.rewards, d.rewards);
  EXPECT_EQ(r.masks, d.masks);
  EXPECT_EQ(r.row, d.row);
  // On disk: one JPEG per row, [T + 1, bytes] uint8 or variable-length.
  hid_t f = H5Fopen((dir + "/main_data.hdf5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t ds = H5Dopen2(f, "episode_0/observations", H5P_DEFAULT);
  hid_t sp = H5Dget_space(ds), t = H5Dget_type(ds);
  hsize_t dims[2] = {};
  const int rank = H5Sget_simple_extent_dims(sp, dims, nullptr);
  EXPECT_EQ(static_cast<int64_t>(dims[0]), d.episode_length(0) + 1);
  EXPECT_TRUE((rank == 2 && H5Tget_class(t) == H5T_INTEGER) || (rank == 1 && H5Tget_class(t) == H5T_VLEN));
  H5Tclose(t);
  H5Sclose(sp);
  H5Dclose(ds);
  H5Fclose(f);
  // inspect replays the seeded episodes exactly, comparing the env's frames
  // as they read back from JPEG (raw frames would differ).
  const DatasetReport report = InspectDataset(dir);
  EXPECT_GE(report.replayed, 2);
  EXPECT_EQ(report.replay_mismatches, 0) << report.replay_note;
  // Its statistics are per channel (R, G, B over all pixels), not 13,440 per-pixel rows.
  EXPECT_TRUE(report.features_per_channel);
  ASSERT_EQ(report.features.size(), 3u);
  for (const auto& f : report.features) {
    EXPECT_GE(f.min, 0);
    EXPECT_LE(f.max, 255);
    EXPECT_GT(f.std, 0);
  }
  // A 4-channel image space is refused by name.
  const Space rgba = Space::Box(0, 255, {40, 40, 4}, DType::kUInt8);
  EXPECT_THROW(CheckStorableObservations(rgba, "Rgba-v0"), InvalidArgument);
  fs::remove_all(dir);
}

TEST(DatasetTest, MasksTravelInInfos) {
  auto envs = MakeVec("TowerDefense-v0", 2);
  ASSERT_GT(envs->mask_size(), 0);
  RandomPolicy policy(envs->single_action_space(), 1, true);
  DatasetInfo info;
  info.env_id = "TowerDefense-v0";
  const Dataset d = RecordDataset(*envs, policy, {2, 5, 0.0}, info);
  ASSERT_EQ(d.mask_size, envs->mask_size());
  ASSERT_EQ(static_cast<int64_t>(d.masks.size()), d.rows() * d.mask_size);
  // Every recorded action is legal under the mask stored for its observation.
  const Space& as = d.info.action_space;
  for (int64_t t = 0; t < d.steps(); ++t) {
    const auto* a = reinterpret_cast<const int64_t*>(d.action(t));
    const uint8_t* m = d.masks.data() + d.row[t] * d.mask_size;
    int64_t offset = 0;
    for (size_t k = 0; k < as.nvec().size(); ++k) {
      EXPECT_EQ(m[offset + a[k]], 1) << "step " << t << " dim " << k;
      offset += as.nvec()[k];
    }
  }
  const std::string dir = TempDir("masks");
  WriteDataset(d, dir);
  const Dataset r = ReadDataset(dir);
  EXPECT_EQ(r.masks, d.masks);
  EXPECT_EQ(r.info.env_id, "TowerDefense-v0");
  fs::remove_all(dir);
}

// TowerDefense-v0 masks its MultiDiscrete action conditionally (the tile
// depends on the unit type); in strict mode an illegal action stops the env.
// The random policy and the epsilon noise of `record` choose each dimension
// under the mask its earlier dimensions leave, so recording never sends one
// (before: "illegal action (type 1, slot 2, tile 28 ...)").
TEST(DatasetTest, RandomAndNoisyActionsHonourConditionalMasks) {
  VectorEnvOptions o;
  o.num_envs = 4;
  auto envs = VectorEnv::Make("TowerDefense-v0", Kwargs({{"strict", "true"}, {"ticks_per_step", "4"}}), o);
  ASSERT_TRUE(envs->has_conditional_action_mask());
  DatasetInfo info;
  info.env_id = "TowerDefense-v0";
  RandomPolicy random(envs->single_action_space(), 1, true);
  const Dataset r = RecordDataset(*envs, random, {8, 5, 0.0}, info);
  EXPECT_EQ(r.episodes(), 8);
  auto heuristic = Registry::Global().MakeScriptedPolicy("heuristic", "TowerDefense-v0", envs->env(0), 3);
  const Dataset h = RecordDataset(*envs, *heuristic, {8, 6, 0.5}, info);
  EXPECT_EQ(h.episodes(), 8);
  // Random play deploys units (not only no-ops): some steps choose a unit type.
  int64_t deploys = 0;
  for (int64_t t = 0; t < r.steps(); ++t) deploys += reinterpret_cast<const int64_t*>(r.action(t))[0] != 0;
  EXPECT_GT(deploys, 0);
}

TEST(DatasetTest, DamageIsNamed) {
  const std::string dir = TempDir("damage");
  WriteDataset(RecordCartPole(3, 1), dir);
  // Remove one episode's rewards.
  hid_t f = H5Fopen((dir + "/main_data.hdf5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  H5Ldelete(f, "episode_1/rewards", H5P_DEFAULT);
  H5Fclose(f);
  try {
    ReadDataset(dir);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("episode_1: missing field 'rewards'"), std::string::npos) << e.what();
  }
  std::vector<std::string> problems;
  const Dataset d = ReadDataset(dir, &problems);
  EXPECT_EQ(d.episodes(), 2);
  ASSERT_EQ(problems.size(), 1u);
  // A mask of the wrong shape damages its episode only (the others keep theirs).
  {
    const std::string td = TempDir("bad_mask");
    auto envs = MakeVec("TowerDefense-v0", 1);
    RandomPolicy policy(envs->single_action_space(), 1, true);
    DatasetInfo info;
    info.env_id = "TowerDefense-v0";
    WriteDataset(RecordDataset(*envs, policy, {3, 5, 0.0}, info), td);
    hid_t f = H5Fopen((td + "/main_data.hdf5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "episode_0/infos/action_mask", H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "episode_0/infos", H5P_DEFAULT);
    const hsize_t dims[2] = {2, 3};
    hid_t sp = H5Screate_simple(2, dims, nullptr);
    hid_t ds = H5Dcreate2(g, "action_mask", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const uint8_t ones[6] = {1, 1, 1, 1, 1, 1};
    H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, ones);
    H5Dclose(ds), H5Sclose(sp), H5Gclose(g), H5Fclose(f);
    std::vector<std::string> found;
    const Dataset r = ReadDataset(td, &found);
    EXPECT_EQ(r.episodes(), 2);
    EXPECT_GT(r.mask_size, 0);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_NE(found[0].find("action_mask is (2, 3)"), std::string::npos) << found[0];
    fs::remove_all(td);
  }
  // Episodes of no steps, or without the masks the dataset keeps, are refused.
  Dataset empty = Dataset::Empty(DatasetInfo{}, 2);
  const uint8_t bytes[64] = {};
  const double reward = 0;
  EXPECT_THROW(empty.AddEpisode(bytes, bytes, bytes, &reward, bytes, bytes, 0, -1), InvalidArgument);
  EXPECT_THROW(empty.AddEpisode(bytes, nullptr, bytes, &reward, bytes, bytes, 1, -1), InvalidArgument);
  // Not a dataset at all.
  std::ofstream(dir + "/metadata.json") << "{\"observation_space\": 3";
  EXPECT_THROW(ReadDataset(dir), Error);
  EXPECT_THROW(ReadDataset(dir + "/nope"), InvalidArgument);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rlforge
