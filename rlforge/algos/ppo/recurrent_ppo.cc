#include "rlforge/algos/ppo/recurrent_ppo.h"

#include "rlforge/dist/communicator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <tuple>

#include "rlforge/algos/export_model.h"
#include "rlforge/algos/flat_adam.h"
#include "rlforge/algos/on_policy.h"
#include "rlforge/buffers/gae.h"
#include "rlforge/core/error.h"
#include "rlforge/data/demonstrations.h"
#include "rlforge/env/evaluation.h"
#include "rlforge/env/registry.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void RecurrentPpoConfig::Visit(FieldVisitor& v) {
  PpoCoreConfig::Visit(v);
  v.Field("bptt_len", &bptt_len, "steps per sequence for truncated BPTT (0: n_steps); batch_size / bptt_len sequences per minibatch");
  v.Field("recompute_states", &recompute_states, "recompute the sequences' initial states before each epoch");
  VisitPolicyFields(v, &policy.mlp);
  v.Field("use_sde", &policy.mlp.use_sde, "generalized state-dependent exploration (Box actions)");
  v.Field("sde_sample_freq", &policy.mlp.sde_sample_freq, "steps between gSDE noise draws (-1: once per rollout)");
  v.Field("rnn_type", &policy.rnn_type, "recurrent core: lstm, gru, or none (a feed-forward network trained the same way)");
  v.Field("rnn_hidden_size", &policy.rnn_hidden_size, "units of the recurrent core (sb3-contrib's lstm_hidden_size)");
  v.Field("rnn_layers", &policy.rnn_layers, "stacked recurrent layers");
  v.Field("fast_update", &policy.fast_lstm,
          "hand-written LSTM forward/backward over whole sequences (autograd through torch's LSTM otherwise)");
  v.Field("critic_rnn", &policy.critic_rnn,
          "the critic's recurrent core: separate (its own), shared (the actor's, not trained by the value loss) or none");
  VisitPretrainFields(v, &pretrain);
  league.Visit(v);
}

void RecurrentPpoConfig::Validate() const {
  PpoCoreConfig::Validate();
  RLF_CHECK_ARG(bptt_len >= 0, "config key 'bptt_len' must be >= 0 (0: n_steps), got ", bptt_len);
  RLF_CHECK_ARG(n_steps % sequence_length() == 0, "config key 'bptt_len' (", bptt_len,
                ") must divide n_steps (", n_steps, ")");
  RLF_CHECK_ARG(batch_size % sequence_length() == 0, "config key 'batch_size' (", batch_size,
                ") must be a multiple of the sequence length (bptt_len, or n_steps when it is 0: ", sequence_length(),
                "): minibatches hold whole sequences");
  RLF_CHECK_ARG(!policy.mlp.share_features,
                "config key 'share_features' is not supported by recurrent-ppo (critic_rnn: shared shares the RNN)");
  ValidateRecurrentPolicy(policy);
  ValidatePretrain(pretrain);
  league.Validate();
  RLF_CHECK_ARG(pretrain.policy.empty() || !league.self_play,
                "config key 'pretrain_policy' does not combine with self_play (the demonstrations would need an "
                "opponent for agent 1); clone in a run against a bot and start the league from it with --init-from");
}

namespace {

// [T, N, rest...] -> [K * N, L, rest...] with sequence k * N + n holding env
// n's steps k L .. (k + 1) L - 1.
torch::Tensor BySequence(const torch::Tensor& t, int64_t L) {
  const int64_t T = t.size(0), N = t.size(1);
  std::vector<int64_t> split = {T / L, L, N};
  split.insert(split.end(), t.sizes().begin() + 2, t.sizes().end());
  std::vector<int64_t> flat = {T / L * N, L};
  flat.insert(flat.end(), t.sizes().begin() + 2, t.sizes().end());
  return t.reshape(split).transpose(1, 2).reshape(flat);
}

// Names, once per process, the keys that change nothing in this run: the
// recurrent core's without one (rnn_type none), the league's without
// self_play (as WarnInertPolicyKeys does for the policy's).
void WarnInertRecurrentKeys(const RunContext& ctx, const RecurrentPpoConfig& c) {
  static std::atomic<bool> warned{false};
  std::vector<std::string> why;
  const RecurrentPolicyConfig rnn;
  if (c.policy.rnn_type == "none") {
    for (const auto& [key, set] : std::vector<std::pair<const char*, bool>>{
             {"rnn_hidden_size", c.policy.rnn_hidden_size != rnn.rnn_hidden_size},
             {"rnn_layers", c.policy.rnn_layers != rnn.rnn_layers},
             {"critic_rnn", c.policy.critic_rnn != rnn.critic_rnn},
             {"fast_update", c.policy.fast_lstm != rnn.fast_lstm}})
      if (set) why.push_back(StrCat(key, " shapes the recurrent core, and rnn_type is none"));
  }
  const LeagueConfig league;
  if (!c.league.self_play) {
    for (const auto& [key, set] : std::vector<std::pair<const char*, bool>>{
             {"snapshot_interval", c.league.snapshot_interval != league.snapshot_interval},
             {"latest_fraction", c.league.latest_fraction != league.latest_fraction},
             {"bot_fraction", c.league.bot_fraction != league.bot_fraction},
             {"quality_lr", c.league.quality_lr != league.quality_lr},
             {"rating_games", c.league.rating_games != league.rating_games},
             {"rating_bots", c.league.rating_bots != league.rating_bots},
             {"rating_deterministic", c.league.rating_deterministic != league.rating_deterministic}})
      if (set) why.push_back(StrCat(key, " shapes self-play, and self_play is false"));
  }
  for (std::string& w : InertPretrainKeys(c.pretrain)) why.push_back(std::move(w));
  WarnInertKeys(ctx, &warned, why);
}

}  // namespace

