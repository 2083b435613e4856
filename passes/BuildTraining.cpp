//===- BuildTraining.cpp - train_step, eval_step, gradients ---------------===//
//
// Builds the training entry points of a model from its `predict` function
// and its `kiln.training` op, all in the `kiln` dialect: the loss and
// metrics (Keras semantics), the regularisation terms, a `kiln.gradient`
// placeholder (expanded later by kiln-generate-gradients), and the
// optimizer's update as ordinary graph ops over explicit state parameters,
// so no backend special-cases an optimizer.
//
//===----------------------------------------------------------------------===//
#include "ir/GraphBuilder.h"
#include "passes/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/MapVector.h"

namespace kiln {
#define GEN_PASS_DEF_BUILDTRAINING
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

enum class Mode { Eval, Train, Gradients };

/// A hyperparameter of the optimizer config, or `dflt` when absent.
double hyper(TrainingOp t, StringRef name, double dflt) {
  Attribute a = t.getOptimizerConfig().get(name);
  if (auto f = llvm::dyn_cast_or_null<FloatAttr>(a))
    return f.getValueAsDouble();
  if (auto i = llvm::dyn_cast_or_null<IntegerAttr>(a))
    return double(i.getInt());
  return dflt;
}
bool flag(TrainingOp t, StringRef name) {
  auto b = llvm::dyn_cast_or_null<BoolAttr>(t.getOptimizerConfig().get(name));
  return b && b.getValue();
}
bool present(TrainingOp t, StringRef name) { return bool(t.getOptimizerConfig().get(name)); }

struct TrainingBuilder {
  ModuleOp module;
  TrainingOp training;
  func::FuncOp predict;
  MLIRContext *ctx;

  /// State parameters declared so far, by name.
  llvm::StringMap<ParamOp> state;

  /// Declares (once) an optimizer state parameter, zero-initialised unless
  /// `initial` is given.
  ParamOp stateParam(StringRef name, RankedTensorType type, std::optional<double> initial = {}) {
    if (ParamOp p = state.lookup(name))
      return p;
    OpBuilder b(ctx);
    b.setInsertionPoint(predict);
    NamedAttrList attrs;
    attrs.append("sym_name", b.getStringAttr(name));
    attrs.append("type", TypeAttr::get(type));
    if (initial) {
      attrs.append("initializer", b.getStringAttr("constant"));
      attrs.append("init_config",
                   b.getDictionaryAttr({b.getNamedAttr("value", b.getF32FloatAttr(*initial))}));
    } else {
      attrs.append("initializer", b.getStringAttr("zeros"));
    }
    attrs.append("state", b.getUnitAttr());
    OperationState st(training.getLoc(), ParamOp::getOperationName());
    st.addAttributes(attrs);
    auto p = cast<ParamOp>(b.create(st));
    state[name] = p;
    return p;
  }

  LogicalResult checkSupported() {
    for (StringRef name : {"loss_scale_factor", "gradient_accumulation_steps", "ema_overwrite_frequency"})
      if (present(training, name))
        return training.emitError("the optimizer option ")
               << name << " is not supported by Kiln yet";
    if (flag(training, "use_ema"))
      return training.emitError("the optimizer option use_ema is not supported by Kiln yet");
    if (predict.getNumResults() != 1)
      return training.emitError("training needs a model with one output; this one has ")
             << predict.getNumResults();
    return success();
  }

  /// The labels' type for the model output `out`.
  Type labelType(Type out) {
    auto t = llvm::cast<RankedTensorType>(out);
    if (training.getLoss() == "sparse_categorical_crossentropy")
      return RankedTensorType::get(t.getShape().drop_back(), IntegerType::get(ctx, 32));
    return t;
  }

