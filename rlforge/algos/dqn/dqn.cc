#include "rlforge/algos/dqn/dqn.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "rlforge/algos/flat_adam.h"
#include "rlforge/env/registry.h"
#include "rlforge/train/checkpoint.h"
#include "rlforge/train/demonstrations.h"
#include "rlforge/train/scripted_policy.h"

namespace rlforge {

void DqnConfig::Visit(FieldVisitor& v) {
  v.Field("learning_rate", &learning_rate, "Adam learning rate (number or lin_<start>)");
  v.Field("buffer_size", &buffer_size, "replay capacity in transitions");
  v.Field("learning_starts", &learning_starts, "env steps before the first update");
  v.Field("batch_size", &batch_size, "minibatch size");
  v.Field("tau", &tau, "target update coefficient (1: hard copy)");
  v.Field("gamma", &gamma, "discount factor");
  v.Field("train_freq", &train_freq, "env steps per env between update phases");
  v.Field("gradient_steps", &gradient_steps, "gradient steps per update phase (-1: one per env step collected)");
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
  v.Field("recency_decay", &recency_decay,
          "recency-weighted replay: sampling weight decays by this factor per transition of age (1: uniform)");
  v.Field("n_step", &n_step, "n-step returns");
  v.Field("dueling", &dueling, "dueling value/advantage head");
  v.Field("net_arch", &net_arch, "hidden layer sizes of the Q-network (after the CNN for images)");
  v.Field("activation", &activation, "tanh or relu");
  v.Field("demo_policy", &demo_policy, "scripted policy whose demonstrations are learned from (DQfD), e.g. heuristic");
  v.Field("demo_episodes", &demo_episodes, "demonstration episodes recorded");
  v.Field("demo_pretrain_steps", &demo_pretrain_steps, "gradient steps on the demonstrations alone before training");
  v.Field("demo_fraction", &demo_fraction, "share of each minibatch drawn from the demonstrations");
  v.Field("demo_margin", &demo_margin, "margin of the supervised large-margin loss");
  v.Field("demo_margin_weight", &demo_margin_weight, "weight of the supervised large-margin loss");
}

void DqnConfig::Validate() const {
  RLF_CHECK_ARG(learning_rate.start > 0, "config key 'learning_rate' must be > 0");
  RLF_CHECK_ARG(buffer_size >= 1, "config key 'buffer_size' must be >= 1");
  RLF_CHECK_ARG(learning_starts >= 0, "config key 'learning_starts' must be >= 0");
  RLF_CHECK_ARG(batch_size >= 1, "config key 'batch_size' must be >= 1");
  RLF_CHECK_ARG(tau > 0 && tau <= 1, "config key 'tau' must be in (0, 1]");
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1]");
  RLF_CHECK_ARG(train_freq >= 1, "config key 'train_freq' must be >= 1");
  RLF_CHECK_ARG(gradient_steps >= -1, "config key 'gradient_steps' must be >= 0, or -1 (one per env step)");
  RLF_CHECK_ARG(recency_decay > 0 && recency_decay <= 1, "config key 'recency_decay' must be in (0, 1], got ",
                recency_decay);
  RLF_CHECK_ARG(!(prioritized_replay && recency_decay < 1),
                "prioritized_replay and recency_decay < 1 are two different samplers; choose one");
  RLF_CHECK_ARG(n_step >= 1 && n_step <= 1000, "config key 'n_step' must be in [1, 1000], got ", n_step);
  RLF_CHECK_ARG(prioritized_alpha >= 0, "config key 'prioritized_alpha' must be >= 0");
  RLF_CHECK_ARG(prioritized_beta0 >= 0 && prioritized_beta0 <= 1, "config key 'prioritized_beta0' must be in [0, 1]");
  RLF_CHECK_ARG(prioritized_eps > 0, "config key 'prioritized_eps' must be > 0");
  RLF_CHECK_ARG(target_update_interval >= 1, "config key 'target_update_interval' must be >= 1");
  RLF_CHECK_ARG(loss == "huber" || loss == "mse", "config key 'loss' must be huber or mse, got '", loss, "'");
  for (double e : {exploration_initial_eps, exploration_final_eps, exploration_fraction})
    RLF_CHECK_ARG(e >= 0 && e <= 1, "exploration settings must be in [0, 1], got ", e);
  if (!demo_policy.empty()) {
    RLF_CHECK_ARG(IsScriptedPolicy(demo_policy), "config key 'demo_policy': '", demo_policy,
                  "' is not a scripted policy (random, heuristic, perfect, alphabeta:DEPTH)");
    RLF_CHECK_ARG(demo_episodes >= 1, "config key 'demo_episodes' must be >= 1, got ", demo_episodes);
    RLF_CHECK_ARG(demo_pretrain_steps >= 0, "config key 'demo_pretrain_steps' must be >= 0");
    RLF_CHECK_ARG(demo_fraction >= 0 && demo_fraction < 1, "config key 'demo_fraction' must be in [0, 1), got ",
                  demo_fraction);
    RLF_CHECK_ARG(demo_margin >= 0 && demo_margin_weight >= 0,
                  "config keys 'demo_margin' and 'demo_margin_weight' must be >= 0");
  }
}

