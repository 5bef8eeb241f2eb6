// TowerDefense-v0: hand-computed steps of the rules, masks against the rules,
// strict and lenient illegal actions, stages, and the baselines' win rates.
#include "rlforge/envs/tower_defense/tower_defense.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "rlforge/env/registry.h"
#include "rlforge/env/vector_env.h"
#include "rlforge/envs/tower_defense/heuristic.h"
#include "rlforge/env/evaluation.h"

namespace rlforge {
namespace {

using namespace td;

constexpr int Tile(int x, int y) { return y * kWidth + x; }

struct Game {
  explicit Game(TowerDefenseConfig c = {}, uint64_t seed = 0) : env(c), obs(env.observation_space().nbytes()) {
    Info info;
    env.Reset(seed, obs.data(), &info);
  }
  StepResult Do(int type, int slot = 0, int tile = 0, int facing = 0) {
    const int64_t a[4] = {type, slot, tile, facing};
    return env.Step(a, obs.data());
  }
  StepResult Wait() { return Do(kWait); }
  TowerDefense env;
  std::vector<uint8_t> obs;
};

TEST(TowerDefenseTest, DeploymentCostsRegenerationRetreatAndCooldown) {
  Game g;  // stage 1: start 12 DP, +1 every 10 ticks
  EXPECT_EQ(g.env.dp(), 12);
  g.Do(kDeploy, kGuard, Tile(5, 2), 2);  // guard costs 10
  EXPECT_EQ(g.env.dp(), 2);
  EXPECT_TRUE(g.env.units()[kGuard].deployed);
  EXPECT_EQ(g.env.units()[kGuard].hp, 1600);
  for (int k = 0; k < 8; ++k) g.Wait();
  EXPECT_EQ(g.env.dp(), 2);  // 9 ticks so far
  g.Wait();
  EXPECT_EQ(g.env.dp(), 3);  // the 10th tick
  // Retreat refunds half the cost; the cooldown (50) starts, and this step's tick already counts.
  g.Do(kRetreat, kGuard);
  EXPECT_EQ(g.env.dp(), 8);
  EXPECT_FALSE(g.env.units()[kGuard].deployed);
  EXPECT_EQ(g.env.units()[kGuard].cooldown, 49);
  EXPECT_NE(g.env.IllegalReason(kDeploy, kGuard, Tile(5, 2), 0).find("cooldown"), std::string::npos);
  EXPECT_NE(g.env.IllegalReason(kDeploy, kSniper, Tile(5, 2), 0).find("high ground"), std::string::npos);
  EXPECT_NE(g.env.IllegalReason(kDeploy, kDefender, Tile(5, 1), 0).find("only on ground"), std::string::npos);
  EXPECT_NE(g.env.IllegalReason(kDeploy, kCaster, Tile(5, 1), 0).find("costs 18 DP"), std::string::npos);
  EXPECT_NE(g.env.IllegalReason(kSkill, kGuard, 0, 0).find("not deployed"), std::string::npos);
  EXPECT_NE(g.env.IllegalReason(kDeploy, kSniper, Tile(5, 1), 0).find("costs 12 DP, only 8"), std::string::npos);
  for (int k = 0; k < 40; ++k) g.Wait();
  EXPECT_EQ(g.env.dp(), 12);
  EXPECT_EQ(g.env.IllegalReason(kDeploy, kSniper, Tile(5, 1), 0), "");
  g.Do(kDeploy, kSniper, Tile(5, 1), 0);
  EXPECT_NE(g.env.IllegalReason(kDeploy, kMedic, Tile(5, 1), 0).find("occupied"), std::string::npos);
}

// The text render draws spawns '+' and goals '@', so that 'S' and 'G' on the
// board are only the sniper and the guard (they once drew both).
TEST(TowerDefenseTest, TextRenderLettersAreUnambiguous) {
  Game g;
  auto board = [&] {
    std::istringstream lines(g.env.RenderText());
    std::string line, grid;
    std::getline(lines, line);  // status
    std::getline(lines, line);  // column numbers
    for (int y = 0; y < kHeight && std::getline(lines, line); ++y) grid += line.substr(3);
    return grid;
  };
  std::string grid = board();
  ASSERT_EQ(grid.size(), static_cast<size_t>(kWidth * kHeight));
  EXPECT_EQ(grid.find_first_of("SG"), std::string::npos) << grid;
  EXPECT_NE(grid.find('+'), std::string::npos);
  EXPECT_EQ(std::count(grid.begin(), grid.end(), '@'), 1);
  g.Do(kDeploy, kGuard, Tile(5, 2), 2);
  grid = board();
  EXPECT_EQ(grid.find('G'), static_cast<size_t>(Tile(5, 2)));
  EXPECT_EQ(std::count(grid.begin(), grid.end(), 'G'), 1);
  EXPECT_NE(g.env.RenderText().find("+ spawn  @ goal; units D G S C M; enemies s r h c\n"), std::string::npos)
      << g.env.RenderText();
}

TEST(TowerDefenseTest, SoldierWalksIsBlockedFightsAndDies) {
  Game g;
  const int guard_tile = Tile(3, 2);
  g.Do(kDeploy, kGuard, guard_tile, 2);  // facing west, towards the spawn
  while (g.env.enemies().empty()) g.Wait();
  // The spawn tick already moves it once: 0.05 tiles per tick.
  EXPECT_NEAR(g.env.enemies()[0].progress, 0.05, 1e-12);
  g.Wait();
  EXPECT_NEAR(g.env.enemies()[0].progress, 0.10, 1e-12);
  // The guard (own tile and one ahead, facing west) hits it for 480 - 100 =
  // 380 physical from tile 2 on; it is blocked on tile 3 once progress >= 2.5
  // and stops; 1200 hp takes four hits, the fourth pays the kill reward.
  double last_progress = g.env.enemies()[0].progress, blocked_at = -1;
  int last_hp = g.env.enemies()[0].hp, hits = 0;
  while (true) {
    const StepResult r = g.Wait();
    const auto& es = g.env.enemies();
    if (es.empty() || es[0].progress < last_progress - 1e-9) {  // the first soldier is gone
      ++hits;
      EXPECT_DOUBLE_EQ(r.reward, 0.05);
      break;
    }
    const auto& e = es[0];
    if (e.hp != last_hp) {
      EXPECT_EQ(last_hp - e.hp, 380);
      ++hits;
    }
    if (e.blocker >= 0) {
      if (blocked_at < 0) {
        blocked_at = e.progress;
        EXPECT_EQ(g.env.EnemyTile(e), guard_tile);
        EXPECT_GE(e.progress, 2.5);
        EXPECT_LT(e.progress, 2.55);
        EXPECT_EQ(g.env.units()[kGuard].blocked, 1);
      }
      EXPECT_EQ(e.progress, blocked_at);  // it does not move while blocked
    }
    // The soldier hits back for 350 - 150 = 200 (only while blocked).
    EXPECT_EQ((1600 - g.env.units()[kGuard].hp) % 200, 0);
    last_hp = e.hp;
    last_progress = e.progress;
  }
  EXPECT_GE(blocked_at, 2.5);
  EXPECT_EQ(hits, 4);
  EXPECT_EQ(g.env.units()[kGuard].blocked, 0);
}

TEST(TowerDefenseTest, DamageRewardPaysForHitPointsRemoved) {
  // The scenario above with damage_reward 0.1 and no kill reward: each hit of
  // 380 on the 1200-hp soldier pays 0.1 * 380 / 1200; the fourth removes only
  // the 60 hp left, so the soldier's whole worth is exactly 0.1.
  TowerDefenseConfig c;
  c.damage_reward = 0.1;
  c.kill_reward = 0.0;
  Game g(c);
  g.Do(kDeploy, kGuard, Tile(3, 2), 2);
  while (g.env.enemies().empty()) g.Wait();
  std::vector<double> paid;
  double last_progress = g.env.enemies()[0].progress;
  while (true) {
    const StepResult r = g.Wait();
    if (r.reward != 0) paid.push_back(r.reward);
    const auto& es = g.env.enemies();
    if (es.empty() || es[0].progress < last_progress - 1e-9) break;
    last_progress = es[0].progress;
  }
  ASSERT_EQ(paid.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(paid[i], 0.1 * 380 / 1200, 1e-12);
  EXPECT_NEAR(paid[3], 0.1 * 60 / 1200, 1e-12);
}

TEST(TowerDefenseTest, LeaksCostLivesAndThreeLose) {
  Game g;
  double total = 0;
  StepResult r;
  int leaks = 0;
  while (true) {
    const int life = g.env.life();
    r = g.Wait();
    total += r.reward;
    if (g.env.life() < life) {
      ++leaks;
      if (leaks < 3) EXPECT_DOUBLE_EQ(r.reward, -0.2);
    }
    if (r.terminated) break;
  }
  EXPECT_EQ(leaks, 3);
  EXPECT_EQ(g.env.life(), 0);
  EXPECT_DOUBLE_EQ(r.reward, -0.2 - 1.0);  // the third leak and the loss
  EXPECT_EQ(r.info.Get("win").value(), 0);
  EXPECT_EQ(r.info.Get("is_success").value(), 0);
  EXPECT_NEAR(total, -1.6, 1e-12);
}

// Several enemies can reach the goal in one tick. Life stops at 0 (each leak
// still pays leak_penalty), so the observation's life / max life stays in the
// Box [0, 1] (it read -1/3 in a recorded dataset before).
TEST(TowerDefenseTest, ObservationsStayInTheirSpaceWhenEnemiesLeakTogether) {
  // Mostly waiting, a legal random action 30% of the time: units hold a few
  // enemies, then fall, and the enemies walk on together.
  // About 1 in 100 such games on stages 2 and 3 ends with two enemies leaking
  // in the last tick; the test asks that some did.
  int negative_life = 0, out_of_space = 0, double_leak_losses = 0;
  for (int stage = 2; stage <= 3; ++stage) {
    for (uint64_t seed = 0; seed < 300; ++seed) {
      TowerDefenseConfig c;
      c.stage = stage;
      TowerDefense env(c);
      std::vector<uint8_t> obs(env.observation_space().nbytes());
      Info info;
      env.Reset(seed, obs.data(), &info);
      Rng rng(seed);
      RandomPolicy random(env.action_space(), seed, true);
      random.set_conditional_mask([&](int, const int64_t* prefix, int dim, uint8_t* mask) {
        env.ConditionalMask(prefix, dim, mask);
      });
      std::vector<uint8_t> mask(env.action_space().mask_size());
      for (int t = 0; t < 10000; ++t) {
        int64_t a[4];
        env.ActionMask(mask.data());
        random.Act(obs.data(), mask.data(), 1, a);
        if (rng.Uniform() >= 0.3) a[0] = kWait;
        const StepResult r = env.Step(a, obs.data());
        negative_life += env.life() < 0;
        out_of_space += !env.observation_space().Contains(obs.data());
        if (r.terminated && r.info.Get("win").value() == 0 && r.reward < 2 * c.leak_penalty + c.loss_penalty + 1e-9)
          ++double_leak_losses;
        if (r.terminated || r.truncated) break;
      }
    }
  }
  EXPECT_GT(double_leak_losses, 0);
  EXPECT_EQ(negative_life, 0);
  EXPECT_EQ(out_of_space, 0);
}

TEST(TowerDefenseTest, DamageRules) {
  Game g;
  // Deploy a caster (arts, 520) and check one hit on a soldier (res 0) and the
  // 5% floor of physical damage against a heavy (def 450): guard 480 -> 30,
  // sniper 380 -> 19 (the floor, 5% of 380).
  const auto& kinds = EnemyKinds();
  EXPECT_EQ(kinds[kHeavy].def, 450);
  EXPECT_EQ(std::max(0.05 * 380, 380.0 - 450), 19.0);
  const auto& classes = UnitClasses();
  EXPECT_EQ(classes[kCaster].atk, 520);
  EXPECT_TRUE(classes[kCaster].arts);
  // A sniper facing east from (5,1) covers x 5..8 on rows 0..2.
  std::vector<int> range;
  RangeTiles(kSniper, Tile(5, 1), 0, &range);
  EXPECT_EQ(range.size(), 12u);
  EXPECT_NE(std::find(range.begin(), range.end(), Tile(8, 2)), range.end());
  EXPECT_EQ(std::find(range.begin(), range.end(), Tile(4, 2)), range.end());
  // Facing south from (5,1): ahead is +y, sideways x 4..6.
  RangeTiles(kSniper, Tile(5, 1), 1, &range);
  EXPECT_NE(std::find(range.begin(), range.end(), Tile(4, 4)), range.end());
  EXPECT_EQ(std::find(range.begin(), range.end(), Tile(5, 0)), range.end());
}

TEST(TowerDefenseTest, SkillChargesThenActs) {
  Game g;
  g.Do(kDeploy, kGuard, Tile(5, 2), 2);
  EXPECT_NE(g.env.IllegalReason(kSkill, kGuard, 0, 0).find("not charged"), std::string::npos);
  while (g.env.units()[kGuard].sp < 40) g.Wait();
  EXPECT_EQ(g.env.IllegalReason(kSkill, kGuard, 0, 0), "");
  g.Do(kSkill, kGuard);
  EXPECT_TRUE(g.env.units()[kGuard].active);
  EXPECT_EQ(g.env.units()[kGuard].sp, 0);
  for (int k = 0; k < 59; ++k) g.Wait();
  EXPECT_FALSE(g.env.units()[kGuard].active);  // 60 ticks, counting the firing step
}

TEST(TowerDefenseTest, StrictRaisesAndLenientActsAsAPenalizedWait) {
  TowerDefenseConfig strict;
  strict.strict = true;
  Game s(strict);
  try {
    s.Do(kDeploy, kSniper, Tile(5, 2), 0);
    FAIL() << "accepted a sniper on ground";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("only on high ground"), std::string::npos) << e.what();
  }
  TowerDefenseConfig lenient;
  lenient.illegal_penalty = -0.01;
  Game l(lenient);
  const int dp = l.env.dp();
  auto r = l.Do(kDeploy, kSniper, Tile(5, 2), 0);
  EXPECT_DOUBLE_EQ(r.reward, -0.01);
  EXPECT_EQ(r.info.Get("illegal_actions").value(), 1);
  EXPECT_EQ(l.env.dp(), dp);  // nothing deployed, nothing spent
  r = l.Do(kSkill, kMedic);
  EXPECT_EQ(r.info.Get("illegal_actions").value(), 2);
  // Out-of-space values are rejected by the space check in both modes.
  const int64_t bad[4] = {4, 0, 0, 0};
  EXPECT_THROW(l.env.Step(bad, l.obs.data()), InvalidArgument);
}

// Plays a mixed policy and checks, at every step, the three masks against
// IllegalReason: the flat mask exactly, the per-dimension masks as unions,
// and the conditional masks as the exact legal sets given the prefix.
TEST(TowerDefenseTest, MasksAgreeWithTheRules) {
  TowerDefenseConfig flat_config;
  flat_config.flat_actions = true;
  for (int stage : {1, 3, 4}) {
    TowerDefenseConfig c;
    c.stage = stage;
    flat_config.stage = stage;
    Game g(c, stage), f(flat_config, stage);  // f: a flat-action twin for random legal moves
    TowerDefenseHeuristic heuristic(g.env.observation_space(), g.env.action_space());
    Rng rng(stage);
    std::vector<uint8_t> mask(kTypes + kSlots + kTiles + kFacings), flat(kFlatActions), cond(kTiles);
    for (int step = 0; step < 400; ++step) {
      g.env.ActionMask(mask.data());
      g.env.FlatActionMask(flat.data());
      std::vector<uint8_t> union_mask(mask.size(), 0);
      union_mask[0] = union_mask[kTypes] = union_mask[kTypes + kSlots] = union_mask[kTypes + kSlots + kTiles] = 1;
      for (int a = 0; a < kFlatActions; ++a) {
        const auto [type, slot, tile, facing] = DecodeFlatAction(a);
        if (type != kWait) ASSERT_EQ(EncodeFlatAction(type, slot, tile, facing), a);
        const bool legal = g.env.IllegalReason(type, slot, tile, facing).empty();
        ASSERT_EQ(flat[a], legal) << "stage " << stage << " step " << step << " action " << a;
        if (legal) {
          union_mask[type] = union_mask[kTypes + slot] = 1;
          if (type == kDeploy) union_mask[kTypes + kSlots + tile] = union_mask[kTypes + kSlots + kTiles + facing] = 1;
        }
      }
      ASSERT_EQ(mask, union_mask) << "stage " << stage << " step " << step;
      // Conditional: every value allowed given its prefix is legal, and every
      // legal joint action is reachable.
      int64_t prefix[4] = {0, 0, 0, 0};
      for (int type = 0; type < kTypes; ++type) {
        g.env.ConditionalMask(prefix, 0, cond.data());
        ASSERT_EQ(cond[type], mask[type]);
        if (!cond[type]) continue;
        prefix[0] = type;
        g.env.ConditionalMask(prefix, 1, cond.data());
        for (int slot = 0; slot < kSlots; ++slot) {
          const bool any = type == kWait ? slot == 0
                                         : type == kDeploy ? [&] {
                                             for (int t = 0; t < kTiles; ++t)
                                               if (g.env.IllegalReason(kDeploy, slot, t, 0).empty()) return true;
                                             return false;
                                           }()
                                                           : g.env.IllegalReason(type, slot, 0, 0).empty();
          ASSERT_EQ(cond[slot], any) << "type " << type << " slot " << slot;
        }
        if (type == kDeploy) {
          for (int slot = 0; slot < kSlots; ++slot) {
            prefix[1] = slot;
            g.env.ConditionalMask(prefix, 2, cond.data());
            for (int t = 0; t < kTiles; ++t) ASSERT_EQ(cond[t], g.env.IllegalReason(kDeploy, slot, t, 0).empty());
          }
        }
      }
      // Act: the heuristic most of the time, a random legal flat action otherwise.
      std::vector<float> o(kObsSize);
      std::memcpy(o.data(), g.obs.data(), g.obs.size());
      int64_t a[4];
      heuristic.Act(o.data(), nullptr, 1, a);
      if (rng.Uniform() < 0.3) {  // a random legal action, decoded from the flat mask
        int64_t pick;
        f.env.action_space().Sample(rng, &pick, flat.data());
        const auto d = DecodeFlatAction(pick);
        for (int j = 0; j < 4; ++j) a[j] = d[j];
        ASSERT_EQ(g.env.IllegalReason(a[0], a[1], a[2], a[3]), "");
      }
      if (g.env.Step(a, g.obs.data()).done()) break;
    }
  }
}

TEST(TowerDefenseTest, ProceduralStagesComeFromTheSeed) {
  const Stage a = ProceduralStage(7, 0.5), b = ProceduralStage(7, 0.5), c = ProceduralStage(8, 0.5);
  EXPECT_EQ(a.tiles, b.tiles);
  EXPECT_EQ(a.routes, b.routes);
  EXPECT_NE(a.tiles, c.tiles);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const Stage s = ProceduralStage(seed, seed / 49.0);
    ASSERT_EQ(s.routes.size(), 1u);
    const auto& r = s.routes[0];
    EXPECT_EQ(s.tiles[r.front()], kSpawn);
    EXPECT_EQ(s.tiles[r.back()], kGoal);
    for (size_t k = 1; k < r.size(); ++k) {
      const int dx = std::abs(r[k] % kWidth - r[k - 1] % kWidth), dy = std::abs(r[k] / kWidth - r[k - 1] / kWidth);
      ASSERT_EQ(dx + dy, 1) << "seed " << seed;  // 4-connected
    }
    int high = 0;
    for (auto t : s.tiles) high += t == kHigh;
    EXPECT_GE(high, 3);
    EXPECT_FALSE(s.spawns.empty());
  }
  // stage 0 draws a new map per reset seed; procedural_seed fixes it.
  TowerDefenseConfig c0;
  c0.stage = 0;
  Game g1(c0, 1), g2(c0, 2), g1b(c0, 1);
  EXPECT_NE(g1.env.stage().tiles, g2.env.stage().tiles);
  EXPECT_EQ(g1.env.stage().tiles, g1b.env.stage().tiles);
  c0.procedural_seed = 5;
  Game f1(c0, 1), f2(c0, 2);
  EXPECT_EQ(f1.env.stage().tiles, f2.env.stage().tiles);
}

TEST(TowerDefenseTest, PixelObservationsDrawTheBoard) {
  TowerDefenseConfig c;
  c.pixels = true;
  Game g(c);
  ASSERT_EQ(g.env.observation_space().shape(), (std::vector<int64_t>{kPixelHeight, kPixelWidth, 3}));
  auto pixel = [&](int x, int y) {
    const uint8_t* p = g.obs.data() + (y * kPixelWidth + x) * 3;
    return std::array<uint8_t, 3>{p[0], p[1], p[2]};
  };
  const auto ground = pixel(5 * kPixelTile + 4, 2 * kPixelTile + 4), high = pixel(5 * kPixelTile + 4, 1 * kPixelTile + 4);
  EXPECT_NE(ground, high);
  g.Do(kDeploy, kGuard, Tile(5, 2), 2);
  EXPECT_NE(pixel(5 * kPixelTile + 4, 2 * kPixelTile + 4), ground);  // the unit is drawn
}

// Win rates over 100 episodes (deterministic game, jittered spawns): the
// heuristic's, and random play's (uniform over the whole action space, as
// Gymnasium's sample(); illegal picks act as waits).
double WinRate(int stage, Policy& policy, int episodes) {
  VectorEnvOptions opt;
  opt.num_envs = 8;
  auto envs = VectorEnv::Make("TowerDefense-v0", {{"stage", std::to_string(stage)}}, opt);
  const EpisodeStats s = Evaluate(*envs, policy, episodes, 0);
  return s.success_rate.value();
}

TEST(TowerDefenseTest, HeuristicAndRandomWinRates) {
  auto env = Make("TowerDefense-v0");
  TowerDefenseHeuristic heuristic(env->observation_space(), env->action_space());
  RandomPolicy random(env->action_space(), 0), masked_random(env->action_space(), 1, /*use_masks=*/true);
  const double expected[5] = {0, 1.0, 1.0, 0.6, 0.25};
  for (int stage = 1; stage <= 4; ++stage) {
    const double h = WinRate(stage, heuristic, 100), r = WinRate(stage, random, 100),
                 m = WinRate(stage, masked_random, 100);
    std::printf("stage %d: heuristic %.2f, random %.2f, masked random %.2f\n", stage, h, r, m);
    EXPECT_NEAR(h, expected[stage], 0.15) << "stage " << stage;
    if (stage >= 2) {
      EXPECT_LT(r, 0.05) << "stage " << stage;
      EXPECT_LT(m, 0.05) << "stage " << stage;
    }
  }
}

// Procedural stages (a new map every episode): the heuristic, which reads the
// map from the observation, still wins most of them at medium difficulty;
// random play wins none.
TEST(TowerDefenseTest, HeuristicGeneralizesToProceduralStages) {
  VectorEnvOptions opt;
  opt.num_envs = 8;
  auto envs = VectorEnv::Make("TowerDefense-v0", {{"stage", "0"}, {"procedural_difficulty", "0.5"}}, opt);
  TowerDefenseHeuristic heuristic(envs->single_observation_space(), envs->single_action_space());
  RandomPolicy random(envs->single_action_space(), 0);
  const double h = Evaluate(*envs, heuristic, 200, 0).success_rate.value();
  const double r = Evaluate(*envs, random, 200, 0).success_rate.value();
  std::printf("procedural stages: heuristic %.3f, random %.3f\n", h, r);
  EXPECT_GE(h, 0.5);
  EXPECT_LT(r, 0.05);
}

// The procedural keys shape stage 0 only: on a hand-made stage they would be
// ignored, so they are refused with the key named.
TEST(TowerDefenseTest, ProceduralKeysOnAHandMadeStageAreRefused) {
  for (const char* key : {"procedural_seed", "procedural_difficulty"}) {
    try {
      Make("TowerDefense-v0", {{"stage", "2"}, {key, "1"}});
      ADD_FAILURE() << key << " on stage 2 was accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("stage 0"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(Make("TowerDefense-v0", {{"stage", "0"}, {key, "1"}}));
  }
  EXPECT_NO_THROW(Make("TowerDefense-v0", {{"stage", "3"}}));
}

TEST(TowerDefenseTest, TruncatedAtMaxTicksEvenMidStep) {
  // 4 ticks a step, 10 at most: the third step runs 2 ticks (it ran 4, ending at tick 12).
  TowerDefenseConfig c;
  c.max_ticks = 10;
  c.ticks_per_step = 4;
  Game g(c);
  EXPECT_FALSE(g.Wait().truncated);
  EXPECT_FALSE(g.Wait().truncated);
  const StepResult r = g.Wait();
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.terminated);
  EXPECT_EQ(g.env.tick(), 10);
  // A step longer than the whole limit stops at it too.
  c.max_ticks = 3;
  c.ticks_per_step = 100;
  Game h(c);
  EXPECT_TRUE(h.Wait().truncated);
  EXPECT_EQ(h.env.tick(), 3);
}

}  // namespace
}  // namespace rlforge
