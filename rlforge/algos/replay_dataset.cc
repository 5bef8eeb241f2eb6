#include "rlforge/algos/replay_dataset.h"

#include <cmath>
#include <cstring>

#include "rlforge/core/error.h"
#include "rlforge/data/dataset.h"

namespace rlforge {

std::vector<int64_t> SeedReplayFromDataset(const std::string& dir, const Space& obs_space, const Space& act_space,
                                   ReplayBuffer* replay, const ScaleActionFn& scale) {
  const Dataset d = ReadDataset(dir);
  RLF_CHECK_ARG(d.info.observation_space == obs_space && d.info.action_space == act_space, "replay_dataset ", dir,
                " has observation space ", d.info.observation_space.ToString(), " and action space ",
                d.info.action_space.ToString(), ", but the env has ", obs_space.ToString(), " and ",
                act_space.ToString());
  const int64_t T = d.steps(), m = replay->mask_size();
  RLF_CHECK_ARG(T > 0, "replay_dataset ", dir, " holds no transitions");
  RLF_CHECK_ARG(T <= replay->capacity(), "replay_dataset ", dir, " has ", T,
                " transitions, more than the replay holds (buffer_size ", replay->capacity(), ")");
  RLF_CHECK_ARG(m == 0 || d.mask_size == m, "replay_dataset ", dir,
                " stores no legal-action masks, and the env has them (record it with rlforge record)");
  const bool box = act_space.kind() == SpaceKind::kBox;
  RLF_CHECK(!box || scale, "SeedReplayFromDataset: Box actions need a scale function");
  for (int64_t row = 0; row < d.rows(); ++row) {
    const std::string why = obs_space.WhyNotFinite(d.observation(row));
    RLF_CHECK_ARG(why.empty(), "replay_dataset ", dir, ": ", d.WhereRow(row), ": ", why);
  }
  for (int64_t t = 0; t < T; ++t) {
    const std::string why = box ? act_space.WhyNotFinite(d.action(t)) : act_space.WhyNotContained(d.action(t));
    RLF_CHECK_ARG(why.empty(), "replay_dataset ", dir, ": ", d.WhereStep(t), ": the action: ", why);
    RLF_CHECK_ARG(std::isfinite(d.rewards[t]), "replay_dataset ", dir, ": ", d.WhereStep(t), ": the reward is not finite");
  }
  // n lanes of contiguous transitions; lane i has q or q + 1 of them (the
  // longer ones first, so every round but the last is complete).
  const int64_t n = replay->stride(), q = T / n, r = T % n;
  std::vector<int64_t> start(static_cast<size_t>(n) + 1, 0);
  for (int64_t i = 0; i < n; ++i) start[i + 1] = start[i] + q + (i < r ? 1 : 0);
  std::vector<int64_t> slots;
  slots.reserve(static_cast<size_t>(T));
  std::vector<float> scaled(box ? static_cast<size_t>(act_space.size()) : 0);
  for (int64_t k = 0; k <= q; ++k) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t t = start[i] + k;
      if (t >= start[i + 1]) continue;
      const bool lane_end = t + 1 == start[i + 1];
      const uint8_t* o = d.observation(d.row[t]);
      const uint8_t* next = d.observation(d.row[t] + 1);
      const uint8_t* next_mask = m ? d.masks.data() + (d.row[t] + 1) * m : nullptr;
      const bool term = d.terminated[t] != 0, trunc = d.truncated[t] != 0 || (lane_end && !term);
      const auto reward = static_cast<float>(d.rewards[t]);
      int64_t slot = 0;
      if (box) {
        scale(d.action(t), scaled.data());
        slot = replay->Add(o, next, scaled.data(), reward, term, trunc, next_mask);
      } else {
        int64_t a = 0;
        std::memcpy(&a, d.action(t), sizeof(a));
        slot = replay->Add(o, next, a - act_space.start(), reward, term, trunc, next_mask);
      }
      slots.push_back(slot);
    }
  }
  return slots;
}

}  // namespace rlforge
