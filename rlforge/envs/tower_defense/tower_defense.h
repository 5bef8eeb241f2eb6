// rlforge/envs/tower_defense/tower_defense.h — TowerDefense-v0, a lane
// tower-defense deployment game in the manner of Arknights.
//
// The board is a 10 x 6 grid of ground, high-ground and blocked tiles. Enemies
// enter at spawn tiles on a stage's time-line and walk their route to the
// goal; each one that arrives costs a life. The player deploys units from a
// roster of five classes onto the board (ground classes on ground, ranged
// classes on high ground), fires their skills and retreats them:
//
//   class     tile   cost  hp    atk  interval  block  range (facing east)        damage   skill
//   defender  ground  16   3000  260  12        3      own tile, 1 ahead          physical damage taken x0.4
//   guard     ground  10   1600  480  10        2      own tile, 1 ahead          physical attack x1.8
//   sniper    high    12   1000  380  10        0      4 ahead x 3 wide           physical interval x0.5
//   caster    high    18    900  520  16        0      3 ahead x 3 wide           arts     hits all in range
//   medic     high    14   1000  300  14        0      3 ahead x 3 wide (heals)   heal     heals all in range
//
// Unit defence / resistance, skill charge (SP, +1 per tick while deployed)
// and duration, and the redeployment cooldown are in kUnitClasses
// (tower_defense.cc). Damage follows the genre's rules: physical
// max(atk - def, 0.05 atk), arts atk (1 - res / 100) (at least 0.05 atk).
// A ground unit stops (blocks) as many enemies as its block count; blocked
// enemies fight it. Retreat refunds half the cost; a retreated or fallen unit
// can be redeployed after its cooldown. Deployment points (DP) grow by one
// every `dp_interval` ticks; at most `unit_cap` units stand on the field.
//
// Enemies: soldier (1200 hp, def 100, speed 0.05 tiles/tick), runner (fast:
// 700 hp, 0.10), heavy (3200 hp, def 450, res 20, 0.03, blocks as two),
// and caster (ranged: 1000 hp, res 50, attacks any unit within 2.5 tiles with
// arts while it walks).
//
// Each episode jitters every spawn by up to 4 ticks (from the env's RNG).
// One env step is `ticks_per_step` game ticks (default 1): the action is
// applied, then the world advances. Order within a tick: DP, spawns, units (charge, skills, attacks,
// heals), enemies (attacks, movement, blocking, leaks), removal of the dead.
//
// Action: MultiDiscrete [4, 5, 60, 4] = (type, unit slot, tile, facing):
//   type 0 wait; 1 deploy unit `slot` on `tile` (row-major, y * 10 + x)
//   facing 0 east, 1 south, 2 west, 3 north; 2 fire `slot`'s skill;
//   3 retreat `slot`. Dimensions a type does not use are ignored.
// The action mask is per dimension ([4 | 5 | 60 | 4], 73 bytes): a value is
// legal when some legal action uses it (wait uses slot 0, tile 0, facing 0,
// so those are always legal). Joint rules (a high-ground unit never on ground,
// cost above the current DP, occupied tile, skill not charged, unit not
// deployed, cooldown running, unit cap) are checked on every action; the exact
// legal set for each dimension given the earlier ones is ConditionalMask().
// With flat_actions=true the action space is Discrete(1211) instead:
//   0 wait, 1 + (slot * 60 + tile) * 4 + facing deploy, 1201 + slot skill,
//   1206 + slot retreat — and its mask is exact.
// An illegal action raises InvalidArgument naming the rule it breaks when
// strict=true; otherwise (the default) it acts as a wait, costs
// `illegal_penalty` and is counted in info "illegal_actions" (per episode).
//
// Observation (obs_mode=planes, float32, 926 values): 15 planes of 6 x 10
// (channel-major: plane * 60 + y * 10 + x):
//   0 deployable ground, 1 high ground, 2 route, 3 spawn, 4 goal,
//   5 enemies on the tile / 3, 6 their hit points / 3000 (summed),
//   7 enemies blocked there / 3, 8-12 unit class one-hot,
//   13 unit hp fraction, 14 skill: SP / cost while charging, 1 while active,
//   15... (none) — then a 26-value vector: DP / 50, life / max life,
//   tick / time limit, fraction of spawns released, enemies alive / 10,
//   units on the field / cap, and per slot: deployed, cooldown fraction,
//   affordable, skill ready.
// obs_mode=pixels: the board drawn as uint8 RGB [56, 80, 3] (8 px per tile,
// with an 8 px strip of DP, life and time bars) for CNN policies.
//
// Reward (kwargs): kill_reward per enemy killed (0.05), damage_reward per
// enemy's worth of hit points removed (0; a dense shaping term: hitting an
// enemy for a quarter of its hp earns damage_reward / 4), leak_penalty per enemy
// reaching the goal (-0.2), win_reward when every wave is cleared (1),
// loss_penalty when life reaches 0 (-1). Both end the episode (terminated).
// After max_ticks (1000) ticks with enemies left the episode is truncated
// with timeout_penalty (-1). info: "win" on the final step (1 or 0), "life",
// "illegal_actions", and "is_success" (= win).
//
// Stages (kwarg stage): 1-4 hand-made, of rising difficulty; 0 procedural,
// generated from the reset seed (seed kwarg `procedural_seed` fixes the map
// instead and lets the reset seed vary only the tie-breaks).
#ifndef RLFORGE_ENVS_TOWER_DEFENSE_TOWER_DEFENSE_H_
#define RLFORGE_ENVS_TOWER_DEFENSE_TOWER_DEFENSE_H_

