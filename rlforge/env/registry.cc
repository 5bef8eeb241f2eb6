#include "rlforge/env/registry.h"

#include <regex>

#include "rlforge/env/wrappers.h"

namespace rlforge {

Registry& Registry::Global() {
  static Registry* registry = [] {
    auto* r = new Registry();
    RegisterBuiltinEnvs(*r);
    return r;
  }();
  return *registry;
}

void Registry::Register(EnvSpec spec) {
  static const std::regex kIdPattern(R"(^([A-Za-z0-9_\-]+/)?[A-Za-z0-9_\-]+-v[0-9]+$)");
  RLF_CHECK_ARG(std::regex_match(spec.id, kIdPattern), "env ID '", spec.id,
                "' must look like Name-vN (e.g. CartPole-v1)");
  RLF_CHECK_ARG(static_cast<bool>(spec.entry_point), "env '", spec.id, "' needs an entry point");
  std::lock_guard<std::mutex> lock(mu_);
  RLF_CHECK_ARG(specs_.count(spec.id) == 0, "env ID '", spec.id, "' is already registered");
  specs_.emplace(spec.id, std::move(spec));
}

bool Registry::Has(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return specs_.count(id) > 0;
}

std::vector<std::string> Registry::Ids() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> ids;
  for (const auto& [id, spec] : specs_) ids.push_back(id);
  return ids;
}

const EnvSpec& Registry::Spec(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = specs_.find(id);
  if (it == specs_.end()) {
    std::vector<std::string> ids;
    for (const auto& [k, v] : specs_) ids.push_back(k);
    throw InvalidArgument(StrCat("unknown env ID '", id, "'; valid IDs: ", Join(ids, ", ")));
  }
  return it->second;
}

std::unique_ptr<Env> Registry::Make(const std::string& id, const Kwargs& kwargs) const {
  const EnvSpec& spec = Spec(id);
  std::vector<std::string> valid;
  for (const auto& k : spec.kwargs) valid.push_back(k.name);
  valid.push_back("max_episode_steps");
  for (const auto& [key, value] : kwargs.items()) {
    bool known = false;
    for (const auto& v : valid) known = known || v == key;
    RLF_CHECK_ARG(known, "unknown kwarg '", key, "' for ", id, "; valid kwargs: ", Join(valid, ", "));
  }
  Kwargs merged = spec.default_kwargs.Merged(kwargs);
  std::optional<int64_t> limit = spec.max_episode_steps;
  if (auto v = merged.Find("max_episode_steps")) {
    const int64_t n = merged.GetInt("max_episode_steps", 0, id);
    RLF_CHECK_ARG(n >= 0, "kwarg 'max_episode_steps' of ", id, " must be >= 0 (0 = no limit), got ", *v);
    limit = n > 0 ? std::optional<int64_t>(n) : std::nullopt;
    Kwargs rest;
    for (const auto& [k, val] : merged.items())
      if (k != "max_episode_steps") rest.Set(k, val);
    merged = rest;
  }
  std::unique_ptr<Env> env = spec.entry_point(merged);
  if (limit) env = std::make_unique<TimeLimit>(std::move(env), *limit);
  return env;
}

std::unique_ptr<Env> Make(const std::string& id, const Kwargs& kwargs) {
  return Registry::Global().Make(id, kwargs);
}

}  // namespace rlforge