  /// The loss op on (labels, out). A loss of softmax / sigmoid probabilities
  /// is computed from the logits instead (the stable fused form, as Keras
  /// computes it when the probabilities come from that activation).
  Value buildLoss(GraphBuilder &gb, Value labels, Value out, Value samples) {
    StringRef loss = training.getLoss();
    bool logits = training.getFromLogits();
    Operation *def = out.getDefiningOp();
    bool categorical = loss == "categorical_crossentropy" || loss == "sparse_categorical_crossentropy";
    if (!logits && def) {
      auto softmax = dyn_cast<SoftmaxOp>(def);
      int64_t rank = llvm::cast<RankedTensorType>(out.getType()).getRank();
      if (categorical && softmax &&
          (int64_t(softmax.getAxis()) == -1 || int64_t(softmax.getAxis()) == rank - 1)) {
        out = softmax.getOperand();
        logits = true;
      } else if (loss == "binary_crossentropy" && isa<SigmoidOp>(def)) {
        out = def->getOperand(0);
        logits = true;
      }
    }
    NamedAttribute fl = gb.attr("from_logits", BoolAttr::get(ctx, logits));
    if (loss == "mean_squared_error")
      return gb.make<MeanSquaredErrorOp>({labels, out, samples});
    if (loss == "mean_absolute_error")
      return gb.make<MeanAbsoluteErrorOp>({labels, out, samples});
    if (loss == "binary_crossentropy")
      return gb.make<BinaryCrossentropyOp>({labels, out, samples}, {fl});
    if (loss == "categorical_crossentropy")
      return gb.make<CategoricalCrossentropyOp>({labels, out, samples}, {fl});
    return gb.make<SparseCategoricalCrossentropyOp>({labels, out, samples}, {fl});
  }

  /// Keras adds each regularised weight's penalty to the loss:
  /// l1 * sum(|w|) + l2 * sum(w^2).
  Value addRegularization(GraphBuilder &gb, Value loss, const llvm::MapVector<StringAttr, Value> &reads) {
    for (auto [name, w] : reads) {
      auto p = module.lookupSymbol<ParamOp>(name);
      if (!p)
        continue;
      if (auto l1 = p.getL1(); l1 && l1->convertToDouble() != 0.0)
        loss = gb.add(loss, gb.mul(gb.sum(gb.make<AbsOp>({w}), {}, false), l1->convertToDouble()));
      if (auto l2 = p.getL2(); l2 && l2->convertToDouble() != 0.0)
        loss = gb.add(loss, gb.mul(gb.sum(gb.make<SquareOp>({w}), {}, false), l2->convertToDouble()));
    }
    return loss;
  }

  /// Metric outputs, named as the training op lists them.
  void buildMetrics(GraphBuilder &gb, Value labels, Value out, Value samples,
                    SmallVectorImpl<Value> &values, SmallVectorImpl<StringRef> &names) {
    for (Attribute a : training.getMetrics()) {
      StringRef m = llvm::cast<StringAttr>(a).getValue();
      Value v;
      if (m == "mean_squared_error")
        v = gb.make<MeanSquaredErrorOp>({labels, out, samples});
      else if (m == "mean_absolute_error")
        v = gb.make<MeanAbsoluteErrorOp>({labels, out, samples});
      else {
        StringRef kind = m.ends_with("_accuracy") ? m.drop_back(strlen("_accuracy")) : "categorical";
        v = gb.make<AccuracyOp>({labels, out, samples}, {gb.attr("kind", StringAttr::get(ctx, kind))});
      }
      values.push_back(v);
      names.push_back(m);
    }
  }

  /// predict's body cloned as a new function `name` with a labels argument;
  /// every parameter read once, at the top, in first-use order.
  func::FuncOp cloneForward(StringRef name, llvm::MapVector<StringAttr, Value> &reads) {
    func::FuncOp f = predict.clone();
    f.setName(name);
    module.getBody()->getOperations().insert(std::next(Block::iterator(predict)), f);
    Block &entry = f.getBody().front();
    SmallVector<ReadParamOp> all(entry.getOps<ReadParamOp>());
    for (ReadParamOp r : all) {
      StringAttr sym = r.getNameAttr().getAttr();
      auto [it, fresh] = reads.insert({sym, r.getResult()});
      if (fresh) {
        r->moveBefore(&entry, entry.begin());
      } else {
        r.replaceAllUsesWith(it->second);
        r.erase();
      }
    }
    // Keep first-use order at the top (moveBefore(begin) reversed it).
    Operation *anchor = nullptr;
    for (auto &[sym, v] : reads) {
      Operation *op = v.getDefiningOp();
      if (anchor)
        op->moveAfter(anchor);
      else
        op->moveBefore(&entry, entry.begin());
      anchor = op;
    }
    return f;
  }

