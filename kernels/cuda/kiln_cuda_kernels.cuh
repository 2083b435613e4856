//===- kernels/cuda/kiln_cuda_kernels.cuh - GEMM and conv2d device code ---===//
//
// Device code for the CUDA backend: compiled by NVRTC (C++17) inside the
// translation units kilnc generates, or as host C++ under kernels/cuda/
// Emulate.h for the tests. No C++ standard headers.
//
// Every "phase" below is a __device__ function that every thread of a block
// calls; generated code wraps each in an extern "C" __global__ kernel with a
// constexpr descriptor and launches it with the grid/block that Plan.cpp
// chose (the template arguments there are part of the function's name).
// The semantics are exactly those of kernels/cpu/Kernels.h (KilnGemm,
// KilnConv2d): row-major, NHWC / HWIO, accumulate, bias + activation.
//
// All convolutions are implicit GEMMs (operands are gathered while staging
// tiles into shared memory; nothing is materialised in global memory):
//   forward          M = batch*out_h*out_w, N = out_c, K = kh*kw*in_c
//   backprop input   M = batch*in_h*in_w,   N = in_c,  K = kh*kw*out_c
//   backprop filter  M = kh*kw*in_c + 1,    N = out_c, K = batch*out_h*out_w
//                    (the extra row of A is all ones: its result row is db)
// Split-K (phases with S > 1) writes S partial tiles to the workspace,
// [S][M][N] floats; a reduce phase sums them in split order. No atomics:
// results are deterministic run to run.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CUDA_KERNELS_CUH
#define KILN_CUDA_KERNELS_CUH

#ifndef KILN_CUDA_EMULATE
#include <mma.h>
#include <cuda_bf16.h>
#endif

// The main loops are large; in emulation (host C++) keeping them out of line
// keeps the test's compile time down. On the GPU everything inlines so the
// constant descriptor folds into the index arithmetic.
#ifndef KILN_CUDA_MAINLOOP
#define KILN_CUDA_MAINLOOP __device__ __forceinline__
#endif

#ifdef KILN_CUDA_EMULATE
#define KILN_CUDA_UNROLL
#else
#define KILN_CUDA_UNROLL _Pragma("unroll")
#endif

#if defined(KILN_CUDA_EMULATE) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800)
#define KILN_CUDA_HAVE_WMMA 1
#else
#define KILN_CUDA_HAVE_WMMA 0
#endif

