// rlforge/config/numbers.h — numbers read from text, the one way config files,
// --set and --kwarg read them: the whole text is the number (blanks around it
// dropped, as YAML drops them; nothing else around it), and `what` names the
// setting in errors.
#ifndef RLFORGE_CONFIG_NUMBERS_H_
#define RLFORGE_CONFIG_NUMBERS_H_

#include <cstdint>
#include <string>

namespace rlforge {

// A finite double written in decimal ("0.5", "-2", "1e-3"; not hexadecimal);
// InvalidArgument "<what> must be <noun>, got '<text>'", or "is out of a
// double's range" for 1e400 and 1e-400.
double ParseNumber(const std::string& text, const std::string& what, const char* noun = "a number");

// A whole number of `bits` (32 or 64) bits: digits with an optional sign are
// read exactly; other forms (1e6, 2048.0) must be whole numbers a double holds
// exactly (below 2^53). InvalidArgument "<what> must be an integer, got
// '<text>'", or "<what> is <text>, beyond the <bits>-bit integers (min to max)".
int64_t ParseInteger(const std::string& text, const std::string& what, int bits = 64);

}  // namespace rlforge

#endif  // RLFORGE_CONFIG_NUMBERS_H_
