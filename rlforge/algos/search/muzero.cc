#include "rlforge/algos/search/muzero.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "rlforge/algos/export_model.h"
#include "rlforge/env/registry.h"
#include "rlforge/nn/policy.h"
#include "rlforge/nn/state.h"

namespace rlforge::search {
namespace {

torch::nn::Sequential Mlp(int64_t in, const std::vector<int64_t>& hidden, int64_t out) {
  torch::nn::Sequential s;
  for (int64_t h : hidden) {
    s->push_back(torch::nn::Linear(in, h));
    s->push_back(torch::nn::ReLU());
    in = h;
  }
  if (out > 0) s->push_back(torch::nn::Linear(in, out));
  return s;
}

// Per-sample min-max scaling of hidden states to [0, 1].
torch::Tensor ScaleHidden(const torch::Tensor& s) {
  auto lo = std::get<0>(s.min(1, true)), hi = std::get<0>(s.max(1, true));
  return (s - lo) / (hi - lo).clamp_min(1e-5);
}

double Sign(double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }

MctsConfig SearchConfig(const MuZeroConfig& c, int64_t simulations) {
  MctsConfig m = c.mcts;
  m.simulations = static_cast<int>(simulations);
  m.batch_size = static_cast<int>(c.search_batch);
  m.discount = c.discount;
  return m;
}

// Search over the learned model from observations: the trained MuZero player.
class MuZeroPolicy : public Policy {
 public:
  MuZeroPolicy(MuZeroNet net, MctsConfig mcts, int num_players, bool deterministic, uint64_t seed)
      : model_(net, num_players), mcts_(mcts), deterministic_(deterministic), rng_(seed), net_(net) {
    mcts_.noise_fraction = 0;
  }
  void Act(const void* observations, const uint8_t* masks, int n, void* actions) override {
    torch::NoGradGuard no_grad;
    const int64_t obs_size = net_->obs_size(), A = net_->num_actions();
    std::vector<uint8_t> all(A, 1);
    for (int i = 0; i < n; ++i) {
      model_.Clear();
      Mcts mcts(mcts_);
      mcts.SetRoot(model_.Root(static_cast<const float*>(observations) + i * obs_size,
                               masks ? masks + i * A : all.data(), 0));
      const SearchResult r = mcts.Search(model_, rng_, false);
      static_cast<int64_t*>(actions)[i] = Mcts::SelectAction(r.visits, deterministic_ ? 0.0 : 1.0, rng_);
    }
  }
  std::string name() const override { return "muzero"; }

