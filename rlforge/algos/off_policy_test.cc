// SAC, TD3 and DDPG: the replay of continuous actions, the squashed
// Gaussian's log-probability, exploration noise statistics, the TD3 and SAC
// targets and the temperature step on worked numbers, the hand-written
// kernels against autograd, exact resume, and the errors users meet.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "rlforge/algos/ddpg/ddpg.h"
#include "rlforge/algos/sac/sac.h"
#include "rlforge/algos/td3/td3.h"
#include "rlforge/runtime/policy.h"
#include "rlforge/train/runner.h"
#include "rlforge/train/train_config.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

TEST(ContinuousReplayTest, StoresFloatActionVectorsAndResumes) {
  ReplayBuffer rb(4, sizeof(float), 0, 1, /*action_dim=*/2);
  for (int k = 0; k < 6; ++k) {
    const float o = static_cast<float>(k), n = o + 1, a[2] = {0.1f * k, -0.1f * k};
    rb.Add(&o, &n, a, static_cast<float>(k), k == 5, false, nullptr);
  }
  EXPECT_EQ(rb.size(), 4);
  EXPECT_THROW(rb.Add(nullptr, nullptr, int64_t{0}, 0.0f, false, false, nullptr), Error);  // Discrete form refused
  ReplayBuffer::Batch b;
  rb.Gather({0, 1}, /*n_step=*/2, 0.5, &b);  // slots 0, 1 hold transitions 4, 5
  ASSERT_EQ(b.action_vec.size(), 4u);
  EXPECT_TRUE(b.action.empty());
  EXPECT_FLOAT_EQ(b.action_vec[0], 0.4f);
  EXPECT_FLOAT_EQ(b.action_vec[1], -0.4f);
  EXPECT_FLOAT_EQ(b.action_vec[2], 0.5f);
  EXPECT_FLOAT_EQ(b.reward[0], 4.0f + 0.5f * 5.0f);  // two steps, then the episode ends
  EXPECT_FLOAT_EQ(b.discount[0], 0.25f);
  EXPECT_EQ(b.terminated[0], 1);
  std::string state;
  rb.SaveState(&state);
  ReplayBuffer copy(4, sizeof(float), 0, 1, 2);
  copy.LoadState(state);
  ReplayBuffer::Batch c;
  copy.Gather({0, 1}, 2, 0.5, &c);
  EXPECT_EQ(c.action_vec, b.action_vec);
  EXPECT_THROW(ReplayBuffer(4, sizeof(float), 0, 1, 3).LoadState(state), Error);  // another action size
  EXPECT_THROW(ReplayBuffer(4, sizeof(float), 0, 1, 0).LoadState(state), Error);  // a Discrete buffer
}

// a = tanh(u), u = mu + std eps; log pi = log N(u; mu, std) - log(1 - a^2 + 1e-6).
// Row dimension 0: mu 0.5, log_std log 0.5, eps 1: u = 1, a = tanh 1 = 0.76159416,
//   log pi = -0.5 + 0.69314718 - 0.91893853 + 0.86755928 = 0.14176793.
// Dimension 1: mu -1, raw log_std 5 clamped to 2, eps -0.25: u = -1 - e^2/4
//   = -2.84726402, a = -0.99329391, log pi = 1.36468770.
TEST(SacTest, SquashedGaussianLogProbabilityWorkedExample) {
  const float raw[4] = {0.5f, -1.0f, static_cast<float>(std::log(0.5)), 5.0f};
  const float eps[2] = {1.0f, -0.25f};
  float a[2];
  double lp;
  SquashedGaussianSample(raw, eps, 1, 2, a, &lp);
  EXPECT_NEAR(a[0], 0.76159416, 1e-6);
  EXPECT_NEAR(a[1], -0.99329391, 1e-6);
  EXPECT_NEAR(lp, 0.14176793 + 1.36468770, 2e-5);
}

