// kiln-generate-gradients: each op's rule (ir/Gradients.cpp) is applied in
// reverse order; only ops between the `wrt` values and the loss are
// differentiated; a value used twice gets the sum of its gradients.
// RUN: kiln-opt %s -pass-pipeline='builtin.module(func.func(kiln-generate-gradients))' -split-input-file -verify-diagnostics | FileCheck %s

// d/dw sum(relu(x @ w)): relu's mask reads its output (y > 0 iff x > 0), the
// matmul rule gives x^T @ g; no gradient flows to
// %x (not a `wrt` value), so no x-gradient matmul is built.
// CHECK-LABEL: func.func @dense
// CHECK: %[[Y:.*]] = kiln.matmul %arg0, %arg1
// CHECK: %[[R:.*]] = kiln.relu %[[Y]]
// CHECK: %[[L:.*]] = kiln.reduce_sum %[[R]]
// CHECK: %[[ONE:.*]] = kiln.constant dense<1.000000e+00> : tensor<f32>
// CHECK: kiln.broadcast_to
// CHECK: %[[MASK:.*]] = kiln.greater %[[R]]
// CHECK: %[[GY:.*]] = kiln.mul {{.*}}, %[[MASK]]
// CHECK: %[[XT:.*]] = kiln.transpose %arg0 {perm = array<i64: 1, 0>}
// CHECK: %[[GW:.*]] = kiln.matmul %[[XT]], %[[GY]] : (tensor<3x4xf32>, tensor<4x2xf32>) -> tensor<3x2xf32>
// CHECK-NOT: kiln.matmul
// CHECK-NOT: kiln.gradient
// CHECK: return %[[L]], %[[GW]]
func.func @dense(%x: tensor<4x3xf32>, %w: tensor<3x2xf32>) -> (tensor<f32>, tensor<3x2xf32>) {
  %y = kiln.matmul %x, %w : (tensor<4x3xf32>, tensor<3x2xf32>) -> tensor<4x2xf32>
  %r = kiln.relu %y : tensor<4x2xf32>
  %l = kiln.reduce_sum %r : (tensor<4x2xf32>) -> tensor<f32>
  %g = kiln.gradient %l wrt %w : (tensor<f32>, tensor<3x2xf32>) -> tensor<3x2xf32>
  return %l, %g : tensor<f32>, tensor<3x2xf32>
}

// -----

// x used twice (x * x): its gradient is the sum of both contributions; the
// broadcast bias gets its gradient summed over the batch.
// CHECK-LABEL: func.func @shared_and_broadcast
// CHECK: %[[S:.*]] = kiln.mul %arg0, %arg0
// CHECK: %[[A:.*]] = kiln.add %[[S]], %arg1
// CHECK: kiln.reduce_sum {{.*}} {axes = array<i64: 0>} : (tensor<4x3xf32>) -> tensor<3xf32>
// CHECK: %[[G1:.*]] = kiln.mul {{.*}}, %arg0
// CHECK: %[[G2:.*]] = kiln.mul {{.*}}, %arg0
// CHECK: %[[GX:.*]] = kiln.add %[[G1]], %[[G2]]
// CHECK: return
func.func @shared_and_broadcast(%x: tensor<4x3xf32>, %b: tensor<3xf32>) -> (tensor<4x3xf32>, tensor<3xf32>) {
  %s = kiln.mul %x, %x : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %a = kiln.add %s, %b : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  %l = kiln.reduce_sum %a : (tensor<4x3xf32>) -> tensor<f32>
  %g:2 = kiln.gradient %l wrt %x, %b : (tensor<f32>, tensor<4x3xf32>, tensor<3xf32>) -> (tensor<4x3xf32>, tensor<3xf32>)
  return %g#0, %g#1 : tensor<4x3xf32>, tensor<3xf32>
}

// -----

// A `wrt` value the loss does not depend on gets zeros; nothing is built
// for the unrelated branch.
// CHECK-LABEL: func.func @unused
// CHECK-NOT: kiln.exp
// CHECK: %[[Z:.*]] = kiln.constant dense<0.000000e+00> : tensor<2xf32>
// CHECK: return %[[Z]]
func.func @unused(%x: tensor<2xf32>, %u: tensor<2xf32>) -> tensor<2xf32> {
  %l = kiln.reduce_sum %x : (tensor<2xf32>) -> tensor<f32>
  %g = kiln.gradient %l wrt %u : (tensor<f32>, tensor<2xf32>) -> tensor<2xf32>
  return %g : tensor<2xf32>
}

