// CarRacing-v3: what can be checked against Gymnasium exactly (the track
// generator's invariants, the wheel physics' first steps by hand, the
// reward's bookkeeping, terminations, action mappings), the renderer against
// Gymnasium's own pixels for the same scenes (testdata written by
// bench/gymnasium/car_racing_scenes.py), a random policy's statistics
// against Gymnasium's, and clone/restore and checkpoints by replay.
#include "rlforge/envs/box2d/car_racing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "rlforge/env/evaluation.h"
#include "rlforge/env/registry.h"
#include "rlforge/env/vector_env.h"

namespace rlforge {
namespace {

constexpr int kObsBytes = 96 * 96 * 3;

CarRacing::Options Continuous() { return {}; }
CarRacing::Options Discrete() {
  CarRacing::Options o;
  o.continuous = false;
  return o;
}

TEST(CarRacingTest, Spaces) {
  CarRacing env(Continuous());
  EXPECT_EQ(env.observation_space().shape(), (std::vector<int64_t>{96, 96, 3}));
  EXPECT_EQ(env.observation_space().dtype(), DType::kUInt8);
  EXPECT_EQ(env.action_space().low(), (std::vector<double>{-1, 0, 0}));
  EXPECT_EQ(env.action_space().high(), (std::vector<double>{1, 1, 1}));
  CarRacing d(Discrete());
  EXPECT_EQ(d.action_space().n(), 5);
  const EnvSpec& spec = Registry::Global().Spec("CarRacing-v3");
  EXPECT_EQ(spec.max_episode_steps, 1000);
  EXPECT_EQ(spec.reward_threshold, 900.0);
}

// The generator's invariants: a closed loop of 21/6-unit steps inside the
// playfield whose heading turns by at most the turn rate per step, kerbs
// only along runs of same-way hard turns, the car at the first tile facing
// along the track.
TEST(CarRacingTest, TrackInvariants) {
  int total_kerbs = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    CarRacing env(Continuous());
    std::vector<uint8_t> obs(kObsBytes);
    env.Reset(seed, obs.data());
    const auto& t = env.track();
    const int n = static_cast<int>(t.size());
    EXPECT_GT(n, 200) << seed;  // Gymnasium's tracks have about 250-330 tiles
    EXPECT_LT(n, 400) << seed;
    for (int i = 1; i < n; ++i) {
      EXPECT_NEAR(std::hypot(t[i].x - t[i - 1].x, t[i].y - t[i - 1].y), 21.0 / 6, 1e-9) << seed << " " << i;
      // beta is the mean of the headings before and after a turn of at most
      // 0.31 (up to whole turns: beta is kept within 1.5 pi of alpha).
      EXPECT_LE(std::abs(std::remainder(t[i].beta - t[i - 1].beta, 2 * M_PI)), 0.31 + 1e-9) << seed << " " << i;
      EXPECT_LT(std::abs(t[i].x), CarRacing::kPlayfield);
      EXPECT_LT(std::abs(t[i].y), CarRacing::kPlayfield);
    }
    // Closed: the head and tail joined within one step across the track.
    const double glue =
        std::hypot(std::cos(t[0].beta) * (t[0].x - t[n - 1].x), std::sin(t[0].beta) * (t[0].y - t[n - 1].y));
    EXPECT_LE(glue, 21.0 / 6) << seed;
    // A kerb needs a run of four same-way turns of > 0.062 rad within 3 tiles of it.
    const auto& kerb = env.kerbs();
    auto hard = [&](int i) {
      int side = 0;
      for (int k = 0; k < 4; ++k) {
        const double d = t[((i - k) % n + n) % n].beta - t[((i - k - 1) % n + n) % n].beta;
        if (std::abs(d) <= 0.31 * 0.2) return false;
        side += d > 0 ? 1 : -1;
      }
      return std::abs(side) == 4;
    };
    for (int i = 0; i < n; ++i) {
      if (!kerb[i]) continue;
      ++total_kerbs;
      // Spread back over three tiles; a kerb spread past index 0 to the end
      // of the track spreads again from there (Gymnasium's in-place loop).
      const int reach = i >= n - 6 ? 6 : 3;
      bool near = false;
      for (int k = 0; k <= reach && !near; ++k) near = hard((i + k) % n);
      EXPECT_TRUE(near) << seed << " tile " << i;
    }
    for (int i = 0; i < n; ++i) EXPECT_TRUE(!hard(i) || kerb[i]) << seed << " " << i;
    const auto car = env.car_state();
    EXPECT_NEAR(car.x, t[0].x, 0.5);
    EXPECT_NEAR(car.y, t[0].y, 0.5);
    EXPECT_NEAR(car.angle, t[0].beta, 0.05);
  }
  EXPECT_GT(total_kerbs, 100);  // hard turns are common
}

// The first step with full gas, by hand (car at rest on the road): the rear
// wheels' gas ramps to 0.1, so omega gains dt P gas / I / (|omega| + 5) =
// 0.02 40000 0.1 / 1.6 / 5 = 10 rad/s; the tyre force (-v + omega r) 82 =
// 442.8 is capped at the road's friction limit 400, which takes back
// dt 400 r / I = 2.7: omega = 7.3. The gas keeps ramping by 0.1 per step.
TEST(CarRacingTest, RearWheelDriveFirstStepByHand) {
  CarRacing env(Continuous());
  std::vector<uint8_t> obs(kObsBytes);
  env.Reset(3, obs.data());
  for (int k = 0; k < 50; ++k) {  // let the car settle at rest
    const float idle[3] = {0, 0, 0};
    env.Step(idle, obs.data());
  }
  auto before = env.car_state();
  ASSERT_LT(std::hypot(before.vx, before.vy), 1e-3);
  ASSERT_GT(before.tiles[2], 0);  // on the road
  const float gas[3] = {0, 1, 0};
  env.Step(gas, obs.data());
  auto s = env.car_state();
  EXPECT_DOUBLE_EQ(s.gas[2], 0.1);
  EXPECT_DOUBLE_EQ(s.gas[0], 0.0);  // front wheels are not driven
  EXPECT_NEAR(s.omega[2], 7.3, 0.02);
  EXPECT_NEAR(s.omega[3], 7.3, 0.02);
  env.Step(gas, obs.data());
  EXPECT_NEAR(env.car_state().gas[2], 0.2, 1e-12);
  // Releasing the gas stops it at once; a brake >= 0.9 locks the wheels.
  const float brake[3] = {0, 0, 0.95};
  env.Step(brake, obs.data());
  s = env.car_state();
  EXPECT_EQ(s.gas[2], 0.0);
  EXPECT_GT(std::hypot(s.vx, s.vy), 0.1);  // still rolling: the locked wheels skid
}

// Steering right (+1) turns the front wheels towards -1 at most 3 rad/s, up
// to the joints' limit -0.4; the rear wheels stay straight.
TEST(CarRacingTest, SteeringMotorsAndLimits) {
  CarRacing env(Continuous());
  std::vector<uint8_t> obs(kObsBytes);
  env.Reset(5, obs.data());
  const float right[3] = {1, 0, 0};
  env.Step(right, obs.data());
  auto s = env.car_state();
  EXPECT_LT(s.joint_angle[0], -0.03);
  EXPECT_GT(s.joint_angle[0], -0.02 * 3 - 0.01);  // one step at <= 3 rad/s
  for (int k = 0; k < 30; ++k) env.Step(right, obs.data());
  s = env.car_state();
  EXPECT_NEAR(s.joint_angle[0], -0.4, 0.02);
  EXPECT_NEAR(s.joint_angle[1], -0.4, 0.02);
  EXPECT_NEAR(s.joint_angle[2], 0.0, 0.02);
  // Discrete 2 (steer left) aims at +0.6, so the joints go to +0.4.
  CarRacing d(Discrete());
  d.Reset(5, obs.data());
  const int64_t left = 2, gas = 3;
  for (int k = 0; k < 30; ++k) d.Step(&left, obs.data());
  EXPECT_NEAR(d.car_state().joint_angle[0], 0.4, 0.02);
  d.Step(&gas, obs.data());
  d.Step(&gas, obs.data());
  d.Step(&gas, obs.data());
  EXPECT_DOUBLE_EQ(d.car_state().gas[3], 0.2);  // discrete gas is 0.2
}

// -0.1 per step plus 1000/N per tile first touched by a wheel; the tiles
// touched during the reset step are paid with the first step.
TEST(CarRacingTest, RewardBookkeeping) {
  CarRacing env(Continuous());
  std::vector<uint8_t> obs(kObsBytes);
  env.Reset(7, obs.data());
  const int at_reset = env.tiles_visited();
  EXPECT_GT(at_reset, 0);
  const double n = static_cast<double>(env.track().size());
  const float idle[3] = {0, 0, 0};
  StepResult r = env.Step(idle, obs.data());
  EXPECT_NEAR(r.reward, 1000.0 / n * (env.tiles_visited()) - 0.1, 1e-9);
  int visited = env.tiles_visited();
  double total = r.reward;
  const float go[3] = {0, 0.5, 0};
  for (int k = 0; k < 200; ++k) {
    r = env.Step(go, obs.data());
    total += r.reward;
    const int now = env.tiles_visited();
    EXPECT_NEAR(r.reward, 1000.0 / n * (now - visited) - 0.1, 1e-9) << k;
    visited = now;
    ASSERT_FALSE(r.terminated);
  }
  EXPECT_GT(visited, at_reset + 5);  // it drove along the road
  EXPECT_NEAR(total, 1000.0 / n * visited - 0.1 * 201, 1e-6);
}

// Leaving the playfield: -100 (instead of the step's reward), terminated,
// lap_finished 0.
TEST(CarRacingTest, LeavingThePlayfieldTerminatesWithMinus100) {
  CarRacing env(Continuous());
  std::vector<uint8_t> obs(kObsBytes);
  env.Reset(2, obs.data());
  env.SetCarPose(CarRacing::kPlayfield - 0.01, 0.0, 0.0, 20.0, 0.0);
  const float idle[3] = {0, 0, 0};
  const StepResult r = env.Step(idle, obs.data());
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(r.reward, -100.0);
  EXPECT_EQ(r.info.Get("lap_finished"), 0.0);
}

// The observation: the car (red) at (48, 72) once the camera has zoomed in,
// the black indicator bar along the bottom, and the road or grass around.
TEST(CarRacingTest, ObservationShowsTheCarAndTheBar) {
  CarRacing env(Continuous());
  std::vector<uint8_t> obs(kObsBytes);
  env.Reset(11, obs.data());
  const float idle[3] = {0, 0, 0};
  for (int k = 0; k < 60; ++k) env.Step(idle, obs.data());
  auto px = [&](int row, int col, int ch) { return obs[(row * 96 + col) * 3 + ch]; };
  int red = 0;
  for (int row = 66; row < 78; ++row)
    for (int col = 44; col < 52; ++col) red += px(row, col, 0) > 150 && px(row, col, 1) < 60;
  EXPECT_GT(red, 10);
  EXPECT_EQ(px(95, 90, 0), 0);  // the bar (right of the indicators)
  EXPECT_EQ(px(86, 90, 1), 0);
  // The road ahead: grey, 102 + 0, 2 or 5 by tile (the touched ones all
  // 102), less the 2 levels pygame's smooth-scaling loses.
  EXPECT_TRUE(px(20, 48, 0) == 100 || px(20, 48, 0) == 102 || px(20, 48, 0) == 105) << int(px(20, 48, 0));
  EXPECT_EQ(px(20, 48, 0), px(20, 48, 1));
  EXPECT_EQ(px(20, 48, 0), px(20, 48, 2));
  // An RGB render is 600 x 400.
  Image img;
  ASSERT_TRUE(env.RenderRgb(&img));
  EXPECT_EQ(img.width(), 600);
  EXPECT_EQ(img.height(), 400);
}

// Python's f"{x:04}" of the score, as Gymnasium prints it.
TEST(CarRacingTest, ScoreTextIsPythonsFormat) {
  EXPECT_EQ(CarRacing::ScoreText(0.0), "00.0");
  EXPECT_EQ(CarRacing::ScoreText(-0.1), "-0.1");
  EXPECT_EQ(CarRacing::ScoreText(5.0), "05.0");
  EXPECT_EQ(CarRacing::ScoreText(3.2258064516129035), "3.2258064516129035");
  EXPECT_EQ(CarRacing::ScoreText(-0.30000000000000004), "-0.30000000000000004");
  EXPECT_EQ(CarRacing::ScoreText(0.0005), "0.0005");
  EXPECT_EQ(CarRacing::ScoreText(1e-05), "1e-05");
  EXPECT_EQ(CarRacing::ScoreText(100000.0), "100000.0");
  EXPECT_EQ(CarRacing::ScoreText(1e16), "1e+16");
}

// A bar thinner than a window pixel still shows, as pygame fills whole
// pixels: speed 0.5 draws window rows 779-780 over columns 125-150, which
// output row 93 (window rows 775-783.3) sees as 2/8.33 of white: 61.2, less
// the 2 levels of smooth-scaling, 60 (Gymnasium's figure).
TEST(CarRacingTest, ThinIndicatorsShowAsInPygame) {
  CarRacing::Scene sc;
  sc.speed = 0.5;
  sc.t = 2.0;
  std::vector<uint8_t> px(kObsBytes);
  CarRacing::DrawScene(sc, 96, 96, CarRacing::kObsSamples, px.data(), 2);
  EXPECT_EQ(px[(93 * 96 + 12) * 3], 60);
  EXPECT_EQ(px[(93 * 96 + 13) * 3], 60);
  EXPECT_EQ(px[(92 * 96 + 12) * 3], 0);
  // A negative wheel speed draws downwards from row 780.
  sc.speed = 0, sc.omega = {-100, 0, 0, 0};  // 0.01 * -100 = -1: rows 780-800 at columns 175-200
  CarRacing::DrawScene(sc, 96, 96, CarRacing::kObsSamples, px.data(), 2);
  EXPECT_GT(px[(95 * 96 + 17) * 3 + 2], 200);  // blue
  EXPECT_EQ(px[(91 * 96 + 17) * 3 + 2], 0);
}

// lap_complete_percent 0: the start tile, touched in the reset step with one
// tile visited (1/N > 0), completes the lap, and the first step ends it.
TEST(CarRacingTest, LapCompletion) {
  CarRacing::Options o;
  o.lap_complete_percent = 0.0;
  CarRacing env(o);
  std::vector<uint8_t> obs(kObsBytes);
  env.Reset(4, obs.data());
  const float idle[3] = {0, 0, 0};
  StepResult r = env.Step(idle, obs.data());
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(r.info.Get("lap_finished"), 1.0);
  CarRacing normal(Continuous());
  normal.Reset(4, obs.data());
  r = normal.Step(idle, obs.data());
  EXPECT_FALSE(r.terminated);
  EXPECT_FALSE(r.info.Has("lap_finished"));
}

// Off the road the friction limit is 0.6 x 400 = 240: the first step of
// gas gives omega = 10 - 0.02 240 0.54 / 1.6 = 8.38 (7.3 on the road).
TEST(CarRacingTest, GrassHasLessGrip) {
  CarRacing env(Continuous());
  std::vector<uint8_t> obs(kObsBytes);
  env.Reset(3, obs.data());
  env.SetCarPose(0, 0, 0, 0, 0);  // the centre of the map: grass (the track circles it)
  const float idle[3] = {0, 0, 0}, gas[3] = {0, 1, 0};
  for (int k = 0; k < 30; ++k) env.Step(idle, obs.data());
  ASSERT_EQ(env.car_state().tiles[2], 0);
  env.Step(gas, obs.data());
  EXPECT_NEAR(env.car_state().omega[2], 8.38, 0.02);
}

// Touched tiles are repainted in the plain road colour (their 0/2/5-level
// shade is lost), as Gymnasium's contact listener does.
TEST(CarRacingTest, TouchedTilesLoseTheirShade) {
  CarRacing env(Continuous());
  std::vector<uint8_t> obs(kObsBytes);
  env.Reset(6, obs.data());
  const auto& ground = env.scene().ground;
  const size_t first_tile = 1 + 20 * 20;  // after the playfield and the 400 grass patches
  int plain = 0, shaded = 0;
  for (size_t i = first_tile; i < ground.size(); ++i) {
    if (ground[i].color[1] != ground[i].color[0]) continue;  // kerbs are white or red
    (ground[i].color[0] == 102 ? plain : shaded)++;
  }
  EXPECT_GT(shaded, 100);
  const float go[3] = {0, 0.6f, 0};
  for (int k = 0; k < 150; ++k) env.Step(go, obs.data());
  int plain_after = 0;
  for (size_t i = first_tile; i < ground.size(); ++i)
    plain_after += ground[i].color[0] == 102 && ground[i].color[1] == 102;
  EXPECT_GT(plain_after, plain + 10);  // the tiles driven over
}

// Discrete actions: 1 steers right (joints to -0.4), 4 brakes 0.8 (15 x 0.8
// = 12 rad/s off the wheels' speed per step, before the tyre force).
TEST(CarRacingTest, DiscreteSteerRightAndBrake) {
  CarRacing env(Discrete());
  std::vector<uint8_t> obs(kObsBytes);
  env.Reset(8, obs.data());
  const int64_t right = 1, gas = 3, brake = 4;
  for (int k = 0; k < 30; ++k) env.Step(&right, obs.data());
  EXPECT_NEAR(env.car_state().joint_angle[0], -0.4, 0.02);
  for (int k = 0; k < 40; ++k) env.Step(&gas, obs.data());
  const double before = env.car_state().omega[2];
  ASSERT_GT(before, 20.0);
  env.Step(&brake, obs.data());
  const double after = env.car_state().omega[2];
  EXPECT_LT(after, before - 5.0);
  EXPECT_GT(after, 0.0);  // partial braking does not lock
}

// The 600 x 400 render loses 1 level to smooth-scaling (the observation 2).
TEST(CarRacingTest, RgbRenderColours) {
  CarRacing env(Continuous());
  std::vector<uint8_t> obs(kObsBytes);
  env.Reset(2, obs.data());
  env.SetCarPose(0, 0, 0, 0, 0);  // on grass, far from the track
  const float idle[3] = {0, 0, 0};
  for (int k = 0; k < 60; ++k) env.Step(idle, obs.data());
  Image img;
  ASSERT_TRUE(env.RenderRgb(&img));
  std::map<int, int> greens;
  for (int y = 0; y < 300; ++y) greens[img.At(5, y).g]++;
  for (const auto& [g, n] : greens) EXPECT_TRUE(g == 203 || g == 229 || n < 20) << g;  // 204 - 1, 230 - 1
  EXPECT_EQ(obs[(10 * 96 + 2) * 3 + 1] % 2, 0);  // 202 or 228 in the observation
}

// rlforge's renderer on scenes taken from Gymnasium 1.3 draws Gymnasium's
// pixels but for the edges (pygame anti-aliases at 1000 x 800 and smooth-
// scales; rlforge averages 3 x 3 samples per pixel) and the score's glyphs:
// above the indicator bar the five scenes differ by 0.10-0.42 levels on
// average (at most 0.03% of the values by more than 40; with 4 x 4 samples
// 0.09-0.36 at 30% fewer steps/s, with 2 x 2 0.16-0.60), the bar right of
// the score by 0.000-0.019 (drawn at the window's resolution), the part
// under the score by 13-18.
TEST(CarRacingTest, RendererMatchesGymnasiumPixels) {
  std::ifstream in(std::string(RLFORGE_SOURCE_DIR) + "/rlforge/envs/box2d/testdata/car_racing_gymnasium.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json data = nlohmann::json::parse(in);
  ASSERT_EQ(data["scenes"].size(), 5u);
  for (const auto& js : data["scenes"]) {
    CarRacing::Scene sc;
    auto polys = [](const nlohmann::json& list, std::vector<CarRacing::Scene::Poly>* out) {
      for (const auto& jp : list) {
        CarRacing::Scene::Poly p;
        for (const auto& pt : jp[0]) p.pts.push_back({pt[0].get<double>(), pt[1].get<double>()});
        for (int k = 0; k < 3; ++k) p.color[k] = jp[1][k].get<uint8_t>();
        p.Bound();
        out->push_back(std::move(p));
      }
    };
    polys(js["ground"], &sc.ground);
    polys(js["cars"], &sc.car);
    sc.car_x = js["car"][0], sc.car_y = js["car"][1], sc.car_angle = js["car"][2], sc.t = js["t"];
    sc.speed = js["speed"], sc.steer = js["steer"], sc.yaw = js["yaw"], sc.score = js["score"];
    for (int k = 0; k < 4; ++k) sc.omega[k] = js["omega"][k];
    // base64 of Gymnasium's observation.
    const std::string b64 = js["obs"];
    std::vector<uint8_t> theirs;
    int val = 0, bits = -8;
    for (char c : b64) {
      const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      const char* p = std::strchr(table, c);
      if (c == '=' || !p) break;
      val = (val << 6) + static_cast<int>(p - table);
      bits += 6;
      if (bits >= 0) {
        theirs.push_back(static_cast<uint8_t>((val >> bits) & 0xFF));
        bits -= 8;
      }
    }
    ASSERT_EQ(theirs.size(), static_cast<size_t>(kObsBytes));
    std::vector<uint8_t> mine(kObsBytes);
    CarRacing::DrawScene(sc, 96, 96, CarRacing::kObsSamples, mine.data(), 2);
    // Above the indicator bar (rows 0-83); the bar right of column 30 (the
    // steering and yaw indicators); its left part (wheel and speed
    // indicators under the score, whose glyphs differ).
    double abs_sum[3] = {0, 0, 0};
    int far[3] = {0, 0, 0}, count[3] = {0, 0, 0};
    for (int i = 0; i < kObsBytes; ++i) {
      const int row = i / (96 * 3), col = (i / 3) % 96;
      const int part = row < 84 ? 0 : (col >= 30 ? 1 : 2);
      const int d = std::abs(int(mine[i]) - int(theirs[i]));
      abs_sum[part] += d;
      far[part] += d > 40;
      ++count[part];
    }
    if (const char* dump = std::getenv("RLFORGE_DUMP_SCENES")) {
      std::ofstream(std::string(dump) + "/mine_" + std::to_string(js["seed"].get<int>()) + ".bin", std::ios::binary)
          .write(reinterpret_cast<const char*>(mine.data()), kObsBytes);
      std::ofstream(std::string(dump) + "/theirs_" + std::to_string(js["seed"].get<int>()) + ".bin", std::ios::binary)
          .write(reinterpret_cast<const char*>(theirs.data()), kObsBytes);
    }
    const double scene_mean = abs_sum[0] / count[0], bar_mean = abs_sum[1] / count[1];
    const double text_mean = abs_sum[2] / count[2], scene_far = double(far[0]) / count[0];
    std::printf("scene seed %d steps %d: mean |diff| %.3f levels (%.3f%% off by > 40) above the bar, %.3f in the "
                "bar's right part, %.3f under the score\n",
                js["seed"].get<int>(), js["steps"].get<int>(), scene_mean, 100 * scene_far, bar_mean, text_mean);
    EXPECT_LT(scene_mean, 0.5) << js["seed"];
    EXPECT_LT(scene_far, 0.001) << js["seed"];
    EXPECT_LT(bar_mean, 0.5) << js["seed"];
    EXPECT_LT(text_mean, 25.0) << js["seed"];
  }
}

// Gymnasium (40 episodes, uniformly random Box actions): return -33.80
// (standard error 0.82), every episode 1000 steps (the car never finishes
// nor leaves the field); 100 episodes: -32.58 (0.50). rlforge, 64 episodes
// (rlforge eval --policy random --seed 1000): -32.07 (0.71). Here 12
// episodes (standard error about 1.6).
TEST(CarRacingTest, RandomPolicyStatisticsAgainstGymnasium) {
  VectorEnvOptions opt;
  opt.num_envs = 4;
  auto envs = VectorEnv::Make("CarRacing-v3", {}, opt);
  RandomPolicy policy(envs->single_action_space(), 42);
  const EpisodeStats s = Evaluate(*envs, policy, 12, 0);
  std::printf("random policy: return %.2f +- %.2f, length %.1f\n", s.mean_return, s.std_return, s.mean_length);
  EXPECT_EQ(s.mean_length, 1000.0);
  EXPECT_NEAR(s.mean_return, -33.80, 6.0);
}

TEST(CarRacingTest, CloneAndStateReplayExactly) {
  for (bool continuous : {true, false}) {
    CarRacing::Options o = continuous ? Continuous() : Discrete();
    o.domain_randomize = !continuous;
    CarRacing env(o);
    std::vector<uint8_t> obs(kObsBytes), obs2(kObsBytes), obs3(kObsBytes);
    env.Reset(9, obs.data());
    Rng rng(1);
    float a[3];
    int64_t d = 0;
    auto act = [&]() -> const void* {
      if (!continuous) return &(d = static_cast<int64_t>(rng.UniformInt(5)));
      a[0] = float(rng.Uniform(-1, 1)), a[1] = float(rng.Uniform(0, 1)), a[2] = float(rng.Uniform(0, 0.2));
      return a;
    };
    for (int t = 0; t < 60; ++t) env.Step(act(), obs.data());
    auto clone = env.Clone();
    std::string state;
    env.SaveState(&state);
    CarRacing loaded(o);
    loaded.LoadState(state);
    std::string bad = state;
    bad[bad.size() - 1] ^= 1;
    CarRacing refused(o);
    EXPECT_THROW(refused.LoadState(bad), Error);
    for (int t = 0; t < 40; ++t) {
      const void* x = act();
      const StepResult r1 = env.Step(x, obs.data()), r2 = clone->Step(x, obs2.data()),
                       r3 = loaded.Step(x, obs3.data());
      ASSERT_EQ(obs, obs2) << continuous << " step " << t;
      ASSERT_EQ(obs, obs3) << continuous << " step " << t;
      ASSERT_EQ(r1.reward, r2.reward);
      ASSERT_EQ(r1.reward, r3.reward);
    }
  }
}

TEST(CarRacingTest, DomainRandomizeDrawsColoursEveryReset) {
  CarRacing::Options o;
  o.domain_randomize = true;
  CarRacing env(o);
  std::vector<uint8_t> a(kObsBytes), b(kObsBytes);
  env.Reset(1, a.data());
  const auto ground1 = env.scene().ground[0].color;  // the playfield's background
  env.Reset(std::nullopt, b.data());
  const auto ground2 = env.scene().ground[0].color;
  EXPECT_NE(ground1, ground2);
  for (uint8_t c : ground1) EXPECT_LT(c, 210);
  // The grass is the background with one channel raised by 20.
  const auto grass = env.scene().ground[1].color;
  int raised = 0;
  for (int k = 0; k < 3; ++k) raised += grass[k] != ground2[k];
  EXPECT_EQ(raised, 1);
}

TEST(CarRacingTest, ClearErrors) {
  CarRacing::Options bad;
  bad.lap_complete_percent = std::nan("");
  EXPECT_THROW(CarRacing{bad}, InvalidArgument);
  CarRacing env(Discrete());
  std::vector<uint8_t> obs(kObsBytes);
  env.Reset(0, obs.data());
  const int64_t five = 5;
  EXPECT_THROW(env.Step(&five, obs.data()), InvalidArgument);
  CarRacing cont(Continuous());
  cont.Reset(0, obs.data());
  const float nan[3] = {std::nanf(""), 0, 0};
  EXPECT_THROW(cont.Step(nan, obs.data()), InvalidArgument);
  // Out of the box, used as Gymnasium uses them: steering as given (the
  // joints still stop at -0.4), gas clipped to 1 (ramping by 0.1), a negative
  // brake does nothing.
  const float big[3] = {3, 2, -1};
  for (int k = 0; k < 20; ++k) EXPECT_NO_THROW(cont.Step(big, obs.data()));
  const auto s = cont.car_state();
  EXPECT_NEAR(s.joint_angle[0], -0.4, 0.02);
  EXPECT_DOUBLE_EQ(s.gas[2], 1.0);
  EXPECT_GT(s.omega[2], 10.0);
  cont.SetCarPose(0, 0, 0, 0, 0);
  EXPECT_THROW(cont.Clone(), Error);
  // Saved and loaded, a placed car is no episode: stepping asks for a reset
  // (before, it dereferenced the missing world).
  std::string state;
  cont.SaveState(&state);
  CarRacing loaded(Continuous());
  loaded.LoadState(state);
  EXPECT_THROW(loaded.Step(big, obs.data()), Error);
}

}  // namespace
}  // namespace rlforge
