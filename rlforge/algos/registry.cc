// The algorithm registry: one line per agent, built as Algo(ctx, config)
// (rlforge/algos/algorithm.h). A new agent adds its folder, one line here, its
// preset file configs/<name>.yaml and its docs.
#include "rlforge/algos/algorithm.h"
#include "rlforge/algos/ddpg/ddpg.h"
#include "rlforge/algos/dqn/dqn.h"
#include "rlforge/algos/impala/impala.h"
#include "rlforge/algos/lm/grpo.h"
#include "rlforge/algos/lm/reward_model.h"
#include "rlforge/algos/lm/sft.h"
#include "rlforge/algos/offline/bc.h"
#include "rlforge/algos/offline/cql.h"
#include "rlforge/algos/offline/iql.h"
#include "rlforge/algos/pg/a2c.h"
#include "rlforge/algos/pg/a3c.h"
#include "rlforge/algos/pg/reinforce.h"
#include "rlforge/algos/ppo/ppo.h"
#include "rlforge/algos/ppo/recurrent_ppo.h"
#include "rlforge/algos/qrdqn/qrdqn.h"
#include "rlforge/algos/sac/sac.h"
#include "rlforge/algos/search/alphazero.h"
#include "rlforge/algos/search/muzero.h"
#include "rlforge/algos/tabular/tabular.h"
#include "rlforge/algos/td3/td3.h"

namespace rlforge {

namespace {

// An agent whose class depends on the env (built by `make`), with Config's keys.
template <typename Config>
AlgoSpec Dispatching(AlgoSpec spec, std::unique_ptr<Algorithm> (*make)(const RunContext&, const Config&)) {
  spec.make_algorithm = [make](const RunContext& ctx, const AlgoConfig& config) -> std::unique_ptr<Algorithm> {
    const auto* c = dynamic_cast<const AlgoConfigOf<Config>*>(&config);
    if (c == nullptr) throw Error("config of the wrong type for " + ctx.algo);
    return make(ctx, c->value);
  };
  return spec;
}

AlgoSpec WithActor(AlgoSpec spec, std::function<void(const RunContext&, const AlgoConfig&, const dist::JobEnv&)> f) {
  spec.run_actor = std::move(f);
  return spec;
}

}  // namespace

const std::vector<AlgoSpec>& Algorithms() {
  using search::AlphaZero, search::AlphaZeroConfig, search::MuZero, search::MuZeroConfig;
  static const std::vector<AlgoSpec> algos = {
      MakeAlgoSpec<Ppo, PpoConfig>("ppo", "Proximal Policy Optimization (clipped surrogate, GAE)"),
      MakeAlgoSpec<RecurrentPpo, RecurrentPpoConfig>("recurrent-ppo", "PPO with an LSTM or GRU policy: state carried across steps, truncated BPTT over sequences (partially observed envs)"),
      MakeAlgoSpec<A2c, A2cConfig>("a2c", "Advantage Actor-Critic, synchronous"),
      MakeAlgoSpec<A3c, A3cConfig>("a3c", "Asynchronous Advantage Actor-Critic: worker threads, shared model and optimizer"),
      WithActor(MakeAlgoSpec<Impala, ImpalaConfig>("impala", "IMPALA: actors (threads, or the ranks of a job) send unrolls to a learner that corrects for policy lag with V-trace"),
                [](const RunContext& ctx, const AlgoConfig& c, const dist::JobEnv& job) {
                  RunImpalaActor(ctx, dynamic_cast<const AlgoConfigOf<ImpalaConfig>&>(c).value, job);
                }),
      MakeAlgoSpec<Reinforce, ReinforceConfig>("reinforce", "REINFORCE: Monte-Carlo policy gradient, optional learned baseline"),
      MakeAlgoSpec<Dqn, DqnConfig>("dqn", "Deep Q-Network (Double, dueling, n-step; uniform, prioritized or recency-weighted replay; masks)"),
      MakeAlgoSpec<QrDqn, QrDqnConfig>("qr-dqn", "Quantile Regression DQN: the return's distribution as quantiles per action, on DQN's machinery"),
      MakeAlgoSpec<Sac, SacConfig>("sac", "Soft Actor-Critic: squashed Gaussian actor, twin critics, learned entropy coefficient (continuous actions)"),
      MakeAlgoSpec<Td3, Td3Config>("td3", "Twin Delayed DDPG: clipped double Q, target policy smoothing, delayed actor (continuous actions)"),
      MakeAlgoSpec<Ddpg, DdpgConfig>("ddpg", "Deep Deterministic Policy Gradient: deterministic actor, Q critic, action noise (continuous actions)"),
      MakeAlgoSpec<Bc, BcConfig>("bc", "Behaviour cloning from a dataset (--dataset DIR): weighted log-likelihood, held-out accuracy/F1, early stopping"),
      Dispatching<CqlConfig>(MakeAlgoSpec<Cql, CqlConfig>("cql", "Conservative Q-Learning from a dataset: DQN's TD loss (Discrete actions; MultiDiscrete with a factored Q) or SAC's (Box) + logsumexp Q - Q(s, a_data)"), MakeCql),
      MakeAlgoSpec<Iql, IqlConfig>("iql", "Implicit Q-Learning from a dataset: expectile value, twin Q, advantage-weighted actor (any action space)"),
      MakeAlgoSpec<Sft, SftConfig>("sft", "Supervised fine-tuning of a transformer LM on a text env's demonstrations (TextAddition-v0, ...): AdamW, warm-up + cosine"),
      MakeAlgoSpec<Grpo, GrpoConfig>("grpo", "GRPO for a transformer LM on a text env: group-normalized verifier rewards, clipped ratio, k3 KL to the reference"),
      MakeAlgoSpec<PpoLm, PpoLmConfig>("ppo-lm", "PPO for a transformer LM on a text env: value head, per-token KL penalty, GAE over tokens"),
      MakeAlgoSpec<RewardModel, RewardModelConfig>("rm", "A reward model for a text env from preference pairs (Bradley-Terry): the transformer's scalar head at the response's end; held-out pairwise accuracy"),
      MakeAlgoSpec<AlphaZero, AlphaZeroConfig>("alphazero", "AlphaZero: MCTS over the true simulator with a policy-value net, self-play actor threads (two-player games)"),
      MakeAlgoSpec<MuZero, MuZeroConfig>("muzero", "MuZero: MCTS over a learned model (representation, dynamics, prediction), prioritized replay, actors"),
      MakeAlgoSpec<QLearning, TabularConfig>("q-learning", "tabular Q-learning (off-policy TD control)"),
      MakeAlgoSpec<Sarsa, TabularConfig>("sarsa", "tabular SARSA (on-policy TD control)"),
      MakeAlgoSpec<ExpectedSarsa, TabularConfig>("expected-sarsa", "tabular Expected SARSA"),
  };
  return algos;
}

}  // namespace rlforge
