//===- Pipeline.cpp - the graph optimization pipeline ----------------------===//
//
// What runs between gradient generation and code generation (design.md):
// cleanups (canonicalize: folders and constant folding; CSE; dead code goes
// with canonicalize), layout assignment, cleanups again, fusion.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void kiln::addGraphOptimizationPasses(OpPassManager &pm) {
  OpPassManager &fn = pm.nest<func::FuncOp>();
  fn.addPass(createCanonicalizerPass());
  fn.addPass(createCSEPass());
  fn.addPass(createAssignLayouts());
  fn.addPass(createCanonicalizerPass());
  fn.addPass(createCSEPass());
  fn.addPass(createFuse());
}

void kiln::registerGraphOptimizationPipeline() {
  PassPipelineRegistration<>("kiln-optimize-graph",
                             "cleanups, layout assignment and fusion (what kilnc runs)",
                             [](OpPassManager &pm) { addGraphOptimizationPasses(pm); });
}
