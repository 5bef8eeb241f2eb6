// Fuzz target: --set key=value and --kwarg key=value parsing. Each input line
// is one assignment, applied to a config with a field of every type and
// parsed as a kwarg whose typed getters are then read. Only rlforge::Error
// may come out, with a one-line message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "fuzz/fuzz_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rlforge;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  fuzz::EveryFieldConfig c;
  Kwargs kwargs;
  for (std::string line; std::getline(in, line);) {
    try {
      ConfigIO::Set(line, c);
    } catch (const Error& e) {
      if (std::string(e.what()).find('\n') != std::string::npos) std::abort();
    }
    try {
      auto [key, value] = Kwargs::ParseAssignment(line);
      kwargs.Set(key, value);
    } catch (const Error& e) {
      if (std::string(e.what()).find('\n') != std::string::npos) std::abort();
    }
  }
  fuzz::ReadKwargs(kwargs);
  fuzz::ReadKwargs(c.env_kwargs);
  return 0;
}
