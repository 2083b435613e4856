//===- Passes.td - Kiln's passes over the `kiln` dialect ---*- tablegen -*-===//
#ifndef KILN_PASSES_TD
#define KILN_PASSES_TD

include "mlir/Pass/PassBase.td"

def SpecializeBatch : Pass<"kiln-specialize-batch", "::mlir::ModuleOp"> {
  let summary = "Fix the dynamic batch dimension of every entry point and re-infer all shapes";
  let description = [{
    The frontend leaves the batch dimension of model inputs dynamic (`?`).
    Entry points are specialised for one batch size (design.md, "Entry
    points"): this pass sets dimension 0 of every dynamic function argument to
    `batch-size`, then re-runs type inference on every op in order, so the
    whole graph becomes static. It fails, naming the op, if a shape rule
    rejects the new size.

    A function with a `kiln.batch_size` attribute takes that size instead
    (kilnc --batch-size=64,1 makes one copy of each entry point per size).

    Before: `func.func @predict(%x: tensor<?x4xf32>) -> tensor<?x2xf32>`
    After (`batch-size=8`): `func.func @predict(%x: tensor<8x4xf32>) -> tensor<8x2xf32>`
  }];
  let dependentDialects = ["::kiln::KilnDialect"];
  let options = [
    Option<"batchSize", "batch-size", "int64_t", /*default=*/"32",
           "batch size to specialise the entry points for">,
  ];
  let statistics = [
    Statistic<"numRefined", "num-refined", "op results whose type was refined">,
  ];
}

#endif // KILN_PASSES_TD
