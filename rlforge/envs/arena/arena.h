// rlforge/envs/arena/arena.h — Arena-v0: a small team game under fog of war.
//
// Two teams of k units (k = team_size, 1..3) on a width x height grid with
// walls; team 0 starts on the left edge, team 1 on the right, the objective
// is the centre cell. Every step both teams act at once, one action per unit:
//   0 stay, 1 up, 2 right, 3 down, 4 left,
//   5 attack: 1 damage to the adjacent enemy (Chebyshev distance 1) with the
//     fewest hit points (ties: lowest slot),
//   6 blast: 1 damage to every enemy within distance 2; then `skill_cooldown`
//     steps before the unit can blast again.
// A step resolves moves first: a move into a wall or off the grid is illegal
// (masked); moves that target the same cell, that swap two units, or that
// enter a cell whose unit stays (or is itself blocked) fail, and the unit
// stays. Then every attack and blast hits at the new positions, all at once,
// and units at 0 hit points are removed. A team holds the objective when
// only its units stand on it; holding for `hold_steps` steps in a row wins,
// as does eliminating the other team (both eliminated: a draw). After
// `max_steps` steps the game is a draw.
//
// Fog of war: a team sees the cells within distance `vision` of any of its
// living units; enemies elsewhere are not in its observation. Observations
// are from the team's own view, mirrored left-right for team 1 so that both
// teams see themselves starting on the left (team 1's left/right actions are
// mirrored back): planes of height x width, in order
//   walls, objective, visible cells, own unit j's hit points / max_hp at its
//   cell (one plane per slot), visible enemies' hit points / max_hp,
// then per own unit [alive, hp / max_hp, cooldown / skill_cooldown], then
// [step / max_steps, own hold / hold_steps, other hold / hold_steps].
// Actions MultiDiscrete([7] * k) with per-dimension masks (a dead unit may
// only stay; blast needs cooldown 0 and an enemy within 2, attack an adjacent
// enemy the team sees). Walls: `walls` (at most MaxWalls) mirrored pairs drawn
// at every reset away from the edge columns and the objective; open cells the
// objective cannot reach are walled in.
//
// As a single-agent env the agent plays team 0 against a scripted team 1
// (`opponent`: random, greedy or tactic; ArenaBot below); reward +1 win,
// -1 loss, 0 draw, plus `shaping` x (damage dealt - damage taken) and
// `hold_shaping` x (1 if team 0 holds the objective - 1 if team 1 does) per step.
// A masked-out unit action makes the unit stay (info "illegal_unit_actions"
// counts this step's), or throws with `strict`.
// With opponent=external, team 1 is agent 1 of Env's multi-agent API: its
// actions are set before each Step (SetAgentAction), its observation, mask
// and reward (the negation of team 0's) are read after; the env's own
// observation, mask and reward stay team 0's. ArenaGame is the two-team game
// itself.
#ifndef RLFORGE_ENVS_ARENA_ARENA_H_
#define RLFORGE_ENVS_ARENA_ARENA_H_

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "rlforge/core/rng.h"
#include "rlforge/env/env.h"
#include "rlforge/env/policy.h"

namespace rlforge {

struct ArenaOptions {
  int team_size = 2;
  int width = 9, height = 9;
  int vision = 3;
  int max_hp = 3;
  int skill_cooldown = 5;
  int hold_steps = 8;
  int max_steps = 100;
  int walls = 4;                     // mirrored wall pairs
  std::string opponent = "greedy";   // team 1 in the single-agent env
  double shaping = 0.0;
  double hold_shaping = 0.0;         // per step holding the objective (minus the other team's)
  bool strict = false;               // an illegal unit action throws (else the unit stays)

  int obs_size() const { return (4 + team_size) * width * height + 3 * team_size + 3; }
};
// The most mirrored wall pairs a grid takes: an eighth of its inner cells.
inline int MaxWalls(const ArenaOptions& o) { return (o.width - 2) * o.height / 8; }

class ArenaGame {
 public:
  enum Action : int64_t { kStay = 0, kUp, kRight, kDown, kLeft, kAttack, kBlast, kNumActions };
  struct Unit {
    int row = 0, col = 0, hp = 0, cooldown = 0;
    bool alive() const { return hp > 0; }
  };

  explicit ArenaGame(const ArenaOptions& o);
  void Reset(Rng& rng);
  // Both teams' actions, team-view (team 1's mirrored), k each. Returns the
  // damage each team dealt this step.
  std::array<int, 2> Step(const int64_t* team0, const int64_t* team1);
  bool over() const { return winner_ != kOngoing; }
  // 0 or 1 for a win, -1 for a draw; only when over().
  int winner() const { return winner_; }
  int steps() const { return steps_; }