RecurrentPpo::RecurrentPpo(const RunContext& ctx, const RecurrentPpoConfig& config)
    : Algorithm(ctx),
      config_(config),
      envs_(ctx.MakeVectorEnv(config.league.self_play)),
      head_(envs_->single_action_space()) {
  config_.Validate();
  const uint64_t seed = static_cast<uint64_t>(ctx.run.seed);
  const Space& os = envs_->single_observation_space();
  const Space& as = envs_->single_action_space();
  conditional_ = envs_->has_conditional_action_mask() && as.kind() == SpaceKind::kMultiDiscrete;
  if (ctx.run.normalize_obs) {
    RLF_CHECK_ARG(os.kind() == SpaceKind::kBox && (os.dtype() == DType::kFloat32 || os.dtype() == DType::kFloat64),
                  "normalize_obs needs a float Box observation space; ", ctx.run.env, " has ", os.ToString());
    obs_norm_.rms = RunningMeanStd(os.size());
    obs_norm_.Loaded();
  }
  WarnInertPolicyKeys(ctx, config_.policy.mlp, as);
  WarnInertRecurrentKeys(ctx, config_);
  torch::manual_seed(seed);
  net_ = RecurrentActorCritic(os, as, config_.policy);
  gen_ = at::make_generator<at::CPUGeneratorImpl>(seed + 1 + 1000003ULL * static_cast<uint64_t>(ctx.rank()));
  optimizer_ = std::make_unique<FlatAdam>(
      net_->parameters(), torch::optim::AdamOptions(config_.learning_rate.Value(1.0)).eps(config_.adam_eps));
  envs_->Reset(seed + static_cast<uint64_t>(ctx.first_env()));
  const int64_t T = config_.n_steps, N = envs_->num_envs();
  return_scaler_ = ReturnScaler(N, ctx.comm != nullptr);
  state_ = net_->InitialState(N);
  next_starts_ = torch::ones({N});
  obs_shape_ = os.shape();
  obs_ = RolloutObservations(T, N, os, ctx.run.normalize_obs);
  if (envs_->has_action_mask()) masks_ = torch::zeros({T, N, envs_->mask_size()}, torch::kBool);
  actions_ = RolloutActions(T, N, as);
  for (torch::Tensor* t : {&starts_, &log_probs_, &values_, &rewards_, &next_values_, &advantages_, &returns_})
    *t = torch::zeros({T, N});
  dones_ = torch::zeros({T, N}, torch::kUInt8);
  DeclareMetrics({"policy_loss", "value_loss", "entropy_loss", "entropy", "approx_kl", "clip_fraction", "loss",
                  "explained_variance", "learning_rate", "clip_range", "grad_norm", "n_updates", "time_env",
                  "time_act", "time_update", "update_samples"});
  if (head_.gaussian()) DeclareMetrics({"std"});
  if (!config_.pretrain.policy.empty()) {
    CheckPretrainFits(config_.pretrain, ctx.run.env, ctx.run.env_kwargs, as);
    DeclareMetrics(OnPolicyAlgorithm::PretrainMetricNames());
  }
  if (ctx.comm) {
    RLF_CHECK_ARG(!config_.league.self_play, "config key 'self_play' does not train as a job of several ranks "
                                             "(WORLD_SIZE=", ctx.world_size(), "): the league is one process's");
    RLF_CHECK_ARG((config_.batch_size / config_.sequence_length()) % ctx.world_size() == 0,
                  "config key 'batch_size' (", config_.batch_size, ", the job's global minibatch: ",
                  config_.batch_size / config_.sequence_length(), " sequences) must be a multiple of ",
                  ctx.world_size(), " sequences (one share per rank; batch_size / bptt_len sets it)");
    DeclareMetrics({"time_comm", "comm_bytes"});
  }
  WarnBatchAboveRollout(ctx, config_.batch_size, config_.n_steps);
  if (config_.league.self_play) {
    RLF_CHECK_ARG(envs_->num_agents() == 2, "config key 'self_play' needs a two-agent env; ", ctx.run.env, " has ",
                  envs_->num_agents(), " agent(s) (Arena-v0 has two with env_kwargs {opponent: external})");
    RLF_CHECK_ARG(!ctx.run.normalize_obs,
                  "config key 'self_play' does not support normalize_obs (every snapshot would need its statistics)");
    RLF_CHECK_ARG(!conditional_ && !net_->use_sde(),
                  "config key 'self_play' supports envs without conditional masks and policies without use_sde");
    league_ = std::make_unique<League>(config_.league, seed + 3);
    opp_gen_ = at::make_generator<at::CPUGeneratorImpl>(seed + 5);
    opp_state_ = net_->InitialState(N);
    opponents_.assign(static_cast<size_t>(N), League::kLatest);
    for (auto& o : opponents_) o = league_->SampleOpponent();
    opp_obs_.resize(static_cast<size_t>(N) * os.nbytes());
    opp_masks_.resize(static_cast<size_t>(N) * static_cast<size_t>(std::max<int64_t>(1, as.mask_size())));
    // The env's own bots, as eval's --opponent bot:NAME takes them (the
    // generic scripted policies, random-legal, are none of them).
    std::vector<std::string> names = {"random"};
    std::map<std::string, std::string> plays_as;  // a bot's other names -> the bot ("medium" -> "greedy")
    for (const auto& p : Registry::Global().Spec(ctx.run.env).scripted_policies) {
      names.push_back(p.name);
      if (!p.same_as.empty()) plays_as[p.name] = p.same_as;
    }
    std::map<std::string, std::string> rated;  // the bot -> the name rating_bots gives it
    for (const auto& b : config_.league.bots()) {
      RLF_CHECK_ARG(std::find(names.begin(), names.end(), b) != names.end(), "config key 'rating_bots': ",
                    ctx.run.env, " has no bot '", b, "' (its bots: ", Join(names, ", "), ")");
      const std::string bot = plays_as.count(b) ? plays_as[b] : b;
      RLF_CHECK_ARG(rated.emplace(bot, b).second, "config key 'rating_bots' names the ", bot, " bot twice ('",
                    rated[bot], "' and '", b, "'): it would be rated as two players");
      try {
        Registry::Global().MakeScriptedPolicy(b, ctx.run.env, envs_->env(0), 0);
      } catch (const InvalidArgument& e) {
        throw InvalidArgument(StrCat("config key 'rating_bots': ", e.what()));
      }
    }
    DeclareMetrics({"league_snapshots", "league_past_fraction", "league_win_rate_latest", "league_win_rate_past"});
    if (config_.league.bot_fraction > 0) DeclareMetrics({"league_bot_fraction", "league_win_rate_bots"});
  }
}

torch::Tensor RecurrentPpo::NormalizeObs(const torch::Tensor& raw, bool update) {
  return ctx_.run.normalize_obs ? obs_norm_.Normalize(raw, update, ctx_.comm.get()) : raw;
}