#include <array>
#include <type_traits>
#include <string>
#include <vector>

#include "rlforge/core/state_io.h"
#include "rlforge/env/env.h"
#include "rlforge/env/image.h"

namespace rlforge {

namespace td {

constexpr int kWidth = 10, kHeight = 6, kTiles = kWidth * kHeight;
constexpr int kSlots = 5, kFacings = 4, kTypes = 4;
constexpr int kPlanes = 15, kVector = 26;
constexpr int kObsSize = kPlanes * kTiles + kVector;
constexpr int kFlatActions = 1 + kSlots * kTiles * kFacings + kSlots + kSlots;  // 1211
constexpr int kPixelTile = 8, kPixelWidth = kWidth * kPixelTile, kPixelHeight = kHeight * kPixelTile + 8;

enum Tile : uint8_t { kBlocked = 0, kGround = 1, kHigh = 2, kSpawn = 3, kGoal = 4 };
enum ActionType : int { kWait = 0, kDeploy = 1, kSkill = 2, kRetreat = 3 };
enum UnitClass : int { kDefender = 0, kGuard = 1, kSniper = 2, kCaster = 3, kMedic = 4 };
enum EnemyKind : int { kSoldier = 0, kRunner = 1, kHeavy = 2, kEnemyCaster = 3 };

struct UnitClassInfo {
  const char* name;
  char letter;
  bool high_ground;
  int cost, hp, atk, interval, block, def, res;
  bool arts, heals;
  std::vector<std::pair<int, int>> range;  // (ahead, sideways) offsets, facing east
  int sp_cost, skill_duration, redeploy_cooldown;
};
const std::array<UnitClassInfo, kSlots>& UnitClasses();

struct EnemyKindInfo {
  const char* name;
  char letter;
  int hp, def, res, atk, interval;
  double speed, range;  // tiles per tick; attack reach in tiles (0: melee, only when blocked)
  int weight;           // block capacity it takes
};
const std::array<EnemyKindInfo, 4>& EnemyKinds();

struct SpawnEvent {
  int tick, kind, route;
};

struct Stage {
  std::string name;
  std::array<uint8_t, kTiles> tiles{};
  std::vector<std::vector<int>> routes;  // tile indices, spawn first, goal last, 4-connected
  std::vector<SpawnEvent> spawns;        // sorted by tick
  int life = 3, start_dp = 10, dp_interval = 10, unit_cap = 4;
};
// The flat encoding (flat_actions=true) of (type, slot, tile, facing), and back.
int64_t EncodeFlatAction(int type, int slot, int tile, int facing);
std::array<int, 4> DecodeFlatAction(int64_t action);

// Tiles a unit of class `cls` covers from `tile` facing `facing` (on the board only).
void RangeTiles(int cls, int tile, int facing, std::vector<int>* out);

// Hand-made stages 1-4. Rows use '.' ground, '#' high ground, 'x' blocked,
// 'S' spawn and 'G' goal; routes are lists of waypoints joined by straight runs.
Stage HandMadeStage(int number);
// A random stage: a winding route (sometimes two) through ground, high ground
// beside it, and waves scaled by `difficulty` in [0, 1].
Stage ProceduralStage(uint64_t seed, double difficulty);

}  // namespace td

struct TowerDefenseConfig {
  int stage = 1;                 // 1-4 hand-made, 0 procedural
  int64_t procedural_seed = -1;  // with stage 0: fixed map (-1: drawn from the reset seed)
  double procedural_difficulty = 0.5;
  bool flat_actions = false;
  bool strict = false;
  bool pixels = false;
  int ticks_per_step = 1;        // game ticks per env step (the action is applied at the first)
  int max_ticks = 1000;          // truncation
  double illegal_penalty = 0.0;
  double damage_reward = 0.0;
  double kill_reward = 0.05, leak_penalty = -0.2, win_reward = 1.0, loss_penalty = -1.0;
  double timeout_penalty = -1.0;  // reaching max_ticks with enemies left is a failure too
};

class TowerDefense : public EnvBase<TowerDefense> {
 public:
  struct Unit {  // one per roster slot
    uint8_t deployed = 0, active = 0;
    int8_t facing = 0;
    int16_t tile = -1;
    int32_t hp = 0, atk_timer = 0, sp = 0, active_left = 0, cooldown = 0, blocked = 0;
  };
  struct Enemy {
    int8_t kind = 0, route = 0, alive = 0;
    int16_t blocker = -1;  // roster slot blocking it, or -1
    int32_t hp = 0, atk_timer = 0;
    double progress = 0;  // tiles walked along its route
  };