TEST(ActionNoiseTest, OrnsteinUhlenbeckStatistics) {
  // x <- x - theta x dt + sigma sqrt(dt) N(0, 1): stationary variance
  // sigma^2 / (theta (2 - theta dt)) = 0.09 / (0.15 * 1.9985) = 0.300225,
  // lag-1 correlation 1 - theta dt = 0.9985.
  ActionNoise ou("ornstein-uhlenbeck", 1, 2, 0.3, 0.15, 0.01);
  Rng rng(7);
  const int burn = 5000, n = 2000000;
  double sum = 0, sum2 = 0, lag = 0, prev = 0;
  for (int t = 0; t < burn + n; ++t) {
    float a = 0;
    ou.Add(rng, 1, &a);
    if (t >= burn) {
      sum += a, sum2 += double(a) * a, lag += prev * a;
    }
    prev = a;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  EXPECT_NEAR(var, 0.300225, 0.03);
  EXPECT_NEAR(mean, 0.0, 0.06);
  EXPECT_NEAR((lag / n - mean * mean) / var, 0.9985, 0.0005);
  // Env 0's process never moved; a reset puts env 1's back at 0.
  float a0 = 0;
  ActionNoise fresh("ornstein-uhlenbeck", 1, 2, 0.3, 0.15, 0.01);
  Rng r1(1), r2(1);
  ou.Reset(1);
  float a1 = 0;
  ou.Add(r1, 1, &a1);
  fresh.Add(r2, 0, &a0);
  EXPECT_EQ(a0, a1);
  // Normal noise: sigma N(0, 1), independent draws.
  ActionNoise normal("normal", 1, 1, 0.2, 0, 0.01);
  double s2 = 0;
  for (int t = 0; t < 100000; ++t) {
    float a = 0;
    normal.Add(rng, 0, &a);
    s2 += double(a) * a;
  }
  EXPECT_NEAR(std::sqrt(s2 / 100000), 0.2, 0.003);
}

RunContext PendulumContext(const std::string& algo, int64_t seed = 0) {
  RunContext ctx;
  ctx.algo = algo;
  ctx.run.env = "Pendulum-v1";
  ctx.run.num_envs = 1;
  ctx.run.seed = seed;
  ctx.run.total_steps = 100000;
  return ctx;
}

// Sets a Linear layer to weight w (row-major) and bias b.
void SetLinear(torch::nn::Linear& lin, std::vector<float> w, std::vector<float> b) {
  torch::NoGradGuard g;
  lin->weight.copy_(torch::tensor(w).view_as(lin->weight));
  lin->bias.copy_(torch::tensor(b));
}

// TD3's target with linear networks (no hidden layers) on Pendulum (3
// observations, 1 action): the target actor gives tanh(1) = 0.76159 everywhere;
// target critic 1 is 2a + 1, critic 2 is 3 - a. With smoothing noise of
// sigma 100 clipped to 0.3, a' = clip(0.76159 +- 0.3, -1, 1) = 1 or 0.46159:
//   a' = 1:       min(3, 2) = 2,
//   a' = 0.46159: min(1.92318, 2.53841) = 1.92318,
// and y = r + discount (1 - terminated) min.
TEST(Td3Test, ClippedDoubleQTargetWithSmoothingWorkedExample) {
  Td3Config c;
  c.net_arch = {};
  c.learning_starts = 50, c.batch_size = 16, c.target_policy_noise = 100, c.target_noise_clip = 0.3;
  Td3 agent(PendulumContext("td3"), c);
  while (agent.num_timesteps() < 40) agent.Iterate();
  auto layers = agent.actor_target()->layers();
  ASSERT_EQ(layers.size(), 1u);
  SetLinear(layers[0], {0, 0, 0}, {1.0f});
  auto q1 = agent.critic_target()->layers(0), q2 = agent.critic_target()->layers(1);
  ASSERT_EQ(q1.size(), 1u);
  SetLinear(q1[0], {0, 0, 0, 2}, {1});
  SetLinear(q2[0], {0, 0, 0, -1}, {3});
  agent.SampleBatch();
  agent.CriticGradients(true);
  int plus = 0, minus = 0;
  for (int b = 0; b < 16; ++b) {
    const float e = agent.smoothing()[b];
    ASSERT_TRUE(e == 0.3f || e == -0.3f || std::abs(e) < 0.3f) << e;
    if (std::abs(e) != 0.3f) continue;  // (|N(0, 100^2)| < 0.3 is rare)
    const double min_q = e > 0 ? 2.0 : 1.92318;
    (e > 0 ? plus : minus)++;
    const auto& bt = agent.batch();
    EXPECT_EQ(bt.terminated[b], 0);  // Pendulum never terminates
    EXPECT_NEAR(agent.targets()[b], bt.reward[b] + bt.discount[b] * min_q, 1e-4) << b;
  }
  EXPECT_GT(plus, 0);
  EXPECT_GT(minus, 0);
}

// SAC's entropy-corrected target with linear networks and a fixed alpha 0.2:
// the actor gives mu = 0.5 and log_std = log 0.5 everywhere, so with the
// step's draw eps, a' = tanh(0.5 + 0.5 eps) and
//   log pi(a'|s') = -eps^2/2 - log 0.5 - log(2 pi)/2 - log(1 - a'^2 + 1e-6);
// target critics 2a + 1 and 3 - a:
//   y = r + discount (min(2a' + 1, 3 - a') - 0.2 log pi(a'|s')).
// For eps = 0: a' = 0.46212, min = 1.92423, log pi = 0.01444, y = r + discount 1.92135.
TEST(SacTest, EntropyCorrectedTargetWorkedExample) {
  SacConfig c;
  c.net_arch = {};
  c.ent_coef = "0.2";
  c.learning_starts = 50, c.batch_size = 32;
  Sac agent(PendulumContext("sac"), c);
  while (agent.num_timesteps() < 40) agent.Iterate();
  auto layers = agent.actor()->layers();
  SetLinear(layers[0], {0, 0, 0, 0, 0, 0}, {0.5f, static_cast<float>(std::log(0.5))});
  SetLinear(agent.critic_target()->layers(0)[0], {0, 0, 0, 2}, {1});
  SetLinear(agent.critic_target()->layers(1)[0], {0, 0, 0, -1}, {3});
  agent.SampleBatch();
  agent.CriticGradients(true);
  for (int b = 0; b < 32; ++b) {
    const double e = agent.next_noise()[b];
    const double a = std::tanh(0.5 + 0.5 * e);
    const double logp = -0.5 * e * e - std::log(0.5) - 0.5 * std::log(2 * M_PI) - std::log(1 - a * a + 1e-6);
    const double y = agent.batch().reward[b] + agent.batch().discount[b] * (std::min(2 * a + 1, 3 - a) - 0.2 * logp);
    EXPECT_NEAR(agent.targets()[b], y, 1e-4) << b;
  }
  // The eps = 0 figures of the comment.
  const double a0 = std::tanh(0.5), lp0 = -std::log(0.5) - 0.5 * std::log(2 * M_PI) - std::log(1 - a0 * a0 + 1e-6);
  EXPECT_NEAR(std::min(2 * a0 + 1, 3 - a0), 1.92423, 1e-5);
  EXPECT_NEAR(lp0, 0.01444, 1e-5);
  EXPECT_NEAR(std::min(2 * a0 + 1, 3 - a0) - 0.2 * lp0, 1.92135, 1e-5);
}

// The temperature: L = -log alpha (mean log pi + H_target); its first Adam
// step moves log alpha by the learning rate against the gradient's sign,
// while the step itself uses alpha before the update.
TEST(SacTest, TemperatureStep) {
  SacConfig c;
  c.net_arch = {32};
  c.ent_coef = "auto_0.5";
  c.learning_rate = Schedule::Constant(1e-3);
  c.learning_starts = 50, c.batch_size = 32;
  Sac agent(PendulumContext("sac"), c);
  EXPECT_DOUBLE_EQ(agent.target_entropy(), -1.0);  // -dim(A)
  while (agent.num_timesteps() < 40) agent.Iterate();
  agent.SampleBatch();
  const double before = agent.log_ent_coef();
  EXPECT_NEAR(before, std::log(0.5), 1e-12);
  const double loss = agent.EntCoefStep(true);
  EXPECT_NEAR(agent.ent_coef(), 0.5, 1e-12);
  // loss = -log alpha (mean log pi - 1): recover mean log pi from it.
  const double mean_logp = loss / -before + 1.0;
  const double grad = -(mean_logp - 1.0);
  EXPECT_NEAR(agent.log_ent_coef() - before, grad > 0 ? -1e-3 : 1e-3, 1e-8);
  EXPECT_THROW(
      {
        SacConfig bad;
        bad.ent_coef = "auto_x";
        bad.Validate();
      },
      InvalidArgument);
}

// SB3 counts target_update_interval within each update phase: with one
// gradient step per phase, the targets move at every phase whatever the
// interval (before, rlforge counted all steps and skipped every other one).
TEST(SacTest, TargetUpdateIntervalCountsWithinThePhaseAsSb3) {
  SacConfig c;
  c.net_arch = {16};
  c.learning_starts = 50, c.batch_size = 16, c.target_update_interval = 2;
  Sac agent(PendulumContext("sac"), c);
  while (agent.num_timesteps() <= 50) agent.Iterate();
  for (int k = 0; k < 6; ++k) {
    const torch::Tensor before = agent.critic_target()->parameters()[0].clone();
    const Metrics m = agent.Iterate();
    ASSERT_EQ(m.at("gradient_steps"), 1.0);
    EXPECT_FALSE(torch::equal(before, agent.critic_target()->parameters()[0])) << "phase " << k;
  }
}

// The hand-written kernels give autograd's losses and gradients.
template <typename Agent>
void ExpectKernelsMatchAutograd(Agent& agent, const std::string& what) {
  while (agent.num_timesteps() < 600) agent.Iterate();  // trained a little: nothing symmetric
  agent.SampleBatch();
  auto grads = [](std::vector<torch::Tensor> params) {
    std::vector<torch::Tensor> g;
    for (auto& p : params) g.push_back(p.grad().clone());
    return g;
  };
  auto expect_close = [&](const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                          const std::string& part) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-3, 1e-5))
          << what << " " << part << " parameter " << i << ": max diff " << (a[i] - b[i]).abs().max().item<float>();
  };
  const double cf = agent.CriticGradients(true);
  auto critic_fast = grads(agent.critics()->parameters());
  const double ct = agent.CriticGradients(false);
  EXPECT_NEAR(cf, ct, 1e-4 * std::max(1.0, std::abs(ct))) << what;
  expect_close(critic_fast, grads(agent.critics()->parameters()), "critic");
  const double af = agent.ActorGradients(true);
  auto actor_fast = grads(agent.actor()->parameters());
  const double at = agent.ActorGradients(false);
  EXPECT_NEAR(af, at, 1e-4 * std::max(1.0, std::abs(at))) << what;
  expect_close(actor_fast, grads(agent.actor()->parameters()), "actor");
}