namespace kiln_cuda {

typedef long long i64;

struct Gemm {
  i64 m, n, k, lda, ldb, ldc, trans_a, trans_b, accumulate, activation;
};
struct Conv2d {
  i64 batch, in_h, in_w, in_c, out_c, kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left,
      pad_bottom, pad_right, accumulate, activation;
};

enum { ACT_NONE = 0, ACT_RELU = 1, ACT_SIGMOID = 2, ACT_TANH = 3 };

__device__ __forceinline__ float activate(float v, i64 act) {
  if (act == ACT_RELU)
    return v < 0.0f ? 0.0f : v; // NaN passes through, as on the CPU
  if (act == ACT_SIGMOID)
    return 1.0f / (1.0f + expf(-v));
  if (act == ACT_TANH)
    return tanhf(v);
  return v;
}

__device__ __forceinline__ i64 imin(i64 a, i64 b) { return a < b ? a : b; }
__device__ __forceinline__ i64 cdiv(i64 a, i64 b) { return (a + b - 1) / b; }

/// Split s of S covers [s*chunk, min(K, (s+1)*chunk)); chunk is a multiple
/// of 32 (every tile's BK divides it). Plan.cpp uses the same formula.
__device__ __forceinline__ i64 split_chunk(i64 k, i64 s) { return cdiv(cdiv(k, s), 32) * 32; }

// ---- Problems: the A (M x K) and B (K x N) operands as element functions ----
// i < M, p < K, j < N hold whenever A/B are called. *_fast_k / *_fast_n say
// which index walks memory contiguously, so tile loads can be coalesced.

struct GemmProblem {
  const Gemm &g;
  const float *a, *b;
  __device__ i64 M() const { return g.m; }
  __device__ i64 N() const { return g.n; }
  __device__ i64 K() const { return g.k; }
  __device__ bool a_fast_k() const { return !g.trans_a; }
  __device__ bool b_fast_n() const { return !g.trans_b; }
  __device__ float A(i64 i, i64 p) const { return g.trans_a ? a[p * g.lda + i] : a[i * g.lda + p]; }
  __device__ float B(i64 p, i64 j) const { return g.trans_b ? b[j * g.ldb + p] : b[p * g.ldb + j]; }
};

__device__ __forceinline__ i64 conv_out_h(const Conv2d &g) {
  return (g.in_h + g.pad_top + g.pad_bottom - g.kernel_h) / g.stride_h + 1;
}
__device__ __forceinline__ i64 conv_out_w(const Conv2d &g) {
  return (g.in_w + g.pad_left + g.pad_right - g.kernel_w) / g.stride_w + 1;
}

struct ConvForwardProblem {
  const Conv2d &g;
  const float *x, *w;
  __device__ i64 M() const { return g.batch * conv_out_h(g) * conv_out_w(g); }
  __device__ i64 N() const { return g.out_c; }
  __device__ i64 K() const { return g.kernel_h * g.kernel_w * g.in_c; }
  __device__ bool a_fast_k() const { return true; }
  __device__ bool b_fast_n() const { return true; }
  __device__ float A(i64 i, i64 p) const {
    const i64 oh_n = conv_out_h(g), ow_n = conv_out_w(g);
    const i64 n = i / (oh_n * ow_n), r = i - n * (oh_n * ow_n), oh = r / ow_n, ow = r - oh * ow_n;
    const i64 kh = p / (g.kernel_w * g.in_c), r2 = p - kh * (g.kernel_w * g.in_c);
    const i64 kw = r2 / g.in_c, ci = r2 - kw * g.in_c;
    const i64 ih = oh * g.stride_h - g.pad_top + kh, iw = ow * g.stride_w - g.pad_left + kw;
    if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w)
      return 0.0f;
    return x[((n * g.in_h + ih) * g.in_w + iw) * g.in_c + ci];
  }
  __device__ float B(i64 p, i64 j) const { return w[p * g.out_c + j]; }
};

struct ConvBackpropInputProblem {
  const Conv2d &g;
  const float *dy, *w;
  __device__ i64 M() const { return g.batch * g.in_h * g.in_w; }
  __device__ i64 N() const { return g.in_c; }
  __device__ i64 K() const { return g.kernel_h * g.kernel_w * g.out_c; }
  __device__ bool a_fast_k() const { return true; }
  __device__ bool b_fast_n() const { return g.out_c == 1; }
  // dx[n,ih,iw,ci] = sum over kh,kw,co of dy[n,oh,ow,co] w[kh,kw,ci,co]
  // where ih = oh*stride_h - pad_top + kh (likewise for w).
  __device__ float A(i64 i, i64 p) const {
    const i64 oh_n = conv_out_h(g), ow_n = conv_out_w(g);
    const i64 n = i / (g.in_h * g.in_w), r = i - n * (g.in_h * g.in_w), ih = r / g.in_w,
              iw = r - ih * g.in_w;
    const i64 kh = p / (g.kernel_w * g.out_c), r2 = p - kh * (g.kernel_w * g.out_c);
    const i64 kw = r2 / g.out_c, co = r2 - kw * g.out_c;
    const i64 th = ih + g.pad_top - kh, tw = iw + g.pad_left - kw;
    if (th < 0 || tw < 0)
      return 0.0f;
    const i64 oh = th / g.stride_h, ow = tw / g.stride_w;
    if (oh * g.stride_h != th || ow * g.stride_w != tw || oh >= oh_n || ow >= ow_n)
      return 0.0f;
    return dy[((n * oh_n + oh) * ow_n + ow) * g.out_c + co];
  }
  __device__ float B(i64 p, i64 j) const {
    const i64 kk = p / g.out_c, co = p - kk * g.out_c;
    return w[(kk * g.in_c + j) * g.out_c + co];
  }
};

