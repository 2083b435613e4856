//===- CompiledModel.h - compile a model in-process and call its code -----===//
//
// Shared by the numerics and gradient tests: a .kiln or MLIR-text model is
// compiled exactly as kilnc compiles it (training entry points, batch
// specialisation, gradients, lowering, LLVM, shared object), loaded with
// dlopen, and its packed entry points called on plain buffers.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TEST_UNIT_CODEGEN_COMPILEDMODEL_H
#define KILN_TEST_UNIT_CODEGEN_COMPILEDMODEL_H

#include "Interpreter.h"
#include "codegen/Artifact.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include <random>
#include <string>

namespace kiln::test {

struct Compiled {
  std::string error;
  mlir::OwningOpRef<mlir::ModuleOp> graph; // specialised graph, for the interpreter
  ArtifactContents contents;
  void *handle = nullptr;
  void (*entry)(void **) = nullptr; // kiln_predict, when there is one
  ~Compiled();
  const EntrySignature *signature(const std::string &name) const;
};

/// Compiles `source` for `batch` and loads its code; sets `error` on failure.
/// With `training`, the training entry points are built (kiln-build-training);
/// every kiln.gradient is expanded, as kilnc does.
void compile(mlir::MLIRContext &ctx, const std::string &source, int64_t batch, Compiled &out,
             bool training = false);

reference::Tensor randomTensor(const std::vector<int64_t> &shape, std::mt19937 &rng, float lo = -1,
                               float hi = 1);

/// Runs entry point `name` (default: the first) on `inputs` (i32 inputs held
/// as exact floats) and `params`, which it may update in place; returns its
/// outputs.
std::vector<reference::Tensor> runCompiled(const Compiled &c, const std::vector<reference::Tensor> &inputs,
                                           llvm::StringMap<reference::Tensor> &params,
                                           const std::string &name = "");

} // namespace kiln::test

#endif
