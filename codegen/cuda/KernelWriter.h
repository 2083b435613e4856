//===- KernelWriter.h - one CUDA kernel's C++ from MLIR statements -*- C++ -*-===//
//
// Part of codegen/cuda (EmitCuda.cpp uses it): turns scf / arith / math /
// memref statements of a bufferized entry point into the C++ body of one
// kernel, resolving every memref to a pointer parameter (a Root: an entry
// argument plus a byte offset, or a module constant) and static strides.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_CUDA_KERNELWRITER_H
#define KILN_CODEGEN_CUDA_KERNELWRITER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace kiln::cuda {

/// Where a memref's base pointer lies: an entry argument plus a byte offset,
/// or a module constant (memref.get_global).
struct Root {
  int buffer = -1;
  uint64_t byteOffset = 0;
  std::string global;
  bool operator<(const Root &o) const {
    return std::tie(buffer, byteOffset, global) < std::tie(o.buffer, o.byteOffset, o.global);
  }
};

/// The C type of a scalar MLIR type ("float", "long long" for index, ...);
/// "" when unsupported.
std::string cType(mlir::Type t);
/// A float constant as C++ source (exact; NaN and infinities as bit casts).
std::string floatLiteral(double v, bool isF32);

/// A memref type's strides and offset (in elements) when all are static;
/// failure otherwise (the emitter needs them at compile time).
mlir::LogicalResult staticLayout(mlir::MemRefType type, llvm::SmallVectorImpl<int64_t> &strides,
                                 int64_t &offset);

/// The bytes of its root's buffer a view can reach with indices inside its
/// shape, [first, second); std::nullopt when its layout or shape is not
/// static (or it is empty).
std::optional<std::pair<int64_t, int64_t>> byteFootprint(mlir::MemRefType type, const Root &root);

/// Statements that produce no kernel: views and constants, and integer
/// arithmetic on constants only (index computations), written where used.
bool isDeclarative(mlir::Operation &op);

/// One kernel being written: its parameters (roots it touches) and the C
/// names of SSA values.
class KernelWriter {
public:
  KernelWriter(mlir::func::FuncOp entry, llvm::raw_ostream &body) : entry(entry), os(body) {}

  mlir::LogicalResult emitBlock(mlir::Block &block, unsigned indent);
  /// Writes `ops` (statements of the entry's top level) in order.
  mlir::LogicalResult emitOps(llvm::ArrayRef<mlir::Operation *> ops, unsigned indent);
  /// Writes, at the kernel's start, every pure scalar computed at the entry's
  /// top level that `op` (or anything nested in it) uses: index arithmetic
  /// between statements is recomputed in each kernel that needs it.
  mlir::LogicalResult captureOperands(mlir::Operation *op);
  /// A kernel of top-level statements `ops` (defined here, not recomputed):
  /// writes the pure scalars they use.
  mlir::LogicalResult startStatements(llvm::ArrayRef<mlir::Operation *> ops);
  /// The C expression of a value (constants and top-level pure scalars are
  /// written inline).
  mlir::FailureOr<std::string> expr(mlir::Value v);
  mlir::FailureOr<std::string> access(mlir::Value memref, mlir::ValueRange indices);
  mlir::FailureOr<Root> rootOf(mlir::Value memref);

  struct Param {
    Root root;
    std::string type; // element type
    std::string name;
    bool written = false;
    /// The bytes of its buffer the kernel may touch through it, [lo, hi):
    /// from the static layouts of its accesses; unbounded when any access's
    /// footprint is unknown (or none was recorded, as for template calls).
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    bool unbounded = false;
    bool bounded() const { return !unbounded && lo < hi; }
  };
  std::vector<Param> params;
  /// Whether `params[i]` may be declared __restrict__: nothing else this
  /// kernel touches overlaps the bytes it touches (or no one writes them).
  bool mayRestrict(size_t i) const;
  /// The top-level statements this kernel writes (a serial kernel's): their
  /// values are defined here, not recomputed.
  llvm::SmallPtrSet<mlir::Operation *, 16> statements;
  /// The parameter for `root` (created on first use); `footprint` adds the
  /// bytes an access touches (std::nullopt: unknown).
  std::string paramName(const Root &root, mlir::Type element, bool write);
  std::string paramName(const Root &root, mlir::Type element, bool write,
                        std::optional<std::pair<int64_t, int64_t>> footprint);

  llvm::DenseMap<mlir::Value, std::string> names;
  mlir::func::FuncOp entry;
  llvm::raw_ostream &os;
  unsigned counter = 0;
  std::string fresh(const char *prefix = "v") { return prefix + std::to_string(counter++); }

private:
  mlir::LogicalResult emitOp(mlir::Operation &op, unsigned indent);
  mlir::LogicalResult define(mlir::Value v, const std::string &value, unsigned indent);
};


} // namespace kiln::cuda

#endif
