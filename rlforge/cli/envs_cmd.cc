// rlforge envs — lists the registered environments.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "rlforge/cli/common.h"
#include "rlforge/env/registry.h"

namespace rlforge::cli {

void AddEnvsCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("envs", "List the registered environments with their spaces and limits");
  auto json = std::make_shared<bool>(false);
  auto verbose = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print a JSON array");
  cmd->add_flag("-v,--verbose", *verbose, "Also list each env's kwargs and scripted policies");
  cmd->callback([json, verbose] {
    Registry& reg = Registry::Global();
    nlohmann::json out = nlohmann::json::array();
    if (!*json) std::printf("%-26s %-34s %-22s %6s  %s\n", "ID", "observation space", "action space", "limit", "description");
    for (const auto& id : reg.Ids()) {
      const EnvSpec& spec = reg.Spec(id);
      auto env = reg.Make(id);
      const std::string obs = env->observation_space().ToString(), act = env->action_space().ToString();
      const std::string limit = spec.max_episode_steps ? std::to_string(*spec.max_episode_steps) : "-";
      if (*json) {
        nlohmann::json e = {{"id", id}, {"observation_space", obs}, {"action_space", act},
                            {"description", spec.description}};
        e["max_episode_steps"] = spec.max_episode_steps ? nlohmann::json(*spec.max_episode_steps) : nlohmann::json();
        e["reward_threshold"] = spec.reward_threshold ? nlohmann::json(*spec.reward_threshold) : nlohmann::json();
        nlohmann::json kw = nlohmann::json::array();
        for (const auto& k : spec.kwargs) kw.push_back({{"name", k.name}, {"default", k.default_value}, {"help", k.help}});
        e["kwargs"] = kw;
        nlohmann::json policies = nlohmann::json::array();
        for (const auto& p : spec.scripted_policies) policies.push_back({{"name", p.usage}, {"description", p.description}});
        e["scripted_policies"] = policies;
        out.push_back(e);
        continue;
      }
      std::printf("%-26s %-34s %-22s %6s  %s\n", id.c_str(), obs.c_str(), act.c_str(), limit.c_str(),
                  spec.description.c_str());
      if (*verbose) {
        for (const auto& k : spec.kwargs)
          std::printf("    %-20s default %-8s %s\n", k.name.c_str(), k.default_value.c_str(), k.help.c_str());
        // Every env accepts it (Registry::Make wraps the env in a TimeLimit).
        std::printf("    %-20s default %-8s %s\n", "max_episode_steps",
                    spec.max_episode_steps ? std::to_string(*spec.max_episode_steps).c_str() : "0",
                    "step limit (episodes end truncated); 0 = none");
        for (const auto& p : spec.scripted_policies)
          std::printf("    --policy %-11s %s\n", p.usage.c_str(), p.description.c_str());
      }
    }
    if (*json) std::cout << out.dump(2) << "\n";
  });
}

}  // namespace rlforge::cli
