// rlforge/core/warning.h — warnings for the user: "warning: MESSAGE" on
// stderr, unless an embedding takes them (the Python module turns them into
// Python warnings, which `warnings.filterwarnings` controls).
#ifndef RLFORGE_CORE_WARNING_H_
#define RLFORGE_CORE_WARNING_H_

#include <atomic>
#include <string>
#include <vector>

namespace rlforge {

// Takes a message (without "warning: ") and returns whether it took it;
// a message it does not take goes to stderr.
using WarningHandler = bool (*)(const std::string& message);

// Process-wide (thread-safe); nullptr restores stderr.
void SetWarningHandler(WarningHandler handler);

// Writes the warning, through the handler if one is set and takes it.
void Warn(const std::string& message);

// Warn, but on stderr only the first time `*once` is seen (a vector env
// builds many copies of an env); a handler takes every one (Python's
// warning filters decide what to show). With several messages, stderr has
// all of them the first time.
void WarnOnce(std::atomic<bool>* once, const std::vector<std::string>& messages);
void WarnOnce(std::atomic<bool>* once, const std::string& message);

}  // namespace rlforge

#endif  // RLFORGE_CORE_WARNING_H_
