#include "rlforge/envs/classic_control/pendulum.h"

#include <algorithm>
#include <cmath>

#include "rlforge/envs/classic_control/text_render.h"
#include "rlforge/env/registry.h"

namespace rlforge {

Pendulum::Pendulum(double g) : g_(g) {
  obs_space_ = Space::Box({-1, -1, -kMaxSpeed}, {1, 1, kMaxSpeed}, {3}, DType::kFloat32);
  act_space_ = Space::Box(-kMaxTorque, kMaxTorque, {1}, DType::kFloat32);
}

double Pendulum::AngleNormalize(double x) {
  // Python's % is a floored modulo: the result has the sign of the divisor.
  double m = std::fmod(x + M_PI, 2 * M_PI);
  if (m < 0) m += 2 * M_PI;
  return m - M_PI;
}

void Pendulum::WriteObs(void* obs) const {
  auto* o = static_cast<float*>(obs);
  o[0] = static_cast<float>(std::cos(theta_));
  o[1] = static_cast<float>(std::sin(theta_));
  o[2] = static_cast<float>(theta_dot_);
}

void Pendulum::ResetImpl(void* obs, Info* /*info*/) {
  theta_ = rng_.Uniform(-M_PI, M_PI);
  theta_dot_ = rng_.Uniform(-1.0, 1.0);
  last_u_ = 0;
  WriteObs(obs);
}

void Pendulum::StepImpl(const void* action, void* obs, StepResult* r) {
  // The action is float32; clipping happens in float32 as Gymnasium's np.clip.
  const float uf = std::clamp(*static_cast<const float*>(action), static_cast<float>(-kMaxTorque),
                              static_cast<float>(kMaxTorque));
  const double u = uf;
  last_u_ = u;
  const double th = theta_, thdot = theta_dot_;
  const double an = AngleNormalize(th);
  const double costs = an * an + 0.1 * thdot * thdot + 0.001 * (u * u);
  const double m = 1.0, l = 1.0;
  double newthdot = thdot + (3 * g_ / (2 * l) * std::sin(th) + 3.0 / (m * l * l) * u) * kDt;
  newthdot = std::clamp(newthdot, -kMaxSpeed, kMaxSpeed);
  const double newth = th + newthdot * kDt;
  theta_ = newth;
  theta_dot_ = newthdot;
  r->reward = -costs;
  WriteObs(obs);
}

std::string Pendulum::RenderText() const {
  return StrCat("angle from upright ", TrackLine(AngleNormalize(theta_), -M_PI, M_PI, 41, '|'), "\n",
                "theta=", Fixed(theta_), " theta_dot=", Fixed(theta_dot_), " torque=", Fixed(last_u_), "\n");
}

bool Pendulum::RenderRgb(Image* out) const {
  const int size = 500;
  *out = Image(size, size, {255, 255, 255});
  const double bound = 2.2, scale = size / (bound * 2), offset = size / 2.0;
  const double rod = 1 * scale, width = 0.2 * scale;
  // theta = 0 points up; drawn y-up then flipped.
  const double ang = theta_ + M_PI / 2;
  const double ex = offset + rod * std::cos(ang), ey = offset + rod * std::sin(ang);
  out->DrawLine(offset, offset, ex, ey, width, {204, 77, 77});
  out->FillCircle(offset, offset, width / 2, {204, 77, 77});
  out->FillCircle(ex, ey, width / 2, {204, 77, 77});
  out->FillCircle(offset, offset, 0.05 * scale, {0, 0, 0});
  out->FlipVertical();
  return true;
}

RLF_REGISTER_ENVS(pendulum) {
  const EnvSpec spec{"Pendulum-v1",
                     [](const Kwargs& kw) { return std::make_unique<Pendulum>(kw.GetDouble("g", 10.0, "Pendulum-v1")); },
                     200, std::nullopt, {}, {{"g", "10.0", "gravity"}}, "swing a pendulum up (classic control)"};
  registry.Register(spec);
  registry.Register(NoVelocitySpec(spec, {2}));  // PendulumNoVel-v1
}

bool Pendulum::SetFromObservation(const void* obs) {
  const auto* o = static_cast<const float*>(obs);
  theta_ = std::atan2(static_cast<double>(o[1]), static_cast<double>(o[0]));
  theta_dot_ = o[2];
  set_running(true);
  return true;
}

}  // namespace rlforge
