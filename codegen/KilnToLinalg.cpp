//===- KilnToLinalg.cpp - kiln ops -> linalg on tensors -------------------===//
//
// One conversion pattern per op (or op family). Everything is static-shaped
// and in destination-passing style: each result starts as tensor.empty (+
// linalg.fill where it accumulates), so bufferization can place it without
// copies.
//
//===----------------------------------------------------------------------===//

#include "codegen/Padding.h"
#include "codegen/Passes.h"
#include "codegen/cpu/KernelCalls.h"
#include "ir/KilnOps.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/Transforms/DialectConversion.h"

namespace kiln {
#define GEN_PASS_DEF_KILNTOLINALG
#include "codegen/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

RankedTensorType tensorType(Value v) { return llvm::cast<RankedTensorType>(v.getType()); }

Value emptyLike(OpBuilder &b, Location loc, RankedTensorType type) {
  return b.create<tensor::EmptyOp>(loc, type.getShape(), type.getElementType());
}

Value floatConst(OpBuilder &b, Location loc, Type type, double v) {
  return b.create<arith::ConstantOp>(loc, type, b.getFloatAttr(type, v));
}

Value filled(OpBuilder &b, Location loc, RankedTensorType type, double v) {
  Value init = emptyLike(b, loc, type);
  return b.create<linalg::FillOp>(loc, floatConst(b, loc, type.getElementType(), v), init)
      .getResult(0);
}

/// Indexing map reading `operand` (NumPy-broadcast) at the iteration point of
/// a result of rank `rank`: leading dims are dropped, size-1 dims read 0.
AffineMap broadcastMap(MLIRContext *ctx, RankedTensorType operand, RankedTensorType result) {
  int64_t rank = result.getRank(), offset = rank - operand.getRank();
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < operand.getRank(); ++i) {
    if (operand.getDimSize(i) == 1 && result.getDimSize(i + offset) != 1)
      exprs.push_back(getAffineConstantExpr(0, ctx));
    else
      exprs.push_back(getAffineDimExpr(i + offset, ctx));
  }
  return AffineMap::get(rank, 0, exprs, ctx);
}

/// Map of a tensor that holds the iteration space minus the `dropped` dims.
AffineMap dropDimsMap(MLIRContext *ctx, int64_t rank, ArrayRef<int64_t> dropped) {
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d < rank; ++d)
    if (!llvm::is_contained(dropped, d))
      exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// A parallel linalg.generic computing `body` over `inputs` into `resultType`.
Value elementwise(OpBuilder &b, Location loc, RankedTensorType resultType, ValueRange inputs,
                  ArrayRef<AffineMap> inputMaps, BodyFn body) {
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(AffineMap::getMultiDimIdentityMap(resultType.getRank(), ctx));
  SmallVector<utils::IteratorType> iterators(resultType.getRank(),
                                             utils::IteratorType::parallel);
  auto generic = b.create<linalg::GenericOp>(
      loc, resultType, inputs, ValueRange{emptyLike(b, loc, resultType)}, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        nb.create<linalg::YieldOp>(nloc, body(nb, nloc, args.drop_back()));
      });
  return generic.getResult(0);
}

/// Elementwise over operands broadcast to `resultType`.
Value broadcastElementwise(OpBuilder &b, Location loc, RankedTensorType resultType,
                           ValueRange inputs, BodyFn body) {
  SmallVector<AffineMap> maps;
  for (Value v : inputs)
    maps.push_back(broadcastMap(b.getContext(), tensorType(v), resultType));
  return elementwise(b, loc, resultType, inputs, maps, body);
}

/// linalg.reduce of `input` over `dims` with `combine`, starting from `init`.
Value reduce(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> dims, double init,
             function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  RankedTensorType t = tensorType(input);
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < t.getRank(); ++d)
    if (!llvm::is_contained(dims, d))
      shape.push_back(t.getDimSize(d));
  auto type = RankedTensorType::get(shape, t.getElementType());
  Value acc = filled(b, loc, type, init);
  auto op = b.create<linalg::ReduceOp>(
      loc, ValueRange{input}, ValueRange{acc}, dims,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        nb.create<linalg::YieldOp>(nloc, combine(nb, nloc, args[0], args[1]));
      });
  return op.getResult(0);
}

Value addF(OpBuilder &b, Location l, Value x, Value y) { return b.create<arith::AddFOp>(l, x, y); }
Value maxF(OpBuilder &b, Location l, Value x, Value y) { return b.create<arith::MaximumFOp>(l, x, y); }
Value minF(OpBuilder &b, Location l, Value x, Value y) { return b.create<arith::MinimumFOp>(l, x, y); }

/// Reshape between static shapes with the same element count: collapse to
/// 1-D, expand to the target (each step skipped when not needed).
Value reshapeTo(OpBuilder &b, Location loc, Value src, RankedTensorType target) {
  RankedTensorType s = tensorType(src);
  if (s == target)
    return src;
  Value flat = src;
  if (s.getRank() != 1) {
    SmallVector<ReassociationIndices> all;
    if (s.getRank() > 0)
      all.push_back(llvm::to_vector(llvm::seq<int64_t>(0, s.getRank())));
    auto flatType = RankedTensorType::get(s.getRank() ? ArrayRef<int64_t>{s.getNumElements()}
                                                      : ArrayRef<int64_t>{},
                                          s.getElementType());
    if (s.getRank() == 0) // rank 0 -> tensor<1>: expand with no reassociation
      flat = b.create<tensor::ExpandShapeOp>(
          loc, RankedTensorType::get({1}, s.getElementType()), src,
          ArrayRef<ReassociationIndices>{});
    else
      flat = b.create<tensor::CollapseShapeOp>(loc, flatType, src, all);
  }
  if (target.getRank() == 1)
    return flat;
  SmallVector<ReassociationIndices> all;
  if (target.getRank() > 0)
    all.push_back(llvm::to_vector(llvm::seq<int64_t>(0, target.getRank())));
  if (target.getRank() == 0)
    return b.create<tensor::CollapseShapeOp>(loc, target, flat, ArrayRef<ReassociationIndices>{});
  return b.create<tensor::ExpandShapeOp>(loc, target, flat, all);
}

/// TensorFlow's "same" padding before the first element of one spatial dim.
int64_t samePadBefore(int64_t in, int64_t out, int64_t window, int64_t stride) {
  return samePadding(in, out, window, stride).before;
}

/// Pads the spatial dims (1, 2) of an NHWC tensor so that windows produce the
/// spatial sizes of `result` (the op's inferred type).
Value padSame(OpBuilder &b, Location loc, Value x, RankedTensorType result,
              ArrayRef<int64_t> window, ArrayRef<int64_t> strides, double padValue) {
  RankedTensorType t = tensorType(x);
  SmallVector<OpFoldResult> low(4, b.getIndexAttr(0)), high(4, b.getIndexAttr(0));
  SmallVector<int64_t> shape(t.getShape());
  bool any = false;
  for (int i = 0; i < 2; ++i) {
    int64_t in = t.getDimSize(1 + i), out = result.getDimSize(1 + i);
    SamePadding pad = samePadding(in, out, window[i], strides[i]);
    low[1 + i] = b.getIndexAttr(pad.before);
    high[1 + i] = b.getIndexAttr(pad.after);
    shape[1 + i] += pad.before + pad.after;
    any |= pad.before + pad.after > 0;
  }
  if (!any)
    return x;
  auto type = RankedTensorType::get(shape, t.getElementType());
  Value pad = floatConst(b, loc, t.getElementType(), padValue);
  return b.create<tensor::PadOp>(loc, type, x, low, high, pad);
}

