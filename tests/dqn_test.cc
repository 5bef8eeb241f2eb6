// DQN: replay buffer behaviour and memory, exact resume with the replay in the
// checkpoint, and the zoo's CartPole preset learning target.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "rlforge/algos/dqn/dqn.h"
#include "rlforge/buffers/replay_buffer.h"
#include "rlforge/buffers/sum_tree.h"
#include "rlforge/env/registry.h"
#include "rlforge/train/runner.h"
#include "rlforge/train/train_config.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

// One-float observations for the buffer tests.
int64_t AddStep(ReplayBuffer& rb, float obs, float next, int64_t action, float reward, bool term, bool trunc,
                const uint8_t* mask = nullptr) {
  return rb.Add(&obs, &next, action, reward, term, trunc, mask);
}

TEST(ReplayBufferTest, FifoOverwriteAndSampling) {
  ReplayBuffer rb(3, 2 * sizeof(float), 2);
  for (int k = 0; k < 5; ++k) {
    const float o[2] = {float(k), float(k)}, n[2] = {float(k + 1), float(k + 1)};
    const uint8_t m[2] = {1, static_cast<uint8_t>(k % 2)};
    rb.Add(o, n, k, 10.0f * k, k == 4, false, m);
  }
  EXPECT_EQ(rb.size(), 3);  // transitions 2, 3, 4 remain
  ReplayBuffer::Batch b;
  Rng rng(0);
  std::set<int64_t> seen;
  for (int t = 0; t < 50; ++t) {
    rb.Sample(4, rng, &b);
    const auto* obs = reinterpret_cast<const float*>(b.obs.data());
    const auto* next = reinterpret_cast<const float*>(b.next_obs.data());
    for (int i = 0; i < 4; ++i) {
      const int64_t k = b.action[i];
      seen.insert(k);
      EXPECT_EQ(obs[2 * i], k);
      EXPECT_EQ(next[2 * i], k + 1);
      EXPECT_EQ(b.reward[i], 10.0f * k);
      EXPECT_EQ(b.terminated[i], k == 4);
      EXPECT_EQ(b.next_mask[2 * i + 1], k % 2);
    }
  }
  EXPECT_EQ(seen, (std::set<int64_t>{2, 3, 4}));
  std::string state;
  rb.SaveState(&state);
  ReplayBuffer copy(3, 2 * sizeof(float), 2);
  copy.LoadState(state);
  EXPECT_EQ(copy.size(), 3);
  EXPECT_THROW(ReplayBuffer(4, 2 * sizeof(float), 2).LoadState(state), Error);
  EXPECT_THROW(copy.LoadState(state.substr(0, state.size() - 3)), Error);
}

TEST(ReplayBufferTest, MillionCartPoleTransitionsCostTheirRawBytes) {
  // Raw bytes of a CartPole transition: obs and next obs (2 x 4 float32),
  // action (int64), reward (float32), terminated (1 byte) = 45.
  ReplayBuffer rb(1000000, 4 * sizeof(float), 0);
  EXPECT_LE(static_cast<double>(rb.bytes()), 1.3 * 45.0 * 1000000);
}

