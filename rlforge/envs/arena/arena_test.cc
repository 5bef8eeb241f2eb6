#include "rlforge/envs/arena/arena.h"

#include <gtest/gtest.h>

#include "rlforge/env/evaluation.h"
#include "rlforge/env/registry.h"
#include "rlforge/env/vector_env.h"
#include "rlforge/env/wrappers.h"

namespace rlforge {
namespace {

using Unit = ArenaGame::Unit;

// An open 9 x 9 grid, the given units, nobody near the objective.
ArenaGame Scenario(std::vector<Unit> team0, std::vector<Unit> team1, ArenaOptions o = {}) {
  o.team_size = static_cast<int>(team0.size());
  o.walls = 0;
  ArenaGame g(o);
  Rng rng(0);
  g.Reset(rng);
  g.SetUnits(0, std::move(team0));
  g.SetUnits(1, std::move(team1));
  return g;
}

TEST(ArenaTest, MovesResolveConflictsSwapsAndChains) {
  // Team 0 (a0, a1), team 1 (b0, b1); far apart unless placed.
  {
    // Same target: a0 right into (1, 2), b0 (team view: right = grid left) into (1, 2): both stay.
    ArenaGame g = Scenario({{1, 1, 3, 0}, {7, 0, 3, 0}}, {{1, 3, 3, 0}, {7, 8, 3, 0}});
    const int64_t a[2] = {ArenaGame::kRight, ArenaGame::kStay}, b[2] = {ArenaGame::kRight, ArenaGame::kStay};
    g.Step(a, b);
    EXPECT_EQ(g.units(0)[0].col, 1);
    EXPECT_EQ(g.units(1)[0].col, 3);
  }
  {
    // A swap (a0 right, b0 onto a0's cell) fails for both.
    ArenaGame g = Scenario({{1, 1, 3, 0}, {7, 0, 3, 0}}, {{1, 2, 3, 0}, {7, 8, 3, 0}});
    const int64_t a[2] = {ArenaGame::kRight, ArenaGame::kStay}, b[2] = {ArenaGame::kRight, ArenaGame::kStay};
    g.Step(a, b);
    EXPECT_EQ(g.units(0)[0].col, 1);
    EXPECT_EQ(g.units(1)[0].col, 2);
  }
  {
    // Following: a1 moves into the cell a0 leaves; both move.
    ArenaGame g = Scenario({{3, 2, 3, 0}, {3, 1, 3, 0}}, {{8, 8, 3, 0}, {7, 8, 3, 0}});
    const int64_t a[2] = {ArenaGame::kRight, ArenaGame::kRight}, b[2] = {0, 0};
    g.Step(a, b);
    EXPECT_EQ(g.units(0)[0].col, 3);
    EXPECT_EQ(g.units(0)[1].col, 2);
  }
  {
    // A chain: a0 is blocked by b0 standing still, so a1 behind it stays too.
    ArenaGame g = Scenario({{3, 2, 3, 0}, {3, 1, 3, 0}}, {{3, 3, 3, 0}, {7, 8, 3, 0}});
    const int64_t a[2] = {ArenaGame::kRight, ArenaGame::kRight}, b[2] = {0, 0};
    g.Step(a, b);
    EXPECT_EQ(g.units(0)[0].col, 2);
    EXPECT_EQ(g.units(0)[1].col, 1);
  }
}

TEST(ArenaTest, AttackBlastCooldownAndSimultaneousDamage) {
  // a0 at (4, 3) next to b0 (hp 3) and b1 (hp 2): attack takes the weaker.
  ArenaGame g = Scenario({{4, 3, 3, 0}, {0, 0, 3, 0}}, {{4, 4, 3, 0}, {5, 4, 2, 0}});
  std::vector<uint8_t> mask(2 * 7);
  g.Mask(0, mask.data());
  EXPECT_EQ(mask[ArenaGame::kAttack], 1);
  EXPECT_EQ(mask[7 + ArenaGame::kAttack], 0);  // a1 is far from everyone
  EXPECT_EQ(mask[7 + ArenaGame::kBlast], 0);
  const int64_t a[2] = {ArenaGame::kAttack, 0}, b[2] = {ArenaGame::kBlast, 0};
  const auto dealt = g.Step(a, b);
  EXPECT_EQ(dealt[0], 1);
  EXPECT_EQ(dealt[1], 1);  // b0's blast reaches a0 only (a1 is at distance 4)
  EXPECT_EQ(g.units(1)[1].hp, 1);
  EXPECT_EQ(g.units(1)[0].hp, 3);
  EXPECT_EQ(g.units(0)[0].hp, 2);
  EXPECT_EQ(g.units(1)[0].cooldown, 5);  // skill_cooldown steps before the next blast
  g.Mask(1, mask.data());
  EXPECT_EQ(mask[ArenaGame::kBlast], 0);
  // Four more steps of standing still: cooldown 1; the fifth frees the blast.
  const int64_t stay[2] = {0, 0};
  for (int t = 0; t < 4; ++t) g.Step(stay, stay);
  EXPECT_EQ(g.units(1)[0].cooldown, 1);
  g.Step(stay, stay);
  g.Mask(1, mask.data());
  EXPECT_EQ(mask[ArenaGame::kBlast], 1);
  // Two 1-hp units hitting each other both fall: with nobody left, a draw.
  ArenaOptions one;
  ArenaGame d = Scenario({{4, 4, 1, 0}}, {{4, 5, 1, 0}}, one);
  const int64_t hit[1] = {ArenaGame::kAttack};
  d.Step(hit, hit);
  EXPECT_TRUE(d.over());
  EXPECT_EQ(d.winner(), ArenaGame::kDraw);
}

TEST(ArenaTest, FogHidesEnemiesBeyondVision) {
  ArenaOptions o;  // vision 3
  ArenaGame g = Scenario({{4, 0, 3, 0}, {8, 0, 3, 0}}, {{4, 3, 2, 0}, {4, 4, 3, 0}}, o);
  std::vector<float> obs(o.obs_size());
  g.Observe(0, obs.data());
  const int P = 81, enemy_plane = (3 + 2) * P;
  EXPECT_FLOAT_EQ(obs[enemy_plane + 4 * 9 + 3], 2.0f / 3.0f);  // distance 3: seen
  EXPECT_FLOAT_EQ(obs[enemy_plane + 4 * 9 + 4], 0.0f);         // distance 4: hidden
  EXPECT_FLOAT_EQ(obs[2 * P + 4 * 9 + 3], 1.0f);               // visible-cells plane
  EXPECT_FLOAT_EQ(obs[2 * P + 4 * 9 + 4], 0.0f);
  EXPECT_FLOAT_EQ(obs[3 * P + 4 * 9 + 0], 1.0f);               // own unit 0, full hp
  // Team 1 sees mirrored: its unit at grid column 3 is at view column 5.
  g.Observe(1, obs.data());
  EXPECT_FLOAT_EQ(obs[3 * P + 4 * 9 + 5], 2.0f / 3.0f);
  EXPECT_FLOAT_EQ(obs[enemy_plane + 4 * 9 + 8], 1.0f);  // a0 at grid column 0, distance 3 from b0
}

TEST(ArenaTest, TheStartIsSymmetricForBothTeams) {
  ArenaOptions o;
  o.team_size = 3;
  ArenaGame g(o);
  Rng rng(11);
  for (int game = 0; game < 20; ++game) {
    g.Reset(rng);
    std::vector<float> a(o.obs_size()), b(o.obs_size());
    g.Observe(0, a.data());
    g.Observe(1, b.data());
    EXPECT_EQ(a, b) << "game " << game;
    std::vector<uint8_t> ma(3 * 7), mb(3 * 7);
    g.Mask(0, ma.data());
    g.Mask(1, mb.data());
    EXPECT_EQ(ma, mb);
  }
}

TEST(ArenaTest, HoldingTheObjectiveWinsAndTimeDraws) {
  ArenaOptions o;
  o.hold_steps = 3;
  ArenaGame g = Scenario({{4, 4, 3, 0}}, {{0, 8, 3, 0}}, o);
  const int64_t stay[1] = {0};
  g.Step(stay, stay);
  g.Step(stay, stay);
  EXPECT_FALSE(g.over());
  EXPECT_EQ(g.hold(0), 2);
  g.Step(stay, stay);
  EXPECT_TRUE(g.over());
  EXPECT_EQ(g.winner(), 0);
  o.max_steps = 5;
  ArenaGame t = Scenario({{0, 0, 3, 0}}, {{8, 8, 3, 0}}, o);
  for (int s = 0; s < 5; ++s) t.Step(stay, stay);
  EXPECT_TRUE(t.over());
  EXPECT_EQ(t.winner(), ArenaGame::kDraw);
}

// hold_shaping adds, per step, its value times (1 if team 0 holds the
// objective after the step - 1 if team 1 does) to the plain reward.
TEST(ArenaTest, HoldShapingRewardsHoldingTheObjective) {
  ArenaOptions o;
  o.opponent = "greedy";
  Arena plain(o);
  o.hold_shaping = 0.25;
  Arena shaped(o);
  std::vector<float> a(o.obs_size()), b(o.obs_size());
  std::vector<uint8_t> mask(14);
  std::vector<int64_t> act(2);
  ArenaBot tactic(o, ArenaBot::Kind::kTactic, 1);
  Info info;
  int held = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    plain.Reset(seed, a.data(), &info);
    shaped.Reset(seed, b.data(), &info);
    for (bool done = false; !done;) {
      plain.ActionMask(mask.data());
      tactic.Act(a.data(), mask.data(), 1, act.data());
      const StepResult r = plain.Step(act.data(), a.data()), s = shaped.Step(act.data(), b.data());
      const int h = (shaped.game().hold(0) > 0 ? 1 : 0) - (shaped.game().hold(1) > 0 ? 1 : 0);
      held += h != 0;
      EXPECT_DOUBLE_EQ(s.reward, r.reward + 0.25 * h);
      done = r.terminated || r.truncated;
    }
  }
  EXPECT_GE(held, 5);  // the objective was held on some steps (6 in these games)
  EXPECT_THROW(Make("Arena-v0", Kwargs({{"hold_shaping", "nan"}})), InvalidArgument);
}

TEST(ArenaTest, IllegalActionsStayOrThrow) {
  auto env = Make("Arena-v0", Kwargs({{"team_size", "1"}}));
  std::vector<float> obs(env->observation_space().size());
  Info info;
  env->Reset(0, obs.data(), &info);
  const int64_t left[1] = {ArenaGame::kLeft};  // off the grid from column 0
  StepResult r = env->Step(left, obs.data());
  EXPECT_EQ(r.info.Get("illegal_unit_actions").value_or(0), 1);
  EXPECT_FALSE(r.info.Has("illegal_actions"));  // an episode's total, where an env gives one (eval sums those)
  auto strict = Make("Arena-v0", Kwargs({{"team_size", "1"}, {"strict", "true"}}));
  strict->Reset(0, obs.data(), &info);
  EXPECT_THROW(strict->Step(left, obs.data()), InvalidArgument);
  EXPECT_THROW(Make("Arena-v0", Kwargs({{"opponent", "clever"}})), InvalidArgument);
  // The bots' strength names work as the kwarg too, as they do for --opponent bot:NAME.
  for (const char* strength : {"weak", "medium", "strong"}) EXPECT_NO_THROW(Make("Arena-v0", Kwargs({{"opponent", strength}})));
  EXPECT_THROW(Make("Arena-v0", Kwargs({{"team_size", "4"}})), InvalidArgument);
  EXPECT_THROW(Make("Arena-v0", Kwargs({{"width", "8"}})), InvalidArgument);
}

// opponent=external: team 1 is agent 1 of the multi-agent API. Driving it
// with the greedy bot through the API replays exactly the games of the
// env whose built-in opponent is that bot; rewards are zero-sum.
TEST(ArenaTest, ExternalOpponentThroughTheMultiAgentApi) {
  auto builtin = Make("Arena-v0", Kwargs({{"opponent", "greedy"}, {"strict", "true"}}));
  auto external = Make("Arena-v0", Kwargs({{"opponent", "external"}, {"strict", "true"}}));
  EXPECT_EQ(builtin->num_agents(), 1);
  EXPECT_EQ(external->num_agents(), 2);
  const ArenaOptions o;
  const int n = o.obs_size();
  std::vector<float> a(n), b(n), opp(n);
  std::vector<uint8_t> mask(14), opp_mask(14);
  std::vector<int64_t> act(2), opp_act(2);
  Info info;
  ArenaBot tactic(o, ArenaBot::Kind::kTactic, 1);
  Rng unused(0);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    builtin->Reset(seed, a.data(), &info);
    external->Reset(seed, b.data(), &info);
    EXPECT_THROW(external->Step(act.data(), b.data()), InvalidArgument);  // agent 1's action missing
    for (bool done = false; !done;) {
      ASSERT_EQ(a, b);
      builtin->ActionMask(mask.data());
      tactic.Act(a.data(), mask.data(), 1, act.data());
      external->AgentObservation(1, opp.data());
      external->AgentActionMask(1, opp_mask.data());
      ArenaBot::Decide(o, ArenaBot::Kind::kGreedy, opp.data(), opp_mask.data(), unused, opp_act.data());
      external->SetAgentAction(1, opp_act.data());
      const StepResult r = builtin->Step(act.data(), a.data()), s = external->Step(act.data(), b.data());
      EXPECT_EQ(r.reward, s.reward);
      EXPECT_EQ(external->AgentReward(0), s.reward);
      EXPECT_EQ(external->AgentReward(1), -s.reward);
      ASSERT_EQ(r.terminated, s.terminated);
      done = r.terminated;
    }
  }
  EXPECT_THROW(builtin->SetAgentAction(1, act.data()), InvalidArgument);
  EXPECT_THROW(builtin->AgentObservation(1, opp.data()), InvalidArgument);
}

