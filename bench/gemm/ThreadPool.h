//===- bench/gemm/ThreadPool.h - a parallel_for hook for the benchmark ----===//
//
// What a runtime would hand kiln_kernels_set_parallel_for: workers that spin
// briefly between calls (a fork-join costs well under a microsecond while
// busy) and sleep when idle, so they leave the cores to OpenBLAS's runs.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_BENCH_GEMM_THREADPOOL_H
#define KILN_BENCH_GEMM_THREADPOOL_H

#include "kernels/cpu/Kernels.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

class ThreadPool {
public:
  explicit ThreadPool(int threads); // the caller counts as one
  ~ThreadPool();
  int threads() const { return int(workers_.size()) + 1; }
  // A KilnParallelFor with this pool as ctx.
  static void parallelFor(void *pool, int64_t n, KilnParallelBody body, void *arg);

private:
  void work();
  void runChunks();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_{0};
  std::atomic<int> busy_{0};
  bool stop_ = false;
  KilnParallelBody body_ = nullptr;
  void *arg_ = nullptr;
  int64_t n_ = 0;
};

#endif
