#include "rlforge/algos/offline/offline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <filesystem>
#include <fstream>
#include <map>

#include "rlforge/algos/offline/bc.h"
#include "rlforge/algos/offline/cql.h"
#include "rlforge/algos/offline/iql.h"
#include "rlforge/algos/sac/sac.h"
#include "rlforge/env/evaluation.h"
#include "rlforge/env/registry.h"
#include "rlforge/runtime/policy.h"
#include "rlforge/train/testing.h"

namespace rlforge {
namespace {

using testing_util::FreshDir;
using testing_util::Quiet;

// CartPole's classic linear controller: push towards where the pole falls.
class PoleTeacher : public Policy {
 public:
  void Act(const void* observations, const uint8_t*, int n, void* actions) override {
    const auto* o = static_cast<const float*>(observations);
    auto* a = static_cast<int64_t*>(actions);
    for (int i = 0; i < n; ++i) a[i] = (o[4 * i + 2] + 0.5f * o[4 * i + 3] + 0.05f * o[4 * i + 1] > 0) ? 1 : 0;
  }
  std::string name() const override { return "pole-teacher"; }
};

// A teacher's dataset on CartPole-v1 (written once per test process).
std::string TeacherDataset(int64_t episodes, double epsilon, double* mean_return) {
  const std::string dir = FreshDir("offline", "teacher_" + std::to_string(episodes) + "_" + std::to_string(epsilon));
  VectorEnvOptions o;
  o.num_envs = 4;
  auto envs = VectorEnv::Make("CartPole-v1", {}, o);
  PoleTeacher teacher;
  DatasetInfo info;
  info.env_id = "CartPole-v1";
  info.dataset_id = "cartpole/teacher-v0";
  const Dataset d = RecordDataset(*envs, teacher, {episodes, 5, epsilon}, info);
  WriteDataset(d, dir);
  double mean = 0;
  for (double r : d.EpisodeReturns()) mean += r / static_cast<double>(d.episodes());
  if (mean_return) *mean_return = mean;
  return dir;
}

TEST(OfflineLossTest, CqlRegularizerWorkedExample) {
  // Row 1: logsumexp(1, 2, 3) - Q(a=0) = 3 + log(1 + e^-1 + e^-2) - 1 = 2.4076059645.
  // Row 2, action 1 legal among {0, 1}: logsumexp(1, 2) - 2 = log(1 + e^-1) = 0.3132616875.
  const torch::Tensor q = torch::tensor({1.0f, 2.0f, 3.0f, 1.0f, 2.0f, 3.0f}).reshape({2, 3});
  const torch::Tensor a = torch::tensor({0, 1}, torch::kLong);
  EXPECT_NEAR(CqlRegularizer(q.slice(0, 0, 1), a.slice(0, 0, 1), {}).item<double>(), 2.4076059645, 1e-6);
  const torch::Tensor masks = torch::tensor({1, 1, 1, 1, 1, 0}, torch::kBool).reshape({2, 3});
  EXPECT_NEAR(CqlRegularizer(q, a, masks).item<double>(), (2.4076059645 + 0.3132616875) / 2, 1e-6);
  // Its gradient is softmax - onehot(a) per row, over B.
  const torch::Tensor qg = q.slice(0, 0, 1).clone().requires_grad_(true);
  CqlRegularizer(qg, a.slice(0, 0, 1), {}).backward();
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(qg.grad()[0][0].item<double>(), std::exp(1.0) / z - 1, 1e-6);
  EXPECT_NEAR(qg.grad()[0][2].item<double>(), std::exp(3.0) / z, 1e-6);
}

TEST(OfflineLossTest, ContinuousCqlRegularizerWorkedExample) {
  // One state, two critics, M = 3 samples. Critic 1: w = (0, log 2, log 3),
  // Q(s, a_data) = 1: log((1 + 2 + 3) / 3) - 1 = log 2 - 1. Critic 2: w all
  // 5, Q(s, a_data) = 2: 5 - 2 = 3. Their sum: log 2 + 2.
  const torch::Tensor q = torch::tensor({1.0f, 2.0f}).reshape({1, 2});
  const torch::Tensor w =
      torch::tensor({0.0f, 5.0f, static_cast<float>(std::log(2.0)), 5.0f, static_cast<float>(std::log(3.0)), 5.0f})
          .reshape({1, 3, 2});
  EXPECT_NEAR(ContinuousCqlRegularizer(q, w).item<double>(), std::log(2.0) + 2.0, 1e-6);
  // Its gradient: softmax over the samples of each critic, -1 at the data's Q (over B).
  const torch::Tensor wg = w.clone().requires_grad_(true), qg = q.clone().requires_grad_(true);
  ContinuousCqlRegularizer(qg, wg).backward();
  EXPECT_NEAR(wg.grad()[0][2][0].item<double>(), 3.0 / 6.0, 1e-6);
  EXPECT_NEAR(wg.grad()[0][0][1].item<double>(), 1.0 / 3.0, 1e-6);
  EXPECT_NEAR(qg.grad()[0][1].item<double>(), -1.0, 1e-6);
  // Uniform samples on [-1, 1] of a constant Q = c, weighted by the density
  // 1/2: the estimate is log of the integral of e^c over [-1, 1], c + log 2.
  const double c = 0.7;
  const torch::Tensor uniform = torch::full({1, 4, 1}, static_cast<float>(c + std::log(2.0)));
  EXPECT_NEAR(ContinuousCqlRegularizer(torch::zeros({1, 1}), uniform).item<double>(), c + std::log(2.0), 1e-6);
}

TEST(OfflineLossTest, ExpectileLossWorkedExample) {
  const torch::Tensor u = torch::tensor({2.0f, -1.0f});
  // tau 0.7: (0.7 x 4 + 0.3 x 1) / 2 = 1.55; tau 0.5 is half the squared error.
  EXPECT_NEAR(ExpectileLoss(u, 0.7).item<double>(), 1.55, 1e-6);
  EXPECT_NEAR(ExpectileLoss(u, 0.5).item<double>(), 1.25, 1e-6);
  // The minimizer of the expectile loss over a constant is the tau-expectile:
  // for samples {0, 10} and tau 0.9, v with 0.9 (10 - v) = 0.1 v: v = 9.
  const torch::Tensor samples = torch::tensor({0.0f, 10.0f});
  double best_v = 0, best = INFINITY;
  for (double v = 0; v <= 10; v += 0.01) {
    const double l = ExpectileLoss(samples - v, 0.9).item<double>();
    if (l < best) best = l, best_v = v;
  }
  EXPECT_NEAR(best_v, 9.0, 0.011);
}

TEST(OfflineLossTest, AdvantageWeightsAreCapped) {
  const torch::Tensor w = AdvantageWeights(torch::tensor({1.0f, 2.0f, -1.0f}), 3.0, 100.0);
  EXPECT_NEAR(w[0].item<double>(), std::exp(3.0), 1e-4);
  EXPECT_EQ(w[1].item<double>(), 100.0);
  EXPECT_NEAR(w[2].item<double>(), std::exp(-3.0), 1e-6);
}

TEST(OfflineLossTest, BalancedClassWeightsAsScikitLearn) {
  // counts {3, 1, 0}: 2 classes occur; w = 4 / (2 x count).
  const torch::Tensor w = BalancedClassWeights(torch::tensor({0, 0, 0, 1}, torch::kLong), {3});
  EXPECT_NEAR(w[0].item<double>(), 4.0 / 6.0, 1e-6);
  EXPECT_NEAR(w[3].item<double>(), 2.0, 1e-6);
  // Weighted, both classes carry the same total weight.
  EXPECT_NEAR(w.slice(0, 0, 3).sum().item<double>(), w[3].item<double>(), 1e-6);
}

TEST(OfflineLossTest, ClassReportWorkedExample) {
  const ClassReport r = Classify(torch::tensor({0, 1, 1, 2}, torch::kLong), torch::tensor({0, 1, 2, 2}, torch::kLong), {3});
  EXPECT_DOUBLE_EQ(r.accuracy, 0.75);
  const auto& d = r.dims[0];
  EXPECT_EQ(d.confusion[2][1], 1);
  EXPECT_EQ(d.confusion[2][2], 1);
  EXPECT_DOUBLE_EQ(d.precision[1], 0.5);
  EXPECT_DOUBLE_EQ(d.recall[2], 0.5);
  EXPECT_NEAR(r.macro_f1, (1.0 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0, 1e-12);
  // MultiDiscrete: accuracy needs every dimension right.
  const ClassReport m = Classify(torch::tensor({0, 1, 1, 1}, torch::kLong).reshape({2, 2}),
                                 torch::tensor({0, 1, 1, 0}, torch::kLong).reshape({2, 2}), {2, 2});
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
  EXPECT_EQ(m.dims.size(), 2u);
}

TEST(OfflineDataTest, TransitionsChainAndHoldOutWholeEpisodes) {
  const std::string dir = TeacherDataset(10, 0.2, nullptr);
  auto env = Make("CartPole-v1");
  const OfflineData d = LoadOfflineData(dir, env->observation_space(), env->action_space(), 0.2, 0.5, 1);
  EXPECT_EQ(d.train.size(0) + d.holdout.size(0), d.steps);
  // next_obs of step t is obs of step t + 1 inside an episode; the returns to
  // go follow G_t = r_t + 0.5 G_{t+1} (CartPole: r = 1).
  const Dataset raw = ReadDataset(dir);
  for (int64_t t = 0; t + 1 < d.steps; ++t) {
    if (raw.terminated[t] || raw.truncated[t]) continue;
    EXPECT_TRUE(torch::equal(d.next_obs[t], d.obs[t + 1]));
    EXPECT_NEAR(d.returns_to_go[t].item<double>(), 1 + 0.5 * d.returns_to_go[t + 1].item<double>(), 1e-5);
  }
  // Spaces that differ from the env's are refused with both named.
  auto other = Make("Acrobot-v1");
  EXPECT_THROW(LoadOfflineData(dir, other->observation_space(), other->action_space(), 0.1, 0.99, 1), InvalidArgument);
}

TEST(BcTest, ClonesATeacherToNinetyFivePercentOfItsReturn) {
  double teacher = 0;
  const std::string dir = TeacherDataset(30, 0.0, &teacher);
  ASSERT_GT(teacher, 150.0);
  RunContext ctx{"bc", RunSettings{}};
  ctx.run.env = "CartPole-v1";
  BcConfig c;
  c.offline.dataset = dir;
  c.offline.updates_per_iteration = 500;
  Bc bc(ctx, c);
  Metrics m;
  for (int i = 0; i < 6; ++i) m = bc.Iterate();
  EXPECT_GT(m.at("holdout_accuracy"), 0.93);
  auto policy = bc.MakePolicy(true);
  VectorEnvOptions o;
  o.num_envs = 5;
  auto envs = VectorEnv::Make("CartPole-v1", {}, o);
  const EpisodeStats s = Evaluate(*envs, *policy, 20, 1000);
  EXPECT_GE(s.mean_return, 0.95 * teacher) << "teacher " << teacher;
}

TEST(BcTest, EarlyStoppingEndsTheRunAndKeepsTheBestWeights) {
  const std::string dir = TeacherDataset(10, 0.3, nullptr);
  const std::string out = FreshDir("offline", "bc_early");
  TrainConfig c = TrainConfig::Resolve("bc", "CartPole-v1", "",
                                       {"dataset=" + dir, "updates_per_iteration=50", "early_stopping_patience=2",
                                        "learning_rate=0.05", "holdout_fraction=0.3", "eval_episodes=2"},
                                       100000, 0);
  const TrainResult r = Train(c, out, Quiet());
  EXPECT_LT(r.timesteps, 100000);  // stopped early
  EXPECT_TRUE(std::filesystem::exists(out + "/bc_report.json"));
  EXPECT_TRUE(std::filesystem::exists(out + "/eval.json"));
}

// The column `name` of a run's progress.csv, one value per row.
std::vector<double> ProgressColumn(const std::string& run, const std::string& name) {
  const std::vector<std::vector<std::string>> rows = testing_util::ProgressRows(run);
  std::vector<double> out;
  if (rows.empty()) return out;
  const auto at = std::find(rows[0].begin(), rows[0].end(), name);
  EXPECT_NE(at, rows[0].end()) << name << " not in progress.csv";
  if (at == rows[0].end()) return out;
  const size_t col = static_cast<size_t>(at - rows[0].begin());
  for (size_t r = 1; r < rows.size(); ++r) out.push_back(std::stod(rows[r].at(col)));
  return out;
}

// learning_rate and IQL's actor_learning_rate as schedules over the updates:
// the rates logged are read back from the optimizers after each row's last
// update (u = 9, 19, 29, 39 of 40), so they are the ones the updates used.
TEST(OfflineScheduleTest, OptimizersFollowTheLearningRateSchedules) {
  const std::string dir = TeacherDataset(6, 0.3, nullptr);
  const std::string out = FreshDir("offline", "iql_schedules");
  Train(TrainConfig::Resolve("iql", "CartPole-v1", "",
                             {"dataset=" + dir, "updates_per_iteration=10", "eval_episodes=1", "net_arch=[8]",
                              "learning_rate=lin_1e-3", "actor_learning_rate=cos_4e-4_1e-4"},
                             40, 0),
        out, Quiet());
  const std::vector<double> lr = ProgressColumn(out, "learning_rate"), actor = ProgressColumn(out, "actor_learning_rate");
  ASSERT_EQ(lr.size(), 4u);
  ASSERT_EQ(actor.size(), 4u);
  const double kPi = std::acos(-1.0);
  for (int k = 0; k < 4; ++k) {
    const double done = (10.0 * k + 9.0) / 40.0;  // progress at the row's last update
    EXPECT_NEAR(lr[k], 1e-3 * (1.0 - done), 1e-9) << k;
    EXPECT_NEAR(actor[k], 1e-4 + 3e-4 * 0.5 * (1.0 + std::cos(kPi * done)), 1e-9) << k;
  }
  EXPECT_NEAR(lr[0], 7.75e-4, 1e-12);        // worked: 1e-3 x (1 - 9/40)
  EXPECT_NEAR(actor[3], 1.0046e-4, 1e-8);     // worked: 1e-4 + 1.5e-4 (1 + cos(39 pi / 40))
  try {
    TrainConfig::Resolve("bc", "CartPole-v1", "", {"dataset=" + dir, "learning_rate=lin_1e-3_-1e-3"}, 40, 0);
    ADD_FAILURE() << "a schedule below 0 was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'learning_rate' must start > 0 and never go below 0"), std::string::npos)
        << e.what();
  }
}

class OfflineResumeTest : public ::testing::TestWithParam<const char*> {};

// GetParam(): the algo, optionally ":key=value,key=value" set on top.
TEST_P(OfflineResumeTest, ResumedRunEndsWithTheUnbrokenRunsWeights) {
  const std::string param = GetParam();
  const std::string algo = param.substr(0, param.find(':'));
  const std::string tag = algo + (param.find(':') == std::string::npos ? "" : "_set");
  const std::string dir = TeacherDataset(8, 0.3, nullptr);
  const std::string a = FreshDir("offline", tag + "_full"), b = FreshDir("offline", tag + "_half");
  std::vector<std::string> sets = {"dataset=" + dir, "updates_per_iteration=20", "batch_size=32",
                                   "net_arch=[16]", "checkpoint_interval=40", "eval_episodes=1"};
  if (param.find(':') != std::string::npos) {
    std::stringstream extra(param.substr(param.find(':') + 1));
    for (std::string kv; std::getline(extra, kv, ',');) sets.push_back(kv);
  }
  // b: a copy of a as a run killed after its checkpoint at 40 of 80 updates
  // (schedules run over the same 80 updates in both).
  Train(TrainConfig::Resolve(algo, "CartPole-v1", "", sets, 80, 3), a, Quiet());
  std::filesystem::remove_all(b);
  std::filesystem::copy(a, b, std::filesystem::copy_options::recursive);
  std::vector<std::filesystem::path> later;
  for (const auto& e : std::filesystem::directory_iterator(b + "/checkpoints"))
    if (e.path().filename() != "step_40.pt") later.push_back(e.path());
  ASSERT_FALSE(later.empty());
  for (const auto& p : later) std::filesystem::remove(p);
  std::filesystem::remove(b + "/eval.json");
  Resume(b, std::nullopt, Quiet());
  LoadedRun ra = LoadRun(a), rb = LoadRun(b);
  const auto pa = ra.algorithm->network()->parameters(), pb = rb.algorithm->network()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << algo << " parameter " << i;
  EXPECT_EQ(rb.algorithm->num_timesteps(), 80);
}

INSTANTIATE_TEST_SUITE_P(Agents, OfflineResumeTest,
                         ::testing::Values("bc", "cql", "iql", "cql:alpha_learning_rate=0.05,alpha_threshold=0.5",
                                           "iql:learning_rate=lin_1e-3,actor_learning_rate=cos_3e-4"));

TEST(OfflineResumeTest, AChangedDatasetIsRefused) {
  const std::string dir = TeacherDataset(6, 0.5, nullptr);
  const std::string out = FreshDir("offline", "changed");
  const std::vector<std::string> sets = {"dataset=" + dir, "updates_per_iteration=10", "eval_episodes=1",
                                         "net_arch=[8]"};
  Train(TrainConfig::Resolve("bc", "CartPole-v1", "", sets, 10, 0), out, Quiet());
  // Re-record the dataset with other data in the same place.
  std::filesystem::remove_all(dir);
  VectorEnvOptions o;
  auto envs = VectorEnv::Make("CartPole-v1", {}, o);
  RandomPolicy random(envs->single_action_space(), 9);
  DatasetInfo info;
  info.env_id = "CartPole-v1";
  WriteDataset(RecordDataset(*envs, random, {6, 77, 0.0}, info), dir);
  try {
    Resume(out, 20, Quiet());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("differs from the one this checkpoint was trained on"), std::string::npos)
        << e.what();
  }
}

