// rlforge/envs/box2d/car_racing.h — CarRacing-v3, as Gymnasium 1.3 defines
// it, on Debian's Box2D.
//
// A top-down, rear-wheel-drive car (a hull of four polygons and four wheels
// on revolute joints with steering motors) on a random closed track. The
// track: 12 checkpoints at angles 2 pi c/12 + U(0, 2 pi/12) and radii
// U(TRACK_RAD/3, TRACK_RAD) (the first and last at 1.5 TRACK_RAD), followed by
// a point that turns towards the next checkpoint by at most 0.31 rad per
// 21/6-unit step for up to five laps; the loop between the last two passes
// through the start is kept (the track is drawn again unless its ends meet
// within one step). Each step of it is a road
// tile, a sensor quad 2 x 40/6 units wide; hard turns get red-white kerbs.
//
// Wheel physics (Gymnasium's car_dynamics): the steering joints turn towards
// the target at min(50 |error|, 3) rad/s within +-0.4 rad; gas accelerates
// the rear wheels (ramping up by at most 0.1 per step), braking >= 0.9 locks
// the wheels, less slows them by 15 brake rad/s per step; each wheel's tyre
// force is (205000 SIZE^2) (wheel speed - ground speed), capped at the
// friction limit (1e6 SIZE^2, 0.6 of it on grass), and pushes the wheel.
//
// Actions. Box([-1, 0, 0], [1, 1, 1]) (steer, gas, brake; continuous=true,
// the default): finite values outside the box act as in Gymnasium (gas is
// clipped to [0, 1], steering and brake are used as given). Discrete(5)
// (continuous=false): 0 nothing, 1 steer right (the Box's steer +0.6; the
// joints' target -0.6), 2 steer left (-0.6), 3 gas 0.2, 4 brake 0.8.
// Observation: the 96 x 96 x 3 uint8 top-down view of Gymnasium's
// "state_pixels" render — the world rotated with the car, which sits at
// (48, 72), zooming in from 0.6 to 16.2 px/unit (of the 1000 x 800 window)
// over the first second, grass patches, road tiles, kerbs, the car, and the
// indicator bar along the bottom (speed, four wheel speeds, steering angle,
// yaw rate, and the score as text).
// Reward: -0.1 per step, +1000/N for each of the N tiles the first time a
// wheel touches it (tiles touched during the reset step count towards the
// first step's reward); -100 (replacing the step's reward) and termination
// when the car leaves the 2000/6-unit playfield; termination when every tile
// is visited or the start tile is first touched with more than
// lap_complete_percent of the tiles visited (the rear wheels touch it in the
// reset step, so with the default 0.95 a lap ends with every tile visited) (info lap_finished 1, or 0 when
// the car left the field). TimeLimit 1000; reward threshold 900.
// domain_randomize draws the road colour and background U(0, 210)^3 at every
// reset, the grass the background with one channel +20.
//
// Known deviations from Gymnasium: Box2D 2.4 instead of 2.3 and rlforge's
// random streams instead of NumPy's (so tracks and trajectories differ for
// the same seed; every formula and distribution is the same); the pixels come
// from rlforge's rasterizer (each 96 x 96 pixel from the mean of 3 x 3
// samples of the 1000 x 800 scene, where pygame draws anti-aliased polygons
// at 1000 x 800 and smooth-scales them): on scenes taken from Gymnasium the
// pixels above the indicator bar differ by 0.10-0.42 levels on average
// (edges); the score's digits are drawn in a 5 x 7 font instead of
// FreeSansBold, and the text box's width adds per-character widths (pygame
// kerns some pairs, e.g. "11", by a few pixels); the rgb render (600 x 400)
// omits the skid marks; reset's options["randomize"] is not offered
// (domain_randomize redraws the colours at every reset, Gymnasium's default).
//
// Clone/Restore and checkpoints: by replay, as the other Box2D envs
// (rlforge/envs/box2d/replay.h); the replay draws no pixels (it keeps the
// scene up to date, so renders still work).
#ifndef RLFORGE_ENVS_BOX2D_CAR_RACING_H_
#define RLFORGE_ENVS_BOX2D_CAR_RACING_H_

#include <array>
#include <memory>
#include <type_traits>
#include <vector>

#include "rlforge/core/state_io.h"
#include "rlforge/env/env.h"
#include "rlforge/envs/box2d/replay.h"

