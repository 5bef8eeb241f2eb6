// rlforge launch — starts the ranks of a distributed job on this host, as
// torchrun does: N processes of `rlforge <command...>` with MASTER_ADDR,
// MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE and GROUP_RANK
// set. It watches them: when one fails (an error, a signal, kill -9) the
// others get SIGTERM, and SIGKILL after --grace seconds, so that no rank is
// left waiting on a dead peer; the launcher exits with the first failure's
// status. SIGINT and SIGTERM sent to the launcher are passed to every rank
// (training ranks save a checkpoint and stop; `--resume` continues).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "rlforge/cli/common.h"

namespace rlforge::cli {
namespace {

struct LaunchArgs {
  int nproc = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master;
  double grace = 30;
  bool elastic = false;
  std::vector<std::string> command;
};

volatile sig_atomic_t g_forward_signal = 0;
void OnSignal(int sig) { g_forward_signal = sig; }

// A port on 127.0.0.1 that nothing listens on now.
int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  RLF_CHECK(fd >= 0, "launch: cannot open a socket to pick a free port: ", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  RLF_CHECK(ok, "launch: cannot pick a free loopback port: ", std::strerror(errno));
  return ntohs(addr.sin_port);
}

int StatusOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

std::string Describe(int status) {
  if (WIFEXITED(status)) return StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return StrCat("was killed by signal ", WTERMSIG(status), " (", strsignal(WTERMSIG(status)), ")");
  return "stopped";
}

void RunLaunch(const LaunchArgs& a) {
  RLF_CHECK_ARG(!a.command.empty(), "launch needs the command each rank runs after --, e.g. rlforge launch --nproc 2 -- "
                                    "train --algo ppo --env CartPole-v1");
  RLF_CHECK_ARG(a.command[0] == "train" || (a.command[0] == "bench" && a.command.size() > 1 && a.command[1] == "allreduce"),
                "launch runs 'train' or 'bench allreduce' (the commands that run as ranks of a job), not '",
                a.command[0], "'");
  RLF_CHECK_ARG(a.nproc >= 1 && a.nproc <= 1024, "--nproc must be in [1, 1024], got ", a.nproc);
  RLF_CHECK_ARG(a.nnodes >= 1 && a.nnodes <= 4096, "--nnodes must be in [1, 4096], got ", a.nnodes);
  RLF_CHECK_ARG(a.node_rank >= 0 && a.node_rank < a.nnodes, "--node-rank must be in [0, ", a.nnodes, "), got ",
                a.node_rank);
  RLF_CHECK_ARG(a.grace >= 0 && a.grace <= 3600, "--grace must be in [0, 3600] seconds, got ", a.grace);
  std::string addr = "127.0.0.1";
  int port = 0;
  if (!a.master.empty()) {
    const size_t colon = a.master.rfind(':');
    RLF_CHECK_ARG(colon != std::string::npos && colon > 0, "--master must be ADDR:PORT, got '", a.master, "'");
    addr = a.master.substr(0, colon);
    const std::string p = a.master.substr(colon + 1);
    char* end = nullptr;
    const long v = std::strtol(p.c_str(), &end, 10);
    RLF_CHECK_ARG(!p.empty() && *end == '\0' && v >= 1 && v <= 65535, "--master port must be in [1, 65535], got '", p,
                  "'");
    port = static_cast<int>(v);
  } else {
    RLF_CHECK_ARG(a.nnodes == 1, "--master ADDR:PORT is required with --nnodes ", a.nnodes,
                  " (rank 0's host and a port every node can reach)");
    port = FreeLoopbackPort();
  }
  const int world = a.nproc * a.nnodes;
  // The cores this process may run on (as `nproc` counts them).
  cpu_set_t allowed;
  const int cores = sched_getaffinity(0, sizeof(allowed), &allowed) == 0 ? CPU_COUNT(&allowed) : 0;
  if (cores > 0 && a.nproc > 4 * cores)
    std::fprintf(stderr,
                 "warning: --nproc %d ranks where %d core(s) are usable: each rank is a whole process (its own memory and "
                 "threads), and more than a few per core only share the cores while they slow the host\n",
                 a.nproc, cores);

  struct sigaction sa{};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::vector<pid_t> pids(static_cast<size_t>(a.nproc), -1);
  for (int local = 0; local < a.nproc; ++local) {
    const int rank = a.node_rank * a.nproc + local;
    pids[static_cast<size_t>(local)] = StartSelf(a.command, [&] {
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      // A rank outlives no launcher: if this one dies (even by kill -9) the
      // rank gets SIGTERM, saves and stops.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      setenv("MASTER_ADDR", addr.c_str(), 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      setenv("RANK", std::to_string(rank).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(local).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(a.nproc).c_str(), 1);
      setenv("GROUP_RANK", std::to_string(a.node_rank).c_str(), 1);
    });
  }
  std::fprintf(stderr, "rlforge launch: %d rank(s) on this node (ranks %d..%d of %d), rendezvous at %s:%d\n", a.nproc,
               a.node_rank * a.nproc, a.node_rank * a.nproc + a.nproc - 1, world, addr.c_str(), port);

  int running = a.nproc;
  int first_failure = 0;
  bool terminating = false;
  bool forwarded = false;  // a signal sent to the launcher went to every rank
  auto deadline = std::chrono::steady_clock::time_point::max();
  auto signal_all = [&](int sig) {
    for (pid_t p : pids)
      if (p > 0) kill(p, sig);
  };
  while (running > 0) {
    if (const int sig = g_forward_signal; sig != 0) {
      g_forward_signal = 0;
      forwarded = true;
      signal_all(sig);  // the ranks save and stop; their statuses say how
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (size_t i = 0; i < pids.size(); ++i) {
        if (pids[i] != pid) continue;
        pids[i] = -1;
        --running;
        const int code = StatusOf(status);
        const int rank = a.node_rank * a.nproc + static_cast<int>(i);
        if (code != 0 && a.elastic && rank != 0) {  // an actor: the job goes on without it
          std::fprintf(stderr, "rlforge launch: rank %d %s; --elastic: the job goes on\n", rank,
                       Describe(status).c_str());
          continue;
        }
        if (code != 0 && first_failure == 0) {
          first_failure = code;
          if (forwarded) continue;  // stopping as asked: each rank said so itself
          std::fprintf(stderr, "rlforge launch: rank %d %s%s\n", a.node_rank * a.nproc + static_cast<int>(i),
                       Describe(status).c_str(), running > 0 ? "; stopping the other ranks" : "");
          if (running > 0 && !terminating) {
            terminating = true;
            signal_all(SIGTERM);
            deadline = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(a.grace * 1000));
          }
        }
      }
      continue;
    }
    if (terminating && std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "rlforge launch: %d rank(s) still running %.0f s after SIGTERM: killing them\n", running,
                   a.grace);
      signal_all(SIGKILL);
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (first_failure != 0) ExitStatus() = first_failure;
}

}  // namespace

void AddLaunchCommand(CLI::App& app) {
  auto a = std::make_shared<LaunchArgs>();
  auto* cmd = app.add_subcommand(
      "launch",
      "Run a distributed training job's ranks on this host (as torchrun does): rlforge launch --nproc N -- train ... "
      "(see docs/distributed.md)");
  cmd->add_option("--nproc", a->nproc, "Ranks on this node (default 1)")->transform(IntegerFor(a->nproc));
  cmd->add_option("--nnodes", a->nnodes, "Nodes in the job")->transform(IntegerFor(a->nnodes));
  cmd->add_option("--node-rank", a->node_rank, "This node's index in [0, nnodes)")->transform(IntegerFor(a->node_rank));
  cmd->add_option("--master", a->master,
                  "ADDR:PORT of rank 0's rendezvous store (default: 127.0.0.1 and a free port; required with "
                  "--nnodes > 1)");
  cmd->add_option("--grace", a->grace, "Seconds the other ranks get to stop after one fails, before SIGKILL");
  cmd->add_flag("--elastic", a->elastic,
                "Ranks other than 0 may fail without stopping the job (the actors of an actor-learner agent: impala)");
  cmd->add_option("command", a->command, "The command each rank runs, after --: train ...");
  cmd->callback([a] { RunLaunch(*a); });
}

}  // namespace rlforge::cli
