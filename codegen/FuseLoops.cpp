//===- FuseLoops.cpp - one loop nest per elementwise chain of a kernel ----===//
//
// Inside a kernel function (kiln-outline-kernels) the ops kiln-fuse grouped
// are merged into as few linalg ops as MLIR's elementwise fusion allows: an
// elementwise producer with one use goes into its consumer (elementwise or a
// reduction), so its result never reaches memory. Entry points are left
// alone: fusing across kernels would undo kiln-fuse's decisions.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace kiln {
#define GEN_PASS_DEF_FUSELOOPS
#include "codegen/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace {

struct FuseLoops : kiln::impl::FuseLoopsBase<FuseLoops> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (!func->hasAttr("kiln.kernel"))
      return;
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(patterns, [](OpOperand *fused) {
      Operation *producer = fused->get().getDefiningOp();
      return producer && producer->hasOneUse(); // never compute a value twice
    });
    linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
    if (failed(applyPatternsAndFoldGreedily(func, std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
