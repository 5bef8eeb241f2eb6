#include "rlforge/algos/search/alphazero.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "rlforge/algos/export_model.h"
#include "rlforge/env/registry.h"
#include "rlforge/nn/policy.h"
#include "rlforge/nn/state.h"

namespace rlforge::search {
namespace {

MctsConfig SearchConfig(const AlphaZeroConfig& c, int64_t simulations) {
  MctsConfig m = c.mcts;
  m.simulations = static_cast<int>(simulations);
  m.batch_size = static_cast<int>(c.search_batch);
  return m;
}

// Search from observations: the trained AlphaZero player.
class AlphaZeroPolicy : public Policy {
 public:
  AlphaZeroPolicy(std::unique_ptr<Env> env, PolicyValueNet net, MctsConfig mcts, bool deterministic, uint64_t seed)
      : env_(std::move(env)),
        model_(net, static_cast<int>(env_->action_space().n())),
        mcts_config_(mcts),
        deterministic_(deterministic),
        rng_(seed),
        obs_size_(env_->observation_space().size()) {
    mcts_config_.noise_fraction = 0;
  }
  void Act(const void* observations, const uint8_t* masks, int n, void* actions) override {
    torch::NoGradGuard no_grad;
    const int64_t A = env_->action_space().n();
    for (int i = 0; i < n; ++i) {
      const float* obs = static_cast<const float*>(observations) + i * obs_size_;
      RLF_CHECK_ARG(env_->SetFromObservation(obs), "alphazero policy: this observation is not a position ",
                    env_->name(), " can reach (the search needs the true state)");
      model_.Clear();
      Mcts mcts(mcts_config_);
      NodeEval root = model_.Root(*env_, obs);
      // The caller's mask narrows the moves the search considers (it was
      // ignored: a policy given one legal square played another).
      double sum = 0;
      for (int64_t a = 0; a < A; ++a) {
        if (masks != nullptr && !masks[i * A + a]) root.priors[a] = 0.0f;
        sum += std::max(0.0f, root.priors[a]);
      }
      RLF_CHECK_ARG(sum > 0, "alphazero policy: ", masks != nullptr ? "the mask leaves" : "this position has",
                    " no legal move (is the game over?)");
      for (float& p : root.priors) p = static_cast<float>(std::max(0.0f, p) / sum);
      mcts.SetRoot(root);
      const SearchResult r = mcts.Search(model_, rng_, false);
      static_cast<int64_t*>(actions)[i] = Mcts::SelectAction(r.visits, deterministic_ ? 0.0 : 1.0, rng_);
    }
  }
  std::string name() const override { return "alphazero"; }

