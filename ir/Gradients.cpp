//===- Gradients.cpp - derivative rules of `kiln` ops ---------------------===//
//
// One buildGradients per differentiable op (DifferentiableOpInterface), in
// the order of KilnOps.td. Each rule receives the gradient `g` of the loss
// with respect to the op's result and builds, with `kiln` ops, the gradient
// with respect to each operand that needs one. Broadcasting ops sum their
// gradients back to the operand's shape. Rules run after batch
// specialisation: every shape is static.
//
// Fused rules for numerically delicate pairs (softmax + cross-entropy,
// sigmoid + binary cross-entropy) come from the losses' from_logits forms:
// the training builder rewrites loss(softmax(z)) to loss(z, from_logits), as
// Keras does, so the rule below for a logits loss is the stable one.
//
//===----------------------------------------------------------------------===//

#include "ir/GraphBuilder.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace kiln;

namespace {

using GradBuilder = GraphBuilder;

LogicalResult finish(GradBuilder &gb) { return success(gb.ok); }

/// Shared by the binary ops: operand gradients from the two unreduced ones.
LogicalResult binary(GradBuilder &gb, Operation *op, ArrayRef<bool> needed,
                     SmallVectorImpl<Value> &out, function_ref<Value()> lhs,
                     function_ref<Value()> rhs) {
  out.assign(2, Value());
  if (needed[0])
    out[0] = gb.reduceTo(lhs(), op->getOperand(0));
  if (needed[1])
    out[1] = gb.reduceTo(rhs(), op->getOperand(1));
  return finish(gb);
}

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise unary: g * f'(x)
//===----------------------------------------------------------------------===//

#define KILN_UNARY_RULE(OP, EXPR)                                                          \
  LogicalResult OP::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,             \
                                   SmallVectorImpl<Value> &out) {                            \
    GradBuilder gb(b, *this);                                                                \
    Value x = getOperand(), y = getResult();                                                 \
    (void)x, (void)y;                                                                        \
    out.assign(1, needed[0] ? Value(EXPR) : Value());                                        \
    return finish(gb);                                                                       \
  }

KILN_UNARY_RULE(NegOp, gb.neg(g))
KILN_UNARY_RULE(AbsOp, gb.mul(g, gb.make<SignOp>({x})))
KILN_UNARY_RULE(ExpOp, gb.mul(g, y))
KILN_UNARY_RULE(LogOp, gb.div(g, x))
KILN_UNARY_RULE(SqrtOp, gb.div(g, gb.mul(y, 2.0)))
// d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
KILN_UNARY_RULE(RsqrtOp, gb.mul(g, gb.mul(gb.mul(y, gb.make<SquareOp>({y})), -0.5)))
KILN_UNARY_RULE(SquareOp, gb.mul(g, gb.mul(x, 2.0)))
KILN_UNARY_RULE(TanhOp, gb.mul(g, gb.sub(gb.scalar(1.0), gb.make<SquareOp>({y}))))
KILN_UNARY_RULE(SigmoidOp, gb.mul(g, gb.mul(y, gb.sub(gb.scalar(1.0), y))))
// relu'(0) = 0, as TensorFlow and PyTorch define it. Written with y (y > 0
// exactly when x > 0): x then has no other user than the relu, so the bias
// add and the relu stay a GEMM / convolution epilogue (kernels/cpu).
KILN_UNARY_RULE(ReluOp, gb.mul(g, gb.greater(y, gb.scalar(0.0))))
// Outside a training step dropout is the identity (training steps replace it
// with a multiplication by kiln.dropout_mask).
KILN_UNARY_RULE(DropoutOp, g)
#undef KILN_UNARY_RULE

//===----------------------------------------------------------------------===//
// Elementwise binary, NumPy broadcasting
//===----------------------------------------------------------------------===//

LogicalResult AddOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                    SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  return binary(gb, *this, needed, out, [&] { return g; }, [&] { return g; });
}

