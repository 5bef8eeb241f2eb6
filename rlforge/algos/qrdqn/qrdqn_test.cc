// QR-DQN: the quantile Huber loss by hand, the hand-written kernels against
// autograd, exact resume, and the DQN keys it rejects.
#include "rlforge/algos/qrdqn/qrdqn.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "rlforge/algos/qrdqn/quantile_loss.h"
#include "rlforge/train/runner.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

// Two quantiles (tau = 1/4, 3/4), two actions, one transition: reward 0.5,
// discount 1; the target network's quantiles at s' are (1, 3) for action 0
// (mean 2) and (0, 2) for action 1 (mean 1), so a* = 0 and y = (1.5, 3.5).
//  theta(s, a) = (0, 1): u = y_j - theta_k = (1.5, 0.5; 3.5, 2.5), all >= 0:
//    L = (1/2) [1/4 (1.0 + 3.0) + 3/4 (0.125 + 2.0)] = 1.296875,
//    dL/dtheta_0 = -(1/2) 1/4 (1 + 1) = -0.25,
//    dL/dtheta_1 = -(1/2) 3/4 (0.5 + 1) = -0.5625, TD error 0.5 - 2.5 = -2.
//  theta(s, a) = (3, 4): u = (-1.5, -2.5; 0.5, -0.5), the indicator flips tau:
//    L = (1/2) [3/4 * 1.0 + 1/4 * 2.0 + 1/4 * 0.125 + 1/4 * 0.125] = 0.65625,
//    dL/dtheta_0 = -(1/2) [3/4 (-1) + 1/4 (0.5)] = 0.3125,
//    dL/dtheta_1 = -(1/2) [1/4 (-1) + 1/4 (-0.5)] = 0.1875.
TEST(QuantileLossTest, WorkedExample) {
  const QuantileHead head(2);
  const float target_next[] = {1, 3, 0, 2};
  const int64_t action[] = {0};
  const float reward[] = {0.5f}, discount[] = {1.0f}, weight[] = {1.0f};
  const uint8_t terminated[] = {0};
  QBatch b;
  b.size = 1, b.num_actions = 2, b.actions = action, b.rewards = reward, b.discounts = discount;
  b.terminated = terminated, b.weights = weight;
  double td[1];
  float d[4];
  {
    const float online[] = {0, 1, 9, 9};
    const QLossValues l = head.Loss(online, target_next, nullptr, b, td, d);
    EXPECT_NEAR(l.loss, 1.296875, 1e-9);
    EXPECT_NEAR(d[0], -0.25, 1e-7);
    EXPECT_NEAR(d[1], -0.5625, 1e-7);
    EXPECT_EQ(d[2], 0.0f);  // the action not taken
    EXPECT_NEAR(td[0], -2.0, 1e-9);
    float q[2];
    head.QValues(online, 1, 2, q);
    EXPECT_FLOAT_EQ(q[0], 0.5f);
    EXPECT_FLOAT_EQ(q[1], 9.0f);
  }
  {
    const float online[] = {3, 4, 0, 0};
    const QLossValues l = head.Loss(online, target_next, nullptr, b, td, d);
    EXPECT_NEAR(l.loss, 0.65625, 1e-9);
    EXPECT_NEAR(d[0], 0.3125, 1e-7);
    EXPECT_NEAR(d[1], 0.1875, 1e-7);
  }
  // Terminal: y = (0.5, 0.5); an illegal a* is never bootstrapped from.
  const uint8_t done[] = {1};
  b.terminated = done;
  const float online[] = {0.5f, 0.5f, 0, 0};
  EXPECT_NEAR(head.Loss(online, target_next, nullptr, b, td, d).loss, 0.0, 1e-12);
}

TEST(QrDqnTest, FastGradientsMatchAutograd) {
  for (const auto& sets : std::vector<std::vector<std::string>>{
           {"n_quantiles=5"}, {"n_quantiles=3", "double_q=true", "n_step=3", "prioritized_replay=true"}}) {
    auto config = TrainConfig::Resolve("qr-dqn", "CartPole-v1", "", sets, 4000, 3);
    auto& c = dynamic_cast<AlgoConfigOf<QrDqnConfig>&>(*config.algo).value;
    c.dqn.learning_starts = 1000, c.dqn.train_freq = 100, c.dqn.gradient_steps = 10;
    QrDqn agent(config.Context(), c);
    while (agent.num_timesteps() < 2000) agent.Iterate();  // some training so the targets differ
    agent.SampleBatch();
    const double fast_loss = agent.LossAndGradients(true);
    std::vector<torch::Tensor> fast;
    for (auto& p : agent.q_net()->parameters()) fast.push_back(p.grad().clone());
    const double torch_loss = agent.LossAndGradients(false);
    EXPECT_NEAR(fast_loss, torch_loss, 1e-5 * std::max(1.0, std::abs(torch_loss))) << Join(sets, " ");
    auto params = agent.q_net()->parameters();
    for (size_t i = 0; i < params.size(); ++i)
      EXPECT_TRUE(torch::allclose(fast[i], params[i].grad(), 1e-4, 1e-6)) << Join(sets, " ") << " parameter " << i;
  }
}

