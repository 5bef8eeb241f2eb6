// rlforge/envs/toy_text/cliff_walking.h — CliffWalking-v1 and
// CliffWalkingSlippery-v1 (CliffWalking-v0 is the older name of the first), as
// Gymnasium 1.3 (Sutton & Barto, Example 6.6).
//
// A 4x12 grid; start (3, 0) = state 36, goal (3, 11) = state 47, cliff along
// (3, 1..10). State = row * 12 + col, Discrete(48); actions 0 up, 1 right,
// 2 down, 3 left. Each step costs -1; stepping onto the cliff costs -100 and
// puts the agent back at the start (the episode goes on). Entering the goal
// terminates (reward -1, is_success = 1).
// is_slippery: the move goes in each of [(a - 1) mod 4, a, (a + 1) mod 4] with
// probability 1/3. No time limit is registered, as in Gymnasium.
#ifndef RLFORGE_ENVS_TOY_TEXT_CLIFF_WALKING_H_
#define RLFORGE_ENVS_TOY_TEXT_CLIFF_WALKING_H_

#include <memory>
#include <string>

#include "rlforge/env/env.h"
#include "rlforge/envs/toy_text/tabular_env.h"

namespace rlforge {

class CliffWalking : public EnvBase<CliffWalking> {
 public:
  enum Action : int64_t { kUp = 0, kRight, kDown, kLeft };
  static constexpr int kRows = 4, kCols = 12;
  static constexpr int64_t kStart = 36, kGoal = 47;

  explicit CliffWalking(bool is_slippery = false, std::string name = "CliffWalking-v1");

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return name_; }
  std::string RenderText() const override;
  bool RenderRgb(Image* out) const override;
  bool defines_success() const override { return true; }

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);

  const TransitionModel& model() const { return *model_; }
  const TransitionModel* transition_model() const override { return model_.get(); }
  // Continues the episode from state obs (Gymnasium: env.unwrapped.s = obs).
  bool SetFromObservation(const void* obs) override {
    s_ = StateOfObservation(obs, obs_space_, name_), set_running(true);
    return true;
  }
  int64_t state() const { return s_; }
  void set_state(int64_t s) { s_ = s; }
  template <class A>
  void Fields(A& ar) {
    ar(s_), ar(last_action_);
  }
  static bool IsCliff(int row, int col) { return row == 3 && col >= 1 && col <= 10; }

 private:
  std::string name_;
  std::shared_ptr<const TransitionModel> model_;
  Space obs_space_, act_space_;
  int64_t s_ = kStart;
  int64_t last_action_ = -1;
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_TOY_TEXT_CLIFF_WALKING_H_
