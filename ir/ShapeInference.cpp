//===- ShapeInference.cpp - result types of `kiln` ops --------------------===//
//
// One inferReturnTypes per op. These run on untrusted input (the frontend
// calls them before creating an op, so that a bad model gets a located error
// rather than a crash), hence every attribute and operand is checked here and
// never assumed. Messages are written for model authors: they name the shapes
// involved and what was expected.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace kiln;

static constexpr int64_t kDyn = ShapedType::kDynamic;
// Tensors beyond this many elements are rejected: far above any model Kiln
// targets, far below where int64 arithmetic on shapes could overflow.
static constexpr int64_t kMaxElements = int64_t(1) << 48;

namespace {
/// Carries the optional location through the helpers below.
struct Infer {
  std::optional<Location> loc;
  LogicalResult fail(const Twine &msg) const { return emitOptionalError(loc, msg); }
};
} // namespace

/// The attributes with ODS defaults filled in for those left out. The frontend
/// (and any C++ caller) may infer types before the op exists, and adaptors of
/// dictionary-attribute ops do not apply defaults themselves.
template <typename OpT>
static DictionaryAttr withDefaults(MLIRContext *ctx, DictionaryAttr attrs) {
  NamedAttrList list = attrs ? NamedAttrList(attrs) : NamedAttrList();
  OperationName(OpT::getOperationName(), ctx).populateDefaultAttrs(list);
  return list.getDictionary(ctx);
}

static std::string str(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

static std::string dimsStr(ArrayRef<int64_t> dims) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(dims))
    s += (i ? ", " : "") + (d == kDyn ? std::string("?") : std::to_string(d));
  return s + "]";
}

static FailureOr<RankedTensorType> operandType(const Infer &in, ValueRange operands,
                                               unsigned index, StringRef what) {
  if (index >= operands.size()) {
    (void)in.fail("missing " + what + " operand");
    return failure();
  }
  auto t = llvm::dyn_cast<RankedTensorType>(operands[index].getType());
  if (!t) {
    (void)in.fail(what + " must be a ranked tensor, got " + str(operands[index].getType()));
    return failure();
  }
  return t;
}

/// Builds a result type after checking the element count stays sane.
static FailureOr<Type> makeTensor(const Infer &in, ArrayRef<int64_t> shape, Type elem) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d == kDyn)
      continue;
    if (d < 0) {
      (void)in.fail("negative dimension in result shape " + dimsStr(shape));
      return failure();
    }
    if (d != 0 && (llvm::MulOverflow(n, d, n) || n > kMaxElements)) {
      (void)in.fail("result shape " + dimsStr(shape) + " has too many elements");
      return failure();
    }
  }
  return Type(RankedTensorType::get(shape, elem));
}

static LogicalResult push(FailureOr<Type> t, SmallVectorImpl<Type> &out) {
  if (failed(t))
    return failure();
  out.push_back(*t);
  return success();
}

/// Normalises a possibly negative axis into [0, rank).
static FailureOr<int64_t> normAxis(const Infer &in, int64_t axis, int64_t rank, StringRef what) {
  if (axis < -rank || axis >= rank) {
    (void)in.fail(what + " " + Twine(axis) + " is out of range for a tensor of rank " +
                  Twine(rank));
    return failure();
  }
  return axis < 0 ? axis + rank : axis;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

static LogicalResult inferBroadcast(std::optional<Location> loc, ValueRange operands,
                                    SmallVectorImpl<Type> &out) {
  Infer in{loc};
  auto a = operandType(in, operands, 0, "left");
  auto b = operandType(in, operands, 1, "right");
  if (failed(a) || failed(b))
    return failure();
  if (a->getElementType() != b->getElementType())
    return in.fail("element types differ: " + str(*a) + " and " + str(*b));
  ArrayRef<int64_t> sa = a->getShape(), sb = b->getShape();
  size_t rank = std::max(sa.size(), sb.size());
  SmallVector<int64_t> shape(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < sa.size() ? sa[sa.size() - 1 - i] : 1;
    int64_t db = i < sb.size() ? sb[sb.size() - 1 - i] : 1;
    int64_t d;
    if (da == db || db == 1)
      d = da;
    else if (da == 1)
      d = db;
    else if (da == kDyn)
      d = db;
    else if (db == kDyn)
      d = da;
    else
      return in.fail("cannot broadcast " + str(*a) + " with " + str(*b) + ": dimension " +
                     Twine(da) + " against " + Twine(db));
    shape[rank - 1 - i] = d;
  }
  return push(makeTensor(in, shape, a->getElementType()), out);
}

#define KILN_BROADCAST_OP(OP)                                                          \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location> loc,       \
                                     ValueRange operands, DictionaryAttr, OpaqueProperties, \
                                     RegionRange, SmallVectorImpl<Type> &out) {        \
    return inferBroadcast(loc, operands, out);                                         \
  }
