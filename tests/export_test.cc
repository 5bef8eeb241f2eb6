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
#include "rlforge/algos/ppo/recurrent_ppo.h"
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
    p.ResetState();  // recurrent: both from zero states, as TorchScript without a state
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

// Recurrent PPO: the runtime's core against the torch network stepped over
// the recorded episodes (logits and the state after every step, resets where
// episodes start), then actions against rlforge's policy and TorchScript.
void ExpectSameRecurrentSteps(Exported& e, const std::string& name) {
  auto& net = dynamic_cast<RecurrentPpo&>(*e.run.algorithm).net();
  ASSERT_TRUE(e.model.recurrent()) << name;
  torch::NoGradGuard g;
  runtime::Policy p(e.model);
  const int64_t S = p.state_size(), H = e.model.rnn_hidden, L = e.model.rnn_layers(), W = e.model.outputs_size();
  ASSERT_EQ(S, L * H * (e.model.rnn_kind == runtime::RnnKind::kLstm ? 2 : 1));
  RecurrentState state = net->InitialState(1);
  std::vector<float> out(static_cast<size_t>(W)), st(static_cast<size_t>(S));
  std::vector<int64_t> shape{1};
  shape.insert(shape.end(), e.rec.obs_shape.begin(), e.rec.obs_shape.end());
  double worst = 0, worst_state = 0;
  int64_t episodes = 0;
  for (int64_t t = 0; t < e.rec.n; ++t) {
    const bool start = e.rec.starts[static_cast<size_t>(t)];
    episodes += start;
    if (start) p.ResetState(0);
    float* o = e.rec.obs.data() + t * e.rec.obs_size;
    p.Outputs(o, 1, out.data());
    // The network takes normalized observations (the model folds them in).
    auto x = torch::from_blob(o, shape).clone();
    if (!e.model.obs_mean.empty()) {
      const int64_t d = e.rec.obs_size;
      x = ((x - torch::tensor(e.model.obs_mean).reshape({1, d})) / torch::sqrt(torch::tensor(e.model.obs_var).reshape({1, d}) + 1e-8))
              .clamp(-e.model.obs_clip, e.model.obs_clip);
    }
    const auto heads = net->Step(x, torch::full({1}, start ? 1.0f : 0.0f), &state).heads;
    const auto pi = heads.pi.contiguous();
    for (int64_t j = 0; j < W; ++j) worst = std::max(worst, std::abs(double(out[j]) - pi.data_ptr<float>()[j]));
    p.GetState(1, st.data());
    // The torch state in the runtime's layout: h of every layer, then c.
    std::vector<torch::Tensor> parts;
    for (int64_t l = 0; l < L; ++l) parts.push_back(state.pi_h[l].reshape({-1}));
    if (state.pi_c.defined())
      for (int64_t l = 0; l < L; ++l) parts.push_back(state.pi_c[l].reshape({-1}));
    const auto ts = torch::cat(parts).contiguous();
    for (int64_t j = 0; j < S; ++j) worst_state = std::max(worst_state, std::abs(double(st[j]) - ts.data_ptr<float>()[j]));
  }
  EXPECT_GE(episodes, 3) << name << ": the recorded rows should span several episodes";
  EXPECT_LE(worst, 1e-5) << name << ": outputs";
  EXPECT_LE(worst_state, 1e-5) << name << ": states";
  // Without the resets the runtime would act on stale states: check that the
  // state matters at all (one observation twice gives other outputs).
  std::vector<float> first(static_cast<size_t>(W)), second(static_cast<size_t>(W));
  p.ResetState();
  p.Outputs(e.rec.obs.data() + e.rec.obs_size, 1, first.data());
  p.Outputs(e.rec.obs.data() + e.rec.obs_size, 1, second.data());
  EXPECT_NE(first, second) << name;
  ExpectSameActions(e, name);
}

TEST(ExportTest, RecurrentPpoLstmAndGru) {
  // Two stacked LSTM layers, the critic on its own LSTM (not exported).
  Exported lstm = TrainAndExport("rppo_lstm", "recurrent-ppo", "CartPoleNoVel-v1",
                                 {"num_envs=4", "n_steps=64", "bptt_len=16", "batch_size=64", "rnn_hidden_size=16",
                                  "rnn_layers=2", "net_arch=[16]"},
                                 512, 3000);
  EXPECT_EQ(lstm.model.rnn_kind, runtime::RnnKind::kLstm);
  EXPECT_EQ(lstm.model.rnn_layers(), 2);
  EXPECT_FALSE(lstm.model.has_value());
  ExpectSameRecurrentSteps(lstm, "rppo_lstm");
  // A GRU whose critic reads the actor's core: the value is exported too.
  Exported gru = TrainAndExport("rppo_gru", "recurrent-ppo", "PendulumNoVel-v1",
                                {"num_envs=4", "n_steps=64", "bptt_len=16", "batch_size=64", "rnn_type=gru",
                                 "rnn_hidden_size=16", "critic_rnn=shared", "normalize_obs=true", "use_sde=false",
                                 "net_arch=[16]"},
                                512, 1000);
  EXPECT_EQ(gru.model.rnn_kind, runtime::RnnKind::kGru);
  EXPECT_EQ(gru.model.head, runtime::HeadKind::kGaussian);
  EXPECT_TRUE(gru.model.has_value());
  EXPECT_FALSE(gru.model.obs_mean.empty());
  ExpectSameRecurrentSteps(gru, "rppo_gru");
  // The file format: recurrent models are version 2, feed-forward ones stay
  // version 1; a round trip keeps the core.
  const std::string bytes = runtime::Serialize(lstm.model);
  EXPECT_EQ(bytes[8], 2);
  runtime::Model back = runtime::Parse(bytes);
  EXPECT_EQ(back.state_size(), lstm.model.state_size());
  EXPECT_EQ(back.rnn[3].weight, lstm.model.rnn[3].weight);
  runtime::Model ff = lstm.model;
  ff.rnn_kind = runtime::RnnKind::kNone, ff.rnn_hidden = 0, ff.rnn.clear();
  ff.policy.front().in = ff.obs_size();
  ff.policy.front().weight.assign(static_cast<size_t>(ff.policy.front().in * ff.policy.front().out), 0.5f);
  EXPECT_EQ(runtime::Serialize(ff)[8], 1);
  // A core whose sizes do not add up is refused by name.
  runtime::Model bad = lstm.model;
  bad.rnn[1].in += 1;
  try {
    bad.Validate();
    ADD_FAILURE() << "a bad core validated";
  } catch (const runtime::Error& err) {
    EXPECT_NE(std::string(err.what()).find("recurrent layer 0"), std::string::npos) << err.what();
  }
  // Quantization leaves the core float and the policy still acts.
  runtime::Model q = lstm.model;
  runtime::Quantize(&q);
  EXPECT_FALSE(q.rnn[0].quantized());
  runtime::Policy qp(q);
  std::vector<int64_t> a(1);
  qp.Act(lstm.rec.obs.data(), 1, nullptr, a.data());
  EXPECT_TRUE(a[0] == 0 || a[0] == 1);
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
