#include "rlforge/dist/communicator.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "rlforge/core/error.h"

namespace rlforge::dist {
namespace {

// The first line of an exception's message (c10's carry a C++ backtrace).
std::string FirstLine(const std::string& s) {
  const size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::optional<std::string> Var(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

int IntVar(const char* name, const std::string& text, int lo, int hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  RLF_CHECK_ARG(errno == 0 && end != text.c_str() && *end == '\0' && v >= lo && v <= hi, "environment variable ",
                name, "='", text, "' is not an integer in [", lo, ", ", hi, "]");
  return static_cast<int>(v);
}

bool IsLoopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

// This host's address on the route to `addr` (a UDP socket "connected" to
// it sends nothing), or "" when there is none.
std::string LocalAddressTowards(const std::string& addr) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(addr.c_str(), "9", &hints, &res) != 0 || res == nullptr) return "";
  std::string out;
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
    sockaddr_in local{};
    socklen_t len = sizeof(local);
    char buf[INET_ADDRSTRLEN] = {0};
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
        inet_ntop(AF_INET, &local.sin_addr, buf, sizeof(buf)) != nullptr)
      out = buf;
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(res);
  return out;
}

}  // namespace

std::optional<JobEnv> JobEnvFromEnvironment() {
  const auto world = Var("WORLD_SIZE");
  if (!world) {
    RLF_CHECK_ARG(!Var("RANK"), "environment variable RANK is set but WORLD_SIZE is not");
    return std::nullopt;
  }
  JobEnv e;
  e.world_size = IntVar("WORLD_SIZE", *world, 1, 65536);
  const auto rank = Var("RANK");
  RLF_CHECK_ARG(rank || e.world_size == 1, "environment variable WORLD_SIZE=", e.world_size, " is set but RANK is not");
  if (rank) e.rank = IntVar("RANK", *rank, 0, e.world_size - 1);
  if (const auto l = Var("LOCAL_RANK")) e.local_rank = IntVar("LOCAL_RANK", *l, 0, 65535);
  if (e.world_size > 1) {
    const auto addr = Var("MASTER_ADDR");
    const auto port = Var("MASTER_PORT");
    RLF_CHECK_ARG(addr, "environment variable MASTER_ADDR is not set (WORLD_SIZE=", e.world_size, ")");
    RLF_CHECK_ARG(port, "environment variable MASTER_PORT is not set (WORLD_SIZE=", e.world_size, ")");
    e.master_addr = *addr;
    e.master_port = IntVar("MASTER_PORT", *port, 1, 65535);
  }
  if (const auto a = Var("TORCHELASTIC_USE_AGENT_STORE")) e.agent_store = (*a == "True" || *a == "true" || *a == "1");
  if (const auto r = Var("TORCHELASTIC_RESTART_COUNT")) e.restart_count = IntVar("TORCHELASTIC_RESTART_COUNT", *r, 0, 1 << 30);
  if (const auto i = Var("GLOO_SOCKET_IFNAME")) e.socket_ifname = *i;
  return e;
}

std::chrono::milliseconds DefaultTimeout() {
  double s = 300;
  if (const auto t = Var("RLFORGE_DIST_TIMEOUT")) {
    char* end = nullptr;
    s = std::strtod(t->c_str(), &end);
    RLF_CHECK_ARG(end != t->c_str() && *end == '\0' && s >= 1 && s <= 86400,
                  "environment variable RLFORGE_DIST_TIMEOUT='", *t, "' is not a number of seconds in [1, 86400]");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
}

namespace {

c10::intrusive_ptr<c10d::ProcessGroupGloo> MakeGroup(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world,
                                                 std::chrono::milliseconds timeout, const std::string& addr,
                                                 const std::string& ifname) {
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  if (!ifname.empty()) {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  } else if (addr.empty() || IsLoopback(addr)) {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    // The address peers can reach this rank at: the one on the route to
    // rank 0 (a hostname may resolve to 127.0.1.1 on Debian, which peers on
    // other hosts cannot reach).
    const std::string local = LocalAddressTowards(addr);
    opts->devices.push_back(local.empty() ? c10d::ProcessGroupGloo::createDefaultDevice()
                                          : c10d::ProcessGroupGloo::createDeviceForHostname(local));
  }
  opts->threads = 1;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, opts);
}

}  // namespace

