// rlforge/envs/box2d/replay.h — what the Box2D envs share for clones and
// checkpoints by replay (a b2World cannot be copied or serialized): each
// env keeps the RNG state it had at reset and every action since, and
// rebuilds an episode by replaying them.
#ifndef RLFORGE_ENVS_BOX2D_REPLAY_H_
#define RLFORGE_ENVS_BOX2D_REPLAY_H_

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "rlforge/core/rng.h"
#include "rlforge/core/state_io.h"
#include "rlforge/env/env.h"

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

// The base of an env whose state is its episode record: the RNG state at
// reset and every action since (reset_rng_, actions_, has_episode_). The
// derived env (a friend) provides Replay() (rebuild the episode from the
// record), Fingerprint() (a hash of the rebuilt state; 0 without an
// episode) and CheckActions() (error unless the record is one Step could
// have written); this base saves and loads the record, checking the
// loaded replay against the saved fingerprint, and copies by replay.
template <typename Derived>
class ReplayedEpisodeEnv : public EnvBase<Derived> {
 public:
  template <class A>
  void Fields(A& ar) {
    // The saved episode's fingerprint is checked against the replay: a build
    // whose Box2D steps differently fails to load instead of continuing
    // another episode.
    Derived& d = static_cast<Derived&>(*this);
    if constexpr (std::is_same_v<A, StateReader>) {
      uint64_t fingerprint = 0;
      uint8_t has_episode = 0;
      ar(reset_rng_), ar(actions_), ar(has_episode), ar(fingerprint);
      RLF_CHECK(has_episode <= 1, d.name(), " state is corrupt");
      has_episode_ = has_episode == 1;
      d.CheckActions();
      d.Replay();
      RLF_CHECK(d.Fingerprint() == fingerprint, d.name(),
                " state: replaying the saved episode gives a different state (another Box2D build?)");
    } else {
      uint64_t fingerprint = d.Fingerprint();
      uint8_t has_episode = has_episode_ ? 1 : 0;
      ar(reset_rng_), ar(actions_), ar(has_episode), ar(fingerprint);
    }
  }

 protected:
  // At reset: the record starts from the RNG's state now.
  void StartRecord() {
    reset_rng_ = this->rng_.state();
    actions_.clear();
    has_episode_ = true;
  }
  // The derived env's copy assignment, after it copied its own settings:
  // the base (RNG, phase) and the record, then the replay, checked.
  void CopyEpisodeFrom(const Derived& other) {
    EnvBase<Derived>::operator=(other);
    reset_rng_ = other.reset_rng_;
    actions_ = other.actions_;
    has_episode_ = other.has_episode_;
    Derived& d = static_cast<Derived&>(*this);
    d.Replay();
    RLF_CHECK(d.Fingerprint() == other.Fingerprint(), d.name(), ": replaying the episode did not reproduce it");
  }

  Rng::State reset_rng_{};
  std::vector<float> actions_;  // every action since reset, a fixed number of floats each
  bool has_episode_ = false;
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_BOX2D_REPLAY_H_
