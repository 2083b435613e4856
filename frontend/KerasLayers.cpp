//===- KerasLayers.cpp - Keras layers -> `kiln` ops and parameters --------===//
//
// Each layer reads its Keras arguments once (makeLayer) and builds ops each
// time it is applied (applyLayer). Parameters are created on the first
// application, named `<layer>/kernel` and `<layer>/bias` as Keras names them.
//
//===----------------------------------------------------------------------===//

#include "frontend/Importer.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/xxhash.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::detail;

namespace {
struct LayerKind {
  StringRef cls;  // Keras class
  StringRef base; // default name stem, as Keras derives it
  std::vector<StringRef> params;
};
} // namespace

static const std::vector<StringRef> kDenseParams = {
    "units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
    "kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
    "bias_constraint", "name", "trainable", "dtype"};
static const std::vector<StringRef> kConvParams = {
    "filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
    "activation", "use_bias", "kernel_initializer", "bias_initializer", "kernel_regularizer",
    "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint", "name",
    "trainable", "dtype"};
static const std::vector<StringRef> kPoolParams = {"pool_size", "strides", "padding",
                                                   "data_format", "name"};
static const std::vector<StringRef> kMergeParams = {"name"};

static const LayerKind kLayers[] = {
    {"Dense", "dense", kDenseParams},
    {"Conv2D", "conv2d", kConvParams},
    {"MaxPooling2D", "max_pooling2d", kPoolParams},
    {"AveragePooling2D", "average_pooling2d", kPoolParams},
    {"Flatten", "flatten", {"data_format", "name"}},
    {"Dropout", "dropout", {"rate", "noise_shape", "seed", "name"}},
    {"Activation", "activation", {"activation", "name"}},
    {"Reshape", "reshape", {"target_shape", "name"}},
    {"Softmax", "softmax", {"axis", "name"}},
    {"ReLU", "re_lu", {"max_value", "negative_slope", "threshold", "name"}},
    {"Add", "add", kMergeParams},
    {"Subtract", "subtract", kMergeParams},
    {"Multiply", "multiply", kMergeParams},
    {"Maximum", "maximum", kMergeParams},
    {"Minimum", "minimum", kMergeParams},
    {"Concatenate", "concatenate", {"axis", "name"}},
};

/// Older Keras spellings of the same classes.
static StringRef canonicalClass(StringRef cls) {
  if (cls == "Convolution2D") return "Conv2D";
  if (cls == "MaxPool2D") return "MaxPooling2D";
  if (cls == "AvgPool2D") return "AveragePooling2D";
  return cls;
}

static const LayerKind *findLayer(StringRef cls) {
  cls = canonicalClass(cls);
  for (const LayerKind &k : kLayers)
    if (k.cls == cls)
      return &k;
  return nullptr;
}

bool Importer::isLayerClass(StringRef name) { return findLayer(name) != nullptr; }

bool Importer::isUnsupportedKerasLayer(StringRef name) {
  static const StringRef names[] = {
      "BatchNormalization", "LayerNormalization", "GroupNormalization", "Normalization",
      "Rescaling", "Embedding", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "TimeDistributed",
      "Conv1D", "Conv3D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D",
      "MaxPooling1D", "MaxPooling3D", "AveragePooling1D", "AveragePooling3D",
      "GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
      "UpSampling2D", "ZeroPadding2D", "Cropping2D", "LeakyReLU", "PReLU", "ELU",
      "GaussianNoise", "GaussianDropout", "SpatialDropout2D", "AlphaDropout", "Attention",
      "MultiHeadAttention", "Lambda", "Permute", "RepeatVector", "Average", "Dot",
      "RandomFlip", "RandomRotation", "RandomZoom", "RandomCrop", "UnitNormalization",
      "ActivityRegularization", "Masking"};
  return llvm::is_contained(names, name);
}

bool Importer::checkActivationName(StringRef name, llvm::SMLoc loc) {
  static const StringRef supported[] = {"linear", "relu", "sigmoid", "tanh", "softmax",
                                        "exponential", "log_softmax"};
  static const StringRef kerasOnly[] = {"elu", "selu", "gelu", "softplus", "softsign", "swish",
                                        "silu", "hard_sigmoid", "hard_silu", "hard_swish",
                                        "leaky_relu", "relu6", "mish", "celu", "glu",
                                        "sparsemax", "tanh_shrink", "hard_tanh", "log_sigmoid"};
  if (llvm::is_contained(supported, name))
    return true;
  if (llvm::is_contained(kerasOnly, name)) {
    error(loc, "the Keras activation '" + name +
                   "' is not supported by Kiln yet (supported: linear, relu, sigmoid, tanh, "
                   "softmax, exponential, log_softmax)");
    return false;
  }
  StringRef guess = closestMatch(name, supported);
  error(loc, "unknown activation '" + name + "'" +
                 (guess.empty() ? Twine("; expected one of linear, relu, sigmoid, tanh, softmax, "
                                        "exponential, log_softmax")
                                : "; did you mean '" + guess + "'?"));
  return false;
}