// A short bc run on a CartPole-v1 dataset: a source to warm-start from.
std::string CartPoleBcRun(const std::string& dataset, const std::string& name) {
  const std::string bc = FreshDir("offline", name);
  Train(TrainConfig::Resolve("bc", "CartPole-v1", "", {"dataset=" + dataset, "updates_per_iteration=50", "eval_episodes=1"},
                             100, 0),
        bc, Quiet());
  return bc;
}

TEST(WarmStartTest, PpoStartsFromTheClonesActorAndCritic) {
  const std::string dir = TeacherDataset(8, 0.0, nullptr);
  const std::string bc = CartPoleBcRun(dir, "ws_bc");
  TrainConfig ppo = TrainConfig::Resolve("ppo", "CartPole-v1", "", {}, 1000, 1);
  RunContext ctx = ppo.Context();
  auto algo = MakeAlgorithm(ctx, *ppo.algo);
  WarmStart(*algo, bc, false);
  LoadedRun src = LoadRun(bc);
  const auto a = algo->network()->named_parameters(), b = src.algorithm->network()->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key();
  // A network that shares nothing is refused by name.
  TrainConfig wide = TrainConfig::Resolve("ppo", "CartPole-v1", "", {"net_arch=[8]"}, 1000, 1);
  auto other = MakeAlgorithm(wide.Context(), *wide.algo);
  const std::string cql = FreshDir("offline", "ws_cql");
  Train(TrainConfig::Resolve("cql", "CartPole-v1", "",
                             {"dataset=" + dir, "updates_per_iteration=20", "eval_episodes=1", "net_arch=[16]"}, 20, 0),
        cql, Quiet());
  EXPECT_THROW(WarmStart(*other, cql, false), InvalidArgument);
  // A Q-network warm-starts DQN, its target network included.
  TrainConfig dqn = TrainConfig::Resolve("dqn", "CartPole-v1", "", {"net_arch=[16]"}, 1000, 1);
  auto d = MakeAlgorithm(dqn.Context(), *dqn.algo);
  WarmStart(*d, cql, false);
  auto& q = dynamic_cast<Dqn&>(*d);
  LoadedRun c = LoadRun(cql);
  EXPECT_TRUE(torch::equal(q.q_net()->parameters()[0], c.algorithm->network()->parameters()[0]));
}