// Agent 1's reward is zero-sum with agent 0's at every step, the reset steps
// of next-step autoreset included (0 for both, not the last episode's again).
TEST(ArenaTest, VectorEnvServesEveryAgent) {
 for (AutoresetMode mode : {AutoresetMode::kSameStep, AutoresetMode::kNextStep}) {
  VectorEnvOptions opt;
  opt.num_envs = 3;
  opt.autoreset = mode;
  VectorEnv envs([] { return Make("Arena-v0", Kwargs({{"opponent", "external"}, {"team_size", "1"}})); }, opt);
  ASSERT_EQ(envs.num_agents(), 2);
  envs.Reset(4);
  const ArenaOptions o = [] { ArenaOptions x; x.team_size = 1; return x; }();
  std::vector<float> opp(3 * o.obs_size()), rewards(3);
  std::vector<uint8_t> masks(3 * 7);
  std::vector<int64_t> mine(3), theirs(3);
  Rng rng(2);
  int ended = 0;
  for (int t = 0; t < 300; ++t) {
    envs.AgentObservations(1, opp.data());
    envs.AgentActionMasks(1, masks.data());
    for (int i = 0; i < 3; ++i) {
      ArenaBot::Decide(o, ArenaBot::Kind::kGreedy, opp.data() + i * o.obs_size(), masks.data() + i * 7, rng,
                       &theirs[i]);
      const float* own = static_cast<const float*>(envs.observations()) + i * o.obs_size();
      ArenaBot::Decide(o, ArenaBot::Kind::kRandom, own, envs.action_masks() + i * 7, rng, &mine[i]);
    }
    envs.SetAgentActions(1, theirs.data());
    envs.Step(mine.data());
    envs.AgentRewards(1, rewards.data());
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(rewards[i], -envs.rewards()[i]) << AutoresetModeName(mode) << " step " << t;
      ended += envs.terminated()[i];
    }
  }
  EXPECT_GT(ended, 5);
 }
}