 private:
  LatentSearchModel model_;
  MctsConfig mcts_;
  bool deterministic_;
  Rng rng_;
  MuZeroNet net_;
};

}  // namespace

double ScaleValue(double x, double eps) { return Sign(x) * (std::sqrt(std::abs(x) + 1.0) - 1.0) + eps * x; }

double UnscaleValue(double y, double eps) {
  const double t = (std::sqrt(1.0 + 4.0 * eps * (std::abs(y) + 1.0 + eps)) - 1.0) / (2.0 * eps);
  return Sign(y) * (t * t - 1.0);
}

void ScalarToSupport(double x, int support, float* out) {
  const int n = 2 * support + 1;
  std::fill(out, out + n, 0.0f);
  const double y = std::clamp(ScaleValue(x), -static_cast<double>(support), static_cast<double>(support));
  const double lo = std::floor(y);
  const double frac = y - lo;
  const int i = static_cast<int>(lo) + support;
  out[i] += static_cast<float>(1.0 - frac);
  if (frac > 0 && i + 1 < n) out[i + 1] += static_cast<float>(frac);
}

double SupportToScalar(const float* p, int support) {
  double y = 0;
  for (int i = -support; i <= support; ++i) y += p[i + support] * i;
  return UnscaleValue(y);
}

void MuZeroConfig::Visit(FieldVisitor& v) {
  v.Field("simulations", &simulations, "MCTS simulations per self-play move");
  v.Field("search_batch", &search_batch, "leaves evaluated per model call (virtual loss spreads them)");
  v.Field("eval_simulations", &eval_simulations, "simulations per move of the trained policy (eval, play)");
  v.Field("temperature_moves", &temperature_moves, "two-player games: moves drawn in proportion to visits");
  VisitMcts(v, &mcts);
  v.Field("discount", &discount, "discount factor γ (1 for board games)");
  v.Field("unroll_steps", &unroll_steps, "K: steps the model is unrolled in training");
  v.Field("td_steps", &td_steps, "n of the n-step value targets");
  v.Field("support_size", &support_size, "S: value and reward are categorical over -S..S (scaled)");
  v.Field("latent_size", &latent_size, "hidden-state width");
  v.Field("net_arch", &net_arch, "hidden layers of the representation, dynamics and prediction nets");
  v.Field("num_actors", &num_actors, "self-play actor threads (0: play inside the learner, deterministic)");
  v.Field("games_per_iteration", &games_per_iteration, "self-play games consumed per iteration");
  v.Field("updates_per_move", &updates_per_move, "gradient steps per new move (replay ratio)");
  v.Field("batch_size", &batch_size, "positions per gradient step");
  v.Field("replay_size", &replay_size, "positions kept in the replay");
  v.Field("learning_starts", &learning_starts, "moves before the first update");
  v.Field("learning_rate", &learning_rate, "Adam learning rate");
  v.Field("weight_decay", &weight_decay, "L2 weight decay");
  v.Field("value_loss_weight", &value_loss_weight, "weight of the value loss");
  v.Field("priority_alpha", &priority_alpha, "prioritized replay exponent α (0: uniform)");
  v.Field("priority_beta", &priority_beta, "importance-weight exponent β");
  v.Field("max_grad_norm", &max_grad_norm, "global gradient-norm clip");
  v.Field("augment", &augment, "board games: train on the board's symmetries");
}

void MuZeroConfig::Validate() const {
  ValidateMcts(mcts);
  CheckSimulations("simulations", simulations);
  CheckSimulations("eval_simulations", eval_simulations);
  RLF_CHECK_ARG(search_batch >= 1, "config key 'search_batch' must be >= 1, got ", search_batch);
  RLF_CHECK_ARG(temperature_moves >= 0, "config key 'temperature_moves' must be >= 0, got ", temperature_moves);
  RLF_CHECK_ARG(discount > 0 && discount <= 1, "config key 'discount' must be in (0, 1], got ", discount);
  RLF_CHECK_ARG(unroll_steps >= 1 && unroll_steps <= 50,
                "config key 'unroll_steps' must be in [1, 50], got ", unroll_steps);
  RLF_CHECK_ARG(td_steps >= 1, "config key 'td_steps' must be >= 1, got ", td_steps);
  RLF_CHECK_ARG(support_size >= 1 && support_size <= 1000,
                "config key 'support_size' must be in [1, 1000], got ", support_size);
  RLF_CHECK_ARG(latent_size >= 2, "config key 'latent_size' must be >= 2, got ", latent_size);
  RLF_CHECK_ARG(!net_arch.empty(), "config key 'net_arch' needs at least one hidden layer");
  for (int64_t h : net_arch) RLF_CHECK_ARG(h >= 1, "config key 'net_arch': layer sizes must be >= 1");
  RLF_CHECK_ARG(num_actors >= 0 && num_actors <= 64, "config key 'num_actors' must be in [0, 64], got ", num_actors);
  RLF_CHECK_ARG(games_per_iteration >= 1, "config key 'games_per_iteration' must be >= 1, got ", games_per_iteration);
  RLF_CHECK_ARG(updates_per_move >= 0, "config key 'updates_per_move' must be >= 0, got ", updates_per_move);
  RLF_CHECK_ARG(batch_size >= 1, "config key 'batch_size' must be >= 1, got ", batch_size);
  RLF_CHECK_ARG(replay_size >= batch_size,
                "config key 'replay_size' (", replay_size, ") must be >= batch_size (", batch_size, ")");
  RLF_CHECK_ARG(learning_starts >= 0, "config key 'learning_starts' must be >= 0, got ", learning_starts);
  RLF_CHECK_ARG(learning_rate > 0, "config key 'learning_rate' must be > 0, got ", learning_rate);
  RLF_CHECK_ARG(weight_decay >= 0, "config key 'weight_decay' must be >= 0, got ", weight_decay);
  RLF_CHECK_ARG(value_loss_weight > 0, "config key 'value_loss_weight' must be > 0, got ", value_loss_weight);
  RLF_CHECK_ARG(priority_alpha >= 0, "config key 'priority_alpha' must be >= 0, got ", priority_alpha);
  RLF_CHECK_ARG(priority_beta >= 0 && priority_beta <= 1, "config key 'priority_beta' must be in [0, 1], got ",
                priority_beta);
  RLF_CHECK_ARG(max_grad_norm > 0, "config key 'max_grad_norm' must be > 0, got ", max_grad_norm);
}

MuZeroNetImpl::MuZeroNetImpl(int64_t obs_size, int64_t num_actions, int64_t latent, const std::vector<int64_t>& hidden,
                             int64_t support)
    : obs_size_(obs_size), num_actions_(num_actions), latent_(latent), support_(support) {
  CheckNetArch(obs_size + latent + num_actions, hidden);  // roughly the largest of the four torsos
  repr_ = register_module("representation", Mlp(obs_size, hidden, latent));
  dyn_ = register_module("dynamics", Mlp(latent + num_actions, hidden, latent));
  reward_ = register_module("reward", Mlp(latent + num_actions, hidden, 2 * support + 1));
  pred_ = register_module("prediction", Mlp(latent, hidden, 0));
  policy_ = register_module("policy", torch::nn::Linear(hidden.back(), num_actions));
  value_ = register_module("value", torch::nn::Linear(hidden.back(), 2 * support + 1));
}

torch::Tensor MuZeroNetImpl::Represent(torch::Tensor obs) { return ScaleHidden(repr_->forward(obs)); }

std::pair<torch::Tensor, torch::Tensor> MuZeroNetImpl::Dynamics(torch::Tensor s, torch::Tensor actions) {
  auto x = torch::cat({s, torch::one_hot(actions, num_actions_).to(torch::kFloat32)}, 1);
  return {ScaleHidden(dyn_->forward(x)), reward_->forward(x)};
}

std::pair<torch::Tensor, torch::Tensor> MuZeroNetImpl::Predict(torch::Tensor s) {
  auto h = pred_->forward(s);
  return {policy_->forward(h), value_->forward(h)};
}

LatentSearchModel::LatentSearchModel(MuZeroNet net, int num_players) : net_(std::move(net)), num_players_(num_players) {}

NodeEval LatentSearchModel::Root(const float* obs, const uint8_t* mask, int player) {
  torch::NoGradGuard no_grad;
  const int64_t A = net_->num_actions(), L = net_->latent(), S = net_->support();
  auto s = net_->Represent(torch::from_blob(const_cast<float*>(obs), {1, net_->obs_size()}, torch::kFloat32));
  auto [logits, vlogits] = net_->Predict(s);
  auto m = torch::from_blob(const_cast<uint8_t*>(mask), {1, A}, torch::kUInt8).to(torch::kBool);
  auto p = torch::softmax(logits.masked_fill(m.logical_not(), -1e9), 1).contiguous();
  auto pv = torch::softmax(vlogits, 1).contiguous();
  auto sc = s.contiguous();
  latents_.insert(latents_.end(), sc.data_ptr<float>(), sc.data_ptr<float>() + L);
  players_.push_back(static_cast<int8_t>(player));
  NodeEval e;
  e.state = static_cast<int>(players_.size()) - 1;
  e.player = player;
  e.priors.assign(p.data_ptr<float>(), p.data_ptr<float>() + A);
  for (int64_t a = 0; a < A; ++a)
    if (!mask[a]) e.priors[a] = 0;
  e.value = SupportToScalar(pv.data_ptr<float>(), static_cast<int>(S));
  return e;
}

void LatentSearchModel::Expand(const std::vector<int>& parents, const std::vector<int>& actions,
                               std::vector<NodeEval>* out) {
  torch::NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(parents.size()), A = net_->num_actions(), L = net_->latent();
  const int S = static_cast<int>(net_->support());
  auto s = torch::empty({n, L}, torch::kFloat32);
  auto a = torch::empty({n}, torch::kLong);
  for (int64_t i = 0; i < n; ++i) {
    std::copy_n(latents_.begin() + parents[i] * L, L, s.data_ptr<float>() + i * L);
    a.data_ptr<int64_t>()[i] = actions[i];
  }
  auto [s2, rlogits] = net_->Dynamics(s, a);
  auto [plogits, vlogits] = net_->Predict(s2);
  auto p = torch::softmax(plogits, 1).contiguous();
  auto pv = torch::softmax(vlogits, 1).contiguous();
  auto pr = torch::softmax(rlogits, 1).contiguous();
  auto sc = s2.contiguous();
  for (int64_t i = 0; i < n; ++i) {
    latents_.insert(latents_.end(), sc.data_ptr<float>() + i * L, sc.data_ptr<float>() + (i + 1) * L);
    const int player = num_players_ == 2 ? 1 - players_[parents[i]] : 0;
    players_.push_back(static_cast<int8_t>(player));
    NodeEval& e = (*out)[i];
    e.state = static_cast<int>(players_.size()) - 1;
    e.player = player;
    e.terminal = false;
    e.priors.assign(p.data_ptr<float>() + i * A, p.data_ptr<float>() + (i + 1) * A);
    e.value = SupportToScalar(pv.data_ptr<float>() + i * (2 * S + 1), S);
    e.reward = SupportToScalar(pr.data_ptr<float>() + i * (2 * S + 1), S);
  }
}

double ValueTarget(const GameRecord& g, int64_t t, int64_t td_steps, double discount) {
  const int64_t T = g.length();
  if (t >= T) return 0.0;
  const int me = g.players[t];
  double z = 0, disc = 1;
  for (int64_t j = 0; j < td_steps && t + j < T; ++j, disc *= discount)
    z += disc * (g.players[t + j] == me ? 1.0 : -1.0) * g.rewards[t + j];
  const int64_t b = t + td_steps;
  if (b < T) {
    z += std::pow(discount, static_cast<double>(td_steps)) * (g.players[b] == me ? 1.0 : -1.0) * g.root_values[b];
  } else if (!g.terminated) {
    // Truncated: bootstrap from the value of the final observation, whose
    // player to move follows the last mover.
    const int last = g.players[T - 1];
    const int player_T = g.final_returns.size() == 2 ? 1 - last : last;
    z += std::pow(discount, static_cast<double>(T - t)) * (player_T == me ? 1.0 : -1.0) * g.final_value;
  }
  return z;
}

UnrollTargets MakeTargets(const GameRecord& g, int64_t t, int64_t K, int64_t td_steps, double discount, Rng& rng) {
  const int64_t T = g.length(), A = g.num_actions;
  UnrollTargets u;
  u.values.resize(K + 1), u.rewards.assign(K + 1, 0.0f), u.policies.assign((K + 1) * A, 0.0f);
  u.policy_mask.assign(K + 1, 0), u.actions.resize(K);
  for (int64_t k = 0; k <= K; ++k) {
    const int64_t i = t + k;
    u.values[k] = static_cast<float>(ValueTarget(g, i, td_steps, discount));
    if (k > 0 && i - 1 < T) u.rewards[k] = g.rewards[i - 1];
    if (i < T) {
      std::copy_n(g.policies.begin() + i * A, A, u.policies.begin() + k * A);
      u.policy_mask[k] = 1;
    }
    if (k < K) u.actions[k] = i < T ? g.actions[i] : static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(A)));
  }
  return u;
}