TEST(OfflineRunTest, ATrainedRunsPolicyLoadsWithoutItsDataset) {
  const std::string dir = FreshDir("offline", "moved_dataset");
  {
    VectorEnvOptions o;
    auto envs = VectorEnv::Make("CartPole-v1", {}, o);
    PoleTeacher teacher;
    DatasetInfo info;
    info.env_id = "CartPole-v1";
    WriteDataset(RecordDataset(*envs, teacher, {4, 3, 0.2}, info), dir);
  }
  for (const char* algo : {"bc", "cql", "iql"}) {
    const std::string out = FreshDir("offline", std::string("moved_") + algo);
    Train(TrainConfig::Resolve(algo, "CartPole-v1", "",
                               {"dataset=" + dir, "updates_per_iteration=10", "eval_episodes=1", "net_arch=[8]"}, 10, 0),
          out, Quiet());
    const std::string moved = dir + "_moved";
    std::filesystem::rename(dir, moved);
    LoadedRun run = LoadRun(out);  // evaluation, export and serving need only the weights
    auto policy = run.algorithm->MakePolicy(true);
    VectorEnvOptions o;
    auto envs = VectorEnv::Make("CartPole-v1", {}, o);
    EXPECT_GE(Evaluate(*envs, *policy, 1, 0).mean_return, 1.0) << algo;
    // Training on needs it, and says so.
    EXPECT_THROW(Resume(out, 20, Quiet()), InvalidArgument) << algo;
    std::filesystem::rename(moved, dir);
  }
}

