// Fuzz target: the YAML config loader (--config FILE, presets, config.yaml).
// Any input must either load or throw rlforge::Error (InvalidArgument) with a
// one-line message; anything else (a crash, a YAML or std exception escaping,
// a sanitizer report) is a bug. A loaded config must write itself back as
// YAML that loads to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rlforge;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::EveryFieldConfig c;
  try {
    ConfigIO::LoadYamlText(text, "fuzz.yaml", c);
  } catch (const Error& e) {
    if (std::string(e.what()).find('\n') != std::string::npos) std::abort();  // one line
    return 0;
  }
  fuzz::ReadKwargs(c.env_kwargs);
  const std::string yaml = ConfigIO::ToYaml(c);
  fuzz::EveryFieldConfig again;
  ConfigIO::LoadYamlText(yaml, "round trip", again);  // must not throw
  if (ConfigIO::ToYaml(again) != yaml) std::abort();
  return 0;
}
