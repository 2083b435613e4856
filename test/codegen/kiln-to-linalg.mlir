// kiln-to-linalg: each op family becomes the linalg / tensor ops docs/codegen.md lists.
// (use-kernels=0: the loop lowering; the kernels/cpu calls are test/codegen/kernel-calls.kiln)
// RUN: kiln-opt %s --pass-pipeline='builtin.module(kiln-params-to-arguments,func.func(kiln-to-linalg{use-kernels=0}))' | FileCheck %s

kiln.param @"dense/kernel" : tensor<4x3xf32>
kiln.param @"conv/kernel" : tensor<3x3x2x5xf32>

// CHECK-LABEL: func.func @dense
// CHECK-SAME: %{{.*}}: tensor<8x4xf32>, %[[W:.*]]: tensor<4x3xf32> {kiln.param = "dense/kernel"}
func.func @dense(%x: tensor<8x4xf32>) -> tensor<8x3xf32> {
  %w = kiln.read_param @"dense/kernel" : tensor<4x3xf32>
  // CHECK: linalg.fill
  // CHECK: linalg.matmul ins(%{{.*}}, %[[W]] : tensor<8x4xf32>, tensor<4x3xf32>)
  %0 = kiln.matmul %x, %w : (tensor<8x4xf32>, tensor<4x3xf32>) -> tensor<8x3xf32>
  // CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
  // CHECK: arith.maximumf
  %1 = kiln.relu %0 : tensor<8x3xf32>
  // CHECK: linalg.reduce
  // CHECK: math.exp
  // CHECK: linalg.reduce
  // CHECK: arith.divf
  %2 = kiln.softmax %1 : tensor<8x3xf32>
  // CHECK-NOT: kiln.
  return %2 : tensor<8x3xf32>
}

// CHECK-LABEL: func.func @conv_same
func.func @conv_same(%x: tensor<1x5x5x2xf32>) -> tensor<1x3x3x5xf32> {
  %w = kiln.read_param @"conv/kernel" : tensor<3x3x2x5xf32>
  // TensorFlow's split: total padding 2 -> 1 before, 1 after.
  // CHECK: tensor.pad %{{.*}} low[0, 1, 1, 0] high[0, 1, 1, 0]
  // CHECK: linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
  %0 = kiln.conv2d %x, %w {padding = "same", strides = array<i64: 2, 2>} : (tensor<1x5x5x2xf32>, tensor<3x3x2x5xf32>) -> tensor<1x3x3x5xf32>
  return %0 : tensor<1x3x3x5xf32>
}

// CHECK-LABEL: func.func @avg_pool
func.func @avg_pool(%x: tensor<1x5x5x1xf32>) -> tensor<1x3x3x1xf32> {
  // The divisor counts only real elements: corners of a "same" 3x3 window see 4.
  // CHECK: linalg.pooling_nhwc_sum
  // CHECK: arith.constant dense<{{\[\[}}4.000000e+00, 6.000000e+00, 4.000000e+00]
  %0 = kiln.avg_pool2d %x {padding = "same", pool_size = array<i64: 3, 3>, strides = array<i64: 2, 2>} : (tensor<1x5x5x1xf32>) -> tensor<1x3x3x1xf32>
  return %0 : tensor<1x3x3x1xf32>
}

// CHECK-LABEL: func.func @reshape
func.func @reshape(%x: tensor<2x3x4xf32>) -> tensor<2x12xf32> {
  // CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1, 2]]
  // CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [2, 12]
  %0 = kiln.reshape %x {shape = array<i64: -1, 12>} : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
  return %0 : tensor<2x12xf32>
}
