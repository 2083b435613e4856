//===- ThreadPool.cpp - Persistent workers for the kernels' parallel-for --===//
#include "runtime/ThreadPool.h"

#include <sched.h>

#include <cstdlib>
#include <cstring>

namespace kiln::rt {
namespace {

// About 0.1-0.3 ms of spinning before a worker sleeps: long enough to span
// the generated loops between two kernel calls of a training step, short
// enough not to hold a core when the model is idle.
constexpr int kSpinRounds = 1 << 14;

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

} // namespace

int defaultThreadCount() {
  if (const char *env = std::getenv("KILN_NUM_THREADS")) {
    char *end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n > 0 && n <= 1024)
      return static_cast<int>(n);
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0)
      return n;
  }
  return 1;
}

int ThreadPool::start(int threads) {
  stop();
  stopping_.store(false);
  // Workers start from this epoch, not from one they read later: a job or a
  // stop() posted before a new thread first runs must still reach it.
  startEpoch_ = epoch_.load();
  workers_.reserve(threads > 1 ? static_cast<size_t>(threads - 1) : 0);
  for (int i = 1; i < threads; ++i) {
    pthread_t t;
    if (pthread_create(&t, nullptr, &ThreadPool::workerMain, this) != 0)
      break; // run with the threads we have
    workers_.push_back(t);
  }
  return this->threads();
}

void ThreadPool::stop() {
  if (workers_.empty())
    return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true);
    epoch_.fetch_add(1);
  }
  wake_.notify_all();
  for (pthread_t t : workers_)
    pthread_join(t, nullptr);
  workers_.clear();
}

void ThreadPool::runItems() {
  for (int64_t i = next_.fetch_add(1, std::memory_order_relaxed); i < n_;
       i = next_.fetch_add(1, std::memory_order_relaxed))
    body_(arg_, i, i + 1);
}

void ThreadPool::parallelFor(int64_t n, Body body, void *arg) {
  bool idle = false;
  if (n <= 1 || workers_.empty() || !busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) {
    if (n > 0)
      body(arg, 0, n);
    return;
  }
  body_ = body;
  arg_ = arg;
  n_ = n;
  next_.store(0, std::memory_order_relaxed);
  inJob_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  // Sequentially consistent with the workers' sleeping_ / epoch_ pair: either
  // a worker about to sleep sees the new epoch, or we see it sleeping.
  epoch_.fetch_add(1);
  if (sleeping_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  runItems();
  // Every worker passes through every job, so none can still be reading this
  // job's fields when the next one overwrites them.
  for (int spins = 0; inJob_.load(std::memory_order_acquire) != 0; ++spins)
    if (spins < kSpinRounds)
      cpuRelax();
    else
      sched_yield();
  busy_.store(false, std::memory_order_release);
}

void *ThreadPool::workerMain(void *self) {
  ThreadPool &pool = *static_cast<ThreadPool *>(self);
  uint64_t seen = pool.startEpoch_;
  for (;;) {
    int spins = 0;
    while (pool.epoch_.load(std::memory_order_acquire) == seen && spins < kSpinRounds) {
      cpuRelax();
      ++spins;
    }
    if (pool.epoch_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(pool.mutex_);
      pool.sleeping_.fetch_add(1);
      pool.wake_.wait(lock, [&] { return pool.epoch_.load() != seen; });
      pool.sleeping_.fetch_sub(1);
    }
    seen = pool.epoch_.load(std::memory_order_acquire);
    if (pool.stopping_.load(std::memory_order_acquire))
      return nullptr;
    pool.runItems();
    pool.inJob_.fetch_sub(1, std::memory_order_release);
  }
}

} // namespace kiln::rt
