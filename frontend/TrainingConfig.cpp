//===- TrainingConfig.cpp - arguments, compile(), fit(), initializers -----===//
//
// Keras spellings are accepted as Keras accepts them: names as strings
// ("adam", "he_normal", "l2") or as constructor calls (Adam(learning_rate=...),
// HeNormal(seed=1), l2(0.01)), with Keras's defaults filled in.
//
//===----------------------------------------------------------------------===//

#include "frontend/Importer.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::detail;

//===----------------------------------------------------------------------===//
// Reading arguments
//===----------------------------------------------------------------------===//

std::string Importer::calleeName(const Expr &call) {
  StringRef name = call.callee->text;
  // keras.layers.Dense, layers.Dense, tf.keras.optimizers.Adam -> the last part.
  size_t dot = name.rfind('.');
  return (dot == StringRef::npos ? name : name.substr(dot + 1)).str();
}

bool Importer::bindArgs(const Expr &call, StringRef callee, ArrayRef<StringRef> params,
                        Args &out) {
  size_t positional = 0;
  for (const Arg &a : call.args) {
    StringRef key;
    llvm::SMLoc loc = a.value->loc;
    if (a.keyword.empty()) {
      if (positional >= params.size()) {
        error(loc, callee + " takes at most " + Twine(params.size()) +
                       " positional argument" + (params.size() == 1 ? "" : "s"));
        return false;
      }
      key = params[positional++];
    } else {
      key = a.keyword;
      loc = a.keywordLoc;
      if (!llvm::is_contained(params, key)) {
        StringRef guess = closestMatch(key, params);
        if (key == "lr" && llvm::is_contained(params, "learning_rate"))
          guess = "learning_rate";
        error(loc, callee + " has no argument '" + key + "'" +
                       (guess.empty() ? Twine("") : "; did you mean '" + guess + "'?"));
        return false;
      }
    }
    if (!out.values.try_emplace(key, a.value.get()).second) {
      error(loc, callee + " argument '" + key + "' is given twice");
      return false;
    }
  }
  return true;
}

/// Integer literals, possibly negated.
static std::optional<int64_t> literalInt(const Expr *e) {
  if (e->kind == Expr::Kind::Integer)
    return e->intValue;
  if (e->kind == Expr::Kind::Negate && e->elements[0]->kind == Expr::Kind::Integer)
    return -e->elements[0]->intValue;
  return std::nullopt;
}

std::optional<int64_t> Importer::intArg(const Expr *e, StringRef what, int64_t min) {
  std::optional<int64_t> v = literalInt(e);
  if (!v) {
    error(e->loc, "expected an integer for " + what);
    return std::nullopt;
  }
  if (*v < min) {
    error(e->loc, what + " must be at least " + Twine(min) + ", got " + Twine(*v));
    return std::nullopt;
  }
  return v;
}

std::optional<double> Importer::floatArg(const Expr *e, StringRef what) {
  bool neg = e->kind == Expr::Kind::Negate;
  const Expr *lit = neg ? e->elements[0].get() : e;
  if (lit->kind != Expr::Kind::Integer && lit->kind != Expr::Kind::Float) {
    error(e->loc, "expected a number for " + what);
    return std::nullopt;
  }
  return neg ? -lit->floatValue : lit->floatValue;
}

std::optional<bool> Importer::boolArg(const Expr *e, StringRef what) {
  if (e->isName("True") || e->isName("true"))
    return true;
  if (e->isName("False") || e->isName("false"))
    return false;
  error(e->loc, "expected True or False for " + what);
  return std::nullopt;
}

std::optional<std::string> Importer::stringArg(const Expr *e, StringRef what) {
  if (e->kind == Expr::Kind::String ||
      (e->kind == Expr::Kind::Name && e->text.find('.') == std::string::npos))
    return e->text;
  error(e->loc, "expected a name (a string such as \"relu\") for " + what);
  return std::nullopt;
}

