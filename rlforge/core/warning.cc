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

void WarnOnce(std::atomic<bool>* once, const std::vector<std::string>& messages) {
  const WarningHandler h = handler.load();
  std::vector<const std::string*> left;
  for (const std::string& m : messages)
    if (h == nullptr || !h(m)) left.push_back(&m);
  if (!left.empty() && !once->exchange(true))
    for (const std::string* m : left) std::fprintf(stderr, "warning: %s\n", m->c_str());
}

void WarnOnce(std::atomic<bool>* once, const std::string& message) { WarnOnce(once, std::vector<std::string>{message}); }

}  // namespace rlforge