bool IsImageSpace(const Space& s) {
  return s.kind() == SpaceKind::kBox && s.dtype() == DType::kUInt8 && s.shape().size() == 3;
}

namespace {
// [C, H, W] of an image space, and whether it is stored [H, W, C].
std::vector<int64_t> ImageChw(const Space& s, bool* channels_last) {
  const auto& d = s.shape();
  *channels_last = d[2] <= 4 && d[0] > 4;
  return *channels_last ? std::vector<int64_t>{d[2], d[0], d[1]} : d;
}
}  // namespace

int64_t FeatureSize(const Space& s) {
  switch (s.kind()) {
    case SpaceKind::kDiscrete: return s.n();
    case SpaceKind::kMultiDiscrete: {
      int64_t d = 0;
      for (int64_t n : s.nvec()) d += n;
      return d;
    }
    default: return s.size();
  }
}

void ObservationFeatures(const Space& s, const void* obs, int64_t rows, float* out) {
  const int64_t d = FeatureSize(s);
  switch (s.kind()) {
    case SpaceKind::kDiscrete: {
      std::fill(out, out + rows * d, 0.0f);
      const auto* o = static_cast<const int64_t*>(obs);
      for (int64_t i = 0; i < rows; ++i) out[i * d + (o[i] - s.start())] = 1.0f;
      return;
    }
    case SpaceKind::kMultiDiscrete: {
      std::fill(out, out + rows * d, 0.0f);
      const int64_t k = static_cast<int64_t>(s.nvec().size());
      for (int64_t i = 0; i < rows; ++i) {
        int64_t offset = 0;
        for (int64_t j = 0; j < k; ++j) {
          out[i * d + offset + static_cast<int64_t>(ReadElement(obs, s.dtype(), i * k + j))] = 1.0f;
          offset += s.nvec()[j];
        }
      }
      return;
    }
    default: break;
  }
  if (IsImageSpace(s)) {
    bool channels_last;
    const auto chw = ImageChw(s, &channels_last);
    const auto* px = static_cast<const uint8_t*>(obs);
    const int64_t c = chw[0], hw = chw[1] * chw[2];
    for (int64_t i = 0; i < rows; ++i) {
      const uint8_t* in = px + i * d;
      float* o = out + i * d;
      if (!channels_last) {
        for (int64_t k = 0; k < d; ++k) o[k] = in[k] * (1.0f / 255.0f);
      } else {
        for (int64_t p = 0; p < hw; ++p)
          for (int64_t ch = 0; ch < c; ++ch) o[ch * hw + p] = in[p * c + ch] * (1.0f / 255.0f);
      }
    }
    return;
  }
  if (s.dtype() == DType::kFloat32) {
    std::memcpy(out, obs, static_cast<size_t>(rows * d) * sizeof(float));
    return;
  }
  for (int64_t k = 0; k < rows * d; ++k) out[k] = static_cast<float>(ReadElement(obs, s.dtype(), k));
}