 private:
  std::unique_ptr<Env> env_;
  EnvSearchModel model_;
  MctsConfig mcts_config_;
  bool deterministic_;
  Rng rng_;
  int64_t obs_size_;
};

}  // namespace

void AlphaZeroConfig::Visit(FieldVisitor& v) {
  v.Field("simulations", &simulations, "MCTS simulations per self-play move");
  v.Field("search_batch", &search_batch, "leaves evaluated per network call (virtual loss spreads them)");
  v.Field("eval_simulations", &eval_simulations, "simulations per move of the trained policy (eval, play)");
  v.Field("temperature_moves", &temperature_moves, "self-play moves drawn in proportion to visits, then greedy");
  VisitMcts(v, &mcts);
  v.Field("eval_minmax_normalize", &eval_minmax_normalize,
          "the trained policy's search normalizes Q by the tree's min and max (self-play: minmax_normalize)");
  v.Field("num_actors", &num_actors, "self-play actor threads (0: play inside the learner, deterministic)");
  v.Field("games_per_iteration", &games_per_iteration, "self-play games consumed per iteration");
  v.Field("updates_per_iteration", &updates_per_iteration, "gradient steps per iteration");
  v.Field("batch_size", &batch_size, "positions per gradient step");
  v.Field("replay_size", &replay_size, "positions kept in the replay");
  v.Field("learning_rate", &learning_rate, "Adam learning rate");
  v.Field("weight_decay", &weight_decay, "L2 weight decay");
  v.Field("augment", &augment, "train on the board's symmetries");
  v.Field("net_arch", &net_arch, "hidden layer sizes of the policy-value network");
}

void AlphaZeroConfig::Validate() const {
  ValidateMcts(mcts);
  CheckSimulations("simulations", simulations);
  CheckSimulations("eval_simulations", eval_simulations);
  RLF_CHECK_ARG(search_batch >= 1, "config key 'search_batch' must be >= 1, got ", search_batch);
  RLF_CHECK_ARG(temperature_moves >= 0, "config key 'temperature_moves' must be >= 0, got ", temperature_moves);
  RLF_CHECK_ARG(num_actors >= 0 && num_actors <= 64, "config key 'num_actors' must be in [0, 64], got ", num_actors);
  RLF_CHECK_ARG(games_per_iteration >= 1, "config key 'games_per_iteration' must be >= 1, got ", games_per_iteration);
  RLF_CHECK_ARG(updates_per_iteration >= 0,
                "config key 'updates_per_iteration' must be >= 0, got ", updates_per_iteration);
  RLF_CHECK_ARG(batch_size >= 1, "config key 'batch_size' must be >= 1, got ", batch_size);
  RLF_CHECK_ARG(replay_size >= batch_size,
                "config key 'replay_size' (", replay_size, ") must be >= batch_size (", batch_size, ")");
  RLF_CHECK_ARG(learning_rate > 0, "config key 'learning_rate' must be > 0, got ", learning_rate);
  RLF_CHECK_ARG(weight_decay >= 0, "config key 'weight_decay' must be >= 0, got ", weight_decay);
  RLF_CHECK_ARG(!net_arch.empty(), "config key 'net_arch' needs at least one hidden layer");
  for (int64_t h : net_arch) RLF_CHECK_ARG(h >= 1, "config key 'net_arch': layer sizes must be >= 1");
}

PolicyValueNetImpl::PolicyValueNetImpl(int64_t obs_size, int64_t num_actions, const std::vector<int64_t>& net_arch)
    : obs_size_(obs_size), num_actions_(num_actions) {
  RLF_CHECK_ARG(!net_arch.empty(), "config key 'net_arch' needs at least one hidden layer");
  CheckNetArch(obs_size, net_arch);
  torso_ = register_module("torso", torch::nn::Sequential());
  int64_t in = obs_size;
  for (int64_t h : net_arch) {
    torso_->push_back(torch::nn::Linear(in, h));
    torso_->push_back(torch::nn::ReLU());
    in = h;
  }
  policy_ = register_module("policy", torch::nn::Linear(in, num_actions));
  value_ = register_module("value", torch::nn::Linear(in, 1));
}

std::pair<torch::Tensor, torch::Tensor> PolicyValueNetImpl::forward(torch::Tensor x) {
  auto h = torso_->forward(x);
  return {policy_->forward(h), torch::tanh(value_->forward(h)).squeeze(-1)};
}

void PolicyValueNetImpl::Evaluate(const float* obs, const uint8_t* masks, int64_t n, float* priors, float* values) {
  torch::NoGradGuard no_grad;
  auto x = torch::from_blob(const_cast<float*>(obs), {n, obs_size_}, torch::kFloat32);
  auto [logits, v] = forward(x);
  auto m = torch::from_blob(const_cast<uint8_t*>(masks), {n, num_actions_}, torch::kUInt8).to(torch::kBool);
  logits = logits.masked_fill(m.logical_not(), -1e9);
  auto p = torch::softmax(logits, 1).contiguous();
  std::copy_n(p.data_ptr<float>(), n * num_actions_, priors);
  auto vc = v.contiguous();
  std::copy_n(vc.data_ptr<float>(), n, values);
  for (int64_t i = 0; i < n * num_actions_; ++i)
    if (!masks[i]) priors[i] = 0.0f;
}

EnvSearchModel::EnvSearchModel(PolicyValueNet net, int num_actions) : net_(std::move(net)), num_actions_(num_actions) {}

NodeEval EnvSearchModel::Root(const Env& env, const float* obs) {
  states_.push_back(env.Clone());
  NodeEval e;
  e.state = static_cast<int>(states_.size()) - 1;
  e.player = env.current_player();
  masks_.resize(num_actions_);
  env.ActionMask(masks_.data());
  e.priors.resize(num_actions_);
  float v = 0;
  net_->Evaluate(obs, masks_.data(), 1, e.priors.data(), &v);
  e.value = v;
  return e;
}

void EnvSearchModel::Expand(const std::vector<int>& parents, const std::vector<int>& actions,
                            std::vector<NodeEval>* out) {
  const int64_t n = static_cast<int64_t>(parents.size());
  const int64_t obs_size = net_->obs_size();
  obs_.resize(n * obs_size);
  masks_.assign(n * num_actions_, 0);
  std::vector<int64_t> rows;  // the non-terminal children, evaluated together
  for (int64_t i = 0; i < n; ++i) {
    auto child = states_[parents[i]]->Clone();
    const int64_t a = actions[i];
    const StepResult r = child->Step(&a, obs_.data() + rows.size() * obs_size);
    NodeEval& e = (*out)[i];
    e.reward = r.reward;
    e.player = child->current_player();
    // A game cut by a step limit ends there too (a leaf worth its reward):
    // its env takes no further step.
    e.terminal = r.terminated || r.truncated;
    e.value = 0;
    if (!e.terminal) {
      child->ActionMask(masks_.data() + rows.size() * num_actions_);
      rows.push_back(i);
    }
    states_.push_back(std::move(child));
    e.state = static_cast<int>(states_.size()) - 1;
  }
  if (rows.empty()) return;
  priors_.resize(rows.size() * num_actions_);
  values_.resize(rows.size());
  net_->Evaluate(obs_.data(), masks_.data(), static_cast<int64_t>(rows.size()), priors_.data(), values_.data());
  for (size_t k = 0; k < rows.size(); ++k) {
    NodeEval& e = (*out)[rows[k]];
    e.priors.assign(priors_.begin() + k * num_actions_, priors_.begin() + (k + 1) * num_actions_);
    e.value = values_[k];
  }
}

AlphaZero::AlphaZero(const RunContext& ctx, const AlphaZeroConfig& config)
    : Algorithm(ctx), seed_(static_cast<uint64_t>(ctx.run.seed)), config_(config), rng_(seed_) {
  config_.Validate();
  const std::string& env_id = ctx.run.env;
  env_ = ctx.MakeEnv();
  RLF_CHECK_ARG(env_->num_players() == 2, "alphazero plays two-player games (TicTacToe-v0, ConnectFour-v0); ", env_id,
                " has ", env_->num_players(), " player(s): use muzero for single-player envs");
  RLF_CHECK_ARG(env_->action_space().kind() == SpaceKind::kDiscrete && env_->has_action_mask(),
                "alphazero needs a Discrete action space with a legal-action mask; ", env_id, " has ",
                env_->action_space().ToString());
  const Space& os = env_->observation_space();
  RLF_CHECK_ARG(os.kind() == SpaceKind::kBox && os.dtype() == DType::kFloat32,
                "alphazero needs float32 Box observations; ", env_id, " has ", os.ToString());
  obs_size_ = os.size();
  num_actions_ = env_->action_space().n();
  {
    // The trained policy searches from observations: the env must be settable from one.
    std::vector<float> obs(obs_size_);
    env_->Reset(seed_, obs.data());
    RLF_CHECK_ARG(env_->SetFromObservation(obs.data()), "alphazero searches the true simulator from observations; ",
                  env_id, " cannot be set from an observation (Env::SetFromObservation)");
  }
  symmetries_ = env_->Symmetries();
  if (symmetries_.empty()) symmetries_.push_back(IdentitySymmetry(obs_size_, num_actions_));
  if (!config_.augment) symmetries_.resize(1);  // the identity comes first
  torch::manual_seed(seed_);
  net_ = PolicyValueNet(obs_size_, num_actions_, config_.net_arch);
  optimizer_ = std::make_unique<torch::optim::Adam>(
      net_->parameters(), torch::optim::AdamOptions(config_.learning_rate).weight_decay(config_.weight_decay));
  r_obs_.resize(config_.replay_size * obs_size_);
  r_pi_.resize(config_.replay_size * num_actions_);
  r_mask_.resize(config_.replay_size * num_actions_);
  r_z_.resize(config_.replay_size);
  DeclareMetrics({"games", "iteration_games", "replay_positions", "updates", "policy_loss", "value_loss",
                  "time_self_play", "time_update", "moves_per_game"});
}

AlphaZero::~AlphaZero() { actors_.Stop(); }

GameRecord AlphaZero::PlayGame(Env& env, PolicyValueNet net, Rng& rng, uint64_t seed) const {
  torch::NoGradGuard no_grad;
  GameRecord g;
  g.obs_size = obs_size_, g.num_actions = num_actions_;
  std::vector<float> obs(obs_size_);
  std::vector<uint8_t> mask(num_actions_);
  env.Reset(seed, obs.data());
  EnvSearchModel model(net, static_cast<int>(num_actions_));
  Mcts mcts(SearchConfig(config_, config_.simulations));
  for (int64_t move = 0;; ++move) {
    if (!mcts.has_root()) mcts.SetRoot(model.Root(env, obs.data()));
    const SearchResult r = mcts.Search(model, rng, true);
    env.ActionMask(mask.data());
    int total = 0;
    for (int v : r.visits) total += v;
    g.obs.insert(g.obs.end(), obs.begin(), obs.end());
    g.masks.insert(g.masks.end(), mask.begin(), mask.end());
    for (int v : r.visits) g.policies.push_back(static_cast<float>(v) / std::max(1, total));
    g.players.push_back(static_cast<int8_t>(env.current_player()));
    g.root_values.push_back(static_cast<float>(r.root_value));
    const int64_t a = Mcts::SelectAction(r.visits, move < config_.temperature_moves ? 1.0 : 0.0, rng);
    g.actions.push_back(a);
    const StepResult s = env.Step(&a, obs.data());
    g.rewards.push_back(static_cast<float>(s.reward));
    if (s.done()) {
      g.terminated = s.terminated;
      g.final_returns.resize(env.num_players());
      env.PlayerReturns(g.final_returns.data());
      return g;
    }
    mcts.Advance(static_cast<int>(a));
  }
}

void AlphaZero::AddGame(const GameRecord& g) {
  for (int64_t t = 0; t < g.length(); ++t) {
    const int64_t slot = r_next_;
    std::copy_n(g.obs.begin() + t * obs_size_, obs_size_, r_obs_.begin() + slot * obs_size_);
    std::copy_n(g.policies.begin() + t * num_actions_, num_actions_, r_pi_.begin() + slot * num_actions_);
    std::copy_n(g.masks.begin() + t * num_actions_, num_actions_, r_mask_.begin() + slot * num_actions_);
    r_z_[slot] = static_cast<float>(g.final_returns[g.players[t]]);
    r_next_ = (r_next_ + 1) % config_.replay_size;
    r_size_ = std::min(r_size_ + 1, config_.replay_size);
  }
  steps_ += g.length();
  ++games_;
  episodes_.Add(g.final_returns[0], g.length());
}

std::pair<double, double> AlphaZero::Update() {
  const int64_t B = config_.batch_size;
  std::vector<float> x(B * obs_size_), pi(B * num_actions_), z(B);
  std::vector<uint8_t> m(B * num_actions_);
  for (int64_t i = 0; i < B; ++i) {
    const int64_t s = static_cast<int64_t>(rng_.UniformInt(static_cast<uint64_t>(r_size_)));
    const Symmetry& sym = symmetries_[rng_.UniformInt(symmetries_.size())];
    ApplySymmetry(sym, obs_size_, r_obs_.data() + s * obs_size_, x.data() + i * obs_size_);
    for (int64_t a = 0; a < num_actions_; ++a) {
      pi[i * num_actions_ + sym.action[a]] = r_pi_[s * num_actions_ + a];
      m[i * num_actions_ + sym.action[a]] = r_mask_[s * num_actions_ + a];
    }
    z[i] = r_z_[s];
  }
  auto xt = torch::from_blob(x.data(), {B, obs_size_}, torch::kFloat32);
  auto pit = torch::from_blob(pi.data(), {B, num_actions_}, torch::kFloat32);
  auto mt = torch::from_blob(m.data(), {B, num_actions_}, torch::kUInt8).to(torch::kBool);
  auto zt = torch::from_blob(z.data(), {B}, torch::kFloat32);
  auto [logits, v] = net_->forward(xt);
  auto logp = torch::log_softmax(logits.masked_fill(mt.logical_not(), -1e9), 1);
  auto policy_loss = -(pit * logp.masked_fill(mt.logical_not(), 0.0)).sum(1).mean();
  auto value_loss = (zt - v).pow(2).mean();
  auto loss = policy_loss + value_loss;
  RLF_CHECK(std::isfinite(loss.item<double>()), "alphazero: the loss became ", loss.item<double>(),
            " at update ", updates_, "; lower learning_rate");
  optimizer_->zero_grad();
  loss.backward();
  optimizer_->step();
  ++updates_;
  return {policy_loss.item<double>(), value_loss.item<double>()};
}

Metrics AlphaZero::Iterate() {
  const auto t0 = std::chrono::steady_clock::now();
  int64_t new_games = 0, new_moves = 0;
  if (config_.num_actors == 0) {
    for (int64_t k = 0; k < config_.games_per_iteration; ++k) {
      GameRecord g = PlayGame(*env_, net_, rng_, seed_ + 1000003ULL * static_cast<uint64_t>(games_ + 1));
      new_moves += g.length();
      AddGame(g);
      ++new_games;
    }
  } else {
    actors_.Start(
        static_cast<int>(config_.num_actors), static_cast<size_t>(config_.games_per_iteration),
        [this] { return PolicyValueNet(obs_size_, num_actions_, config_.net_arch); },
        [this] { return ctx_.MakeEnv(); },
        [this](Env& env, PolicyValueNet net, Rng& rng, uint64_t seed, int64_t) { return PlayGame(env, net, rng, seed); },
        net_, steps_, seed_);
    for (auto& g : actors_.Take(static_cast<size_t>(config_.games_per_iteration))) {
      new_moves += g.length();
      AddGame(g);
      ++new_games;
    }
  }
  const auto t1 = std::chrono::steady_clock::now();
  double pl = 0, vl = 0;
  const int64_t n = r_size_ >= config_.batch_size ? config_.updates_per_iteration : 0;
  for (int64_t k = 0; k < n; ++k) {
    auto [p, v] = Update();
    pl += p, vl += v;
  }
  actors_.Publish(net_, steps_);
  const auto t2 = std::chrono::steady_clock::now();
  Metrics m;
  m["games"] = static_cast<double>(games_);
  m["iteration_games"] = static_cast<double>(new_games);
  m["replay_positions"] = static_cast<double>(r_size_);
  m["updates"] = static_cast<double>(updates_);
  if (n > 0) {  // no loss before learning starts (an empty cell in progress.csv)
    m["policy_loss"] = pl / n;
    m["value_loss"] = vl / n;
  }
  m["time_self_play"] = std::chrono::duration<double>(t1 - t0).count();
  m["time_update"] = std::chrono::duration<double>(t2 - t1).count();
  m["moves_per_game"] = new_games ? static_cast<double>(new_moves) / new_games : 0.0;
  return m;
}

void AlphaZero::VisitState(StateVisitor& v) {
  if (v.loading()) actors_.Stop();  // they restart from the loaded weights
  VisitModule(v, "net", *net_);
  VisitOptimizer(v, "optimizer", *optimizer_);
  v("rng", &rng_);
  v("steps", &steps_);
  v("games", &games_);
  v("updates", &updates_);
  v("replay_size", &r_size_);
  v("replay_next", &r_next_);
  RLF_CHECK(r_size_ >= 0 && r_size_ <= config_.replay_size && r_next_ >= 0 && r_next_ < config_.replay_size,
            "a replay of ", r_size_, " positions (next ", r_next_, ") does not fit replay_size ", config_.replay_size);
  // The replay's filled rows only.
  const size_t n = static_cast<size_t>(r_size_);
  std::string rows;
  if (!v.loading()) {
    StateWriter w(&rows);
    w.Raw(r_obs_.data(), n * obs_size_ * sizeof(float));
    w.Raw(r_pi_.data(), n * num_actions_ * sizeof(float));
    w.Raw(r_mask_.data(), n * num_actions_);
    w.Raw(r_z_.data(), n * sizeof(float));
  }
  v.Bytes("replay", &rows);
  if (v.loading()) {
    StateReader r(rows, "alphazero replay");
    r.Raw(r_obs_.data(), n * obs_size_ * sizeof(float));
    r.Raw(r_pi_.data(), n * num_actions_ * sizeof(float));
    r.Raw(r_mask_.data(), n * num_actions_);
    r.Raw(r_z_.data(), n * sizeof(float));
    r.ExpectEnd();
  }
}

std::unique_ptr<Policy> AlphaZero::MakePolicy(bool deterministic) {
  PolicyValueNet copy(obs_size_, num_actions_, config_.net_arch);
  CopyParameters(*net_, *copy);
  MctsConfig search = SearchConfig(config_, config_.eval_simulations);
  search.minmax_normalize = config_.eval_minmax_normalize;
  return std::make_unique<AlphaZeroPolicy>(ctx_.MakeEnv(), copy, search, deterministic,
                                           seed_ ^ 0xC0FFEEULL);
}

}  // namespace rlforge::search

