// rlforge/envs/classic_control/acrobot.h — Acrobot-v1, as Gymnasium 1.3.
//
// Two links hanging from a fixed joint; torque only at the joint between them
// (Sutton, 1996; dynamics from Sutton & Barto's book). State (theta1, theta2,
// dtheta1, dtheta2), float64; observation (cos t1, sin t1, cos t2, sin t2,
// dt1, dt2), float32. Action {0, 1, 2} applies torque {-1, 0, +1}.
// One step integrates the "book" equations over dt = 0.2 s with a single
// classic fourth-order Runge-Kutta step:
//   k1 = f(y), k2 = f(y + dt/2 k1), k3 = f(y + dt/2 k2), k4 = f(y + dt k3),
//   y' = y + dt/6 (k1 + 2 k2 + 2 k3 + k4);
// then the angles are wrapped into [-pi, pi] and the velocities clipped to
// +-4 pi and +-9 pi. Terminates when -cos(t1) - cos(t1 + t2) > 1 (the tip is
// a link length above the pivot); reward -1 per step, 0 on the final step.
// Reset: every state variable ~ U(-0.1, 0.1). TimeLimit 500 (registry).
#ifndef RLFORGE_ENVS_CLASSIC_CONTROL_ACROBOT_H_
#define RLFORGE_ENVS_CLASSIC_CONTROL_ACROBOT_H_

#include <array>

#include "rlforge/env/env.h"

namespace rlforge {

class Acrobot : public EnvBase<Acrobot> {
 public:
  // Sets the angles (atan2 of each sin/cos pair) and velocities from an
  // observation (in doubles from its float32 values) and continues from there.
  bool SetFromObservation(const void* obs) override;
  static constexpr double kDt = 0.2;
  static constexpr double kLinkLength1 = 1.0;
  static constexpr double kLinkMass1 = 1.0, kLinkMass2 = 1.0;
  static constexpr double kLinkComPos1 = 0.5, kLinkComPos2 = 0.5;
  static constexpr double kLinkMoi = 1.0;
  static constexpr double kMaxVel1 = 4 * M_PI, kMaxVel2 = 9 * M_PI;

  Acrobot();

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return "Acrobot-v1"; }
  std::string RenderText() const override;
  bool RenderRgb(Image* out) const override;
  bool defines_success() const override { return true; }

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);

  const std::array<double, 4>& state() const { return s_; }
  void set_state(const std::array<double, 4>& s) { s_ = s; }
  template <class A>
  void Fields(A& ar) {
    ar(s_);
  }

  // Time derivative of (t1, t2, dt1, dt2) under torque a ("book" dynamics).
  static std::array<double, 4> Derivatives(const std::array<double, 4>& s, double torque);
  // One RK4 step of length dt.
  static std::array<double, 4> Rk4(const std::array<double, 4>& s, double torque, double dt);

 private:
  void WriteObs(void* obs) const;
  Space obs_space_, act_space_;
  std::array<double, 4> s_{};
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_CLASSIC_CONTROL_ACROBOT_H_
