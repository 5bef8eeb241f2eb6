#include "rlforge/envs/box2d/bipedal_walker.h"

#include <box2d/box2d.h>

#include <algorithm>
#include <cmath>

#include "rlforge/env/image.h"
#include "rlforge/env/registry.h"
#include "rlforge/envs/box2d/replay.h"
#include "rlforge/envs/classic_control/text_render.h"

namespace rlforge {

namespace {
constexpr uint16_t kTerrainBits = 0x0001, kWalkerBits = 0x0020;
b2Vec2 V(double x, double y) { return b2Vec2(static_cast<float>(x), static_cast<float>(y)); }
double Sign(double v) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0); }  // np.sign

// The closest terrain hit along a ray (walker parts are skipped).
struct Lidar : public b2RayCastCallback {
  float fraction = 1.0f;
  float ReportFixture(b2Fixture* fixture, const b2Vec2& /*point*/, const b2Vec2& /*normal*/, float f) override {
    if ((fixture->GetFilterData().categoryBits & kTerrainBits) == 0) return -1.0f;
    fraction = f;
    return f;
  }
};
}  // namespace

struct BipedalWalker::World : public b2ContactListener {
  World() : world(b2Vec2(0.0f, -10.0f)) { world.SetContactListener(this); }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  void BeginContact(b2Contact* contact) override {
    b2Body* a = contact->GetFixtureA()->GetBody();
    b2Body* b = contact->GetFixtureB()->GetBody();
    if (a == hull || b == hull) game_over = true;
    for (int k : {1, 3})
      if (a == legs[k] || b == legs[k]) ground_contact[k] = true;
  }
  void EndContact(b2Contact* contact) override {
    b2Body* a = contact->GetFixtureA()->GetBody();
    b2Body* b = contact->GetFixtureB()->GetBody();
    for (int k : {1, 3})
      if (a == legs[k] || b == legs[k]) ground_contact[k] = false;
  }

  b2World world;
  b2Body* terrain = nullptr;
  b2Body* hull = nullptr;
  b2Body* legs[4] = {};                // thigh 1, shin 1, thigh 2, shin 2
  b2RevoluteJoint* joints[4] = {};     // hip 1, knee 1, hip 2, knee 2
  bool ground_contact[4] = {};         // shins only
  bool game_over = false;
};

BipedalWalker::BipedalWalker(bool hardcore) : hardcore_(hardcore) {
  std::vector<double> low = {-M_PI, -5, -5, -5, -M_PI, -5, -M_PI, -5, -0.0, -M_PI, -5, -M_PI, -5, -0.0};
  std::vector<double> high = {M_PI, 5, 5, 5, M_PI, 5, M_PI, 5, 5, M_PI, 5, M_PI, 5, 5};
  for (int k = 0; k < 10; ++k) low.push_back(-1.0), high.push_back(1.0);
  obs_space_ = Space::Box(low, high, {24}, DType::kFloat32);
  act_space_ = Space::Box(-1.0, 1.0, {4}, DType::kFloat32);
}

BipedalWalker::BipedalWalker(const BipedalWalker& other) : ReplayedEpisodeEnv<BipedalWalker>(other) { *this = other; }

BipedalWalker& BipedalWalker::operator=(const BipedalWalker& other) {
  if (this == &other) return *this;
  hardcore_ = other.hardcore_;
  obs_space_ = other.obs_space_;
  act_space_ = other.act_space_;
  CopyEpisodeFrom(other);
  return *this;
}

BipedalWalker::~BipedalWalker() = default;

void BipedalWalker::CheckActions() const { CheckEpisodeRecord(name(), has_episode_, reset_rng_, actions_, 4); }

uint64_t BipedalWalker::Fingerprint() const {
  return world_ && has_episode_ ? WorldFingerprint(rng_.state(), world_->world) : 0;
}

void BipedalWalker::Replay() {
  world_.reset();
  if (!has_episode_) return;
  rng_.set_state(reset_rng_);
  float obs[24];
  BuildEpisode(obs);
  for (size_t i = 0; i + 4 <= actions_.size(); i += 4) Advance(actions_.data() + i, obs);
}

void BipedalWalker::ResetImpl(void* obs, Info* /*info*/) {
  StartRecord();
  BuildEpisode(static_cast<float*>(obs));
}