// Wrappers that change agent 0's actions or rewards refuse the other agents'.
TEST(ArenaTest, RewardAndActionWrappersRefuseOtherAgents) {
  auto make = [] { return Make("Arena-v0", Kwargs({{"opponent", "external"}})); };
  NormalizeReward normalized(make());
  EXPECT_EQ(normalized.num_agents(), 2);
  EXPECT_THROW(normalized.AgentReward(1), InvalidArgument);
  TransformReward scaled(make(), [](double r) { return 2 * r; });
  EXPECT_THROW(scaled.AgentReward(1), InvalidArgument);
  TimeLimit limited(make(), 10);  // changes neither: forwards
  EXPECT_EQ(limited.AgentReward(1), 0.0);
}

// Blast and attack are legal only against enemies the team sees: with
// vision 1 an enemy at distance 2 stays hidden, from the mask too.
TEST(ArenaTest, MasksRevealNoHiddenEnemy) {
  ArenaOptions o;
  o.vision = 1;
  ArenaGame g = Scenario({{4, 2, 3, 0}}, {{4, 4, 3, 0}}, o);
  std::vector<uint8_t> mask(7);
  g.Mask(0, mask.data());
  EXPECT_EQ(mask[ArenaGame::kBlast], 0);
  o.vision = 2;
  ArenaGame seen = Scenario({{4, 2, 3, 0}}, {{4, 4, 3, 0}}, o);
  seen.Mask(0, mask.data());
  EXPECT_EQ(mask[ArenaGame::kBlast], 1);
}

