#include "rlforge/algos/impala/impala.h"

#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <cstring>

#include "rlforge/algos/export_model.h"
#include "rlforge/algos/flat_adam.h"
#include "rlforge/buffers/vtrace.h"
#include "rlforge/core/state_io.h"
#include "rlforge/core/stop_signal.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void ImpalaConfig::Visit(FieldVisitor& v) {
  v.Field("n_steps", &n_steps, "unroll length (steps per env per unroll)");
  v.Field("actor_envs", &actor_envs, "envs per actor");
  v.Field("num_actors", &num_actors, "actor threads in the learner's process (job ranks 1.. add actor processes)");
  v.Field("batch_size", &batch_size, "unrolls per learner update");
  v.Field("max_queued", &max_queued, "unrolls an actor may have waiting for the learner before it waits too");
  v.Field("gamma", &gamma, "discount factor");
  v.Field("vtrace_lambda", &vtrace_lambda, "V-trace lambda (1: full traces)");
  v.Field("rho_bar", &rho_bar, "V-trace clip of the importance weights");
  v.Field("c_bar", &c_bar, "V-trace clip of the trace coefficients");
  v.Field("ent_coef", &ent_coef, "entropy bonus coefficient");
  v.Field("vf_coef", &vf_coef, "value loss coefficient");
  v.Field("max_grad_norm", &max_grad_norm, "global gradient-norm clip");
  v.Field("learning_rate", &learning_rate, "RMSProp learning rate (number, lin_<start>[_<end>] or cos_<start>[_<end>])");
  v.Field("rmsprop_alpha", &rmsprop_alpha, "RMSProp decay");
  v.Field("rmsprop_eps", &rmsprop_eps, "RMSProp epsilon");
  VisitPolicyFields(v, &policy);
}

void ImpalaConfig::Validate() const {
  RLF_CHECK_ARG(n_steps >= 1, "config key 'n_steps' must be >= 1, got ", n_steps);
  RLF_CHECK_ARG(actor_envs >= 1 && actor_envs <= 65536, "config key 'actor_envs' must be in [1, 65536], got ",
                actor_envs);
  RLF_CHECK_ARG(num_actors >= 0 && num_actors <= 256, "config key 'num_actors' must be in [0, 256], got ", num_actors);
  RLF_CHECK_ARG(batch_size >= 1, "config key 'batch_size' must be >= 1, got ", batch_size);
  RLF_CHECK_ARG(max_queued >= 1, "config key 'max_queued' must be >= 1, got ", max_queued);
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1], got ", gamma);
  RLF_CHECK_ARG(vtrace_lambda >= 0 && vtrace_lambda <= 1, "config key 'vtrace_lambda' must be in [0, 1], got ",
                vtrace_lambda);
  RLF_CHECK_ARG(rho_bar > 0 && c_bar > 0, "config keys 'rho_bar' and 'c_bar' must be > 0");
  RLF_CHECK_ARG(max_grad_norm > 0, "config key 'max_grad_norm' must be > 0");
  learning_rate.CheckRate("learning_rate");
  RLF_CHECK_ARG(vf_coef >= 0, "config key 'vf_coef' must be >= 0, got ", vf_coef);
  RLF_CHECK_ARG(rmsprop_eps > 0, "config key 'rmsprop_eps' must be > 0, got ", rmsprop_eps);
  RLF_CHECK_ARG(rmsprop_alpha > 0 && rmsprop_alpha < 1, "config key 'rmsprop_alpha' must be in (0, 1), got ",
                rmsprop_alpha);
}

// ---- Unrolls -------------------------------------------------------------

std::string ImpalaUnroll::Serialize() const {
  std::string out;
  StateWriter w(&out);
  w(version), w(actor), w(T), w(N);
  w(obs), w(final_obs), w(actions), w(log_probs), w(rewards), w(terminated), w(truncated);
  w(episode_returns), w(episode_lengths);
  return out;
}

