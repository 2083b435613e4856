//===- LoopNests.h - which loop nests may share a CUDA kernel -*- C++ -*-===//
//
// Part of codegen/cuda: dependence checks on the bufferized loop nests of an
// entry point, for EmitCuda.cpp's kernel grouping. Both transformations keep
// each element's reads and writes in program order inside one thread.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_CUDA_LOOPNESTS_H
#define KILN_CODEGEN_CUDA_LOOPNESTS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace kiln::cuda {

/// Whether `next` may run in the same thread as `group`, right after it, on
/// the same iteration point: same iteration space, and every memory both
/// touch (one of them writing) is accessed pointwise, element i by
/// iteration i, through the same layout and the same indices (each parallel
/// induction variable once, constants elsewhere: a unit dimension's 0).
bool fusible(mlir::func::FuncOp f, llvm::ArrayRef<mlir::scf::ParallelOp> group, mlir::scf::ParallelOp next);

/// Whether the serial loops `for i { for k { ... scf.parallel (j) {...} } }`
/// starting at `loop` may run inside one thread per parallel point (a
/// reduction whose serial loop came out outermost: a Dense bias gradient).
/// On success `chain` holds the serial loops, outermost first, and `inner`
/// the parallel loop.
bool interchangeable(mlir::func::FuncOp f, mlir::scf::ForOp loop,
                     llvm::SmallVectorImpl<mlir::scf::ForOp> &chain, mlir::scf::ParallelOp &inner);

} // namespace kiln::cuda

#endif
