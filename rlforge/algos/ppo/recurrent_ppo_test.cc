// Recurrent PPO: the LSTM step and its reset at episode starts on worked
// numbers, the update's replay of sequences against the log-probs computed
// while acting, the partially observed envs, exact resume and clear errors.
#include <gtest/gtest.h>

#include <filesystem>

#include "rlforge/algos/ppo/recurrent_ppo.h"
#include "rlforge/env/evaluation.h"
#include "rlforge/env/registry.h"
#include "rlforge/train/runner.h"
#include "rlforge/train/train_config.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

// One input, one LSTM unit, no layers after it, critic_rnn shared and a value
// head of weight 1: the value is the LSTM's h. Input weights 1 for the four
// gates (i, f, g, o), recurrent weights and biases 0. With x = 1 from h = c = 0:
//   i = f = o = sigmoid(1) = 0.73105858, g = tanh(1) = 0.76159416,
//   c1 = i g = 0.55676994, h1 = o tanh(c1) = 0.36960635;
// the next step without a reset: c2 = f c1 + i g = 0.96380138,
//   h2 = o tanh(c2) = 0.54534608; with a reset it repeats the first: 0.36960635.
TEST(RecurrentPolicyTest, LstmStepAndResetWorkedExample) {
  RecurrentPolicyConfig c;
  c.rnn_hidden_size = 1;
  c.critic_rnn = "shared";
  c.mlp.net_arch = {};
  RecurrentActorCritic net(Space::Box(-10.0, 10.0, {1}), Space::Discrete(2), c);
  {
    torch::NoGradGuard g;
    for (auto& p : net->named_parameters()) {
      const std::string& k = p.key();
      if (k.find("pi_lstm") != std::string::npos) p.value().fill_(k.find("weight_ih") != std::string::npos ? 1.0 : 0.0);
      if (k == "vf_head.weight") p.value().fill_(1.0);
      if (k == "vf_head.bias") p.value().fill_(0.0);
    }
  }
  const auto obs = torch::ones({4, 2, 1});
  // Row 0 starts episodes at steps 0 and 2; row 1 only at step 0.
  const auto starts = torch::tensor({{1.0f, 1.0f}, {0.0f, 0.0f}, {1.0f, 0.0f}, {0.0f, 0.0f}});
  torch::NoGradGuard g;
  const auto v = net->Sequence(obs, starts, net->InitialState(2)).value.reshape({4, 2});
  EXPECT_NEAR(v[0][0].item<float>(), 0.36960635, 1e-6);
  EXPECT_NEAR(v[1][0].item<float>(), 0.54534608, 1e-6);
  EXPECT_NEAR(v[2][0].item<float>(), 0.36960635, 1e-6);  // reset: the first step again
  EXPECT_NEAR(v[3][0].item<float>(), 0.54534608, 1e-6);
  EXPECT_GT(v[2][1].item<float>(), 0.6);  // no reset: the state keeps growing
  // A non-zero initial state is zeroed where a step starts an episode ...
  RecurrentState s = net->InitialState(2);
  s.pi_h.fill_(5.0), s.pi_c.fill_(5.0);
  const auto w = net->Sequence(obs.slice(0, 0, 1), torch::tensor({{1.0f, 0.0f}}), s).value;
  EXPECT_NEAR(w[0].item<float>(), 0.36960635, 1e-6);
  EXPECT_GT(w[1].item<float>(), 0.7);  // ... and kept where it does not
  // Step() carries the state as Sequence does.
  RecurrentState t = net->InitialState(2);
  net->Step(obs[0], starts[0], &t);
  const auto second = net->Step(obs[1], starts[1], &t).heads.value;
  EXPECT_NEAR(second[0].item<float>(), 0.54534608, 1e-6);
}

RunContext NoVelContext(int64_t seed = 0) {
  RunContext ctx;
  ctx.algo = "recurrent-ppo";
  ctx.run.env = "CartPoleNoVel-v1";
  ctx.run.num_envs = 4;
  ctx.run.seed = seed;
  ctx.run.total_steps = 10000;
  return ctx;
}

