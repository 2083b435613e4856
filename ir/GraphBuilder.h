//===- GraphBuilder.h - building `kiln` ops with inferred types -----------===//
//
// Derivative rules (Gradients.cpp) and the training-step builder
// (passes/BuildTraining.cpp) write graphs with this: each call creates one
// `kiln` op at the builder's insertion point, its result type inferred by the
// op's shape rule. A failed inference (a bug in the caller) reports an error
// on `anchor` and yields a null Value; later calls pass nulls through and
// `ok` stays false.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_GRAPHBUILDER_H
#define KILN_IR_GRAPHBUILDER_H

#include "ir/KilnOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace kiln {

class GraphBuilder {
public:
  mlir::OpBuilder &b;
  mlir::Operation *anchor;
  mlir::Location loc;
  bool ok = true;

  GraphBuilder(mlir::OpBuilder &b, mlir::Operation *anchor) : b(b), anchor(anchor), loc(anchor->getLoc()) {}

  template <typename OpT>
  mlir::Value make(mlir::ValueRange operands, llvm::ArrayRef<mlir::NamedAttribute> attrs = {}) {
    if (!ok || llvm::any_of(operands, [](mlir::Value v) { return !v; }))
      return ok = false, mlir::Value();
    mlir::MLIRContext *ctx = b.getContext();
    mlir::NamedAttrList list(attrs);
    mlir::OperationName(OpT::getOperationName(), ctx).populateDefaultAttrs(list);
    mlir::DictionaryAttr dict = list.getDictionary(ctx);
    llvm::SmallVector<mlir::Type> types;
    if (mlir::failed(OpT::inferReturnTypes(ctx, loc, operands, dict, mlir::OpaqueProperties(nullptr),
                                     mlir::RegionRange(), types))) {
      anchor->emitError("internal error: built an ill-typed ")
          << OpT::getOperationName();
      return ok = false, mlir::Value();
    }
    mlir::OperationState state(loc, OpT::getOperationName());
    state.addOperands(operands);
    state.addAttributes(dict.getValue());
    state.addTypes(types);
    return b.create(state)->getResult(0);
  }

  mlir::NamedAttribute attr(llvm::StringRef name, mlir::Attribute value) { return b.getNamedAttr(name, value); }
  mlir::NamedAttribute ints(llvm::StringRef name, llvm::ArrayRef<int64_t> v) { return attr(name, b.getDenseI64ArrayAttr(v)); }

  mlir::Value scalar(double v) {
    auto t = mlir::RankedTensorType::get({}, b.getF32Type());
    return make<ConstantOp>({}, {attr("value", mlir::DenseElementsAttr::get(t, float(v)))});
  }
  mlir::Value add(mlir::Value x, mlir::Value y) { return make<AddOp>({x, y}); }
  mlir::Value sub(mlir::Value x, mlir::Value y) { return make<SubOp>({x, y}); }
  mlir::Value mul(mlir::Value x, mlir::Value y) { return make<MulOp>({x, y}); }
  mlir::Value div(mlir::Value x, mlir::Value y) { return make<DivOp>({x, y}); }
  mlir::Value mul(mlir::Value x, double c) { return mul(x, scalar(c)); }
  mlir::Value neg(mlir::Value x) { return make<NegOp>({x}); }
  mlir::Value greater(mlir::Value x, mlir::Value y) { return make<GreaterOp>({x, y}); }
  mlir::Value greaterEqual(mlir::Value x, mlir::Value y) { return make<GreaterEqualOp>({x, y}); }
  mlir::Value reshape(mlir::Value x, llvm::ArrayRef<int64_t> shape) { return make<ReshapeOp>({x}, {ints("shape", shape)}); }
  mlir::Value transpose(mlir::Value x, llvm::ArrayRef<int64_t> perm) { return make<TransposeOp>({x}, {ints("perm", perm)}); }
  mlir::Value broadcastTo(mlir::Value x, llvm::ArrayRef<int64_t> shape) {
    return make<BroadcastToOp>({x}, {ints("shape", shape)});
  }
  mlir::Value sum(mlir::Value x, llvm::ArrayRef<int64_t> axes, bool keepdims) {
    return make<ReduceSumOp>({x}, {ints("axes", axes), attr("keepdims", b.getBoolAttr(keepdims))});
  }
  mlir::Value sumLast(mlir::Value x) { return sum(x, {rank(x) - 1}, /*keepdims=*/true); }

  static llvm::ArrayRef<int64_t> shape(mlir::Value v) { return llvm::cast<mlir::RankedTensorType>(v.getType()).getShape(); }
  static int64_t rank(mlir::Value v) { return int64_t(shape(v).size()); }
  static int64_t numel(mlir::Value v) { return int64_t(llvm::cast<mlir::RankedTensorType>(v.getType()).getNumElements()); }

  /// Sums a gradient of a broadcast result back to the shape of `operand`.
  mlir::Value reduceTo(mlir::Value g, mlir::Value operand) {
    if (!g)
      return g;
    llvm::ArrayRef<int64_t> gs = shape(g), os = shape(operand);
    int64_t lead = int64_t(gs.size()) - int64_t(os.size());
    llvm::SmallVector<int64_t> axes;
    for (int64_t i = 0; i < int64_t(gs.size()); ++i)
      if (i < lead || (os[i - lead] == 1 && gs[i] != 1))
        axes.push_back(i);
    if (!axes.empty())
      g = sum(g, axes, /*keepdims=*/false);
    if (shape(g) != os)
      g = reshape(g, os);
    return g;
  }

  /// `g` (the shape of a reduction's result) stretched back to `input`'s
  /// shape: the reduced axes re-inserted as 1s, then broadcast.
  mlir::Value unreduce(mlir::Value g, mlir::Value input, llvm::ArrayRef<int64_t> axes) {
    llvm::SmallVector<int64_t> kept(shape(input));
    int64_t r = rank(input);
    if (axes.empty())
      kept.assign(r, 1);
    for (int64_t a : axes)
      kept[a < 0 ? a + r : a] = 1;
    return broadcastTo(reshape(g, kept), shape(input));
  }
};

} // namespace kiln

#endif
