//===- SplitModule.h - an LLVM-dialect module -> independent parts --------===//
#ifndef KILN_CODEGEN_CPU_SPLITMODULE_H
#define KILN_CODEGEN_CPU_SPLITMODULE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/SmallVector.h"

namespace kiln::cpu {

/// Splits an LLVM-dialect module into modules that share no code: one per
/// group of defined functions that call each other (an entry point and its
/// packed wrapper) or use the same non-constant or non-local global. Each
/// part gets the declarations and constants it uses (private constants are
/// duplicated). The parts follow the module's order; one part (the module
/// itself, cloned) when the module does not split cleanly.
/// kilnc compiles the parts on parallel threads (compileToObjects).
llvm::SmallVector<mlir::OwningOpRef<mlir::ModuleOp>> splitModule(mlir::ModuleOp module);

} // namespace kiln::cpu

#endif
