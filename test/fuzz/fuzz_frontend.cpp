//===- fuzz_frontend.cpp - libFuzzer target over the model frontend -------===//
//
// Any byte string is a model file: it must compile or be rejected with
// diagnostics, never crash, hang, leak or hit undefined behaviour.
//
//===----------------------------------------------------------------------===//
#include "frontend/ImportGraph.h"
#include "ir/KilnDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::MLIRContext *context = [] {
    auto *ctx = new mlir::MLIRContext(mlir::MLIRContext::Threading::DISABLED);
    ctx->loadDialect<kiln::KilnDialect, mlir::func::FuncDialect>();
    return ctx;
  }();
  llvm::SourceMgr sources;
  sources.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.kiln"),
      llvm::SMLoc());
  kiln::Diagnostics diags(sources, llvm::nulls());
  mlir::OwningOpRef<mlir::ModuleOp> module = kiln::compileModelFile(diags, *context, "fuzz");
  // A module is returned exactly when no error was reported.
  if (bool(module) == (diags.errorCount() > 0))
    __builtin_trap();
  return 0;
}