std::optional<SmallVector<int64_t>> Importer::intsArg(const Expr *e, StringRef what, size_t n,
                                                      int64_t min) {
  SmallVector<int64_t> values;
  if (e->kind == Expr::Kind::Tuple || e->kind == Expr::Kind::List) {
    if (n && e->elements.size() != n) {
      error(e->loc, what + " needs " + Twine(n) + " values, got " + Twine(e->elements.size()));
      return std::nullopt;
    }
    for (const ExprPtr &item : e->elements) {
      auto v = intArg(item.get(), what, min);
      if (!v)
        return std::nullopt;
      values.push_back(*v);
    }
    return values;
  }
  auto v = intArg(e, what, min);
  if (!v)
    return std::nullopt;
  values.assign(n ? n : 1, *v);
  return values;
}

//===----------------------------------------------------------------------===//
// Initializers and regularizers
//===----------------------------------------------------------------------===//

/// Keras class names of initializers -> their string names.
static std::string initializerName(StringRef spelling) {
  static const std::pair<StringRef, StringRef> aliases[] = {
      {"GlorotUniform", "glorot_uniform"}, {"GlorotNormal", "glorot_normal"},
      {"xavier_uniform", "glorot_uniform"}, {"xavier_normal", "glorot_normal"},
      {"XavierUniform", "glorot_uniform"}, {"XavierNormal", "glorot_normal"},
      {"HeUniform", "he_uniform"},         {"HeNormal", "he_normal"},
      {"LecunUniform", "lecun_uniform"},   {"LecunNormal", "lecun_normal"},
      {"Zeros", "zeros"},                  {"Ones", "ones"},
      {"Constant", "constant"},            {"RandomNormal", "random_normal"},
      {"RandomUniform", "random_uniform"}, {"TruncatedNormal", "truncated_normal"},
      {"normal", "random_normal"},         {"uniform", "random_uniform"},
      {"zero", "zeros"},                   {"one", "ones"}};
  for (auto [from, to] : aliases)
    if (spelling == from)
      return to.str();
  return spelling.str();
}

std::optional<InitSpec> Importer::initializer(const Expr *e, StringRef what) {
  InitSpec spec;
  if (isNone(e)) // Keras 3: add_weight(initializer=None) uses glorot_uniform
    return InitSpec{"glorot_uniform", {}};
  const Expr *call = e->kind == Expr::Kind::Call ? e : nullptr;
  if (call && call->callee->kind != Expr::Kind::Name) {
    error(e->loc, "expected an initializer for " + what);
    return std::nullopt;
  }
  std::string spelling = call ? calleeName(*call) : stringArg(e, what).value_or("");
  if (spelling.empty())
    return std::nullopt;
  spec.name = initializerName(spelling);
  if (!llvm::is_contained(knownInitializers(), spec.name)) {
    StringRef guess = closestMatch(spec.name, knownInitializers());
    error(e->loc, "unknown initializer '" + spelling + "' for " + what +
                      (guess.empty() ? Twine("") : "; did you mean '" + guess + "'?"));
    return std::nullopt;
  }
  // Keras defaults of the initializers that take arguments.
  double mean = 0, stddev = 0.05, minval = -0.05, maxval = 0.05, value = 0;
  if (!call) {
    if (spec.name == "random_normal" || spec.name == "truncated_normal")
      spec.config.append("mean", builder.getF64FloatAttr(mean)),
          spec.config.append("stddev", builder.getF64FloatAttr(stddev));
    if (spec.name == "random_uniform")
      spec.config.append("minval", builder.getF64FloatAttr(minval)),
          spec.config.append("maxval", builder.getF64FloatAttr(maxval));
    if (spec.name == "constant")
      spec.config.append("value", builder.getF64FloatAttr(value));
    return spec;
  }
  SmallVector<StringRef> params;
  if (spec.name == "random_normal" || spec.name == "truncated_normal")
    params = {"mean", "stddev", "seed"};
  else if (spec.name == "random_uniform")
    params = {"minval", "maxval", "seed"};
  else if (spec.name == "constant")
    params = {"value"};
  else if (spec.name == "zeros" || spec.name == "ones")
    params = {};
  else
    params = {"seed"};
  Args args;
  if (!bindArgs(*call, spelling, params, args))
    return std::nullopt;
  for (StringRef p : params) {
    const Expr *v = args.get(p);
    if (p == "seed") {
      if (v && !isNone(v)) {
        auto seed = intArg(v, "seed", 0);
        if (!seed)
          return std::nullopt;
        spec.config.append("seed", builder.getI64IntegerAttr(*seed));
      }
      continue;
    }
    double dflt = p == "mean" ? mean : p == "stddev" ? stddev : p == "minval" ? minval
                : p == "maxval" ? maxval : value;
    std::optional<double> x = v ? floatArg(v, p) : dflt;
    if (!x)
      return std::nullopt;
    if (p == "stddev" && !(*x > 0)) {
      error(v->loc, "stddev must be positive");
      return std::nullopt;
    }
    spec.config.append(p, builder.getF64FloatAttr(*x));
  }
  if (auto lo = spec.config.get("minval"), hi = spec.config.get("maxval"); lo && hi &&
      !(llvm::cast<FloatAttr>(lo).getValueAsDouble() < llvm::cast<FloatAttr>(hi).getValueAsDouble())) {
    error(e->loc, "minval must be less than maxval");
    return std::nullopt;
  }
  return spec;
}

