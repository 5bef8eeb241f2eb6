// rlforge/env/env.h — the environment interface (Gymnasium's semantics in C++).
//
//   Reset(seed, obs, info)       start an episode; with a seed the env's RNG is
//                                re-seeded first, so the episodes that follow are
//                                reproducible; without one it continues.
//   Step(action, obs) -> result  reward, terminated, truncated, info.
//
// `terminated` means the MDP reached a terminal state (do not bootstrap);
// `truncated` means the episode was cut short, e.g. by TimeLimit (bootstrap
// from the final observation). Both may be true at once.
//
// Memory: the caller owns the observation buffer (observation_space().nbytes()
// bytes, in the space's dtype) and the action buffer (action_space().nbytes()).
// Step and Reset never allocate in the built-in envs.
//
// Contract enforced by EnvBase (every built-in env) and checked by CheckEnv:
//   - Step before the first Reset, or after an episode ended, throws Error;
//   - an action outside action_space() throws InvalidArgument naming it;
//   - Clone() returns an independent copy of the full state (RNG included);
//     Restore(snapshot) sets this env back to a state produced by Clone().
// Legal-action masks (has_action_mask()) describe the state after the last
// Reset/Step: action_space().mask_size() bytes, 1 = legal.
#ifndef RLFORGE_ENV_ENV_H_
#define RLFORGE_ENV_ENV_H_

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "rlforge/core/error.h"
#include "rlforge/core/rng.h"
#include "rlforge/core/state_io.h"
#include "rlforge/env/image.h"
#include "rlforge/env/space.h"

namespace rlforge {

// Extra per-step facts as key -> number pairs, with fixed capacity so that
// stepping never allocates. Keys must be string literals (or otherwise outlive
// the Info). Well-known keys: "is_success" (1 when the episode reached the
// env's goal; set on the final step), "prob" (probability of the sampled
// transition, toy-text envs), "episode_return"/"episode_length"
// (RecordEpisodeStatistics, on the final step).
// Per-row conditional masks for a batch of envs: fills `mask` (one
// dimension's size) for env `row` given the chosen prefix.
using ConditionalMaskFn = std::function<void(int row, const int64_t* prefix, int dim, uint8_t* mask)>;

class Info {
 public:
  static constexpr int kCapacity = 8;

  void Clear() { size_ = 0; }
  // Sets key to value, replacing an existing entry; throws Error when full.
  void Set(const char* key, double value);
  std::optional<double> Get(std::string_view key) const;
  bool Has(std::string_view key) const { return Get(key).has_value(); }
  int size() const { return size_; }
  const char* key(int i) const { return keys_[i]; }
  double value(int i) const { return values_[i]; }

 private:
  // Only the first size_ entries are meaningful; the rest stay uninitialized
  // so that a StepResult costs nothing to create on the hot path.
  const char* keys_[kCapacity];
  double values_[kCapacity];
  int size_ = 0;
};

struct StepResult {
  double reward = 0.0;
  bool terminated = false;
  bool truncated = false;
  Info info;
  bool done() const { return terminated || truncated; }
};

class TransitionModel;

// A symmetry of an env's game (a board's rotations and reflections): moving
// element i of the flat observation to observation[i], and Discrete action a
// to action[a], maps a position to one with the same value whose legal moves
// are the images of the legal moves. Search agents train on these images of
// every position (AlphaZero, MuZero: `augment`).
struct Symmetry {
  std::vector<int64_t> observation;  // [observation elements]: where element i goes
  std::vector<int64_t> action;       // [actions]: where action a goes
};

class Env {
 public:
  virtual ~Env() = default;

  virtual const Space& observation_space() const = 0;
  virtual const Space& action_space() const = 0;
  // The registered ID ("CartPole-v1") or a descriptive name.
  virtual std::string name() const = 0;

  virtual void Reset(std::optional<uint64_t> seed, void* obs, Info* info) = 0;
  virtual StepResult Step(const void* action, void* obs) = 0;

