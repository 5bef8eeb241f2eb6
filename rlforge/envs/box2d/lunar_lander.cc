#include "rlforge/envs/box2d/lunar_lander.h"

#include <box2d/box2d.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>

#include "rlforge/core/warning.h"
#include "rlforge/env/image.h"
#include "rlforge/env/policy.h"
#include "rlforge/env/registry.h"
#include "rlforge/envs/box2d/replay.h"
#include "rlforge/envs/classic_control/text_render.h"

namespace rlforge {

namespace {
constexpr double kW = LunarLander::kViewportW / LunarLander::kScale;  // 20
constexpr double kH = LunarLander::kViewportH / LunarLander::kScale;  // 13.33
constexpr uint16_t kGroundBits = 0x0001, kLanderBits = 0x0010, kLegBits = 0x0020;
}  // namespace

// The Box2D world of one episode: terrain, lander, legs and their joints,
// and the contact listener that flags game over and leg contacts.
struct LunarLander::World : public b2ContactListener {
  explicit World(double gravity) : world(b2Vec2(0.0f, static_cast<float>(gravity))) { world.SetContactListener(this); }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  void BeginContact(b2Contact* contact) override {
    b2Body* a = contact->GetFixtureA()->GetBody();
    b2Body* b = contact->GetFixtureB()->GetBody();
    if (a == lander || b == lander) game_over = true;
    for (int i = 0; i < 2; ++i)
      if (a == legs[i] || b == legs[i]) leg_contact[i] = true;
  }
  void EndContact(b2Contact* contact) override {
    b2Body* a = contact->GetFixtureA()->GetBody();
    b2Body* b = contact->GetFixtureB()->GetBody();
    for (int i = 0; i < 2; ++i)
      if (a == legs[i] || b == legs[i]) leg_contact[i] = false;
  }