MuZero::MuZero(const RunContext& ctx, const MuZeroConfig& config)
    : Algorithm(ctx),
      seed_(static_cast<uint64_t>(ctx.run.seed)),
      config_(config),
      rng_(seed_),
      priorities_(config.replay_size) {
  config_.Validate();
  const std::string& env_id = ctx.run.env;
  env_ = ctx.MakeEnv();
  num_players_ = env_->num_players();
  RLF_CHECK_ARG(num_players_ <= 2, "muzero plays one- and two-player envs; ", env_id, " has ", num_players_);
  RLF_CHECK_ARG(env_->action_space().kind() == SpaceKind::kDiscrete, "muzero needs a Discrete action space; ", env_id,
                " has ", env_->action_space().ToString());
  RLF_CHECK_ARG(env_->observation_space().kind() == SpaceKind::kBox &&
                    env_->observation_space().dtype() == DType::kFloat32,
                "muzero's MLP networks take float32 Box observations; ", env_id, " has ",
                env_->observation_space().ToString());
  obs_size_ = env_->observation_space().size();
  num_actions_ = env_->action_space().n();
  if (config_.augment) symmetries_ = env_->Symmetries();
  torch::manual_seed(seed_);
  net_ = MuZeroNet(obs_size_, num_actions_, config_.latent_size, config_.net_arch, config_.support_size);
  optimizer_ = std::make_unique<torch::optim::Adam>(
      net_->parameters(), torch::optim::AdamOptions(config_.learning_rate).weight_decay(config_.weight_decay));
  slot_game_.assign(config_.replay_size, 0);
  slot_move_.assign(config_.replay_size, 0);
  DeclareMetrics({"loss", "value_loss", "policy_loss", "reward_loss", "games", "iteration_updates", "updates",
                  "replay_positions", "temperature", "time_self_play", "time_update"});
}