RecurrentPpoConfig SmallConfig(const std::string& rnn = "lstm", const std::string& critic = "separate") {
  RecurrentPpoConfig c;
  c.n_steps = 64;
  c.bptt_len = 16;
  c.batch_size = 32;
  c.policy.rnn_type = rnn;
  c.policy.critic_rnn = critic;
  c.policy.rnn_hidden_size = 16;
  c.policy.mlp.net_arch = {16};
  return c;
}

// The episode-start flags: 1 exactly on the steps after a done (and at the
// very first step), for a rollout long enough to hold several episodes.
TEST(RecurrentPpoTest, EpisodeStartsFollowDones) {
  RecurrentPpo algo(NoVelContext(), SmallConfig());
  torch::Tensor previous_last_dones = torch::ones({4});  // the envs start fresh
  for (int rollout = 0; rollout < 2; ++rollout) {
    algo.CollectRollout();
    const auto starts = algo.rollout_starts();
    const auto dones = algo.rollout_dones().to(torch::kFloat32);
    ASSERT_EQ(starts.size(0), 64);
    EXPECT_TRUE(torch::equal(starts[0], previous_last_dones)) << "rollout " << rollout;
    EXPECT_TRUE(torch::equal(starts.slice(0, 1), dones.slice(0, 0, 63))) << "rollout " << rollout;
    EXPECT_GT(dones.sum().item<float>(), 4) << "random CartPoleNoVel episodes last ~20 steps";
    previous_last_dones = dones[63].clone();
  }
}

// With unchanged weights, every sequence the update replays from its stored
// initial state gives exactly the log-probs (and values) computed while
// acting, resets inside the sequence included; for every core and critic.
TEST(RecurrentPpoTest, ReplayedSequencesMatchActing) {
  for (const auto& [rnn, critic] : std::vector<std::pair<std::string, std::string>>{
           {"lstm", "separate"}, {"lstm", "shared"}, {"lstm", "none"}, {"gru", "separate"}}) {
    RecurrentPpoConfig c = SmallConfig(rnn, critic);
    c.policy.rnn_layers = rnn == "gru" ? 2 : 1;
    RecurrentPpo algo(NoVelContext(1), c);
    algo.Iterate();  // move away from the initial weights and state
    algo.CollectRollout();
    const auto seqs = torch::randperm(4 * 64 / 16, torch::kLong);
    auto [heads, stored] = algo.ReplaySequences(seqs);
    const auto dist = algo.net()->Distribution(heads, {});
    // The same sequences' actions, time-major.
    const auto actions = algo.rollout_actions()
                             .reshape({4, 16, 4})
                             .transpose(1, 2)
                             .reshape({16, 16})
                             .index_select(0, seqs)
                             .transpose(0, 1)
                             .reshape({-1});
    torch::NoGradGuard g;
    EXPECT_TRUE(torch::allclose(dist.log_prob(actions), stored, 1e-5, 1e-5)) << rnn << " " << critic;
    // The whole rollout replayed from its first state: the stored values.
    const auto whole = algo.ReplayRollout();
    EXPECT_TRUE(torch::allclose(whole.value, algo.rollout_values().reshape({-1}), 1e-5, 1e-5)) << rnn << " " << critic;
    // Recomputing the chunk states with the same weights changes nothing.
    std::vector<RecurrentState> before = algo.chunk_states();
    algo.RecomputeChunkStates();
    for (size_t k = 0; k < before.size(); ++k)
      EXPECT_TRUE(torch::allclose(before[k].pi_h, algo.chunk_states()[k].pi_h, 1e-5, 1e-6)) << k;
  }
}

// gSDE on a Box env: actions are mean + z^T W with W held for sde_sample_freq
// steps; the update's per-row std (z^2)^T sigma^2 gives back the stored
// log-probs, and log_std [latent, act] is trained.
TEST(RecurrentPpoTest, SdeReplayMatchesActing) {
  RunContext ctx = NoVelContext(4);
  ctx.run.env = "PendulumNoVel-v1";
  RecurrentPpoConfig c = SmallConfig();
  c.policy.mlp.use_sde = true;
  c.policy.mlp.sde_sample_freq = 4;
  c.policy.mlp.log_std_init = -1.0;
  RecurrentPpo algo(ctx, c);
  ASSERT_EQ(algo.net()->log_std().sizes(), (std::vector<int64_t>{16, 1}));
  const torch::Tensor before = algo.net()->log_std().detach().clone();
  algo.Iterate();
  EXPECT_FALSE(torch::equal(before, algo.net()->log_std().detach()));
  algo.CollectRollout();
  const auto seqs = torch::arange(16, torch::kLong);
  auto [heads, stored] = algo.ReplaySequences(seqs);
  ASSERT_EQ(heads.log_std.dim(), 2);
  const auto dist = algo.net()->Distribution(heads, {});
  const auto actions = algo.rollout_actions().reshape({4, 16, 4, 1}).transpose(1, 2).reshape({16, 16, 1})
                           .index_select(0, seqs).transpose(0, 1).reshape({-1, 1});
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::allclose(dist.log_prob(actions), stored, 1e-4, 1e-5));
}

