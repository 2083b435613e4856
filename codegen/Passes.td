//===- Passes.td - lowering the `kiln` dialect to code -----*- tablegen -*-===//
#ifndef KILN_CODEGEN_PASSES_TD
#define KILN_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def OutlineKernels : Pass<"kiln-outline-kernels", "::mlir::ModuleOp"> {
  let summary = "Turn each kiln.fusion into a private kernel function called by its entry point";
  let description = [{
    `@<entry>__k<i>_<kind>`, tagged `kiln.kernel`, in the order of the groups.
    Lowering each kernel on its own scopes loop fusion
    (linalg-fuse-elementwise-ops) to the group kiln-fuse chose; the kernels
    are inlined back into their entry point after bufferization.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def KilnToLinalg : Pass<"kiln-to-linalg", "::mlir::func::FuncOp"> {
  let summary = "Lower kiln ops to linalg / tensor / arith / math on tensors";
  let description = [{
    Every tensor op of the dialect becomes linalg structured ops (matmul,
    conv_2d_nhwc_hwcf, pooling_nhwc_*, generic, reduce, transpose) or tensor
    reshapes/slices, in destination-passing style. Shapes must be static (run
    kiln-specialize-batch first). `kiln.dropout` is the identity here (the
    predict semantics); `kiln.read_param` must already be gone
    (kiln-params-to-arguments).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
  let options = [
    Option<"useKernels", "use-kernels", "bool", /*default=*/"true",
           "2-D matmuls and convolutions become kiln.kernel_call (kernels/cpu) "
           "rather than linalg loops">,
  ];
}

def KernelWorkspaces : Pass<"kiln-kernel-workspaces", "::mlir::ModuleOp"> {
  let summary = "Give each kiln.kernel_call on buffers its workspace buffer";
  let description = [{
    After bufferization, before kiln-plan-scratch: a `memref.alloc` of the
    bytes the library asks for the call's descriptor (kernels/cpu
    *_workspace_bytes) becomes the call's last output, so the workspace lives
    in the scratch arena and no kernel allocates.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def CallKernels : Pass<"kiln-call-kernels", "::mlir::ModuleOp"> {
  let summary = "Turn kiln.kernel_call on buffers into calls of the kernels/cpu library";
  let description = [{
    After expand-strided-metadata (whose folds would take a memref.view's
    pointer for its source's): each kiln.kernel_call becomes a call of its C
    function (kernels/cpu/Kernels.h) with a pointer to its constant shape
    descriptor, the buffers' data pointers and the workspace.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect", "::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect", "::mlir::func::FuncDialect"];
}

def ShapeLoops : Pass<"kiln-cpu-shape-loops", "::mlir::func::FuncOp"> {
  let summary = "Collapse and interchange linalg loops on memrefs so LLVM vectorizes them without unrolling";
  let description = [{
    After bufferization, on identity-layout static memrefs: consecutive loops
    of the same kind that every operand indexes contiguously become one (a
    64x26x26x32 elementwise op is one loop of 1,384,448), and an output's
    innermost dimension followed only by reductions moves innermost (pooling:
    the channel loop inside the window loops). Neither changes the order of
    any sum.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::memref::MemRefDialect"];
}

def OutlineParallelLoops : Pass<"kiln-outline-parallel-loops", "::mlir::ModuleOp"> {
  let summary = "Run large outermost scf.parallel loops on the kernels' threads";
  let description = [{
    On buffers, after convert-linalg-to-parallel-loops: an outermost
    scf.parallel with at least `min-work` innermost iterations becomes a
    private function @<f>__par<i>(lo, hi, captures...) over a range of its
    first dimension, called through the declaration
    @<f>__par<i>__fork(n, captures...) that kiln-lower-forks defines. Loops
    capturing a strided memref (not a bare pointer) stay serial. Only parallel
    dimensions are split: results do not depend on the thread count.
  }];
  let options = [
    Option<"minWork", "min-work", "int64_t", /*default=*/"32768",
           "Innermost iterations below which a loop nest stays serial (a fork-join costs ~1-5 us)">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect"];
}

def LowerForks : Pass<"kiln-lower-forks", "::mlir::ModuleOp"> {
  let summary = "Define each @<f>__par<i>__fork as a call of kiln_kernels_parallel_for (LLVM dialect)";
  let description = [{
    After convert-func-to-llvm (bare pointers): the fork stores its captures
    in a stack frame and calls kiln_kernels_parallel_for(n, tramp, frame);
    tramp(frame, lo, hi) loads them and calls the body function.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def FuseLoops : Pass<"kiln-fuse-loops", "::mlir::func::FuncOp"> {
  let summary = "Merge the linalg ops of each kernel function into as few loop nests as possible";
  let description = [{
    Runs MLIR's linalg elementwise-op fusion inside functions tagged
    `kiln.kernel` only (a producer with one use goes into its consumer), so
    each kiln.fusion group of elementwise ops, or of elementwise ops feeding
    a reduction, becomes one loop nest. Entry points are untouched.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def ParamsToArguments : Pass<"kiln-params-to-arguments", "::mlir::ModuleOp"> {
  let summary = "Turn kiln.read_param into function arguments after the inputs";
  let description = [{
    Each function gets one extra argument per parameter it reads, in order of
    first use, tagged with `kiln.param = "<name>"`; the reads are replaced by
    the argument. This fixes the entry-point calling convention: inputs, then
    parameters, then (after bufferization) outputs.

    A `kiln.assign @p, %v` (a training step's new parameter value) becomes an
    extra trailing function result; the function's `kiln.updates` attribute
    lists, for those trailing results in order, the argument index of the
    parameter each one overwrites (kiln-update-in-place merges them after
    bufferization).
  }];
}

def UpdateInPlace : Pass<"kiln-update-in-place", "::mlir::func::FuncOp"> {
  let summary = "Write new parameter values into the parameters' own buffers";
  let description = [{
    Runs after buffer-results-to-out-params. For each trailing out-parameter
    listed by `kiln.updates`, replaces it by the parameter's argument, so the
    step writes the new value in place and the ABI keeps one buffer per
    parameter. This is safe when every read of the old value comes no later
    than the first write of the new one (the writer itself may read it only
    elementwise). Where bufferization has placed an earlier intermediate in
    the new value's buffer, the new value is computed in scratch instead and
    copied over the parameter at the end of the step.
  }];
  let statistics = [
    Statistic<"numCopied", "num-copied", "new values computed in scratch and copied at the end">,
  ];
}

def DistinctResults : Pass<"kiln-distinct-results", "::mlir::func::FuncOp"> {
  let summary = "Give every function result its own tensor (copy duplicates and arguments)";
  let description = [{
    Outputs become out-parameters after bufferization, and one buffer cannot
    be two of them: a value returned twice, or an argument returned as is,
    is copied with linalg.copy. Runs right before bufferization (canonicalize
    would fold the copies away).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect"];
}

def PlanScratch : Pass<"kiln-plan-scratch", "::mlir::ModuleOp"> {
  let summary = "Place every buffer allocated in a function into one scratch arena argument";
  let description = [{
    After bufferization, replaces each static `memref.alloc` of a function by a
    `memref.view` into a new last argument, `memref<Nxi8>`, at 64-byte aligned
    offsets, and records N as `kiln.scratch_bytes` on the function (and the
    sum of all buffers, unshared, as `kiln.buffer_bytes`, for kilnc --stats). No
    allocation is left inside an entry point. Buffers whose lifetimes (from
    the allocation to the last use of the buffer or of a view of it) do not
    overlap share bytes: first fit, in program order.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect", "::mlir::arith::ArithDialect"];
}

def CopiesToLinalg : Pass<"kiln-copies-to-linalg", "::mlir::func::FuncOp"> {
  let summary = "Rewrite memref.copy as linalg.copy, so copies become loops";
  let description = [{
    Bufferization copies into strided views (padding, concatenation) with
    memref.copy, whose LLVM lowering calls `memrefCopy` from MLIR's C runner
    library. Entry points must need nothing but libc and libm, so the copies
    are turned into linalg.copy and lowered to loops with everything else.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def PackedEntryPoints : Pass<"kiln-packed-entry-points", "::mlir::ModuleOp"> {
  let summary = "Add `void kiln_<f>(void **buffers)` for each function (LLVM dialect)";
  let description = [{
    Runs on the LLVM dialect, after functions were lowered with bare-pointer
    memref arguments. For every public function `f` it adds an exported
    `kiln_f(ptr)` that loads one pointer per argument from the array and calls
    `f`: the packed calling convention of the .kbin (artifact/kbin.fbs).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def CudaPlanKernels : Pass<"kiln-cuda-plan-kernels", "::mlir::ModuleOp"> {
  let summary = "Size each kiln.kernel_call's workspace for the kernels/cuda templates";
  let description = [{
    CUDA pipeline, after bufferization, before kiln-kernel-workspaces: records
    on each GEMM / convolution call the workspace bytes that kernels/cuda's
    plan for it needs (split-K partial sums; 0 for most calls) as
    `kiln.workspace_bytes`, which kiln-kernel-workspaces then allocates in
    the arena instead of the CPU library's packing buffers.
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"tf32\"",
           "fp32, tf32 or bf16: how GEMMs and convolutions multiply">,
  ];
}

#endif
