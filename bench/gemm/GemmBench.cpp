//===- bench/gemm/GemmBench.cpp - kernels/cpu GEMM and conv throughput ----===//
//
// kiln-gemm-bench [--openblas LIB] [--threads N]... [--cpu-clock]
// Prints GFLOP/s (median of repeated runs) and % of the measured FMA peak for
// Kiln's kernels and, side by side, OpenBLAS's sgemm on the same shapes: 1024^3
// and the GEMMs of one MNIST-CNN training step at batch 64. Runs each thread
// count given (default 1 and 2). OpenBLAS is dlopen'ed (scipy_ or plain
// cblas_ symbols); OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS in the
// environment pin its kernels and threads (README.md).
//
//===----------------------------------------------------------------------===//
#include "ThreadPool.h"
#include "kernels/cpu/Kernels.h"

#include <dlfcn.h>
#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

// --cpu-clock: time by this thread's CPU clock, which leaves out time the
// scheduler gives other processes (a shared machine); single-threaded only.
bool gCpuClock = false;

double now() {
  if (gCpuClock) {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median seconds per call of f: 11 samples, each long enough (>= 20 ms) for
// the clock, after a warm-up call.
double medianSeconds(const std::function<void()> &f) {
  f();
  double t0 = now();
  f();
  const double once = now() - t0;
  const int inner = std::max(1, int(0.02 / std::max(once, 1e-9)));
  std::vector<double> samples;
  for (int s = 0; s < 11; ++s) {
    t0 = now();
    for (int i = 0; i < inner; ++i)
      f();
    samples.push_back((now() - t0) / inner);
  }
  std::nth_element(samples.begin(), samples.begin() + 5, samples.end());
  return samples[5];
}

// FMA peak of one core: 12 independent chains (2 FMA pipes x 4-cycle latency
// need 8), 8 lanes x 2 flops each.
__attribute__((target("avx2,fma"))) float fmaLoop(int64_t iters) {
  __m256 acc[12];
  for (int j = 0; j < 12; ++j)
    acc[j] = _mm256_set1_ps(float(j));
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (int j = 0; j < 12; ++j)
      acc[j] = _mm256_fmadd_ps(acc[j], m, c);
  float sum = 0;
  for (int j = 0; j < 12; ++j)
    sum += _mm256_cvtss_f32(acc[j]);
  return sum;
}

// GFLOP/s of `threads` cores running the FMA loop at once: the best of 9
// short runs, so that other load on the machine rarely lowers it.
double measuredPeak(int threads) {
  const int64_t iters = 5'000'000;
  std::vector<float> sink(static_cast<size_t>(threads));
  double best = 0;
  for (int run = 0; run < 9; ++run) {
    const double t0 = now();
    if (threads == 1)
      sink[0] = fmaLoop(iters);
    else {
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] { sink[size_t(t)] = fmaLoop(iters); });
      for (auto &t : pool)
        t.join();
    }
    best = std::max(best, threads * double(iters) * 12 * 16 / (now() - t0) / 1e9);
  }
  return best;
}

std::string cpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0)
      return line.substr(line.find(':') + 2);
  return "unknown";
}

// OpenBLAS's cblas_sgemm, if the library loads.
struct OpenBlas {
  using Sgemm = void (*)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
  Sgemm sgemm = nullptr;
  void (*setThreads)(int) = nullptr;
  char *(*coreName)() = nullptr;
  char *(*config)() = nullptr;

  explicit OpenBlas(const std::string &path) {
    void *lib = path.empty() ? nullptr : dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      return;
    for (const char *prefix : {"scipy_", ""}) {
      auto sym = [&](const char *name) { return dlsym(lib, (std::string(prefix) + name).c_str()); };
      if (!sgemm) {
        sgemm = reinterpret_cast<Sgemm>(sym("cblas_sgemm"));
        setThreads = reinterpret_cast<void (*)(int)>(sym("openblas_set_num_threads"));
        coreName = reinterpret_cast<char *(*)()>(sym("openblas_get_corename"));
        config = reinterpret_cast<char *(*)()>(sym("openblas_get_config"));
      }
    }
  }
};

constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

struct Shape {
  const char *name;
  int64_t m, n, k;
  bool transA, transB;
};

// MNIST CNN (examples/mnist_cnn.kiln), batch 64: 28x28x1 -conv3x3-> 26x26x32
// -pool-> 13x13x32 -conv-> 11x11x64 -pool-> 5x5x64 -conv-> 3x3x64 -> dense
// 576 -> 64 -> 10. Conv GEMMs in im2col form: rows = output pixels.
const Shape kShapes[] = {
    {"square 1024^3", 1024, 1024, 1024, false, false},
    {"conv1 fwd (im2col)", 43264, 32, 9, false, false},
    {"conv1 dW = col^T dy", 9, 32, 43264, true, false},
    {"conv2 fwd (im2col)", 7744, 64, 288, false, false},
    {"conv2 dW = col^T dy", 288, 64, 7744, true, false},
    {"conv2 dcol = dy W^T", 7744, 288, 64, false, true},
    {"conv3 fwd (im2col)", 576, 64, 576, false, false},
    {"conv3 dW = col^T dy", 576, 64, 576, true, false},
    {"conv3 dcol = dy W^T", 576, 576, 64, false, true},
    {"dense1 fwd", 64, 64, 576, false, false},
    {"dense1 dW = x^T dy", 576, 64, 64, true, false},
    {"dense1 dx = dy W^T", 64, 576, 64, false, true},
};

