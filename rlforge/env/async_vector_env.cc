#include "rlforge/env/async_vector_env.h"

#include <algorithm>
#include <cstring>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

namespace rlforge {

AsyncVectorEnv::AsyncVectorEnv(const EnvFactory& make_env, int num_envs, int num_threads, int batch_size)
    : num_envs_(num_envs), batch_size_(batch_size) {
  RLF_CHECK_ARG(num_envs >= 1 && num_envs <= 65536, "num_envs must be in 1..65536, got ", num_envs);
  RLF_CHECK_ARG(batch_size >= 1 && batch_size <= num_envs, "batch_size must be in 1..num_envs (", num_envs, "), got ",
                batch_size);
  RLF_CHECK_ARG(num_threads >= 1 && num_threads <= 1024, "num_threads must be in 1..1024, got ", num_threads);
  for (int i = 0; i < num_envs; ++i) {
    envs_.push_back(make_env());
    RLF_CHECK(envs_.back() != nullptr, "the env factory returned null");
  }
  obs_space_ = envs_[0]->observation_space();
  act_space_ = envs_[0]->action_space();
  for (const auto& e : envs_)
    RLF_CHECK_ARG(e->observation_space() == obs_space_ && e->action_space() == act_space_,
                  "all envs of an AsyncVectorEnv must share their spaces");
  obs_bytes_ = obs_space_.nbytes();
  act_bytes_ = act_space_.nbytes();
  mask_size_ = envs_[0]->has_action_mask() ? act_space_.mask_size() : 0;
  const size_t n = static_cast<size_t>(num_envs);
  actions_.assign(n * act_bytes_, 0);
  env_.Resize(n, obs_bytes_, mask_size_);
  slots_.assign(n, Slot::kNotReset);
  seen_.assign(n, 0);
  errors_.assign(n, nullptr);
  batch_ids_.assign(batch_size, 0);
  batch_.Resize(batch_size, obs_bytes_, mask_size_);
  for (int t = 0; t < num_threads; ++t) workers_.emplace_back([this] { Worker(); });
}

void AsyncVectorEnv::Rows::Resize(size_t rows, size_t obs_bytes, size_t mask_size) {
  obs.assign(rows * obs_bytes, 0);
  final_obs.assign(rows * obs_bytes, 0);
  masks.assign(rows * mask_size, 0);
  terminated.assign(rows, 0);
  truncated.assign(rows, 0);
  rewards.assign(rows, 0.f);
}

void AsyncVectorEnv::Rows::CopyRow(const Rows& src, size_t from, size_t to, size_t obs_bytes, size_t mask_size) {
  std::memcpy(obs.data() + to * obs_bytes, src.obs.data() + from * obs_bytes, obs_bytes);
  std::memcpy(final_obs.data() + to * obs_bytes, src.final_obs.data() + from * obs_bytes, obs_bytes);
  if (mask_size) std::memcpy(masks.data() + to * mask_size, src.masks.data() + from * mask_size, mask_size);
  terminated[to] = src.terminated[from];
  truncated[to] = src.truncated[from];
  rewards[to] = src.rewards[from];
}

AsyncVectorEnv::~AsyncVectorEnv() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  task_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void AsyncVectorEnv::Worker() {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      task_cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      if (stop_) return;
      task = tasks_.front();
      tasks_.pop_front();
    }
    Run(task);
    {
      std::lock_guard<std::mutex> lock(mu_);
      slots_[task.env] = Slot::kReady;
      done_.push_back(task.env);
      --in_flight_;
    }
    done_cv_.notify_all();
  }
}

void AsyncVectorEnv::Run(const Task& task) {
  const int i = task.env;
  Env& env = *envs_[i];
  uint8_t* obs = env_.obs.data() + i * obs_bytes_;
  try {
    if (task.reset) {
      Info info;
      env.Reset(task.seed, obs, &info);
      env_.rewards[i] = 0.f;
      env_.terminated[i] = env_.truncated[i] = 0;
    } else {
      StepResult r = env.Step(actions_.data() + i * act_bytes_, obs);
      env_.rewards[i] = static_cast<float>(r.reward);
      env_.terminated[i] = r.terminated;
      env_.truncated[i] = r.truncated;
      if (r.done()) {
        std::memcpy(env_.final_obs.data() + i * obs_bytes_, obs, obs_bytes_);
        Info info;
        env.Reset(std::nullopt, obs, &info);
      }
    }
    if (mask_size_) env.ActionMask(env_.masks.data() + i * mask_size_);
#if defined(__GLIBCXX__)
  } catch (abi::__forced_unwind&) {
    throw;  // thread cancellation (e.g. an interpreter shutting down) must unwind
#endif
  } catch (...) {
    errors_[i] = std::current_exception();
  }
}