/// softmax (or log-softmax) of `x` along `axis`, the maximum subtracted first
/// so that exp cannot overflow.
Value softmaxAlong(OpBuilder &b, Location loc, Value x, int64_t axis, bool log) {
  RankedTensorType t = tensorType(x);
  int64_t rank = t.getRank();
  MLIRContext *ctx = b.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap reduced = dropDimsMap(ctx, rank, {axis});
  Value m = reduce(b, loc, x, {axis}, -INFINITY, maxF);
  Value e = elementwise(b, loc, t, {x, m}, {id, reduced},
                        [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                          return nb.create<math::ExpOp>(l, nb.create<arith::SubFOp>(l, a[0], a[1]));
                        });
  Value s = reduce(b, loc, e, {axis}, 0.0, addF);
  if (log) // x - max - log(sum(exp(x - max)))
    return elementwise(b, loc, t, {x, m, s}, {id, reduced, reduced},
                       [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                         Value shifted = nb.create<arith::SubFOp>(l, a[0], a[1]);
                         return nb.create<arith::SubFOp>(l, shifted, nb.create<math::LogOp>(l, a[2]));
                       });
  return elementwise(b, loc, t, {e, s}, {id, reduced},
                     [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       return nb.create<arith::DivFOp>(l, a[0], a[1]);
                     });
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

template <typename OpT>
struct UnaryLowering : OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  using Adaptor = typename OpT::Adaptor;
  LogicalResult matchAndRewrite(OpT op, Adaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto type = llvm::cast<RankedTensorType>(op.getType());
    Value r = broadcastElementwise(rw, loc, type, {adaptor.getOperand()},
                                   [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                                     return scalar(b, l, a[0]);
                                   });
    rw.replaceOp(op, r);
    return success();
  }
  static Value scalar(OpBuilder &b, Location l, Value x) {
    Type t = x.getType();
    if constexpr (std::is_same_v<OpT, NegOp>) return b.create<arith::NegFOp>(l, x);
    if constexpr (std::is_same_v<OpT, AbsOp>) return b.create<math::AbsFOp>(l, x);
    if constexpr (std::is_same_v<OpT, ExpOp>) return b.create<math::ExpOp>(l, x);
    if constexpr (std::is_same_v<OpT, LogOp>) return b.create<math::LogOp>(l, x);
    if constexpr (std::is_same_v<OpT, SqrtOp>) return b.create<math::SqrtOp>(l, x);
    if constexpr (std::is_same_v<OpT, RsqrtOp>) return b.create<math::RsqrtOp>(l, x);
    if constexpr (std::is_same_v<OpT, SquareOp>) return b.create<arith::MulFOp>(l, x, x);
    if constexpr (std::is_same_v<OpT, TanhOp>) return b.create<math::TanhOp>(l, x);
    if constexpr (std::is_same_v<OpT, SignOp>) { // -1, 0 or 1 (NaN gives 0)
      Value zero = floatConst(b, l, t, 0.0);
      Value neg = b.create<arith::SelectOp>(
          l, b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OLT, x, zero), floatConst(b, l, t, -1.0),
          zero);
      return b.create<arith::SelectOp>(
          l, b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT, x, zero), floatConst(b, l, t, 1.0),
          neg);
    }
    if constexpr (std::is_same_v<OpT, ReluOp>)
      return b.create<arith::MaximumFOp>(l, x, floatConst(b, l, t, 0.0));
    // sigmoid(x) = 1 / (1 + exp(-x))
    Value e = b.create<math::ExpOp>(l, b.create<arith::NegFOp>(l, x));
    Value one = floatConst(b, l, t, 1.0);
    return b.create<arith::DivFOp>(l, one, b.create<arith::AddFOp>(l, one, e));
  }
};

template <typename OpT>
struct BinaryLowering : OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  using Adaptor = typename OpT::Adaptor;
  LogicalResult matchAndRewrite(OpT op, Adaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    auto type = llvm::cast<RankedTensorType>(op.getType());
    Value r = broadcastElementwise(
        rw, op.getLoc(), type, {adaptor.getLhs(), adaptor.getRhs()},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          if constexpr (std::is_same_v<OpT, AddOp>) return b.create<arith::AddFOp>(l, a[0], a[1]);
          if constexpr (std::is_same_v<OpT, SubOp>) return b.create<arith::SubFOp>(l, a[0], a[1]);
          if constexpr (std::is_same_v<OpT, MulOp>) return b.create<arith::MulFOp>(l, a[0], a[1]);
          if constexpr (std::is_same_v<OpT, DivOp>) return b.create<arith::DivFOp>(l, a[0], a[1]);
          if constexpr (std::is_same_v<OpT, MaxOp>) return b.create<arith::MaximumFOp>(l, a[0], a[1]);
          if constexpr (std::is_same_v<OpT, MinOp>) return b.create<arith::MinimumFOp>(l, a[0], a[1]);
          if constexpr (std::is_same_v<OpT, GreaterOp>) return compare(b, l, arith::CmpFPredicate::OGT, a);
          if constexpr (std::is_same_v<OpT, GreaterEqualOp>) return compare(b, l, arith::CmpFPredicate::OGE, a);
          if constexpr (std::is_same_v<OpT, EqualOp>) return compare(b, l, arith::CmpFPredicate::OEQ, a);
          return b.create<math::PowFOp>(l, a[0], a[1]);
        });
    rw.replaceOp(op, r);
    return success();
  }
  /// 1.0 where `lhs pred rhs` holds, else 0.0 (ordered: NaN compares false).
  static Value compare(OpBuilder &b, Location l, arith::CmpFPredicate pred, ValueRange a) {
    Type f = a[0].getType();
    return b.create<arith::SelectOp>(l, b.create<arith::CmpFOp>(l, pred, a[0], a[1]),
                                     floatConst(b, l, f, 1.0), floatConst(b, l, f, 0.0));
  }
};

struct BroadcastToLowering : OpConversionPattern<BroadcastToOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(BroadcastToOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    auto type = llvm::cast<RankedTensorType>(op.getType());
    rw.replaceOp(op, broadcastElementwise(rw, op.getLoc(), type, {adaptor.getOperand()},
                                          [](OpBuilder &, Location, ValueRange a) { return a[0]; }));
    return success();
  }
};

/// softmax / log_softmax along one axis, with the max subtracted first.
template <typename OpT, bool Log>
struct SoftmaxLowering : OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  using Adaptor = typename OpT::Adaptor;
  LogicalResult matchAndRewrite(OpT op, Adaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Value x = adaptor.getOperand();
    int64_t axis = int64_t(op.getAxis());
    if (axis < 0)
      axis += tensorType(x).getRank();
    Value r = softmaxAlong(rw, op.getLoc(), x, axis, Log);
    rw.replaceOp(op, r);
    return success();
  }
};

SmallVector<utils::IteratorType> iterators(int parallel, int reduction) {
  SmallVector<utils::IteratorType> it(parallel, utils::IteratorType::parallel);
  it.append(reduction, utils::IteratorType::reduction);
  return it;
}