MuZero::~MuZero() { actors_.Stop(); }

double MuZero::Temperature(int64_t steps) const {
  const double progress = static_cast<double>(steps) / static_cast<double>(ctx_.run.total_steps);
  return progress < 0.5 ? 1.0 : (progress < 0.75 ? 0.5 : 0.25);
}

GameRecord MuZero::PlayGame(Env& env, MuZeroNet net, Rng& rng, uint64_t seed, double temperature) const {
  torch::NoGradGuard no_grad;
  GameRecord g;
  g.obs_size = obs_size_, g.num_actions = num_actions_;
  std::vector<float> obs(obs_size_);
  std::vector<uint8_t> mask(num_actions_, 1);
  env.Reset(seed, obs.data());
  LatentSearchModel model(net, num_players_);
  Mcts mcts(SearchConfig(config_, config_.simulations));
  for (int64_t move = 0;; ++move) {
    if (env.has_action_mask()) env.ActionMask(mask.data());
    // Every move searches from the representation of the real observation:
    // a kept subtree's root would be a state the dynamics predicted, and
    // chaining those move after move drifts far past the K steps the model is
    // trained to unroll (MuZero does not reuse trees).
    model.Clear();
    mcts.SetRoot(model.Root(obs.data(), mask.data(), env.current_player()));
    const SearchResult r = mcts.Search(model, rng, true);
    int total = 0;
    for (int v : r.visits) total += v;
    g.obs.insert(g.obs.end(), obs.begin(), obs.end());
    g.masks.insert(g.masks.end(), mask.begin(), mask.end());
    for (int v : r.visits) g.policies.push_back(static_cast<float>(v) / std::max(1, total));
    g.players.push_back(static_cast<int8_t>(env.current_player()));
    g.root_values.push_back(static_cast<float>(r.root_value));
    const double T = num_players_ == 2 ? (move < config_.temperature_moves ? 1.0 : 0.0) : temperature;
    const int64_t a = Mcts::SelectAction(r.visits, T, rng);
    g.actions.push_back(a);
    const StepResult s = env.Step(&a, obs.data());
    g.rewards.push_back(static_cast<float>(s.reward));
    if (s.done()) {
      g.terminated = s.terminated;
      g.final_returns.resize(num_players_);
      if (num_players_ == 1) {
        g.final_returns[0] = g.undiscounted_return();
      } else {
        env.PlayerReturns(g.final_returns.data());
      }
      if (!s.terminated) {
        auto st = net->Represent(torch::from_blob(obs.data(), {1, obs_size_}, torch::kFloat32));
        auto vl = torch::softmax(net->Predict(st).second, 1).contiguous();
        g.final_value = SupportToScalar(vl.data_ptr<float>(), static_cast<int>(config_.support_size));
      }
      return g;
    }
  }
}

