// rlforge/envs/box2d/lunar_lander.h — LunarLander-v3 and
// LunarLanderContinuous-v3, as Gymnasium 1.3 defines them, on Debian's Box2D.
//
// A lander (a hexagon with two spring-loaded legs on revolute joints) starts
// at the top centre of a 20 x 13.3 world (600 x 400 pixels at 30 px per unit)
// with a random push (a force of U(-1000, 1000) on each axis for the first
// 1/50 s step) over random terrain: 11 points at heights U(0, H/2), the five
// around the middle flattened to the helipad height H/4, each smoothed as
// 0.33 (h[i-1] + h[i] + h[i+1]) (h[-1] is the last, as Python indexes it).
// The pad lies between x = 8 and x = 12.
//
// Actions. Discrete(4): 0 nothing, 1 left orientation engine, 2 main engine,
// 3 right orientation engine. Box(2) (continuous=true), clipped to [-1, 1]:
// main engine off for a0 <= 0, else throttle (a0 + 1)/2 in [0.5, 1]; side
// engines off for |a1| <= 0.5, else direction sign(a1) at |a1| in [0.5, 1].
// Engines act as impulses at points offset by uniform "dispersion"
// U(-1, 1)/30 (two draws every step), main power 13, side power 0.6.
//
// Observation (float32, 8): x and y relative to the pad centre, scaled by
// half the viewport ((x - 10)/10, (y - (H/4 + 18/30))/(H/2)); velocities
// scaled likewise and divided by the FPS (vx 10/50, vy 6.67/50); the body
// angle (radians, unwrapped); 20 angular velocity / 50; leg contacts 0/1.
// Reward: the change of the shaping
//   -100 sqrt(x^2 + y^2) - 100 sqrt(vx^2 + vy^2) - 100 |angle| + 10 leg1 + 10 leg2
// minus 0.3 per frame of full main engine (times throttle) and 0.03 per frame
// of side engine; -100 and termination when the body touches the ground
// or |x| >= 1; +100 and termination when the lander comes to rest (Box2D puts
// the body to sleep). The first observation comes from one no-op step (as
// Gymnasium's reset). TimeLimit 1000; reward threshold 200.
// Wind (enable_wind): while no leg touches the ground, a force
// tanh(sin(0.02 k) + sin(0.01 pi k)) wind_power along x and a torque of the
// same form times turbulence_power, k counting up from U{-9999..9998}.
//
// Known deviations from Gymnasium: Box2D 2.4 instead of 2.3 and rlforge's
// random streams instead of NumPy's, so trajectories differ from Gymnasium's
// for the same seed while every formula and distribution is the same; the
// exhaust particles (drawn by Gymnasium's renderer, and never touching the
// lander) are not simulated, and the renders draw the flames as a flat
// stroke instead.
//
// Clone/Restore and checkpoints: Box2D worlds cannot be copied or
// serialized, so the env keeps the random state it had at reset and every
// action since; a copy rebuilds the episode by replaying them (exactly: the
// same code on the same inputs), which costs one step per step of the
// episode so far.
#ifndef RLFORGE_ENVS_BOX2D_LUNAR_LANDER_H_
#define RLFORGE_ENVS_BOX2D_LUNAR_LANDER_H_

#include <memory>
#include <type_traits>
#include <vector>

#include "rlforge/core/state_io.h"
#include "rlforge/env/env.h"
#include "rlforge/envs/box2d/replay.h"

namespace rlforge {

class LunarLander : public ReplayedEpisodeEnv<LunarLander> {
 public:
  struct Options {
    bool continuous = false;
    double gravity = -10.0;         // in (-12, 0)
    bool enable_wind = false;
    double wind_power = 15.0;       // Gymnasium recommends [0, 20]
    double turbulence_power = 1.5;  // Gymnasium recommends [0, 2]
  };
  // Continuous actions are clipped to [-1, 1] inside the step (Gymnasium's
  // np.clip); only non-finite values are refused.
  static constexpr bool kClipsActions = true;
  static constexpr double kFps = 50, kScale = 30, kViewportW = 600, kViewportH = 400;
  static constexpr double kMainEnginePower = 13, kSideEnginePower = 0.6, kInitialRandom = 1000;
  static constexpr double kLegAway = 20, kLegDown = 18, kLegW = 2, kLegH = 8, kLegSpringTorque = 40;
  static constexpr double kSideEngineHeight = 14, kSideEngineAway = 12, kMainEngineYLocation = 4;
  static constexpr int kChunks = 11;

  explicit LunarLander(const Options& options);
  LunarLander(const LunarLander& other);
  LunarLander& operator=(const LunarLander& other);
  ~LunarLander() override;

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return options_.continuous ? "LunarLanderContinuous-v3" : "LunarLander-v3"; }
  std::string RenderText() const override;
  bool RenderRgb(Image* out) const override;

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);

  // For tests: the terrain's smoothed heights at the 11 chunk points and
  // the helipad, the lander's body state, whether each leg touches ground.
  const std::vector<double>& terrain() const { return smooth_y_; }
  double helipad_y() const { return helipad_y_; }
  struct BodyState {
    double x, y, vx, vy, angle, angular_velocity;
    bool awake;
  };
  BodyState lander_state() const;
  bool leg_contact(int i) const;
  // The shaping term of the last step (for the reward tests).
  double last_shaping() const { return prev_shaping_; }
  // Sets the lander's position, velocity and angle (tests: observation
  // components for a set state); the next step starts from there.
  void SetLanderState(const BodyState& s);
  // The observation of the current state (no step).
  void Observe(float* obs) const;

 private:
  friend class ReplayedEpisodeEnv<LunarLander>;
  struct World;
  // Builds the episode's world from rng_ (terrain, lander, push) and takes
  // the no-op first step.
  void BuildEpisode(float* obs);
  // One step with an action as floats (discrete: the index).
  StepResult Advance(const float* action, float* obs);
  void Replay();
  // A hash of the RNG and the bodies' positions and velocities (0 without a world).
  uint64_t Fingerprint() const;
  // Error unless the recorded actions are ones Step accepted (a loaded state).
  void CheckActions() const;

  Options options_;
  Space obs_space_, act_space_;
  std::unique_ptr<World> world_;
  std::vector<double> smooth_y_;
  double helipad_x1_ = 0, helipad_x2_ = 0, helipad_y_ = 0;
  double prev_shaping_ = 0;
  bool has_prev_shaping_ = false;
  int64_t wind_idx_ = 0, torque_idx_ = 0;
  double last_main_ = 0, last_side_ = 0;  // engine powers of the last step (renders)
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_BOX2D_LUNAR_LANDER_H_
