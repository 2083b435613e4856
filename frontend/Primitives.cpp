//===- Primitives.cpp - lowercase tensor functions of the graph form ------===//
//
// add(a, b), matmul(a, b), conv2d(x, w, strides=..., padding=...),
// reshape(x, (-1, 128)), reduce_mean(x, axis=1), param((784, 10)), ...
// Shapes given to primitives include the batch dimension (axis 0), unlike
// Keras layer arguments, which exclude it.
//
//===----------------------------------------------------------------------===//

#include "frontend/Importer.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::detail;

template <typename OpT>
static Value unary(Importer &im, Location loc, Value x) {
  return im.build<OpT>(loc, {x});
}

Value Importer::primitive(const Expr &call, StringRef name) {
  Location loc = location(call.loc);
  Args args;
  auto need = [&](StringRef param) -> Value {
    const Expr *e = args.get(param);
    if (!e) {
      error(call.loc, name + "(...) needs the argument '" + param + "'");
      return nullptr;
    }
    return tensorExpr(*e);
  };

  static const std::pair<StringRef, Value (*)(Importer &, Location, Value)> unaryOps[] = {
      {"neg", unary<NegOp>},         {"abs", unary<AbsOp>},       {"exp", unary<ExpOp>},
      {"log", unary<LogOp>},         {"sqrt", unary<SqrtOp>},     {"rsqrt", unary<RsqrtOp>},
      {"square", unary<SquareOp>},   {"tanh", unary<TanhOp>},     {"sigmoid", unary<SigmoidOp>},
      {"relu", unary<ReluOp>}};
  for (auto [fn, make] : unaryOps)
    if (name == fn) {
      if (!bindArgs(call, name, {"x"}, args))
        return nullptr;
      Value x = need("x");
      return x ? make(*this, loc, x) : nullptr;
    }

  if (llvm::is_contained({"add", "sub", "subtract", "mul", "multiply", "div", "divide",
                          "maximum", "minimum", "pow"},
                         name)) {
    if (!bindArgs(call, name, {"x", "y"}, args))
      return nullptr;
    Value a = need("x"), b = need("y");
    if (!a || !b)
      return nullptr;
    if (name == "add") return build<AddOp>(loc, {a, b});
    if (name == "sub" || name == "subtract") return build<SubOp>(loc, {a, b});
    if (name == "mul" || name == "multiply") return build<MulOp>(loc, {a, b});
    if (name == "div" || name == "divide") return build<DivOp>(loc, {a, b});
    if (name == "maximum") return build<MaxOp>(loc, {a, b});
    if (name == "minimum") return build<MinOp>(loc, {a, b});
    return build<PowOp>(loc, {a, b});
  }

  if (name == "matmul") {
    if (!bindArgs(call, name, {"a", "b"}, args))
      return nullptr;
    Value a = need("a"), b = need("b");
    return build<MatMulOp>(loc, {a, b});
  }

  if (name == "softmax" || name == "log_softmax") {
    if (!bindArgs(call, name, {"x", "axis"}, args))
      return nullptr;
    Value x = need("x");
    std::optional<int64_t> axis = -1;
    if (const Expr *a = args.get("axis"))
      axis = intArg(a, "axis", INT64_MIN);
    if (!x || !axis)
      return nullptr;
    NamedAttribute attr = builder.getNamedAttr("axis", builder.getI64IntegerAttr(*axis));
    return name == "softmax" ? build<SoftmaxOp>(loc, {x}, {attr})
                             : build<LogSoftmaxOp>(loc, {x}, {attr});
  }

  if (name == "conv2d" || name == "max_pool2d" || name == "avg_pool2d") {
    bool conv = name == "conv2d";
    if (!bindArgs(call, name,
                  conv ? ArrayRef<StringRef>{"x", "kernel", "strides", "padding"}
                       : ArrayRef<StringRef>{"x", "pool_size", "strides", "padding"},
                  args))
      return nullptr;
    Value x = need("x");
    Value w = conv ? need("kernel") : Value();
    if (!x || (conv && !w))
      return nullptr;
    NamedAttrList attrs;
    std::optional<SmallVector<int64_t>> window;
    if (!conv) {
      window = args.get("pool_size") ? intsArg(args.get("pool_size"), "pool_size", 2, 1)
                                     : SmallVector<int64_t>{2, 2};
      if (!window)
        return nullptr;
      attrs.append("pool_size", builder.getDenseI64ArrayAttr(*window));
    }
    const Expr *s = args.get("strides");
    auto strides = s && !isNone(s) ? intsArg(s, "strides", 2, 1)
                                   : (conv ? SmallVector<int64_t>{1, 1} : *window);
    if (!strides)
      return nullptr;
    attrs.append("strides", builder.getDenseI64ArrayAttr(*strides));
    if (const Expr *p = args.get("padding")) {
      auto padding = stringArg(p, "padding");
      if (!padding)
        return nullptr;
      attrs.append("padding", builder.getStringAttr(llvm::StringRef(*padding).lower()));
    }
    if (conv)
      return build<Conv2DOp>(loc, {x, w}, attrs);
    if (name == "max_pool2d")
      return build<MaxPool2DOp>(loc, {x}, attrs);
    return build<AvgPool2DOp>(loc, {x}, attrs);
  }

  if (name == "reshape" || name == "transpose") {
    StringRef what = name == "reshape" ? "shape" : "perm";
    if (!bindArgs(call, name, {"x", what}, args))
      return nullptr;
    Value x = need("x");
    const Expr *s = args.get(what);
    if (!s) {
      error(call.loc, name + "(...) needs the argument '" + what + "'");
      return nullptr;
    }
    auto dims = intsArg(s, what, 0, name == "reshape" ? -1 : 0);
    if (!x || !dims)
      return nullptr;
    NamedAttribute attr = builder.getNamedAttr(what, builder.getDenseI64ArrayAttr(*dims));
    return name == "reshape" ? build<ReshapeOp>(loc, {x}, {attr})
                             : build<TransposeOp>(loc, {x}, {attr});
  }

  if (name == "flatten") {
    if (!bindArgs(call, name, {"x"}, args))
      return nullptr;
    Value x = need("x");
    if (!x)
      return nullptr;
    auto t = llvm::cast<RankedTensorType>(x.getType());
    if (t.getRank() == 0) {
      error(call.loc, "flatten needs a tensor with a batch axis, got the scalar " + typeStr(t));
      return nullptr;
    }
    int64_t n = 1;
    for (int64_t d : t.getShape().drop_front()) {
      if (ShapedType::isDynamic(d)) {
        error(call.loc, "flatten needs the sizes after the batch dimension to be known, got " +
                            typeStr(t));
        return nullptr;
      }
      n *= d;
    }
    return build<ReshapeOp>(
        loc, {x}, {builder.getNamedAttr("shape", builder.getDenseI64ArrayAttr({-1, n}))});
  }

  if (name == "concat") {
    if (!bindArgs(call, name, {"values", "axis"}, args))
      return nullptr;
    const Expr *values = args.get("values");
    if (!values || (values->kind != Expr::Kind::List && values->kind != Expr::Kind::Tuple)) {
      error(values ? values->loc : call.loc,
            "concat takes a list of tensors: concat([a, b], axis=-1)");
      return nullptr;
    }
    SmallVector<Value> inputs;
    for (const ExprPtr &item : values->elements)
      inputs.push_back(tensorExpr(*item));
    std::optional<int64_t> axis = -1;
    if (const Expr *a = args.get("axis"))
      axis = intArg(a, "axis", INT64_MIN);
    if (!axis || llvm::is_contained(inputs, Value()))
      return nullptr;
    return build<ConcatOp>(loc, inputs,
                           {builder.getNamedAttr("axis", builder.getI64IntegerAttr(*axis))});
  }

  if (name.starts_with("reduce_")) {
    if (!bindArgs(call, name, {"x", "axis", "keepdims"}, args))
      return nullptr;
    Value x = need("x");
    std::optional<SmallVector<int64_t>> axes = SmallVector<int64_t>{};
    if (const Expr *a = args.get("axis"); a && !isNone(a))
      axes = intsArg(a, "axis", 0, INT64_MIN);
    std::optional<bool> keep = false;
    if (const Expr *k = args.get("keepdims"))
      keep = boolArg(k, "keepdims");
    if (!x || !axes || !keep)
      return nullptr;
    // axis=() reduces over nothing (NumPy); the op's empty `axes` means all.
    if (const Expr *a = args.get("axis");
        a && (a->kind == Expr::Kind::Tuple || a->kind == Expr::Kind::List) && a->elements.empty())
      return x;
    NamedAttrList attrs;
    attrs.append("axes", builder.getDenseI64ArrayAttr(*axes));
    attrs.append("keepdims", builder.getBoolAttr(*keep));
    if (name == "reduce_sum") return build<ReduceSumOp>(loc, {x}, attrs);
    if (name == "reduce_mean") return build<ReduceMeanOp>(loc, {x}, attrs);
    if (name == "reduce_max") return build<ReduceMaxOp>(loc, {x}, attrs);
    return build<ReduceMinOp>(loc, {x}, attrs);
  }

  if (name == "dropout") {
    if (!bindArgs(call, name, {"x", "rate", "seed"}, args))
      return nullptr;
    Value x = need("x");
    std::optional<double> rate =
        args.get("rate") ? floatArg(args.get("rate"), "rate") : std::optional<double>();
    if (!args.get("rate"))
      error(call.loc, "dropout(...) needs the argument 'rate'");
    std::optional<int64_t> seed = 0;
    if (const Expr *s = args.get("seed"); s && !isNone(s))
      seed = intArg(s, "seed", 0);
    if (!x || !rate || !seed)
      return nullptr;
    return build<DropoutOp>(loc, {x},
                            {builder.getNamedAttr("rate", builder.getF32FloatAttr(*rate)),
                             builder.getNamedAttr("seed", builder.getI64IntegerAttr(*seed))});
  }

  // param(shape, initializer=..., regularizer=..., trainable=True, name=...)
  if (!bindArgs(call, name, {"shape", "initializer", "regularizer", "trainable", "name"}, args))
    return nullptr;
  const Expr *s = args.get("shape");
  if (!s) {
    error(call.loc, "param(...) needs a shape, e.g. param((784, 10))");
    return nullptr;
  }
  auto shape = intsArg(s, "shape", 0, 1);
  std::optional<InitSpec> init = InitSpec{"glorot_uniform", {}};
  if (const Expr *i = args.get("initializer"))
    init = initializer(i, "initializer");
  std::optional<RegSpec> reg = RegSpec{};
  if (const Expr *r = args.get("regularizer"))
    reg = regularizer(r, "regularizer");
  std::optional<bool> trainable = true;
  if (const Expr *t = args.get("trainable"))
    trainable = boolArg(t, "trainable");
  std::optional<std::string> pname = pendingName;
  if (const Expr *n = args.get("name"))
    pname = stringArg(n, "name");
  if (!shape || !init || !reg || !trainable || !pname)
    return nullptr;
  if (pname->empty())
    pname = uniqueLayerName("param");
  return param(call.loc, *pname, *shape, *init, *reg, *trainable);
}