LogicalResult SubOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                    SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  return binary(gb, *this, needed, out, [&] { return g; }, [&] { return gb.neg(g); });
}

LogicalResult MulOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                    SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  return binary(gb, *this, needed, out, [&] { return gb.mul(g, getRhs()); },
                [&] { return gb.mul(g, getLhs()); });
}

LogicalResult DivOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                    SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  // d(a/b)/db = -a/b^2 = -(a/b)/b
  return binary(gb, *this, needed, out, [&] { return gb.div(g, getRhs()); },
                [&] { return gb.neg(gb.div(gb.mul(g, getResult()), getRhs())); });
}

// Ties send the whole gradient to the left operand.
LogicalResult MaxOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                    SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  Value toLhs = gb.mul(g, gb.greaterEqual(getLhs(), getRhs()));
  return binary(gb, *this, needed, out, [&] { return toLhs; }, [&] { return gb.sub(g, toLhs); });
}

LogicalResult MinOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                    SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  Value toLhs = gb.mul(g, gb.greaterEqual(getRhs(), getLhs()));
  return binary(gb, *this, needed, out, [&] { return toLhs; }, [&] { return gb.sub(g, toLhs); });
}

LogicalResult PowOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                    SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  Value a = getLhs(), e = getRhs();
  // d(a^e)/da = e a^(e-1); d(a^e)/de = a^e log(a)
  return binary(
      gb, *this, needed, out,
      [&] { return gb.mul(g, gb.mul(e, gb.make<PowOp>({a, gb.sub(e, gb.scalar(1.0))}))); },
      [&] { return gb.mul(g, gb.mul(getResult(), gb.make<LogOp>({a}))); });
}

LogicalResult BroadcastToOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                            SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  out.assign(1, needed[0] ? gb.reduceTo(g, getOperand()) : Value());
  return finish(gb);
}

//===----------------------------------------------------------------------===//
// Softmax
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                        SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  Value y = getResult();
  int64_t axis = int64_t(getAxis());
  // y * (g - sum(g * y))
  Value dot = gb.sum(gb.mul(g, y), {axis}, /*keepdims=*/true);
  out.assign(1, needed[0] ? gb.mul(y, gb.sub(g, dot)) : Value());
  return finish(gb);
}

LogicalResult LogSoftmaxOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                           SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  // g - softmax(x) * sum(g)
  Value total = gb.sum(g, {int64_t(getAxis())}, /*keepdims=*/true);
  Value p = gb.make<ExpOp>({getResult()});
  out.assign(1, needed[0] ? gb.sub(g, gb.mul(p, total)) : Value());
  return finish(gb);
}

//===----------------------------------------------------------------------===//
// Contractions, convolution, pooling
//===----------------------------------------------------------------------===//

LogicalResult MatMulOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                       SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  auto swapLast = [&](Value v) {
    SmallVector<int64_t> perm = llvm::to_vector(llvm::seq<int64_t>(0, gb.rank(v)));
    std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
    return gb.transpose(v, perm);
  };
  // The rule is written for the logical operands; a transposed layout gets
  // its gradient transposed back (kiln-assign-layouts folds both again).
  Value a = getTransposeLhs() ? swapLast(getLhs()) : getLhs();
  Value w = getTransposeRhs() ? swapLast(getRhs()) : getRhs();
  int64_t ra = gb.rank(a), rw = gb.rank(w);
  out.assign(2, Value());
  if (needed[0]) // [.., M, N] x [.., N, K]
    out[0] = gb.make<MatMulOp>({g, swapLast(w)});
  if (needed[1]) {
    if (rw == 2 && ra > 2) { // a shared matrix: fold the batch dimensions into M
      int64_t k = gb.shape(a).back(), n = gb.shape(g).back();
      Value a2 = gb.reshape(a, {int64_t(gb.numel(a)) / k, k});
      Value g2 = gb.reshape(g, {int64_t(gb.numel(g)) / n, n});
      out[1] = gb.make<MatMulOp>({swapLast(a2), g2});
    } else {
      out[1] = gb.make<MatMulOp>({swapLast(a), g});
    }
  }
  if (out[0] && getTransposeLhs())
    out[0] = swapLast(out[0]);
  if (out[1] && getTransposeRhs())
    out[1] = swapLast(out[1]);
  return finish(gb);
}

