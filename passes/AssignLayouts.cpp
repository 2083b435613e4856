//===- AssignLayouts.cpp - kiln-assign-layouts -----------------------------===//
//
// Operand layouts are chosen per op: a matmul reads a transposed 2-D operand
// in its stored layout (transpose_lhs / transpose_rhs) rather than through a
// transposed copy. Layouts at the user's boundary (arguments, results,
// parameters) never change; they stay Keras's.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"
#include "passes/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace kiln {
#define GEN_PASS_DEF_ASSIGNLAYOUTS
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// The source of a transpose that swaps the two dimensions of a matrix.
Value swappedMatrix(Value v) {
  auto t = v.getDefiningOp<TransposeOp>();
  if (!t || t.getPerm().size() != 2 || t.getPerm()[0] != 1)
    return {};
  return t.getOperand();
}

struct AssignLayouts : kiln::impl::AssignLayoutsBase<AssignLayouts> {
  void runOnOperation() override {
    getOperation().walk([&](MatMulOp mm) {
      if (llvm::cast<RankedTensorType>(mm.getType()).getRank() != 2)
        return;
      auto fold = [&](unsigned index, StringRef flag) {
        Value source = swappedMatrix(mm->getOperand(index));
        if (!source)
          return;
        Operation *transpose = mm->getOperand(index).getDefiningOp();
        mm->setOperand(index, source);
        if (mm->hasAttr(flag))
          mm->removeAttr(flag); // transposed twice: the plain layout
        else
          mm->setAttr(flag, UnitAttr::get(&getContext()));
        if (transpose->use_empty())
          transpose->erase();
        ++numFolded;
      };
      fold(0, "transpose_lhs");
      fold(1, "transpose_rhs");
    });
  }
};

} // namespace