  explicit TowerDefense(const TowerDefenseConfig& config = {});

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return "TowerDefense-v0"; }
  std::string RenderText() const override;
  bool RenderRgb(Image* out) const override;
  bool has_action_mask() const override { return true; }
  void ActionMask(uint8_t* mask) const override;
  bool defines_success() const override { return true; }
  bool has_conditional_action_mask() const override { return !config_.flat_actions; }
  void ConditionalActionMask(const int64_t* prefix, int dim, uint8_t* mask) const override {
    ConditionalMask(prefix, dim, mask);
  }

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);

  // The legal values of dimension `dim` (0 type, 1 slot, 2 tile, 3 facing)
  // given the values already chosen for dimensions 0..dim-1 in `prefix`.
  // Dimensions a type ignores have only value 0 legal.
  void ConditionalMask(const int64_t* prefix, int dim, uint8_t* mask) const;
  // Why (type, slot, tile, facing) is illegal now, or "" when it is legal.
  std::string IllegalReason(int type, int slot, int tile, int facing) const;
  // The masks of both encodings, whichever this env uses (ActionMask picks one).
  void FlatActionMask(uint8_t* mask) const;   // [1211], exact
  void MultiActionMask(uint8_t* mask) const;  // [4 | 5 | 60 | 4], per-dimension unions

  // State access for tests, the heuristic and renderers.
  const td::Stage& stage() const { return stage_; }
  const std::array<Unit, td::kSlots>& units() const { return units_; }
  const std::vector<Enemy>& enemies() const { return enemies_; }
  int dp() const { return dp_; }
  int life() const { return life_; }
  int tick() const { return tick_; }
  int units_on_field() const;
  bool all_spawned() const { return next_spawn_ >= static_cast<int>(stage_.spawns.size()); }
  // The tile an enemy stands on.
  int EnemyTile(const Enemy& e) const;
  const TowerDefenseConfig& config() const { return config_; }

  template <class A>
  void Fields(A& ar) {
    ar(units_), ar(enemies_), ar(dp_), ar(dp_timer_), ar(life_), ar(tick_), ar(next_spawn_), ar(illegal_);
    ar(stage_.tiles), ar(stage_.life), ar(stage_.start_dp), ar(stage_.dp_interval), ar(stage_.unit_cap);
    ar(route_flat_), ar(route_sizes_), ar(stage_.spawns), ar(base_spawns_);
    if constexpr (std::is_same_v<A, StateReader>) SyncRoutes();
  }

 private:
  void Tick(StepResult* result);
  void Apply(int type, int slot, int tile, int facing);
  void WriteObs(void* obs) const;
  void Draw(Image* img, int tile_px, int strip_px) const;
  void Remove(int slot);  // retreat or fall: off the field, cooldown starts
  double Damage(int atk, bool arts, int def, int res) const;
  void Hit(Enemy* e, int dmg, StepResult* result) const;
  void SyncRoutes();
  void FlattenRoutes();
  bool TileFree(int tile) const;
  // Fast legality checks (the masks call them every step).
  bool SlotCanDeploy(int slot) const;
  bool TileFits(int slot, int tile) const;
  bool SkillReady(int slot) const;

  TowerDefenseConfig config_;
  Space obs_space_, act_space_;
  td::Stage stage_;
  std::vector<td::SpawnEvent> base_spawns_;  // the stage's time-line before each episode's jitter
  std::vector<int16_t> route_flat_;
  std::vector<int32_t> route_sizes_;
  std::array<Unit, td::kSlots> units_{};
  std::vector<Enemy> enemies_;
  int dp_ = 0, dp_timer_ = 0, life_ = 0, tick_ = 0, next_spawn_ = 0, illegal_ = 0;
  mutable std::vector<int> scratch_;
  mutable Image canvas_;
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_TOWER_DEFENSE_TOWER_DEFENSE_H_