void DuelingForward(const float* raw, int64_t batch, int64_t actions, float* q) {
  for (int64_t i = 0; i < batch; ++i) {
    const float* r = raw + i * (actions + 1);
    double mean = 0;
    for (int64_t a = 0; a < actions; ++a) mean += r[1 + a];
    mean /= static_cast<double>(actions);
    for (int64_t a = 0; a < actions; ++a) q[i * actions + a] = static_cast<float>(r[0] + r[1 + a] - mean);
  }
}

void DuelingBackward(const float* d_q, int64_t batch, int64_t actions, float* d_raw) {
  for (int64_t i = 0; i < batch; ++i) {
    const float* g = d_q + i * actions;
    float* r = d_raw + i * (actions + 1);
    double sum = 0;
    for (int64_t a = 0; a < actions; ++a) sum += g[a];
    r[0] = static_cast<float>(sum);
    const double mean = sum / static_cast<double>(actions);
    for (int64_t a = 0; a < actions; ++a) r[1 + a] = static_cast<float>(g[a] - mean);
  }
}

QNetworkImpl::QNetworkImpl(const Space& obs_space, int64_t actions, const std::vector<int64_t>& net_arch,
                           const std::string& activation, bool dueling)
    : dueling_(dueling), actions_(actions) {
  int64_t in = FeatureSize(obs_space);
  if (IsImageSpace(obs_space)) {
    bool channels_last;
    chw_ = ImageChw(obs_space, &channels_last);
    cnn_ = register_module("cnn", NatureCnn(chw_));
    in = cnn_->out_features();
  }
  torso_ = register_module("torso", Mlp(in, net_arch, activation, /*ortho_init=*/false));
  head_ = register_module("head", torch::nn::Linear(torso_->out_features(), dueling ? actions + 1 : actions));
}

torch::Tensor QNetworkImpl::forward(torch::Tensor x) {
  if (!cnn_.is_empty()) x = cnn_->forward(x.view({x.size(0), chw_[0], chw_[1], chw_[2]}));
  auto out = head_->forward(torso_->forward(x));
  if (!dueling_) return out;
  auto adv = out.narrow(1, 1, actions_);
  return out.narrow(1, 0, 1) + adv - adv.mean(1, /*keepdim=*/true);
}

