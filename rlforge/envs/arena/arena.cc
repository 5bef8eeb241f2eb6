#include "rlforge/envs/arena/arena.h"

#include <algorithm>
#include <cmath>
#include <queue>

#include "rlforge/env/registry.h"

namespace rlforge {

namespace {

constexpr int kDRow[5] = {0, -1, 0, 1, 0};  // stay, up, right, down, left
constexpr int kDCol[5] = {0, 0, 1, 0, -1};
constexpr int kA = ArenaGame::kNumActions;

}  // namespace

ArenaGame::ArenaGame(const ArenaOptions& o) : o_(o) {
  RLF_CHECK_ARG(o.team_size >= 1 && o.team_size <= 3, "Arena-v0: kwarg 'team_size' must be 1..3, got ", o.team_size);
  RLF_CHECK_ARG(o.width >= 5 && o.width <= 31 && o.width % 2 == 1 && o.height >= 5 && o.height <= 31 &&
                    o.height % 2 == 1,
                "Arena-v0: kwargs 'width' and 'height' must be odd, in 5..31, got ", o.width, " x ", o.height);
  RLF_CHECK_ARG(o.vision >= 1, "Arena-v0: kwarg 'vision' must be >= 1, got ", o.vision);
  RLF_CHECK_ARG(o.max_hp >= 1 && o.skill_cooldown >= 1 && o.hold_steps >= 1 && o.max_steps >= 1,
                "Arena-v0: kwargs 'max_hp', 'skill_cooldown', 'hold_steps' and 'max_steps' must be >= 1");
  RLF_CHECK_ARG(o.walls >= 0 && o.walls <= MaxWalls(o), "Arena-v0: kwarg 'walls' must be in 0..", MaxWalls(o),
                " for a ", o.width, " x ", o.height, " grid, got ", o.walls);
  walls_.assign(static_cast<size_t>(o.width * o.height), 0);
}

void ArenaGame::Reset(Rng& rng) {
  const int W = o_.width, H = o_.height, k = o_.team_size;
  const int cr = H / 2, cc = W / 2;
  // Mirrored wall pairs off the edge columns and the objective. Open cells
  // the objective cannot reach become walls too (the layout stays mirrored:
  // the objective is on the axis); a draw that cuts off a start cell is
  // redrawn. With at most MaxWalls pairs (an eighth of the inner cells) a
  // start cell is cut off rarely; the bound on redraws only guards the loop.
  const int start_top = cr - (k - 1), start_bottom = cr + (k - 1);
  for (int attempt = 0;; ++attempt) {
    RLF_CHECK(attempt < 10000, "Arena-v0: no wall layout with ", o_.walls, " pairs keeps the starts connected");
    std::fill(walls_.begin(), walls_.end(), 0);
    for (int placed = 0; placed < o_.walls;) {
      const int r = static_cast<int>(rng.UniformInt(H)), c = 1 + static_cast<int>(rng.UniformInt((W - 1) / 2));
      if ((r == cr && c == cc) || walls_[r * W + c]) continue;
      walls_[r * W + c] = walls_[r * W + (W - 1 - c)] = 1;
      ++placed;
    }
    std::vector<uint8_t> seen(walls_.size(), 0);
    std::queue<int> q;
    q.push(cr * W + cc);
    seen[cr * W + cc] = 1;
    while (!q.empty()) {
      const int cell = q.front();
      q.pop();
      for (int d = 1; d <= 4; ++d) {
        const int r = cell / W + kDRow[d], c = cell % W + kDCol[d];
        if (r < 0 || r >= H || c < 0 || c >= W || walls_[r * W + c] || seen[r * W + c]) continue;
        seen[r * W + c] = 1;
        q.push(r * W + c);
      }
    }
    bool starts = true;
    for (int r = start_top; r <= start_bottom; r += 2) starts = starts && seen[r * W] && seen[r * W + W - 1];
    if (!starts) continue;
    for (size_t cell = 0; cell < walls_.size(); ++cell)
      if (!seen[cell]) walls_[cell] = 1;
    break;
  }
  for (int team = 0; team < 2; ++team) {
    units_[team].assign(k, Unit{});
    for (int j = 0; j < k; ++j) {
      Unit& u = units_[team][j];
      u.row = cr - (k - 1) + 2 * j;  // rows cr - 2, cr, cr + 2 for three units
      u.col = team == 0 ? 0 : W - 1;
      u.hp = o_.max_hp;
      u.cooldown = 0;
    }
  }
  hold_[0] = hold_[1] = 0;
  steps_ = 0;
  winner_ = kOngoing;
}

bool ArenaGame::Visible(int team, int row, int col) const {
  for (const Unit& u : units_[team])
    if (u.alive() && std::max(std::abs(u.row - row), std::abs(u.col - col)) <= o_.vision) return true;
  return false;
}

bool ArenaGame::Legal(int team, int slot, int64_t a) const {
  const Unit& u = units_[team][slot];
  if (a < 0 || a >= kA) return false;
  if (!u.alive()) return a == kStay;
  if (a == kStay) return true;
  const Unit* nearest = nullptr;
  int best = 1 << 30;
  // Only enemies the team sees count (the mask must not reveal the others).
  for (const Unit& e : units_[1 - team])
    if (e.alive() && Visible(team, e.row, e.col) && Distance(u, e) < best) best = Distance(u, e), nearest = &e;
  if (a == kAttack) return nearest && best <= 1;
  if (a == kBlast) return nearest && best <= 2 && u.cooldown == 0;
  // A move, in team view: team 1's right is the grid's left.
  int d = static_cast<int>(a);
  if (team == 1 && (d == kRight || d == kLeft)) d = d == kRight ? kLeft : kRight;
  const int r = u.row + kDRow[d], c = u.col + kDCol[d];
  return r >= 0 && r < o_.height && c >= 0 && c < o_.width && !wall(r, c);
}

void ArenaGame::Mask(int team, uint8_t* mask) const {
  for (int j = 0; j < o_.team_size; ++j)
    for (int a = 0; a < kA; ++a) mask[j * kA + a] = Legal(team, j, a) ? 1 : 0;
}

std::array<int, 2> ArenaGame::Step(const int64_t* team0, const int64_t* team1) {
  RLF_CHECK(!over(), "Arena: Step after the game ended");
  const int k = o_.team_size, W = o_.width;
  const int64_t* acts[2] = {team0, team1};
  for (int team = 0; team < 2; ++team)
    for (int j = 0; j < k; ++j)
      RLF_CHECK_ARG(Legal(team, j, acts[team][j]), "Arena-v0: illegal action ", acts[team][j], " for team ", team,
                    " unit ", j, " (see the action mask)");
  // Moves: target cells, then knock out conflicts until none is left.
  struct Mover {
    int team, slot, row, col;
    bool moving;
  };
  std::vector<Mover> m;
  for (int team = 0; team < 2; ++team)
    for (int j = 0; j < k; ++j) {
      const Unit& u = units_[team][j];
      if (!u.alive()) continue;
      int d = static_cast<int>(acts[team][j]);
      const bool moving = d >= kUp && d <= kLeft;
      if (!moving) d = kStay;
      if (team == 1 && (d == kRight || d == kLeft)) d = d == kRight ? kLeft : kRight;
      m.push_back({team, j, u.row + kDRow[d], u.col + kDCol[d], moving});
    }
  // Each pass judges every move against the same snapshot, then sends the
  // blocked movers back; until a pass blocks nobody.
  for (bool changed = true; changed;) {
    changed = false;
    std::vector<char> blocked(m.size(), 0);
    for (size_t x = 0; x < m.size(); ++x) {
      const Mover& a = m[x];
      if (!a.moving) continue;
      const Unit& ua = units_[a.team][a.slot];
      for (size_t y = 0; y < m.size(); ++y) {
        if (x == y) continue;
        const Mover& b = m[y];
        const Unit& ub = units_[b.team][b.slot];
        if (b.row == a.row && b.col == a.col) blocked[x] = 1;  // same target, or b stays there
        if (b.moving && b.row == ua.row && b.col == ua.col && ub.row == a.row && ub.col == a.col) blocked[x] = 1;  // swap
      }
    }
    for (size_t x = 0; x < m.size(); ++x)
      if (blocked[x]) {
        const Unit& u = units_[m[x].team][m[x].slot];
        m[x].row = u.row, m[x].col = u.col, m[x].moving = false;
        changed = true;
      }
  }
  for (const Mover& a : m) units_[a.team][a.slot].row = a.row, units_[a.team][a.slot].col = a.col;
  // Attacks and blasts, all at the new positions, then removal.
  std::array<std::vector<int>, 2> damage = {std::vector<int>(k, 0), std::vector<int>(k, 0)};
  std::array<int, 2> dealt = {0, 0};
  for (int team = 0; team < 2; ++team)
    for (int j = 0; j < k; ++j) {
      Unit& u = units_[team][j];
      if (!u.alive()) continue;
      const auto& enemies = units_[1 - team];
      if (acts[team][j] == kAttack) {
        int target = -1;
        for (int e = 0; e < k; ++e)
          if (enemies[e].alive() && Distance(u, enemies[e]) <= 1 && (target < 0 || enemies[e].hp < enemies[target].hp))
            target = e;
        if (target >= 0) ++damage[1 - team][target], ++dealt[team];
      } else if (acts[team][j] == kBlast) {
        for (int e = 0; e < k; ++e)
          if (enemies[e].alive() && Distance(u, enemies[e]) <= 2) ++damage[1 - team][e], ++dealt[team];
        u.cooldown = o_.skill_cooldown + 1;  // counted down below, this step included
      }
    }
  for (int team = 0; team < 2; ++team)
    for (int j = 0; j < k; ++j) {
      Unit& u = units_[team][j];
      u.hp = std::max(0, u.hp - damage[team][j]);
      if (u.cooldown > 0) --u.cooldown;
    }
  ++steps_;
  // The objective, then the end of the game.
  const int cr = o_.height / 2, cc = W / 2;
  bool on[2] = {false, false};
  for (int team = 0; team < 2; ++team)
    for (const Unit& u : units_[team]) on[team] = on[team] || (u.alive() && u.row == cr && u.col == cc);
  for (int team = 0; team < 2; ++team) hold_[team] = on[team] && !on[1 - team] ? hold_[team] + 1 : 0;
  bool alive[2] = {false, false};
  for (int team = 0; team < 2; ++team)
    for (const Unit& u : units_[team]) alive[team] = alive[team] || u.alive();
  if (!alive[0] || !alive[1]) winner_ = alive[0] ? 0 : alive[1] ? 1 : kDraw;
  else if (hold_[0] >= o_.hold_steps) winner_ = 0;
  else if (hold_[1] >= o_.hold_steps) winner_ = 1;
  else if (steps_ >= o_.max_steps) winner_ = kDraw;
  return dealt;
}

void ArenaGame::Observe(int team, float* obs) const {
  const int W = o_.width, H = o_.height, k = o_.team_size, P = W * H;
  std::fill(obs, obs + o_.obs_size(), 0.0f);
  const float hp = static_cast<float>(o_.max_hp);
  for (int r = 0; r < H; ++r)
    for (int vc = 0; vc < W; ++vc) {
      const int c = Col(team, vc), cell = r * W + vc;
      obs[cell] = wall(r, c) ? 1.0f : 0.0f;
      obs[P + cell] = r == H / 2 && c == W / 2 ? 1.0f : 0.0f;
      obs[2 * P + cell] = Visible(team, r, c) ? 1.0f : 0.0f;
    }
  for (int j = 0; j < k; ++j) {
    const Unit& u = units_[team][j];
    if (u.alive()) obs[(3 + j) * P + u.row * W + Col(team, u.col)] = static_cast<float>(u.hp) / hp;
  }
  for (const Unit& e : units_[1 - team])
    if (e.alive() && Visible(team, e.row, e.col)) obs[(3 + k) * P + e.row * W + Col(team, e.col)] += static_cast<float>(e.hp) / hp;
  float* s = obs + (4 + k) * P;
  for (int j = 0; j < k; ++j) {
    const Unit& u = units_[team][j];
    s[3 * j] = u.alive() ? 1.0f : 0.0f;
    s[3 * j + 1] = static_cast<float>(u.hp) / hp;
    s[3 * j + 2] = static_cast<float>(u.cooldown) / static_cast<float>(o_.skill_cooldown);
  }
  s[3 * k] = static_cast<float>(steps_) / static_cast<float>(o_.max_steps);
  s[3 * k + 1] = static_cast<float>(hold_[team]) / static_cast<float>(o_.hold_steps);
  s[3 * k + 2] = static_cast<float>(hold_[1 - team]) / static_cast<float>(o_.hold_steps);
}

std::string ArenaGame::Render() const {
  const int W = o_.width, H = o_.height;
  std::string out;
  for (int r = 0; r < H; ++r) {
    for (int c = 0; c < W; ++c) {
      char ch = wall(r, c) ? '#' : (r == H / 2 && c == W / 2) ? '+' : '.';
      for (int team = 0; team < 2; ++team)
        for (int j = 0; j < o_.team_size; ++j) {
          const Unit& u = units_[team][j];
          if (u.alive() && u.row == r && u.col == c) ch = static_cast<char>((team == 0 ? 'a' : 'A') + j);
        }
      out += ch;
    }
    out += '\n';
  }
  for (int team = 0; team < 2; ++team) {
    out += team == 0 ? "team 0 (a..):" : "team 1 (A..):";
    for (const Unit& u : units_[team]) out += " hp " + std::to_string(u.hp) + " cd " + std::to_string(u.cooldown) + ";";
    out += " hold " + std::to_string(hold_[team]) + "\n";
  }
  out += "step " + std::to_string(steps_) + "/" + std::to_string(o_.max_steps);
  if (over()) out += winner_ == kDraw ? "  draw" : winner_ == 0 ? "  team 0 wins" : "  team 1 wins";
  return out + "\n";
}

// ------------------------------------------------------------------- bots

ArenaBot::ArenaBot(const ArenaOptions& o, Kind kind, uint64_t seed) : o_(o), kind_(kind), rng_(seed) {}

ArenaBot::Kind ArenaBot::ParseKind(const std::string& name) {
  // By name, or by strength as the scripted policies are named (weak,
  // medium, strong).
  if (name == "random" || name == "weak") return Kind::kRandom;
  if (name == "greedy" || name == "medium") return Kind::kGreedy;
  if (name == "tactic" || name == "strong") return Kind::kTactic;
  throw InvalidArgument("Arena-v0: unknown bot '" + name +
                        "' (valid: random, greedy, tactic, or by strength weak, medium, strong)");
}

std::string ArenaBot::name() const {
  return kind_ == Kind::kRandom ? "random" : kind_ == Kind::kGreedy ? "greedy" : "tactic";
}

void ArenaBot::Act(const void* observations, const uint8_t* masks, int n, void* actions) {
  RLF_CHECK_ARG(masks != nullptr, "ArenaBot needs the action masks");
  const int k = o_.team_size;
  for (int i = 0; i < n; ++i)
    Decide(o_, kind_, static_cast<const float*>(observations) + static_cast<int64_t>(i) * o_.obs_size(),
           masks + static_cast<int64_t>(i) * k * kA, rng_, static_cast<int64_t*>(actions) + static_cast<int64_t>(i) * k);
}

void ArenaBot::Decide(const ArenaOptions& o, Kind kind, const float* obs, const uint8_t* mask, Rng& rng,
                      int64_t* actions) {
  const int W = o.width, H = o.height, k = o.team_size, P = W * H;
  struct Pos {
    int row, col;
    float hp;
  };
  // What the team sees: its units, the visible enemies, walls.
  std::vector<Pos> own(k, Pos{-1, -1, 0}), enemies;
  for (int cell = 0; cell < P; ++cell) {
    for (int j = 0; j < k; ++j)
      if (obs[(3 + j) * P + cell] > 0) own[j] = {cell / W, cell % W, obs[(3 + j) * P + cell]};
    if (obs[(3 + k) * P + cell] > 0) enemies.push_back({cell / W, cell % W, obs[(3 + k) * P + cell]});
  }
  auto dist = [](int r0, int c0, int r1, int c1) { return std::max(std::abs(r0 - r1), std::abs(c0 - c1)); };
  // The legal move (or stay) that brings unit j closest to (r, c) by
  // Chebyshev then Manhattan distance; `away` maximizes instead.
  auto step_towards = [&](int j, int r, int c, bool away) -> int64_t {
    int64_t best = ArenaGame::kStay;
    double best_score = 1e18;
    for (int64_t a = ArenaGame::kStay; a <= ArenaGame::kLeft; ++a) {
      if (!mask[j * kA + a]) continue;
      const int nr = own[j].row + kDRow[a], nc = own[j].col + kDCol[a];
      double score = dist(nr, nc, r, c) + 0.01 * (std::abs(nr - r) + std::abs(nc - c));
      if (away) score = -score;
      if (score < best_score - 1e-9) best_score = score, best = a;
    }
    return best;
  };
  const int cr = H / 2, cc = W / 2;
  for (int j = 0; j < k; ++j) {
    const uint8_t* mj = mask + j * kA;
    if (kind == Kind::kRandom || own[j].row < 0) {
      int legal = 0;
      for (int a = 0; a < kA; ++a) legal += mj[a];
      int pick = static_cast<int>(rng.UniformInt(static_cast<uint64_t>(std::max(legal, 1))));
      actions[j] = ArenaGame::kStay;
      for (int a = 0; a < kA; ++a)
        if (mj[a] && pick-- == 0) actions[j] = a;
      continue;
    }
    // The nearest visible enemy, and the weakest (ties: nearest).
    int nearest = -1, weakest = -1, in_blast = 0;
    for (int e = 0; e < static_cast<int>(enemies.size()); ++e) {
      const int d = dist(own[j].row, own[j].col, enemies[e].row, enemies[e].col);
      if (d <= 2) ++in_blast;
      if (nearest < 0 || d < dist(own[j].row, own[j].col, enemies[nearest].row, enemies[nearest].col)) nearest = e;
      if (weakest < 0 || enemies[e].hp < enemies[weakest].hp - 1e-6 ||
          (std::abs(enemies[e].hp - enemies[weakest].hp) < 1e-6 &&
           d < dist(own[j].row, own[j].col, enemies[weakest].row, enemies[weakest].col)))
        weakest = e;
    }
    if (kind == Kind::kGreedy) {
      if (mj[ArenaGame::kAttack]) actions[j] = ArenaGame::kAttack;
      else if (mj[ArenaGame::kBlast]) actions[j] = ArenaGame::kBlast;
      else if (nearest >= 0) actions[j] = step_towards(j, enemies[nearest].row, enemies[nearest].col, false);
      else actions[j] = step_towards(j, cr, cc, false);
      continue;
    }
    // tactic
    const float low = 1.0f / static_cast<float>(o.max_hp) + 1e-6f;
    int mate = -1;
    for (int m = 0; m < k; ++m)
      if (m != j && own[m].row >= 0 &&
          (mate < 0 || dist(own[j].row, own[j].col, own[m].row, own[m].col) <
                           dist(own[j].row, own[j].col, own[mate].row, own[mate].col)))
        mate = m;
    if (mj[ArenaGame::kBlast] && in_blast >= 2) {
      actions[j] = ArenaGame::kBlast;
    } else if (mj[ArenaGame::kAttack] && !(own[j].hp <= low && mate >= 0 && in_blast >= 2)) {
      actions[j] = ArenaGame::kAttack;
    } else if (mj[ArenaGame::kBlast]) {
      actions[j] = ArenaGame::kBlast;
    } else if (nearest >= 0 && own[j].hp <= low && mate >= 0) {
      // Back away from the nearest enemy, towards the closest teammate.
      const int64_t away = step_towards(j, enemies[nearest].row, enemies[nearest].col, true);
      actions[j] = away != ArenaGame::kStay ? away : step_towards(j, own[mate].row, own[mate].col, false);
    } else if (weakest >= 0) {
      // Close in on the weakest enemy, but not ahead of the team: a unit
      // more than two steps nearer than its teammate waits for it.
      const int mine = dist(own[j].row, own[j].col, enemies[weakest].row, enemies[weakest].col);
      const int theirs =
          mate >= 0 ? dist(own[mate].row, own[mate].col, enemies[weakest].row, enemies[weakest].col) : mine;
      actions[j] = mine + 2 < theirs && mine > 2 ? ArenaGame::kStay
                                                 : step_towards(j, enemies[weakest].row, enemies[weakest].col, false);
    } else if (own[j].row == cr && own[j].col == cc) {
      actions[j] = ArenaGame::kStay;  // hold the objective
    } else {
      // Take the objective: the nearest unit goes on it, the others next to it.
      int nearest_own = j;
      for (int m = 0; m < k; ++m)
        if (own[m].row >= 0 && dist(own[m].row, own[m].col, cr, cc) < dist(own[nearest_own].row, own[nearest_own].col, cr, cc))
          nearest_own = m;
      if (nearest_own == j || dist(own[j].row, own[j].col, cr, cc) > 1)
        actions[j] = step_towards(j, cr, cc, false);
      else
        actions[j] = ArenaGame::kStay;
    }
  }
}

// ---------------------------------------------------------------- the env

Arena::Arena(const ArenaOptions& o)
    : o_(o),
      game_(o),
      obs_space_(Space::Box(0.0, 1.0, {o.obs_size()}, DType::kFloat32)),
      act_space_(Space::MultiDiscrete(std::vector<int64_t>(o.team_size, kA))),
      external_(o.opponent == "external"),
      opponent_(external_ ? ArenaBot::Kind::kGreedy : ArenaBot::ParseKind(o.opponent)),
      agent1_action_(o.team_size, 0),
      step_actions_{std::vector<int64_t>(o.team_size), std::vector<int64_t>(o.team_size)},
      opp_obs_(o.obs_size()),
      opp_mask_(static_cast<size_t>(o.team_size * kA)) {
  RLF_CHECK_ARG(std::isfinite(o.shaping), "Arena-v0: kwarg 'shaping' must be finite");
  RLF_CHECK_ARG(std::isfinite(o.hold_shaping), "Arena-v0: kwarg 'hold_shaping' must be finite");
}

void Arena::ResetImpl(void* obs, Info*) {
  game_.Reset(rng_);
  agent1_set_ = false;
  reward_[0] = reward_[1] = 0.0;
  game_.Observe(0, static_cast<float*>(obs));
}

void Arena::SetAgentAction(int agent, const void* action) {
  RLF_CHECK_ARG(external_ && agent == 1, "Arena-v0: agent ", agent, " does not exist",
                external_ ? " (agents 0 and 1)" : " (team 1 is a bot; opponent=external makes it agent 1)");
  const auto* a = static_cast<const int64_t*>(action);
  RLF_CHECK_ARG(act_space_.Contains(action), "Arena-v0: agent 1's action is outside ", act_space_.ToString());
  std::copy(a, a + o_.team_size, agent1_action_.begin());
  agent1_set_ = true;
}

void Arena::AgentObservation(int agent, void* obs) const {
  RLF_CHECK_ARG(external_ && agent == 1, "Arena-v0: agent ", agent, " does not exist");
  game_.Observe(1, static_cast<float*>(obs));
}

void Arena::AgentActionMask(int agent, uint8_t* mask) const {
  RLF_CHECK_ARG(external_ && agent == 1, "Arena-v0: agent ", agent, " does not exist");
  game_.Mask(1, mask);
}

double Arena::AgentReward(int agent) const {
  RLF_CHECK_ARG(external_ && (agent == 0 || agent == 1), "Arena-v0: agent ", agent, " does not exist");
  return reward_[agent];
}

void Arena::StepImpl(const void* action, void* obs, StepResult* r) {
  // Both teams' actions in scratch sized at construction (no per-step allocation).
  std::vector<int64_t>& mine = step_actions_[0];
  std::vector<int64_t>& theirs = step_actions_[1];
  if (external_) {
    RLF_CHECK_ARG(agent1_set_, "Arena-v0: set agent 1's action (SetAgentAction) before each Step");
    std::copy(agent1_action_.begin(), agent1_action_.end(), theirs.begin());
    agent1_set_ = false;
  } else {
    game_.Observe(1, opp_obs_.data());
    game_.Mask(1, opp_mask_.data());
    ArenaBot::Decide(o_, opponent_, opp_obs_.data(), opp_mask_.data(), rng_, theirs.data());
  }
  std::copy_n(static_cast<const int64_t*>(action), o_.team_size, mine.begin());
  if (!o_.strict) {
    // A masked-out unit action stays; count team 0's (and agent 1's).
    int illegal[2] = {0, 0};
    for (int team = 0; team < 2; ++team) {
      std::vector<int64_t>& acts = team == 0 ? mine : theirs;
      game_.Mask(team, opp_mask_.data());
      for (int j = 0; j < o_.team_size; ++j)
        if (!opp_mask_[j * kA + acts[j]]) acts[j] = ArenaGame::kStay, ++illegal[team];
    }
    // This step's count ("illegal_actions" is an episode's total elsewhere:
    // TowerDefense, eval and play).
    if (illegal[0]) r->info.Set("illegal_unit_actions", illegal[0]);
    if (illegal[1] && external_) r->info.Set("agent1_illegal_unit_actions", illegal[1]);
  }
  const auto dealt = game_.Step(mine.data(), theirs.data());
  r->reward = o_.shaping * (dealt[0] - dealt[1]) +
              o_.hold_shaping * ((game_.hold(0) > 0 ? 1 : 0) - (game_.hold(1) > 0 ? 1 : 0));
  if (game_.over()) {
    r->terminated = true;
    const int w = game_.winner();
    r->reward += w == 0 ? 1.0 : w == 1 ? -1.0 : 0.0;
    r->info.Set("is_success", w == 0 ? 1.0 : 0.0);
    r->info.Set("draw", w == ArenaGame::kDraw ? 1.0 : 0.0);
  }
  reward_[0] = r->reward;
  reward_[1] = -r->reward;  // zero-sum, shaping included
  game_.Observe(0, static_cast<float*>(obs));
}

RLF_REGISTER_ENVS(arena) {
  EnvSpec spec{"Arena-v0",
               [](const Kwargs& kw) {
                 const std::string id = "Arena-v0";
                 ArenaOptions o;
                 o.team_size = kw.GetInt32("team_size", o.team_size, id);
                 o.width = kw.GetInt32("width", o.width, id);
                 o.height = kw.GetInt32("height", o.height, id);
                 o.vision = kw.GetInt32("vision", o.vision, id);
                 o.max_hp = kw.GetInt32("max_hp", o.max_hp, id);
                 o.skill_cooldown = kw.GetInt32("skill_cooldown", o.skill_cooldown, id);
                 o.hold_steps = kw.GetInt32("hold_steps", o.hold_steps, id);
                 o.max_steps = kw.GetInt32("max_steps", o.max_steps, id);
                 o.walls = kw.GetInt32("walls", o.walls, id);
                 o.opponent = kw.GetString("opponent", o.opponent);
                 o.shaping = kw.GetDouble("shaping", o.shaping, id);
                 o.hold_shaping = kw.GetDouble("hold_shaping", o.hold_shaping, id);
                 o.strict = kw.GetBool("strict", o.strict, id);
                 return std::make_unique<Arena>(o);
               },
               std::nullopt,
               0.8,
               {},
               {{"team_size", "2", "units per team, 1..3"},
                {"width", "9", "grid width (odd, 5..31)"},
                {"height", "9", "grid height (odd, 5..31)"},
                {"vision", "3", "how far (Chebyshev) a unit sees"},
                {"max_hp", "3", "hit points of a unit"},
                {"skill_cooldown", "5", "steps between a unit's blasts"},
                {"hold_steps", "8", "steps alone on the objective that win"},
                {"max_steps", "100", "steps before a draw"},
                {"walls", "4", "mirrored wall pairs drawn at each reset"},
                {"opponent", "greedy", "team 1: the scripted bot random, greedy or tactic (or weak, medium, strong), or external (agent 1)"},
                {"shaping", "0", "reward per point of damage dealt minus taken"},
                {"hold_shaping", "0", "reward per step the team holds the objective (minus per step the other team does)"},
                {"strict", "false", "an illegal unit action throws instead of standing still"}},
               "two teams of units under fog of war, simultaneous moves (MultiDiscrete, masked)"};
  // The bots by name ("random" is every env's), and by strength: weak (random
  // legal moves), medium (greedy), strong (tactic).
  const std::pair<const char*, const char*> bots[] = {
      {"greedy", "greedy"}, {"tactic", "tactic"}, {"weak", "random"}, {"medium", "greedy"}, {"strong", "tactic"}};
  for (const auto& [name, kind] : bots)
    spec.scripted_policies.push_back(
        {name, name,
         std::string(name) == kind ? StrCat("Arena-v0's scripted ", kind, " team")
                                   : StrCat("Arena-v0's ", kind, " bot (the ", name, " one)"),
         /*takes_argument=*/false,
         [name = std::string(name), kind = std::string(kind)](const Env& env, const std::string&,
                                                              uint64_t seed) -> std::unique_ptr<Policy> {
           const auto* arena = dynamic_cast<const Arena*>(&env.unwrapped());
           RLF_CHECK_ARG(arena != nullptr, "policy '", name, "' plays Arena-v0 only");
           return std::make_unique<ArenaBot>(arena->options(), ArenaBot::ParseKind(kind), seed);
         },
         std::string(name) == kind ? "" : kind});
  registry.Register(std::move(spec));
}

}  // namespace rlforge
