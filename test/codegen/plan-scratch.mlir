// kiln-plan-scratch: every buffer becomes a view into one scratch argument, and buffers whose
// lifetimes do not overlap share bytes (here %2 reuses %0's slot: 128 bytes, not 192).
// RUN: kiln-opt %s --kiln-plan-scratch | FileCheck %s

// CHECK-LABEL: func.func @chain
// CHECK-SAME: %[[S:[a-z0-9]+]]: memref<128xi8> {kiln.scratch}) attributes {kiln.buffer_bytes = 192 : i64, kiln.scratch_bytes = 128 : i64}
func.func @chain(%a: memref<16xf32>, %out: memref<16xf32>) {
  // CHECK: %[[C0:.*]] = arith.constant 0 : index
  // CHECK: memref.view %[[S]][%[[C0]]][] : memref<128xi8> to memref<16xf32>
  %0 = memref.alloc() : memref<16xf32>
  linalg.copy ins(%a : memref<16xf32>) outs(%0 : memref<16xf32>)
  // CHECK: %[[C64:.*]] = arith.constant 64 : index
  // CHECK: memref.view %[[S]][%[[C64]]][] : memref<128xi8> to memref<16xf32>
  %1 = memref.alloc() : memref<16xf32>
  linalg.copy ins(%0 : memref<16xf32>) outs(%1 : memref<16xf32>)
  // CHECK: %[[C0B:.*]] = arith.constant 0 : index
  // CHECK: memref.view %[[S]][%[[C0B]]][] : memref<128xi8> to memref<16xf32>
  %2 = memref.alloc() : memref<16xf32>
  linalg.copy ins(%1 : memref<16xf32>) outs(%2 : memref<16xf32>)
  linalg.copy ins(%2 : memref<16xf32>) outs(%out : memref<16xf32>)
  // CHECK-NOT: memref.alloc
  return
}

// A view keeps its buffer alive: %v reads %0 after %1 is born, so they cannot share.
// CHECK-LABEL: func.func @alias
// CHECK-SAME: attributes {kiln.buffer_bytes = 256 : i64, kiln.scratch_bytes = 256 : i64}
func.func @alias(%a: memref<4x8xf32>, %out: memref<32xf32>) {
  %0 = memref.alloc() : memref<4x8xf32>
  linalg.copy ins(%a : memref<4x8xf32>) outs(%0 : memref<4x8xf32>)
  %v = memref.collapse_shape %0 [[0, 1]] : memref<4x8xf32> into memref<32xf32>
  %1 = memref.alloc() : memref<32xf32>
  linalg.copy ins(%v : memref<32xf32>) outs(%1 : memref<32xf32>)
  linalg.copy ins(%v : memref<32xf32>) outs(%out : memref<32xf32>)
  return
}
