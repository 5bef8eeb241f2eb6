// rlforge/algos/algorithm.h — the small interface every agent implements.
//
// An Algorithm owns its vector env, networks, optimizer and RNG. The runner
// (rlforge/train/runner.h) drives it: Iterate() collects experience and
// updates once, returning the iteration's metrics; Save/Load write and read
// everything needed to continue exactly; MakePolicy gives a Policy for
// evaluation and play.
#ifndef RLFORGE_ALGOS_ALGORITHM_H_
#define RLFORGE_ALGOS_ALGORITHM_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rlforge/train/evaluation.h"

namespace rlforge {

// Named scalars of one iteration (losses, entropy, approx_kl, ...).
using Metrics = std::map<std::string, double>;

// Returns and lengths of the episodes that ended since the last Take.
class EpisodeLog {
 public:
  void Add(double episode_return, int64_t episode_length) {
    returns_.push_back(episode_return);
    lengths_.push_back(episode_length);
  }
  // Appends the logged episodes to returns/lengths and clears the log.
  void Take(std::vector<double>* returns, std::vector<int64_t>* lengths) {
    returns->insert(returns->end(), returns_.begin(), returns_.end());
    lengths->insert(lengths->end(), lengths_.begin(), lengths_.end());
    returns_.clear();
    lengths_.clear();
  }

 private:
  std::vector<double> returns_;
  std::vector<int64_t> lengths_;
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  // Collect + update; advances num_timesteps().
  virtual Metrics Iterate() = 0;
  virtual int64_t num_timesteps() const = 0;
  // Returns and lengths of episodes finished since the last call.
  virtual void TakeFinishedEpisodes(std::vector<double>* returns, std::vector<int64_t>* lengths) = 0;
  virtual void Save(const std::string& path) const = 0;
  virtual void Load(const std::string& path) = 0;
  virtual std::unique_ptr<Policy> MakePolicy(bool deterministic) = 0;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_ALGORITHM_H_
