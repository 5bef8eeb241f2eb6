#include "rlforge/envs/tower_defense/tower_defense.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "rlforge/core/error.h"
#include "rlforge/env/registry.h"
#include "rlforge/envs/tower_defense/heuristic.h"

namespace rlforge {
namespace td {

namespace {
std::vector<std::pair<int, int>> Box(int ahead_from, int ahead_to, int side) {
  std::vector<std::pair<int, int>> out;
  for (int a = ahead_from; a <= ahead_to; ++a)
    for (int s = -side; s <= side; ++s) out.push_back({a, s});
  return out;
}
}  // namespace

const std::array<UnitClassInfo, kSlots>& UnitClasses() {
  //                  name      letter high  cost hp    atk interval block def  res  arts   heals  range            sp  dur cooldown
  static const std::array<UnitClassInfo, kSlots> classes = {{
      {"defender", 'D', false, 16, 3000, 260, 12, 3, 450, 0, false, false, Box(0, 1, 0), 60, 80, 60},
      {"guard", 'G', false, 10, 1600, 480, 10, 2, 150, 0, false, false, Box(0, 1, 0), 40, 60, 50},
      {"sniper", 'S', true, 12, 1000, 380, 10, 0, 50, 0, false, false, Box(0, 3, 1), 50, 60, 60},
      {"caster", 'C', true, 18, 900, 520, 16, 0, 50, 20, true, false, Box(0, 2, 1), 60, 40, 70},
      {"medic", 'M', true, 14, 1000, 300, 14, 0, 50, 20, false, true, Box(0, 3, 1), 50, 50, 60},
  }};
  return classes;
}

const std::array<EnemyKindInfo, 4>& EnemyKinds() {
  //                name       letter hp   def  res atk interval speed range weight
  static const std::array<EnemyKindInfo, 4> kinds = {{
      {"soldier", 's', 1200, 100, 0, 350, 15, 0.05, 0.0, 1},
      {"runner", 'r', 700, 0, 0, 250, 10, 0.10, 0.0, 1},
      {"heavy", 'h', 3200, 450, 20, 600, 20, 0.03, 0.0, 2},
      {"caster", 'c', 1000, 50, 50, 300, 20, 0.04, 2.5, 1},
  }};
  return kinds;
}

int64_t EncodeFlatAction(int type, int slot, int tile, int facing) {
  switch (type) {
    case kDeploy: return 1 + (static_cast<int64_t>(slot) * kTiles + tile) * kFacings + facing;
    case kSkill: return 1 + kSlots * kTiles * kFacings + slot;
    case kRetreat: return 1 + kSlots * kTiles * kFacings + kSlots + slot;
    default: return 0;
  }
}

std::array<int, 4> DecodeFlatAction(int64_t a) {
  const int64_t deploys = kSlots * kTiles * kFacings;
  if (a >= 1 && a <= deploys)
    return {kDeploy, static_cast<int>((a - 1) / (kTiles * kFacings)), static_cast<int>((a - 1) / kFacings % kTiles),
            static_cast<int>((a - 1) % kFacings)};
  if (a > deploys && a <= deploys + kSlots) return {kSkill, static_cast<int>(a - 1 - deploys), 0, 0};
  if (a > deploys + kSlots) return {kRetreat, static_cast<int>(a - 1 - deploys - kSlots), 0, 0};
  return {kWait, 0, 0, 0};
}

void RangeTiles(int cls, int tile, int facing, std::vector<int>* out) {
  out->clear();
  const int x = tile % kWidth, y = tile / kWidth;
  // Facing: 0 east (+x), 1 south (+y), 2 west (-x), 3 north (-y); sideways is
  // 90 degrees clockwise of ahead.
  static const int ax[4] = {1, 0, -1, 0}, ay[4] = {0, 1, 0, -1};
  for (const auto& [ahead, side] : UnitClasses()[cls].range) {
    const int tx = x + ahead * ax[facing] - side * ay[facing];
    const int ty = y + ahead * ay[facing] + side * ax[facing];
    if (tx >= 0 && tx < kWidth && ty >= 0 && ty < kHeight) out->push_back(ty * kWidth + tx);
  }
}


namespace {

Stage FromRows(const std::string& name, const std::array<const char*, kHeight>& rows,
               const std::vector<std::vector<std::pair<int, int>>>& waypoints) {
  Stage s;
  s.name = name;
  for (int y = 0; y < kHeight; ++y) {
    RLF_CHECK(std::strlen(rows[y]) == kWidth, "stage ", name, ": row ", y, " is not ", kWidth, " wide");
    for (int x = 0; x < kWidth; ++x) {
      const char c = rows[y][x];
      s.tiles[y * kWidth + x] = c == '.' ? kGround : c == '#' ? kHigh : c == 'S' ? kSpawn : c == 'G' ? kGoal : kBlocked;
    }
  }
  for (const auto& w : waypoints) {
    std::vector<int> route = {w[0].second * kWidth + w[0].first};
    for (size_t k = 1; k < w.size(); ++k) {
      int x = w[k - 1].first, y = w[k - 1].second;
      const int tx = w[k].first, ty = w[k].second;
      RLF_CHECK(x == tx || y == ty, "stage ", name, ": waypoints must be joined by straight runs");
      while (x != tx || y != ty) {
        x += (tx > x) - (tx < x);
        y += (ty > y) - (ty < y);
        route.push_back(y * kWidth + x);
      }
    }
    for (size_t k = 0; k < route.size(); ++k) {
      const uint8_t t = s.tiles[route[k]];
      RLF_CHECK(k == 0 ? t == kSpawn : k + 1 == route.size() ? t == kGoal : t == kGround, "stage ", name,
                ": route tile ", route[k], " has the wrong type");
    }
    s.routes.push_back(route);
  }
  return s;
}

// `count` enemies of `kind` on `route`, from `start`, every `every` ticks.
void Wave(Stage* s, int start, int every, int count, int kind, int route) {
  for (int k = 0; k < count; ++k) s->spawns.push_back({start + k * every, kind, route});
}

void SortSpawns(Stage* s) {
  std::stable_sort(s->spawns.begin(), s->spawns.end(),
                   [](const SpawnEvent& a, const SpawnEvent& b) { return a.tick < b.tick; });
}

}  // namespace

Stage HandMadeStage(int number) {
  Stage s;
  switch (number) {
    case 1:
      s = FromRows("1: the straight lane",
                   {"xxxxxxxxxx", "x########x", "S........G", "x########x", "xxxxxxxxxx", "xxxxxxxxxx"},
                   {{{0, 2}, {9, 2}}});
      Wave(&s, 20, 40, 6, kSoldier, 0);
      Wave(&s, 260, 30, 3, kRunner, 0);
      s.start_dp = 12;
      break;
    case 2:
      s = FromRows("2: the bend",
                   {"S...##xxxx", "###.##xxxx", "xx#....###", "xx####.#xx", "xxxxx#...G", "xxxxx#####"},
                   {{{0, 0}, {3, 0}, {3, 2}, {6, 2}, {6, 4}, {9, 4}}});
      Wave(&s, 20, 35, 5, kSoldier, 0);
      Wave(&s, 60, 35, 5, kRunner, 0);
      Wave(&s, 260, 20, 4, kRunner, 0);
      s.start_dp = 10;
      break;
    case 3:
      s = FromRows("3: two gates",
                   {"S....#xxxx", "####.#xxxx", "xxx#.....G", "####.#####", "S....#xxxx", "xxxxxxxxxx"},
                   {{{0, 0}, {4, 0}, {4, 2}, {9, 2}}, {{0, 4}, {4, 4}, {4, 2}, {9, 2}}});
      Wave(&s, 20, 30, 6, kSoldier, 0);
      Wave(&s, 35, 30, 6, kSoldier, 1);
      Wave(&s, 150, 60, 3, kHeavy, 0);
      Wave(&s, 180, 60, 2, kHeavy, 1);
      Wave(&s, 220, 20, 5, kRunner, 1);
      Wave(&s, 300, 20, 5, kRunner, 0);
      s.start_dp = 12;
      break;
    case 4:
      s = FromRows("4: the gauntlet",
                   {"S.......#x", "#######.#x", "x#......#x", "x#.######x", "x#.......G", "x########x"},
                   {{{0, 0}, {7, 0}, {7, 2}, {2, 2}, {2, 4}, {9, 4}}});
      Wave(&s, 20, 25, 7, kSoldier, 0);
      Wave(&s, 60, 45, 6, kEnemyCaster, 0);
      Wave(&s, 150, 60, 4, kHeavy, 0);
      Wave(&s, 240, 12, 8, kRunner, 0);
      Wave(&s, 330, 20, 6, kSoldier, 0);
      s.start_dp = 12;
      s.dp_interval = 11;
      break;
    default:
      throw InvalidArgument(StrCat("TowerDefense-v0: stage must be 0 (procedural) or 1-4, got ", number));
  }
  SortSpawns(&s);
  return s;
}

Stage ProceduralStage(uint64_t seed, double difficulty) {
  Rng rng(seed ^ 0x70D3F);
  Stage s;
  s.name = StrCat("procedural ", seed);
  s.tiles.fill(kBlocked);
  // A route monotone in x from the left edge to the right edge, wandering
  // up and down between columns.
  int y = static_cast<int>(rng.UniformInt(kHeight));
  std::vector<int> route;
  for (int x = 0; x < kWidth; ++x) {
    route.push_back(y * kWidth + x);
    if (x > 0 && x < kWidth - 2 && rng.Uniform() < 0.45) {
      const int ty = static_cast<int>(rng.UniformInt(kHeight));
      while (y != ty) {
        y += ty > y ? 1 : -1;
        route.push_back(y * kWidth + x);
      }
    }
  }
  for (int t : route) s.tiles[t] = kGround;
  s.tiles[route.front()] = kSpawn;
  s.tiles[route.back()] = kGoal;
  // High ground beside the route (each neighbour with probability 0.6),
  // at least three tiles.
  int high = 0;
  for (int attempt = 0; high < 3 && attempt < 100; ++attempt) {
    for (int t : route) {
      const int tx = t % kWidth, ty = t / kWidth;
      const int nb[4][2] = {{tx + 1, ty}, {tx - 1, ty}, {tx, ty + 1}, {tx, ty - 1}};
      for (const auto& n : nb) {
        if (n[0] < 0 || n[0] >= kWidth || n[1] < 0 || n[1] >= kHeight) continue;
        uint8_t& tile = s.tiles[n[1] * kWidth + n[0]];
        if (tile == kBlocked && rng.Uniform() < 0.6) tile = kHigh, ++high;
      }
    }
  }
  s.routes = {route};
  const double d = std::clamp(difficulty, 0.0, 1.0);
  const int waves = 2 + static_cast<int>(std::lround(3 * d));
  int t = 20;
  for (int w = 0; w < waves; ++w) {
    const double u = rng.Uniform();
    const int kind = u < 0.5 - 0.3 * d ? kSoldier : u < 0.75 - 0.2 * d ? kRunner : u < 0.9 - 0.1 * d ? kHeavy : kEnemyCaster;
    const int count = 3 + static_cast<int>(rng.UniformInt(3 + static_cast<uint64_t>(3 * d)));
    const int every = kind == kHeavy ? 70 : kind == kRunner ? 20 : 35;
    Wave(&s, t, every, count, kind, 0);
    t += count * every / 2 + 40;
  }
  s.start_dp = 12 - static_cast<int>(std::lround(2 * d));
  SortSpawns(&s);
  return s;
}

}  // namespace td

using namespace td;

TowerDefense::TowerDefense(const TowerDefenseConfig& config) : config_(config) {
  obs_space_ = config.pixels ? Space::Box(0, 255, {kPixelHeight, kPixelWidth, 3}, DType::kUInt8)
                             : Space::Box(0, 1, {kObsSize});
  act_space_ = config.flat_actions ? Space::Discrete(kFlatActions)
                                   : Space::MultiDiscrete({kTypes, kSlots, kTiles, kFacings});
  if (config.stage != 0) stage_ = HandMadeStage(config.stage);
  base_spawns_ = stage_.spawns;
  RLF_CHECK_ARG(config.procedural_difficulty >= 0 && config.procedural_difficulty <= 1,
                "TowerDefense-v0: procedural_difficulty must be in [0, 1]");
  RLF_CHECK_ARG(config.ticks_per_step >= 1 && config.ticks_per_step <= 100,
                "TowerDefense-v0: ticks_per_step must be in [1, 100], got ", config.ticks_per_step);
  RLF_CHECK_ARG(config.max_ticks >= 1, "TowerDefense-v0: max_ticks must be >= 1, got ", config.max_ticks);
  FlattenRoutes();
}

void TowerDefense::FlattenRoutes() {
  route_flat_.clear();
  route_sizes_.clear();
  for (const auto& r : stage_.routes) {
    for (int t : r) route_flat_.push_back(static_cast<int16_t>(t));
    route_sizes_.push_back(static_cast<int32_t>(r.size()));
  }
}

void TowerDefense::SyncRoutes() {
  // A loaded state: the sizes must add up to the flat list (a damaged state
  // read past its end here).
  size_t total = 0;
  for (int32_t n : route_sizes_) {
    RLF_CHECK(n >= 0 && static_cast<size_t>(n) <= route_flat_.size() - total, name(),
              " state is corrupt (its routes do not match their sizes)");
    total += static_cast<size_t>(n);
  }
  RLF_CHECK(total == route_flat_.size(), name(), " state is corrupt (its routes do not match their sizes)");
  stage_.routes.assign(route_sizes_.size(), {});
  size_t k = 0;
  for (size_t r = 0; r < route_sizes_.size(); ++r)
    for (int i = 0; i < route_sizes_[r]; ++i) stage_.routes[r].push_back(route_flat_[k++]);
}

int TowerDefense::units_on_field() const {
  int n = 0;
  for (const auto& u : units_) n += u.deployed;
  return n;
}

int TowerDefense::EnemyTile(const Enemy& e) const {
  const auto& r = stage_.routes[e.route];
  const int i = std::min(static_cast<int>(r.size()) - 1, static_cast<int>(std::floor(e.progress + 0.5)));
  return r[i];
}

namespace {
// The (x, y) centre of an enemy, interpolated along its route.
std::pair<double, double> EnemyXY(const std::vector<int>& route, double progress) {
  const int last = static_cast<int>(route.size()) - 1;
  const int i = std::min(last, static_cast<int>(progress));
  const int j = std::min(last, i + 1);
  const double f = std::min(1.0, progress - i);
  const double x0 = route[i] % kWidth, y0 = route[i] / kWidth, x1 = route[j] % kWidth, y1 = route[j] / kWidth;
  return {x0 + (x1 - x0) * f, y0 + (y1 - y0) * f};
}
}  // namespace

bool TowerDefense::TileFree(int tile) const {
  for (const auto& u : units_)
    if (u.deployed && u.tile == tile) return false;
  return true;
}

std::string TowerDefense::IllegalReason(int type, int slot, int tile, int facing) const {
  if (type < 0 || type >= kTypes) return StrCat("action type ", type, " is not 0-3");
  if (type == kWait) return "";
  if (slot < 0 || slot >= kSlots) return StrCat("unit slot ", slot, " is not 0-", kSlots - 1);
  const auto& cls = UnitClasses()[slot];
  const Unit& u = units_[slot];
  if (type == kSkill) {
    if (!u.deployed) return StrCat(cls.name, " (slot ", slot, ") is not deployed");
    if (u.active) return StrCat(cls.name, "'s skill is already active");
    if (u.sp < cls.sp_cost) return StrCat(cls.name, "'s skill is not charged (", u.sp, "/", cls.sp_cost, " SP)");
    return "";
  }
  if (type == kRetreat) return u.deployed ? "" : StrCat(cls.name, " (slot ", slot, ") is not deployed");
  // Deploy.
  if (u.deployed) return StrCat(cls.name, " (slot ", slot, ") is already deployed");
  if (u.cooldown > 0) return StrCat(cls.name, " is on redeployment cooldown (", u.cooldown, " ticks left)");
  if (units_on_field() >= stage_.unit_cap) return StrCat("the unit cap (", stage_.unit_cap, ") is reached");
  if (tile < 0 || tile >= kTiles) return StrCat("tile ", tile, " is off the board");
  if (facing < 0 || facing >= kFacings) return StrCat("facing ", facing, " is not 0-3");
  const uint8_t t = stage_.tiles[tile];
  if (cls.high_ground && t != kHigh) return StrCat(cls.name, " deploys only on high ground; tile ", tile, " is not");
  if (!cls.high_ground && t != kGround) return StrCat(cls.name, " deploys only on ground; tile ", tile, " is not");
  if (!TileFree(tile)) return StrCat("tile ", tile, " is occupied");
  if (dp_ < cls.cost) return StrCat(cls.name, " costs ", cls.cost, " DP, only ", dp_, " available");
  return "";
}

bool TowerDefense::SlotCanDeploy(int slot) const {
  const Unit& u = units_[slot];
  return !u.deployed && u.cooldown <= 0 && dp_ >= UnitClasses()[slot].cost && units_on_field() < stage_.unit_cap;
}

bool TowerDefense::TileFits(int slot, int tile) const {
  return stage_.tiles[tile] == (UnitClasses()[slot].high_ground ? kHigh : kGround) && TileFree(tile);
}

bool TowerDefense::SkillReady(int slot) const {
  const Unit& u = units_[slot];
  return u.deployed && !u.active && u.sp >= UnitClasses()[slot].sp_cost;
}

void TowerDefense::ConditionalMask(const int64_t* prefix, int dim, uint8_t* mask) const {
  const int n = dim == 0 ? kTypes : dim == 1 ? kSlots : dim == 2 ? kTiles : kFacings;
  std::fill(mask, mask + n, 0);
  auto deployable = [&](int slot) {
    if (!SlotCanDeploy(slot)) return false;
    for (int t = 0; t < kTiles; ++t)
      if (TileFits(slot, t)) return true;
    return false;
  };
  if (dim == 0) {
    mask[kWait] = 1;
    for (int s = 0; s < kSlots; ++s) {
      if (!mask[kDeploy] && deployable(s)) mask[kDeploy] = 1;
      if (SkillReady(s)) mask[kSkill] = 1;
      if (units_[s].deployed) mask[kRetreat] = 1;
    }
    return;
  }
  const int type = static_cast<int>(prefix[0]);
  if (dim == 1) {
    if (type == kWait) {
      mask[0] = 1;
      return;
    }
    for (int s = 0; s < kSlots; ++s)
      mask[s] = type == kDeploy ? deployable(s) : type == kSkill ? SkillReady(s) : units_[s].deployed;
    return;
  }
  if (type != kDeploy) {
    mask[0] = 1;
    return;
  }
  const int slot = static_cast<int>(prefix[1]);
  if (dim == 2) {
    if (SlotCanDeploy(slot))
      for (int t = 0; t < kTiles; ++t) mask[t] = TileFits(slot, t);
    return;
  }
  std::fill(mask, mask + kFacings, 1);
}

void TowerDefense::ActionMask(uint8_t* mask) const {
  if (config_.flat_actions) FlatActionMask(mask);
  else MultiActionMask(mask);
}

void TowerDefense::FlatActionMask(uint8_t* mask) const {
  {
    std::fill(mask, mask + kFlatActions, 0);
    mask[0] = 1;
    for (int s = 0; s < kSlots; ++s) {
      if (SlotCanDeploy(s))
        for (int t = 0; t < kTiles; ++t)
          if (TileFits(s, t))
            std::fill(mask + 1 + (s * kTiles + t) * kFacings, mask + 1 + (s * kTiles + t + 1) * kFacings, 1);
      mask[1 + kSlots * kTiles * kFacings + s] = SkillReady(s);
      mask[1 + kSlots * kTiles * kFacings + kSlots + s] = units_[s].deployed;
    }
  }
}

void TowerDefense::MultiActionMask(uint8_t* mask) const {
  // Per dimension: the union over legal actions (wait uses slot 0, tile 0, facing 0).
  uint8_t* type = mask;
  uint8_t* slot = type + kTypes;
  uint8_t* tile = slot + kSlots;
  uint8_t* facing = tile + kTiles;
  std::fill(mask, mask + kTypes + kSlots + kTiles + kFacings, 0);
  type[kWait] = slot[0] = tile[0] = facing[0] = 1;
  for (int s = 0; s < kSlots; ++s) {
    if (SlotCanDeploy(s)) {
      bool any_tile = false;
      for (int t = 0; t < kTiles; ++t)
        if (TileFits(s, t)) tile[t] = 1, any_tile = true;
      if (any_tile) type[kDeploy] = slot[s] = 1;
    }
    if (SkillReady(s)) type[kSkill] = slot[s] = 1;
    if (units_[s].deployed) type[kRetreat] = slot[s] = 1;
  }
  if (type[kDeploy]) std::fill(facing, facing + kFacings, 1);
}

void TowerDefense::ResetImpl(void* obs, Info* info) {
  if (config_.stage == 0) {
    const uint64_t seed = config_.procedural_seed >= 0 ? static_cast<uint64_t>(config_.procedural_seed) : rng_.Next();
    stage_ = ProceduralStage(seed, config_.procedural_difficulty);
    base_spawns_ = stage_.spawns;
    FlattenRoutes();
  }
  // Each spawn comes up to 4 ticks early or late (a stage's time-line is the
  // same every episode; its exact rhythm is not).
  stage_.spawns = base_spawns_;
  for (auto& sp : stage_.spawns) sp.tick = std::max(1, sp.tick + static_cast<int>(rng_.UniformInt(9)) - 4);
  std::stable_sort(stage_.spawns.begin(), stage_.spawns.end(),
                   [](const SpawnEvent& a, const SpawnEvent& b) { return a.tick < b.tick; });
  units_ = {};
  enemies_.clear();
  enemies_.reserve(stage_.spawns.size());
  dp_ = stage_.start_dp;
  dp_timer_ = 0;
  life_ = stage_.life;
  tick_ = 0;
  next_spawn_ = 0;
  illegal_ = 0;
  info->Set("life", life_);
  WriteObs(obs);
}

void TowerDefense::Hit(Enemy* e, int dmg, StepResult* result) const {
  // Damage shaping counts only hit points actually removed (not overkill).
  if (config_.damage_reward != 0.0 && e->hp > 0)
    result->reward += config_.damage_reward * std::min(dmg, static_cast<int>(e->hp)) / EnemyKinds()[e->kind].hp;
  e->hp -= dmg;
}

double TowerDefense::Damage(int atk, bool arts, int def, int res) const {
  if (arts) return std::max(0.05 * atk, atk * (1.0 - res / 100.0));
  return std::max(0.05 * atk, static_cast<double>(atk - def));
}

void TowerDefense::Remove(int slot) {
  Unit& u = units_[slot];
  u.deployed = 0;
  u.active = 0;
  u.tile = -1;
  u.blocked = 0;
  u.cooldown = UnitClasses()[slot].redeploy_cooldown;
  for (auto& e : enemies_)
    if (e.blocker == slot) e.blocker = -1;
}

void TowerDefense::Apply(int type, int slot, int tile, int facing) {
  const auto& cls = UnitClasses()[slot];
  Unit& u = units_[slot];
  switch (type) {
    case kDeploy:
      dp_ -= cls.cost;
      u = Unit{};
      u.deployed = 1;
      u.tile = static_cast<int16_t>(tile);
      u.facing = static_cast<int8_t>(facing);
      u.hp = cls.hp;
      u.atk_timer = cls.interval;
      break;
    case kSkill:
      u.active = 1;
      u.active_left = cls.skill_duration;
      u.sp = 0;
      break;
    case kRetreat:
      dp_ = std::min(99, dp_ + cls.cost / 2);
      Remove(slot);
      break;
    default: break;
  }
}

void TowerDefense::StepImpl(const void* action, void* obs, StepResult* result) {
  int type = kWait, slot = 0, tile = 0, facing = 0;
  if (config_.flat_actions) {
    const auto d = DecodeFlatAction(*static_cast<const int64_t*>(action));
    type = d[0], slot = d[1], tile = d[2], facing = d[3];
  } else {
    const auto* a = static_cast<const int64_t*>(action);
    type = static_cast<int>(a[0]), slot = static_cast<int>(a[1]), tile = static_cast<int>(a[2]);
    facing = static_cast<int>(a[3]);
  }
  result->reward = 0;
  if (type != kWait) {
    const std::string why = IllegalReason(type, slot, tile, facing);
    if (!why.empty()) {
      if (config_.strict)
        throw InvalidArgument(StrCat("TowerDefense-v0: illegal action (type ", type, ", slot ", slot, ", tile ", tile,
                                     ", facing ", facing, "): ", why));
      ++illegal_;
      result->reward += config_.illegal_penalty;
    } else {
      Apply(type, slot, tile, facing);
    }
  }
  // The last step stops at max_ticks (a step of ticks_per_step ticks may not run past it).
  for (int k = 0; k < config_.ticks_per_step && !result->terminated && tick_ < config_.max_ticks; ++k) Tick(result);
  if (!result->terminated && tick_ >= config_.max_ticks) {
    result->truncated = true;
    result->reward += config_.timeout_penalty;
    result->info.Set("win", 0);
    result->info.Set("is_success", 0);
  }
  WriteObs(obs);
}

void TowerDefense::Tick(StepResult* result) {
  const auto& classes = UnitClasses();
  const auto& kinds = EnemyKinds();
  ++tick_;
  if (++dp_timer_ >= stage_.dp_interval) {
    dp_timer_ = 0;
    dp_ = std::min(99, dp_ + 1);
  }
  while (next_spawn_ < static_cast<int>(stage_.spawns.size()) && stage_.spawns[next_spawn_].tick <= tick_) {
    const SpawnEvent& s = stage_.spawns[next_spawn_++];
    Enemy e;
    e.kind = static_cast<int8_t>(s.kind);
    e.route = static_cast<int8_t>(s.route);
    e.alive = 1;
    e.hp = kinds[s.kind].hp;
    e.atk_timer = kinds[s.kind].interval;
    enemies_.push_back(e);
  }
  // Units.
  std::vector<int>& range = scratch_;
  for (int s = 0; s < kSlots; ++s) {
    Unit& u = units_[s];
    const auto& cls = classes[s];
    if (!u.deployed) {
      if (u.cooldown > 0) --u.cooldown;
      continue;
    }
    if (u.active) {
      if (--u.active_left <= 0) u.active = 0;
    } else if (u.sp < cls.sp_cost) {
      ++u.sp;
    }
    if (--u.atk_timer > 0) continue;
    RangeTiles(s, u.tile, u.facing, &range);
    auto in_range = [&](int tile) { return std::find(range.begin(), range.end(), tile) != range.end(); };
    bool acted = false;
    if (cls.heals) {
      int best = -1;
      double best_frac = 1.0;
      for (int o = 0; o < kSlots; ++o) {
        const Unit& v = units_[o];
        if (!v.deployed || !in_range(v.tile)) continue;
        const double frac = static_cast<double>(v.hp) / classes[o].hp;
        if (u.active && frac < 1.0) {
          units_[o].hp = std::min(classes[o].hp, v.hp + cls.atk);
          acted = true;
        } else if (frac < best_frac) {
          best_frac = frac, best = o;
        }
      }
      if (!u.active && best >= 0) {
        units_[best].hp = std::min(classes[best].hp, units_[best].hp + cls.atk);
        acted = true;
      }
    } else {
      const int atk = static_cast<int>(cls.atk * (u.active && s == kGuard ? 1.8 : 1.0));
      int target = -1;
      for (int i = 0; i < static_cast<int>(enemies_.size()); ++i) {
        Enemy& e = enemies_[i];
        if (!e.alive) continue;
        const bool blocked_here = e.blocker == s;
        if (!blocked_here && !in_range(EnemyTile(e))) continue;
        if (u.active && s == kCaster) {  // area skill: everyone in range
          Hit(&e, static_cast<int>(Damage(atk, cls.arts, kinds[e.kind].def, kinds[e.kind].res)), result);
          acted = true;
          continue;
        }
        // Blocked enemies first, then the one closest to the goal.
        if (target < 0 || (blocked_here && enemies_[target].blocker != s) ||
            (blocked_here == (enemies_[target].blocker == s) && e.progress > enemies_[target].progress))
          target = i;
      }
      if (target >= 0) {
        Enemy& e = enemies_[target];
        Hit(&e, static_cast<int>(Damage(atk, cls.arts, kinds[e.kind].def, kinds[e.kind].res)), result);
        acted = true;
      }
    }
    // Ready again: attack as soon as something is in range.
    u.atk_timer = acted ? (u.active && s == kSniper ? cls.interval / 2 : cls.interval) : 1;
  }
  // Enemies.
  for (auto& e : enemies_) {
    if (!e.alive || e.hp <= 0) continue;
    const auto& kind = kinds[e.kind];
    const auto& route = stage_.routes[e.route];
    if (--e.atk_timer <= 0) {
      int victim = -1;
      if (e.blocker >= 0) {
        victim = e.blocker;
      } else if (kind.range > 0) {
        const auto [ex, ey] = EnemyXY(route, e.progress);
        double best = kind.range + 1e-9;
        for (int s = 0; s < kSlots; ++s) {
          if (!units_[s].deployed) continue;
          const double d = std::hypot(units_[s].tile % kWidth - ex, units_[s].tile / kWidth - ey);
          if (d <= best) best = d, victim = s;
        }
      }
      if (victim >= 0) {
        Unit& v = units_[victim];
        double dmg = Damage(kind.atk, kind.range > 0, classes[victim].def, classes[victim].res);
        if (v.active && victim == kDefender) dmg *= 0.4;
        v.hp -= static_cast<int>(dmg);
        e.atk_timer = kind.interval;
      } else {
        e.atk_timer = 1;
      }
    }
    if (e.blocker >= 0) continue;
    e.progress += kind.speed;
    if (e.progress >= static_cast<double>(route.size()) - 1.0) {  // reached the goal
      e.alive = 0;
      life_ = std::max(0, life_ - 1);  // several can leak in one tick; each pays
      result->reward += config_.leak_penalty;
      continue;
    }
    const int now = EnemyTile(e);
    {  // A ground unit with room left stops any enemy on its tile.
      for (int s = 0; s < kSlots; ++s) {
        Unit& u = units_[s];
        if (u.deployed && !classes[s].high_ground && u.tile == now && u.blocked + kind.weight <= classes[s].block) {
          e.blocker = static_cast<int16_t>(s);
          u.blocked += kind.weight;
          break;
        }
      }
    }
  }
  // The dead.
  for (int s = 0; s < kSlots; ++s)
    if (units_[s].deployed && units_[s].hp <= 0) Remove(s);
  for (auto& e : enemies_) {
    if (e.alive && e.hp <= 0) {
      e.alive = 0;
      result->reward += config_.kill_reward;
      if (e.blocker >= 0) units_[e.blocker].blocked -= kinds[e.kind].weight;
    }
  }
  enemies_.erase(std::remove_if(enemies_.begin(), enemies_.end(), [](const Enemy& e) { return !e.alive; }),
                 enemies_.end());
  result->info.Set("life", life_);
  result->info.Set("illegal_actions", illegal_);
  if (life_ <= 0) {
    result->terminated = true;
    result->reward += config_.loss_penalty;
    result->info.Set("win", 0);
    result->info.Set("is_success", 0);
  } else if (all_spawned() && enemies_.empty()) {
    result->terminated = true;
    result->reward += config_.win_reward;
    result->info.Set("win", 1);
    result->info.Set("is_success", 1);
  }
}

void TowerDefense::WriteObs(void* obs) const {
  if (config_.pixels) {
    if (canvas_.width() != kPixelWidth) canvas_ = Image(kPixelWidth, kPixelHeight);
    Draw(&canvas_, kPixelTile, 8);
    std::memcpy(obs, canvas_.pixels().data(), canvas_.pixels().size());
    return;
  }
  auto* o = static_cast<float*>(obs);
  std::fill(o, o + kObsSize, 0.0f);
  auto plane = [&](int p, int tile) -> float& { return o[p * kTiles + tile]; };
  for (int t = 0; t < kTiles; ++t) {
    const uint8_t k = stage_.tiles[t];
    plane(0, t) = k == kGround;
    plane(1, t) = k == kHigh;
    plane(3, t) = k == kSpawn;
    plane(4, t) = k == kGoal;
  }
  for (const auto& r : stage_.routes)
    for (int t : r) plane(2, t) = 1;
  for (const auto& e : enemies_) {
    const int t = EnemyTile(e);
    plane(5, t) = std::min(1.0f, plane(5, t) + 1.0f / 3);
    plane(6, t) += static_cast<float>(e.hp) / 3000.0f;
    if (e.blocker >= 0) plane(7, t) = std::min(1.0f, plane(7, t) + 1.0f / 3);
  }
  for (int t = 0; t < kTiles; ++t) plane(6, t) = std::min(1.0f, plane(6, t));
  const auto& classes = UnitClasses();
  for (int s = 0; s < kSlots; ++s) {
    const Unit& u = units_[s];
    if (!u.deployed) continue;
    plane(8 + s, u.tile) = 1;
    plane(13, u.tile) = static_cast<float>(u.hp) / classes[s].hp;
    plane(14, u.tile) = u.active ? 1.0f : static_cast<float>(u.sp) / classes[s].sp_cost;
  }
  float* v = o + kPlanes * kTiles;
  v[0] = std::min(1.0f, dp_ / 50.0f);
  v[1] = static_cast<float>(life_) / stage_.life;
  v[2] = std::min(1.0f, static_cast<float>(tick_) / config_.max_ticks);
  v[3] = stage_.spawns.empty() ? 1.0f : static_cast<float>(next_spawn_) / stage_.spawns.size();
  v[4] = std::min(1.0f, enemies_.size() / 10.0f);
  v[5] = static_cast<float>(units_on_field()) / stage_.unit_cap;
  for (int s = 0; s < kSlots; ++s) {
    const Unit& u = units_[s];
    float* w = v + 6 + 4 * s;
    w[0] = u.deployed;
    w[1] = static_cast<float>(u.cooldown) / classes[s].redeploy_cooldown;
    w[2] = dp_ >= classes[s].cost;
    w[3] = u.deployed && !u.active && u.sp >= classes[s].sp_cost;
  }
}

namespace {
constexpr Rgb kTileColor[5] = {{40, 40, 46}, {170, 160, 130}, {90, 120, 170}, {200, 80, 80}, {80, 190, 90}};
constexpr Rgb kUnitColor[5] = {{230, 200, 60}, {240, 130, 40}, {60, 200, 230}, {200, 90, 230}, {250, 250, 250}};
constexpr Rgb kEnemyColor[4] = {{180, 30, 30}, {255, 60, 140}, {110, 20, 20}, {150, 40, 200}};
}  // namespace

void TowerDefense::Draw(Image* img, int px, int strip) const {
  img->Fill({0, 0, 0});
  for (int t = 0; t < kTiles; ++t) {
    const double x = (t % kWidth) * px, y = (t / kWidth) * px;
    img->FillRect(x, y, x + px, y + px, kTileColor[stage_.tiles[t]]);
    if (px >= 16) img->FillRect(x, y, x + px, y + 1, {0, 0, 0});
  }
  const auto& classes = UnitClasses();
  for (int s = 0; s < kSlots; ++s) {
    const Unit& u = units_[s];
    if (!u.deployed) continue;
    const double x = (u.tile % kWidth) * px, y = (u.tile / kWidth) * px, m = px * 0.15;
    img->FillRect(x + m, y + m, x + px - m, y + px - m, kUnitColor[s]);
    // Facing: a notch on the side the unit faces; hp bar along the bottom.
    static const double fx[4] = {1, 0.5, 0, 0.5}, fy[4] = {0.5, 1, 0.5, 0};
    const double nx = x + fx[u.facing] * (px - 2 * m) + m, ny = y + fy[u.facing] * (px - 2 * m) + m;
    img->FillRect(nx - m, ny - m, nx + m, ny + m, {0, 0, 0});
    const double frac = std::max(0.0, static_cast<double>(u.hp) / classes[s].hp);
    img->FillRect(x, y + px - std::max(1.0, px * 0.1), x + px * frac, y + px, {40, 230, 40});
    if (u.active) img->FillRect(x, y, x + px, y + std::max(1.0, px * 0.1), {255, 255, 255});
  }
  const auto& kinds = EnemyKinds();
  for (const auto& e : enemies_) {
    const auto [ex, ey] = EnemyXY(stage_.routes[e.route], e.progress);
    const double cx = (ex + 0.5) * px, cy = (ey + 0.5) * px;
    const double r = px * (e.kind == kHeavy ? 0.34 : 0.26);
    img->FillCircle(cx, cy, r, kEnemyColor[e.kind]);
    const double frac = std::max(0.0, static_cast<double>(e.hp) / kinds[e.kind].hp);
    img->FillRect(cx - r, cy - r - std::max(1.0, px * 0.08), cx - r + 2 * r * frac, cy - r, {255, 80, 80});
  }
  // Strip: DP (yellow), life (green), time (grey) bars.
  const double y0 = kHeight * px, w = kWidth * px, h = strip / 3.0;
  img->FillRect(0, y0, w * std::min(1.0, dp_ / 50.0), y0 + h, {240, 210, 60});
  img->FillRect(0, y0 + h, w * std::max(0.0, static_cast<double>(life_) / stage_.life), y0 + 2 * h, {60, 220, 80});
  img->FillRect(0, y0 + 2 * h, w * std::min(1.0, static_cast<double>(tick_) / config_.max_ticks), y0 + 3 * h,
               {150, 150, 150});
}

bool TowerDefense::RenderRgb(Image* out) const {
  *out = Image(kWidth * 48, kHeight * 48 + 24);
  Draw(out, 48, 24);
  return true;
}

std::string TowerDefense::RenderText() const {
  std::ostringstream os;
  const auto& classes = UnitClasses();
  const auto& kinds = EnemyKinds();
  os << "stage " << stage_.name << "  tick " << tick_ << "  DP " << dp_ << "  life " << life_ << "/" << stage_.life
     << "  spawned " << next_spawn_ << "/" << stage_.spawns.size() << "  enemies " << enemies_.size() << "\n";
  os << "   0123456789\n";
  for (int y = 0; y < kHeight; ++y) {
    os << " " << y << " ";
    for (int x = 0; x < kWidth; ++x) {
      const int t = y * kWidth + x;
      char c = "x.#+@"[stage_.tiles[t]];  // spawn '+', goal '@': S and G are the sniper and the guard
      for (const auto& e : enemies_)
        if (EnemyTile(e) == t) c = kinds[e.kind].letter;
      for (int s = 0; s < kSlots; ++s)
        if (units_[s].deployed && units_[s].tile == t) c = classes[s].letter;
      os << c;
    }
    os << "\n";
  }
  os << "  . ground  # high ground  x blocked  + spawn  @ goal; units";
  for (const auto& c : classes) os << ' ' << c.letter;
  os << "; enemies";
  for (const auto& k : kinds) os << ' ' << k.letter;
  os << "\n";
  static const char* facing[4] = {"east", "south", "west", "north"};
  for (int s = 0; s < kSlots; ++s) {
    const Unit& u = units_[s];
    os << "  [" << s << "] " << classes[s].name << " (" << classes[s].cost << " DP): ";
    if (u.deployed)
      os << "at (" << u.tile % kWidth << "," << u.tile / kWidth << ") " << facing[u.facing] << ", hp " << u.hp << "/"
         << classes[s].hp << ", " << (u.active ? "skill active" : StrCat("SP ", u.sp, "/", classes[s].sp_cost))
         << ", blocking " << u.blocked;
    else
      os << (u.cooldown > 0 ? StrCat("cooldown ", u.cooldown) : std::string("ready"));
    os << "\n";
  }
  for (const auto& e : enemies_) {
    const auto [ex, ey] = EnemyXY(stage_.routes[e.route], e.progress);
    os << "  " << kinds[e.kind].name << " hp " << e.hp << "/" << kinds[e.kind].hp << " at (" << ex << "," << ey << ")"
       << (e.blocker >= 0 ? StrCat(" blocked by ", classes[e.blocker].name) : std::string()) << "\n";
  }
  return os.str();
}

namespace {

std::unique_ptr<Env> MakeTowerDefense(const Kwargs& kw) {
  const std::string id = "TowerDefense-v0";
  TowerDefenseConfig c;
  c.stage = kw.GetInt32("stage", c.stage, id);
  c.procedural_seed = kw.GetInt("procedural_seed", c.procedural_seed, id);
  c.procedural_difficulty = kw.GetDouble("procedural_difficulty", c.procedural_difficulty, id);
  for (const char* key : {"procedural_seed", "procedural_difficulty"})
    RLF_CHECK_ARG(c.stage == 0 || !kw.Has(key), id, ": ", key, " applies to stage 0 (procedural) only; stage is ",
                  c.stage, " (set stage=0, or drop ", key, ")");
  c.flat_actions = kw.GetBool("flat_actions", c.flat_actions, id);
  c.strict = kw.GetBool("strict", c.strict, id);
  c.ticks_per_step = kw.GetInt32("ticks_per_step", c.ticks_per_step, id);
  c.max_ticks = kw.GetInt32("max_ticks", c.max_ticks, id);
  const std::string obs = kw.GetString("obs_mode", "planes");
  RLF_CHECK_ARG(obs == "planes" || obs == "pixels", id, ": obs_mode must be planes or pixels, got '", obs, "'");
  c.pixels = obs == "pixels";
  c.illegal_penalty = kw.GetDouble("illegal_penalty", c.illegal_penalty, id);
  c.kill_reward = kw.GetDouble("kill_reward", c.kill_reward, id);
  c.damage_reward = kw.GetDouble("damage_reward", c.damage_reward, id);
  c.leak_penalty = kw.GetDouble("leak_penalty", c.leak_penalty, id);
  c.win_reward = kw.GetDouble("win_reward", c.win_reward, id);
  c.loss_penalty = kw.GetDouble("loss_penalty", c.loss_penalty, id);
  c.timeout_penalty = kw.GetDouble("timeout_penalty", c.timeout_penalty, id);
  return std::make_unique<TowerDefense>(c);
}

}  // namespace

RLF_REGISTER_ENVS(tower_defense) {
  EnvSpec spec{"TowerDefense-v0", MakeTowerDefense, std::nullopt, std::nullopt, {},
               {{"stage", "1", "1-4 hand-made stages of rising difficulty, 0 procedural"},
                {"procedural_seed", "-1", "stage 0: fixed map seed (-1: a new map from each reset's seed)"},
                {"procedural_difficulty", "0.5", "stage 0: wave strength in [0, 1]"},
                {"flat_actions", "false", "Discrete(1211) with an exact mask instead of MultiDiscrete [4, 5, 60, 4]"},
                {"strict", "false", "an illegal action raises instead of acting as a wait"},
                {"ticks_per_step", "1", "game ticks per env step (the action applies at the first)"},
                {"max_ticks", "1000", "game ticks before the episode is truncated"},
                {"obs_mode", "planes", "planes (926 floats) or pixels (uint8 RGB 56x80)"},
                {"illegal_penalty", "0", "reward added for an illegal action (non-strict)"},
                {"kill_reward", "0.05", "reward per enemy killed"},
                {"damage_reward", "0", "reward per enemy's worth of hit points removed (dense shaping)"},
                {"leak_penalty", "-0.2", "reward per enemy reaching the goal"},
                {"win_reward", "1", "reward for clearing every wave"},
                {"loss_penalty", "-1", "reward when life reaches 0"},
                {"timeout_penalty", "-1", "reward when max_ticks pass with enemies left"}},
               "lane tower defense: deploy units, fire skills, retreat (masked MultiDiscrete)"};
  spec.scripted_policies.push_back(
      {"heuristic", "heuristic", "the scripted TowerDefense-v0 baseline", /*takes_argument=*/false,
       [](const Env& env, const std::string&, uint64_t) -> std::unique_ptr<Policy> {
         return std::make_unique<TowerDefenseHeuristic>(env.observation_space(), env.action_space());
       }});
  spec.discrete_action_kwargs = {{"flat_actions", "true"}};
  registry.Register(std::move(spec));
}

}  // namespace rlforge
