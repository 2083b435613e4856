// kiln-specialize-batch: dimension 0 of every dynamic function argument becomes
// the batch size and every shape is re-inferred in order, so the whole graph
// (and the function type) turns static. Also: the default batch size (32), what
// stays untouched, and the error paths (a shape rule that rejects the new size,
// unsupported function bodies, a bad batch-size option).

// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-specialize-batch=batch-size=16 | FileCheck %s
// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-specialize-batch | FileCheck %s --check-prefix=DEFAULT
// RUN: not kiln-opt %s -split-input-file --kiln-specialize-batch=batch-size=0 2>&1 | FileCheck %s --check-prefix=ZERO
// RUN: not kiln-opt %s -split-input-file --kiln-specialize-batch=batch-size=-3 2>&1 | FileCheck %s --check-prefix=NEGATIVE

// ZERO: error: kiln-specialize-batch: batch-size must be at least 1, got 0{{$}}
// NEGATIVE: error: kiln-specialize-batch: batch-size must be at least 1, got -3{{$}}

// A small CNN: conv 3x3 (valid) -> +bias -> relu -> 2x2 max pool -> flatten (-1)
// -> dense -> +bias -> softmax. Parameters keep their static types.

// CHECK-LABEL: kiln.param @"conv/kernel" : tensor<3x3x1x8xf32>
// CHECK-LABEL: func.func @predict
// CHECK-SAME: (%[[X:.*]]: tensor<16x28x28x1xf32>) -> tensor<16x10xf32>
// CHECK: %[[K:.*]] = kiln.read_param @"conv/kernel" : tensor<3x3x1x8xf32>
// CHECK: %[[CB:.*]] = kiln.read_param @"conv/bias" : tensor<8xf32>
// CHECK: %[[C:.*]] = kiln.conv2d %[[X]], %[[K]] : (tensor<16x28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<16x26x26x8xf32>
// CHECK: %[[C1:.*]] = kiln.add %[[C]], %[[CB]] : (tensor<16x26x26x8xf32>, tensor<8xf32>) -> tensor<16x26x26x8xf32>
// CHECK: %[[R:.*]] = kiln.relu %[[C1]] : tensor<16x26x26x8xf32>
// CHECK: %[[P:.*]] = kiln.max_pool2d %[[R]] {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<16x26x26x8xf32>) -> tensor<16x13x13x8xf32>
// CHECK: %[[F:.*]] = kiln.reshape %[[P]] {shape = array<i64: -1, 1352>} : (tensor<16x13x13x8xf32>) -> tensor<16x1352xf32>
// CHECK: %[[W:.*]] = kiln.read_param @"dense/kernel" : tensor<1352x10xf32>
// CHECK: %[[B:.*]] = kiln.read_param @"dense/bias" : tensor<10xf32>
// CHECK: %[[M:.*]] = kiln.matmul %[[F]], %[[W]] : (tensor<16x1352xf32>, tensor<1352x10xf32>) -> tensor<16x10xf32>
// CHECK: %[[A:.*]] = kiln.add %[[M]], %[[B]] : (tensor<16x10xf32>, tensor<10xf32>) -> tensor<16x10xf32>
// CHECK: %[[S:.*]] = kiln.softmax %[[A]] : tensor<16x10xf32>
// CHECK: return %[[S]] : tensor<16x10xf32>