// Two envs, A and B, adding in turn (slot = 2 t + env); gamma = 0.5.
//   t0: A r=1           B r=10
//   t1: A r=2 terminated B r=20
//   t2: A r=3           B r=30 truncated
//   t3: A r=4           B r=40
TEST(ReplayBufferTest, NStepReturnsStopAtEpisodeEndsAndTheNewestTransition) {
  ReplayBuffer rb(8, sizeof(float), 0, /*stride=*/2);
  const float rewards[4][2] = {{1, 10}, {2, 20}, {3, 30}, {4, 40}};
  for (int t = 0; t < 4; ++t)
    for (int e = 0; e < 2; ++e)
      AddStep(rb, 100.0f * e + t, 100.0f * e + t + 0.5f, 2 * t + e, rewards[t][e], e == 0 && t == 1,
              e == 1 && t == 2);
  ReplayBuffer::Batch b;
  auto next_of = [&](int k) { return reinterpret_cast<const float*>(b.next_obs.data())[k]; };
  rb.Gather({0, 1, 3, 4, 6, 7}, 3, 0.5, &b);
  // slot 0: 1 + 0.5 * 2, stopped by A's termination at t1.
  EXPECT_FLOAT_EQ(b.reward[0], 2.0f);
  EXPECT_FLOAT_EQ(b.discount[0], 0.25f);
  EXPECT_EQ(b.terminated[0], 1);
  EXPECT_FLOAT_EQ(next_of(0), 1.5f);
  // slot 1: 10 + 0.5 * 20 + 0.25 * 30, three steps (the truncation is the third).
  EXPECT_FLOAT_EQ(b.reward[1], 27.5f);
  EXPECT_FLOAT_EQ(b.discount[1], 0.125f);
  EXPECT_EQ(b.terminated[1], 0);
  EXPECT_FLOAT_EQ(next_of(1), 102.5f);
  // slot 3: 20 + 0.5 * 30, stopped by B's truncation: bootstraps from B's final observation.
  EXPECT_FLOAT_EQ(b.reward[2], 35.0f);
  EXPECT_FLOAT_EQ(b.discount[2], 0.25f);
  EXPECT_EQ(b.terminated[2], 0);
  EXPECT_FLOAT_EQ(next_of(2), 102.5f);
  // slot 4: 3 + 0.5 * 4, A's t3 is the newest A transition.
  EXPECT_FLOAT_EQ(b.reward[3], 5.0f);
  EXPECT_FLOAT_EQ(b.discount[3], 0.25f);
  EXPECT_FLOAT_EQ(next_of(3), 3.5f);
  // slots 6, 7: nothing newer stored yet.
  EXPECT_FLOAT_EQ(b.reward[4], 4.0f);
  EXPECT_FLOAT_EQ(b.discount[4], 0.5f);
  EXPECT_FLOAT_EQ(b.reward[5], 40.0f);
  EXPECT_EQ(b.action[5], 7);
  // One step: the stored transition.
  rb.Gather({1}, 1, 0.5, &b);
  EXPECT_FLOAT_EQ(b.reward[0], 10.0f);
  EXPECT_FLOAT_EQ(b.discount[0], 0.5f);
  // Wrap around: t4 overwrites slots 0 and 1; A's t3 now continues into slot 0.
  AddStep(rb, 4, 4.5f, 8, 5, false, false);
  AddStep(rb, 104, 104.5f, 9, 50, false, false);
  rb.Gather({6}, 2, 0.5, &b);
  EXPECT_FLOAT_EQ(b.reward[0], 6.5f);
  EXPECT_FLOAT_EQ(b.discount[0], 0.25f);
  EXPECT_FLOAT_EQ(next_of(0), 4.5f);
}

TEST(ReplayBufferTest, RecencyWeightedSamplingFollowsTheDecay) {
  ReplayBuffer rb(3, sizeof(float), 0);
  for (int k = 0; k < 5; ++k) AddStep(rb, k, k + 1, k, 0, false, false);  // holds 2, 3, 4
  Rng rng(1);
  std::vector<int> counts(5, 0);
  ReplayBuffer::Batch b;
  const int n = 60000;
  for (int k = 0; k < n; ++k) {
    rb.Gather({rb.SampleRecent(rng, 0.5)}, 1, 1.0, &b);
    ++counts[b.action[0]];
  }
  // P(age k) = 0.5^k / (1 + 0.5 + 0.25): newest 4/7, then 2/7, 1/7.
  EXPECT_EQ(counts[0] + counts[1], 0);
  EXPECT_NEAR(counts[4] / double(n), 4.0 / 7, 0.01);
  EXPECT_NEAR(counts[3] / double(n), 2.0 / 7, 0.01);
  EXPECT_NEAR(counts[2] / double(n), 1.0 / 7, 0.01);
  // decay 1 is uniform.
  std::fill(counts.begin(), counts.end(), 0);
  for (int k = 0; k < n; ++k) {
    rb.Gather({rb.SampleRecent(rng, 1.0)}, 1, 1.0, &b);
    ++counts[b.action[0]];
  }
  for (int a = 2; a < 5; ++a) EXPECT_NEAR(counts[a] / double(n), 1.0 / 3, 0.01);
}