void RecurrentPpo::CollectRollout() {
  const auto start = std::chrono::steady_clock::now();
  double env_seconds = 0;
  torch::NoGradGuard no_grad;
  net_->eval();
  const int64_t T = config_.n_steps, N = envs_->num_envs(), L = config_.sequence_length();
  const Space& os = envs_->single_observation_space();
  const Space& as = envs_->single_action_space();
  chunk_states_.clear();
  if (league_ && config_.league.bot_fraction > 0) {
    // Training bots, seeded from the league at every rollout (so that a
    // resumed run draws as an unbroken one).
    bots_.clear();
    for (const auto& b : config_.league.bots())
      bots_.push_back(Registry::Global().MakeScriptedPolicy(b, ctx_.run.env, envs_->env(0), league_->NextSeed()));
  }
  for (int64_t t = 0; t < T; ++t) {
    if (t % L == 0) chunk_states_.push_back(state_.Clone());
    torch::Tensor obs = obs_[t];
    obs.copy_(NormalizeObs(ObservationView(envs_->observations(), N, os), /*update=*/true));
    starts_[t].copy_(next_starts_);
    torch::Tensor mask;
    if (masks_.defined()) {
      mask = masks_[t];
      mask.copy_(torch::from_blob(const_cast<uint8_t*>(envs_->action_masks()), {N, envs_->mask_size()},
                                  torch::kBool));
    }
    const auto step = net_->Step(obs, next_starts_, &state_);
    const auto& heads = step.heads;
    const ActionDistribution dist = net_->Distribution(heads, mask);
    torch::Tensor a;
    if (conditional_) {
      // Dimension by dimension under the env's conditional masks; the masks
      // used are kept so that the update recomputes the same log-probs.
      const int64_t k = static_cast<int64_t>(as.nvec().size());
      const torch::Tensor logits = heads.pi.contiguous();
      const torch::Tensor u = at::rand({N, k}, gen_);
      a = torch::empty({N, k}, torch::kLong);
      torch::Tensor lp = torch::empty({N});
      torch::Tensor used = torch::empty({N, as.mask_size()}, torch::kUInt8);
      ConditionalMultiCategorical(logits.data_ptr<float>(), static_cast<int>(N), as.nvec(),
                                  envs_->conditional_mask_fn(), u.data_ptr<float>(), a.data_ptr<int64_t>(),
                                  lp.data_ptr<float>(), used.data_ptr<uint8_t>());
      masks_[t].copy_(used.to(torch::kBool));
      log_probs_[t].copy_(lp);
    } else if (net_->use_sde()) {
      const int64_t freq = config_.policy.mlp.sde_sample_freq;
      if (t == 0 || (freq > 0 && t % freq == 0)) net_->ResampleSdeNoise(N, &gen_);
      a = net_->SdeActions(step);
    } else {
      a = dist.sample(&gen_);
    }
    if (!conditional_) log_probs_[t].copy_(dist.log_prob(a));
    values_[t].copy_(heads.value);
    actions_[t].copy_(a);
    const torch::Tensor env_actions = ToEnvActions(a, as);
    CheckFiniteActions(env_actions, as, num_timesteps_ + t * N);
    if (league_) ActOpponents();
    const auto env_start = std::chrono::steady_clock::now();
    envs_->Step(env_actions.data_ptr());
    env_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - env_start).count();
    if (league_) FinishGames();
    float* reward_row = rewards_.data_ptr<float>() + t * N;
    std::copy_n(envs_->rewards(), N, reward_row);
    if (ctx_.run.normalize_reward) return_scaler_.Scale(envs_->rewards(), reward_row, config_.gamma);
    uint8_t* done_row = dones_.data_ptr<uint8_t>() + t * N;
    float* next_start = next_starts_.data_ptr<float>();
    std::vector<int64_t> trunc_rows;
    for (int64_t i = 0; i < N; ++i) {
      const bool term = envs_->terminated()[i], trunc = envs_->truncated()[i];
      done_row[i] = static_cast<uint8_t>(term || trunc);
      next_start[i] = term || trunc ? 1.0f : 0.0f;
      if (term || trunc) return_scaler_.EndEpisode(i);
      if (term || trunc) episodes_.Add(envs_->episode_return(static_cast<int>(i)), envs_->episode_length(static_cast<int>(i)));
      if (trunc && !term) trunc_rows.push_back(i);
    }
    // V'_t: 0 at termination; at truncation V(final observation) from the
    // state the episode's last step left (no reset); else V(s_{t+1}) below.
    next_values_[t].zero_();
    if (!trunc_rows.empty()) {
      const auto rows = torch::tensor(trunc_rows, torch::kLong);
      const auto final_obs = NormalizeObs(
          ObservationView(envs_->final_observations(), N, os).index_select(0, rows), /*update=*/false);
      next_values_[t].index_copy_(0, rows, net_->Value(final_obs, state_.Rows(rows)));
    }
  }
  // V(s_T) for the rows that go on (the others are done: their V' is set).
  const auto last_obs = NormalizeObs(ObservationView(envs_->observations(), N, os), /*update=*/false);
  const auto last_values = net_->Value(last_obs, state_);
  const auto following = torch::cat({values_.slice(0, 1), last_values.unsqueeze(0)}, 0);
  next_values_ = torch::where(dones_.logical_not(), following, next_values_);
  num_timesteps_ += T * N * ctx_.world_size();
  if (ctx_.comm) {  // every rank's samples into the shared statistics
    if (ctx_.run.normalize_obs) obs_norm_.Merge(*ctx_.comm);
    if (ctx_.run.normalize_reward) return_scaler_.Merge(*ctx_.comm);
  }
  ComputeGae(T, N, rewards_.data_ptr<float>(), values_.data_ptr<float>(), next_values_.data_ptr<float>(),
             dones_.data_ptr<uint8_t>(), config_.gamma, config_.gae_lambda, advantages_.data_ptr<float>(),
             returns_.data_ptr<float>());
  time_env_ = env_seconds;
  time_act_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - env_seconds;
}

torch::Tensor RecurrentPpo::Gather(const torch::Tensor& t, const torch::Tensor& seqs) const {
  // [S, L, ...] -> [G, L, ...] -> [L, G, ...]
  return BySequence(t, config_.sequence_length()).index_select(0, seqs).transpose(0, 1).contiguous();
}

