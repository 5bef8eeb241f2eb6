// rlforge/envs/toy_text/frozen_lake.h — FrozenLake-v1 / FrozenLake8x8-v1, as
// Gymnasium 1.3.
//
// Cross a frozen lake from S to G without falling into a hole H. Tiles:
// S start, F frozen, H hole, G goal. State = row * ncol + col (Discrete(nrow *
// ncol)); actions 0 left, 1 down, 2 right, 3 up (Discrete(4)); moves into the
// border leave the agent in place.
//   is_slippery (default true): the agent moves in the intended direction with
//     probability success_rate (default 1/3) and in each of the two
//     perpendicular directions with probability (1 - success_rate) / 2, the
//     outcomes listed as [(a - 1) mod 4, a, (a + 1) mod 4].
//   reward_schedule (goal, hole, frozen) = (1, 0, 0): reward for the tile
//     entered. Entering G or H terminates; G sets info is_success = 1.
// Maps: map_name "4x4" (FrozenLake-v1) or "8x8" (FrozenLake8x8-v1); `desc`
// gives a custom map as rows joined by '/' (e.g. "SFF/FHF/FFG"); map_name
// "random" generates a map as Gymnasium's generate_random_map: each tile frozen
// with probability map_p (0.8), S at the top-left, G at the bottom-right,
// redrawn until a path exists (depth-first search), from map_seed.
// The start is drawn uniformly among S tiles. TimeLimits 100 and 200.
#ifndef RLFORGE_ENVS_TOY_TEXT_FROZEN_LAKE_H_
#define RLFORGE_ENVS_TOY_TEXT_FROZEN_LAKE_H_

#include <memory>
#include <string>
#include <vector>

#include "rlforge/env/env.h"
#include "rlforge/envs/toy_text/tabular_env.h"

namespace rlforge {

struct FrozenLakeConfig {
  // Rows of the map; empty means "use map_name".
  std::vector<std::string> desc;
  // "4x4", "8x8" or "random".
  std::string map_name = "4x4";
  // Slippery ice: see the header comment.
  bool is_slippery = true;
  // Probability of moving as intended on slippery ice.
  double success_rate = 1.0 / 3.0;
  // Rewards for entering the goal, a hole, a frozen tile.
  std::vector<double> reward_schedule = {1, 0, 0};
  // Random maps: side length, probability of a frozen tile, generator seed.
  int map_size = 8;
  double map_p = 0.8;
  uint64_t map_seed = 0;
};

// Gymnasium's generate_random_map: a size x size map with a path from S to G.
// Random maps: at most kMaxFrozenLakeMapSize tiles a side; a map is drawn
// until one has a path from S to G, at most kMaxFrozenLakeMapTries times
// (InvalidArgument then: map_p is too low).
inline constexpr int kMaxFrozenLakeMapSize = 1024;
inline constexpr int kMaxFrozenLakeMapTries = 10000;
std::vector<std::string> GenerateRandomFrozenLakeMap(int size, double p, uint64_t seed);

class FrozenLake : public EnvBase<FrozenLake> {
 public:
  enum Action : int64_t { kLeft = 0, kDown = 1, kRight = 2, kUp = 3 };

  explicit FrozenLake(const FrozenLakeConfig& config = {}, std::string name = "FrozenLake-v1");

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
  const std::vector<std::string>& desc() const { return *desc_; }
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

 private:
  std::string name_;
  std::shared_ptr<const std::vector<std::string>> desc_;
  std::shared_ptr<const TransitionModel> model_;
  int nrow_, ncol_;
  Space obs_space_, act_space_;
  int64_t s_ = 0;
  int64_t last_action_ = -1;
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_TOY_TEXT_FROZEN_LAKE_H_
