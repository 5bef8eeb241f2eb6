#include "rlforge/algos/dqn/dqn.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "rlforge/algos/flat_adam.h"
#include "rlforge/train/checkpoint.h"

namespace rlforge {

void DqnConfig::Visit(FieldVisitor& v) {
  v.Field("learning_rate", &learning_rate, "Adam learning rate (number or lin_<start>)");
  v.Field("buffer_size", &buffer_size, "replay capacity in transitions");
  v.Field("learning_starts", &learning_starts, "env steps before the first update");
  v.Field("batch_size", &batch_size, "minibatch size");
  v.Field("tau", &tau, "target update coefficient (1: hard copy)");
  v.Field("gamma", &gamma, "discount factor");
  v.Field("train_freq", &train_freq, "env steps per env between update phases");
  v.Field("gradient_steps", &gradient_steps, "gradient steps per update phase");
  v.Field("target_update_interval", &target_update_interval, "env steps between target-network updates");
  v.Field("exploration_fraction", &exploration_fraction, "fraction of training over which epsilon decays");
  v.Field("exploration_initial_eps", &exploration_initial_eps, "epsilon at the start");
  v.Field("exploration_final_eps", &exploration_final_eps, "epsilon after the decay");
  v.Field("max_grad_norm", &max_grad_norm, "global gradient-norm clip");
  v.Field("double_q", &double_q, "Double DQN targets");
  v.Field("loss", &loss, "huber or mse");
  v.Field("save_replay", &save_replay, "store the replay buffer in checkpoints (exact resume)");
  v.Field("fast_update", &fast_update, "hand-written forward/backward instead of autograd");
  v.Field("prioritized_replay", &prioritized_replay, "prioritized experience replay (sum tree)");
  v.Field("prioritized_alpha", &prioritized_alpha, "priority exponent alpha");
  v.Field("prioritized_beta0", &prioritized_beta0, "initial importance-weight exponent (annealed to 1)");
  v.Field("prioritized_eps", &prioritized_eps, "added to |TD error| in priorities");
  v.Field("net_arch", &net_arch, "hidden layer sizes of the Q-network");
  v.Field("activation", &activation, "tanh or relu");
}

void DqnConfig::Validate() const {
  RLF_CHECK_ARG(learning_rate.start > 0, "config key 'learning_rate' must be > 0");
  RLF_CHECK_ARG(buffer_size >= 1, "config key 'buffer_size' must be >= 1");
  RLF_CHECK_ARG(learning_starts >= 0, "config key 'learning_starts' must be >= 0");
  RLF_CHECK_ARG(batch_size >= 1, "config key 'batch_size' must be >= 1");
  RLF_CHECK_ARG(tau > 0 && tau <= 1, "config key 'tau' must be in (0, 1]");
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1]");
  RLF_CHECK_ARG(train_freq >= 1, "config key 'train_freq' must be >= 1");
  RLF_CHECK_ARG(gradient_steps >= 0, "config key 'gradient_steps' must be >= 0");
  RLF_CHECK_ARG(target_update_interval >= 1, "config key 'target_update_interval' must be >= 1");
  RLF_CHECK_ARG(loss == "huber" || loss == "mse", "config key 'loss' must be huber or mse, got '", loss, "'");
  for (double e : {exploration_initial_eps, exploration_final_eps, exploration_fraction})
    RLF_CHECK_ARG(e >= 0 && e <= 1, "exploration settings must be in [0, 1], got ", e);
}

QNetworkImpl::QNetworkImpl(int64_t in, int64_t actions, const std::vector<int64_t>& net_arch,
                           const std::string& activation) {
  torso_ = register_module("torso", Mlp(in, net_arch, activation, /*ortho_init=*/false));
  head_ = register_module("head", torch::nn::Linear(torso_->out_features(), actions));
}

torch::Tensor QNetworkImpl::forward(torch::Tensor x) { return head_->forward(torso_->forward(x)); }

std::vector<torch::nn::Linear> QNetworkImpl::layers() const {
  auto out = torso_->layers();
  out.push_back(head_);
  return out;
}

int64_t FeatureSize(const Space& s) { return s.kind() == SpaceKind::kDiscrete ? s.n() : s.size(); }