  Value readState(OpBuilder &b, ParamOp p) {
    return b.create<ReadParamOp>(training.getLoc(), p.getType(), FlatSymbolRefAttr::get(p.getSymNameAttr()));
  }

  /// Training-mode dropout: x * mask, the mask drawn from the step counter.
  void enableDropout(func::FuncOp f, Value step) {
    SmallVector<DropoutOp> drops(f.getBody().front().getOps<DropoutOp>());
    for (DropoutOp d : drops) {
      OpBuilder b(d);
      GraphBuilder gb(b, d);
      Value mask = gb.make<DropoutMaskOp>({step, d.getOperand()},
                                          {gb.attr("rate", d.getRateAttr()), gb.attr("seed", d.getSeedAttr())});
      Value kept = gb.mul(d.getOperand(), mask);
      d.replaceAllUsesWith(kept);
      d.erase();
    }
  }

  LogicalResult buildStep(StringRef name, Mode mode) {
    llvm::MapVector<StringAttr, Value> reads;
    func::FuncOp f = cloneForward(name, reads);
    Block &entry = f.getBody().front();
    auto ret = cast<func::ReturnOp>(entry.getTerminator());
    Value out = ret.getOperand(0);
    Location loc = training.getLoc();
    unsigned labelsIndex = f.getNumArguments();
    f.insertArgument(labelsIndex, labelType(out.getType()),
                     DictionaryAttr::get(ctx, {NamedAttribute(StringAttr::get(ctx, "kiln.name"),
                                                              StringAttr::get(ctx, "labels"))}),
                     loc);
    Value labels = f.getArgument(labelsIndex);
    // The number of real samples in the batch: a final partial batch is
    // padded, and losses and metrics average over its first `samples` rows.
    f.insertArgument(labelsIndex + 1, RankedTensorType::get({}, Float32Type::get(ctx)),
                     DictionaryAttr::get(ctx, {NamedAttribute(StringAttr::get(ctx, "kiln.name"),
                                                              StringAttr::get(ctx, "samples"))}),
                     loc);
    Value samples = f.getArgument(labelsIndex + 1);

    OpBuilder b(ret);
    GraphBuilder gb(b, training);
    auto f32 = [&](ArrayRef<int64_t> shape) { return RankedTensorType::get(shape, b.getF32Type()); };
    Value step;
    if (mode != Mode::Eval) {
      OpBuilder top(&entry, entry.begin());
      step = readState(top, stateParam("optimizer/iterations", f32({})));
      enableDropout(f, step);
    }
    Value loss = addRegularization(gb, buildLoss(gb, labels, out, samples), reads);
    SmallVector<Value> results{loss};
    SmallVector<StringRef> names{"loss"};
    if (mode != Mode::Gradients)
      buildMetrics(gb, labels, out, samples, results, names);

    if (mode != Mode::Eval) {
      SmallVector<std::pair<ParamOp, Value>> trainable;
      for (auto [sym, v] : reads)
        if (auto p = module.lookupSymbol<ParamOp>(sym); p && p.getTrainable() && !p.getState())
          trainable.push_back({p, v});
      SmallVector<Value> wrt;
      SmallVector<Type> types;
      for (auto &[p, v] : trainable) {
        wrt.push_back(v);
        types.push_back(v.getType());
      }
      SmallVector<Value> operands{loss};
      operands.append(wrt);
      auto grad = b.create<GradientOp>(loc, types, operands);
      SmallVector<Value> grads(grad.getResults());
      if (mode == Mode::Gradients) {
        for (auto [pv, g] : llvm::zip(trainable, grads)) {
          results.push_back(g);
          names.push_back(pv.first.getSymName());
        }
      } else if (failed(buildUpdate(gb, step, trainable, grads))) {
        return failure();
      }
    }
    if (!gb.ok)
      return failure();

    ret->setOperands(results);
    SmallVector<Type> resultTypes;
    SmallVector<DictionaryAttr> resultAttrs;
    for (auto [v, n] : llvm::zip(results, names)) {
      resultTypes.push_back(v.getType());
      resultAttrs.push_back(DictionaryAttr::get(
          ctx, {NamedAttribute(StringAttr::get(ctx, "kiln.name"), StringAttr::get(ctx, n))}));
    }
    f.setFunctionType(FunctionType::get(ctx, f.getArgumentTypes(), resultTypes));
    f.setAllResultAttrs(resultAttrs);
    return success();
  }

