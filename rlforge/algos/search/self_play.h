// rlforge/algos/search/self_play.h — pieces shared by AlphaZero and MuZero:
// the MCTS config keys, a finished self-play game, and the queue through
// which actor threads hand games to the learner.
#ifndef RLFORGE_ALGOS_SEARCH_SELF_PLAY_H_
#define RLFORGE_ALGOS_SEARCH_SELF_PLAY_H_

#include <algorithm>
#include <torch/torch.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "rlforge/algos/search/mcts.h"
#include "rlforge/env/env.h"
#include "rlforge/env/policy.h"
#include "rlforge/config/config.h"

namespace rlforge::search {

// Greedy on a network's masked prior, without search: what an export of
// AlphaZero's or MuZero's networks computes (Algorithm::MakeNetworkPolicy).
// `logits` maps observations [n, obs_size] to policy logits [n, A].
class PriorPolicy : public Policy {
 public:
  using Logits = std::function<torch::Tensor(const torch::Tensor& obs)>;
  PriorPolicy(Logits logits, int64_t obs_size, int64_t num_actions)
      : logits_(std::move(logits)), obs_size_(obs_size), num_actions_(num_actions) {}
  void Act(const void* observations, const uint8_t* masks, int n, void* actions) override;
  std::string name() const override { return "network prior"; }

 private:
  Logits logits_;
  int64_t obs_size_, num_actions_;
};

// The search keys of a config (prefix-free names, shared by both agents).
void VisitMcts(FieldVisitor& v, MctsConfig* c);
void ValidateMcts(const MctsConfig& c);
// Config key `key` (simulations, eval_simulations) in 1..MctsConfig::kMaxSimulations.
void CheckSimulations(const char* key, int value);

// One self-play game: per move, the observation, the legal mask, the root's
// visit distribution, the player to move, the reward of the move (to the
// mover) and the root's search value.
struct GameRecord {
  int64_t obs_size = 0, num_actions = 0;
  std::vector<float> obs;        // [T, obs_size]
  std::vector<uint8_t> masks;    // [T, num_actions]
  std::vector<float> policies;   // [T, num_actions]
  std::vector<int64_t> actions;  // [T]
  std::vector<int8_t> players;   // [T]
  std::vector<float> rewards;    // [T]
  std::vector<float> root_values;  // [T]
  std::vector<double> final_returns;  // per player, at the end
  bool terminated = false;       // ended in a terminal state (not truncated)
  double final_value = 0;        // MuZero: the net's value of the last observation (bootstrap of truncated games)
  int64_t length() const { return static_cast<int64_t>(actions.size()); }
  // Checkpoints (rlforge/core/state_io.h).
  template <class A>
  void Fields(A& ar) {
    ar(obs_size), ar(num_actions), ar(obs), ar(masks), ar(policies), ar(actions), ar(players), ar(rewards);
    ar(root_values), ar(final_returns), ar(terminated), ar(final_value);
  }
  // Whether the arrays have the sizes of a game of length() moves.
  bool Consistent() const {
    const size_t T = actions.size();
    return T >= 1 && obs.size() == T * obs_size && masks.size() == T * num_actions &&
           policies.size() == T * num_actions && players.size() == T && rewards.size() == T && root_values.size() == T;
  }
  double undiscounted_return() const {
    double s = 0;
    for (float r : rewards) s += r;
    return s;
  }
};

// Games from actor threads to the learner.
class GameQueue {
 public:
  // Blocks while `capacity` games wait (actors must not run far ahead of the
  // learner with stale weights); returns at once once closed.
  void Push(GameRecord game) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return closed_ || games_.size() < capacity_; });
      if (closed_) return;
      games_.push_back(std::move(game));
    }
    cv_.notify_all();
  }
  void set_capacity(size_t capacity) {
    std::lock_guard<std::mutex> lock(mu_);
    capacity_ = std::max<size_t>(1, capacity);
  }
  // Waits until at least n games are queued (or Close), then takes them all.
  std::vector<GameRecord> TakeAtLeast(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return closed_ || games_.size() >= n; });
    std::vector<GameRecord> out(std::make_move_iterator(games_.begin()), std::make_move_iterator(games_.end()));
    games_.clear();
    lock.unlock();
    cv_.notify_all();
    return out;
  }
  // Empties the queue and accepts games again (actors restarting).
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    games_.clear();
    closed_ = false;
  }
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<GameRecord> games_;
  bool closed_ = false;
  size_t capacity_ = 1024;
};

