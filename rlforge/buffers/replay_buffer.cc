#include "rlforge/buffers/replay_buffer.h"

#include <cstring>

#include "rlforge/core/error.h"
#include "rlforge/core/state_io.h"

namespace rlforge {

ReplayBuffer::ReplayBuffer(int64_t capacity, int64_t obs_dim, int64_t mask_size)
    : capacity_(capacity), obs_dim_(obs_dim), mask_size_(mask_size) {
  RLF_CHECK_ARG(capacity >= 1, "replay buffer capacity must be >= 1, got ", capacity);
  obs_.assign(capacity * obs_dim, 0.f);
  next_obs_.assign(capacity * obs_dim, 0.f);
  reward_.assign(capacity, 0.f);
  action_.assign(capacity, 0);
  terminated_.assign(capacity, 0);
  next_mask_.assign(capacity * mask_size, 0);
}

size_t ReplayBuffer::bytes() const {
  return obs_.size() * 4 + next_obs_.size() * 4 + reward_.size() * 4 + action_.size() * 8 + terminated_.size() +
         next_mask_.size();
}

int64_t ReplayBuffer::Add(const float* obs, const float* next_obs, int64_t action, float reward, bool terminated,
                          const uint8_t* next_mask) {
  const int64_t slot = next_;
  std::memcpy(obs_.data() + next_ * obs_dim_, obs, obs_dim_ * sizeof(float));
  std::memcpy(next_obs_.data() + next_ * obs_dim_, next_obs, obs_dim_ * sizeof(float));
  action_[next_] = action;
  reward_[next_] = reward;
  terminated_[next_] = terminated;
  if (mask_size_) std::memcpy(next_mask_.data() + next_ * mask_size_, next_mask, mask_size_);
  next_ = (next_ + 1) % capacity_;
  if (size_ < capacity_) ++size_;
  return slot;
}

void ReplayBuffer::Batch::Resize(int64_t b, int64_t d, int64_t m) {
  obs.resize(b * d);
  next_obs.resize(b * d);
  reward.resize(b);
  action.resize(b);
  terminated.resize(b);
  next_mask.resize(b * m);
}

void ReplayBuffer::Sample(int64_t batch_size, Rng& rng, Batch* batch) const {
  RLF_CHECK(size_ > 0, "cannot sample an empty replay buffer");
  std::vector<int64_t> slots(batch_size);
  for (auto& s : slots) s = static_cast<int64_t>(rng.UniformInt(size_));
  Gather(slots, batch);
}

void ReplayBuffer::Gather(const std::vector<int64_t>& slots, Batch* batch) const {
  const int64_t batch_size = static_cast<int64_t>(slots.size());
  batch->Resize(batch_size, obs_dim_, mask_size_);
  for (int64_t k = 0; k < batch_size; ++k) {
    const int64_t i = slots[k];
    std::memcpy(batch->obs.data() + k * obs_dim_, obs_.data() + i * obs_dim_, obs_dim_ * sizeof(float));
    std::memcpy(batch->next_obs.data() + k * obs_dim_, next_obs_.data() + i * obs_dim_, obs_dim_ * sizeof(float));
    batch->reward[k] = reward_[i];
    batch->action[k] = action_[i];
    batch->terminated[k] = terminated_[i];
    if (mask_size_) std::memcpy(batch->next_mask.data() + k * mask_size_, next_mask_.data() + i * mask_size_, mask_size_);
  }
}

void ReplayBuffer::Save(std::string* out) const {
  StateWriter w(out);
  w(capacity_), w(obs_dim_), w(mask_size_), w(next_), w(size_);
  w(obs_), w(next_obs_), w(reward_), w(action_), w(terminated_), w(next_mask_);
}

void ReplayBuffer::Load(const std::string& in) {
  StateReader r(in, "replay buffer");
  int64_t cap, dim, mask;
  r(cap), r(dim), r(mask);
  RLF_CHECK(cap == capacity_ && dim == obs_dim_ && mask == mask_size_, "replay buffer state has a different shape");
  r(next_), r(size_);
  r(obs_), r(next_obs_), r(reward_), r(action_), r(terminated_), r(next_mask_);
  r.ExpectEnd();
}

}  // namespace rlforge