// -----

// Convolution and pooling use their backward ops.
// CHECK-LABEL: func.func @conv_pool
// CHECK: %[[C:.*]] = kiln.conv2d
// CHECK: %[[G:.*]] = kiln.max_pool2d_grad %[[C]], {{.*}} {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>}
// CHECK: kiln.conv2d_backprop_input %[[G]], %arg1 {input_shape = array<i64: 1, 6, 6, 2>, padding = "same"} : (tensor<1x6x6x3xf32>, tensor<3x3x2x3xf32>) -> tensor<1x6x6x2xf32>
// CHECK: kiln.conv2d_backprop_filter %arg0, %[[G]] {kernel_shape = array<i64: 3, 3, 2, 3>, padding = "same"} : (tensor<1x6x6x2xf32>, tensor<1x6x6x3xf32>) -> tensor<3x3x2x3xf32>
func.func @conv_pool(%x: tensor<1x6x6x2xf32>, %w: tensor<3x3x2x3xf32>) -> (tensor<1x6x6x2xf32>, tensor<3x3x2x3xf32>) {
  %c = kiln.conv2d %x, %w {padding = "same"} : (tensor<1x6x6x2xf32>, tensor<3x3x2x3xf32>) -> tensor<1x6x6x3xf32>
  %p = kiln.max_pool2d %c {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x6x6x3xf32>) -> tensor<1x3x3x3xf32>
  %l = kiln.reduce_mean %p : (tensor<1x3x3x3xf32>) -> tensor<f32>
  %g:2 = kiln.gradient %l wrt %x, %w : (tensor<f32>, tensor<1x6x6x2xf32>, tensor<3x3x2x3xf32>) -> (tensor<1x6x6x2xf32>, tensor<3x3x2x3xf32>)
  return %g#0, %g#1 : tensor<1x6x6x2xf32>, tensor<3x3x2x3xf32>
}

// -----

// The logits form of cross-entropy has the stable fused rule softmax - onehot.
// CHECK-LABEL: func.func @fused_cross_entropy
// CHECK: kiln.one_hot %arg1 {depth = 5 : i64}
// CHECK: kiln.softmax %arg0
// CHECK-NOT: kiln.log
// CHECK: return
func.func @fused_cross_entropy(%z: tensor<4x5xf32>, %y: tensor<4xi32>) -> tensor<4x5xf32> {
  %l = kiln.sparse_categorical_crossentropy %y, %z {from_logits = true} : (tensor<4xi32>, tensor<4x5xf32>) -> tensor<f32>
  %g = kiln.gradient %l wrt %z : (tensor<f32>, tensor<4x5xf32>) -> tensor<4x5xf32>
  return %g : tensor<4x5xf32>
}

// -----

// No gradient flows through piecewise-constant ops (ZeroGradient).
// CHECK-LABEL: func.func @piecewise_constant
// CHECK: %[[Z:.*]] = kiln.constant dense<0.000000e+00> : tensor<4xf32>
// CHECK: return %[[Z]]
func.func @piecewise_constant(%x: tensor<4xf32>) -> tensor<4xf32> {
  %s = kiln.sign %x : tensor<4xf32>
  %l = kiln.reduce_sum %s : (tensor<4xf32>) -> tensor<f32>
  %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>
  return %g : tensor<4xf32>
}

// -----

// An op without a derivative rule on the path is an error naming it
// (second derivatives of convolution are not supported).
func.func @no_rule(%g: tensor<1x4x4x1xf32>, %w: tensor<1x1x1x1xf32>) -> tensor<1x1x1x1xf32> {
  // expected-error @+1 {{cannot differentiate 'kiln.conv2d_backprop_input'}}
  %x = kiln.conv2d_backprop_input %g, %w {input_shape = array<i64: 1, 4, 4, 1>} : (tensor<1x4x4x1xf32>, tensor<1x1x1x1xf32>) -> tensor<1x4x4x1xf32>
  %l = kiln.reduce_sum %x : (tensor<1x4x4x1xf32>) -> tensor<f32>
  %d = kiln.gradient %l wrt %w : (tensor<f32>, tensor<1x1x1x1xf32>) -> tensor<1x1x1x1xf32>
  return %d : tensor<1x1x1x1xf32>
}