KILN_BROADCAST_OP(AddOp)
KILN_BROADCAST_OP(SubOp)
KILN_BROADCAST_OP(MulOp)
KILN_BROADCAST_OP(DivOp)
KILN_BROADCAST_OP(MaxOp)
KILN_BROADCAST_OP(MinOp)
KILN_BROADCAST_OP(PowOp)
#undef KILN_BROADCAST_OP

LogicalResult ConstantOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                           ValueRange operands, DictionaryAttr attrs,
                                           OpaqueProperties props, RegionRange,
                                           SmallVectorImpl<Type> &out) {
  Adaptor adaptor(operands, withDefaults<ConstantOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  out.push_back(adaptor.getValue().getType());
  return success();
}

//===----------------------------------------------------------------------===//
// Matmul, convolution, pooling
//===----------------------------------------------------------------------===//

LogicalResult MatMulOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         ValueRange operands, DictionaryAttr attrs,
                                         OpaqueProperties, RegionRange,
                                         SmallVectorImpl<Type> &out) {
  Infer in{loc};
  auto a = operandType(in, operands, 0, "left");
  auto b = operandType(in, operands, 1, "right");
  if (failed(a) || failed(b))
    return failure();
  if (a->getRank() < 2 || b->getRank() < 2)
    return in.fail("matmul needs operands of rank 2 or more, got " + str(*a) + " and " +
                   str(*b));
  // The shapes as the product sees them ([..., M, K] x [..., K, N]), whatever
  // the operands' layouts.
  auto logical = [&](RankedTensorType t, StringRef flag) {
    SmallVector<int64_t> s(t.getShape());
    if (attrs && attrs.get(flag))
      std::swap(s[s.size() - 1], s[s.size() - 2]);
    return s;
  };
  SmallVector<int64_t> la = logical(*a, "transpose_lhs"), lb = logical(*b, "transpose_rhs");
  ArrayRef<int64_t> sa = la, sb = lb;
  int64_t k1 = sa.back(), k2 = sb[sb.size() - 2];
  if (k1 != kDyn && k2 != kDyn && k1 != k2)
    return in.fail("matmul inner dimensions differ: " + str(*a) + " has " + Twine(k1) +
                   " columns but " + str(*b) + " has " + Twine(k2) + " rows");
  SmallVector<int64_t> shape(sa.begin(), sa.end() - 1);
  if (b->getRank() > 2) {
    if (b->getRank() != a->getRank())
      return in.fail("matmul batch ranks differ: " + str(*a) + " and " + str(*b));
    for (int64_t i = 0; i + 2 < a->getRank(); ++i) {
      if (sa[i] != kDyn && sb[i] != kDyn && sa[i] != sb[i])
        return in.fail("matmul batch dimensions differ: " + str(*a) + " and " + str(*b));
      if (shape[i] == kDyn)
        shape[i] = sb[i];
    }
  }
  shape.push_back(sb.back());
  return push(makeTensor(in, shape, a->getElementType()), out);
}

/// Output size of a window sweep along one spatial dimension.
static FailureOr<int64_t> windowOut(const Infer &in, int64_t size, int64_t window,
                                    int64_t stride, bool same, StringRef what, int axis) {
  if (size == kDyn)
    return kDyn;
  if (same) // ceil(size / stride), without overflow for huge strides
    return size == 0 ? 0 : (size - 1) / stride + 1;
  if (window == kDyn)
    return kDyn;
  if (window > size) {
    (void)in.fail("the " + what + " (" + Twine(window) + " along " +
                  (axis == 0 ? "height" : "width") + ") is larger than the input (" +
                  Twine(size) + ") with 'valid' padding");
    return failure();
  }
  return (size - window) / stride + 1;
}