struct ConvBackpropFilterProblem {
  const Conv2d &g;
  const float *x, *dy;
  __device__ i64 M0() const { return g.kernel_h * g.kernel_w * g.in_c; }
  __device__ i64 M() const { return M0() + 1; } // + the row of ones (db)
  __device__ i64 N() const { return g.out_c; }
  __device__ i64 K() const { return g.batch * conv_out_h(g) * conv_out_w(g); }
  __device__ bool a_fast_k() const { return g.in_c == 1; }
  __device__ bool b_fast_n() const { return true; }
  __device__ float A(i64 i, i64 p) const {
    if (i == M0())
      return 1.0f;
    const i64 oh_n = conv_out_h(g), ow_n = conv_out_w(g);
    const i64 kh = i / (g.kernel_w * g.in_c), r2 = i - kh * (g.kernel_w * g.in_c);
    const i64 kw = r2 / g.in_c, ci = r2 - kw * g.in_c;
    const i64 n = p / (oh_n * ow_n), r = p - n * (oh_n * ow_n), oh = r / ow_n, ow = r - oh * ow_n;
    const i64 ih = oh * g.stride_h - g.pad_top + kh, iw = ow * g.stride_w - g.pad_left + kw;
    if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w)
      return 0.0f;
    return x[((n * g.in_h + ih) * g.in_w + iw) * g.in_c + ci];
  }
  __device__ float B(i64 p, i64 j) const { return dy[p * g.out_c + j]; }
};

// ---- Outputs (epilogues): called once per (i, j) with the tile's sum -----

struct OutDirect { // c = act((accumulate ? c : 0) + v + bias[j])
  float *c;
  i64 ldc;
  const float *bias;
  i64 accumulate, activation;
  __device__ void operator()(i64 i, i64 j, i64, float v) const {
    float *p = c + i * ldc + j;
    if (accumulate)
      v = *p + v;
    if (bias)
      v += bias[j];
    *p = activate(v, activation);
  }
};

struct OutPartial { // ws[split][i][j] = v
  float *ws;
  i64 m, n;
  __device__ void operator()(i64 i, i64 j, i64 split, float v) const {
    ws[(split * m + i) * n + j] = v;
  }
};

struct OutFilter { // rows < m0: dw; row m0: db (skipped when db is null)
  float *dw, *db;
  i64 m0, n, accumulate;
  __device__ void operator()(i64 i, i64 j, i64, float v) const {
    float *p = i < m0 ? dw + i * n + j : db ? db + j : nullptr;
    if (!p)
      return;
    *p = accumulate ? *p + v : v;
  }
};

// ---- FP32 main loop: shared-memory tiles, TM x TN register blocking ------

template <int T> struct F32Tile;
template <> struct F32Tile<128> { enum { BM = 128, BN = 128, BK = 8, TM = 8, TN = 8, NT = 256 }; };
template <> struct F32Tile<64> { enum { BM = 64, BN = 64, BK = 16, TM = 4, TN = 4, NT = 256 }; };
template <> struct F32Tile<32> { enum { BM = 32, BN = 32, BK = 16, TM = 2, TN = 2, NT = 256 }; };