Value Importer::activation(Value x, StringRef name, llvm::SMLoc sloc, StringRef layerName) {
  if (!x)
    return nullptr;
  Location loc = location(sloc, layerName);
  if (name == "linear") return x;
  if (name == "relu") return build<ReluOp>(loc, {x});
  if (name == "sigmoid") return build<SigmoidOp>(loc, {x});
  if (name == "tanh") return build<TanhOp>(loc, {x});
  if (name == "exponential") return build<ExpOp>(loc, {x});
  if (name == "softmax") return build<SoftmaxOp>(loc, {x});
  if (name == "log_softmax") return build<LogSoftmaxOp>(loc, {x});
  checkActivationName(name, sloc);
  return nullptr;
}

std::shared_ptr<Layer> Importer::makeLayer(const Expr &call) {
  std::string spelled = calleeName(call);
  const LayerKind *kind = findLayer(spelled);
  if (!kind) {
    if (isUnsupportedKerasLayer(spelled)) {
      error(call.loc, "the Keras layer " + spelled + " is not supported by Kiln yet");
      return nullptr;
    }
    SmallVector<StringRef> classes;
    for (const LayerKind &k : kLayers)
      classes.push_back(k.cls);
    StringRef guess = closestMatch(spelled, classes);
    error(call.loc, "'" + spelled + "' is not a layer" +
                        (guess.empty() ? Twine("") : "; did you mean '" + guess + "'?"));
    return nullptr;
  }
  Args args;
  if (!bindArgs(call, spelled, kind->params, args))
    return nullptr;
  auto layer = std::make_shared<Layer>();
  layer->cls = kind->cls.str();
  layer->loc = call.loc;
  StringRef cls = kind->cls;

  // Keras features that have no Kiln equivalent yet: accepted only at their
  // "off" value.
  for (StringRef p : {"activity_regularizer", "kernel_constraint", "bias_constraint",
                      "noise_shape", "max_value", "dtype"})
    if (const Expr *v = args.get(p); v && !isNone(v)) {
      if (p == "dtype" && v->kind == Expr::Kind::String && v->text == "float32")
        continue;
      error(v->loc, cls + "(" + p + "=...) is not supported by Kiln yet");
      return nullptr;
    }
  for (StringRef p : {"negative_slope", "threshold"})
    if (const Expr *v = args.get(p)) {
      auto f = floatArg(v, p);
      if (!f)
        return nullptr;
      if (*f != 0) {
        error(v->loc, "ReLU(" + p + "=...) is not supported by Kiln yet");
        return nullptr;
      }
    }
  if (const Expr *v = args.get("data_format"); v && !isNone(v)) {
    auto f = stringArg(v, "data_format");
    if (!f)
      return nullptr;
    if (*f != "channels_last") {
      error(v->loc, "data_format='" + *f + "' is not supported: Kiln uses channels_last (NHWC) "
                    "as Keras does by default");
      return nullptr;
    }
  }
  if (const Expr *v = args.get("dilation_rate")) {
    auto d = intsArg(v, "dilation_rate", 2, 1);
    if (!d)
      return nullptr;
    if ((*d)[0] != 1 || (*d)[1] != 1) {
      error(v->loc, "Conv2D(dilation_rate=...) other than 1 is not supported by Kiln yet");
      return nullptr;
    }
  }
  if (const Expr *v = args.get("groups")) {
    auto g = intArg(v, "groups", 1);
    if (!g)
      return nullptr;
    if (*g != 1) {
      error(v->loc, "grouped convolution (groups > 1) is not supported by Kiln yet");
      return nullptr;
    }
  }
  bool trainable = true;
  if (const Expr *v = args.get("trainable")) {
    auto t = boolArg(v, "trainable");
    if (!t)
      return nullptr;
    trainable = *t;
  }

  if (cls == "Dense" || cls == "Conv2D") {
    StringRef unitsName = cls == "Dense" ? "units" : "filters";
    const Expr *u = args.get(unitsName);
    if (!u) {
      error(call.loc, cls + " needs " + unitsName + ", e.g. " + cls +
                          (cls == "Dense" ? "(64)" : "(32, (3, 3))"));
      return nullptr;
    }
    auto units = intArg(u, unitsName, 1);
    if (!units)
      return nullptr;
    layer->units = *units;
    if (cls == "Conv2D") {
      const Expr *k = args.get("kernel_size");
      if (!k) {
        error(call.loc, "Conv2D needs a kernel_size, e.g. Conv2D(32, (3, 3))");
        return nullptr;
      }
      auto window = intsArg(k, "kernel_size", 2, 1);
      auto strides = args.get("strides") ? intsArg(args.get("strides"), "strides", 2, 1)
                                         : SmallVector<int64_t>{1, 1};
      if (!window || !strides)
        return nullptr;
      layer->window.assign(window->begin(), window->end());
      layer->strides.assign(strides->begin(), strides->end());
    }
    if (const Expr *b = args.get("use_bias")) {
      auto v = boolArg(b, "use_bias");
      if (!v)
        return nullptr;
      layer->useBias = *v;
    }
    for (auto [key, init] : {std::pair{"kernel_initializer", &layer->kernelInit},
                             std::pair{"bias_initializer", &layer->biasInit}})
      if (const Expr *e = args.get(key)) {
        auto spec = initializer(e, key);
        if (!spec)
          return nullptr;
        *init = *spec;
      }
    for (auto [key, reg] : {std::pair{"kernel_regularizer", &layer->kernelReg},
                            std::pair{"bias_regularizer", &layer->biasReg}})
      if (const Expr *e = args.get(key)) {
        auto spec = regularizer(e, key);
        if (!spec)
          return nullptr;
        *reg = *spec;
      }
  }

  if (cls == "MaxPooling2D" || cls == "AveragePooling2D") {
    const Expr *p = args.get("pool_size");
    auto window = p ? intsArg(p, "pool_size", 2, 1) : SmallVector<int64_t>{2, 2};
    if (!window)
      return nullptr;
    const Expr *s = args.get("strides");
    auto strides = s && !isNone(s) ? intsArg(s, "strides", 2, 1) : *window; // Keras: = pool_size
    if (!strides)
      return nullptr;
    layer->window.assign(window->begin(), window->end());
    layer->strides.assign(strides->begin(), strides->end());
  }

  if (const Expr *p = args.get("padding")) {
    auto padding = stringArg(p, "padding");
    if (!padding)
      return nullptr;
    std::string lower = StringRef(*padding).lower();
    if (lower != "valid" && lower != "same") {
      error(p->loc, "padding must be \"valid\" or \"same\", got \"" + *padding + "\"" +
                        (lower == "causal" ? Twine(" (causal padding is for Conv1D)") : Twine("")));
      return nullptr;
    }
    layer->padding = lower;
  }

  if (const Expr *a = args.get("activation"); a && !isNone(a)) {
    auto name = stringArg(a, "activation");
    if (!name || !checkActivationName(*name, a->loc))
      return nullptr;
    layer->activation = *name;
  } else if (cls == "Activation") {
    error(call.loc, "Activation needs the name of an activation, e.g. Activation(\"relu\")");
    return nullptr;
  }

  if (cls == "Dropout") {
    const Expr *r = args.get("rate");
    if (!r) {
      error(call.loc, "Dropout needs a rate, e.g. Dropout(0.5)");
      return nullptr;
    }
    auto rate = floatArg(r, "rate");
    if (!rate)
      return nullptr;
    if (!(*rate >= 0 && *rate < 1)) {
      std::string got;
      llvm::raw_string_ostream(got) << llvm::format("%g", *rate);
      error(r->loc, "Dropout rate must be in [0, 1), got " + got);
      return nullptr;
    }
    layer->rate = *rate;
    if (const Expr *s = args.get("seed"); s && !isNone(s)) {
      auto seed = intArg(s, "seed", 0);
      if (!seed)
        return nullptr;
      layer->seed = *seed;
    }
  }

  if (cls == "Reshape") {
    const Expr *t = args.get("target_shape");
    if (!t) {
      error(call.loc, "Reshape needs a target_shape, e.g. Reshape((7, 7, 64))");
      return nullptr;
    }
    auto dims = intsArg(t, "target_shape", 0, -1);
    if (!dims)
      return nullptr;
    layer->targetShape.assign(dims->begin(), dims->end());
  }

  if (const Expr *a = args.get("axis")) {
    auto axis = intArg(a, "axis", INT64_MIN);
    if (!axis)
      return nullptr;
    layer->axis = *axis;
  }

  std::string name;
  if (const Expr *n = args.get("name"); n && !isNone(n)) {
    auto s = stringArg(n, "name");
    if (!s)
      return nullptr;
    if (s->empty() || s->find('/') != std::string::npos) {
      error(n->loc, "a layer name must be non-empty and may not contain '/'");
      return nullptr;
    }
    if (!layerNames.insert(*s).second) {
      error(n->loc, "a layer named '" + *s + "' already exists");
      return nullptr;
    }
    name = *s;
  } else {
    name = uniqueLayerName(kind->base);
  }
  layer->name = name;
  layer->trainable = trainable;
  // Keras draws an unseeded Dropout's seed at random; Kiln derives it from the
  // layer name, so runs are reproducible and two Dropout layers still differ.
  if (cls == "Dropout" && !(args.get("seed") && !isNone(args.get("seed"))))
    layer->seed = int64_t(llvm::xxh3_64bits(name) >> 1);
  return layer;
}