static LogicalResult checkPadding(const Infer &in, StringRef padding, bool &same) {
  if (padding != "valid" && padding != "same")
    return in.fail("padding must be \"valid\" or \"same\", got \"" + padding + "\"");
  same = padding == "same";
  return success();
}

static LogicalResult checkPositivePair(const Infer &in, ArrayRef<int64_t> v, StringRef what) {
  if (v.size() != 2)
    return in.fail(what + " must have 2 entries (height, width), got " + Twine(v.size()));
  if (v[0] < 1 || v[1] < 1)
    return in.fail(what + " must be positive, got " + dimsStr(v));
  return success();
}

/// The NHWC result shape of a window sweep (conv2d, pooling) over `xs` with
/// `channels` output channels; `what` names the window in messages.
static FailureOr<SmallVector<int64_t>> windowResultShape(const Infer &in, ArrayRef<int64_t> xs,
                                                         ArrayRef<int64_t> window,
                                                         ArrayRef<int64_t> strides, bool same,
                                                         int64_t channels, StringRef what) {
  SmallVector<int64_t> shape{xs[0], 0, 0, channels};
  for (int i = 0; i < 2; ++i) {
    auto d = windowOut(in, xs[1 + i], window[i], strides[i], same, what, i);
    if (failed(d))
      return failure();
    shape[1 + i] = *d;
  }
  return shape;
}

