/*===- kernels/cpu/Kernels.h - float32 GEMM and conv2d for CPU code ---------===*
 *
 * The kernels kilnc's CPU code calls. Plain C ABI, stdint/stddef types only:
 * the static library kiln_kernels_cpu links into model shared objects
 * (-nostartfiles) and needs nothing but libc.
 *
 * Conventions
 * - Row-major everywhere. Descriptors hold only 8-byte fields, in declaration
 *   order with no padding, so generated code may emit them as constant int64
 *   arrays (shapes are static) and pass data pointers per call.
 * - No kernel allocates: all temporary memory (packing buffers and scratch,
 *   one set per thread) is the caller's workspace, *_workspace_bytes() long
 *   for the same descriptor and a max_threads no smaller than the thread
 *   count given to kiln_kernels_set_parallel_for (a smaller one runs on fewer
 *   threads). Any alignment; it need not be zeroed or kept between calls.
 * - Results are bit-identical whatever the thread count and the order in
 *   which the hook runs chunks: work is split only along output rows and
 *   columns (conv backprop-input: whole images), never along a reduction.
 * - Instruction set: AVX-512F, AVX2+FMA or portable C++, picked at first use
 *   from the CPU; the environment variable KILN_CPU_KERNELS=portable|avx2|avx512
 *   or kiln_kernels_set_isa() forces one the CPU supports. Different
 *   instruction sets round differently (results agree to float precision).
 * - Every kernel returns KILN_KERNELS_OK, or an error code leaving the
 *   outputs untouched.
 *===----------------------------------------------------------------------===*/
#ifndef KILN_KERNELS_CPU_KERNELS_H
#define KILN_KERNELS_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  KILN_KERNELS_OK = 0,
  KILN_KERNELS_BAD_ARGS = -1,       /* negative size, zero stride, ld too small, ... */
  KILN_KERNELS_SMALL_WORKSPACE = -2 /* too small for even one thread */
};

/* The fused epilogue: out = act(out + bias[column]). */
enum { KILN_ACT_NONE = 0, KILN_ACT_RELU = 1, KILN_ACT_SIGMOID = 2, KILN_ACT_TANH = 3 };

enum { KILN_ISA_AUTO = 0, KILN_ISA_PORTABLE = 1, KILN_ISA_AVX2 = 2, KILN_ISA_AVX512 = 3 };

/* ---- GEMM --------------------------------------------------------------- */

/* C[m x n] = act((accumulate ? C : 0) + op(A) op(B) + bias)
 * op(A) is m x k: A[i*lda + p], or A[p*lda + i] when trans_a.
 * op(B) is k x n: B[p*ldb + j], or B[j*ldb + p] when trans_b.
 * C[i*ldc + j]; bias (length n) may be NULL. k == 0 gives act(C or 0 + bias). */
typedef struct KilnGemm {
  int64_t m, n, k;
  int64_t lda, ldb, ldc;
  int64_t trans_a, trans_b; /* 0 or 1 */
  int64_t accumulate;       /* 0 or 1 */
  int64_t activation;       /* KILN_ACT_* */
} KilnGemm;

size_t kiln_gemm_workspace_bytes(const KilnGemm *g, int64_t max_threads);
int kiln_gemm_f32(const KilnGemm *g, const float *a, const float *b, const float *bias, float *c,
                  void *workspace, size_t workspace_bytes);

/* ---- 2-D convolution ----------------------------------------------------- */

/* x  [batch, in_h, in_w, in_c]            (NHWC)
 * w  [kernel_h, kernel_w, in_c, out_c]    (HWIO, Keras' layout)
 * y  [batch, out_h, out_w, out_c]  with out_h = (in_h + pad_top + pad_bottom - kernel_h) / stride_h + 1
 *                                  and  out_w = (in_w + pad_left + pad_right - kernel_w) / stride_w + 1
 * y[n,oh,ow,co] = sum over kh,kw,ci of x[n, oh*stride_h - pad_top + kh, ow*stride_w - pad_left + kw, ci]
 *                 * w[kh,kw,ci,co], zero outside x.
 * accumulate adds to the output (y, dx, dw and db) instead of overwriting it;
 * activation applies to the forward kernel only. */
typedef struct KilnConv2d {
  int64_t batch, in_h, in_w, in_c, out_c;
  int64_t kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
  int64_t accumulate; /* 0 or 1 */
  int64_t activation; /* KILN_ACT_*, forward only */
} KilnConv2d;

/* Enough for all three kernels below. */
size_t kiln_conv2d_workspace_bytes(const KilnConv2d *g, int64_t max_threads);

/* y = act(conv(x, w) + bias); bias (length out_c) may be NULL. */
int kiln_conv2d_f32(const KilnConv2d *g, const float *x, const float *w, const float *bias, float *y,
                    void *workspace, size_t workspace_bytes);
/* dx = d(sum y*dy)/dx: the transposed convolution of dy with w. */
int kiln_conv2d_backprop_input_f32(const KilnConv2d *g, const float *dy, const float *w, float *dx,
                                   void *workspace, size_t workspace_bytes);
/* dw = d(sum y*dy)/dw; db (length out_c, may be NULL) = sum of dy over batch, height, width. */
int kiln_conv2d_backprop_filter_f32(const KilnConv2d *g, const float *x, const float *dy, float *dw,
                                    float *db, void *workspace, size_t workspace_bytes);

/* ---- Threads and instruction set ----------------------------------------- */

typedef void (*KilnParallelBody)(void *arg, int64_t begin, int64_t end);
/* Must call body(arg, b, e) over disjoint [b, e) covering [0, n) - in any
 * order, concurrently or not - and return when all calls have returned. */
typedef void (*KilnParallelFor)(void *ctx, int64_t n, KilnParallelBody body, void *arg);

/* Kernels split their work into at most num_threads parts (each with its own
 * workspace slice) and hand them to pf. pf == NULL or num_threads <= 1: serial
 * (the default). Process-wide; set it while no kernel is running. */
void kiln_kernels_set_parallel_for(KilnParallelFor pf, void *ctx, int64_t num_threads);

/* For generated loops: body(arg, begin, end) over at most num_threads
 * contiguous, disjoint ranges covering [0, n), through the hook (serially
 * without one). Each index runs exactly once whatever the thread count. */
void kiln_kernels_parallel_for(int64_t n, KilnParallelBody body, void *arg);

/* Forces an instruction set (KILN_ISA_AUTO: the best the CPU has, or the
 * KILN_CPU_KERNELS choice). Returns the one now in effect, or -1, changing
 * nothing, when the CPU or the build lacks it. Set it while no kernel runs. */
int kiln_kernels_set_isa(int isa);
int kiln_kernels_isa(void); /* the KILN_ISA_* in effect */

#ifdef __cplusplus
}
#endif

#endif
