//===- KernelCalls.h - GEMM and convolution through kernels/cpu -----------===//
#ifndef KILN_CODEGEN_CPU_KERNELCALLS_H
#define KILN_CODEGEN_CPU_KERNELCALLS_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/PatternMatch.h"

namespace kiln::cpu {

/// Workspaces (packing buffers, in the scratch arena) are sized for this many
/// threads; a kernel runs on at most this many of the runtime's threads and
/// gives the same results on fewer. 16 adds ~4 MiB to the MNIST CNN's
/// train_step arena (one slice is ~250 KiB there).
constexpr int64_t kMaxKernelThreads = 16;

/// kiln-to-linalg patterns: matmul / conv2d / its backprops -> kiln.kernel_call.
void populateKernelCallPatterns(mlir::RewritePatternSet &patterns);

/// Lets one-shot-bufferize bufferize kiln.kernel_call (as a linalg op).
void registerKernelCallBufferization(mlir::DialectRegistry &registry);

} // namespace kiln::cpu

#endif