void BipedalWalker::GenerateTerrain() {
  World& w = *world_;
  enum { kGrass, kStump, kStairs, kPit };
  const double S = kTerrainStep;
  int state = kGrass;
  double velocity = 0, y = kTerrainHeight, original_y = 0;
  int64_t counter = kTerrainStartpad, stair_steps = 0, stair_width = 0, stair_height = 0;
  bool oneshot = false;
  terrain_x_.clear(), terrain_y_.clear(), pieces_.clear();
  b2BodyDef ground;
  w.terrain = w.world.CreateBody(&ground);
  auto add_piece = [&](std::vector<std::pair<double, double>> poly) {
    b2Vec2 pts[4];
    for (int k = 0; k < 4; ++k) pts[k] = V(poly[k].first, poly[k].second);
    b2PolygonShape shape;
    shape.Set(pts, 4);
    b2FixtureDef fd;
    fd.shape = &shape;
    fd.friction = static_cast<float>(kFriction);
    w.terrain->CreateFixture(&fd);
    pieces_.push_back(std::move(poly));
  };
  for (int i = 0; i < kTerrainLength; ++i) {
    const double x = i * S;
    terrain_x_.push_back(x);
    if (state == kGrass && !oneshot) {
      velocity = 0.8 * velocity + 0.01 * Sign(kTerrainHeight - y);
      if (i > kTerrainStartpad) velocity += rng_.Uniform(-1.0, 1.0) / kScale;
      y += velocity;
    } else if (state == kPit && oneshot) {
      counter = 3 + static_cast<int64_t>(rng_.UniformInt(2));
      const std::vector<std::pair<double, double>> poly = {{x, y}, {x + S, y}, {x + S, y - 4 * S}, {x, y - 4 * S}};
      add_piece(poly);
      std::vector<std::pair<double, double>> far = poly;
      for (auto& p : far) p.first += S * static_cast<double>(counter);
      add_piece(far);
      counter += 2;
      original_y = y;
    } else if (state == kPit && !oneshot) {
      y = original_y;
      if (counter > 1) y -= 4 * S;
    } else if (state == kStump && oneshot) {
      counter = 1 + static_cast<int64_t>(rng_.UniformInt(2));
      const double c = static_cast<double>(counter);
      add_piece({{x, y}, {x + c * S, y}, {x + c * S, y + c * S}, {x, y + c * S}});
    } else if (state == kStairs && oneshot) {
      stair_height = rng_.Uniform() > 0.5 ? 1 : -1;
      stair_width = 4;  // integers(4, 5)
      stair_steps = 3 + static_cast<int64_t>(rng_.UniformInt(2));
      original_y = y;
      const double wdt = static_cast<double>(stair_width), h = static_cast<double>(stair_height);
      for (int64_t s = 0; s < stair_steps; ++s) {
        const double sd = static_cast<double>(s);
        add_piece({{x + sd * wdt * S, y + sd * h * S},
                   {x + (1 + sd) * wdt * S, y + sd * h * S},
                   {x + (1 + sd) * wdt * S, y + (-1 + sd * h) * S},
                   {x + sd * wdt * S, y + (-1 + sd * h) * S}});
      }
      counter = stair_steps * stair_width;
    } else if (state == kStairs && !oneshot) {
      const double s = static_cast<double>(stair_steps * stair_width - counter - stair_height);
      const double n = s / static_cast<double>(stair_width);
      y = original_y + n * static_cast<double>(stair_height) * S;
    }
    oneshot = false;
    terrain_y_.push_back(y);
    counter -= 1;
    if (counter == 0) {
      counter = kTerrainGrass / 2 + static_cast<int64_t>(rng_.UniformInt(kTerrainGrass / 2));
      if (state == kGrass && hardcore_) {
        state = 1 + static_cast<int>(rng_.UniformInt(3));
      } else {
        state = kGrass;
      }
      oneshot = true;
    }
  }
  for (int i = 0; i + 1 < kTerrainLength; ++i) {
    b2EdgeShape edge;
    edge.SetTwoSided(V(terrain_x_[i], terrain_y_[i]), V(terrain_x_[i + 1], terrain_y_[i + 1]));
    b2FixtureDef fd;
    fd.shape = &edge;
    fd.friction = static_cast<float>(kFriction);
    fd.filter.categoryBits = kTerrainBits;
    w.terrain->CreateFixture(&fd);
  }
}