TEST(DuelingTest, AggregatesAndBackpropagatesByHand) {
  // V = 1, A = (1, 2, 3): Q = V + A - mean(A) = (0, 1, 2).
  const float raw[4] = {1, 1, 2, 3};
  float q[3];
  DuelingForward(raw, 1, 3, q);
  EXPECT_FLOAT_EQ(q[0], 0);
  EXPECT_FLOAT_EQ(q[1], 1);
  EXPECT_FLOAT_EQ(q[2], 2);
  // dL/dQ = (1, 0, 0): dV = 1, dA = (1 - 1/3, -1/3, -1/3).
  const float dq[3] = {1, 0, 0};
  float d_raw[4];
  DuelingBackward(dq, 1, 3, d_raw);
  EXPECT_FLOAT_EQ(d_raw[0], 1);
  EXPECT_FLOAT_EQ(d_raw[1], 2.0f / 3);
  EXPECT_FLOAT_EQ(d_raw[2], -1.0f / 3);
  EXPECT_FLOAT_EQ(d_raw[3], -1.0f / 3);
  // The network's forward: Q minus its action mean is the advantage stream's.
  QNetwork net(Space::Box(-1, 1, {4}), 3, std::vector<int64_t>{8}, std::string("relu"), /*dueling=*/true);
  auto x = torch::randn({5, 4});
  auto out = net->forward(x);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{5, 3}));
  auto layers = net->layers();
  auto raw_out = layers.back()->forward(torch::relu(layers[0]->forward(x)));
  EXPECT_TRUE(torch::allclose(out.mean(1), raw_out.select(1, 0), 1e-5, 1e-5));
}

// DQN's loss on Q-values by hand (ExpectedQHead, the one definition both the
// kernels and autograd use). Two rows, three actions, Huber:
//   row 0: Q(s) = (1, 2, 0), a = 1, r = 1, discount 0.9, next legal {0, 2},
//          Q_target(s') = (3, 5, 4): a* = 2, y = 1 + 0.9 * 4 = 4.6,
//          d = 2 - 4.6 = -2.6, Huber 2.1, dL/dQ(s, 1) = -1 / 2;
//   row 1: Q(s) = (0.5, 0, 0), a = 0, r = 0.2, terminated: y = 0.2, d = 0.3,
//          weight 0.5: 0.5 * 0.045, dL/dQ(s, 0) = 0.5 * 0.3 / 2.
//   L = (2.1 + 0.0225) / 2.
// Double DQN picks a* with the online network's Q(s') = (9, 0, 1): a* = 0,
// y = 1 + 0.9 * 3 = 3.7, Huber(-1.7) = 1.2. DQfD with row 1 a demonstration
// (margin 0.8): max_a [Q + l] = 0.8 at a = 1, term (0.8 - 0.5) / 2 = 0.15,
// gradient +1/2 at a = 1 and -1/2 at a_E = 0.
TEST(DqnLossTest, WorkedExample) {
  const float q[] = {1, 2, 0, 0.5f, 0, 0}, target_next[] = {3, 5, 4, 7, 7, 7}, online_next[] = {9, 0, 1, 0, 0, 0};
  const int64_t actions[] = {1, 0};
  const float rewards[] = {1.0f, 0.2f}, discounts[] = {0.9f, 0.81f}, weights[] = {1.0f, 0.5f};
  const uint8_t terminated[] = {0, 1}, next_masks[] = {1, 0, 1, 1, 1, 1};
  QBatch b;
  b.size = 2, b.num_actions = 3, b.actions = actions, b.rewards = rewards, b.discounts = discounts;
  b.terminated = terminated, b.next_masks = next_masks, b.weights = weights;
  double td[2];
  float d_q[6];
  const ExpectedQHead huber(/*huber=*/true, /*margin=*/0.8, /*margin_weight=*/1.0);
  QLossValues l = huber.Loss(q, target_next, nullptr, b, td, d_q);
  EXPECT_NEAR(l.loss, (2.1 + 0.0225) / 2, 1e-6);
  EXPECT_NEAR(td[0], -2.6, 1e-6);
  EXPECT_NEAR(td[1], 0.3, 1e-6);
  const float expected[] = {0, -0.5f, 0, 0.075f, 0, 0};
  for (int k = 0; k < 6; ++k) EXPECT_NEAR(d_q[k], expected[k], 1e-6) << k;
  l = huber.Loss(q, target_next, online_next, b, td, d_q);
  EXPECT_NEAR(td[0], 2 - 3.7, 1e-6);
  EXPECT_NEAR(l.loss, (1.2 + 0.0225) / 2, 1e-6);
  b.demo_rows = 1;
  l = huber.Loss(q, target_next, nullptr, b, td, d_q);
  EXPECT_NEAR(l.margin_loss, 0.15, 1e-6);
  EXPECT_NEAR(l.loss, (2.1 + 0.0225) / 2 + 0.15, 1e-6);
  EXPECT_NEAR(d_q[3], 0.075 - 0.5, 1e-6);
  EXPECT_NEAR(d_q[4], 0.5, 1e-6);
  const ExpectedQHead mse(/*huber=*/false, 0.8, 1.0);
  b.demo_rows = 0;
  l = mse.Loss(q, target_next, nullptr, b, td, d_q);
  EXPECT_NEAR(l.loss, (2.6 * 2.6 + 0.5 * 0.09) / 2, 1e-5);
  EXPECT_NEAR(d_q[1], 2 * -2.6 / 2, 1e-5);
}

