//===- kernels/cpu/IsaPortable.cpp - kernels for any CPU ------------------===//
//
// Plain C++ for the compiler's default target (SSE2 on x86-64): the fallback,
// and the path KILN_CPU_KERNELS=portable tests on machines with AVX.
//
//===----------------------------------------------------------------------===//
#include "kernels/cpu/ConvChunk.h"

#include <string.h>

namespace kiln::cpu::portable {
namespace {

// 6 x 8 accumulators: 12 SSE registers, a loop the compiler vectorises.
// A(r, k) is a[k * MR + r] (KMajor) or a[r * kc + k] (Pack.inc).
struct Micro {
  static constexpr int64_t MR = 6, NR = 8;
  template <bool KMajor>
  static void run(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, bool add) {
    float acc[MR][NR] = {};
    for (int64_t k = 0; k < kc; ++k, b += NR)
      for (int r = 0; r < MR; ++r) {
        const float x = KMajor ? a[k * MR + r] : a[r * kc + k];
        for (int j = 0; j < NR; ++j)
          acc[r][j] += x * b[j];
      }
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < NR; ++j)
        c[r * ldc + j] = add ? acc[r][j] + c[r * ldc + j] : acc[r][j];
  }
};

constexpr Blocking kBlocking{Micro::MR, Micro::NR, 144, 256, 4096};

#include "kernels/cpu/Activation.inc"
#include "kernels/cpu/Pack.inc"
#include "kernels/cpu/Driver.inc"
#include "kernels/cpu/Bodies.inc"

} // namespace
} // namespace kiln::cpu::portable

const kiln::cpu::IsaTable kiln::cpu::kPortableIsa = kiln::cpu::portable::table();