void ObservationFeatures(const Space& s, const void* obs, int64_t rows, float* out) {
  const int64_t d = FeatureSize(s);
  if (s.kind() == SpaceKind::kDiscrete) {
    std::fill(out, out + rows * d, 0.0f);
    const auto* o = static_cast<const int64_t*>(obs);
    for (int64_t i = 0; i < rows; ++i) out[i * d + (o[i] - s.start())] = 1.0f;
    return;
  }
  for (int64_t k = 0; k < rows * d; ++k) out[k] = static_cast<float>(ReadElement(obs, s.dtype(), k));
}

namespace {
// Q values with illegal actions at -inf; mask [B, A] uint8 or null.
torch::Tensor MaskQ(torch::Tensor q, const uint8_t* mask) {
  if (!mask) return q;
  auto m = torch::from_blob(const_cast<uint8_t*>(mask), q.sizes(), torch::kUInt8).to(torch::kBool);
  return q.masked_fill(m.logical_not(), -std::numeric_limits<float>::infinity());
}
}  // namespace

Dqn::Dqn(const std::string& env_id, const Kwargs& env_kwargs, int num_envs, int env_threads, uint64_t seed,
         const DqnConfig& config, int64_t total_steps)
    : config_(config),
      total_steps_(total_steps),
      replay_(1, 1, 0),
      priorities_(1),
      rng_(seed ^ 0xD0D0) {
  config_.Validate();
  VectorEnvOptions opt;
  opt.num_envs = num_envs;
  opt.num_threads = env_threads;
  envs_ = VectorEnv::Make(env_id, env_kwargs, opt);
  obs_space_ = envs_->single_observation_space();
  act_space_ = envs_->single_action_space();
  RLF_CHECK_ARG(act_space_.kind() == SpaceKind::kDiscrete, "DQN needs a Discrete action space; ", env_id, " has ",
                act_space_.ToString());
  RLF_CHECK_ARG(obs_space_.kind() == SpaceKind::kDiscrete ||
                    (obs_space_.kind() == SpaceKind::kBox && obs_space_.shape().size() == 1),
                "DQN here takes Discrete or flat Box observations; ", env_id, " has ", obs_space_.ToString());
  obs_dim_ = FeatureSize(obs_space_);
  num_actions_ = act_space_.n();
  torch::manual_seed(seed);
  q_ = QNetwork(obs_dim_, num_actions_, config.net_arch, config.activation);
  target_ = QNetwork(obs_dim_, num_actions_, config.net_arch, config.activation);
  {
    torch::NoGradGuard g;
    auto src = q_->parameters(), dst = target_->parameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  }
  optimizer_ = std::make_unique<FlatAdam>(q_->parameters(), torch::optim::AdamOptions(config.learning_rate.Value(1.0)));
  replay_ = ReplayBuffer(config.buffer_size, obs_dim_, envs_->has_action_mask() ? envs_->mask_size() : 0);
  fast_ = config.fast_update;
  if (config.prioritized_replay) priorities_ = SumTree(config.buffer_size);
  online_.layers = online_next_.layers = q_->layers();
  target_kernel_.layers = target_->layers();
  online_.tanh = online_next_.tanh = target_kernel_.tanh = q_->tanh();
  envs_->Reset(seed);
}

double Dqn::epsilon() const {
  return LinearDecay(static_cast<double>(steps_) / std::max<double>(1.0, total_steps_),
                     config_.exploration_initial_eps, config_.exploration_final_eps, config_.exploration_fraction);
}

void Dqn::Features(const void* obs, int64_t rows, float* out) const { ObservationFeatures(obs_space_, obs, rows, out); }