std::vector<torch::nn::Linear> QNetworkImpl::layers() const {
  auto out = torso_->layers();
  out.push_back(head_);
  return out;
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
      rng_(seed ^ 0xD0D0),
      env_id_(env_id),
      env_kwargs_(env_kwargs),
      seed_(seed),
      demo_replay_(1, 1, 0) {
  config_.Validate();
  VectorEnvOptions opt;
  opt.num_envs = num_envs;
  opt.num_threads = env_threads;
  envs_ = VectorEnv::Make(env_id, env_kwargs, opt);
  obs_space_ = envs_->single_observation_space();
  act_space_ = envs_->single_action_space();
  RLF_CHECK_ARG(act_space_.kind() == SpaceKind::kDiscrete, "DQN needs a Discrete action space; ", env_id, " has ",
                act_space_.ToString(),
                env_id == "TowerDefense-v0" ? " (set env_kwargs flat_actions: true for its Discrete encoding)" : "");
  const bool flat = obs_space_.kind() == SpaceKind::kDiscrete || obs_space_.kind() == SpaceKind::kMultiDiscrete ||
                    (obs_space_.kind() == SpaceKind::kBox && obs_space_.shape().size() == 1);
  RLF_CHECK_ARG(flat || IsImageSpace(obs_space_),
                "DQN takes Discrete, MultiDiscrete, flat Box or uint8 image observations; ", env_id, " has ",
                obs_space_.ToString());
  obs_dim_ = FeatureSize(obs_space_);
  num_actions_ = act_space_.n();
  if (!config_.demo_policy.empty()) CheckScriptedPolicyFits("demo_policy", config_.demo_policy, env_id, env_kwargs);
  torch::manual_seed(seed);
  q_ = QNetwork(obs_space_, num_actions_, config.net_arch, config.activation, config.dueling);
  target_ = QNetwork(obs_space_, num_actions_, config.net_arch, config.activation, config.dueling);
  SyncTarget(1.0);
  optimizer_ = std::make_unique<FlatAdam>(q_->parameters(), torch::optim::AdamOptions(config.learning_rate.Value(1.0)));
  replay_ = ReplayBuffer(config.buffer_size, obs_space_.nbytes(), envs_->has_action_mask() ? envs_->mask_size() : 0,
                         num_envs);
  fast_ = config.fast_update && !q_->image();
  if (config.prioritized_replay) priorities_ = SumTree(config.buffer_size);
  online_.layers = online_next_.layers = actor_.layers = q_->layers();
  target_kernel_.layers = target_->layers();
  online_.tanh = online_next_.tanh = target_kernel_.tanh = actor_.tanh = q_->tanh();
  envs_->Reset(seed);
}

double Dqn::epsilon() const {
  return LinearDecay(static_cast<double>(steps_) / std::max<double>(1.0, total_steps_),
                     config_.exploration_initial_eps, config_.exploration_final_eps, config_.exploration_fraction);
}

void Dqn::Features(const void* obs, int64_t rows, float* out) const { ObservationFeatures(obs_space_, obs, rows, out); }

double Dqn::flops_per_gradient_step() const {
  // Target forward (+ online forward of s' for Double DQN), online forward,
  // and backward (weight gradients everywhere, input gradients except the
  // first layer): 2 flops per multiply-add.
  double per_row = 0;
  const auto layers = q_->layers();
  for (size_t k = 0; k < layers.size(); ++k) {
    const double io = static_cast<double>(layers[k]->weight.numel());
    per_row += io * 2 * ((config_.double_q ? 3 : 2) + (k == 0 ? 1 : 2));
  }
  return per_row * static_cast<double>(config_.batch_size);
}

const float* Dqn::KernelQ(MlpKernel& k, int64_t rows, std::vector<float>* scratch) {
  if (!config_.dueling) return k.out.data();
  scratch->resize(static_cast<size_t>(rows * num_actions_));
  DuelingForward(k.out.data(), rows, num_actions_, scratch->data());
  return scratch->data();
}

void Dqn::Act(const float* features, const uint8_t* masks, int n, int64_t* actions) {
  const int64_t A = num_actions_;
  const float* q;
  torch::Tensor q_tensor;
  if (fast_) {
    actor_.Forward(features, n, obs_dim_);
    q = KernelQ(actor_, n, &act_scratch_);
  } else {
    torch::NoGradGuard g;
    q_tensor = q_->forward(torch::from_blob(const_cast<float*>(features), {n, obs_dim_})).contiguous();
    q = q_tensor.data_ptr<float>();
  }
  for (int i = 0; i < n; ++i) {
    if (actions[i] >= 0) continue;  // explored
    const uint8_t* m = masks ? masks + i * A : nullptr;
    int64_t best = -1;
    for (int64_t a = 0; a < A; ++a)
      if ((!m || m[a]) && (best < 0 || q[i * A + a] > q[i * A + best])) best = a;
    RLF_CHECK(best >= 0, "env ", i, " has no legal action");
    actions[i] = best;
  }
}

void Dqn::SyncTarget(double tau) {
  torch::NoGradGuard g;
  auto src = q_->parameters(), dst = target_->parameters();
  for (size_t i = 0; i < src.size(); ++i) {
    if (tau >= 1.0) {
      dst[i].copy_(src[i]);
    } else {
      dst[i].mul_(1 - tau).add_(src[i], tau);
    }
  }
}

void Dqn::PrepareDemonstrations() {
  if (config_.demo_policy.empty() || demo_replay_.size() > 0) return;
  auto env = Make(env_id_, env_kwargs_);
  auto demonstrator = MakeScriptedPolicy(config_.demo_policy, *env, seed_ ^ 0xD3D3ULL);
  const Demonstrations d = RecordDemonstrations(*env, *demonstrator, config_.demo_episodes, seed_ + 0x5EED0000ULL);
  const int64_t m = d.mask_size, ob = d.obs_bytes;
  RLF_CHECK(ob == static_cast<int64_t>(obs_space_.nbytes()) && m == replay_.mask_size(),
            "demonstrations of a different observation or mask size");
  demo_replay_ = ReplayBuffer(d.steps(), ob, m, 1);
  for (int64_t t = 0; t < d.steps(); ++t) {
    const uint8_t* o = d.obs.data() + d.row[t] * ob;
    demo_replay_.Add(o, o + ob, d.actions[t], d.rewards[t], d.terminated[t], d.truncated[t],
                     m ? d.legal_masks.data() + (d.row[t] + 1) * m : nullptr);
  }
  demo_masks_ = d.action_masks;
  demo_return_ = d.mean_return();
  if (steps_ > 0 || updates_ > 0 || config_.demo_pretrain_steps == 0) return;  // resumed, or no pretraining
  pretraining_ = true;
  static_cast<torch::optim::AdamOptions&>(optimizer_->param_groups()[0].options()).lr(config_.learning_rate.Value(1.0));
  for (int64_t g = 1; g <= config_.demo_pretrain_steps; ++g) {
    GradientStep();
    if (g % 1000 == 0) SyncTarget(1.0);
  }
  SyncTarget(1.0);
  pretraining_ = false;
  // How often the greedy action is the demonstrated one.
  torch::NoGradGuard no_grad;
  const int64_t S = d.steps();
  std::vector<float> feats(static_cast<size_t>(S * obs_dim_));
  const std::vector<uint8_t> step_obs = d.StepObservations();
  Features(step_obs.data(), S, feats.data());
  int64_t hits = 0;
  for (int64_t start = 0; start < S; start += 2048) {
    const int64_t n = std::min<int64_t>(2048, S - start);
    auto q = MaskQ(q_->forward(torch::from_blob(feats.data() + start * obs_dim_, {n, obs_dim_})),
                   m ? demo_masks_.data() + start * m : nullptr);
    auto best = q.argmax(1).contiguous();
    for (int64_t i = 0; i < n; ++i) hits += best.data_ptr<int64_t>()[i] == d.actions[start + i];
  }
  demo_accuracy_ = static_cast<double>(hits) / S;
}

Metrics Dqn::Iterate() {
  using Clock = std::chrono::steady_clock;
  PrepareDemonstrations();
  const auto t_start = Clock::now();
  double t_env = 0;
  const int n = envs_->num_envs();
  const int64_t m = envs_->has_action_mask() ? envs_->mask_size() : 0;
  const int64_t obs_bytes = obs_space_.nbytes();
  // Buffers sized once (the vector env's size never changes).
  std::vector<float>& obs = act_features_;
  std::vector<int64_t>& actions = act_actions_;
  std::vector<int64_t>& env_actions = act_env_actions_;
  std::vector<uint8_t>& prev_obs = act_prev_obs_;
  obs.resize(static_cast<size_t>(n * obs_dim_));
  actions.resize(n);
  env_actions.resize(n);
  prev_obs.resize(static_cast<size_t>(n * obs_bytes));
  const int64_t steps_before = steps_;
  for (int64_t k = 0; k < config_.train_freq && steps_ < total_steps_; ++k) {
    const double eps = epsilon();
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
      Features(envs_->observations(), n, obs.data());
      Act(obs.data(), masks, n, actions.data());
    }
    for (int i = 0; i < n; ++i) env_actions[i] = actions[i] + act_space_.start();
    std::memcpy(prev_obs.data(), envs_->observations(), prev_obs.size());
    const auto t_env0 = Clock::now();
    envs_->Step(env_actions.data());
    t_env += std::chrono::duration<double>(Clock::now() - t_env0).count();
    const auto* next = static_cast<const uint8_t*>(envs_->observations());
    const auto* final_obs = static_cast<const uint8_t*>(envs_->final_observations());
    for (int i = 0; i < n; ++i) {
      const bool term = envs_->terminated()[i], trunc = envs_->truncated()[i];
      const uint8_t* next_mask = m ? envs_->action_masks() + i * m : nullptr;
      const uint8_t* next_row = next + i * obs_bytes;
      if (term || trunc) {
        // The env row holds the next episode's first observation; the
        // transition needs the final one.
        next_row = final_obs + i * obs_bytes;
        if (m) next_mask = envs_->final_action_masks() + i * m;
        episodes_.Add(envs_->episode_return(i), envs_->episode_length(i));
      }
      const int64_t slot = replay_.Add(prev_obs.data() + i * obs_bytes, next_row, actions[i], envs_->rewards()[i],
                                       term, trunc, next_mask);
      if (config_.prioritized_replay) priorities_.Set(slot, std::pow(max_priority_, config_.prioritized_alpha));
    }
    steps_ += n;
    if (steps_ - last_target_update_ >= config_.target_update_interval) {
      SyncTarget(config_.tau);
      last_target_update_ = steps_;
    }
  }
  const auto t_update0 = Clock::now();
  double loss_sum = 0;
  int64_t done = 0;
  time_sample_ = 0;
  if (steps_ >= config_.learning_starts && replay_.size() > 0) {
    const double progress_remaining = std::max(0.0, 1.0 - static_cast<double>(steps_) / std::max<double>(1, total_steps_));
    static_cast<torch::optim::AdamOptions&>(optimizer_->param_groups()[0].options())
        .lr(config_.learning_rate.Value(progress_remaining));
    const int64_t grad_steps = config_.gradient_steps < 0 ? steps_ - steps_before : config_.gradient_steps;
    for (int64_t g = 0; g < grad_steps; ++g, ++done) loss_sum += GradientStep();
  }
  const double t_update = std::chrono::duration<double>(Clock::now() - t_update0).count();
  const double t_total = std::chrono::duration<double>(Clock::now() - t_start).count();
  Metrics out = {{"epsilon", epsilon()},
                 {"replay_size", static_cast<double>(replay_.size())},
                 {"n_updates", static_cast<double>(updates_)},
                 {"time_env", t_env},
                 {"time_act", t_total - t_update - t_env},
                 {"time_update", t_update},
                 {"time_sample", time_sample_},
                 {"gradient_steps", static_cast<double>(done)}};
  if (done) out["loss"] = loss_sum / done;
  if (!config_.demo_policy.empty()) {
    out["demo_margin_loss"] = margin_loss_;
    out["demo_return"] = demo_return_;
    out["demo_steps"] = static_cast<double>(demo_replay_.size());
    if (demo_accuracy_ >= 0) out["demo_accuracy"] = demo_accuracy_;
  }
  return out;
}