LogicalResult Conv2DOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                         ValueRange operands, DictionaryAttr attrs,
                                         OpaqueProperties props, RegionRange,
                                         SmallVectorImpl<Type> &out) {
  Infer in{loc};
  Adaptor adaptor(operands, withDefaults<Conv2DOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  auto x = operandType(in, operands, 0, "input");
  auto w = operandType(in, operands, 1, "kernel");
  if (failed(x) || failed(w))
    return failure();
  if (x->getRank() != 4)
    return in.fail("conv2d expects an NHWC input of rank 4, got " + str(*x));
  if (w->getRank() != 4)
    return in.fail("conv2d expects a [kh, kw, in, out] kernel of rank 4, got " + str(*w));
  bool same;
  if (failed(checkPositivePair(in, adaptor.getStrides(), "strides")) ||
      failed(checkPadding(in, adaptor.getPadding(), same)))
    return failure();
  ArrayRef<int64_t> xs = x->getShape(), ws = w->getShape();
  if (xs[3] != kDyn && ws[2] != kDyn && xs[3] != ws[2])
    return in.fail("conv2d input has " + Twine(xs[3]) + " channels but the kernel " +
                   str(*w) + " expects " + Twine(ws[2]));
  if (ws[0] == 0 || ws[1] == 0)
    return in.fail("conv2d kernel " + str(*w) + " has an empty window");
  auto shape = windowResultShape(in, xs, ws.take_front(2), adaptor.getStrides(), same, ws[3], "kernel");
  if (failed(shape))
    return failure();
  return push(makeTensor(in, *shape, x->getElementType()), out);
}

template <typename OpT>
static LogicalResult inferPool(MLIRContext *ctx, std::optional<Location> loc,
                               ValueRange operands, DictionaryAttr attrs,
                               OpaqueProperties props, SmallVectorImpl<Type> &out) {
  Infer in{loc};
  typename OpT::Adaptor adaptor(operands, withDefaults<OpT>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  auto x = operandType(in, operands, 0, "input");
  if (failed(x))
    return failure();
  if (x->getRank() != 4)
    return in.fail("pooling expects an NHWC input of rank 4, got " + str(*x));
  bool same;
  if (failed(checkPositivePair(in, adaptor.getPoolSize(), "pool_size")) ||
      failed(checkPositivePair(in, adaptor.getStrides(), "strides")) ||
      failed(checkPadding(in, adaptor.getPadding(), same)))
    return failure();
  ArrayRef<int64_t> xs = x->getShape();
  auto shape = windowResultShape(in, xs, adaptor.getPoolSize(), adaptor.getStrides(), same, xs[3],
                                 "pooling window");
  if (failed(shape))
    return failure();
  return push(makeTensor(in, *shape, x->getElementType()), out);
}

LogicalResult MaxPool2DOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            OpaqueProperties props, RegionRange,
                                            SmallVectorImpl<Type> &out) {
  return inferPool<MaxPool2DOp>(ctx, loc, operands, attrs, props, out);
}

LogicalResult AvgPool2DOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            OpaqueProperties props, RegionRange,
                                            SmallVectorImpl<Type> &out) {
  return inferPool<AvgPool2DOp>(ctx, loc, operands, attrs, props, out);
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                          ValueRange operands, DictionaryAttr attrs,
                                          OpaqueProperties props, RegionRange,
                                          SmallVectorImpl<Type> &out) {
  Infer in{loc};
  Adaptor adaptor(operands, withDefaults<ReshapeOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  auto x = operandType(in, operands, 0, "input");
  if (failed(x))
    return failure();
  SmallVector<int64_t> shape(adaptor.getShape());
  int inferIndex = -1;
  int64_t known = 1;
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (d == -1) {
      if (inferIndex >= 0)
        return in.fail("reshape target " + dimsStr(shape) + " has more than one -1");
      inferIndex = i;
      continue;
    }
    if (d < 1)
      return in.fail("reshape target " + dimsStr(shape) +
                     " may only hold positive sizes and one -1");
    if (llvm::MulOverflow(known, d, known) || known > kMaxElements)
      return in.fail("reshape target " + dimsStr(shape) + " has too many elements");
  }
  bool dynamic = !x->hasStaticShape();
  int64_t total = 1;
  for (int64_t d : x->getShape())
    if (!dynamic && (llvm::MulOverflow(total, d, total) || total > kMaxElements))
      return in.fail("cannot reshape " + str(*x) + ": it has too many elements");
  if (dynamic)
    total = kDyn;
  if (inferIndex >= 0) {
    if (dynamic) {
      shape[inferIndex] = kDyn;
    } else {
      if (total % known != 0)
        return in.fail("cannot reshape " + str(*x) + " (" + Twine(total) + " elements) to " +
                       dimsStr(adaptor.getShape()));
      shape[inferIndex] = total / known;
    }
  } else if (!dynamic && total != known) {
    return in.fail("cannot reshape " + str(*x) + " (" + Twine(total) + " elements) to " +
                   dimsStr(shape) + " (" + Twine(known) + " elements)");
  } else if (dynamic) {
    return in.fail("reshape of " + str(*x) +
                   ", whose size is not known yet, needs a -1 entry in its target shape");
  }
  return push(makeTensor(in, shape, x->getElementType()), out);
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            OpaqueProperties props, RegionRange,
                                            SmallVectorImpl<Type> &out) {
  Infer in{loc};
  Adaptor adaptor(operands, withDefaults<TransposeOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  auto x = operandType(in, operands, 0, "input");
  if (failed(x))
    return failure();
  ArrayRef<int64_t> perm = adaptor.getPerm();
  int64_t rank = x->getRank();
  if ((int64_t)perm.size() != rank)
    return in.fail("transpose permutation " + dimsStr(perm) + " must have " + Twine(rank) +
                   " entries for " + str(*x));
  SmallVector<bool> seen(rank, false);
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[p])
      return in.fail("transpose permutation " + dimsStr(perm) + " is not a permutation of 0.." +
                     Twine(rank - 1));
    seen[p] = true;
    shape.push_back(x->getDimSize(p));
  }
  return push(makeTensor(in, shape, x->getElementType()), out);
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                         ValueRange operands, DictionaryAttr attrs,
                                         OpaqueProperties props, RegionRange,
                                         SmallVectorImpl<Type> &out) {
  Infer in{loc};
  Adaptor adaptor(operands, withDefaults<ConcatOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  if (operands.empty())
    return in.fail("concat needs at least one input");
  auto first = operandType(in, operands, 0, "input");
  if (failed(first))
    return failure();
  int64_t rank = first->getRank();
  if (rank == 0)
    return in.fail("concat cannot join scalars");
  auto axis = normAxis(in, adaptor.getAxis(), rank, "concat axis");
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(first->getShape());
  for (unsigned i = 1; i < operands.size(); ++i) {
    auto t = operandType(in, operands, i, "input");
    if (failed(t))
      return failure();
    if (t->getRank() != rank || t->getElementType() != first->getElementType())
      return in.fail("concat inputs must have the same rank and element type: " + str(*first) +
                     " and " + str(*t));
    for (int64_t d = 0; d < rank; ++d) {
      int64_t a = shape[d], b = t->getDimSize(d);
      if (d == *axis) {
        if (a == kDyn || b == kDyn)
          shape[d] = kDyn;
        else if (llvm::AddOverflow(a, b, shape[d]))
          return in.fail("concat result is too large along dimension " + Twine(d));
      } else if (a != kDyn && b != kDyn && a != b) {
        return in.fail("concat inputs differ outside the axis: " + str(*first) + " and " +
                       str(*t) + " along dimension " + Twine(d));
      } else if (a == kDyn) {
        shape[d] = b;
      }
    }
  }
  return push(makeTensor(in, shape, first->getElementType()), out);
}

template <typename OpT>
static LogicalResult inferReduce(MLIRContext *ctx, std::optional<Location> loc,
                                 ValueRange operands, DictionaryAttr attrs,
                                 OpaqueProperties props, SmallVectorImpl<Type> &out) {
  Infer in{loc};
  typename OpT::Adaptor adaptor(operands, withDefaults<OpT>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  auto x = operandType(in, operands, 0, "input");
  if (failed(x))
    return failure();
  int64_t rank = x->getRank();
  SmallVector<bool> reduced(rank, adaptor.getAxes().empty());
  for (int64_t a : adaptor.getAxes()) {
    auto n = normAxis(in, a, rank, "reduction axis");
    if (failed(n))
      return failure();
    if (reduced[*n])
      return in.fail("reduction axes " + dimsStr(adaptor.getAxes()) + " list axis " + Twine(*n) +
                     " more than once");
    reduced[*n] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    if (!reduced[d])
      shape.push_back(x->getDimSize(d));
    else if (adaptor.getKeepdims())
      shape.push_back(1);
  }
  return push(makeTensor(in, shape, x->getElementType()), out);
}

#define KILN_REDUCE_OP(OP)                                                              \
  LogicalResult OP::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,     \
                                     ValueRange operands, DictionaryAttr attrs,         \
                                     OpaqueProperties props, RegionRange,               \
                                     SmallVectorImpl<Type> &out) {                      \
    return inferReduce<OP>(ctx, loc, operands, attrs, props, out);                      \
  }
KILN_REDUCE_OP(ReduceSumOp)
KILN_REDUCE_OP(ReduceMeanOp)
KILN_REDUCE_OP(ReduceMaxOp)
KILN_REDUCE_OP(ReduceMinOp)
#undef KILN_REDUCE_OP

//===----------------------------------------------------------------------===//
// Losses and metrics
//===----------------------------------------------------------------------===//

/// Integer class labels: the prediction shape without its class axis, or
/// with a trailing 1 in its place (Keras accepts both).
static LogicalResult checkSparseLabels(const Infer &in, RankedTensorType labels,
                                       RankedTensorType preds) {
  if (preds.getRank() < 1)
    return in.fail("predictions " + str(preds) + " need a class axis");
  ArrayRef<int64_t> ps = preds.getShape().drop_back();
  ArrayRef<int64_t> ls = labels.getShape();
  if (ls.size() == ps.size() + 1 && ls.back() == 1)
    ls = ls.drop_back();
  if (failed(verifyCompatibleShape(ls, ps)))
    return in.fail("integer labels " + str(labels) + " do not match predictions " + str(preds) +
                   ": expected one class index per prediction, shape " + dimsStr(ps));
  return success();
}

static LogicalResult inferLoss(std::optional<Location> loc, ValueRange operands, bool sparse,
                               SmallVectorImpl<Type> &out) {
  Infer in{loc};
  auto labels = operandType(in, operands, 0, "labels");
  auto preds = operandType(in, operands, 1, "predictions");
  if (failed(labels) || failed(preds))
    return failure();
  if (operands.size() > 2) { // samples: the number of real rows
    auto n = operandType(in, operands, 2, "samples");
    if (failed(n))
      return failure();
    if (n->getRank() != 0 || !n->getElementType().isF32())
      return in.fail("samples must be a scalar tensor<f32>, got " + str(*n));
    if (preds->getRank() < 1)
      return in.fail("predictions " + str(*preds) + " need a batch dimension when samples is given");
  }
  if (sparse) {
    if (!labels->getElementType().isInteger(32))
      return in.fail("sparse labels must be i32 class indices, got " + str(*labels));
    if (failed(checkSparseLabels(in, *labels, *preds)))
      return failure();
  } else if (labels->getElementType() != preds->getElementType()) {
    return in.fail("labels " + str(*labels) + " must have the element type of predictions " +
                   str(*preds));
  } else if (failed(verifyCompatibleShape(*labels, *preds))) {
    return in.fail("labels " + str(*labels) + " and predictions " + str(*preds) +
                   " must have the same shape");
  }
  out.push_back(RankedTensorType::get({}, preds->getElementType()));
  return success();
}

#define KILN_LOSS_OP(OP, SPARSE)                                                        \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location> loc,        \
                                     ValueRange operands, DictionaryAttr, OpaqueProperties, \
                                     RegionRange, SmallVectorImpl<Type> &out) {         \
    return inferLoss(loc, operands, SPARSE, out);                                       \
  }
