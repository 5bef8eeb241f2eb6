// rlforge/env/registry.h — env IDs and make(id, kwargs).
//
// As gymnasium.make: Make(id, kwargs) builds the env registered under id with
// the spec's default kwargs overridden by `kwargs`, then wraps it in
// TimeLimit(max_episode_steps) when the spec has a limit. The make-level kwarg
// `max_episode_steps` overrides the limit (0 removes it). Unknown IDs and
// kwargs throw InvalidArgument listing the valid choices.
//
// Users register their own envs with Registry::Global().Register(spec); the
// built-in envs are registered on first use of Global().
#ifndef RLFORGE_ENV_REGISTRY_H_
#define RLFORGE_ENV_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "rlforge/env/env.h"
#include "rlforge/env/kwargs.h"

namespace rlforge {

struct KwargDoc {
  std::string name;
  std::string default_value;  // as text, "" when none
  std::string help;
};

struct EnvSpec {
  std::string id;
  // Builds the env; receives default_kwargs merged with the caller's kwargs.
  std::function<std::unique_ptr<Env>(const Kwargs&)> entry_point;
  std::optional<int64_t> max_episode_steps;
  std::optional<double> reward_threshold;
  Kwargs default_kwargs;
  // Every kwarg the entry point accepts.
  std::vector<KwargDoc> kwargs;
  std::string description;
};

class Registry {
 public:
  // The process-wide registry, with the built-in envs registered.
  static Registry& Global();

  // Throws InvalidArgument when the ID is taken or malformed.
  void Register(EnvSpec spec);
  bool Has(const std::string& id) const;
  const EnvSpec& Spec(const std::string& id) const;
  std::vector<std::string> Ids() const;

  std::unique_ptr<Env> Make(const std::string& id, const Kwargs& kwargs = {}) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, EnvSpec> specs_;
};

// Shorthand for Registry::Global().Make(id, kwargs).
std::unique_ptr<Env> Make(const std::string& id, const Kwargs& kwargs = {});

// Defined in rlforge/envs/register_builtin.cc.
void RegisterBuiltinEnvs(Registry& registry);

}  // namespace rlforge

#endif  // RLFORGE_ENV_REGISTRY_H_