LogicalResult Conv2DOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                       SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  NamedAttribute strides = gb.attr("strides", getStridesAttr());
  NamedAttribute padding = gb.attr("padding", getPaddingAttr());
  out.assign(2, Value());
  if (needed[0])
    out[0] = gb.make<Conv2DBackpropInputOp>(
        {g, getKernel()}, {gb.ints("input_shape", gb.shape(getInput())), strides, padding});
  if (needed[1])
    out[1] = gb.make<Conv2DBackpropFilterOp>(
        {getInput(), g}, {gb.ints("kernel_shape", gb.shape(getKernel())), strides, padding});
  return finish(gb);
}

LogicalResult MaxPool2DOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                          SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  out.assign(1, needed[0] ? gb.make<MaxPool2DGradOp>(
                                {getInput(), g}, {gb.attr("pool_size", getPoolSizeAttr()),
                                                  gb.attr("strides", getStridesAttr()),
                                                  gb.attr("padding", getPaddingAttr())})
                          : Value());
  return finish(gb);
}

LogicalResult AvgPool2DOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                          SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  out.assign(1, needed[0] ? gb.make<AvgPool2DGradOp>(
                                {g}, {gb.ints("input_shape", gb.shape(getInput())),
                                      gb.attr("pool_size", getPoolSizeAttr()),
                                      gb.attr("strides", getStridesAttr()),
                                      gb.attr("padding", getPaddingAttr())})
                          : Value());
  return finish(gb);
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                        SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  out.assign(1, needed[0] ? gb.reshape(g, gb.shape(getOperand())) : Value());
  return finish(gb);
}

LogicalResult TransposeOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                          SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  ArrayRef<int64_t> perm = getPerm();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[p] = int64_t(i);
  out.assign(1, needed[0] ? gb.transpose(g, inverse) : Value());
  return finish(gb);
}

LogicalResult SliceOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                      SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  out.assign(1, Value());
  if (!needed[0])
    return success();
  // Zeros around the slice: concatenate zero blocks before and after along
  // each sliced dimension, innermost last.
  Value grad = g;
  ArrayRef<int64_t> full = gb.shape(getOperand()), start = getStart();
  for (int64_t d = 0; d < gb.rank(grad); ++d) {
    SmallVector<int64_t> cur(gb.shape(grad));
    int64_t before = start[d], after = full[d] - start[d] - cur[d];
    SmallVector<Value> parts;
    auto zeros = [&](int64_t n) {
      SmallVector<int64_t> s = cur;
      s[d] = n;
      return gb.broadcastTo(gb.scalar(0.0), s);
    };
    if (before > 0)
      parts.push_back(zeros(before));
    parts.push_back(grad);
    if (after > 0)
      parts.push_back(zeros(after));
    if (parts.size() > 1)
      grad = gb.make<ConcatOp>(parts, {gb.attr("axis", b.getI64IntegerAttr(d))});
  }
  out[0] = grad;
  return finish(gb);
}

LogicalResult ConcatOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                       SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  int64_t rank = gb.rank(g), axis = int64_t(getAxis());
  if (axis < 0)
    axis += rank;
  out.assign(getInputs().size(), Value());
  int64_t offset = 0;
  for (auto [i, input] : llvm::enumerate(getInputs())) {
    ArrayRef<int64_t> s = gb.shape(input);
    if (needed[i]) {
      SmallVector<int64_t> start(rank, 0);
      start[axis] = offset;
      out[i] = gb.make<SliceOp>({g}, {gb.ints("start", start), gb.ints("sizes", s)});
    }
    offset += s[axis];
  }
  return finish(gb);
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