// ExpectedQHead against DQN's loss written directly in torch operations (as
// the autograd path computed it before the loss was defined once): random
// Q-values, next-state masks (one row with no legal action), importance
// weights, Double DQN or not, Huber or MSE, and demonstration rows with the
// large-margin term.
TEST(DqnLossTest, MatchesATorchReference) {
  torch::manual_seed(3);
  const int64_t B = 40, A = 5, Bd = 8;
  const double margin = 0.8, margin_weight = 0.7;
  for (bool double_q : {false, true}) {
    for (bool huber : {true, false}) {
      auto q = (torch::randn({B, A}) * 2).requires_grad_();
      auto target_next = torch::randn({B, A}) * 2, online_next = torch::randn({B, A});
      auto actions = torch::randint(0, A, {B}, torch::kLong);
      auto rewards = torch::randn({B}), discounts = torch::rand({B});
      auto terminated = (torch::rand({B}) < 0.2).to(torch::kUInt8);
      auto next_mask = torch::rand({B, A}) > 0.3;
      next_mask[3].fill_(false);  // no legal next action: no bootstrap
      auto weights = torch::rand({B}) + 0.5;
      auto demo_mask = torch::rand({Bd, A}) > 0.4;
      for (int64_t k = 0; k < Bd; ++k) demo_mask[k][actions[B - Bd + k].item<int64_t>()] = true;
      // The reference.
      torch::Tensor y;
      {
        torch::NoGradGuard g;
        const float inf = std::numeric_limits<float>::infinity();
        auto masked_target = target_next.masked_fill(next_mask.logical_not(), -inf);
        torch::Tensor next_v =
            double_q ? masked_target.gather(1, online_next.masked_fill(next_mask.logical_not(), -inf).argmax(1, true))
                           .squeeze(1)
                     : std::get<0>(masked_target.max(1));
        next_v = torch::where(torch::isfinite(next_v), next_v, torch::zeros_like(next_v));
        y = rewards + discounts * (1 - terminated.to(torch::kFloat32)) * next_v;
      }
      auto qa = q.gather(1, actions.unsqueeze(1)).squeeze(1);
      auto per = huber ? torch::smooth_l1_loss(qa, y, torch::Reduction::None)
                       : torch::mse_loss(qa, y, torch::Reduction::None);
      auto qd = q.slice(0, B - Bd, B);
      auto a_e = actions.slice(0, B - Bd, B).unsqueeze(1);
      auto augmented = (qd + torch::full({Bd, A}, margin).scatter(1, a_e, 0.0))
                           .masked_fill(demo_mask.logical_not(), -std::numeric_limits<float>::infinity());
      auto margin_term = (std::get<0>(augmented.max(1)) - qd.gather(1, a_e).squeeze(1)).sum() / static_cast<double>(B);
      auto loss = (weights * per).mean() + margin_weight * margin_term;
      loss.backward();
      // The head.
      auto next_mask_u8 = next_mask.to(torch::kUInt8).contiguous();
      auto demo_mask_u8 = demo_mask.to(torch::kUInt8).contiguous();
      QBatch b;
      b.size = B, b.num_actions = A, b.actions = actions.data_ptr<int64_t>(), b.rewards = rewards.data_ptr<float>();
      b.discounts = discounts.data_ptr<float>(), b.terminated = terminated.data_ptr<uint8_t>();
      b.next_masks = next_mask_u8.data_ptr<uint8_t>(), b.weights = weights.data_ptr<float>();
      b.demo_rows = Bd, b.demo_masks = demo_mask_u8.data_ptr<uint8_t>();
      std::vector<double> td(B);
      std::vector<float> d_q(B * A);
      auto q_values = q.detach().contiguous();
      const QLossValues l = ExpectedQHead(huber, margin, margin_weight)
                                .Loss(q_values.data_ptr<float>(), target_next.data_ptr<float>(),
                                      double_q ? online_next.data_ptr<float>() : nullptr, b, td.data(), d_q.data());
      const std::string what = StrCat(double_q ? "double" : "dqn", huber ? " huber" : " mse");
      EXPECT_NEAR(l.loss, loss.item<double>(), 1e-5 * std::max(1.0, std::abs(loss.item<double>()))) << what;
      EXPECT_NEAR(l.margin_loss, margin_term.item<double>(), 1e-5) << what;
      EXPECT_TRUE(torch::allclose(torch::from_blob(d_q.data(), {B, A}), q.grad(), 1e-5, 1e-6)) << what;
      auto td_ref = (qa - y).detach().to(torch::kFloat64);
      EXPECT_TRUE(torch::allclose(torch::from_blob(td.data(), {B}, torch::kFloat64), td_ref, 1e-5, 1e-5)) << what;
    }
  }
}