Metrics Dqn::Iterate() {
  const int n = envs_->num_envs();
  const int64_t m = envs_->has_action_mask() ? envs_->mask_size() : 0;
  std::vector<float> obs(n * obs_dim_), next(n * obs_dim_);
  std::vector<int64_t> actions(n), env_actions(n);
  for (int64_t k = 0; k < config_.train_freq && steps_ < total_steps_; ++k) {
    const double eps = epsilon();
    Features(envs_->observations(), n, obs.data());
    const uint8_t* masks = envs_->action_masks();
    bool need_greedy = false;
    for (int i = 0; i < n; ++i) {
      if (rng_.Uniform() < eps) {
        act_space_.Sample(rng_, &actions[i], masks ? masks + i * m : nullptr);
        actions[i] -= act_space_.start();
      } else {
        actions[i] = -1;
        need_greedy = true;
      }
    }
    if (need_greedy) {
      torch::NoGradGuard g;
      auto q = MaskQ(q_->forward(torch::from_blob(obs.data(), {n, obs_dim_})), masks);
      auto best = q.argmax(1);
      for (int i = 0; i < n; ++i)
        if (actions[i] < 0) actions[i] = best[i].item<int64_t>();
    }
    for (int i = 0; i < n; ++i) env_actions[i] = actions[i] + act_space_.start();
    envs_->Step(env_actions.data());
    Features(envs_->observations(), n, next.data());
    for (int i = 0; i < n; ++i) {
      const bool term = envs_->terminated()[i], trunc = envs_->truncated()[i];
      const uint8_t* next_mask = m ? envs_->action_masks() + i * m : nullptr;
      float* next_row = next.data() + i * obs_dim_;
      if (term || trunc) {
        // The row held the next episode's first observation; the transition
        // needs the final one (nothing reads the row after this).
        Features(static_cast<const uint8_t*>(envs_->final_observations()) + i * obs_space_.nbytes(), 1, next_row);
        if (m) next_mask = envs_->final_action_masks() + i * m;
        episodes_.Add(envs_->episode_return(i), envs_->episode_length(i));
      }
      const int64_t slot =
          replay_.Add(obs.data() + i * obs_dim_, next_row, actions[i], envs_->rewards()[i], term, next_mask);
      if (config_.prioritized_replay) priorities_.Set(slot, std::pow(max_priority_, config_.prioritized_alpha));
    }
    steps_ += n;
    if (steps_ - last_target_update_ >= config_.target_update_interval) {
      torch::NoGradGuard g;
      auto src = q_->parameters(), dst = target_->parameters();
      for (size_t i = 0; i < src.size(); ++i) dst[i].mul_(1 - config_.tau).add_(src[i], config_.tau);
      last_target_update_ = steps_;
    }
  }
  double loss_sum = 0;
  int64_t done = 0;
  if (steps_ >= config_.learning_starts && replay_.size() > 0) {
    const double progress_remaining = std::max(0.0, 1.0 - static_cast<double>(steps_) / std::max<double>(1, total_steps_));
    static_cast<torch::optim::AdamOptions&>(optimizer_->param_groups()[0].options())
        .lr(config_.learning_rate.Value(progress_remaining));
    for (int64_t g = 0; g < config_.gradient_steps; ++g, ++done) loss_sum += fast_ ? FastUpdate() : Update();
  }
  Metrics out = {{"epsilon", epsilon()}, {"replay_size", static_cast<double>(replay_.size())},
                 {"n_updates", static_cast<double>(updates_)}};
  if (done) out["loss"] = loss_sum / done;
  return out;
}

double Dqn::Update() {
  const int64_t B = config_.batch_size, m = replay_.mask_size();
  SampleBatch();
  auto obs = torch::from_blob(batch_.obs.data(), {B, obs_dim_});
  auto next = torch::from_blob(batch_.next_obs.data(), {B, obs_dim_});
  auto actions = torch::from_blob(batch_.action.data(), {B}, torch::kLong);
  auto rewards = torch::from_blob(batch_.reward.data(), {B});
  auto not_done = 1.0 - torch::from_blob(batch_.terminated.data(), {B}, torch::kUInt8).to(torch::kFloat32);
  torch::Tensor target;
  {
    torch::NoGradGuard g;
    const uint8_t* mask = m ? batch_.next_mask.data() : nullptr;
    auto next_target = MaskQ(target_->forward(next), mask);
    torch::Tensor next_v;
    if (config_.double_q) {
      auto a_star = MaskQ(q_->forward(next), mask).argmax(1, /*keepdim=*/true);
      next_v = next_target.gather(1, a_star).squeeze(1);
    } else {
      next_v = std::get<0>(next_target.max(1));
    }
    // A terminal state's value is never used (not_done = 0); guard -inf for
    // rows whose every next action is illegal.
    next_v = torch::where(torch::isfinite(next_v), next_v, torch::zeros_like(next_v));
    target = rewards + config_.gamma * not_done * next_v;
  }
  auto q = q_->forward(obs).gather(1, actions.unsqueeze(1)).squeeze(1);
  auto weights = torch::from_blob(weights_.data(), {B});
  auto per_sample = config_.loss == "huber"
                        ? torch::smooth_l1_loss(q, target, torch::Reduction::None)
                        : torch::mse_loss(q, target, torch::Reduction::None);
  auto loss = (weights * per_sample).mean();
  {
    auto d = (q - target).detach().to(torch::kFloat64).contiguous();
    UpdatePriorities(std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + B));
  }
  const double lv = loss.item<double>();
  if (!std::isfinite(static_cast<float>(lv)))
    throw Error(StrCat("the DQN loss is not finite (", lv, ") at step ", steps_,
                       "; training stopped (the last checkpoint is kept)"));
  optimizer_->zero_grad();
  loss.backward();
  const double norm = ClipGradNorm(q_->parameters(), config_.max_grad_norm);
  RLF_CHECK(std::isfinite(norm), "non-finite DQN gradient at step ", steps_, "; training stopped");
  optimizer_->step();
  ++updates_;
  return lv;
}

