#include "rlforge/cli/common.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "rlforge/core/file_io.h"
#include "rlforge/env/evaluation.h"
#include "rlforge/env/registry.h"
#include "rlforge/train/runner.h"

namespace rlforge::cli {

int StartSelf(const std::vector<std::string>& args, const std::function<void()>& prepare) {
  const pid_t pid = fork();
  RLF_CHECK(pid >= 0, "cannot start a process: fork failed: ", std::strerror(errno));
  if (pid != 0) return pid;
  if (prepare) prepare();
  std::vector<std::string> all = {"rlforge"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : all) argv.push_back(s.data());
  argv.push_back(nullptr);
  execv("/proc/self/exe", argv.data());
  std::fprintf(stderr, "rlforge: cannot start rlforge %s: %s\n", args.empty() ? "" : args[0].c_str(),
               std::strerror(errno));
  _exit(127);
}

int& ExitStatus() {
  static int status = kExitOk;
  return status;
}

std::string CheckIntegerText(std::string& text, bool is_signed, long double lo, long double hi) {
  const size_t first = !text.empty() && text[0] == '-' ? 1 : 0;
  if (text.size() == first || text.find_first_not_of("0123456789", first) != std::string::npos)
    return "'" + text + "' is not a whole number";
  std::string digits = text.substr(first);
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));  // decimal, never octal
  if (first == 1 && !is_signed && digits != "0") return "'" + text + "' is negative; give a number from 0";
  // Compare digit strings, so that no conversion can saturate.
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%.0Lf", first == 1 ? -lo : hi);
  const std::string limit = buf;
  if (digits.size() > limit.size() || (digits.size() == limit.size() && digits > limit)) {
    std::snprintf(buf, sizeof(buf), "%.0Lf..%.0Lf", lo, hi);
    return "'" + text + "' is out of range (" + buf + ")";
  }
  text = (first == 1 && digits != "0" ? "-" : "") + digits;
  return "";
}

Kwargs ParseKwargs(const std::vector<std::string>& items) {
  Kwargs kwargs;
  for (const auto& item : items) {
    std::pair<std::string, std::string> kv;
    try {
      kv = Kwargs::ParseAssignment(item);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(StrCat("--kwarg: ", e.what()));
    }
    RLF_CHECK_ARG(!kwargs.Has(kv.first), "--kwarg ", kv.first, " is given twice (", kv.first, "=",
                  *kwargs.Find(kv.first), " and ", item, "); give it once");
    kwargs.Set(kv.first, kv.second);
  }
  return kwargs;
}

std::vector<std::string> ResolveEnvIds(const std::string& id) {
  if (id == "all") return Registry::Global().Ids();
  Registry::Global().Spec(id);  // throws with the valid IDs
  return {id};
}

bool IsTeamGame(const std::string& id) {
  for (const auto& k : Registry::Global().Spec(id).kwargs)
    if (k.name == "opponent") return true;
  return false;
}

namespace {
// "bot:NAME" -> "NAME" (a team game's scripted bot); other specs as given.
std::string WithoutBotPrefix(const std::string& spec) { return spec.rfind("bot:", 0) == 0 ? spec.substr(4) : spec; }
}  // namespace

std::unique_ptr<Policy> MakeTeamOpponent(const std::string& spec, const std::string& id, const Env& env,
                                         uint64_t seed, bool deterministic) {
  const std::string name = WithoutBotPrefix(spec);
  const bool bot = name.size() != spec.size();
  const Registry& registry = Registry::Global();
  if (bot && name != "random") {
    std::vector<std::string> bots = {"random"};
    bool found = false;
    for (const auto& p : registry.Spec(id).scripted_policies) {
      bots.push_back(p.usage);
      found = found || p.name == name;
    }
    RLF_CHECK_ARG(found, "--opponent '", spec, "': ", id, " has no bot '", name, "' (its bots: ", Join(bots, ", "), ")");
  }
  if (registry.IsScriptedPolicy(name) || IsServedPolicy(name))
    return MakePolicy("--opponent", name, id, env, seed, deterministic);
  const size_t colon = name.rfind(':');
  if (colon != std::string::npos && colon + 1 < name.size() &&
      name.find_first_not_of("0123456789", colon + 1) == std::string::npos && IsRunPolicy(name.substr(0, colon))) {
    LoadedRun run = LoadRunFor("--opponent", spec, name.substr(0, colon), env);
    try {
      return run.algorithm->MakeSnapshotPolicy(std::stoll(name.substr(colon + 1)), deterministic);
    } catch (const std::out_of_range&) {
      throw InvalidArgument(StrCat("--opponent '", spec, "': snapshot number out of range"));
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(StrCat("--opponent '", spec, "': ", e.what()));
    }
  }
  return MakePolicy("--opponent", name, id, env, seed, deterministic);
}

Kwargs StepCapKwargs(const std::string& id, const Kwargs& kwargs, int64_t cap, bool cap_given) {
  RLF_CHECK_ARG(!cap_given || NeedsEvaluationStepCap(id, kwargs), "--max-episode-steps caps envs without a step "
                "limit; ", id, " has its own (--kwarg max_episode_steps=N changes it)");
  return EvaluationKwargs(id, kwargs, cap, "--max-episode-steps");
}

Kwargs TeamGameKwargs(const std::string& id, Kwargs kwargs, const Kwargs& user_kwargs, const std::string& opponent,
                      bool* team) {
  const bool team_game = IsTeamGame(id);
  const auto mine = user_kwargs.Find("opponent");
  RLF_CHECK_ARG(!team_game || opponent.empty() || !mine || *mine == "external", "--opponent '", opponent,
                "' and --kwarg opponent=", mine.value_or(""), " both name ", id,
                "'s team 1; give one (--opponent plays agent 1 of opponent=external)");
  *team = team_game && (kwargs.Find("opponent").value_or("") == "external" || !opponent.empty());
  if (*team) kwargs.Set("opponent", "external");
  return kwargs;
}