  b2World world;
  b2Body* moon = nullptr;
  b2Body* lander = nullptr;
  b2Body* legs[2] = {nullptr, nullptr};
  bool leg_contact[2] = {false, false};
  bool game_over = false;
};

LunarLander::LunarLander(const Options& o) : options_(o) {
  RLF_CHECK_ARG(o.gravity > -12.0 && o.gravity < 0.0, "LunarLander: gravity must be in (-12, 0), got ", o.gravity);
  RLF_CHECK_ARG(std::isfinite(o.wind_power) && std::isfinite(o.turbulence_power),
                "LunarLander: wind_power and turbulence_power must be finite");
  obs_space_ = Space::Box({-2.5, -2.5, -10.0, -10.0, -2 * M_PI, -10.0, -0.0, -0.0},
                          {2.5, 2.5, 10.0, 10.0, 2 * M_PI, 10.0, 1.0, 1.0}, {8}, DType::kFloat32);
  act_space_ = o.continuous ? Space::Box(-1.0, 1.0, {2}, DType::kFloat32) : Space::Discrete(4);
}

LunarLander::LunarLander(const LunarLander& other) : ReplayedEpisodeEnv<LunarLander>(other) { *this = other; }

LunarLander& LunarLander::operator=(const LunarLander& other) {
  if (this == &other) return *this;
  RLF_CHECK(other.world_ == nullptr || other.has_episode_, other.name(),
            ": an env whose lander state was set directly (SetLanderState) cannot be copied");
  options_ = other.options_;
  obs_space_ = other.obs_space_;
  act_space_ = other.act_space_;
  CopyEpisodeFrom(other);
  return *this;
}

LunarLander::~LunarLander() = default;

void LunarLander::CheckActions() const {
  CheckEpisodeRecord(name(), has_episode_, reset_rng_, actions_, options_.continuous ? 2 : 1,
                     options_.continuous ? 0 : 4);
}

uint64_t LunarLander::Fingerprint() const {
  return world_ && has_episode_ ? WorldFingerprint(rng_.state(), world_->world) : 0;
}

void LunarLander::Replay() {
  world_.reset();
  if (!has_episode_) return;
  rng_.set_state(reset_rng_);
  float obs[8];
  BuildEpisode(obs);
  const size_t k = options_.continuous ? 2 : 1;
  for (size_t i = 0; i + k <= actions_.size(); i += k) Advance(actions_.data() + i, obs);
}

void LunarLander::ResetImpl(void* obs, Info* /*info*/) {
  StartRecord();
  BuildEpisode(static_cast<float*>(obs));
}

void LunarLander::BuildEpisode(float* obs) {
  world_ = std::make_unique<World>(options_.gravity);
  World& w = *world_;
  has_prev_shaping_ = false;
  prev_shaping_ = 0;
  // Terrain.
  double height[kChunks + 1];
  for (double& h : height) h = rng_.Uniform(0.0, kH / 2);
  double chunk_x[kChunks];
  for (int i = 0; i < kChunks; ++i) chunk_x[i] = kW / (kChunks - 1) * i;
  helipad_x1_ = chunk_x[kChunks / 2 - 1];
  helipad_x2_ = chunk_x[kChunks / 2 + 1];
  helipad_y_ = kH / 4;
  for (int d = -2; d <= 2; ++d) height[kChunks / 2 + d] = helipad_y_;
  smooth_y_.resize(kChunks);
  for (int i = 0; i < kChunks; ++i)
    smooth_y_[i] = 0.33 * (height[(i - 1 + kChunks + 1) % (kChunks + 1)] + height[i] + height[i + 1]);
  b2BodyDef ground;
  w.moon = w.world.CreateBody(&ground);
  b2EdgeShape bottom;
  bottom.SetTwoSided(b2Vec2(0, 0), b2Vec2(static_cast<float>(kW), 0));
  b2FixtureDef bottom_fd;  // Box2D's defaults (friction 0.2), as pybox2d's shapes= argument
  bottom_fd.shape = &bottom;
  w.moon->CreateFixture(&bottom_fd);
  for (int i = 0; i + 1 < kChunks; ++i) {
    b2EdgeShape edge;
    edge.SetTwoSided(b2Vec2(static_cast<float>(chunk_x[i]), static_cast<float>(smooth_y_[i])),
                     b2Vec2(static_cast<float>(chunk_x[i + 1]), static_cast<float>(smooth_y_[i + 1])));
    b2FixtureDef fd;
    fd.shape = &edge;
    fd.density = 0;
    fd.friction = 0.1f;
    w.moon->CreateFixture(&fd);
  }
  // The lander, pushed by a random force during the first step.
  const double x0 = kW / 2, y0 = kH;
  b2BodyDef bd;
  bd.type = b2_dynamicBody;
  bd.position.Set(static_cast<float>(x0), static_cast<float>(y0));
  bd.angle = 0;
  w.lander = w.world.CreateBody(&bd);
  const double poly[6][2] = {{-14, 17}, {-17, 0}, {-17, -10}, {17, -10}, {17, 0}, {14, 17}};
  b2Vec2 pts[6];
  for (int i = 0; i < 6; ++i) pts[i].Set(static_cast<float>(poly[i][0] / kScale), static_cast<float>(poly[i][1] / kScale));
  b2PolygonShape hull;
  hull.Set(pts, 6);
  b2FixtureDef hull_fd;
  hull_fd.shape = &hull;
  hull_fd.density = 5.0f;
  hull_fd.friction = 0.1f;
  hull_fd.restitution = 0.0f;
  hull_fd.filter.categoryBits = kLanderBits;
  hull_fd.filter.maskBits = kGroundBits;
  w.lander->CreateFixture(&hull_fd);
  const double fx = rng_.Uniform(-kInitialRandom, kInitialRandom);
  const double fy = rng_.Uniform(-kInitialRandom, kInitialRandom);
  w.lander->ApplyForceToCenter(b2Vec2(static_cast<float>(fx), static_cast<float>(fy)), true);
  if (options_.enable_wind) {
    wind_idx_ = static_cast<int64_t>(rng_.UniformInt(19998)) - 9999;
    torque_idx_ = static_cast<int64_t>(rng_.UniformInt(19998)) - 9999;
  }
  // Legs on motored, limited revolute joints.
  for (int k = 0; k < 2; ++k) {
    const int i = k == 0 ? -1 : 1;
    b2BodyDef ld;
    ld.type = b2_dynamicBody;
    ld.position.Set(static_cast<float>(x0 - i * kLegAway / kScale), static_cast<float>(y0));
    ld.angle = static_cast<float>(i * 0.05);
    w.legs[k] = w.world.CreateBody(&ld);
    b2PolygonShape box;
    box.SetAsBox(static_cast<float>(kLegW / kScale), static_cast<float>(kLegH / kScale));
    b2FixtureDef fd;
    fd.shape = &box;
    fd.density = 1.0f;
    fd.restitution = 0.0f;
    fd.filter.categoryBits = kLegBits;
    fd.filter.maskBits = kGroundBits;
    w.legs[k]->CreateFixture(&fd);
    b2RevoluteJointDef rjd;
    rjd.bodyA = w.lander;
    rjd.bodyB = w.legs[k];
    rjd.localAnchorA.Set(0, 0);
    rjd.localAnchorB.Set(static_cast<float>(i * kLegAway / kScale), static_cast<float>(kLegDown / kScale));
    // pybox2d sets a revolute joint's reference angle to angle(B) - angle(A)
    // when both bodies are given (Box2D's own default is 0).
    rjd.referenceAngle = w.legs[k]->GetAngle() - w.lander->GetAngle();
    rjd.enableMotor = true;
    rjd.enableLimit = true;
    rjd.maxMotorTorque = static_cast<float>(kLegSpringTorque);
    rjd.motorSpeed = static_cast<float>(0.3 * i);
    rjd.lowerAngle = static_cast<float>(i == -1 ? 0.9 - 0.5 : -0.9);
    rjd.upperAngle = static_cast<float>(i == -1 ? 0.9 : -0.9 + 0.5);
    w.world.CreateJoint(&rjd);
  }
  const float noop[2] = {0, 0};
  Advance(noop, obs);
}

void LunarLander::StepImpl(const void* action, void* obs, StepResult* result) {
  RLF_CHECK(world_ != nullptr, name(), ": no episode to continue (its state was set directly, not replayable); call reset()");
  float a[2];
  if (options_.continuous) {
    const auto* in = static_cast<const float*>(action);
    a[0] = in[0], a[1] = in[1];
    actions_.insert(actions_.end(), a, a + 2);
  } else {
    const int64_t k = *static_cast<const int64_t*>(action);
    if (k < 0 || k > 3) throw InvalidArgument(StrCat(name(), ": invalid action: ", k, " is not in Discrete(4)"));
    a[0] = static_cast<float>(k);
    actions_.push_back(a[0]);
  }
  *result = Advance(a, static_cast<float*>(obs));
}

StepResult LunarLander::Advance(const float* action, float* obs) {
  World& w = *world_;
  b2Body* lander = w.lander;
  if (options_.enable_wind && !(w.leg_contact[0] || w.leg_contact[1])) {
    auto wave = [](int64_t k) { return std::tanh(std::sin(0.02 * k) + std::sin(M_PI * 0.01 * k)); };
    const double wind = wave(wind_idx_) * options_.wind_power;
    ++wind_idx_;
    lander->ApplyForceToCenter(b2Vec2(static_cast<float>(wind), 0.0f), true);
    const double torque = wave(torque_idx_) * options_.turbulence_power;
    ++torque_idx_;
    lander->ApplyTorque(static_cast<float>(torque), true);
  }
  double a0 = 0, a1 = 0;
  int discrete = -1;
  if (options_.continuous) {
    a0 = std::clamp<double>(action[0], -1.0, 1.0);
    a1 = std::clamp<double>(action[1], -1.0, 1.0);
  } else {
    discrete = static_cast<int>(action[0]);
  }
  const double angle = lander->GetAngle();
  const double tip[2] = {std::sin(angle), std::cos(angle)};
  const double side[2] = {-tip[1], tip[0]};
  double dispersion[2];
  for (double& d : dispersion) d = rng_.Uniform(-1.0, 1.0) / kScale;
  const b2Vec2 pos = lander->GetPosition();
  double m_power = 0;
  if ((options_.continuous && a0 > 0.0) || discrete == 2) {
    m_power = options_.continuous ? (std::clamp(a0, 0.0, 1.0) + 1.0) * 0.5 : 1.0;
    const double ox = tip[0] * (kMainEngineYLocation / kScale + 2 * dispersion[0]) + side[0] * dispersion[1];
    const double oy = -tip[1] * (kMainEngineYLocation / kScale + 2 * dispersion[0]) - side[1] * dispersion[1];
    const b2Vec2 at(static_cast<float>(pos.x + ox), static_cast<float>(pos.y + oy));
    lander->ApplyLinearImpulse(b2Vec2(static_cast<float>(-ox * kMainEnginePower * m_power),
                                      static_cast<float>(-oy * kMainEnginePower * m_power)),
                               at, true);
  }
  double s_power = 0;
  if ((options_.continuous && std::abs(a1) > 0.5) || discrete == 1 || discrete == 3) {
    double direction;
    if (options_.continuous) {
      direction = a1 > 0 ? 1.0 : -1.0;
      s_power = std::clamp(std::abs(a1), 0.5, 1.0);
    } else {
      direction = discrete - 2;
      s_power = 1.0;
    }
    const double ox = tip[0] * dispersion[0] + side[0] * (3 * dispersion[1] + direction * kSideEngineAway / kScale);
    const double oy = -tip[1] * dispersion[0] - side[1] * (3 * dispersion[1] + direction * kSideEngineAway / kScale);
    const b2Vec2 at(static_cast<float>(pos.x + ox - tip[0] * 17 / kScale),
                    static_cast<float>(pos.y + oy + tip[1] * kSideEngineHeight / kScale));
    lander->ApplyLinearImpulse(b2Vec2(static_cast<float>(-ox * kSideEnginePower * s_power),
                                      static_cast<float>(-oy * kSideEnginePower * s_power)),
                               at, true);
  }
  last_main_ = m_power, last_side_ = s_power;
  w.world.Step(static_cast<float>(1.0 / kFps), 6 * 30, 2 * 30);

  double state[8];
  {
    const b2Vec2 p = lander->GetPosition(), v = lander->GetLinearVelocity();
    state[0] = (p.x - kW / 2) / (kW / 2);
    state[1] = (p.y - (helipad_y_ + kLegDown / kScale)) / (kH / 2);
    state[2] = v.x * (kW / 2) / kFps;
    state[3] = v.y * (kH / 2) / kFps;
    state[4] = lander->GetAngle();
    state[5] = 20.0 * lander->GetAngularVelocity() / kFps;
    state[6] = w.leg_contact[0] ? 1.0 : 0.0;
    state[7] = w.leg_contact[1] ? 1.0 : 0.0;
  }
  for (int i = 0; i < 8; ++i) obs[i] = static_cast<float>(state[i]);
  StepResult r;
  const double shaping = -100 * std::sqrt(state[0] * state[0] + state[1] * state[1]) -
                         100 * std::sqrt(state[2] * state[2] + state[3] * state[3]) - 100 * std::abs(state[4]) +
                         10 * state[6] + 10 * state[7];
  double reward = has_prev_shaping_ ? shaping - prev_shaping_ : 0.0;
  prev_shaping_ = shaping;
  has_prev_shaping_ = true;
  reward -= m_power * 0.30;
  reward -= s_power * 0.03;
  if (w.game_over || std::abs(state[0]) >= 1.0) {
    r.terminated = true;
    reward = -100;
  }
  if (!lander->IsAwake()) {
    r.terminated = true;
    reward = +100;
  }
  r.reward = reward;
  return r;
}

LunarLander::BodyState LunarLander::lander_state() const {
  RLF_CHECK(world_ != nullptr, name(), ": no episode (call reset() first)");
  const b2Body* b = world_->lander;
  return {b->GetPosition().x, b->GetPosition().y, b->GetLinearVelocity().x, b->GetLinearVelocity().y,
          b->GetAngle(),      b->GetAngularVelocity(), b->IsAwake()};
}

bool LunarLander::leg_contact(int i) const { return world_ != nullptr && world_->leg_contact[i]; }

void LunarLander::SetLanderState(const BodyState& s) {
  RLF_CHECK(world_ != nullptr, name(), ": no episode (call reset() first)");
  b2Body* b = world_->lander;
  // The legs move rigidly with the hull (rotated about its origin by the
  // change of angle), so that the joints hold without pulling.
  const b2Vec2 old_pos = b->GetPosition();
  const double turn = s.angle - b->GetAngle(), c = std::cos(turn), sn = std::sin(turn);
  for (b2Body* leg : world_->legs) {
    const b2Vec2 d = leg->GetPosition() - old_pos;
    leg->SetTransform(b2Vec2(static_cast<float>(s.x + c * d.x - sn * d.y), static_cast<float>(s.y + sn * d.x + c * d.y)),
                      static_cast<float>(leg->GetAngle() + turn));
    leg->SetLinearVelocity(b2Vec2(static_cast<float>(s.vx), static_cast<float>(s.vy)));
    leg->SetAngularVelocity(static_cast<float>(s.angular_velocity));
  }
  b->SetTransform(b2Vec2(static_cast<float>(s.x), static_cast<float>(s.y)), static_cast<float>(s.angle));
  b->SetLinearVelocity(b2Vec2(static_cast<float>(s.vx), static_cast<float>(s.vy)));
  b->SetAngularVelocity(static_cast<float>(s.angular_velocity));
  // Not replayable: a set state is a test fixture, not an episode.
  has_episode_ = false;
}

void LunarLander::Observe(float* obs) const {
  const BodyState s = lander_state();
  obs[0] = static_cast<float>((s.x - kW / 2) / (kW / 2));
  obs[1] = static_cast<float>((s.y - (helipad_y_ + kLegDown / kScale)) / (kH / 2));
  obs[2] = static_cast<float>(s.vx * (kW / 2) / kFps);
  obs[3] = static_cast<float>(s.vy * (kH / 2) / kFps);
  obs[4] = static_cast<float>(s.angle);
  obs[5] = static_cast<float>(20.0 * s.angular_velocity / kFps);
  obs[6] = leg_contact(0) ? 1.0f : 0.0f;
  obs[7] = leg_contact(1) ? 1.0f : 0.0f;
}

std::string LunarLander::RenderText() const {
  if (!world_) return name() + ": not reset\n";
  float o[8];
  Observe(o);
  return StrCat("x ", TrackLine(o[0], -1, 1, 41, 'L'), " pad at centre\n", "y=", Fixed(o[1]), " vx=", Fixed(o[2]),
                " vy=", Fixed(o[3]), " angle=", Fixed(o[4]), " legs=", leg_contact(0) ? 1 : 0, leg_contact(1) ? 1 : 0,
                " main=", Fixed(last_main_), " side=", Fixed(last_side_), "\n");
}

bool LunarLander::RenderRgb(Image* out) const {
  const int W = static_cast<int>(kViewportW), H = static_cast<int>(kViewportH);
  *out = Image(W, H, {255, 255, 255});
  if (!world_) return true;
  const double s = kScale;
  // The sky above the terrain is black (the ground stays white), drawn y-up then flipped.
  for (int i = 0; i + 1 < kChunks; ++i) {
    const double x1 = kW / (kChunks - 1) * i, x2 = kW / (kChunks - 1) * (i + 1);
    out->FillPolygon({{x1 * s, smooth_y_[i] * s}, {x2 * s, smooth_y_[i + 1] * s}, {x2 * s, kH * s}, {x1 * s, kH * s}},
                     {0, 0, 0});
  }
  auto draw_body = [&](const b2Body* body, Rgb fill, Rgb edge) {
    for (const b2Fixture* f = body->GetFixtureList(); f; f = f->GetNext()) {
      const auto* poly = static_cast<const b2PolygonShape*>(f->GetShape());
      std::vector<std::pair<double, double>> path;
      for (int k = 0; k < poly->m_count; ++k) {
        const b2Vec2 v = b2Mul(body->GetTransform(), poly->m_vertices[k]);
        path.push_back({v.x * s, v.y * s});
      }
      out->FillPolygon(path, fill);
      for (size_t k = 0; k < path.size(); ++k) {
        const auto& p = path[k];
        const auto& q = path[(k + 1) % path.size()];
        out->DrawLine(p.first, p.second, q.first, q.second, 1.0, edge);
      }
    }
  };
  const World& w = *world_;
  // Engine flames (Gymnasium draws exhaust particles; here a stroke per firing engine).
  const b2Vec2 p = w.lander->GetPosition();
  const double a = w.lander->GetAngle(), tx = std::sin(a), ty = std::cos(a);
  if (last_main_ > 0)
    out->DrawLine(p.x * s + tx * 10, p.y * s - ty * 10, p.x * s + tx * (10 + 25 * last_main_),
                  p.y * s - ty * (10 + 25 * last_main_), 4.0, {255, 128, 51});
  draw_body(w.lander, {128, 102, 230}, {77, 77, 128});
  for (const b2Body* leg : w.legs) draw_body(leg, {128, 102, 230}, {77, 77, 128});
  for (double x : {helipad_x1_, helipad_x2_}) {
    const double fx = x * s, y1 = helipad_y_ * s, y2 = y1 + 50;
    out->DrawLine(fx, y1, fx, y2, 1.0, {255, 255, 255});
    out->FillPolygon({{fx, y2}, {fx, y2 - 10}, {fx + 25, y2 - 5}}, {204, 204, 0});
  }
  out->FlipVertical();
  return true;
}

namespace {
// Gymnasium's scripted lander (lunar_lander.heuristic): a PD controller on
// the angle, targeting a tilt towards the pad, and on the hover height.
class LunarLanderHeuristic : public Policy {
 public:
  explicit LunarLanderHeuristic(bool continuous) : continuous_(continuous) {}
  void Act(const void* observations, const uint8_t* /*masks*/, int n, void* actions) override {
    const auto* obs = static_cast<const float*>(observations);
    for (int i = 0; i < n; ++i) {
      const float* s = obs + 8 * i;
      const double angle_target = std::clamp(s[0] * 0.5 + s[2] * 1.0, -0.4, 0.4);
      const double hover_target = 0.55 * std::abs(s[0]);
      double angle_todo = (angle_target - s[4]) * 0.5 - s[5] * 1.0;
      double hover_todo = (hover_target - s[1]) * 0.5 - s[3] * 0.5;
      if (s[6] != 0 || s[7] != 0) {  // touching down: just soften the fall
        angle_todo = 0;
        hover_todo = -s[3] * 0.5;
      }
      if (continuous_) {
        auto* a = static_cast<float*>(actions) + 2 * i;
        a[0] = static_cast<float>(std::clamp(hover_todo * 20 - 1, -1.0, 1.0));
        a[1] = static_cast<float>(std::clamp(-angle_todo * 20, -1.0, 1.0));
      } else {
        int64_t a = 0;
        if (hover_todo > std::abs(angle_todo) && hover_todo > 0.05) {
          a = 2;
        } else if (angle_todo < -0.05) {
          a = 3;
        } else if (angle_todo > 0.05) {
          a = 1;
        }
        static_cast<int64_t*>(actions)[i] = a;
      }
    }
  }
  std::string name() const override { return "heuristic"; }