TEST(OffPolicyTest, KernelsMatchAutograd) {
  for (const std::string act : {"relu", "tanh"}) {
    SacConfig s;
    s.net_arch = {32, 24}, s.activation = act, s.learning_starts = 300, s.batch_size = 64;
    Sac sac(PendulumContext("sac"), s);
    ExpectKernelsMatchAutograd(sac, "sac " + act);
    Td3Config t;
    t.net_arch = {32, 24}, t.activation = act, t.learning_starts = 300, t.batch_size = 64;
    t.action_noise = "normal";
    Td3 td3(PendulumContext("td3"), t);
    ExpectKernelsMatchAutograd(td3, "td3 " + act);
  }
  DdpgConfig d;
  d.net_arch = {16}, d.learning_starts = 300, d.batch_size = 32, d.prioritized_replay = true;
  Ddpg ddpg(PendulumContext("ddpg"), d);
  ExpectKernelsMatchAutograd(ddpg, "ddpg prioritized");
}

// Trains 3,000 steps with checkpoints every 1,000, resumes a copy from the
// 1,000-step checkpoint, and compares every network at the end.
// `tag` names the run folder: tests run in parallel under ctest.
void ExpectExactResume(const std::string& algo, const std::string& tag, std::vector<std::string> sets) {
  const std::string root = testing::TempDir() + "/rlforge_resume_" + tag;
  fs::remove_all(root);
  fs::create_directories(root);
  sets.insert(sets.end(), {"net_arch=[32, 32]", "learning_starts=500", "batch_size=32", "buffer_size=5000",
                           "checkpoint_interval=1000", "eval_episodes=0", "num_envs=2", "train_freq=4",
                           "gradient_steps=-1"});
  RunnerOptions quiet;
  quiet.progress = false;
  Train(TrainConfig::Resolve(algo, "Pendulum-v1", "", sets, 3000, 3), root + "/a", quiet);
  fs::copy(root + "/a", root + "/b", fs::copy_options::recursive);
  fs::remove(root + "/b/checkpoints/final.pt");
  fs::remove(root + "/b/checkpoints/step_2000.pt");
  Resume(root + "/b", std::nullopt, quiet);
  auto a = LoadRun(root + "/a"), b = LoadRun(root + "/b");
  EXPECT_EQ(a.algorithm->num_timesteps(), 3000);
  auto pa = a.algorithm->network()->parameters(), pb = b.algorithm->network()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  ASSERT_GT(pa.size(), 0u);
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << algo << " parameter " << i;
  auto& oa = dynamic_cast<OffPolicyActorCritic&>(*a.algorithm);
  auto& ob = dynamic_cast<OffPolicyActorCritic&>(*b.algorithm);
  auto ta = oa.critic_target()->parameters(), tb = ob.critic_target()->parameters();
  for (size_t i = 0; i < ta.size(); ++i) EXPECT_TRUE(torch::equal(ta[i], tb[i])) << algo << " target " << i;
  if (auto* sa = dynamic_cast<Sac*>(&oa)) {
    EXPECT_EQ(sa->log_ent_coef(), dynamic_cast<Sac&>(ob).log_ent_coef());
  }
}

