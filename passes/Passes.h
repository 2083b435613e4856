//===- Passes.h - Kiln's passes -------------------------------------------===//
#ifndef KILN_PASSES_PASSES_H
#define KILN_PASSES_PASSES_H

#include "ir/KilnDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace kiln {
#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Cleanups, layout assignment and fusion, in kilnc's order, for the
/// functions of a module (after gradient generation).
void addGraphOptimizationPasses(mlir::OpPassManager &pm);
/// Whether kiln-fuse puts `op` in a kernel (everything that computes; not
/// parameter reads, constants, reshapes, assignments).
bool isKernelOp(mlir::Operation *op);
/// `kiln-optimize-graph`, the same pipeline under one name (kiln-opt).
void registerGraphOptimizationPipeline();
} // namespace kiln

#endif