  // Text (ANSI) rendering of the current state.
  virtual std::string RenderText() const = 0;
  // RGB rendering; false when the env has none.
  virtual bool RenderRgb(Image* /*out*/) const { return false; }

  virtual bool has_action_mask() const { return false; }
  virtual void ActionMask(uint8_t* /*mask*/) const {}
  // MultiDiscrete envs whose legal values in one dimension depend on the
  // values chosen in earlier ones (ActionMask then gives per-dimension
  // unions): the legal values of dimension `dim` given prefix[0..dim-1].
  // Agents that sample the dimensions in order with these masks never send a
  // jointly illegal action.
  virtual bool has_conditional_action_mask() const { return false; }
  virtual void ConditionalActionMask(const int64_t* /*prefix*/, int /*dim*/, uint8_t* /*mask*/) const {}

  // True when the env reports "is_success" on the final step of an episode.
  virtual bool defines_success() const { return false; }

  // Turn-based multi-player envs (two-player board games) have
  // num_players() > 1. Then Step applies the action of current_player() (the
  // player to move after the last Reset/Step), the reward it returns is the
  // mover's, the observation and mask are from the point of view of the
  // player to move next, and PlayerReturns writes every player's return of
  // the episode so far (num_players() values; zero-sum games: they sum to 0).
  virtual int num_players() const { return 1; }
  virtual int current_player() const { return 0; }
  virtual void PlayerReturns(double* returns) const { returns[0] = 0.0; }
  // Simultaneous-move multi-agent envs (Arena-v0 with opponent=external) have
  // num_agents() > 1: every agent acts at every step, each from its own view.
  // Agent 0 is served by the usual API (observation, mask, Step's action and
  // reward; the spaces are every agent's). Before each Step the caller sets
  // every other agent's action (Step throws when one is missing);
  // AgentObservation and AgentActionMask give an agent's current observation
  // and mask (after the episode's last step: its final ones, until Reset), and
  // AgentReward its reward of the last step. Single-agent envs throw.
  virtual int num_agents() const { return 1; }
  virtual void SetAgentAction(int agent, const void* action);
  virtual void AgentObservation(int agent, void* obs) const;
  virtual void AgentActionMask(int agent, uint8_t* mask) const;
  virtual double AgentReward(int agent) const;
  // Perfect-information envs whose observation is their whole state: set this
  // env to the state `obs` shows (an episode then runs from there) and return
  // true. Lets search-based policies (MCTS over the true simulator, minimax)
  // act from observations alone. Others return false.
  virtual bool SetFromObservation(const void* /*obs*/) { return false; }

  // More capabilities an env may offer (agents and tools ask for these, never
  // for an env's class or ID; its registry entry offers the rest: scripted
  // policies, a Discrete encoding, see rlforge/env/registry.h):
  // The exact dynamics as a table (the toy-text envs); null when there is none.
  virtual const TransitionModel* transition_model() const { return nullptr; }
  // The game's symmetries, the identity first; empty when none are known.
  virtual std::vector<Symmetry> Symmetries() const { return {}; }

  virtual std::unique_ptr<Env> Clone() const = 0;
  virtual void Restore(const Env& snapshot) = 0;

  // The full state (RNG included) as bytes, for checkpoints; LoadState sets an
  // env of the same type and configuration back to it. Envs that cannot do
  // this throw Error.
  virtual void SaveState(std::string* out) const {
    throw Error(name() + " does not support saving its state");
  }
  virtual void LoadState(std::string_view in) { throw Error(name() + " does not support loading a state"); }

  // The innermost env (itself unless this is a wrapper).
  virtual const Env& unwrapped() const { return *this; }
  virtual Env& unwrapped() { return *this; }

