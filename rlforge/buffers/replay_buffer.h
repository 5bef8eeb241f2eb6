// rlforge/buffers/replay_buffer.h — FIFO experience replay in ring arrays
// (torch-free), with uniform, recency-weighted and caller-chosen (prioritized)
// sampling and n-step returns.
//
// Fields are stored in contiguous arrays of fixed capacity, allocated once:
//   obs [cap, obs_bytes] and next_obs [cap, obs_bytes] as the env's raw bytes
//   (so uint8 images stay uint8 and a Discrete observation is one int64),
//   action [cap, action_bytes] raw (one int64 for Discrete actions, or
//   action_dim float32 values for continuous ones, e.g. SAC's actions scaled
//   to [-1, 1]), reward [cap] float, flags [cap] uint8 (bit 0:
//   terminated, bit 1: the episode ended here, terminated or truncated),
//   next_mask [cap, A] uint8 (only when the env has masks).
// When full, the oldest transition is overwritten. A truncated transition
// bootstraps from next_obs, which holds the final observation of the episode.
// Adding and sampling never allocate once the caller's batch has its size.
// The arrays are allocated uninitialized, so the memory of a large buffer is
// only committed as transitions fill it; checkpoints hold the filled rows only.
//
// Transitions from a vector env of `stride` envs are added one step at a time
// in env order, so env i's next transition sits `stride` slots later. n-step
// gathering walks that chain from a sampled slot:
//   R = sum_{k<K} gamma^k r_{t+k},  next_obs = s_{t+K},  discount = gamma^K,
// where K = n, or fewer when the episode ends first (then `terminated` is that
// last transition's) or the newest stored transition is reached. A learner
// then targets R + discount (1 - terminated) max_a Q(next_obs, a).
#ifndef RLFORGE_BUFFERS_REPLAY_BUFFER_H_
#define RLFORGE_BUFFERS_REPLAY_BUFFER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rlforge/core/rng.h"

namespace rlforge {

class ReplayBuffer {
 public:
  // obs_bytes: bytes of one observation; mask_size 0: no masks stored;
  // stride: number of envs adding one transition each per step;
  // action_dim 0: Discrete actions (one int64), else that many float32 values.
  ReplayBuffer(int64_t capacity, int64_t obs_bytes, int64_t mask_size, int64_t stride = 1, int64_t action_dim = 0);

  // Returns the slot written. The int64 form for Discrete actions, the
  // float form (action_dim values) for continuous ones.
  int64_t Add(const void* obs, const void* next_obs, int64_t action, float reward, bool terminated, bool truncated,
              const uint8_t* next_mask);
  int64_t Add(const void* obs, const void* next_obs, const float* action, float reward, bool terminated,
              bool truncated, const uint8_t* next_mask);
  int64_t size() const { return size_; }
  int64_t capacity() const { return capacity_; }
  int64_t obs_bytes() const { return obs_bytes_; }
  int64_t mask_size() const { return mask_size_; }
  int64_t stride() const { return stride_; }
  int64_t action_dim() const { return action_dim_; }
  // Bytes of storage (for the memory test).
  size_t bytes() const;

  // The slot `age` transitions older than the newest (age 0: the newest).
  int64_t SlotOfAge(int64_t age) const;
  // Uniform over the stored transitions.
  int64_t SampleUniform(Rng& rng) const { return static_cast<int64_t>(rng.UniformInt(size_)); }
  // Recency-weighted: P(age = k) proportional to decay^k over the stored
  // transitions (decay in (0, 1]; 1 is uniform). Inverse-CDF draw, O(1).
  int64_t SampleRecent(Rng& rng, double decay) const;
  // The same for every entry of *slots (the normalizer computed once).
  void SampleRecent(Rng& rng, double decay, std::vector<int64_t>* slots) const;

  struct Batch {
    std::vector<uint8_t> obs, next_obs;        // [B, obs_bytes] raw
    std::vector<float> reward, discount;       // [B]: n-step return, gamma^K
    std::vector<int64_t> action;               // [B] (Discrete actions)
    std::vector<float> action_vec;             // [B, action_dim] (continuous actions)
    std::vector<uint8_t> terminated;           // [B]
    std::vector<uint8_t> next_mask;            // [B, mask_size]
    void Resize(int64_t batch, int64_t obs_bytes, int64_t mask_size, int64_t action_dim = 0);
  };
  // Copies the given slots into batch with n-step returns (n = 1: the stored
  // transition, discount = gamma).
  void Gather(const std::vector<int64_t>& slots, int n_step, double gamma, Batch* batch) const;
  // Uniform sampling with replacement, one-step (tests and benchmarks).
  void Sample(int64_t batch_size, Rng& rng, Batch* batch) const;

  // Whole contents, for checkpoints (LoadState needs a buffer of the same shape).
  void SaveState(std::string* out) const;
  void LoadState(std::string_view in);

  static constexpr uint8_t kTerminated = 1, kEpisodeEnd = 2;

 private:
  int64_t AddCommon(const void* obs, const void* next_obs, const void* action, float reward, bool terminated,
                    bool truncated, const uint8_t* next_mask);

  int64_t capacity_, obs_bytes_, mask_size_, stride_, action_dim_, action_bytes_;
  int64_t next_ = 0, size_ = 0;
  std::unique_ptr<uint8_t[]> obs_, next_obs_;
  std::unique_ptr<float[]> reward_;
  std::unique_ptr<uint8_t[]> action_;  // [cap, action_bytes_]
  std::unique_ptr<uint8_t[]> flags_, next_mask_;
};

}  // namespace rlforge

#endif  // RLFORGE_BUFFERS_REPLAY_BUFFER_H_