TEST(CqlTest, WarmStartSyncsTheTargetNetwork) {
  const std::string dir = TeacherDataset(6, 0.2, nullptr);
  const std::string src = FreshDir("offline", "cql_src");
  Train(TrainConfig::Resolve("cql", "CartPole-v1", "",
                             {"dataset=" + dir, "updates_per_iteration=20", "eval_episodes=1", "net_arch=[16]"}, 40, 0),
        src, Quiet());
  TrainConfig c = TrainConfig::Resolve("cql", "CartPole-v1", "", {"dataset=" + dir, "net_arch=[16]"}, 40, 5);
  auto algo = MakeAlgorithm(c.Context(), *c.algo);
  WarmStart(*algo, src, false);
  const auto q = algo->network()->parameters();
  auto& cql = dynamic_cast<Cql&>(*algo);
  torch::nn::Module* target = cql.target_network();
  ASSERT_NE(target, nullptr);
  for (size_t i = 0; i < q.size(); ++i) EXPECT_TRUE(torch::equal(q[i], target->parameters()[i])) << i;
}

// Pendulum's torque from a linear controller of the observation (cos, sin,
// angular velocity), clipped to the Box.
class PendulumTeacher : public Policy {
 public:
  void Act(const void* observations, const uint8_t*, int n, void* actions) override {
    const auto* o = static_cast<const float*>(observations);
    auto* a = static_cast<float*>(actions);
    for (int i = 0; i < n; ++i) a[i] = std::clamp(-1.5f * o[3 * i + 1] - 0.5f * o[3 * i + 2], -2.0f, 2.0f);
  }
  std::string name() const override { return "pendulum-teacher"; }
};

// The teacher's dataset on Pendulum-v1 (epsilon: the fraction of uniform actions).
std::string PendulumDataset(const std::string& name, int64_t episodes, double epsilon) {
  const std::string dir = FreshDir("offline", name);
  VectorEnvOptions o;
  o.num_envs = 2;
  auto envs = VectorEnv::Make("Pendulum-v1", {}, o);
  PendulumTeacher teacher;
  DatasetInfo info;
  info.env_id = "Pendulum-v1";
  WriteDataset(RecordDataset(*envs, teacher, {episodes, 1, epsilon}, info), dir);
  return dir;
}

TEST(OfflineBoxTest, BcAndIqlTakeContinuousActions) {
  const std::string dir = PendulumDataset("pendulum", 4, 0.0);
  RunContext ctx{"bc", RunSettings{}};
  ctx.run.env = "Pendulum-v1";
  BcConfig c;
  c.offline.dataset = dir;
  c.offline.holdout_fraction = 0.25;
  c.offline.updates_per_iteration = 200;
  Bc bc(ctx, c);
  const double first = bc.Iterate().at("holdout_mse");
  double last = first;
  for (int i = 0; i < 4; ++i) last = bc.Iterate().at("holdout_mse");
  // The teacher's actions are a function of the observation: the Gaussian's
  // mean (the greedy action) learns it on episodes it never saw.
  const Dataset data = ReadDataset(dir);
  double mean = 0, var = 0;
  for (int64_t t = 0; t < data.steps(); ++t) mean += *reinterpret_cast<const float*>(data.action(t)) / data.steps();
  for (int64_t t = 0; t < data.steps(); ++t) {
    const double a = *reinterpret_cast<const float*>(data.action(t)) - mean;
    var += a * a / data.steps();
  }
  EXPECT_LT(last, 0.2 * var) << "first " << first << ", variance of the actions " << var;
  ctx.algo = "iql";
  IqlConfig ic;
  ic.offline.dataset = dir;
  ic.offline.updates_per_iteration = 20;
  ic.offline.batch_size = 32;
  Iql iql(ctx, ic);
  const Metrics m = iql.Iterate();
  EXPECT_TRUE(std::isfinite(m.at("q_loss")) && std::isfinite(m.at("actor_loss")));
  float action = 0;
  std::vector<float> obs(3, 0.0f);
  iql.MakePolicy(true)->Act(obs.data(), nullptr, 1, &action);
  EXPECT_GE(action, -2.0f);
  EXPECT_LE(action, 2.0f);
}

