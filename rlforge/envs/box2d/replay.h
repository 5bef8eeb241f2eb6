// rlforge/envs/box2d/replay.h — what the Box2D envs share for clones and
// checkpoints by replay (a b2World cannot be copied or serialized): each
// env keeps the RNG state it had at reset and every action since, and
// rebuilds an episode by replaying them.
#ifndef RLFORGE_ENVS_BOX2D_REPLAY_H_
#define RLFORGE_ENVS_BOX2D_REPLAY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "rlforge/core/rng.h"

class b2World;

namespace rlforge {

// FNV-1a over the RNG state and every body's position, angle and
// velocities: equal after a faithful replay, different after a diverging one.
uint64_t WorldFingerprint(const Rng::State& rng, const b2World& world);

// Error (naming `env`) unless a loaded episode record is one Step could have
// written: a non-zero reset RNG state (xoshiro's all-zero state never leaves
// zero), whole actions of `width` finite values, and with `discrete_n` > 0
// each a whole number in [0, discrete_n).
void CheckEpisodeRecord(const std::string& env, bool has_episode, const Rng::State& reset_rng,
                        const std::vector<float>& actions, size_t width, int discrete_n = 0);

}  // namespace rlforge

#endif  // RLFORGE_ENVS_BOX2D_REPLAY_H_