struct MatMulLowering : OpConversionPattern<MatMulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(MatMulOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value a = adaptor.getLhs(), b = adaptor.getRhs();
    RankedTensorType ta = tensorType(a), tb = tensorType(b);
    auto result = llvm::cast<RankedTensorType>(op.getType());
    Type f = result.getElementType();
    bool tA = op.getTransposeLhs(), tB = op.getTransposeRhs();
    if ((tA || tB) && ta.getRank() == 2 && tb.getRank() == 2) {
      // A transposed operand layout is read through the indexing map:
      // (m, n, k) -> (k, m) or (n, k) instead of (m, k) or (k, n).
      MLIRContext *ctx = rw.getContext();
      AffineExpr m = rw.getAffineDimExpr(0), n = rw.getAffineDimExpr(1),
                 k = rw.getAffineDimExpr(2);
      SmallVector<AffineMap> maps = {AffineMap::get(3, 0, tA ? ArrayRef{k, m} : ArrayRef{m, k}, ctx),
                                     AffineMap::get(3, 0, tB ? ArrayRef{n, k} : ArrayRef{k, n}, ctx),
                                     AffineMap::get(3, 0, {m, n}, ctx)};
      auto generic = rw.create<linalg::GenericOp>(
          loc, result, ValueRange{a, b}, ValueRange{filled(rw, loc, result, 0.0)}, maps,
          iterators(2, 1), [](OpBuilder &nb, Location l, ValueRange args) {
            Value p = nb.create<arith::MulFOp>(l, args[0], args[1]);
            nb.create<linalg::YieldOp>(l, ValueRange{nb.create<arith::AddFOp>(l, args[2], p)});
          });
      rw.replaceOp(op, generic.getResult(0));
      return success();
    }
    // Other ranks: materialise the transposed operand.
    auto swapLast = [&](Value v) {
      RankedTensorType t = tensorType(v);
      SmallVector<int64_t> perm = llvm::to_vector(llvm::seq<int64_t>(0, t.getRank()));
      std::swap(perm[t.getRank() - 1], perm[t.getRank() - 2]);
      SmallVector<int64_t> shape(t.getShape());
      std::swap(shape[t.getRank() - 1], shape[t.getRank() - 2]);
      Value init = rw.create<tensor::EmptyOp>(loc, shape, t.getElementType());
      return rw.create<linalg::TransposeOp>(loc, v, init, perm).getResult()[0];
    };
    if (tA)
      ta = tensorType(a = swapLast(a));
    if (tB)
      tb = tensorType(b = swapLast(b));
    int64_t m = ta.getDimSize(ta.getRank() - 2), k = ta.getShape().back(),
            n = tb.getShape().back();
    Value r;
    if (tb.getRank() == 2) {
      // [..., M, K] x [K, N]: fold the leading dims into M.
      int64_t rows = ta.getNumElements() / k;
      Value a2 = reshapeTo(rw, loc, a, RankedTensorType::get({rows, k}, f));
      auto outType = RankedTensorType::get({rows, n}, f);
      r = rw.create<linalg::MatmulOp>(loc, ValueRange{a2, b},
                                      ValueRange{filled(rw, loc, outType, 0.0)})
              .getResult(0);
    } else {
      int64_t batch = ta.getNumElements() / (m * k);
      Value a3 = reshapeTo(rw, loc, a, RankedTensorType::get({batch, m, k}, f));
      Value b3 = reshapeTo(rw, loc, b, RankedTensorType::get({batch, k, n}, f));
      auto outType = RankedTensorType::get({batch, m, n}, f);
      r = rw.create<linalg::BatchMatmulOp>(loc, ValueRange{a3, b3},
                                           ValueRange{filled(rw, loc, outType, 0.0)})
              .getResult(0);
    }
    rw.replaceOp(op, reshapeTo(rw, loc, r, result));
    return success();
  }
};

struct Conv2DLowering : OpConversionPattern<Conv2DOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(Conv2DOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto result = llvm::cast<RankedTensorType>(op.getType());
    RankedTensorType w = tensorType(adaptor.getKernel());
    SmallVector<int64_t> strides(op.getStrides());
    Value x = adaptor.getInput();
    if (op.getPadding() == "same")
      x = padSame(rw, loc, x, result, {w.getDimSize(0), w.getDimSize(1)}, strides, 0.0);
    Value r = rw.create<linalg::Conv2DNhwcHwcfOp>(
                    loc, result, ValueRange{x, adaptor.getKernel()},
                    ValueRange{filled(rw, loc, result, 0.0)}, rw.getI64TensorAttr(strides),
                    rw.getI64TensorAttr({1, 1}))
                  .getResult(0);
    rw.replaceOp(op, r);
    return success();
  }
};

/// The padding before the first element of spatial dim `d` (0 or 1) of a
/// window op from `input` to `output` (both NHWC), as the forward op pads.
int64_t padBefore(ArrayRef<int64_t> input, ArrayRef<int64_t> output, ArrayRef<int64_t> window,
                  ArrayRef<int64_t> strides, bool same, int d) {
  return same ? samePadBefore(input[1 + d], output[1 + d], window[d], strides[d]) : 0;
}

/// Divides `sums` (NHWC, the result of a pool over `input`) by the number of
/// real (unpadded) input elements under each window, known at compile time:
/// a [OH, OW] constant.
Value divideByWindowCounts(OpBuilder &b, Location loc, Value sums, RankedTensorType input,
                           ArrayRef<int64_t> window, ArrayRef<int64_t> strides, bool same) {
  RankedTensorType result = tensorType(sums);
  Type f = result.getElementType();
  int64_t oh = result.getDimSize(1), ow = result.getDimSize(2);
  SmallVector<float> counts;
  for (int64_t i = 0; i < oh; ++i)
    for (int64_t j = 0; j < ow; ++j) {
      int64_t c = 1;
      for (int d = 0; d < 2; ++d) {
        int64_t in = input.getDimSize(1 + d), pos = d == 0 ? i : j;
        int64_t start = pos * strides[d] - padBefore(input.getShape(), result.getShape(), window, strides, same, d);
        int64_t lo = std::max<int64_t>(start, 0), hi = std::min(start + window[d], in);
        c *= std::max<int64_t>(hi - lo, 1);
      }
      counts.push_back(float(c));
    }
  auto countType = RankedTensorType::get({oh, ow}, f);
  Value countT =
      b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(countType, ArrayRef<float>(counts)));
  MLIRContext *ctx = b.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(4, ctx);
  AffineMap hw = AffineMap::get(4, 0, {getAffineDimExpr(1, ctx), getAffineDimExpr(2, ctx)}, ctx);
  return elementwise(b, loc, result, {sums, countT}, {id, hw},
                     [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       return nb.create<arith::DivFOp>(l, a[0], a[1]);
                     });
}

