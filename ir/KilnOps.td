//===- KilnOps.td - the `kiln` graph dialect ---------------*- tablegen -*-===//
//
// Tensor-level ops of a model graph, as the frontend produces them and as the
// passes (gradient generation, fusion, layout, memory planning) consume them.
// Conventions follow Keras: images are NHWC, Dense kernels [in, out], Conv2D
// kernels [kh, kw, in, out]. The batch dimension may be dynamic (`?`) until an
// entry point is specialised for a batch size (see passes/).
//
// Every op that computes a tensor infers its result type (InferTypeOpInterface);
// the shape rules live in ShapeInference.cpp, one function per op.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_OPS_TD
#define KILN_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinTypes.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Kiln_Dialect : Dialect {
  let name = "kiln";
  let cppNamespace = "::kiln";
  let summary = "Kiln's tensor graph dialect";
  let description = [{
    Ops of a neural-network model graph with Keras conventions (NHWC images,
    `[in, out]` Dense kernels, `[kh, kw, in, out]` Conv2D kernels). Parameters
    are module-level symbols (`kiln.param`) read inside functions with
    `kiln.read_param`; the training configuration is a `kiln.training` op.
  }];
  // Inherent attributes live in the attribute dictionary so that the frontend
  // can run type inference on an op before creating it (and report a located
  // shape error instead of failing inside a builder).
  let usePropertiesForAttributes = 0;
  let hasConstantMaterializer = 1;
}

class Kiln_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kiln_Dialect, mnemonic, traits>;

def Kiln_FloatTensor : RankedTensorOf<[F32]>;
def Kiln_LabelTensor : RankedTensorOf<[F32, I32]>;
def Kiln_ScalarF32 : 0DTensorOf<[F32]>;

//===----------------------------------------------------------------------===//
// Parameters and constants
//===----------------------------------------------------------------------===//