// Block (blockIdx.x, blockIdx.y) computes tiles (mt, nt) strided by the grid
// (so grids may be clipped to CUDA's limits); blockIdx.z is the K split.
template <class C, class P, class O>
KILN_CUDA_MAINLOOP void mainloop_f32(const P &pr, const O &out, i64 splits) {
  enum { BM = C::BM, BN = C::BN, BK = C::BK, TM = C::TM, TN = C::TN, NT = C::NT };
  enum { TX = BN / TN, TY = BM / TM };
  __shared__ float As[BK][BM];
  __shared__ float Bs[BK][BN];
  const int tid = threadIdx.x, tx = tid % TX, ty = tid / TX;
  const i64 M = pr.M(), N = pr.N(), K = pr.K();
  const i64 tiles_m = cdiv(M, BM), tiles_n = cdiv(N, BN);
  const i64 split = blockIdx.z, chunk = splits > 1 ? split_chunk(K, splits) : K;
  const i64 k0 = imin(K, split * chunk), k1 = imin(K, k0 + chunk);
  for (i64 mt = blockIdx.x; mt < tiles_m; mt += gridDim.x) {
    for (i64 nt = blockIdx.y; nt < tiles_n; nt += gridDim.y) {
      const i64 m0 = mt * BM, n0 = nt * BN;
      float acc[TM][TN];
      for (int r = 0; r < TM; ++r)
        for (int c = 0; c < TN; ++c)
          acc[r][c] = 0.0f;
      for (i64 kt = k0; kt < k1; kt += BK) {
        for (int e = tid; e < BM * BK; e += NT) {
          const bool fk = pr.a_fast_k();
          const int kk = fk ? e % BK : e / BM, r = fk ? e / BK : e % BM;
          const i64 i = m0 + r, p = kt + kk;
          As[kk][r] = (i < M && p < k1) ? pr.A(i, p) : 0.0f;
        }
        for (int e = tid; e < BN * BK; e += NT) {
          const bool fn = pr.b_fast_n();
          const int kk = fn ? e / BN : e % BK, c = fn ? e % BN : e / BK;
          const i64 j = n0 + c, p = kt + kk;
          Bs[kk][c] = (j < N && p < k1) ? pr.B(p, j) : 0.0f;
        }
        __syncthreads();
KILN_CUDA_UNROLL
        for (int kk = 0; kk < BK; ++kk) {
          float av[TM], bv[TN];
KILN_CUDA_UNROLL
          for (int r = 0; r < TM; ++r)
            av[r] = As[kk][ty + r * TY];
KILN_CUDA_UNROLL
          for (int c = 0; c < TN; ++c)
            bv[c] = Bs[kk][tx + c * TX];
KILN_CUDA_UNROLL
          for (int r = 0; r < TM; ++r)
KILN_CUDA_UNROLL
            for (int c = 0; c < TN; ++c)
              acc[r][c] = fmaf(av[r], bv[c], acc[r][c]);
        }
        __syncthreads();
      }
      for (int r = 0; r < TM; ++r) {
        const i64 i = m0 + ty + r * TY;
        if (i >= M)
          continue;
        for (int c = 0; c < TN; ++c) {
          const i64 j = n0 + tx + c * TX;
          if (j < N)
            out(i, j, split, acc[r][c]);
        }
      }
    }
  }
}

// ---- Tensor-core main loop (WMMA): TF32 (m16n16k8) and BF16 (m16n16k16) ---
// Operands are rounded (TF32: round to nearest, ties away, as cvt.rna.tf32;
// BF16: round to nearest even) while being staged into shared memory;
// accumulation is FP32.

template <int T> struct TcTile;
template <> struct TcTile<128> { enum { BM = 128, BN = 128, WM = 4, WN = 2, NT = 256 }; };
template <> struct TcTile<64> { enum { BM = 64, BN = 64, WM = 2, WN = 2, NT = 128 }; };

