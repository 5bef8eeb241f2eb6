#include "rlforge/core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

TEST(ThreadPoolTest, EveryIndexRunsExactlyOnceOverManyRounds) {
  ThreadPool pool(3);
  EXPECT_EQ(pool.num_threads(), 3);
  std::vector<std::atomic<int>> hits(64);
  for (int round = 0; round < 5000; ++round) {
    const int n = 1 + round % 64;
    pool.ParallelFor(n, [&](int i) { hits[i].fetch_add(1, std::memory_order_relaxed); });
  }
  // Index i is used in every round whose n > i.
  for (int i = 0; i < 64; ++i) {
    int expected = 0;
    for (int round = 0; round < 5000; ++round) expected += (1 + round % 64) > i;
    EXPECT_EQ(hits[i].load(), expected) << "index " << i;
  }
}

TEST(ThreadPoolTest, RethrowsTheFirstExceptionAndStaysUsable) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.ParallelFor(8, [](int i) {
    if (i == 5) throw Error("boom");
  }),
               Error);
  std::atomic<int> sum{0};
  pool.ParallelFor(10, [&](int i) { sum += i; });
  EXPECT_EQ(sum.load(), 45);
}

TEST(ThreadPoolTest, SingleThreadRunsInline) {
  ThreadPool pool(1);
  int sum = 0;
  pool.ParallelFor(5, [&](int i) { sum += i; });
  EXPECT_EQ(sum, 10);
  EXPECT_THROW(ThreadPool(0), InvalidArgument);
}

}  // namespace
}  // namespace rlforge
