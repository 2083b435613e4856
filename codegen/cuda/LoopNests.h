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
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include <optional>

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

/// A serial loop nest that folds elements into one scalar in memory (a loss
/// or metric sum, a regularizer's sum of squares, a full reduce_max):
///   for i { for k { x = f(loads); acc[c] = combine(x, acc[c]) } }
/// with constant bounds, `acc` indexed by constants and touched by nothing
/// else in the nest, and `f` free of stores. Its elements may then be
/// combined by many threads (in another order: a float sum may round
/// differently).
struct ScalarReduction {
  llvm::SmallVector<mlir::scf::ForOp> loops; // outermost first
  llvm::SmallVector<int64_t> lbs, steps, trips; // of each loop
  mlir::memref::LoadOp accLoad;
  mlir::memref::StoreOp accStore;
  mlir::Operation *combine = nullptr; // arith.addf, maximumf, minimumf, maxnumf or minnumf
  mlir::Value element;
  llvm::SmallVector<mlir::Operation *> body; // the innermost body less accLoad, combine, accStore, yield
  uint64_t elements = 1;                     // iterations of the whole nest
};
std::optional<ScalarReduction> scalarReduction(mlir::func::FuncOp f, mlir::scf::ForOp loop);

} // namespace kiln::cuda

#endif
