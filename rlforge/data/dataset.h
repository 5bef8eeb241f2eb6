// rlforge/data/dataset.h — offline datasets in Farama Minari's HDF5 format.
//
// A dataset is a directory holding
//   metadata.json    dataset_id, total_episodes, total_steps, data_format
//                    "hdf5", observation_space and action_space (each a JSON
//                    string, as minari.serialization writes them), env_spec
//                    (Gymnasium's EnvSpec JSON), algorithm_name, author,
//                    minari_version, optional ref_min_score / ref_max_score;
//   main_data.hdf5   one group episode_<i> per episode with attributes id,
//                    seed (when known) and total_steps, and the datasets
//                      observations  [T+1, obs...]  the space's dtype
//                      actions       [T, act...]    int64 (Discrete,
//                                    MultiDiscrete), float32 (Box), int8
//                      rewards       [T]            float64
//                      terminations  [T]            bool
//                      truncations   [T]            bool
//                      infos/action_mask [T+1, mask] bool (envs with masks)
// Booleans are stored as h5py stores numpy's bool: an HDF5 enum over int8
// with members FALSE = 0 and TRUE = 1, so that h5py (and Minari) read them
// back as bool arrays. rlforge's envs are named in env_spec as the Python
// package registers them with Gymnasium: id "rlforge/<ID>", entry point
// "rlforge.envs:RlforgeEnv", kwargs {"env_id": ID, ...the env kwargs}; a
// dataset that names another env spec (one Minari made from Gymnasium's
// CartPole-v1) is read as that env ID.
//
// In memory, a Dataset keeps every episode's rows back to back: observation
// rows (each episode's o_0..o_T) and step rows, with row[t] the observation
// row of step t (its next observation is row[t] + 1).
#ifndef RLFORGE_DATA_DATASET_H_
#define RLFORGE_DATA_DATASET_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rlforge/config/kwargs.h"
#include "rlforge/env/policy.h"
#include "rlforge/env/space.h"
#include "rlforge/env/vector_env.h"

namespace rlforge {

// The Minari version whose layout these files follow (metadata's
// minari_version; Minari refuses to load datasets of versions it does not know).
inline constexpr const char* kMinariVersion = "0.5.3";

struct DatasetInfo {
  std::string dataset_id;      // e.g. "rlforge/cartpole/expert-v0"
  std::string env_id;          // the env the data came from ("" when the metadata names none)
  Kwargs env_kwargs;
  // Kwargs of another library's env_spec (Gymnasium's, through Minari) that
  // rlforge's env of that ID does not take, as "key=value (why)": no such
  // kwarg, or a value it does not accept. Left out of env_kwargs, for the
  // reader to report. The ones it takes (lists in rlforge's format, and a
  // max_episode_steps other than the registered one) are in env_kwargs.
  std::vector<std::string> ignored_kwargs;
  // The env_spec is another library's (not written by rlforge record): its
  // episodes' random draws came from another generator.
  bool foreign_env_spec = false;
  std::string algorithm_name;  // the behaviour policy, e.g. "ppo", "random"
  std::string author = "rlforge";
  std::string description;
  std::optional<double> ref_min_score, ref_max_score;  // for normalized scores
  int64_t num_episodes_average_score = 0;              // episodes behind the reference scores
  std::string minari_version = kMinariVersion;
  Space observation_space, action_space;
};

// Why a dataset's reference scores are unusable ("" when usable or both
// absent): Minari keeps both or neither, finite, the maximum above the
// minimum (normalized scores divide by their difference).
std::string WhyBadReferenceScores(const DatasetInfo& info);

struct Dataset {
  DatasetInfo info;
  int64_t obs_bytes = 0;   // bytes per observation row
  int64_t act_bytes = 0;   // bytes per action
  int64_t mask_size = 0;   // bytes per legal-action mask (0: none stored)
  // Per observation row (steps + episodes rows).
  std::vector<uint8_t> obs;    // [rows, obs_bytes] in the observation space's dtype
  std::vector<uint8_t> masks;  // [rows, mask_size] legal actions at each observation (1 = legal)
  // Per step.
  std::vector<int64_t> row;       // observation row of the step
  std::vector<uint8_t> actions;   // [steps, act_bytes] in the action space's dtype
  std::vector<double> rewards;
  std::vector<uint8_t> terminated, truncated;
  // Per episode.
  std::vector<int64_t> episode_first_step;  // index of its first step
  std::vector<int64_t> episode_seed;        // reset seed, or -1 when not known

