#include "rlforge/core/warning.h"

#include <atomic>
#include <cstdio>

namespace rlforge {
namespace {
std::atomic<WarningHandler> handler{nullptr};
}  // namespace

void SetWarningHandler(WarningHandler h) { handler.store(h); }

void Warn(const std::string& message) {
  const WarningHandler h = handler.load();
  if (h != nullptr && h(message)) return;
  std::fprintf(stderr, "warning: %s\n", message.c_str());
}

void WarnOnce(std::atomic<bool>* once, const std::string& message) {
  const WarningHandler h = handler.load();
  if (h != nullptr && h(message)) return;
  if (!once->exchange(true)) std::fprintf(stderr, "warning: %s\n", message.c_str());
}

}  // namespace rlforge