RecurrentState RecurrentPpo::GatherStates(const std::vector<RecurrentState>& chunks, const torch::Tensor& seqs) {
  auto stack = [&](torch::Tensor RecurrentState::*field) -> torch::Tensor {
    if (!(chunks.front().*field).defined()) return {};
    std::vector<torch::Tensor> parts;
    for (const auto& s : chunks) parts.push_back(s.*field);
    return torch::cat(parts, 1).index_select(1, seqs);  // [layers, K * N, H] -> [layers, G, H]
  };
  return {stack(&RecurrentState::pi_h), stack(&RecurrentState::pi_c), stack(&RecurrentState::vf_h),
          stack(&RecurrentState::vf_c)};
}

void RecurrentPpo::RecomputeChunkStates() {
  torch::NoGradGuard no_grad;
  const int64_t L = config_.sequence_length(), K = static_cast<int64_t>(chunk_states_.size());
  RecurrentState s = chunk_states_[0];
  for (int64_t k = 0; k + 1 < K; ++k) {
    net_->Sequence(obs_.slice(0, k * L, (k + 1) * L), starts_.slice(0, k * L, (k + 1) * L), s, &s);
    chunk_states_[k + 1] = s;
  }
}

std::pair<ActorCriticImpl::HeadOutputs, torch::Tensor> RecurrentPpo::ReplaySequences(const torch::Tensor& seqs) {
  const auto heads = net_->Sequence(Gather(obs_, seqs), Gather(starts_, seqs), GatherStates(chunk_states_, seqs));
  return {heads, Gather(log_probs_, seqs).reshape({-1})};
}

RecurrentState RecurrentPpo::rollout_initial_state() const { return chunk_states_.at(0); }

ActorCriticImpl::HeadOutputs RecurrentPpo::ReplayRollout() {
  return net_->Sequence(obs_, starts_, chunk_states_.at(0));
}

namespace {

// Demonstration episodes laid end to end in P parallel streams, [T, P] steps:
// step_of[t * P + p] is the demonstrated step there, or -1 for padding after
// a stream's last episode. Each episode goes whole to the stream that is
// shortest so far; T is a multiple of L.
struct DemoStreams {
  int64_t T = 0, P = 0;
  std::vector<int64_t> step_of;
};

DemoStreams LayOutStreams(const Demonstrations& d, int64_t max_streams, int64_t L) {
  DemoStreams s;
  s.P = std::min<int64_t>(max_streams, d.episodes());
  std::vector<std::vector<int64_t>> streams(static_cast<size_t>(s.P));
  int64_t first = 0;
  for (int64_t e = 0; e < d.episodes(); ++e) {
    auto shortest = std::min_element(streams.begin(), streams.end(),
                                     [](const auto& a, const auto& b) { return a.size() < b.size(); });
    for (int64_t t = 0; t < d.episode_lengths[e]; ++t) shortest->push_back(first + t);
    first += d.episode_lengths[e];
  }
  size_t longest = 0;
  for (const auto& st : streams) longest = std::max(longest, st.size());
  s.T = (static_cast<int64_t>(longest) + L - 1) / L * L;
  s.step_of.assign(static_cast<size_t>(s.T * s.P), -1);
  for (int64_t p = 0; p < s.P; ++p)
    for (size_t t = 0; t < streams[p].size(); ++t) s.step_of[t * s.P + p] = streams[p][t];
  return s;
}

}  // namespace

