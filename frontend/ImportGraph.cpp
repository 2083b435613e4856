//===- ImportGraph.cpp - AST -> `kiln` graph ------------------------------===//
//
// Walks the statements in order, keeping an environment of names (tensors
// and layer objects) and the "current" value that a bare layer statement
// applies to (the Keras Sequential style). A statement that fails binds its
// name to a poison value, so later uses are skipped quietly instead of
// producing a cascade of follow-on errors.
//
//===----------------------------------------------------------------------===//

#include "frontend/ImportGraph.h"
#include "frontend/Importer.h"
#include "frontend/Parser.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/ScopeExit.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::detail;

Importer::Importer(Diagnostics &diags, MLIRContext &ctx, StringRef modelName)
    : diags(diags), ctx(ctx), builder(&ctx), modelName(modelName) {}

Location Importer::location(llvm::SMLoc loc, StringRef name) {
  auto &sm = diags.sourceMgr();
  unsigned id = sm.getMainFileID();
  auto [line, col] = sm.getLineAndColumn(loc, id);
  Location fileLoc = FileLineColLoc::get(
      &ctx, sm.getMemoryBuffer(id)->getBufferIdentifier(), line, col);
  if (name.empty())
    return fileLoc;
  return NameLoc::get(StringAttr::get(&ctx, name), fileLoc);
}