// TowerDefense-v0 in strict mode (an illegal action throws), 2 envs, 32-step
// rollouts in sequences of 8.
RunContext TowerDefenseContext(int64_t seed) {
  RunContext ctx = NoVelContext(seed);
  ctx.run.env = "TowerDefense-v0";
  ctx.run.env_kwargs = Kwargs({{"ticks_per_step", "4"}, {"strict", "true"}});
  ctx.run.num_envs = 2;
  return ctx;
}

RecurrentPpoConfig TowerDefenseConfig() {
  RecurrentPpoConfig c = SmallConfig();
  c.n_steps = 32;
  c.bptt_len = 8;
  return c;
}

// TowerDefense-v0 (MultiDiscrete with conditional masks, strict: an illegal
// action throws): actions drawn dimension by dimension, the masks used kept,
// and the update's replay under those masks gives back the log-probs.
TEST(RecurrentPpoTest, ConditionalMasksOnTowerDefense) {
  const RunContext ctx = TowerDefenseContext(5);
  const RecurrentPpoConfig c = TowerDefenseConfig();
  RecurrentPpo algo(ctx, c);
  algo.Iterate();
  algo.CollectRollout();
  const int64_t S = 2 * 32 / 8, width = algo.rollout_masks().size(2), k = algo.rollout_actions().size(2);
  const auto seqs = torch::randperm(S, torch::kLong);
  auto by_seq = [&](const torch::Tensor& t, int64_t w) {
    return t.reshape({4, 8, 2, w}).transpose(1, 2).reshape({S, 8, w}).index_select(0, seqs).transpose(0, 1).reshape({-1, w});
  };
  auto [heads, stored] = algo.ReplaySequences(seqs);
  const auto dist = algo.net()->Distribution(heads, by_seq(algo.rollout_masks(), width));
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::allclose(dist.log_prob(by_seq(algo.rollout_actions(), k)), stored, 1e-4, 1e-5));
  auto policy = algo.MakePolicy(true);
  auto envs = ctx.MakeVectorEnv();
  EXPECT_EQ(Evaluate(*envs, *policy, 2, 3).episodes, 2);  // strict: no illegal action
}

// An Act that throws (here the conditional-mask callback) leaves the
// recurrent state where it was: it stepped the state before asking for the
// masks, so the call after a failure continued from one step further. On
// Arena (MultiDiscrete moves under fog) with the env's own masks given
// dimension by dimension; a policy that steps once more does act otherwise
// (the test can fail).
TEST(RecurrentPpoTest, AFailedActLeavesTheStateWhereItWas) {
  RunContext ctx = NoVelContext(5);
  ctx.run.env = "Arena-v0";
  RecurrentPpo algo(ctx, SmallConfig());
  auto envs = ctx.MakeVectorEnv();
  envs->Reset(1);
  const int n = envs->num_envs();
  const std::vector<int64_t> nvec = envs->single_action_space().nvec();
  const int64_t width = envs->single_action_space().mask_size(), k = static_cast<int64_t>(nvec.size());
  const ConditionalMaskFn flat = [&](int row, const int64_t*, int dim, uint8_t* mask) {
    int64_t offset = 0;
    for (int d = 0; d < dim; ++d) offset += nvec[d];
    std::copy_n(envs->action_masks() + row * width + offset, nvec[dim], mask);
  };
  auto plain = algo.MakePolicy(true), failing = algo.MakePolicy(true), extra = algo.MakePolicy(true);
  for (auto* p : {plain.get(), failing.get(), extra.get()}) p->set_conditional_mask(flat);
  std::vector<int64_t> a(n * k), b(n * k), c(n * k);
  int differ = 0;
  for (int t = 0; t < 40; ++t) {
    if (t == 1) {
      failing->set_conditional_mask([](int, const int64_t*, int, uint8_t*) { throw InvalidArgument("no mask"); });
      EXPECT_THROW(failing->Act(envs->observations(), envs->action_masks(), n, b.data()), InvalidArgument);
      failing->set_conditional_mask(flat);
      extra->Act(envs->observations(), envs->action_masks(), n, c.data());  // a step too many
    }
    plain->Act(envs->observations(), envs->action_masks(), n, a.data());
    failing->Act(envs->observations(), envs->action_masks(), n, b.data());
    extra->Act(envs->observations(), envs->action_masks(), n, c.data());
    ASSERT_EQ(a, b) << "step " << t;
    differ += a != c;
    envs->Step(a.data());
  }
  EXPECT_GT(differ, 0);
}

