//===- KilnOps.cpp - verifiers and folders of `kiln` ops ------------------===//
//
// Result types are inferred in ShapeInference.cpp; this file holds the checks
// that are not about result shapes (symbols, names, hyperparameters).
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace kiln;

#define GET_OP_CLASSES
#include "ir/KilnInterfaces.cpp.inc"
#include "ir/KilnOps.cpp.inc"

namespace kiln {
ArrayRef<StringRef> knownLosses() {
  static const StringRef names[] = {"mean_squared_error", "mean_absolute_error",
                                    "binary_crossentropy", "categorical_crossentropy",
                                    "sparse_categorical_crossentropy"};
  return names;
}
ArrayRef<StringRef> knownOptimizers() {
  static const StringRef names[] = {"sgd", "adam", "adamw", "rmsprop"};
  return names;
}
ArrayRef<StringRef> knownMetrics() {
  static const StringRef names[] = {"accuracy", "binary_accuracy", "categorical_accuracy",
                                    "sparse_categorical_accuracy", "mean_squared_error",
                                    "mean_absolute_error"};
  return names;
}
ArrayRef<StringRef> knownInitializers() {
  static const StringRef names[] = {
      "glorot_uniform", "glorot_normal", "he_uniform",     "he_normal",     "lecun_uniform",
      "lecun_normal",   "zeros",         "ones",           "constant",      "random_normal",
      "random_uniform", "truncated_normal"};
  return names;
}
} // namespace kiln

static bool contains(ArrayRef<StringRef> list, StringRef name) {
  return llvm::is_contained(list, name);
}

//===----------------------------------------------------------------------===//
// kiln.param / kiln.read_param
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  auto type = llvm::cast<RankedTensorType>(getType());
  if (!type.hasStaticShape())
    return emitOpError("parameter ") << getSymName() << " must have a static shape, got "
                                     << type;
  if (!contains(knownInitializers(), getInitializer()))
    return emitOpError("unknown initializer \"") << getInitializer() << "\"";
  for (auto [name, value] : {std::pair{"l1", getL1()}, std::pair{"l2", getL2()}})
    if (value && !(value->convertToDouble() >= 0.0))
      return emitOpError(name) << " regularization factor must be non-negative";
  return success();
}

LogicalResult ReadParamOp::verifySymbolUses(SymbolTableCollection &symbols) {
  auto param = symbols.lookupNearestSymbolFrom<ParamOp>(*this, getNameAttr());
  if (!param)
    return emitOpError("reads unknown parameter ") << getNameAttr();
  if (param.getType() != getType())
    return emitOpError("result type ")
           << getType() << " differs from the type of parameter " << getNameAttr() << ", "
           << param.getType();
  return success();
}

LogicalResult AssignOp::verifySymbolUses(SymbolTableCollection &symbols) {
  auto param = symbols.lookupNearestSymbolFrom<ParamOp>(*this, getNameAttr());
  if (!param)
    return emitOpError("writes unknown parameter ") << getNameAttr();
  if (param.getType() != getValue().getType())
    return emitOpError("value type ")
           << getValue().getType() << " differs from the type of parameter " << getNameAttr()
           << ", " << param.getType();
  return success();
}

//===----------------------------------------------------------------------===//
// kiln.gradient
//===----------------------------------------------------------------------===//

LogicalResult GradientOp::verify() {
  if (getWrt().size() != getGrads().size())
    return emitOpError("needs one result per `wrt` value, got ")
           << getGrads().size() << " results for " << getWrt().size() << " values";
  for (auto [i, pair] : llvm::enumerate(llvm::zip(getWrt(), getGrads())))
    if (std::get<0>(pair).getType() != std::get<1>(pair).getType())
      return emitOpError("result ") << i << " must have the type of `wrt` value " << i << ", "
                                    << std::get<0>(pair).getType();
  return success();
}

//===----------------------------------------------------------------------===//
// Ops whose result type is their operand's
//===----------------------------------------------------------------------===//