TEST(OfflineLossTest, FactoredCqlWorkedExample) {
  // nvec (2, 3): q = (1, 2 | 0, 1, 2), a = (0, 2). Q(s, a) = 1 + 2 = 3.
  // Regularizer: [log(e + e^2) - 1] + [log(1 + e + e^2) - 2]
  //   = log(1 + e) + log(1 + e^-1 + e^-2) = 1.3132616875 + 0.4076059645.
  const std::vector<int64_t> nvec = {2, 3};
  const torch::Tensor q = torch::tensor({1.0f, 2.0f, 0.0f, 1.0f, 2.0f}).reshape({1, 5});
  const torch::Tensor a = torch::tensor({0, 2}, torch::kLong).reshape({1, 2});
  EXPECT_NEAR(FactoredQ(q, a, nvec).item<double>(), 3.0, 1e-6);
  EXPECT_NEAR(FactoredCqlRegularizer(q, a, {}, nvec).item<double>(), 1.3132616875 + 0.4076059645, 1e-6);
  // It is the joint CQL regularizer over the 6 joint actions of Q = q_0 + q_1.
  std::vector<float> joint;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) joint.push_back(q[0][i].item<float>() + q[0][2 + j].item<float>());
  const torch::Tensor jq = torch::tensor(joint).reshape({1, 6});
  EXPECT_NEAR(FactoredCqlRegularizer(q, a, {}, nvec).item<double>(),
              CqlRegularizer(jq, torch::tensor({0 * 3 + 2}, torch::kLong), {}).item<double>(), 1e-5);
  // Value 2 of the second dimension illegal, a = (0, 1): log(1 + e) + log(1 + e^-1) = 1.3132616875 + 0.3132616875.
  const torch::Tensor masks = torch::tensor({1, 1, 1, 1, 0}, torch::kBool).reshape({1, 5});
  const torch::Tensor a1 = torch::tensor({0, 1}, torch::kLong).reshape({1, 2});
  EXPECT_NEAR(FactoredCqlRegularizer(q, a1, masks, nvec).item<double>(), 1.3132616875 + 0.3132616875, 1e-6);
  // The gradient is each dimension's softmax - onehot(a_d).
  const torch::Tensor qg = q.clone().requires_grad_(true);
  FactoredCqlRegularizer(qg, a, {}, nvec).backward();
  const double z0 = std::exp(1.0) + std::exp(2.0), z1 = 1 + std::exp(1.0) + std::exp(2.0);
  EXPECT_NEAR(qg.grad()[0][0].item<double>(), std::exp(1.0) / z0 - 1, 1e-6);
  EXPECT_NEAR(qg.grad()[0][1].item<double>(), std::exp(2.0) / z0, 1e-6);
  EXPECT_NEAR(qg.grad()[0][2].item<double>(), 1 / z1, 1e-6);
  EXPECT_NEAR(qg.grad()[0][4].item<double>(), std::exp(2.0) / z1 - 1, 1e-6);
}

TEST(OfflineLossTest, FactoredGreedyValueIsDoubleDqnPerDimension) {
  // The online network picks (value 1 of dimension 0; the best legal of
  // dimension 1), the target network scores them.
  const std::vector<int64_t> nvec = {2, 3};
  const torch::Tensor online = torch::tensor({1.0f, 2.0f, 0.0f, 1.0f, 2.0f}).reshape({1, 5});
  const torch::Tensor target = torch::tensor({5.0f, 7.0f, 1.0f, 2.0f, 3.0f}).reshape({1, 5});
  EXPECT_NEAR(FactoredGreedyValue(target, online, {}, nvec).item<double>(), 7 + 3, 1e-6);
  const torch::Tensor masks = torch::tensor({1, 1, 1, 1, 0}, torch::kBool).reshape({1, 5});
  EXPECT_NEAR(FactoredGreedyValue(target, online, masks, nvec).item<double>(), 7 + 2, 1e-6);
  // A dimension with no legal value adds nothing.
  const torch::Tensor none = torch::tensor({1, 1, 0, 0, 0}, torch::kBool).reshape({1, 5});
  EXPECT_NEAR(FactoredGreedyValue(target, online, none, nvec).item<double>(), 7, 1e-6);
}

// TowerDefense-v0 (masked MultiDiscrete [4, 5, 60, 4] with conditional masks):
// CQL's factored Q learns the scripted defender's game from 10 of its
// episodes and wins stage 1; its greedy actions are legal, and the export
// (a multi_categorical head over the Q-values) acts as the agent.
TEST(CqlTest, FactoredQWinsTowerDefenseFromTheDefendersData) {
  const std::string dir = FreshDir("offline", "td_dataset");
  {
    VectorEnvOptions o;
    o.num_envs = 2;
    auto envs = VectorEnv::Make("TowerDefense-v0", {}, o);
    auto defender = Registry::Global().MakeScriptedPolicy("heuristic", "TowerDefense-v0", envs->env(0), 0);
    DatasetInfo info;
    info.env_id = "TowerDefense-v0";
    WriteDataset(RecordDataset(*envs, *defender, {10, 1, 0.0}, info), dir);
  }
  RunContext ctx{"cql", RunSettings{}};
  ctx.run.env = "TowerDefense-v0";
  CqlConfig c;
  c.offline.dataset = dir;
  c.offline.net_arch = {64, 64};
  c.offline.updates_per_iteration = 1000;
  Cql cql(ctx, c);
  Metrics m;
  for (int i = 0; i < 3; ++i) m = cql.Iterate();
  EXPECT_TRUE(std::isfinite(m.at("td_loss")));
  EXPECT_GT(m.at("cql_regularizer"), 0.0);
  auto policy = cql.MakePolicy(true);
  VectorEnvOptions o;
  o.num_envs = 2;
  // strict: an illegal action throws (the greedy actions respect the conditional masks).
  auto envs = VectorEnv::Make("TowerDefense-v0", Kwargs({{"strict", "true"}}), o);
  const EpisodeStats r = Evaluate(*envs, *policy, 4, 7);
  ASSERT_TRUE(r.success_rate.has_value());
  EXPECT_DOUBLE_EQ(*r.success_rate, 1.0) << "return " << r.mean_return;
  // The export's deterministic actions are the agent's (per-dimension masks, no conditional ones).
  runtime::Policy exported(cql.Export());
  auto plain = cql.MakePolicy(true);
  const OfflineData& d = cql.data();
  const int64_t n = 64, k = 4, mask = d.masks.size(1);
  const torch::Tensor obs = d.obs.narrow(0, 0, n).contiguous();
  const torch::Tensor masks = d.masks.narrow(0, 0, n).to(torch::kUInt8).contiguous();
  std::vector<int64_t> mine(n * k), theirs(n * k);
  plain->Act(obs.data_ptr(), masks.data_ptr<uint8_t>(), static_cast<int>(n), mine.data());
  exported.Act(obs.data_ptr<float>(), n, masks.data_ptr<uint8_t>(), theirs.data(), true);
  EXPECT_EQ(mine, theirs);
  EXPECT_EQ(mask, 73);
}

