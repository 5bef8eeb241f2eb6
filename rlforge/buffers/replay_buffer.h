// rlforge/buffers/replay_buffer.h — uniform FIFO experience replay in ring
// arrays (torch-free).
//
// Fields are stored in contiguous arrays of fixed capacity, allocated once:
//   obs [cap, obs_dim] float, next_obs [cap, obs_dim] float, action [cap]
//   int64, reward [cap] float, terminated [cap] uint8, next_mask [cap, A]
//   uint8 (only when the env has masks).
// When full, the oldest transition is overwritten. `terminated` (not
// truncated) is stored: a truncated transition bootstraps from next_obs,
// which holds the final observation of the episode. Adding and sampling never
// allocate; a sample copies rows into the caller's batch arrays.
#ifndef RLFORGE_BUFFERS_REPLAY_BUFFER_H_
#define RLFORGE_BUFFERS_REPLAY_BUFFER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "rlforge/core/rng.h"

namespace rlforge {

class ReplayBuffer {
 public:
  // mask_size 0: no masks stored.
  ReplayBuffer(int64_t capacity, int64_t obs_dim, int64_t mask_size);

  // Returns the slot written.
  int64_t Add(const float* obs, const float* next_obs, int64_t action, float reward, bool terminated,
              const uint8_t* next_mask);
  int64_t size() const { return size_; }
  int64_t capacity() const { return capacity_; }
  int64_t obs_dim() const { return obs_dim_; }
  int64_t mask_size() const { return mask_size_; }
  // Bytes of storage (for the memory benchmark).
  size_t bytes() const;

  struct Batch {
    std::vector<float> obs, next_obs, reward;  // [B, obs_dim], [B, obs_dim], [B]
    std::vector<int64_t> action;               // [B]
    std::vector<uint8_t> terminated;           // [B]
    std::vector<uint8_t> next_mask;            // [B, mask_size]
    void Resize(int64_t batch, int64_t obs_dim, int64_t mask_size);
  };
  // Uniform sampling with replacement; `batch` is resized only when needed.
  void Sample(int64_t batch_size, Rng& rng, Batch* batch) const;
  // Copies the given slots into batch (prioritized sampling picks them).
  void Gather(const std::vector<int64_t>& slots, Batch* batch) const;

  // Whole contents, for checkpoints.
  void Save(std::string* out) const;
  void Load(const std::string& in);

 private:
  int64_t capacity_, obs_dim_, mask_size_;
  int64_t next_ = 0, size_ = 0;
  std::vector<float> obs_, next_obs_, reward_;
  std::vector<int64_t> action_;
  std::vector<uint8_t> terminated_, next_mask_;
};

}  // namespace rlforge

#endif  // RLFORGE_BUFFERS_REPLAY_BUFFER_H_
