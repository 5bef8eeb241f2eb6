// rlforge/env/vector_env.h — N copies of an env stepped as a batch.
//
// Buffers (owned here, contiguous, stable for the VectorEnv's lifetime, so a
// learner can wrap them as tensors once, without copying):
//   observations()        [N, obs]   in the observation space's dtype
//   rewards()             [N]        float32
//   terminated()          [N]        uint8 (0/1)
//   truncated()           [N]        uint8 (0/1)
//   final_observations()  [N, obs]   row i valid when env i's episode ended on
//                                    the last Step (terminated or truncated)
//   action_masks()        [N, mask]  uint8, for the current observations; null
//                                    when the env has no mask
// Actions are read from a caller buffer [N, act] in the action space's dtype.
//
// Autoreset, as Gymnasium 1.x names its three modes (VectorEnvOptions::autoreset):
//   kSameStep (the default, what every learner here uses): when env i's
//     episode ends in Step, its final observation goes to
//     final_observations() row i, it is reset at once (no seed: its RNG
//     continues), and observations() row i holds the first observation of the
//     next episode. rewards()/terminated()/truncated() and info(i) describe
//     the step that ended the episode; episode_return(i) and episode_length(i)
//     give its totals. A learner bootstraps a truncated step from
//     final_observations(), never a terminated one.
//   kNextStep: observations() row i keeps the final observation; the next
//     Step resets env i instead of stepping it (its action is ignored), with
//     reward 0, both flags false and info(i) the reset's info.
//   kDisabled: observations() row i keeps the final observation, and env i
//     must be reset with ResetMasked before it is stepped again (stepping it
//     is an error).
// ended() [N] uint8 says which envs' episodes ended on the last Step.
//
// Seeding: Reset(seed) resets env i with seed + i.
// Threads: num_threads = 1 is the synchronous vector env; with T > 1 the envs
// are split into T contiguous chunks stepped by a ThreadPool of T threads (the
// calling thread included). Results are identical for any T: each env owns its
// RNG. Step and Reset never allocate.
#ifndef RLFORGE_ENV_VECTOR_ENV_H_
#define RLFORGE_ENV_VECTOR_ENV_H_

#include <algorithm>
#include <functional>
#include <type_traits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rlforge/core/thread_pool.h"
#include "rlforge/env/env.h"
#include "rlforge/config/kwargs.h"

namespace rlforge {

// At most this many envs in one VectorEnv (num_envs, --num-envs).
inline constexpr int64_t kMaxNumEnvs = 65536;

enum class AutoresetMode : uint8_t { kSameStep, kNextStep, kDisabled };
// "same_step", "next_step", "disabled" (Gymnasium's AutoresetMode values).
const char* AutoresetModeName(AutoresetMode mode);
AutoresetMode ParseAutoresetMode(const std::string& name);  // InvalidArgument naming the valid ones

struct VectorEnvOptions {
  // Number of env copies (>= 1).
  int num_envs = 1;
  // Threads stepping them, the caller included; 1 = synchronous.
  int num_threads = 1;
  // What happens when an episode ends (see above).
  AutoresetMode autoreset = AutoresetMode::kSameStep;
};

class VectorEnv {
 public:
  using EnvFactory = std::function<std::unique_ptr<Env>()>;

  VectorEnv(const EnvFactory& make_env, const VectorEnvOptions& options);
  // N copies of Make(id, kwargs).
  static std::unique_ptr<VectorEnv> Make(const std::string& id, const Kwargs& kwargs,
                                         const VectorEnvOptions& options);

  int num_envs() const { return num_envs_; }
  int num_threads() const { return pool_ ? pool_->num_threads() : 1; }
  AutoresetMode autoreset_mode() const { return autoreset_; }
  const Space& single_observation_space() const { return obs_space_; }
  const Space& single_action_space() const { return act_space_; }
  bool has_action_mask() const { return mask_size_ > 0; }
  int64_t mask_size() const { return mask_size_; }

  // Resets every env; with a seed, env i gets seed + i. The first Reset
  // without one is Reset(0)'s (as EnvPool's default seed): the copies start
  // apart, not all on one env's default stream.
  void Reset(std::optional<uint64_t> seed);
  // Resets only the envs whose mask entry is nonzero ([N] bytes); with a
  // seed, env i gets seed + i. The others keep their state and buffer rows.
  void ResetMasked(std::optional<uint64_t> seed, const uint8_t* mask);
  // Steps every env with its row of `actions` ([N, act] in the action dtype).
  void Step(const void* actions);

  const void* observations() const { return obs_.data(); }
  template <typename T>
  const T* observations_as() const {
    CheckDType<T>();
    return reinterpret_cast<const T*>(obs_.data());
  }
  const float* rewards() const { return rewards_.data(); }
  const uint8_t* terminated() const { return terminated_.data(); }
  const uint8_t* truncated() const { return truncated_.data(); }
  // [N] uint8: env i's episode ended on the last Step (terminated or truncated).
  const uint8_t* ended() const { return ended_.data(); }
  const void* final_observations() const { return final_obs_.data(); }
  template <typename T>
  const T* final_observations_as() const {
    CheckDType<T>();
    return reinterpret_cast<const T*>(final_obs_.data());
  }
  const uint8_t* action_masks() const { return mask_size_ ? masks_.data() : nullptr; }
  // [N, mask]: row i is the mask of env i's final observation when its
  // episode ended on the last Step (for bootstrapping at truncation).
  const uint8_t* final_action_masks() const { return mask_size_ ? final_masks_.data() : nullptr; }
  const Info& info(int i) const { return infos_[i]; }
  // Same-step autoreset: the info of the reset that followed an episode's end
  // on the last Step (info(i) keeps the ending step's).
  const Info& reset_info(int i) const { return reset_infos_[i]; }
  double episode_return(int i) const { return final_return_[i]; }
  int64_t episode_length(int i) const { return final_length_[i]; }