// The hand-written update gives autograd's loss and gradients on the same
// minibatch, for plain DQN and for Double + dueling + n-step + prioritized.
TEST(DqnTest, FastGradientsMatchAutograd) {
  for (const auto& sets : std::vector<std::vector<std::string>>{
           {},
           {"double_q=true", "dueling=true", "n_step=3", "prioritized_replay=true", "loss=mse"},
           // Demonstration rows with the large-margin term (random play's, on CartPole).
           {"demo_policy=random", "demo_episodes=5", "demo_pretrain_steps=20", "demo_fraction=0.5", "dueling=true"}}) {
    auto config = TrainConfig::Resolve("dqn", "CartPole-v1", "", sets, 4000, 3);
    auto& c = dynamic_cast<AlgoConfigOf<DqnConfig>&>(*config.algo).value;
    c.learning_starts = 1000;
    c.train_freq = 100;
    c.gradient_steps = 10;
    RunContext ctx = config.Context();  // CartPole-v1, seed 3, 4,000 steps
    ctx.run.num_envs = 2;
    Dqn dqn(ctx, c);
    while (dqn.num_timesteps() < 2000) dqn.Iterate();  // some training so the targets differ from Q
    if (!c.demo_policy.empty()) {
      EXPECT_GT(dqn.demo_replay().size(), 50);
    }
    dqn.SampleBatch();
    const double fast_loss = dqn.LossAndGradients(true);
    std::vector<torch::Tensor> fast;
    for (auto& p : dqn.q_net()->parameters()) fast.push_back(p.grad().clone());
    const double torch_loss = dqn.LossAndGradients(false);
    EXPECT_NEAR(fast_loss, torch_loss, 1e-5 * std::max(1.0, std::abs(torch_loss))) << Join(sets, " ");
    auto params = dqn.q_net()->parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      const auto& g = params[i].grad();
      EXPECT_TRUE(torch::allclose(fast[i], g, 1e-4, 1e-6))
          << Join(sets, " ") << " parameter " << i << " max diff " << (fast[i] - g).abs().max().item<float>();
    }
  }
}

