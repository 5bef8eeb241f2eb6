#include "rlforge/algos/search/alphazero.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "rlforge/env/registry.h"
#include "rlforge/envs/board_games/board_game.h"
#include "rlforge/train/checkpoint.h"

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
  void Act(const void* observations, const uint8_t* /*masks*/, int n, void* actions) override {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < n; ++i) {
      const float* obs = static_cast<const float*>(observations) + i * obs_size_;
      RLF_CHECK(env_->SetFromObservation(obs), "alphazero policy: ", env_->name(),
                " cannot be set from an observation (search needs the true state)");
      model_.Clear();
      Mcts mcts(mcts_config_);
      mcts.SetRoot(model_.Root(*env_, obs));
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
  RLF_CHECK_ARG(simulations >= 1, "config key 'simulations' must be >= 1, got ", simulations);
  RLF_CHECK_ARG(eval_simulations >= 1, "config key 'eval_simulations' must be >= 1, got ", eval_simulations);
  RLF_CHECK_ARG(search_batch >= 1, "config key 'search_batch' must be >= 1, got ", search_batch);
  RLF_CHECK_ARG(temperature_moves >= 0, "config key 'temperature_moves' must be >= 0");
  RLF_CHECK_ARG(num_actors >= 0 && num_actors <= 64, "config key 'num_actors' must be in [0, 64], got ", num_actors);
  RLF_CHECK_ARG(games_per_iteration >= 1, "config key 'games_per_iteration' must be >= 1");
  RLF_CHECK_ARG(updates_per_iteration >= 0, "config key 'updates_per_iteration' must be >= 0");
  RLF_CHECK_ARG(batch_size >= 1, "config key 'batch_size' must be >= 1");
  RLF_CHECK_ARG(replay_size >= batch_size, "config key 'replay_size' must be >= batch_size");
  RLF_CHECK_ARG(learning_rate > 0, "config key 'learning_rate' must be > 0");
  RLF_CHECK_ARG(weight_decay >= 0, "config key 'weight_decay' must be >= 0");
  RLF_CHECK_ARG(!net_arch.empty(), "config key 'net_arch' needs at least one hidden layer");
  for (int64_t h : net_arch) RLF_CHECK_ARG(h >= 1, "config key 'net_arch': layer sizes must be >= 1");
}