LogicalResult ReduceSumOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                          SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  out.assign(1, needed[0] ? gb.unreduce(g, getOperand(), getAxes()) : Value());
  return finish(gb);
}

LogicalResult ReduceMeanOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                           SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, *this);
  double count = double(gb.numel(getOperand())) / double(gb.numel(getResult()));
  out.assign(1, needed[0] ? gb.mul(gb.unreduce(g, getOperand(), getAxes()), 1.0 / count) : Value());
  return finish(gb);
}

/// reduce_max / reduce_min: the gradient is shared equally by the elements
/// equal to the extremum (as TensorFlow shares it).
static LogicalResult extremumGradient(Operation *op, OpBuilder &b, Value g, ArrayRef<int64_t> axes,
                                      ArrayRef<bool> needed, SmallVectorImpl<Value> &out) {
  GradBuilder gb(b, op);
  out.assign(1, Value());
  if (!needed[0])
    return success();
  Value x = op->getOperand(0);
  Value hit = gb.make<EqualOp>({x, gb.unreduce(op->getResult(0), x, axes)});
  Value count = gb.unreduce(gb.sum(hit, axes, /*keepdims=*/false), x, axes);
  out[0] = gb.div(gb.mul(hit, gb.unreduce(g, x, axes)), count);
  return finish(gb);
}

LogicalResult ReduceMaxOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                          SmallVectorImpl<Value> &out) {
  return extremumGradient(*this, b, g, getAxes(), needed, out);
}

LogicalResult ReduceMinOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                          SmallVectorImpl<Value> &out) {
  return extremumGradient(*this, b, g, getAxes(), needed, out);
}

//===----------------------------------------------------------------------===//
// Losses: gradients with respect to the predictions (labels are data)
//===----------------------------------------------------------------------===//

namespace {
constexpr double kEpsilon = 1e-7; // Keras's probability clip

/// d(batch mean)/d(term) times g, for a loss or metric averaging `count`
/// terms of `p` (batch dimension first): g / count; with `samples`, g over
/// the terms of the first `samples` rows on those rows and 0 on the padding.
Value meanScale(GradBuilder &gb, Value g, Value p, Value samples, double count) {
  if (!samples)
    return gb.mul(g, 1.0 / count);
  ArrayRef<int64_t> shape = gb.shape(p);
  int64_t batch = shape[0];
  std::vector<float> index(batch);
  for (int64_t i = 0; i < batch; ++i)
    index[i] = float(i);
  auto t = RankedTensorType::get({batch}, gb.b.getF32Type());
  Value rows = gb.make<ConstantOp>({}, {gb.attr("value", DenseElementsAttr::get(t, ArrayRef<float>(index)))});
  SmallVector<int64_t> column(shape.size(), 1);
  column[0] = batch;
  Value real = gb.reshape(gb.greater(samples, rows), column);
  return gb.mul(real, gb.div(g, gb.mul(samples, count / double(batch))));
}

/// 1 where eps <= p <= 1 - eps (the clip passes the gradient), else 0.
Value insideClip(GradBuilder &gb, Value p) {
  return gb.mul(gb.greaterEqual(p, gb.scalar(kEpsilon)),
                gb.greaterEqual(gb.scalar(1.0 - kEpsilon), p));
}

Value clip(GradBuilder &gb, Value p) {
  return gb.make<MinOp>({gb.make<MaxOp>({p, gb.scalar(kEpsilon)}), gb.scalar(1.0 - kEpsilon)});
}

/// Gradient of the mean over rows of -sum(y * log(p)) along the last axis:
/// logits form (softmax(z) * sum(y) - y) / rows; probability form through
/// Keras's normalisation q = p / sum(p) and clip.
Value categoricalGradient(GradBuilder &gb, Value g, Value y, Value p, Value samples, bool logits) {
  double rows = double(gb.numel(p) / gb.shape(p).back());
  Value scale = meanScale(gb, g, p, samples, rows);
  if (logits) {
    Value sm = gb.make<SoftmaxOp>({p}, {gb.attr("axis", gb.b.getI64IntegerAttr(-1))});
    return gb.mul(scale, gb.sub(gb.mul(sm, gb.sumLast(y)), y));
  }
  Value s = gb.sumLast(p);
  Value q = gb.div(p, s);
  // u = dL/dq = -y / clip(q) inside the clip range
  Value u = gb.neg(gb.mul(gb.div(y, clip(gb, q)), insideClip(gb, q)));
  // dL/dp = (u - sum(u * q)) / s
  return gb.mul(scale, gb.div(gb.sub(u, gb.sumLast(gb.mul(u, q))), s));
}

template <typename LossOp>
LogicalResult onlyPredictions(LossOp op, OpBuilder &b, ArrayRef<bool> needed,
                              SmallVectorImpl<Value> &out, function_ref<Value(GradBuilder &)> rule) {
  GradBuilder gb(b, op);
  out.assign(op->getNumOperands(), Value());
  if (needed[0])
    return op.emitError("gradients with respect to the labels of ")
           << op->getName() << " are not supported";
  if (needed[1])
    out[1] = rule(gb);
  return finish(gb);
}
} // namespace