// Without the resets the replay would differ: the test above can fail.
TEST(RecurrentPpoTest, ReplayWithoutResetsDiffers) {
  RecurrentPpo algo(NoVelContext(1), SmallConfig());
  algo.CollectRollout();
  torch::NoGradGuard g;
  const auto with = algo.ReplayRollout().value;
  const auto without =
      algo.net()->Sequence(algo.rollout_obs(), torch::zeros_like(algo.rollout_starts()), algo.rollout_initial_state())
          .value;
  EXPECT_FALSE(torch::allclose(with, without, 1e-5, 1e-5));
}

TEST(RecurrentPpoTest, NoVelocityEnvsHideTheVelocities) {
  for (const auto& [id, hidden] : std::vector<std::pair<std::string, std::vector<int>>>{
           {"CartPoleNoVel-v1", {1, 3}}, {"PendulumNoVel-v1", {2}}, {"MountainCarContinuousNoVel-v0", {1}},
           {"LunarLanderContinuousNoVel-v3", {2, 3, 5}}}) {
    const std::string base = id.substr(0, id.find("NoVel")) + id.substr(id.find("-v"));
    auto env = Make(id), ref = Make(base);
    ASSERT_EQ(env->observation_space().ToString(), ref->observation_space().ToString()) << id;
    EXPECT_EQ(Registry::Global().Spec(id).max_episode_steps, Registry::Global().Spec(base).max_episode_steps);
    const int64_t n = env->observation_space().size();
    std::vector<float> o(n), r(n);
    Info info;
    env->Reset(7, o.data(), &info);
    ref->Reset(7, r.data(), &info);
    std::vector<uint8_t> a(env->action_space().nbytes(), 0);
    for (int step = 0; step < 5; ++step) {
      for (int64_t k = 0; k < n; ++k) {
        const bool masked = std::find(hidden.begin(), hidden.end(), k) != hidden.end();
        EXPECT_EQ(o[k], masked ? 0.0f : r[k]) << id << " step " << step << " component " << k;
      }
      const StepResult s = env->Step(a.data(), o.data()), t = ref->Step(a.data(), r.data());
      EXPECT_EQ(s.reward, t.reward);
    }
    bool moved = false;  // the hidden components are not zero in the base env
    for (int k : hidden) moved = moved || r[k] != 0.0f;
    EXPECT_TRUE(moved) << id;
  }
}

// Trains 768 steps with checkpoints every 256 into ROOT/a, copies it to
// ROOT/b without its last two checkpoints, resumes b from step 256 and
// expects both to end with the same weights. Returns the resumed run.
LoadedRun ExpectResumeEndsAsUnbroken(const std::string& name, const std::string& env,
                                     const std::vector<std::string>& sets) {
  const std::string root = testing::TempDir() + "/" + name;
  fs::remove_all(root);
  fs::create_directories(root);
  RunnerOptions quiet;
  quiet.progress = false;
  std::vector<std::string> all = sets;
  all.insert(all.end(), {"checkpoint_interval=256", "eval_episodes=0"});
  Train(TrainConfig::Resolve("recurrent-ppo", env, "", all, 768, 3), root + "/a", quiet);
  fs::copy(root + "/a", root + "/b", fs::copy_options::recursive);
  fs::remove(root + "/b/checkpoints/final.pt");
  fs::remove(root + "/b/checkpoints/step_512.pt");
  EXPECT_TRUE(fs::exists(root + "/b/checkpoints/step_256.pt"));
  Resume(root + "/b", std::nullopt, quiet);
  auto a = LoadRun(root + "/a");
  LoadedRun b = LoadRun(root + "/b");
  EXPECT_EQ(a.algorithm->num_timesteps(), 768);
  auto pa = a.algorithm->network()->parameters(), pb = b.algorithm->network()->parameters();
  EXPECT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < std::min(pa.size(), pb.size()); ++i)
    EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
  return b;
}