void RecurrentPpo::Pretrain() {
  const PretrainConfig& c = config_.pretrain;
  auto env = ctx_.MakeEnv();
  const Space& os = env->observation_space();
  const Space& as = env->action_space();
  const uint64_t seed = static_cast<uint64_t>(ctx_.run.seed);
  const Demonstrations d = RecordPretrainDemonstrations(c, ctx_, *env);  // the episodes `--algo ppo` clones
  const int64_t S = d.steps(), L = config_.sequence_length();
  const DemoStreams layout = LayOutStreams(d, 16, L);
  const int64_t T = layout.T, P = layout.P;

  // Per demonstrated step, plus one padding row (index S) that every padded
  // slot reads: a zero observation that starts an "episode", every action
  // legal. Padded rows are left out of the loss.
  const std::vector<uint8_t> step_obs = d.StepObservations();
  torch::Tensor obs = NormalizeObs(ObservationTensor(step_obs.data(), S, os), /*update=*/true);
  obs = torch::cat({obs, torch::zeros_like(obs.slice(0, 0, 1))}, 0);
  std::vector<float> first_steps(static_cast<size_t>(S + 1), 1.0f);
  for (int64_t t = 1; t < S; ++t) first_steps[t] = d.done(t - 1) ? 1.0f : 0.0f;
  const torch::Tensor starts = torch::tensor(first_steps, torch::kFloat32);
  torch::Tensor actions = torch::tensor(d.actions, torch::kLong).reshape({S, d.action_dims});
  actions = torch::cat({actions, torch::zeros({1, d.action_dims}, torch::kLong)}, 0);
  if (as.kind() == SpaceKind::kDiscrete) actions = actions.reshape({S + 1});
  torch::Tensor masks;
  if (d.mask_size > 0) {
    masks = torch::from_blob(const_cast<uint8_t*>(d.action_masks.data()), {S, d.mask_size}, torch::kUInt8)
                .to(torch::kBool);
    masks = torch::cat({masks, torch::ones({1, d.mask_size}, torch::kBool)}, 0);
  }
  std::vector<float> g = d.ReturnsToGo(config_.gamma);
  g.push_back(0.0f);
  const torch::Tensor returns = torch::tensor(g, torch::kFloat32);
  std::vector<int64_t> index(layout.step_of);
  for (auto& i : index) i = i < 0 ? S : i;
  const torch::Tensor where = torch::tensor(index, torch::kLong);
  // [S + 1, ...] -> [T, P, ...]
  auto streamed = [&](const torch::Tensor& t) {
    std::vector<int64_t> shape = {T, P};
    shape.insert(shape.end(), t.sizes().begin() + 1, t.sizes().end());
    return t.index_select(0, where).reshape(shape).contiguous();
  };
  // Kept in sequence order, [K * P, L, ...]: sequence k * P + p is stream
  // p's chunk k (steps k L .. (k + 1) L - 1).
  const int64_t K = T / L;
  auto by_seq = [&](const torch::Tensor& t) { return t.defined() ? BySequence(streamed(t), L).contiguous() : t; };
  const torch::Tensor q_obs = by_seq(obs), q_starts = by_seq(starts), q_actions = by_seq(actions);
  const torch::Tensor q_returns = by_seq(returns), q_masks = by_seq(masks);
  const torch::Tensor q_valid = BySequence((where < S).reshape({T, P}), L).contiguous();
  // A minibatch of sequences, and every stream's chunk k, as [L, G, ...].
  auto pick_seqs = [](const torch::Tensor& q, const torch::Tensor& seqs) {
    return q.defined() ? q.index_select(0, seqs).transpose(0, 1).contiguous() : q;
  };
  auto chunk = [&](const torch::Tensor& q, int64_t k) {
    return q.defined() ? q.slice(0, k * P, (k + 1) * P).transpose(0, 1).contiguous() : q;
  };

  // Plays the streams from their start with the current weights, chunk by
  // chunk: visit(k, state at chunk k's start, chunk k's heads).
  auto play_streams = [&](const std::function<void(int64_t, const RecurrentState&,
                                                   const ActorCriticImpl::HeadOutputs&)>& visit) {
    torch::NoGradGuard no_grad;
    RecurrentState st = net_->InitialState(P);
    for (int64_t k = 0; k < K; ++k) {
      const RecurrentState start = st;
      const auto heads = net_->Sequence(chunk(q_obs, k), chunk(q_starts, k), start, &st);
      visit(k, start, heads);
    }
  };
  // The actor-critic loss with A = 1 and no entropy term on the valid rows of
  // `heads` (rows of [L, G] tensors, time-major); also the heads, actions and
  // masks of those rows.
  const torch::Tensor ones = torch::ones({T * P});
  auto clone_loss = [&](const ActorCriticImpl::HeadOutputs& heads, const torch::Tensor& a, const torch::Tensor& m,
                        const torch::Tensor& ret, const torch::Tensor& valid, std::vector<torch::Tensor>* outputs,
                        std::vector<torch::Tensor>* grads) {
    const torch::Tensor rows = valid.reshape({-1}).nonzero().reshape({-1});
    auto pick = [&](const torch::Tensor& t) {
      std::vector<int64_t> shape = {valid.numel()};
      shape.insert(shape.end(), t.sizes().begin() + 2, t.sizes().end());
      return t.reshape(shape).index_select(0, rows).contiguous();
    };
    ActorCriticImpl::HeadOutputs h{heads.pi.index_select(0, rows), heads.log_std, heads.value.index_select(0, rows)};
    if (h.log_std.defined() && h.log_std.dim() == 2) h.log_std = h.log_std.index_select(0, rows);
    const torch::Tensor pa = pick(a), pr = pick(ret), pm = m.defined() ? pick(m) : m;
    ActorCriticBatch b = MakeActorCriticBatch(pa, pm, ones.slice(0, 0, rows.size(0)), pr);
    b.ent_coef = 0.0;
    b.vf_coef = c.vf_coef;
    return std::make_tuple(ActorCriticLossOnOutputs(head_, h, b, outputs, grads), h, pa, pm);
  };

  // The shuffles draw from their own generator, seeded by the run's seed
  // alone: every rank of a job clones the same network.
  torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed ^ 0xB7C1ULL);
  torch::optim::Adam opt(net_->parameters(), torch::optim::AdamOptions(c.learning_rate));
  net_->train();
  // pretrain_batch_size counts steps; minibatches hold whole sequences.
  const int64_t num_seqs = K * P, G = std::max<int64_t>(1, c.batch_size / L);
  for (int64_t epoch = 0; epoch < c.epochs; ++epoch) {
    // Each chunk's initial states with the current weights, [K] of [layers, P, hidden].
    std::vector<RecurrentState> chunks(static_cast<size_t>(K), net_->InitialState(P));
    if (net_->core()) play_streams([&](int64_t k, const RecurrentState& s, const auto&) { chunks[k] = s; });
    const torch::Tensor perm = torch::randperm(num_seqs, gen, torch::kLong);
    for (int64_t first = 0; first < num_seqs; first += G) {
      const torch::Tensor seqs = perm.slice(0, first, std::min(num_seqs, first + G));
      const torch::Tensor valid = pick_seqs(q_valid, seqs);
      if (!valid.any().item<bool>()) continue;  // padding only
      const auto heads =
          net_->Sequence(pick_seqs(q_obs, seqs), pick_seqs(q_starts, seqs), GatherStates(chunks, seqs));
      std::vector<torch::Tensor> outputs, grads;
      const auto l = std::get<0>(clone_loss(heads, pick_seqs(q_actions, seqs), pick_seqs(q_masks, seqs),
                                            pick_seqs(q_returns, seqs), valid, &outputs, &grads));
      CheckFiniteLoss(l.loss, "recurrent pretraining loss");
      net_->zero_grad();
      torch::autograd::backward(outputs, grads);
      ClipGradientsOrThrow(*net_, 10.0, num_timesteps_);
      opt.step();
    }
  }
  // How well the clone fits: the streams played from their start, chunk by
  // chunk, over the demonstrated steps.
  double nll = 0, vl = 0, hits = 0;
  play_streams([&](int64_t k, const RecurrentState&, const ActorCriticImpl::HeadOutputs& heads) {
    const torch::Tensor valid = chunk(q_valid, k);
    const double n = valid.sum().item<double>();
    if (n == 0) return;
    std::vector<torch::Tensor> outputs, grads;
    const auto [l, h, a, m] =
        clone_loss(heads, chunk(q_actions, k), chunk(q_masks, k), chunk(q_returns, k), valid, &outputs, &grads);
    auto same = net_->Distribution(h, m).mode().eq(a);
    if (same.dim() == 2) same = same.all(1);
    nll += l.policy_loss * n, vl += l.value_loss * n, hits += same.sum().item<double>();
  });
  const double values[] = {hits / S, d.mean_return(), static_cast<double>(S),
                           static_cast<double>(d.episode_successes) / d.episodes(), nll / S, vl / S};
  const std::vector<std::string> keys = OnPolicyAlgorithm::PretrainMetricNames();
  pretrain_metrics_.clear();
  for (size_t i = 0; i < keys.size(); ++i) pretrain_metrics_[keys[i]] = values[i];
}

