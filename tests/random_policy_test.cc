// Random-policy statistics: sampled episodes agree with the exact expectations
// computed from each toy-text env's transition model (so stepping, sampling,
// time limits and the evaluator's episode accounting are all consistent), and
// classic-control envs show Gymnasium's known random-policy facts.
#include <gtest/gtest.h>

#include <cmath>

#include "rlforge/env/registry.h"
#include "rlforge/env/wrappers.h"
#include "rlforge/envs/toy_text/cliff_walking.h"
#include "rlforge/envs/toy_text/frozen_lake.h"
#include "rlforge/envs/toy_text/taxi.h"
#include "rlforge/env/evaluation.h"

namespace rlforge {
namespace {

// Keeps gtest from dumping the bytes of a Kwargs in test logs.
void PrintTo(const Kwargs& k, std::ostream* os) { *os << "{" << k.ToString() << "}"; }

struct Moments {
  double mean_return, std_return, mean_length, std_length;
};

// Exact moments of the return and length of a uniformly random policy over a
// transition model, with a step limit (0 = none: iterate to convergence).
Moments ExactRandomPolicyMoments(const TransitionModel& m, int64_t limit) {
  const int64_t S = m.num_states(), A = m.num_actions();
  std::vector<double> R(S, 0), M(S, 0), L(S, 0), Q(S, 0);  // E[G], E[G^2], E[len], E[len^2]
  std::vector<double> R2(S), M2(S), L2(S), Q2(S);
  const int64_t max_iters = limit > 0 ? limit : 2'000'000;
  for (int64_t k = 0; k < max_iters; ++k) {
    double change = 0;
    for (int64_t s = 0; s < S; ++s) {
      double r = 0, mm = 0, l = 0, q = 0;
      for (int64_t a = 0; a < A; ++a) {
        for (const Transition& t : m.Outcomes(s, a)) {
          const double p = t.prob / A;
          if (t.terminated) {
            r += p * t.reward;
            mm += p * t.reward * t.reward;
            l += p;
            q += p;
          } else {
            const int64_t n = t.next_state;
            r += p * (t.reward + R[n]);
            mm += p * (t.reward * t.reward + 2 * t.reward * R[n] + M[n]);
            l += p * (1 + L[n]);
            q += p * (1 + 2 * L[n] + Q[n]);
          }
        }
      }
      change = std::max(change, std::abs(l - L[s]) / (1 + L[s]));
      R2[s] = r, M2[s] = mm, L2[s] = l, Q2[s] = q;
    }
    R.swap(R2), M.swap(M2), L.swap(L2), Q.swap(Q2);
    if (limit == 0 && change < 1e-12) break;
  }
  Moments out{0, 0, 0, 0};
  double m2 = 0, q2 = 0;
  for (int64_t s = 0; s < S; ++s) {
    const double mu = m.initial_distribution()[s];
    out.mean_return += mu * R[s];
    m2 += mu * M[s];
    out.mean_length += mu * L[s];
    q2 += mu * Q[s];
  }
  out.std_return = std::sqrt(std::max(0.0, m2 - out.mean_return * out.mean_return));
  out.std_length = std::sqrt(std::max(0.0, q2 - out.mean_length * out.mean_length));
  return out;
}

// The env's transition table, asked as a capability (through its TimeLimit).
const TransitionModel& ModelOf(const Env& env) {
  const TransitionModel* model = env.transition_model();
  if (model == nullptr) throw Error(env.name() + " offers no transition model");
  return *model;
}

EpisodeStats RunRandom(const std::string& id, int64_t episodes, uint64_t seed, const Kwargs& kwargs = {}) {
  VectorEnvOptions opt;
  opt.num_envs = 16;
  auto envs = VectorEnv::Make(id, kwargs, opt);
  RandomPolicy policy(envs->single_action_space(), seed + 99);
  return Evaluate(*envs, policy, episodes, seed);
}

class ToyTextRandomPolicyTest : public testing::TestWithParam<std::pair<std::string, Kwargs>> {};

TEST_P(ToyTextRandomPolicyTest, SampledStatisticsMatchTheExactExpectation) {
  const auto& [id, kwargs] = GetParam();
  auto env = Make(id, kwargs);
  const auto& spec = Registry::Global().Spec(id);
  const Moments exact = ExactRandomPolicyMoments(ModelOf(*env), spec.max_episode_steps.value_or(0));
  const int64_t n = 10000;
  const EpisodeStats s = RunRandom(id, n, /*seed=*/2024, kwargs);
  // Means within 4 standard errors; standard deviations within 5%.
  EXPECT_NEAR(s.mean_return, exact.mean_return, 4 * exact.std_return / std::sqrt(double(n)) + 1e-9) << id;
  EXPECT_NEAR(s.mean_length, exact.mean_length, 4 * exact.std_length / std::sqrt(double(n)) + 1e-9) << id;
  EXPECT_NEAR(s.std_return, exact.std_return, 0.05 * exact.std_return + 1e-9) << id;
  EXPECT_NEAR(s.std_length, exact.std_length, 0.05 * exact.std_length + 1e-9) << id;
  std::printf("%s: exact return %.4f +- %.4f, length %.3f +- %.3f; sampled %.4f, %.3f\n", id.c_str(),
              exact.mean_return, exact.std_return, exact.mean_length, exact.std_length, s.mean_return,
              s.mean_length);
}

INSTANTIATE_TEST_SUITE_P(
    ToyText, ToyTextRandomPolicyTest,
    testing::Values(std::make_pair(std::string("FrozenLake-v1"), Kwargs{}),
                    std::make_pair(std::string("FrozenLake8x8-v1"), Kwargs{}),
                    std::make_pair(std::string("Taxi-v4"), Kwargs{}),
                    std::make_pair(std::string("Taxi-v4"), Kwargs{{"is_rainy", "true"}}),
                    std::make_pair(std::string("CliffWalking-v1"), Kwargs{}),
                    std::make_pair(std::string("Blackjack-v1"), Kwargs{{"sab", "false"}}),
                    std::make_pair(std::string("CliffWalkingSlippery-v1"), Kwargs{})),
    [](const testing::TestParamInfo<std::pair<std::string, Kwargs>>& info) {
      std::string name = info.param.first + (info.param.second.empty() ? "" : "_variant");
      for (char& c : name)
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST(ClassicControlRandomPolicyTest, KnownGymnasiumFacts) {
  // MountainCar: a random policy never reaches the flag in 200 steps.
  const EpisodeStats mc = RunRandom("MountainCar-v0", 1000, 1);
  EXPECT_EQ(mc.mean_return, -200.0);
  EXPECT_EQ(mc.std_return, 0.0);
  // CartPole: random episodes last about 22 steps (Gymnasium: ~22.3).
  const EpisodeStats cp = RunRandom("CartPole-v1", 10000, 1);
  EXPECT_NEAR(cp.mean_length, 22.3, 0.5);
  EXPECT_EQ(cp.mean_return, cp.mean_length);
  // Acrobot: a random policy almost never swings up within 500 steps.
  const EpisodeStats ac = RunRandom("Acrobot-v1", 1000, 1);
  EXPECT_GT(ac.mean_length, 490);
  EXPECT_NEAR(ac.mean_return, -(ac.mean_length - *ac.success_rate), 1e-9);  // -1 per step, 0 on success
  // MountainCarContinuous: ~ -0.1 E[u^2] = -1/30 per step over 999 steps.
  const EpisodeStats mcc = RunRandom("MountainCarContinuous-v0", 1000, 1);
  EXPECT_NEAR(mcc.mean_return, -999.0 / 30.0, 0.5);
  // Pendulum: every episode is truncated at 200.
  const EpisodeStats pd = RunRandom("Pendulum-v1", 1000, 1);
  EXPECT_EQ(pd.mean_length, 200.0);
  EXPECT_LT(pd.mean_return, -900);
  EXPECT_GT(pd.mean_return, -1500);
}

}  // namespace
}  // namespace rlforge