void Dqn::SampleBatch() {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t B = config_.batch_size;
  // Demonstration rows go last: all of them while pretraining, else a share.
  const int64_t Bd = demo_replay_.size() == 0
                         ? 0
                         : (pretraining_ ? B : static_cast<int64_t>(std::llround(B * config_.demo_fraction)));
  const int64_t Ba = B - Bd;
  slots_.resize(Ba);
  weights_.assign(B, 1.0f);
  if (Ba > 0 && config_.prioritized_replay) {
    const double progress = std::min(1.0, static_cast<double>(steps_) / std::max<double>(1, total_steps_));
    const double beta = config_.prioritized_beta0 + (1.0 - config_.prioritized_beta0) * progress;
    SampleProportional(priorities_, replay_.size(), beta, rng_, &slots_, &agent_weights_);
    std::copy(agent_weights_.begin(), agent_weights_.end(), weights_.begin());
  } else if (Ba > 0 && config_.recency_decay < 1.0) {
    replay_.SampleRecent(rng_, config_.recency_decay, &slots_);
  } else {
    for (auto& slot : slots_) slot = replay_.SampleUniform(rng_);
  }
  replay_.Gather(slots_, static_cast<int>(config_.n_step), config_.gamma, &batch_);
  batch_demo_rows_ = Bd;
  if (Bd > 0) {
    demo_slots_.resize(Bd);
    for (auto& slot : demo_slots_) slot = demo_replay_.SampleUniform(rng_);
    demo_replay_.Gather(demo_slots_, static_cast<int>(config_.n_step), config_.gamma, &demo_batch_);
    auto append = [](auto& to, const auto& from) { to.insert(to.end(), from.begin(), from.end()); };
    append(batch_.obs, demo_batch_.obs), append(batch_.next_obs, demo_batch_.next_obs);
    append(batch_.reward, demo_batch_.reward), append(batch_.discount, demo_batch_.discount);
    append(batch_.action, demo_batch_.action), append(batch_.terminated, demo_batch_.terminated);
    append(batch_.next_mask, demo_batch_.next_mask);
    const int64_t m = demo_replay_.mask_size();
    batch_demo_masks_.resize(static_cast<size_t>(Bd * m));
    for (int64_t k = 0; k < Bd; ++k)
      std::copy_n(demo_masks_.begin() + demo_slots_[k] * m, m, batch_demo_masks_.begin() + k * m);
  }
  batch_obs_.resize(static_cast<size_t>(B * obs_dim_));
  batch_next_.resize(static_cast<size_t>(B * obs_dim_));
  Features(batch_.obs.data(), B, batch_obs_.data());
  Features(batch_.next_obs.data(), B, batch_next_.data());
  time_sample_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double Dqn::TorchLossAndGradients() {
  const int64_t B = config_.batch_size, m = replay_.mask_size();
  auto obs = torch::from_blob(batch_obs_.data(), {B, obs_dim_});
  auto next = torch::from_blob(batch_next_.data(), {B, obs_dim_});
  auto actions = torch::from_blob(batch_.action.data(), {B}, torch::kLong);
  auto rewards = torch::from_blob(batch_.reward.data(), {B});
  auto discount = torch::from_blob(batch_.discount.data(), {B});
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
    target = rewards + discount * not_done * next_v;
  }
  auto q_all = q_->forward(obs);
  auto q = q_all.gather(1, actions.unsqueeze(1)).squeeze(1);
  auto weights = torch::from_blob(weights_.data(), {B});
  auto per_sample = config_.loss == "huber"
                        ? torch::smooth_l1_loss(q, target, torch::Reduction::None)
                        : torch::mse_loss(q, target, torch::Reduction::None);
  auto loss = (weights * per_sample).mean();
  margin_loss_ = 0;
  if (batch_demo_rows_ > 0) {
    // max_{legal a} [Q(s, a) + l(a_E, a)] − Q(s, a_E) on the demonstration rows.
    const int64_t Bd = batch_demo_rows_, A = num_actions_;
    auto qd = q_all.slice(0, B - Bd, B);
    auto a_e = actions.slice(0, B - Bd, B).unsqueeze(1);
    auto margins = torch::full({Bd, A}, config_.demo_margin).scatter(1, a_e, 0.0);
    auto augmented = MaskQ(qd + margins, m ? batch_demo_masks_.data() : nullptr);
    auto j = std::get<0>(augmented.max(1)) - qd.gather(1, a_e).squeeze(1);
    auto margin = j.sum() / static_cast<double>(B);
    margin_loss_ = margin.item<double>();
    loss = loss + config_.demo_margin_weight * margin;
  }
  {
    auto d = (q - target).detach().to(torch::kFloat64).contiguous();
    td_.assign(d.data_ptr<double>(), d.data_ptr<double>() + B);
  }
  optimizer_->zero_grad();
  loss.backward();
  return loss.item<double>();
}