void Dqn::SampleBatch() {
  const int64_t B = config_.batch_size;
  slots_.resize(B);
  weights_.assign(B, 1.0f);
  if (!config_.prioritized_replay) {
    for (auto& slot : slots_) slot = static_cast<int64_t>(rng_.UniformInt(replay_.size()));
    replay_.Gather(slots_, &batch_);
    return;
  }
  // Stratified: one draw from each of B equal slices of the total priority.
  const double total = priorities_.Total();
  const double beta = config_.prioritized_beta0 + (1.0 - config_.prioritized_beta0) *
                                                      std::min(1.0, static_cast<double>(steps_) / std::max<double>(1, total_steps_));
  double max_w = 0;
  for (int64_t k = 0; k < B; ++k) {
    const double u = (k + rng_.Uniform()) * total / B;
    slots_[k] = std::min(priorities_.Find(u), replay_.size() - 1);
    const double p = std::max(priorities_.Get(slots_[k]), 1e-12) / total;
    weights_[k] = static_cast<float>(std::pow(static_cast<double>(replay_.size()) * p, -beta));
    max_w = std::max(max_w, static_cast<double>(weights_[k]));
  }
  for (auto& w : weights_) w = static_cast<float>(w / max_w);
  replay_.Gather(slots_, &batch_);
}

void Dqn::UpdatePriorities(const std::vector<double>& td) {
  if (!config_.prioritized_replay) return;
  for (size_t k = 0; k < td.size(); ++k) {
    const double p = std::abs(td[k]) + config_.prioritized_eps;
    max_priority_ = std::max(max_priority_, p);
    priorities_.Set(slots_[k], std::pow(p, config_.prioritized_alpha));
  }
}

double Dqn::FastUpdate() {
  const int64_t B = config_.batch_size, m = replay_.mask_size(), A = num_actions_, D = obs_dim_;
  SampleBatch();
  std::vector<double> td(B);
  const uint8_t* mask = m ? batch_.next_mask.data() : nullptr;
  target_kernel_.Forward(batch_.next_obs.data(), B, D);
  if (config_.double_q) online_next_.Forward(batch_.next_obs.data(), B, D);
  online_.Forward(batch_.obs.data(), B, D);
  online_.d_out.assign(static_cast<size_t>(B * A), 0.0f);
  double loss = 0;
  for (int64_t i = 0; i < B; ++i) {
    const float* tq = target_kernel_.out.data() + i * A;
    const float* choose = config_.double_q ? online_next_.out.data() + i * A : tq;
    int64_t best = -1;
    for (int64_t a = 0; a < A; ++a)
      if ((!mask || mask[i * A + a]) && (best < 0 || choose[a] > choose[best])) best = a;
    const double next_v = best < 0 ? 0.0 : tq[best];
    const double y = batch_.reward[i] + config_.gamma * (batch_.terminated[i] ? 0.0 : next_v);
    const double d = online_.out[i * A + batch_.action[i]] - y;
    td[i] = d;
    const double w = weights_[i];
    double grad;
    if (config_.loss == "huber") {
      loss += w * (std::abs(d) < 1 ? 0.5 * d * d : std::abs(d) - 0.5);
      grad = std::abs(d) < 1 ? d : (d > 0 ? 1.0 : -1.0);
    } else {
      loss += w * d * d;
      grad = 2 * d;
    }
    online_.d_out[i * A + batch_.action[i]] = static_cast<float>(w * grad / B);
  }
  loss /= B;
  if (!std::isfinite(static_cast<float>(loss)))
    throw Error(StrCat("the DQN loss is not finite (", loss, ") at step ", steps_,
                       "; training stopped (the last checkpoint is kept)"));
  online_.Backward(batch_.obs.data(), B, D);
  UpdatePriorities(td);
  const double norm = ClipGradNorm(q_->parameters(), config_.max_grad_norm);
  RLF_CHECK(std::isfinite(norm), "non-finite DQN gradient at step ", steps_, "; training stopped");
  optimizer_->step();
  ++updates_;
  return loss;
}