// A step whose mask leaves a dimension no legal value (the regularizer's
// logsumexp would be -inf) is refused by name when the dataset is read.
TEST(CqlTest, AMaskWithNoLegalValueIsRefusedByName) {
  const std::string dir = FreshDir("offline", "td_no_legal");
  {
    VectorEnvOptions o;
    auto envs = VectorEnv::Make("TowerDefense-v0", {}, o);
    RandomPolicy random(envs->single_action_space(), 1, true);
    DatasetInfo info;
    info.env_id = "TowerDefense-v0";
    Dataset d = RecordDataset(*envs, random, {1, 1, 0.0}, info);
    ASSERT_EQ(d.mask_size, 73);
    std::fill(d.masks.begin() + 3 * 73 + 4, d.masks.begin() + 3 * 73 + 9, 0);  // row 3: no unit slot
    WriteDataset(d, dir);
  }
  RunContext ctx{"cql", RunSettings{}};
  ctx.run.env = "TowerDefense-v0";
  CqlConfig c;
  c.offline.dataset = dir;
  c.offline.updates_per_iteration = 1;
  c.offline.holdout_fraction = 0;
  Cql cql(ctx, c);
  try {
    cql.Iterate();
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("step 3 has no legal action value in dimension 1"), std::string::npos)
        << e.what();
  }
}

// Image observations (TowerDefense-v0's pixels, stored as JPEG frames as
// Minari stores them): bc, cql (a CNN Q-network, features computed per
// minibatch) and iql train on them and act.
// Two episodes of a uniform random policy on TowerDefense-v0 with `kwargs`
// (2 envs) as a dataset in a fresh directory `name`; the envs in *envs.
std::string RandomTowerDefenseDataset(const std::string& name, const Kwargs& kwargs,
                                      std::unique_ptr<VectorEnv>* envs) {
  const std::string dir = FreshDir("offline", name);
  VectorEnvOptions o;
  o.num_envs = 2;
  *envs = VectorEnv::Make("TowerDefense-v0", kwargs, o);
  RandomPolicy random((*envs)->single_action_space(), 1, true);
  DatasetInfo info;
  info.env_id = "TowerDefense-v0";
  info.env_kwargs = kwargs;
  WriteDataset(RecordDataset(**envs, random, {2, 1, 0.0}, info), dir);
  return dir;
}

TEST(OfflineImageTest, AgentsTrainOnAnImageDataset) {
  std::unique_ptr<VectorEnv> envs;
  const std::string dir =
      RandomTowerDefenseDataset("pixels_dataset", Kwargs({{"obs_mode", "pixels"}, {"max_ticks", "80"}}), &envs);
  for (const char* algo : {"bc", "cql", "iql"}) {
    const std::string out = FreshDir("offline", std::string("pixels_") + algo);
    Train(TrainConfig::Resolve(algo, "TowerDefense-v0", "",
                               {"env_kwargs={obs_mode: pixels, max_ticks: 80}", "dataset=" + dir,
                                "updates_per_iteration=3", "batch_size=8", "eval_episodes=1"},
                               6, 0),
          out, Quiet());
    LoadedRun r = LoadRun(out);
    auto policy = r.algorithm->MakePolicy(true);
    const EpisodeStats e = Evaluate(*envs, *policy, 1, 3);
    EXPECT_TRUE(std::isfinite(e.mean_return)) << algo;
  }
}

// Mean over the dataset's states of Q_1(s, a_data) - Q_1(s, a) at uniform a.
double DataActionAdvantage(ContinuousCql& cql) {
  torch::NoGradGuard g;
  const OfflineData& d = cql.data();
  const torch::Tensor f = OfflineFeatures(d.obs, d.obs_space);
  const torch::Tensor scaled = d.actions / 2.0;  // Pendulum's Box is [-2, 2]
  const torch::Tensor q_data = cql.critics()->forward(torch::cat({f, scaled}, 1)).select(1, 0);
  torch::manual_seed(5);
  const torch::Tensor q_rand = cql.critics()->forward(torch::cat({f, torch::rand({f.size(0), 1}) * 2 - 1}, 1)).select(1, 0);
  return (q_data - q_rand).mean().item<double>();
}

TEST(ContinuousCqlTest, RegularizerHoldsQDownAwayFromTheDatasActions) {
  const std::string dir = PendulumDataset("pendulum_cql", 4, 0.0);
  RunContext ctx{"cql", RunSettings{}};
  ctx.run.env = "Pendulum-v1";
  CqlConfig c;
  c.offline.dataset = dir;
  c.offline.net_arch = {32, 32};
  c.offline.holdout_fraction = 0.25;
  c.offline.batch_size = 64;
  c.offline.updates_per_iteration = 150;
  c.n_action_samples = 4;
  c.alpha = 5.0;
  auto cql = MakeCql(ctx, c);
  auto* cont = dynamic_cast<ContinuousCql*>(cql.get());
  ASSERT_NE(cont, nullptr) << "--algo cql on a Box env is ContinuousCql";
  Metrics m;
  for (int i = 0; i < 4; ++i) m = cql->Iterate();
  for (const char* k : {"critic_loss", "td_loss", "cql_regularizer", "actor_loss", "ent_coef", "holdout_action_mse"})
    EXPECT_TRUE(std::isfinite(m.at(k))) << k;
  c.alpha = 0.0;  // plain offline SAC, same seed and data
  ContinuousCql plain(ctx, c);
  for (int i = 0; i < 4; ++i) plain.Iterate();
  const double gap = DataActionAdvantage(*cont), plain_gap = DataActionAdvantage(plain);
  // The teacher's actions are one per state: CQL ranks them above random
  // actions by a clear margin, offline SAC (no regularizer) much less.
  std::printf("Q(s, a_data) - Q(s, uniform a): cql %.3f, offline sac %.3f\n", gap, plain_gap);
  EXPECT_GT(gap, 1.0) << "offline SAC's gap " << plain_gap;
  EXPECT_GT(gap, plain_gap + 1.0);
  // The policy acts inside the Box.
  std::vector<float> obs = {1.0f, 0.0f, 0.5f, 0.0f, 1.0f, -3.0f};
  float actions[2];
  cql->MakePolicy(false)->Act(obs.data(), nullptr, 2, actions);
  for (float a : actions) EXPECT_TRUE(a >= -2.0f && a <= 2.0f) << a;
}

// Two updates of a CQL agent with alpha_learning_rate 0.01 and a threshold
// far from its regularizer: the first uses alpha itself (lambda 1) and moves
// log lambda by 0.01 in `direction`, the second uses alpha x lambda, and its
// `loss_key` is td_loss + cql_alpha x cql_regularizer (within
// rel_tol |loss| + abs_tol).
template <class Agent>
void ExpectTwoDualSteps(Agent& cql, double alpha, double direction, const char* loss_key, double rel_tol,
                        double abs_tol) {
  EXPECT_EQ(cql.cql_lambda(), 1.0);
  EXPECT_DOUBLE_EQ(cql.Iterate().at("cql_alpha"), alpha);  // alpha x lambda before the dual step
  EXPECT_NEAR(std::log(cql.cql_lambda()), 0.01 * direction, 1e-6);
  const double lambda = cql.cql_lambda();
  const Metrics m = cql.Iterate();
  EXPECT_DOUBLE_EQ(m.at("cql_alpha"), alpha * lambda);
  // The Q step's loss takes that weight.
  EXPECT_NEAR(m.at(loss_key), m.at("td_loss") + m.at("cql_alpha") * m.at("cql_regularizer"),
              rel_tol * std::abs(m.at(loss_key)) + abs_tol);
}

