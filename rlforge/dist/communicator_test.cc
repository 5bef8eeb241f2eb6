// Tests of rlforge/dist/communicator.h: the collectives on ranks that are
// threads of this process (an in-memory store) and on ranks that rendezvous
// over TCP on loopback; the job's environment variables; the errors for a
// port in use, a rendezvous that times out and peers that disagree.
#include "rlforge/dist/communicator.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <thread>

#include "rlforge/core/error.h"
#include "rlforge/dist/testing.h"

namespace rlforge::dist {
namespace {

// Ranks as threads: body(rank, comm).
void OnThreads(int world, const std::function<void(int, Communicator&)>& body) {
  OnThreadRanks(world, [&](int r, std::shared_ptr<Communicator> c) { body(r, *c); }, std::chrono::seconds(30));
}

TEST(Communicator, CollectivesOnThreeRanks) {
  OnThreads(3, [](int r, Communicator& c) {
    EXPECT_EQ(c.rank(), r);
    EXPECT_EQ(c.world_size(), 3);
    torch::Tensor f = torch::tensor({1.5f * (r + 1), -1.0f});
    c.AllReduceSum(f);
    EXPECT_FLOAT_EQ(f[0].item<float>(), 1.5f * 6);  // 1.5 (1 + 2 + 3)
    EXPECT_FLOAT_EQ(f[1].item<float>(), -3.0f);
    torch::Tensor d = torch::tensor({static_cast<double>(r)}, torch::kFloat64);
    c.AllReduceMax(d);
    EXPECT_EQ(d.item<double>(), 2.0);
    torch::Tensor b = torch::full({4}, static_cast<int64_t>(r == 1 ? 42 : -7), torch::kLong);
    c.Broadcast(b, /*root=*/1);
    EXPECT_EQ(b.sum().item<int64_t>(), 4 * 42);
    // Different lengths, one of them empty.
    const std::string mine = r == 0 ? "" : std::string(static_cast<size_t>(r * 1000), static_cast<char>('a' + r));
    const std::vector<std::string> all = c.AllGather(mine);
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0], "");
    EXPECT_EQ(all[1], std::string(1000, 'b'));
    EXPECT_EQ(all[2], std::string(2000, 'c'));
    // Past kGatherReduceBytes the sum is Gloo's ring all-reduce.
    const int64_t big = Communicator::kGatherReduceBytes / 4 / 3 + 1;
    torch::Tensor g = torch::full({big}, static_cast<float>(r + 1));
    c.AllReduceSum(g);
    EXPECT_EQ(g.min().item<float>(), 6.0f);
    EXPECT_EQ(g.max().item<float>(), 6.0f);
    c.Barrier();
    EXPECT_GT(c.seconds(), 0.0);
  });
}

TEST(Communicator, DisagreementFailsEveryRankNamingTheRank) {
  int failures = 0;
  std::mutex m;
  OnThreads(3, [&](int r, Communicator& c) {
    c.CheckAgree("version", "0.1.0");  // agreeing passes
    try {
      c.CheckAgree("config", r == 2 ? "hash-b" : "hash-a");
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("rank 2's config (hash-b) differs from rank 0's (hash-a)"),
                std::string::npos)
          << e.what();
      std::lock_guard<std::mutex> lock(m);
      ++failures;
    }
  });
  EXPECT_EQ(failures, 3);
}

TEST(Communicator, PerRankStateRoundTripsThroughOneCheckpointField) {
  // Every rank saves its own value; the writer (rank 0) holds them all.
  auto saved = std::make_shared<MemoryStateVisitor>(false);
  OnThreads(2, [&](int r, Communicator& c) {
    int64_t mine = 100 + r;
    DiscardStateVisitor discard;
    StateVisitor& v = r == 0 ? static_cast<StateVisitor&>(*saved) : discard;
    VisitPerRank(v, &c, [&](StateVisitor& own) { own("value", &mine); });
  });
  const MemoryStateVisitor file = MemoryStateVisitor::Deserialize(saved->Serialize(), "test");
  OnThreads(2, [&](int r, Communicator& c) {
    MemoryStateVisitor reader = file;
    int64_t mine = 0;
    VisitPerRank(reader, &c, [&](StateVisitor& own) { own("value", &mine); });
    EXPECT_EQ(mine, 100 + r);
  });
  // A single process (eval, export) leaves its own state as it was built:
  // no rank's share fits it; a job of another size is refused.
  {
    MemoryStateVisitor reader = file;
    EXPECT_EQ(CheckpointRanks(reader), 2);
    int64_t mine = -1;
    VisitPerRank(reader, nullptr, [&](StateVisitor& own) { own("value", &mine); });
    EXPECT_EQ(mine, -1);
  }
  EXPECT_THROW(
      {
        try {
          OnThreads(3, [&](int, Communicator& c) {
            MemoryStateVisitor reader = file;
            int64_t mine = 0;
            VisitPerRank(reader, &c, [&](StateVisitor& own) { own("value", &mine); });
          });
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("written by a job of 2 ranks; this job has 3"), std::string::npos)
              << e.what();
          throw;
        }
      },
      Error);
}

// A free loopback port (nothing listens on it when this returns).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

JobEnv Job(int rank, int world, int port) {
  JobEnv e;
  e.master_addr = "127.0.0.1";
  e.master_port = port;
  e.rank = rank;
  e.world_size = world;
  return e;
}