Metrics RecurrentPpo::Iterate() {
  // An iteration's time_comm and comm_bytes are its own collectives' (as
  // OnPolicyAlgorithm::StartCommCount).
  if (ctx_.comm != nullptr) comm_reported_ = {ctx_.comm->seconds(), ctx_.comm->bytes()};
  // A resumed run has its clone in the checkpoint already.
  if (!config_.pretrain.policy.empty() && iterations_ == 0 && num_timesteps_ == 0) Pretrain();
  if (league_ && snapshots_.empty()) AddSnapshot();  // the initial policy
  CollectRollout();
  const auto update_start = std::chrono::steady_clock::now();
  net_->train();
  const double progress_remaining = ctx_.ProgressRemaining(num_timesteps_);
  const double lr = config_.learning_rate.Value(progress_remaining);
  const double clip = config_.clip_range.Value(progress_remaining);
  SetLearningRate(*optimizer_, lr);
  const int64_t L = config_.sequence_length(), S = config_.n_steps / L * envs_->num_envs();
  const int64_t G = config_.batch_size / L / ctx_.world_size();  // whole sequences (Validate), this rank's share
  dist::Communicator* comm = ctx_.comm.get();
  PpoUpdateStats stats;
  int64_t samples = 0;
  bool stopped = false;
  for (int64_t epoch = 0; epoch < config_.n_epochs && !stopped; ++epoch) {
    if (config_.recompute_states && epoch > 0) RecomputeChunkStates();
    const torch::Tensor perm = torch::randperm(S, gen_, torch::kLong);
    for (int64_t first = 0; first < S; first += G) {
      const torch::Tensor seqs = perm.slice(0, first, std::min(S, first + G));
      const int64_t rows = seqs.size(0) * L;
      auto flat = [&](const torch::Tensor& t) {
        std::vector<int64_t> shape = {rows};
        shape.insert(shape.end(), t.sizes().begin() + 2, t.sizes().end());
        return Gather(t, seqs).reshape(shape).contiguous();
      };
      const auto [heads, old_log_prob] = ReplaySequences(seqs);
      const torch::Tensor actions = flat(actions_), old_values = flat(values_);
      const torch::Tensor returns = flat(returns_);
      const torch::Tensor masks = masks_.defined() ? flat(masks_) : torch::Tensor();
      torch::Tensor adv = flat(advantages_);
      if (config_.normalize_advantage && rows * ctx_.world_size() > 1)
        adv = StandardizeAdvantages(adv, comm).contiguous();
      ActorCriticBatch batch = MakeActorCriticBatch(actions, masks, adv, returns);
      SetPpoTerms(config_, clip, old_log_prob, old_values, &batch);
      std::vector<torch::Tensor> outputs, grads;
      ActorCriticLossValues l = ActorCriticLossOnOutputs(head_, heads, batch, &outputs, &grads);
      if (comm != nullptr) {  // the global minibatch's gradient and losses decide, the same on every rank
        net_->zero_grad();
        torch::autograd::backward(outputs, grads);
        AverageOverRanks(*comm, *net_, static_cast<double>(rows), &l, &grad_buffer_);
      }
      CheckFiniteLoss(l.loss, "recurrent PPO loss");
      if (config_.target_kl && l.approx_kl > 1.5 * *config_.target_kl) {
        stats.Add(l, std::nullopt);
        stopped = true;
        break;
      }
      if (comm == nullptr) {
        net_->zero_grad();
        torch::autograd::backward(outputs, grads);
      }
      const double grad_norm = ClipGradientsOrThrow(*net_, config_.max_grad_norm, num_timesteps_);
      optimizer_->step();
      samples += rows;
      stats.Add(l, grad_norm);
    }
  }
  ++iterations_;
  if (league_ && iterations_ % config_.league.snapshot_interval == 0) AddSnapshot();
  Metrics m = stats.ToMetrics(ExplainedVariance(returns_, values_), lr, clip);
  if (league_) {
    const League::Counts c = league_->TakeCounts();
    const int64_t games = c.latest_games + c.past_games + c.bot_games;
    auto ratio = [](int64_t a, int64_t b) { return b > 0 ? static_cast<double>(a) / b : std::nan(""); };
    m["league_snapshots"] = static_cast<double>(snapshots_.size());
    m["league_past_fraction"] = ratio(c.past_games, games);
    m["league_win_rate_latest"] = ratio(c.latest_wins, c.latest_games);
    m["league_win_rate_past"] = ratio(c.past_wins, c.past_games);
    if (config_.league.bot_fraction > 0) {
      m["league_bot_fraction"] = ratio(c.bot_games, games);
      m["league_win_rate_bots"] = ratio(c.bot_wins, c.bot_games);
    }
  }
  m["time_env"] = time_env_;
  m["time_act"] = time_act_;
  m["time_update"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - update_start).count();
  m["update_samples"] = static_cast<double>(samples);
  if (ctx_.comm) AddCommMetrics(*ctx_.comm, &comm_reported_, &m);
  if (head_.gaussian()) m["std"] = net_->log_std().exp().mean().item<double>();
  m.insert(pretrain_metrics_.begin(), pretrain_metrics_.end());
  return m;
}

void RecurrentPpo::VisitState(StateVisitor& v) {
  VisitModule(v, "policy", *net_);
  VisitOptimizer(v, "optimizer", *optimizer_);
  v("num_timesteps", &num_timesteps_);
  v("iterations", &iterations_);
  v("obs_rms", &obs_norm_.rms);
  if (v.loading()) obs_norm_.Loaded();
  if (ctx_.run.normalize_reward) return_scaler_.VisitShared(v);
  if (!config_.pretrain.policy.empty()) v("pretrain_metrics", &pretrain_metrics_);
  // What each rank of a job holds for itself: its sampler, its envs and their recurrent state.
  dist::VisitPerRank(v, ctx_.comm.get(), [this](StateVisitor& own) {
    VisitGenerator(own, "generator", &gen_);
    if (ctx_.run.normalize_reward) return_scaler_.VisitOwn(own);
    if (state_.pi_h.defined()) VisitTensor(own, "state/pi_h", &state_.pi_h);
    if (state_.pi_c.defined()) VisitTensor(own, "state/pi_c", &state_.pi_c);
    if (state_.vf_h.defined()) VisitTensor(own, "state/vf_h", &state_.vf_h);
    if (state_.vf_c.defined()) VisitTensor(own, "state/vf_c", &state_.vf_c);
    VisitTensor(own, "next_starts", &next_starts_);
    own("envs", envs_.get());
  });
  if (league_) {
    v("league", league_.get());
    if (v.loading()) {
      snapshots_.clear();
      for (int64_t k = 0; k < league_->num_snapshots(); ++k) {
        snapshots_.push_back(RecurrentActorCritic(envs_->single_observation_space(), envs_->single_action_space(),
                                                  config_.policy));
        snapshots_.back()->eval();
      }
    }
    for (size_t k = 0; k < snapshots_.size(); ++k) VisitModule(v, StrCat("league/snapshot_", k), *snapshots_[k]);
    v("league/opponents", &opponents_);
    for (auto [name, t] : {std::pair{"pi_h", &opp_state_.pi_h}, std::pair{"pi_c", &opp_state_.pi_c},
                           std::pair{"vf_h", &opp_state_.vf_h}, std::pair{"vf_c", &opp_state_.vf_c}})
      if (t->defined()) VisitTensor(v, StrCat("league/state/", name), t);
    VisitGenerator(v, "league/generator", &opp_gen_);
  }
}

