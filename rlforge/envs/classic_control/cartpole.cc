#include "rlforge/envs/classic_control/cartpole.h"

#include <cmath>
#include <limits>

#include "rlforge/envs/classic_control/text_render.h"
#include "rlforge/env/registry.h"

namespace rlforge {

CartPole::CartPole(bool sutton_barto_reward) : sutton_barto_reward_(sutton_barto_reward) {
  const double inf = std::numeric_limits<double>::infinity();
  // Bounds are float32 in Gymnasium; store them as float32 values.
  const double xh = static_cast<float>(kXThreshold * 2), th = static_cast<float>(kThetaThreshold * 2);
  obs_space_ = Space::Box({-xh, -inf, -th, -inf}, {xh, inf, th, inf}, {4}, DType::kFloat32);
  act_space_ = Space::Discrete(2);
}

void CartPole::WriteObs(void* obs) const {
  auto* o = static_cast<float*>(obs);
  for (int i = 0; i < 4; ++i) o[i] = static_cast<float>(s_[i]);
}

void CartPole::ResetImpl(void* obs, Info* /*info*/) {
  for (double& v : s_) v = rng_.Uniform(-0.05, 0.05);
  WriteObs(obs);
}

void CartPole::StepImpl(const void* action, void* obs, StepResult* r) {
  const int64_t a = *static_cast<const int64_t*>(action);
  double x = s_[0], x_dot = s_[1], theta = s_[2], theta_dot = s_[3];
  const double force = a == 1 ? kForceMag : -kForceMag;
  const double costheta = std::cos(theta);
  const double sintheta = std::sin(theta);
  const double temp = (force + kPoleMassLength * theta_dot * theta_dot * sintheta) / kTotalMass;
  const double thetaacc = (kGravity * sintheta - costheta * temp) /
                          (kHalfLength * (4.0 / 3.0 - kMassPole * costheta * costheta / kTotalMass));
  const double xacc = temp - kPoleMassLength * thetaacc * costheta / kTotalMass;
  x = x + kTau * x_dot;
  x_dot = x_dot + kTau * xacc;
  theta = theta + kTau * theta_dot;
  theta_dot = theta_dot + kTau * thetaacc;
  s_ = {x, x_dot, theta, theta_dot};

  r->terminated = x < -kXThreshold || x > kXThreshold || theta < -kThetaThreshold || theta > kThetaThreshold;
  if (sutton_barto_reward_) {
    r->reward = r->terminated ? -1.0 : 0.0;
  } else {
    r->reward = 1.0;
  }
  WriteObs(obs);
}

std::string CartPole::RenderText() const {
  return StrCat(TrackLine(s_[0], -kXThreshold, kXThreshold, 41, s_[2] >= 0 ? '/' : '\\'), "\n",
                "x=", Fixed(s_[0]), " x_dot=", Fixed(s_[1]), " theta=", Fixed(s_[2]),
                " theta_dot=", Fixed(s_[3]), "\n");
}

bool CartPole::RenderRgb(Image* out) const {
  // Gymnasium's 600x400 drawing: track, cart, pole, axle.
  const int w = 600, h = 400;
  *out = Image(w, h, {255, 255, 255});
  const double world_width = kXThreshold * 2;
  const double scale = w / world_width;
  const double polewidth = 10.0, polelen = scale * (2 * kHalfLength);
  const double cartwidth = 50.0, cartheight = 30.0;
  const double carty = 100;  // drawn with y up, flipped at the end
  const double cartx = s_[0] * scale + w / 2.0;
  const double l = -cartwidth / 2, rr = cartwidth / 2, t = cartheight / 2, b = -cartheight / 2;
  out->FillPolygon({{l + cartx, b + carty}, {l + cartx, t + carty}, {rr + cartx, t + carty}, {rr + cartx, b + carty}},
                   {0, 0, 0});
  const double axleoffset = cartheight / 4.0;
  const double pl = -polewidth / 2, pr = polewidth / 2, pt = polelen - polewidth / 2, pb = -polewidth / 2;
  std::vector<std::pair<double, double>> pole;
  for (auto [px, py] : std::vector<std::pair<double, double>>{{pl, pb}, {pl, pt}, {pr, pt}, {pr, pb}}) {
    // rotate by -theta (clockwise for positive theta), as Gymnasium does
    const double c = std::cos(-s_[2]), s = std::sin(-s_[2]);
    pole.push_back({px * c - py * s + cartx, px * s + py * c + carty + axleoffset});
  }
  out->FillPolygon(pole, {202, 152, 101});
  out->FillCircle(cartx, carty + axleoffset, polewidth / 2, {129, 132, 203});
  out->DrawLine(0, carty, w, carty, 1, {0, 0, 0});
  out->FlipVertical();
  return true;
}

RLF_REGISTER_ENVS(cartpole) {
  const EnvSpec spec{"CartPole-v1",
                     [](const Kwargs& kw) {
                       return std::make_unique<CartPole>(kw.GetBool("sutton_barto_reward", false, "CartPole-v1"));
                     },
                     500, 475.0, {}, {{"sutton_barto_reward", "false", "0 per step and -1 on failure"}},
                     "balance a pole on a cart (classic control)"};
  registry.Register(spec);
  registry.Register(NoVelocitySpec(spec, {1, 3}));  // CartPoleNoVel-v1
}

bool CartPole::SetFromObservation(const void* obs) {
  const auto* o = static_cast<const float*>(obs);
  for (int k = 0; k < 4; ++k) s_[k] = o[k];
  set_running(true);
  return true;
}

}  // namespace rlforge