// The MNIST CNN's convolutions through Kiln's conv kernels (no im2col copy).
struct ConvShape {
  const char *name;
  KilnConv2d g;
};
const ConvShape kConvs[] = {
    {"conv1 28x28x1->32", {64, 28, 28, 1, 32, 3, 3, 1, 1, 0, 0, 0, 0, 0, KILN_ACT_RELU}},
    {"conv2 13x13x32->64", {64, 13, 13, 32, 64, 3, 3, 1, 1, 0, 0, 0, 0, 0, KILN_ACT_RELU}},
    {"conv3 5x5x64->64", {64, 5, 5, 64, 64, 3, 3, 1, 1, 0, 0, 0, 0, 0, KILN_ACT_RELU}},
};

std::vector<float> randomFloats(size_t n) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

// One benchmark row: Kiln's call and, where OpenBLAS loaded, its equivalent.
struct Row {
  std::string name, what;
  double flops;
  std::function<void()> kiln, openblas;
  double kilnSeconds = 0, openblasSeconds = 0;
};

// Kiln then OpenBLAS, row by row, so both see the same load on the machine.
// OpenBLAS's idle workers spin ~0.1 s after a call (THREAD_TIMEOUT) and would
// slow the next row's Kiln run on a 2-core machine: let them park first.
void measureAndPrint(std::vector<Row> &rows, const char *title, const char *whatHeader, double peak) {
  for (Row &r : rows) {
    r.kilnSeconds = medianSeconds(r.kiln);
    if (r.openblas) {
      r.openblasSeconds = medianSeconds(r.openblas);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  }
  std::printf("\n| %s | %s | Kiln GFLOP/s | %% peak | OpenBLAS GFLOP/s | %% peak | Kiln / OpenBLAS |\n", title,
              whatHeader);
  std::printf("|---|---|---:|---:|---:|---:|---:|\n");
  for (const Row &r : rows) {
    const double kiln = r.flops / r.kilnSeconds / 1e9;
    std::printf("| %s | %s | %.1f | %.0f %% |", r.name.c_str(), r.what.c_str(), kiln, 100 * kiln / peak);
    if (r.openblasSeconds > 0) {
      const double ob = r.flops / r.openblasSeconds / 1e9;
      std::printf(" %.1f | %.0f %% | %.2f |\n", ob, 100 * ob / peak, kiln / ob);
    } else
      std::printf(" n/a | n/a | n/a |\n");
  }
}

// Operands of one GEMM, row-major, kept alive for the rows' closures.
struct Operands {
  std::vector<float> a, b, c;
  std::vector<char> ws;
};

void runGemms(const OpenBlas &blas, int threads, double peak) {
  std::vector<Operands> data(std::size(kShapes));
  std::vector<Row> rows;
  for (size_t i = 0; i < std::size(kShapes); ++i) {
    const Shape &s = kShapes[i];
    Operands &d = data[i];
    d.a = randomFloats(size_t(s.m * s.k)), d.b = randomFloats(size_t(s.k * s.n));
    d.c.resize(size_t(s.m * s.n));
    const int64_t lda = s.transA ? s.m : s.k, ldb = s.transB ? s.k : s.n;
    const KilnGemm g{s.m, s.n, s.k, lda, ldb, s.n, s.transA, s.transB, 0, KILN_ACT_NONE};
    d.ws.resize(kiln_gemm_workspace_bytes(&g, threads));
    Row row{s.name, std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k),
            2.0 * s.m * s.n * s.k,
            [g, &d] { kiln_gemm_f32(&g, d.a.data(), d.b.data(), nullptr, d.c.data(), d.ws.data(), d.ws.size()); },
            nullptr};
    if (blas.sgemm)
      row.openblas = [&blas, s, lda, ldb, &d] {
        blas.sgemm(kRowMajor, s.transA ? kTrans : kNoTrans, s.transB ? kTrans : kNoTrans, int(s.m), int(s.n),
                   int(s.k), 1.0f, d.a.data(), int(lda), d.b.data(), int(ldb), 0.0f, d.c.data(), int(s.n));
      };
    rows.push_back(row);
  }
  measureAndPrint(rows, ("GEMM, " + std::to_string(threads) + " thread(s)").c_str(), "M x N x K", peak);
}