void BipedalWalker::BuildEpisode(float* obs) {
  world_ = std::make_unique<World>();
  World& w = *world_;
  has_prev_shaping_ = false;
  prev_shaping_ = 0;
  GenerateTerrain();
  // Clouds (renders only; drawn from the same stream as Gymnasium draws them).
  clouds_.clear();
  for (int c = 0; c < kTerrainLength / 20; ++c) {
    const double x = rng_.Uniform(0.0, kTerrainLength) * kTerrainStep, y = kViewportH / kScale * 3 / 4;
    std::vector<std::pair<double, double>> poly;
    for (int a = 0; a < 5; ++a) {
      const double px = x + 15 * kTerrainStep * std::sin(3.14 * 2 * a / 5) + rng_.Uniform(0.0, 5 * kTerrainStep);
      const double py = y + 5 * kTerrainStep * std::cos(3.14 * 2 * a / 5) + rng_.Uniform(0.0, 5 * kTerrainStep);
      poly.push_back({px, py});
    }
    clouds_.push_back(std::move(poly));
  }
  const double init_x = kTerrainStep * kTerrainStartpad / 2, init_y = kTerrainHeight + 2 * kLegH;
  b2BodyDef hd;
  hd.type = b2_dynamicBody;
  hd.position = V(init_x, init_y);
  w.hull = w.world.CreateBody(&hd);
  const double hull_poly[5][2] = {{-30, 9}, {6, 9}, {34, 1}, {34, -8}, {-30, -8}};
  b2Vec2 pts[5];
  for (int k = 0; k < 5; ++k) pts[k] = V(hull_poly[k][0] / kScale, hull_poly[k][1] / kScale);
  b2PolygonShape hull_shape;
  hull_shape.Set(pts, 5);
  b2FixtureDef hull_fd;
  hull_fd.shape = &hull_shape;
  hull_fd.density = 5.0f;
  hull_fd.friction = 0.1f;
  hull_fd.restitution = 0.0f;
  hull_fd.filter.categoryBits = kWalkerBits;
  hull_fd.filter.maskBits = kTerrainBits;
  w.hull->CreateFixture(&hull_fd);
  w.hull->ApplyForceToCenter(V(rng_.Uniform(-kInitialRandom, kInitialRandom), 0.0), true);
  for (int side = 0; side < 2; ++side) {
    const double i = side == 0 ? -1.0 : 1.0;
    auto make_part = [&](double y, double half_w) {
      b2BodyDef bd;
      bd.type = b2_dynamicBody;
      bd.position = V(init_x, y);
      bd.angle = static_cast<float>(i * 0.05);
      b2Body* body = w.world.CreateBody(&bd);
      b2PolygonShape box;
      box.SetAsBox(static_cast<float>(half_w), static_cast<float>(kLegH / 2));
      b2FixtureDef fd;
      fd.shape = &box;
      fd.density = 1.0f;
      fd.restitution = 0.0f;
      fd.filter.categoryBits = kWalkerBits;
      fd.filter.maskBits = kTerrainBits;
      body->CreateFixture(&fd);
      return body;
    };
    auto make_joint = [&](b2Body* a, b2Body* b, double anchor_a_y, double speed, double lower, double upper) {
      b2RevoluteJointDef rjd;
      rjd.bodyA = a;
      rjd.bodyB = b;
      rjd.localAnchorA = V(0, anchor_a_y);
      rjd.localAnchorB = V(0, kLegH / 2);
      rjd.referenceAngle = b->GetAngle() - a->GetAngle();  // as pybox2d sets it
      rjd.enableMotor = true;
      rjd.enableLimit = true;
      rjd.maxMotorTorque = static_cast<float>(kMotorsTorque);
      rjd.motorSpeed = static_cast<float>(speed);
      rjd.lowerAngle = static_cast<float>(lower);
      rjd.upperAngle = static_cast<float>(upper);
      return static_cast<b2RevoluteJoint*>(w.world.CreateJoint(&rjd));
    };
    b2Body* thigh = make_part(init_y - kLegH / 2 - kLegDown, kLegW / 2);
    w.legs[2 * side] = thigh;
    w.joints[2 * side] = make_joint(w.hull, thigh, kLegDown, i, -0.8, 1.1);
    b2Body* shin = make_part(init_y - kLegH * 3 / 2 - kLegDown, 0.8 * kLegW / 2);
    w.legs[2 * side + 1] = shin;
    w.joints[2 * side + 1] = make_joint(thigh, shin, -kLegH / 2, 1.0, -1.6, -0.1);
  }
  const float zero[4] = {0, 0, 0, 0};
  Advance(zero, obs);
}