ImpalaUnroll ImpalaUnroll::Deserialize(const std::string& bytes) {
  ImpalaUnroll u;
  StateReader r(bytes, "an IMPALA unroll");
  r(u.version), r(u.actor), r(u.T), r(u.N);
  r(u.obs), r(u.final_obs), r(u.actions), r(u.log_probs), r(u.rewards), r(u.terminated), r(u.truncated);
  r(u.episode_returns), r(u.episode_lengths);
  r.ExpectEnd();
  const size_t steps = static_cast<size_t>(u.T * u.N);
  RLF_CHECK(u.T >= 1 && u.N >= 1 && u.log_probs.size() == steps && u.rewards.size() == steps &&
                u.obs.size() % static_cast<size_t>((u.T + 1) * u.N) == 0 &&
                u.final_obs.size() * static_cast<size_t>(u.T + 1) == u.obs.size() * static_cast<size_t>(u.T) &&
                u.terminated.size() == steps && u.truncated.size() == steps &&
                u.episode_returns.size() == u.episode_lengths.size(),
            "an IMPALA unroll is corrupt (", u.T, " steps x ", u.N, " envs)");
  return u;
}

// ---- Channels --------------------------------------------------------------

int64_t ImpalaLocalChannel::Waiting(int64_t actor) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& u : unrolls_) n += u.first == actor;
  return n;
}

void ImpalaLocalChannel::PushUnroll(int64_t actor, const std::string& bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  unrolls_.emplace_back(actor, bytes);
}

void ImpalaLocalChannel::PopUnrolls(size_t max, std::vector<std::string>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  while (!unrolls_.empty() && out->size() < max) {
    out->push_back(std::move(unrolls_.front().second));
    unrolls_.pop_front();
  }
}

void ImpalaLocalChannel::PublishWeights(int64_t version, const std::string& bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  version_ = version;
  weights_ = bytes;
}

bool ImpalaLocalChannel::FetchWeights(int64_t have, int64_t* version, std::string* bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (version_ <= have) return false;
  *version = version_;
  *bytes = weights_;
  return true;
}

namespace {

std::string AsString(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }
std::vector<uint8_t> AsBytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

}  // namespace

ImpalaStoreChannel::ImpalaStoreChannel(c10::intrusive_ptr<c10d::Store> store) : store_(std::move(store)) {}

int64_t ImpalaStoreChannel::Register() {
  id_ = store_->add("impala/actors", 1) - 1;
  return id_;
}

int64_t ImpalaStoreChannel::actors() { return store_->add("impala/actors", 0); }

int64_t ImpalaStoreChannel::Waiting(int64_t actor) {
  return pushed_ - store_->add(StrCat("impala/read/", actor), 0);
}

void ImpalaStoreChannel::PushUnroll(int64_t /*actor*/, const std::string& bytes) {
  RLF_CHECK(id_ >= 0, "ImpalaStoreChannel: push before Register");
  store_->set(StrCat("impala/unroll/", id_, "/", pushed_), AsBytes(bytes));
  store_->add(StrCat("impala/count/", id_), 1);
  ++pushed_;
}

void ImpalaStoreChannel::PopUnrolls(size_t max, std::vector<std::string>* out) {
  const int64_t n = actors();
  if (static_cast<int64_t>(read_.size()) < n) read_.resize(static_cast<size_t>(n), 0);
  for (int64_t a = 0; a < n && out->size() < max; ++a) {
    const int64_t count = store_->add(StrCat("impala/count/", a), 0);
    while (read_[static_cast<size_t>(a)] < count && out->size() < max) {
      const std::string key = StrCat("impala/unroll/", a, "/", read_[static_cast<size_t>(a)]);
      out->push_back(AsString(store_->get(key)));
      store_->deleteKey(key);
      store_->add(StrCat("impala/read/", a), 1);
      ++read_[static_cast<size_t>(a)];
    }
  }
}

void ImpalaStoreChannel::PublishWeights(int64_t version, const std::string& bytes) {
  std::string payload;
  StateWriter w(&payload);
  w(version), w(bytes);
  store_->set("impala/weights", AsBytes(payload));
  store_->set("impala/version", AsBytes(std::to_string(version)));
}

bool ImpalaStoreChannel::FetchWeights(int64_t have, int64_t* version, std::string* bytes) {
  if (!store_->check({"impala/version"})) return false;
  const int64_t v = std::stoll(AsString(store_->get("impala/version")));
  if (v <= have) return false;
  const std::string payload = AsString(store_->get("impala/weights"));
  StateReader r(payload, "the IMPALA learner's weights");
  r(*version), r(*bytes);
  return *version > have;
}