// Kiln's conv kernels; the OpenBLAS column is its sgemm on the equivalent
// im2col GEMM alone (no im2col/col2im copies), a lower bound for that route.
void runConvs(const OpenBlas &blas, int threads, double peak) {
  struct ConvData {
    std::vector<float> x, w, dy, bias, y, dx, dw, db, col, out;
    std::vector<char> ws;
  };
  std::vector<ConvData> data(std::size(kConvs));
  std::vector<Row> rows;
  for (size_t i = 0; i < std::size(kConvs); ++i) {
    const KilnConv2d *g = &kConvs[i].g;
    ConvData &d = data[i];
    const int64_t oh = g->in_h - g->kernel_h + 1, ow = g->in_w - g->kernel_w + 1;
    const int64_t p = g->batch * oh * ow, kd = g->kernel_h * g->kernel_w * g->in_c;
    d.x = randomFloats(size_t(g->batch * g->in_h * g->in_w * g->in_c)), d.w = randomFloats(size_t(kd * g->out_c));
    d.dy = randomFloats(size_t(p * g->out_c)), d.bias = randomFloats(size_t(g->out_c));
    d.y.resize(d.dy.size()), d.dx.resize(d.x.size()), d.dw.resize(d.w.size()), d.db.resize(d.bias.size());
    d.col = randomFloats(size_t(p * kd)), d.out.resize(size_t(p * std::max(kd, g->out_c)));
    d.ws.resize(kiln_conv2d_workspace_bytes(g, threads));
    // The im2col-route GEMM of each: forward col w, backprop-input dy w^T
    // (then col2im), backprop-filter col^T dy.
    struct Kernel {
      const char *what;
      std::function<void()> kiln;
      int64_t m, n, k;
      const float *a, *b;
      bool ta, tb;
    } kernels[] = {
        {"forward + bias + relu",
         [g, &d] { kiln_conv2d_f32(g, d.x.data(), d.w.data(), d.bias.data(), d.y.data(), d.ws.data(), d.ws.size()); },
         p, g->out_c, kd, d.col.data(), d.w.data(), false, false},
        {"backprop-input",
         [g, &d] { kiln_conv2d_backprop_input_f32(g, d.dy.data(), d.w.data(), d.dx.data(), d.ws.data(), d.ws.size()); },
         p, kd, g->out_c, d.dy.data(), d.w.data(), false, true},
        {"backprop-filter + bias",
         [g, &d] {
           kiln_conv2d_backprop_filter_f32(g, d.x.data(), d.dy.data(), d.dw.data(), d.db.data(), d.ws.data(),
                                           d.ws.size());
         },
         kd, g->out_c, p, d.col.data(), d.dy.data(), true, false},
    };
    for (const Kernel &k : kernels) {
      Row row{kConvs[i].name, k.what, 2.0 * p * kd * g->out_c, k.kiln, nullptr};
      if (blas.sgemm)
        row.openblas = [&blas, k, &d] {
          blas.sgemm(kRowMajor, k.ta ? kTrans : kNoTrans, k.tb ? kTrans : kNoTrans, int(k.m), int(k.n), int(k.k),
                     1.0f, k.a, int(k.ta ? k.m : k.k), k.b, int(k.tb ? k.k : k.n), 0.0f, d.out.data(), int(k.n));
        };
      rows.push_back(row);
    }
  }
  measureAndPrint(rows, ("conv, batch 64, " + std::to_string(threads) + " thread(s)").c_str(), "kernel", peak);
}

std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one;
}

} // namespace

int main(int argc, char **argv) {
  std::string openblasPath = KILN_BENCH_OPENBLAS;
  std::vector<int> threadCounts;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--openblas") && i + 1 < argc)
      openblasPath = argv[++i];
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc)
      threadCounts.push_back(std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--cpu-clock"))
      gCpuClock = true;
    else {
      std::fprintf(stderr, "usage: %s [--openblas LIB] [--threads N]... [--cpu-clock]\n", argv[0]);
      return 2;
    }
  }
  if (threadCounts.empty())
    threadCounts = {1, 2};
  if (gCpuClock && threadCounts != std::vector<int>{1}) {
    std::fprintf(stderr, "--cpu-clock times one thread: use it with --threads 1\n");
    return 2;
  }

  const OpenBlas blas(openblasPath);
  const char *isaNames[] = {"auto", "portable", "avx2", "avx512"};
  std::printf("CPU: %s, %u hardware threads; Kiln kernels: %s\n", cpuModel().c_str(),
              std::thread::hardware_concurrency(), isaNames[kiln_kernels_isa()]);
  if (blas.sgemm)
    std::printf("OpenBLAS: %s (core %s), %s\n", openblasPath.c_str(), blas.coreName ? blas.coreName() : "?",
                blas.config ? blas.config() : "");
  else
    std::printf("OpenBLAS: not loaded (%s)\n", openblasPath.empty() ? "no library given" : dlerror());

  for (int threads : threadCounts) {
    const double peak = measuredPeak(threads);
    std::printf("\nThreads %d: measured FMA peak %.1f GFLOP/s (%.2f GHz x 32 flop/cycle x %d); load average %s\n",
                threads, peak, peak / threads / 32, threads, loadAverage().c_str());
    ThreadPool pool(threads);
    kiln_kernels_set_parallel_for(threads > 1 ? ThreadPool::parallelFor : nullptr, &pool, threads);
    if (blas.setThreads)
      blas.setThreads(threads);
    runGemms(blas, threads, peak);
    runConvs(blas, threads, peak);
    kiln_kernels_set_parallel_for(nullptr, nullptr, 1);
  }
  return 0;
}
