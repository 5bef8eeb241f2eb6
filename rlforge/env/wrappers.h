// rlforge/env/wrappers.h — composable env wrappers (Gymnasium's, in C++).
//
//   TimeLimit(env, max_steps)           truncated once max_steps steps have run
//   RecordEpisodeStatistics(env)        "episode_return"/"episode_length" in the
//                                       final step's info; recent-episode window
//   ClipAction(env)                     clips Box actions into the inner bounds;
//                                       exposes an unbounded action space
//   RescaleAction(env, min, max)        affine map [min, max] -> inner bounds
//   NormalizeObservation(env)           (obs - mean) / sqrt(var + eps) with running
//                                       statistics (save/restore via stats())
//   NormalizeReward(env, gamma)         reward / sqrt(var(discounted return) + eps)
//   FrameStack(env, k)                  the last k observations, oldest first;
//                                       padded with the reset observation
//   TransformObservation(env, fn, space), TransformReward(env, fn)
//
// Every wrapper owns the env it wraps; Clone() deep-copies the whole stack, and
// Restore() restores the whole stack. Scratch buffers are sized once at
// construction, so Step never allocates.
#ifndef RLFORGE_ENV_WRAPPERS_H_
#define RLFORGE_ENV_WRAPPERS_H_

#include <functional>
#include <memory>
#include <vector>

#include "rlforge/env/env.h"
#include "rlforge/env/running_stats.h"

namespace rlforge {

// Forwards everything to the wrapped env; subclasses override what they change.
class Wrapper : public Env {
 public:
  explicit Wrapper(std::unique_ptr<Env> env);
  Wrapper(const Wrapper& other) : env_(other.env_->Clone()) {}
  Wrapper& operator=(const Wrapper& other) {
    env_->Restore(*other.env_);
    return *this;
  }

  const Space& observation_space() const override { return env_->observation_space(); }
  const Space& action_space() const override { return env_->action_space(); }
  std::string name() const override { return env_->name(); }
  void Reset(std::optional<uint64_t> seed, void* obs, Info* info) override {
    env_->Reset(seed, obs, info);
  }
  StepResult Step(const void* action, void* obs) override { return env_->Step(action, obs); }
  using Env::Reset;
  std::string RenderText() const override { return env_->RenderText(); }
  bool RenderRgb(Image* out) const override { return env_->RenderRgb(out); }
  bool has_action_mask() const override { return env_->has_action_mask(); }
  void ActionMask(uint8_t* mask) const override { env_->ActionMask(mask); }
  bool has_conditional_action_mask() const override { return env_->has_conditional_action_mask(); }
  void ConditionalActionMask(const int64_t* prefix, int dim, uint8_t* mask) const override {
    env_->ConditionalActionMask(prefix, dim, mask);
  }
  bool defines_success() const override { return env_->defines_success(); }
  int num_players() const override { return env_->num_players(); }
  int current_player() const override { return env_->current_player(); }
  void PlayerReturns(double* returns) const override { env_->PlayerReturns(returns); }
  int num_agents() const override { return env_->num_agents(); }
  void SetAgentAction(int agent, const void* action) override { env_->SetAgentAction(agent, action); }
  void AgentObservation(int agent, void* obs) const override { env_->AgentObservation(agent, obs); }
  void AgentActionMask(int agent, uint8_t* mask) const override { env_->AgentActionMask(agent, mask); }
  double AgentReward(int agent) const override { return env_->AgentReward(agent); }
  bool SetFromObservation(const void* obs) override { return env_->SetFromObservation(obs); }
  const TransitionModel* transition_model() const override { return env_->transition_model(); }
  std::vector<Symmetry> Symmetries() const override { return env_->Symmetries(); }
  const Env& unwrapped() const override { return env_->unwrapped(); }
  Env& unwrapped() override { return env_->unwrapped(); }

  Env& inner() { return *env_; }
  const Env& inner() const { return *env_; }

 protected:
  // For wrappers that change what an agent call would pass through
  // unchanged (the other agents' actions or rewards): refuse it by name.
  [[noreturn]] void RefuseAgentCall(const char* what, int agent) const {
    throw InvalidArgument(StrCat(name(), ": agent ", agent, "'s ", what,
                                 " does not go through this wrapper, which changes agent 0's"));
  }

