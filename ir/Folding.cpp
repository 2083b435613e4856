//===- Folding.cpp - folders of `kiln` ops (canonicalize) -----------------===//
//
// One `fold` per op, used by MLIR's canonicalize pass (and by createOrFold):
//   - identities: x + 0, x - 0, x * 1, x / 1, x ^ 1, a reshape / transpose /
//     broadcast / slice / concat that changes nothing;
//   - chains: reshape(reshape x), transpose(transpose x) become one op;
//   - constants: elementwise ops of f32 constants, and layout changes
//     (reshape, transpose, broadcast) of constants, are computed here, at
//     compile time. Folding makes a new constant only up to kMaxFoldElements
//     elements (splats any size), so a fold never bloats the artifact.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include <cmath>

using namespace mlir;
using namespace kiln;

namespace {

constexpr int64_t kMaxFoldElements = 1 << 16;

/// An f32 constant's values (one for a splat), or nothing.
std::optional<SmallVector<float>> floats(Attribute a) {
  auto dense = llvm::dyn_cast_or_null<DenseElementsAttr>(a);
  if (!dense || !dense.getElementType().isF32())
    return std::nullopt;
  if (dense.isSplat())
    return SmallVector<float>{dense.getSplatValue<float>()};
  return llvm::to_vector(dense.getValues<float>());
}

bool isSplatOf(Attribute a, float v) {
  auto dense = llvm::dyn_cast_or_null<DenseElementsAttr>(a);
  return dense && dense.isSplat() && dense.getElementType().isF32() &&
         dense.getSplatValue<float>() == v;
}

RankedTensorType staticType(Type t) {
  auto r = llvm::dyn_cast<RankedTensorType>(t);
  return r && r.hasStaticShape() ? r : RankedTensorType();
}

/// Row-major strides of `shape`, with 0 on broadcast (size-1 or missing)
/// dimensions of an operand of `shape` broadcast to `result` (NumPy rules).
SmallVector<int64_t> broadcastStrides(ArrayRef<int64_t> shape, ArrayRef<int64_t> result) {
  SmallVector<int64_t> strides(result.size(), 0);
  int64_t stride = 1, offset = int64_t(result.size()) - int64_t(shape.size());
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    if (shape[d] != 1)
      strides[d + offset] = stride;
    stride *= shape[d];
  }
  return strides;
}

/// `f` applied to the operands' values broadcast to `type`, as a constant.
template <typename F>
Attribute foldElementwise(RankedTensorType type, ArrayRef<Attribute> operands, F f) {
  if (!type || !type.getElementType().isF32())
    return {};
  SmallVector<SmallVector<float>> values;
  SmallVector<RankedTensorType> types;
  bool allSplat = true;
  for (Attribute a : operands) {
    auto v = floats(a);
    if (!v)
      return {};
    auto dense = llvm::cast<DenseElementsAttr>(a);
    allSplat &= dense.isSplat();
    values.push_back(std::move(*v));
    types.push_back(llvm::cast<RankedTensorType>(dense.getType()));
  }
  auto apply = [&](ArrayRef<float> args) { return f(args); };
  if (allSplat) {
    SmallVector<float> args;
    for (auto &v : values)
      args.push_back(v[0]);
    float v = apply(args);
    return DenseElementsAttr::get(type, ArrayRef<float>(v));
  }
  int64_t n = type.getNumElements();
  if (n > kMaxFoldElements)
    return {};
  ArrayRef<int64_t> shape = type.getShape();
  SmallVector<SmallVector<int64_t>> strides;
  for (RankedTensorType t : types)
    strides.push_back(broadcastStrides(t.getShape(), shape));
  SmallVector<float> out(n), args(values.size());
  SmallVector<int64_t> index(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < values.size(); ++k) {
      int64_t at = 0;
      if (values[k].size() > 1)
        for (size_t d = 0; d < shape.size(); ++d)
          at += index[d] * strides[k][d];
      args[k] = values[k][at];
    }
    out[i] = apply(args);
    for (int64_t d = int64_t(shape.size()) - 1; d >= 0 && ++index[d] == shape[d]; --d)
      index[d] = 0;
  }
  return DenseElementsAttr::get(type, ArrayRef<float>(out));
}

/// The operand itself when `op` changes nothing about it.
OpFoldResult same(Operation *op, Value operand) {
  return operand.getType() == op->getResult(0).getType() ? OpFoldResult(operand) : OpFoldResult();
}

float sigmoidOf(float x) { return 1.0f / (1.0f + std::exp(-x)); }

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

#define KILN_UNARY_FOLD(Op, expr)                                                             \
  OpFoldResult Op::fold(FoldAdaptor a) {                                                      \
    return foldElementwise(staticType(getType()), {a.getOperand()},                           \
                           [](ArrayRef<float> v) { float x = v[0]; return (expr); });          \
  }
KILN_UNARY_FOLD(NegOp, -x)
KILN_UNARY_FOLD(AbsOp, std::fabs(x))
KILN_UNARY_FOLD(ExpOp, std::exp(x))
KILN_UNARY_FOLD(LogOp, std::log(x))
KILN_UNARY_FOLD(SqrtOp, std::sqrt(x))
KILN_UNARY_FOLD(RsqrtOp, 1.0f / std::sqrt(x))
KILN_UNARY_FOLD(SquareOp, x * x)
KILN_UNARY_FOLD(TanhOp, std::tanh(x))
KILN_UNARY_FOLD(SigmoidOp, sigmoidOf(x))
KILN_UNARY_FOLD(ReluOp, x > 0 ? x : 0.0f)
#undef KILN_UNARY_FOLD

