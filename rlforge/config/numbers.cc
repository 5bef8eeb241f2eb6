#include "rlforge/config/numbers.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "rlforge/core/error.h"

namespace rlforge {

namespace {
// Blanks around a value are dropped, as YAML drops them from --set and config
// values (strtod alone skipped leading ones and refused trailing ones).
std::string Trimmed(const std::string& text) {
  const char* blanks = " \t\n\r\v\f";
  const size_t first = text.find_first_not_of(blanks), last = text.find_last_not_of(blanks);
  return first == std::string::npos ? std::string() : text.substr(first, last - first + 1);
}
}  // namespace

double ParseNumber(const std::string& text, const std::string& what, const char* noun) {
  const std::string t = Trimmed(text);
  // strtod also reads hexadecimal (0x10, 0x1p3): decimal only, as documented.
  RLF_CHECK_ARG(!t.empty() && t.find_first_of("xX") == std::string::npos, what, " must be ", noun, ", got '", text,
                "'");
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  RLF_CHECK_ARG(end == t.c_str() + t.size() && (std::isfinite(v) || errno == ERANGE), what, " must be ", noun,
                ", got '", text, "'");  // "inf" and "nan" too
  // A number, but past what a double holds (1e400) or so small that it rounds
  // to 0 (1e-400): "must be a number" would mislead. A subnormal (5e-324) is a
  // double like any other.
  RLF_CHECK_ARG(std::isfinite(v) && !(errno == ERANGE && v == 0), what,
                " is out of a double's range (magnitudes 4.9e-324 to 1.8e308, or 0), got '", text, "'");
  return v;
}

int64_t ParseInteger(const std::string& text, const std::string& what, int bits) {
  const int64_t lo = bits == 32 ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int64_t>::min();
  const int64_t hi = bits == 32 ? std::numeric_limits<int32_t>::max() : std::numeric_limits<int64_t>::max();
  auto beyond = [&] {
    return InvalidArgument(StrCat(what, " is ", text, ", beyond the ", bits, "-bit integers (", lo, " to ", hi, ")"));
  };
  const std::string t = Trimmed(text);
  const size_t sign = !t.empty() && (t[0] == '-' || t[0] == '+') ? 1 : 0;
  if (t.size() > sign && t.find_first_not_of("0123456789", sign) == std::string::npos) {
    errno = 0;
    const long long v = std::strtoll(t.c_str(), nullptr, 10);
    if (errno == ERANGE || v < lo || v > hi) throw beyond();
    return static_cast<int64_t>(v);
  }
  // A number first (else "must be an integer"), then its range (a 32-bit kwarg
  // at 1e17 was told to write it in digits, and in digits it was out of range).
  errno = 0;
  char* end = nullptr;
  const double d = t.empty() || t.find_first_of("xX") != std::string::npos ? NAN : std::strtod(t.c_str(), &end);
  const bool range_error = errno == ERANGE;  // 1e400 (beyond), 1e-400 (not 0)
  RLF_CHECK_ARG(end == t.c_str() + t.size() && (std::isfinite(d) || range_error) && !(range_error && d == 0), what,
                " must be an integer, got '", text, "'");  // "inf" and "nan" too
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) throw beyond();  // 1e400 too
  RLF_CHECK_ARG(d == std::floor(d), what, " must be an integer, got '", text, "'");
  RLF_CHECK_ARG(std::abs(d) < 9007199254740992.0, what, " is ", text,
                ", a number written this way is exact only up to 2^53: write it in digits");
  return static_cast<int64_t>(d);
}

}  // namespace rlforge