  std::unique_ptr<Env> env_;
};

// Clone/Restore for a wrapper type by copying Derived (its copy constructor
// deep-copies the wrapped env through Wrapper's).
template <typename Derived>
class WrapperBase : public Wrapper {
 public:
  using Wrapper::Wrapper;
  std::unique_ptr<Env> Clone() const final {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
  void Restore(const Env& snapshot) final {
    const auto* other = dynamic_cast<const Derived*>(&snapshot);
    RLF_CHECK(other != nullptr, name(), ": Restore() needs a snapshot made by Clone() of the same wrapper stack");
    static_cast<Derived&>(*this) = *other;
  }
  // The wrapped env's state, then this wrapper's fields (if it has any).
  void SaveState(std::string* out) const final {
    std::string inner;
    env_->SaveState(&inner);
    StateWriter w(out);
    w(inner);
    if constexpr (HasStateFields<Derived>::value) const_cast<Derived&>(static_cast<const Derived&>(*this)).Fields(w);
  }
  void LoadState(std::string_view in) final {
    StateReader r(in, name() + " state");
    std::string inner;
    r(inner);
    env_->LoadState(inner);
    if constexpr (HasStateFields<Derived>::value) static_cast<Derived&>(*this).Fields(r);
    r.ExpectEnd();
  }
};

// A wrapper whose observation is not the inner env's: the capabilities that
// read observations (SetFromObservation, the transition model's states,
// symmetries of the observation) do not carry over. (Reward wrappers drop
// the transition model too.)
template <typename Derived>
class ObservationWrapperBase : public WrapperBase<Derived> {
 public:
  using WrapperBase<Derived>::WrapperBase;
  bool SetFromObservation(const void* /*obs*/) override { return false; }
  // The other agents' observations would bypass this wrapper's change.
  void AgentObservation(int agent, void*) const override { this->RefuseAgentCall("observation", agent); }
  const TransitionModel* transition_model() const override { return nullptr; }
  std::vector<Symmetry> Symmetries() const override { return {}; }
};

class TimeLimit : public WrapperBase<TimeLimit> {
 public:
  TimeLimit(std::unique_ptr<Env> env, int64_t max_episode_steps);
  void Reset(std::optional<uint64_t> seed, void* obs, Info* info) override;
  StepResult Step(const void* action, void* obs) override;
  using Env::Reset;
  int64_t max_episode_steps() const { return max_steps_; }
  int64_t elapsed_steps() const { return elapsed_; }
  template <class A>
  void Fields(A& ar) {
    ar(elapsed_);
  }

 private:
  int64_t max_steps_;
  int64_t elapsed_ = 0;
};

class RecordEpisodeStatistics : public WrapperBase<RecordEpisodeStatistics> {
 public:
  // window: how many recent episodes return_queue()/length_queue() keep.
  explicit RecordEpisodeStatistics(std::unique_ptr<Env> env, int window = 100);
  void Reset(std::optional<uint64_t> seed, void* obs, Info* info) override;
  StepResult Step(const void* action, void* obs) override;
  using Env::Reset;
  // Returns/lengths of the last `window` finished episodes, oldest first.
  std::vector<double> recent_returns() const;
  std::vector<int64_t> recent_lengths() const;
  int64_t episode_count() const { return episodes_; }
  template <class A>
  void Fields(A& ar) {
    ar(ret_), ar(len_), ar(episodes_), ar(returns_), ar(lengths_);
  }

 private:
  double ret_ = 0;
  int64_t len_ = 0;
  int64_t episodes_ = 0;
  std::vector<double> returns_;   // ring buffer [window]
  std::vector<int64_t> lengths_;  // ring buffer [window]
};

class ClipAction : public WrapperBase<ClipAction> {
 public:
  explicit ClipAction(std::unique_ptr<Env> env);
  ClipAction(const ClipAction& other) = default;
  ClipAction& operator=(const ClipAction& other) = default;
  const Space& action_space() const override { return space_; }
  StepResult Step(const void* action, void* obs) override;
  void SetAgentAction(int agent, const void*) override { RefuseAgentCall("action", agent); }