// The Lagrangian form: lambda's first Adam step moves log lambda by its
// learning rate against the sign of (regularizer per critic - threshold),
// and the regularizer's weight is alpha x lambda before that step (Box,
// Discrete and MultiDiscrete actions).
TEST(ContinuousCqlTest, LagrangeMultiplierStepsTowardsTheThreshold) {
  const std::string dir = PendulumDataset("pendulum_lagrange", 2, 0.2);
  RunContext ctx{"cql", RunSettings{}};
  ctx.run.env = "Pendulum-v1";
  for (double threshold : {1e6, -1e6}) {
    CqlConfig c;
    c.offline.dataset = dir;
    c.offline.net_arch = {16};
    c.offline.batch_size = 16;
    c.offline.updates_per_iteration = 1;
    c.n_action_samples = 2;
    c.alpha = 5.0;
    c.alpha_learning_rate = 0.01;
    c.alpha_threshold = threshold;
    ContinuousCql cql(ctx, c);
    // Far under the threshold, lambda shrinks (the gap is already as wide as
    // asked for); far over it, lambda grows.
    SCOPED_TRACE(threshold);
    ExpectTwoDualSteps(cql, 5.0, threshold > 0 ? -1.0 : 1.0, "critic_loss", 1e-4, 1e-5);
  }
  // The same weight on Discrete actions (CQL on DQN's network).
  {
    RunContext dctx{"cql", RunSettings{}};
    dctx.run.env = "CartPole-v1";
    CqlConfig c;
    c.offline.dataset = TeacherDataset(6, 0.2, nullptr);
    c.offline.updates_per_iteration = 1;
    c.alpha = 2.0;
    c.alpha_learning_rate = 0.01;
    c.alpha_threshold = 1e6;
    Cql cql(dctx, c);
    ExpectTwoDualSteps(cql, 2.0, -1.0, "loss", 0.0, 1e-5);
  }
  // And on MultiDiscrete actions (the factored Q), from a random TowerDefense dataset.
  {
    const Kwargs kwargs({{"max_ticks", "80"}});
    std::unique_ptr<VectorEnv> envs;
    const std::string td = RandomTowerDefenseDataset("td_lagrange_dataset", kwargs, &envs);
    RunContext tctx{"cql", RunSettings{}};
    tctx.run.env = "TowerDefense-v0";
    tctx.run.env_kwargs = kwargs;
    CqlConfig c;
    c.offline.dataset = td;
    c.offline.net_arch = {16};
    c.offline.batch_size = 16;
    c.offline.updates_per_iteration = 1;
    c.alpha_learning_rate = 0.01;
    c.alpha_threshold = 1e6;
    Cql cql(tctx, c);
    ExpectTwoDualSteps(cql, 1.0, -1.0, "loss", 0.0, 1e-4);
  }
  // Fixed alpha: lambda stays 1.
  CqlConfig c;
  c.offline.dataset = dir;
  c.offline.net_arch = {16};
  c.offline.updates_per_iteration = 3;
  c.n_action_samples = 2;
  ContinuousCql fixed(ctx, c);
  EXPECT_DOUBLE_EQ(fixed.Iterate().at("cql_alpha"), 1.0);
  EXPECT_EQ(fixed.cql_lambda(), 1.0);
}

// lambda stays in [1e-6, 1e6], and comes back down from the top as soon as
// the regularizer falls under the threshold (a clamp inside the dual loss
// zeroes its gradient at 1e6 and held lambda there for good).
TEST(CqlWeightTest, LambdaStaysInItsBoundsAndReturnsFromTheTop) {
  // Learning rate 100: Adam's first step moves log lambda by 100, past either bound.
  CqlWeight up(2.0, 100.0, 0.0);
  up.Step(1.0);
  EXPECT_NEAR(up.lambda() / 1e6, 1.0, 1e-5);
  const double top = up.lambda();
  EXPECT_DOUBLE_EQ(up.Step(-1.0), 2.0 * top);  // the weight: alpha x lambda before the step
  for (int i = 0; i < 20; ++i) up.Step(-1.0);  // Adam's momentum turns within a few steps
  EXPECT_LT(up.lambda(), 1e5);
  CqlWeight down(2.0, 100.0, 0.0);
  down.Step(-1.0);
  EXPECT_NEAR(down.lambda() / 1e-6, 1.0, 1e-5);
}

class ContinuousCqlResumeTest : public ::testing::TestWithParam<std::vector<std::string>> {};

// Exact resume with alpha fixed, and with alpha's multiplier learned and the
// deterministic backup (lambda and its optimizer live in the checkpoint).
TEST_P(ContinuousCqlResumeTest, ResumedRunEndsWithTheUnbrokenRunsWeights) {
  const std::string dir = PendulumDataset("pendulum_resume", 2, 0.2);
  const bool lagrange = !GetParam().empty();
  const std::string a = FreshDir("offline", lagrange ? "ccql_lag_full" : "ccql_full"),
                    b = FreshDir("offline", lagrange ? "ccql_lag_half" : "ccql_half");
  std::vector<std::string> sets = {"dataset=" + dir,     "updates_per_iteration=10", "batch_size=16",
                                   "net_arch=[16]",      "checkpoint_interval=20",   "eval_episodes=1",
                                   "n_action_samples=2"};
  sets.insert(sets.end(), GetParam().begin(), GetParam().end());
  Train(TrainConfig::Resolve("cql", "Pendulum-v1", "", sets, 40, 3), a, Quiet());
  Train(TrainConfig::Resolve("cql", "Pendulum-v1", "", sets, 20, 3), b, Quiet());
  Resume(b, 40, Quiet());
  LoadedRun ra = LoadRun(a), rb = LoadRun(b);
  auto& ca = dynamic_cast<ContinuousCql&>(*ra.algorithm);
  auto& cb = dynamic_cast<ContinuousCql&>(*rb.algorithm);
  const auto pa = ca.network()->parameters(), pb = cb.network()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
  const auto ta = ca.critic_target()->parameters(), tb = cb.critic_target()->parameters();
  for (size_t i = 0; i < ta.size(); ++i) EXPECT_TRUE(torch::equal(ta[i], tb[i])) << "target " << i;
  EXPECT_EQ(ca.ent_coef(), cb.ent_coef());
  EXPECT_NE(ca.ent_coef(), 1.0);  // learned
  EXPECT_EQ(ca.cql_lambda(), cb.cql_lambda());
  EXPECT_EQ(ca.cql_lambda() != 1.0, lagrange);
}

