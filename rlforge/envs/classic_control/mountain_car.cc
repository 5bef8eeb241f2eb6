#include "rlforge/envs/classic_control/mountain_car.h"

#include <algorithm>
#include <cmath>

#include "rlforge/envs/classic_control/text_render.h"
#include "rlforge/env/registry.h"

namespace rlforge {
namespace {
using P = MountainCarParams;

Space CarObservationSpace() {
  return Space::Box({static_cast<float>(P::kMinPosition), static_cast<float>(-P::kMaxSpeed)},
                    {static_cast<float>(P::kMaxPosition), static_cast<float>(P::kMaxSpeed)}, {2},
                    DType::kFloat32);
}

void WriteCarObs(double p, double v, void* obs) {
  auto* o = static_cast<float*>(obs);
  o[0] = static_cast<float>(p);
  o[1] = static_cast<float>(v);
}

std::string CarText(double p, double v, double goal) {
  std::string track = TrackLine(p, P::kMinPosition, P::kMaxPosition, 41, 'o');
  const double t = (goal - P::kMinPosition) / (P::kMaxPosition - P::kMinPosition);
  const int g = 1 + static_cast<int>(t * 40 + 0.5);
  if (track[g] == '.') track[g] = 'F';
  return StrCat(track, "\nposition=", Fixed(p), " velocity=", Fixed(v), "\n");
}

// Moves the car one step given the acceleration from the action.
void Integrate(double accel, double* p, double* v) {
  *v += accel - MountainCar::kGravity * std::cos(3 * *p);
  *v = std::clamp(*v, -P::kMaxSpeed, P::kMaxSpeed);
  *p += *v;
  *p = std::clamp(*p, P::kMinPosition, P::kMaxPosition);
  if (*p == P::kMinPosition && *v < 0) *v = 0;
}

}  // namespace

void DrawMountainCar(double position, double goal_position, Image* out) {
  const int w = 600, h = 400;
  *out = Image(w, h, {255, 255, 255});
  const double world_width = P::kMaxPosition - P::kMinPosition;
  const double scale = w / world_width;
  auto height = [](double x) { return std::sin(3 * x) * 0.45 + 0.55; };
  // Hill: a polyline of 100 segments (drawn y-up, flipped at the end).
  double px = 0, py = 0;
  for (int i = 0; i <= 100; ++i) {
    const double x = P::kMinPosition + world_width * i / 100.0;
    const double sx = (x - P::kMinPosition) * scale, sy = height(x) * scale;
    if (i) out->DrawLine(px, py, sx, sy, 2, {0, 0, 0});
    px = sx;
    py = sy;
  }
  const double clearance = 10, carwidth = 40, carheight = 20;
  const double angle = std::cos(3 * position);
  const double cx = (position - P::kMinPosition) * scale, cy = clearance + height(position) * scale;
  auto rot = [&](double x, double y) {
    const double c = std::cos(angle), s = std::sin(angle);
    return std::make_pair(x * c - y * s + cx, x * s + y * c + cy);
  };
  out->FillPolygon({rot(-carwidth / 2, 0), rot(-carwidth / 2, carheight), rot(carwidth / 2, carheight),
                    rot(carwidth / 2, 0)},
                   {0, 0, 0});
  for (double wx : {carwidth / 4, -carwidth / 4}) {
    auto [wxs, wys] = rot(wx, 0);
    out->FillCircle(wxs, wys, carheight / 2.5, {128, 128, 128});
  }
  const double flagx = (goal_position - P::kMinPosition) * scale, flagy1 = height(goal_position) * scale;
  const double flagy2 = flagy1 + 50;
  out->DrawLine(flagx, flagy1, flagx, flagy2, 2, {0, 0, 0});
  out->FillPolygon({{flagx, flagy2}, {flagx, flagy2 - 10}, {flagx + 25, flagy2 - 5}}, {204, 204, 0});
  out->FlipVertical();
}

// ------------------------------------------------------------ MountainCar-v0
MountainCar::MountainCar(double goal_velocity) : goal_velocity_(goal_velocity) {
  obs_space_ = CarObservationSpace();
  act_space_ = Space::Discrete(3);
}

void MountainCar::ResetImpl(void* obs, Info* /*info*/) {
  position_ = rng_.Uniform(-0.6, -0.4);
  velocity_ = 0;
  WriteCarObs(position_, velocity_, obs);
}

void MountainCar::StepImpl(const void* action, void* obs, StepResult* r) {
  const int64_t a = *static_cast<const int64_t*>(action);
  Integrate((a - 1) * kForce, &position_, &velocity_);
  r->terminated = position_ >= kGoalPosition && velocity_ >= goal_velocity_;
  r->reward = -1.0;
  if (r->terminated) r->info.Set("is_success", 1.0);
  WriteCarObs(position_, velocity_, obs);
}

std::string MountainCar::RenderText() const { return CarText(position_, velocity_, kGoalPosition); }
bool MountainCar::RenderRgb(Image* out) const {
  DrawMountainCar(position_, kGoalPosition, out);
  return true;
}

// -------------------------------------------------- MountainCarContinuous-v0
MountainCarContinuous::MountainCarContinuous(double goal_velocity) : goal_velocity_(goal_velocity) {
  obs_space_ = CarObservationSpace();
  act_space_ = Space::Box(-1.0, 1.0, {1}, DType::kFloat32);
}

void MountainCarContinuous::ResetImpl(void* obs, Info* /*info*/) {
  position_ = rng_.Uniform(-0.6, -0.4);
  velocity_ = 0;
  WriteCarObs(position_, velocity_, obs);
}

void MountainCarContinuous::StepImpl(const void* action, void* obs, StepResult* r) {
  const double u = *static_cast<const float*>(action);
  const double force = std::clamp(u, -1.0, 1.0);
  Integrate(force * kPower, &position_, &velocity_);
  // Gymnasium decides termination on the float64 values, then stores the
  // continuous car's state as float32. The rounding goes through volatile
  // floats: GCC 12 at -O2 (SLP vectorizer) dropped the stores of plain casts
  // here, leaving the state unrounded (mountain_car_test.cc catches it).
  r->terminated = position_ >= kGoalPosition && velocity_ >= goal_velocity_;
  volatile float p32 = static_cast<float>(position_), v32 = static_cast<float>(velocity_);
  position_ = p32;
  velocity_ = v32;
  r->reward = (r->terminated ? 100.0 : 0.0) - u * u * 0.1;
  if (r->terminated) r->info.Set("is_success", 1.0);
  WriteCarObs(position_, velocity_, obs);
}

std::string MountainCarContinuous::RenderText() const { return CarText(position_, velocity_, kGoalPosition); }
bool MountainCarContinuous::RenderRgb(Image* out) const {
  DrawMountainCar(position_, kGoalPosition, out);
  return true;
}

RLF_REGISTER_ENVS(mountain_car) {
  const EnvSpec discrete{"MountainCar-v0",
                     [](const Kwargs& kw) {
                       return std::make_unique<MountainCar>(kw.GetDouble("goal_velocity", 0.0, "MountainCar-v0"));
                     },
                     200, -110.0, {}, {{"goal_velocity", "0", "minimum velocity at the goal"}},
                     "drive an underpowered car up a hill (classic control)"};
  registry.Register(discrete);
  registry.Register(NoVelocitySpec(discrete, {1}));  // MountainCarNoVel-v0
  const EnvSpec continuous{"MountainCarContinuous-v0",
                     [](const Kwargs& kw) {
                       return std::make_unique<MountainCarContinuous>(
                           kw.GetDouble("goal_velocity", 0.0, "MountainCarContinuous-v0"));
                     },
                     999, 90.0, {}, {{"goal_velocity", "0", "minimum velocity at the goal"}},
                     "the mountain car with a continuous force (classic control)"};
  registry.Register(continuous);
  registry.Register(NoVelocitySpec(continuous, {1}));  // MountainCarContinuousNoVel-v0
}

bool MountainCar::SetFromObservation(const void* obs) {
  const auto* o = static_cast<const float*>(obs);
  position_ = o[0], velocity_ = o[1];
  set_running(true);
  return true;
}

bool MountainCarContinuous::SetFromObservation(const void* obs) {
  const auto* o = static_cast<const float*>(obs);
  position_ = o[0], velocity_ = o[1];
  set_running(true);
  return true;
}

}  // namespace rlforge
