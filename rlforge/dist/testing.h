// rlforge/dist/testing.h — ranks of a job as threads of one process, for
// tests: an in-memory c10d store instead of a TCPStore, Gloo on loopback.
#ifndef RLFORGE_DIST_TESTING_H_
#define RLFORGE_DIST_TESTING_H_

#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "rlforge/dist/communicator.h"

namespace rlforge::dist {

// Runs body(rank, comm) on `world` threads, each rank with its own
// Communicator over one shared store; rethrows the first rank's failure.
// No body starts before every rank has connected: a rank whose body ended
// at once (and dropped its communicator) broke a peer still connecting
// ("could not connect to its peers: Connection closed by peer").
inline void OnThreadRanks(int world, const std::function<void(int, std::shared_ptr<Communicator>)>& body,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  std::mutex mu;
  std::condition_variable cv;
  int connected = 0;  // ranks whose Communicator was built (or failed to be)
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        std::shared_ptr<Communicator> comm;
        try {
          comm = std::make_shared<Communicator>(store, r, world, timeout);
        } catch (...) {
          std::lock_guard<std::mutex> l(mu);
          ++connected;
          cv.notify_all();
          throw;
        }
        {
          std::unique_lock<std::mutex> l(mu);
          ++connected;
          cv.notify_all();
          cv.wait(l, [&] { return connected == world; });
        }
        body(r, std::move(comm));
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace rlforge::dist

#endif  // RLFORGE_DIST_TESTING_H_
