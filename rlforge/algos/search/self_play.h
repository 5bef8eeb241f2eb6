// rlforge/algos/search/self_play.h — pieces shared by AlphaZero and MuZero:
// the MCTS config keys, a finished self-play game, and the queue through
// which actor threads hand games to the learner.
#ifndef RLFORGE_ALGOS_SEARCH_SELF_PLAY_H_
#define RLFORGE_ALGOS_SEARCH_SELF_PLAY_H_

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "rlforge/algos/search/mcts.h"
#include "rlforge/train/config.h"

namespace rlforge::search {

// The search keys of a config (prefix-free names, shared by both agents).
void VisitMcts(FieldVisitor& v, MctsConfig* c);
void ValidateMcts(const MctsConfig& c);

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
  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<GameRecord> games_;
  bool closed_ = false;
  size_t capacity_ = 1024;
};

}  // namespace rlforge::search

#endif  // RLFORGE_ALGOS_SEARCH_SELF_PLAY_H_