void ImpalaStoreChannel::PublishSignature(const std::string& s) { store_->set("impala/signature", AsBytes(s)); }

std::string ImpalaStoreChannel::WaitSignature(std::chrono::milliseconds timeout) {
  try {
    store_->wait({"impala/signature"}, timeout);
  } catch (const std::exception&) {
    throw Error(StrCat("impala actor: no learner published its config within ", timeout.count() / 1000.0,
                       " s (is rank 0 running impala? RLFORGE_DIST_TIMEOUT sets the wait)"));
  }
  return AsString(store_->get("impala/signature"));
}

void ImpalaStoreChannel::SetDone() { store_->set("impala/done", AsBytes("1")); }
void ImpalaStoreChannel::ConfirmExit() { store_->add("impala/exited", 1); }
void ImpalaStoreChannel::WaitForExits(int64_t expected, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (store_->add("impala/exited", 0) < std::max(expected, actors()) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}
bool ImpalaStoreChannel::Done() { return store_->check({"impala/done"}); }

// ---- Actors ----------------------------------------------------------------

namespace {

std::string WeightsBytes(torch::nn::Module& net) {
  std::string out;
  StateWriter w(&out);
  for (const auto& p : net.parameters()) {
    const torch::Tensor c = p.detach().contiguous();
    w(static_cast<uint64_t>(c.numel()));
    w.Raw(c.data_ptr<float>(), static_cast<size_t>(c.numel()) * sizeof(float));
  }
  return out;
}

void LoadWeights(torch::nn::Module& net, const std::string& bytes) {
  torch::NoGradGuard no_grad;
  StateReader r(bytes, "the IMPALA learner's weights");
  for (auto& p : net.parameters()) {
    uint64_t n = 0;
    r(n);
    RLF_CHECK(static_cast<int64_t>(n) == p.numel(), "the IMPALA learner's weights do not fit this actor's network (",
              n, " values for a parameter of ", p.numel(), "); actor and learner must run the same config");
    r.Raw(p.data_ptr<float>(), n * sizeof(float));
  }
  r.ExpectEnd();
}

// What an actor and its learner must agree on: the env, its spaces and the
// network's size.
std::string Signature(const RunContext& ctx, const Space& os, const Space& as, torch::nn::Module& net) {
  int64_t params = 0;
  for (const auto& p : net.parameters()) params += p.numel();
  std::string kwargs;
  for (const auto& [k, v] : ctx.run.env_kwargs.items()) kwargs += k + "=" + v + ";";
  return StrCat(ctx.run.env, " {", kwargs, "} obs ", os.ToString(), " actions ", as.ToString(), ", ", params,
                " parameters");
}

int64_t ActionWidth(const Space& as) {
  switch (as.kind()) {
    case SpaceKind::kDiscrete: return 1;
    default: return as.size();
  }
}

}  // namespace

ImpalaActor::ImpalaActor(const RunContext& ctx, const ImpalaConfig& config, int64_t id)
    : ctx_(ctx), config_(config), id_(id), channel_id_(id) {
  VectorEnvOptions opt;
  opt.num_envs = static_cast<int>(config.actor_envs);
  opt.num_threads = 1;
  envs_ = VectorEnv::Make(ctx.run.env, ctx.run.env_kwargs, opt);
  RLF_CHECK_ARG(!envs_->has_action_mask(), "impala does not support action masks yet (", ctx.run.env, " has them)");
  RLF_CHECK_ARG(envs_->num_agents() == 1, "impala trains single-agent envs; ", ctx.run.env, " has ",
                envs_->num_agents(), " agents");
  const uint64_t seed = static_cast<uint64_t>(ctx.run.seed) + 100003ULL * static_cast<uint64_t>(id + 1);
  torch::manual_seed(seed);
  net_ = ActorCritic(envs_->single_observation_space(), envs_->single_action_space(), config.policy);
  net_->eval();
  gen_ = at::make_generator<at::CPUGeneratorImpl>(seed + 1);
  envs_->Reset(seed);
}

ImpalaUnroll ImpalaActor::Collect() {
  torch::NoGradGuard no_grad;
  const Space& os = envs_->single_observation_space();
  const Space& as = envs_->single_action_space();
  const int64_t T = config_.n_steps, N = envs_->num_envs(), D = os.size(), A = ActionWidth(as);
  ImpalaUnroll u;
  u.version = version_;
  u.actor = id_;
  u.T = T, u.N = N;
  u.obs.resize(static_cast<size_t>((T + 1) * N * D));
  u.final_obs.assign(static_cast<size_t>(T * N * D), 0.0f);
  u.actions.resize(static_cast<size_t>(T * N * A));
  u.log_probs.resize(static_cast<size_t>(T * N));
  u.rewards.resize(static_cast<size_t>(T * N));
  u.terminated.resize(static_cast<size_t>(T * N));
  u.truncated.resize(static_cast<size_t>(T * N));
  for (int64_t t = 0; t <= T; ++t) {
    const torch::Tensor obs = ObservationTensor(envs_->observations(), N, os).to(torch::kFloat32).reshape({N, D});
    std::memcpy(u.obs.data() + t * N * D, obs.data_ptr<float>(), static_cast<size_t>(N * D) * sizeof(float));
    if (t == T) break;
    auto out = net_->Forward(ObservationView(envs_->observations(), N, os), torch::Tensor());
    const torch::Tensor a = out.dist.sample(&gen_);
    const torch::Tensor lp = out.dist.log_prob(a).contiguous();
    std::memcpy(u.log_probs.data() + t * N, lp.data_ptr<float>(), static_cast<size_t>(N) * sizeof(float));
    const torch::Tensor af = a.to(torch::kFloat32).reshape({N, A}).contiguous();
    std::memcpy(u.actions.data() + t * N * A, af.data_ptr<float>(), static_cast<size_t>(N * A) * sizeof(float));
    const torch::Tensor env_actions = ToEnvActions(a, as);
    envs_->Step(env_actions.data_ptr());
    for (int64_t i = 0; i < N; ++i) {
      const int64_t k = t * N + i;
      u.rewards[static_cast<size_t>(k)] = envs_->rewards()[i];
      u.terminated[static_cast<size_t>(k)] = envs_->terminated()[i];
      u.truncated[static_cast<size_t>(k)] = envs_->truncated()[i];
      if (envs_->terminated()[i] || envs_->truncated()[i]) {
        u.episode_returns.push_back(envs_->episode_return(static_cast<int>(i)));
        u.episode_lengths.push_back(envs_->episode_length(static_cast<int>(i)));
      }
    }
    if (std::any_of(u.truncated.begin() + t * N, u.truncated.begin() + (t + 1) * N, [](uint8_t x) { return x; })) {
      const torch::Tensor fin =
          ObservationTensor(envs_->final_observations(), N, os).to(torch::kFloat32).reshape({N, D});
      std::memcpy(u.final_obs.data() + t * N * D, fin.data_ptr<float>(), static_cast<size_t>(N * D) * sizeof(float));
    }
  }
  return u;
}

std::string ImpalaActor::Signature() {
  return rlforge::Signature(ctx_, envs_->single_observation_space(), envs_->single_action_space(), *net_);
}

void ImpalaActor::Run(ImpalaChannel& channel, const std::atomic<bool>& stop) {
  std::string bytes;
  while (!stop && !channel.Done()) {
    if (channel.Waiting(channel_id_) >= config_.max_queued) {  // the learner is behind: wait for it
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      continue;
    }
    int64_t v = 0;
    if (channel.FetchWeights(version_, &v, &bytes)) {
      LoadWeights(*net_, bytes);
      version_ = v;
    }
    if (version_ == 0) {  // the learner has not published yet
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    channel.PushUnroll(channel_id_, Collect().Serialize());
  }
}

// ---- The learner -------------------------------------------------------------

Impala::Impala(const RunContext& ctx, const ImpalaConfig& config) : Algorithm(ctx), config_(config) {
  config_.Validate();
  const bool remote = ctx.job != nullptr;
  RLF_CHECK_ARG(config_.num_actors >= 1 || remote, "config key 'num_actors' is 0 and there are no actor ranks: ",
                "nothing would act (run the job with rlforge launch --nproc N, or set num_actors >= 1)");
  auto probe = ctx.MakeEnv();
  obs_space_ = probe->observation_space();
  act_space_ = probe->action_space();
  RLF_CHECK_ARG(act_space_.kind() == SpaceKind::kDiscrete || act_space_.kind() == SpaceKind::kBox ||
                    act_space_.kind() == SpaceKind::kMultiDiscrete,
                "impala needs Discrete, MultiDiscrete or Box actions; ", ctx.run.env, " has ", act_space_.ToString());
  WarnInertPolicyKeys(ctx, config.policy, act_space_);
  torch::manual_seed(static_cast<uint64_t>(ctx.run.seed));
  net_ = ActorCritic(obs_space_, act_space_, config.policy);
  optimizer_ = std::make_unique<FlatRmsprop>(
      net_->parameters(), torch::optim::RMSpropOptions(config.learning_rate.Value(1.0))
                              .alpha(config.rmsprop_alpha)
                              .eps(config.rmsprop_eps));

  DeclareMetrics({"policy_loss", "value_loss", "entropy", "loss", "grad_norm", "learning_rate", "policy_lag",
                  "policy_lag_max", "rho_mean", "unrolls", "actors", "n_updates", "time_wait", "time_update"});
  // One actor built now, so that an env actors cannot use (masks, several agents) fails here.
  (void)ImpalaActor(ctx_, config_, 0);
}

Impala::~Impala() { StopActors(/*wait_for_actors=*/false); }

void Impala::Publish() {
  const std::string bytes = WeightsBytes(*net_);
  local_.PublishWeights(version_, bytes);
  if (remote_) remote_->PublishWeights(version_, bytes);
}

void Impala::StartActors() {
  if (started_ || stop_) return;
  started_ = true;
  // The store opens here, not in the constructor, so that a learner built
  // and dropped (a resume trying checkpoints) leaves no store behind.
  if (ctx_.job) {
    remote_ = std::make_unique<ImpalaStoreChannel>(dist::MakeStore(*ctx_.job, dist::DefaultTimeout()));
    remote_->PublishSignature(Signature(ctx_, obs_space_, act_space_, *net_));
  }
  if (version_ == 0) version_ = 1;
  Publish();
  for (int64_t k = 0; k < config_.num_actors; ++k)
    threads_.emplace_back([this, k] {
      try {
        ImpalaActor actor(ctx_, config_, k);
        actor.Run(local_, stop_);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mu_);
        if (!actor_error_) actor_error_ = std::current_exception();
      }
    });
}

void Impala::StopActors(bool wait_for_actors) {
  if (!started_ || stop_) return;
  stop_ = true;
  local_.SetDone();
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (remote_) {
    try {
      // Actor processes stop at their next look, and say so before this
      // process (which hosts the store) goes on to exit.
      // The job's other ranks are its actors: one that starts late still
      // finds the store, sees the run is done, and exits cleanly.
      remote_->SetDone();
      if (wait_for_actors) remote_->WaitForExits(ctx_.job->world_size - 1, std::chrono::seconds(5));
    } catch (const std::exception&) {
      // the store is going away with this process anyway
    }
  }
}

Metrics Impala::Iterate() {
  StartActors();
  const auto t0 = std::chrono::steady_clock::now();
  // batch_size unrolls, from the local actors and the actor ranks.
  std::vector<std::string> raw;
  const auto timeout = dist::DefaultTimeout();
  auto last_arrival = t0;
  while (static_cast<int64_t>(raw.size()) < config_.batch_size) {
    {
      std::lock_guard<std::mutex> lock(error_mu_);
      if (actor_error_) std::rethrow_exception(actor_error_);
    }
    const size_t before = raw.size();
    local_.PopUnrolls(static_cast<size_t>(config_.batch_size), &raw);
    if (remote_) remote_->PopUnrolls(static_cast<size_t>(config_.batch_size), &raw);
    if (raw.size() != before) last_arrival = std::chrono::steady_clock::now();
    if (raw.size() == before) {
      // A stop signal ends the wait (the unrolls popped so far are dropped:
      // nothing of this iteration has touched the learner yet).
      ThrowIfStopRequested();
      if (std::chrono::steady_clock::now() - last_arrival > timeout)
        throw Error(StrCat("impala: no unroll arrived for ", timeout.count() / 1000.0,
                           " s: no actor is running (RLFORGE_DIST_TIMEOUT sets the wait)"));
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  const auto t1 = std::chrono::steady_clock::now();
  std::vector<ImpalaUnroll> unrolls;
  for (const auto& b : raw) unrolls.push_back(ImpalaUnroll::Deserialize(b));

  net_->train();
  const double lr = config_.learning_rate.Value(ctx_.ProgressRemaining(num_timesteps_));
  SetLearningRate(*optimizer_, lr);
  const int64_t D = obs_space_.size(), A = ActionWidth(act_space_);
  std::vector<torch::Tensor> log_pis, entropies, values, vs_all, adv_all;
  double lag = 0, lag_max = 0, rho_sum = 0;
  int64_t rho_count = 0;
  for (auto& u : unrolls) {
    const int64_t T = u.T, N = u.N;
    RLF_CHECK(static_cast<int64_t>(u.obs.size()) == (T + 1) * N * D &&
                  static_cast<int64_t>(u.actions.size()) == T * N * A,
              "an IMPALA unroll does not fit the learner's spaces (actor ", u.actor, ")");
    std::vector<int64_t> shape = {(T + 1) * N};
    shape.insert(shape.end(), obs_space_.shape().begin(), obs_space_.shape().end());
    const torch::Tensor obs = torch::from_blob(u.obs.data(), shape, torch::kFloat32);
    torch::Tensor actions = torch::from_blob(u.actions.data(), {T * N, A}, torch::kFloat32);
    if (act_space_.kind() == SpaceKind::kDiscrete)
      actions = actions.reshape({T * N}).to(torch::kLong);
    else if (act_space_.kind() == SpaceKind::kMultiDiscrete)
      actions = actions.to(torch::kLong);
    // pi and V on the T acted rows (the first T N of the T + 1 rows).
    const auto head = net_->Forward(obs.slice(0, 0, T * N), torch::Tensor());
    const torch::Tensor log_pi = head.dist.log_prob(actions);  // [T N]
    const torch::Tensor value = head.value;                     // [T N]
    // V'_t: 0 after termination, V(final obs) after truncation, V(x_{t+1}) otherwise.
    torch::Tensor next_values;
    {
      torch::NoGradGuard no_grad;
      // V(x_{t+1}): the acted rows' values shifted by one step, and the bootstrap row.
      next_values = torch::cat({value.detach().slice(0, N, T * N), net_->Value(obs.slice(0, T * N, (T + 1) * N))});
      std::vector<int64_t> trunc_rows;
      for (int64_t k = 0; k < T * N; ++k)
        if (u.truncated[static_cast<size_t>(k)] && !u.terminated[static_cast<size_t>(k)]) trunc_rows.push_back(k);
      if (!trunc_rows.empty()) {
        const torch::Tensor rows = torch::tensor(trunc_rows, torch::kLong);
        std::vector<int64_t> fshape = {T * N};
        fshape.insert(fshape.end(), obs_space_.shape().begin(), obs_space_.shape().end());
        const torch::Tensor fin = torch::from_blob(u.final_obs.data(), fshape, torch::kFloat32).index_select(0, rows);
        next_values.index_copy_(0, rows, net_->Value(fin));
      }
      for (int64_t k = 0; k < T * N; ++k)
        if (u.terminated[static_cast<size_t>(k)]) next_values[k] = 0.0f;
    }
    const torch::Tensor log_ratio =
        (log_pi.detach() - torch::from_blob(u.log_probs.data(), {T * N}, torch::kFloat32)).contiguous();
    const torch::Tensor v_det = value.detach().contiguous();
    std::vector<uint8_t> dones(static_cast<size_t>(T * N));
    for (size_t k = 0; k < dones.size(); ++k) dones[k] = u.terminated[k] || u.truncated[k];
    torch::Tensor vs = torch::empty({T * N}), adv = torch::empty({T * N}), rho = torch::empty({T * N});
    VTraceOptions o;
    o.gamma = config_.gamma;
    o.lambda = config_.vtrace_lambda;
    o.rho_bar = config_.rho_bar;
    o.c_bar = config_.c_bar;
    ComputeVTrace(T, N, log_ratio.data_ptr<float>(), u.rewards.data(), v_det.data_ptr<float>(),
                  next_values.contiguous().data_ptr<float>(), dones.data(), o, vs.data_ptr<float>(),
                  adv.data_ptr<float>(), rho.data_ptr<float>());
    log_pis.push_back(log_pi);
    entropies.push_back(head.dist.entropy());
    values.push_back(value);
    vs_all.push_back(vs);
    adv_all.push_back(adv);
    rho_sum += rho.sum().item<double>();
    rho_count += T * N;
    const double l = static_cast<double>(version_ - u.version);
    lag += l;
    lag_max = std::max(lag_max, l);
    num_timesteps_ += T * N;
    for (size_t e = 0; e < u.episode_returns.size(); ++e) episodes_.Add(u.episode_returns[e], u.episode_lengths[e]);
  }
  const torch::Tensor log_pi = torch::cat(log_pis), entropy = torch::cat(entropies), value = torch::cat(values);
  const torch::Tensor vs = torch::cat(vs_all), adv = torch::cat(adv_all);
  const torch::Tensor policy_loss = -(log_pi * adv).mean();
  const torch::Tensor value_loss = (vs - value).pow(2).mean();
  const torch::Tensor entropy_mean = entropy.mean();
  const torch::Tensor loss = policy_loss + config_.vf_coef * value_loss - config_.ent_coef * entropy_mean;
  const double loss_value = loss.item<double>();
  CheckFiniteLoss(loss_value, "IMPALA loss");
  optimizer_->zero_grad();
  loss.backward();
  const double grad_norm = ClipGradientsOrThrow(*net_, config_.max_grad_norm, num_timesteps_);
  optimizer_->step();
  ++version_;
  ++updates_;
  Publish();
  const double n = static_cast<double>(unrolls.size());
  Metrics m = {{"policy_loss", policy_loss.item<double>()},
               {"value_loss", value_loss.item<double>()},
               {"entropy", entropy_mean.item<double>()},
               {"loss", loss_value},
               {"grad_norm", grad_norm},
               {"learning_rate", lr},
               {"policy_lag", lag / n},
               {"policy_lag_max", lag_max},
               {"rho_mean", rho_sum / static_cast<double>(std::max<int64_t>(rho_count, 1))},
               {"unrolls", n},
               {"actors", static_cast<double>(config_.num_actors + (remote_ ? remote_->actors() : 0))},
               {"n_updates", static_cast<double>(updates_)},
               {"time_wait", std::chrono::duration<double>(t1 - t0).count()},
               {"time_update", std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count()}};
  if (num_timesteps_ >= ctx_.run.total_steps) StopActors();
  return m;
}

std::unique_ptr<Policy> Impala::MakePolicy(bool deterministic) {
  return std::make_unique<ActorCriticPolicy>(net_, obs_space_, act_space_, deterministic,
                                             static_cast<uint64_t>(ctx_.run.seed) + 7);
}

void Impala::VisitState(StateVisitor& v) {
  VisitModule(v, "policy", *net_);
  VisitOptimizer(v, "optimizer", *optimizer_);
  v("num_timesteps", &num_timesteps_);
  v("version", &version_);
  v("updates", &updates_);
  if (v.loading()) Publish();
}

runtime::Model Impala::ExportModel() { return ExportActorCritic(*net_, obs_space_, act_space_, std::nullopt, 10.0); }

void RunImpalaActor(const RunContext& ctx, const ImpalaConfig& config, const dist::JobEnv& job) {
  ImpalaStoreChannel channel(dist::MakeStore(job, dist::DefaultTimeout()));
  // The learner publishes what its actors must match before anything else.
  const std::string learner = channel.WaitSignature(dist::DefaultTimeout());
  const std::string mine = ImpalaActor(ctx, config, 0).Signature();
  RLF_CHECK_ARG(mine == learner, "impala actor (rank ", job.rank, "): this actor's ", mine,
                " differs from the learner's ", learner, "; run the actors with the learner's config");
  // Seeded by the id the store hands out, so no two actors share a stream.
  const int64_t id = channel.Register();
  ImpalaActor actor(ctx, config, config.num_actors + id);
  actor.set_channel_id(id);
  std::atomic<bool> stop{false};
  try {
    actor.Run(channel, stop);
    channel.ConfirmExit();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw Error(StrCat("impala actor (rank ", job.rank, "): lost the learner's store at ", job.master_addr, ":",
                       job.master_port, " (", what, ")"));
  }
}

}  // namespace rlforge
