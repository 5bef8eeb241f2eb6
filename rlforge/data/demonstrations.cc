#include "rlforge/data/demonstrations.h"

#include <algorithm>

#include "rlforge/core/error.h"

namespace rlforge {

std::vector<float> Demonstrations::ReturnsToGo(double gamma) const {
  std::vector<float> g(static_cast<size_t>(steps()));
  double acc = 0;
  for (int64_t t = steps() - 1; t >= 0; --t) {
    if (done(t)) acc = 0;
    acc = rewards[t] + gamma * acc;
    g[t] = static_cast<float>(acc);
  }
  return g;
}

double Demonstrations::mean_return() const {
  double sum = 0;
  for (double r : episode_returns) sum += r;
  return episodes() > 0 ? sum / episodes() : 0.0;
}

std::vector<uint8_t> Demonstrations::StepObservations() const {
  std::vector<uint8_t> out(static_cast<size_t>(steps() * obs_bytes));
  for (int64_t t = 0; t < steps(); ++t)
    std::copy_n(obs.begin() + row[t] * obs_bytes, obs_bytes, out.begin() + t * obs_bytes);
  return out;
}

Demonstrations RecordDemonstrations(Env& env, Policy& policy, int64_t episodes, uint64_t seed) {
  const Space& os = env.observation_space();
  const Space& as = env.action_space();
  RLF_CHECK_ARG(as.kind() == SpaceKind::kDiscrete || as.kind() == SpaceKind::kMultiDiscrete,
                "demonstrations need Discrete or MultiDiscrete actions; ", env.name(), " has ", as.ToString());
  RLF_CHECK_ARG(episodes >= 1, "demonstrations: episodes must be >= 1, got ", episodes);
  Demonstrations d;
  d.obs_bytes = static_cast<int64_t>(os.nbytes());
  d.mask_size = env.has_action_mask() ? as.mask_size() : 0;
  const bool multi = as.kind() == SpaceKind::kMultiDiscrete;
  d.action_dims = multi ? static_cast<int64_t>(as.nvec().size()) : 1;
  const bool conditional = multi && env.has_conditional_action_mask();
  std::vector<uint8_t> obs(d.obs_bytes), mask(d.mask_size);
  std::vector<int64_t> action(d.action_dims);
  // The env's action layout: Discrete actions are int64 with the space's start.
  auto push_row = [&] {
    d.obs.insert(d.obs.end(), obs.begin(), obs.end());
    if (d.mask_size > 0) {
      env.ActionMask(mask.data());
      d.legal_masks.insert(d.legal_masks.end(), mask.begin(), mask.end());
    }
  };
  int64_t rows = 0;
  for (int64_t e = 0; e < episodes; ++e) {
    Info info;
    env.Reset(seed + static_cast<uint64_t>(e), obs.data(), &info);
    const uint8_t starting = 1;  // a new episode (recurrent policies)
    policy.StartEpisodes(&starting, 1);
    push_row();
    double ret = 0;
    int64_t len = 0;
    for (;;) {
      policy.Act(obs.data(), d.mask_size > 0 ? d.legal_masks.data() + rows * d.mask_size : nullptr, 1, action.data());
      d.row.push_back(rows);
      for (int64_t k = 0; k < d.action_dims; ++k)
        d.actions.push_back(multi ? action[k] : action[k] - as.start());
      if (d.mask_size > 0) {
        if (conditional) {
          // Each dimension's mask given the demonstrated prefix.
          int64_t offset = 0;
          for (int64_t k = 0; k < d.action_dims; ++k) {
            env.ConditionalActionMask(action.data(), static_cast<int>(k), mask.data() + offset);
            offset += as.nvec()[k];
          }
          d.action_masks.insert(d.action_masks.end(), mask.begin(), mask.end());
        } else {
          d.action_masks.insert(d.action_masks.end(), d.legal_masks.begin() + rows * d.mask_size,
                                d.legal_masks.begin() + (rows + 1) * d.mask_size);
        }
      }
      const StepResult r = env.Step(action.data(), obs.data());
      ++rows;
      push_row();
      d.rewards.push_back(static_cast<float>(r.reward));
      d.terminated.push_back(r.terminated);
      d.truncated.push_back(r.truncated);
      ret += r.reward;
      ++len;
      if (r.done()) {
        d.episode_returns.push_back(ret);
        d.episode_lengths.push_back(len);
        if (r.info.Get("is_success").value_or(0.0) > 0) ++d.episode_successes;
        ++rows;
        break;
      }
    }
  }
  return d;
}

}  // namespace rlforge
