// kiln-outline-parallel-loops: a large outermost scf.parallel becomes a body
// function over a range of its first dimension, called through a fork;
// reductions stay inner serial loops; small loops and loops capturing a
// strided memref stay where they are. kiln-lower-forks then defines the fork
// as a call of kiln_kernels_parallel_for with a trampoline.
// RUN: kiln-opt %s --convert-linalg-to-parallel-loops --kiln-outline-parallel-loops=min-work=4096 | FileCheck %s
// RUN: kiln-opt %s --convert-linalg-to-parallel-loops --kiln-outline-parallel-loops=min-work=4096 \
// RUN:   --convert-scf-to-cf --expand-strided-metadata --finalize-memref-to-llvm --convert-arith-to-llvm \
// RUN:   --convert-func-to-llvm=use-bare-ptr-memref-call-conv=1 --kiln-lower-forks --convert-cf-to-llvm \
// RUN:   --reconcile-unrealized-casts | FileCheck %s --check-prefix=LLVM

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// CHECK-LABEL: func.func @f(
// CHECK: call @f__par0__fork(%{{.*}}, %arg0, %arg1, %arg2) : (index, memref<64x128xf32>, f32, memref<64x128xf32>) -> ()
// CHECK: call @f__par1__fork(%{{.*}}, %arg0, %arg3)
// The 4x4 fill is below min-work, the strided view cannot be a bare pointer.
// CHECK: scf.parallel
// CHECK: memref.store %arg1, %arg4
// CHECK: memref.subview
// CHECK: scf.parallel
// CHECK: return

// Elementwise: rows [lo, hi), the columns still a parallel loop.
// CHECK-LABEL: func.func private @f__par0(%arg0: index, %arg1: index, %arg2: memref<64x128xf32>, %arg3: f32, %arg4: memref<64x128xf32>)
// CHECK: scf.for %[[I:.*]] = %arg0 to %arg1
// CHECK: scf.parallel
// CHECK: arith.mulf
// CHECK-LABEL: func.func private @f__par0__fork(index, memref<64x128xf32>, f32, memref<64x128xf32>)

// Row sums: rows split, the reduction a serial loop inside.
// CHECK-LABEL: func.func private @f__par1(
// CHECK: scf.for %{{.*}} = %arg0 to %arg1
// CHECK: scf.for
// CHECK: arith.addf
// CHECK-LABEL: func.func private @f__par1__fork(

// LLVM-LABEL: llvm.func internal @f__par0__fork(%arg0: i64, %arg1: !llvm.ptr, %arg2: f32, %arg3: !llvm.ptr)
// LLVM: %[[FRAME:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(ptr, f32, ptr)>
// LLVM-COUNT-3: llvm.store
// LLVM: %[[TRAMP:.*]] = llvm.mlir.addressof @f__par0__tramp
// LLVM: llvm.call @kiln_kernels_parallel_for(%arg0, %[[TRAMP]], %[[FRAME]])
// LLVM: llvm.func @kiln_kernels_parallel_for(i64, !llvm.ptr, !llvm.ptr)
// LLVM-LABEL: llvm.func internal @f__par0__tramp(%arg0: !llvm.ptr, %arg1: i64, %arg2: i64)
// LLVM: llvm.load {{.*}} -> !llvm.ptr
// LLVM: llvm.load {{.*}} -> f32
// LLVM: llvm.load {{.*}} -> !llvm.ptr
// LLVM: llvm.call @f__par0(%arg1, %arg2,
func.func @f(%a: memref<64x128xf32>, %s: f32, %out: memref<64x128xf32>, %sum: memref<64xf32>,
             %small: memref<4x4xf32>, %big: memref<128x128xf32>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<64x128xf32>) outs(%out : memref<64x128xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = arith.mulf %x, %s : f32
    linalg.yield %y : f32
  }
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<64x128xf32>) outs(%sum : memref<64xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = arith.addf %x, %o : f32
    linalg.yield %y : f32
  }
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]}
      outs(%small : memref<4x4xf32>) {
  ^bb0(%o: f32):
    linalg.yield %s : f32
  }
  %view = memref.subview %big[0, 0] [64, 128] [2, 1] : memref<128x128xf32> to memref<64x128xf32, strided<[256, 1]>>
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]}
      outs(%view : memref<64x128xf32, strided<[256, 1]>>) {
  ^bb0(%o: f32):
    linalg.yield %s : f32
  }
  return
}
