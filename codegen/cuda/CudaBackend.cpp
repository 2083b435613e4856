//===- CudaBackend.cpp - the CUDA pipeline and kernel planning ------------===//
//
// The CUDA backend shares the CPU pipeline's front half: the same
// bufferization, in-place parameter updates and scratch arena plan, with
// linalg lowered to scf.parallel loop nests. EmitCuda.cpp then writes each
// outermost loop nest as one CUDA kernel (one thread per iteration of the
// parallel dimensions) and each GEMM / convolution as the kernels/cuda
// template's phases.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/CudaBackend.h"
#include "codegen/cuda/KernelPlans.h"
#include "codegen/cpu/CpuBackend.h"
#include "codegen/Passes.h"
#include "ir/KilnOps.h"

namespace kiln {
#define GEN_PASS_DEF_CUDAPLANKERNELS
#include "codegen/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

const char *cuda::precisionName(GpuPrecision p) {
  switch (p) {
  case GpuPrecision::F32:
    return "fp32";
  case GpuPrecision::TF32:
    return "tf32";
  case GpuPrecision::BF16:
    return "bf16";
  }
  return "?";
}

namespace {
struct CudaPlanKernels : kiln::impl::CudaPlanKernelsBase<CudaPlanKernels> {
  using CudaPlanKernelsBase::CudaPlanKernelsBase;
  void runOnOperation() override {
    std::optional<cuda::GpuPrecision> p = cuda::parsePrecision(precision);
    if (!p) {
      getOperation().emitError("kiln-cuda-plan-kernels: precision must be fp32, tf32 or bf16, not '")
          << precision << "'";
      return signalPassFailure();
    }
    getOperation().walk([&](KernelCallOp call) {
      FailureOr<::kiln::cuda::KernelPlan> plan = cuda::planKernelCall(call, *p);
      if (failed(plan))
        return signalPassFailure();
      call->setAttr("kiln.workspace_bytes",
                    IntegerAttr::get(IntegerType::get(&getContext(), 64), plan->workspaceBytes));
    });
  }
};
} // namespace

// After the shared bufferization (cpu::runAfterBufferizing), the same steps
// as the CPU pipeline up to its loops: kernel workspaces sized for
// kernels/cuda, every intermediate in the arena, linalg -> scf.parallel (the
// parallel dimensions) around scf.for (reductions), affine maps -> arith.
// Unlike the CPU, loops keep linalg's order (no kiln-cpu-shape-loops): a
// pooling window is then a serial loop inside one thread per output, channel
// fastest across threads. No final CSE: it would merge scalar loads of
// different statements into values that cross kernels.
LogicalResult cuda::lowerToLoops(ModuleOp module, GpuPrecision precision) {
  return cpu::runAfterBufferizing(module, std::string("kiln-cuda-plan-kernels{precision=") +
                                              precisionName(precision) +
                                              "},"
                                              "kiln-kernel-workspaces,"
                                              "kiln-plan-scratch,"
                                              "func.func(kiln-copies-to-linalg,convert-linalg-to-parallel-loops),"
                                              "lower-affine,canonicalize");
}
