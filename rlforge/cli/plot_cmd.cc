// rlforge plot — learning curves of run directories as a PNG image.
#include <cstdio>

#include "rlforge/cli/common.h"
#include "rlforge/env/image_io.h"
#include "rlforge/train/plot.h"

namespace rlforge::cli {

void AddPlotCommand(CLI::App& app) {
  struct Args {
    std::vector<std::string> dirs;
    std::string out, metric = "ep_return_mean", title;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("plot", "Draw learning curves of run directories (mean and spread across seeds)");
  cmd->add_option("dirs", a->dirs, "Run directories")->required();
  cmd->add_option("--out", a->out, "Output image (.png)")->required();
  cmd->add_option("--metric", a->metric,
                  "progress.csv column to plot; eval/<column> plots evaluations.csv's (the periodic evaluations: "
                  "eval/mean_return, eval/std_return, eval/mean_length, eval/success_rate); 'rating' or 'rating_conservative' (mu - 3 sigma) draws a self-play "
                  "run's snapshot ratings from ratings.csv, with its reference bots as flat lines")
      ->capture_default_str();
  cmd->add_option("--title", a->title, "Title (default: the metric)");
  cmd->callback([a] {
    RLF_CHECK_ARG(a->out.size() > 4 && a->out.substr(a->out.size() - 4) == ".png", "--out must end in .png, got '",
                  a->out, "'");
    PlotOptions o;
    o.metric = a->metric;
    o.title = a->title;
    const auto curves = LoadCurves(a->dirs, a->metric);
    WritePng(PlotCurves(curves, o), a->out);
    std::printf("wrote %s (%zu curve%s)\n", a->out.c_str(), curves.size(), curves.size() == 1 ? "" : "s");
  });
}

}  // namespace rlforge::cli
