//===- KilnToLinalg.cpp - kiln ops -> linalg on tensors -------------------===//
//
// One conversion pattern per op (or op family). Everything is static-shaped
// and in destination-passing style: each result starts as tensor.empty (+
// linalg.fill where it accumulates), so bufferization can place it without
// copies.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
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

/// TensorFlow's "same" padding before the first element of one spatial dim;
/// the extra row/column of an odd total goes after the last.
int64_t samePadBefore(int64_t in, int64_t out, int64_t window, int64_t stride) {
  return std::max<int64_t>((out - 1) * stride + window - in, 0) / 2;
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
    int64_t total = std::max<int64_t>((out - 1) * strides[i] + window[i] - in, 0);
    int64_t before = samePadBefore(in, out, window[i], strides[i]);
    low[1 + i] = b.getIndexAttr(before);
    high[1 + i] = b.getIndexAttr(total - before);
    shape[1 + i] += total;
    any |= total > 0;
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
          return b.create<math::PowFOp>(l, a[0], a[1]);
        });
    rw.replaceOp(op, r);
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

struct MatMulLowering : OpConversionPattern<MatMulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(MatMulOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value a = adaptor.getLhs(), b = adaptor.getRhs();
    RankedTensorType ta = tensorType(a), tb = tensorType(b);
    auto result = llvm::cast<RankedTensorType>(op.getType());
    Type f = result.getElementType();
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
    if (!Max) {
      // Divide by the number of real (unpadded) elements under each window,
      // known at compile time: a [OH, OW] constant.
      int64_t oh = result.getDimSize(1), ow = result.getDimSize(2);
      SmallVector<float> counts;
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          int64_t c = 1;
          for (int d = 0; d < 2; ++d) {
            int64_t in = inType.getDimSize(1 + d), pos = d == 0 ? i : j;
            int64_t padLow =
                same ? samePadBefore(in, result.getDimSize(1 + d), window[d], strides[d]) : 0;
            int64_t start = pos * strides[d] - padLow;
            int64_t lo = std::max<int64_t>(start, 0), hi = std::min(start + window[d], in);
            c *= std::max<int64_t>(hi - lo, 1);
          }
          counts.push_back(float(c));
        }
      auto countType = RankedTensorType::get({oh, ow}, f);
      Value countT = rw.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(countType, ArrayRef<float>(counts)));
      MLIRContext *ctx = rw.getContext();
      AffineMap id = AffineMap::getMultiDimIdentityMap(4, ctx);
      AffineMap hw = AffineMap::get(4, 0, {getAffineDimExpr(1, ctx), getAffineDimExpr(2, ctx)}, ctx);
      r = elementwise(rw, loc, result, {r, countT}, {id, hw},
                      [](OpBuilder &b, Location l, ValueRange a) -> Value {
                        return b.create<arith::DivFOp>(l, a[0], a[1]);
                      });
    }
    rw.replaceOp(op, r);
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
    rw.replaceOp(op, scale(rw, loc, sumAll(rw, loc, terms), double(t.getNumElements())));
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
    Value total = sumAll(rw, loc, terms);
    double rows = double(t.getNumElements() / t.getShape().back());
    rw.replaceOp(op, scale(rw, loc, total, -rows));
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
    rw.replaceOp(op, scale(rw, loc, sumAll(rw, loc, hits), count));
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
    RewritePatternSet patterns(ctx);
    patterns.add<UnaryLowering<NegOp>, UnaryLowering<AbsOp>, UnaryLowering<ExpOp>,
                 UnaryLowering<LogOp>, UnaryLowering<SqrtOp>, UnaryLowering<RsqrtOp>,
                 UnaryLowering<SquareOp>, UnaryLowering<TanhOp>, UnaryLowering<SigmoidOp>,
                 UnaryLowering<ReluOp>>(ctx);
    patterns.add<BinaryLowering<AddOp>, BinaryLowering<SubOp>, BinaryLowering<MulOp>,
                 BinaryLowering<DivOp>, BinaryLowering<MaxOp>, BinaryLowering<MinOp>,
                 BinaryLowering<PowOp>>(ctx);
    patterns.add<SoftmaxLowering<SoftmaxOp, false>, SoftmaxLowering<LogSoftmaxOp, true>,
                 MatMulLowering, Conv2DLowering, PoolLowering<MaxPool2DOp, true>,
                 PoolLowering<AvgPool2DOp, false>, ReshapeLowering, TransposeLowering,
                 ConcatLowering, ReduceLowering<ReduceSumOp>, ReduceLowering<ReduceMeanOp>,
                 ReduceLowering<ReduceMaxOp>, ReduceLowering<ReduceMinOp>, DropoutLowering,
                 ConstantLowering>(ctx);
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
