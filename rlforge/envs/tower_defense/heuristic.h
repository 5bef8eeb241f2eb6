// rlforge/envs/tower_defense/heuristic.h — the scripted TowerDefense-v0
// baseline (`--policy heuristic`), working from the observation alone.
//
// From the planes it recovers the board and each route tile's distance to
// the goal (breadth-first along route tiles), then plays a fixed plan:
//   1. the guard blocks the route two tiles before the goal, facing the
//      incoming enemies;
//   2. the sniper, the medic (which must reach the guard's tile) and the
//      caster take the high-ground tiles and facings whose range covers most
//      of the route around the guard (weighted towards the guard's tile);
//   3. the defender blocks the tile in front of the goal as a second line
//      (fifth in the plan: under the 4-unit cap only when fewer than three
//      high-ground placements were found; on none of stages 1-4).
// Each step it deploys the next unit of the plan that is affordable, off
// cooldown and not on the field (the unit cap permitting), and otherwise
// fires any charged skill, or waits. It never retreats. Only obs_mode=planes.
#ifndef RLFORGE_ENVS_TOWER_DEFENSE_HEURISTIC_H_
#define RLFORGE_ENVS_TOWER_DEFENSE_HEURISTIC_H_

#include <array>
#include <vector>

#include "rlforge/envs/tower_defense/tower_defense.h"
#include "rlforge/env/policy.h"

namespace rlforge {

class TowerDefenseHeuristic : public Policy {
 public:
  // action_space: TowerDefense-v0's (MultiDiscrete or, with flat_actions, Discrete).
  explicit TowerDefenseHeuristic(const Space& observation_space, const Space& action_space);
  void Act(const void* observations, const uint8_t* masks, int n, void* actions) override;
  std::string name() const override { return "heuristic"; }

  struct Placement {
    int slot, tile, facing;
  };
  // The deployment plan for one observation (exposed for tests).
  std::vector<Placement> Plan(const float* obs) const;

 private:
  void ActOne(const float* obs, int64_t* action) const;
  bool flat_;
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_TOWER_DEFENSE_HEURISTIC_H_
