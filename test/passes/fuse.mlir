// kiln-fuse: every compute op ends up in exactly one kiln.fusion (a kernel),
// by the rules of docs/passes.md; each rule has a case that applies and one
// that must not.
// RUN: kiln-opt %s -pass-pipeline='builtin.module(func.func(kiln-fuse))' -split-input-file | FileCheck %s

// Rule 1 (epilogue): bias and activation go into the matmul's kernel.
// CHECK-LABEL: func.func @dense
// CHECK: %[[K:.*]] = kiln.fusion "matmul"(%arg0, %arg1, %arg2)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: kiln.matmul
// CHECK-NEXT: kiln.add
// CHECK-NEXT: kiln.relu
// CHECK-NEXT: kiln.yield
// CHECK-NOT: kiln.fusion
// CHECK: return %[[K]]
func.func @dense(%x: tensor<8x3xf32>, %w: tensor<3x2xf32>, %b: tensor<2xf32>) -> tensor<8x2xf32> {
  %y = kiln.matmul %x, %w : (tensor<8x3xf32>, tensor<3x2xf32>) -> tensor<8x2xf32>
  %z = kiln.add %y, %b : (tensor<8x2xf32>, tensor<2xf32>) -> tensor<8x2xf32>
  %r = kiln.relu %z : tensor<8x2xf32>
  return %r : tensor<8x2xf32>
}

// -----

// Rule 1, not applied: a binary op whose operands both have other users is a
// kernel of its own; the activation, with one input, still joins (and the
// value it reads is also an output of the group).
// CHECK-LABEL: func.func @shared
// CHECK: %[[K:.*]]:2 = kiln.fusion "matmul"
// CHECK: kiln.matmul
// CHECK-NEXT: kiln.relu
// CHECK-NEXT: kiln.yield
// CHECK: kiln.fusion "elementwise"(%[[K]]#0, %arg2)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: kiln.mul
// CHECK-NEXT: kiln.yield
func.func @shared(%x: tensor<8x3xf32>, %w: tensor<3x2xf32>, %b: tensor<8x2xf32>) -> (tensor<8x2xf32>, tensor<8x2xf32>, tensor<8x2xf32>) {
  %y = kiln.matmul %x, %w : (tensor<8x3xf32>, tensor<3x2xf32>) -> tensor<8x2xf32>
  %r = kiln.relu %y : tensor<8x2xf32>
  %m = kiln.mul %y, %b : (tensor<8x2xf32>, tensor<8x2xf32>) -> tensor<8x2xf32>
  return %r, %m, %b : tensor<8x2xf32>, tensor<8x2xf32>, tensor<8x2xf32>
}

// -----

// Rule 2 (prologue): an elementwise producer used only by a reduction.
// CHECK-LABEL: func.func @sum_of_squares
// CHECK: kiln.fusion "reduce_sum"(%arg0)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: kiln.square
// CHECK-NEXT: kiln.reduce_sum
// CHECK-NEXT: kiln.yield
func.func @sum_of_squares(%x: tensor<8x3xf32>) -> tensor<f32> {
  %s = kiln.square %x : tensor<8x3xf32>
  %r = kiln.reduce_sum %s : (tensor<8x3xf32>) -> tensor<f32>
  return %r : tensor<f32>
}

// -----

// Rule 2, not applied: the producer's value is also returned, so the
// reduction stays a kernel of its own.
// CHECK-LABEL: func.func @returned_producer
// CHECK: %[[E:.*]] = kiln.fusion "elementwise"(%arg0)
// CHECK: kiln.fusion "reduce_max"(%[[E]])
func.func @returned_producer(%x: tensor<8x3xf32>) -> (tensor<8x3xf32>, tensor<f32>) {
  %e = kiln.exp %x : tensor<8x3xf32>
  %r = kiln.reduce_max %e : (tensor<8x3xf32>) -> tensor<f32>
  return %e, %r : tensor<8x3xf32>, tensor<f32>
}

// -----

// Rule 3 (sibling): the bias gradient sums the value the weight-gradient
// matmul reads: one kernel with two results.
// CHECK-LABEL: func.func @bias_gradient
// CHECK: %[[K:.*]]:2 = kiln.fusion "matmul"(%arg0, %arg1)
// CHECK: kiln.matmul %{{.*}}, %{{.*}} {transpose_lhs}
// CHECK: kiln.reduce_sum
// CHECK: return %[[K]]#0, %[[K]]#1
func.func @bias_gradient(%x: tensor<8x3xf32>, %g: tensor<8x2xf32>) -> (tensor<3x2xf32>, tensor<2xf32>) {
  %gw = kiln.matmul %x, %g {transpose_lhs} : (tensor<8x3xf32>, tensor<8x2xf32>) -> tensor<3x2xf32>
  %gb = kiln.reduce_sum %g {axes = array<i64: 0>} : (tensor<8x2xf32>) -> tensor<2xf32>
  return %gw, %gb : tensor<3x2xf32>, tensor<2xf32>
}