c10::intrusive_ptr<c10d::Store> MakeStore(const JobEnv& env, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(env.master_port);
  o.isServer = env.rank == 0 && !env.agent_store;
  o.numWorkers = c10::nullopt;
  o.waitWorkers = false;
  o.timeout = timeout;
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
  } catch (const std::exception& e) {
    const std::string msg = FirstLine(e.what());
    if (o.isServer && (msg.find("in use") != std::string::npos || msg.find("EADDRINUSE") != std::string::npos ||
                       msg.find("bind") != std::string::npos))
      throw Error(StrCat("distributed: rank 0 cannot host the rendezvous store on ", where,
                         ": the port is in use (choose another MASTER_PORT) [", msg, "]"));
    if (o.isServer) throw Error(StrCat("distributed: rank 0 cannot host the rendezvous store on ", where, ": ", msg));
    throw Error(StrCat("distributed: rank ", env.rank, " could not reach the rendezvous store at ", where, " within ",
                       timeout.count() / 1000.0, " s (is rank 0 running? RLFORGE_DIST_TIMEOUT sets the wait) [", msg,
                       "]"));
  }
  if (env.agent_store)
    store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(env.restart_count), store);
  return store;
}

std::shared_ptr<Communicator> Communicator::Connect(const JobEnv& env, std::chrono::milliseconds timeout) {
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  c10::intrusive_ptr<c10d::Store> store = MakeStore(env, timeout);
  // Everyone checks in, so that a missing peer is named rather than hung on;
  // a rank claimed twice or a job size that differs is named too.
  try {
    if (store->add(StrCat("rlforge/rank/", env.rank), 1) > 1)
      throw Error(StrCat("distributed: two processes claim rank ", env.rank, " of the job at ", where,
                         " (each needs its own RANK)"));
    // Each rank counts itself under its job size first, then as joined: so
    // with `joined` read first, the count of this size read after it is at
    // least as large unless a rank of another size joined (two reads in the
    // other order raced with a rank checking in between them).
    const std::string same_size = StrCat("rlforge/world_size/", env.world_size);
    store->add(same_size, 1);
    store->add("rlforge/joined", 1);
    auto disagreement = [&] {
      const int64_t joined = store->add("rlforge/joined", 0);
      return store->add(same_size, 0) < joined;
    };
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (store->add("rlforge/joined", 0) < env.world_size) {
      if (disagreement())
        throw Error(StrCat("distributed: the ranks at ", where, " disagree on WORLD_SIZE (this one has ",
                           env.world_size, "); every rank of a job needs the same WORLD_SIZE"));
      if (std::chrono::steady_clock::now() > deadline)
        throw Error(StrCat("distributed: rendezvous at ", where, " timed out after ", timeout.count() / 1000.0,
                           " s: ", store->add("rlforge/joined", 0), " of ", env.world_size,
                           " ranks joined (RLFORGE_DIST_TIMEOUT sets the wait)"));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (disagreement())
      throw Error(StrCat("distributed: the ranks at ", where, " disagree on WORLD_SIZE (this one has ",
                         env.world_size, "); every rank of a job needs the same WORLD_SIZE"));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(StrCat("distributed: rendezvous at ", where, " failed: ", FirstLine(e.what())));
  }
  return std::make_shared<Communicator>(store, env.rank, env.world_size, timeout);
}

Communicator::Communicator(c10::intrusive_ptr<c10d::Store> store, int rank, int world_size,
                           std::chrono::milliseconds timeout)
    : store_(std::move(store)), rank_(rank), world_size_(world_size) {
  RLF_CHECK_ARG(world_size >= 1 && rank >= 0 && rank < world_size, "distributed: rank ", rank,
                " is not in [0, ", world_size, ")");
  const char* addr = std::getenv("MASTER_ADDR");
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  try {
    group_ = MakeGroup(store_, rank, world_size, timeout, addr ? addr : "", ifname ? ifname : "");
  } catch (const std::exception& e) {
    throw Error(StrCat("distributed: rank ", rank, " could not connect to its peers: ", FirstLine(e.what())));
  }
}

Communicator::~Communicator() = default;

template <typename F>
void Communicator::Run(const char* what, F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  try {
    auto work = f();
    work->wait();
  } catch (const std::exception& e) {
    throw Error(StrCat("distributed: ", what, " failed on rank ", rank_, " of ", world_size_,
                       " (a peer exited or timed out): ", FirstLine(e.what())));
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void Communicator::AllReduceSum(torch::Tensor t) {
  if (world_size_ == 1) return;
  bytes_ += static_cast<double>(t.nbytes());
  const auto nbytes = static_cast<int64_t>(t.nbytes());
  if (nbytes * world_size_ <= kGatherReduceBytes) {
    // One all-gather, then every rank sums the copies in rank order. Gloo's
    // ring all-reduce takes several round trips per tensor, each a
    // cross-core wake-up (~1.8 ms for 36 KB on 2 ranks of this 2-core
    // machine, against ~0.2-0.5 ms this way), and the fixed order makes the
    // sum the same bits on every rank and in every run.
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < world_size_; ++r) out[0].push_back(torch::empty_like(t));
    std::vector<at::Tensor> in{t};
    Run("all-reduce (all-gather)", [&] { return group_->allgather(out, in); });
    t.copy_(out[0][0]);
    for (int r = 1; r < world_size_; ++r) t.add_(out[0][static_cast<size_t>(r)]);
    return;
  }
  std::vector<at::Tensor> v{t};
  Run("all-reduce", [&] { return group_->allreduce(v); });
}

void Communicator::AllReduceMax(torch::Tensor t) {
  if (world_size_ == 1) return;
  bytes_ += static_cast<double>(t.nbytes());
  std::vector<at::Tensor> v{t};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::MAX;
  Run("all-reduce", [&] { return group_->allreduce(v, o); });
}

void Communicator::Broadcast(torch::Tensor t, int root) {
  if (world_size_ == 1) return;
  bytes_ += static_cast<double>(t.nbytes());
  std::vector<at::Tensor> v{t};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  Run("broadcast", [&] { return group_->broadcast(v, o); });
}

std::vector<std::string> Communicator::AllGather(const std::string& bytes) {
  if (world_size_ == 1) return {bytes};
  bytes_ += static_cast<double>(bytes.size());
  torch::Tensor size = torch::full({1}, static_cast<int64_t>(bytes.size()), torch::kLong);
  std::vector<std::vector<at::Tensor>> sizes_out(1);
  for (int r = 0; r < world_size_; ++r) sizes_out[0].push_back(torch::zeros({1}, torch::kLong));
  std::vector<at::Tensor> sizes_in{size};
  Run("all-gather", [&] { return group_->allgather(sizes_out, sizes_in); });
  int64_t longest = 1;
  for (const auto& s : sizes_out[0]) longest = std::max(longest, s.item<int64_t>());
  torch::Tensor mine = torch::zeros({longest}, torch::kUInt8);
  if (!bytes.empty()) std::memcpy(mine.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < world_size_; ++r) out[0].push_back(torch::zeros({longest}, torch::kUInt8));
  std::vector<at::Tensor> in{mine};
  Run("all-gather", [&] { return group_->allgather(out, in); });
  std::vector<std::string> all;
  for (int r = 0; r < world_size_; ++r)
    all.emplace_back(reinterpret_cast<const char*>(out[0][r].data_ptr<uint8_t>()),
                     static_cast<size_t>(sizes_out[0][r].item<int64_t>()));
  return all;
}

void Communicator::Barrier() {
  if (world_size_ == 1) return;
  Run("barrier", [&] { return group_->barrier(); });
}

void Communicator::CheckAgree(const std::string& what, const std::string& value) {
  const std::vector<std::string> all = AllGather(value);
  for (int r = 1; r < world_size_; ++r)
    RLF_CHECK(all[r] == all[0], "distributed: rank ", r, "'s ", what, " (", all[r], ") differs from rank 0's (",
              all[0], "); every rank of a job must run the same rlforge with the same config");
}

void MemoryStateVisitor::Bytes(const std::string& name, std::string* bytes) {
  if (!loading_) {
    fields_.emplace_back(name, *bytes);
    return;
  }
  for (const auto& [n, b] : fields_)
    if (n == name) {
      *bytes = b;
      return;
    }
  throw Error(StrCat("checkpoint has no per-rank field '", name, "'"));
}

std::string MemoryStateVisitor::Serialize() const {
  std::string out;
  StateWriter w(&out);
  w(static_cast<uint64_t>(fields_.size()));
  for (const auto& [n, b] : fields_) w(n), w(b);
  return out;
}

MemoryStateVisitor MemoryStateVisitor::Deserialize(const std::string& bytes, const std::string& what) {
  MemoryStateVisitor m(true);
  StateReader r(bytes, what);
  uint64_t n = 0;
  r(n);
  RLF_CHECK(n <= bytes.size(), what, " is truncated or corrupt");
  for (uint64_t i = 0; i < n; ++i) {
    std::string name, b;
    r(name), r(b);
    m.fields_.emplace_back(std::move(name), std::move(b));
  }
  r.ExpectEnd();
  return m;
}

void VisitPerRank(StateVisitor& v, Communicator* comm, const std::function<void(StateVisitor&)>& fn) {
  const std::string what = StrCat("checkpoint field '", kPerRankField, "'");
  const int world = comm ? comm->world_size() : 1;
  if (!v.loading()) {
    if (world == 1) {
      fn(v);
      return;
    }
    MemoryStateVisitor mine(false);
    fn(mine);
    std::vector<std::string> all = comm->AllGather(mine.Serialize());
    std::string bytes;
    StateWriter w(&bytes);
    w(all);
    v.Bytes(kPerRankField, &bytes);
    return;
  }
  std::string bytes;
  bool by_job = true;
  try {
    v.Bytes(kPerRankField, &bytes);
  } catch (const Error&) {
    by_job = false;
  }
  if (!by_job) {
    RLF_CHECK(world == 1, "the checkpoint was written by a single process, not by a job of ", world,
              " ranks; resume it without WORLD_SIZE (or with WORLD_SIZE=1)");
    fn(v);
    return;
  }
  std::vector<std::string> all;
  StateReader r(bytes, what);
  r(all);
  r.ExpectEnd();
  // A single process reading a job's checkpoint (eval, play, export) needs
  // none of a rank's own state (its share of the envs would not even fit
  // one process's vector env): it is left as constructed. Resuming checks
  // the job's size first (CheckpointRanks).
  if (comm == nullptr) return;
  RLF_CHECK(static_cast<int>(all.size()) == world, "the checkpoint was written by a job of ", all.size(),
            " ranks; this job has ", world, " (resume with the same number of ranks)");
  MemoryStateVisitor mine = MemoryStateVisitor::Deserialize(all[static_cast<size_t>(comm->rank())], what);
  fn(mine);
}

int CheckpointRanks(StateVisitor& reader) {
  std::string bytes;
  try {
    reader.Bytes(kPerRankField, &bytes);
  } catch (const Error&) {
    return 1;
  }
  StateReader r(bytes, StrCat("checkpoint field '", kPerRankField, "'"));
  uint64_t n = 0;
  r(n);
  return static_cast<int>(n);
}

}  // namespace rlforge::dist