KILN_LOSS_OP(MeanSquaredErrorOp, false)
KILN_LOSS_OP(MeanAbsoluteErrorOp, false)
KILN_LOSS_OP(BinaryCrossentropyOp, false)
KILN_LOSS_OP(CategoricalCrossentropyOp, false)
KILN_LOSS_OP(SparseCategoricalCrossentropyOp, true)
#undef KILN_LOSS_OP

LogicalResult AccuracyOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                           ValueRange operands, DictionaryAttr attrs,
                                           OpaqueProperties props, RegionRange,
                                           SmallVectorImpl<Type> &out) {
  Infer in{loc};
  Adaptor adaptor(operands, withDefaults<AccuracyOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  StringRef kind = adaptor.getKind();
  if (kind != "binary" && kind != "categorical" && kind != "sparse_categorical")
    return in.fail("accuracy kind must be \"binary\", \"categorical\" or "
                   "\"sparse_categorical\", got \"" +
                   kind + "\"");
  return inferLoss(loc, operands, kind == "sparse_categorical", out);
}

//===----------------------------------------------------------------------===//
// Ops of derivative rules and training steps
//===----------------------------------------------------------------------===//

#define KILN_BROADCAST_OP(OP)                                                          \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location> loc,       \
                                     ValueRange operands, DictionaryAttr, OpaqueProperties, \
                                     RegionRange, SmallVectorImpl<Type> &out) {        \
    return inferBroadcast(loc, operands, out);                                         \
  }