TEST(RecurrentPpoTest, ResumeIsExact) {
  ExpectResumeEndsAsUnbroken("rlforge_resume_recurrent_ppo", "CartPoleNoVel-v1",
                             {"num_envs=4", "n_steps=32", "bptt_len=8", "batch_size=64", "rnn_hidden_size=16",
                              "net_arch=[16]", "normalize_obs=true", "normalize_reward=true", "recompute_states=true"});
}

std::unique_ptr<Algorithm> Build(const std::string& env, const std::vector<std::string>& sets) {
  auto c = TrainConfig::Resolve("recurrent-ppo", env, "", sets, 1000, 0);
  return MakeAlgorithm(c.Context(), *c.algo);
}

// The error building the agent gives ("no error" if none).
std::string BuildError(const std::string& env, const std::vector<std::string>& sets) {
  try {
    Build(env, sets);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

TEST(RecurrentPpoTest, ClearErrors) {
  auto message = BuildError;
  EXPECT_NE(message("CartPoleNoVel-v1", {"n_steps=30", "bptt_len=8"}).find("'bptt_len' (8) must divide n_steps (30)"),
            std::string::npos);
  EXPECT_NE(message("CartPoleNoVel-v1", {"rnn_type=transformer"}).find("'rnn_type' must be lstm, gru or none"),
            std::string::npos);
  EXPECT_NE(message("CartPoleNoVel-v1", {"critic_rnn=both"}).find("'critic_rnn' must be separate, shared or none"),
            std::string::npos);
  EXPECT_NE(message("CartPoleNoVel-v1", {"n_steps=32", "bptt_len=16", "batch_size=40"})
                .find("'batch_size' (40) must be a multiple of the sequence length"),
            std::string::npos);
  EXPECT_NE(message("CartPoleNoVel-v1", {"share_features=true"}).find("'share_features' is not supported"),
            std::string::npos);
  // Recurrent policies export (tests/export_test.cc); gSDE ones are refused.
  auto algo = Build("PendulumNoVel-v1", {"n_steps=8", "bptt_len=8", "batch_size=8", "rnn_hidden_size=8", "use_sde=true"});
  try {
    algo->Export();
    ADD_FAILURE() << "export of a gSDE policy should be refused";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("gSDE"), std::string::npos) << e.what();
  }
}

// Evaluation zeroes the state of every row whose episode starts: two
// evaluations of the same episodes through one policy object agree.
TEST(RecurrentPpoTest, EvaluationResetsThePolicyStateBetweenEpisodes) {
  RecurrentPpo algo(NoVelContext(2), SmallConfig());
  algo.Iterate();
  auto policy = algo.MakePolicy(/*deterministic=*/true);
  auto envs = NoVelContext(2).MakeVectorEnv();
  const EpisodeStats first = Evaluate(*envs, *policy, 6, 99);
  const EpisodeStats again = Evaluate(*envs, *policy, 6, 99);
  EXPECT_EQ(first.returns, again.returns);
  auto fresh = algo.MakePolicy(true);
  EXPECT_EQ(Evaluate(*envs, *fresh, 6, 99).returns, first.returns);
}

// Behaviour cloning before the first rollout (pretrain_policy). MemoryCue-v0's
// "recall" player names the cue at every step, which only a policy that
// remembers can copy. Episodes of 11 steps in sequences of `bptt` steps.
RecurrentPpo PretrainedOnMemoryCue(const std::string& rnn, int64_t bptt, int64_t epochs, int64_t episodes = 64) {
  RunContext ctx = NoVelContext(3);
  ctx.run.env = "MemoryCue-v0";
  RecurrentPpoConfig c = SmallConfig(rnn);
  c.n_steps = 64;
  c.bptt_len = bptt;
  c.batch_size = 64;
  c.policy.rnn_hidden_size = 32;
  c.policy.mlp.net_arch = {32};
  c.pretrain.policy = "recall";
  c.pretrain.episodes = episodes;
  c.pretrain.epochs = epochs;
  c.pretrain.batch_size = 64;
  c.pretrain.learning_rate = 3e-3;
  RecurrentPpo algo(ctx, c);
  algo.Pretrain();
  return algo;
}

// The clone holds the cue through sequences that cut the episodes (bptt 4:
// each sequence after the first of an episode starts from the state its
// earlier steps left, recomputed every epoch): it copies (almost) every
// demonstrated step and answers every evaluation episode right, where a
// feed-forward clone can copy the first step and guess the rest.
TEST(RecurrentPpoPretrainTest, ClonesADemonstratorThatRemembers) {
  RecurrentPpo lstm = PretrainedOnMemoryCue("lstm", 4, 150);
  const Metrics& m = lstm.pretrain_metrics();
  EXPECT_EQ(m.at("pretrain_demo_steps"), 64 * 11);
  EXPECT_EQ(m.at("pretrain_demo_success"), 1.0);
  EXPECT_EQ(m.at("pretrain_demo_return"), 1.0);
  EXPECT_GE(m.at("pretrain_accuracy"), 0.99);
  EXPECT_LT(m.at("pretrain_nll"), 0.05);
  auto policy = lstm.MakePolicy(/*deterministic=*/true);
  auto envs = NoVelContext(3);
  envs.run.env = "MemoryCue-v0";
  const EpisodeStats e = Evaluate(*envs.MakeVectorEnv(), *policy, 100, 1234);
  ASSERT_TRUE(e.success_rate.has_value());
  EXPECT_GE(*e.success_rate, 0.95);
  RecurrentPpo ff = PretrainedOnMemoryCue("none", 4, 150);
  EXPECT_LT(ff.pretrain_metrics().at("pretrain_accuracy"), 0.7);
  std::printf("recall clone: lstm accuracy %.4f nll %.4f success %.2f; feed-forward accuracy %.4f\n",
              m.at("pretrain_accuracy"), m.at("pretrain_nll"), *e.success_rate,
              ff.pretrain_metrics().at("pretrain_accuracy"));
}

// The fit is measured over whole episodes from their starts, whatever the
// sequence length and the padding: with no epochs, 5 episodes of 11 steps in
// sequences of 4 (1 padded step per stream) and of 16 (5 padded) report the
// same untrained network's numbers (same seed, same weights).
TEST(RecurrentPpoPretrainTest, FitDoesNotDependOnTheSequenceLength) {
  const Metrics a = PretrainedOnMemoryCue("lstm", 4, 0, 5).pretrain_metrics();
  const Metrics b = PretrainedOnMemoryCue("lstm", 16, 0, 5).pretrain_metrics();
  for (const auto& k : {"pretrain_nll", "pretrain_value_loss", "pretrain_accuracy"})
    EXPECT_NEAR(a.at(k), b.at(k), 1e-5) << k;
  EXPECT_NEAR(a.at("pretrain_nll"), std::log(2.0), 0.05);  // an untrained policy: about uniform
}

// Padded steps stay out of the loss. 16 episodes of 11 steps in sequences of
// 64: 53 padded steps per stream, zero observations with action 0. A
// feed-forward clone sees the cue only at an episode's first step; at the
// other 10 (9 blank, then the query) the demonstrator named either cue, so
// its best NLL there is the cues' entropy (<= log 2): (10/11) log 2 = 0.630
// over all steps. Were the padding cloned, a zero observation (which is the
// blank one) would mean action 0 in about 57 of 62 rows, and the NLL on the
// real steps would be about 1.1 or more.
TEST(RecurrentPpoPretrainTest, PaddingIsNotCloned) {
  RecurrentPpo ff = PretrainedOnMemoryCue("none", 64, 200, 16);
  const double nll = ff.pretrain_metrics().at("pretrain_nll");
  EXPECT_LE(nll, 10.0 / 11.0 * std::log(2.0) + 0.02);
}

// TowerDefense-v0 (MultiDiscrete under conditional masks, strict): the clone
// learns the heuristic's choices under the masks they were made with, and the
// cloned policy then acts legally in the first rollout.
TEST(RecurrentPpoPretrainTest, ClonesTheTowerDefenseHeuristic) {
  const RunContext ctx = TowerDefenseContext(0);
  RecurrentPpoConfig c = TowerDefenseConfig();
  c.pretrain.policy = "heuristic";
  c.pretrain.episodes = 2;
  c.pretrain.epochs = 30;
  RecurrentPpo algo(ctx, c);
  const Metrics m = algo.Iterate();
  EXPECT_GE(m.at("pretrain_accuracy"), 0.9);
  EXPECT_GT(m.at("pretrain_demo_steps"), 100);
  EXPECT_EQ(algo.num_timesteps(), 64);
}

// The clone is in the checkpoint: a resumed run does not clone again and
// ends as an unbroken one; the metrics are reported at every iteration.
TEST(RecurrentPpoPretrainTest, ResumeIsExact) {
  const LoadedRun b = ExpectResumeEndsAsUnbroken(
      "rlforge_resume_recurrent_pretrain", "MemoryCue-v0",
      {"num_envs=4", "n_steps=32", "bptt_len=8", "batch_size=64", "rnn_hidden_size=16", "net_arch=[16]",
       "pretrain_policy=recall", "pretrain_episodes=8", "pretrain_epochs=3"});
  const auto* r = dynamic_cast<RecurrentPpo*>(b.algorithm.get());
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->pretrain_metrics().at("pretrain_demo_steps"), 8 * 11);
}

