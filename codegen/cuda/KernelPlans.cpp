//===- KernelPlans.cpp - kiln.kernel_call -> kernels/cuda launches --------===//
#include "codegen/cuda/KernelPlans.h"
#include "llvm/ADT/StringSwitch.h"
#include <algorithm>

using namespace mlir;
using namespace kiln;

std::optional<cuda::GpuPrecision> cuda::parsePrecision(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<GpuPrecision>>(name)
      .Case("fp32", GpuPrecision::F32)
      .Case("tf32", GpuPrecision::TF32)
      .Case("bf16", GpuPrecision::BF16)
      .Default(std::nullopt);
}

static cuda::Precision toKernels(cuda::GpuPrecision p) {
  switch (p) {
  case cuda::GpuPrecision::F32:
    return cuda::Precision::F32;
  case cuda::GpuPrecision::TF32:
    return cuda::Precision::TF32;
  case cuda::GpuPrecision::BF16:
    return cuda::Precision::BF16;
  }
  return cuda::Precision::F32;
}

FailureOr<cuda::KernelPlan> cuda::planKernelCall(KernelCallOp call, GpuPrecision precision) {
  ArrayRef<int64_t> d = call.getDescriptor();
  StringRef callee = call.getCallee();
  if (callee == "kiln_gemm_f32") {
    Gemm g;
    if (d.size() != 10)
      return call.emitError("kiln_gemm_f32 needs a 10-field descriptor"), failure();
    std::copy(d.begin(), d.end(), &g.m);
    return planGemm(g, toKernels(precision));
  }
  std::optional<ConvKind> kind = llvm::StringSwitch<std::optional<ConvKind>>(callee)
                                     .Case("kiln_conv2d_f32", ConvKind::Forward)
                                     .Case("kiln_conv2d_backprop_input_f32", ConvKind::BackpropInput)
                                     .Case("kiln_conv2d_backprop_filter_f32", ConvKind::BackpropFilter)
                                     .Default(std::nullopt);
  if (!kind)
    return call.emitError("no CUDA kernel for '") << callee << "'", failure();
  if (d.size() != 15)
    return call.emitError(callee) << " needs a 15-field descriptor", failure();
  Conv2d c;
  std::copy(d.begin(), d.end(), &c.batch);
  return planConv2d(*kind, c, toKernels(precision));
}

std::string cuda::descriptorDeclaration(KernelCallOp call, llvm::StringRef name) {
  std::string s = "constexpr kiln_cuda::";
  s += call.getCallee() == "kiln_gemm_f32" ? "Gemm " : "Conv2d ";
  s += name.str() + "{";
  llvm::ArrayRef<int64_t> d = call.getDescriptor();
  for (size_t i = 0; i < d.size(); ++i)
    s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "};";
}
