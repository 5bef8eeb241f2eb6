// rlforge/envs/toy_text/taxi.h — Taxi-v4 (and its older name Taxi-v3), as
// Gymnasium 1.3 (Dietterich, 2000).
//
// A 5x5 grid with walls and four stands R(0,0), G(0,4), Y(4,0), B(4,3):
//   +---------+
//   |R: | : :G|
//   | : | : : |
//   | : : : : |
//   | | : | : |
//   |Y| : |B: |
//   +---------+
// State = ((row * 5 + col) * 5 + passenger) * 4 + destination, Discrete(500);
// passenger 0-3 = at a stand, 4 = in the taxi. Actions: 0 south, 1 north,
// 2 east, 3 west, 4 pickup, 5 dropoff. Reward -1 per step, +20 for delivering
// (terminates, is_success = 1), -10 for an illegal pickup or dropoff.
// Dropping the passenger at another stand is legal (-1) and leaves them there.
// The start is uniform over the 300 states with the passenger at a stand
// other than the destination. TimeLimit 200 (registry).
//
// is_rainy: a move goes as intended with probability rainy_probability (0.8)
// and slips to the left or right of the heading with (1 - p) / 2 each, listed
// [intended, left, right]; a slip into a wall or the border stays put, and
// when the intended move itself is blocked the taxi does not move at all
// (Taxi-v4's fix of the v3 rainy dynamics).
// fickle_passenger: with probability fickle_probability (0.3), drawn at reset,
// the passenger changes destination (uniformly among the other three) on the
// first step that moves the taxi after they boarded; once per episode.
// The legal-action mask is Gymnasium's info["action_mask"]: actions that
// change the state. Masked actions are still allowed (a wasted step).
#ifndef RLFORGE_ENVS_TOY_TEXT_TAXI_H_
#define RLFORGE_ENVS_TOY_TEXT_TAXI_H_

#include <array>
#include <memory>
#include <string>

#include "rlforge/env/env.h"
#include "rlforge/envs/toy_text/tabular_env.h"

namespace rlforge {

struct TaxiConfig {
  // Moves slip sideways in the rain.
  bool is_rainy = false;
  // The passenger may change destination once after boarding.
  bool fickle_passenger = false;
  // Probability that a rainy move goes as intended.
  double rainy_probability = 0.8;
  // Probability (per episode) that the passenger is fickle.
  double fickle_probability = 0.3;
};

class Taxi : public EnvBase<Taxi> {
 public:
  enum Action : int64_t { kSouth = 0, kNorth, kEast, kWest, kPickup, kDropoff };
  static constexpr std::array<std::array<int, 2>, 4> kLocs = {{{0, 0}, {0, 4}, {4, 0}, {4, 3}}};

  explicit Taxi(const TaxiConfig& config = {}, std::string name = "Taxi-v4");

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return name_; }
  std::string RenderText() const override;
  bool RenderRgb(Image* out) const override;
  bool has_action_mask() const override { return true; }
  void ActionMask(uint8_t* mask) const override;
  bool defines_success() const override { return true; }

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);

  static int64_t Encode(int row, int col, int pass_loc, int dest);
  static std::array<int, 4> Decode(int64_t state);  // row, col, pass_loc, dest

  const TransitionModel& model() const { return *model_; }
  const TransitionModel* transition_model() const override { return model_.get(); }
  // Continues the episode from state obs (Gymnasium: env.unwrapped.s = obs).
  bool SetFromObservation(const void* obs) override {
    s_ = StateOfObservation(obs, obs_space_, name_), set_running(true);
    return true;
  }
  int64_t state() const { return s_; }
  void set_state(int64_t s) { s_ = s; }
  bool fickle_pending() const { return fickle_step_; }
  template <class A>
  void Fields(A& ar) {
    ar(s_), ar(last_action_), ar(fickle_step_);
  }

 private:
  std::string name_;
  TaxiConfig config_;
  std::shared_ptr<const TransitionModel> model_;
  Space obs_space_, act_space_;
  int64_t s_ = 0;
  int64_t last_action_ = -1;
  bool fickle_step_ = false;
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_TOY_TEXT_TAXI_H_