void MuZero::AddGame(GameRecord g) {
  const int64_t id = first_game_id_ + static_cast<int64_t>(games_store_.size());
  for (int64_t t = 0; t < g.length(); ++t) {
    const int64_t slot = positions_ % config_.replay_size;
    slot_game_[slot] = id, slot_move_[slot] = t;
    const double z = ValueTarget(g, t, config_.td_steps, config_.discount);
    const double p = std::pow(std::abs(g.root_values[t] - z) + 1e-3, config_.priority_alpha);
    priorities_.Set(slot, p);
    ++positions_;
  }
  steps_ += g.length();
  ++games_;
  episodes_.Add(num_players_ == 1 ? g.undiscounted_return() : g.final_returns[0], g.length());
  games_store_.push_back(std::move(g));
  // Drop games none of whose positions are left in the ring.
  const int64_t oldest = positions_ - config_.replay_size;
  while (!games_store_.empty()) {
    const int64_t first_slot_id = slot_game_[std::max<int64_t>(oldest, 0) % config_.replay_size];
    if (oldest <= 0 || first_game_id_ >= first_slot_id) break;
    games_store_.pop_front();
    ++first_game_id_;
  }
}

std::pair<double, Metrics> MuZero::Update() {
  const int64_t B = config_.batch_size, K = config_.unroll_steps, A = num_actions_;
  const int S = static_cast<int>(config_.support_size), W = 2 * S + 1;
  const int64_t size = std::min(positions_, config_.replay_size);
  std::vector<int64_t> slots(B);
  std::vector<float> weights(B);
  SampleProportional(priorities_, size, config_.priority_beta, rng_, &slots, &weights);
  auto obs = torch::empty({B, obs_size_}, torch::kFloat32);
  auto acts = torch::empty({K, B}, torch::kLong);
  auto tv = torch::zeros({K + 1, B, W}), tr = torch::zeros({K + 1, B, W}), tp = torch::zeros({K + 1, B, A});
  auto pm = torch::zeros({K + 1, B});
  std::vector<double> z0(B);
  for (int64_t i = 0; i < B; ++i) {
    const GameRecord& g = games_store_[slot_game_[slots[i]] - first_game_id_];
    const int64_t t = slot_move_[slots[i]];
    const UnrollTargets u = MakeTargets(g, t, K, config_.td_steps, config_.discount, rng_);
    // A random board symmetry, the same for the observation and every unrolled
    // action and policy (identity: a plain copy).
    const float* o = g.obs.data() + t * obs_size_;
    float* x = obs.data_ptr<float>() + i * obs_size_;
    const std::vector<int64_t>* ap = nullptr;
    if (symmetries_.size() > 1) {
      const Symmetry& sym = symmetries_[rng_.UniformInt(symmetries_.size())];
      ap = &sym.action;
      ApplySymmetry(sym, obs_size_, o, x);
    } else {
      std::copy_n(o, obs_size_, x);
    }
    z0[i] = u.values[0];
    for (int64_t k = 0; k <= K; ++k) {
      ScalarToSupport(u.values[k], S, tv.data_ptr<float>() + (k * B + i) * W);
      ScalarToSupport(u.rewards[k], S, tr.data_ptr<float>() + (k * B + i) * W);
      float* pk = tp.data_ptr<float>() + (k * B + i) * A;
      for (int64_t a = 0; a < A; ++a) pk[ap ? (*ap)[a] : a] = u.policies[k * A + a];
      pm.data_ptr<float>()[k * B + i] = u.policy_mask[k];
      if (k < K) acts.data_ptr<int64_t>()[k * B + i] = ap ? (*ap)[u.actions[k]] : u.actions[k];
    }
  }
  auto w = torch::from_blob(weights.data(), {B}, torch::kFloat32);
  auto ce = [](const torch::Tensor& logits, const torch::Tensor& target) {
    return -(target * torch::log_softmax(logits, 1)).sum(1);
  };
  auto s = net_->Represent(obs);
  auto [pl0, vl0] = net_->Predict(s);
  torch::Tensor value_loss = ce(vl0, tv[0]), policy_loss = ce(pl0, tp[0]) * pm[0];
  torch::Tensor reward_loss = torch::zeros({B});
  auto v0 = torch::softmax(vl0.detach(), 1).contiguous();
  for (int64_t k = 1; k <= K; ++k) {
    auto [s2, rl] = net_->Dynamics(s, acts[k - 1]);
    auto [pl, vl] = net_->Predict(s2);
    const double scale = 1.0 / K;
    value_loss = value_loss + scale * ce(vl, tv[k]);
    policy_loss = policy_loss + scale * ce(pl, tp[k]) * pm[k];
    reward_loss = reward_loss + scale * ce(rl, tr[k]);
    s = 0.5 * s2 + 0.5 * s2.detach();  // halve the gradient into the dynamics
  }
  auto loss = (w * (config_.value_loss_weight * value_loss + policy_loss + reward_loss)).mean();
  const double lv = loss.item<double>();
  RLF_CHECK(std::isfinite(lv), "muzero: the loss became ", lv, " at update ", updates_, "; lower learning_rate");
  optimizer_->zero_grad();
  loss.backward();
  torch::nn::utils::clip_grad_norm_(net_->parameters(), config_.max_grad_norm);
  optimizer_->step();
  ++updates_;
  for (int64_t i = 0; i < B; ++i) {
    const double v = SupportToScalar(v0.data_ptr<float>() + i * W, S);
    const double p = std::pow(std::abs(v - z0[i]) + 1e-3, config_.priority_alpha);
    priorities_.Set(slots[i], p);
  }
  Metrics m;
  m["value_loss"] = (w * value_loss).mean().item<double>();
  m["policy_loss"] = (w * policy_loss).mean().item<double>();
  m["reward_loss"] = (w * reward_loss).mean().item<double>();
  return {lv, m};
}

