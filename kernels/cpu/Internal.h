//===- kernels/cpu/Internal.h - shared by the kernel library's files ------===//
//
// Nothing here may need the C++ runtime (no new, exceptions, RTTI, guarded
// statics): the library links into model shared objects with libc only.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_KERNELS_CPU_INTERNAL_H
#define KILN_KERNELS_CPU_INTERNAL_H

#include "kernels/cpu/Kernels.h"

namespace kiln::cpu {

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

// Register tile (mr x nr) and cache blocks of one instruction set's GEMM;
// mc is a multiple of mr, nc of nr.
struct Blocking {
  int64_t mr, nr, mc, kc, nc;
};

// k is cut into equal blocks of at most b.kc. The cut depends on k alone, so
// each output element sums its products in one order whatever the threads.
inline int64_t kcStep(const Blocking &b, int64_t k) { return k > 0 ? ceilDiv(k, ceilDiv(k, b.kc)) : 0; }

struct Epilogue {
  const float *bias; // indexed by output column, or null
  int64_t activation;
};

// One GEMM-shaped call as the instruction-set code sees it.
struct GemmJob {
  const KilnGemm *g;
  const float *a, *b, *bias;
  float *c;
};

// One convolution call; `in` and `out` depend on the kernel (x -> y, dy -> dx,
// x -> dw and db with dy as `other`).
struct ConvJob {
  const KilnConv2d *g;
  int64_t outH, outW;
  const float *in, *w, *other, *bias;
  float *out, *biasGrad;
};

// One thread's share: the rectangle [m0, m1) x [n0, n1) of a GEMM-shaped
// output, or parts [m0, m1) of a kernel cut into parts; and its own packing
// buffers and scratch.
struct Slot {
  int64_t m0, m1, n0, n1;
  float *packA, *packB, *scratch;
};

// One instruction set: its blocking and the per-slot bodies of each kernel.
struct IsaTable {
  Blocking blocking;
  void (*gemm)(const GemmJob &, const Slot &);
  void (*convForward)(const ConvJob &, const Slot &);
  void (*convBackpropInput)(const ConvJob &, const Slot &);
  void (*convBackpropFilter)(const ConvJob &, const Slot &);
};

extern const IsaTable kPortableIsa;
#if defined(__x86_64__)
extern const IsaTable kAvx2Isa;
extern const IsaTable kAvx512Isa;
#endif

const IsaTable &activeIsa();

// ---- Scheduling (Schedule.cpp) ----

// The GEMM shape a kernel presents to the scheduler: output m x n, reduction k.
struct GemmShape {
  int64_t m, n, k;
};

// Workspace for maxThreads slots, each packing GEMMs up to `s` and holding
// scratchFloats more, for whichever instruction set runs.
size_t workspaceBytes(GemmShape s, int64_t maxThreads, int64_t scratchFloats = 0);

// Splits the output of `s` among slots and runs body(isa, job, slot) for each
// through the parallel hook. False when the workspace holds no slot.
using SlotBody = void (*)(const IsaTable &isa, const void *job, const Slot &slot);
bool runSlots(GemmShape s, void *workspace, size_t workspaceBytes, SlotBody body, const void *job);

// Likewise for `parts` independent parts, slots packing GEMMs up to `pack`.
bool runParts(int64_t parts, GemmShape pack, int64_t scratchFloats, void *workspace, size_t workspaceBytes,
              SlotBody body, const void *job);

} // namespace kiln::cpu

#endif
