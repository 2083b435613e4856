// Every op of the `kiln` dialect parses, prints and re-parses to the same text,
// in the custom and in the generic form, including dynamic (`?`) batch dims,
// optional/default attributes of kiln.param and a full kiln.training.

// Custom form: print, re-parse, print again; the two prints must be identical.
// RUN: kiln-opt %s > %t.custom.mlir
// RUN: kiln-opt %t.custom.mlir > %t.again.mlir
// RUN: diff %t.custom.mlir %t.again.mlir
// RUN: FileCheck %s --input-file=%t.again.mlir
// Generic form: print generic, re-parse, print custom; same text as above.
// RUN: kiln-opt %s --mlir-print-op-generic > %t.generic.mlir
// RUN: kiln-opt %t.generic.mlir > %t.from-generic.mlir
// RUN: diff %t.custom.mlir %t.from-generic.mlir
// RUN: kiln-opt %t.generic.mlir --mlir-print-op-generic | diff %t.generic.mlir -
// RUN: FileCheck %s --check-prefix=GENERIC --input-file=%t.generic.mlir

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

// The default initializer is elided in the custom form, spelled out in the generic one.
// CHECK-LABEL: kiln.param @"dense/kernel" : tensor<784x10xf32> {l2 = 0.00999999977 : f32, trainable}
// GENERIC: "kiln.param"() {initializer = "glorot_uniform", l2 = 0.00999999977 : f32, sym_name = "dense/kernel", trainable, type = tensor<784x10xf32>} : () -> ()
kiln.param @"dense/kernel" : tensor<784x10xf32> {initializer = "glorot_uniform", l2 = 1.0e-02 : f32, trainable}
// CHECK: kiln.param @"dense/bias" : tensor<10xf32> {initializer = "zeros", trainable}
kiln.param @"dense/bias" : tensor<10xf32> {initializer = "zeros", trainable}
// All attributes; not trainable (frozen).
// CHECK: kiln.param @frozen : tensor<2x3xf32> {init_config = {maxval = 5.000000e-02 : f32, minval = -5.000000e-02 : f32, seed = 42 : i64}, initializer = "random_uniform", l1 = 1.000000e-03 : f32, l2 = 0.000000e+00 : f32}
// GENERIC: "kiln.param"() {init_config = {maxval = 5.000000e-02 : f32, minval = -5.000000e-02 : f32, seed = 42 : i64}, initializer = "random_uniform", l1 = 1.000000e-03 : f32, l2 = 0.000000e+00 : f32, sym_name = "frozen", type = tensor<2x3xf32>} : () -> ()
kiln.param @frozen : tensor<2x3xf32> {initializer = "random_uniform", init_config = {seed = 42 : i64, minval = -0.05 : f32, maxval = 0.05 : f32}, l1 = 1.0e-03 : f32, l2 = 0.0 : f32}
// CHECK: kiln.param @scalar : tensor<f32> {init_config = {value = 5.000000e-01 : f32}, initializer = "constant"}
kiln.param @scalar : tensor<f32> {initializer = "constant", init_config = {value = 0.5 : f32}}

// CHECK-LABEL: func.func @params
// CHECK: kiln.read_param @"dense/kernel" : tensor<784x10xf32>
// CHECK: kiln.read_param @scalar : tensor<f32>
// GENERIC: "kiln.read_param"() {name = @"dense/kernel"} : () -> tensor<784x10xf32>
func.func @params() -> (tensor<784x10xf32>, tensor<f32>) {
  %0 = kiln.read_param @"dense/kernel" : tensor<784x10xf32>
  %1 = kiln.read_param @scalar : tensor<f32>
  return %0, %1 : tensor<784x10xf32>, tensor<f32>
}