// gSDE's action and log-prob on a worked example: latent z = [1, 2],
// mu = 0.5, log_std = [log 0.5, log 0.25] (L = 2, A = 1), draw E = [1, -2]:
//   W = exp(log_std) E = [0.5, -0.5], z W = -0.5, a = tanh(0.5 - 0.5) = 0;
//   sigma^2 = z^2 exp(2 log_std) + 1e-6 = 0.25 + 0.25 + 1e-6 = 0.500001,
//   log pi = -log(2 pi)/2 - log(sigma) - (0 - 0.5)^2 / (2 sigma^2) - log(1 - 0 + 1e-6)
//          = -0.91893853 + 0.34657259 - 0.24999950 - 0.00000100 = -0.82236644.
TEST(SacTest, SdeSampleWorkedExample) {
  auto latent = torch::tensor({{1.0f, 2.0f}});
  auto mu = torch::tensor({{0.5f}});
  auto log_std = torch::tensor({{std::log(0.5f)}, {std::log(0.25f)}}).requires_grad_(true);
  auto eps = torch::tensor({{1.0f}, {-2.0f}});
  auto [a, logp] = SdeSample(latent, mu, log_std, eps);
  EXPECT_NEAR(a.item<float>(), 0.0f, 1e-7);
  EXPECT_NEAR(logp.item<float>(), -0.82236644, 2e-6);
  // One draw per row ([B, L, A]) gives the same numbers row by row.
  auto [a3, logp3] = SdeSample(torch::cat({latent, latent}), torch::cat({mu, mu}), log_std,
                               torch::stack({eps, -eps}));
  EXPECT_NEAR(a3[0][0].item<float>(), 0.0f, 1e-7);
  EXPECT_NEAR(logp3[0].item<float>(), -0.82236644, 2e-6);
  EXPECT_NEAR(a3[1][0].item<float>(), std::tanh(1.0f), 1e-6);  // z W = +0.5
  // The action moves with log_std through W: da/dlog_std = (1 - a^2) z_l W_l = [0.5, -1.0].
  a.sum().backward();
  EXPECT_NEAR(log_std.grad()[0][0].item<float>(), 0.5f, 1e-6);
  EXPECT_NEAR(log_std.grad()[1][0].item<float>(), -1.0f, 1e-6);
}