// Copies from's parameters into to (same architecture).
void CopyParameters(const torch::nn::Module& from, torch::nn::Module& to);

// The symmetry that moves nothing.
Symmetry IdentitySymmetry(int64_t obs_size, int64_t num_actions);
// The observation seen under a symmetry of the env (Env::Symmetries()):
// out[s.observation[i]] = in[i] for i < obs_size; out must not alias in.
void ApplySymmetry(const Symmetry& s, int64_t obs_size, const float* in, float* out);

// Self-play actor threads. Each owns an env and a copy of the network, plays
// games with `play` and pushes them into a bounded queue (capacity games:
// actors wait rather than run ahead on stale weights). Publish() hands the
// learner's new weights (and its step count, for schedules) to the actors,
// which pick them up before their next game.
template <typename Net>
class ActorPool {
 public:
  using MakeNet = std::function<Net()>;
  using MakeEnv = std::function<std::unique_ptr<Env>()>;
  using Play = std::function<GameRecord(Env& env, Net net, Rng& rng, uint64_t seed, int64_t learner_steps)>;

  ~ActorPool() { Stop(); }
  bool running() const { return !threads_.empty(); }

  void Start(int actors, size_t capacity, MakeNet make_net, MakeEnv make_env, Play play, const Net& learner,
             int64_t learner_steps, uint64_t seed) {
    if (running()) return;
    make_net_ = std::move(make_net), make_env_ = std::move(make_env), play_ = std::move(play), seed_ = seed;
    published_ = make_net_();
    CopyParameters(*learner, *published_);
    steps_ = learner_steps;
    stop_ = false;
    queue_.Open();
    queue_.set_capacity(capacity);
    for (int i = 0; i < actors; ++i) threads_.emplace_back([this, i] { Loop(i); });
  }
  void Publish(const Net& learner, int64_t learner_steps) {
    if (!running()) return;
    std::lock_guard<std::mutex> lock(mu_);
    CopyParameters(*learner, *published_);
    steps_ = learner_steps;
    ++version_;
  }
  // Waits for at least n games and takes every queued one; an actor's
  // error is rethrown here, in the learner's thread (it used to end the
  // process through std::terminate).
  std::vector<GameRecord> Take(size_t n) {
    std::vector<GameRecord> games = queue_.TakeAtLeast(n);
    std::lock_guard<std::mutex> lock(mu_);
    if (error_) std::rethrow_exception(error_);
    return games;
  }
  void Stop() {
    stop_ = true;
    queue_.Close();
    for (auto& t : threads_) t.join();
    threads_.clear();
    error_ = nullptr;
  }

 private:
  void Loop(int index) {
    try {
      PlayGames(index);
    } catch (...) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
      stop_ = true;
      queue_.Close();
    }
  }
  void PlayGames(int index) {
    torch::NoGradGuard no_grad;
    auto env = make_env_();
    Net net = make_net_();
    int64_t have = -1, steps = 0;
    Rng rng(seed_ ^ (0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(index + 1)));
    while (!stop_) {
      if (version_ != have) {
        std::lock_guard<std::mutex> lock(mu_);
        CopyParameters(*published_, *net);
        have = version_, steps = steps_;
      }
      const uint64_t game_seed = seed_ + 1000003ULL * static_cast<uint64_t>(games_.fetch_add(1) + 1);
      GameRecord g = play_(*env, net, rng, game_seed, steps);
      if (stop_) break;
      queue_.Push(std::move(g));
    }
  }

  MakeNet make_net_;
  MakeEnv make_env_;
  Play play_;
  uint64_t seed_ = 0;
  GameQueue queue_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  Net published_{nullptr};
  int64_t steps_ = 0;  // guarded by mu_
  std::exception_ptr error_;  // an actor's, guarded by mu_
  std::atomic<int64_t> version_{0};
  std::atomic<int64_t> games_{0};
};

}  // namespace rlforge::search

#endif  // RLFORGE_ALGOS_SEARCH_SELF_PLAY_H_
