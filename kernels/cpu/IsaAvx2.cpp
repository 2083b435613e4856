//===- kernels/cpu/IsaAvx2.cpp - AVX2 + FMA kernels -----------------------===//
//
// Every function here is compiled for AVX2 + FMA (a target attribute over the
// whole file, so the library itself builds with default flags) and lives in
// an anonymous namespace, so none can stand in for a portable copy at link time.
//
//===----------------------------------------------------------------------===//
#include "kernels/cpu/ConvChunk.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

namespace kiln::cpu::avx2 {
namespace {

// 6 x 16: 12 ymm accumulators, 2 of B, 1 broadcast of A. Two FMAs a cycle
// with 4-cycle latency need at least 8 independent accumulators. A(r, k) is
// a[k * MR + r] (KMajor) or a[r * kc + k] (Pack.inc).
struct Micro {
  static constexpr int64_t MR = 6, NR = 16;
  template <bool KMajor>
  static void run(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, bool add) {
    __m256 acc[MR][2];
    for (int r = 0; r < MR; ++r) {
      acc[r][0] = acc[r][1] = _mm256_setzero_ps();
      _mm_prefetch(reinterpret_cast<const char *>(c + r * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char *>(c + r * ldc + NR - 1), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k, b += NR) {
      const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
      for (int r = 0; r < MR; ++r) {
        const __m256 x = _mm256_broadcast_ss(KMajor ? a + k * MR + r : a + r * kc + k);
        acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
      }
    }
    for (int r = 0; r < MR; ++r) {
      float *row = c + r * ldc;
      if (add) {
        acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(row));
        acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(row + 8));
      }
      _mm256_storeu_ps(row, acc[r][0]);
      _mm256_storeu_ps(row + 8, acc[r][1]);
    }
  }
};

// mc x kc of A (144 x 256 x 4 B = 144 KiB) stays in the 512 KiB L2, a
// kc x NR sliver of B (16 KiB) in the 32 KiB L1, kc x nc of B (4 MiB) in L3.
constexpr Blocking kBlocking{Micro::MR, Micro::NR, 144, 256, 4080};

#include "kernels/cpu/Activation.inc"
#include "kernels/cpu/Pack.inc"
#include "kernels/cpu/Driver.inc"
#include "kernels/cpu/Bodies.inc"

} // namespace
} // namespace kiln::cpu::avx2

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

const kiln::cpu::IsaTable kiln::cpu::kAvx2Isa = kiln::cpu::avx2::table();

#endif