// A sampling policy (eval/play --stochastic, record's default) acts as the
// agent did while training; before, DQN's, the tabular agents' and TD3's
// sampling policies were their greedy ones. Fresh agents: epsilon is at its
// initial 1 (every action uniformly random), TD3 adds its noise_std.
TEST(DqnTest, SamplingPoliciesActAsTrainingDid) {
  for (const std::string algo : {"dqn", "qr-dqn", "q-learning", "expected-sarsa"}) {
    const std::string env = algo == "q-learning" || algo == "expected-sarsa" ? "FrozenLake-v1" : "CartPole-v1";
    auto agent = BuildAlgorithm(TrainConfig::Resolve(algo, env, "", {}, 1000, 0));
    auto e = Make(env);
    std::vector<uint8_t> obs(e->observation_space().nbytes());
    Info info;
    e->Reset(0, obs.data(), &info);
    const int n = 2000;
    std::vector<uint8_t> batch;
    for (int i = 0; i < n; ++i) batch.insert(batch.end(), obs.begin(), obs.end());
    std::vector<int64_t> greedy(n), sampled(n);
    agent->MakePolicy(true)->Act(batch.data(), nullptr, n, greedy.data());
    agent->MakePolicy(false)->Act(batch.data(), nullptr, n, sampled.data());
    EXPECT_EQ(std::set<int64_t>(greedy.begin(), greedy.end()).size(), 1u) << algo;
    const int64_t actions = e->action_space().n();
    for (int64_t a = 0; a < actions; ++a) {
      const auto count = std::count(sampled.begin(), sampled.end(), a);
      EXPECT_NEAR(static_cast<double>(count) / n, 1.0 / static_cast<double>(actions), 0.05) << algo << " action " << a;
    }
  }
  // At the run's epsilon, not always 1: a constant 0.3 keeps the greedy action 0.7 + 0.3 / 2 of the time.
  {
    auto agent = BuildAlgorithm(TrainConfig::Resolve(
        "dqn", "CartPole-v1", "", {"exploration_initial_eps=0.3", "exploration_final_eps=0.3"}, 1000, 0));
    std::vector<float> obs(static_cast<size_t>(4000) * 4, 0.01f);
    std::vector<int64_t> greedy(4000), sampled(4000);
    agent->MakePolicy(true)->Act(obs.data(), nullptr, 4000, greedy.data());
    agent->MakePolicy(false)->Act(obs.data(), nullptr, 4000, sampled.data());
    const auto same = std::count(sampled.begin(), sampled.end(), greedy[0]);
    EXPECT_NEAR(static_cast<double>(same) / 4000, 0.85, 0.03);
  }
  auto td3 = BuildAlgorithm(TrainConfig::Resolve("td3", "Pendulum-v1", "", {"action_noise=normal", "noise_std=0.25"}, 1000, 0));
  const int n = 4000;
  std::vector<float> obs(static_cast<size_t>(n) * 3, 0.5f), greedy(n), sampled(n);
  td3->MakePolicy(true)->Act(obs.data(), nullptr, n, greedy.data());
  td3->MakePolicy(false)->Act(obs.data(), nullptr, n, sampled.data());
  double mean = 0, var = 0;
  for (int i = 0; i < n; ++i) mean += (sampled[i] - greedy[i]) / n;
  for (int i = 0; i < n; ++i) var += (sampled[i] - greedy[i] - mean) * (sampled[i] - greedy[i] - mean) / n;
  // Pendulum's Box is [-2, 2]: noise 0.25 on the scaled action is 0.5 in torque (less where clipped).
  EXPECT_NEAR(std::sqrt(var), 0.5, 0.05);
  EXPECT_NEAR(mean, 0.0, 0.05);
}

// SB3 trains once num_timesteps > learning_starts: with learning_starts 200
// and 100 steps an iteration, the first gradient steps come after step 300
// (rlforge took them after step 200, one phase early).
TEST(DqnTest, TrainingStartsAfterLearningStartsAsSb3s) {
  auto config = TrainConfig::Resolve("dqn", "CartPole-v1", "",
                                     {"learning_starts=200", "train_freq=100", "gradient_steps=5"}, 1000, 0);
  Dqn agent(config.Context(), dynamic_cast<AlgoConfigOf<DqnConfig>&>(*config.algo).value);
  std::vector<double> updates;
  for (int i = 0; i < 4; ++i) updates.push_back(agent.Iterate().at("n_updates"));
  EXPECT_EQ(updates, (std::vector<double>{0, 0, 5, 10}));
}