std::optional<RegSpec> Importer::regularizer(const Expr *e, StringRef what) {
  RegSpec reg;
  if (isNone(e))
    return reg;
  if (e->kind != Expr::Kind::Call) {
    auto name = stringArg(e, what);
    if (!name)
      return std::nullopt;
    // Keras: "l1" and "l2" mean L1(0.01) and L2(0.01).
    if (*name == "l1")
      reg.l1 = 0.01;
    else if (*name == "l2")
      reg.l2 = 0.01;
    else if (*name == "l1_l2") // Keras 3: L1L2() with both factors 0
      reg.l1 = 0.0, reg.l2 = 0.0;
    else {
      error(e->loc, "unknown regularizer '" + *name + "' for " + what +
                        "; expected \"l1\", \"l2\", \"l1_l2\" or a call such as l2(0.01)");
      return std::nullopt;
    }
    return reg;
  }
  std::string name = calleeName(*e);
  std::string lower = StringRef(name).lower();
  Args args;
  if (lower == "l1" || lower == "l2") {
    if (!bindArgs(*e, name, {lower}, args))
      return std::nullopt;
    std::optional<double> f = 0.01;
    if (const Expr *v = args.get(lower))
      f = floatArg(v, name + " factor");
    if (!f)
      return std::nullopt;
    (lower == "l1" ? reg.l1 : reg.l2) = *f;
  } else if (lower == "l1_l2" || lower == "l1l2") {
    if (!bindArgs(*e, name, {"l1", "l2"}, args))
      return std::nullopt;
    for (StringRef p : {"l1", "l2"}) {
      // Keras 3: l1_l2 is an alias of L1L2, whose factors default to 0.
      std::optional<double> f = 0.0;
      if (const Expr *v = args.get(p))
        f = floatArg(v, p);
      if (!f)
        return std::nullopt;
      (p == "l1" ? reg.l1 : reg.l2) = *f;
    }
  } else if (lower == "orthogonalregularizer") {
    error(e->loc, "the Keras regularizer OrthogonalRegularizer is not supported by Kiln yet");
    return std::nullopt;
  } else {
    error(e->loc, "unknown regularizer '" + name + "'; expected l1(...), l2(...) or l1_l2(...)");
    return std::nullopt;
  }
  for (auto f : {reg.l1, reg.l2})
    if (f && !(*f >= 0)) {
      error(e->loc, "regularization factors must be non-negative");
      return std::nullopt;
    }
  return reg;
}

//===----------------------------------------------------------------------===//
// compile(loss=..., optimizer=..., metrics=[...])
//===----------------------------------------------------------------------===//