void AsyncVectorEnv::Reset(std::optional<uint64_t> seed) {
  std::unique_lock<std::mutex> lock(mu_);
  // The first reset without a seed is Reset(0)'s: the copies start apart.
  const bool first = std::all_of(slots_.begin(), slots_.end(), [](Slot s) { return s == Slot::kNotReset; });
  if (!seed && first) seed = 0;
  done_cv_.wait(lock, [this] { return in_flight_ == 0; });
  done_.clear();
  for (int i = 0; i < num_envs_; ++i) {
    errors_[i] = nullptr;
    slots_[i] = Slot::kInFlight;
    std::optional<uint64_t> s;
    if (seed) s = *seed + static_cast<uint64_t>(i);
    tasks_.push_back({i, true, s});
    ++in_flight_;
  }
  lock.unlock();
  task_cv_.notify_all();
}

void AsyncVectorEnv::Send(const void* actions, const int32_t* env_ids, int k) {
  RLF_CHECK_ARG(k >= 0 && k <= num_envs_, "send: ", k, " actions for ", num_envs_, " envs");
  {
    std::lock_guard<std::mutex> lock(mu_);
    int j = 0;
    try {
      for (; j < k; ++j) {
        const int i = env_ids[j];
        RLF_CHECK_ARG(i >= 0 && i < num_envs_, "send: env id ", i, " is not in [0, ", num_envs_, ")");
        RLF_CHECK_ARG(!seen_[i], "send: env ", i, " appears twice");
        RLF_CHECK_ARG(slots_[i] != Slot::kNotReset, "send: env ", i,
                      " has not been reset (reset() the envs before the first send)");
        RLF_CHECK_ARG(slots_[i] == Slot::kIdle, "send: env ", i,
                      slots_[i] == Slot::kInFlight ? " is still stepping" : "'s last result has not been received",
                      " (recv() it before sending it again)");
        RLF_CHECK_ARG(act_space_.kind() == SpaceKind::kBox ||
                          act_space_.Contains(static_cast<const uint8_t*>(actions) + j * act_bytes_),
                      "send: the action for env ", i, " is not in ", act_space_.ToString());
        seen_[i] = 1;
      }
    } catch (...) {
      for (int q = 0; q < j; ++q) seen_[env_ids[q]] = 0;
      throw;
    }
    for (int j = 0; j < k; ++j) seen_[env_ids[j]] = 0;
    for (int j = 0; j < k; ++j) {
      const int i = env_ids[j];
      std::memcpy(actions_.data() + i * act_bytes_, static_cast<const uint8_t*>(actions) + j * act_bytes_, act_bytes_);
      slots_[i] = Slot::kInFlight;
      tasks_.push_back({i, false, std::nullopt});
      ++in_flight_;
    }
  }
  task_cv_.notify_all();
}

void AsyncVectorEnv::Recv() {
  std::unique_lock<std::mutex> lock(mu_);
  RLF_CHECK(static_cast<int>(done_.size()) + in_flight_ >= batch_size_, "recv: only ", done_.size() + in_flight_,
            " envs are stepping or ready, fewer than batch_size ", batch_size_, " (send more first)");
  done_cv_.wait(lock, [this] { return static_cast<int>(done_.size()) >= batch_size_; });
  std::exception_ptr error;
  for (int b = 0; b < batch_size_; ++b) {
    const int i = done_.front();
    done_.pop_front();
    slots_[i] = Slot::kIdle;
    if (errors_[i] && !error) error = errors_[i];
    errors_[i] = nullptr;
    batch_ids_[b] = i;
    batch_.CopyRow(env_, i, b, obs_bytes_, mask_size_);
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace rlforge
