// rlforge/algos/replay_dataset.h — an online agent's replay seeded with a
// dataset's transitions (config key `replay_dataset`, offline to online):
// DQN and QR-DQN, SAC, TD3 and DDPG start their first update phase with the
// dataset's experience already in the replay, as the fine-tuning recipes of
// offline RL do (e.g. Nair et al., 2020, AWAC; Lee et al., 2021).
//
// The dataset (Minari layout, rlforge/data/dataset.h) must have the env's
// spaces. Its transitions are stored as the agent stores its own: Discrete
// actions as indices (start removed), Box actions scaled to the networks'
// [-1, 1] by `scale`, the legal-action mask of each next observation when
// the replay keeps masks. A replay of a vector env of n envs chains env i's
// transitions n slots apart (n-step returns walk that chain), so the dataset
// is cut into n contiguous lanes added in rounds, lane i in env i's place;
// the last transition of each lane is marked as the end of its episode
// (truncated: it bootstraps from its own next observation), so that no
// n-step return runs from one lane into another or into the online data.
#ifndef RLFORGE_ALGOS_REPLAY_DATASET_H_
#define RLFORGE_ALGOS_REPLAY_DATASET_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rlforge/buffers/replay_buffer.h"
#include "rlforge/env/space.h"

namespace rlforge {

// The config key's help text (the same for every agent that has it).
inline constexpr const char* kReplayDatasetHelp =
    "dataset (Minari layout) whose transitions fill the replay before the first env step, e.g. to fine-tune "
    "after --init-from an offline run (\"\": none)";

// Box actions: env action (the space's dtype, raw bytes) -> scaled floats.
using ScaleActionFn = std::function<void(const uint8_t* env_action, float* scaled)>;

// Adds every transition of the dataset in `dir` to `replay` and returns the
// slots written, in order (for priorities) (InvalidArgument
// naming the problem: other spaces, no masks where the env has them, more
// transitions than the replay holds, a non-finite or out-of-space value).
std::vector<int64_t> SeedReplayFromDataset(const std::string& dir, const Space& obs_space, const Space& act_space,
                                   ReplayBuffer* replay, const ScaleActionFn& scale = nullptr);

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_REPLAY_DATASET_H_