TEST(Communicator, RendezvousOverTcpOnLoopback) {
  const int port = FreePort();
  std::vector<std::thread> threads;
  std::vector<double> sums(2, 0);
  std::vector<std::string> errors(2);
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      try {
        auto c = Communicator::Connect(Job(r, 2, port), std::chrono::seconds(30));
        torch::Tensor t = torch::tensor({static_cast<double>(r + 1)}, torch::kFloat64);
        c->AllReduceSum(t);
        sums[static_cast<size_t>(r)] = t.item<double>();
        c->Barrier();
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  EXPECT_EQ(sums[0], 3.0);
  EXPECT_EQ(sums[1], 3.0);
}

// Many ranks checking in at once: a rank that read the job-size count before
// another rank's check-in and the joined count after it once saw more ranks
// joined than of its own size, and failed a consistent job with "disagree on
// WORLD_SIZE" (rlforge launch --nproc 16, two runs in three).
TEST(Communicator, ManyRanksJoiningAtOnceAgree) {
  constexpr int kRanks = 12;
  for (int round = 0; round < 4; ++round) {
    const int port = FreePort();
    std::vector<std::thread> threads;
    std::vector<std::string> errors(kRanks);
    for (int r = 0; r < kRanks; ++r)
      threads.emplace_back([&, r] {
        try {
          // The barrier keeps every rank's connections up until all are made.
          Communicator::Connect(Job(r, kRanks, port), std::chrono::seconds(30))->Barrier();
        } catch (const std::exception& e) {
          errors[static_cast<size_t>(r)] = e.what();
        }
      });
    for (auto& t : threads) t.join();
    for (int r = 0; r < kRanks; ++r) EXPECT_EQ(errors[static_cast<size_t>(r)], "") << "round " << round << " rank " << r;
  }
}

TEST(Communicator, PortInUseIsNamed) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  try {
    Communicator::Connect(Job(0, 2, port), std::chrono::seconds(2));
    ADD_FAILURE() << "rank 0 hosted a store on a port in use";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot host the rendezvous store on 127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << e.what();
  }
  close(fd);
}

TEST(Communicator, MissingRankZeroTimesOut) {
  const auto t0 = std::chrono::steady_clock::now();
  try {
    Communicator::Connect(Job(1, 2, FreePort()), std::chrono::milliseconds(1500));
    ADD_FAILURE() << "rank 1 joined a job without rank 0";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 1 could not reach the rendezvous store"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
}

TEST(Communicator, DuplicateRanksAndDifferentJobSizesAreNamed) {
  const int port = FreePort();
  std::vector<std::string> errors(3);
  std::vector<std::thread> threads;
  // Two processes claim rank 1 of a job of 3.
  for (int k = 0; k < 3; ++k)
    threads.emplace_back([&, k] {
      try {
        Communicator::Connect(Job(k == 0 ? 0 : 1, 3, port), std::chrono::milliseconds(3000));
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(k)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  const std::string all = errors[0] + "|" + errors[1] + "|" + errors[2];
  EXPECT_NE(all.find("two processes claim rank 1"), std::string::npos) << all;
  // Ranks of one store that disagree on WORLD_SIZE.
  const int port2 = FreePort();
  std::string e1;
  std::thread r0([&] {
    try {
      Communicator::Connect(Job(0, 3, port2), std::chrono::milliseconds(3000));
    } catch (const std::exception&) {
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  try {
    Communicator::Connect(Job(1, 4, port2), std::chrono::milliseconds(3000));
  } catch (const std::exception& e) {
    e1 = e.what();
  }
  r0.join();
  EXPECT_NE(e1.find("disagree on WORLD_SIZE (this one has 4)"), std::string::npos) << e1;
}

TEST(Communicator, MissingPeerTimesOutNamingTheCount) {
  // Rank 0 of a job of 2 waits for rank 1, which never comes.
  try {
    Communicator::Connect(Job(0, 2, FreePort()), std::chrono::milliseconds(1000));
    ADD_FAILURE() << "rank 0 formed a job of 2 alone";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1 of 2 ranks joined"), std::string::npos) << e.what();
  }
}

struct EnvVars {
  explicit EnvVars(std::vector<std::pair<const char*, const char*>> vars) {
    for (const char* n : {"WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                          "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT", "GLOO_SOCKET_IFNAME"}) {
      if (const char* v = std::getenv(n)) saved.emplace_back(n, v);
      unsetenv(n);
    }
    for (auto& [n, v] : vars) setenv(n, v, 1);
  }
  ~EnvVars() {
    for (const char* n : {"WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                          "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT", "GLOO_SOCKET_IFNAME"})
      unsetenv(n);
    for (auto& [n, v] : saved) setenv(n.c_str(), v.c_str(), 1);
  }
  std::vector<std::pair<std::string, std::string>> saved;
};

TEST(JobEnv, ReadsTorchrunsVariables) {
  {
    EnvVars env({});
    EXPECT_FALSE(JobEnvFromEnvironment().has_value());
  }
  {
    EnvVars env({{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "10.0.0.1"},
                 {"MASTER_PORT", "29501"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                 {"TORCHELASTIC_RESTART_COUNT", "2"}});
    const auto e = JobEnvFromEnvironment();
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->world_size, 4);
    EXPECT_EQ(e->rank, 3);
    EXPECT_EQ(e->local_rank, 1);
    EXPECT_EQ(e->master_addr, "10.0.0.1");
    EXPECT_EQ(e->master_port, 29501);
    EXPECT_TRUE(e->agent_store);
    EXPECT_EQ(e->restart_count, 2);
  }
  auto error_of = [](std::vector<std::pair<const char*, const char*>> vars) {
    EnvVars env(std::move(vars));
    try {
      JobEnvFromEnvironment();
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of({{"RANK", "0"}}).find("RANK is set but WORLD_SIZE is not"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}})
                .find("RANK='2' is not an integer in [0, 1]"),
            std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "two"}}).find("WORLD_SIZE='two'"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_PORT", "1"}}).find("MASTER_ADDR is not set"),
            std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT='70000'"),
            std::string::npos);
}

}  // namespace
}  // namespace rlforge::dist