struct PrecTf32 {
  enum { BK = 16, FK = 8, PAD = 4 };
#if KILN_CUDA_HAVE_WMMA
  typedef float Stage;
  typedef nvcuda::wmma::precision::tf32 Frag;
  __device__ static float convert(float v) { return nvcuda::wmma::__float_to_tf32(v); }
#endif
};
struct PrecBf16 {
  enum { BK = 32, FK = 16, PAD = 8 };
#if KILN_CUDA_HAVE_WMMA
  typedef __nv_bfloat16 Stage;
  typedef __nv_bfloat16 Frag;
  __device__ static __nv_bfloat16 convert(float v) { return __float2bfloat16(v); }
#endif
};

template <class C, class Pr, class P, class O>
KILN_CUDA_MAINLOOP void mainloop_tc(const P &pr, const O &out, i64 splits) {
#if KILN_CUDA_HAVE_WMMA
  using namespace nvcuda;
  enum { BM = C::BM, BN = C::BN, WM = C::WM, WN = C::WN, NT = C::NT, BK = Pr::BK, FK = Pr::FK };
  enum { WTM = BM / WM, WTN = BN / WN, FM = WTM / 16, FN = WTN / 16 };
  enum { LDA = BK + Pr::PAD, LDB = BN + Pr::PAD };
  typedef typename Pr::Stage S;
  // Fragment pointers must be 32-byte aligned: every offset used below is.
  __shared__ __align__(128) S As[BM * LDA];
  __shared__ __align__(128) S Bs[BK * LDB];
  __shared__ __align__(128) float Cs[WM * WN][16 * 16];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int wm = warp / WN, wn = warp % WN;
  const i64 M = pr.M(), N = pr.N(), K = pr.K();
  const i64 tiles_m = cdiv(M, BM), tiles_n = cdiv(N, BN);
  const i64 split = blockIdx.z, chunk = splits > 1 ? split_chunk(K, splits) : K;
  const i64 k0 = imin(K, split * chunk), k1 = imin(K, k0 + chunk);
  for (i64 mt = blockIdx.x; mt < tiles_m; mt += gridDim.x) {
    for (i64 nt = blockIdx.y; nt < tiles_n; nt += gridDim.y) {
      const i64 m0 = mt * BM, n0 = nt * BN;
      wmma::fragment<wmma::accumulator, 16, 16, FK, float> acc[FM][FN];
KILN_CUDA_UNROLL
      for (int a = 0; a < FM; ++a)
KILN_CUDA_UNROLL
        for (int b = 0; b < FN; ++b)
          wmma::fill_fragment(acc[a][b], 0.0f);
      for (i64 kt = k0; kt < k1; kt += BK) {
        for (int e = tid; e < BM * BK; e += NT) {
          const bool fk = pr.a_fast_k();
          const int kk = fk ? e % BK : e / BM, r = fk ? e / BK : e % BM;
          const i64 i = m0 + r, p = kt + kk;
          As[r * LDA + kk] = Pr::convert((i < M && p < k1) ? pr.A(i, p) : 0.0f);
        }
        for (int e = tid; e < BN * BK; e += NT) {
          const bool fn = pr.b_fast_n();
          const int kk = fn ? e / BN : e % BK, c = fn ? e % BN : e / BK;
          const i64 j = n0 + c, p = kt + kk;
          Bs[kk * LDB + c] = Pr::convert((j < N && p < k1) ? pr.B(p, j) : 0.0f);
        }
        __syncthreads();
KILN_CUDA_UNROLL
        for (int ks = 0; ks < BK; ks += FK) {
          wmma::fragment<wmma::matrix_a, 16, 16, FK, typename Pr::Frag, wmma::row_major> fa[FM];
          wmma::fragment<wmma::matrix_b, 16, 16, FK, typename Pr::Frag, wmma::row_major> fb[FN];
KILN_CUDA_UNROLL
          for (int a = 0; a < FM; ++a)
            wmma::load_matrix_sync(fa[a], As + (wm * WTM + a * 16) * LDA + ks, LDA);
KILN_CUDA_UNROLL
          for (int b = 0; b < FN; ++b)
            wmma::load_matrix_sync(fb[b], Bs + ks * LDB + wn * WTN + b * 16, LDB);
KILN_CUDA_UNROLL
          for (int a = 0; a < FM; ++a)
KILN_CUDA_UNROLL
            for (int b = 0; b < FN; ++b)
              wmma::mma_sync(acc[a][b], fa[a], fb[b], acc[a][b]);
        }
        __syncthreads();
      }
      // Through shared memory, one 16x16 fragment per warp at a time, so the
      // epilogue sees (i, j) and can clip at the edges.
KILN_CUDA_UNROLL
      for (int a = 0; a < FM; ++a) {
KILN_CUDA_UNROLL
        for (int b = 0; b < FN; ++b) {
          wmma::store_matrix_sync(Cs[warp], acc[a][b], 16, wmma::mem_row_major);
          __syncthreads();
          for (int e = lane; e < 256; e += 32) {
            const i64 i = m0 + wm * WTM + a * 16 + e / 16, j = n0 + wn * WTN + b * 16 + e % 16;
            if (i < M && j < N)
              out(i, j, split, Cs[warp][e]);
          }
          __syncthreads();
        }
      }
    }
  }
#else
  __trap(); // tensor-core phases need sm_80+; Plan never picks them below
#endif
}