// Trains 3,000 steps with checkpoints every 1,000, resumes a copy from the
// 1,000-step checkpoint, and compares the final quantile networks.
TEST(QrDqnTest, ResumeIsExact) {
  const std::string root = testing::TempDir() + "/rlforge_qrdqn_resume";
  fs::remove_all(root);
  fs::create_directories(root);
  const std::vector<std::string> sets = {"n_quantiles=8",        "learning_starts=200", "train_freq=100",
                                         "gradient_steps=10",    "buffer_size=5000",    "checkpoint_interval=1000",
                                         "eval_episodes=0",      "prioritized_replay=true"};
  RunnerOptions quiet;
  quiet.progress = false;
  Train(TrainConfig::Resolve("qr-dqn", "CartPole-v1", "", sets, 3000, 1), root + "/a", quiet);
  fs::copy(root + "/a", root + "/b", fs::copy_options::recursive);
  fs::remove(root + "/b/checkpoints/final.pt");
  fs::remove(root + "/b/checkpoints/step_2000.pt");
  Resume(root + "/b", std::nullopt, quiet);
  auto a = LoadRun(root + "/a"), b = LoadRun(root + "/b");
  auto pa = a.algorithm->network()->parameters(), pb = b.algorithm->network()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
}

// sb3-contrib's QRDQN: Adam's epsilon 0.01 / batch_size and no gradient
// clipping, where DQN has SB3's 1e-8 and norm 10; both can be set. A run
// directory written before (no adam_eps in its config.yaml) resumes with the
// 1e-8 it trained with.
TEST(QrDqnTest, OptimizerDefaultsAreSbContribs) {
  auto make = [](const std::string& algo, const std::vector<std::string>& sets) {
    return TrainConfig::Resolve(algo, "CartPole-v1", "", sets, 1000, 0);
  };
  {
    auto config = make("qr-dqn", {"batch_size=64"});
    QrDqn agent(config.Context(), dynamic_cast<AlgoConfigOf<QrDqnConfig>&>(*config.algo).value);
    EXPECT_DOUBLE_EQ(agent.adam_eps(), 0.01 / 64);
    EXPECT_FALSE(agent.max_grad_norm().has_value());
    // and the rest of sb3-contrib's QRDQN signature (the bare defaults, under any preset)
    const DqnConfig c = QrDqnConfig().dqn;
    EXPECT_EQ(c.learning_rate.Value(1.0), 5e-5);
    EXPECT_EQ(c.exploration_fraction, 0.005);
    EXPECT_EQ(c.exploration_final_eps, 0.01);
    EXPECT_EQ(c.learning_starts, 100);
    EXPECT_EQ(c.target_update_interval, 10000);
  }
  {
    auto config = make("qr-dqn", {"adam_eps=1e-5", "max_grad_norm=0.5"});
    QrDqn agent(config.Context(), dynamic_cast<AlgoConfigOf<QrDqnConfig>&>(*config.algo).value);
    EXPECT_DOUBLE_EQ(agent.adam_eps(), 1e-5);
    EXPECT_EQ(agent.max_grad_norm(), 0.5);
  }
  {
    auto config = make("dqn", {"batch_size=64"});
    Dqn agent(config.Context(), dynamic_cast<AlgoConfigOf<DqnConfig>&>(*config.algo).value);
    EXPECT_DOUBLE_EQ(agent.adam_eps(), 1e-8);
    EXPECT_EQ(agent.max_grad_norm(), 10.0);
  }
  {
    auto config = make("dqn", {"max_grad_norm=null"});
    Dqn agent(config.Context(), dynamic_cast<AlgoConfigOf<DqnConfig>&>(*config.algo).value);
    EXPECT_FALSE(agent.max_grad_norm().has_value());
  }
  // config.yaml of a run from before: every key but adam_eps.
  auto old = make("qr-dqn", {});
  std::string text = old.ToYaml();
  const auto at = text.find("adam_eps:");
  ASSERT_NE(at, std::string::npos);
  text.erase(at, text.find('\n', at) + 1 - at);
  const auto loaded = TrainConfig::FromYamlText(text, "old/config.yaml");
  EXPECT_EQ(dynamic_cast<AlgoConfigOf<QrDqnConfig>&>(*loaded.algo).value.dqn.adam_eps, 1e-8);
  // and one written now keeps its null (0.01 / batch_size)
  const auto now = TrainConfig::FromYamlText(old.ToYaml(), "new/config.yaml");
  EXPECT_FALSE(dynamic_cast<AlgoConfigOf<QrDqnConfig>&>(*now.algo).value.dqn.adam_eps.has_value());
}

TEST(QrDqnTest, RejectsWhatQrDqnDoesNotDoByName) {
  auto error = [](const std::vector<std::string>& sets) {
    try {
      TrainConfig::Resolve("qr-dqn", "CartPole-v1", "", sets, 1000, 0);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error({"dueling=true"}).find("'dueling' is not supported by qr-dqn"), std::string::npos);
  EXPECT_NE(error({"loss=mse"}).find("'loss' is not supported by qr-dqn"), std::string::npos);
  EXPECT_NE(error({"demo_policy=random"}).find("'demo_policy' is not supported by qr-dqn"), std::string::npos);
  EXPECT_NE(error({"n_quantiles=0"}).find("'n_quantiles' must be in [1, 1000]"), std::string::npos);
  EXPECT_NE(error({"normalize_obs=true"}).find("'normalize_obs' is not supported by qr-dqn"), std::string::npos);
  EXPECT_EQ(error({"n_quantiles=4"}), "");  // and a valid configuration passes
}

}  // namespace
}  // namespace rlforge