template <typename OpT, bool Max>
struct PoolLowering : OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  using Adaptor = typename OpT::Adaptor;
  LogicalResult matchAndRewrite(OpT op, Adaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto result = llvm::cast<RankedTensorType>(op.getType());
    Type f = result.getElementType();
    SmallVector<int64_t> window(op.getPoolSize()), strides(op.getStrides());
    bool same = op.getPadding() == "same";
    Value x = adaptor.getInput();
    RankedTensorType inType = tensorType(x);
    if (same)
      x = padSame(rw, loc, x, result, window, strides, Max ? -INFINITY : 0.0);
    Value windowTensor = rw.create<tensor::EmptyOp>(loc, window, f);
    Value init = filled(rw, loc, result, Max ? -INFINITY : 0.0);
    Value r;
    if (Max)
      r = rw.create<linalg::PoolingNhwcMaxOp>(loc, result, ValueRange{x, windowTensor},
                                              ValueRange{init}, rw.getI64TensorAttr(strides),
                                              rw.getI64TensorAttr({1, 1}))
              .getResult(0);
    else
      r = rw.create<linalg::PoolingNhwcSumOp>(loc, result, ValueRange{x, windowTensor},
                                              ValueRange{init}, rw.getI64TensorAttr(strides),
                                              rw.getI64TensorAttr({1, 1}))
              .getResult(0);
    if (!Max) // divide by the number of real (unpadded) elements under each window
      r = divideByWindowCounts(rw, loc, r, inType, window, strides, same);
    rw.replaceOp(op, r);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Backward ops of convolution and pooling
//
// Written for clarity, not speed (fast kernels come later): each is a
// linalg.generic that gathers, for every input position, the contributions of
// the windows that read it, with the window arithmetic spelled out in the body.
//===----------------------------------------------------------------------===//

/// A window op reads input position i = o * stride + k - pad for output
/// position o and window offset k. Given i and k (index values), the output
/// position whose window holds i at offset k is o = (i + pad - k) / stride,
/// when that division is exact and 0 <= o < out. Returns whether it exists,
/// and o (0 when it does not, so that it is always a valid index).
std::pair<Value, Value> windowAt(OpBuilder &b, Location l, Value i, Value k, int64_t pad,
                                 int64_t stride, int64_t out) {
  auto c = [&](int64_t v) -> Value { return b.create<arith::ConstantIndexOp>(l, v); };
  Value t = b.create<arith::SubIOp>(l, b.create<arith::AddIOp>(l, i, c(pad)), k);
  Value o = b.create<arith::DivSIOp>(l, t, c(stride));
  Value nonNegative = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::sge, t, c(0));
  Value exact = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq,
                                        b.create<arith::RemSIOp>(l, t, c(stride)), c(0));
  Value inRange = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, o, c(out));
  Value valid = b.create<arith::AndIOp>(l, b.create<arith::AndIOp>(l, nonNegative, exact), inRange);
  return {valid, b.create<arith::SelectOp>(l, valid, o, c(0))};
}

AffineMap dimsMap(MLIRContext *ctx, unsigned numDims, ArrayRef<AffineExpr> exprs) {
  return AffineMap::get(numDims, 0, exprs, ctx);
}

/// Over input positions (n, ih, iw, c) and window offsets (kh, kw): the sum of
/// `term(valid, window index (n, oh, ow, c), kh, kw)` over the windows holding
/// (ih, iw), into a zero-filled `result` (the forward input's shape). Windows
/// have the spatial shape of `window` and the positions of `outShape`.
Value sumOverWindows(OpBuilder &b, Location loc, RankedTensorType result, ArrayRef<int64_t> outShape,
                     ArrayRef<int64_t> window, ArrayRef<int64_t> strides, bool same,
                     function_ref<Value(OpBuilder &, Location, Value, ValueRange, Value, Value)> term) {
  MLIRContext *ctx = b.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  int64_t pad[2];
  for (int i = 0; i < 2; ++i)
    pad[i] = padBefore(result.getShape(), outShape, window, strides, same, i);
  // A [KH, KW] operand that is never read gives the window dims their bounds.
  Value windowTensor = b.create<tensor::EmptyOp>(loc, window, result.getElementType());
  auto generic = b.create<linalg::GenericOp>(
      loc, result, ValueRange{windowTensor}, ValueRange{filled(b, loc, result, 0.0)},
      ArrayRef<AffineMap>{dimsMap(ctx, 6, {d(4), d(5)}), dimsMap(ctx, 6, {d(0), d(1), d(2), d(3)})},
      iterators(4, 2), [&](OpBuilder &nb, Location l, ValueRange args) {
        auto idx = [&](int64_t dim) -> Value { return nb.create<linalg::IndexOp>(l, dim); };
        Value kh = idx(4), kw = idx(5);
        auto [vh, oh] = windowAt(nb, l, idx(1), kh, pad[0], strides[0], outShape[1]);
        auto [vw, ow] = windowAt(nb, l, idx(2), kw, pad[1], strides[1], outShape[2]);
        Value valid = nb.create<arith::AndIOp>(l, vh, vw);
        Value v = term(nb, l, valid, ValueRange{idx(0), oh, ow, idx(3)}, kh, kw);
        nb.create<linalg::YieldOp>(l, Value(nb.create<arith::AddFOp>(l, args[1], v)));
      });
  return generic.getResult(0);
}