/// Binary ops: constants first, then `identity` (x op c == x when the other
/// operand is a splat c and x already has the result's type).
#define KILN_BINARY_FOLD(Op, expr, identity)                                                  \
  OpFoldResult Op::fold(FoldAdaptor a) {                                                      \
    if (Attribute c = foldElementwise(staticType(getType()), {a.getLhs(), a.getRhs()},       \
                                      [](ArrayRef<float> v) {                                 \
                                        float x = v[0], y = v[1];                             \
                                        return float(expr);                                   \
                                      }))                                                     \
      return c;                                                                               \
    identity;                                                                                 \
    return {};                                                                                \
  }
#define RIGHT_UNIT(u)                                                                         \
  if (isSplatOf(a.getRhs(), u))                                                               \
    return same(*this, getLhs())
#define LEFT_UNIT(u)                                                                          \
  if (isSplatOf(a.getLhs(), u))                                                               \
    return same(*this, getRhs())
KILN_BINARY_FOLD(AddOp, x + y, RIGHT_UNIT(0.0f); LEFT_UNIT(0.0f))
KILN_BINARY_FOLD(SubOp, x - y, RIGHT_UNIT(0.0f))
KILN_BINARY_FOLD(MulOp, x * y, RIGHT_UNIT(1.0f); LEFT_UNIT(1.0f))
KILN_BINARY_FOLD(DivOp, x / y, RIGHT_UNIT(1.0f))
KILN_BINARY_FOLD(MaxOp, std::fmax(x, y), )
KILN_BINARY_FOLD(MinOp, std::fmin(x, y), )
KILN_BINARY_FOLD(PowOp, std::pow(x, y), RIGHT_UNIT(1.0f))
KILN_BINARY_FOLD(GreaterOp, x > y, )
KILN_BINARY_FOLD(GreaterEqualOp, x >= y, )
KILN_BINARY_FOLD(EqualOp, x == y, )
#undef RIGHT_UNIT
#undef LEFT_UNIT
#undef KILN_BINARY_FOLD

OpFoldResult BroadcastToOp::fold(FoldAdaptor a) {
  if (OpFoldResult r = same(*this, getOperand()))
    return r;
  return foldElementwise(staticType(getType()), {a.getOperand()},
                         [](ArrayRef<float> v) { return v[0]; });
}

//===----------------------------------------------------------------------===//
// Layout and shape changes
//===----------------------------------------------------------------------===//

OpFoldResult ReshapeOp::fold(FoldAdaptor a) {
  if (OpFoldResult r = same(*this, getOperand()))
    return r;
  if (auto inner = getOperand().getDefiningOp<ReshapeOp>()) { // reshape(reshape x)
    setOperand(inner.getOperand());
    return getResult();
  }
  RankedTensorType type = staticType(getType());
  auto dense = llvm::dyn_cast_or_null<DenseElementsAttr>(a.getOperand());
  if (type && dense && (dense.isSplat() || type.getNumElements() <= kMaxFoldElements))
    return dense.reshape(type);
  return {};
}

OpFoldResult TransposeOp::fold(FoldAdaptor a) {
  ArrayRef<int64_t> perm = getPerm();
  if (llvm::equal(perm, llvm::seq<int64_t>(0, perm.size())))
    return getOperand();
  if (auto inner = getOperand().getDefiningOp<TransposeOp>()) { // one permutation
    SmallVector<int64_t> composed;
    for (int64_t p : perm)
      composed.push_back(inner.getPerm()[p]);
    setOperand(inner.getOperand());
    setPerm(composed);
    if (llvm::equal(composed, llvm::seq<int64_t>(0, composed.size())))
      return getOperand();
    return getResult();
  }
  // A constant's layout change happens now (a transposed weight, say).
  RankedTensorType type = staticType(getType());
  auto dense = llvm::dyn_cast_or_null<DenseElementsAttr>(a.getOperand());
  if (!type || !dense)
    return {};
  if (dense.isSplat())
    return dense.resizeSplat(type);
  auto values = floats(dense);
  if (!values || type.getNumElements() > kMaxFoldElements)
    return {};
  ArrayRef<int64_t> in = llvm::cast<RankedTensorType>(dense.getType()).getShape();
  SmallVector<int64_t> inStrides(in.size(), 1);
  for (int64_t d = int64_t(in.size()) - 2; d >= 0; --d)
    inStrides[d] = inStrides[d + 1] * in[d + 1];
  ArrayRef<int64_t> shape = type.getShape();
  SmallVector<float> out(type.getNumElements());
  SmallVector<int64_t> index(shape.size(), 0);
  for (float &o : out) {
    int64_t at = 0;
    for (size_t d = 0; d < shape.size(); ++d)
      at += index[d] * inStrides[perm[d]];
    o = (*values)[at];
    for (int64_t d = int64_t(shape.size()) - 1; d >= 0 && ++index[d] == shape[d]; --d)
      index[d] = 0;
  }
  return DenseElementsAttr::get(type, ArrayRef<float>(out));
}

OpFoldResult SliceOp::fold(FoldAdaptor) { return same(*this, getOperand()); }

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  return getInputs().size() == 1 ? same(*this, getInputs()[0]) : OpFoldResult();
}
