// rlforge/data/inspect.h — a dataset's quality report (`rlforge inspect`).
//
// Reads a Minari dataset leniently (damaged episodes are reported and left
// out, rlforge/data/dataset.h) and measures
//   completeness       fields missing or misshapen, non-finite observations,
//                      actions and rewards, values outside the spaces, the
//                      share of truncated episodes, steps marked ended before
//                      their episode's last, masks that leave no legal value
//                      or that the recorded action breaks, and masks absent
//                      where the env has them;
//   representativeness per observation feature: range, mean, std and the
//                      share of 20 equal bins between its min and max that
//                      the data visits; the return and length distributions;
//   diversity          per action dimension: counts, the largest share, and
//                      the entropy of the empirical action distribution
//                      relative to log(classes) (Box: mean and std); the
//                      duplicated transitions (o, a, r, o') and episodes;
//   accuracy           episodes with a known reset seed replayed in the env:
//                      do the observations, rewards and flags recur;
//   correlation        Pearson correlations between observation features
//                      (and the reward): pairs with |r| >= 0.95, constants;
//   score              the behaviour policy's mean return, and normalized
//                      by the reference min/max: (R - min) / (max - min).
// Each defect found becomes a flag (a code and one line); a clean dataset has
// none. Thresholds: one action value above 95% of a dimension's steps, more
// than 1% duplicated transitions, any duplicated episode, any non-finite
// value, any replay mismatch (of a dataset rlforge recorded: another
// library's episodes of a stochastic env drew from its own generator).
#ifndef RLFORGE_DATA_INSPECT_H_
#define RLFORGE_DATA_INSPECT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "rlforge/data/dataset.h"
#include "rlforge/env/image.h"

namespace rlforge {

struct InspectOptions {
  int64_t replay_episodes = 10;  // episodes replayed for the accuracy check (0: none)
};

struct DatasetReport {
  struct Flag {
    std::string code;     // missing_field, non_finite, out_of_space, single_action, duplicate_episodes, ...
    std::string message;  // one line
  };
  struct Feature {
    double min = 0, max = 0, mean = 0, std = 0, coverage = 0;
    int64_t non_finite = 0;
  };
  struct ActionDim {
    std::vector<int64_t> counts;  // categorical dimensions
    double top_share = 0, entropy_ratio = 0;
    double mean = 0, std = 0;     // Box dimensions
  };
  Dataset data;
  std::vector<std::string> problems;           // from the lenient read: damaged episodes (left out)
  std::vector<std::string> metadata_problems;  // the same about metadata.json (counts that disagree)
  std::vector<Flag> flags;
  // completeness
  int64_t truncated_episodes = 0, terminated_episodes = 0, unfinished_episodes = 0;
  int64_t non_finite_obs = 0, non_finite_actions = 0, non_finite_rewards = 0, out_of_space_obs = 0,
          out_of_space_actions = 0;
  // representativeness
  std::vector<Feature> features;  // per observation element, or per channel for image frames
  bool features_per_channel = false;
  std::vector<double> returns;
  std::vector<int64_t> lengths;
  // diversity
  std::vector<ActionDim> actions;
  int64_t duplicate_transitions = 0, duplicate_episodes = 0;
  // accuracy
  int64_t replayed = 0, replay_mismatches = 0;
  // Of the mismatches, another library's episodes that rlforge's seeding
  // started alike: unverifiable (a stochastic env's draws differ), not flagged.
  int64_t replay_unverifiable = 0;
  std::string replay_note;  // why nothing was replayed, or the first mismatch
  // correlation
  std::vector<std::vector<double>> correlation;  // [features + 1 (reward)]^2
  std::vector<std::string> correlated_pairs, constant_features;
  // score
  double mean_return = 0;
  std::optional<double> normalized_score;

  bool has_flag(const std::string& code) const;
  std::string ToText() const;
  std::string ToJson() const;
};

DatasetReport InspectDataset(const std::string& dir, const InspectOptions& options = {});

// Histograms of the report (returns, lengths, action counts, features'
// coverage) as one PNG image.
Image PlotReport(const DatasetReport& r);

}  // namespace rlforge

#endif  // RLFORGE_DATA_INSPECT_H_
