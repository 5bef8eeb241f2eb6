// The algorithm registry: one entry per algorithm. A new algorithm adds its
// folder, one line here, and its preset file configs/<name>.yaml.
#include "rlforge/algos/pg/a2c.h"
#include "rlforge/algos/pg/a3c.h"
#include "rlforge/algos/pg/reinforce.h"
#include "rlforge/algos/dqn/dqn.h"
#include "rlforge/algos/ppo/ppo.h"
#include "rlforge/algos/search/alphazero.h"
#include "rlforge/algos/search/muzero.h"
#include "rlforge/algos/tabular/tabular.h"
#include "rlforge/train/train_config.h"

namespace rlforge {
namespace {

OnPolicySetup SetupFrom(const RunConfig& run, int64_t n_steps, double gamma, double gae_lambda,
                        const PolicyConfig& policy) {
  OnPolicySetup s;
  s.env_id = run.env;
  s.env_kwargs = run.env_kwargs;
  s.num_envs = static_cast<int>(run.num_envs);
  s.env_threads = static_cast<int>(run.env_threads);
  s.seed = static_cast<uint64_t>(run.seed);
  s.n_steps = n_steps;
  s.gamma = gamma;
  s.gae_lambda = gae_lambda;
  s.policy = policy;
  s.normalize_obs = run.normalize_obs;
  s.normalize_reward = run.normalize_reward;
  return s;
}

template <typename Config, typename Algo>
AlgoSpec OnPolicyEntry(const char* name, const char* description) {
  return {name, description, [] { return std::make_unique<AlgoConfigOf<Config>>(); },
          [](const RunConfig& run, const AlgoConfig& config) -> std::unique_ptr<Algorithm> {
            const Config& c = dynamic_cast<const AlgoConfigOf<Config>&>(config).value;
            return std::make_unique<Algo>(SetupFrom(run, c.n_steps, c.gamma, c.gae_lambda, c.policy), c,
                                          run.total_steps);
          }};
}

AlgoSpec TabularEntry(const char* name, TdMethod method, const char* description) {
  return {name, description, [] { return std::make_unique<AlgoConfigOf<TabularConfig>>(); },
          [method](const RunConfig& run, const AlgoConfig& config) -> std::unique_ptr<Algorithm> {
            const auto& c = dynamic_cast<const AlgoConfigOf<TabularConfig>&>(config).value;
            return std::make_unique<TabularTd>(method, run.env, run.env_kwargs, static_cast<int>(run.num_envs),
                                               static_cast<uint64_t>(run.seed), c, run.total_steps);
          }};
}

}  // namespace

const std::vector<AlgoSpec>& Algorithms() {
  static const std::vector<AlgoSpec> algos = {
      OnPolicyEntry<PpoConfig, Ppo>("ppo", "Proximal Policy Optimization (clipped surrogate, GAE)"),
      OnPolicyEntry<A2cConfig, A2c>("a2c", "Advantage Actor-Critic, synchronous"),
      OnPolicyEntry<A3cConfig, A3c>("a3c", "Asynchronous Advantage Actor-Critic: worker threads, shared model and optimizer"),
      {"reinforce", "REINFORCE: Monte-Carlo policy gradient, optional learned baseline",
       [] { return std::make_unique<AlgoConfigOf<ReinforceConfig>>(); },
       [](const RunConfig& run, const AlgoConfig& config) -> std::unique_ptr<Algorithm> {
         const auto& c = dynamic_cast<const AlgoConfigOf<ReinforceConfig>&>(config).value;
         return std::make_unique<Reinforce>(SetupFrom(run, 1, c.gamma, 1.0, c.policy), c, run.total_steps);
       }},
      {"dqn", "Deep Q-Network (Double, dueling, n-step; uniform, prioritized or recency-weighted replay; masks)",
       [] { return std::make_unique<AlgoConfigOf<DqnConfig>>(); },
       [](const RunConfig& run, const AlgoConfig& config) -> std::unique_ptr<Algorithm> {
         const auto& c = dynamic_cast<const AlgoConfigOf<DqnConfig>&>(config).value;
         return std::make_unique<Dqn>(run.env, run.env_kwargs, static_cast<int>(run.num_envs),
                                      static_cast<int>(run.env_threads), static_cast<uint64_t>(run.seed), c,
                                      run.total_steps);
       }},
      {"alphazero", "AlphaZero: MCTS over the true simulator with a policy-value net, self-play actor threads (board games)",
       [] { return std::make_unique<AlgoConfigOf<search::AlphaZeroConfig>>(); },
       [](const RunConfig& run, const AlgoConfig& config) -> std::unique_ptr<Algorithm> {
         const auto& c = dynamic_cast<const AlgoConfigOf<search::AlphaZeroConfig>&>(config).value;
         return std::make_unique<search::AlphaZero>(run.env, run.env_kwargs, static_cast<uint64_t>(run.seed), c,
                                                    run.total_steps);
       }},
      {"muzero", "MuZero: MCTS over a learned model (representation, dynamics, prediction), prioritized replay, actors",
       [] { return std::make_unique<AlgoConfigOf<search::MuZeroConfig>>(); },
       [](const RunConfig& run, const AlgoConfig& config) -> std::unique_ptr<Algorithm> {
         const auto& c = dynamic_cast<const AlgoConfigOf<search::MuZeroConfig>&>(config).value;
         return std::make_unique<search::MuZero>(run.env, run.env_kwargs, static_cast<uint64_t>(run.seed), c,
                                                 run.total_steps);
       }},
      TabularEntry("q-learning", TdMethod::kQLearning, "tabular Q-learning (off-policy TD control)"),
      TabularEntry("sarsa", TdMethod::kSarsa, "tabular SARSA (on-policy TD control)"),
      TabularEntry("expected-sarsa", TdMethod::kExpectedSarsa, "tabular Expected SARSA"),
  };
  return algos;
}

}  // namespace rlforge
