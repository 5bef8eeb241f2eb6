#include "rlforge/env/registry.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <regex>

#include "rlforge/env/wrappers.h"

namespace rlforge {

Registry& Registry::Global() {
  static Registry* registry = new Registry();
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

EnvSpec NoVelocitySpec(const EnvSpec& base, const std::vector<int64_t>& velocity_indices) {
  const size_t dash = base.id.rfind("-v");
  RLF_CHECK(dash != std::string::npos, "NoVelocitySpec: malformed ID ", base.id);
  EnvSpec spec = base;
  spec.id = base.id.substr(0, dash) + "NoVel" + base.id.substr(dash);
  spec.description = base.description + "; velocities hidden (observation components " +
                     Join(velocity_indices, ", ") + " read 0)";
  spec.scripted_policies.clear();  // scripted policies read the hidden velocities
  spec.discrete_action_kwargs = base.discrete_action_kwargs;
  spec.entry_point = [make = base.entry_point, velocity_indices, id = spec.id](const Kwargs& kw) -> std::unique_ptr<Env> {
    std::unique_ptr<Env> env = make(kw);
    const Space space = env->observation_space();
    RLF_CHECK(space.kind() == SpaceKind::kBox && space.dtype() == DType::kFloat32, id,
              ": velocities can be hidden only in float32 Box observations");
    for (int64_t k : velocity_indices)
      RLF_CHECK(k >= 0 && k < space.size(), id, ": velocity index ", k, " outside the observation");
    const size_t bytes = space.nbytes();
    auto fn = [velocity_indices, bytes](const void* in, void* out) {
      std::memcpy(out, in, bytes);
      for (int64_t k : velocity_indices) static_cast<float*>(out)[k] = 0.0f;
    };
    return std::make_unique<TransformObservation>(std::move(env), fn, space);
  };
  return spec;
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

std::optional<std::string> DefaultKwarg(const std::string& id, const std::string& key) {
  if (!Registry::Global().Has(id)) return std::nullopt;
  const EnvSpec& spec = Registry::Global().Spec(id);
  if (auto d = spec.default_kwargs.Find(key)) return d;
  for (const auto& k : spec.kwargs) {
    if (k.name != key || k.default_value.empty()) continue;
    char* end = nullptr;
    const double v = std::strtod(k.default_value.c_str(), &end);
    const bool fraction = end == k.default_value.c_str() + k.default_value.size() && std::isfinite(v) &&
                          v != std::floor(v);
    if (!fraction) return k.default_value;
  }
  return std::nullopt;
}

bool SameEnvKwargs(const std::string& id, const Kwargs& a, const Kwargs& b, const std::set<std::string>& ignore) {
  std::set<std::string> keys;
  for (const Kwargs* kw : {&a, &b})
    for (const auto& [k, v] : kw->items()) keys.insert(k);
  for (const std::string& k : keys) {
    if (ignore.count(k)) continue;
    const auto x = a.Has(k) ? a.Find(k) : DefaultKwarg(id, k), y = b.Has(k) ? b.Find(k) : DefaultKwarg(id, k);
    if (!x || !y) return false;
    if (*x == *y) continue;
    // The same number written two ways (0 and 0.0, 05 and 5).
    char *ex = nullptr, *ey = nullptr;
    const double dx = std::strtod(x->c_str(), &ex), dy = std::strtod(y->c_str(), &ey);
    const bool numbers = !x->empty() && !y->empty() && *ex == '\0' && *ey == '\0';
    if (!numbers || dx != dy) return false;
  }
  return true;
}

std::string DescribeEnv(const std::string& id, const Kwargs& kwargs) {
  return kwargs.empty() ? id : id + " (" + kwargs.ToString() + ")";
}

namespace {

// "alphabeta:3" -> ("alphabeta", "3"); "heuristic" -> ("heuristic", "").
// The policies every env has: random and random-legal.
bool IsRandomPolicy(const std::string& spec) { return spec == "random" || spec == "random-legal"; }

std::pair<std::string, std::string> SplitPolicySpec(const std::string& spec) {
  const size_t colon = spec.find(':');
  if (colon == std::string::npos) return {spec, ""};
  return {spec.substr(0, colon), spec.substr(colon + 1)};
}

}  // namespace

std::string Registry::ScriptedPolicyList(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> parts = {"random", "random-legal"};
  if (!id.empty()) {
    if (auto it = specs_.find(id); it != specs_.end())
      for (const auto& p : it->second.scripted_policies) parts.push_back(p.usage);
    return Join(parts, ", ");
  }
  std::vector<std::string> usages;  // in order of first appearance
  std::map<std::string, std::vector<std::string>> offered_by;
  for (const auto& [env_id, spec] : specs_)
    for (const auto& p : spec.scripted_policies) {
      if (!offered_by.count(p.usage)) usages.push_back(p.usage);
      offered_by[p.usage].push_back(env_id);
    }
  for (const auto& u : usages) parts.push_back(StrCat(u, " (", Join(offered_by[u], ", "), ")"));
  return Join(parts, ", ");
}

bool Registry::IsScriptedPolicy(const std::string& spec) const {
  if (IsRandomPolicy(spec)) return true;
  const std::string name = SplitPolicySpec(spec).first;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, s] : specs_)
    for (const auto& p : s.scripted_policies)
      if (p.name == name && (p.takes_argument || spec == name)) return true;
  return false;
}

std::unique_ptr<Policy> Registry::MakeScriptedPolicy(const std::string& spec, const std::string& id, const Env& env,
                                                     uint64_t seed) const {
  // `random` is uniform over the action space, as Gymnasium's sample(), but in
  // two-player games and team games (several agents) it picks among the legal
  // moves (an illegal one would end the game with an error or be replaced by
  // the env). `random-legal` picks among the legal actions on every env with
  // masks (dimension by dimension where the masks are conditional).
  if (IsRandomPolicy(spec))
    return std::make_unique<RandomPolicy>(
        env.action_space(), seed, spec == "random-legal" || env.num_players() > 1 || env.num_agents() > 1, spec);
  RLF_CHECK_ARG(IsScriptedPolicy(spec), "'", spec, "' is not a scripted policy; valid for ", id, ": ",
                ScriptedPolicyList(id));
  const auto [name, argument] = SplitPolicySpec(spec);
  const ScriptedPolicySpec* found = nullptr;
  const ScriptedPolicySpec* elsewhere = nullptr;
  std::vector<std::string> offered_by;  // the envs with a policy of this name
  bool same_description = true;         // ... and whether they all describe it alike
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = specs_.find(id); it != specs_.end())
      for (const auto& p : it->second.scripted_policies)
        if (p.name == name) found = &p;
    for (const auto& [other, s] : specs_)
      for (const auto& p : s.scripted_policies)
        if (p.name == name) {
          if (!elsewhere) elsewhere = &p;
          same_description &= p.description == elsewhere->description;
          offered_by.push_back(other);
        }
  }
  // Say what it is when every env offering it means the same policy; else
  // which envs have one.
  RLF_CHECK_ARG(found != nullptr, "policy '", spec, "' is ",
                same_description ? elsewhere->description : "offered by " + Join(offered_by, ", "), "; ", id,
                " has none");
  return found->make(env, argument, seed);
}

void CheckScriptedPolicyFits(const std::string& key, const std::string& spec, const std::string& id,
                             const Kwargs& kwargs) {
  try {
    auto env = Make(id, kwargs);
    Registry::Global().MakeScriptedPolicy(spec, id, *env, 0);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(StrCat("config key '", key, "': ", e.what()));
  }
}

}  // namespace rlforge