def Kiln_ParamOp : Kiln_Op<"param", [Symbol]> {
  let summary = "a named model parameter (weights), persistent across steps";
  let description = [{
    Declares a parameter by its Keras name (`dense/kernel`), its static type,
    how it is initialised and how it is regularised. Functions read it with
    `kiln.read_param`.

    ```mlir
    kiln.param @"dense/kernel" : tensor<784x10xf32> {initializer = "glorot_uniform", l2 = 1.0e-02 : f32}
    ```

    `initializer` is a Keras initializer name; `init_config` holds its
    arguments (seed, mean, stddev, minval, maxval, value). `trainable` is unset
    for frozen parameters.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<Kiln_FloatTensor>:$type,
                       DefaultValuedStrAttr<StrAttr, "glorot_uniform">:$initializer,
                       OptionalAttr<DictionaryAttr>:$init_config,
                       OptionalAttr<F32Attr>:$l1,
                       OptionalAttr<F32Attr>:$l2,
                       UnitAttr:$trainable);
  let assemblyFormat = "$sym_name `:` $type attr-dict";
  let hasVerifier = 1;
}

def Kiln_ReadParamOp : Kiln_Op<"read_param",
    [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "reads the current value of a parameter";
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

def Kiln_ConstantOp : Kiln_Op<"constant", [Pure, ConstantLike,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "a constant tensor";
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$value attr-dict";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

class Kiln_UnaryOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Pure, Elementwise, SameOperandsAndResultType,
                         InferTypeOpInterface]> {
  let summary = "elementwise " # what;
  let arguments = (ins Kiln_FloatTensor:$operand);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$operand attr-dict `:` type($result)";
}

def Kiln_NegOp     : Kiln_UnaryOp<"neg", "negation">;
def Kiln_AbsOp     : Kiln_UnaryOp<"abs", "absolute value">;
def Kiln_ExpOp     : Kiln_UnaryOp<"exp", "exponential">;
def Kiln_LogOp     : Kiln_UnaryOp<"log", "natural logarithm">;
def Kiln_SqrtOp    : Kiln_UnaryOp<"sqrt", "square root">;
def Kiln_RsqrtOp   : Kiln_UnaryOp<"rsqrt", "reciprocal square root">;
def Kiln_SquareOp  : Kiln_UnaryOp<"square", "square">;
def Kiln_TanhOp    : Kiln_UnaryOp<"tanh", "hyperbolic tangent">;
def Kiln_SigmoidOp : Kiln_UnaryOp<"sigmoid", "logistic sigmoid 1 / (1 + exp(-x))">;
def Kiln_ReluOp    : Kiln_UnaryOp<"relu", "rectified linear unit max(x, 0)">;

// Binary ops broadcast their operands as NumPy does (trailing dimensions
// aligned, size-1 dimensions stretched).
class Kiln_BinaryOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "elementwise " # what # " with NumPy broadcasting";
  let arguments = (ins Kiln_FloatTensor:$lhs, Kiln_FloatTensor:$rhs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Kiln_AddOp : Kiln_BinaryOp<"add", "addition">;
def Kiln_SubOp : Kiln_BinaryOp<"sub", "subtraction">;
def Kiln_MulOp : Kiln_BinaryOp<"mul", "multiplication">;
def Kiln_DivOp : Kiln_BinaryOp<"div", "division">;
def Kiln_MaxOp : Kiln_BinaryOp<"max", "maximum">;
def Kiln_MinOp : Kiln_BinaryOp<"min", "minimum">;
def Kiln_PowOp : Kiln_BinaryOp<"pow", "power">;

class Kiln_AxisOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Pure, SameOperandsAndResultType, InferTypeOpInterface]> {
  let summary = what # " along one axis";
  let hasVerifier = 1;
  let arguments = (ins Kiln_FloatTensor:$operand,
                       DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$operand attr-dict `:` type($result)";
}

def Kiln_SoftmaxOp    : Kiln_AxisOp<"softmax", "softmax">;
def Kiln_LogSoftmaxOp : Kiln_AxisOp<"log_softmax", "log-softmax">;

def Kiln_DropoutOp : Kiln_Op<"dropout",
    [Pure, SameOperandsAndResultType, InferTypeOpInterface]> {
  let hasVerifier = 1;
  let summary = "inverted dropout (training only; identity in predict)";
  let description = [{
    In a training step, zeroes each element with probability `rate` and scales
    the others by `1 / (1 - rate)`, with a counter-based RNG seeded by `seed`.
    Outside training it is the identity.
  }];
  let arguments = (ins Kiln_FloatTensor:$operand, F32Attr:$rate,
                       DefaultValuedAttr<I64Attr, "0">:$seed);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$operand attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Contractions, convolution, pooling
//===----------------------------------------------------------------------===//

def Kiln_MatMulOp : Kiln_Op<"matmul",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "matrix product [..., M, K] x [..., K, N] -> [..., M, N]";
  let description = [{
    Batch dimensions must match, or `rhs` is a plain matrix shared by every
    batch (as a Dense kernel is).
  }];
  let arguments = (ins Kiln_FloatTensor:$lhs, Kiln_FloatTensor:$rhs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Kiln_Conv2DOp : Kiln_Op<"conv2d",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "2-D convolution, NHWC input, [kh, kw, in, out] kernel";
  let description = [{
    Cross-correlation as Keras computes it. `padding` is "valid" (no padding)
    or "same" (output size ceil(in / stride), padding split as TensorFlow
    splits it, the extra row/column at the bottom/right).
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$kernel,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$strides,
                       DefaultValuedStrAttr<StrAttr, "valid">:$padding);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input `,` $kernel attr-dict `:` functional-type(operands, results)";
}

class Kiln_PoolOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "2-D " # what # " pooling over NHWC";
  let description = [{
    Windows of `pool_size` moved by `strides`; "same" padding does not count
    padded elements (as Keras does for average pooling).
  }];
  let arguments = (ins Kiln_FloatTensor:$input,
                       DenseI64ArrayAttr:$pool_size,
                       DenseI64ArrayAttr:$strides,
                       DefaultValuedStrAttr<StrAttr, "valid">:$padding);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Kiln_MaxPool2DOp : Kiln_PoolOp<"max_pool2d", "max">;
def Kiln_AvgPool2DOp : Kiln_PoolOp<"avg_pool2d", "average">;

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

def Kiln_ReshapeOp : Kiln_Op<"reshape",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "reshape to `shape` (row-major); one entry may be -1";
  let description = [{
    A -1 entry takes whatever size keeps the element count; it is dynamic when
    the input has a dynamic dimension (the batch, before specialisation).
  }];
  let arguments = (ins AnyRankedTensor:$operand, DenseI64ArrayAttr:$shape);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$operand attr-dict `:` functional-type(operands, results)";
}

def Kiln_TransposeOp : Kiln_Op<"transpose",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "permute dimensions: result dim i = operand dim perm[i]";
  let arguments = (ins AnyRankedTensor:$operand, DenseI64ArrayAttr:$perm);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$operand attr-dict `:` functional-type(operands, results)";
}

def Kiln_ConcatOp : Kiln_Op<"concat",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "join tensors along `axis`";
  let arguments = (ins Variadic<Kiln_FloatTensor>:$inputs, I64Attr:$axis);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type(operands, results)";
}

class Kiln_ReduceOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = what # " over `axes` (all axes when empty)";
  let arguments = (ins Kiln_FloatTensor:$operand,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{}">:$axes,
                       DefaultValuedAttr<BoolAttr, "false">:$keepdims);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$operand attr-dict `:` functional-type(operands, results)";
}

def Kiln_ReduceSumOp  : Kiln_ReduceOp<"reduce_sum", "sum">;
def Kiln_ReduceMeanOp : Kiln_ReduceOp<"reduce_mean", "mean">;
def Kiln_ReduceMaxOp  : Kiln_ReduceOp<"reduce_max", "maximum">;
def Kiln_ReduceMinOp  : Kiln_ReduceOp<"reduce_min", "minimum">;

//===----------------------------------------------------------------------===//
// Losses and metrics (Keras semantics: mean over the batch)
//===----------------------------------------------------------------------===//

class Kiln_LossOp<string mnemonic, string what, Type labelType = Kiln_FloatTensor>
    : Kiln_Op<mnemonic, [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = what # ", averaged over the batch";
  let arguments = (ins labelType:$labels, Kiln_FloatTensor:$predictions,
                       DefaultValuedAttr<BoolAttr, "false">:$from_logits);
  let results = (outs Kiln_ScalarF32:$result);
  let assemblyFormat = "$labels `,` $predictions attr-dict `:` functional-type(operands, results)";
}

def Kiln_MeanSquaredErrorOp : Kiln_LossOp<"mean_squared_error", "mean squared error">;
def Kiln_MeanAbsoluteErrorOp : Kiln_LossOp<"mean_absolute_error", "mean absolute error">;
def Kiln_BinaryCrossentropyOp
    : Kiln_LossOp<"binary_crossentropy", "binary cross-entropy (probabilities clipped to [eps, 1 - eps] unless from_logits)">;
def Kiln_CategoricalCrossentropyOp
    : Kiln_LossOp<"categorical_crossentropy", "categorical cross-entropy over the last axis, one-hot labels">;
def Kiln_SparseCategoricalCrossentropyOp
    : Kiln_LossOp<"sparse_categorical_crossentropy",
                  "categorical cross-entropy over the last axis, integer class labels",
                  RankedTensorOf<[I32]>>;

def Kiln_AccuracyOp : Kiln_Op<"accuracy",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "fraction of correct predictions in the batch";
  let description = [{
    `kind` is "binary" (prediction > threshold, default 0.5), "categorical"
    (argmax of both) or "sparse_categorical" (argmax against integer labels),
    resolved from the loss as Keras resolves `accuracy`.
  }];
  let arguments = (ins Kiln_LabelTensor:$labels, Kiln_FloatTensor:$predictions,
                       StrAttr:$kind,
                       DefaultValuedAttr<F32Attr, "0.5">:$threshold);
  let results = (outs Kiln_ScalarF32:$result);
  let assemblyFormat = "$labels `,` $predictions attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Training configuration
//===----------------------------------------------------------------------===//

def Kiln_TrainingOp : Kiln_Op<"training", []> {
  let summary = "how the model is trained: loss, optimizer, metrics, schedule";
  let description = [{
    One per module, from the model file's `compile(...)` and `fit(...)`:

    ```mlir
    kiln.training {loss = "sparse_categorical_crossentropy", from_logits = false,
                   optimizer = "adam", optimizer_config = {learning_rate = 1.0e-03 : f32, ...},
                   metrics = ["accuracy"], fit_config = {batch_size = 64 : i64, epochs = 5 : i64}}
    ```

    `optimizer_config` holds every hyperparameter with Keras defaults filled
    in; `fit_config` the defaults `kiln-run fit` uses when not overridden.
  }];
  let arguments = (ins StrAttr:$loss,
                       DefaultValuedAttr<BoolAttr, "false">:$from_logits,
                       StrAttr:$optimizer,
                       DictionaryAttr:$optimizer_config,
                       StrArrayAttr:$metrics,
                       DictionaryAttr:$fit_config);
  let assemblyFormat = "attr-dict";
  let hasVerifier = 1;
}

#endif // KILN_OPS_TD
