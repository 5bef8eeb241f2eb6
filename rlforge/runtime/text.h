// rlforge/runtime/text.h — the runtime's and the server's message helpers
// (the runtime uses no other layer, so not core/error.h's).
#ifndef RLFORGE_RUNTIME_TEXT_H_
#define RLFORGE_RUNTIME_TEXT_H_

#include <sstream>
#include <string>

namespace rlforge::runtime {

// The arguments streamed into one string.
template <typename... A>
std::string Cat(const A&... a) {
  std::ostringstream s;
  (s << ... << a);
  return s.str();
}

// Text from a file or a client as one short line (errors stay one line).
inline std::string Printable(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c >= 32 && c < 127) ? c : '?';
  return s.size() > 64 ? out + "..." : out;
}

}  // namespace rlforge::runtime

#endif  // RLFORGE_RUNTIME_TEXT_H_