// gSDE's exploration is a function of the state while its matrix is held:
// collection draws one per env at each phase start (and every
// sde_sample_freq steps), so the same observation gets the same action
// until then.
struct SacProbe : Sac {
  using Sac::ActScaled;
  using Sac::BeginCollectStep;
  using Sac::Sac;
};

TEST(SacTest, SdeHoldsItsExplorationMatrix) {
  for (int64_t freq : {int64_t{-1}, int64_t{2}}) {
    SacConfig c;
    c.net_arch = {8}, c.use_sde = true, c.log_std_init = 0.0, c.sde_sample_freq = freq;
    RunContext ctx = PendulumContext("sac");
    ctx.run.num_envs = 2;
    SacProbe agent(ctx, c);
    ASSERT_EQ(agent.actor()->sde_log_std().sizes(), (std::vector<int64_t>{8, 1}));
    const float x[2 * 3] = {0.3f, -0.9f, 0.5f, 0.3f, -0.9f, 0.5f};  // two envs, the same observation
    Rng rng(0);
    auto act = [&] {
      std::vector<float> a(2);
      agent.ActScaled(x, 2, false, rng, a.data());
      return a;
    };
    agent.BeginCollectStep(0);
    const auto a0 = act();
    EXPECT_EQ(act(), a0);          // held
    EXPECT_NE(a0[0], a0[1]);       // one matrix per env
    agent.BeginCollectStep(1);
    EXPECT_EQ(act(), a0) << freq;  // not a resampling step
    agent.BeginCollectStep(2);
    if (freq == 2)
      EXPECT_NE(act(), a0);
    else
      EXPECT_EQ(act(), a0);
    agent.BeginCollectStep(0);  // the next phase
    EXPECT_NE(act(), a0);
    std::vector<float> det(2);
    agent.ActScaled(x, 2, true, rng, det.data());
    EXPECT_EQ(det[0], det[1]);
  }
}

