// The `rlforge` command: see `rlforge --help` and docs/cli.md.
#include <csignal>
#include <cstdlib>
#include <unistd.h>
#include <iostream>
#include <string>

#include "rlforge/cli/common.h"
#include "rlforge/core/version.h"
#include "rlforge/core/error.h"
#include "rlforge/nn/blas.h"
#include "rlforge/train/runner.h"

namespace {

// "rlforge: ", or "rlforge [rank R]: " in a process of a distributed job
// (whose messages interleave with its peers').
std::string RankPrefix() {
  const char* world = std::getenv("WORLD_SIZE");
  const char* rank = std::getenv("RANK");
  if (world == nullptr || rank == nullptr || std::string(world) == "1") return "rlforge: ";
  return std::string("rlforge [rank ") + rank + "]: ";
}

// One write(2) per message, so the lines of ranks that share a terminal or
// log file do not interleave.
void WriteLine(const std::string& text) {
  const std::string line = text + "\n";
  std::cerr.flush();
  (void)!write(2, line.data(), line.size());
}

// For CLI11's bare "A subcommand is required": which command lacks one, the
// word that was taken for it, and the subcommands it has. Walks the words the
// way the commands nest (no command that takes a subcommand has options of
// its own besides --help).
std::string SubcommandError(CLI::App& app, int argc, char** argv) {
  CLI::App* command = &app;
  std::string path = "rlforge";
  std::string stray;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (!word.empty() && word[0] == '-') continue;
    CLI::App* next = nullptr;
    for (CLI::App* sub : command->get_subcommands([](CLI::App*) { return true; }))
      if (sub->check_name(word)) next = sub;
    if (next == nullptr) {
      stray = word;
      break;
    }
    command = next;
    path += " " + word;
  }
  std::string known;
  for (CLI::App* sub : command->get_subcommands([](CLI::App*) { return true; }))
    known += (known.empty() ? "" : ", ") + sub->get_name();
  if (known.empty()) return "";
  if (!stray.empty())
    return "'" + stray + "' is not a subcommand of '" + path + "' (one of: " + known + "; see '" + path +
           " --help')";
  return "'" + path + "' needs a subcommand (one of: " + known + "; see '" + path + " --help')";
}

}  // namespace

int main(int argc, char** argv) {
  // A file that outgrows the file-size limit fails its write (EFBIG) and is
  // reported like a full disk, instead of SIGXFSZ killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  // Training and benchmarks run on OpenBLAS's fast kernels even where its CPU
  // detection fails (a re-execution costs ~0.5 s of start-up, so the quick
  // subcommands skip it).
  if (argc > 1 && (std::string(argv[1]) == "train" || std::string(argv[1]) == "bench"))
    rlforge::UseFastBlasKernels(argv);
  using namespace rlforge::cli;
  CLI::App app{"rlforge: deep reinforcement learning in C++ (environments, vector envs, agents)", "rlforge"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("rlforge ") + rlforge::kVersion);
  AddEnvsCommand(app);
  AddEvalCommand(app);
  AddPlayCommand(app);
  AddCheckEnvCommand(app);
  AddBenchCommand(app);
  AddTrainCommand(app);
  AddPlotCommand(app);
  AddExportCommand(app);
  AddServeCommand(app);
  AddLaunchCommand(app);
  AddRecordCommand(app);
  AddInspectCommand(app);
  AddLmCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (what.empty()) what = "bad command line";
    if (what == "A subcommand is required") {
      const std::string better = SubcommandError(app, argc, argv);
      if (!better.empty()) {
        std::cerr << "rlforge: error: " << better << "\n";
        return kExitUsage;
      }
    }
    std::cerr << "rlforge: error: " << what << " (see 'rlforge --help')\n";
    return kExitUsage;
  } catch (const rlforge::Interrupted& e) {
    WriteLine(RankPrefix() + e.what());
    return 128 + e.signal();
  } catch (const rlforge::InvalidArgument& e) {
    WriteLine(RankPrefix() + "error: " + e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    WriteLine(RankPrefix() + "error: " + e.what());
    return kExitRuntime;
  }
  return ExitStatus();
}