// The most walls a grid takes: every open cell reachable from the objective
// (cut-off pockets are walled in), and a 31 x 31 grid resets at once.
TEST(ArenaTest, WallsKeepTheGridConnected) {
  for (int size : {9, 31}) {
    ArenaOptions o;
    o.width = o.height = size;
    o.walls = MaxWalls(o);
    o.team_size = 3;
    ArenaGame g(o);
    Rng rng(3);
    for (int game = 0; game < 20; ++game) {
      g.Reset(rng);
      std::vector<int> seen(size * size, 0), stack = {size / 2 * size + size / 2};
      seen[stack[0]] = 1;
      int open = 0, reached = 1;
      for (int r = 0; r < size; ++r)
        for (int c = 0; c < size; ++c) open += !g.wall(r, c);
      while (!stack.empty()) {
        const int cell = stack.back();
        stack.pop_back();
        const int dr[4] = {-1, 1, 0, 0}, dc[4] = {0, 0, -1, 1};
        for (int d = 0; d < 4; ++d) {
          const int r = cell / size + dr[d], c = cell % size + dc[d];
          if (r < 0 || r >= size || c < 0 || c >= size || g.wall(r, c) || seen[r * size + c]) continue;
          seen[r * size + c] = 1, ++reached;
          stack.push_back(r * size + c);
        }
      }
      EXPECT_EQ(reached, open) << size << " game " << game;
      for (const Unit& u : g.units(0)) EXPECT_FALSE(g.wall(u.row, u.col));
    }
  }
  EXPECT_THROW(Make("Arena-v0", Kwargs({{"walls", "8"}})), InvalidArgument);  // 9 x 9 takes 7
}

