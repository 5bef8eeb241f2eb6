#include "rlforge/core/stop_signal.h"

namespace rlforge {
namespace {

// Constant-initialized (no guard a signal handler could race), lock-free.
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

}  // namespace

std::atomic<int>& StopSignal() { return g_stop_signal; }

}  // namespace rlforge