 private:
  bool continuous_;
};

LunarLander::Options LanderOptions(const Kwargs& kw, const std::string& id, bool continuous_default) {
  LunarLander::Options o;
  o.continuous = kw.GetBool("continuous", continuous_default, id);
  o.gravity = kw.GetDouble("gravity", -10.0, id);
  o.enable_wind = kw.GetBool("enable_wind", false, id);
  o.wind_power = kw.GetDouble("wind_power", 15.0, id);
  o.turbulence_power = kw.GetDouble("turbulence_power", 1.5, id);
  // Gymnasium warns (and goes on) outside these ranges; so does rlforge:
  // on stderr once a process (a vector env builds many copies), in Python
  // as its warning filters decide.
  static std::atomic<bool> warned_wind{false}, warned_turbulence{false};
  if (o.wind_power < 0 || o.wind_power > 20)
    WarnOnce(&warned_wind,
             StrCat(id, ": wind_power ", o.wind_power, " is outside 0..20, the range Gymnasium recommends"));
  if (o.turbulence_power < 0 || o.turbulence_power > 2)
    WarnOnce(&warned_turbulence,
             StrCat(id, ": turbulence_power ", o.turbulence_power, " is outside 0..2, the range Gymnasium recommends"));
  return o;
}

EnvSpec LanderSpec(const std::string& id, bool continuous) {
  EnvSpec spec{id,
               [id, continuous](const Kwargs& kw) {
                 return std::make_unique<LunarLander>(LanderOptions(kw, id, continuous));
               },
               1000,
               200.0,
               {},
               {{"continuous", continuous ? "true" : "false", "Box(2) actions instead of Discrete(4)"},
                {"gravity", "-10.0", "gravity, in (-12, 0)"},
                {"enable_wind", "false", "wind and turbulence while airborne"},
                {"wind_power", "15.0", "peak wind force (Gymnasium recommends 0..20)"},
                {"turbulence_power", "1.5", "peak turbulence torque (Gymnasium recommends 0..2)"}},
               continuous ? "land on the pad with a main and two side engines, throttled (Box2D)"
                          : "land on the pad firing a main and two side engines (Box2D)"};
  spec.scripted_policies.push_back(
      {"heuristic", "heuristic", "Gymnasium's scripted PD-controller lander", /*takes_argument=*/false,
       [](const Env& env, const std::string&, uint64_t) -> std::unique_ptr<Policy> {
         return std::make_unique<LunarLanderHeuristic>(env.action_space().kind() == SpaceKind::kBox);
       }});
  return spec;
}
}  // namespace

RLF_REGISTER_ENVS(lunar_lander) {
  for (bool continuous : {false, true}) {
    const EnvSpec spec = LanderSpec(continuous ? "LunarLanderContinuous-v3" : "LunarLander-v3", continuous);
    registry.Register(spec);
    registry.Register(NoVelocitySpec(spec, {2, 3, 5}));  // LunarLander[Continuous]NoVel-v3
  }
}

}  // namespace rlforge
