// Exported policies act as rlforge does: for each kind of network (MLP and
// CNN torsos; categorical, MultiDiscrete with conditional masks, Gaussian
// with observation normalization, Q-values with dueling and quantile heads)
// a short run is exported and the torch-free runtime and the TorchScript
// file are compared with rlforge's own greedy policy on observations recorded
// in the run's env. (ONNX is run in onnxruntime by python/tests/test_export.py.)
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "rlforge/algos/on_policy.h"
#include "rlforge/algos/search/alphazero.h"
#include "rlforge/algos/search/muzero.h"
#include "rlforge/train/export.h"
#include "rlforge/train/runner.h"
#include "rlforge/train/testing.h"

namespace rlforge {
namespace {

std::string FreshDir(const std::string& name) { return testing_util::FreshDir("export_test", name); }

struct Exported {
  LoadedRun run;
  runtime::Model model;
  RecordedObservations rec;
};

Exported TrainAndExport(const std::string& name, const std::string& algo, const std::string& env,
                        std::vector<std::string> sets, int64_t steps, int64_t observations,
                        const std::string& preset = "") {
  sets.push_back("eval_episodes=0");
  const std::string dir = FreshDir(name);
  Train(TrainConfig::Resolve(algo, env, "", sets, steps, 0, preset), dir, testing_util::Quiet());
  Exported e{LoadRun(dir), {}, {}};
  e.model = e.run.algorithm->Export();
  auto reference = e.run.algorithm->MakeNetworkPolicy();
  e.rec = RecordObservations(e.run.config, *reference, observations, 11);
  return e;
}

// The runtime and the TorchScript export against rlforge's greedy actions
// on every recorded observation; values within 1e-5 of each other.
void ExpectSameActions(Exported& e, const std::string& name) {
  auto reference = e.run.algorithm->MakeNetworkPolicy();
  runtime::Policy p(e.model);
  auto env = e.run.config.Context().MakeEnv();
  ASSERT_FALSE(env->has_conditional_action_mask()) << "see CnnMultiDiscreteWithConditionalMasks";
  const Agreement g = CompareActions(*reference, p, e.rec, env->action_space());
  EXPECT_EQ(g.same, g.n) << name << ": largest difference " << g.max_abs_diff;
  // TorchScript, loaded back with torch::jit::load.
  const std::string pt = FreshDir(name + "_ts") + ".pt";
  WriteTorchScript(e.model, pt);
  const Agreement ts = CompareWithTorchScript(pt, p, e.rec);
  EXPECT_EQ(ts.same, ts.n) << name << ": TorchScript actions, largest difference " << ts.max_abs_diff;
  if (e.model.has_value()) {
    torch::jit::Module m = torch::jit::load(pt);
    std::vector<int64_t> shape{e.rec.n};
    shape.insert(shape.end(), e.rec.obs_shape.begin(), e.rec.obs_shape.end());
    auto out = m.forward({torch::from_blob(e.rec.obs.data(), shape)}).toGenericDict();
    auto tv = out.at("value").toTensor().contiguous();
    std::vector<float> v(static_cast<size_t>(e.rec.n));
    p.Values(e.rec.obs.data(), e.rec.n, v.data());
    double worst = 0;
    for (int64_t i = 0; i < e.rec.n; ++i)
      worst = std::max(worst, std::abs(static_cast<double>(v[i]) - tv.data_ptr<float>()[i]) /
                                  std::max(1.0, std::abs(static_cast<double>(v[i]))));
    EXPECT_LE(worst, 1e-5) << name << ": values";
  }
}

TEST(ExportTest, PpoCategoricalMlp) {
  Exported e = TrainAndExport("ppo_cartpole", "ppo", "CartPole-v1", {}, 4096, 10000);
  EXPECT_EQ(e.model.head, runtime::HeadKind::kCategorical);
  EXPECT_EQ(e.model.algo, "ppo");
  EXPECT_EQ(e.model.train_steps, 4096);
  ExpectSameActions(e, "ppo_cartpole");
  // The state values equal the torch network's.
  auto& net = dynamic_cast<OnPolicyAlgorithm&>(*e.run.algorithm).policy();
  torch::NoGradGuard g;
  auto tv = net->Value(torch::from_blob(e.rec.obs.data(), {e.rec.n, 4})).contiguous();
  runtime::Policy p(e.model);
  std::vector<float> v(static_cast<size_t>(e.rec.n));
  p.Values(e.rec.obs.data(), e.rec.n, v.data());
  double worst = 0;
  for (int64_t i = 0; i < e.rec.n; ++i)
    worst = std::max(worst, std::abs(static_cast<double>(v[i]) - tv.data_ptr<float>()[i]));
  EXPECT_LE(worst, 1e-5 * std::max(1.0, static_cast<double>(tv.abs().max().item<float>())));
}

TEST(ExportTest, PpoGaussianWithObservationNormalization) {
  Exported e = TrainAndExport("ppo_pendulum", "ppo", "Pendulum-v1", {"normalize_obs=true", "num_envs=4", "n_steps=256"},
                              2048, 10000);
  EXPECT_EQ(e.model.head, runtime::HeadKind::kGaussian);
  ASSERT_EQ(e.model.obs_mean.size(), 3u);
  EXPECT_NE(e.model.obs_var[0], 1.0f);  // the run's statistics, not the initial ones
  ExpectSameActions(e, "ppo_pendulum");
}

TEST(ExportTest, A2cSharedTorsoOnDiscreteObservations) {
  Exported e = TrainAndExport("a2c_frozenlake", "a2c", "FrozenLake-v1", {"share_features=true"}, 2000, 10000);
  EXPECT_EQ(e.model.obs_kind, runtime::ObsKind::kDiscrete);
  EXPECT_FALSE(e.model.shared.empty());
  ExpectSameActions(e, "a2c_frozenlake");
}

TEST(ExportTest, DuelingDqnAndQrDqn) {
  Exported d = TrainAndExport("dqn_dueling", "dqn", "CartPole-v1", {"dueling=true", "learning_starts=500"}, 2000, 10000);
  EXPECT_TRUE(d.model.dueling);
  ExpectSameActions(d, "dqn_dueling");
  Exported q = TrainAndExport("qrdqn", "qr-dqn", "CartPole-v1", {"learning_starts=500"}, 2000, 10000);
  EXPECT_GT(q.model.quantiles, 1);
  ExpectSameActions(q, "qrdqn");
}

TEST(ExportTest, AlphaZeroNetworkPriorAndValue) {
  // AlphaZero acts by search; its export is the network: the masked prior's
  // argmax and the tanh value, checked against the network itself.
  Exported e = TrainAndExport("alphazero", "alphazero", "TicTacToe-v0",
                              {"simulations=8", "eval_simulations=8", "games_per_iteration=2", "net_arch=[16]"},
                              60, 2000);
  EXPECT_EQ(e.model.head, runtime::HeadKind::kCategorical);
  EXPECT_TRUE(e.model.action_mask);
  ExpectSameActions(e, "alphazero");
  auto* net = dynamic_cast<search::PolicyValueNetImpl*>(e.run.algorithm->network());
  ASSERT_NE(net, nullptr);
  std::vector<float> priors(static_cast<size_t>(e.rec.n * 9)), values(static_cast<size_t>(e.rec.n));
  net->Evaluate(e.rec.obs.data(), e.rec.masks.data(), e.rec.n, priors.data(), values.data());
  runtime::Policy p(e.model);
  std::vector<float> probs(priors.size()), v(values.size());
  p.Scores(e.rec.obs.data(), e.rec.n, e.rec.masks.data(), probs.data());
  p.Values(e.rec.obs.data(), e.rec.n, v.data());
  double worst_p = 0, worst_v = 0;
  for (size_t i = 0; i < priors.size(); ++i) worst_p = std::max(worst_p, std::abs(double(priors[i]) - probs[i]));
  for (size_t i = 0; i < values.size(); ++i) worst_v = std::max(worst_v, std::abs(double(values[i]) - v[i]));
  EXPECT_LE(worst_p, 1e-5);
  EXPECT_LE(worst_v, 1e-5);
}

TEST(ExportTest, MuZeroRepresentationAndPrediction) {
  // MuZero's export: prediction(min-max(representation(obs))), its value
  // decoded from the support; checked against the networks themselves.
  Exported e = TrainAndExport("muzero", "muzero", "TicTacToe-v0",
                              {"simulations=4", "eval_simulations=4", "net_arch=[16]", "latent_size=8"}, 60, 2000);
  EXPECT_TRUE(e.model.encoder_minmax);
  EXPECT_GT(e.model.value_support, 0);
  ExpectSameActions(e, "muzero");  // actions, and TorchScript's values against the runtime's
  auto* net = dynamic_cast<search::MuZeroNetImpl*>(e.run.algorithm->network());
  ASSERT_NE(net, nullptr);
  torch::NoGradGuard g;
  auto [logits, vlogits] = net->Predict(net->Represent(torch::from_blob(e.rec.obs.data(), {e.rec.n, net->obs_size()})));
  auto pv = torch::softmax(vlogits, 1).contiguous();
  runtime::Policy p(e.model);
  std::vector<float> v(static_cast<size_t>(e.rec.n));
  p.Values(e.rec.obs.data(), e.rec.n, v.data());
  double worst = 0;
  const int S = static_cast<int>(net->support());
  for (int64_t i = 0; i < e.rec.n; ++i)
    worst = std::max(worst, std::abs(search::SupportToScalar(pv.data_ptr<float>() + i * (2 * S + 1), S) - v[i]));
  EXPECT_LE(worst, 1e-5);
}

TEST(ExportTest, CnnMultiDiscreteWithConditionalMasks) {
  // TowerDefense from pixels: the Nature CNN on [H, W, C] images, MultiDiscrete
  // actions under conditional masks the env supplies.
  Exported e = TrainAndExport("ppo_td_pixels", "ppo", "TowerDefense-v0", {"num_envs=2", "n_steps=64", "batch_size=64"},
                              128, 300, "pixels");
  EXPECT_EQ(e.model.obs_kind, runtime::ObsKind::kImage);
  EXPECT_TRUE(e.model.channels_last);
  EXPECT_EQ(e.model.encoder.size(), 4u);
  ASSERT_TRUE(e.model.conditional_mask);
  // Replay the recorded episode with the runtime deciding, its conditional
  // masks asked of the same env: the runtime and rlforge pick the same
  // actions at every step.
  auto env = e.run.config.Context().MakeEnv();
  auto reference = e.run.algorithm->MakeNetworkPolicy();
  runtime::Policy p(e.model);
  reference->set_conditional_mask(
      [&env](int, const int64_t* prefix, int dim, uint8_t* mask) { env->ConditionalActionMask(prefix, dim, mask); });
  p.set_conditional_mask(
      [&env](int64_t, const int64_t* prefix, int dim, uint8_t* mask) { env->ConditionalActionMask(prefix, dim, mask); });
  const Space& os = env->observation_space();
  const Space& as = env->action_space();
  std::vector<uint8_t> obs(os.nbytes()), action(as.nbytes());
  std::vector<float> fobs(static_cast<size_t>(os.size()));
  std::vector<int64_t> mine(static_cast<size_t>(p.action_size()));
  std::vector<uint8_t> mask(static_cast<size_t>(as.mask_size()));
  Info info;
  env->Reset(5, obs.data(), &info);
  int64_t steps = 0, same = 0;
  for (; steps < 200; ++steps) {
    for (int64_t i = 0; i < os.size(); ++i) fobs[i] = static_cast<float>(ReadElement(obs.data(), os.dtype(), i));
    env->ActionMask(mask.data());
    reference->Act(obs.data(), mask.data(), 1, action.data());
    p.Act(fobs.data(), 1, mask.data(), mine.data());
    same += std::memcmp(mine.data(), action.data(), action.size()) == 0;
    if (env->Step(action.data(), obs.data()).done()) env->Reset(6 + steps, obs.data(), &info);
  }
  EXPECT_EQ(same, steps);
  // A policy that recorded observations (and so was given the recording
  // env's conditional masks) acts afterwards on the flat masks, as the
  // runtime does: the export's self-check on this env once used the
  // recording env after it was gone.
  auto recorder = e.run.algorithm->MakeNetworkPolicy();
  const RecordedObservations again = RecordObservations(e.run.config, *recorder, 50, 3);
  runtime::Policy flat_runtime(e.model);
  const Agreement g = CompareActions(*recorder, flat_runtime, again, as);
  EXPECT_EQ(g.same, g.n);
  // The TorchScript export on the recorded pixels (flat masks) equals the
  // runtime without conditional masks.
  const std::string pt = FreshDir("td_ts") + ".pt";
  WriteTorchScript(e.model, pt);
  runtime::Policy flat(e.model);
  const Agreement ts = CompareWithTorchScript(pt, flat, e.rec);
  EXPECT_EQ(ts.same, ts.n);
}

TEST(ExportTest, AgentsWithoutANetworkAndDamagedFilesAreRefused) {
  const std::string dir = FreshDir("qlearning");
  Train(TrainConfig::Resolve("q-learning", "FrozenLake-v1", "", {"eval_episodes=0"}, 500, 0), dir,
        testing_util::Quiet());
  LoadedRun run = LoadRun(dir);
  try {
    run.algorithm->Export();
    ADD_FAILURE() << "tabular export did not throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("not a network"), std::string::npos) << e.what();
  }
  // A TorchScript file that is not an rlforge export, and a file that is no
  // TorchScript at all, are one-line errors.
  const std::string junk = FreshDir("junk") + ".pt";
  std::ofstream(junk) << "not a model";
  RecordedObservations r;
  r.n = 1, r.obs_size = 1, r.obs = {0};
  try {
    TorchScriptActions(junk, r);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a TorchScript file"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace rlforge
