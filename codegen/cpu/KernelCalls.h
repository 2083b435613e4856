//===- KernelCalls.h - GEMM and convolution through kernels/cpu -----------===//
#ifndef KILN_CODEGEN_CPU_KERNELCALLS_H
#define KILN_CODEGEN_CPU_KERNELCALLS_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/PatternMatch.h"

namespace kiln::cpu {

/// Workspaces are sized for this many threads (the kernels use fewer when
/// given fewer; results do not depend on it).
constexpr int64_t kMaxKernelThreads = 1;

/// kiln-to-linalg patterns: matmul / conv2d / its backprops -> kiln.kernel_call.
void populateKernelCallPatterns(mlir::RewritePatternSet &patterns);

/// Lets one-shot-bufferize bufferize kiln.kernel_call (as a linalg op).
void registerKernelCallBufferization(mlir::DialectRegistry &registry);

} // namespace kiln::cpu

#endif
