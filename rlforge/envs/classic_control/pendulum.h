// rlforge/envs/classic_control/pendulum.h — Pendulum-v1, as Gymnasium 1.3.
//
// Swing a frictionless pendulum up and keep it upright. State (theta,
// theta_dot) with theta = 0 upright; observation (cos theta, sin theta,
// theta_dot), float32. Action: torque u in [-2, 2] (clipped). With g = 10
// (kwarg), m = l = 1, dt = 0.05, one semi-implicit Euler step:
//   theta_dot' = clip(theta_dot + (3 g / (2 l) sin(theta) + 3 / (m l^2) u) dt, -8, 8)
//   theta'     = theta + theta_dot' dt
// reward = -(normalize(theta)^2 + 0.1 theta_dot^2 + 0.001 u^2), computed on the
// state before the step, normalize(x) = ((x + pi) mod 2 pi) - pi. Never
// terminates; TimeLimit 200 (registry). Reset: theta ~ U(-pi, pi),
// theta_dot ~ U(-1, 1).
#ifndef RLFORGE_ENVS_CLASSIC_CONTROL_PENDULUM_H_
#define RLFORGE_ENVS_CLASSIC_CONTROL_PENDULUM_H_

#include "rlforge/env/env.h"

namespace rlforge {

class Pendulum : public EnvBase<Pendulum> {
 public:
  // Sets theta = atan2(sin, cos) and theta_dot from an observation (in
  // doubles from its float32 values) and continues the episode from there.
  bool SetFromObservation(const void* obs) override;
  // Out-of-range torques/forces are clipped in StepImpl, as in Gymnasium.
  static constexpr bool kClipsActions = true;
  static constexpr double kMaxSpeed = 8.0;
  static constexpr double kMaxTorque = 2.0;
  static constexpr double kDt = 0.05;

  explicit Pendulum(double g = 10.0);

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return "Pendulum-v1"; }
  std::string RenderText() const override;
  bool RenderRgb(Image* out) const override;

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);

  double theta() const { return theta_; }
  double theta_dot() const { return theta_dot_; }
  void set_state(double theta, double theta_dot) {
    theta_ = theta;
    theta_dot_ = theta_dot;
  }
  static double AngleNormalize(double x);
  template <class A>
  void Fields(A& ar) {
    ar(theta_), ar(theta_dot_), ar(last_u_);
  }

 private:
  void WriteObs(void* obs) const;
  Space obs_space_, act_space_;
  double g_;
  double theta_ = 0, theta_dot_ = 0;
  double last_u_ = 0;
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_CLASSIC_CONTROL_PENDULUM_H_