std::unique_ptr<Policy> RecurrentPpo::MakePolicy(bool deterministic) {
  std::optional<RunningMeanStd> rms;
  if (ctx_.run.normalize_obs) rms = obs_norm_.rms;
  return std::make_unique<RecurrentActorCriticPolicy>(net_, envs_->single_observation_space(),
                                                      envs_->single_action_space(), deterministic,
                                                      static_cast<uint64_t>(ctx_.run.seed) + 7, rms, obs_norm_.clip);
}

void RecurrentPpo::ActOpponents() {
  torch::NoGradGuard no_grad;
  const int64_t N = envs_->num_envs();
  const Space& os = envs_->single_observation_space();
  const Space& as = envs_->single_action_space();
  envs_->AgentObservations(1, opp_obs_.data());
  const torch::Tensor obs = ObservationView(opp_obs_.data(), N, os);
  torch::Tensor mask;
  if (as.mask_size() > 0) {
    envs_->AgentActionMasks(1, opp_masks_.data());
    mask = torch::from_blob(opp_masks_.data(), {N, as.mask_size()}, torch::kUInt8).to(torch::kBool);
  }
  torch::Tensor actions = RolloutActions(1, N, as)[0];
  std::vector<std::pair<int64_t, std::vector<int64_t>>> bot_groups;
  // The rows of each opponent, in order of first appearance (deterministic).
  std::vector<std::pair<int64_t, std::vector<int64_t>>> groups;
  for (int64_t i = 0; i < N; ++i) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == opponents_[i]; });
    if (it == groups.end()) groups.push_back({opponents_[i], {i}});
    else it->second.push_back(i);
  }
  for (const auto& [who, rows] : groups) {
    if (League::IsBot(who)) {
      bot_groups.push_back({who, rows});
      continue;
    }
    const torch::Tensor idx = torch::tensor(rows, torch::kLong);
    RecurrentActorCritic& net = who == League::kLatest ? net_ : snapshots_.at(who);
    RecurrentState s = opp_state_.Rows(idx);
    const auto heads = net->Step(obs.index_select(0, idx), next_starts_.index_select(0, idx), &s).heads;
    for (auto [dst, src] : {std::pair{&opp_state_.pi_h, &s.pi_h}, std::pair{&opp_state_.pi_c, &s.pi_c},
                            std::pair{&opp_state_.vf_h, &s.vf_h}, std::pair{&opp_state_.vf_c, &s.vf_c}})
      if (dst->defined()) dst->index_copy_(1, idx, *src);
    const ActionDistribution dist = net->Distribution(heads, mask.defined() ? mask.index_select(0, idx) : mask);
    actions.index_copy_(0, idx, dist.sample(&opp_gen_));
  }
  torch::Tensor env_actions = ToEnvActions(actions, as).contiguous();
  // Reference bots act from their rows' observations and masks.
  const size_t ob = os.nbytes(), ab = as.nbytes(), mb = static_cast<size_t>(std::max<int64_t>(1, as.mask_size()));
  auto* out = static_cast<uint8_t*>(env_actions.data_ptr());
  for (const auto& [who, rows] : bot_groups) {
    const size_t n = rows.size();
    std::vector<uint8_t> o(n * ob), mk(n * mb), a(n * ab);
    for (size_t r = 0; r < n; ++r) {
      std::memcpy(o.data() + r * ob, opp_obs_.data() + rows[r] * ob, ob);
      std::memcpy(mk.data() + r * mb, opp_masks_.data() + rows[r] * mb, mb);
    }
    bots_.at(League::BotIndex(who))->Act(o.data(), as.mask_size() > 0 ? mk.data() : nullptr, static_cast<int>(n),
                                          a.data());
    for (size_t r = 0; r < n; ++r) std::memcpy(out + rows[r] * ab, a.data() + r * ab, ab);
  }
  envs_->SetAgentActions(1, env_actions.data_ptr());
}

void RecurrentPpo::FinishGames() {
  for (int i = 0; i < envs_->num_envs(); ++i) {
    if (!envs_->ended()[i]) continue;
    const Info& info = envs_->info(i);
    const int outcome = GameOutcome(info, envs_->truncated()[i] != 0);
    league_->RecordGame(opponents_[i], outcome);
    opponents_[i] = league_->SampleOpponent();
  }
}

std::unique_ptr<Policy> RecurrentPpo::MakeBot(const std::string& name) {
  return Registry::Global().MakeScriptedPolicy(name, ctx_.run.env, rating_envs_->env(0), league_->NextSeed());
}

std::vector<int> RecurrentPpo::PlayRatingGames(Policy& a, Policy& b) {
  return EvaluateTeams(*rating_envs_, a, b, config_.league.rating_games, league_->NextSeed()).outcomes;
}