Metrics MuZero::Iterate() {
  const auto t0 = std::chrono::steady_clock::now();
  int64_t new_games = 0, new_moves = 0;
  if (config_.num_actors == 0) {
    for (int64_t k = 0; k < config_.games_per_iteration; ++k) {
      GameRecord g =
          PlayGame(*env_, net_, rng_, seed_ + 1000003ULL * static_cast<uint64_t>(games_ + 1), Temperature(steps_));
      new_moves += g.length();
      AddGame(std::move(g));
      ++new_games;
    }
  } else {
    actors_.Start(
        static_cast<int>(config_.num_actors), static_cast<size_t>(config_.games_per_iteration),
        [this] { return MuZeroNet(obs_size_, num_actions_, config_.latent_size, config_.net_arch, config_.support_size); },
        [this] { return ctx_.MakeEnv(); },
        [this](Env& env, MuZeroNet net, Rng& rng, uint64_t seed, int64_t learner_steps) {
          return PlayGame(env, net, rng, seed, Temperature(learner_steps));
        },
        net_, steps_, seed_);
    for (auto& g : actors_.Take(static_cast<size_t>(config_.games_per_iteration))) {
      new_moves += g.length();
      AddGame(std::move(g));
      ++new_games;
    }
  }
  const auto t1 = std::chrono::steady_clock::now();
  Metrics m;
  int64_t n = 0;
  if (positions_ >= std::max(config_.learning_starts, config_.batch_size)) {
    update_credit_ += new_moves * config_.updates_per_move;
    n = static_cast<int64_t>(update_credit_);
    update_credit_ -= static_cast<double>(n);
  }
  double total = 0;
  Metrics sums;
  for (int64_t k = 0; k < n; ++k) {
    auto [l, parts] = Update();
    total += l;
    for (auto& [key, v] : parts) sums[key] += v;
  }
  if (n > 0) {  // no loss before learning starts (an empty cell in progress.csv)
    m["loss"] = total / n;
    for (const char* key : {"value_loss", "policy_loss", "reward_loss"}) m[key] = sums[key] / n;
  }
  actors_.Publish(net_, steps_);
  const auto t2 = std::chrono::steady_clock::now();
  m["games"] = static_cast<double>(games_);
  m["iteration_updates"] = static_cast<double>(n);
  m["updates"] = static_cast<double>(updates_);
  m["replay_positions"] = static_cast<double>(std::min(positions_, config_.replay_size));
  m["temperature"] = Temperature(steps_);
  m["time_self_play"] = std::chrono::duration<double>(t1 - t0).count();
  m["time_update"] = std::chrono::duration<double>(t2 - t1).count();
  return m;
}

