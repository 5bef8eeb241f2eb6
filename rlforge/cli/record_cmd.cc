// rlforge record — plays a policy and writes its episodes as a Minari dataset
// (rlforge/data/dataset.h; docs/offline.md).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <cstdio>

#include "rlforge/cli/common.h"
#include "rlforge/data/dataset.h"
#include "rlforge/env/registry.h"

namespace rlforge::cli {
namespace {

struct RecordArgs {
  std::string env, policy = "random", out, dataset_id, algorithm_name, expert, description;
  std::vector<std::string> kwargs;
  int64_t episodes = 100, num_envs = 8, threads = 1, reference_episodes = 100, max_episode_steps = kDefaultEvalStepCap;
  bool max_episode_steps_set = false;  // given on the command line
  uint64_t seed = 0;
  double epsilon = 0.0;
  std::optional<double> ref_min, ref_max;
  bool deterministic = false;
};

// "CartPole-v1" -> "cartpole".
std::string EnvStem(const std::string& id) {
  std::string s = id.substr(0, id.rfind("-v"));
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

double AverageReturn(const std::string& id, const Kwargs& kwargs, Policy& policy, int64_t episodes, uint64_t seed,
                     int threads) {
  VectorEnvOptions opt;
  opt.num_envs = static_cast<int>(std::min<int64_t>(episodes, 16));
  opt.num_threads = threads;
  auto envs = VectorEnv::Make(id, kwargs, opt);
  return Evaluate(*envs, policy, episodes, seed).mean_return;
}

void RunRecord(const RecordArgs& a) {
  RLF_CHECK_ARG(!a.out.empty(), "--out DIR is required (the dataset directory to write)");
  RLF_CHECK_ARG(!std::filesystem::exists(std::filesystem::path(a.out) / "metadata.json"), "dataset directory ", a.out,
                " already holds a dataset (metadata.json): choose another --out or delete it");
  RLF_CHECK_ARG(a.episodes >= 1 && a.episodes <= 100000000, "--episodes must be in 1..100000000, got ", a.episodes);
  RLF_CHECK_ARG(a.num_envs >= 1 && a.num_envs <= 4096, "--num-envs must be in 1..4096, got ", a.num_envs);
  RLF_CHECK_ARG(a.threads >= 1 && a.threads <= 256, "--threads must be in 1..256, got ", a.threads);
  RLF_CHECK_ARG(a.epsilon >= 0 && a.epsilon <= 1, "--epsilon must be in [0, 1], got ", a.epsilon);
  RLF_CHECK_ARG(a.reference_episodes >= 1, "--reference-episodes must be >= 1, got ", a.reference_episodes);
  RLF_CHECK_ARG(!(a.ref_max && !a.expert.empty()), "give --ref-max-score or --expert, not both");
  RLF_CHECK_ARG(!a.ref_min || a.ref_max || !a.expert.empty(),
                "--ref-min-score needs a maximum too (--ref-max-score or --expert): Minari keeps both or neither");
  CheckSamplingFlagApplies("--deterministic", a.deterministic, a.policy, "");
  const EnvChoice choice = ChooseEnv(a.env, a.kwargs, a.policy);
  const std::string& id = choice.id;
  const Kwargs kwargs = StepCapKwargs(id, choice.kwargs, a.max_episode_steps, a.max_episode_steps_set);
  auto env = Make(id, kwargs);
  RLF_CHECK_ARG(env->num_players() == 1 && env->num_agents() == 1, id,
                " is a multi-player game: record plays single-agent envs");
  CheckStorableObservations(env->observation_space(), id);
  auto policy = MakePolicy("--policy", a.policy, id, *env, a.seed ^ 0xA5A5A5A5ULL, a.deterministic);
  choice.PrintWarnings();

  DatasetInfo info;
  info.env_id = id;
  info.env_kwargs = kwargs;  // with the step cap, if one was added: replays see the same episodes
  info.algorithm_name = a.algorithm_name.empty() ? a.policy : a.algorithm_name;
  info.dataset_id = a.dataset_id.empty() ? StrCat(EnvStem(id), "/", a.epsilon > 0 ? "noisy-" : "", "rlforge-v0")
                                         : a.dataset_id;
  info.description = a.description.empty()
                         ? StrCat("rlforge record: ", a.episodes, " episodes of ", id, " played by ", a.policy, " (",
                                  a.deterministic ? "greedy" : "sampled", ", epsilon ", a.epsilon, ", seed ", a.seed,
                                  ")")
                         : a.description;
  // Reference scores for normalized returns, as Minari computes them: the
  // minimum from a random policy unless given, the maximum given or an
  // expert's mean return.
  if (a.ref_max || !a.expert.empty()) {
    const int threads = static_cast<int>(a.threads);
    if (a.ref_max) {
      info.ref_max_score = *a.ref_max;
    } else {
      auto expert = MakePolicy("--expert", a.expert, id, *env, a.seed ^ 0xE4E4ULL, /*deterministic=*/true);
      info.ref_max_score = AverageReturn(id, kwargs, *expert, a.reference_episodes, a.seed + 1000003, threads);
    }
    if (a.ref_min) {
      info.ref_min_score = *a.ref_min;
    } else {
      RandomPolicy random(env->action_space(), a.seed ^ 0x4A4AULL, /*use_masks=*/true);
      info.ref_min_score = AverageReturn(id, kwargs, random, a.reference_episodes, a.seed + 2000003, threads);
    }
    info.num_episodes_average_score = a.reference_episodes;
    const std::string bad = WhyBadReferenceScores(info);
    RLF_CHECK_ARG(bad.empty(), bad, a.ref_max ? " (--ref-min-score, --ref-max-score)" : " (the expert's mean return "
                  "must be above the random policy's, or --ref-min-score)");
  }

  VectorEnvOptions opt;
  opt.num_envs = static_cast<int>(std::min<int64_t>(a.num_envs, a.episodes));
  opt.num_threads = static_cast<int>(a.threads);
  auto envs = VectorEnv::Make(id, kwargs, opt);
  const auto t0 = std::chrono::steady_clock::now();
  const Dataset d = RecordDataset(*envs, *policy, {a.episodes, a.seed, a.epsilon}, info);
  WriteDataset(d, a.out);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::vector<double> returns = d.EpisodeReturns();
  double mean = 0;
  for (double r : returns) mean += r / static_cast<double>(returns.size());
  int64_t truncated = 0;
  for (int64_t e = 0; e < d.episodes(); ++e)
    // As inspect counts them: an episode that ended terminated and truncated at once is terminated.
    truncated += d.truncated[d.episode_first_step[e] + d.episode_length(e) - 1] &&
                 !d.terminated[d.episode_first_step[e] + d.episode_length(e) - 1];
  std::printf("recorded %lld episodes (%lld steps, %lld truncated) of %s by %s in %.2f s: mean return %.3f\n",
              static_cast<long long>(d.episodes()), static_cast<long long>(d.steps()),
              static_cast<long long>(truncated), id.c_str(), a.policy.c_str(), secs, mean);
  if (info.ref_min_score)
    std::printf("reference scores: min %.3f, max %.3f (normalized mean return %.3f)\n", *info.ref_min_score,
                *info.ref_max_score,
                (mean - *info.ref_min_score) / std::max(1e-12, *info.ref_max_score - *info.ref_min_score));
  std::printf("dataset %s: %s\n", info.dataset_id.c_str(), a.out.c_str());
}

}  // namespace

void AddRecordCommand(CLI::App& app) {
  auto a = std::make_shared<RecordArgs>();
  auto* cmd = app.add_subcommand("record", "Play a policy and write its episodes as a Minari dataset (docs/offline.md)");
  cmd->add_option("--env", a->env, "Env ID (by default the env of a run given as --policy)");
  cmd->add_option("--kwarg", a->kwargs, "Env kwarg key=value (repeatable)");
  cmd->add_option("--policy", a->policy,
                  "Behaviour policy: a scripted policy (" + Registry::Global().ScriptedPolicyList() +
                      "), a run directory or a checkpoint")
      ->capture_default_str();
  cmd->add_option("--episodes", a->episodes, "Episodes to record")->transform(IntegerFor(a->episodes))->capture_default_str();
  cmd->add_option("--out", a->out, "Dataset directory to create (metadata.json, main_data.hdf5)");
  cmd->add_option("--epsilon", a->epsilon, "Probability of replacing each action by a uniformly random legal one")
      ->capture_default_str();
  cmd->add_flag("--deterministic", a->deterministic,
                "Greedy actions of a trained policy (default: sampled, as it acted while training)");
  cmd->add_option("--seed", a->seed, "Seed: env i starts from seed + i; the policy and the noise are seeded from it")
      ->transform(IntegerFor(a->seed))->capture_default_str();
  cmd->add_option("--num-envs", a->num_envs, "Envs played in parallel")->transform(IntegerFor(a->num_envs))->capture_default_str();
  cmd->add_option("--threads", a->threads, "Threads stepping them")->transform(IntegerFor(a->threads))->capture_default_str();
  auto* cap = cmd->add_option("--max-episode-steps", a->max_episode_steps,
                  "Step cap for envs with no step limit of their own (episodes it ends are truncated)")
      ->transform(IntegerFor(a->max_episode_steps))->capture_default_str();
  cmd->add_option("--dataset-id", a->dataset_id, "Minari dataset ID (default: the env name lowercased without its version, cartpole/rlforge-v0 for CartPole-v1; noisy-rlforge-v0 with --epsilon)");
  cmd->add_option("--algorithm-name", a->algorithm_name, "metadata algorithm_name (default: the --policy text)");
  cmd->add_option("--description", a->description, "metadata description");
  cmd->add_option("--ref-min-score", a->ref_min, "Reference minimum score (default: a random policy's mean return)");
  cmd->add_option("--ref-max-score", a->ref_max, "Reference maximum score");
  cmd->add_option("--expert", a->expert, "Policy whose mean greedy return is the reference maximum score");
  cmd->add_option("--reference-episodes", a->reference_episodes, "Episodes behind each computed reference score")
      ->transform(IntegerFor(a->reference_episodes))->capture_default_str();
  cmd->callback([a, cap] {
    a->max_episode_steps_set = cap->count() > 0;
    RunRecord(*a);
  });
}

}  // namespace rlforge::cli
