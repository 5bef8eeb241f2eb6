#include "rlforge/envs/box2d/car_racing.h"

#include <box2d/box2d.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "rlforge/env/image.h"
#include "rlforge/env/registry.h"
#include "rlforge/envs/box2d/replay.h"
#include "rlforge/envs/classic_control/text_render.h"

namespace rlforge {

namespace {
using Point = std::pair<double, double>;
constexpr double kDt = 1.0 / CarRacing::kFps;
constexpr double kWheelRad = CarRacing::kWheelR * CarRacing::kSize;
constexpr double kTyreCoef = 205000 * CarRacing::kSize * CarRacing::kSize;
// Body user data tags: tiles are 1 + index, wheels kWheelTag + index.
constexpr uintptr_t kWheelTag = uintptr_t{1} << 40;

// The hull's four polygons and the wheels' positions, in Gymnasium's units (x SIZE).
const std::vector<std::vector<Point>> kHullPolys = {
    {{-60, +130}, {+60, +130}, {+60, +110}, {-60, +110}},
    {{-15, +120}, {+15, +120}, {+20, +20}, {-20, 20}},
    {{+25, +20}, {+50, -10}, {+50, -40}, {+20, -90}, {-20, -90}, {-50, -40}, {-50, -10}, {-25, +20}},
    {{-50, -120}, {+50, -120}, {+50, -90}, {-50, -90}}};
const Point kWheelPos[4] = {{-55, +80}, {+55, +80}, {-55, -82}, {+55, -82}};

double Sign(double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }

}  // namespace

// Python's f"{x:04}" of a float: repr's shortest digits, in scientific
// notation when the decimal exponent is below -4 or at least 16, else fixed
// with ".0" for whole numbers; zero-padded after the sign to 4 characters.
std::string CarRacing::ScoreText(double x) {
  char buf[64];
  auto sci = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
  std::string s(buf, sci.ptr);
  const size_t e = s.find('e');
  const int exponent = e == std::string::npos ? 0 : std::stoi(s.substr(e + 1));
  if (x == 0 || (exponent >= -4 && exponent < 16)) {
    auto fixed = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::fixed);
    s.assign(buf, fixed.ptr);
    if (s.find('.') == std::string::npos) s += ".0";
  }
  const size_t sign = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (s.size() < 4) s.insert(sign, 4 - s.size(), '0');
  return s;
}

struct CarRacing::World : public b2ContactListener {
  struct Wheel {
    b2Body* body = nullptr;
    b2RevoluteJoint* joint = nullptr;
    double gas = 0, brake = 0, steer = 0, phase = 0, omega = 0;
    int tiles = 0;  // road tiles under the wheel
  };
  struct Tile {
    std::array<Point, 4> quad;
    std::array<double, 3> color;
    bool visited = false;
  };
  struct Kerb {
    std::array<Point, 4> quad;
    Rgb color;
    size_t after_tile;  // drawn right after this tile (Gymnasium's road_poly order)
  };

