// rlforge/dist/testing.h — ranks of a job as threads of one process, for
// tests: an in-memory c10d store instead of a TCPStore, Gloo on loopback.
#ifndef RLFORGE_DIST_TESTING_H_
#define RLFORGE_DIST_TESTING_H_

#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "rlforge/dist/communicator.h"

namespace rlforge::dist {

// Runs body(rank, comm) on `world` threads, each rank with its own
// Communicator over one shared store; rethrows the first rank's failure.
inline void OnThreadRanks(int world, const std::function<void(int, std::shared_ptr<Communicator>)>& body,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        body(r, std::make_shared<Communicator>(store, r, world, timeout));
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