  int64_t steps() const { return static_cast<int64_t>(row.size()); }
  int64_t episodes() const { return static_cast<int64_t>(episode_first_step.size()); }
  int64_t rows() const { return steps() + episodes(); }
  int64_t episode_length(int64_t e) const {
    return (e + 1 < episodes() ? episode_first_step[e + 1] : steps()) - episode_first_step[e];
  }
  const uint8_t* observation(int64_t row_index) const { return obs.data() + row_index * obs_bytes; }
  const uint8_t* action(int64_t t) const { return actions.data() + t * act_bytes; }
  // Undiscounted return of each episode.
  std::vector<double> EpisodeReturns() const;
  // Where a step or an observation row is, for messages: "episode 3, step 7"
  // (as inspect and Minari's episode_<n> groups count them).
  std::string WhereStep(int64_t t) const;
  std::string WhereRow(int64_t row_index) const;
  // Starts an empty dataset for these spaces (with room for masks when mask_size > 0).
  static Dataset Empty(DatasetInfo info, int64_t mask_size);
  // Appends an episode: T + 1 observation rows (and masks, when mask_size > 0),
  // T actions, rewards and flags.
  void AddEpisode(const uint8_t* observations, const uint8_t* masks, const uint8_t* actions, const double* rewards,
                  const uint8_t* terminated, const uint8_t* truncated, int64_t T, int64_t seed);
};

// Writes `d` to `dir` (created; InvalidArgument when it already holds a
// dataset): main_data.hdf5 then metadata.json, each written to a temporary
// name and renamed, so a failed write leaves no dataset that looks complete.
// Image observations (IsMinariImageSpace, rlforge/data/jpeg.h) are stored as
// Minari stores them, one JPEG frame per observation (lossy: reading the
// dataset back gives the decoded frames).
void WriteDataset(const Dataset& d, const std::string& dir);
// InvalidArgument naming `env_id` when its observations cannot be stored:
// image observations of other than 1 or 3 channels (Minari's JPEG frames).
void CheckStorableObservations(const Space& obs_space, const std::string& env_id);

// Reads the dataset in `dir`. Error naming the file, the episode and the
// field when something is missing or malformed. With `problems` non-null,
// damage inside episodes (a missing, misshapen or unreadable field) is
// reported there, one line each, and the damaged episodes are skipped (what
// `rlforge inspect` needs); without it the first problem throws. Values are
// not checked here: non-finite ones are inspect's and the learners' to find.
Dataset ReadDataset(const std::string& dir, std::vector<std::string>* problems = nullptr);

// The metadata alone (metadata.json: spaces, env, reference scores), and the
// counts it states (-1 where absent).
DatasetInfo ReadDatasetInfo(const std::string& dir, int64_t* total_episodes = nullptr, int64_t* total_steps = nullptr);

// FNV-1a, 64 bits, of n bytes continuing from h: the dataset's fingerprint
// (offline checkpoints) and inspect's duplicate detection.
inline constexpr uint64_t kHashSeed = 1469598103934665603ULL;
uint64_t HashBytes(const void* data, size_t n, uint64_t h = kHashSeed);

// Minari's JSON serialization of a space (a JSON text; +-inf written as
// Python's json writes them, +-Infinity) and its inverse.
std::string SerializeSpace(const Space& space);
Space DeserializeSpace(const std::string& json);

// How `rlforge record` plays: `policy` acts on every env of `envs`; with
// probability epsilon a step's action is replaced by a uniformly random legal
// one (rng seeded with seed). Each env records a fixed quota of the episodes
// (floor or ceil of episodes / num_envs, as evaluation does, so short
// episodes are not favoured); episodes are stored in the order they end.
// Env i is reset with seed + i at the start.
struct RecordOptions {
  int64_t episodes = 100;
  uint64_t seed = 0;
  double epsilon = 0.0;
};
Dataset RecordDataset(VectorEnv& envs, Policy& policy, const RecordOptions& options, DatasetInfo info);

}  // namespace rlforge

#endif  // RLFORGE_DATA_DATASET_H_
