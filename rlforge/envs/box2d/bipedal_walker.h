// rlforge/envs/box2d/bipedal_walker.h — BipedalWalker-v3 and
// BipedalWalkerHardcore-v3, as Gymnasium 1.3 defines them, on Debian's Box2D.
//
// A hull on two legs (thigh and shin each, four motored revolute joints:
// hips in [-0.8, 1.1], knees in [-1.6, -0.1] rad) walks right over 200
// terrain points 14/30 apart. Grass: the height follows a damped random walk
// (v <- 0.8 v + 0.01 sign(H/4 - y) + U(-1, 1)/30 after the 20-point start
// pad). Hardcore: after each grass stretch of U{5..9} points comes a stump
// (1-2 steps square), stairs (3-4 steps of 4 points, up or down) or a pit
// (4 steps deep, 3-4 points wide), chosen uniformly.
//
// Action Box(4) in [-1, 1]: for each joint (hip 1, knee 1, hip 2, knee 2) the
// motor's speed is 4 (hips) or 6 (knees) times sign(a) and its maximum torque
// 80 clip(|a|, 0, 1). Observation (float32, 24): hull angle, 2 angular
// velocity / 50, 0.3 vx (20/50), 0.3 vy (13.3/50); per leg the hip angle and
// speed / 4, the knee angle + 1 and speed / 6, shin contact; then 10 lidar
// fractions: rays from the hull's origin in directions (sin 0.15k, -cos 0.15k),
// k = 0..9 (straight down, then fanning forward), of length 160/30, to the
// first terrain they hit (1 when none).
// Reward: the change of shaping 130 x/30 - 5 |angle| minus 0.00035 * 80
// clip(|a|, 0, 1) per joint; -100 and termination when the hull touches the
// ground or x < 0; termination at x > 190 * 14/30 (the end). TimeLimit 1600
// (hardcore 2000); reward threshold 300. The first observation comes from
// one step with zero action (as Gymnasium's reset).
//
// Known deviations: Box2D 2.4 for 2.3 and rlforge's random streams (the
// terrain for a seed differs, its distribution does not); terrain pieces are
// fixtures of one static body instead of one body each (static bodies do
// not move, so the contacts are the same). Clone/Restore and checkpoints
// replay the episode from its reset state, as LunarLander's.
#ifndef RLFORGE_ENVS_BOX2D_BIPEDAL_WALKER_H_
#define RLFORGE_ENVS_BOX2D_BIPEDAL_WALKER_H_

#include <memory>
#include <type_traits>
#include <vector>

#include "rlforge/core/state_io.h"
#include "rlforge/env/env.h"
#include "rlforge/envs/box2d/replay.h"

namespace rlforge {

class BipedalWalker : public ReplayedEpisodeEnv<BipedalWalker> {
 public:
  static constexpr bool kClipsActions = true;  // any finite action; |a| is clipped inside
  static constexpr double kFps = 50, kScale = 30, kMotorsTorque = 80, kSpeedHip = 4, kSpeedKnee = 6;
  static constexpr double kLidarRange = 160 / kScale, kInitialRandom = 5;
  static constexpr double kViewportW = 600, kViewportH = 400;
  static constexpr double kTerrainStep = 14 / kScale, kTerrainHeight = kViewportH / kScale / 4;
  static constexpr int kTerrainLength = 200, kTerrainGrass = 10, kTerrainStartpad = 20;
  static constexpr double kFriction = 2.5;
  static constexpr double kLegDown = -8 / kScale, kLegW = 8 / kScale, kLegH = 34 / kScale;

  explicit BipedalWalker(bool hardcore);
  BipedalWalker(const BipedalWalker& other);
  BipedalWalker& operator=(const BipedalWalker& other);
  ~BipedalWalker() override;

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return hardcore_ ? "BipedalWalkerHardcore-v3" : "BipedalWalker-v3"; }
  std::string RenderText() const override;
  bool RenderRgb(Image* out) const override;

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);

  // For tests: the terrain's points and the hull's position.
  const std::vector<double>& terrain_x() const { return terrain_x_; }
  const std::vector<double>& terrain_y() const { return terrain_y_; }
  int terrain_pieces() const { return static_cast<int>(pieces_.size()); }
  double hull_x() const;
  double hull_y() const;
  double hull_angle() const;

 private:
  friend class ReplayedEpisodeEnv<BipedalWalker>;
  struct World;
  void BuildEpisode(float* obs);
  void GenerateTerrain();
  StepResult Advance(const float* action, float* obs);
  void Replay();
  // A hash of the RNG and the bodies' positions and velocities (0 without a world).
  uint64_t Fingerprint() const;
  // Error unless the recorded actions are ones Step accepted (a loaded state).
  void CheckActions() const;

  bool hardcore_;
  Space obs_space_, act_space_;
  std::unique_ptr<World> world_;
  std::vector<double> terrain_x_, terrain_y_;
  std::vector<std::vector<std::pair<double, double>>> pieces_;  // stumps, stairs, pit walls (renders)
  std::vector<std::vector<std::pair<double, double>>> clouds_;
  double prev_shaping_ = 0;
  bool has_prev_shaping_ = false;
  float lidar_[10] = {};
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_BOX2D_BIPEDAL_WALKER_H_