namespace rlforge {

class CarRacing : public ReplayedEpisodeEnv<CarRacing> {
 public:
  struct Options {
    bool continuous = true;
    bool domain_randomize = false;
    double lap_complete_percent = 0.95;
  };
  static constexpr bool kClipsActions = true;  // Gymnasium's handling, see above
  static constexpr int kStateW = 96, kStateH = 96, kVideoW = 600, kVideoH = 400, kWindowW = 1000, kWindowH = 800;
  static constexpr double kScale = 6.0, kTrackRad = 900 / kScale, kPlayfield = 2000 / kScale, kFps = 50;
  static constexpr double kZoom = 2.7, kTrackDetailStep = 21 / kScale, kTrackTurnRate = 0.31;
  static constexpr double kTrackWidth = 40 / kScale, kBorder = 8 / kScale, kGrassDim = kPlayfield / 20;
  static constexpr int kBorderMinCount = 4, kCheckpoints = 12;
  // Car dynamics.
  static constexpr double kSize = 0.02, kEnginePower = 100000000 * kSize * kSize;
  static constexpr double kWheelMomentOfInertia = 4000 * kSize * kSize, kFrictionLimit = 1000000 * kSize * kSize;
  static constexpr double kWheelR = 27, kWheelW = 14;

  explicit CarRacing(const Options& options);
  CarRacing(const CarRacing& other);
  CarRacing& operator=(const CarRacing& other);
  ~CarRacing() override;

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return "CarRacing-v3"; }
  std::string RenderText() const override;
  bool RenderRgb(Image* out) const override;

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);

  // For tests. The track: per tile (alpha, beta, x, y) as Gymnasium's
  // self.track, whether it has a kerb, and whether it was visited.
  struct TrackPoint {
    double alpha, beta, x, y;
  };
  const std::vector<TrackPoint>& track() const { return track_; }
  const std::vector<uint8_t>& kerbs() const { return border_; }
  int tiles_visited() const;
  // The car: hull pose and velocity, and per wheel (front left, front
  // right, rear left, rear right) its angular speed omega, steering joint
  // angle, and how many road tiles it touches.
  struct CarState {
    double x, y, angle, vx, vy, angular_velocity;
    std::array<double, 4> omega, joint_angle, gas;
    std::array<int, 4> tiles;
  };
  CarState car_state() const;
  // Sets the hull's (and wheels', rigidly) position, angle and velocity (tests:
  // the playfield exit); the env cannot be copied afterwards.
  void SetCarPose(double x, double y, double angle, double vx, double vy);

  // What Gymnasium's renderer draws, in world coordinates: the ground
  // (playfield, grass patches, then each road tile followed by its kerb) and
  // the car (wheels with their grey rotation bands, then the hull), the
  // camera (car pose, time since reset for the zoom) and the indicators.
  struct Scene {
    struct Poly {
      std::vector<std::pair<double, double>> pts;
      std::array<uint8_t, 3> color;
      double cx = 0, cy = 0, radius = 0;  // bounding circle (culling)
      void Bound();
    };
    std::vector<Poly> ground, car;
    double car_x = 0, car_y = 0, car_angle = 0, t = 0;
    double speed = 0, steer = 0, yaw = 0, score = 0;
    std::array<double, 4> omega{};
  };
  // The scene as pixels: width x height RGB of the 1000 x 800 window, each
  // pixel above the indicator bar from the mean of samples x samples points
  // (the observation is 96 x 96 with kObsSamples per axis; the rgb render
  // 600 x 400 with 1), the bar from exact area means; less scale_loss
  // levels, what pygame's two flooring smooth-scale passes lose on a flat
  // colour (2 from 1000 x 800 to 96 x 96, 1 to 600 x 400; measured).
  static void DrawScene(const Scene& scene, int width, int height, int samples, uint8_t* out, int scale_loss);
  static constexpr int kObsSamples = 3;
  // The score as Gymnasium prints it: Python's f"{score:04}" of a float.
  static std::string ScoreText(double score);
  const Scene& scene() const;

 private:
  friend class ReplayedEpisodeEnv<CarRacing>;
  struct World;
  void BuildEpisode(uint8_t* obs);
  bool CreateTrack();
  void UpdateScene();  // the car and indicators of the scene from the world
  // One step with an action as floats (discrete: the index); renders the
  // observation into obs unless it is null.
  StepResult Advance(const float* action, uint8_t* obs);
  void Replay();
  uint64_t Fingerprint() const;
  void CheckActions() const;

  Options options_;
  Space obs_space_, act_space_;
  std::unique_ptr<World> world_;
  std::vector<TrackPoint> track_;
  std::vector<uint8_t> border_;
  double start_alpha_ = 0;
  std::array<double, 3> road_color_{102, 102, 102}, bg_color_{102, 204, 102}, grass_color_{102, 230, 102};
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_BOX2D_CAR_RACING_H_