PolicyValueNetImpl::PolicyValueNetImpl(int64_t obs_size, int64_t num_actions, const std::vector<int64_t>& net_arch)
    : obs_size_(obs_size), num_actions_(num_actions) {
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
    e.terminal = r.terminated;
    e.value = 0;
    if (!r.terminated) {
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

AlphaZero::AlphaZero(const std::string& env_id, const Kwargs& env_kwargs, uint64_t seed,
                     const AlphaZeroConfig& config, int64_t /*total_steps*/)
    : env_id_(env_id), env_kwargs_(env_kwargs), seed_(seed), config_(config), rng_(seed) {
  config_.Validate();
  env_ = Make(env_id, env_kwargs);
  RLF_CHECK_ARG(env_->num_players() == 2, "alphazero plays two-player games (TicTacToe-v0, ConnectFour-v0); ", env_id,
                " has ", env_->num_players(), " player(s): use muzero for single-player envs");
  const auto* game = dynamic_cast<const BoardGameEnv*>(&env_->unwrapped());
  RLF_CHECK_ARG(game != nullptr, "alphazero searches the true simulator of the board games; ", env_id,
                " is not one");
  RLF_CHECK_ARG(env_->action_space().kind() == SpaceKind::kDiscrete, "alphazero needs a Discrete action space");
  obs_size_ = env_->observation_space().size();
  num_actions_ = env_->action_space().n();
  BoardSymmetries(game->empty_board(), &sym_cells_, &sym_actions_);
  if (!config_.augment) sym_cells_.resize(1), sym_actions_.resize(1);  // the identity comes first
  torch::manual_seed(seed);
  net_ = PolicyValueNet(obs_size_, num_actions_, config_.net_arch);
  optimizer_ = std::make_unique<torch::optim::Adam>(
      net_->parameters(), torch::optim::AdamOptions(config_.learning_rate).weight_decay(config_.weight_decay));
  r_obs_.resize(config_.replay_size * obs_size_);
  r_pi_.resize(config_.replay_size * num_actions_);
  r_mask_.resize(config_.replay_size * num_actions_);
  r_z_.resize(config_.replay_size);
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
    const auto& cp = sym_cells_[rng_.UniformInt(sym_cells_.size())];
    const auto& ap = sym_actions_[&cp - sym_cells_.data()];
    PermuteBoardObservation(cp, obs_size_, r_obs_.data() + s * obs_size_, x.data() + i * obs_size_);
    for (int64_t a = 0; a < num_actions_; ++a) {
      pi[i * num_actions_ + ap[a]] = r_pi_[s * num_actions_ + a];
      m[i * num_actions_ + ap[a]] = r_mask_[s * num_actions_ + a];
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
        [this] { return Make(env_id_, env_kwargs_); },
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
  m["policy_loss"] = n > 0 ? pl / n : 0.0;  // every key on every row (0 before learning)
  m["value_loss"] = n > 0 ? vl / n : 0.0;
  m["time_self_play"] = std::chrono::duration<double>(t1 - t0).count();
  m["time_update"] = std::chrono::duration<double>(t2 - t1).count();
  m["moves_per_game"] = new_games ? static_cast<double>(new_moves) / new_games : 0.0;
  return m;
}

void AlphaZero::TakeFinishedEpisodes(std::vector<double>* returns, std::vector<int64_t>* lengths) {
  episodes_.Take(returns, lengths);
}

void AlphaZero::Save(const std::string& path) const {
  torch::serialize::OutputArchive archive, net, opt;
  net_->save(net);
  optimizer_->save(opt);
  archive.write("net", net);
  archive.write("optimizer", opt);
  archive.write("rng", RngStateTensor(rng_));
  archive.write("counters", torch::tensor(std::vector<int64_t>{steps_, games_, updates_, r_size_, r_next_}, torch::kLong));
  const int64_t n = r_size_;
  archive.write("replay_obs", torch::from_blob(const_cast<float*>(r_obs_.data()), {n, obs_size_}).clone());
  archive.write("replay_pi", torch::from_blob(const_cast<float*>(r_pi_.data()), {n, num_actions_}).clone());
  archive.write("replay_mask",
                torch::from_blob(const_cast<uint8_t*>(r_mask_.data()), {n, num_actions_}, torch::kUInt8).clone());
  archive.write("replay_z", torch::from_blob(const_cast<float*>(r_z_.data()), {n}).clone());
  SaveArchiveAtomically(archive, path);
}

void AlphaZero::Load(const std::string& path) {
  actors_.Stop();
  torch::serialize::InputArchive archive;
  LoadArchive(path, &archive);
  try {
    torch::serialize::InputArchive net, opt;
    archive.read("net", net);
    net_->load(net);
    archive.read("optimizer", opt);
    optimizer_->load(opt);
    torch::Tensor rng, counters, obs, pi, mask, z;
    archive.read("rng", rng);
    SetRngState(rng, &rng_);
    archive.read("counters", counters);
    steps_ = counters[0].item<int64_t>(), games_ = counters[1].item<int64_t>(), updates_ = counters[2].item<int64_t>();
    r_size_ = counters[3].item<int64_t>(), r_next_ = counters[4].item<int64_t>();
    RLF_CHECK(r_size_ <= config_.replay_size && r_next_ < config_.replay_size, "replay larger than replay_size");
    archive.read("replay_obs", obs), archive.read("replay_pi", pi), archive.read("replay_mask", mask),
        archive.read("replay_z", z);
    RLF_CHECK(obs.numel() == r_size_ * obs_size_ && pi.numel() == r_size_ * num_actions_ &&
                  mask.numel() == r_size_ * num_actions_ && z.numel() == r_size_,
              "replay arrays of the wrong size");
    std::copy_n(obs.contiguous().data_ptr<float>(), obs.numel(), r_obs_.begin());
    std::copy_n(pi.contiguous().data_ptr<float>(), pi.numel(), r_pi_.begin());
    std::copy_n(mask.contiguous().data_ptr<uint8_t>(), mask.numel(), r_mask_.begin());
    std::copy_n(z.contiguous().data_ptr<float>(), z.numel(), r_z_.begin());
  } catch (const c10::Error& e) {
    throw Error(StrCat(path, ": not an alphazero checkpoint for this config: ", e.what_without_backtrace()));
  } catch (const Error& e) {
    throw Error(StrCat(path, ": corrupt alphazero checkpoint: ", e.what()));
  }
}

std::unique_ptr<Policy> AlphaZero::MakePolicy(bool deterministic) {
  PolicyValueNet copy(obs_size_, num_actions_, config_.net_arch);
  CopyParameters(*net_, *copy);
  MctsConfig search = SearchConfig(config_, config_.eval_simulations);
  search.minmax_normalize = config_.eval_minmax_normalize;
  return std::make_unique<AlphaZeroPolicy>(Make(env_id_, env_kwargs_), copy, search, deterministic,
                                           seed_ ^ 0xC0FFEEULL);
}

}  // namespace rlforge::search