/// dX[n, ih, iw, ci] = sum over (kh, kw, co) of grad[n, oh, ow, co] * W[kh, kw, ci, co]
/// for the (oh, ow) whose window reads (ih, iw) at offset (kh, kw).
struct Conv2DBackpropInputLowering : OpConversionPattern<Conv2DBackpropInputOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(Conv2DBackpropInputOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    auto result = llvm::cast<RankedTensorType>(op.getType());
    Value g = adaptor.getGrad(), w = adaptor.getKernel();
    ArrayRef<int64_t> gs = tensorType(g).getShape(), ws = tensorType(w).getShape();
    SmallVector<int64_t> strides(op.getStrides());
    bool same = op.getPadding() == "same";
    int64_t pad[2];
    for (int i = 0; i < 2; ++i)
      pad[i] = padBefore(result.getShape(), gs, ws.take_front(2), strides, same, i);
    // Iteration space (n, ih, iw, ci, kh, kw, co); the last three reduce.
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    auto generic = rw.create<linalg::GenericOp>(
        loc, result, ValueRange{w}, ValueRange{filled(rw, loc, result, 0.0)},
        ArrayRef<AffineMap>{dimsMap(ctx, 7, {d(4), d(5), d(3), d(6)}),
                            dimsMap(ctx, 7, {d(0), d(1), d(2), d(3)})},
        iterators(4, 3), [&](OpBuilder &b, Location l, ValueRange args) {
          auto idx = [&](int64_t dim) -> Value { return b.create<linalg::IndexOp>(l, dim); };
          auto [vh, oh] = windowAt(b, l, idx(1), idx(4), pad[0], strides[0], gs[1]);
          auto [vw, ow] = windowAt(b, l, idx(2), idx(5), pad[1], strides[1], gs[2]);
          Value gv = b.create<tensor::ExtractOp>(l, g, ValueRange{idx(0), oh, ow, idx(6)});
          Value term = b.create<arith::SelectOp>(l, b.create<arith::AndIOp>(l, vh, vw),
                                                 b.create<arith::MulFOp>(l, gv, args[0]),
                                                 floatConst(b, l, args[0].getType(), 0.0));
          b.create<linalg::YieldOp>(l, Value(b.create<arith::AddFOp>(l, args[1], term)));
        });
    rw.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// dW[kh, kw, ci, co] = sum over (n, oh, ow) of
/// Xpadded[n, oh * sh + kh, ow * sw + kw, ci] * grad[n, oh, ow, co].
struct Conv2DBackpropFilterLowering : OpConversionPattern<Conv2DBackpropFilterOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(Conv2DBackpropFilterOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    auto result = llvm::cast<RankedTensorType>(op.getType());
    Value x = adaptor.getInput(), g = adaptor.getGrad();
    SmallVector<int64_t> strides(op.getStrides());
    if (op.getPadding() == "same")
      x = padSame(rw, loc, x, tensorType(g), result.getShape().take_front(2), strides, 0.0);
    // Iteration space (kh, kw, ci, co, n, oh, ow); the last three reduce.
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    AffineMap xMap = dimsMap(ctx, 7, {d(4), d(5) * strides[0] + d(0), d(6) * strides[1] + d(1), d(2)});
    auto generic = rw.create<linalg::GenericOp>(
        loc, result, ValueRange{x, g}, ValueRange{filled(rw, loc, result, 0.0)},
        ArrayRef<AffineMap>{xMap, dimsMap(ctx, 7, {d(4), d(5), d(6), d(3)}),
                            dimsMap(ctx, 7, {d(0), d(1), d(2), d(3)})},
        iterators(4, 3), [&](OpBuilder &b, Location l, ValueRange args) {
          Value prod = b.create<arith::MulFOp>(l, args[0], args[1]);
          b.create<linalg::YieldOp>(l, Value(b.create<arith::AddFOp>(l, args[2], prod)));
        });
    rw.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// Routes each window's gradient to the first position (row-major within the
/// window, padding excluded) holding the window's maximum, as TensorFlow does.
struct MaxPool2DGradLowering : OpConversionPattern<MaxPool2DGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(MaxPool2DGradOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    auto result = llvm::cast<RankedTensorType>(op.getType());
    Value x = adaptor.getInput(), g = adaptor.getGrad();
    RankedTensorType gt = tensorType(g);
    Type f = gt.getElementType(), i32 = rw.getI32Type();
    SmallVector<int64_t> window(op.getPoolSize()), strides(op.getStrides());
    bool same = op.getPadding() == "same";
    int64_t pad[2];
    for (int i = 0; i < 2; ++i)
      pad[i] = padBefore(result.getShape(), gt.getShape(), window, strides, same, i);
    Value xp = same ? padSame(rw, loc, x, gt, window, strides, -INFINITY) : x;

    // 1. Per window (n, oh, ow, c): the offset kh * KW + kw of its first
    // maximum, -1 while none is found. A position is taken when it is real
    // (not padding) and beats the best so far, or ties with it at a lower
    // offset: the result does not depend on the order of the reduction.
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    auto argmaxType = RankedTensorType::get(gt.getShape(), i32);
    Value best = filled(rw, loc, gt, -INFINITY);
    Value noIndex = rw.create<arith::ConstantOp>(loc, i32, rw.getI32IntegerAttr(-1));
    Value firstIdx =
        rw.create<linalg::FillOp>(loc, noIndex, emptyLike(rw, loc, argmaxType)).getResult(0);
    Value windowTensor = rw.create<tensor::EmptyOp>(loc, window, f);
    AffineMap outMap = dimsMap(ctx, 6, {d(0), d(1), d(2), d(3)});
    auto argmax = rw.create<linalg::GenericOp>(
        loc, TypeRange{gt, argmaxType}, ValueRange{xp, windowTensor}, ValueRange{best, firstIdx},
        ArrayRef<AffineMap>{dimsMap(ctx, 6, {d(0), d(1) * strides[0] + d(4), d(2) * strides[1] + d(5), d(3)}),
                            dimsMap(ctx, 6, {d(4), d(5)}), outMap, outMap},
        iterators(4, 2), [&](OpBuilder &b, Location l, ValueRange args) {
          auto c = [&](int64_t v) -> Value { return b.create<arith::ConstantIndexOp>(l, v); };
          auto cmpi = [&](arith::CmpIPredicate p, Value u, Value v) -> Value {
            return b.create<arith::CmpIOp>(l, p, u, v);
          };
          auto andi = [&](Value u, Value v) -> Value { return b.create<arith::AndIOp>(l, u, v); };
          auto ori = [&](Value u, Value v) -> Value { return b.create<arith::OrIOp>(l, u, v); };
          Value v = args[0], bestV = args[2], bestI = args[3];
          Value kh = b.create<linalg::IndexOp>(l, 4), kw = b.create<linalg::IndexOp>(l, 5);
          Value real = b.create<arith::ConstantIntOp>(l, 1, 1);
          for (int i = 0; i < 2; ++i) { // padded coordinate o * s + k within [pad, pad + in)
            Value p = b.create<arith::AddIOp>(
                l, b.create<arith::MulIOp>(l, b.create<linalg::IndexOp>(l, 1 + i), c(strides[i])),
                i == 0 ? kh : kw);
            real = andi(real, andi(cmpi(arith::CmpIPredicate::sge, p, c(pad[i])),
                                   cmpi(arith::CmpIPredicate::slt, p, c(pad[i] + result.getDimSize(1 + i)))));
          }
          Value offset = b.create<arith::IndexCastOp>(
              l, i32, b.create<arith::AddIOp>(l, b.create<arith::MulIOp>(l, kh, c(window[1])), kw));
          Value none = cmpi(arith::CmpIPredicate::slt, bestI, b.create<arith::ConstantIntOp>(l, 0, 32));
          Value greater = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT, v, bestV);
          Value tieBefore = andi(b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, v, bestV),
                                 cmpi(arith::CmpIPredicate::slt, offset, bestI));
          Value take = andi(real, ori(none, ori(greater, tieBefore)));
          b.create<linalg::YieldOp>(l, ValueRange{b.create<arith::SelectOp>(l, take, v, bestV),
                                                  b.create<arith::SelectOp>(l, take, offset, bestI)});
        });
    Value first = argmax.getResult(1);

    // 2. Per input position: the gradients of the windows whose first maximum
    // it is.
    Value r = sumOverWindows(
        rw, loc, result, gt.getShape(), window, strides, same,
        [&](OpBuilder &b, Location l, Value valid, ValueRange win, Value kh, Value kw) -> Value {
          Value at = b.create<tensor::ExtractOp>(l, first, win);
          Value offset = b.create<arith::IndexCastOp>(
              l, i32,
              b.create<arith::AddIOp>(
                  l, b.create<arith::MulIOp>(l, kh, b.create<arith::ConstantIndexOp>(l, window[1])), kw));
          Value hit = b.create<arith::AndIOp>(
              l, valid, b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, at, offset));
          return b.create<arith::SelectOp>(l, hit, b.create<tensor::ExtractOp>(l, g, win),
                                           floatConst(b, l, f, 0.0));
        });
    rw.replaceOp(op, r);
    return success();
  }
};

/// Each window's gradient divided by its count of real elements and shared
/// by those elements.
struct AvgPool2DGradLowering : OpConversionPattern<AvgPool2DGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(AvgPool2DGradOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto result = llvm::cast<RankedTensorType>(op.getType());
    Value g = adaptor.getGrad();
    RankedTensorType gt = tensorType(g);
    SmallVector<int64_t> window(op.getPoolSize()), strides(op.getStrides());
    bool same = op.getPadding() == "same";
    Value share = divideByWindowCounts(rw, loc, g, result, window, strides, same);
    Value r = sumOverWindows(
        rw, loc, result, gt.getShape(), window, strides, same,
        [&](OpBuilder &b, Location l, Value valid, ValueRange win, Value, Value) -> Value {
          return b.create<arith::SelectOp>(l, valid, b.create<tensor::ExtractOp>(l, share, win),
                                           floatConst(b, l, gt.getElementType(), 0.0));
        });
    rw.replaceOp(op, r);
    return success();
  }
};

struct SliceLowering : OpConversionPattern<SliceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(SliceOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    auto type = llvm::cast<RankedTensorType>(op.getType());
    SmallVector<OpFoldResult> offsets, sizes, strides;
    for (auto [start, size] : llvm::zip(op.getStart(), op.getSizes())) {
      offsets.push_back(rw.getIndexAttr(start));
      sizes.push_back(rw.getIndexAttr(size));
      strides.push_back(rw.getIndexAttr(1));
    }
    rw.replaceOpWithNewOp<tensor::ExtractSliceOp>(op, type, adaptor.getOperand(), offsets, sizes,
                                                  strides);
    return success();
  }
};

