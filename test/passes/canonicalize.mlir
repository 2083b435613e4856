// Cleanups (canonicalize: the folders of ir/Folding.cpp; dead ops are
// erased) on kiln ops: identities, chains of layout changes, and constants
// computed at compile time, including a constant weight's transpose.
// RUN: kiln-opt %s -canonicalize -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @identities
// CHECK-NOT: kiln.add
// CHECK-NOT: kiln.mul
// CHECK-NOT: kiln.div
// CHECK-NOT: kiln.reshape
// CHECK-NOT: kiln.transpose
// CHECK: return %arg0
func.func @identities(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  %zero = kiln.constant dense<0.0> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %a = kiln.add %x, %zero : (tensor<4x3xf32>, tensor<f32>) -> tensor<4x3xf32>
  %b = kiln.mul %one, %a : (tensor<f32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %c = kiln.div %b, %one : (tensor<4x3xf32>, tensor<f32>) -> tensor<4x3xf32>
  %d = kiln.reshape %c {shape = array<i64: 12>} : (tensor<4x3xf32>) -> tensor<12xf32>
  %e = kiln.reshape %d {shape = array<i64: 4, 3>} : (tensor<12xf32>) -> tensor<4x3xf32>
  %f = kiln.transpose %e {perm = array<i64: 1, 0>} : (tensor<4x3xf32>) -> tensor<3x4xf32>
  %g = kiln.transpose %f {perm = array<i64: 1, 0>} : (tensor<3x4xf32>) -> tensor<4x3xf32>
  return %g : tensor<4x3xf32>
}

// -----

// A unit that broadcasts the other operand is not an identity: the op stays.
// CHECK-LABEL: func.func @broadcasting_unit
// CHECK: kiln.add %arg0, %{{.*}} : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
func.func @broadcasting_unit(%x: tensor<3xf32>) -> tensor<2x3xf32> {
  %zero = kiln.constant dense<0.0> : tensor<2x3xf32>
  %a = kiln.add %x, %zero : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %a : tensor<2x3xf32>
}

// -----

// Elementwise ops of constants (with broadcasting) fold to one constant.
// CHECK-LABEL: func.func @constants
// CHECK: %[[C:.*]] = kiln.constant dense<{{\[}}[2.000000e+00, 3.000000e+00], [4.000000e+00, 5.000000e+00]]> : tensor<2x2xf32>
// CHECK-NEXT: return %[[C]]
func.func @constants() -> tensor<2x2xf32> {
  %a = kiln.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %b = kiln.add %a, %one : (tensor<2x2xf32>, tensor<f32>) -> tensor<2x2xf32>
  %c = kiln.relu %b : tensor<2x2xf32>
  return %c : tensor<2x2xf32>
}

// -----

// A constant weight's layout change happens at compile time.
// CHECK-LABEL: func.func @constant_transpose
// CHECK-NOT: kiln.transpose
// CHECK: kiln.constant dense<{{\[}}[1.000000e+00, 4.000000e+00], [2.000000e+00, 5.000000e+00], [3.000000e+00, 6.000000e+00]]> : tensor<3x2xf32>
func.func @constant_transpose(%x: tensor<4x3xf32>) -> tensor<4x2xf32> {
  %w = kiln.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %t = kiln.transpose %w {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %y = kiln.matmul %x, %t : (tensor<4x3xf32>, tensor<3x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// Two transposes compose into one; unused ops disappear.
// CHECK-LABEL: func.func @compose
// CHECK-NEXT: %[[T:.*]] = kiln.transpose %arg0 {perm = array<i64: 2, 0, 1>}
// CHECK-NEXT: return %[[T]]
func.func @compose(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  %dead = kiln.exp %x : tensor<2x3x4xf32>
  %a = kiln.transpose %x {perm = array<i64: 1, 0, 2>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
  %b = kiln.transpose %a {perm = array<i64: 2, 1, 0>} : (tensor<3x2x4xf32>) -> tensor<4x2x3xf32>
  return %b : tensor<4x2x3xf32>
}
