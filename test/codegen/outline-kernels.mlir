// kiln-outline-kernels: each kiln.fusion becomes a private kernel function
// called once by its entry point; kiln-fuse-loops then merges each kernel's
// elementwise chain into one loop nest (and leaves the entry point alone).
// RUN: kiln-opt %s --kiln-outline-kernels | FileCheck %s --check-prefix=OUTLINE
// RUN: kiln-opt %s -pass-pipeline='builtin.module(kiln-outline-kernels,func.func(kiln-to-linalg,kiln-fuse-loops))' | FileCheck %s --check-prefix=LOOPS

// OUTLINE-LABEL: func.func @predict
// OUTLINE-NEXT: %[[A:.*]] = call @predict__k0_elementwise(%arg0) : (tensor<8xf32>) -> tensor<8xf32>
// OUTLINE-NEXT: %[[B:.*]] = call @predict__k1_reduce_sum(%[[A]]) : (tensor<8xf32>) -> tensor<f32>
// OUTLINE-NEXT: return %[[B]]
// OUTLINE: func.func private @predict__k0_elementwise(%arg0: tensor<8xf32>) -> tensor<8xf32> attributes {kiln.kernel}
// OUTLINE-NEXT: kiln.exp %arg0
// OUTLINE-NEXT: kiln.mul
// OUTLINE-NEXT: return
// OUTLINE: func.func private @predict__k1_reduce_sum

// The exp and mul of kernel 0: one linalg.generic.
// LOOPS-LABEL: func.func private @predict__k0_elementwise
// LOOPS: linalg.generic
// LOOPS: math.exp
// LOOPS: arith.mulf
// LOOPS-NOT: linalg.generic
// LOOPS: return
func.func @predict(%x: tensor<8xf32>) -> tensor<f32> {
  %0 = kiln.fusion "elementwise"(%x) : (tensor<8xf32>) -> tensor<8xf32> {
  ^bb0(%a: tensor<8xf32>):
    %e = kiln.exp %a : tensor<8xf32>
    %m = kiln.mul %e, %a : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    kiln.yield %m : tensor<8xf32>
  }
  %1 = kiln.fusion "reduce_sum"(%0) : (tensor<8xf32>) -> tensor<f32> {
  ^bb0(%a: tensor<8xf32>):
    %s = kiln.reduce_sum %a : (tensor<8xf32>) -> tensor<f32>
    kiln.yield %s : tensor<f32>
  }
  return %1 : tensor<f32>
}