 private:
  Space space_;
  std::vector<float> scratch_;
};

class RescaleAction : public WrapperBase<RescaleAction> {
 public:
  RescaleAction(std::unique_ptr<Env> env, double min_action, double max_action);
  const Space& action_space() const override { return space_; }
  StepResult Step(const void* action, void* obs) override;
  void SetAgentAction(int agent, const void*) override { RefuseAgentCall("action", agent); }

 private:
  Space space_;
  std::vector<float> scratch_;
};

class NormalizeObservation : public ObservationWrapperBase<NormalizeObservation> {
 public:
  explicit NormalizeObservation(std::unique_ptr<Env> env, double epsilon = 1e-8);
  const Space& observation_space() const override { return space_; }
  void Reset(std::optional<uint64_t> seed, void* obs, Info* info) override;
  StepResult Step(const void* action, void* obs) override;
  using Env::Reset;
  RunningMeanStd& stats() { return stats_; }
  const RunningMeanStd& stats() const { return stats_; }
  // When false the statistics are frozen (evaluation).
  void set_update(bool update) { update_ = update; }
  template <class A>
  void Fields(A& ar) {
    stats_.Fields(ar);
    ar(update_);
  }

 private:
  void Normalize(void* obs);
  Space space_;
  RunningMeanStd stats_;
  double epsilon_;
  bool update_ = true;
  std::vector<double> raw_;          // [obs_size]
  std::vector<uint8_t> inner_obs_;   // one inner observation
};

class NormalizeReward : public WrapperBase<NormalizeReward> {
 public:
  explicit NormalizeReward(std::unique_ptr<Env> env, double gamma = 0.99, double epsilon = 1e-8);
  StepResult Step(const void* action, void* obs) override;
  double AgentReward(int agent) const override { RefuseAgentCall("reward", agent); }
  // The inner transition table's rewards are not this wrapper's.
  const TransitionModel* transition_model() const override { return nullptr; }
  RunningMeanStd& stats() { return stats_; }
  const RunningMeanStd& stats() const { return stats_; }
  void set_update(bool update) { update_ = update; }
  double discounted_return() const { return discounted_; }
  template <class A>
  void Fields(A& ar) {
    stats_.Fields(ar);
    ar(discounted_), ar(update_);
  }

 private:
  RunningMeanStd stats_;
  double gamma_, epsilon_;
  double discounted_ = 0;
  bool update_ = true;
};

class FrameStack : public ObservationWrapperBase<FrameStack> {
 public:
  FrameStack(std::unique_ptr<Env> env, int stack_size);
  const Space& observation_space() const override { return space_; }
  void Reset(std::optional<uint64_t> seed, void* obs, Info* info) override;
  StepResult Step(const void* action, void* obs) override;
  using Env::Reset;
  template <class A>
  void Fields(A& ar) {
    ar(newest_), ar(frames_);
  }

 private:
  void Emit(void* obs) const;
  Space space_;
  int k_;
  size_t frame_bytes_;
  int newest_ = 0;                  // slot of the newest frame
  std::vector<uint8_t> frames_;     // ring buffer [k, frame_bytes]
};

class TransformObservation : public ObservationWrapperBase<TransformObservation> {
 public:
  // fn(in, out): in has the inner observation, out gets new_space.nbytes().
  using Fn = std::function<void(const void* in, void* out)>;
  TransformObservation(std::unique_ptr<Env> env, Fn fn, Space new_space);
  const Space& observation_space() const override { return space_; }
  void Reset(std::optional<uint64_t> seed, void* obs, Info* info) override;
  StepResult Step(const void* action, void* obs) override;
  using Env::Reset;

 private:
  Fn fn_;
  Space space_;
  std::vector<uint8_t> scratch_;
};

class TransformReward : public WrapperBase<TransformReward> {
 public:
  using Fn = std::function<double(double)>;
  TransformReward(std::unique_ptr<Env> env, Fn fn);
  StepResult Step(const void* action, void* obs) override;
  double AgentReward(int agent) const override { RefuseAgentCall("reward", agent); }
  // The inner transition table's rewards are not this wrapper's.
  const TransitionModel* transition_model() const override { return nullptr; }

 private:
  Fn fn_;
};

}  // namespace rlforge

#endif  // RLFORGE_ENV_WRAPPERS_H_