void RecurrentPpo::AddSnapshot() {
  RecurrentActorCritic copy(envs_->single_observation_space(), envs_->single_action_space(), config_.policy);
  {
    torch::NoGradGuard no_grad;
    auto dst = copy->parameters();
    auto src = net_->parameters();
    for (size_t j = 0; j < dst.size(); ++j) dst[j].copy_(src[j]);
  }
  copy->eval();
  snapshots_.push_back(copy);
  const int64_t k = league_->AddSnapshot(iterations_, num_timesteps_);
  const LeagueConfig& lc = config_.league;
  if (lc.rating_games == 0) return;
  if (!rating_envs_) {
    RunContext c = ctx_;
    c.run.num_envs = std::min<int64_t>(8, lc.rating_games);
    c.run.env_threads = 1;
    rating_envs_ = c.MakeVectorEnv(/*every_agent=*/true);  // the learner and a bot or snapshot
  }
  const auto bots = lc.bots();
  if (!league_->bots_rated()) {
    std::vector<std::vector<std::vector<int>>> outcomes(bots.size(), std::vector<std::vector<int>>(bots.size()));
    for (size_t i = 0; i < bots.size(); ++i)
      for (size_t j = i + 1; j < bots.size(); ++j) {
        auto a = MakeBot(bots[i]), b = MakeBot(bots[j]);
        outcomes[i][j] = PlayRatingGames(*a, *b);
      }
    league_->RateBots(outcomes);
  }
  std::vector<std::pair<std::string, std::vector<int>>> games;
  auto me = MakeSnapshotPolicy(k, lc.rating_deterministic);
  for (const auto& b : bots) {
    auto bot = MakeBot(b);
    games.push_back({"bot:" + b, PlayRatingGames(*me, *bot)});
  }
  if (k > 0) {
    auto previous = MakeSnapshotPolicy(k - 1, lc.rating_deterministic);
    games.push_back({StrCat("snapshot:", k - 1), PlayRatingGames(*me, *previous)});
  }
  league_->RateSnapshot(k, games);
  const Rating& r = league_->rating(StrCat("snapshot:", k));
  events_.push_back({"league/rating_mu", r.mu, num_timesteps_});
  events_.push_back({"league/rating_sigma", r.sigma, num_timesteps_});
  events_.push_back({"league/rating_conservative", r.conservative(), num_timesteps_});
  for (const auto& [who, outcomes] : games) {
    if (who.rfind("bot:", 0) != 0 || outcomes.empty()) continue;
    double wins = 0;
    for (int o : outcomes) wins += o > 0;
    events_.push_back({"league/win_rate_vs_" + who.substr(4), wins / static_cast<double>(outcomes.size()), num_timesteps_});
  }
}

std::unique_ptr<Policy> RecurrentPpo::MakeSnapshotPolicy(int64_t k, bool deterministic) {
  RLF_CHECK_ARG(k >= 0 && k < num_snapshots(), "snapshot ", k, " does not exist: the run keeps ",
                num_snapshots() == 0 ? std::string("none (config key self_play)")
                                     : StrCat("snapshots 0..", num_snapshots() - 1));
  return std::make_unique<RecurrentActorCriticPolicy>(snapshots_[k], envs_->single_observation_space(),
                                                      envs_->single_action_space(), deterministic,
                                                      league_ ? league_->NextSeed() : 0, std::nullopt, obs_norm_.clip);
}

std::vector<Algorithm::ScalarEvent> RecurrentPpo::TakeScalarEvents() {
  std::vector<ScalarEvent> out;
  out.swap(events_);
  return out;
}

std::string RecurrentPpo::evaluation_opponent() const {
  const auto bots = config_.league.bots();
  return league_ && !bots.empty() ? bots.back() : Algorithm::evaluation_opponent();
}

std::map<std::string, std::string> RecurrentPpo::RunFiles() const {
  if (!league_ || league_->rows().empty()) return {};
  return {{"ratings.csv", league_->RatingsCsv()}};
}

runtime::Model RecurrentPpo::ExportModel() {
  std::optional<RunningMeanStd> rms;
  if (ctx_.run.normalize_obs) rms = obs_norm_.rms;
  runtime::Model m = ExportRecurrentActorCritic(*net_, envs_->single_observation_space(),
                                                envs_->single_action_space(), rms, obs_norm_.clip);
  m.conditional_mask = conditional_;
  m.action_mask = envs_->has_action_mask();
  return m;
}

RecurrentActorCriticPolicy::RecurrentActorCriticPolicy(RecurrentActorCritic net, const Space& obs_space,
                                                       const Space& act_space, bool deterministic, uint64_t seed,
                                                       std::optional<RunningMeanStd> obs_rms, double clip_obs)
    : net_(std::move(net)),
      obs_space_(obs_space),
      act_space_(act_space),
      deterministic_(deterministic),
      gen_(at::make_generator<at::CPUGeneratorImpl>(seed)),
      obs_rms_(std::move(obs_rms)),
      clip_obs_(clip_obs) {}

void RecurrentActorCriticPolicy::StartEpisodes(const uint8_t* rows_starting, int n) {
  if (!starts_.defined() || starts_.size(0) != n) {
    state_ = net_->InitialState(n);
    starts_ = torch::ones({n});
  }
  float* s = starts_.data_ptr<float>();
  for (int i = 0; i < n; ++i) s[i] = std::max(s[i], rows_starting[i] ? 1.0f : 0.0f);
}

void RecurrentActorCriticPolicy::Act(const void* observations, const uint8_t* masks, int n, void* actions) {
  torch::NoGradGuard no_grad;
  if (!starts_.defined() || starts_.size(0) != n) {
    state_ = net_->InitialState(n);
    starts_ = torch::ones({n});
  }
  auto obs = ObservationView(observations, n, obs_space_);
  if (obs_rms_) obs = ApplyObsNormalization(obs, *obs_rms_, clip_obs_);
  torch::Tensor mask;
  if (masks && act_space_.mask_size() > 0)
    mask = torch::from_blob(const_cast<uint8_t*>(masks), {n, act_space_.mask_size()}, torch::kUInt8).to(torch::kBool);
  // The step's state is kept once the actions are chosen: a call that throws
  // (a mask with no legal value, a conditional-mask callback failing) leaves
  // the rows where they were.
  RecurrentState next = state_;
  const auto heads = net_->Step(obs, starts_, &next).heads;
  torch::Tensor a;
  if (conditional_mask_ && act_space_.kind() == SpaceKind::kMultiDiscrete) {
    const int64_t k = static_cast<int64_t>(act_space_.nvec().size());
    const torch::Tensor logits = heads.pi.contiguous();
    torch::Tensor u;
    if (!deterministic_) u = at::rand({n, k}, gen_);
    a = torch::empty({n, k}, torch::kLong);
    ConditionalMultiCategorical(logits.data_ptr<float>(), n, act_space_.nvec(), conditional_mask_,
                                deterministic_ ? nullptr : u.data_ptr<float>(), a.data_ptr<int64_t>(), nullptr,
                                nullptr);
  } else {
    const ActionDistribution dist = net_->Distribution(heads, mask);
    a = deterministic_ ? dist.mode() : dist.sample(&gen_);
  }
  const torch::Tensor env_a = ToEnvActions(a, act_space_);
  state_ = next;
  starts_.zero_();
  std::memcpy(actions, env_a.data_ptr(), static_cast<size_t>(n) * act_space_.nbytes());
}

}  // namespace rlforge