LogicalResult MeanSquaredErrorOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                                 SmallVectorImpl<Value> &out) {
  return onlyPredictions(*this, b, needed, out, [&](GradBuilder &gb) {
    Value p = getPredictions();
    return gb.mul(gb.mul(meanScale(gb, g, p, getSamples(), double(gb.numel(p))), 2.0), gb.sub(p, getLabels()));
  });
}

LogicalResult MeanAbsoluteErrorOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                                  SmallVectorImpl<Value> &out) {
  return onlyPredictions(*this, b, needed, out, [&](GradBuilder &gb) {
    Value p = getPredictions();
    return gb.mul(meanScale(gb, g, p, getSamples(), double(gb.numel(p))), gb.make<SignOp>({gb.sub(p, getLabels())}));
  });
}

LogicalResult BinaryCrossentropyOp::buildGradients(OpBuilder &b, Value g, ArrayRef<bool> needed,
                                                   SmallVectorImpl<Value> &out) {
  return onlyPredictions(*this, b, needed, out, [&](GradBuilder &gb) {
    Value p = getPredictions(), y = getLabels();
    Value scale = meanScale(gb, g, p, getSamples(), double(gb.numel(p)));
    if (getFromLogits()) // sigmoid(z) - y
      return gb.mul(scale, gb.sub(gb.make<SigmoidOp>({p}), y));
    // (q - y) / (q (1 - q)) with q = clip(p), zero where the clip is active
    Value q = clip(gb, p);
    Value d = gb.div(gb.sub(q, y), gb.mul(q, gb.sub(gb.scalar(1.0), q)));
    return gb.mul(scale, gb.mul(d, insideClip(gb, p)));
  });
}

LogicalResult CategoricalCrossentropyOp::buildGradients(OpBuilder &b, Value g,
                                                        ArrayRef<bool> needed,
                                                        SmallVectorImpl<Value> &out) {
  return onlyPredictions(*this, b, needed, out, [&](GradBuilder &gb) {
    return categoricalGradient(gb, g, getLabels(), getPredictions(), getSamples(), getFromLogits());
  });
}

LogicalResult SparseCategoricalCrossentropyOp::buildGradients(OpBuilder &b, Value g,
                                                              ArrayRef<bool> needed,
                                                              SmallVectorImpl<Value> &out) {
  return onlyPredictions(*this, b, needed, out, [&](GradBuilder &gb) {
    Value p = getPredictions();
    Value y = gb.make<OneHotOp>({getLabels()}, {gb.attr("depth", b.getI64IntegerAttr(gb.shape(p).back()))});
    return categoricalGradient(gb, g, y, p, getSamples(), getFromLogits());
  });
}
