// rlforge/core/error.h — errors and checks.
//
// rlforge reports problems as exceptions that carry one plain sentence naming
// the problem (and, where there is a fixed set, the valid choices):
//   - InvalidArgument: the caller's input is wrong (bad env ID, kwarg, flag,
//     action outside the space). The CLI maps it to exit code 2.
//   - Error: anything that goes wrong at run time. The CLI maps it to exit 1.
// RLF_CHECK(cond, parts...) throws Error; RLF_CHECK_ARG throws InvalidArgument.
// Message parts are concatenated with operator<<.
#ifndef RLFORGE_CORE_ERROR_H_
#define RLFORGE_CORE_ERROR_H_

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace rlforge {

// The message as one line: control characters that user text may carry into
// it (a newline in a config key, a tab in a kwarg) are written as escapes
// (\n, \t, \xHH).
std::string OneLine(const std::string& text);

// A failure at run time.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(OneLine(what)) {}
};

// Bad input from the caller: a usage or configuration error.
class InvalidArgument : public Error {
 public:
  explicit InvalidArgument(const std::string& what) : Error(what) {}
};

// Concatenates any streamable values into one string.
template <typename... Args>
std::string StrCat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

// Joins items with a separator, e.g. Join({"a","b"}, ", ") == "a, b".
template <typename Container>
std::string Join(const Container& items, const std::string& sep) {
  std::ostringstream os;
  bool first = true;
  for (const auto& item : items) {
    if (!first) os << sep;
    os << item;
    first = false;
  }
  return os.str();
}

}  // namespace rlforge

#define RLF_CHECK(cond, ...)                                      \
  do {                                                            \
    if (!(cond)) throw ::rlforge::Error(::rlforge::StrCat(__VA_ARGS__)); \
  } while (0)

#define RLF_CHECK_ARG(cond, ...)                                  \
  do {                                                            \
    if (!(cond))                                                  \
      throw ::rlforge::InvalidArgument(::rlforge::StrCat(__VA_ARGS__)); \
  } while (0)

#endif  // RLFORGE_CORE_ERROR_H_