Value Importer::applyLayer(Layer &layer, ArrayRef<Value> inputs, llvm::SMLoc sloc) {
  StringRef cls = layer.cls;
  Location loc = location(sloc, layer.name);
  bool merge = cls == "Add" || cls == "Subtract" || cls == "Multiply" || cls == "Maximum" ||
               cls == "Minimum" || cls == "Concatenate";
  if (merge) {
    if (inputs.size() < 2 || (cls == "Subtract" && inputs.size() != 2)) {
      error(sloc, cls + (cls == "Subtract" ? Twine(" takes exactly two inputs")
                                           : Twine(" takes a list of at least two inputs")) +
                      ", got " + Twine(inputs.size()));
      return nullptr;
    }
    if (cls == "Concatenate")
      return build<ConcatOp>(loc, inputs,
                             {builder.getNamedAttr("axis", builder.getI64IntegerAttr(layer.axis))});
    Value acc = inputs[0];
    for (Value v : inputs.drop_front()) {
      if (cls == "Add") acc = build<AddOp>(loc, {acc, v});
      else if (cls == "Subtract") acc = build<SubOp>(loc, {acc, v});
      else if (cls == "Multiply") acc = build<MulOp>(loc, {acc, v});
      else if (cls == "Maximum") acc = build<MaxOp>(loc, {acc, v});
      else acc = build<MinOp>(loc, {acc, v});
      if (!acc)
        return nullptr;
    }
    return acc;
  }
  if (inputs.size() != 1) {
    error(sloc, cls + " takes one input, got " + Twine(inputs.size()));
    return nullptr;
  }
  Value x = inputs[0];
  auto type = llvm::cast<RankedTensorType>(x.getType());

  // Applying a layer object again shares its weights: the input must fit them.
  if (layer.built && (cls == "Dense" || cls == "Conv2D")) {
    auto first = llvm::cast<RankedTensorType>(layer.builtInput);
    if (first.getRank() != type.getRank() ||
        first.getShape().back() != type.getShape().back()) {
      error(sloc, "layer '" + layer.name + "' was built for inputs " + typeStr(first) +
                      " and cannot be applied to " + typeStr(type));
      note(layer.loc, "'" + layer.name + "' is defined here");
      return nullptr;
    }
  }

  if (cls == "Dense" || cls == "Conv2D") {
    bool dense = cls == "Dense";
    if (dense && type.getRank() < 2) {
      error(sloc, "Dense needs an input with a feature axis, got " + typeStr(type));
      return nullptr;
    }
    if (!dense && type.getRank() != 4) {
      error(sloc, "Conv2D needs an image input (batch, height, width, channels), got " +
                      typeStr(type) +
                      (type.getRank() == 2 ? Twine("; add Reshape((h, w, c)) before it")
                                           : Twine("")));
      return nullptr;
    }
    int64_t in = type.getShape().back();
    if (ShapedType::isDynamic(in)) {
      error(sloc, cls + " needs the size of its input's last axis, got " + typeStr(type));
      return nullptr;
    }
    SmallVector<int64_t> kshape =
        dense ? SmallVector<int64_t>{in, layer.units}
              : SmallVector<int64_t>{layer.window[0], layer.window[1], in, layer.units};
    std::string kname = layer.name + "/kernel", bname = layer.name + "/bias";
    Value kernel, bias;
    if (!layer.built) {
      kernel = param(layer.loc, kname, kshape, layer.kernelInit, layer.kernelReg, layer.trainable);
      if (layer.useBias)
        bias = param(layer.loc, bname, {layer.units}, layer.biasInit, layer.biasReg, layer.trainable);
      if (!kernel || (layer.useBias && !bias))
        return nullptr;
      layer.built = true;
      layer.builtInput = type;
    } else {
      builder.setInsertionPointToEnd(&func.getBody().front());
      kernel = builder.create<ReadParamOp>(loc, RankedTensorType::get(kshape, builder.getF32Type()),
                                           FlatSymbolRefAttr::get(&ctx, kname));
      if (layer.useBias)
        bias = builder.create<ReadParamOp>(
            loc, RankedTensorType::get({layer.units}, builder.getF32Type()),
            FlatSymbolRefAttr::get(&ctx, bname));
    }
    Value y;
    if (dense) {
      y = build<MatMulOp>(loc, {x, kernel});
    } else {
      y = build<Conv2DOp>(
          loc, {x, kernel},
          {builder.getNamedAttr("strides", builder.getDenseI64ArrayAttr(layer.strides)),
           builder.getNamedAttr("padding", builder.getStringAttr(layer.padding))});
    }
    if (y && bias)
      y = build<AddOp>(loc, {y, bias});
    return activation(y, layer.activation, sloc, layer.name);
  }

  if (cls == "MaxPooling2D" || cls == "AveragePooling2D") {
    if (type.getRank() != 4) {
      error(sloc, cls + " needs an image input (batch, height, width, channels), got " +
                      typeStr(type));
      return nullptr;
    }
    NamedAttrList attrs;
    attrs.append("pool_size", builder.getDenseI64ArrayAttr(layer.window));
    attrs.append("strides", builder.getDenseI64ArrayAttr(layer.strides));
    attrs.append("padding", builder.getStringAttr(layer.padding));
    if (cls == "MaxPooling2D")
      return build<MaxPool2DOp>(loc, {x}, attrs);
    return build<AvgPool2DOp>(loc, {x}, attrs);
  }

  if (cls == "Flatten" || cls == "Reshape") {
    if (type.getRank() == 0) {
      error(sloc, cls + " needs a tensor with a batch axis, got the scalar " + typeStr(type));
      return nullptr;
    }
    ArrayRef<int64_t> rest = type.getShape().drop_front();
    int64_t n = 1;
    for (int64_t d : rest) {
      if (ShapedType::isDynamic(d)) {
        error(sloc, cls + " needs the sizes after the batch axis to be known, got " +
                        typeStr(type));
        return nullptr;
      }
      n *= d;
    }
    SmallVector<int64_t> shape{-1};
    if (cls == "Flatten") {
      shape.push_back(n);
    } else {
      // Keras's target_shape excludes the batch; a -1 in it is resolved here
      // because the batch already takes the op's one -1.
      int64_t known = 1, unknownAt = -1;
      for (auto [i, d] : llvm::enumerate(layer.targetShape)) {
        if (d == -1) {
          if (unknownAt >= 0) {
            error(sloc, "Reshape target_shape may contain at most one -1");
            return nullptr;
          }
          unknownAt = i;
        } else if (d < 1 || llvm::MulOverflow(known, d, known)) {
          error(sloc, "Reshape target_shape sizes must be positive");
          return nullptr;
        }
      }
      shape.append(layer.targetShape.begin(), layer.targetShape.end());
      if (unknownAt >= 0) {
        if (n % known != 0) {
          error(sloc, "cannot reshape " + typeStr(type) + " (" + Twine(n) +
                          " values per sample) with target_shape containing -1");
          return nullptr;
        }
        shape[unknownAt + 1] = n / known;
      } else if (known != n) {
        error(sloc, "Reshape cannot turn " + typeStr(type) + " (" + Twine(n) +
                        " values per sample) into " + Twine(known) + " values per sample");
        return nullptr;
      }
    }
    return build<ReshapeOp>(loc, {x},
                            {builder.getNamedAttr("shape", builder.getDenseI64ArrayAttr(shape))});
  }

  if (cls == "Dropout")
    return build<DropoutOp>(loc, {x},
                            {builder.getNamedAttr("rate", builder.getF32FloatAttr(layer.rate)),
                             builder.getNamedAttr("seed", builder.getI64IntegerAttr(layer.seed))});
  if (cls == "Activation")
    return activation(x, layer.activation, sloc, layer.name);
  if (cls == "Softmax")
    return build<SoftmaxOp>(loc, {x},
                            {builder.getNamedAttr("axis", builder.getI64IntegerAttr(layer.axis))});
  if (cls == "ReLU")
    return build<ReluOp>(loc, {x});
  error(sloc, "layer " + cls + " cannot be applied here");
  return nullptr;
}
