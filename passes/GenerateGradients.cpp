//===- GenerateGradients.cpp - reverse-mode differentiation ---------------===//
//
// Replaces `kiln.gradient %loss wrt %w...` with the backward graph. The rules
// are the ops' own (DifferentiableOpInterface, ir/Gradients.cpp); this pass
// only decides which ops to differentiate, in which order, and sums the
// gradients of values used more than once.
//
//===----------------------------------------------------------------------===//
#include "ir/KilnOps.h"
#include "passes/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"

namespace kiln {
#define GEN_PASS_DEF_GENERATEGRADIENTS
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

struct GenerateGradients : kiln::impl::GenerateGradientsBase<GenerateGradients> {
  void runOnOperation() override {
    SmallVector<GradientOp> markers;
    getOperation().walk([&](GradientOp op) { markers.push_back(op); });
    for (GradientOp marker : markers)
      if (failed(expand(marker)))
        return signalPassFailure();
  }

  LogicalResult expand(GradientOp marker) {
    Block *block = marker->getBlock();
    Value loss = marker.getLoss();

    // Values that depend on a `wrt` value (forward sweep; no gradient flows
    // through ZeroGradient ops) ...
    DenseSet<Value> varying(marker.getWrt().begin(), marker.getWrt().end());
    for (Operation &op : *block) {
      if (&op == marker.getOperation())
        break;
      if (!op.hasTrait<ZeroGradient>() &&
          llvm::any_of(op.getOperands(), [&](Value v) { return varying.contains(v); }))
        varying.insert(op.result_begin(), op.result_end());
    }
    // ... and ops the loss depends on (backward sweep).
    DenseSet<Operation *> feedsLoss;
    SmallVector<Value> work{loss};
    while (!work.empty()) {
      Operation *def = work.pop_back_val().getDefiningOp();
      if (!def || def->getBlock() != block || !feedsLoss.insert(def).second)
        continue;
      work.append(def->operand_begin(), def->operand_end());
    }

    OpBuilder b(marker);
    DenseMap<Value, Value> grads;
    auto accumulate = [&](Value v, Value g) -> LogicalResult {
      auto [it, fresh] = grads.try_emplace(v, g);
      if (fresh)
        return success();
      SmallVector<Type> types;
      if (failed(AddOp::inferReturnTypes(b.getContext(), marker.getLoc(), {it->second, g}, nullptr,
                                         OpaqueProperties(nullptr), {}, types)) ||
          types.front() != v.getType())
        return marker.emitError("internal error: gradient of type ")
               << g.getType() << " for a value of type " << v.getType();
      it->second = b.create<AddOp>(marker.getLoc(), types.front(), it->second, g);
      return success();
    };
    grads[loss] = b.create<ConstantOp>(
        marker.getLoc(), DenseElementsAttr::get(llvm::cast<ShapedType>(loss.getType()), 1.0f));

    // Ops in reverse program order: every use of a result comes later in the
    // block, so its gradient is complete when the op is reached.
    SmallVector<Operation *> forward;
    for (Operation &op : *block) {
      if (&op == marker.getOperation())
        break;
      if (feedsLoss.contains(&op) && op.getNumResults() == 1 && varying.contains(op.getResult(0)))
        forward.push_back(&op);
    }
    for (Operation *op : llvm::reverse(forward)) {
      Value g = grads.lookup(op->getResult(0));
      if (!g)
        continue;
      SmallVector<bool> needed;
      for (Value v : op->getOperands())
        needed.push_back(varying.contains(v));
      if (llvm::none_of(needed, [](bool n) { return n; }))
        continue;
      auto rule = dyn_cast<DifferentiableOpInterface>(op);
      if (!rule)
        return op->emitError("cannot differentiate '")
               << op->getName() << "': it has no derivative rule (the loss depends on a "
               << "parameter through it)";
      SmallVector<Value> operandGrads;
      if (failed(rule.buildGradients(b, g, needed, operandGrads)))
        return failure();
      ++numDifferentiated;
      for (auto [v, og, need] : llvm::zip(op->getOperands(), operandGrads, needed))
        if (need && og && failed(accumulate(v, og)))
          return failure();
    }

    for (auto [w, result] : llvm::zip(marker.getWrt(), marker.getGrads())) {
      Value g = grads.lookup(w);
      if (!g) // the loss does not depend on it
        g = b.create<ConstantOp>(marker.getLoc(),
                                 DenseElementsAttr::get(llvm::cast<ShapedType>(w.getType()), 0.0f));
      result.replaceAllUsesWith(g);
    }
    marker.erase();
    return success();
  }
};

} // namespace