std::string Importer::typeStr(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

/// Finds the file position inside a (possibly named or fused) location.
static std::optional<FileLineColLoc> fileLocOf(Location loc) {
  if (auto f = llvm::dyn_cast<FileLineColLoc>(loc))
    return f;
  if (auto n = llvm::dyn_cast<NameLoc>(loc))
    return fileLocOf(n.getChildLoc());
  if (auto c = llvm::dyn_cast<CallSiteLoc>(loc))
    return fileLocOf(c.getCallee());
  if (auto f = llvm::dyn_cast<FusedLoc>(loc))
    for (Location l : f.getLocations())
      if (auto r = fileLocOf(l))
        return r;
  return std::nullopt;
}

Value Importer::constant(Location loc, double value) {
  auto type = RankedTensorType::get({}, builder.getF32Type());
  auto attr = DenseElementsAttr::get(type, builder.getF32FloatAttr(value).getValue());
  return build<ConstantOp>(loc, {}, {builder.getNamedAttr("value", attr)});
}

std::string Importer::uniqueLayerName(StringRef base) {
  while (true) {
    unsigned &n = layerCounters[base];
    std::string name = n == 0 ? base.str() : (base + "_" + Twine(n)).str();
    ++n;
    if (!layerNames.contains(name)) {
      layerNames.insert(name);
      return name;
    }
  }
}

Value Importer::param(llvm::SMLoc loc, StringRef name, ArrayRef<int64_t> shape,
                      const InitSpec &init, const RegSpec &reg, bool trainable) {
  if (!paramNames.insert(name).second) {
    error(loc, "a parameter named '" + name + "' already exists");
    return nullptr;
  }
  int64_t elements = 1;
  for (int64_t d : shape)
    if (llvm::MulOverflow(elements, d, elements) || elements > (int64_t(1) << 40)) {
      error(loc, "parameter '" + name + "' would have too many elements");
      return nullptr;
    }
  auto type = RankedTensorType::get(shape, builder.getF32Type());
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(func);
  NamedAttrList attrs;
  attrs.append("sym_name", builder.getStringAttr(name));
  attrs.append("type", TypeAttr::get(type));
  attrs.append("initializer", builder.getStringAttr(init.name));
  if (!init.config.empty())
    attrs.append("init_config", init.config.getDictionary(&ctx));
  if (reg.l1)
    attrs.append("l1", builder.getF32FloatAttr(*reg.l1));
  if (reg.l2)
    attrs.append("l2", builder.getF32FloatAttr(*reg.l2));
  if (trainable)
    attrs.append("trainable", builder.getUnitAttr());
  OperationState state(location(loc, name), ParamOp::getOperationName());
  state.addAttributes(attrs);
  Operation *op = builder.create(state);
  if (failed(mlir::verify(op))) {
    op->erase();
    return nullptr;
  }
  builder.setInsertionPointToEnd(&func.getBody().front());
  return builder.create<ReadParamOp>(location(loc, name), type,
                                     FlatSymbolRefAttr::get(&ctx, name));
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

static const StringRef kUnaryFns[] = {"neg",  "abs",  "exp",     "log", "sqrt",
                                      "rsqrt", "square", "tanh", "sigmoid", "relu"};
static const StringRef kBinaryFns[] = {"add", "subtract", "sub", "multiply", "mul",
                                       "divide", "div", "maximum", "minimum", "pow"};
static const StringRef kOtherFns[] = {
    "matmul",     "conv2d",     "max_pool2d", "avg_pool2d", "reshape",    "transpose",
    "concat",     "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "softmax",
    "log_softmax", "flatten",   "dropout",    "param"};

static bool isPrimitive(StringRef name) {
  return llvm::is_contained(kUnaryFns, name) || llvm::is_contained(kBinaryFns, name) ||
         llvm::is_contained(kOtherFns, name);
}

static SmallVector<StringRef> allCallables() {
  SmallVector<StringRef> names(std::begin(kUnaryFns), std::end(kUnaryFns));
  names.append(std::begin(kBinaryFns), std::end(kBinaryFns));
  names.append(std::begin(kOtherFns), std::end(kOtherFns));
  for (StringRef n : {"Input", "Dense", "Conv2D", "MaxPooling2D", "AveragePooling2D", "Flatten",
                      "Dropout", "Activation", "Reshape", "Softmax", "ReLU", "Add", "Subtract",
                      "Multiply", "Maximum", "Minimum", "Concatenate", "compile", "fit"})
    names.push_back(n);
  return names;
}

/// layer(x), layer(a, b) or layer([a, b]): the inputs are tensors, no keywords.
Value Importer::applyLayerCall(Layer &layer, const Expr &call) {
  SmallVector<Value> inputs;
  for (const Arg &a : call.args) {
    if (!a.keyword.empty()) {
      error(a.keywordLoc, "a layer is applied to tensors only; '" + a.keyword +
                              "=' is not an input");
      return nullptr;
    }
    if (a.value->kind == Expr::Kind::List || a.value->kind == Expr::Kind::Tuple) {
      for (const ExprPtr &item : a.value->elements)
        inputs.push_back(tensorExpr(*item));
    } else {
      inputs.push_back(tensorExpr(*a.value));
    }
  }
  if (llvm::is_contained(inputs, Value()))
    return nullptr;
  return applyLayer(layer, inputs, call.loc);
}

Value Importer::tensorExpr(const Expr &e) {
  switch (e.kind) {
  case Expr::Kind::Integer:
  case Expr::Kind::Float:
    return constant(location(e.loc), e.floatValue);
  case Expr::Kind::Name: {
    if (e.isName("True") || e.isName("False") || e.isName("None")) {
      error(e.loc, "expected a tensor, found " + e.text);
      return nullptr;
    }
    auto it = env.find(e.text);
    if (it == env.end()) {
      SmallVector<StringRef> known;
      for (auto &entry : env)
        known.push_back(entry.getKey());
      StringRef guess = closestMatch(e.text, known);
      if (isPrimitive(e.text) || isLayerClass(e.text))
        error(e.loc, "'" + e.text + "' is a function; call it: " + e.text + "(...)");
      else if (e.text == "output" || e.text == "model")
        error(e.loc, "unknown name '" + e.text + "' ('" + e.text +
                         "' starts a statement only when a name follows, as in " +
                         (e.text == "output" ? "'output y'" : "'model my_model'") + ")");
      else
        error(e.loc, "unknown name '" + e.text + "'" +
                         (guess.empty() ? Twine("") : "; did you mean '" + guess + "'?"));
      return nullptr;
    }
    Binding &b = it->second;
    if (b.kind == Binding::Kind::Layer) {
      error(e.loc, "'" + e.text + "' is a layer, not a tensor; apply it to a tensor: " + e.text +
                       "(x)");
      note(b.loc, "'" + e.text + "' is defined here");
      return nullptr;
    }
    return b.value; // null for poison: the error was reported where it arose
  }
  case Expr::Kind::String:
    error(e.loc, "expected a tensor, found a string");
    return nullptr;
  case Expr::Kind::Tuple:
  case Expr::Kind::List:
    error(e.loc, "expected a tensor, found a " +
                     Twine(e.kind == Expr::Kind::List ? "list" : "tuple"));
    return nullptr;
  case Expr::Kind::Negate: {
    Value x = tensorExpr(*e.elements[0]);
    return x ? build<NegOp>(location(e.loc), {x}) : nullptr;
  }
  case Expr::Kind::Binary: {
    Value a = tensorExpr(*e.elements[0]);
    Value b = tensorExpr(*e.elements[1]);
    if (!a || !b)
      return nullptr;
    Location loc = location(e.loc);
    switch (e.text[0]) {
    case '+': return build<AddOp>(loc, {a, b});
    case '-': return build<SubOp>(loc, {a, b});
    case '*': return build<MulOp>(loc, {a, b});
    case '/': return build<DivOp>(loc, {a, b});
    default: return build<MatMulOp>(loc, {a, b});
    }
  }
  case Expr::Kind::Call:
    break;
  }

  // A call: Layer(...)(x), layer_object(x), Input(...), or a primitive op.
  const Expr &callee = *e.callee;
  if (callee.kind == Expr::Kind::Call && callee.callee->kind != Expr::Kind::Name) {
    error(callee.loc, "the result of a call is a tensor and cannot be called");
    return nullptr;
  }
  if (callee.kind == Expr::Kind::Call) {
    std::shared_ptr<Layer> layer = makeLayer(callee);
    if (!layer)
      return nullptr;
    return applyLayerCall(*layer, e);
  }
  if (callee.kind != Expr::Kind::Name) {
    error(callee.loc, "expected a function or layer name before '('");
    return nullptr;
  }
  std::string name = calleeName(e);
  if (auto it = env.find(callee.text); it != env.end()) {
    if (it->second.kind == Binding::Kind::Poison)
      return nullptr;
    if (it->second.kind == Binding::Kind::Tensor) {
      error(callee.loc, "'" + callee.text + "' is a tensor and cannot be called");
      return nullptr;
    }
    return applyLayerCall(*it->second.layer, e);
  }
  if (name == "Input" || name == "InputLayer")
    return input(e, pendingName);
  if (isPrimitive(name))
    return primitive(e, name);
  if (isLayerClass(name)) {
    error(e.loc, name + "(...) creates a layer; apply it to a tensor: " + name + "(...)(x), or "
                 "write it as a statement of its own to apply it to the previous value");
    return nullptr;
  }
  if (name == "compile" || name == "fit") {
    error(e.loc, name + "(...) is a statement of its own and has no value");
    return nullptr;
  }
  if (name == "Sequential" || name == "Model") {
    error(e.loc, "a Kiln file describes one model: write its layers as statements instead of " +
                     name + "(...)");
    return nullptr;
  }
  if (isUnsupportedKerasLayer(name)) {
    error(e.loc, "the Keras layer " + name + " is not supported by Kiln yet");
    return nullptr;
  }
  StringRef guess = closestMatch(name, allCallables());
  error(callee.loc, "unknown function or layer '" + name + "'" +
                        (guess.empty() ? Twine("") : "; did you mean '" + guess + "'?"));
  return nullptr;
}

Value Importer::input(const Expr &call, StringRef suggestedName) {
  Args args;
  if (!bindArgs(call, "Input",
                {"shape", "batch_size", "dtype", "name", "sparse", "batch_shape", "ragged",
                 "tensor", "optional"},
                args))
    return nullptr;
  for (StringRef unsupported : {"batch_size", "sparse", "batch_shape", "ragged", "tensor",
                                "optional"})
    if (const Expr *v = args.get(unsupported); v && !isNone(v) && !v->isName("False")) {
      error(v->loc, "Input(" + unsupported + "=...) is not supported by Kiln yet" +
                        (unsupported == "batch_size"
                             ? Twine(" (the batch size is chosen at compile time: "
                                     "kilnc --batch-size=N)")
                             : Twine("")));
      return nullptr;
    }
  const Expr *shapeExpr = args.get("shape");
  if (!shapeExpr) {
    error(call.loc, "Input needs a shape, e.g. Input(shape=(28, 28, 1))");
    return nullptr;
  }
  if (shapeExpr->kind == Expr::Kind::Tuple || shapeExpr->kind == Expr::Kind::List)
    for (const ExprPtr &d : shapeExpr->elements)
      if (isNone(d.get())) {
        error(d->loc, "dimensions of unknown size (None) are not supported yet: Kiln compiles "
                      "static shapes (only the batch size is chosen later)");
        return nullptr;
      }
  auto dims = intsArg(shapeExpr, "Input shape", 0, 1);
  if (!dims)
    return nullptr;
  if (const Expr *d = args.get("dtype"); d && !isNone(d)) {
    auto dtype = stringArg(d, "dtype");
    if (!dtype)
      return nullptr;
    if (*dtype != "float32") {
      error(d->loc, "model inputs must be float32, got '" + *dtype + "'");
      return nullptr;
    }
  }
  std::string name = suggestedName.str();
  if (const Expr *n = args.get("name"); n && !isNone(n)) {
    auto s = stringArg(n, "name");
    if (!s)
      return nullptr;
    name = *s;
  }
  if (name.empty())
    name = uniqueLayerName("input");
  else
    layerNames.insert(name);
  if (llvm::is_contained(inputNames, name)) {
    error(call.loc, "an input named '" + name + "' already exists");
    return nullptr;
  }
  SmallVector<int64_t> shape{ShapedType::kDynamic};
  shape.append(dims->begin(), dims->end());
  int64_t elements = 1;
  for (int64_t d : *dims)
    if (llvm::MulOverflow(elements, d, elements) || elements > (int64_t(1) << 40)) {
      error(shapeExpr->loc, "Input shape has too many elements");
      return nullptr;
    }
  auto type = RankedTensorType::get(shape, builder.getF32Type());
  Block &body = func.getBody().front();
  BlockArgument arg = body.addArgument(type, location(call.loc, name));
  inputNames.push_back(name);
  return arg;
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

/// model = Sequential([Input(...), Dense(...), ...], name="...") as Keras
/// writes it: the listed layers are applied in order, like layer statements.
void Importer::sequential(const Expr &call) {
  Args args;
  if (!bindArgs(call, "Sequential", {"layers", "trainable", "name"}, args))
    return;
  if (const Expr *n = args.get("name"); n && !isNone(n))
    if (auto s = stringArg(n, "name"))
      modelName = *s;
  const Expr *layers = args.get("layers");
  if (!layers || isNone(layers))
    return;
  if (layers->kind != Expr::Kind::List && layers->kind != Expr::Kind::Tuple) {
    error(layers->loc, "Sequential takes a list of layers");
    return;
  }
  for (const ExprPtr &item : layers->elements) {
    if (currentPoisoned)
      return;
    if (item->kind != Expr::Kind::Call || item->callee->kind != Expr::Kind::Name) {
      error(item->loc, "expected a layer such as Dense(10) in the Sequential list");
      return;
    }
    std::string name = calleeName(*item);
    Value v;
    if (name == "Input" || name == "InputLayer") {
      v = input(*item, "");
    } else if (!isLayerClass(name)) {
      v = tensorExpr(*item); // reports unsupported or unknown layers
    } else if (!current) {
      error(item->loc, name + " has nothing to apply to: start the list with Input(shape=(...))");
    } else if (auto layer = makeLayer(*item)) {
      v = applyLayer(*layer, {current}, item->loc);
    }
    current = v;
    currentPoisoned = !v;
    currentLoc = item->loc;
  }
}

OwningOpRef<ModuleOp> Importer::run(const ModuleAST &ast) {
  // Shape rules report through MLIR's diagnostics; route them to `diags` so
  // they are printed (and counted) like every other frontend error.
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    auto report = [&](Location loc, DiagnosticSeverity severity, const std::string &msg) {
      llvm::SMLoc sloc;
      if (auto f = fileLocOf(loc))
        sloc = diags.sourceMgr().FindLocForLineAndColumn(diags.sourceMgr().getMainFileID(),
                                                          f->getLine(), f->getColumn());
      if (!sloc.isValid())
        sloc = llvm::SMLoc::getFromPointer(
            diags.sourceMgr().getMemoryBuffer(diags.sourceMgr().getMainFileID())
                ->getBufferStart());
      if (severity == DiagnosticSeverity::Error)
        error(sloc, msg);
      else if (severity == DiagnosticSeverity::Warning)
        warning(sloc, msg);
      else
        note(sloc, msg);
    };
    // Verifier messages start with "'kiln.softmax' op "; a model author
    // thinks in layers, and the location already names the statement.
    std::string msg = d.str();
    if (StringRef(msg).starts_with("'kiln.")) {
      size_t op = msg.find("' op ");
      if (op != std::string::npos)
        msg = msg.substr(op + 5);
    }
    report(d.getLocation(), d.getSeverity(), msg);
    for (Diagnostic &n : d.getNotes())
      report(n.getLocation(), DiagnosticSeverity::Note, n.str());
    return success();
  });
  bool printOp = ctx.shouldPrintOpOnDiagnostic();
  ctx.printOpOnDiagnostic(false);
  auto restore = llvm::make_scope_exit([&] { ctx.printOpOnDiagnostic(printOp); });

  llvm::SMLoc fileStart = llvm::SMLoc::getFromPointer(
      diags.sourceMgr().getMemoryBuffer(diags.sourceMgr().getMainFileID())->getBufferStart());
  module = ModuleOp::create(location(fileStart));
  builder.setInsertionPointToEnd(module->getBody());
  func = builder.create<func::FuncOp>(location(fileStart), "predict",
                                      builder.getFunctionType({}, {}));
  func.addEntryBlock();
  builder.setInsertionPointToEnd(&func.getBody().front());

  std::vector<std::pair<Value, std::string>> outputs;
  bool modelNamed = false;
  llvm::SMLoc outputLoc;
  bool outputGiven = false, outputPoisoned = false;

  for (const Stmt &stmt : ast.statements) {
    if (diags.tooMany())
      return nullptr;
    switch (stmt.kind) {
    case Stmt::Kind::Model:
      if (modelNamed) {
        error(stmt.loc, "the model is already named '" + modelName + "'");
        break;
      }
      modelNamed = true;
      modelName = stmt.target;
      break;

    case Stmt::Kind::Output: {
      if (outputGiven) {
        error(stmt.loc, "the outputs were already given");
        break;
      }
      outputGiven = true;
      outputLoc = stmt.loc;
      for (const ExprPtr &e : stmt.outputs) {
        Value v = tensorExpr(*e);
        if (!v) {
          outputPoisoned = true;
          continue;
        }
        std::string name = e->kind == Expr::Kind::Name
                               ? e->text
                               : ("output_" + Twine(outputs.size())).str();
        outputs.emplace_back(v, name);
      }
      break;
    }

    case Stmt::Kind::Assign:
    case Stmt::Kind::Expr: {
      const Expr *value = stmt.value.get();
      // Keras's Sequential style: model.add(Dense(10)) is the statement Dense(10).
      if (stmt.kind == Stmt::Kind::Expr && value->kind == Expr::Kind::Call &&
          value->callee->kind == Expr::Kind::Name &&
          StringRef(value->callee->text).ends_with(".add") && value->args.size() == 1 &&
          value->args[0].keyword.empty() && value->args[0].value->kind == Expr::Kind::Call &&
          value->args[0].value->callee->kind == Expr::Kind::Name &&
          (isLayerClass(calleeName(*value->args[0].value)) ||
           calleeName(*value->args[0].value) == "Input"))
        value = value->args[0].value.get();
      const Expr &e = *value;
      if (e.kind == Expr::Kind::Call && e.callee->kind == Expr::Kind::Name &&
          calleeName(e) == "Sequential") {
        sequential(e);
        break;
      }
      std::string callee = e.kind == Expr::Kind::Call ? calleeName(e) : "";
      bool isCall = e.kind == Expr::Kind::Call && e.callee->kind == Expr::Kind::Name;
      if (isCall && (callee == "compile" || callee == "fit")) {
        if (stmt.kind == Stmt::Kind::Assign)
          error(stmt.loc, callee + "(...) has no value to assign");
        else if (callee == "compile")
          compileCall(e);
        else
          fitCall(e);
        break;
      }
      bool layerCtor = isCall && isLayerClass(callee) && !env.count(e.callee->text);
      if (layerCtor && stmt.kind == Stmt::Kind::Assign) {
        // x = Dense(10): a layer object, applied later as x(h).
        if (auto layer = makeLayer(e))
          env[stmt.target] = Binding{Binding::Kind::Layer, nullptr, layer, stmt.targetLoc};
        else
          env[stmt.target] = Binding{Binding::Kind::Poison, nullptr, nullptr, stmt.targetLoc};
        break;
      }
      Value v;
      if (layerCtor) {
        // A bare layer statement applies to the previous value. After an
        // error there is none, but the layer's own arguments are still checked.
        if (currentPoisoned) {
          makeLayer(e);
          break;
        }
        if (!current) {
          error(e.loc, callee + " has nothing to apply to: start the model with "
                                "Input(shape=(...))");
          currentPoisoned = true;
          break;
        }
        if (auto layer = makeLayer(e))
          v = applyLayer(*layer, {current}, e.loc);
      } else {
        // `w = param(...)` and `x = Input(...)` take the assigned name.
        bool named = stmt.kind == Stmt::Kind::Assign &&
                     (callee == "param" || callee == "Input" || callee == "InputLayer");
        pendingName = named ? stmt.target : "";
        v = tensorExpr(e);
        pendingName.clear();
      }
      current = v;
      currentPoisoned = !v;
      currentLoc = e.loc;
      if (stmt.kind == Stmt::Kind::Assign)
        env[stmt.target] = Binding{v ? Binding::Kind::Tensor : Binding::Kind::Poison, v, nullptr,
                                   stmt.targetLoc};
      break;
    }
    }
  }
  if (diags.errorCount())
    return nullptr;

  if (func.getBody().front().getNumArguments() == 0) {
    error(fileStart, "the model has no input: declare one with Input(shape=(...))");
    return nullptr;
  }
  if (!outputGiven) {
    outputLoc = currentLoc;
    if (current)
      outputs.emplace_back(current, "output");
  }
  if (outputs.empty() || outputPoisoned) {
    if (!diags.errorCount())
      error(outputLoc, "the model has no output");
    return nullptr;
  }

  // Outputs that are inputs or parameters pass through unchanged; that is
  // allowed. Finish the function signature and name its values.
  Block &body = func.getBody().front();
  SmallVector<Value> results;
  SmallVector<Type> resultTypes;
  for (auto &[v, _] : outputs) {
    results.push_back(v);
    resultTypes.push_back(v.getType());
  }
  builder.setInsertionPointToEnd(&body);
  builder.create<func::ReturnOp>(location(outputLoc), results);
  func.setType(builder.getFunctionType(body.getArgumentTypes(), resultTypes));
  for (auto [i, name] : llvm::enumerate(inputNames))
    func.setArgAttr(i, "kiln.name", builder.getStringAttr(name));
  for (auto [i, out] : llvm::enumerate(outputs))
    func.setResultAttr(i, "kiln.name", builder.getStringAttr(out.second));
  module->getOperation()->setAttr("kiln.model", builder.getStringAttr(modelName));

  if (training) {
    if (outputs.size() != 1) {
      error(training->loc, "compile(loss=...) on a model with " + Twine(outputs.size()) +
                               " outputs is not supported yet: give the model one output");
      return nullptr;
    }
    finishTraining(outputs.front().first, outputLoc);
  } else if (fitConfig) {
    error(fitLoc, "fit(...) needs compile(loss=..., optimizer=...) to know how to train");
  }
  if (diags.errorCount())
    return nullptr;
  if (failed(mlir::verify(*module)))
    return nullptr;
  return std::move(module);
}

OwningOpRef<ModuleOp> kiln::importGraph(const ModuleAST &ast, Diagnostics &diags,
                                        MLIRContext &context, StringRef defaultModelName) {
  context.getOrLoadDialect<KilnDialect>();
  context.getOrLoadDialect<func::FuncDialect>();
  return Importer(diags, context, defaultModelName).run(ast);
}

OwningOpRef<ModuleOp> kiln::compileModelFile(Diagnostics &diags, MLIRContext &context,
                                             StringRef defaultModelName) {
  ModuleAST ast = parseModule(diags);
  if (diags.errorCount())
    return nullptr;
  return importGraph(ast, diags, context, defaultModelName);
}
