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

#include "rlforge/train/evaluation.h"

namespace rlforge {

// Named scalars of one iteration (losses, entropy, approx_kl, ...).
using Metrics = std::map<std::string, double>;

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