// DEFAULT-LABEL: func.func @predict
// DEFAULT-SAME: (%{{.*}}: tensor<32x28x28x1xf32>) -> tensor<32x10xf32>
// DEFAULT: kiln.reshape %{{.*}} {shape = array<i64: -1, 1352>} : (tensor<32x13x13x8xf32>) -> tensor<32x1352xf32>
// DEFAULT: return %{{.*}} : tensor<32x10xf32>
kiln.param @"conv/kernel" : tensor<3x3x1x8xf32>
kiln.param @"conv/bias" : tensor<8xf32> {initializer = "zeros"}
kiln.param @"dense/kernel" : tensor<1352x10xf32>
kiln.param @"dense/bias" : tensor<10xf32> {initializer = "zeros"}
func.func @predict(%x: tensor<?x28x28x1xf32>) -> tensor<?x10xf32> {
  %k = kiln.read_param @"conv/kernel" : tensor<3x3x1x8xf32>
  %cb = kiln.read_param @"conv/bias" : tensor<8xf32>
  %c = kiln.conv2d %x, %k : (tensor<?x28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x26x26x8xf32>
  %c1 = kiln.add %c, %cb : (tensor<?x26x26x8xf32>, tensor<8xf32>) -> tensor<?x26x26x8xf32>
  %r = kiln.relu %c1 : tensor<?x26x26x8xf32>
  %p = kiln.max_pool2d %r {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<?x26x26x8xf32>) -> tensor<?x13x13x8xf32>
  %f = kiln.reshape %p {shape = array<i64: -1, 1352>} : (tensor<?x13x13x8xf32>) -> tensor<?x1352xf32>
  %w = kiln.read_param @"dense/kernel" : tensor<1352x10xf32>
  %b = kiln.read_param @"dense/bias" : tensor<10xf32>
  %m = kiln.matmul %f, %w : (tensor<?x1352xf32>, tensor<1352x10xf32>) -> tensor<?x10xf32>
  %a = kiln.add %m, %b : (tensor<?x10xf32>, tensor<10xf32>) -> tensor<?x10xf32>
  %s = kiln.softmax %a : tensor<?x10xf32>
  return %s : tensor<?x10xf32>
}

// -----

// Two batched inputs (images and integer labels) feeding a loss and a metric:
// both get the batch size; the scalar results and the function's other
// arguments keep their types.

// CHECK-LABEL: func.func @train_step
// CHECK-SAME: (%[[X:.*]]: tensor<16x4xf32>, %[[Y:.*]]: tensor<16xi32>, %[[LR:.*]]: tensor<f32>) -> (tensor<f32>, tensor<f32>, tensor<16x3xf32>)
// CHECK: %[[H:.*]] = kiln.matmul %[[X]], %{{.*}} : (tensor<16x4xf32>, tensor<4x3xf32>) -> tensor<16x3xf32>
// CHECK: %[[T:.*]] = kiln.transpose %[[H]] {perm = array<i64: 1, 0>} : (tensor<16x3xf32>) -> tensor<3x16xf32>
// CHECK: %[[T2:.*]] = kiln.transpose %[[T]] {perm = array<i64: 1, 0>} : (tensor<3x16xf32>) -> tensor<16x3xf32>
// CHECK: %[[CAT:.*]] = kiln.concat %[[H]], %[[T2]] {axis = 0 : i64} : (tensor<16x3xf32>, tensor<16x3xf32>) -> tensor<32x3xf32>
// CHECK: %[[RS:.*]] = kiln.reduce_sum %[[CAT]] {axes = array<i64: 0>, keepdims = true} : (tensor<32x3xf32>) -> tensor<1x3xf32>
// CHECK: %[[SUB:.*]] = kiln.sub %[[H]], %[[RS]] : (tensor<16x3xf32>, tensor<1x3xf32>) -> tensor<16x3xf32>
// CHECK: %[[D:.*]] = kiln.dropout %[[SUB]] {rate = 5.000000e-01 : f32} : tensor<16x3xf32>
// CHECK: %[[L:.*]] = kiln.sparse_categorical_crossentropy %[[Y]], %[[D]] {from_logits = true} : (tensor<16xi32>, tensor<16x3xf32>) -> tensor<f32>
// CHECK: %[[ACC:.*]] = kiln.accuracy %[[Y]], %[[D]] {kind = "sparse_categorical"} : (tensor<16xi32>, tensor<16x3xf32>) -> tensor<f32>
// CHECK: %[[SL:.*]] = kiln.mul %[[L]], %[[LR]] : (tensor<f32>, tensor<f32>) -> tensor<f32>
// CHECK: return %[[SL]], %[[ACC]], %[[D]] : tensor<f32>, tensor<f32>, tensor<16x3xf32>
kiln.param @w : tensor<4x3xf32>
func.func @train_step(%x: tensor<?x4xf32>, %y: tensor<?xi32>, %lr: tensor<f32>)
    -> (tensor<f32>, tensor<f32>, tensor<?x3xf32>) {
  %w = kiln.read_param @w : tensor<4x3xf32>
  %h = kiln.matmul %x, %w : (tensor<?x4xf32>, tensor<4x3xf32>) -> tensor<?x3xf32>
  %t = kiln.transpose %h {perm = array<i64: 1, 0>} : (tensor<?x3xf32>) -> tensor<3x?xf32>
  %t2 = kiln.transpose %t {perm = array<i64: 1, 0>} : (tensor<3x?xf32>) -> tensor<?x3xf32>
  %cat = kiln.concat %h, %t2 {axis = 0 : i64} : (tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  %rs = kiln.reduce_sum %cat {axes = array<i64: 0>, keepdims = true} : (tensor<?x3xf32>) -> tensor<1x3xf32>
  %sub = kiln.sub %h, %rs : (tensor<?x3xf32>, tensor<1x3xf32>) -> tensor<?x3xf32>
  %d = kiln.dropout %sub {rate = 0.5 : f32} : tensor<?x3xf32>
  %l = kiln.sparse_categorical_crossentropy %y, %d {from_logits = true} : (tensor<?xi32>, tensor<?x3xf32>) -> tensor<f32>
  %acc = kiln.accuracy %y, %d {kind = "sparse_categorical"} : (tensor<?xi32>, tensor<?x3xf32>) -> tensor<f32>
  %sl = kiln.mul %l, %lr : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %sl, %acc, %d : tensor<f32>, tensor<f32>, tensor<?x3xf32>
}

// -----

// Only dimension 0 is the batch: a static batch or another dynamic dimension is
// left alone, and so are declarations (no body to re-infer) and functions that
// are already static. Every function of the module is specialised.

// CHECK-LABEL: func.func private @external(tensor<?x4xf32>) -> tensor<?x4xf32>
// CHECK-LABEL: func.func @other_dims
// CHECK-SAME: (%[[A:.*]]: tensor<16x?xf32>, %[[B:.*]]: tensor<5x?xf32>) -> (tensor<16x?xf32>, tensor<5x?xf32>)
// CHECK: kiln.neg %[[A]] : tensor<16x?xf32>
// CHECK: kiln.neg %[[B]] : tensor<5x?xf32>
// CHECK-LABEL: func.func @already_static
// CHECK-SAME: (%{{.*}}: tensor<2x3xf32>) -> tensor<3x2xf32>
// CHECK-LABEL: func.func @second
// CHECK-SAME: (%{{.*}}: tensor<16x1xf32>) -> tensor<16x1xf32>
func.func private @external(tensor<?x4xf32>) -> tensor<?x4xf32>
func.func @other_dims(%a: tensor<?x?xf32>, %b: tensor<5x?xf32>) -> (tensor<?x?xf32>, tensor<5x?xf32>) {
  %0 = kiln.neg %a : tensor<?x?xf32>
  %1 = kiln.neg %b : tensor<5x?xf32>
  return %0, %1 : tensor<?x?xf32>, tensor<5x?xf32>
}
func.func @already_static(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %0 = kiln.transpose %a {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}
func.func @second(%a: tensor<?x1xf32>) -> tensor<?x1xf32> {
  %0 = kiln.sigmoid %a : tensor<?x1xf32>
  return %0 : tensor<?x1xf32>
}

// -----

// A -1 that divides every batch size symbolically but not 16 * 5 = 80 (nor
// 32 * 5 = 160) elements: the reshape's shape rule rejects the new size.
func.func @not_divisible(%x: tensor<?x5xf32>) -> tensor<?x3xf32> {
  // expected-error-re @+1 {{cannot reshape tensor<{{16|32}}x5xf32> ({{80|160}} elements) to [-1, 3]}}
  %r = kiln.reshape %x {shape = array<i64: -1, 3>} : (tensor<?x5xf32>) -> tensor<?x3xf32>
  return %r : tensor<?x3xf32>
}

// -----

// The batch meets a static dimension of another operand: [16, 4] + [8, 4].
func.func @broadcast_conflict(%x: tensor<?x4xf32>, %y: tensor<8x4xf32>) -> tensor<8x4xf32> {
  // expected-error-re @+1 {{cannot broadcast tensor<{{16|32}}x4xf32> with tensor<8x4xf32>: dimension {{16|32}} against 8}}
  %0 = kiln.add %x, %y : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

// An op without a shape rule whose result would stay dynamic.
func.func private @helper(tensor<?x4xf32>) -> tensor<?x4xf32>
func.func @call(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'func.call' op has a dynamic result and no shape rule to refine it}}
  %0 = func.call @helper(%x) : (tensor<?x4xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

// Only single-block bodies are handled (block arguments of other blocks would
// keep their types, and the function type is read off the one func.return).
// expected-error @+1 {{'func.func' op kiln-specialize-batch expects a single-block body ending in func.return}}
func.func @branches(%x: tensor<?x4xf32>, %c: i1) -> tensor<?x4xf32> {
  cf.cond_br %c, ^neg, ^done
^neg:
  %n = kiln.neg %x : tensor<?x4xf32>
  return %n : tensor<?x4xf32>
^done:
  return %x : tensor<?x4xf32>
}