void CheckSamplingFlagApplies(const std::string& flag, bool given, const std::string& policy,
                              const std::string& opponent) {
  const Registry& registry = Registry::Global();
  auto scripted = [&](const std::string& spec) { return registry.IsScriptedPolicy(WithoutBotPrefix(spec)); };
  if (!given || !scripted(policy) || (!opponent.empty() && !scripted(opponent))) return;
  throw InvalidArgument(StrCat(flag, " changes how trained policies act; --policy '", policy, "'",
                               opponent.empty() ? "" : StrCat(" and --opponent '", opponent, "'"),
                               opponent.empty() ? " is a scripted policy" : " are scripted",
                               " (acting the same either way)"));
}

void CheckOutputFile(const std::string& flag, const std::string& path) {
  const std::string problem = OutputFileProblem(path);
  RLF_CHECK_ARG(problem.empty(), flag, " ", path, ": ", problem);
}

std::string NotEmpty(const std::string& value) {
  return value.empty() ? "is empty; leave the flag out for its default" : "";
}

bool IsRunPolicy(const std::string& spec) {
  return !Registry::Global().IsScriptedPolicy(spec) && !spec.empty() && std::filesystem::exists(spec);
}

std::unique_ptr<Policy> MakePolicy(const std::string& flag, const std::string& spec, const std::string& env_id,
                                   const Env& env, uint64_t seed, bool deterministic) {
  const Registry& registry = Registry::Global();
  if (registry.IsScriptedPolicy(spec)) {
    try {
      return registry.MakeScriptedPolicy(spec, env_id, env, seed);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(StrCat(flag, ": ", e.what()));
    }
  }
  if (IsServedPolicy(spec)) {
    try {
      return MakeServedPolicy(spec, env, seed, deterministic);
    } catch (const InvalidArgument& e) {  // its messages say --policy; an --opponent is named as itself
      const std::string m = e.what();
      throw InvalidArgument(m.rfind("--policy", 0) == 0 ? flag + m.substr(8) : m);
    }
  }
  if (!IsRunPolicy(spec))
    throw InvalidArgument(StrCat(flag, " '", spec, "' is not a scripted policy, a run directory or a checkpoint; ",
                                 "valid for ", env_id, ": ", registry.ScriptedPolicyList(env_id),
                                 ", DIR, CHECKPOINT, http://HOST:PORT (a served policy)"));
  return LoadRunFor(flag, spec, spec, env).algorithm->MakePolicy(deterministic);
}

LoadedRun LoadRunFor(const std::string& flag, const std::string& spec, const std::string& dir, const Env& env) {
  LoadedRun run = LoadRun(dir);
  // An unfinished run's directory gives its newest checkpoint: say which
  // (eval and play named only the directory).
  if (std::filesystem::is_directory(dir) && std::filesystem::path(run.checkpoint).filename() != "final.pt")
    std::fprintf(stderr, "note: %s '%s' has no final checkpoint (the run is unfinished): its newest, %s (%lld steps), "
                 "is used\n", flag.c_str(), spec.c_str(), run.checkpoint.c_str(),
                 static_cast<long long>(run.algorithm->num_timesteps()));
  const std::string why = SpacesMismatch(run.config.run, env);
  RLF_CHECK_ARG(why.empty(), flag, " '", spec, "' was trained on ", why,
                " (check --env and --kwarg: a kwarg such as a size changes the spaces)");
  return run;
}

void EnvChoice::PrintWarnings() const {
  for (const auto& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
}

EnvChoice ChooseEnv(const std::string& env_flag, const std::vector<std::string>& kwarg_flags,
                    const std::string& policy) {
  const Kwargs flags = ParseKwargs(kwarg_flags);
  if (!IsRunPolicy(policy)) {
    RLF_CHECK_ARG(!env_flag.empty() || Registry::Global().IsScriptedPolicy(policy) || IsServedPolicy(policy),
                  "--policy '", policy, "' is not a scripted policy, a run directory or a checkpoint (no such path); "
                  "valid: ", Registry::Global().ScriptedPolicyList(), ", DIR, CHECKPOINT, http://HOST:PORT");
    RLF_CHECK_ARG(!env_flag.empty(), "--env is required (it may be left out only when --policy is a run directory "
                                     "or checkpoint, whose env is used)");
    return {env_flag, flags, {}};
  }
  const RunConfig run = LoadRunConfig(policy).run;
  if (!env_flag.empty() && env_flag != run.env)
    return {env_flag,
            flags,
            {StrCat("running on ", DescribeEnv(env_flag, flags), ", not on the env the run '", policy,
                    "' was trained on: ", DescribeEnv(run.env, run.env_kwargs))}};
  EnvChoice choice{run.env, run.env_kwargs.Merged(flags), {}};
  // A kwarg the run left at its default is compared with the default
  // (DefaultKwarg), so `--kwarg is_slippery=true` on a run trained on the
  // default lake is no difference.
  for (const auto& [key, value] : flags.items()) {
    const auto trained = run.env_kwargs.Find(key);
    if (trained == value || (!trained && DefaultKwarg(run.env, key) == value)) continue;
    choice.warnings.push_back(StrCat("--kwarg ", key, "=", value, " differs from the run '", policy,
                                     "', trained with ", trained ? key + "=" + *trained : key + " at its default"));
  }
  return choice;
}

}  // namespace rlforge::cli
