// rlforge/envs/classic_control/cartpole.h — CartPole-v1, as Gymnasium 1.3.
//
// A pole on a cart moving along a frictionless track (Barto, Sutton & Anderson,
// 1983). State s = (x, x_dot, theta, theta_dot), float64; observation float32.
// Action 0 pushes left, 1 pushes right with force F = 10 N. One Euler step of
// tau = 0.02 s with the equations of motion from Florian (2007):
//   temp      = (F + m_p l theta_dot^2 sin(theta)) / (m_c + m_p)
//   theta_acc = (g sin(theta) - cos(theta) temp) / (l (4/3 - m_p cos^2(theta) / (m_c + m_p)))
//   x_acc     = temp - m_p l theta_acc cos(theta) / (m_c + m_p)
//   x += tau x_dot; x_dot += tau x_acc; theta += tau theta_dot; theta_dot += tau theta_acc
// (g = 9.8, m_c = 1.0, m_p = 0.1, l = 0.5 the half-length.) Terminates when
// |x| > 2.4 or |theta| > 12 degrees; reward +1 every step (with
// sutton_barto_reward: 0 per step and -1 on termination). Reset draws every
// state variable from U(-0.05, 0.05). TimeLimit 500 (registry).
#ifndef RLFORGE_ENVS_CLASSIC_CONTROL_CARTPOLE_H_
#define RLFORGE_ENVS_CLASSIC_CONTROL_CARTPOLE_H_

#include <array>

#include "rlforge/env/env.h"

namespace rlforge {

class CartPole : public EnvBase<CartPole> {
 public:
  // The observation is the state: sets it (float32 values, as doubles) and
  // continues the episode from there.
  bool SetFromObservation(const void* obs) override;
  static constexpr double kGravity = 9.8;
  static constexpr double kMassCart = 1.0;
  static constexpr double kMassPole = 0.1;
  static constexpr double kTotalMass = kMassCart + kMassPole;
  static constexpr double kHalfLength = 0.5;
  static constexpr double kPoleMassLength = kMassPole * kHalfLength;
  static constexpr double kForceMag = 10.0;
  static constexpr double kTau = 0.02;
  static constexpr double kThetaThreshold = 12 * 2 * M_PI / 360;
  static constexpr double kXThreshold = 2.4;

  explicit CartPole(bool sutton_barto_reward = false);

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return "CartPole-v1"; }
  std::string RenderText() const override;
  bool RenderRgb(Image* out) const override;

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);

  // (x, x_dot, theta, theta_dot); set_state is for tests and planners.
  const std::array<double, 4>& state() const { return s_; }
  void set_state(const std::array<double, 4>& s) { s_ = s; }
  template <class A>
  void Fields(A& ar) {
    ar(s_);
  }

 private:
  void WriteObs(void* obs) const;
  Space obs_space_, act_space_;
  bool sutton_barto_reward_;
  std::array<double, 4> s_{};
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_CLASSIC_CONTROL_CARTPOLE_H_
