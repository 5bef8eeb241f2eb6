#include "rlforge/envs/classic_control/acrobot.h"

#include <algorithm>
#include <cmath>

#include "rlforge/envs/classic_control/text_render.h"
#include "rlforge/env/registry.h"

namespace rlforge {
namespace {

// Gymnasium's wrap(): shifts x by multiples of (M - m) into [m, M].
double Wrap(double x, double m, double M) {
  const double diff = M - m;
  while (x > M) x -= diff;
  while (x < m) x += diff;
  return x;
}

}  // namespace

Acrobot::Acrobot() {
  const float v1 = static_cast<float>(kMaxVel1), v2 = static_cast<float>(kMaxVel2);
  obs_space_ = Space::Box({-1, -1, -1, -1, -v1, -v2}, {1, 1, 1, 1, v1, v2}, {6}, DType::kFloat32);
  act_space_ = Space::Discrete(3);
}

std::array<double, 4> Acrobot::Derivatives(const std::array<double, 4>& s, double a) {
  const double m1 = kLinkMass1, m2 = kLinkMass2, l1 = kLinkLength1;
  const double lc1 = kLinkComPos1, lc2 = kLinkComPos2, I1 = kLinkMoi, I2 = kLinkMoi;
  const double g = 9.8;
  const double theta1 = s[0], theta2 = s[1], dtheta1 = s[2], dtheta2 = s[3];
  const double d1 = m1 * lc1 * lc1 + m2 * (l1 * l1 + lc2 * lc2 + 2 * l1 * lc2 * std::cos(theta2)) + I1 + I2;
  const double d2 = m2 * (lc2 * lc2 + l1 * lc2 * std::cos(theta2)) + I2;
  const double phi2 = m2 * lc2 * g * std::cos(theta1 + theta2 - M_PI / 2.0);
  const double phi1 = -m2 * l1 * lc2 * dtheta2 * dtheta2 * std::sin(theta2) -
                      2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * std::sin(theta2) +
                      (m1 * lc1 + m2 * l1) * g * std::cos(theta1 - M_PI / 2) + phi2;
  const double ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1 * dtheta1 * std::sin(theta2) - phi2) /
                          (m2 * lc2 * lc2 + I2 - d2 * d2 / d1);
  const double ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
  return {dtheta1, dtheta2, ddtheta1, ddtheta2};
}

std::array<double, 4> Acrobot::Rk4(const std::array<double, 4>& y0, double torque, double dt) {
  auto axpy = [](const std::array<double, 4>& y, double h, const std::array<double, 4>& k) {
    return std::array<double, 4>{y[0] + h * k[0], y[1] + h * k[1], y[2] + h * k[2], y[3] + h * k[3]};
  };
  const double dt2 = dt / 2.0;
  const auto k1 = Derivatives(y0, torque);
  const auto k2 = Derivatives(axpy(y0, dt2, k1), torque);
  const auto k3 = Derivatives(axpy(y0, dt2, k2), torque);
  const auto k4 = Derivatives(axpy(y0, dt, k3), torque);
  std::array<double, 4> out;
  for (int i = 0; i < 4; ++i) out[i] = y0[i] + dt / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
  return out;
}

void Acrobot::WriteObs(void* obs) const {
  auto* o = static_cast<float*>(obs);
  o[0] = static_cast<float>(std::cos(s_[0]));
  o[1] = static_cast<float>(std::sin(s_[0]));
  o[2] = static_cast<float>(std::cos(s_[1]));
  o[3] = static_cast<float>(std::sin(s_[1]));
  o[4] = static_cast<float>(s_[2]);
  o[5] = static_cast<float>(s_[3]);
}

void Acrobot::ResetImpl(void* obs, Info* /*info*/) {
  for (double& v : s_) v = rng_.Uniform(-0.1, 0.1);
  WriteObs(obs);
}

void Acrobot::StepImpl(const void* action, void* obs, StepResult* r) {
  static constexpr double kTorques[3] = {-1.0, 0.0, 1.0};
  const double torque = kTorques[*static_cast<const int64_t*>(action)];
  std::array<double, 4> ns = Rk4(s_, torque, kDt);
  ns[0] = Wrap(ns[0], -M_PI, M_PI);
  ns[1] = Wrap(ns[1], -M_PI, M_PI);
  ns[2] = std::clamp(ns[2], -kMaxVel1, kMaxVel1);
  ns[3] = std::clamp(ns[3], -kMaxVel2, kMaxVel2);
  s_ = ns;
  r->terminated = -std::cos(s_[0]) - std::cos(s_[1] + s_[0]) > 1.0;
  r->reward = r->terminated ? 0.0 : -1.0;
  if (r->terminated) r->info.Set("is_success", 1.0);
  WriteObs(obs);
}

std::string Acrobot::RenderText() const {
  const double tip = -std::cos(s_[0]) - std::cos(s_[1] + s_[0]);
  return StrCat("tip height ", TrackLine(tip, -2.0, 2.0, 41, '*'), " (goal > 1)\n", "theta1=", Fixed(s_[0]),
                " theta2=", Fixed(s_[1]), " dtheta1=", Fixed(s_[2]), " dtheta2=", Fixed(s_[3]), "\n");
}

bool Acrobot::RenderRgb(Image* out) const {
  const int size = 500;
  *out = Image(size, size, {255, 255, 255});
  const double bound = kLinkLength1 * 2 + 0.2;
  const double scale = size / (bound * 2);
  const double offset = size / 2.0;
  auto px = [&](double x) { return x * scale + offset; };
  // Link ends, y up (flipped at the end), as Gymnasium's drawing.
  const double p1x = kLinkLength1 * std::sin(s_[0]), p1y = -kLinkLength1 * std::cos(s_[0]);
  const double p2x = p1x + std::sin(s_[0] + s_[1]), p2y = p1y - std::cos(s_[0] + s_[1]);
  out->DrawLine(px(-2.2), px(1), px(2.2), px(1), 1, {0, 0, 0});
  out->DrawLine(px(0), px(0), px(p1x), px(p1y), 0.2 * scale, {0, 204, 204});
  out->DrawLine(px(p1x), px(p1y), px(p2x), px(p2y), 0.2 * scale, {0, 204, 204});
  out->FillCircle(px(0), px(0), 0.1 * scale, {204, 204, 0});
  out->FillCircle(px(p1x), px(p1y), 0.1 * scale, {204, 204, 0});
  out->FlipVertical();
  return true;
}

RLF_REGISTER_ENVS(acrobot) {
  registry.Register({"Acrobot-v1", [](const Kwargs&) { return std::make_unique<Acrobot>(); }, 500, -100.0, {}, {},
                     "swing a two-link arm up (classic control)"});
}

bool Acrobot::SetFromObservation(const void* obs) {
  const auto* o = static_cast<const float*>(obs);
  s_[0] = std::atan2(static_cast<double>(o[1]), static_cast<double>(o[0]));
  s_[1] = std::atan2(static_cast<double>(o[3]), static_cast<double>(o[2]));
  s_[2] = o[4];
  s_[3] = o[5];
  set_running(true);
  return true;
}

}  // namespace rlforge