  /// Keras 3's Optimizer.apply: clip the gradients, decay the weights, take
  /// the optimizer's step, count it. All reads of a parameter's old value
  /// come before its new value is computed (kiln-update-in-place relies on it).
  LogicalResult buildUpdate(GraphBuilder &gb, Value step, ArrayRef<std::pair<ParamOp, Value>> params,
                            SmallVector<Value> grads) {
    OpBuilder &b = gb.b;
    StringRef opt = training.getOptimizer();
    auto scalarType = RankedTensorType::get({}, b.getF32Type());
    Value lr = readState(b, stateParam("optimizer/learning_rate", scalarType,
                                       hyper(training, "learning_rate", 0.001)));
    Value localStep = gb.add(step, gb.scalar(1.0));
    b.create<AssignOp>(training.getLoc(), FlatSymbolRefAttr::get(ctx, "optimizer/iterations"), localStep);

    auto clipByNorm = [&](Value g, Value norm, double c) {
      return gb.mul(g, gb.div(gb.scalar(c), gb.make<MaxOp>({norm, gb.scalar(c)})));
    };
    auto l2norm = [&](Value g) { return gb.make<SqrtOp>({gb.sum(gb.make<SquareOp>({g}), {}, false)}); };
    if (present(training, "clipnorm"))
      for (Value &g : grads)
        g = clipByNorm(g, l2norm(g), hyper(training, "clipnorm", 0));
    if (present(training, "clipvalue")) {
      double v = hyper(training, "clipvalue", 0);
      for (Value &g : grads)
        g = gb.make<MinOp>({gb.make<MaxOp>({g, gb.scalar(-v)}), gb.scalar(v)});
    }
    if (present(training, "global_clipnorm") && !grads.empty()) {
      Value total = gb.scalar(0.0);
      for (Value g : grads)
        total = gb.add(total, gb.sum(gb.make<SquareOp>({g}), {}, false));
      Value norm = gb.make<SqrtOp>({total});
      for (Value &g : grads)
        g = clipByNorm(g, norm, hyper(training, "global_clipnorm", 0));
    }

    for (auto [pv, g] : llvm::zip(params, grads)) {
      auto [param, w] = pv;
      auto type = llvm::cast<RankedTensorType>(w.getType());
      auto slot = [&](StringRef what) {
        return stateParam(("optimizer/" + param.getSymName() + "/" + what).str(), type);
      };
      auto assign = [&](ParamOp p, Value v) {
        b.create<AssignOp>(training.getLoc(), FlatSymbolRefAttr::get(p.getSymNameAttr()), v);
      };
      if (present(training, "weight_decay")) // w -= w * wd * lr
        w = gb.sub(w, gb.mul(w, gb.mul(lr, hyper(training, "weight_decay", 0))));

      Value next;
      if (opt == "sgd") {
        double momentum = hyper(training, "momentum", 0.0);
        Value lg = gb.mul(g, lr);
        if (momentum != 0.0) {
          ParamOp mp = slot("momentum");
          Value m = gb.sub(gb.mul(readState(b, mp), momentum), lg); // m = m * mu - g * lr
          assign(mp, m);
          next = flag(training, "nesterov") ? gb.add(w, gb.sub(gb.mul(m, momentum), lg))
                                            : gb.add(w, m);
        } else {
          next = gb.sub(w, lg);
        }
      } else if (opt == "adam" || opt == "adamw") {
        double b1 = hyper(training, "beta_1", 0.9), b2 = hyper(training, "beta_2", 0.999);
        double eps = hyper(training, "epsilon", 1e-7);
        // alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
        Value b1t = gb.make<PowOp>({gb.scalar(b1), localStep});
        Value b2t = gb.make<PowOp>({gb.scalar(b2), localStep});
        Value alpha = gb.div(gb.mul(lr, gb.make<SqrtOp>({gb.sub(gb.scalar(1.0), b2t)})),
                             gb.sub(gb.scalar(1.0), b1t));
        ParamOp mp = slot("m"), vp = slot("v");
        Value m0 = readState(b, mp), v0 = readState(b, vp);
        Value m = gb.add(m0, gb.mul(gb.sub(g, m0), 1.0 - b1));
        Value v = gb.add(v0, gb.mul(gb.sub(gb.make<SquareOp>({g}), v0), 1.0 - b2));
        assign(mp, m);
        assign(vp, v);
        if (flag(training, "amsgrad")) {
          ParamOp hp = slot("v_hat");
          v = gb.make<MaxOp>({readState(b, hp), v});
          assign(hp, v);
        }
        next = gb.sub(w, gb.div(gb.mul(m, alpha), gb.add(gb.make<SqrtOp>({v}), gb.scalar(eps))));
      } else if (opt == "rmsprop") {
        double rho = hyper(training, "rho", 0.9), momentum = hyper(training, "momentum", 0.0);
        double eps = hyper(training, "epsilon", 1e-7);
        ParamOp vp = slot("velocity");
        Value vel = gb.add(gb.mul(readState(b, vp), rho), gb.mul(gb.make<SquareOp>({g}), 1.0 - rho));
        assign(vp, vel);
        Value denom;
        if (flag(training, "centered")) {
          ParamOp ap = slot("average_gradient");
          Value avg = gb.add(gb.mul(readState(b, ap), rho), gb.mul(g, 1.0 - rho));
          assign(ap, avg);
          denom = gb.add(gb.sub(vel, gb.make<SquareOp>({avg})), gb.scalar(eps));
        } else {
          denom = gb.add(vel, gb.scalar(eps));
        }
        Value increment = gb.div(gb.mul(g, lr), gb.make<SqrtOp>({denom}));
        if (momentum > 0.0) {
          ParamOp mp = slot("momentum");
          Value m = gb.add(gb.mul(readState(b, mp), momentum), increment);
          assign(mp, m);
          increment = m;
        }
        next = gb.sub(w, increment);
      } else {
        return training.emitError("unknown optimizer '") << opt << "'";
      }
      if (!gb.ok)
        return failure();
      assign(param, next);
    }
    return success(gb.ok);
  }
};

struct BuildTraining : kiln::impl::BuildTrainingBase<BuildTraining> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto trainings = module.getOps<TrainingOp>();
    if (trainings.empty())
      return;
    TrainingOp training = *trainings.begin();
    auto predict = module.lookupSymbol<func::FuncOp>("predict");
    if (!predict) {
      training.emitError("training needs a `predict` function");
      return signalPassFailure();
    }
    if (module.lookupSymbol("train_step")) // built already
      return;
    TrainingBuilder builder{module, training, predict, &getContext(), {}};
    for (ParamOp p : module.getOps<ParamOp>())
      if (p.getState())
        builder.state[p.getSymName()] = p;
    if (failed(builder.checkSupported()) || failed(builder.buildStep("gradients", Mode::Gradients)) ||
        failed(builder.buildStep("eval_step", Mode::Eval)) ||
        failed(builder.buildStep("train_step", Mode::Train)))
      return signalPassFailure();
  }
};

} // namespace
