//===- kiln-opt.cpp - mlir-opt with the `kiln` dialect and Kiln's passes --===//
//
// For lit tests and for looking at one pass at a time:
//   kiln-opt model.mlir --kiln-specialize-batch=batch-size=64
//   kiln-opt model.mlir --pass-pipeline='builtin.module(func.func(kiln-to-linalg))'
//
//===----------------------------------------------------------------------===//

#include "ir/KilnDialect.h"
#include "codegen/Passes.h"
#include "codegen/cpu/KernelCalls.h"
#include "passes/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  kiln::registerKilnPasses();
  kiln::registerGraphOptimizationPipeline();
  kiln::registerKilnCodegenPasses();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<kiln::KilnDialect>();
  // kiln.kernel_call bufferizes like a linalg op (one-shot-bufferize).
  kiln::cpu::registerKernelCallBufferization(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Kiln optimizer driver\n", registry));
}
