//===- SpecializeBatch.cpp - fix the batch size and re-infer shapes -------===//
#include "ir/KilnOps.h"
#include "passes/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"

namespace kiln {
#define GEN_PASS_DEF_SPECIALIZEBATCH
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace {
struct SpecializeBatch : kiln::impl::SpecializeBatchBase<SpecializeBatch> {
  using Base::Base;

  void runOnOperation() override {
    if (batchSize < 1) {
      getOperation().emitError("kiln-specialize-batch: batch-size must be at least 1, got ")
          << static_cast<int64_t>(batchSize);
      return signalPassFailure();
    }
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (failed(specialize(func)))
        return signalPassFailure();
  }

  Type withBatch(Type type, int64_t batch) const {
    auto t = llvm::dyn_cast<RankedTensorType>(type);
    if (!t || t.getRank() == 0 || !t.isDynamicDim(0))
      return type;
    SmallVector<int64_t> shape(t.getShape());
    shape[0] = batch;
    return RankedTensorType::get(shape, t.getElementType());
  }

  LogicalResult specialize(func::FuncOp func) {
    if (func.isExternal())
      return success();
    // Only entry-block arguments are retyped, and the new function type is read
    // off the one func.return.
    Block &entry = func.getBody().front();
    auto ret = llvm::dyn_cast<func::ReturnOp>(entry.getTerminator());
    if (!func.getBody().hasOneBlock() || !ret)
      return func.emitOpError("kiln-specialize-batch expects a single-block body ending in "
                              "func.return");
    // A function may carry its own size (kilnc --batch-size=64,1 makes one
    // copy per size); the others take the pass option.
    int64_t batch = batchSize;
    if (auto own = func->getAttrOfType<IntegerAttr>("kiln.batch_size"))
      batch = own.getInt();
    if (batch < 1)
      return func.emitError("kiln-specialize-batch: batch size must be at least 1, got ") << batch;
    for (BlockArgument arg : entry.getArguments())
      arg.setType(withBatch(arg.getType(), batch));

    // Ops are visited in order, so every operand already has its new type.
    WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
      auto infer = llvm::dyn_cast<InferTypeOpInterface>(op);
      if (!infer) {
        for (Type t : op->getResultTypes())
          if (auto rt = llvm::dyn_cast<RankedTensorType>(t); rt && !rt.hasStaticShape())
            return op->emitOpError("has a dynamic result and no shape rule to refine it");
        return WalkResult::advance();
      }
      SmallVector<Type> types;
      if (failed(infer.inferReturnTypes(op->getContext(), op->getLoc(), op->getOperands(),
                                        op->getAttrDictionary(), op->getPropertiesStorage(),
                                        op->getRegions(), types)))
        return WalkResult::interrupt();
      for (auto [result, type] : llvm::zip(op->getResults(), types)) {
        if (result.getType() != type)
          ++numRefined;
        result.setType(type);
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();

    func.setType(FunctionType::get(func.getContext(), entry.getArgumentTypes(),
                                   ret.getOperandTypes()));
    return success();
  }
};
} // namespace