static LogicalResult verifyAxis(Operation *op, int64_t axis) {
  int64_t rank = llvm::cast<RankedTensorType>(op->getOperand(0).getType()).getRank();
  if (axis < -rank || axis >= rank)
    return op->emitOpError("axis ") << axis << " is out of range for a tensor of rank " << rank;
  return success();
}

LogicalResult SoftmaxOp::verify() { return verifyAxis(*this, getAxis()); }
LogicalResult LogSoftmaxOp::verify() { return verifyAxis(*this, getAxis()); }

LogicalResult DropoutOp::verify() {
  double rate = getRate().convertToDouble();
  if (!(rate >= 0.0 && rate < 1.0))
    return emitOpError("rate must be in [0, 1), got ") << rate;
  return success();
}

//===----------------------------------------------------------------------===//
// kiln.constant
//===----------------------------------------------------------------------===//

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

//===----------------------------------------------------------------------===//
// kiln.training
//===----------------------------------------------------------------------===//

LogicalResult TrainingOp::verify() {
  if (!contains(knownLosses(), getLoss()))
    return emitOpError("unknown loss \"") << getLoss() << "\"";
  if (!contains(knownOptimizers(), getOptimizer()))
    return emitOpError("unknown optimizer \"") << getOptimizer() << "\"";
  for (Attribute m : getMetrics())
    if (!contains(knownMetrics(), llvm::cast<StringAttr>(m).getValue()))
      return emitOpError("unknown metric ") << m;
  for (NamedAttribute entry : getOptimizerConfig()) {
    auto f = llvm::dyn_cast<FloatAttr>(entry.getValue());
    if (f && !(f.getValueAsDouble() >= 0.0))
      return emitOpError("optimizer hyperparameter ")
             << entry.getName() << " must be non-negative, got " << f.getValueAsDouble();
  }
  Attribute lrAttr = getOptimizerConfig().get("learning_rate");
  if (auto lr = llvm::dyn_cast_or_null<FloatAttr>(lrAttr); !lr || !(lr.getValueAsDouble() > 0.0)) {
    InFlightDiagnostic diag = emitOpError("optimizer_config needs a positive float learning_rate");
    if (lrAttr)
      diag << ", got " << lrAttr;
    return diag;
  }
  for (StringRef key : {"batch_size", "epochs"})
    if (auto v = getFitConfig().getAs<IntegerAttr>(key); v && v.getInt() < 1)
      return emitOpError("fit_config ") << key << " must be at least 1";
  if (getFromLogits() && getLoss() != "binary_crossentropy" &&
      getLoss() != "categorical_crossentropy" && getLoss() != "sparse_categorical_crossentropy")
    return emitOpError("from_logits applies only to cross-entropy losses, not ") << getLoss();
  return success();
}

//===----------------------------------------------------------------------===//
// kiln.fusion
//===----------------------------------------------------------------------===//

LogicalResult FusionOp::verify() {
  Block &body = getBody().front();
  if (body.getArgumentTypes() != getInputs().getTypes())
    return emitOpError("block arguments must match the inputs' types");
  auto yield = llvm::dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError("body must end in kiln.yield");
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError("kiln.yield must give the results' types");
  return success();
}

//===----------------------------------------------------------------------===//
// kiln.kernel_call
//===----------------------------------------------------------------------===//

void KernelCallOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>> &effects) {
  // On buffers: reads the inputs, writes the outputs (on tensors: none).
  for (OpOperand &in : getInputsMutable())
    if (llvm::isa<MemRefType>(in.get().getType()))
      effects.emplace_back(MemoryEffects::Read::get(), &in, SideEffects::DefaultResource::get());
  for (OpOperand &out : getOutputsMutable())
    if (llvm::isa<MemRefType>(out.get().getType()))
      effects.emplace_back(MemoryEffects::Write::get(), &out, SideEffects::DefaultResource::get());
}
