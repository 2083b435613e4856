//===- ThreadPool.h - Persistent workers for the kernels' parallel-for ----===//
//
// Each loaded model owns one pool and hands it to the kernels linked into its
// shared object (kiln_kernels_set_parallel_for): GEMMs and convolutions split
// their output over the pool's threads. The threads start once, at load or
// kiln_model_set_num_threads; a run creates no thread and allocates nothing.
// Between jobs a worker spins for a short while (kernels of one step follow
// each other closely), then sleeps on a condition variable.
//
// One job at a time: a parallelFor that finds the pool busy (sessions of one
// model running on two threads) runs its items serially on its own thread.
// Kernels give the same bits whatever the thread count, so this only changes
// speed.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace kiln::rt {

class ThreadPool {
public:
  using Body = void (*)(void *arg, int64_t begin, int64_t end);

  ThreadPool() = default;
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;
  ~ThreadPool() { stop(); }

  /// Starts threads - 1 workers (the caller of parallelFor is the last one).
  /// Returns the thread count reached: fewer when the system refuses threads.
  int start(int threads);
  /// Joins the workers; afterwards parallelFor runs serially.
  void stop();
  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  /// body(arg, i, i + 1) for every i in [0, n), concurrently on the workers
  /// and the caller; returns when every call has returned.
  void parallelFor(int64_t n, Body body, void *arg);
  /// The KilnParallelFor signature: ctx is the pool.
  static void hook(void *ctx, int64_t n, Body body, void *arg) {
    static_cast<ThreadPool *>(ctx)->parallelFor(n, body, arg);
  }

private:
  static void *workerMain(void *pool);
  void runItems();

  std::vector<pthread_t> workers_;
  std::atomic<bool> busy_{false};
  // The current job, written before epoch_ moves on.
  Body body_ = nullptr;
  void *arg_ = nullptr;
  int64_t n_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<uint64_t> epoch_{0};
  uint64_t startEpoch_ = 0;      // epoch_ when the workers were created
  std::atomic<int> inJob_{0};    // workers yet to finish the current job
  std::atomic<int> sleeping_{0}; // workers blocked on wake_
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

/// The thread count a model gets by default: KILN_NUM_THREADS when set to a
/// positive integer, else the CPUs this process may run on.
int defaultThreadCount();

} // namespace kiln::rt