void Dqn::UpdatePriorities(const std::vector<double>& td) {
  if (!config_.prioritized_replay) return;
  for (size_t k = 0; k < slots_.size(); ++k) {  // the agent's rows (demonstrations come after them)
    const double p = std::abs(td[k]) + config_.prioritized_eps;
    max_priority_ = std::max(max_priority_, p);
    priorities_.Set(slots_[k], std::pow(p, config_.prioritized_alpha));
  }
}

double Dqn::FastLossAndGradients() {
  const int64_t B = config_.batch_size, m = replay_.mask_size(), A = num_actions_, D = obs_dim_;
  td_.resize(B);
  const uint8_t* mask = m ? batch_.next_mask.data() : nullptr;
  target_kernel_.Forward(batch_next_.data(), B, D);
  const float* target_q = KernelQ(target_kernel_, B, &q_target_scratch_);
  const float* next_online_q = nullptr;
  if (config_.double_q) {
    online_next_.Forward(batch_next_.data(), B, D);
    next_online_q = KernelQ(online_next_, B, &q_next_scratch_);
  }
  online_.Forward(batch_obs_.data(), B, D);
  const float* q = KernelQ(online_, B, &q_scratch_);
  d_q_.assign(static_cast<size_t>(B * A), 0.0f);
  double loss = 0;
  for (int64_t i = 0; i < B; ++i) {
    const float* tq = target_q + i * A;
    const float* choose = config_.double_q ? next_online_q + i * A : tq;
    int64_t best = -1;
    for (int64_t a = 0; a < A; ++a)
      if ((!mask || mask[i * A + a]) && (best < 0 || choose[a] > choose[best])) best = a;
    const double next_v = best < 0 ? 0.0 : tq[best];
    const double y = batch_.reward[i] + batch_.discount[i] * (batch_.terminated[i] ? 0.0 : next_v);
    const double d = q[i * A + batch_.action[i]] - y;
    td_[i] = d;
    const double w = weights_[i];
    double grad;
    if (config_.loss == "huber") {
      loss += w * (std::abs(d) < 1 ? 0.5 * d * d : std::abs(d) - 0.5);
      grad = std::abs(d) < 1 ? d : (d > 0 ? 1.0 : -1.0);
    } else {
      loss += w * d * d;
      grad = 2 * d;
    }
    d_q_[i * A + batch_.action[i]] = static_cast<float>(w * grad / B);
  }
  loss /= B;
  margin_loss_ = 0;
  for (int64_t i = B - batch_demo_rows_; i < B; ++i) {
    // The large-margin term's value and its gradient (+ at the augmented argmax, − at a_E).
    const float* qi = q + i * A;
    const uint8_t* legal = m ? batch_demo_masks_.data() + (i - (B - batch_demo_rows_)) * A : nullptr;
    const int64_t a_e = batch_.action[i];
    int64_t best = -1;
    double best_v = 0;
    for (int64_t a = 0; a < A; ++a) {
      if (legal && !legal[a]) continue;
      const double v = qi[a] + (a == a_e ? 0.0 : config_.demo_margin);
      if (best < 0 || v > best_v) best = a, best_v = v;
    }
    if (best < 0) continue;
    margin_loss_ += (best_v - qi[a_e]) / B;
    if (best != a_e) {
      const auto g = static_cast<float>(config_.demo_margin_weight / B);
      d_q_[i * A + best] += g;
      d_q_[i * A + a_e] -= g;
    }
  }
  loss += config_.demo_margin_weight * margin_loss_;
  if (config_.dueling) {
    online_.d_out.resize(static_cast<size_t>(B * (A + 1)));
    DuelingBackward(d_q_.data(), B, A, online_.d_out.data());
  } else {
    online_.d_out.swap(d_q_);
  }
  online_.Backward(batch_obs_.data(), B, D);
  return loss;
}

