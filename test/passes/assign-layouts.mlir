// kiln-assign-layouts: a matmul reads a transposed matrix operand in its
// stored layout instead of through a transposed copy.
// RUN: kiln-opt %s -pass-pipeline='builtin.module(func.func(kiln-assign-layouts))' -split-input-file | FileCheck %s

// The weight gradient x^T g and the input gradient g w^T of a Dense layer.
// CHECK-LABEL: func.func @dense_backward
// CHECK-NOT: kiln.transpose
// CHECK: kiln.matmul %arg0, %arg2 {transpose_lhs} : (tensor<8x3xf32>, tensor<8x2xf32>) -> tensor<3x2xf32>
// CHECK: kiln.matmul %arg2, %arg1 {transpose_rhs} : (tensor<8x2xf32>, tensor<3x2xf32>) -> tensor<8x3xf32>
func.func @dense_backward(%x: tensor<8x3xf32>, %w: tensor<3x2xf32>, %g: tensor<8x2xf32>) -> (tensor<3x2xf32>, tensor<8x3xf32>) {
  %xt = kiln.transpose %x {perm = array<i64: 1, 0>} : (tensor<8x3xf32>) -> tensor<3x8xf32>
  %gw = kiln.matmul %xt, %g : (tensor<3x8xf32>, tensor<8x2xf32>) -> tensor<3x2xf32>
  %wt = kiln.transpose %w {perm = array<i64: 1, 0>} : (tensor<3x2xf32>) -> tensor<2x3xf32>
  %gx = kiln.matmul %g, %wt : (tensor<8x2xf32>, tensor<2x3xf32>) -> tensor<8x3xf32>
  return %gw, %gx : tensor<3x2xf32>, tensor<8x3xf32>
}

// -----

// A transpose with another user stays (for that user); a batched matmul's
// operands are not changed.
// CHECK-LABEL: func.func @kept
// CHECK: %[[T:.*]] = kiln.transpose %arg0
// CHECK: kiln.matmul %arg0, %arg1 {transpose_lhs}
// CHECK: %[[B:.*]] = kiln.transpose %arg2
// CHECK: kiln.matmul %[[B]], %arg3 :
// CHECK: return %[[T]]
func.func @kept(%x: tensor<8x3xf32>, %g: tensor<8x2xf32>, %a: tensor<5x4x3xf32>, %b: tensor<5x4x6xf32>) -> (tensor<3x8xf32>, tensor<3x2xf32>, tensor<5x3x6xf32>) {
  %xt = kiln.transpose %x {perm = array<i64: 1, 0>} : (tensor<8x3xf32>) -> tensor<3x8xf32>
  %gw = kiln.matmul %xt, %g : (tensor<3x8xf32>, tensor<8x2xf32>) -> tensor<3x2xf32>
  %at = kiln.transpose %a {perm = array<i64: 0, 2, 1>} : (tensor<5x4x3xf32>) -> tensor<5x3x4xf32>
  %c = kiln.matmul %at, %b : (tensor<5x3x4xf32>, tensor<5x4x6xf32>) -> tensor<5x3x6xf32>
  return %xt, %gw, %c : tensor<3x8xf32>, tensor<3x2xf32>, tensor<5x3x6xf32>
}