  // Convenience overloads for single envs.
  void Reset(std::optional<uint64_t> seed, void* obs) {
    Info info;
    Reset(seed, obs, &info);
  }
  StepResult StepDiscrete(int64_t action, void* obs) { return Step(&action, obs); }
};

// Base for concrete envs: seeding, the call-order and action checks, and
// Clone/Restore by copying Derived. Derived implements
//   void ResetImpl(void* obs, Info* info);
//   void StepImpl(const void* action, void* obs, StepResult* result);
// uses rng_ for every random draw, and (for SaveState/LoadState) lists its
// mutable fields in `template <class A> void Fields(A& ar)`.
// Step rejects actions outside the action space, except that an env declaring
//   static constexpr bool kClipsActions = true;
// accepts finite Box actions out of bounds and clips them itself in StepImpl,
// as Gymnasium's Pendulum and MountainCarContinuous do (NaN and Inf are still
// rejected).
template <typename D, typename = void>
struct ClipsActions : std::false_type {};
template <typename D>
struct ClipsActions<D, std::void_t<decltype(D::kClipsActions)>> : std::bool_constant<D::kClipsActions> {};

template <typename Derived>
class EnvBase : public Env {
 public:
  void Reset(std::optional<uint64_t> seed, void* obs, Info* info) final {
    if (seed) rng_.Seed(*seed);
    info->Clear();
    self().ResetImpl(obs, info);
    state_ = State::kRunning;
  }
  using Env::Reset;
  using Env::Step;

  StepResult Step(const void* action, void* obs) final {
    if (state_ != State::kRunning) ThrowOrderError();
    if constexpr (ClipsActions<Derived>::value) {
      const std::string why = action_space().WhyNotFinite(action);
      if (!why.empty()) throw InvalidArgument(StrCat(name(), ": invalid action: ", why));
    } else {
      if (!action_space().Contains(action)) ThrowActionError(action);
    }
    StepResult result;
    self().StepImpl(action, obs, &result);
    if (result.terminated || result.truncated) state_ = State::kEnded;
    return result;
  }

  std::unique_ptr<Env> Clone() const final { return std::make_unique<Derived>(self()); }
  void Restore(const Env& snapshot) final {
    const auto* other = dynamic_cast<const Derived*>(&snapshot);
    RLF_CHECK(other != nullptr, name(), ": Restore() needs a snapshot made by Clone() of the same env type");
    self() = *other;
  }

  void SaveState(std::string* out) const final {
    if constexpr (HasStateFields<Derived>::value) {
      StateWriter w(out);
      w(rng_.state());
      w(state_);
      const_cast<Derived&>(self()).Fields(w);
    } else {
      Env::SaveState(out);
    }
  }
  void LoadState(std::string_view in) final {
    if constexpr (HasStateFields<Derived>::value) {
      StateReader r(in, name() + " state");
      Rng::State rs;
      r(rs);
      rng_.set_state(rs);
      r(state_);
      self().Fields(r);
      r.ExpectEnd();
    } else {
      Env::LoadState(in);
    }
  }

  // Whether an episode is running (Reset called and not yet ended).
  bool running() const { return state_ == State::kRunning; }
  Rng& rng() { return rng_; }

 protected:
  Rng rng_;
  // For envs that set their state directly (SetFromObservation): whether an
  // episode is now running (Step allowed) or has ended.
  void set_running(bool running) { state_ = running ? State::kRunning : State::kEnded; }

 private:
  enum class State : uint8_t { kNeedsReset, kRunning, kEnded };
  Derived& self() { return static_cast<Derived&>(*this); }
  const Derived& self() const { return static_cast<const Derived&>(*this); }
  [[noreturn]] void ThrowOrderError() const {
    if (state_ == State::kNeedsReset) throw Error(name() + ": step() called before reset()");
    throw Error(name() + ": step() called after the episode ended (terminated or truncated); call reset() first");
  }
  [[noreturn]] void ThrowActionError(const void* action) const {
    throw InvalidArgument(StrCat(name(), ": invalid action: ", action_space().WhyNotContained(action)));
  }

  State state_ = State::kNeedsReset;
};

}  // namespace rlforge

#endif  // RLFORGE_ENV_ENV_H_
