// rlforge/envs/classic_control/mountain_car.h — MountainCar-v0 and
// MountainCarContinuous-v0, as Gymnasium 1.3 (Moore, 1990).
//
// A car in a valley, position p in [-1.2, 0.6], velocity v in [-0.07, 0.07].
// The hill is y = sin(3p); gravity pulls with -0.0025 cos(3p).
//   MountainCar-v0 (discrete): action a in {0, 1, 2} = push left, none, right;
//     v += (a - 1) 0.001 - 0.0025 cos(3p); reward -1 per step.
//   MountainCarContinuous-v0: action u in [-1, 1] (clipped);
//     v += u 0.0015 - 0.0025 cos(3p); reward -0.1 u^2 per step (unclipped u)
//     plus 100 on reaching the goal.
// Then v is clipped to [-0.07, 0.07], p += v, p clipped to [-1.2, 0.6], and at
// the left wall a leftward velocity is zeroed. Terminates when p >= goal
// (0.5 discrete, 0.45 continuous) and v >= goal_velocity (0 by default).
// Reset: p ~ U(-0.6, -0.4), v = 0. TimeLimits 200 and 999 (registry).
// As Gymnasium, the continuous env keeps its state in float32 between steps.
#ifndef RLFORGE_ENVS_CLASSIC_CONTROL_MOUNTAIN_CAR_H_
#define RLFORGE_ENVS_CLASSIC_CONTROL_MOUNTAIN_CAR_H_

#include "rlforge/env/env.h"

namespace rlforge {

struct MountainCarParams {
  static constexpr double kMinPosition = -1.2;
  static constexpr double kMaxPosition = 0.6;
  static constexpr double kMaxSpeed = 0.07;
};

class MountainCar : public EnvBase<MountainCar> {
 public:
  // The observation is the state: sets it (float32 values, as doubles) and
  // continues the episode from there.
  bool SetFromObservation(const void* obs) override;
  static constexpr double kGoalPosition = 0.5;
  static constexpr double kForce = 0.001;
  static constexpr double kGravity = 0.0025;

  explicit MountainCar(double goal_velocity = 0.0);

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return "MountainCar-v0"; }
  std::string RenderText() const override;
  bool RenderRgb(Image* out) const override;
  bool defines_success() const override { return true; }

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);

  double position() const { return position_; }
  double velocity() const { return velocity_; }
  void set_state(double position, double velocity) {
    position_ = position;
    velocity_ = velocity;
  }
  template <class A>
  void Fields(A& ar) {
    ar(position_), ar(velocity_);
  }

 private:
  Space obs_space_, act_space_;
  double goal_velocity_;
  double position_ = 0, velocity_ = 0;
};

class MountainCarContinuous : public EnvBase<MountainCarContinuous> {
 public:
  // The observation is the state: sets it (float32 values, as doubles) and
  // continues the episode from there.
  bool SetFromObservation(const void* obs) override;
  // Out-of-range torques/forces are clipped in StepImpl, as in Gymnasium.
  static constexpr bool kClipsActions = true;
  static constexpr double kGoalPosition = 0.45;
  static constexpr double kPower = 0.0015;

  explicit MountainCarContinuous(double goal_velocity = 0.0);

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return "MountainCarContinuous-v0"; }
  std::string RenderText() const override;
  bool RenderRgb(Image* out) const override;
  bool defines_success() const override { return true; }

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);

  double position() const { return position_; }
  double velocity() const { return velocity_; }
  void set_state(double position, double velocity) {
    position_ = position;
    velocity_ = velocity;
  }
  template <class A>
  void Fields(A& ar) {
    ar(position_), ar(velocity_);
  }

 private:
  Space obs_space_, act_space_;
  double goal_velocity_;
  double position_ = 0, velocity_ = 0;
};

// Shared by both envs' RenderRgb: Gymnasium's 600x400 hill, car and flag.
void DrawMountainCar(double position, double goal_position, Image* out);

}  // namespace rlforge

#endif  // RLFORGE_ENVS_CLASSIC_CONTROL_MOUNTAIN_CAR_H_