  explicit World(double lap_complete_percent) : world(b2Vec2(0, 0)), lap_percent(lap_complete_percent) {
    world.SetContactListener(this);
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  void BeginContact(b2Contact* c) override { Contact(c, true); }
  void EndContact(b2Contact* c) override { Contact(c, false); }
  // Gymnasium's FrictionDetector: any touch repaints the tile in the road
  // colour; a wheel's first touch of a tile scores it.
  void Contact(b2Contact* c, bool begin) {
    const uintptr_t u1 = c->GetFixtureA()->GetBody()->GetUserData().pointer;
    const uintptr_t u2 = c->GetFixtureB()->GetBody()->GetUserData().pointer;
    auto is_tile = [](uintptr_t u) { return u >= 1 && u < kWheelTag; };
    uintptr_t tile = 0, obj = 0;
    if (is_tile(u1)) tile = u1, obj = u2;
    if (is_tile(u2)) tile = u2, obj = u1;
    if (!tile) return;
    Tile& t = tiles[tile - 1];
    t.color = *road_color;
    for (int k = 0; k < 3; ++k) scene.ground[tile_poly[tile - 1]].color[k] = static_cast<uint8_t>(t.color[k]);
    if (obj < kWheelTag || obj >= kWheelTag + 4) return;
    Wheel& w = wheels[obj - kWheelTag];
    if (!begin) {
      --w.tiles;
      return;
    }
    ++w.tiles;
    if (t.visited) return;
    t.visited = true;
    reward += 1000.0 / static_cast<double>(tiles.size());
    ++visited;
    if (tile - 1 == 0 && static_cast<double>(visited) / static_cast<double>(tiles.size()) > lap_percent) new_lap = true;
  }

  b2World world;
  double lap_percent;
  const std::array<double, 3>* road_color = nullptr;
  std::vector<Tile> tiles;
  std::vector<Kerb> kerbs;
  Scene scene;
  std::vector<size_t> tile_poly;  // each tile's polygon in scene.ground
  b2Body* hull = nullptr;
  Wheel wheels[4];
  double reward = 0, prev_reward = 0, t = 0;
  int visited = 0;
  bool new_lap = false;
};

CarRacing::CarRacing(const Options& o) : options_(o) {
  // Any finite share works as in Gymnasium (above 1 the start tile never ends the lap).
  RLF_CHECK_ARG(std::isfinite(o.lap_complete_percent), "CarRacing-v3: lap_complete_percent must be finite, got ",
                o.lap_complete_percent);
  obs_space_ = Space::Box(0.0, 255.0, {kStateH, kStateW, 3}, DType::kUInt8);
  act_space_ = o.continuous ? Space::Box({-1.0, 0.0, 0.0}, {1.0, 1.0, 1.0}, {3}, DType::kFloat32) : Space::Discrete(5);
}

CarRacing::CarRacing(const CarRacing& other) : ReplayedEpisodeEnv<CarRacing>(other) { *this = other; }

CarRacing& CarRacing::operator=(const CarRacing& other) {
  if (this == &other) return *this;
  RLF_CHECK(other.world_ == nullptr || other.has_episode_, other.name(),
            ": an env whose car was placed directly (SetCarPose) cannot be copied");
  options_ = other.options_;
  obs_space_ = other.obs_space_;
  act_space_ = other.act_space_;
  CopyEpisodeFrom(other);
  return *this;
}

CarRacing::~CarRacing() = default;

void CarRacing::CheckActions() const {
  CheckEpisodeRecord(name(), has_episode_, reset_rng_, actions_, options_.continuous ? 3 : 1,
                     options_.continuous ? 0 : 5);
}

uint64_t CarRacing::Fingerprint() const {
  if (!world_ || !has_episode_) return 0;
  uint64_t h = WorldFingerprint(rng_.state(), world_->world);
  for (const auto& w : world_->wheels) {  // the wheel speeds live outside Box2D
    uint64_t bits;
    std::memcpy(&bits, &w.omega, sizeof(bits));
    h = (h ^ bits) * 1099511628211ULL;
  }
  return h;
}

void CarRacing::Replay() {
  world_.reset();
  if (!has_episode_) return;
  rng_.set_state(reset_rng_);
  BuildEpisode(nullptr);
  const size_t k = options_.continuous ? 3 : 1;
  for (size_t i = 0; i + k <= actions_.size(); i += k) Advance(actions_.data() + i, nullptr);
}

void CarRacing::ResetImpl(void* obs, Info* /*info*/) {
  StartRecord();
  BuildEpisode(static_cast<uint8_t*>(obs));
}

bool CarRacing::CreateTrack() {
  // Checkpoints (alpha, x, y).
  double cp[kCheckpoints][3];
  for (int c = 0; c < kCheckpoints; ++c) {
    const double noise = rng_.Uniform(0.0, 2 * M_PI / kCheckpoints);
    double alpha = 2 * M_PI * c / kCheckpoints + noise;
    double rad = rng_.Uniform(kTrackRad / 3, kTrackRad);
    if (c == 0) alpha = 0, rad = 1.5 * kTrackRad;
    if (c == kCheckpoints - 1) {
      alpha = 2 * M_PI * c / kCheckpoints;
      start_alpha_ = 2 * M_PI * (-0.5) / kCheckpoints;
      rad = 1.5 * kTrackRad;
    }
    cp[c][0] = alpha, cp[c][1] = rad * std::cos(alpha), cp[c][2] = rad * std::sin(alpha);
  }
  // Steer a point from checkpoint to checkpoint, five laps at most.
  double x = 1.5 * kTrackRad, y = 0, beta = 0;
  int dest_i = 0, laps = 0, no_freeze = 2500;
  bool visited_other_side = false;
  std::vector<TrackPoint> track;
  while (true) {
    double alpha = std::atan2(y, x);
    if (visited_other_side && alpha > 0) {
      ++laps;
      visited_other_side = false;
    }
    if (alpha < 0) {
      visited_other_side = true;
      alpha += 2 * M_PI;
    }
    double dest_x = 0, dest_y = 0;
    while (true) {  // the next checkpoint ahead of alpha
      bool failed = true;
      while (true) {
        const double* d = cp[dest_i % kCheckpoints];
        dest_x = d[1], dest_y = d[2];
        if (alpha <= d[0]) {
          failed = false;
          break;
        }
        ++dest_i;
        if (dest_i % kCheckpoints == 0) break;
      }
      if (!failed) break;
      alpha -= 2 * M_PI;
    }
    const double r1x = std::cos(beta), r1y = std::sin(beta), p1x = -r1y, p1y = r1x;
    double proj = r1x * (dest_x - x) + r1y * (dest_y - y);  // towards the destination, along the radius
    while (beta - alpha > 1.5 * M_PI) beta -= 2 * M_PI;
    while (beta - alpha < -1.5 * M_PI) beta += 2 * M_PI;
    const double prev_beta = beta;
    proj *= kScale;
    if (proj > 0.3) beta -= std::min(kTrackTurnRate, std::abs(0.001 * proj));
    if (proj < -0.3) beta += std::min(kTrackTurnRate, std::abs(0.001 * proj));
    x += p1x * kTrackDetailStep;
    y += p1y * kTrackDetailStep;
    track.push_back({alpha, prev_beta * 0.5 + beta * 0.5, x, y});
    if (laps > 4) break;
    if (--no_freeze == 0) break;
  }
  // The closed loop between the last two passes through the start.
  int i1 = -1, i2 = -1;
  for (int i = static_cast<int>(track.size()) - 1;; --i) {
    if (i <= 0) return false;
    const bool through = track[i].alpha > start_alpha_ && track[i - 1].alpha <= start_alpha_;
    if (through && i2 == -1) {
      i2 = i;
    } else if (through && i1 == -1) {
      i1 = i;
      break;
    }
  }
  track = std::vector<TrackPoint>(track.begin() + i1, track.begin() + (i2 - 1));
  const int n = static_cast<int>(track.size());
  if (n < 2) return false;
  const double glue = std::hypot(std::cos(track[0].beta) * (track[0].x - track[n - 1].x),
                                 std::sin(track[0].beta) * (track[0].y - track[n - 1].y));
  if (glue > kTrackDetailStep) return false;
  // Kerbs on hard turns: four steps turning the same way by > 0.2 of the turn rate.
  auto at = [n](int i) { return ((i % n) + n) % n; };
  std::vector<uint8_t> border(n, 0);
  for (int i = 0; i < n; ++i) {
    bool good = true;
    int oneside = 0;
    for (int neg = 0; neg < kBorderMinCount; ++neg) {
      const double b1 = track[at(i - neg)].beta, b2 = track[at(i - neg - 1)].beta;
      good &= std::abs(b1 - b2) > kTrackTurnRate * 0.2;
      oneside += static_cast<int>(Sign(b1 - b2));
    }
    good &= std::abs(oneside) == kBorderMinCount;
    border[i] = good;
  }
  for (int i = 0; i < n; ++i)  // in place, as Gymnasium (a kerb can spread on past index 0)
    for (int neg = 0; neg < kBorderMinCount; ++neg) border[at(i - neg)] |= border[i];
  // Tiles and kerbs.
  World& w = *world_;
  w.tiles.clear();
  w.kerbs.clear();
  for (int i = 0; i < n; ++i) {
    const TrackPoint& a = track[i];
    const TrackPoint& b = track[at(i - 1)];
    const Point r1l{a.x - kTrackWidth * std::cos(a.beta), a.y - kTrackWidth * std::sin(a.beta)};
    const Point r1r{a.x + kTrackWidth * std::cos(a.beta), a.y + kTrackWidth * std::sin(a.beta)};
    const Point r2l{b.x - kTrackWidth * std::cos(b.beta), b.y - kTrackWidth * std::sin(b.beta)};
    const Point r2r{b.x + kTrackWidth * std::cos(b.beta), b.y + kTrackWidth * std::sin(b.beta)};
    World::Tile tile;
    tile.quad = {r1l, r1r, r2r, r2l};
    const double shade = 0.01 * (i % 3) * 255;
    for (int k = 0; k < 3; ++k) tile.color[k] = road_color_[k] + shade;
    b2BodyDef def;
    def.userData.pointer = static_cast<uintptr_t>(i) + 1;
    b2Body* body = w.world.CreateBody(&def);
    b2Vec2 v[4];
    for (int k = 0; k < 4; ++k)
      v[k].Set(static_cast<float>(tile.quad[k].first), static_cast<float>(tile.quad[k].second));
    b2PolygonShape shape;
    shape.Set(v, 4);
    b2FixtureDef fd;
    fd.shape = &shape;
    fd.isSensor = true;
    body->CreateFixture(&fd);
    w.tiles.push_back(tile);
    if (border[i]) {
      const double side = Sign(b.beta - a.beta);
      auto off = [side](const TrackPoint& p, double d) {
        return Point{p.x + side * d * std::cos(p.beta), p.y + side * d * std::sin(p.beta)};
      };
      w.kerbs.push_back({{off(a, kTrackWidth), off(a, kTrackWidth + kBorder), off(b, kTrackWidth + kBorder),
                          off(b, kTrackWidth)},
                         i % 2 == 0 ? Rgb{255, 255, 255} : Rgb{255, 0, 0},
                         static_cast<size_t>(i)});
    }
  }
  track_ = std::move(track);
  border_ = std::move(border);
  // The ground as Gymnasium draws it (colours truncated to whole levels).
  auto rgb = [](const std::array<double, 3>& c) {
    std::array<uint8_t, 3> out;
    for (int k = 0; k < 3; ++k) out[k] = static_cast<uint8_t>(std::clamp(static_cast<int>(c[k]), 0, 255));
    return out;
  };
  auto add = [&w](std::vector<Point> pts, std::array<uint8_t, 3> color) {
    Scene::Poly p;
    p.pts = std::move(pts), p.color = color;
    p.Bound();
    w.scene.ground.push_back(std::move(p));
  };
  w.scene.ground.clear();
  w.tile_poly.clear();
  const double pf = kPlayfield;
  add({{pf, pf}, {pf, -pf}, {-pf, -pf}, {-pf, pf}}, rgb(bg_color_));
  for (int gx = -20; gx < 20; gx += 2)
    for (int gy = -20; gy < 20; gy += 2) {
      const double x0 = kGrassDim * gx, y0 = kGrassDim * gy;
      add({{x0 + kGrassDim, y0}, {x0, y0}, {x0, y0 + kGrassDim}, {x0 + kGrassDim, y0 + kGrassDim}}, rgb(grass_color_));
    }
  size_t kerb = 0;
  for (size_t i = 0; i < w.tiles.size(); ++i) {
    w.tile_poly.push_back(w.scene.ground.size());
    add({w.tiles[i].quad.begin(), w.tiles[i].quad.end()}, rgb(w.tiles[i].color));
    for (; kerb < w.kerbs.size() && w.kerbs[kerb].after_tile == i; ++kerb) {
      const Rgb c = w.kerbs[kerb].color;
      add({w.kerbs[kerb].quad.begin(), w.kerbs[kerb].quad.end()}, {c.r, c.g, c.b});
    }
  }
  return true;
}

void CarRacing::Scene::Poly::Bound() {
  cx = cy = 0;
  for (const auto& [x, y] : pts) cx += x, cy += y;
  cx /= static_cast<double>(pts.size()), cy /= static_cast<double>(pts.size());
  radius = 0;
  for (const auto& [x, y] : pts) radius = std::max(radius, std::hypot(x - cx, y - cy));
}

const CarRacing::Scene& CarRacing::scene() const {
  RLF_CHECK(world_ != nullptr, name(), ": no episode (call reset() first)");
  return world_->scene;
}

void CarRacing::UpdateScene() {
  World& w = *world_;
  Scene& sc = w.scene;
  sc.car.clear();
  auto body_fixtures = [&sc](const b2Body* body, std::array<uint8_t, 3> c) {
    for (const b2Fixture* f = body->GetFixtureList(); f; f = f->GetNext()) {
      const auto* shape = static_cast<const b2PolygonShape*>(f->GetShape());
      Scene::Poly p;
      for (int k = 0; k < shape->m_count; ++k) {
        const b2Vec2 v = b2Mul(body->GetTransform(), shape->m_vertices[k]);
        p.pts.push_back({v.x, v.y});
      }
      p.color = c;
      sc.car.push_back(std::move(p));
    }
  };
  for (const auto& wheel : w.wheels) {
    body_fixtures(wheel.body, {0, 0, 0});
    // The grey band that shows the wheel turning (Gymnasium's phase drawing).
    const double a1 = wheel.phase, a2 = wheel.phase + 1.2;
    const double s1 = std::sin(a1), s2 = std::sin(a2);
    double c1 = std::cos(a1), c2 = std::cos(a2);
    if (s1 > 0 && s2 > 0) continue;
    if (s1 > 0) c1 = Sign(c1);
    if (s2 > 0) c2 = Sign(c2);
    const double ww = kWheelW * kSize, wr = kWheelR * kSize;
    Scene::Poly band;
    band.color = {77, 77, 77};
    for (const auto& [lx, ly] : {Point{-ww, wr * c1}, Point{ww, wr * c1}, Point{ww, wr * c2}, Point{-ww, wr * c2}}) {
      const b2Vec2 v = b2Mul(wheel.body->GetTransform(), b2Vec2(static_cast<float>(lx), static_cast<float>(ly)));
      band.pts.push_back({v.x, v.y});
    }
    sc.car.push_back(std::move(band));
  }
  body_fixtures(w.hull, {204, 0, 0});
  for (auto& p : sc.car) p.Bound();
  const b2Vec2 pos = w.hull->GetPosition(), hv = w.hull->GetLinearVelocity();
  sc.car_x = pos.x, sc.car_y = pos.y, sc.car_angle = w.hull->GetAngle(), sc.t = w.t;
  sc.speed = std::sqrt(static_cast<double>(hv.x) * hv.x + static_cast<double>(hv.y) * hv.y);
  for (int k = 0; k < 4; ++k) sc.omega[k] = w.wheels[k].omega;
  sc.steer = w.wheels[0].joint->GetJointAngle();
  sc.yaw = w.hull->GetAngularVelocity();
  sc.score = w.reward;
}

void CarRacing::BuildEpisode(uint8_t* obs) {
  world_ = std::make_unique<World>(options_.lap_complete_percent);
  World& w = *world_;
  w.road_color = &road_color_;
  if (options_.domain_randomize) {
    for (double& c : road_color_) c = rng_.Uniform(0.0, 210.0);
    for (double& c : bg_color_) c = rng_.Uniform(0.0, 210.0);
    grass_color_ = bg_color_;
    grass_color_[rng_.UniformInt(3)] += 20;
  }
  // A failed track leaves no bodies behind (tiles are made only on success).
  while (!CreateTrack()) {
  }
  // The car at the first tile, facing along the track.
  const double angle = track_[0].beta, x0 = track_[0].x, y0 = track_[0].y;
  b2BodyDef hd;
  hd.type = b2_dynamicBody;
  hd.position.Set(static_cast<float>(x0), static_cast<float>(y0));
  hd.angle = static_cast<float>(angle);
  w.hull = w.world.CreateBody(&hd);
  for (const auto& poly : kHullPolys) {
    std::vector<b2Vec2> v;
    for (const auto& [px, py] : poly) v.emplace_back(static_cast<float>(px * kSize), static_cast<float>(py * kSize));
    b2PolygonShape shape;
    shape.Set(v.data(), static_cast<int32>(v.size()));
    b2FixtureDef fd;
    fd.shape = &shape;
    fd.density = 1.0f;
    w.hull->CreateFixture(&fd);
  }
  for (int k = 0; k < 4; ++k) {
    const auto [wx, wy] = kWheelPos[k];
    b2BodyDef wd;
    wd.type = b2_dynamicBody;
    // As Gymnasium: offset without the car's rotation (the joints pull the wheels in).
    wd.position.Set(static_cast<float>(x0 + wx * kSize), static_cast<float>(y0 + wy * kSize));
    wd.angle = static_cast<float>(angle);
    wd.userData.pointer = kWheelTag + static_cast<uintptr_t>(k);
    b2Body* wheel = w.world.CreateBody(&wd);
    b2PolygonShape shape;
    shape.SetAsBox(static_cast<float>(kWheelW * kSize), static_cast<float>(kWheelR * kSize));
    b2FixtureDef fd;
    fd.shape = &shape;
    fd.density = 0.1f;
    fd.filter.categoryBits = 0x0020;
    fd.filter.maskBits = 0x001;
    fd.restitution = 0.0f;
    wheel->CreateFixture(&fd);
    b2RevoluteJointDef jd;
    jd.bodyA = w.hull;
    jd.bodyB = wheel;
    jd.localAnchorA.Set(static_cast<float>(wx * kSize), static_cast<float>(wy * kSize));
    jd.localAnchorB.Set(0, 0);
    jd.enableMotor = true;
    jd.enableLimit = true;
    jd.maxMotorTorque = static_cast<float>(180 * 900 * kSize * kSize);
    jd.motorSpeed = 0;
    jd.lowerAngle = -0.4f;
    jd.upperAngle = +0.4f;
    w.wheels[k] = World::Wheel{};
    w.wheels[k].body = wheel;
    w.wheels[k].joint = static_cast<b2RevoluteJoint*>(w.world.CreateJoint(&jd));
  }
  Advance(nullptr, obs);  // Gymnasium's reset step (no action, no reward)
}

StepResult CarRacing::Advance(const float* action, uint8_t* obs) {
  World& w = *world_;
  if (action) {
    double steer, gas, brake;
    if (options_.continuous) {
      steer = -static_cast<double>(action[0]), gas = action[1], brake = action[2];
    } else {
      const int a = static_cast<int>(action[0]);
      steer = -0.6 * (a == 1) + 0.6 * (a == 2), gas = 0.2 * (a == 3), brake = 0.8 * (a == 4);
    }
    w.wheels[0].steer = w.wheels[1].steer = steer;
    gas = std::clamp(gas, 0.0, 1.0);
    for (int k = 2; k < 4; ++k) w.wheels[k].gas += std::min(gas - w.wheels[k].gas, 0.1);  // ramps up, stops at once
    for (auto& wheel : w.wheels) wheel.brake = brake;
  }
  // Gymnasium's Car.step: steering motors, then the tyre forces.
  for (auto& wheel : w.wheels) {
    const double err = wheel.steer - wheel.joint->GetJointAngle();
    wheel.joint->SetMotorSpeed(static_cast<float>(Sign(err) * std::min(50.0 * std::abs(err), 3.0)));
    const double friction_limit = wheel.tiles > 0 ? kFrictionLimit : kFrictionLimit * 0.6;  // grass
    const b2Vec2 forw = wheel.body->GetWorldVector(b2Vec2(0, 1)), side = wheel.body->GetWorldVector(b2Vec2(1, 0));
    const b2Vec2 v = wheel.body->GetLinearVelocity();
    const double vf = static_cast<double>(forw.x) * v.x + static_cast<double>(forw.y) * v.y;
    const double vs = static_cast<double>(side.x) * v.x + static_cast<double>(side.y) * v.y;
    wheel.omega += kDt * kEnginePower * wheel.gas / kWheelMomentOfInertia / (std::abs(wheel.omega) + 5.0);
    if (wheel.brake >= 0.9) {
      wheel.omega = 0;
    } else if (wheel.brake > 0) {
      const double val = std::min(15.0 * wheel.brake, std::abs(wheel.omega));  // 15 rad/s per unit of brake
      wheel.omega += -Sign(wheel.omega) * val;
    }
    wheel.phase += wheel.omega * kDt;
    double f_force = (-vf + wheel.omega * kWheelRad) * kTyreCoef, p_force = -vs * kTyreCoef;
    const double force = std::sqrt(f_force * f_force + p_force * p_force);
    if (force > friction_limit) {
      f_force = f_force / force * friction_limit;
      p_force = p_force / force * friction_limit;
    }
    wheel.omega -= kDt * f_force * kWheelRad / kWheelMomentOfInertia;
    wheel.body->ApplyForceToCenter(b2Vec2(static_cast<float>(p_force * side.x + f_force * forw.x),
                                          static_cast<float>(p_force * side.y + f_force * forw.y)),
                                   true);
  }
  w.world.Step(static_cast<float>(kDt), 6 * 30, 2 * 30);
  w.t += kDt;
  UpdateScene();  // before this step's -0.1, as Gymnasium draws it
  if (obs) DrawScene(w.scene, kStateW, kStateH, kObsSamples, obs, 2);
  StepResult r;
  if (!action) return r;
  w.reward -= 0.1;
  r.reward = w.reward - w.prev_reward;
  w.prev_reward = w.reward;
  if (w.visited == static_cast<int>(w.tiles.size()) || w.new_lap) {
    r.terminated = true;
    r.info.Set("lap_finished", 1);
  }
  const b2Vec2 p = w.hull->GetPosition();
  if (std::abs(p.x) > kPlayfield || std::abs(p.y) > kPlayfield) {
    r.terminated = true;
    r.info.Set("lap_finished", 0);
    r.reward = -100;
  }
  return r;
}

void CarRacing::StepImpl(const void* action, void* obs, StepResult* result) {
  RLF_CHECK(world_ != nullptr, name(),
            ": no episode to continue (its car was placed directly, not replayable); call reset()");
  float a[3];
  const size_t k = options_.continuous ? 3 : 1;
  if (options_.continuous) {
    std::memcpy(a, action, sizeof(float) * 3);
  } else {
    a[0] = static_cast<float>(*static_cast<const int64_t*>(action));
  }
  actions_.insert(actions_.end(), a, a + k);
  *result = Advance(a, static_cast<uint8_t*>(obs));
}

int CarRacing::tiles_visited() const { return world_ ? world_->visited : 0; }

CarRacing::CarState CarRacing::car_state() const {
  RLF_CHECK(world_ != nullptr, name(), ": no episode (call reset() first)");
  const b2Body* h = world_->hull;
  CarState s{h->GetPosition().x, h->GetPosition().y, h->GetAngle(), h->GetLinearVelocity().x,
             h->GetLinearVelocity().y, h->GetAngularVelocity(), {}, {}, {}, {}};
  for (int k = 0; k < 4; ++k) {
    const auto& wheel = world_->wheels[k];
    s.omega[k] = wheel.omega, s.joint_angle[k] = wheel.joint->GetJointAngle(), s.gas[k] = wheel.gas;
    s.tiles[k] = wheel.tiles;
  }
  return s;
}

void CarRacing::SetCarPose(double x, double y, double angle, double vx, double vy) {
  RLF_CHECK(world_ != nullptr, name(), ": no episode (call reset() first)");
  b2Body* h = world_->hull;
  const b2Vec2 old = h->GetPosition();
  const double turn = angle - h->GetAngle(), c = std::cos(turn), sn = std::sin(turn);
  for (auto& wheel : world_->wheels) {
    const b2Vec2 d = wheel.body->GetPosition() - old;
    const b2Vec2 at(static_cast<float>(x + c * d.x - sn * d.y), static_cast<float>(y + sn * d.x + c * d.y));
    wheel.body->SetTransform(at, static_cast<float>(wheel.body->GetAngle() + turn));
    wheel.body->SetLinearVelocity(b2Vec2(static_cast<float>(vx), static_cast<float>(vy)));
  }
  h->SetTransform(b2Vec2(static_cast<float>(x), static_cast<float>(y)), static_cast<float>(angle));
  h->SetLinearVelocity(b2Vec2(static_cast<float>(vx), static_cast<float>(vy)));
  has_episode_ = false;  // a test fixture, not a replayable episode
}

namespace {
// 5 x 7 glyphs of the score's characters (rows top to bottom, bit 4 leftmost).
struct Glyph {
  char c;
  double advance, x0, x1, y0, y1;  // pygame's FreeSansBold 42 px: advance and ink box in the text surface
  uint8_t rows[7];
};
constexpr Glyph kGlyphs[] = {
    {'0', 24, 1, 22, 2, 34, {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', 24, 1, 22, 2, 34, {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', 24, 1, 22, 2, 34, {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', 24, 1, 22, 2, 34, {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', 24, 1, 22, 2, 34, {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', 24, 1, 22, 2, 34, {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', 24, 1, 22, 2, 34, {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', 24, 1, 22, 2, 34, {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', 24, 1, 22, 2, 34, {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', 24, 1, 22, 2, 34, {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'.', 12, 3, 9, 28, 34, {0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x1F}},
    {'-', 14, 1, 13, 19, 25, {0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x1F}},
    {'e', 23, 1, 22, 11, 34, {0x0E, 0x11, 0x11, 0x1F, 0x10, 0x11, 0x0E}},
    {'+', 25, 2, 22, 14, 34, {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
};
const Glyph* FindGlyph(char c) {
  for (const auto& g : kGlyphs)
    if (g.c == c) return &g;
  return nullptr;
}

// Gymnasium's scene, drawn on a supersampled canvas: window coordinates
// (1000 x 800, y down after the flip) map to canvas pixels by (sx, sy).
// Polygons are filled by even-odd scanlines sampled at pixel centres,
// written as whole spans of packed RGB.
class Canvas {
 public:
  void Reset(int w, int h, double sx, double sy) {
    w_ = w, h_ = h, sx_ = sx, sy_ = sy;
    px_.assign(static_cast<size_t>(w) * h, 0);
  }
  // A polygon in window coordinates; skipped when wholly off the canvas.
  void Poly(const std::vector<Point>& window_pts, Rgb c) {
    pts_.clear();
    double y0 = 1e300, y1 = -1e300, x0 = 1e300, x1 = -1e300;
    for (const auto& [x, y] : window_pts) {
      const double px = x * sx_, py = y * sy_;
      x0 = std::min(x0, px), x1 = std::max(x1, px), y0 = std::min(y0, py), y1 = std::max(y1, py);
      pts_.push_back({px, py});
    }
    if (x1 < 0 || y1 < 0 || x0 > w_ || y0 > h_ || pts_.size() < 3) return;
    const uint32_t v =
        static_cast<uint32_t>(c.r) | (static_cast<uint32_t>(c.g) << 8) | (static_cast<uint32_t>(c.b) << 16);
    const int ya = std::max(0, static_cast<int>(std::floor(y0)));
    const int yb = std::min(h_ - 1, static_cast<int>(std::ceil(y1)));
    for (int y = ya; y <= yb; ++y) {
      const double sy = y + 0.5;
      xs_.clear();
      for (size_t i = 0, j = pts_.size() - 1; i < pts_.size(); j = i++) {
        const double ya_ = pts_[j].second, yb_ = pts_[i].second;
        if ((ya_ <= sy && yb_ > sy) || (yb_ <= sy && ya_ > sy))
          xs_.push_back(pts_[j].first + (sy - ya_) / (yb_ - ya_) * (pts_[i].first - pts_[j].first));
      }
      std::sort(xs_.begin(), xs_.end());
      uint32_t* row = px_.data() + static_cast<size_t>(y) * w_;
      for (size_t k = 0; k + 1 < xs_.size(); k += 2) {
        const int xa = std::max(0, static_cast<int>(std::ceil(xs_[k] - 0.5)));
        const int xb = std::min(w_ - 1, static_cast<int>(std::floor(xs_[k + 1] - 0.5)));
        if (xa <= xb) std::fill(row + xa, row + xb + 1, v);
      }
    }
  }
  // Each output pixel from the mean of its samples x samples block (RGB).
  void Downsample(int samples, int loss, uint8_t* out) {
    // Red and blue summed together in 16-bit halves of one word (at most
    // 16 x 255 each), green apart.
    const int ow = w_ / samples, n = samples * samples;
    rb_.resize(static_cast<size_t>(ow));
    g_.resize(static_cast<size_t>(ow));
    for (int y = 0; y < h_ / samples; ++y) {
      std::fill(rb_.begin(), rb_.end(), 0u);
      std::fill(g_.begin(), g_.end(), 0u);
      for (int dy = 0; dy < samples; ++dy) {
        const uint32_t* p = px_.data() + static_cast<size_t>(y * samples + dy) * w_;
        for (int x = 0; x < ow; ++x, p += samples) {
          uint32_t rb = 0, g = 0;
          for (int dx = 0; dx < samples; ++dx) rb += p[dx] & 0x00FF00FFu, g += (p[dx] >> 8) & 0xFFu;
          rb_[x] += rb, g_[x] += g;
        }
      }
      uint8_t* o = out + static_cast<size_t>(y) * ow * 3;
      auto level = [n, loss](uint32_t sum) {
        return static_cast<uint8_t>(std::max(static_cast<int>((sum + n - 1) / n) - loss, 0));
      };
      for (int x = 0; x < ow; ++x)
        o[3 * x] = level(rb_[x] & 0xFFFFu), o[3 * x + 1] = level(g_[x]), o[3 * x + 2] = level(rb_[x] >> 16);
    }
  }

 private:
  int w_ = 0, h_ = 0;
  double sx_ = 1, sy_ = 1;
  std::vector<uint32_t> px_;
  std::vector<Point> pts_;
  std::vector<double> xs_;
  std::vector<uint32_t> rb_, g_;
};

}  // namespace

namespace {
// The indicator bar, the window's bottom 100 rows, as pygame draws it: every
// polygon there is an axis-aligned rectangle, which pygame fills over whole
// pixels from floor(x0) to floor(x1) and floor(y0) to floor(y1) inclusive
// (so a bar thinner than a pixel still shows). It is drawn at the window's
// resolution into a palette buffer and each output pixel takes the mean of
// the window area it covers, as smooth-scaling does.
constexpr int kBarTop = 700, kBarRows = 100;
enum BarColor : uint8_t { kBlack, kWhite, kBlue, kViolet, kGreen, kRed };
constexpr Rgb kBarPalette[] = {{0, 0, 0}, {255, 255, 255}, {0, 0, 255}, {51, 0, 255}, {0, 255, 0}, {255, 0, 0}};

void DrawBar(const CarRacing::Scene& sc, int width, int height, int loss, uint8_t* out) {
  constexpr int W = CarRacing::kWindowW, H = CarRacing::kWindowH;
  thread_local std::vector<uint8_t> pal;
  pal.assign(static_cast<size_t>(kBarRows) * W, kBlack);
  auto fill = [&](int xa, int xb, int ya, int yb, uint8_t c) {  // inclusive window pixels
    xa = std::max(xa, 0), xb = std::min(xb, W - 1), ya = std::max(ya, kBarTop), yb = std::min(yb, H - 1);
    for (int y = ya; y <= yb && xa <= xb; ++y) std::fill_n(pal.data() + (y - kBarTop) * W + xa, xb - xa + 1, c);
  };
  auto polygon = [&](double x0, double y0, double x1, double y1, uint8_t c) {
    fill(static_cast<int>(std::floor(std::min(x0, x1))), static_cast<int>(std::floor(std::max(x0, x1))),
         static_cast<int>(std::floor(std::min(y0, y1))), static_cast<int>(std::floor(std::max(y0, y1))), c);
  };
  const double s = W / 40.0, h = H / 40.0;
  auto vertical = [&](double place, double val, uint8_t c) {
    polygon(place * s, H - (h + h * val), (place + 1) * s, H - h, c);
  };
  auto horizontal = [&](double place, double val, uint8_t c) {
    polygon(place * s, H - 4 * h, (place + val) * s, H - 2 * h, c);
  };
  // Each indicator is drawn when its raw value is above 1e-4 in size.
  if (std::abs(sc.speed) > 1e-4) vertical(5, 0.02 * sc.speed, kWhite);
  for (int k = 0; k < 4; ++k)
    if (std::abs(sc.omega[k]) > 1e-4) vertical(7 + k, 0.01 * sc.omega[k], k < 2 ? kBlue : kViolet);
  if (std::abs(sc.steer) > 1e-4) horizontal(20, -10.0 * sc.steer, kGreen);
  if (std::abs(sc.yaw) > 1e-4) horizontal(30, -0.8 * sc.yaw, kRed);
  // The score, white on its black text box (42 rows from y 729, centred on
  // x 60 with pygame's integer division).
  const std::string text = CarRacing::ScoreText(sc.score);
  int tw = 0;
  for (char c : text)
    if (const Glyph* g = FindGlyph(c)) tw += static_cast<int>(g->advance);
  const int left = 60 - tw / 2, top = H - H * 25 / 400 - 21;
  fill(left, left + tw - 1, top, top + 41, kBlack);
  double pen = left;
  for (char c : text) {
    const Glyph* g = FindGlyph(c);
    if (!g) continue;
    const double cw = (g->x1 - g->x0) / 5, ch = (g->y1 - g->y0) / 7;
    for (int r = 0; r < 7; ++r)
      for (int col = 0; col < 5; ++col)
        if (g->rows[r] & (0x10 >> col)) {
          const double x0 = pen + g->x0 + col * cw, y0 = top + g->y0 + r * ch;
          fill(static_cast<int>(std::lround(x0)), static_cast<int>(std::lround(x0 + cw)) - 1,
               static_cast<int>(std::lround(y0)), static_cast<int>(std::lround(y0 + ch)) - 1, kWhite);
        }
    pen += g->advance;
  }
  // Area means: the column integrals of a window row (reused while rows
  // repeat), weighted by each window row's overlap with the output row.
  const double fx = static_cast<double>(W) / width, fy = static_cast<double>(H) / height;
  thread_local std::vector<double> cols, acc;  // reused: this runs every step
  cols.assign(static_cast<size_t>(width) * 3, 0.0);
  acc.assign(static_cast<size_t>(width) * 3, 0.0);
  const int first = height * kBarTop / H;
  int cached = -1;
  for (int r = first; r < height; ++r) {
    std::fill(acc.begin(), acc.end(), 0.0);
    const double y0 = r * fy, y1 = (r + 1) * fy;
    for (int y = static_cast<int>(std::floor(y0)); y < y1 && y < H; ++y) {
      const double wy = std::min<double>(y + 1, y1) - std::max<double>(y, y0);
      if (y < kBarTop || wy <= 0) continue;
      const uint8_t* row = pal.data() + (y - kBarTop) * W;
      if (cached < 0 || std::memcmp(row, pal.data() + (cached - kBarTop) * W, W) != 0) {
        for (int c = 0; c < width; ++c) {
          const double a = c * fx, b = (c + 1) * fx;
          double sum[3] = {0, 0, 0};
          for (int x = static_cast<int>(std::floor(a)); x < b && x < W; ++x) {
            const double wx = std::min<double>(x + 1, b) - std::max<double>(x, a);
            const Rgb col = kBarPalette[row[x]];
            sum[0] += wx * col.r, sum[1] += wx * col.g, sum[2] += wx * col.b;
          }
          for (int k = 0; k < 3; ++k) cols[c * 3 + k] = sum[k];
        }
        cached = y;
      }
      for (size_t i = 0; i < acc.size(); ++i) acc[i] += wy * cols[i];
    }
    uint8_t* o = out + static_cast<size_t>(r) * width * 3;
    for (size_t i = 0; i < acc.size(); ++i)
      o[i] = static_cast<uint8_t>(std::max(static_cast<int>(std::ceil(acc[i] / (fx * fy) - 1e-9)) - loss, 0));
  }
}
}  // namespace

void CarRacing::DrawScene(const Scene& sc, int width, int height, int samples, uint8_t* out, int scale_loss) {
  const double W = kWindowW, H = kWindowH;
  // The scene above the bar (window rows 0-699) on a supersampled canvas.
  const int scene_rows = height * kBarTop / kWindowH;
  thread_local Canvas cv;
  cv.Reset(width * samples, scene_rows * samples, width * samples / W, height * samples / H);
  // World -> window: rotate with the car, zoom (animated over the first
  // second), the car at (W/2, H/4) before the vertical flip.
  const double angle = -sc.car_angle, ca = std::cos(angle), sa = std::sin(angle);
  const double zoom = 0.1 * kScale * std::max(1 - sc.t, 0.0) + kZoom * kScale * std::min(sc.t, 1.0);
  const double view = std::hypot(W / 2, H * 3 / 4) / zoom + 1.0;  // farthest visible world distance
  thread_local std::vector<Point> poly;
  auto draw = [&](const Scene::Poly& p) {
    if (std::hypot(p.cx - sc.car_x, p.cy - sc.car_y) - p.radius > view) return;
    poly.clear();
    for (const auto& [x, y] : p.pts) {
      const double dx = (x - sc.car_x) * zoom, dy = (y - sc.car_y) * zoom;
      poly.push_back({W / 2 + ca * dx - sa * dy, H - (H / 4 + sa * dx + ca * dy)});
    }
    cv.Poly(poly, {p.color[0], p.color[1], p.color[2]});
  };
  for (const auto& p : sc.ground) draw(p);
  for (const auto& p : sc.car) draw(p);
  cv.Downsample(samples, scale_loss, out);
  DrawBar(sc, width, height, scale_loss, out);
}

std::string CarRacing::RenderText() const {
  if (!world_) return name() + ": not reset\n";
  const CarState s = car_state();
  return StrCat(name(), ": t=", Fixed(world_->t), " tiles ", world_->visited, "/", world_->tiles.size(),
                " score=", Fixed(world_->reward), "\n", "car x=", Fixed(s.x), " y=", Fixed(s.y),
                " heading=", Fixed(s.angle), " speed=", Fixed(std::hypot(s.vx, s.vy)),
                " steer=", Fixed(s.joint_angle[0]),
                " on road: ", s.tiles[0] + s.tiles[1] + s.tiles[2] + s.tiles[3] > 0 ? "yes" : "no",
                "\n");
}

bool CarRacing::RenderRgb(Image* out) const {
  *out = Image(kVideoW, kVideoH, {0, 0, 0});
  if (!world_) return true;
  DrawScene(world_->scene, kVideoW, kVideoH, 1, out->pixels().data(), 1);
  return true;
}

namespace {
EnvSpec CarRacingSpec() {
  const std::string id = "CarRacing-v3";
  EnvSpec spec{id,
               [id](const Kwargs& kw) {
                 CarRacing::Options o;
                 o.continuous = kw.GetBool("continuous", true, id);
                 o.domain_randomize = kw.GetBool("domain_randomize", false, id);
                 o.lap_complete_percent = kw.GetDouble("lap_complete_percent", 0.95, id);
                 return std::make_unique<CarRacing>(o);
               },
               1000,
               900.0,
               {},
               {{"continuous", "true", "Box(3) actions (steer, gas, brake) instead of Discrete(5)"},
                {"domain_randomize", "false", "random road, background and grass colours at every reset"},
                {"lap_complete_percent", "0.95", "share of tiles visited before the start tile ends the lap"}},
               "drive a random track from 96x96 top-down pixels (Box2D)"};
  spec.discrete_action_kwargs = {{"continuous", "false"}};
  return spec;
}
}  // namespace

RLF_REGISTER_ENVS(car_racing) { registry.Register(CarRacingSpec()); }

}  // namespace rlforge
