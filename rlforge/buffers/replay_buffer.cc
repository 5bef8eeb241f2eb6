#include "rlforge/buffers/replay_buffer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "rlforge/core/error.h"
#include "rlforge/core/memory.h"
#include "rlforge/core/state_io.h"

namespace rlforge {

ReplayBuffer::ReplayBuffer(int64_t capacity, int64_t obs_bytes, int64_t mask_size, int64_t stride,
                           int64_t action_dim)
    : capacity_(capacity),
      obs_bytes_(obs_bytes),
      mask_size_(mask_size),
      stride_(stride),
      action_dim_(action_dim),
      action_bytes_(action_dim > 0 ? action_dim * static_cast<int64_t>(sizeof(float)) : sizeof(int64_t)) {
  RLF_CHECK_ARG(capacity >= 1, "replay buffer capacity must be >= 1, got ", capacity);
  RLF_CHECK_ARG(stride >= 1, "replay buffer stride must be >= 1, got ", stride);
  RLF_CHECK_ARG(action_dim >= 0, "replay buffer action_dim must be >= 0, got ", action_dim);
  CheckFitsInMemory(StrCat("a replay buffer of ", capacity, " transitions (config key 'buffer_size')"),
                    static_cast<double>(capacity) *
                        (2.0 * static_cast<double>(obs_bytes) + sizeof(float) + static_cast<double>(action_bytes_) +
                         1 + static_cast<double>(mask_size)));
  // new T[n] leaves the memory uninitialized: untouched pages are never committed.
  obs_.reset(new uint8_t[capacity * obs_bytes]);
  next_obs_.reset(new uint8_t[capacity * obs_bytes]);
  reward_.reset(new float[capacity]);
  action_.reset(new uint8_t[capacity * action_bytes_]);
  flags_.reset(new uint8_t[capacity]);
  next_mask_.reset(new uint8_t[std::max<int64_t>(1, capacity * mask_size)]);
}

size_t ReplayBuffer::bytes() const {
  return static_cast<size_t>(capacity_) *
         (2 * obs_bytes_ + sizeof(float) + static_cast<size_t>(action_bytes_) + 1 + static_cast<size_t>(mask_size_));
}

int64_t ReplayBuffer::Add(const void* obs, const void* next_obs, int64_t action, float reward, bool terminated,
                          bool truncated, const uint8_t* next_mask) {
  RLF_CHECK(action_dim_ == 0, "this replay buffer stores continuous actions");
  return AddCommon(obs, next_obs, &action, reward, terminated, truncated, next_mask);
}

int64_t ReplayBuffer::Add(const void* obs, const void* next_obs, const float* action, float reward, bool terminated,
                          bool truncated, const uint8_t* next_mask) {
  RLF_CHECK(action_dim_ > 0, "this replay buffer stores Discrete actions");
  return AddCommon(obs, next_obs, action, reward, terminated, truncated, next_mask);
}

int64_t ReplayBuffer::AddCommon(const void* obs, const void* next_obs, const void* action, float reward,
                                bool terminated, bool truncated, const uint8_t* next_mask) {
  const int64_t slot = next_;
  std::memcpy(obs_.get() + slot * obs_bytes_, obs, obs_bytes_);
  std::memcpy(next_obs_.get() + slot * obs_bytes_, next_obs, obs_bytes_);
  std::memcpy(action_.get() + slot * action_bytes_, action, action_bytes_);
  reward_[slot] = reward;
  flags_[slot] = static_cast<uint8_t>((terminated ? kTerminated : 0) | (terminated || truncated ? kEpisodeEnd : 0));
  if (mask_size_) std::memcpy(next_mask_.get() + slot * mask_size_, next_mask, mask_size_);
  next_ = (next_ + 1) % capacity_;
  if (size_ < capacity_) ++size_;
  return slot;
}

int64_t ReplayBuffer::SlotOfAge(int64_t age) const { return ((next_ - 1 - age) % capacity_ + capacity_) % capacity_; }

int64_t ReplayBuffer::SampleRecent(Rng& rng, double decay) const {
  std::vector<int64_t> one(1);
  SampleRecent(rng, decay, &one);
  return one[0];
}

void ReplayBuffer::SampleRecent(Rng& rng, double decay, std::vector<int64_t>* slots) const {
  if (decay >= 1.0) {
    for (auto& s : *slots) s = SampleUniform(rng);
    return;
  }
  // P(age <= k) = (1 - decay^(k+1)) / (1 - decay^size): solve u = P for k.
  const double mass = 1.0 - std::pow(decay, static_cast<double>(size_));
  const double inv_log = 1.0 / std::log(decay);
  for (auto& s : *slots) {
    const double age = std::floor(std::log1p(-rng.Uniform() * mass) * inv_log);
    s = SlotOfAge(std::clamp<int64_t>(static_cast<int64_t>(age), 0, size_ - 1));
  }
}

void ReplayBuffer::Batch::Resize(int64_t b, int64_t d, int64_t m, int64_t action_dim) {
  obs.resize(b * d);
  next_obs.resize(b * d);
  reward.resize(b);
  discount.resize(b);
  action.resize(action_dim > 0 ? 0 : b);
  action_vec.resize(b * action_dim);
  terminated.resize(b);
  next_mask.resize(b * m);
}

void ReplayBuffer::Sample(int64_t batch_size, Rng& rng, Batch* batch) const {
  RLF_CHECK(size_ > 0, "cannot sample an empty replay buffer");
  std::vector<int64_t> slots(batch_size);
  for (auto& s : slots) s = SampleUniform(rng);
  Gather(slots, 1, 1.0, batch);
}

void ReplayBuffer::Gather(const std::vector<int64_t>& slots, int n_step, double gamma, Batch* batch) const {
  const int64_t batch_size = static_cast<int64_t>(slots.size());
  batch->Resize(batch_size, obs_bytes_, mask_size_, action_dim_);
  for (int64_t k = 0; k < batch_size; ++k) {
    const int64_t first = slots[k];
    int64_t last = first;
    double ret = reward_[first], discount = gamma;
    for (int step = 1; step < n_step && !(flags_[last] & kEpisodeEnd); ++step) {
      // The same env's next transition, if it is stored already.
      const int64_t age = ((next_ - 1 - last) % capacity_ + capacity_) % capacity_;
      if (age < stride_) break;
      last = (last + stride_) % capacity_;
      ret += discount * reward_[last];
      discount *= gamma;
    }
    std::memcpy(batch->obs.data() + k * obs_bytes_, obs_.get() + first * obs_bytes_, obs_bytes_);
    std::memcpy(batch->next_obs.data() + k * obs_bytes_, next_obs_.get() + last * obs_bytes_, obs_bytes_);
    batch->reward[k] = static_cast<float>(ret);
    batch->discount[k] = static_cast<float>(discount);
    if (action_dim_ > 0) {
      std::memcpy(batch->action_vec.data() + k * action_dim_, action_.get() + first * action_bytes_, action_bytes_);
    } else {
      std::memcpy(batch->action.data() + k, action_.get() + first * action_bytes_, action_bytes_);
    }
    batch->terminated[k] = flags_[last] & kTerminated;
    if (mask_size_)
      std::memcpy(batch->next_mask.data() + k * mask_size_, next_mask_.get() + last * mask_size_, mask_size_);
  }
}

void ReplayBuffer::SaveState(std::string* out) const {
  StateWriter w(out);
  w(capacity_), w(obs_bytes_), w(mask_size_), w(stride_);
  if (action_dim_ > 0) w(action_dim_);  // (Discrete buffers keep the layout they always had)
  w(next_), w(size_);
  // Slots [0, size) are the filled ones (the ring fills from 0 and wraps only when full).
  const size_t n = static_cast<size_t>(size_);
  w.Raw(obs_.get(), n * obs_bytes_);
  w.Raw(next_obs_.get(), n * obs_bytes_);
  w.Raw(reward_.get(), n * sizeof(float));
  w.Raw(action_.get(), n * action_bytes_);
  w.Raw(flags_.get(), n);
  w.Raw(next_mask_.get(), n * mask_size_);
}

void ReplayBuffer::LoadState(std::string_view in) {
  StateReader r(in, "replay buffer");
  int64_t cap, bytes, mask, stride;
  r(cap), r(bytes), r(mask), r(stride);
  int64_t action_dim = 0;
  if (action_dim_ > 0) r(action_dim);
  RLF_CHECK(cap == capacity_ && bytes == obs_bytes_ && mask == mask_size_ && stride == stride_ &&
                action_dim == action_dim_,
            "replay buffer state has a different shape (capacity ", cap, ", observation bytes ", bytes, ", mask ",
            mask, ", envs ", stride, ", action dim ", action_dim, "; this run has ", capacity_, ", ", obs_bytes_, ", ",
            mask_size_, ", ", stride_, ", ", action_dim_, ")");
  int64_t next, size;
  r(next), r(size);
  RLF_CHECK(size >= 0 && size <= capacity_ && next >= 0 && next < capacity_ && (size == capacity_ || next == size),
            "replay buffer state is corrupt (size ", size, ", next slot ", next, ")");
  const size_t n = static_cast<size_t>(size);
  r.Raw(obs_.get(), n * obs_bytes_);
  r.Raw(next_obs_.get(), n * obs_bytes_);
  r.Raw(reward_.get(), n * sizeof(float));
  r.Raw(action_.get(), n * action_bytes_);
  r.Raw(flags_.get(), n);
  r.Raw(next_mask_.get(), n * mask_size_);
  r.ExpectEnd();
  next_ = next, size_ = size;
}

}  // namespace rlforge