void MuZero::VisitState(StateVisitor& v) {
  if (v.loading()) actors_.Stop();  // they restart from the loaded weights
  VisitModule(v, "net", *net_);
  VisitOptimizer(v, "optimizer", *optimizer_);
  v("rng", &rng_);
  v("steps", &steps_);
  v("games", &games_);
  v("updates", &updates_);
  v("positions", &positions_);
  v("first_game_id", &first_game_id_);
  v("update_credit", &update_credit_);
  // The stored games, each as its fields.
  std::string games;
  if (!v.loading()) {
    StateWriter w(&games);
    w(static_cast<uint64_t>(games_store_.size()));
    for (auto& g : games_store_) g.Fields(w);
  }
  v.Bytes("replay_games", &games);
  if (v.loading()) {
    StateReader r(games, "muzero replay");
    uint64_t n = 0;
    r(n);
    games_store_.clear();
    for (uint64_t i = 0; i < n; ++i) {
      GameRecord g;
      g.Fields(r);
      RLF_CHECK(g.obs_size == obs_size_ && g.num_actions == num_actions_ && g.Consistent() &&
                    static_cast<int>(g.final_returns.size()) == num_players_,
                "a stored game does not fit this env (observation or action sizes differ)");
      games_store_.push_back(std::move(g));
    }
    r.ExpectEnd();
  }
  v("slot_game", &slot_game_);
  v("slot_move", &slot_move_);
  v("priorities", &priorities_);
  RLF_CHECK(static_cast<int64_t>(slot_game_.size()) == config_.replay_size &&
                static_cast<int64_t>(slot_move_.size()) == config_.replay_size,
            "replay ring of the wrong size (was replay_size changed?)");
}