static std::string lossName(StringRef spelling) {
  static const std::pair<StringRef, StringRef> aliases[] = {
      {"mse", "mean_squared_error"},
      {"MeanSquaredError", "mean_squared_error"},
      {"mae", "mean_absolute_error"},
      {"MeanAbsoluteError", "mean_absolute_error"},
      {"mape", "mean_absolute_percentage_error"},
      {"msle", "mean_squared_logarithmic_error"},
      {"BinaryCrossentropy", "binary_crossentropy"},
      {"CategoricalCrossentropy", "categorical_crossentropy"},
      {"SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"},
      // Keras losses Kiln does not have yet, so that they are named as such.
      {"Hinge", "hinge"}, {"SquaredHinge", "squared_hinge"},
      {"CategoricalHinge", "categorical_hinge"}, {"Huber", "huber"},
      {"LogCosh", "log_cosh"}, {"KLDivergence", "kl_divergence"},
      {"Poisson", "poisson"}, {"CosineSimilarity", "cosine_similarity"},
      {"MeanAbsolutePercentageError", "mean_absolute_percentage_error"},
      {"MeanSquaredLogarithmicError", "mean_squared_logarithmic_error"}};
  for (auto [from, to] : aliases)
    if (spelling == from)
      return to.str();
  return spelling.str();
}

static std::string metricName(StringRef spelling) {
  static const std::pair<StringRef, StringRef> aliases[] = {
      {"acc", "accuracy"},
      {"mse", "mean_squared_error"},
      {"MeanSquaredError", "mean_squared_error"},
      {"mae", "mean_absolute_error"},
      {"MeanAbsoluteError", "mean_absolute_error"},
      {"BinaryAccuracy", "binary_accuracy"},
      {"CategoricalAccuracy", "categorical_accuracy"},
      {"SparseCategoricalAccuracy", "sparse_categorical_accuracy"}};
  for (auto [from, to] : aliases)
    if (spelling == from)
      return to.str();
  return spelling.str();
}

namespace {
/// One hyperparameter of a Keras optimizer: numbers (NaN default = None,
/// left out of the config) or flags.
struct Hyper {
  StringRef name;
  bool flag;
  double number;
};
/// A Keras 3 optimizer's hyperparameters in its positional order, with defaults.
struct OptimizerSpec {
  StringRef name;
  std::vector<Hyper> params;
};
} // namespace

static const double kNone = std::numeric_limits<double>::quiet_NaN();

static const OptimizerSpec *optimizerSpec(StringRef name) {
  auto num = [](StringRef n, double d) { return Hyper{n, false, d}; };
  auto flag = [](StringRef n, bool d) { return Hyper{n, true, d ? 1.0 : 0.0}; };
  // Shared by every Keras 3 optimizer, after its own arguments.
  auto with = [&](std::vector<Hyper> own) {
    std::vector<Hyper> common = {
        num("clipnorm", kNone),          num("clipvalue", kNone),
        num("global_clipnorm", kNone),   flag("use_ema", false),
        num("ema_momentum", 0.99),       num("ema_overwrite_frequency", kNone),
        num("loss_scale_factor", kNone), num("gradient_accumulation_steps", kNone)};
    own.insert(own.end(), common.begin(), common.end());
    return own;
  };
  static const OptimizerSpec specs[] = {
      {"sgd", with({num("learning_rate", 0.01), num("momentum", 0.0), flag("nesterov", false),
                    num("weight_decay", kNone)})},
      {"adam", with({num("learning_rate", 0.001), num("beta_1", 0.9), num("beta_2", 0.999),
                     num("epsilon", 1e-7), flag("amsgrad", false), num("weight_decay", kNone)})},
      {"adamw", with({num("learning_rate", 0.001), num("weight_decay", 0.004),
                      num("beta_1", 0.9), num("beta_2", 0.999), num("epsilon", 1e-7),
                      flag("amsgrad", false)})},
      {"rmsprop", with({num("learning_rate", 0.001), num("rho", 0.9), num("momentum", 0.0),
                        num("epsilon", 1e-7), flag("centered", false),
                        num("weight_decay", kNone)})},
  };
  for (const OptimizerSpec &s : specs)
    if (s.name == name)
      return &s;
  return nullptr;
}