struct ReshapeLowering : OpConversionPattern<ReshapeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(ReshapeOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    rw.replaceOp(op, reshapeTo(rw, op.getLoc(), adaptor.getOperand(),
                               llvm::cast<RankedTensorType>(op.getType())));
    return success();
  }
};

struct TransposeLowering : OpConversionPattern<TransposeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(TransposeOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    auto type = llvm::cast<RankedTensorType>(op.getType());
    Value init = emptyLike(rw, op.getLoc(), type);
    rw.replaceOp(op, rw.create<linalg::TransposeOp>(op.getLoc(), adaptor.getOperand(), init,
                                                    op.getPerm())
                         .getResult());
    return success();
  }
};

struct ConcatLowering : OpConversionPattern<ConcatOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(ConcatOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto type = llvm::cast<RankedTensorType>(op.getType());
    int64_t rank = type.getRank(), axis = int64_t(op.getAxis());
    if (axis < 0)
      axis += rank;
    Value acc = emptyLike(rw, loc, type);
    int64_t offset = 0;
    for (Value in : adaptor.getInputs()) {
      RankedTensorType t = tensorType(in);
      SmallVector<OpFoldResult> offsets(rank, rw.getIndexAttr(0)), sizes, strides(rank, rw.getIndexAttr(1));
      for (int64_t d = 0; d < rank; ++d)
        sizes.push_back(rw.getIndexAttr(t.getDimSize(d)));
      offsets[axis] = rw.getIndexAttr(offset);
      acc = rw.create<tensor::InsertSliceOp>(loc, in, acc, offsets, sizes, strides);
      offset += t.getDimSize(axis);
    }
    rw.replaceOp(op, acc);
    return success();
  }
};

template <typename OpT>
struct ReduceLowering : OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  using Adaptor = typename OpT::Adaptor;
  LogicalResult matchAndRewrite(OpT op, Adaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getOperand();
    RankedTensorType t = tensorType(x);
    int64_t rank = t.getRank();
    SmallVector<int64_t> dims;
    for (int64_t a : op.getAxes())
      dims.push_back(a < 0 ? a + rank : a);
    if (dims.empty())
      dims = llvm::to_vector(llvm::seq<int64_t>(0, rank));
    llvm::sort(dims);
    Value r;
    if constexpr (std::is_same_v<OpT, ReduceMaxOp>)
      r = reduce(rw, loc, x, dims, -INFINITY, maxF);
    else if constexpr (std::is_same_v<OpT, ReduceMinOp>)
      r = reduce(rw, loc, x, dims, INFINITY, minF);
    else
      r = reduce(rw, loc, x, dims, 0.0, addF);
    if constexpr (std::is_same_v<OpT, ReduceMeanOp>) {
      int64_t count = 1;
      for (int64_t d : dims)
        count *= t.getDimSize(d);
      RankedTensorType rt = tensorType(r);
      Value n = floatConst(rw, loc, rt.getElementType(), double(count));
      r = elementwise(rw, loc, rt, {r}, {AffineMap::getMultiDimIdentityMap(rt.getRank(), rw.getContext())},
                      [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                        return b.create<arith::DivFOp>(l, a[0], n);
                      });
    }
    rw.replaceOp(op, reshapeTo(rw, loc, r, llvm::cast<RankedTensorType>(op.getType())));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Losses and metrics (Keras semantics: a scalar, averaged over the batch)
//===----------------------------------------------------------------------===//

/// Sum of all elements, as a rank-0 tensor.
Value sumAll(OpBuilder &b, Location loc, Value x) {
  RankedTensorType t = tensorType(x);
  return reduce(b, loc, x, llvm::to_vector(llvm::seq<int64_t>(0, t.getRank())), 0.0, addF);
}

/// A rank-0 tensor divided by a constant.
Value scale(OpBuilder &b, Location loc, Value scalar, double by) {
  RankedTensorType t = tensorType(scalar);
  Value d = floatConst(b, loc, t.getElementType(), by);
  return elementwise(b, loc, t, {scalar}, {AffineMap::get(0, 0, b.getContext())},
                     [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       return nb.create<arith::DivFOp>(l, a[0], d);
                     });
}

/// sum(terms) / count: the batch mean of a loss or metric whose `terms`
/// (batch dimension first) number `count` for a full batch. With `samples`
/// (a rank-0 f32 tensor), only the terms of rows < samples count, and the
/// divisor is scaled to those rows: the padding of a partial batch is ignored.
Value batchMean(OpBuilder &b, Location loc, Value terms, Value samples, double count) {
  if (!samples)
    return scale(b, loc, sumAll(b, loc, terms), count);
  RankedTensorType t = tensorType(terms);
  MLIRContext *ctx = b.getContext();
  int64_t rank = t.getRank();
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx), scalar = AffineMap::get(rank, 0, ctx);
  Value masked = elementwise(b, loc, t, {terms, samples}, {id, scalar},
                             [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                               Value row = nb.create<arith::IndexCastOp>(
                                   l, nb.getI64Type(), nb.create<linalg::IndexOp>(l, 0));
                               Value rowF = nb.create<arith::SIToFPOp>(l, a[0].getType(), row);
                               Value real = nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OLT, rowF, a[1]);
                               return nb.create<arith::SelectOp>(l, real, a[0], floatConst(nb, l, a[0].getType(), 0.0));
                             });
  Value total = sumAll(b, loc, masked);
  double perRow = count / double(t.getShape()[0]);
  AffineMap none = AffineMap::get(0, 0, ctx);
  return elementwise(b, loc, tensorType(total), {total, samples}, {none, none},
                     [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       Value rows = nb.create<arith::MulFOp>(l, a[1], floatConst(nb, l, a[1].getType(), perRow));
                       return nb.create<arith::DivFOp>(l, a[0], rows);
                     });
}

/// Keras clips probabilities to [1e-7, 1 - 1e-7] before taking logs.
Value clipProbability(OpBuilder &b, Location l, Value p) {
  Type f = p.getType();
  Value lo = floatConst(b, l, f, 1e-7), hi = floatConst(b, l, f, 1.0 - 1e-7);
  return b.create<arith::MinimumFOp>(l, b.create<arith::MaximumFOp>(l, p, lo), hi);
}

/// mean_squared_error, mean_absolute_error, binary_crossentropy: an
/// elementwise term averaged over every element.
template <typename OpT>
struct ElementwiseLossLowering : OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  using Adaptor = typename OpT::Adaptor;
  LogicalResult matchAndRewrite(OpT op, Adaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value y = adaptor.getLabels(), p = adaptor.getPredictions();
    RankedTensorType t = tensorType(p);
    bool logits = op.getFromLogits();
    Value terms = broadcastElementwise(
        rw, loc, t, {y, p}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value d = b.create<arith::SubFOp>(l, a[0], a[1]);
          if constexpr (std::is_same_v<OpT, MeanSquaredErrorOp>)
            return b.create<arith::MulFOp>(l, d, d);
          if constexpr (std::is_same_v<OpT, MeanAbsoluteErrorOp>)
            return b.create<math::AbsFOp>(l, d);
          Type f = a[1].getType();
          Value one = floatConst(b, l, f, 1.0), zero = floatConst(b, l, f, 0.0);
          if (logits) { // max(x, 0) - x * y + log(1 + exp(-|x|))
            Value x = a[1];
            Value relu = b.create<arith::MaximumFOp>(l, x, zero);
            Value xy = b.create<arith::MulFOp>(l, x, a[0]);
            Value e = b.create<math::ExpOp>(l, b.create<arith::NegFOp>(l, b.create<math::AbsFOp>(l, x)));
            Value softplus = b.create<math::Log1pOp>(l, e);
            return b.create<arith::AddFOp>(l, b.create<arith::SubFOp>(l, relu, xy), softplus);
          }
          // -(y log p + (1 - y) log(1 - p)), p clipped
          Value q = clipProbability(b, l, a[1]);
          Value t1 = b.create<arith::MulFOp>(l, a[0], b.create<math::LogOp>(l, q));
          Value t2 = b.create<arith::MulFOp>(l, b.create<arith::SubFOp>(l, one, a[0]),
                                             b.create<math::LogOp>(l, b.create<arith::SubFOp>(l, one, q)));
          return b.create<arith::NegFOp>(l, b.create<arith::AddFOp>(l, t1, t2));
        });
    rw.replaceOp(op, batchMean(rw, loc, terms, adaptor.getSamples(), double(t.getNumElements())));
    return success();
  }
};

