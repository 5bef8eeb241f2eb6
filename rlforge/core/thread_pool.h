// rlforge/core/thread_pool.h — a fork-join pool for batched work.
//
// ThreadPool(T) owns T - 1 worker threads; the calling thread is the T-th.
// ParallelFor(n, fn) runs fn(0) ... fn(n - 1) across all T threads and returns
// when every call has finished. It is built for many short rounds (one per
// vector-env step): idle workers spin briefly before they sleep on a condition
// variable, so a round costs about a microsecond instead of a context switch.
//
// Exceptions thrown by fn are caught on the worker; the first one is rethrown
// from ParallelFor on the calling thread after the round completes.
// ParallelFor is not reentrant and must be called from one thread at a time.
#ifndef RLFORGE_CORE_THREAD_POOL_H_
#define RLFORGE_CORE_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rlforge {

class ThreadPool {
 public:
  // num_threads >= 1 counts the caller; 1 means everything runs inline.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(i) for every i in [0, n); blocks until all are done.
  void ParallelFor(int n, const std::function<void(int)>& fn);

 private:
  void WorkerLoop();
  void RunTasks();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> next_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
  const std::function<void(int)>* job_ = nullptr;
  int num_tasks_ = 0;
  std::mutex error_mu_;
  std::exception_ptr error_;
};

}  // namespace rlforge

#endif  // RLFORGE_CORE_THREAD_POOL_H_
