//===- kernels/cpu/Schedule.cpp - threads and workspace slices ------------===//
//
// A kernel's work is cut into at most as many slots as the hook has threads,
// one fork-join per call, each slot with its own slice of the workspace (packing buffers and
// scratch). GEMM-shaped kernels cut their output into rectangles aligned to
// the register tile; the others cut a count of independent parts (images).
//
//===----------------------------------------------------------------------===//
#include "kernels/cpu/Internal.h"

namespace kiln::cpu {
namespace {

KilnParallelFor gParallelFor = nullptr;
void *gParallelCtx = nullptr;
int64_t gThreads = 1;

constexpr size_t kAlign = 64;
// Below this many multiply-adds a fork-join costs more than it saves.
constexpr int64_t kMinParallelWork = 1 << 16;

size_t alignUp(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }
size_t floatBytes(int64_t n) { return alignUp(size_t(n) * sizeof(float)); }

// One slot's slice: an mc x kc block of A, a kc x nc block of B, scratch.
// min(kc, k) bounds the depth of every block of a reduction up to s.k.
struct SliceLayout {
  size_t a, b, scratch;
  SliceLayout(const Blocking &bl, GemmShape s, int64_t scratchFloats)
      : a(floatBytes(min64(bl.mc, roundUp(s.m, bl.mr)) * min64(bl.kc, s.k))),
        b(floatBytes(min64(bl.kc, s.k) * min64(bl.nc, roundUp(s.n, bl.nr)))), scratch(floatBytes(scratchFloats)) {}
  size_t total() const { return a + b + scratch; }
};

size_t maxSliceBytes(GemmShape s, int64_t scratchFloats) {
  const IsaTable *const isas[] = {
      &kPortableIsa,
#if defined(__x86_64__)
      &kAvx2Isa, &kAvx512Isa,
#endif
  };
  size_t bytes = 0;
  for (const IsaTable *isa : isas) {
    const size_t n = SliceLayout(isa->blocking, s, scratchFloats).total();
    bytes = n > bytes ? n : bytes;
  }
  return bytes;
}

// [lo, hi) of part p when `units` tiles of `tile` elements are cut into `parts`.
void cut(int64_t total, int64_t tile, int64_t parts, int64_t p, int64_t &lo, int64_t &hi) {
  const int64_t units = ceilDiv(total, tile), q = units / parts, r = units % parts;
  lo = min64(total, (p * q + min64(p, r)) * tile);
  hi = min64(total, ((p + 1) * q + min64(p + 1, r)) * tile);
}

// The tm x tn grid of slots: tm * tn <= threads, minimising the largest
// slot's multiply-adds plus its packing (weighted as ~8 multiply-adds per
// packed element, which packs of A repeated across slot columns pay).
void chooseGrid(const Blocking &b, GemmShape s, int64_t threads, int64_t &tm, int64_t &tn) {
  const int64_t mu = ceilDiv(s.m, b.mr), nu = ceilDiv(s.n, b.nr);
  tm = tn = 1;
  int64_t best = -1;
  for (int64_t i = 1; i <= min64(threads, mu); ++i) {
    const int64_t j = min64(threads / i, nu);
    const int64_t ms = ceilDiv(mu, i) * b.mr, ns = ceilDiv(nu, j) * b.nr;
    const int64_t cost = ms * ns + 8 * (ms * ceilDiv(ns, b.nc) + ns);
    if (best < 0 || cost < best)
      best = cost, tm = i, tn = j;
  }
}

struct Plan {
  const IsaTable *isa;
  GemmShape shape;
  int64_t parts;  // 0: a tm x tn grid over shape's output
  int64_t tm, tn;
  char *base;
  SliceLayout layout;
  SlotBody body;
  const void *job;
};

void runSlotRange(void *arg, int64_t begin, int64_t end) {
  const Plan &plan = *static_cast<const Plan *>(arg);
  const Blocking &b = plan.isa->blocking;
  for (int64_t i = begin; i < end; ++i) {
    Slot slot{0, 0, 0, 0, nullptr, nullptr, nullptr};
    if (plan.parts)
      cut(plan.parts, 1, plan.tm, i, slot.m0, slot.m1);
    else {
      cut(plan.shape.m, b.mr, plan.tm, i / plan.tn, slot.m0, slot.m1);
      cut(plan.shape.n, b.nr, plan.tn, i % plan.tn, slot.n0, slot.n1);
    }
    char *mine = plan.base + i * plan.layout.total();
    slot.packA = reinterpret_cast<float *>(mine);
    slot.packB = reinterpret_cast<float *>(mine + plan.layout.a);
    slot.scratch = reinterpret_cast<float *>(mine + plan.layout.a + plan.layout.b);
    plan.body(*plan.isa, plan.job, slot);
  }
}

// Threads the workspace has slices for (at most the hook's), or 0.
int64_t fit(Plan &plan, void *workspace, size_t bytes) {
  plan.base = reinterpret_cast<char *>(alignUp(reinterpret_cast<size_t>(workspace)));
  const size_t skipped = size_t(plan.base - static_cast<char *>(workspace));
  const size_t usable = bytes > skipped ? bytes - skipped : 0, slice = plan.layout.total();
  return slice ? min64(gThreads, int64_t(usable / slice)) : gThreads;
}

// The hook, or a plain call for one slot or when none is set.
void parallelFor(int64_t n, KilnParallelBody body, void *arg) {
  if (n == 1 || !gParallelFor)
    body(arg, 0, n);
  else
    gParallelFor(gParallelCtx, n, body, arg);
}

} // namespace

size_t workspaceBytes(GemmShape s, int64_t maxThreads, int64_t scratchFloats) {
  if (s.m <= 0 || s.n <= 0)
    return 0;
  return size_t(max64(maxThreads, 1)) * maxSliceBytes(s, scratchFloats) + kAlign;
}

bool runSlots(GemmShape s, void *workspace, size_t workspaceBytes, SlotBody body, const void *job) {
  if (s.m <= 0 || s.n <= 0)
    return true;
  const IsaTable &isa = activeIsa();
  Plan plan{&isa, s, 0, 1, 1, nullptr, SliceLayout(isa.blocking, s, 0), body, job};
  int64_t threads = fit(plan, workspace, workspaceBytes);
  if (threads < 1)
    return false;
  if (s.m * s.n * s.k < kMinParallelWork)
    threads = 1;
  chooseGrid(isa.blocking, s, threads, plan.tm, plan.tn);
  parallelFor(plan.tm * plan.tn, runSlotRange, &plan);
  return true;
}

bool runParts(int64_t parts, GemmShape pack, int64_t scratchFloats, void *workspace, size_t workspaceBytes,
              SlotBody body, const void *job) {
  if (parts <= 0)
    return true;
  const IsaTable &isa = activeIsa();
  Plan plan{&isa, pack, parts, 1, 1, nullptr, SliceLayout(isa.blocking, pack, scratchFloats), body, job};
  const int64_t threads = fit(plan, workspace, workspaceBytes);
  if (threads < 1)
    return false;
  plan.tm = min64(threads, parts);
  parallelFor(plan.tm, runSlotRange, &plan);
  return true;
}

} // namespace kiln::cpu

extern "C" void kiln_kernels_set_parallel_for(KilnParallelFor pf, void *ctx, int64_t num_threads) {
  using namespace kiln::cpu;
  gParallelFor = pf;
  gParallelCtx = ctx;
  gThreads = pf && num_threads > 1 ? num_threads : 1;
}

namespace {
// kiln_kernels_parallel_for's parts: part p runs the p-th of `parts`
// near-equal ranges of [0, n).
struct Ranges {
  int64_t n, parts;
  KilnParallelBody body;
  void *arg;
};

void runRanges(void *arg, int64_t begin, int64_t end) {
  const Ranges &r = *static_cast<const Ranges *>(arg);
  for (int64_t p = begin; p < end; ++p) {
    int64_t lo, hi;
    kiln::cpu::cut(r.n, 1, r.parts, p, lo, hi);
    if (lo < hi)
      r.body(r.arg, lo, hi);
  }
}
} // namespace

extern "C" void kiln_kernels_parallel_for(int64_t n, KilnParallelBody body, void *arg) {
  using namespace kiln::cpu;
  if (n <= 0)
    return;
  Ranges r{n, min64(gThreads, n), body, arg};
  parallelFor(r.parts, runRanges, &r);
}
