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
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"

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


// The derivative rule of an op, defined once per op in Gradients.cpp (as the
// shape rules are in ShapeInference.cpp). kiln-generate-gradients walks a
// graph backwards and asks each op for the gradients of its operands.
def Kiln_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    Reverse-mode derivative rule: given the gradient of the loss with respect
    to the op's result, build (at the builder's insertion point, with `kiln`
    ops) the gradient with respect to each operand whose `needed` flag is set.
    Operands that need no gradient get a null Value.
  }];
  let methods = [
    InterfaceMethod<"Builds the operands' gradients from the result's.",
      "::mlir::LogicalResult", "buildGradients",
      (ins "::mlir::OpBuilder &":$b, "::mlir::Value":$resultGrad,
           "::llvm::ArrayRef<bool>":$needed,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
  ];
}
def Differentiable : DeclareOpInterfaceMethods<Kiln_DifferentiableOpInterface>;
// Piecewise-constant ops (comparisons, sign, masks, metrics): their gradient
// is zero wherever it exists, so no gradient flows through them.
def ZeroGradient : NativeOpTrait<"ZeroGradient"> { let cppNamespace = "::kiln"; }

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
    for frozen parameters. `state` marks optimizer state (step counter,
    moments, learning rate): persistent like a weight, never trained.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<Kiln_FloatTensor>:$type,
                       DefaultValuedStrAttr<StrAttr, "glorot_uniform">:$initializer,
                       OptionalAttr<DictionaryAttr>:$init_config,
                       OptionalAttr<F32Attr>:$l1,
                       OptionalAttr<F32Attr>:$l2,
                       UnitAttr:$trainable,
                       UnitAttr:$state);
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
                         InferTypeOpInterface, Differentiable]> {
  let summary = "elementwise " # what;
  let arguments = (ins Kiln_FloatTensor:$operand);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$operand attr-dict `:` type($result)";
  let hasFolder = 1;
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

// Not differentiable (their derivative is zero almost everywhere); used by
// derivative rules.
def Kiln_SignOp : Kiln_Op<"sign", [Pure, Elementwise, SameOperandsAndResultType,
                                   InferTypeOpInterface, ZeroGradient]> {
  let summary = "elementwise sign: -1, 0 or 1";
  let arguments = (ins Kiln_FloatTensor:$operand);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$operand attr-dict `:` type($result)";
}

// Binary ops broadcast their operands as NumPy does (trailing dimensions
// aligned, size-1 dimensions stretched).
class Kiln_BinaryOp<string mnemonic, string what, list<Trait> traits = [Differentiable]>
    : Kiln_Op<mnemonic, !listconcat([Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>], traits)> {
  let summary = "elementwise " # what # " with NumPy broadcasting";
  let arguments = (ins Kiln_FloatTensor:$lhs, Kiln_FloatTensor:$rhs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def Kiln_AddOp : Kiln_BinaryOp<"add", "addition">;
def Kiln_SubOp : Kiln_BinaryOp<"sub", "subtraction">;
def Kiln_MulOp : Kiln_BinaryOp<"mul", "multiplication">;
def Kiln_DivOp : Kiln_BinaryOp<"div", "division">;
def Kiln_MaxOp : Kiln_BinaryOp<"max", "maximum">;
def Kiln_MinOp : Kiln_BinaryOp<"min", "minimum">;
def Kiln_PowOp : Kiln_BinaryOp<"pow", "power">;

// Comparisons give 1.0 where the relation holds and 0.0 elsewhere (masks for
// derivative rules); they have no gradient.
def Kiln_GreaterOp : Kiln_BinaryOp<"greater", "comparison lhs > rhs (1.0 or 0.0)", [ZeroGradient]>;
def Kiln_GreaterEqualOp : Kiln_BinaryOp<"greater_equal", "comparison lhs >= rhs (1.0 or 0.0)", [ZeroGradient]>;
def Kiln_EqualOp : Kiln_BinaryOp<"equal", "comparison lhs == rhs (1.0 or 0.0)", [ZeroGradient]>;

def Kiln_BroadcastToOp : Kiln_Op<"broadcast_to",
    [Pure, Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "broadcast to `shape` as NumPy does (trailing dimensions aligned)";
  let arguments = (ins Kiln_FloatTensor:$operand, DenseI64ArrayAttr:$shape);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$operand attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

class Kiln_AxisOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Pure, SameOperandsAndResultType, InferTypeOpInterface,
                         Differentiable]> {
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
    [Pure, SameOperandsAndResultType, InferTypeOpInterface, Differentiable]> {
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

def Kiln_DropoutMaskOp : Kiln_Op<"dropout_mask",
    [Pure, ZeroGradient, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "the scaled keep-mask of inverted dropout: 0 or 1 / (1 - rate)";
  let description = [{
    A mask for `like`: the result has `like`'s type (only its shape is used).
    Element i (row-major) is kept when u(seed, step, i) >= rate, u uniform in
    [0, 1) from a counter-based generator (docs/dialect.md gives the exact
    hash), so a training run is reproducible and each step draws a fresh
    mask. `step` is the optimizer's iteration counter.
  }];
  let arguments = (ins Kiln_ScalarF32:$step, Kiln_FloatTensor:$like, F32Attr:$rate,
                       DefaultValuedAttr<I64Attr, "0">:$seed);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$step `,` $like attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Contractions, convolution, pooling
//===----------------------------------------------------------------------===//

def Kiln_MatMulOp : Kiln_Op<"matmul",
    [Pure, Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "matrix product [..., M, K] x [..., K, N] -> [..., M, N]";
  let description = [{
    Batch dimensions must match, or `rhs` is a plain matrix shared by every
    batch (as a Dense kernel is).

    `transpose_lhs` / `transpose_rhs` give an operand's layout: its last two
    dimensions are stored swapped ([..., K, M] or [..., N, K]). The frontend
    and the derivative rules never set them; kiln-assign-layouts folds a
    `kiln.transpose` of an operand into them, so no transposed copy is made.
  }];
  let arguments = (ins Kiln_FloatTensor:$lhs, Kiln_FloatTensor:$rhs,
                       UnitAttr:$transpose_lhs, UnitAttr:$transpose_rhs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Kiln_Conv2DOp : Kiln_Op<"conv2d",
    [Pure, Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
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
    : Kiln_Op<mnemonic, [Pure, Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
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
// Backward ops of convolution and pooling (built by derivative rules)
//===----------------------------------------------------------------------===//

def Kiln_Conv2DBackpropInputOp : Kiln_Op<"conv2d_backprop_input",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "gradient of conv2d with respect to its input";
  let description = [{
    `grad` is the gradient of the conv2d result; the result has
    `input_shape` (NHWC), the shape of the conv2d's input.
  }];
  let arguments = (ins Kiln_FloatTensor:$grad, Kiln_FloatTensor:$kernel,
                       DenseI64ArrayAttr:$input_shape,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$strides,
                       DefaultValuedStrAttr<StrAttr, "valid">:$padding);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$grad `,` $kernel attr-dict `:` functional-type(operands, results)";
}

def Kiln_Conv2DBackpropFilterOp : Kiln_Op<"conv2d_backprop_filter",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "gradient of conv2d with respect to its kernel";
  let description = [{
    `input` is the conv2d's input, `grad` the gradient of its result; the
    result has `kernel_shape` ([kh, kw, in, out]).
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$grad,
                       DenseI64ArrayAttr:$kernel_shape,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$strides,
                       DefaultValuedStrAttr<StrAttr, "valid">:$padding);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input `,` $grad attr-dict `:` functional-type(operands, results)";
}

def Kiln_MaxPool2DGradOp : Kiln_Op<"max_pool2d_grad",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "gradient of max_pool2d with respect to its input";
  let description = [{
    Each window's gradient goes to the first position (row-major within the
    window) holding the window's maximum, as TensorFlow routes it.
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$grad,
                       DenseI64ArrayAttr:$pool_size,
                       DenseI64ArrayAttr:$strides,
                       DefaultValuedStrAttr<StrAttr, "valid">:$padding);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input `,` $grad attr-dict `:` functional-type(operands, results)";
}

def Kiln_AvgPool2DGradOp : Kiln_Op<"avg_pool2d_grad",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "gradient of avg_pool2d with respect to its input";
  let description = [{
    Each window's gradient is shared equally by the input positions it
    averaged (padding excluded); the result has `input_shape`.
  }];
  let arguments = (ins Kiln_FloatTensor:$grad,
                       DenseI64ArrayAttr:$input_shape,
                       DenseI64ArrayAttr:$pool_size,
                       DenseI64ArrayAttr:$strides,
                       DefaultValuedStrAttr<StrAttr, "valid">:$padding);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

def Kiln_ReshapeOp : Kiln_Op<"reshape",
    [Pure, Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "reshape to `shape` (row-major); one entry may be -1";
  let description = [{
    A -1 entry takes whatever size keeps the element count; it is dynamic when
    the input has a dynamic dimension (the batch, before specialisation).
  }];
  let arguments = (ins AnyRankedTensor:$operand, DenseI64ArrayAttr:$shape);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$operand attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def Kiln_TransposeOp : Kiln_Op<"transpose",
    [Pure, Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "permute dimensions: result dim i = operand dim perm[i]";
  let arguments = (ins AnyRankedTensor:$operand, DenseI64ArrayAttr:$perm);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$operand attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def Kiln_SliceOp : Kiln_Op<"slice",
    [Pure, Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "the block of `sizes` elements starting at `start` (static bounds)";
  let arguments = (ins Kiln_FloatTensor:$operand, DenseI64ArrayAttr:$start,
                       DenseI64ArrayAttr:$sizes);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$operand attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def Kiln_ConcatOp : Kiln_Op<"concat",
    [Pure, Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "join tensors along `axis`";
  let arguments = (ins Variadic<Kiln_FloatTensor>:$inputs, I64Attr:$axis);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

class Kiln_ReduceOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Pure, Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
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

// Losses and metrics average over the batch (dimension 0). With `samples`,
// only the first `samples` rows are real data (the rest pads a final partial
// batch): they are averaged and the padding counts for nothing.
class Kiln_LossOp<string mnemonic, string what, Type labelType = Kiln_FloatTensor>
    : Kiln_Op<mnemonic, [Pure, Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = what # ", averaged over the batch";
  let arguments = (ins labelType:$labels, Kiln_FloatTensor:$predictions,
                       Optional<Kiln_ScalarF32>:$samples,
                       DefaultValuedAttr<BoolAttr, "false">:$from_logits);
  let results = (outs Kiln_ScalarF32:$result);
  let assemblyFormat = "$labels `,` $predictions (`samples` $samples^)? attr-dict `:` functional-type(operands, results)";
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
    [Pure, ZeroGradient, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "fraction of correct predictions in the batch";
  let description = [{
    `kind` is "binary" (prediction > threshold, default 0.5), "categorical"
    (argmax of both) or "sparse_categorical" (argmax against integer labels),
    resolved from the loss as Keras resolves `accuracy`.
  }];
  let arguments = (ins Kiln_LabelTensor:$labels, Kiln_FloatTensor:$predictions,
                       Optional<Kiln_ScalarF32>:$samples,
                       StrAttr:$kind,
                       DefaultValuedAttr<F32Attr, "0.5">:$threshold);
  let results = (outs Kiln_ScalarF32:$result);
  let assemblyFormat = "$labels `,` $predictions (`samples` $samples^)? attr-dict `:` functional-type(operands, results)";
}

def Kiln_OneHotOp : Kiln_Op<"one_hot",
    [Pure, ZeroGradient, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "integer class labels -> one-hot f32 rows of `depth` classes";
  let description = [{
    Labels of shape [...] or [..., 1] give [..., depth]; a label outside
    [0, depth) gives a row of zeros.
  }];
  let arguments = (ins RankedTensorOf<[I32]>:$labels, I64Attr:$depth);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$labels attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Gradients and parameter updates (training steps)
//===----------------------------------------------------------------------===//

def Kiln_GradientOp : Kiln_Op<"gradient",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "the gradient of a scalar loss with respect to each of `wrt`";
  let description = [{
    A placeholder that kiln-generate-gradients replaces with the backward
    graph (reverse-mode differentiation of the ops between `wrt` and `loss`).
    Result i has the type of `wrt[i]`; a value the loss does not depend on
    gets zeros.

    ```mlir
    %g:2 = kiln.gradient %loss wrt %w, %b : (tensor<f32>, tensor<2x3xf32>, tensor<3xf32>) -> (tensor<2x3xf32>, tensor<3xf32>)
    ```
  }];
  let arguments = (ins Kiln_ScalarF32:$loss, Variadic<Kiln_FloatTensor>:$wrt);
  let results = (outs Variadic<Kiln_FloatTensor>:$grads);
  let assemblyFormat = "$loss `wrt` $wrt attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Kiln_AssignOp : Kiln_Op<"assign",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "writes a new value of a parameter (or optimizer state) at the end of a step";
  let description = [{
    The step's reads of the parameter (`kiln.read_param`) see the value from
    before the step; the new value is stored in place when the step ends.
  }];
  let arguments = (ins FlatSymbolRefAttr:$name, Kiln_FloatTensor:$value);
  let assemblyFormat = "$name `,` $value attr-dict `:` type($value)";
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

//===----------------------------------------------------------------------===//
// Fusion groups (kiln-fuse)
//===----------------------------------------------------------------------===//

def Kiln_FusionOp : Kiln_Op<"fusion",
    [IsolatedFromAbove, RecursiveMemoryEffects, SingleBlock]> {
  let summary = "a group of ops that becomes exactly one kernel";
  let description = [{
    kiln-fuse puts every op that computes (everything but parameter reads,
    reshapes and assignments) into a `kiln.fusion`; each becomes one kernel
    in every backend (on CPU, one function of the step). The body is isolated
    from above: values from outside come in as `inputs`, results go out
    through `kiln.yield`. `kind` names the group after its anchor op (the
    contraction, convolution or reduction the others were fused into) or
    `elementwise` / `update`.

    ```mlir
    %r = kiln.fusion "conv2d" (%x, %w, %b) : (tensor<8x28x28x1xf32>, tensor<3x3x1x32xf32>, tensor<32xf32>) -> tensor<8x26x26x32xf32> {
    ^bb0(%a: tensor<8x28x28x1xf32>, %k: tensor<3x3x1x32xf32>, %c: tensor<32xf32>):
      %0 = kiln.conv2d %a, %k ...
      %1 = kiln.add %0, %c ...
      %2 = kiln.relu %1 : tensor<8x26x26x32xf32>
      kiln.yield %2 : tensor<8x26x26x32xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs, StrAttr:$kind);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$kind `(` $inputs `)` attr-dict `:` functional-type($inputs, $results) $body";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The compute ops of the group, in order (the yield excluded).
    auto getGroupOps() { return getBody().front().without_terminator(); }
  }];
}

def Kiln_YieldOp : Kiln_Op<"yield", [Pure, Terminator, ReturnLike, HasParent<"FusionOp">]> {
  let summary = "the results of a kiln.fusion group";
  let arguments = (ins Variadic<AnyRankedTensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

//===----------------------------------------------------------------------===//
// CPU code generation
//===----------------------------------------------------------------------===//

def Kiln_KernelCallOp : Kiln_Op<"kernel_call",
    [AttrSizedOperandSegments, DestinationStyleOpInterface,
     DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "a call of a kernels/cpu library function, in destination-passing style";
  let description = [{
    What kiln-to-linalg makes of a GEMM or a convolution on CPU: `callee`
    (kiln_gemm_f32, kiln_conv2d_f32, ...) with its shape descriptor (the
    KilnGemm / KilnConv2d fields of kernels/cpu/Kernels.h, in order), reading
    `inputs` and writing `outputs`. It bufferizes like a linalg op;
    kiln-call-kernels turns it into the C call, with a workspace in the
    scratch arena.
  }];
  let arguments = (ins StrAttr:$callee, DenseI64ArrayAttr:$descriptor,
                       Variadic<AnyShaped>:$inputs, Variadic<AnyShaped>:$outputs);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = "$callee `(` $inputs `)` `outs` `(` $outputs `)` attr-dict `:` functional-type(operands, results)";
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputsMutable(); }
  }];
}

#endif // KILN_OPS_TD