// The export of a gSDE actor clamps the mean before the tanh, as acting does
// (Pendulum, one action; LunarLanderContinuous, two; clip_mean 0: no clamp).
TEST(SacTest, SdeExportClampsTheMean) {
  for (const std::string env : {"Pendulum-v1", "LunarLanderContinuous-v3"}) {
    for (double clip : {0.5, 0.0}) {
      SacConfig c;
      c.net_arch = {8}, c.use_sde = true, c.clip_mean = clip;
      RunContext ctx = PendulumContext("sac");
      ctx.run.env = env;
      Sac agent(ctx, c);
      const int64_t d = agent.obs_dim(), A = agent.act_dim();
      auto policy = agent.MakePolicy(true);
      for (float bias : {0.0f, 3.0f, -3.0f}) {  // inside, above and below the clip
        {
          torch::NoGradGuard g;
          agent.actor()->head()->bias.fill_(bias);
          agent.actor()->head()->bias[0].fill_(-bias);  // the rows differ (a transposed layer would show)
        }
        runtime::Policy fresh(agent.Export());
        for (int k = 0; k < 5; ++k) {
          std::vector<float> obs(d), mine(A), theirs(A);
          for (int64_t i = 0; i < d; ++i) obs[i] = std::sin(0.7f * k + i);
          fresh.Act(obs.data(), 1, theirs.data(), true);
          policy->Act(obs.data(), nullptr, 1, mine.data());
          for (int64_t j = 0; j < A; ++j) {
            EXPECT_NEAR(mine[j], theirs[j], 1e-5) << env << " clip " << clip << " bias " << bias;
            if (bias != 0.0f && clip > 0) {  // the clamped mean: |a| = tanh(0.5) scaled to the Box
              const double half = env == "Pendulum-v1" ? 2.0 : 1.0;
              EXPECT_NEAR(std::abs(theirs[j]), half * std::tanh(0.5), 1e-5) << env << " " << j;
            }
          }
        }
      }
    }
  }
}

// gSDE's log_std is trained with the actor (its own Adam moves every entry).
TEST(SacTest, SdeLogStdIsTrained) {
  SacConfig c;
  c.net_arch = {16}, c.use_sde = true, c.learning_starts = 100, c.batch_size = 32;
  Sac agent(PendulumContext("sac"), c);
  const torch::Tensor before = agent.actor()->sde_log_std().clone();
  while (agent.num_timesteps() < 110) agent.Iterate();
  const torch::Tensor moved = (agent.actor()->sde_log_std() - before).abs();
  EXPECT_GT(moved.min().item<float>(), 0.0f);
  // Adam's steps are about the learning rate each (3e-4), at most 10 of them.
  EXPECT_LT(moved.max().item<float>(), 10 * 3e-4 * 1.5);
}

TEST(SacTest, SdeKernelsMatchAutogradAndResume) {
  SacConfig s;
  s.net_arch = {32, 24}, s.learning_starts = 300, s.batch_size = 64, s.use_sde = true;
  Sac sac(PendulumContext("sac"), s);
  ExpectKernelsMatchAutograd(sac, "sac gSDE");
  ExpectExactResume("sac", "sac_gsde", {"use_sde=true", "sde_sample_freq=3", "log_std_init=-1"});
}

