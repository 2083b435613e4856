//===- kernels/cuda/Emulate.h - run kiln_cuda_kernels.cuh on the CPU -----===//
//
// Include this before kiln_cuda_kernels.cuh to compile the device code as
// host C++ and run it with kiln_cuda_emu::launch, so the kernels can be
// tested on machines without a GPU. Tests only: correctness, not speed.
//
// - Blocks run one after another on the calling thread, last block first,
//   and a block's threads last thread first: the GPU promises no order, and
//   in reverse a kernel that relies on an earlier block's or thread's writes
//   without a barrier (or on a later one's not having happened) reads the
//   wrong values here instead of passing by luck. A block's threads
//   are cooperative fibers (ucontext stacks, _setjmp/_longjmp switches),
//   switched at __syncthreads, which is a
//   real barrier: every thread of the block reaches it before any passes
//   (a thread that returns while others wait at a barrier aborts: that is a
//   divergent __syncthreads, undefined on the GPU).
// - __shared__ is `static`: as blocks do not overlap, a function-static
//   array is the block's shared memory (one launch at a time per process).
// - WMMA (nvcuda::wmma, the subset the kernels use): a matrix_a/matrix_b
//   fragment holds the whole tile in every lane; an accumulator fragment
//   holds the whole tile too, but mma_sync and store_matrix_sync touch only
//   the lane's 8 of its 256 elements (lane = threadIdx.x % 32; 1-D blocks),
//   so the warp together does the work once. Do not read accumulator
//   elements through .x after mma_sync. TF32 operands are truncated to
//   10-bit mantissas as the hardware does (__float_to_tf32 rounds to
//   nearest, ties away, like cvt.rna.tf32); BF16 is round-to-nearest-even.
//   Products are exact and summed with fmaf in k order (the hardware's
//   internal accumulation order is unspecified; errors are FP32-sized).
// - No warp shuffles, votes or other warp-level intrinsics.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_KERNELS_CUDA_EMULATE_H
#define KILN_KERNELS_CUDA_EMULATE_H

#include <cmath>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <math.h>
#include <type_traits>
#include <ucontext.h>
#include <vector>

#define KILN_CUDA_EMULATE 1
#define __device__
#define __global__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define KILN_CUDA_MAINLOOP __attribute__((noinline))

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local uint3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;

// Bit casts generated code uses (NaN / infinity literals, dropout's hash).
inline float __int_as_float(int x) {
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}
inline int __float_as_int(float f) {
  int x;
  std::memcpy(&x, &f, sizeof x);
  return x;
}
// CUDA's device math that the C library lacks (the GPU's rsqrtf is within 2 ulp).
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double __longlong_as_double(long long x) {
  double d;
  std::memcpy(&d, &x, sizeof d);
  return d;
}

namespace kiln_cuda_emu {

struct Fiber {
  ucontext_t ctx;  // how a fiber starts
  std::jmp_buf jb; // where it waits at a barrier
  bool started, done;
};

// Switching is _setjmp/_longjmp (no signal-mask system call); ucontext only
// gives each fiber its stack and first entry.
struct State {
  std::jmp_buf scheduler;
  ucontext_t start, unused;
  std::vector<Fiber> fibers;
  std::vector<char> stacks;
  const std::function<void()> *body = nullptr;
  unsigned current = 0;
};
inline thread_local State *state = nullptr;
constexpr size_t kStackBytes = 256 * 1024;

[[noreturn]] inline void fiberEntry() {
  State &s = *state;
  (*s.body)();
  s.fibers[s.current].done = true;
  _longjmp(s.scheduler, 1); // never returns: the stack is simply dropped
}

inline void syncthreads() {
  State &s = *state;
  if (!_setjmp(s.fibers[s.current].jb))
    _longjmp(s.scheduler, 1);
}

/// Runs body as every thread of every block of grid (in reverse order: see
/// the top of this file).
inline void launch(dim3 grid, dim3 block, const std::function<void()> &body) {
  static thread_local State s;
  const unsigned n = block.x * block.y * block.z;
  if (s.fibers.size() < n) {
    s.fibers.resize(n);
    s.stacks.resize(size_t(n) * kStackBytes);
  }
  getcontext(&s.start);
  s.body = &body;
  State *saved = state;
  state = &s;
  gridDim = grid;
  blockDim = block;
  for (unsigned bz = grid.z; bz-- > 0;)
    for (unsigned by = grid.y; by-- > 0;)
      for (unsigned bx = grid.x; bx-- > 0;) {
        blockIdx = uint3{bx, by, bz};
        for (unsigned t = 0; t < n; ++t) {
          Fiber &f = s.fibers[t];
          f.ctx = s.start;
          f.ctx.uc_stack.ss_sp = s.stacks.data() + size_t(t) * kStackBytes;
          f.ctx.uc_stack.ss_size = kStackBytes;
          f.ctx.uc_link = nullptr;
          f.started = f.done = false;
          makecontext(&f.ctx, (void (*)())fiberEntry, 0);
        }
        for (;;) {
          unsigned done = 0;
          for (unsigned t = n; t-- > 0;) {
            Fiber &f = s.fibers[t];
            if (f.done) {
              ++done;
              continue;
            }
            s.current = t;
            threadIdx = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
            if (!_setjmp(s.scheduler)) {
              if (f.started)
                _longjmp(f.jb, 1);
              f.started = true;
              swapcontext(&s.unused, &f.ctx);
            }
            done += f.done;
          }
          if (done == n)
            break;
          if (done != 0) {
            std::fprintf(stderr, "kiln_cuda_emu: divergent __syncthreads in block (%u,%u,%u)\n", bx, by,
                         bz);
            std::abort();
          }
        }
      }
  state = saved;
}

} // namespace kiln_cuda_emu

