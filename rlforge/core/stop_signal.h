// rlforge/core/stop_signal.h — a stop asked for by a signal while rlforge
// trains (SIGINT, SIGTERM; the training loop installs the handler).
//
// The training loop checks it between iterations and saves a checkpoint.
// An agent whose Iterate waits on other processes or threads (IMPALA's
// learner, waiting for unrolls) checks it while it waits and throws
// StopRequested, so that the loop saves and exits at once instead of
// waiting out its timeout. Nothing of the interrupted iteration may have
// changed the agent's state by then. Only the root loop of a process
// without a communicator handles it (IMPALA's learner): an agent of a
// data-parallel job must not throw it, or its follower ranks would wait.
#ifndef RLFORGE_CORE_STOP_SIGNAL_H_
#define RLFORGE_CORE_STOP_SIGNAL_H_

#include <atomic>
#include <stdexcept>

namespace rlforge {

// The signal that asked to stop (0: none). Set by the signal handler only.
std::atomic<int>& StopSignal();

class StopRequested : public std::runtime_error {
 public:
  StopRequested() : std::runtime_error("a stop signal arrived during the iteration") {}
};

// Throws StopRequested when a stop was asked for.
inline void ThrowIfStopRequested() {
  if (StopSignal().load() != 0) throw StopRequested();
}

}  // namespace rlforge

#endif  // RLFORGE_CORE_STOP_SIGNAL_H_
