#include "rlforge/algos/dqn/dqn.h"
#include "rlforge/algos/export_model.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "rlforge/algos/flat_adam.h"
#include "rlforge/algos/replay_dataset.h"
#include "rlforge/data/demonstrations.h"
#include "rlforge/env/registry.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void DqnConfig::Visit(FieldVisitor& v) {
  v.Field("learning_rate", &learning_rate, "Adam learning rate (number, lin_<start>[_<end>] or cos_<start>[_<end>])");
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
  v.Field("max_grad_norm", &max_grad_norm, "global gradient-norm clip (null: none; qr-dqn's default)");
  v.Field("adam_eps", &adam_eps, "Adam epsilon (null: dqn 1e-8, as SB3; qr-dqn 0.01 / batch_size, as sb3-contrib)");
  v.Field("double_q", &double_q, "Double DQN targets");
  v.Field("loss", &loss, "huber or mse");
  v.Field("save_replay", &save_replay, "store the replay buffer in checkpoints (exact resume)");
  v.Field("fast_update", &fast_update, "hand-written forward/backward instead of autograd");
  v.Field("replay_dataset", &replay_dataset, kReplayDatasetHelp);
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
  learning_rate.CheckRate("learning_rate");
  RLF_CHECK_ARG(buffer_size >= 1, "config key 'buffer_size' must be >= 1");
  RLF_CHECK_ARG(learning_starts >= 0, "config key 'learning_starts' must be >= 0");
  // As the off-policy actor-critics': a larger batch made one update phase
  // take minutes (and a stop signal wait for it).
  RLF_CHECK_ARG(batch_size >= 1 && batch_size <= 1000000, "config key 'batch_size' must be in [1, 1000000], got ",
                batch_size);
  RLF_CHECK_ARG(!max_grad_norm || *max_grad_norm > 0, "config key 'max_grad_norm' must be > 0 or null (no clipping), got ",
                max_grad_norm.value_or(0));
  RLF_CHECK_ARG(!adam_eps || *adam_eps > 0, "config key 'adam_eps' must be > 0 or null (the agent's default), got ",
                adam_eps.value_or(0));
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
  for (const auto& [key, e] : {std::pair{"exploration_initial_eps", exploration_initial_eps},
                               std::pair{"exploration_final_eps", exploration_final_eps},
                               std::pair{"exploration_fraction", exploration_fraction}})
    RLF_CHECK_ARG(e >= 0 && e <= 1, "config key '", key, "' must be in [0, 1], got ", e);
  if (!demo_policy.empty())
    RLF_CHECK_ARG(Registry::Global().IsScriptedPolicy(demo_policy), "config key 'demo_policy': '", demo_policy,
                  "' is not a scripted policy (valid: ", Registry::Global().ScriptedPolicyList(), ")");
  // Checked with or without demo_policy: a value out of range is a mistake either way.
  RLF_CHECK_ARG(demo_episodes >= 1, "config key 'demo_episodes' must be >= 1, got ", demo_episodes);
  RLF_CHECK_ARG(demo_pretrain_steps >= 0, "config key 'demo_pretrain_steps' must be >= 0, got ", demo_pretrain_steps);
  RLF_CHECK_ARG(demo_fraction >= 0 && demo_fraction < 1, "config key 'demo_fraction' must be in [0, 1), got ",
                demo_fraction);
  RLF_CHECK_ARG(demo_margin >= 0, "config key 'demo_margin' must be >= 0, got ", demo_margin);
  RLF_CHECK_ARG(demo_margin_weight >= 0, "config key 'demo_margin_weight' must be >= 0, got ", demo_margin_weight);
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
                           const std::string& activation, bool dueling, int64_t outputs_per_action)
    : dueling_(dueling), actions_(actions), outputs_per_action_(outputs_per_action) {
  RLF_CHECK_ARG(!dueling || outputs_per_action == 1, "a dueling head predicts one value per action");
  int64_t in = FeatureSize(obs_space);
  if (IsImageSpace(obs_space)) {
    bool channels_last;
    chw_ = ImageChw(obs_space, &channels_last);
    cnn_ = register_module("cnn", NatureCnn(chw_));
    in = cnn_->out_features();
  }
  torso_ = register_module("torso", Mlp(in, net_arch, activation, /*ortho_init=*/false));
  head_ = register_module("head", torch::nn::Linear(torso_->out_features(),
                                                    dueling ? actions + 1 : actions * outputs_per_action));
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



void ExpectedQHead::QValues(const float* outputs, int64_t rows, int64_t num_actions, float* q) const {
  std::copy_n(outputs, rows * num_actions, q);
}

QLossValues ExpectedQHead::Loss(const float* q, const float* target_q, const float* online_next_q,
                                const QBatch& b, double* td, float* d_q) const {
  const int64_t B = b.size, A = b.num_actions;
  std::fill(d_q, d_q + B * A, 0.0f);
  QLossValues out;
  for (int64_t i = 0; i < B; ++i) {
    // y = R + discount (1 - terminated) Q_target(s', a*).
    const float* tq = target_q + i * A;
    const int64_t best = GreedyLegalAction(online_next_q ? online_next_q + i * A : tq, A,
                                           b.next_masks ? b.next_masks + i * A : nullptr);
    const double next_v = best < 0 ? 0.0 : tq[best];
    const double y = b.rewards[i] + b.discounts[i] * (b.terminated[i] ? 0.0 : next_v);
    const double d = q[i * A + b.actions[i]] - y;
    td[i] = d;
    const double w = b.weights[i];
    double grad;
    if (huber_) {
      out.loss += w * (std::abs(d) < 1 ? 0.5 * d * d : std::abs(d) - 0.5);
      grad = std::abs(d) < 1 ? d : (d > 0 ? 1.0 : -1.0);
    } else {
      out.loss += w * d * d;
      grad = 2 * d;
    }
    d_q[i * A + b.actions[i]] = static_cast<float>(w * grad / B);
  }
  out.loss /= B;
  for (int64_t i = B - b.demo_rows; i < B; ++i) {
    // The large-margin term's value and its gradient (+ at the augmented argmax, - at a_E).
    const float* qi = q + i * A;
    const uint8_t* legal = b.demo_masks ? b.demo_masks + (i - (B - b.demo_rows)) * A : nullptr;
    const int64_t a_e = b.actions[i];
    int64_t best = -1;
    double best_v = 0;
    for (int64_t a = 0; a < A; ++a) {
      if (legal && !legal[a]) continue;
      const double v = qi[a] + (a == a_e ? 0.0 : margin_);
      if (best < 0 || v > best_v) best = a, best_v = v;
    }
    if (best < 0) continue;
    out.margin_loss += (best_v - qi[a_e]) / B;
    if (best != a_e) {
      const auto g = static_cast<float>(margin_weight_ / B);
      d_q[i * A + best] += g;
      d_q[i * A + a_e] -= g;
    }
  }
  out.loss += margin_weight_ * out.margin_loss;
  return out;
}

Dqn::Dqn(const RunContext& ctx, const DqnConfig& config)
    : Dqn(ctx, config,
          std::make_unique<ExpectedQHead>(config.loss == "huber", config.demo_margin, config.demo_margin_weight)) {}

Dqn::Dqn(const RunContext& ctx, const DqnConfig& config, std::unique_ptr<QHead> head)
    : Algorithm(ctx),
      config_(config),
      head_(std::move(head)),
      replay_(1, 1, 0),
      priorities_(1),
      rng_(static_cast<uint64_t>(ctx.run.seed) ^ 0xD0D0),
      demo_replay_(1, 1, 0) {
  config_.Validate();
  static std::atomic<bool> warned_inert{false};
  WarnInertKeys(ctx, &warned_inert, InertPrioritizedKeys(config, DqnConfig{}));
  const std::string& env_id = ctx.run.env;
  envs_ = ctx.MakeVectorEnv();
  obs_space_ = envs_->single_observation_space();
  act_space_ = envs_->single_action_space();
  if (act_space_.kind() != SpaceKind::kDiscrete) {
    const Kwargs& discrete = Registry::Global().Spec(env_id).discrete_action_kwargs;
    throw InvalidArgument(StrCat(ctx.algo, " needs a Discrete action space; ", env_id, " has ",
                                 act_space_.ToString(),
                                 discrete.empty() ? ""
                                                  : StrCat(" (set env_kwargs ", discrete.ToString(),
                                                           " for its Discrete encoding)")));
  }
  const bool flat = obs_space_.kind() == SpaceKind::kDiscrete || obs_space_.kind() == SpaceKind::kMultiDiscrete ||
                    (obs_space_.kind() == SpaceKind::kBox && obs_space_.shape().size() == 1);
  RLF_CHECK_ARG(flat || IsImageSpace(obs_space_), ctx.algo,
                " takes Discrete, MultiDiscrete, flat Box or uint8 image observations; ", env_id, " has ",
                obs_space_.ToString());
  obs_dim_ = FeatureSize(obs_space_);
  num_actions_ = act_space_.n();
  out_dim_ = num_actions_ * head_->outputs_per_action();
  if (!config_.demo_policy.empty())
    CheckScriptedPolicyFits("demo_policy", config_.demo_policy, env_id, ctx.run.env_kwargs);
  const uint64_t seed = static_cast<uint64_t>(ctx.run.seed);
  torch::manual_seed(seed);
  const int64_t k = head_->outputs_per_action();
  q_ = QNetwork(obs_space_, num_actions_, config.net_arch, config.activation, config.dueling, k);
  target_ = QNetwork(obs_space_, num_actions_, config.net_arch, config.activation, config.dueling, k);
  SyncTarget(1.0);
  optimizer_ = std::make_unique<FlatAdam>(
      q_->parameters(), torch::optim::AdamOptions(config.learning_rate.Value(1.0)).eps(config.adam_eps.value_or(1e-8)));
  replay_ = ReplayBuffer(config.buffer_size, obs_space_.nbytes(), envs_->has_action_mask() ? envs_->mask_size() : 0,
                         envs_->num_envs());
  fast_ = config.fast_update && !q_->image();
  if (config.prioritized_replay) priorities_ = SumTree(config.buffer_size);
  online_.layers = online_next_.layers = actor_.layers = q_->layers();
  target_kernel_.layers = target_->layers();
  online_.tanh = online_next_.tanh = target_kernel_.tanh = actor_.tanh = q_->tanh();
  envs_->Reset(seed);
  DeclareMetrics({"epsilon", "replay_size", "n_updates", "time_env", "time_act", "time_update", "time_sample",
                  "gradient_steps", "update_samples", "update_flops", "loss"});
  if (!config_.demo_policy.empty())
    DeclareMetrics({"demo_margin_loss", "demo_return", "demo_steps", "demo_accuracy"});
}

double Dqn::adam_eps() const {
  return static_cast<const torch::optim::AdamOptions&>(optimizer_->param_groups().at(0).options()).eps();
}

double Dqn::epsilon() const {
  return LinearDecay(ctx_.Progress(steps_),
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

const float* Dqn::KernelOutputs(MlpKernel& k, int64_t rows, std::vector<float>* scratch) {
  if (!config_.dueling) return k.out.data();
  scratch->resize(static_cast<size_t>(rows * num_actions_));
  DuelingForward(k.out.data(), rows, num_actions_, scratch->data());
  return scratch->data();
}

void Dqn::Act(const float* features, const uint8_t* masks, int n, int64_t* actions) {
  const int64_t A = num_actions_;
  const float* out;
  torch::Tensor out_tensor;
  if (fast_) {
    actor_.Forward(features, n, obs_dim_);
    out = KernelOutputs(actor_, n, &act_scratch_);
  } else {
    torch::NoGradGuard g;
    out_tensor = q_->forward(torch::from_blob(const_cast<float*>(features), {n, obs_dim_})).contiguous();
    out = out_tensor.data_ptr<float>();
  }
  act_q_.resize(static_cast<size_t>(n * A));
  head_->QValues(out, n, A, act_q_.data());
  for (int i = 0; i < n; ++i) {
    if (actions[i] >= 0) continue;  // explored
    const int64_t best = GreedyLegalAction(act_q_.data() + i * A, A, masks ? masks + i * A : nullptr);
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
  auto env = ctx_.MakeEnv();
  const uint64_t seed = static_cast<uint64_t>(ctx_.run.seed);
  auto demonstrator = Registry::Global().MakeScriptedPolicy(config_.demo_policy, ctx_.run.env, *env, seed ^ 0xD3D3ULL);
  const Demonstrations d = RecordDemonstrations(*env, *demonstrator, config_.demo_episodes, seed + 0x5EED0000ULL);
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
  SetLearningRate(*optimizer_, config_.learning_rate.Value(1.0));
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
  std::vector<float> q;
  for (int64_t start = 0; start < S; start += 2048) {
    const int64_t n = std::min<int64_t>(2048, S - start);
    auto out = q_->forward(torch::from_blob(feats.data() + start * obs_dim_, {n, obs_dim_})).contiguous();
    q.resize(static_cast<size_t>(n * num_actions_));
    head_->QValues(out.data_ptr<float>(), n, num_actions_, q.data());
    for (int64_t i = 0; i < n; ++i)
      hits += GreedyLegalAction(q.data() + i * num_actions_, num_actions_,
                                m ? demo_masks_.data() + (start + i) * m : nullptr) == d.actions[start + i];
  }
  demo_accuracy_ = static_cast<double>(hits) / S;
}

Metrics Dqn::Iterate() {
  using Clock = std::chrono::steady_clock;
  // The dataset first: demonstration pretraining (PrepareDemonstrations) takes gradient steps.
  if (steps_ == 0 && updates_ == 0 && replay_.size() == 0 && !config_.replay_dataset.empty()) {
    const auto slots = SeedReplayFromDataset(config_.replay_dataset, obs_space_, act_space_, &replay_);
    if (config_.prioritized_replay)
      for (int64_t slot : slots) priorities_.Set(slot, std::pow(max_priority_, config_.prioritized_alpha));
  }
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
  for (int64_t k = 0; k < config_.train_freq && steps_ < ctx_.run.total_steps; ++k) {
    // Before learning starts every action is uniformly random, as in SB3
    // (the schedule's epsilon applies from learning_starts on).
    const double eps = steps_ < config_.learning_starts ? 1.0 : epsilon();
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
  // Strictly after learning_starts, as SB3 (and the off-policy actor-critics) train.
  if (steps_ > config_.learning_starts && replay_.size() > 0) {
    SetLearningRate(*optimizer_, config_.learning_rate.Value(ctx_.ProgressRemaining(steps_)));
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
                 {"gradient_steps", static_cast<double>(done)},
                 {"update_samples", static_cast<double>(done * config_.batch_size)},
                 {"update_flops", flops_per_gradient_step() * static_cast<double>(done)}};
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
    const double progress = std::min(1.0, ctx_.Progress(steps_));
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

QBatch Dqn::MakeQBatch() const {
  QBatch b;
  b.size = config_.batch_size;
  b.num_actions = num_actions_;
  b.actions = batch_.action.data();
  b.rewards = batch_.reward.data();
  b.discounts = batch_.discount.data();
  b.terminated = batch_.terminated.data();
  b.next_masks = replay_.mask_size() ? batch_.next_mask.data() : nullptr;
  b.weights = weights_.data();
  b.demo_rows = batch_demo_rows_;
  b.demo_masks = replay_.mask_size() && batch_demo_rows_ > 0 ? batch_demo_masks_.data() : nullptr;
  return b;
}

double Dqn::LossAndGradients(bool fast) {
  RLF_CHECK(!fast || fast_, "the hand-written update does not cover this network (CNN)");
  const int64_t B = config_.batch_size, D = obs_dim_;
  td_.resize(B);
  d_out_.resize(static_cast<size_t>(B * out_dim_));
  // The networks' outputs at s (online) and s' (target; online for Double
  // DQN), from the kernels or an autograd forward pass.
  const float *online, *target_next, *online_next = nullptr;
  torch::Tensor online_t, target_next_t, online_next_t;
  if (fast) {
    target_kernel_.Forward(batch_next_.data(), B, D);
    target_next = KernelOutputs(target_kernel_, B, &out_target_scratch_);
    if (config_.double_q) {
      online_next_.Forward(batch_next_.data(), B, D);
      online_next = KernelOutputs(online_next_, B, &out_next_scratch_);
    }
    online_.Forward(batch_obs_.data(), B, D);
    online = KernelOutputs(online_, B, &out_scratch_);
  } else {
    {
      torch::NoGradGuard g;
      auto next = torch::from_blob(batch_next_.data(), {B, D});
      target_next_t = target_->forward(next).contiguous();
      if (config_.double_q) online_next_t = q_->forward(next).contiguous();
    }
    online_t = q_->forward(torch::from_blob(batch_obs_.data(), {B, D})).contiguous();
    target_next = target_next_t.data_ptr<float>();
    if (config_.double_q) online_next = online_next_t.data_ptr<float>();
    online = online_t.data_ptr<float>();
  }
  // The loss, defined once on the outputs (the head), and dL/d(outputs).
  const QLossValues l = head_->Loss(online, target_next, online_next, MakeQBatch(), td_.data(), d_out_.data());
  margin_loss_ = l.margin_loss;
  // Back through the network.
  if (fast) {
    if (config_.dueling) {
      online_.d_out.resize(static_cast<size_t>(B * (num_actions_ + 1)));
      DuelingBackward(d_out_.data(), B, num_actions_, online_.d_out.data());
    } else {
      online_.d_out.assign(d_out_.begin(), d_out_.end());
    }
    online_.Backward(batch_obs_.data(), B, D);
  } else {
    optimizer_->zero_grad();
    online_t.backward(torch::from_blob(d_out_.data(), {B, out_dim_}));
  }
  return l.loss;
}

void Dqn::UpdatePriorities(const std::vector<double>& td) {
  if (!config_.prioritized_replay) return;
  // The agent's rows (demonstrations come after them).
  rlforge::UpdatePriorities(priorities_, slots_, td.data(), config_.prioritized_alpha, config_.prioritized_eps,
                            &max_priority_);
}

double Dqn::GradientStep() {
  SampleBatch();
  const double loss = LossAndGradients(fast_);
  if (!std::isfinite(static_cast<float>(loss)))
    throw Error(StrCat("the DQN loss is not finite (", loss, ") at step ", steps_,
                       "; training stopped"));
  UpdatePriorities(td_);
  // No clip (null) still measures the norm: a non-finite gradient stops training.
  const double norm =
      ClipGradNorm(q_->parameters(), config_.max_grad_norm.value_or(std::numeric_limits<double>::infinity()));
  RLF_CHECK(std::isfinite(norm), "non-finite DQN gradient at step ", steps_, "; training stopped");
  optimizer_->step();
  ++updates_;
  return loss;
}

void Dqn::VisitState(StateVisitor& v) {
  VisitModule(v, "q", *q_);
  VisitModule(v, "target", *target_);
  VisitOptimizer(v, "optimizer", *optimizer_);
  v("rng", &rng_);
  v("steps", &steps_);
  v("updates", &updates_);
  v("last_target_update", &last_target_update_);
  v("demo_accuracy", &demo_accuracy_);
  v("envs", envs_.get());
  if (config_.save_replay) {
    v("replay", &replay_);
    if (config_.prioritized_replay) {
      v("priorities", &priorities_);
      v("max_priority", &max_priority_);
    }
  }
}

std::unique_ptr<Policy> Dqn::MakePolicy(bool deterministic) {
  // Sampling acts as training ended: epsilon-greedy at the schedule's epsilon.
  return std::make_unique<QNetworkPolicy>(q_, head_, obs_space_, act_space_, deterministic ? 0.0 : epsilon(),
                                          static_cast<uint64_t>(ctx_.run.seed) + 0xE95ULL);
}

QNetworkPolicy::QNetworkPolicy(QNetwork net, std::shared_ptr<const QHead> head, Space obs_space, Space act_space,
                               double epsilon, uint64_t seed)
    : net_(std::move(net)),
      head_(std::move(head)),
      obs_space_(std::move(obs_space)),
      act_space_(std::move(act_space)),
      epsilon_(epsilon),
      rng_(seed) {}

void QNetworkPolicy::Act(const void* observations, const uint8_t* masks, int n, void* actions) {
  torch::NoGradGuard g;
  const bool multi = act_space_.kind() == SpaceKind::kMultiDiscrete;
  const int64_t d = FeatureSize(obs_space_), A = multi ? act_space_.mask_size() : act_space_.n();
  feats_.resize(static_cast<size_t>(n * d));
  ObservationFeatures(obs_space_, observations, n, feats_.data());
  auto out = net_->forward(torch::from_blob(feats_.data(), {n, d})).contiguous();
  q_.resize(static_cast<size_t>(n * A));
  head_->QValues(out.data_ptr<float>(), n, A, q_.data());
  auto* acts = static_cast<int64_t*>(actions);
  if (multi) {
    // Factored Q (offline CQL): the best legal value of each dimension, given
    // the earlier ones where the env restricts them.
    // Without conditional masks each dimension's are the row's slice of `masks`.
    const auto& nvec = act_space_.nvec();
    std::vector<int64_t> offset(nvec.size(), 0);
    for (size_t j = 1; j < nvec.size(); ++j) offset[j] = offset[j - 1] + nvec[j - 1];
    const ConditionalMaskFn row_masks = [&](int i, const int64_t*, int dim, uint8_t* m) {
      if (masks) std::memcpy(m, masks + i * A + offset[dim], static_cast<size_t>(nvec[dim]));
      else std::fill(m, m + nvec[dim], uint8_t{1});
    };
    ConditionalMultiCategorical(q_.data(), n, nvec, conditional_mask_ ? conditional_mask_ : row_masks, nullptr, acts,
                                nullptr, nullptr);
    return;
  }
  for (int i = 0; i < n; ++i) {
    if (epsilon_ > 0 && rng_.Uniform() < epsilon_) {
      act_space_.Sample(rng_, &acts[i], masks ? masks + i * A : nullptr);
      continue;
    }
    const int64_t best = GreedyLegalAction(q_.data() + i * A, A, masks ? masks + i * A : nullptr);
    RLF_CHECK(best >= 0, "no legal action in row ", i);
    acts[i] = best + act_space_.start();
  }
}

}  // namespace rlforge

namespace rlforge {

runtime::Model Dqn::ExportModel() {
  runtime::Model m = ExportQNetwork(*q_, obs_space_, act_space_, head_->outputs_per_action());
  m.action_mask = envs_->has_action_mask();
  return m;
}

}  // namespace rlforge