TEST(RecurrentPpoPretrainTest, ClearErrors) {
  auto message = BuildError;
  EXPECT_NE(message("MemoryCue-v0", {"pretrain_policy=heuristic"}).find("pretrain_policy"), std::string::npos);
  EXPECT_NE(message("MemoryCue-v0", {"pretrain_policy=recall", "pretrain_epochs=-1"}).find("'pretrain_epochs'"),
            std::string::npos);
  EXPECT_NE(message("LunarLanderContinuous-v3", {"pretrain_policy=heuristic"})
                .find("'pretrain_policy': behaviour cloning of demonstrations needs Discrete or MultiDiscrete"),
            std::string::npos);
  EXPECT_NE(message("Arena-v0", {"env_kwargs={opponent: external}", "self_play=true", "pretrain_policy=tactic"})
                .find("'pretrain_policy' does not combine with self_play"),
            std::string::npos);
}

// MemoryCue-v0 with a 4-step delay at 12k steps: the recurrent policy
// answers every evaluation episode right (seeds 0-2 all did, 8-10 s each);
// the same PPO without memory can only guess (about half right).
TEST(RecurrentPpoLearningTest, RemembersTheCueWhereAFeedForwardPolicyGuesses) {
  const std::vector<std::string> sets = {"env_kwargs={delay: 4}", "eval_episodes=200"};
  RunnerOptions quiet;
  quiet.progress = false;
  const std::string root = testing::TempDir() + "/rlforge_memory_cue";
  fs::remove_all(root);
  const TrainResult r =
      Train(TrainConfig::Resolve("recurrent-ppo", "MemoryCue-v0", "", sets, 12000, 0), root + "/lstm", quiet);
  ASSERT_TRUE(r.eval.success_rate.has_value());
  EXPECT_GE(*r.eval.success_rate, 0.95);
  // The feed-forward PPO with the preset's settings (no RNN keys).
  std::vector<std::string> ff = sets;
  ff.insert(ff.end(), {"num_envs=8", "n_steps=64", "batch_size=128", "n_epochs=4", "learning_rate=0.001",
                       "ent_coef=0.01", "net_arch=[32]"});
  const TrainResult f = Train(TrainConfig::Resolve("ppo", "MemoryCue-v0", "", ff, 12000, 0), root + "/mlp", quiet);
  EXPECT_LE(*f.eval.success_rate, 0.7);
  std::printf("MemoryCue-v0 delay 4, 12k steps: recurrent-ppo success %.3f (%.1f s), ppo %.3f\n",
              *r.eval.success_rate, r.seconds, *f.eval.success_rate);
}

}  // namespace
}  // namespace rlforge
