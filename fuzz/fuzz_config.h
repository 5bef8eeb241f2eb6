// fuzz/fuzz_config.h — a config with a field of every type FieldVisitor
// knows, for the config fuzz targets.
#ifndef RLFORGE_FUZZ_FUZZ_CONFIG_H_
#define RLFORGE_FUZZ_FUZZ_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rlforge/config/config.h"
#include "rlforge/config/kwargs.h"
#include "rlforge/core/error.h"

namespace rlforge::fuzz {

struct EveryFieldConfig {
  int64_t steps = 1000;
  double gamma = 0.99;
  bool normalize = false;
  std::string name = "x";
  std::vector<int64_t> net_arch = {64, 64};
  Schedule learning_rate = Schedule::Constant(3e-4);
  std::optional<double> target_kl;
  Kwargs env_kwargs;

  void Visit(FieldVisitor& v) {
    v.Field("steps", &steps, "an integer");
    v.Field("gamma", &gamma, "a number");
    v.Field("normalize", &normalize, "a bool");
    v.Field("name", &name, "a string");
    v.Field("net_arch", &net_arch, "a list of integers");
    v.Field("learning_rate", &learning_rate, "a schedule");
    v.Field("target_kl", &target_kl, "an optional number");
    v.Field("env_kwargs", &env_kwargs, "a map of kwargs");
  }
};

// Reads every typed view of the kwargs, as envs do (errors are expected).
inline void ReadKwargs(const Kwargs& k) {
  for (const auto& [key, value] : k.items()) {
    try { k.GetInt(key, 0, "fuzz"); } catch (const Error&) {}
    try { k.GetDouble(key, 0, "fuzz"); } catch (const Error&) {}
    try { k.GetBool(key, false, "fuzz"); } catch (const Error&) {}
    try { k.GetDoubles(key, {}, "fuzz"); } catch (const Error&) {}
    k.GetString(key, "");
  }
}

}  // namespace rlforge::fuzz

#endif  // RLFORGE_FUZZ_FUZZ_CONFIG_H_