  // Every env's state and the batch buffers (all but info(i)), for
  // checkpoints; LoadState needs a VectorEnv of the same env, kwargs and size.
  void SaveState(std::string* out) const;
  void LoadState(std::string_view in);

  Env& env(int i) { return *envs_[i]; }
  const Env& env(int i) const { return *envs_[i]; }
  // Simultaneous-move multi-agent envs (Env::num_agents() > 1): the other
  // agents' actions [N, act] are set before each Step; their observations
  // [N, obs] and masks [N, mask] are read after it (rows whose episode ended
  // have been reset: the new episode's), and their rewards [N] of that Step
  // (taken before any reset; 0 on a step that reset the env, as agent 0's).
  // Agent 0 is the vector env's usual batch.
  int num_agents() const { return envs_[0]->num_agents(); }
  void SetAgentActions(int agent, const void* actions);
  void AgentObservations(int agent, void* out) const;
  void AgentActionMasks(int agent, uint8_t* out) const;
  void AgentRewards(int agent, float* out) const;
  bool has_conditional_action_mask() const { return envs_[0]->has_conditional_action_mask(); }
  // Env i's conditional mask (see Env::ConditionalActionMask).
  ConditionalMaskFn conditional_mask_fn() const {
    return [this](int row, const int64_t* prefix, int dim, uint8_t* mask) {
      envs_[row]->ConditionalActionMask(prefix, dim, mask);
    };
  }

 private:
  template <typename T>
  void CheckDType() const;
  void StepRange(int lo, int hi, const uint8_t* actions);
  void ResetRange(int lo, int hi, std::optional<uint64_t> seed, const uint8_t* mask);
  // Calls fn(lo, hi) on contiguous chunks, one per thread. A template (not a
  // std::function) so that a step allocates nothing.
  template <typename Fn>
  void ForEachChunk(Fn&& fn);

  int num_envs_;
  std::vector<std::unique_ptr<Env>> envs_;
  Space obs_space_, act_space_;
  size_t obs_bytes_, act_bytes_;
  int64_t mask_size_;
  std::unique_ptr<ThreadPool> pool_;
  AutoresetMode autoreset_;

  std::vector<uint8_t> obs_;          // [N, obs_bytes]
  std::vector<uint8_t> final_obs_;    // [N, obs_bytes]
  std::vector<float> rewards_;        // [N]
  // Agents 1.. of multi-agent envs: their rewards of the last Step, [agents - 1, N],
  // taken right after each env's Step (before a same-step reset; 0 on a reset step).
  std::vector<float> agent_rewards_;
  void TakeAgentRewards(int i, bool reset_step);
  std::vector<uint8_t> terminated_;   // [N]
  std::vector<uint8_t> truncated_;    // [N]
  std::vector<uint8_t> ended_;        // [N] the episode ended on the last Step
  std::vector<uint8_t> pending_;      // [N] next-step/disabled: ended, not reset yet
  bool reset_before_ = false;         // a Reset has run (the first unseeded one seeds 0)
  std::vector<uint8_t> masks_;        // [N, mask_size]
  std::vector<uint8_t> final_masks_;  // [N, mask_size]
  std::vector<Info> infos_;           // [N]
  std::vector<Info> reset_infos_;     // [N]
  std::vector<double> returns_;       // [N] running return of the current episode
  std::vector<int64_t> lengths_;      // [N]
  std::vector<double> final_return_;  // [N] totals of the episode that just ended
  std::vector<int64_t> final_length_; // [N]
};

template <typename T>
void VectorEnv::CheckDType() const {
  DType want;
  if constexpr (std::is_same_v<T, float>) want = DType::kFloat32;
  else if constexpr (std::is_same_v<T, double>) want = DType::kFloat64;
  else if constexpr (std::is_same_v<T, int64_t>) want = DType::kInt64;
  else if constexpr (std::is_same_v<T, int8_t>) want = DType::kInt8;
  else if constexpr (std::is_same_v<T, uint8_t>) want = DType::kUInt8;
  else static_assert(sizeof(T) == 0, "unsupported observation element type");
  RLF_CHECK(want == obs_space_.dtype(), "observations are ", DTypeName(obs_space_.dtype()), ", not ",
            DTypeName(want));
}

template <typename Fn>
void VectorEnv::ForEachChunk(Fn&& fn) {
  if (!pool_) {
    fn(0, num_envs_);
    return;
  }
  struct Chunks {
    std::remove_reference_t<Fn>* fn;
    int size;
    int n;
  };
  const int t = pool_->num_threads();
  Chunks chunks{&fn, (num_envs_ + t - 1) / t, num_envs_};
  const Chunks* c = &chunks;  // one captured pointer fits std::function's inline buffer
  pool_->ParallelFor(t, [c](int k) {
    const int lo = k * c->size, hi = std::min(c->n, lo + c->size);
    if (lo < hi) (*c->fn)(lo, hi);
  });
}

}  // namespace rlforge

#endif  // RLFORGE_ENV_VECTOR_ENV_H_