/// Per row of predictions [rows, classes]: the log-probability of each class,
/// from probabilities (normalised and clipped as Keras does) or from logits.
Value logProbabilities(OpBuilder &b, Location loc, Value p, bool logits) {
  RankedTensorType t = tensorType(p);
  int64_t rank = t.getRank(), axis = rank - 1;
  if (logits)
    return softmaxAlong(b, loc, p, axis, /*log=*/true);
  MLIRContext *ctx = b.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap rows = dropDimsMap(ctx, rank, {axis});
  Value s = reduce(b, loc, p, {axis}, 0.0, addF);
  return elementwise(b, loc, t, {p, s}, {id, rows},
                     [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       Value q = clipProbability(nb, l, nb.create<arith::DivFOp>(l, a[0], a[1]));
                       return nb.create<math::LogOp>(l, q);
                     });
}

/// Whether class `c` (the innermost iteration index) equals the integer label.
Value isLabel(OpBuilder &b, Location l, Value label, int64_t classDim) {
  Value c = b.create<linalg::IndexOp>(l, classDim);
  Value ci = b.create<arith::IndexCastOp>(l, b.getI32Type(), c);
  Value li = label.getType().isInteger(32) ? label : b.create<arith::FPToSIOp>(l, b.getI32Type(), label);
  return b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, ci, li);
}

/// Labels of shape [rows] or [rows, 1] read at the row of an iteration point.
AffineMap labelMap(MLIRContext *ctx, RankedTensorType labels, int64_t rank) {
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d < rank - 1; ++d)
    exprs.push_back(getAffineDimExpr(d, ctx));
  if (labels.getRank() == rank) // trailing 1
    exprs.push_back(getAffineConstantExpr(0, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

template <typename OpT, bool Sparse>
struct CategoricalLossLowering : OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  using Adaptor = typename OpT::Adaptor;
  LogicalResult matchAndRewrite(OpT op, Adaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value y = adaptor.getLabels(), p = adaptor.getPredictions();
    RankedTensorType t = tensorType(p);
    int64_t rank = t.getRank();
    Value logp = logProbabilities(rw, loc, p, op.getFromLogits());
    MLIRContext *ctx = rw.getContext();
    AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    Value terms;
    if (Sparse)
      terms = elementwise(rw, loc, t, {logp, y}, {id, labelMap(ctx, tensorType(y), rank)},
                          [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                            Value zero = floatConst(b, l, a[0].getType(), 0.0);
                            return b.create<arith::SelectOp>(l, isLabel(b, l, a[1], rank - 1), a[0], zero);
                          });
    else
      terms = elementwise(rw, loc, t, {logp, y}, {id, id},
                          [](OpBuilder &b, Location l, ValueRange a) -> Value {
                            return b.create<arith::MulFOp>(l, a[0], a[1]);
                          });
    double rows = double(t.getNumElements() / t.getShape().back());
    rw.replaceOp(op, batchMean(rw, loc, terms, adaptor.getSamples(), -rows));
    return success();
  }
};

/// Index of the first maximum along the last axis, as a float [rows] tensor.
Value argmaxLast(OpBuilder &b, Location loc, Value p) {
  RankedTensorType t = tensorType(p);
  int64_t rank = t.getRank(), axis = rank - 1;
  MLIRContext *ctx = b.getContext();
  Value m = reduce(b, loc, p, {axis}, -INFINITY, maxF);
  double classes = double(t.getShape().back());
  Value candidates = elementwise(
      b, loc, t, {p, m}, {AffineMap::getMultiDimIdentityMap(rank, ctx), dropDimsMap(ctx, rank, {axis})},
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value c = nb.create<linalg::IndexOp>(l, axis);
        Value cf = nb.create<arith::UIToFPOp>(l, a[0].getType(),
                                              nb.create<arith::IndexCastOp>(l, nb.getI32Type(), c));
        Value isMax = nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, a[0], a[1]);
        return nb.create<arith::SelectOp>(l, isMax, cf, floatConst(nb, l, a[0].getType(), classes));
      });
  return reduce(b, loc, candidates, {axis}, classes, minF);
}

struct AccuracyLowering : OpConversionPattern<AccuracyOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(AccuracyOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value y = adaptor.getLabels(), p = adaptor.getPredictions();
    RankedTensorType t = tensorType(p);
    MLIRContext *ctx = rw.getContext();
    StringRef kind = op.getKind();
    Value hits;
    double count;
    if (kind == "binary") {
      double threshold = op.getThreshold().convertToDouble();
      hits = broadcastElementwise(rw, loc, t, {y, p}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
        Type f = a[1].getType();
        Value one = floatConst(b, l, f, 1.0), zero = floatConst(b, l, f, 0.0);
        Value predicted = b.create<arith::SelectOp>(
            l, b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT, a[1], floatConst(b, l, f, threshold)),
            one, zero);
        return b.create<arith::SelectOp>(
            l, b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, predicted, a[0]), one, zero);
      });
      count = double(t.getNumElements());
    } else {
      Value predicted = argmaxLast(rw, loc, p);
      RankedTensorType rows = tensorType(predicted);
      Value truth;
      if (kind == "categorical") {
        truth = argmaxLast(rw, loc, y);
      } else {
        RankedTensorType lt = tensorType(y);
        auto map = labelMap(ctx, lt, t.getRank());
        // Re-express the label map over the row iteration space (drop the class dim).
        SmallVector<AffineExpr> exprs;
        for (AffineExpr e : map.getResults())
          exprs.push_back(e);
        truth = elementwise(rw, loc, rows, {y}, {AffineMap::get(rows.getRank(), 0, exprs, ctx)},
                            [](OpBuilder &b, Location l, ValueRange a) -> Value {
                              Value v = a[0];
                              if (v.getType().isInteger(32))
                                v = b.create<arith::SIToFPOp>(l, b.getF32Type(), v);
                              return v;
                            });
      }
      AffineMap id = AffineMap::getMultiDimIdentityMap(rows.getRank(), ctx);
      hits = elementwise(rw, loc, rows, {predicted, truth}, {id, id},
                         [](OpBuilder &b, Location l, ValueRange a) -> Value {
                           Type f = a[0].getType();
                           return b.create<arith::SelectOp>(
                               l, b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, a[0], a[1]),
                               floatConst(b, l, f, 1.0), floatConst(b, l, f, 0.0));
                         });
      count = double(rows.getNumElements());
    }
    rw.replaceOp(op, batchMean(rw, loc, hits, adaptor.getSamples(), count));
    return success();
  }
};

