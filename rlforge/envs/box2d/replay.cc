#include "rlforge/envs/box2d/replay.h"

#include <box2d/box2d.h>

#include <cmath>

#include "rlforge/core/error.h"

namespace rlforge {

uint64_t WorldFingerprint(const Rng::State& rng, const b2World& world) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 1099511628211ULL;
  };
  mix(rng.data(), sizeof(rng));
  for (const b2Body* b = world.GetBodyList(); b; b = b->GetNext()) {
    const b2Vec2 p = b->GetPosition(), v = b->GetLinearVelocity();
    const float vals[6] = {p.x, p.y, b->GetAngle(), v.x, v.y, b->GetAngularVelocity()};
    mix(vals, sizeof(vals));
  }
  return h;
}

void CheckEpisodeRecord(const std::string& env, bool has_episode, const Rng::State& reset_rng,
                        const std::vector<float>& actions, size_t width, int discrete_n) {
  RLF_CHECK(!has_episode || reset_rng != Rng::State{}, env, " state is corrupt (an all-zero random state)");
  RLF_CHECK(actions.size() % width == 0, env, " state is corrupt (", actions.size(), " action values)");
  for (float a : actions) {
    RLF_CHECK(std::isfinite(a), env, " state is corrupt (a non-finite action)");
    if (discrete_n > 0)
      RLF_CHECK(a >= 0 && a < discrete_n && a == std::floor(a), env, " state is corrupt (action ", a, ")");
  }
}

}  // namespace rlforge
