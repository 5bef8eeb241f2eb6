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

#include <algorithm>
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

// Splits `list` at each `sep` and trims spaces around the pieces; empty
// pieces are kept (callers name them in their errors), e.g.
// SplitTrimmed("a, b,", ',') == {"a", "b", ""}.
inline std::vector<std::string> SplitTrimmed(const std::string& list, char sep) {
  std::vector<std::string> out;
  for (size_t start = 0; start <= list.size();) {
    const size_t end = std::min(list.find(sep, start), list.size());
    std::string piece = list.substr(start, end - start);
    piece.erase(0, piece.find_first_not_of(' '));
    piece.erase(piece.find_last_not_of(' ') + 1);
    out.push_back(std::move(piece));
    start = end + 1;
  }
  return out;
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