void Dqn::TakeFinishedEpisodes(std::vector<double>* returns, std::vector<int64_t>* lengths) {
  episodes_.Take(returns, lengths);
}

void Dqn::Save(const std::string& path) const {
  torch::serialize::OutputArchive archive, q, t, opt;
  q_->save(q);
  target_->save(t);
  optimizer_->save(opt);
  archive.write("q", q);
  archive.write("target", t);
  archive.write("optimizer", opt);
  archive.write("rng", RngStateTensor(rng_));
  archive.write("counters", torch::tensor(std::vector<int64_t>{steps_, updates_, last_target_update_}, torch::kLong));
  std::string env_state, replay;
  envs_->SaveState(&env_state);
  archive.write("env_state", torch::from_blob(env_state.data(), {static_cast<int64_t>(env_state.size())},
                                              torch::kUInt8).clone());
  if (config_.save_replay && config_.prioritized_replay) {
    archive.write("priorities", torch::tensor(priorities_.nodes(), torch::kFloat64));
    archive.write("max_priority", torch::tensor(max_priority_, torch::kFloat64));
  }
  if (config_.save_replay) {
    replay_.Save(&replay);
    archive.write("replay", torch::from_blob(replay.data(), {static_cast<int64_t>(replay.size())}, torch::kUInt8).clone());
  }
  SaveArchiveAtomically(archive, path);
}

void Dqn::Load(const std::string& path) {
  torch::serialize::InputArchive archive;
  LoadArchive(path, &archive);
  try {
    torch::serialize::InputArchive q, t, opt;
    archive.read("q", q);
    q_->load(q);
    archive.read("target", t);
    target_->load(t);
    archive.read("optimizer", opt);
    optimizer_->load(opt);
    torch::Tensor rng, counters, env_state;
    archive.read("rng", rng);
    SetRngState(rng, &rng_);
    archive.read("counters", counters);
    steps_ = counters[0].item<int64_t>();
    updates_ = counters[1].item<int64_t>();
    last_target_update_ = counters[2].item<int64_t>();
    archive.read("env_state", env_state);
    envs_->LoadState(std::string(static_cast<const char*>(env_state.data_ptr()), env_state.numel()));
    if (config_.save_replay && config_.prioritized_replay) {
      torch::Tensor nodes, maxp;
      archive.read("priorities", nodes);
      archive.read("max_priority", maxp);
      RLF_CHECK(nodes.numel() == static_cast<int64_t>(priorities_.nodes().size()), "priority tree size mismatch");
      std::memcpy(priorities_.mutable_nodes().data(), nodes.contiguous().data_ptr<double>(),
                  priorities_.nodes().size() * sizeof(double));
      max_priority_ = maxp.item<double>();
    }
    if (config_.save_replay) {
      torch::Tensor replay;
      archive.read("replay", replay);
      replay_.Load(std::string(static_cast<const char*>(replay.data_ptr()), replay.numel()));
    }
  } catch (const c10::Error& e) {
    throw Error(StrCat("checkpoint ", path, " is corrupt or from another configuration: ", e.what_without_backtrace()));
  }
}

std::unique_ptr<Policy> Dqn::MakePolicy(bool /*deterministic*/) {
  return std::make_unique<QNetworkPolicy>(q_, obs_space_, act_space_);
}

QNetworkPolicy::QNetworkPolicy(QNetwork net, Space obs_space, Space act_space)
    : net_(std::move(net)), obs_space_(std::move(obs_space)), act_space_(std::move(act_space)) {}

void QNetworkPolicy::Act(const void* observations, const uint8_t* masks, int n, void* actions) {
  torch::NoGradGuard g;
  const int64_t d = FeatureSize(obs_space_);
  std::vector<float> feats(n * d);
  ObservationFeatures(obs_space_, observations, n, feats.data());
  auto q = MaskQ(net_->forward(torch::from_blob(feats.data(), {n, d})), masks);
  auto best = q.argmax(1);
  auto* out = static_cast<int64_t*>(actions);
  for (int i = 0; i < n; ++i) out[i] = best[i].item<int64_t>() + act_space_.start();
}

}  // namespace rlforge
