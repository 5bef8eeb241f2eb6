#include "rlforge/core/thread_pool.h"

#include "rlforge/core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RLF_CPU_RELAX() _mm_pause()
#else
#define RLF_CPU_RELAX() std::this_thread::yield()
#endif

namespace rlforge {
namespace {
// Spin iterations before an idle worker goes to sleep (~0.2 ms).
constexpr int kSpinBeforeSleep = 4000;
}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  RLF_CHECK_ARG(num_threads >= 1, "thread pool needs at least 1 thread, got ", num_threads);
  workers_.reserve(num_threads - 1);
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::RunTasks() {
  while (true) {
    const int i = next_.fetch_add(1, std::memory_order_relaxed);
    if (i >= num_tasks_) return;
    try {
      (*job_)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  while (true) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen) {
      if (++spins < kSpinBeforeSleep) {
        RLF_CPU_RELAX();
        continue;
      }
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      break;
    }
    seen = generation_.load(std::memory_order_acquire);
    {
      // stop_ is written under mu_; reading it under the lock keeps TSan quiet
      // and costs nothing next to the round itself.
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    RunTasks();
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::ParallelFor(int n, const std::function<void(int)>& fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  job_ = &fn;
  num_tasks_ = n;
  error_ = nullptr;
  next_.store(0, std::memory_order_relaxed);
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  RunTasks();
  int spins = 0;
  while (pending_.load(std::memory_order_acquire) != 0) {
    if (++spins < kSpinBeforeSleep) {
      RLF_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

}  // namespace rlforge
