//===- kernels/cuda/Plan.h - launch plans for the CUDA GEMM/conv kernels --===//
//
// Host side of kernels/cuda: for a GEMM or convolution descriptor (the same
// fields, in the same order, as kernels/cpu/Kernels.h's KilnGemm and
// KilnConv2d) and a precision, the phases to launch - which device function
// of kiln_cuda_kernels.cuh, with which grid and block - and the workspace
// they need. No CUDA dependency.
//
// Generated code wraps each phase as
//   extern "C" __global__ void __launch_bounds__(block[0]*block[1]*block[2])
//   NAME(ptrs...) { constexpr kiln_cuda::Gemm g{...}; <function>(g, ptrs..., ws); }
// and launches the phases in order on one stream. `function` is a call
// expression's callee, template arguments included
// ("kiln_cuda::gemm_tf32<128, 1>"). ws is workspaceBytes of device memory
// (nullptr when 0); it need not be zeroed or kept between launches.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_KERNELS_CUDA_PLAN_H
#define KILN_KERNELS_CUDA_PLAN_H

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::cuda {

enum class Precision { F32, TF32, BF16 };
enum class ConvKind { Forward, BackpropInput, BackpropFilter };

/// C[m x n] = act((accumulate ? C : 0) + op(A) op(B) + bias); as KilnGemm.
struct Gemm {
  int64_t m, n, k, lda, ldb, ldc, trans_a, trans_b, accumulate, activation;
};
/// NHWC x, HWIO w; as KilnConv2d.
struct Conv2d {
  int64_t batch, in_h, in_w, in_c, out_c, kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left,
      pad_bottom, pad_right, accumulate, activation;
};

struct Phase {
  std::string function; ///< e.g. "kiln_cuda::gemm_tf32<128, 1>"
  unsigned grid[3];
  unsigned block[3];
};

struct KernelPlan {
  std::vector<Phase> phases; ///< empty: nothing to do (an empty output)
  uint64_t workspaceBytes = 0;
};

/// Phase arguments: (g, a, b, bias, c, ws).
KernelPlan planGemm(const Gemm &g, Precision p);
/// Phase arguments: Forward (g, x, w, bias, y, ws); BackpropInput (g, dy, w,
/// dx, ws); BackpropFilter (g, x, dy, dw, db, ws), db may be null.
KernelPlan planConv2d(ConvKind kind, const Conv2d &g, Precision p);

/// The text of kiln_cuda_kernels.cuh, and the name generated code includes
/// it by (give both to nvrtcCreateProgram's headers).
const char *kernelsSource();
const char *kernelsHeaderName();

} // namespace kiln::cuda

#endif
