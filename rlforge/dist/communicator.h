// rlforge/dist/communicator.h — one process's place in a training job of
// several, on PyTorch's c10d engine (TCPStore rendezvous, Gloo collectives).
//
// A job is described the way torchrun describes it, in the environment:
//   MASTER_ADDR, MASTER_PORT   where rank 0 hosts the TCPStore
//   RANK, WORLD_SIZE           this process's rank among WORLD_SIZE
//   LOCAL_RANK                 its rank on its host (optional)
//   TORCHELASTIC_USE_AGENT_STORE=True   torchrun's agent already hosts the
//       store: every rank is a client, and keys live under
//       /worker/attempt_<TORCHELASTIC_RESTART_COUNT> (torchrun's convention)
//   GLOO_SOCKET_IFNAME         the interface Gloo's connections use (as in
//       PyTorch); otherwise loopback when MASTER_ADDR is a loopback address,
//       else the address this host's name resolves to.
// `rlforge launch` (rlforge/cli/launch_cmd.cc) sets the same variables.
//
// Every collective blocks until all ranks have entered it. A peer that exits
// closes its connections, so the others fail at their next collective with
// an Error naming the operation; one that hangs fails them after the job's
// timeout. Either way no process is left waiting forever.
#ifndef RLFORGE_DIST_COMMUNICATOR_H_
#define RLFORGE_DIST_COMMUNICATOR_H_

#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rlforge/core/state_io.h"

namespace c10d {
class Store;
class ProcessGroupGloo;
}  // namespace c10d

namespace rlforge::dist {

struct JobEnv {
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  bool agent_store = false;  // TORCHELASTIC_USE_AGENT_STORE
  int restart_count = 0;     // TORCHELASTIC_RESTART_COUNT
  std::string socket_ifname; // GLOO_SOCKET_IFNAME
};

// The job this process belongs to, from the variables above; nullopt when
// WORLD_SIZE is unset. InvalidArgument naming the variable when one is
// malformed or missing (RANK without WORLD_SIZE, RANK >= WORLD_SIZE, ...).
std::optional<JobEnv> JobEnvFromEnvironment();

// The rendezvous and collective timeout: RLFORGE_DIST_TIMEOUT seconds (default 300).
std::chrono::milliseconds DefaultTimeout();

// The job's TCPStore: hosted by rank 0 (unless torchrun's agent hosts it),
// reached by the others within `timeout`. Error naming the address when the
// port is in use or the store is not reached in time. Communicator::Connect
// builds on it; the actor-learner agents use it alone (actors may come and go).
c10::intrusive_ptr<c10d::Store> MakeStore(const JobEnv& env, std::chrono::milliseconds timeout);

class Communicator {
 public:
  // Joins the job: rank 0 hosts the TCPStore (unless the agent does), every
  // rank connects within `timeout`, then the Gloo group forms. Error naming
  // the address when the port is in use or rank 0 is not reached in time.
  static std::shared_ptr<Communicator> Connect(const JobEnv& env, std::chrono::milliseconds timeout);
  // Over a store the caller made (tests: a c10d::HashStore shared by threads).
  Communicator(c10::intrusive_ptr<c10d::Store> store, int rank, int world_size, std::chrono::milliseconds timeout);
  ~Communicator();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  bool root() const { return rank_ == 0; }

  // In place, over every rank: sum, or max (float, double or int64 tensors,
  // contiguous). Sums of up to kGatherReduceBytes in all (tensor bytes x
  // ranks) are an all-gather and a local sum in rank order: fewer round
  // trips than Gloo's ring all-reduce (docs/distributed.md measures both),
  // and the same bits on every rank and in every run; larger sums use
  // Gloo's all-reduce.
  static constexpr int64_t kGatherReduceBytes = 16 << 20;
  void AllReduceSum(torch::Tensor t);
  void AllReduceMax(torch::Tensor t);
  // Rank `root`'s t into every rank's t.
  void Broadcast(torch::Tensor t, int root = 0);
  // Every rank's bytes, by rank.
  std::vector<std::string> AllGather(const std::string& bytes);
  void Barrier();
  // Every rank states `value` for `what` (a config hash, a version); Error
  // on every rank naming the first rank whose value differs from rank 0's.
  void CheckAgree(const std::string& what, const std::string& value);
  // Seconds spent inside collectives since construction (communication and
  // waiting for the slowest rank).
  double seconds() const { return seconds_; }
  // Bytes this rank handed to collectives since construction (each
  // all-reduce's and broadcast's tensor, each all-gather's contribution).
  double bytes() const { return bytes_; }

 private:
  template <typename F>
  void Run(const char* what, F&& f);
  c10::intrusive_ptr<c10d::Store> store_;
  // The Gloo group itself (in libtorch 2.x a c10d::Backend, in 1.13 a
  // c10d::ProcessGroup; its collectives are the same calls in both).
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  int rank_ = 0, world_size_ = 1;
  double seconds_ = 0;
  double bytes_ = 0;
};

// Visits state that each rank holds for itself (its envs, its action
// sampler). A single process visits fn(v) directly, so one-process
// checkpoints keep their layout. In a job, saving gathers every rank's fields
// into one checkpoint field, kPerRankField, on the rank that writes (a
// collective: every rank saves together); loading gives each rank its own
// part, and throws Error when the checkpoint was written by a job of another
// size. A single process loading a job's checkpoint (eval, play, export)
// takes rank 0's part.
inline constexpr char kPerRankField[] = "per_rank";
void VisitPerRank(StateVisitor& v, Communicator* comm, const std::function<void(StateVisitor&)>& fn);
// The number of ranks of the job that wrote a checkpoint (1: a single process).
int CheckpointRanks(StateVisitor& reader);

// A StateVisitor that saves into, or loads from, a name -> bytes map.
class MemoryStateVisitor : public StateVisitor {
 public:
  explicit MemoryStateVisitor(bool loading) : loading_(loading) {}
  bool loading() const override { return loading_; }
  void Bytes(const std::string& name, std::string* bytes) override;
  std::string Serialize() const;
  static MemoryStateVisitor Deserialize(const std::string& bytes, const std::string& what);

 private:
  bool loading_;
  std::vector<std::pair<std::string, std::string>> fields_;
};

// A StateVisitor that saves into nothing (ranks that do not write files).
class DiscardStateVisitor : public StateVisitor {
 public:
  bool loading() const override { return false; }
  void Bytes(const std::string&, std::string*) override {}
};

}  // namespace rlforge::dist

#endif  // RLFORGE_DIST_COMMUNICATOR_H_