// ---- Phases ---------------------------------------------------------------
// T: tile size (FP32: 128, 64, 32; tensor cores: 128, 64). S: K splits
// (S > 1: partial sums to ws, then the matching *_reduce phase).

#define KILN_CUDA_GEMM_PHASE(NAME, LOOP)                                                           \
  template <int T, int S>                                                                          \
  __device__ __forceinline__ void NAME(const Gemm &g, const float *a, const float *b,              \
                                       const float *bias, float *c, float *ws) {                   \
    const GemmProblem pr{g, a, b};                                                                 \
    if (S == 1)                                                                                    \
      LOOP(pr, (OutDirect{c, g.ldc, bias, g.accumulate, g.activation}), 1);                        \
    else                                                                                           \
      LOOP(pr, (OutPartial{ws, g.m, g.n}), S);                                                     \
  }

#define KILN_CUDA_LOOP_F32(pr, out, s) mainloop_f32<F32Tile<T>>(pr, out, s)
#define KILN_CUDA_LOOP_TF32(pr, out, s) mainloop_tc<TcTile<T>, PrecTf32>(pr, out, s)
#define KILN_CUDA_LOOP_BF16(pr, out, s) mainloop_tc<TcTile<T>, PrecBf16>(pr, out, s)

KILN_CUDA_GEMM_PHASE(gemm_f32, KILN_CUDA_LOOP_F32)
KILN_CUDA_GEMM_PHASE(gemm_tf32, KILN_CUDA_LOOP_TF32)
KILN_CUDA_GEMM_PHASE(gemm_bf16, KILN_CUDA_LOOP_BF16)

/// After gemm_*<T, S> with S > 1: c = epilogue(sum over s of ws[s]), one
/// element per thread, splits added in order 0..S-1.
template <int S>
__device__ __forceinline__ void gemm_splitk_reduce(const Gemm &g, const float *a, const float *b,
                                                   const float *bias, float *c, float *ws) {
  const i64 total = g.m * g.n;
  const OutDirect out{c, g.ldc, bias, g.accumulate, g.activation};
  for (i64 e = (i64)blockIdx.x * blockDim.x + threadIdx.x; e < total;
       e += (i64)gridDim.x * blockDim.x) {
    float v = ws[e];
    for (int s = 1; s < S; ++s)
      v += ws[s * total + e];
    out(e / g.n, e % g.n, 0, v);
  }
}

#define KILN_CUDA_CONV_FWD_PHASE(NAME, LOOP)                                                       \
  template <int T>                                                                                 \
  __device__ __forceinline__ void NAME(const Conv2d &g, const float *x, const float *w,            \
                                       const float *bias, float *y, float *ws) {                   \
    const ConvForwardProblem pr{g, x, w};                                                          \
    LOOP(pr, (OutDirect{y, g.out_c, bias, g.accumulate, g.activation}), 1);                        \
  }