void Importer::compileCall(const Expr &call) {
  if (training) {
    error(call.loc, "compile(...) is given twice");
    note(training->loc, "the first compile(...) is here");
    return;
  }
  Args args;
  if (!bindArgs(call, "compile",
                {"optimizer", "loss", "loss_weights", "metrics", "weighted_metrics",
                 "run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"},
                args))
    return;
  for (StringRef unsupported : {"loss_weights", "weighted_metrics", "steps_per_execution"})
    if (const Expr *v = args.get(unsupported); v && !isNone(v)) {
      error(v->loc, "compile(" + unsupported + "=...) is not supported by Kiln yet");
      return;
    }
  if (const Expr *v = args.get("run_eagerly"); v && !v->isName("False") && !isNone(v)) {
    error(v->loc, "run_eagerly is not available: Kiln always compiles the training step");
    return;
  }
  TrainingSpec spec;
  spec.loc = call.loc;

  // Loss.
  const Expr *loss = args.get("loss");
  if (!loss || isNone(loss)) {
    error(call.loc, "compile(...) needs a loss, e.g. loss=\"sparse_categorical_crossentropy\"");
    return;
  }
  if (loss->kind == Expr::Kind::Call && loss->callee->kind == Expr::Kind::Name) {
    std::string cls = calleeName(*loss);
    spec.loss = lossName(cls);
    if (!llvm::is_contained(knownLosses(), spec.loss) && spec.loss != cls) {
      error(loss->loc, "the Keras loss '" + spec.loss + "' is not supported by Kiln yet");
      return;
    }
    Args largs;
    bool crossEntropy = StringRef(spec.loss).ends_with("crossentropy");
    SmallVector<StringRef> params;
    if (crossEntropy)
      params = {"from_logits", "label_smoothing", "axis", "reduction", "name"};
    else
      params = {"reduction", "name"};
    if (!bindArgs(*loss, cls, params, largs))
      return;
    if (const Expr *f = largs.get("from_logits")) {
      auto b = boolArg(f, "from_logits");
      if (!b)
        return;
      spec.fromLogits = *b;
    }
    if (const Expr *ls = largs.get("label_smoothing")) {
      auto v = floatArg(ls, "label_smoothing");
      if (!v)
        return;
      if (*v != 0) {
        error(ls->loc, "label_smoothing is not supported by Kiln yet");
        return;
      }
    }
    if (const Expr *a = largs.get("axis"); a && literalInt(a) != -1) {
      error(a->loc, "a loss over an axis other than the last (-1) is not supported yet");
      return;
    }
    if (const Expr *r = largs.get("reduction")) {
      auto v = stringArg(r, "reduction");
      if (!v)
        return;
      if (*v != "sum_over_batch_size" && *v != "auto") {
        error(r->loc, "loss reduction '" + *v + "' is not supported yet; Kiln averages over "
                      "the batch (\"sum_over_batch_size\")");
        return;
      }
    }
  } else {
    auto name = stringArg(loss, "loss");
    if (!name)
      return;
    spec.loss = lossName(*name);
  }
  if (!llvm::is_contained(knownLosses(), spec.loss)) {
    StringRef guess = closestMatch(spec.loss, knownLosses());
    static const StringRef kerasOnly[] = {"hinge", "squared_hinge", "categorical_hinge",
                                          "huber", "log_cosh", "kl_divergence", "kld",
                                          "poisson", "cosine_similarity",
                                          "mean_absolute_percentage_error",
                                          "mean_squared_logarithmic_error"};
    if (llvm::is_contained(kerasOnly, spec.loss))
      error(loss->loc, "the Keras loss '" + spec.loss + "' is not supported by Kiln yet");
    else
      error(loss->loc, "unknown loss '" + spec.loss + "'" +
                           (guess.empty() ? Twine("") : "; did you mean '" + guess + "'?"));
    return;
  }
  spec.lossGiven = true;

  // Optimizer (Keras's compile default is rmsprop).
  const Expr *opt = args.get("optimizer");
  std::string optName = "rmsprop";
  const Expr *optCall = nullptr;
  if (opt && !isNone(opt)) {
    if (opt->kind == Expr::Kind::Call && opt->callee->kind == Expr::Kind::Name) {
      optCall = opt;
      optName = calleeName(*opt);
    } else {
      auto n = stringArg(opt, "optimizer");
      if (!n)
        return;
      optName = *n;
    }
  }
  std::string lower = StringRef(optName).lower();
  const OptimizerSpec *os = optimizerSpec(lower);
  if (!os) {
    static const StringRef kerasOnly[] = {"adagrad", "adadelta", "adamax", "nadam", "ftrl",
                                          "lion", "adafactor", "lamb", "muon"};
    if (llvm::is_contained(kerasOnly, lower))
      error(opt->loc, "the Keras optimizer " + optName + " is not supported by Kiln yet "
                      "(supported: SGD, Adam, AdamW, RMSprop)");
    else
      error(opt ? opt->loc : call.loc,
            "unknown optimizer '" + optName + "'; expected SGD, Adam, AdamW or RMSprop");
    return;
  }
  spec.optimizer = os->name.str();
  Args oargs;
  if (optCall) {
    SmallVector<StringRef> params;
    for (const Hyper &h : os->params)
      params.push_back(h.name);
    params.push_back("name");
    if (!bindArgs(*optCall, optName, params, oargs))
      return;
  }
  for (const Hyper &h : os->params) {
    StringRef n = h.name;
    const Expr *v = oargs.get(n);
    if (h.flag) {
      std::optional<bool> b = h.number != 0;
      if (v)
        b = boolArg(v, n);
      if (!b)
        return;
      spec.optimizerConfig.append(n, builder.getBoolAttr(*b));
      continue;
    }
    double dflt = h.number;
    if (v && v->kind == Expr::Kind::Call) {
      error(v->loc, n == "learning_rate"
                        ? Twine("learning-rate schedules are not supported by Kiln yet; give "
                                "a number")
                        : "expected a number for " + n);
      return;
    }
    if (v && isNone(v))
      v = nullptr;
    std::optional<double> x = v ? floatArg(v, n) : std::optional<double>(dflt);
    if (!x)
      return;
    if (std::isnan(*x))
      continue;
    if (n == "learning_rate" && !(*x > 0)) {
      error(v->loc, "learning_rate must be positive");
      return;
    }
    if (!(*x >= 0)) {
      error(v->loc, n + " must be non-negative");
      return;
    }
    if ((n == "beta_1" || n == "beta_2" || n == "rho" || n == "momentum" ||
         n == "ema_momentum") && *x >= 1) {
      error(v->loc, n + " must be less than 1");
      return;
    }
    bool integral = n == "ema_overwrite_frequency" || n == "gradient_accumulation_steps";
    if (integral && *x != std::floor(*x)) {
      error(v->loc, n + " must be a whole number");
      return;
    }
    if (integral)
      spec.optimizerConfig.append(n, builder.getI64IntegerAttr((int64_t)*x));
    else
      spec.optimizerConfig.append(n, builder.getF32FloatAttr(*x));
  }

  // Metrics.
  if (const Expr *m = args.get("metrics"); m && !isNone(m)) {
    if (m->kind != Expr::Kind::List && m->kind != Expr::Kind::Tuple) {
      error(m->loc, "metrics must be a list, e.g. metrics=[\"accuracy\"]");
      return;
    }
    for (const ExprPtr &item : m->elements) {
      std::string spelling;
      if (item->kind == Expr::Kind::Call && item->callee->kind == Expr::Kind::Name) {
        spelling = calleeName(*item);
        if (!item->args.empty() && llvm::is_contained(knownMetrics(), metricName(spelling))) {
          error(item->args.front().value->loc,
                "metric arguments are not supported yet; write " + spelling + "()");
          return;
        }
      } else {
        auto s = stringArg(item.get(), "a metric");
        if (!s)
          return;
        spelling = *s;
      }
      std::string name = metricName(spelling);
      if (!llvm::is_contained(knownMetrics(), name)) {
        StringRef guess = closestMatch(name, knownMetrics());
        error(item->loc, "unknown or unsupported metric '" + spelling + "'" +
                             (guess.empty() ? Twine("") : "; did you mean '" + guess + "'?"));
        return;
      }
      spec.metrics.emplace_back(name, item->loc);
    }
  }
  training = std::move(spec);
}

