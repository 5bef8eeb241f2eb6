// rlforge/train/plot.h — learning curves from run directories, as a PNG.
//
// Each run contributes its progress.csv (x: timesteps, y: a column,
// ep_return_mean by default), or for a metric "eval/<column>" its
// evaluations.csv (the periodic evaluations, eval/mean_return ...). Runs whose config.yaml are identical except for
// the seed form one group: the group is drawn as its mean curve with a shaded
// band from the minimum to the maximum across seeds (each run resampled on a
// common grid up to the shortest run). A single run is drawn as a line.
// Metric "rating" (or "rating_conservative", mu - 3 sigma) reads a self-play
// run's ratings.csv instead: its snapshots' TrueSkill ratings against
// timesteps, and the reference bots' ratings as flat lines.
#ifndef RLFORGE_TRAIN_PLOT_H_
#define RLFORGE_TRAIN_PLOT_H_

#include <string>
#include <vector>

#include "rlforge/env/image.h"

namespace rlforge {

struct PlotOptions {
  std::string metric = "ep_return_mean";
  int width = 960;
  int height = 600;
  std::string title;
};

struct Curve {
  std::string label;
  std::vector<double> x, mean, low, high;  // low/high == mean for one run
  int runs = 1;
};

// The label of an axis tick at v, a multiple of the tick step: "0" (never
// "-0" or "1e-17"), "250", "20k", "1.5M".
std::string TickLabel(double v, double step);

// Reads and groups the runs; throws InvalidArgument naming a bad directory.
// Non-finite values (inf, nan) are left out of a curve, with a warning on
// stderr; a run with none left is an InvalidArgument.
std::vector<Curve> LoadCurves(const std::vector<std::string>& run_dirs, const std::string& metric);
Image PlotCurves(const std::vector<Curve>& curves, const PlotOptions& options);
// The legend's box in PlotCurves' image (pixels): the corner of the plot
// where it hides the fewest points of the curves (top-left on a tie).
struct LegendBox {
  double x = 0, y = 0, width = 0, height = 0;
};
LegendBox PlaceLegend(const std::vector<Curve>& curves, const PlotOptions& options);

}  // namespace rlforge

#endif  // RLFORGE_TRAIN_PLOT_H_
