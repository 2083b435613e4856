//===- kernels/cpu/IsaAvx512.cpp - AVX-512F kernels -----------------------===//
//
// Compiled for AVX-512F over the whole file (see IsaAvx2.cpp for why a file-
// wide target attribute and an anonymous namespace). Picked only where cpuid
// and the OS report AVX-512 state.
//
//===----------------------------------------------------------------------===//
#include "kernels/cpu/ConvChunk.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#if defined(__clang__)
#if __clang_major__ >= 18
#pragma clang attribute push(__attribute__((target("avx512f,evex512,avx2,fma"))), apply_to = function)
#else
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#endif
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif

namespace kiln::cpu::avx512 {
namespace {

// 12 x 32: 24 zmm accumulators, 2 of B, 1 broadcast of A (of 32 registers).
// A(r, k) is a[k * MR + r] (KMajor) or a[r * kc + k] (Pack.inc).
struct Micro {
  static constexpr int64_t MR = 12, NR = 32;
  template <bool KMajor>
  static void run(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, bool add) {
    __m512 acc[MR][2];
    for (int r = 0; r < MR; ++r) {
      acc[r][0] = acc[r][1] = _mm512_setzero_ps();
      _mm_prefetch(reinterpret_cast<const char *>(c + r * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char *>(c + r * ldc + NR - 1), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k, b += NR) {
      const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
      for (int r = 0; r < MR; ++r) {
        const __m512 x = _mm512_set1_ps(KMajor ? a[k * MR + r] : a[r * kc + k]);
        acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
      }
    }
    for (int r = 0; r < MR; ++r) {
      float *row = c + r * ldc;
      if (add) {
        acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_loadu_ps(row));
        acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_loadu_ps(row + 16));
      }
      _mm512_storeu_ps(row, acc[r][0]);
      _mm512_storeu_ps(row + 16, acc[r][1]);
    }
  }
};

// mc x kc of A (144 KiB) in a 1-2 MiB L2; a kc x NR sliver of B is 32 KiB.
constexpr Blocking kBlocking{Micro::MR, Micro::NR, 144, 256, 4064};

#include "kernels/cpu/Activation.inc"
#include "kernels/cpu/Pack.inc"
#include "kernels/cpu/Driver.inc"
#include "kernels/cpu/Bodies.inc"

} // namespace
} // namespace kiln::cpu::avx512

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

const kiln::cpu::IsaTable kiln::cpu::kAvx512Isa = kiln::cpu::avx512::table();

#endif
