#include "rlforge/envs/tower_defense/heuristic.h"

#include <algorithm>
#include <cmath>
#include <deque>

#include "rlforge/core/error.h"

namespace rlforge {

using namespace td;

TowerDefenseHeuristic::TowerDefenseHeuristic(const Space& observation_space, const Space& action_space) {
  RLF_CHECK_ARG(observation_space == Space::Box(0, 1, {kObsSize}),
                "the heuristic policy plays TowerDefense-v0 with obs_mode=planes only");
  flat_ = action_space.kind() == SpaceKind::kDiscrete;
  RLF_CHECK_ARG(flat_ ? action_space.n() == kFlatActions : action_space.kind() == SpaceKind::kMultiDiscrete,
                "the heuristic policy needs TowerDefense-v0's action space, got ", action_space.ToString());
}

std::vector<TowerDefenseHeuristic::Placement> TowerDefenseHeuristic::Plan(const float* obs) const {
  auto plane = [&](int p, int t) { return obs[p * kTiles + t] > 0.5f; };
  // Distance to the goal along route tiles.
  std::array<int, kTiles> dist;
  dist.fill(-1);
  std::deque<int> queue;
  for (int t = 0; t < kTiles; ++t)
    if (plane(4, t)) dist[t] = 0, queue.push_back(t);
  while (!queue.empty()) {
    const int t = queue.front();
    queue.pop_front();
    const int x = t % kWidth, y = t / kWidth;
    const int nb[4][2] = {{x + 1, y}, {x - 1, y}, {x, y + 1}, {x, y - 1}};
    for (const auto& n : nb) {
      if (n[0] < 0 || n[0] >= kWidth || n[1] < 0 || n[1] >= kHeight) continue;
      const int u = n[1] * kWidth + n[0];
      if (dist[u] < 0 && plane(2, u)) dist[u] = dist[t] + 1, queue.push_back(u);
    }
  }
  // Facing from tile t towards its upstream route neighbour (enemies come from there).
  auto facing_upstream = [&](int t) {
    const int x = t % kWidth, y = t / kWidth;
    const int dx[4] = {1, 0, -1, 0}, dy[4] = {0, 1, 0, -1};
    for (int f = 0; f < 4; ++f) {
      const int nx = x + dx[f], ny = y + dy[f];
      if (nx < 0 || nx >= kWidth || ny < 0 || ny >= kHeight) continue;
      if (dist[ny * kWidth + nx] == dist[t] + 1) return f;
    }
    return 0;
  };
  // Block tiles: deployable ground route tiles closest to the goal.
  std::vector<int> ground;
  for (int t = 0; t < kTiles; ++t)
    if (dist[t] > 0 && plane(0, t)) ground.push_back(t);
  std::sort(ground.begin(), ground.end(), [&](int a, int b) { return dist[a] < dist[b] || (dist[a] == dist[b] && a < b); });
  std::vector<Placement> plan;
  if (ground.empty()) return plan;
  const int first = ground.size() > 1 ? ground[1] : ground[0];  // two tiles before the goal
  const int second = ground[0];
  plan.push_back({kGuard, first, facing_upstream(first)});
  // Ranged units: the best (high tile, facing) by coverage around the guard.
  std::vector<int> taken = {first, second}, range;
  auto best_high = [&](int cls, bool must_cover_guard) -> std::optional<Placement> {
    double best_score = 0;
    std::optional<Placement> best;
    for (int t = 0; t < kTiles; ++t) {
      if (!plane(1, t) || std::find(taken.begin(), taken.end(), t) != taken.end()) continue;
      for (int f = 0; f < kFacings; ++f) {
        RangeTiles(cls, t, f, &range);
        double score = 0;
        bool covers_guard = false;
        for (int r : range) {
          if (r == first) covers_guard = true;
          if (dist[r] > 0) score += 1.0 / (1.0 + std::abs(dist[r] - dist[first]));
        }
        if (must_cover_guard && !covers_guard) continue;
        if (score > best_score + 1e-9) best_score = score, best = Placement{cls, t, f};
      }
    }
    if (best) taken.push_back(best->tile);
    return best;
  };
  for (int cls : {kSniper, kMedic, kCaster})
    if (auto p = best_high(cls, cls == kMedic)) plan.push_back(*p);
  if (second != first) plan.push_back({kDefender, second, facing_upstream(second)});
  return plan;
}

void TowerDefenseHeuristic::ActOne(const float* obs, int64_t* action) const {
  const float* v = obs + kPlanes * kTiles;
  const float* slot_info = v + 6;  // per slot: deployed, cooldown, affordable, skill ready
  const bool cap_left = v[5] < 1.0f - 1e-6f;
  auto unit_on = [&](int t) {
    for (int c = 0; c < kSlots; ++c)
      if (obs[(8 + c) * kTiles + t] > 0.5f) return true;
    return false;
  };
  int type = kWait, slot = 0, tile = 0, facing = 0;
  if (cap_left) {
    for (const auto& p : Plan(obs)) {
      const float* s = slot_info + 4 * p.slot;
      if (s[0] > 0.5f) continue;  // on the field already
      if (s[1] <= 0.0f && s[2] > 0.5f && !unit_on(p.tile)) type = kDeploy, slot = p.slot, tile = p.tile, facing = p.facing;
      break;  // deploy in plan order: wait for the next one
    }
  }
  if (type == kWait) {
    for (int s = 0; s < kSlots; ++s)
      if (slot_info[4 * s + 3] > 0.5f) {
        type = kSkill, slot = s;
        break;
      }
  }
  if (flat_) {
    *action = EncodeFlatAction(type, slot, tile, facing);
  } else {
    action[0] = type, action[1] = slot, action[2] = tile, action[3] = facing;
  }
}

void TowerDefenseHeuristic::Act(const void* observations, const uint8_t* /*masks*/, int n, void* actions) {
  const auto* obs = static_cast<const float*>(observations);
  auto* out = static_cast<int64_t*>(actions);
  const int width = flat_ ? 1 : 4;
  for (int i = 0; i < n; ++i) ActOne(obs + static_cast<int64_t>(i) * kObsSize, out + i * width);
}

}  // namespace rlforge