double Dqn::LossAndGradients(bool fast) {
  RLF_CHECK(!fast || fast_, "the hand-written update does not cover this network (CNN)");
  return fast ? FastLossAndGradients() : TorchLossAndGradients();
}

double Dqn::GradientStep() {
  SampleBatch();
  const double loss = LossAndGradients(fast_);
  if (!std::isfinite(static_cast<float>(loss)))
    throw Error(StrCat("the DQN loss is not finite (", loss, ") at step ", steps_,
                       "; training stopped (the last checkpoint is kept)"));
  UpdatePriorities(td_);
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
  if (demo_accuracy_ >= 0) archive.write("demo_accuracy", torch::tensor(demo_accuracy_, torch::kFloat64));
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
    torch::Tensor accuracy;
    if (archive.try_read("demo_accuracy", accuracy)) demo_accuracy_ = accuracy.item<double>();
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
  feats_.resize(static_cast<size_t>(n * d));
  ObservationFeatures(obs_space_, observations, n, feats_.data());
  auto q = MaskQ(net_->forward(torch::from_blob(feats_.data(), {n, d})), masks);
  auto best = q.argmax(1).contiguous();
  const int64_t* b = best.data_ptr<int64_t>();
  auto* out = static_cast<int64_t*>(actions);
  for (int i = 0; i < n; ++i) out[i] = b[i] + act_space_.start();
}

}  // namespace rlforge