std::unique_ptr<Policy> MuZero::MakePolicy(bool deterministic) {
  MuZeroNet copy(obs_size_, num_actions_, config_.latent_size, config_.net_arch, config_.support_size);
  CopyParameters(*net_, *copy);
  return std::make_unique<MuZeroPolicy>(copy, SearchConfig(config_, config_.eval_simulations), num_players_,
                                        deterministic, seed_ ^ 0xC0FFEEULL);
}

std::unique_ptr<Policy> MuZero::MakeNetworkPolicy() {
  MuZeroNet net = net_;
  auto logits = [net](const torch::Tensor& obs) mutable { return net->Predict(net->Represent(obs)).first; };
  return std::make_unique<PriorPolicy>(logits, obs_size_, num_actions_);
}

runtime::Model MuZero::ExportModel() {
  runtime::Model m;
  ExportObservation(env_->observation_space(), &m);
  m.encoder = ExportSequential(net_->representation());
  m.encoder_minmax = true;
  m.shared = ExportSequential(net_->prediction());
  m.policy = {ExportLinear(net_->policy_head(), runtime::Activation::kNone)};
  m.value = {ExportLinear(net_->value_head(), runtime::Activation::kNone)};
  m.value_support = net_->support();
  m.value_eps = 0.001;  // UnscaleValue's
  m.head = runtime::HeadKind::kCategorical;
  m.num_actions = num_actions_, m.action_start = env_->action_space().start();
  m.action_mask = true;
  m.Validate();
  return m;
}

}  // namespace rlforge::search
