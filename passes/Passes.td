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

def BuildTraining : Pass<"kiln-build-training", "::mlir::ModuleOp"> {
  let summary = "Add train_step, eval_step and gradients entry points from predict and kiln.training";
  let description = [{
    From `predict` and the module's `kiln.training` op, builds (docs/passes.md):

    - `eval_step(inputs..., labels) -> (loss, metrics...)`: the forward graph
      (dropout off), the loss plus the regularisation terms, the metrics;
    - `train_step(inputs..., labels) -> (loss, metrics...)`: the same in
      training mode (dropout on), then `kiln.gradient` of the loss with
      respect to every trainable parameter and the optimizer's update written
      back with `kiln.assign`; optimizer state (step counter, learning rate,
      moments) is declared as `kiln.param ... {state}`;
    - `gradients(inputs..., labels) -> (loss, d loss / d param...)`: the
      training-mode loss and its gradients, nothing updated (kiln-run grad).

    A loss on softmax / sigmoid outputs is computed from the logits (the
    stable fused form, as Keras does). Keras optimizer semantics: SGD
    (momentum, nesterov), Adam and AdamW (bias correction folded into the
    step size, epsilon outside the square root), RMSprop (centered,
    momentum); clipnorm, clipvalue, global_clipnorm, weight_decay.
    Modules without `kiln.training` are left alone.
  }];
  let dependentDialects = ["::kiln::KilnDialect", "::mlir::func::FuncDialect"];
}

def GenerateGradients : Pass<"kiln-generate-gradients", "::mlir::func::FuncOp"> {
  let summary = "Replace each kiln.gradient by the reverse-mode backward graph";
  let description = [{
    For `kiln.gradient %loss wrt %a, %b`, walks the ops between the `wrt`
    values and the loss in reverse order, asking each op's
    DifferentiableOpInterface for the gradients of its operands (the rules
    live in ir/Gradients.cpp), and sums the contributions of values with
    several uses. Only ops that both depend on a `wrt` value and feed the
    loss are differentiated: unused gradients are never built. A `wrt` value
    the loss does not depend on gets zeros. Runs after batch specialisation
    (the rules need static shapes).
  }];
  let dependentDialects = ["::kiln::KilnDialect"];
  let statistics = [
    Statistic<"numDifferentiated", "num-differentiated", "forward ops differentiated">,
  ];
}

def AssignLayouts : Pass<"kiln-assign-layouts", "::mlir::func::FuncOp"> {
  let summary = "Choose operand layouts per op: fold transposes into the ops that read them";
  let description = [{
    A `kiln.transpose` that swaps the last two dimensions of a 2-D matmul
    operand is not materialised: the matmul reads the operand in its stored
    layout (`transpose_lhs` / `transpose_rhs`), the way a GEMM takes `op(A)`.
    The backward graph is full of these (`g w^T`, `x^T g`). A transpose of a
    constant was already computed at compile time by canonicalize. User-visible
    layouts (arguments, results, parameters) stay Keras's.
  }];
  let dependentDialects = ["::kiln::KilnDialect"];
  let statistics = [
    Statistic<"numFolded", "num-folded", "transposes folded into a matmul operand layout">,
  ];
}

def Fuse : Pass<"kiln-fuse", "::mlir::func::FuncOp"> {
  let summary = "Group ops into kiln.fusion regions, each of which becomes one kernel";
  let description = [{
    Every op that computes goes into exactly one `kiln.fusion` (parameter
    reads, constants, reshapes and assignments stay outside). Ops are visited
    in program order and merged by fixed rules (docs/passes.md):
    1. epilogue / chain: an elementwise op joins the group of an operand's
       producer (elementwise, contraction, convolution, pooling or reduction)
       when it is that value's only user, or when it has one non-constant
       operand (an activation, a derivative's mask): then the value is
       computed in the group anyway;
    2. prologue: a reduction (reduce, softmax, loss, metric) joins the group of
       an elementwise operand's producer when it is that value's only user;
    3. sibling: a reduction grouped with elementwise ops only joins the group of a
       contraction or convolution that reads the same operand (the bias
       gradient with the weight gradient);
    4. prologue group: a group of elementwise ops whose results all go to one
       other group joins it (applied as that group loads its operands);
    5. update: groups of elementwise ops whose results only feed
       `kiln.assign` (or each other) become one `update` group: the optimizer
       step of all parameters.
    A merge is made only if it keeps the graph of groups acyclic. The result
    is deterministic: it depends on the program order only.
  }];
  let dependentDialects = ["::kiln::KilnDialect"];
  let statistics = [
    Statistic<"numGroups", "num-groups", "kiln.fusion groups (kernels) made">,
    Statistic<"numFused", "num-fused-ops", "ops in groups of two or more">,
  ];
}

#endif // KILN_PASSES_TD