INSTANTIATE_TEST_SUITE_P(AlphaFixedOrLearned, ContinuousCqlResumeTest,
                         ::testing::Values(std::vector<std::string>{},
                                           std::vector<std::string>{"alpha_learning_rate=0.01", "alpha_threshold=2",
                                                                    "deterministic_backup=true"}));

// A Box cql run of 20 updates with 16-unit networks on `dataset`.
std::string SmallBoxCqlRun(const std::string& dataset, const std::string& name) {
  const std::string out = FreshDir("offline", name);
  Train(TrainConfig::Resolve("cql", "Pendulum-v1", "",
                             {"dataset=" + dataset, "updates_per_iteration=10", "batch_size=16", "net_arch=[16]",
                              "eval_episodes=1", "n_action_samples=2"},
                             20, 0),
        out, Quiet());
  return out;
}

TEST(ContinuousCqlTest, SacWarmStartsFromItWithItsTargetCritics) {
  const std::string dir = PendulumDataset("pendulum_ws", 2, 0.0);
  const std::string src = SmallBoxCqlRun(dir, "ccql_ws");
  TrainConfig c = TrainConfig::Resolve("sac", "Pendulum-v1", "", {"net_arch=[16]"}, 1000, 4);
  auto algo = MakeAlgorithm(c.Context(), *c.algo);
  WarmStart(*algo, src, false);
  LoadedRun from = LoadRun(src);
  const auto a = algo->network()->named_parameters(), b = from.algorithm->network()->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key();
  // The target critics start as copies of the warm-started critics (before,
  // they kept their random initial weights).
  auto& sac = dynamic_cast<Sac&>(*algo);
  const auto q = sac.critics()->parameters(), t = sac.critic_target()->parameters();
  for (size_t i = 0; i < q.size(); ++i) EXPECT_TRUE(torch::equal(q[i], t[i])) << "critic target " << i;
}

// `freeze`: the named layers keep the warm-started values through training
// and a resume, the rest learns.
TEST(WarmStartTest, FrozenLayersKeepTheirValues) {
  const std::string bc = CartPoleBcRun(TeacherDataset(8, 0.0, nullptr), "freeze_bc");
  LoadedRun src = LoadRun(bc);
  const std::string out = FreshDir("offline", "freeze_ppo");
  const std::vector<std::string> sets = {"init_from=" + bc, "freeze=pi_torso, vf_head", "n_steps=64", "learning_rate=3e-4",
                                         "eval_episodes=1", "checkpoint_interval=512"};
  Train(TrainConfig::Resolve("ppo", "CartPole-v1", "", sets, 512, 1), out, Quiet());
  Resume(out, 1024, Quiet());
  LoadedRun ppo = LoadRun(out);
  const auto before = src.algorithm->network()->named_parameters(), after = ppo.algorithm->network()->named_parameters();
  int frozen = 0, trained = 0;
  for (const auto& p : after) {
    const bool same = torch::equal(p.value(), before[p.key()]);
    if (p.key().rfind("pi_torso", 0) == 0 || p.key().rfind("vf_head", 0) == 0) {
      EXPECT_TRUE(same) << p.key() << " moved";
      ++frozen;
    } else {
      EXPECT_FALSE(same) << p.key() << " did not learn";
      ++trained;
    }
  }
  EXPECT_EQ(frozen, 6);  // two hidden layers' weights and biases, the value head's (not vf_torso's)
  EXPECT_GT(trained, 0);
  // A prefix that matches nothing names the network's parameters; freezing everything is refused.
  for (const auto& [freeze, why] : std::vector<std::pair<std::string, std::string>>{
           {"policy", "its parameters start with pi_torso"},
           {"pi_t", "starts with 'pi_t'"},  // a prefix ends where a part of the name ends
           {"pi,vf", "nothing would train"}}) {
    const std::string bad = FreshDir("offline", "freeze_bad");
    try {
      Train(TrainConfig::Resolve("ppo", "CartPole-v1", "", {"freeze=" + freeze}, 512, 1), bad, Quiet());
      ADD_FAILURE() << freeze << ": no error";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(bad)) << "a refused run left its directory";
  }
}

// PPO's behaviour-cloning pretraining (torch's Adam over gradients the
// hand-written kernels wrote) leaves frozen layers alone too.
TEST(WarmStartTest, PretrainingLeavesFrozenLayersAlone) {
  TrainConfig c = TrainConfig::Resolve("ppo", "LunarLander-v3", "",
                                       {"pretrain_policy=heuristic", "pretrain_episodes=1", "pretrain_epochs=2",
                                        "n_steps=16", "num_envs=2", "freeze=pi_torso"},
                                       32, 0);
  auto algo = MakeAlgorithm(c.Context(), *c.algo);
  FreezeParameters(*algo, c.run.freeze, false);
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : algo->network()->named_parameters()) before[p.key()] = p.value().clone();
  algo->Iterate();
  for (const auto& p : algo->network()->named_parameters())
    EXPECT_EQ(torch::equal(p.value(), before[p.key()]), p.key().rfind("pi_torso", 0) == 0) << p.key();
}

TEST(ContinuousCqlTest, SacFineTunesWithTheActorsTorsoFrozen) {
  const std::string dir = PendulumDataset("pendulum_freeze", 2, 0.0);
  const std::string src = SmallBoxCqlRun(dir, "ccql_freeze");
  const std::string out = FreshDir("offline", "sac_freeze");
  Train(TrainConfig::Resolve("sac", "Pendulum-v1", "",
                             {"init_from=" + src, "freeze=actor.torso", "net_arch=[16]", "replay_dataset=" + dir,
                              "learning_starts=0", "batch_size=16", "eval_episodes=1", "checkpoint_interval=150"},
                             150, 0),
        out, Quiet());
  Resume(out, 300, Quiet());
  LoadedRun a = LoadRun(src), b = LoadRun(out);
  const auto before = a.algorithm->network()->named_parameters(), after = b.algorithm->network()->named_parameters();
  for (const auto& p : after)
    EXPECT_EQ(torch::equal(p.value(), before[p.key()]), p.key().rfind("actor.torso", 0) == 0) << p.key();
}

TEST(CqlTest, RefusesTheBoxKeysOnDiscreteActions) {
  const std::string dir = TeacherDataset(6, 0.2, nullptr);
  try {
    Train(TrainConfig::Resolve("cql", "CartPole-v1", "", {"dataset=" + dir, "n_action_samples=4"}, 10, 0),
          FreshDir("offline", "cql_box_keys"), Quiet());
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgument& e) {
    // Only the key that was set is named (all six were).
    EXPECT_NE(std::string(e.what()).find("config key n_action_samples is for Box actions; CartPole-v1 has Discrete(2)"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace rlforge
