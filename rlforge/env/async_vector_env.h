// rlforge/env/async_vector_env.h — EnvPool-style asynchronous stepping.
//
// Send(actions, env_ids) hands the listed envs' steps to worker threads and
// returns at once; Recv() waits until `batch_size` envs have finished a step
// (or a reset) and puts those envs' results, in the order they finished, in
// the batch buffers:
//   env_ids()             [B]        int32, which env each row is
//   observations()        [B, obs]   the observation after the step
//   rewards()             [B]        float32
//   terminated()/truncated() [B]     uint8
//   final_observations()  [B, obs]   row valid where the episode ended
//   action_masks()        [B, mask]  or null
// Autoreset is same-step (as VectorEnv's default): an env whose episode ended
// is reset at once, its observation row holds the next episode's start.
// Reset(seed) resets every env (env i with seed + i) and makes all of them
// ready: the following Recv calls return them batch by batch. An env must be
// received before it is sent again. Each env owns its RNG, so an env's
// trajectory does not depend on the threads or the order envs finish in.
#ifndef RLFORGE_ENV_ASYNC_VECTOR_ENV_H_
#define RLFORGE_ENV_ASYNC_VECTOR_ENV_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "rlforge/env/env.h"

namespace rlforge {

class AsyncVectorEnv {
 public:
  using EnvFactory = std::function<std::unique_ptr<Env>()>;

  // batch_size in 1..num_envs; num_threads >= 1 worker threads.
  AsyncVectorEnv(const EnvFactory& make_env, int num_envs, int num_threads, int batch_size);
  ~AsyncVectorEnv();
  AsyncVectorEnv(const AsyncVectorEnv&) = delete;
  AsyncVectorEnv& operator=(const AsyncVectorEnv&) = delete;

  int num_envs() const { return num_envs_; }
  int batch_size() const { return batch_size_; }
  const Space& single_observation_space() const { return obs_space_; }
  const Space& single_action_space() const { return act_space_; }
  int64_t mask_size() const { return mask_size_; }

  // Waits for envs in flight, then resets all (env i with seed + i; the
  // first Reset without a seed is Reset(0)'s); every env becomes ready.
  void Reset(std::optional<uint64_t> seed);
  // Steps envs env_ids[0..k) with the rows of `actions` ([k, act]).
  void Send(const void* actions, const int32_t* env_ids, int k);
  // Waits for batch_size finished envs and fills the batch buffers; rethrows
  // the first error an env raised.
  void Recv();

  const int32_t* env_ids() const { return batch_ids_.data(); }
  const void* observations() const { return batch_.obs.data(); }
  const void* final_observations() const { return batch_.final_obs.data(); }
  const float* rewards() const { return batch_.rewards.data(); }
  const uint8_t* terminated() const { return batch_.terminated.data(); }
  const uint8_t* truncated() const { return batch_.truncated.data(); }
  const uint8_t* action_masks() const { return mask_size_ ? batch_.masks.data() : nullptr; }

 private:
  // Step results, one row per env (latest) or per batch entry (last Recv).
  struct Rows {
    std::vector<uint8_t> obs, final_obs, masks, terminated, truncated;
    std::vector<float> rewards;
    void Resize(size_t rows, size_t obs_bytes, size_t mask_size);
    // Row `from` of `src` into row `to`.
    void CopyRow(const Rows& src, size_t from, size_t to, size_t obs_bytes, size_t mask_size);
  };

  enum class Slot : uint8_t { kIdle, kInFlight, kReady, kNotReset };  // kNotReset: before the first Reset
  struct Task {
    int env;
    bool reset;
    std::optional<uint64_t> seed;
  };
  void Worker();
  void Run(const Task& task);

  int num_envs_, batch_size_;
  std::vector<std::unique_ptr<Env>> envs_;
  Space obs_space_, act_space_;
  size_t obs_bytes_, act_bytes_;
  int64_t mask_size_;

  // Per env: its pending action and its latest result.
  std::vector<uint8_t> actions_;
  Rows env_;
  std::vector<Slot> slots_;
  std::vector<uint8_t> seen_;  // Send's duplicate check
  std::vector<std::exception_ptr> errors_;

  std::mutex mu_;
  std::condition_variable task_cv_, done_cv_;
  std::deque<Task> tasks_;
  std::deque<int> done_;
  int in_flight_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;

  std::vector<int32_t> batch_ids_;
  Rows batch_;
};

}  // namespace rlforge

#endif  // RLFORGE_ENV_ASYNC_VECTOR_ENV_H_