// CHECK-LABEL: func.func @constants
// CHECK: kiln.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK: kiln.constant dense<0.000000e+00> : tensor<f32>
// CHECK: kiln.constant dense<[1, 2, 3]> : tensor<3xi32>
// GENERIC: "kiln.constant"() {value = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
func.func @constants() -> (tensor<2xf32>, tensor<f32>, tensor<3xi32>) {
  %0 = kiln.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %1 = kiln.constant dense<0.0> : tensor<f32>
  %2 = kiln.constant dense<[1, 2, 3]> : tensor<3xi32>
  return %0, %1, %2 : tensor<2xf32>, tensor<f32>, tensor<3xi32>
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @unary
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>)
// CHECK: %[[A:.*]] = kiln.neg %[[X]] : tensor<?x4xf32>
// CHECK: %[[B:.*]] = kiln.abs %[[A]] : tensor<?x4xf32>
// CHECK: %[[C:.*]] = kiln.exp %[[B]] : tensor<?x4xf32>
// CHECK: %[[D:.*]] = kiln.log %[[C]] : tensor<?x4xf32>
// CHECK: %[[E:.*]] = kiln.sqrt %[[D]] : tensor<?x4xf32>
// CHECK: %[[F:.*]] = kiln.rsqrt %[[E]] : tensor<?x4xf32>
// CHECK: %[[G:.*]] = kiln.square %[[F]] : tensor<?x4xf32>
// CHECK: %[[H:.*]] = kiln.tanh %[[G]] : tensor<?x4xf32>
// CHECK: %[[I:.*]] = kiln.sigmoid %[[H]] : tensor<?x4xf32>
// CHECK: %[[J:.*]] = kiln.relu %[[I]] : tensor<?x4xf32>
// CHECK: return %[[J]]
// GENERIC: "kiln.neg"(%{{.*}}) : (tensor<?x4xf32>) -> tensor<?x4xf32>
func.func @unary(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = kiln.neg %x : tensor<?x4xf32>
  %1 = kiln.abs %0 : tensor<?x4xf32>
  %2 = kiln.exp %1 : tensor<?x4xf32>
  %3 = kiln.log %2 : tensor<?x4xf32>
  %4 = kiln.sqrt %3 : tensor<?x4xf32>
  %5 = kiln.rsqrt %4 : tensor<?x4xf32>
  %6 = kiln.square %5 : tensor<?x4xf32>
  %7 = kiln.tanh %6 : tensor<?x4xf32>
  %8 = kiln.sigmoid %7 : tensor<?x4xf32>
  %9 = kiln.relu %8 : tensor<?x4xf32>
  return %9 : tensor<?x4xf32>
}

