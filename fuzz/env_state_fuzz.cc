// Fuzz target: the env state loader (Env::LoadState, used by checkpoints and
// vector-env snapshots). The first byte picks a registered env; the rest is
// loaded as its saved state. Loading must succeed or throw rlforge::Error;
// a state that loads must save back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "rlforge/env/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rlforge;
  if (size == 0) return 0;
  static const std::vector<std::string> ids = Registry::Global().Ids();
  static std::vector<std::unique_ptr<Env>> envs = [] {
    std::vector<std::unique_ptr<Env>> out;
    for (const auto& id : ids) out.push_back(Make(id));
    return out;
  }();
  Env& env = *envs[data[0] % envs.size()];
  const std::string in(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    env.LoadState(in);
  } catch (const Error&) {
    return 0;
  }
  std::string out;
  env.SaveState(&out);
  if (out != in) std::abort();
  return 0;
}
