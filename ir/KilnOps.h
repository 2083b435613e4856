//===- KilnOps.h - ops of the `kiln` graph dialect ------------------------===//
#ifndef KILN_IR_KILNOPS_H
#define KILN_IR_KILNOPS_H

#include "ir/KilnDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace kiln {
/// Marks ops whose gradient is zero wherever it exists (KilnOps.td).
template <typename ConcreteType>
class ZeroGradient : public mlir::OpTrait::TraitBase<ConcreteType, ZeroGradient> {};
} // namespace kiln

#include "ir/KilnInterfaces.h.inc"

#define GET_OP_CLASSES
#include "ir/KilnOps.h.inc"

namespace kiln {
/// Names the training configuration accepts; shared by the verifier of
/// kiln.training and by the frontend's diagnostics (which list them).
llvm::ArrayRef<llvm::StringRef> knownLosses();
llvm::ArrayRef<llvm::StringRef> knownOptimizers();
llvm::ArrayRef<llvm::StringRef> knownMetrics();
llvm::ArrayRef<llvm::StringRef> knownInitializers();
} // namespace kiln

#endif