// Broadcasting: [?, 4] with [4], [?, 1] with [1, 4], scalars, [?, 4] with [?, 4].
// CHECK-LABEL: func.func @binary
// CHECK: kiln.add %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
// CHECK: kiln.sub %{{.*}}, %{{.*}} : (tensor<?x1xf32>, tensor<1x4xf32>) -> tensor<?x4xf32>
// CHECK: kiln.mul %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
// CHECK: kiln.div %{{.*}}, %{{.*}} : (tensor<f32>, tensor<?x4xf32>) -> tensor<?x4xf32>
// CHECK: kiln.max %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
// CHECK: kiln.min %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<3x1x4xf32>) -> tensor<3x?x4xf32>
// CHECK: kiln.pow %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
// GENERIC: "kiln.add"(%{{.*}}, %{{.*}}) : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
func.func @binary(%x: tensor<?x4xf32>, %b: tensor<4xf32>, %c: tensor<?x1xf32>, %r: tensor<1x4xf32>,
                  %s: tensor<f32>, %t: tensor<3x1x4xf32>, %m: tensor<2x3xf32>) {
  %0 = kiln.add %x, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %1 = kiln.sub %c, %r : (tensor<?x1xf32>, tensor<1x4xf32>) -> tensor<?x4xf32>
  %2 = kiln.mul %x, %s : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %3 = kiln.div %s, %x : (tensor<f32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %4 = kiln.max %0, %1 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %5 = kiln.min %x, %t : (tensor<?x4xf32>, tensor<3x1x4xf32>) -> tensor<3x?x4xf32>
  %6 = kiln.pow %m, %m : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// The default axis (-1) and seed (0) are elided in the custom form.
// CHECK-LABEL: func.func @axis_ops
// CHECK: kiln.softmax %{{.*}} : tensor<?x10xf32>
// CHECK: kiln.softmax %{{.*}} {axis = 0 : i64} : tensor<?x10xf32>
// CHECK: kiln.log_softmax %{{.*}} : tensor<?x10xf32>
// CHECK: kiln.log_softmax %{{.*}} {axis = -2 : i64} : tensor<?x10xf32>
// CHECK: kiln.dropout %{{.*}} {rate = 5.000000e-01 : f32} : tensor<?x10xf32>
// CHECK: kiln.dropout %{{.*}} {rate = 0.000000e+00 : f32, seed = 7 : i64} : tensor<?x10xf32>
// GENERIC: "kiln.softmax"(%{{.*}}) {axis = -1 : i64} : (tensor<?x10xf32>) -> tensor<?x10xf32>
// GENERIC: "kiln.dropout"(%{{.*}}) {rate = 5.000000e-01 : f32, seed = 0 : i64} : (tensor<?x10xf32>) -> tensor<?x10xf32>
func.func @axis_ops(%x: tensor<?x10xf32>) {
  %0 = kiln.softmax %x : tensor<?x10xf32>
  %1 = kiln.softmax %x {axis = 0 : i64} : tensor<?x10xf32>
  %2 = kiln.log_softmax %x {axis = -1 : i64} : tensor<?x10xf32>
  %3 = kiln.log_softmax %x {axis = -2 : i64} : tensor<?x10xf32>
  %4 = kiln.dropout %x {rate = 0.5 : f32} : tensor<?x10xf32>
  %5 = kiln.dropout %x {rate = 0.0 : f32, seed = 7 : i64} : tensor<?x10xf32>
  return
}

//===----------------------------------------------------------------------===//
// Contractions, convolution, pooling
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @matmul
// CHECK: kiln.matmul %{{.*}}, %{{.*}} : (tensor<?x784xf32>, tensor<784x10xf32>) -> tensor<?x10xf32>
// CHECK: kiln.matmul %{{.*}}, %{{.*}} : (tensor<?x5x8xf32>, tensor<8x3xf32>) -> tensor<?x5x3xf32>
// CHECK: kiln.matmul %{{.*}}, %{{.*}} : (tensor<?x5x8xf32>, tensor<?x8x2xf32>) -> tensor<?x5x2xf32>
// CHECK: kiln.matmul %{{.*}}, %{{.*}} : (tensor<?x5x8xf32>, tensor<4x8x2xf32>) -> tensor<4x5x2xf32>
func.func @matmul(%x: tensor<?x784xf32>, %w: tensor<784x10xf32>, %a: tensor<?x5x8xf32>,
                  %b: tensor<8x3xf32>, %c: tensor<?x8x2xf32>, %d: tensor<4x8x2xf32>) {
  %0 = kiln.matmul %x, %w : (tensor<?x784xf32>, tensor<784x10xf32>) -> tensor<?x10xf32>
  %1 = kiln.matmul %a, %b : (tensor<?x5x8xf32>, tensor<8x3xf32>) -> tensor<?x5x3xf32>
  %2 = kiln.matmul %a, %c : (tensor<?x5x8xf32>, tensor<?x8x2xf32>) -> tensor<?x5x2xf32>
  %3 = kiln.matmul %a, %d : (tensor<?x5x8xf32>, tensor<4x8x2xf32>) -> tensor<4x5x2xf32>
  return
}

// valid: (28 - 3) / 1 + 1 = 26 and (28 - 5) / 2 + 1 = 12; same: ceil(28 / 2) = 14.
// CHECK-LABEL: func.func @conv
// CHECK: kiln.conv2d %{{.*}}, %{{.*}} : (tensor<?x28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x26x26x8xf32>
// CHECK: kiln.conv2d %{{.*}}, %{{.*}} {strides = array<i64: 2, 2>} : (tensor<?x28x28x1xf32>, tensor<5x5x1x4xf32>) -> tensor<?x12x12x4xf32>
// CHECK: kiln.conv2d %{{.*}}, %{{.*}} {padding = "same", strides = array<i64: 2, 1>} : (tensor<?x28x28x1xf32>, tensor<5x5x1x4xf32>) -> tensor<?x14x28x4xf32>
// GENERIC: "kiln.conv2d"(%{{.*}}, %{{.*}}) {padding = "valid", strides = array<i64: 1, 1>} : (tensor<?x28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x26x26x8xf32>
func.func @conv(%x: tensor<?x28x28x1xf32>, %k: tensor<3x3x1x8xf32>, %k5: tensor<5x5x1x4xf32>) {
  %0 = kiln.conv2d %x, %k : (tensor<?x28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x26x26x8xf32>
  %1 = kiln.conv2d %x, %k5 {strides = array<i64: 2, 2>, padding = "valid"} : (tensor<?x28x28x1xf32>, tensor<5x5x1x4xf32>) -> tensor<?x12x12x4xf32>
  %2 = kiln.conv2d %x, %k5 {strides = array<i64: 2, 1>, padding = "same"} : (tensor<?x28x28x1xf32>, tensor<5x5x1x4xf32>) -> tensor<?x14x28x4xf32>
  return
}

// valid: (26 - 2) / 2 + 1 = 13 and (26 - 3) / 2 + 1 = 12; same: ceil(26 / 3) = 9.
// CHECK-LABEL: func.func @pool
// CHECK: kiln.max_pool2d %{{.*}} {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<?x26x26x8xf32>) -> tensor<?x13x13x8xf32>
// CHECK: kiln.max_pool2d %{{.*}} {pool_size = array<i64: 3, 3>, strides = array<i64: 2, 2>} : (tensor<?x26x26x8xf32>) -> tensor<?x12x12x8xf32>
// CHECK: kiln.avg_pool2d %{{.*}} {padding = "same", pool_size = array<i64: 3, 3>, strides = array<i64: 3, 3>} : (tensor<?x26x26x8xf32>) -> tensor<?x9x9x8xf32>
// GENERIC: "kiln.max_pool2d"(%{{.*}}) {padding = "valid", pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<?x26x26x8xf32>) -> tensor<?x13x13x8xf32>
func.func @pool(%x: tensor<?x26x26x8xf32>) {
  %0 = kiln.max_pool2d %x {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<?x26x26x8xf32>) -> tensor<?x13x13x8xf32>
  %1 = kiln.max_pool2d %x {pool_size = array<i64: 3, 3>, strides = array<i64: 2, 2>, padding = "valid"} : (tensor<?x26x26x8xf32>) -> tensor<?x12x12x8xf32>
  %2 = kiln.avg_pool2d %x {pool_size = array<i64: 3, 3>, strides = array<i64: 3, 3>, padding = "same"} : (tensor<?x26x26x8xf32>) -> tensor<?x9x9x8xf32>
  return
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @reshape
// CHECK: kiln.reshape %{{.*}} {shape = array<i64: -1, 1352>} : (tensor<?x13x13x8xf32>) -> tensor<?x1352xf32>
// CHECK: kiln.reshape %{{.*}} {shape = array<i64: 169, -1>} : (tensor<?x13x13x8xf32>) -> tensor<169x?xf32>
// CHECK: kiln.reshape %{{.*}} {shape = array<i64: 4, -1>} : (tensor<2x6xf32>) -> tensor<4x3xf32>
// CHECK: kiln.reshape %{{.*}} {shape = array<i64: 3, 2, 2>} : (tensor<2x6xf32>) -> tensor<3x2x2xf32>
// CHECK: kiln.reshape %{{.*}} {shape = array<i64>} : (tensor<1x1xf32>) -> tensor<f32>
// CHECK: kiln.reshape %{{.*}} {shape = array<i64: -1>} : (tensor<?x3xi32>) -> tensor<?xi32>
func.func @reshape(%x: tensor<?x13x13x8xf32>, %m: tensor<2x6xf32>, %o: tensor<1x1xf32>, %l: tensor<?x3xi32>) {
  %0 = kiln.reshape %x {shape = array<i64: -1, 1352>} : (tensor<?x13x13x8xf32>) -> tensor<?x1352xf32>
  %1 = kiln.reshape %x {shape = array<i64: 169, -1>} : (tensor<?x13x13x8xf32>) -> tensor<169x?xf32>
  %2 = kiln.reshape %m {shape = array<i64: 4, -1>} : (tensor<2x6xf32>) -> tensor<4x3xf32>
  %3 = kiln.reshape %m {shape = array<i64: 3, 2, 2>} : (tensor<2x6xf32>) -> tensor<3x2x2xf32>
  %4 = kiln.reshape %o {shape = array<i64>} : (tensor<1x1xf32>) -> tensor<f32>
  %5 = kiln.reshape %l {shape = array<i64: -1>} : (tensor<?x3xi32>) -> tensor<?xi32>
  return
}

// CHECK-LABEL: func.func @transpose
// CHECK: kiln.transpose %{{.*}} {perm = array<i64: 0, 3, 1, 2>} : (tensor<?x28x27x3xf32>) -> tensor<?x3x28x27xf32>
// CHECK: kiln.transpose %{{.*}} {perm = array<i64: 1, 0>} : (tensor<?x10xf32>) -> tensor<10x?xf32>
// GENERIC: "kiln.transpose"(%{{.*}}) {perm = array<i64: 1, 0>} : (tensor<?x10xf32>) -> tensor<10x?xf32>
func.func @transpose(%x: tensor<?x28x27x3xf32>, %y: tensor<?x10xf32>) {
  %0 = kiln.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<?x28x27x3xf32>) -> tensor<?x3x28x27xf32>
  %1 = kiln.transpose %y {perm = array<i64: 1, 0>} : (tensor<?x10xf32>) -> tensor<10x?xf32>
  return
}

// Along the feature axis the batch stays `?`; along the batch axis it stays `?` too.
// CHECK-LABEL: func.func @concat
// CHECK: kiln.concat %{{.*}}, %{{.*}} {axis = -1 : i64} : (tensor<?x4xf32>, tensor<?x6xf32>) -> tensor<?x10xf32>
// CHECK: kiln.concat %{{.*}}, %{{.*}} {axis = 0 : i64} : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x4xf32>
// CHECK: kiln.concat %{{.*}}, %{{.*}}, %{{.*}} {axis = 0 : i64} : (tensor<3x4xf32>, tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<9x4xf32>
// CHECK: kiln.concat %{{.*}} {axis = 1 : i64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
// GENERIC: "kiln.concat"(%{{.*}}, %{{.*}}) {axis = -1 : i64} : (tensor<?x4xf32>, tensor<?x6xf32>) -> tensor<?x10xf32>
func.func @concat(%a: tensor<?x4xf32>, %b: tensor<?x6xf32>, %c: tensor<3x4xf32>) {
  %0 = kiln.concat %a, %b {axis = -1 : i64} : (tensor<?x4xf32>, tensor<?x6xf32>) -> tensor<?x10xf32>
  %1 = kiln.concat %a, %c {axis = 0 : i64} : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x4xf32>
  %2 = kiln.concat %c, %c, %c {axis = 0 : i64} : (tensor<3x4xf32>, tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<9x4xf32>
  %3 = kiln.concat %a {axis = 1 : i64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
  return
}

// Empty `axes` (the default, elided) reduces everything.
// CHECK-LABEL: func.func @reductions
// CHECK: kiln.reduce_sum %{{.*}} : (tensor<?x5x6xf32>) -> tensor<f32>
// CHECK: kiln.reduce_sum %{{.*}} {keepdims = true} : (tensor<?x5x6xf32>) -> tensor<1x1x1xf32>
// CHECK: kiln.reduce_mean %{{.*}} {axes = array<i64: 0>} : (tensor<?x5x6xf32>) -> tensor<5x6xf32>
// CHECK: kiln.reduce_max %{{.*}} {axes = array<i64: -1>} : (tensor<?x5x6xf32>) -> tensor<?x5xf32>
// CHECK: kiln.reduce_min %{{.*}} {axes = array<i64: 1, 2>, keepdims = true} : (tensor<?x5x6xf32>) -> tensor<?x1x1xf32>
// GENERIC: "kiln.reduce_sum"(%{{.*}}) {axes = array<i64>, keepdims = false} : (tensor<?x5x6xf32>) -> tensor<f32>
func.func @reductions(%x: tensor<?x5x6xf32>) {
  %0 = kiln.reduce_sum %x : (tensor<?x5x6xf32>) -> tensor<f32>
  %1 = kiln.reduce_sum %x {keepdims = true} : (tensor<?x5x6xf32>) -> tensor<1x1x1xf32>
  %2 = kiln.reduce_mean %x {axes = array<i64: 0>} : (tensor<?x5x6xf32>) -> tensor<5x6xf32>
  %3 = kiln.reduce_max %x {axes = array<i64: -1>, keepdims = false} : (tensor<?x5x6xf32>) -> tensor<?x5xf32>
  %4 = kiln.reduce_min %x {axes = array<i64: 1, 2>, keepdims = true} : (tensor<?x5x6xf32>) -> tensor<?x1x1xf32>
  return
}

//===----------------------------------------------------------------------===//
// Losses and metrics
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @losses
// CHECK: kiln.mean_squared_error %{{.*}}, %{{.*}} : (tensor<?x10xf32>, tensor<?x10xf32>) -> tensor<f32>
// CHECK: kiln.mean_absolute_error %{{.*}}, %{{.*}} : (tensor<8x10xf32>, tensor<?x10xf32>) -> tensor<f32>
// CHECK: kiln.binary_crossentropy %{{.*}}, %{{.*}} {from_logits = true} : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<f32>
// CHECK: kiln.categorical_crossentropy %{{.*}}, %{{.*}} : (tensor<?x10xf32>, tensor<?x10xf32>) -> tensor<f32>
// CHECK: kiln.sparse_categorical_crossentropy %{{.*}}, %{{.*}} : (tensor<?xi32>, tensor<?x10xf32>) -> tensor<f32>
// CHECK: kiln.sparse_categorical_crossentropy %{{.*}}, %{{.*}} {from_logits = true} : (tensor<?x1xi32>, tensor<?x10xf32>) -> tensor<f32>
// GENERIC: "kiln.categorical_crossentropy"(%{{.*}}, %{{.*}}) {from_logits = false} : (tensor<?x10xf32>, tensor<?x10xf32>) -> tensor<f32>
func.func @losses(%y: tensor<?x10xf32>, %p: tensor<?x10xf32>, %y8: tensor<8x10xf32>,
                  %yb: tensor<?x1xf32>, %pb: tensor<?x1xf32>, %ys: tensor<?xi32>, %ys1: tensor<?x1xi32>) {
  %0 = kiln.mean_squared_error %y, %p : (tensor<?x10xf32>, tensor<?x10xf32>) -> tensor<f32>
  %1 = kiln.mean_absolute_error %y8, %p : (tensor<8x10xf32>, tensor<?x10xf32>) -> tensor<f32>
  %2 = kiln.binary_crossentropy %yb, %pb {from_logits = true} : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<f32>
  %3 = kiln.categorical_crossentropy %y, %p {from_logits = false} : (tensor<?x10xf32>, tensor<?x10xf32>) -> tensor<f32>
  %4 = kiln.sparse_categorical_crossentropy %ys, %p : (tensor<?xi32>, tensor<?x10xf32>) -> tensor<f32>
  %5 = kiln.sparse_categorical_crossentropy %ys1, %p {from_logits = true} : (tensor<?x1xi32>, tensor<?x10xf32>) -> tensor<f32>
  return
}

// CHECK-LABEL: func.func @accuracy
// CHECK: kiln.accuracy %{{.*}}, %{{.*}} {kind = "binary", threshold = 2.500000e-01 : f32} : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<f32>
// CHECK: kiln.accuracy %{{.*}}, %{{.*}} {kind = "categorical"} : (tensor<?x10xf32>, tensor<?x10xf32>) -> tensor<f32>
// CHECK: kiln.accuracy %{{.*}}, %{{.*}} {kind = "sparse_categorical"} : (tensor<?xi32>, tensor<?x10xf32>) -> tensor<f32>
// GENERIC: "kiln.accuracy"(%{{.*}}, %{{.*}}) {kind = "categorical", threshold = 5.000000e-01 : f32} : (tensor<?x10xf32>, tensor<?x10xf32>) -> tensor<f32>
func.func @accuracy(%yb: tensor<?x1xf32>, %pb: tensor<?x1xf32>, %y: tensor<?x10xf32>, %p: tensor<?x10xf32>, %ys: tensor<?xi32>) {
  %0 = kiln.accuracy %yb, %pb {kind = "binary", threshold = 0.25 : f32} : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<f32>
  %1 = kiln.accuracy %y, %p {kind = "categorical"} : (tensor<?x10xf32>, tensor<?x10xf32>) -> tensor<f32>
  %2 = kiln.accuracy %ys, %p {kind = "sparse_categorical"} : (tensor<?xi32>, tensor<?x10xf32>) -> tensor<f32>
  return
}

//===----------------------------------------------------------------------===//
// Training configuration
//===----------------------------------------------------------------------===//

// CHECK-LABEL: kiln.training
// CHECK-SAME: fit_config = {batch_size = 64 : i64, epochs = 5 : i64, shuffle = true, validation_split = 1.000000e-01 : f32}
// CHECK-SAME: from_logits = true
// CHECK-SAME: loss = "sparse_categorical_crossentropy"
// CHECK-SAME: metrics = ["accuracy", "sparse_categorical_accuracy"]
// CHECK-SAME: optimizer = "adam"
// CHECK-SAME: optimizer_config = {amsgrad = false, beta_1 = 0.899999976 : f32, beta_2 = 9.990000e-01 : f32, epsilon = 1.000000e-07 : f32, learning_rate = 1.000000e-03 : f32}
// GENERIC: "kiln.training"() {fit_config = {batch_size = 64 : i64, epochs = 5 : i64, shuffle = true, validation_split = 1.000000e-01 : f32}, from_logits = true, loss = "sparse_categorical_crossentropy", metrics = ["accuracy", "sparse_categorical_accuracy"], optimizer = "adam", optimizer_config = {amsgrad = false, beta_1 = 0.899999976 : f32, beta_2 = 9.990000e-01 : f32, epsilon = 1.000000e-07 : f32, learning_rate = 1.000000e-03 : f32}} : () -> ()
kiln.training {loss = "sparse_categorical_crossentropy", from_logits = true, optimizer = "adam",
               optimizer_config = {learning_rate = 1.0e-03 : f32, beta_1 = 0.9 : f32, beta_2 = 0.999 : f32, epsilon = 1.0e-07 : f32, amsgrad = false},
               metrics = ["accuracy", "sparse_categorical_accuracy"],
               fit_config = {batch_size = 64 : i64, epochs = 5 : i64, validation_split = 0.1 : f32, shuffle = true}}

// Defaults: from_logits = false is elided; no metrics, empty fit_config. In a
// nested module, as kiln.training is documented as one per module.
// CHECK-LABEL: module @defaults
// CHECK: kiln.training {fit_config = {}, loss = "mean_squared_error", metrics = [], optimizer = "sgd", optimizer_config = {learning_rate = 0.00999999977 : f32, momentum = 0.000000e+00 : f32}}
// GENERIC: "kiln.training"() {fit_config = {}, from_logits = false, loss = "mean_squared_error", metrics = [], optimizer = "sgd", optimizer_config = {learning_rate = 0.00999999977 : f32, momentum = 0.000000e+00 : f32}} : () -> ()
module @defaults {
  kiln.training {loss = "mean_squared_error", optimizer = "sgd", optimizer_config = {learning_rate = 0.01 : f32, momentum = 0.0 : f32}, metrics = [], fit_config = {}}
}