KILN_CUDA_CONV_FWD_PHASE(conv2d_forward_f32, KILN_CUDA_LOOP_F32)
KILN_CUDA_CONV_FWD_PHASE(conv2d_forward_tf32, KILN_CUDA_LOOP_TF32)
KILN_CUDA_CONV_FWD_PHASE(conv2d_forward_bf16, KILN_CUDA_LOOP_BF16)

#define KILN_CUDA_CONV_BWD_INPUT_PHASE(NAME, LOOP)                                                 \
  template <int T>                                                                                 \
  __device__ __forceinline__ void NAME(const Conv2d &g, const float *dy, const float *w,           \
                                       float *dx, float *ws) {                                     \
    const ConvBackpropInputProblem pr{g, dy, w};                                                   \
    LOOP(pr, (OutDirect{dx, g.in_c, nullptr, g.accumulate, ACT_NONE}), 1);                         \
  }
KILN_CUDA_CONV_BWD_INPUT_PHASE(conv2d_backprop_input_f32, KILN_CUDA_LOOP_F32)
KILN_CUDA_CONV_BWD_INPUT_PHASE(conv2d_backprop_input_tf32, KILN_CUDA_LOOP_TF32)
KILN_CUDA_CONV_BWD_INPUT_PHASE(conv2d_backprop_input_bf16, KILN_CUDA_LOOP_BF16)

#define KILN_CUDA_CONV_BWD_FILTER_PHASE(NAME, LOOP)                                                \
  template <int T, int S>                                                                          \
  __device__ __forceinline__ void NAME(const Conv2d &g, const float *x, const float *dy,           \
                                       float *dw, float *db, float *ws) {                          \
    const ConvBackpropFilterProblem pr{g, x, dy};                                                  \
    if (S == 1)                                                                                    \
      LOOP(pr, (OutFilter{dw, db, pr.M0(), g.out_c, g.accumulate}), 1);                            \
    else                                                                                           \
      LOOP(pr, (OutPartial{ws, pr.M(), g.out_c}), S);                                              \
  }
KILN_CUDA_CONV_BWD_FILTER_PHASE(conv2d_backprop_filter_f32, KILN_CUDA_LOOP_F32)
KILN_CUDA_CONV_BWD_FILTER_PHASE(conv2d_backprop_filter_tf32, KILN_CUDA_LOOP_TF32)
KILN_CUDA_CONV_BWD_FILTER_PHASE(conv2d_backprop_filter_bf16, KILN_CUDA_LOOP_BF16)

/// After conv2d_backprop_filter_*<T, S> with S > 1: dw (and db, the last
/// row of the partials) = sum over s of ws[s], in split order.
template <int S>
__device__ __forceinline__ void conv2d_backprop_filter_reduce(const Conv2d &g, const float *x,
                                                              const float *dy, float *dw,
                                                              float *db, float *ws) {
  const i64 m0 = g.kernel_h * g.kernel_w * g.in_c, n = g.out_c, total = (m0 + 1) * n;
  const OutFilter out{dw, db, m0, n, g.accumulate};
  for (i64 e = (i64)blockIdx.x * blockDim.x + threadIdx.x; e < total;
       e += (i64)gridDim.x * blockDim.x) {
    float v = ws[e];
    for (int s = 1; s < S; ++s)
      v += ws[s * total + e];
    out(e / n, e % n, 0, v);
  }
}

#undef KILN_CUDA_GEMM_PHASE
#undef KILN_CUDA_CONV_FWD_PHASE
#undef KILN_CUDA_CONV_BWD_INPUT_PHASE
#undef KILN_CUDA_CONV_BWD_FILTER_PHASE

} // namespace kiln_cuda

#endif