inline void __syncthreads() { kiln_cuda_emu::syncthreads(); }
[[noreturn]] inline void __trap() { std::abort(); }

// ---- bfloat16 ---------------------------------------------------------------

struct __nv_bfloat16 {
  uint16_t bits;
};
inline __nv_bfloat16 __float2bfloat16(float v) { // round to nearest even, NaN kept quiet
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return __nv_bfloat16{uint16_t((u >> 16) | 0x40)};
  u += 0x7fffu + ((u >> 16) & 1);
  return __nv_bfloat16{uint16_t(u >> 16)};
}
inline float __bfloat162float(__nv_bfloat16 h) {
  const uint32_t u = uint32_t(h.bits) << 16;
  float v;
  std::memcpy(&v, &u, 4);
  return v;
}

// ---- WMMA -------------------------------------------------------------------

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
namespace precision {
struct tf32 {};
} // namespace precision

/// Round to TF32 (10-bit mantissa): nearest, ties away from zero (cvt.rna).
inline float __float_to_tf32(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) // finite
    u = (u + 0x1000u) & 0xffffe000u;
  std::memcpy(&v, &u, 4);
  return v;
}

namespace detail {
template <class T> struct Storage { typedef T type; };
template <> struct Storage<precision::tf32> { typedef float type; };
template <class Use, int M, int N, int K> struct Shape;
template <int M, int N, int K> struct Shape<matrix_a, M, N, K> { enum { rows = M, cols = K }; };
template <int M, int N, int K> struct Shape<matrix_b, M, N, K> { enum { rows = K, cols = N }; };
template <int M, int N, int K> struct Shape<accumulator, M, N, K> { enum { rows = M, cols = N }; };
inline float toFloat(float v) { // what the tensor core reads of a TF32 operand
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u &= 0xffffe000u;
  std::memcpy(&v, &u, 4);
  return v;
}
inline float toFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
inline unsigned lane() { return threadIdx.x % 32; }
} // namespace detail

template <class Use, int M, int N, int K, class T, class Layout = void> struct fragment {
  typedef typename detail::Storage<T>::type element_type;
  enum { rows = detail::Shape<Use, M, N, K>::rows, cols = detail::Shape<Use, M, N, K>::cols };
  enum { num_elements = rows * cols };
  element_type x[num_elements];
};

template <class Use, int M, int N, int K, class T, class L, class V>
inline void fill_fragment(fragment<Use, M, N, K, T, L> &f, const V &v) {
  for (int e = 0; e < f.num_elements; ++e)
    f.x[e] = v;
}

template <class Use, int M, int N, int K, class T, class L, class S>
inline void load_matrix_sync(fragment<Use, M, N, K, T, L> &f, const S *p, unsigned ldm) {
  typedef fragment<Use, M, N, K, T, L> F;
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c)
      f.x[r * F::cols + c] = std::is_same<L, col_major>::value ? p[c * ldm + r] : p[r * ldm + c];
}

template <int M, int N, int K, class TA, class LA, class LB>
inline void mma_sync(fragment<accumulator, M, N, K, float> &d,
                     const fragment<matrix_a, M, N, K, TA, LA> &a,
                     const fragment<matrix_b, M, N, K, TA, LB> &b,
                     const fragment<accumulator, M, N, K, float> &c) {
  enum { PER_LANE = M * N / 32 };
  const unsigned l = detail::lane();
  for (unsigned e = l * PER_LANE; e < (l + 1) * PER_LANE; ++e) {
    const int r = e / N, col = e % N;
    float v = c.x[e];
    for (int k = 0; k < K; ++k)
      v = std::fma(detail::toFloat(a.x[r * K + k]), detail::toFloat(b.x[k * N + col]), v);
    d.x[e] = v;
  }
}

template <int M, int N, int K>
inline void store_matrix_sync(float *p, const fragment<accumulator, M, N, K, float> &f, unsigned ldm,
                              layout_t layout) {
  enum { PER_LANE = M * N / 32 };
  const unsigned l = detail::lane();
  for (unsigned e = l * PER_LANE; e < (l + 1) * PER_LANE; ++e) {
    const int r = e / N, c = e % N;
    p[layout == mem_row_major ? r * ldm + c : c * ldm + r] = f.x[e];
  }
}

} // namespace wmma
} // namespace nvcuda

#endif
