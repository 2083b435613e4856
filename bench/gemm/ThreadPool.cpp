//===- bench/gemm/ThreadPool.cpp ------------------------------------------===//
#include "ThreadPool.h"

#include <chrono>

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i)
    workers_.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto &t : workers_)
    t.join();
}

void ThreadPool::runChunks() {
  for (int64_t i; (i = next_.fetch_add(1)) < n_;)
    body_(arg_, i, i + 1);
}

void ThreadPool::work() {
  uint64_t seen = 0;
  for (;;) {
    // Spin ~50 us for the next call, then sleep.
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
    while (generation_.load() == seen && std::chrono::steady_clock::now() < until)
      __builtin_ia32_pause();
    if (generation_.load() == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
    }
    seen = generation_.load();
    if (stop_)
      return;
    runChunks();
    busy_.fetch_sub(1);
  }
}

void ThreadPool::parallelFor(void *ctx, int64_t n, KilnParallelBody body, void *arg) {
  ThreadPool &pool = *static_cast<ThreadPool *>(ctx);
  pool.body_ = body, pool.arg_ = arg, pool.n_ = n;
  pool.next_.store(0);
  pool.busy_.store(int(pool.workers_.size()));
  {
    std::lock_guard<std::mutex> lock(pool.mutex_);
    pool.generation_.fetch_add(1);
  }
  pool.wake_.notify_all();
  pool.runChunks();
  while (pool.busy_.load() > 0)
    __builtin_ia32_pause();
}