TEST(DqnTest, RejectsBadConfigurationsByName) {
  auto bad = [](std::vector<std::string> sets, const std::string& needle) {
    try {
      auto c = TrainConfig::Resolve("dqn", "CartPole-v1", "", sets, 1000, 0);
      MakeAlgorithm(c.Context(), *c.algo);
      ADD_FAILURE() << "accepted " << Join(sets, " ");
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  bad({"n_step=0"}, "n_step");
  bad({"recency_decay=1.5"}, "recency_decay");
  bad({"recency_decay=0.99", "prioritized_replay=true"}, "choose one");
  bad({"gradient_steps=-2"}, "gradient_steps");
  bad({"demo_policy=expert"}, "demo_policy");
  bad({"demo_policy=random", "demo_fraction=1"}, "demo_fraction");
  bad({"demo_policy=heuristic"}, "TowerDefense-v0");  // CartPole has no heuristic
}

TEST(SumTreeTest, SumsFindsAndSamplesProportionally) {
  SumTree t(5);
  const double p[5] = {1, 0, 3, 2, 4};
  for (int i = 0; i < 5; ++i) t.Set(i, p[i]);
  EXPECT_DOUBLE_EQ(t.Total(), 10.0);
  EXPECT_EQ(t.Find(0.5), 0);
  EXPECT_EQ(t.Find(1.0), 2);  // slot 1 has priority 0: never found
  EXPECT_EQ(t.Find(3.99), 2);
  EXPECT_EQ(t.Find(4.0), 3);
  EXPECT_EQ(t.Find(9.99), 4);
  t.Set(2, 0.5);
  EXPECT_DOUBLE_EQ(t.Total(), 7.5);
  Rng rng(0);
  std::vector<int> counts(5, 0);
  const int n = 75000;
  for (int k = 0; k < n; ++k) ++counts[t.Find(rng.Uniform() * t.Total())];
  EXPECT_EQ(counts[1], 0);
  const double expected[5] = {1, 0, 0.5, 2, 4};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(counts[i] / double(n), expected[i] / 7.5, 0.01) << i;
}

// Trains 3,000 steps with checkpoints every 1,000, resumes a copy from the
// 1,000-step checkpoint, and compares the final Q-networks.
void ExpectExactResume(const std::string& name, std::vector<std::string> sets) {
  const std::string root = testing::TempDir() + "/rlforge_dqn_resume_" + name;
  fs::remove_all(root);
  fs::create_directories(root);
  sets.insert(sets.end(), {"learning_starts=200", "train_freq=100", "gradient_steps=10", "buffer_size=5000",
                           "checkpoint_interval=1000", "eval_episodes=0"});
  RunnerOptions quiet;
  quiet.progress = false;
  Train(TrainConfig::Resolve("dqn", "CartPole-v1", "", sets, 3000, 1), root + "/a", quiet);
  fs::copy(root + "/a", root + "/b", fs::copy_options::recursive);
  fs::remove(root + "/b/checkpoints/final.pt");
  fs::remove(root + "/b/checkpoints/step_2000.pt");
  Resume(root + "/b", std::nullopt, quiet);
  auto a = LoadRun(root + "/a"), b = LoadRun(root + "/b");
  auto pa = dynamic_cast<Dqn&>(*a.algorithm).q_net()->parameters();
  auto pb = dynamic_cast<Dqn&>(*b.algorithm).q_net()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << name << " parameter " << i;
}

TEST(DqnTest, ResumeWithTheReplayBufferIsExact) { ExpectExactResume("uniform", {}); }

TEST(DqnTest, PrioritizedReplayResumesExactly) { ExpectExactResume("prioritized", {"prioritized_replay=true"}); }

// The demonstrations are not in the checkpoint: the resumed run records them
// again (the same episodes) and does not pretrain twice.
TEST(DqnTest, DemonstrationsResumeExactly) {
  ExpectExactResume("demo", {"demo_policy=random", "demo_episodes=4", "demo_pretrain_steps=100"});
}

TEST(DqnTest, RecencyNStepDuelingResumesExactly) {
  // With periodic evaluations too: they must not disturb training, and the
  // resumed run's evaluations.csv keeps one row per evaluation step.
  ExpectExactResume("recency", {"recency_decay=0.999", "n_step=3", "dueling=true", "double_q=true",
                                "eval_interval=500", "eval_interval_episodes=2"});
  const std::string root = testing::TempDir() + "/rlforge_dqn_resume_recency";
  for (const char* run : {"/a", "/b"}) {
    std::ifstream in(root + run + "/evaluations.csv");
    std::string line;
    std::vector<std::string> rows;
    while (std::getline(in, line)) rows.push_back(line);
    ASSERT_EQ(rows.size(), 7u) << run;  // header + steps 500, 1000, ..., 3000
    EXPECT_EQ(rows[1].substr(0, 4), "500,");
    EXPECT_EQ(rows[6].substr(0, 5), "3000,");
    EXPECT_TRUE(fs::exists(root + run + "/checkpoints/best.pt"));
  }
}

// A one-step image task for the Nature CNN: a 36x36 grey image whose left or
// right half is bright; reward 1 for naming the bright side (0 left, 1 right).
class BrightSide : public EnvBase<BrightSide> {
 public:
  const Space& observation_space() const override { return obs_; }
  const Space& action_space() const override { return act_; }
  std::string name() const override { return "BrightSide"; }
  std::string RenderText() const override { return right_ ? "right" : "left"; }
  template <class A>
  void Fields(A& ar) {
    ar(right_);
  }
  void ResetImpl(void* obs, Info*) { Draw(obs); }
  void StepImpl(const void* action, void* obs, StepResult* r) {
    r->reward = *static_cast<const int64_t*>(action) == (right_ ? 1 : 0) ? 1.0 : 0.0;
    r->terminated = true;
    Draw(obs);
  }

 private:
  void Draw(void* obs) {
    right_ = rng_.Uniform() < 0.5;
    auto* px = static_cast<uint8_t*>(obs);
    for (int y = 0; y < 36; ++y)
      for (int x = 0; x < 36; ++x) px[y * 36 + x] = ((x >= 18) == right_) ? 200 : 30;
  }
  Space obs_ = Space::Box(0, 255, {36, 36, 1}, DType::kUInt8);
  Space act_ = Space::Discrete(2);
  bool right_ = false;
};

TEST(DqnTest, NatureCnnLearnsFromImages) {
  static const bool registered = [] {
    Registry::Global().Register({"BrightSide-v0", [](const Kwargs&) { return std::make_unique<BrightSide>(); }});
    return true;
  }();
  (void)registered;
  const std::string dir = testing::TempDir() + "/rlforge_dqn_cnn";
  fs::remove_all(dir);
  RunnerOptions quiet;
  quiet.progress = false;
  auto config = TrainConfig::Resolve("dqn", "BrightSide-v0", "",
                                     {"net_arch=[]", "learning_rate=1e-3", "learning_starts=100", "train_freq=4",
                                      "batch_size=32", "target_update_interval=100", "exploration_fraction=0.5",
                                      "exploration_final_eps=0.0", "buffer_size=2000", "eval_episodes=200"},
                                     1500, 0);
  const TrainResult r = Train(config, dir, quiet);
  auto run = LoadRun(dir);
  EXPECT_TRUE(dynamic_cast<Dqn&>(*run.algorithm).q_net()->image());
  std::printf("DQN Nature CNN BrightSide: eval return %.3f in %.1f s\n", r.eval.mean_return, r.seconds);
  EXPECT_GE(r.eval.mean_return, 0.95);  // a random policy gets 0.5
}

// The zoo's preset, seed 0, 50k steps. As the issue's SB3 figure ("first
// reaches 475 after 30-50k steps"), the target is met when a 100-episode
// deterministic evaluation (every 5k steps) reaches 475 within the budget;
// DQN on CartPole often forgets again, so the final model's score is printed
// and recorded in docs/training.md but not asserted.
TrainResult TrainDqnCartPole(const std::string& name, std::vector<std::string> sets) {
  const std::string dir = testing::TempDir() + "/rlforge_dqn_" + name;
  fs::remove_all(dir);
  RunnerOptions quiet;
  quiet.progress = false;
  sets.insert(sets.end(), {"eval_interval=5000", "eval_interval_episodes=100"});
  const TrainResult r = Train(TrainConfig::Resolve("dqn", "CartPole-v1", "", sets, std::nullopt, 0), dir, quiet);
  EXPECT_TRUE(fs::exists(dir + "/checkpoints/best.pt"));
  EXPECT_TRUE(fs::exists(dir + "/evaluations.csv"));
  if (!r.best_eval) {
    ADD_FAILURE() << "no periodic evaluation";
    return r;
  }
  std::printf("DQN CartPole-v1 %s: %lld steps in %.1f s, best eval %.1f at %lld steps, final eval %.1f +- %.1f\n",
              name.c_str(), static_cast<long long>(r.timesteps), r.seconds, r.best_eval->mean_return,
              static_cast<long long>(r.best_timesteps), r.eval.mean_return, r.eval.std_return);
  // The best checkpoint is the model that scored it: same evaluation seed, same score.
  auto best = LoadRun(dir + "/checkpoints/best.pt");
  EXPECT_EQ(best.algorithm->num_timesteps(), r.best_timesteps);
  return r;
}

TEST(LearningTest, DqnSolvesCartPoleWithin50kSteps) {
  const TrainResult r = TrainDqnCartPole("uniform", {});
  ASSERT_TRUE(r.best_eval.has_value());
  EXPECT_GE(r.best_eval->mean_return, 475.0);
}

TEST(LearningTest, PrioritizedDqnSolvesCartPoleWithin50kSteps) {
  const TrainResult r = TrainDqnCartPole("prioritized", {"prioritized_replay=true"});
  ASSERT_TRUE(r.best_eval.has_value());
  EXPECT_GE(r.best_eval->mean_return, 475.0);
}

}  // namespace
}  // namespace rlforge