KILN_BROADCAST_OP(GreaterOp)
KILN_BROADCAST_OP(GreaterEqualOp)
KILN_BROADCAST_OP(EqualOp)
#undef KILN_BROADCAST_OP

static LogicalResult checkShapeAttr(const Infer &in, ArrayRef<int64_t> shape, StringRef what) {
  for (int64_t d : shape)
    if (d < 1)
      return in.fail(what + " " + dimsStr(shape) + " must have positive dimensions");
  return success();
}

LogicalResult BroadcastToOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                              ValueRange operands, DictionaryAttr attrs,
                                              OpaqueProperties props, RegionRange,
                                              SmallVectorImpl<Type> &out) {
  Infer in{loc};
  Adaptor adaptor(operands, withDefaults<BroadcastToOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  auto x = operandType(in, operands, 0, "operand");
  if (failed(x))
    return failure();
  ArrayRef<int64_t> to = adaptor.getShape(), from = x->getShape();
  if (failed(checkShapeAttr(in, to, "broadcast shape")))
    return failure();
  if (from.size() > to.size())
    return in.fail("cannot broadcast " + str(*x) + " to the lower-rank shape " + dimsStr(to));
  for (size_t i = 0; i < from.size(); ++i) {
    int64_t f = from[from.size() - 1 - i], t = to[to.size() - 1 - i];
    if (f != 1 && f != t && f != kDyn)
      return in.fail("cannot broadcast " + str(*x) + " to shape " + dimsStr(to));
  }
  return push(makeTensor(in, to, x->getElementType()), out);
}

LogicalResult DropoutMaskOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                              ValueRange operands, DictionaryAttr attrs,
                                              OpaqueProperties props, RegionRange,
                                              SmallVectorImpl<Type> &out) {
  Infer in{loc};
  Adaptor adaptor(operands, withDefaults<DropoutMaskOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  double rate = adaptor.getRate().convertToDouble();
  if (!(rate >= 0.0 && rate < 1.0))
    return in.fail("dropout rate must be in [0, 1), got " + Twine(std::to_string(rate)));
  auto like = operandType(in, operands, 1, "like");
  if (failed(like))
    return failure();
  out.push_back(*like);
  return success();
}

LogicalResult OneHotOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                         ValueRange operands, DictionaryAttr attrs,
                                         OpaqueProperties props, RegionRange,
                                         SmallVectorImpl<Type> &out) {
  Infer in{loc};
  Adaptor adaptor(operands, withDefaults<OneHotOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  auto labels = operandType(in, operands, 0, "labels");
  if (failed(labels))
    return failure();
  int64_t depth = adaptor.getDepth();
  if (depth < 1)
    return in.fail("one_hot depth must be positive, got " + Twine(depth));
  SmallVector<int64_t> shape(labels->getShape());
  if (!shape.empty() && shape.back() == 1)
    shape.back() = depth;
  else
    shape.push_back(depth);
  return push(makeTensor(in, shape, Float32Type::get(ctx)), out);
}

/// The forward result shape of a window op over `xs` (NHWC) with `channels`
/// output channels, compared with the gradient it receives.
static LogicalResult checkWindowGrad(const Infer &in, ArrayRef<int64_t> xs, ArrayRef<int64_t> window,
                                     ArrayRef<int64_t> strides, StringRef padding, int64_t channels,
                                     RankedTensorType grad) {
  bool same;
  if (failed(checkPositivePair(in, window, "window")) ||
      failed(checkPositivePair(in, strides, "strides")) || failed(checkPadding(in, padding, same)))
    return failure();
  if (xs.size() != 4)
    return in.fail("expected an NHWC shape of rank 4, got " + dimsStr(xs));
  auto shape = windowResultShape(in, xs, window, strides, same, channels, "window");
  if (failed(shape))
    return failure();
  if (failed(verifyCompatibleShape(*shape, grad.getShape())))
    return in.fail("gradient " + str(grad) + " does not match the forward result shape " +
                   dimsStr(*shape));
  return success();
}

LogicalResult Conv2DBackpropInputOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                                      ValueRange operands, DictionaryAttr attrs,
                                                      OpaqueProperties props, RegionRange,
                                                      SmallVectorImpl<Type> &out) {
  Infer in{loc};
  Adaptor adaptor(operands, withDefaults<Conv2DBackpropInputOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  auto g = operandType(in, operands, 0, "gradient");
  auto w = operandType(in, operands, 1, "kernel");
  if (failed(g) || failed(w))
    return failure();
  ArrayRef<int64_t> xs = adaptor.getInputShape();
  if (w->getRank() != 4 || !w->hasStaticShape() || xs.size() != 4 ||
      failed(checkShapeAttr(in, xs, "input_shape")))
    return in.fail("conv2d_backprop_input needs a static [kh, kw, in, out] kernel and an NHWC "
                   "input_shape");
  ArrayRef<int64_t> ws = w->getShape();
  if (xs[3] != ws[2])
    return in.fail("input_shape has " + Twine(xs[3]) + " channels, the kernel expects " +
                   Twine(ws[2]));
  if (failed(checkWindowGrad(in, xs, ws.take_front(2), adaptor.getStrides(), adaptor.getPadding(),
                             ws[3], *g)))
    return failure();
  return push(makeTensor(in, xs, g->getElementType()), out);
}

LogicalResult Conv2DBackpropFilterOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                                       ValueRange operands, DictionaryAttr attrs,
                                                       OpaqueProperties props, RegionRange,
                                                       SmallVectorImpl<Type> &out) {
  Infer in{loc};
  Adaptor adaptor(operands, withDefaults<Conv2DBackpropFilterOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  auto x = operandType(in, operands, 0, "input");
  auto g = operandType(in, operands, 1, "gradient");
  if (failed(x) || failed(g))
    return failure();
  ArrayRef<int64_t> ks = adaptor.getKernelShape();
  if (x->getRank() != 4 || ks.size() != 4 || failed(checkShapeAttr(in, ks, "kernel_shape")))
    return in.fail("conv2d_backprop_filter needs an NHWC input and a [kh, kw, in, out] "
                   "kernel_shape");
  if (x->getShape()[3] != ks[2])
    return in.fail("input has " + Twine(x->getShape()[3]) + " channels, kernel_shape expects " +
                   Twine(ks[2]));
  if (failed(checkWindowGrad(in, x->getShape(), ks.take_front(2), adaptor.getStrides(),
                             adaptor.getPadding(), ks[3], *g)))
    return failure();
  return push(makeTensor(in, ks, x->getElementType()), out);
}

LogicalResult MaxPool2DGradOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                                ValueRange operands, DictionaryAttr attrs,
                                                OpaqueProperties props, RegionRange,
                                                SmallVectorImpl<Type> &out) {
  Infer in{loc};
  Adaptor adaptor(operands, withDefaults<MaxPool2DGradOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  auto x = operandType(in, operands, 0, "input");
  auto g = operandType(in, operands, 1, "gradient");
  if (failed(x) || failed(g))
    return failure();
  if (x->getRank() != 4)
    return in.fail("max_pool2d_grad expects an NHWC input of rank 4, got " + str(*x));
  if (failed(checkWindowGrad(in, x->getShape(), adaptor.getPoolSize(), adaptor.getStrides(),
                             adaptor.getPadding(), x->getShape()[3], *g)))
    return failure();
  out.push_back(*x);
  return success();
}

LogicalResult AvgPool2DGradOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                                ValueRange operands, DictionaryAttr attrs,
                                                OpaqueProperties props, RegionRange,
                                                SmallVectorImpl<Type> &out) {
  Infer in{loc};
  Adaptor adaptor(operands, withDefaults<AvgPool2DGradOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  auto g = operandType(in, operands, 0, "gradient");
  if (failed(g))
    return failure();
  ArrayRef<int64_t> xs = adaptor.getInputShape();
  if (xs.size() != 4 || failed(checkShapeAttr(in, xs, "input_shape")))
    return in.fail("avg_pool2d_grad needs an NHWC input_shape of rank 4");
  if (failed(checkWindowGrad(in, xs, adaptor.getPoolSize(), adaptor.getStrides(),
                             adaptor.getPadding(), xs[3], *g)))
    return failure();
  return push(makeTensor(in, xs, g->getElementType()), out);
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                        ValueRange operands, DictionaryAttr attrs,
                                        OpaqueProperties props, RegionRange,
                                        SmallVectorImpl<Type> &out) {
  Infer in{loc};
  Adaptor adaptor(operands, withDefaults<SliceOp>(ctx, attrs), props);
  if (failed(adaptor.verify(loc.value_or(UnknownLoc::get(ctx)))))
    return failure();
  auto x = operandType(in, operands, 0, "operand");
  if (failed(x))
    return failure();
  ArrayRef<int64_t> start = adaptor.getStart(), sizes = adaptor.getSizes(), xs = x->getShape();
  if (start.size() != xs.size() || sizes.size() != xs.size())
    return in.fail("slice needs one start and one size per dimension of " + str(*x));
  for (size_t i = 0; i < xs.size(); ++i)
    if (start[i] < 0 || sizes[i] < 1 || (xs[i] != kDyn && (start[i] > xs[i] || sizes[i] > xs[i] - start[i])))
      return in.fail("slice start " + dimsStr(start) + " sizes " + dimsStr(sizes) +
                     " is out of bounds of " + str(*x));
  return push(makeTensor(in, sizes, x->getElementType()), out);
}

LogicalResult GradientOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                           ValueRange operands, DictionaryAttr, OpaqueProperties,
                                           RegionRange, SmallVectorImpl<Type> &out) {
  Infer in{loc};
  if (operands.empty())
    return in.fail("kiln.gradient needs a loss");
  auto loss = llvm::dyn_cast<RankedTensorType>(operands[0].getType());
  if (!loss || loss.getRank() != 0)
    return in.fail("the loss of kiln.gradient must be a scalar tensor, got " + str(operands[0].getType()));
  for (Value v : operands.drop_front())
    out.push_back(v.getType());
  return success();
}