// -----

// Rule 3, not applied: without a contraction reading the value, two
// reductions of it stay two kernels.
// CHECK-LABEL: func.func @no_sibling
// CHECK: kiln.fusion "reduce_sum"(%arg0)
// CHECK-NOT: kiln.reduce_max
// CHECK: kiln.yield
// CHECK: kiln.fusion "reduce_max"(%arg0)
func.func @no_sibling(%g: tensor<8x2xf32>) -> (tensor<2xf32>, tensor<2xf32>) {
  %s = kiln.reduce_sum %g {axes = array<i64: 0>} : (tensor<8x2xf32>) -> tensor<2xf32>
  %m = kiln.reduce_max %g {axes = array<i64: 0>} : (tensor<8x2xf32>) -> tensor<2xf32>
  return %s, %m : tensor<2xf32>, tensor<2xf32>
}

// -----

// Rule 4 (prologue group): a mask made from an input, used by one kernel
// only, is computed in that kernel.
// CHECK-LABEL: func.func @mask
// CHECK: kiln.fusion "matmul"(%arg0, %arg1, %arg2, %arg3)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: kiln.matmul
// CHECK-NEXT: kiln.greater
// CHECK-NEXT: kiln.mul
// CHECK-NOT: kiln.fusion
func.func @mask(%x: tensor<8x3xf32>, %w: tensor<3x2xf32>, %m: tensor<8x2xf32>, %t: tensor<8x2xf32>) -> tensor<8x2xf32> {
  %y = kiln.matmul %x, %w : (tensor<8x3xf32>, tensor<3x2xf32>) -> tensor<8x2xf32>
  %k = kiln.greater %m, %t : (tensor<8x2xf32>, tensor<8x2xf32>) -> tensor<8x2xf32>
  %r = kiln.mul %y, %k : (tensor<8x2xf32>, tensor<8x2xf32>) -> tensor<8x2xf32>
  return %r : tensor<8x2xf32>
}

// -----

// Rule 5 (update): the SGD steps of two parameters are one kernel.
// CHECK-LABEL: func.func @sgd
// CHECK: %[[U:.*]]:2 = kiln.fusion "update"
// CHECK-NOT: kiln.fusion
// CHECK: kiln.assign @w, %[[U]]#0
// CHECK: kiln.assign @b, %[[U]]#1
kiln.param @w : tensor<3x2xf32> {initializer = "zeros", trainable}
kiln.param @b : tensor<2xf32> {initializer = "zeros", trainable}
func.func @sgd(%gw: tensor<3x2xf32>, %gb: tensor<2xf32>) {
  %lr = kiln.constant dense<0.01> : tensor<f32>
  %w = kiln.read_param @w : tensor<3x2xf32>
  %b = kiln.read_param @b : tensor<2xf32>
  %sw = kiln.mul %gw, %lr : (tensor<3x2xf32>, tensor<f32>) -> tensor<3x2xf32>
  %nw = kiln.sub %w, %sw : (tensor<3x2xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
  %sb = kiln.mul %gb, %lr : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %nb = kiln.sub %b, %sb : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  kiln.assign @w, %nw : tensor<3x2xf32>
  kiln.assign @b, %nb : tensor<2xf32>
  return
}

// -----

// No merge that makes a cycle: the add could join the matmul's kernel
// through its first operand, but its second depends on that kernel through
// the transpose's kernel; it joins the exp instead.
// CHECK-LABEL: func.func @no_cycle
// CHECK: %[[M:.*]]:2 = kiln.fusion "matmul"
// CHECK: %[[T:.*]] = kiln.fusion "transpose"(%[[M]]#0)
// CHECK: kiln.fusion "elementwise"(%[[T]], %[[M]]#1)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: kiln.exp
// CHECK-NEXT: kiln.add
func.func @no_cycle(%x: tensor<4x4xf32>, %w: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %a = kiln.matmul %x, %w : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %r = kiln.relu %a : tensor<4x4xf32>
  %t = kiln.transpose %a {perm = array<i64: 1, 0>} : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %e = kiln.exp %t : tensor<4x4xf32>
  %c = kiln.add %r, %e : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  return %c : tensor<4x4xf32>
}