void BipedalWalker::StepImpl(const void* action, void* obs, StepResult* result) {
  RLF_CHECK(world_ != nullptr, name(), ": no episode to continue; call reset()");
  const auto* a = static_cast<const float*>(action);
  actions_.insert(actions_.end(), a, a + 4);
  *result = Advance(a, static_cast<float*>(obs));
}

StepResult BipedalWalker::Advance(const float* action, float* obs) {
  World& w = *world_;
  for (int j = 0; j < 4; ++j) {
    const double a = action[j];
    w.joints[j]->SetMotorSpeed(static_cast<float>((j % 2 == 0 ? kSpeedHip : kSpeedKnee) * Sign(a)));
    w.joints[j]->SetMaxMotorTorque(static_cast<float>(kMotorsTorque * std::clamp(std::abs(a), 0.0, 1.0)));
  }
  w.world.Step(static_cast<float>(1.0 / kFps), 6 * 30, 2 * 30);
  const b2Vec2 pos = w.hull->GetPosition(), vel = w.hull->GetLinearVelocity();
  for (int k = 0; k < 10; ++k) {
    Lidar ray;
    const b2Vec2 p2 = V(pos.x + std::sin(1.5 * k / 10.0) * kLidarRange, pos.y - std::cos(1.5 * k / 10.0) * kLidarRange);
    w.world.RayCast(&ray, pos, p2);
    lidar_[k] = ray.fraction;
  }
  double state[24] = {w.hull->GetAngle(),
                      2.0 * w.hull->GetAngularVelocity() / kFps,
                      0.3 * vel.x * (kViewportW / kScale) / kFps,
                      0.3 * vel.y * (kViewportH / kScale) / kFps,
                      w.joints[0]->GetJointAngle(),
                      w.joints[0]->GetJointSpeed() / kSpeedHip,
                      w.joints[1]->GetJointAngle() + 1.0,
                      w.joints[1]->GetJointSpeed() / kSpeedKnee,
                      w.ground_contact[1] ? 1.0 : 0.0,
                      w.joints[2]->GetJointAngle(),
                      w.joints[2]->GetJointSpeed() / kSpeedHip,
                      w.joints[3]->GetJointAngle() + 1.0,
                      w.joints[3]->GetJointSpeed() / kSpeedKnee,
                      w.ground_contact[3] ? 1.0 : 0.0};
  for (int k = 0; k < 10; ++k) state[14 + k] = lidar_[k];
  for (int k = 0; k < 24; ++k) obs[k] = static_cast<float>(state[k]);
  const double shaping = 130 * pos.x / kScale - 5.0 * std::abs(state[0]);
  double reward = has_prev_shaping_ ? shaping - prev_shaping_ : 0.0;
  prev_shaping_ = shaping;
  has_prev_shaping_ = true;
  for (int j = 0; j < 4; ++j) reward -= 0.00035 * kMotorsTorque * std::clamp(std::abs(double(action[j])), 0.0, 1.0);
  StepResult r;
  if (w.game_over || pos.x < 0) {
    reward = -100;
    r.terminated = true;
  }
  if (pos.x > (kTerrainLength - kTerrainGrass) * kTerrainStep) r.terminated = true;
  r.reward = reward;
  return r;
}

double BipedalWalker::hull_x() const {
  RLF_CHECK(world_ != nullptr, name(), ": no episode (call reset() first)");
  return world_->hull->GetPosition().x;
}

double BipedalWalker::hull_y() const {
  RLF_CHECK(world_ != nullptr, name(), ": no episode (call reset() first)");
  return world_->hull->GetPosition().y;
}

double BipedalWalker::hull_angle() const {
  RLF_CHECK(world_ != nullptr, name(), ": no episode (call reset() first)");
  return world_->hull->GetAngle();
}

