#include "rlforge/env/evaluation.h"

#include <algorithm>
#include <cmath>

#include "rlforge/env/registry.h"

namespace rlforge {

bool NeedsEvaluationStepCap(const std::string& id, const Kwargs& kwargs) {
  if (kwargs.Find("max_episode_steps")) return kwargs.GetInt("max_episode_steps", 0, id) == 0;
  const EnvSpec& spec = Registry::Global().Spec(id);
  if (spec.default_kwargs.Find("max_episode_steps"))
    return spec.default_kwargs.GetInt("max_episode_steps", 0, id) == 0;
  return !spec.max_episode_steps.has_value();
}

Kwargs EvaluationKwargs(const std::string& id, const Kwargs& kwargs, int64_t cap, const std::string& cap_name) {
  RLF_CHECK_ARG(cap >= 1, cap_name, " must be >= 1, got ", cap);
  if (!NeedsEvaluationStepCap(id, kwargs)) return kwargs;
  Kwargs capped = kwargs;
  capped.Set("max_episode_steps", std::to_string(cap));
  return capped;
}

namespace {

// Means and standard deviations of stats->returns and lengths; episodes = their count.
void SummarizeEpisodes(EpisodeStats* s) {
  const double n = static_cast<double>(s->returns.size());
  s->episodes = static_cast<int64_t>(s->returns.size());
  double sr = 0, sl = 0;
  for (size_t k = 0; k < s->returns.size(); ++k) sr += s->returns[k], sl += static_cast<double>(s->lengths[k]);
  s->mean_return = sr / n, s->mean_length = sl / n;
  double vr = 0, vl = 0;
  for (size_t k = 0; k < s->returns.size(); ++k) {
    vr += (s->returns[k] - s->mean_return) * (s->returns[k] - s->mean_return);
    const double dl = static_cast<double>(s->lengths[k]) - s->mean_length;
    vl += dl * dl;
  }
  s->std_return = std::sqrt(vr / n), s->std_length = std::sqrt(vl / n);
}

}  // namespace

int GameOutcome(const Info& info, bool truncated) {
  if (info.Get("is_success").value_or(0.0) == 1.0) return 1;
  return info.Get("draw").value_or(0.0) == 1.0 || truncated ? 0 : -1;
}

void MatchStats::Add(int outcome) {
  ++games;
  if (outcome > 0) ++wins;
  else if (outcome < 0) ++losses;
  else ++draws;
  outcomes.push_back(outcome);
}

MatchStats EvaluateMatch(Env& env, Policy& agent, Policy& opponent, int64_t games, uint64_t seed) {
  RLF_CHECK_ARG(games >= 1, "games must be >= 1, got ", games);
  RLF_CHECK_ARG(env.num_players() == 2, env.name(), " is not a two-player game (num_players ", env.num_players(),
                ")");
  std::vector<uint8_t> obs(env.observation_space().nbytes()), act(env.action_space().nbytes());
  std::vector<uint8_t> mask(std::max<int64_t>(env.action_space().mask_size(), 1));
  MatchStats m;
  for (int64_t g = 0; g < games; ++g) {
    const int agent_side = static_cast<int>(g % 2);
    Info info;
    env.Reset(seed + static_cast<uint64_t>(g), obs.data(), &info);
    const uint8_t starting = 1;  // a new game for both players (recurrent policies)
    agent.StartEpisodes(&starting, 1);
    opponent.StartEpisodes(&starting, 1);
    int64_t length = 0;
    for (;;) {
      Policy& p = env.current_player() == agent_side ? agent : opponent;
      if (env.has_action_mask()) env.ActionMask(mask.data());
      p.Act(obs.data(), env.has_action_mask() ? mask.data() : nullptr, 1, act.data());
      const StepResult r = env.Step(act.data(), obs.data());
      ++length;
      if (r.done()) {
        if (!r.terminated) ++m.stats.truncated;
        break;
      }
    }
    double returns[2];
    env.PlayerReturns(returns);
    const double ret = returns[agent_side];
    m.Add(ret > 0 ? 1 : ret < 0 ? -1 : 0);
    m.stats.returns.push_back(ret);
    m.stats.lengths.push_back(length);
  }
  SummarizeEpisodes(&m.stats);
  m.stats.success_rate = m.win_rate();
  return m;
}

EpisodeStats Evaluate(VectorEnv& envs, Policy& policy, int64_t episodes, uint64_t seed) {
  RLF_CHECK_ARG(episodes >= 1, "episodes must be >= 1, got ", episodes);
  RLF_CHECK_ARG(envs.env(0).num_players() == 1, envs.env(0).name(),
                " is a two-player game: evaluate it against an opponent (EvaluateMatch)");
  const int n = envs.num_envs();
  std::vector<int64_t> quota(n), done(n, 0);
  for (int i = 0; i < n; ++i) quota[i] = episodes / n + (i < episodes % n ? 1 : 0);
  const bool defines_success = envs.env(0).defines_success();
  if (envs.has_conditional_action_mask()) policy.set_conditional_mask(envs.conditional_mask_fn());

  EpisodeStats stats;
  int64_t successes = 0;
  std::optional<double> illegal;
  std::vector<uint8_t> actions(static_cast<size_t>(n) * envs.single_action_space().nbytes());
  std::vector<uint8_t> starting(n, 1);
  envs.Reset(seed);
  policy.StartEpisodes(starting.data(), n);
  while (stats.episodes < episodes) {
    policy.Act(envs.observations(), envs.action_masks(), n, actions.data());
    envs.Step(actions.data());
    for (int i = 0; i < n; ++i) starting[i] = envs.terminated()[i] || envs.truncated()[i];
    policy.StartEpisodes(starting.data(), n);
    for (int i = 0; i < n; ++i) {
      if (!(envs.terminated()[i] || envs.truncated()[i]) || done[i] >= quota[i]) continue;
      ++done[i];
      ++stats.episodes;
      if (!envs.terminated()[i]) ++stats.truncated;
      stats.returns.push_back(envs.episode_return(i));
      stats.lengths.push_back(envs.episode_length(i));
      if (envs.info(i).Get("is_success").value_or(0.0) == 1.0) ++successes;
      if (const auto k = envs.info(i).Get("illegal_actions")) illegal = illegal.value_or(0.0) + *k;
    }
  }
  SummarizeEpisodes(&stats);
  const double count = static_cast<double>(stats.episodes);
  if (defines_success) stats.success_rate = static_cast<double>(successes) / count;
  if (illegal) stats.illegal_actions = *illegal / count;
  return stats;
}

MatchStats EvaluateTeams(VectorEnv& envs, Policy& agent, Policy& opponent, int64_t games, uint64_t seed) {
  RLF_CHECK_ARG(games >= 1, "games must be >= 1, got ", games);
  RLF_CHECK_ARG(envs.num_agents() == 2, envs.env(0).name(), " has ", envs.num_agents(),
                " agent(s): team evaluation needs two (Arena-v0: env kwarg opponent=external)");
  const int n = envs.num_envs();
  std::vector<int64_t> quota(n), done(n, 0);
  for (int i = 0; i < n; ++i) quota[i] = games / n + (i < games % n ? 1 : 0);
  const Space& os = envs.single_observation_space();
  const Space& as = envs.single_action_space();
  const size_t mask = static_cast<size_t>(std::max<int64_t>(as.mask_size(), 1));
  std::vector<uint8_t> act0(n * as.nbytes()), act1(n * as.nbytes()), obs1(n * os.nbytes()), mask1(n * mask);
  std::vector<uint8_t> starting(n, 1);
  envs.Reset(seed);
  agent.StartEpisodes(starting.data(), n);
  opponent.StartEpisodes(starting.data(), n);
  MatchStats m;
  while (m.games < games) {
    envs.AgentObservations(1, obs1.data());
    if (as.mask_size() > 0) envs.AgentActionMasks(1, mask1.data());
    agent.Act(envs.observations(), envs.action_masks(), n, act0.data());
    opponent.Act(obs1.data(), as.mask_size() > 0 ? mask1.data() : nullptr, n, act1.data());
    envs.SetAgentActions(1, act1.data());
    envs.Step(act0.data());
    for (int i = 0; i < n; ++i) starting[i] = envs.ended()[i];
    agent.StartEpisodes(starting.data(), n);
    opponent.StartEpisodes(starting.data(), n);
    for (int i = 0; i < n; ++i) {
      if (!envs.ended()[i] || done[i] >= quota[i]) continue;
      ++done[i];
      const Info& info = envs.info(i);
      m.Add(GameOutcome(info, envs.truncated()[i] != 0));
      if (!envs.terminated()[i]) ++m.stats.truncated;
      m.stats.returns.push_back(envs.episode_return(i));
      m.stats.lengths.push_back(envs.episode_length(i));
    }
  }
  SummarizeEpisodes(&m.stats);
  m.stats.success_rate = m.win_rate();
  return m;
}

}  // namespace rlforge