  void Observe(int team, float* obs) const;
  void Mask(int team, uint8_t* mask) const;  // k x 7
  bool Visible(int team, int row, int col) const;
  const std::vector<Unit>& units(int team) const { return units_[team]; }
  bool wall(int row, int col) const { return walls_[row * o_.width + col] != 0; }
  const ArenaOptions& options() const { return o_; }
  std::string Render() const;
  int hold(int team) const { return hold_[team]; }
  // Scenario set-up (tests, puzzles): a team's units, and the walls.
  void SetUnits(int team, std::vector<Unit> units) { units_[team] = std::move(units); }
  void SetWalls(std::vector<uint8_t> walls) { walls_ = std::move(walls); }

  template <class A>
  void Fields(A& ar) {
    ar(units_[0]), ar(units_[1]), ar(walls_), ar(hold_[0]), ar(hold_[1]), ar(steps_), ar(winner_);
  }

  static constexpr int kOngoing = -2, kDraw = -1;

 private:
  // The grid column of a team-view column (team 1 sees the grid mirrored).
  int Col(int team, int col) const { return team == 0 ? col : o_.width - 1 - col; }
  bool Legal(int team, int slot, int64_t a) const;
  static int Distance(const Unit& a, const Unit& b) { return std::max(std::abs(a.row - b.row), std::abs(a.col - b.col)); }

  ArenaOptions o_;
  std::array<std::vector<Unit>, 2> units_;
  std::vector<uint8_t> walls_;
  int hold_[2] = {0, 0};
  int steps_ = 0;
  int winner_ = kOngoing;
};

// The scripted team policies, acting from a team's observation and masks
// alone (so they obey the fog as a learner does):
//   random  a uniformly random legal action per unit;
//   greedy  attack if possible, else blast if possible, else step towards
//           the nearest visible enemy (the objective when none is visible);
//   tactic  blast when two enemies are in range, else attack; a unit at 1 hit
//           point backs away from enemies towards a teammate; units wait for
//           each other instead of arriving one by one; with no enemy in
//           sight they take and hold the objective.
class ArenaBot : public Policy {
 public:
  enum class Kind { kRandom, kGreedy, kTactic };
  ArenaBot(const ArenaOptions& o, Kind kind, uint64_t seed);
  // InvalidArgument naming the valid kinds.
  static Kind ParseKind(const std::string& name);
  // One team's actions [k] from its observation and mask [k x 7].
  static void Decide(const ArenaOptions& o, Kind kind, const float* obs, const uint8_t* mask, Rng& rng,
                     int64_t* actions);
  void Act(const void* observations, const uint8_t* masks, int n, void* actions) override;
  std::string name() const override;

 private:
  ArenaOptions o_;
  Kind kind_;
  Rng rng_;
};

class Arena : public EnvBase<Arena> {
 public:
  explicit Arena(const ArenaOptions& o);

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return "Arena-v0"; }
  std::string RenderText() const override { return game_.Render(); }
  bool has_action_mask() const override { return true; }
  void ActionMask(uint8_t* mask) const override { game_.Mask(0, mask); }
  bool defines_success() const override { return true; }
  int num_agents() const override { return external_ ? 2 : 1; }
  void SetAgentAction(int agent, const void* action) override;
  void AgentObservation(int agent, void* obs) const override;
  void AgentActionMask(int agent, uint8_t* mask) const override;
  double AgentReward(int agent) const override;

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);
  // (The opponent draws from the env's own generator, saved with it.)
  template <class A>
  void Fields(A& ar) {
    game_.Fields(ar);
    ar(agent1_action_), ar(agent1_set_), ar(reward_[0]), ar(reward_[1]);
  }
  const ArenaGame& game() const { return game_; }
  const ArenaOptions& options() const { return o_; }

 private:
  ArenaOptions o_;
  ArenaGame game_;
  Space obs_space_, act_space_;
  bool external_ = false;  // team 1 is agent 1 (opponent=external)
  ArenaBot::Kind opponent_ = ArenaBot::Kind::kGreedy;
  std::vector<int64_t> agent1_action_;  // set by SetAgentAction, used by the next Step
  bool agent1_set_ = false;
  double reward_[2] = {0.0, 0.0};       // the last step's, per team
  std::array<std::vector<int64_t>, 2> step_actions_;  // scratch for Step
  std::vector<float> opp_obs_;
  std::vector<uint8_t> opp_mask_;
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_ARENA_ARENA_H_