//===----------------------------------------------------------------------===//
// fit(epochs=..., batch_size=..., validation_split=..., shuffle=...)
//===----------------------------------------------------------------------===//

void Importer::fitCall(const Expr &call) {
  if (fitConfig) {
    error(call.loc, "fit(...) is given twice");
    return;
  }
  Args args;
  // Keras's fit() signature, in its positional order.
  if (!bindArgs(call, "fit",
                {"x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split",
                 "validation_data", "shuffle", "class_weight", "sample_weight", "initial_epoch",
                 "steps_per_epoch", "validation_steps", "validation_batch_size",
                 "validation_freq"},
                args))
    return;
  for (StringRef data : {"x", "y", "validation_data"})
    if (const Expr *v = args.get(data); v && !isNone(v)) {
      error(v->loc, "training data is not part of a model file: fit(...) here only sets "
                    "defaults such as epochs and batch_size; remove " + data);
      return;
    }
  for (StringRef unsupported : {"initial_epoch", "steps_per_epoch", "validation_steps",
                                "validation_batch_size", "validation_freq", "class_weight",
                                "sample_weight", "callbacks"})
    if (const Expr *v = args.get(unsupported); v && !isNone(v)) {
      // Keras's own defaults change nothing and are accepted.
      std::optional<int64_t> lit =
          v->kind == Expr::Kind::Integer ? std::optional<int64_t>(v->intValue) : std::nullopt;
      if ((unsupported == "initial_epoch" && lit == 0) ||
          (unsupported == "validation_freq" && lit == 1) ||
          (unsupported == "callbacks" && v->kind == Expr::Kind::List && v->elements.empty()))
        continue;
      error(v->loc, "fit(" + unsupported + "=...) is not supported in a model file");
      return;
    }
  NamedAttrList config;
  std::optional<int64_t> epochs = 1, batch = 32, verbose = 1;
  if (const Expr *v = args.get("epochs"))
    epochs = intArg(v, "epochs", 1);
  if (const Expr *v = args.get("batch_size"); v && !isNone(v))
    batch = intArg(v, "batch_size", 1);
  if (const Expr *v = args.get("verbose"))
    verbose = v->kind == Expr::Kind::String ? std::optional<int64_t>(1) : intArg(v, "verbose", 0);
  std::optional<double> split = 0.0;
  if (const Expr *v = args.get("validation_split")) {
    split = floatArg(v, "validation_split");
    if (split && !(*split >= 0 && *split < 1)) {
      error(v->loc, "validation_split must be in [0, 1)");
      return;
    }
  }
  std::optional<bool> shuffle = true;
  if (const Expr *v = args.get("shuffle"))
    shuffle = boolArg(v, "shuffle");
  if (!epochs || !batch || !split || !shuffle || !verbose)
    return;
  config.append("epochs", builder.getI64IntegerAttr(*epochs));
  config.append("batch_size", builder.getI64IntegerAttr(*batch));
  config.append("validation_split", builder.getF32FloatAttr(*split));
  config.append("shuffle", builder.getBoolAttr(*shuffle));
  fitConfig = std::move(config);
  fitLoc = call.loc;
}