namespace rlforge::search {

std::vector<torch::nn::Linear> PolicyValueNetImpl::torso_layers() const {
  std::vector<torch::nn::Linear> out;
  for (const auto& m : torso_->children())
    if (auto lin = std::dynamic_pointer_cast<torch::nn::LinearImpl>(m)) out.emplace_back(lin);
  return out;
}

std::unique_ptr<Policy> AlphaZero::MakeNetworkPolicy() {
  PolicyValueNet net = net_;
  auto logits = [net](const torch::Tensor& obs) mutable { return net->forward(obs).first; };
  return std::make_unique<PriorPolicy>(logits, obs_size_, num_actions_);
}

runtime::Model AlphaZero::ExportModel() {
  runtime::Model m;
  ExportObservation(env_->observation_space(), &m);
  for (const auto& lin : net_->torso_layers()) m.shared.push_back(ExportLinear(lin, runtime::Activation::kRelu));
  m.policy = {ExportLinear(net_->policy_head(), runtime::Activation::kNone)};
  m.value = {ExportLinear(net_->value_head(), runtime::Activation::kTanh)};
  m.head = runtime::HeadKind::kCategorical;
  m.num_actions = num_actions_, m.action_start = env_->action_space().start();
  m.action_mask = true;
  m.Validate();
  return m;
}

}  // namespace rlforge::search