/// Class ids [...] or [..., 1] -> 1.0 at the label's class of a [..., depth]
/// row (a label outside [0, depth) matches no class: a zero row).
struct OneHotLowering : OpConversionPattern<OneHotOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(OneHotOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    auto type = llvm::cast<RankedTensorType>(op.getType());
    int64_t rank = type.getRank();
    Value labels = adaptor.getLabels();
    Value r = elementwise(rw, op.getLoc(), type, {labels},
                          {labelMap(rw.getContext(), tensorType(labels), rank)},
                          [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                            Type f = type.getElementType();
                            return b.create<arith::SelectOp>(l, isLabel(b, l, a[0], rank - 1),
                                                             floatConst(b, l, f, 1.0),
                                                             floatConst(b, l, f, 0.0));
                          });
    rw.replaceOp(op, r);
    return success();
  }
};

/// The keep-mask of inverted dropout from a counter-based generator
/// (docs/dialect.md): element i (row-major) hashes (seed, step, i) with
/// SplitMix64's finaliser, takes the top 24 bits as u in [0, 1), and is
/// 1 / (1 - rate) when u >= rate, else 0. All integer arithmetic is on i64,
/// wrapping.
struct DropoutMaskLowering : OpConversionPattern<DropoutMaskOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(DropoutMaskOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    auto type = llvm::cast<RankedTensorType>(op.getType());
    int64_t rank = type.getRank();
    float rate = op.getRate().convertToFloat();
    float keepScale = 1.0f / (1.0f - rate); // in f32, as the definition says
    uint64_t seedTerm = uint64_t(op.getSeed()) * 0x9E3779B97F4A7C15ull;
    Value r = elementwise(
        rw, op.getLoc(), type, {adaptor.getStep()}, {AffineMap::get(rank, 0, rw.getContext())},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Type i64 = b.getI64Type(), f = type.getElementType();
          auto c = [&](uint64_t v) -> Value {
            return b.create<arith::ConstantOp>(l, i64, b.getI64IntegerAttr(int64_t(v)));
          };
          Value flat = c(0);
          for (int64_t d = 0; d < rank; ++d) {
            Value i = b.create<arith::IndexCastOp>(l, i64, b.create<linalg::IndexOp>(l, d));
            flat = b.create<arith::AddIOp>(
                l, b.create<arith::MulIOp>(l, flat, c(uint64_t(type.getDimSize(d)))), i);
          }
          Value step = b.create<arith::FPToUIOp>(l, i64, a[0]);
          Value x = b.create<arith::AddIOp>(
              l, b.create<arith::AddIOp>(l, c(seedTerm),
                                         b.create<arith::MulIOp>(l, step, c(0xD1B54A32D192ED03ull))),
              flat);
          auto xorShift = [&](Value v, uint64_t by) -> Value {
            return b.create<arith::XOrIOp>(l, v, b.create<arith::ShRUIOp>(l, v, c(by)));
          };
          x = b.create<arith::MulIOp>(l, xorShift(x, 30), c(0xBF58476D1CE4E5B9ull));
          x = b.create<arith::MulIOp>(l, xorShift(x, 27), c(0x94D049BB133111EBull));
          x = xorShift(x, 31);
          Value top = b.create<arith::UIToFPOp>(l, f, b.create<arith::ShRUIOp>(l, x, c(40)));
          Value u = b.create<arith::MulFOp>(l, top, floatConst(b, l, f, 0x1p-24));
          Value keep = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGE, u, floatConst(b, l, f, rate));
          return b.create<arith::SelectOp>(l, keep, floatConst(b, l, f, keepScale),
                                           floatConst(b, l, f, 0.0));
        });
    rw.replaceOp(op, r);
    return success();
  }
};

struct DropoutLowering : OpConversionPattern<DropoutOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(DropoutOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    rw.replaceOp(op, adaptor.getOperand()); // predict: identity
    return success();
  }
};

struct ConstantLowering : OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(ConstantOp op, OpAdaptor,
                                ConversionPatternRewriter &rw) const override {
    auto value = llvm::dyn_cast<TypedAttr>(op.getValue());
    if (!value)
      return rw.notifyMatchFailure(op, "constant is not a typed attribute");
    rw.replaceOpWithNewOp<arith::ConstantOp>(op, value);
    return success();
  }
};

struct KilnToLinalg : kiln::impl::KilnToLinalgBase<KilnToLinalg> {
  using KilnToLinalgBase::KilnToLinalgBase;
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    WalkResult dynamic = func.walk([&](Operation *op) {
      for (Type t : op->getResultTypes())
        if (auto s = llvm::dyn_cast<ShapedType>(t); s && !s.hasStaticShape()) {
          op->emitError("kiln-to-linalg needs static shapes; specialise the batch size "
                        "first (kilnc --batch-size=N)");
          return WalkResult::interrupt();
        }
      return WalkResult::advance();
    });
    if (dynamic.wasInterrupted())
      return signalPassFailure();

    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect, arith::ArithDialect,
                           math::MathDialect, func::FuncDialect>();
    target.addIllegalDialect<KilnDialect>();
    target.addLegalOp<KernelCallOp>();
    RewritePatternSet patterns(ctx);
    if (useKernels)
      cpu::populateKernelCallPatterns(patterns);
    patterns.add<UnaryLowering<NegOp>, UnaryLowering<AbsOp>, UnaryLowering<ExpOp>,
                 UnaryLowering<LogOp>, UnaryLowering<SqrtOp>, UnaryLowering<RsqrtOp>,
                 UnaryLowering<SquareOp>, UnaryLowering<TanhOp>, UnaryLowering<SigmoidOp>,
                 UnaryLowering<ReluOp>, UnaryLowering<SignOp>>(ctx);
    patterns.add<BinaryLowering<AddOp>, BinaryLowering<SubOp>, BinaryLowering<MulOp>,
                 BinaryLowering<DivOp>, BinaryLowering<MaxOp>, BinaryLowering<MinOp>,
                 BinaryLowering<PowOp>, BinaryLowering<GreaterOp>, BinaryLowering<GreaterEqualOp>,
                 BinaryLowering<EqualOp>, BroadcastToLowering>(ctx);
    patterns.add<SoftmaxLowering<SoftmaxOp, false>, SoftmaxLowering<LogSoftmaxOp, true>,
                 MatMulLowering, Conv2DLowering, PoolLowering<MaxPool2DOp, true>,
                 PoolLowering<AvgPool2DOp, false>, ReshapeLowering, TransposeLowering,
                 ConcatLowering, ReduceLowering<ReduceSumOp>, ReduceLowering<ReduceMeanOp>,
                 ReduceLowering<ReduceMaxOp>, ReduceLowering<ReduceMinOp>, DropoutLowering,
                 ConstantLowering>(ctx);
    patterns.add<Conv2DBackpropInputLowering, Conv2DBackpropFilterLowering, MaxPool2DGradLowering,
                 AvgPool2DGradLowering, SliceLowering, OneHotLowering, DropoutMaskLowering>(ctx);
    patterns.add<ElementwiseLossLowering<MeanSquaredErrorOp>,
                 ElementwiseLossLowering<MeanAbsoluteErrorOp>,
                 ElementwiseLossLowering<BinaryCrossentropyOp>,
                 CategoricalLossLowering<CategoricalCrossentropyOp, false>,
                 CategoricalLossLowering<SparseCategoricalCrossentropyOp, true>, AccuracyLowering>(ctx);
    if (failed(applyPartialConversion(func, target, std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