std::string BipedalWalker::RenderText() const {
  if (!world_) return name() + ": not reset\n";
  const double end = (kTerrainLength - kTerrainGrass) * kTerrainStep;
  return StrCat("progress ", TrackLine(hull_x(), 0, end, 41, 'W'), "\n", "x=", Fixed(hull_x()), " angle=",
                Fixed(hull_angle()), " contacts=", world_->ground_contact[1] ? 1 : 0, world_->ground_contact[3] ? 1 : 0,
                "\n");
}

bool BipedalWalker::RenderRgb(Image* out) const {
  const int W = static_cast<int>(kViewportW), H = static_cast<int>(kViewportH);
  *out = Image(W, H, {215, 215, 255});
  if (!world_) return true;
  const World& w = *world_;
  const double s = kScale, scroll = w.hull->GetPosition().x - kViewportW / kScale / 5;
  auto px = [&](double x) { return (x - scroll) * s; };
  for (const auto& cloud : clouds_) {
    std::vector<std::pair<double, double>> p;
    for (const auto& [x, y] : cloud) p.push_back({px(x) + scroll * s / 2, y * s});  // clouds scroll at half speed
    out->FillPolygon(p, {255, 255, 255});
  }
  for (int i = 0; i + 1 < kTerrainLength; ++i) {
    if (terrain_x_[i + 1] < scroll || terrain_x_[i] > scroll + kViewportW / kScale) continue;
    out->FillPolygon({{px(terrain_x_[i]), terrain_y_[i] * s},
                      {px(terrain_x_[i + 1]), terrain_y_[i + 1] * s},
                      {px(terrain_x_[i + 1]), 0},
                      {px(terrain_x_[i]), 0}},
                     {102, 153, 76});
    out->DrawLine(px(terrain_x_[i]), terrain_y_[i] * s, px(terrain_x_[i + 1]), terrain_y_[i + 1] * s, 2.0,
                  {76, static_cast<uint8_t>(i % 2 == 0 ? 255 : 204), 76});
  }
  for (const auto& piece : pieces_) {
    std::vector<std::pair<double, double>> p;
    for (const auto& [x, y] : piece) p.push_back({px(x), y * s});
    out->FillPolygon(p, {255, 255, 255});
  }
  const b2Vec2 pos = w.hull->GetPosition();
  for (int k = 0; k < 10; ++k) {
    const double f = lidar_[k];
    out->DrawLine(px(pos.x), pos.y * s, px(pos.x + std::sin(1.5 * k / 10.0) * kLidarRange * f),
                  (pos.y - std::cos(1.5 * k / 10.0) * kLidarRange * f) * s, 1.0, {255, 0, 0});
  }
  auto draw_body = [&](const b2Body* body, Rgb fill) {
    for (const b2Fixture* f = body->GetFixtureList(); f; f = f->GetNext()) {
      const auto* poly = static_cast<const b2PolygonShape*>(f->GetShape());
      std::vector<std::pair<double, double>> path;
      for (int k = 0; k < poly->m_count; ++k) {
        const b2Vec2 v = b2Mul(body->GetTransform(), poly->m_vertices[k]);
        path.push_back({px(v.x), v.y * s});
      }
      out->FillPolygon(path, fill);
    }
  };
  for (int k : {2, 3}) draw_body(w.legs[k], {128, 51, 102});  // the far leg first
  draw_body(w.hull, {127, 51, 229});
  for (int k : {0, 1}) draw_body(w.legs[k], {178, 101, 152});
  out->FlipVertical();
  return true;
}

RLF_REGISTER_ENVS(bipedal_walker) {
  for (bool hardcore : {false, true}) {
    const std::string id = hardcore ? "BipedalWalkerHardcore-v3" : "BipedalWalker-v3";
    registry.Register({id,
                       [id, hardcore](const Kwargs& kw) {
                         return std::make_unique<BipedalWalker>(kw.GetBool("hardcore", hardcore, id));
                       },
                       hardcore ? 2000 : 1600,
                       300.0,
                       {},
                       {{"hardcore", hardcore ? "true" : "false", "stumps, stairs and pits"}},
                       hardcore ? "walk a four-joint biped over stumps, stairs and pits (Box2D)"
                                : "walk a four-joint biped over rough grass (Box2D)"});
  }
}

}  // namespace rlforge