// A state saved between SetAgentAction and Step restores that action.
TEST(ArenaTest, SavedStateKeepsAgentOnesPendingAction) {
  auto env = Make("Arena-v0", Kwargs({{"opponent", "external"}}));
  std::vector<float> obs(env->observation_space().size()), o2(obs.size());
  Info info;
  env->Reset(5, obs.data(), &info);
  const int64_t right[2] = {ArenaGame::kRight, ArenaGame::kRight};
  env->SetAgentAction(1, right);
  std::string state;
  env->SaveState(&state);
  auto copy = Make("Arena-v0", Kwargs({{"opponent", "external"}}));
  copy->LoadState(state);
  const StepResult a = env->Step(right, obs.data()), b = copy->Step(right, o2.data());
  EXPECT_EQ(obs, o2);
  EXPECT_EQ(a.reward, b.reward);
}

// The bots' strengths, 300 games each as team 0 (deterministic seeds):
// measured greedy vs random 94.0% wins, tactic vs random 97.0%, tactic vs
// greedy 57.3% wins with 2.7% losses (the rest draws).
TEST(ArenaTest, BotStrengthsAreOrdered) {
  auto play = [](const std::string& me, const std::string& them) {
    VectorEnvOptions opt;
    opt.num_envs = 4;
    VectorEnv envs([them] { return Make("Arena-v0", Kwargs({{"opponent", them}, {"strict", "true"}})); }, opt);
    auto policy = Registry::Global().MakeScriptedPolicy(me, "Arena-v0", envs.env(0), 5);
    return Evaluate(envs, *policy, 300, 1);
  };
  const EpisodeStats gr = play("greedy", "random"), tr = play("tactic", "random"), tg = play("tactic", "greedy");
  EXPECT_GE(*gr.success_rate, 0.85);
  EXPECT_GE(*tr.success_rate, 0.85);
  EXPECT_GE(*tg.success_rate, 0.35);
  EXPECT_GE(tg.mean_return, 0.25);  // wins minus losses
  std::printf("Arena-v0 2v2, 300 games: greedy vs random %.3f, tactic vs random %.3f, tactic vs greedy %.3f "
              "(return %.3f)\n", *gr.success_rate, *tr.success_rate, *tg.success_rate, tg.mean_return);
}

}  // namespace
}  // namespace rlforge