//===----------------------------------------------------------------------===//
// The kiln.training op, checked against the model's output
//===----------------------------------------------------------------------===//

void Importer::finishTraining(Value output, llvm::SMLoc outputLoc) {
  TrainingSpec &spec = *training;
  auto type = llvm::cast<RankedTensorType>(output.getType());
  StringRef loss = spec.loss;
  bool categorical = loss == "categorical_crossentropy" || loss == "sparse_categorical_crossentropy";
  if (categorical) {
    if (type.getRank() < 2 || type.isDynamicDim(type.getRank() - 1)) {
      error(spec.loc, loss + " needs a model output with a class axis last, e.g. "
                             "tensor<?x10xf32>; the output is " + typeStr(type));
      return;
    }
    if (type.getShape().back() < 2) {
      error(spec.loc, loss + " needs at least 2 classes but the output " + typeStr(type) +
                          " has 1; use binary_crossentropy for one probability");
      return;
    }
  }

  // Keras-style hints when the output and from_logits disagree.
  Operation *last = output.getDefiningOp();
  bool probs = last && (isa<SoftmaxOp>(last) || isa<SigmoidOp>(last));
  if (StringRef(loss).ends_with("crossentropy")) {
    if (spec.fromLogits && probs)
      warning(spec.loc, "from_logits=True but the model output already goes through " +
                            last->getName().stripDialect() +
                            "; the loss will apply it a second time");
    else if (!spec.fromLogits && last && !probs)
      warning(spec.loc, loss + " expects probabilities but the model output has no softmax "
                               "or sigmoid; did you mean from_logits=True?");
  }

  SmallVector<Attribute> metrics;
  for (auto &[m, mloc] : spec.metrics) {
    std::string name = m;
    if (name == "accuracy") {
      // Resolved as Keras resolves it: from the loss, else from the output.
      if (loss == "binary_crossentropy")
        name = "binary_accuracy";
      else if (loss == "sparse_categorical_crossentropy")
        name = "sparse_categorical_accuracy";
      else if (loss == "categorical_crossentropy")
        name = "categorical_accuracy";
      else
        name = type.getRank() >= 1 && type.getShape().back() == 1 ? "binary_accuracy"
                                                                  : "categorical_accuracy";
    }
    if ((name == "sparse_categorical_accuracy" || name == "categorical_accuracy") &&
        (type.getRank() < 2 || type.getShape().back() < 2)) {
      error(mloc, name + " needs an output with a class axis, got " + typeStr(type));
      return;
    }
    if (name == "sparse_categorical_accuracy" && loss != "sparse_categorical_crossentropy") {
      error(mloc, "sparse_categorical_accuracy needs integer labels, but the loss " + loss +
                      " uses labels shaped like the output");
      return;
    }
    if (name != "sparse_categorical_accuracy" && loss == "sparse_categorical_crossentropy" &&
        name != "accuracy" && StringRef(name).ends_with("accuracy")) {
      error(mloc, name + " needs labels shaped like the output, but the loss " + loss +
                      " uses integer labels; use \"accuracy\"");
      return;
    }
    metrics.push_back(builder.getStringAttr(name));
  }

  NamedAttrList fit = fitConfig.value_or(NamedAttrList());
  if (!fit.get("epochs")) {
    fit.append("epochs", builder.getI64IntegerAttr(1));
    fit.append("batch_size", builder.getI64IntegerAttr(32));
    fit.append("validation_split", builder.getF32FloatAttr(0.0));
    fit.append("shuffle", builder.getBoolAttr(true));
  }

  builder.setInsertionPointToEnd(module->getBody());
  OperationState state(location(spec.loc, "compile"), TrainingOp::getOperationName());
  state.addAttribute("loss", builder.getStringAttr(spec.loss));
  state.addAttribute("from_logits", builder.getBoolAttr(spec.fromLogits));
  state.addAttribute("optimizer", builder.getStringAttr(spec.optimizer));
  state.addAttribute("optimizer_config", spec.optimizerConfig.getDictionary(&ctx));
  state.addAttribute("metrics", builder.getArrayAttr(metrics));
  state.addAttribute("fit_config", fit.getDictionary(&ctx));
  Operation *op = builder.create(state);
  if (failed(mlir::verify(op)))
    op->erase();
}
