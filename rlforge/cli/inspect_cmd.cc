// rlforge inspect — a dataset's quality report (rlforge/data/inspect.h).
#include <cstdio>
#include <iostream>

#include "rlforge/cli/common.h"
#include "rlforge/data/inspect.h"
#include "rlforge/env/image_io.h"

namespace rlforge::cli {
namespace {

struct InspectArgs {
  std::string dataset, plot;
  int64_t replay_episodes = 10;
  bool json = false, strict = false;
};

void RunInspect(const InspectArgs& a) {
  RLF_CHECK_ARG(a.replay_episodes >= 0, "--replay-episodes must be >= 0, got ", a.replay_episodes);
  // Where the plot goes, before the report is made and printed.
  if (!a.plot.empty()) {
    CheckOutputFile("--plot", a.plot);
    RLF_CHECK_ARG(a.plot.size() > 4 && a.plot.substr(a.plot.size() - 4) == ".png", "--plot must name a .png file, got '",
                  a.plot, "'");
  }
  InspectOptions o;
  o.replay_episodes = a.replay_episodes;
  const DatasetReport r = InspectDataset(a.dataset, o);
  std::cout << (a.json ? r.ToJson() : r.ToText());
  if (!a.plot.empty()) {
    WritePng(PlotReport(r), a.plot);
    if (!a.json) std::printf("plots: %s\n", a.plot.c_str());
  }
  if (a.strict && !r.flags.empty()) {
    std::fprintf(stderr, "rlforge: error: dataset %s has %zu flag(s) (--strict)\n", a.dataset.c_str(), r.flags.size());
    ExitStatus() = kExitRuntime;
  }
}

}  // namespace

void AddInspectCommand(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  auto* cmd = app.add_subcommand("inspect", "Quality report of a dataset: completeness, coverage, diversity, replay "
                                            "accuracy, correlations, score, and flags for its defects");
  cmd->add_option("dataset", a->dataset, "Dataset directory (Minari layout)")->required();
  cmd->add_flag("--json", a->json, "Print the report as one JSON object");
  cmd->add_option("--plot", a->plot, "Write histograms (returns, lengths, actions, coverage) to this PNG file");
  cmd->add_option("--replay-episodes", a->replay_episodes,
                  "Episodes with a recorded seed replayed in the env to check rewards and transitions (0: none)")
      ->transform(IntegerFor(a->replay_episodes))->capture_default_str();
  cmd->add_flag("--strict", a->strict, "Exit with status 1 when the report raises any flag");
  cmd->callback([a] { RunInspect(*a); });
}

}  // namespace rlforge::cli
