//===- ThreadPoolTest.cpp - the runtime's pool for the kernels ------------===//
//
// Every index runs exactly once, on any thread count, with jobs posted right
// after start (before the workers first run), after the workers have gone
// to sleep, and from several threads at once (one gets the pool, the others
// run serially). A lost wake-up would hang: ctest's timeout catches it.
//
//===----------------------------------------------------------------------===//
#include "runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using kiln::rt::ThreadPool;

namespace {

struct Counts {
  std::vector<std::atomic<int>> hits;
  explicit Counts(int64_t n) : hits(static_cast<size_t>(n)) {}
  static void body(void *arg, int64_t begin, int64_t end) {
    auto *c = static_cast<Counts *>(arg);
    for (int64_t i = begin; i < end; ++i)
      c->hits[static_cast<size_t>(i)].fetch_add(1);
  }
  bool eachOnce() const {
    for (const auto &h : hits)
      if (h.load() != 1)
        return false;
    return true;
  }
};

void runOnce(ThreadPool &pool, int64_t n) {
  Counts c(n);
  pool.parallelFor(n, &Counts::body, &c);
  ASSERT_TRUE(c.eachOnce()) << "n = " << n << ", threads = " << pool.threads();
}

TEST(ThreadPool, EveryIndexOnceOnAnyThreadCount) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool;
    EXPECT_EQ(pool.start(threads), threads);
    for (int rep = 0; rep < 300; ++rep)
      for (int64_t n : {0, 1, 2, 3, 7, 16, 64})
        runOnce(pool, n);
  }
}

TEST(ThreadPool, JobsRightAfterStartAndRestart) {
  ThreadPool pool;
  for (int rep = 0; rep < 300; ++rep) {
    pool.start(1 + rep % 4); // restarts: joins the old workers first
    runOnce(pool, 8);
  }
  pool.stop();
  runOnce(pool, 5); // serial after stop
  for (int rep = 0; rep < 100; ++rep) {
    ThreadPool fresh;
    fresh.start(3);
  } // destroyed with workers that may not have run yet
}

TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool;
  pool.start(3);
  for (int rep = 0; rep < 5; ++rep) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // past the spin phase
    runOnce(pool, 6);
  }
}

TEST(ThreadPool, ConcurrentCallersEachGetEveryIndex) {
  ThreadPool pool;
  pool.start(3);
  std::atomic<int> bad{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int rep = 0; rep < 500; ++rep) {
        Counts c(9);
        pool.parallelFor(9, &Counts::body, &c);
        if (!c.eachOnce())
          bad.fetch_add(1);
      }
    });
  for (auto &t : callers)
    t.join();
  EXPECT_EQ(bad.load(), 0);
}

} // namespace
