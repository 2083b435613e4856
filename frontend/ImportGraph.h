//===- ImportGraph.h - AST -> `kiln` graph --------------------------------===//
#ifndef KILN_FRONTEND_IMPORTGRAPH_H
#define KILN_FRONTEND_IMPORTGRAPH_H

#include "frontend/AST.h"
#include "frontend/Diagnostics.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace kiln {

/// Builds the graph of a parsed model file:
///  - `kiln.param` for every weight, named as Keras names it (`dense/kernel`);
///  - `func.func @predict` from the model inputs (batch dimension `?`) to its
///    outputs, with names in `kiln.name` argument/result attributes;
///  - `kiln.training` when the file calls compile().
/// Name, type and shape errors are reported through `diags` at the statement
/// that causes them; the result is null if any error was reported.
mlir::OwningOpRef<mlir::ModuleOp> importGraph(const ModuleAST &ast, Diagnostics &diags,
                                              mlir::MLIRContext &context,
                                              llvm::StringRef defaultModelName);

/// Parses the main buffer of `diags.sourceMgr()` and imports it.
mlir::OwningOpRef<mlir::ModuleOp> compileModelFile(Diagnostics &diags, mlir::MLIRContext &context,
                                                   llvm::StringRef defaultModelName);

} // namespace kiln

#endif