TEST(OffPolicyTest, SacResumesExactly) { ExpectExactResume("sac", "sac_prioritized", {"prioritized_replay=true"}); }
TEST(OffPolicyTest, Td3WithOrnsteinUhlenbeckNoiseResumesExactly) {
  ExpectExactResume("td3", "td3_ou", {"action_noise=ornstein-uhlenbeck", "noise_std=0.5"});
}

// `train --init-from` a TD3 run: the target networks start as copies of the
// warm-started actor and critics (before, they kept this run's initial
// random weights, so the first targets came from networks never trained).
TEST(OffPolicyTest, WarmStartCopiesTheTargetNetworksToo) {
  const std::string root = testing::TempDir() + "/rlforge_warm_td3";
  fs::remove_all(root);
  RunnerOptions quiet;
  quiet.progress = false;
  Train(TrainConfig::Resolve("td3", "Pendulum-v1", "",
                             {"net_arch=[16]", "learning_starts=100", "batch_size=16", "eval_episodes=0"}, 300, 0),
        root, quiet);
  TrainConfig c = TrainConfig::Resolve("td3", "Pendulum-v1", "", {"net_arch=[16]"}, 1000, 7);
  auto algo = MakeAlgorithm(c.Context(), *c.algo);
  WarmStart(*algo, root, false);
  auto& td3 = dynamic_cast<Td3&>(*algo);
  const auto pairs = {std::make_pair(td3.actor()->parameters(), td3.actor_target()->parameters()),
                      std::make_pair(td3.critics()->parameters(), td3.critic_target()->parameters())};
  for (const auto& [online, target] : pairs) {
    ASSERT_EQ(online.size(), target.size());
    for (size_t i = 0; i < online.size(); ++i) EXPECT_TRUE(torch::equal(online[i], target[i])) << i;
  }
  LoadedRun src = LoadRun(root);
  EXPECT_TRUE(torch::equal(td3.actor()->parameters()[0], dynamic_cast<Td3&>(*src.algorithm).actor()->parameters()[0]));
  fs::remove_all(root);
}

TEST(OffPolicyTest, ClearErrors) {
  auto make = [](const std::string& algo, const std::string& env, std::vector<std::string> sets = {}) {
    auto c = TrainConfig::Resolve(algo, env, "", sets, 1000, 0);
    return MakeAlgorithm(c.Context(), *c.algo);
  };
  try {
    make("sac", "CartPole-v1");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("Box action space"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make("td3", "Pendulum-v1", {"action_noise=pink"}), InvalidArgument);
  EXPECT_THROW(make("sac", "Pendulum-v1", {"action_noise=normal"}), InvalidArgument);
  EXPECT_THROW(make("sac", "Pendulum-v1", {"tau=0"}), InvalidArgument);
  EXPECT_THROW(make("ddpg", "Pendulum-v1", {"policy_delay=2"}), InvalidArgument);  // TD3's key, not DDPG's
}

// Each agent's `fast` Pendulum preset (configs/<algo>.yaml) solves it
// (>= -200 over 100 deterministic episodes) in a few seconds; seed 0 here,
// five seeds in the presets' comments.
void ExpectFastPresetSolvesPendulum(const std::string& algo) {
  const std::string dir = testing::TempDir() + "/rlforge_fast_pendulum_" + algo;
  fs::remove_all(dir);
  RunnerOptions quiet;
  quiet.progress = false;
  const TrainResult r =
      Train(TrainConfig::Resolve(algo, "Pendulum-v1", "", {}, std::nullopt, 0, "fast"), dir, quiet);
  EXPECT_EQ(r.timesteps, 12000);
  EXPECT_GE(r.eval.mean_return, -200.0) << algo;
  std::printf("%s Pendulum-v1 fast preset: %.1f s, eval return %.2f\n", algo.c_str(), r.seconds, r.eval.mean_return);
}

TEST(OffPolicyLearningTest, SacFastPresetSolvesPendulum) { ExpectFastPresetSolvesPendulum("sac"); }
TEST(OffPolicyLearningTest, Td3FastPresetSolvesPendulum) { ExpectFastPresetSolvesPendulum("td3"); }
TEST(OffPolicyLearningTest, DdpgFastPresetSolvesPendulum) { ExpectFastPresetSolvesPendulum("ddpg"); }

}  // namespace
}  // namespace rlforge
