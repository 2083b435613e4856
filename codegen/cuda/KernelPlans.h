//===- KernelPlans.h - kiln.kernel_call -> kernels/cuda launches -*- C++ -*-===//
#ifndef KILN_CODEGEN_CUDA_KERNELPLANS_H
#define KILN_CODEGEN_CUDA_KERNELPLANS_H

#include "codegen/cuda/CudaBackend.h"
#include "ir/KilnOps.h"
#include "kernels/cuda/Plan.h"
#include <optional>

namespace kiln::cuda {

std::optional<GpuPrecision> parsePrecision(llvm::StringRef name);

/// The kernels/cuda plan (phases, workspace) for a GEMM / convolution call
/// (callee kiln_gemm_f32, kiln_conv2d_f32, kiln_conv2d_backprop_input_f32 or
/// kiln_conv2d_backprop_filter_f32, descriptor as for kernels/cpu); an
/// error at the call for anything else.
mlir::FailureOr<KernelPlan> planKernelCall(KernelCallOp call, GpuPrecision precision);

/// `constexpr kiln_cuda::Gemm g{...};` for the call's descriptor.
std::string descriptorDeclaration(KernelCallOp call, llvm::StringRef name);

} // namespace kiln::cuda

#endif
