// Every error path of the `kiln` dialect: shape rules (ir/ShapeInference.cpp),
// verifiers and symbol checks (ir/KilnOps.cpp), and the ODS constraints that
// guard them.
//
// A shape rule (inferReturnTypes) that rejects an op reports a plain message at
// the op, followed by MLIR's "'kiln.<op>' op failed to infer returned types". A
// declared result type that differs from the inferred one is reported by MLIR's
// InferTypeOpInterface verifier ("inferred type(s) ... are incompatible with
// return type(s)"); the comparison is exact, so `?` where the rule infers a
// static size is an error too.

// RUN: kiln-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// Broadcasting (add, sub, mul, div, max, min, pow)
//===----------------------------------------------------------------------===//

func.func @broadcast_mismatch(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) {
  // expected-error @+2 {{cannot broadcast tensor<2x3xf32> with tensor<4x3xf32>: dimension 2 against 4}}
  // expected-error @+1 {{'kiln.add' op failed to infer returned types}}
  %0 = kiln.add %a, %b : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @broadcast_mismatch_trailing(%a: tensor<?x3xf32>, %b: tensor<4xf32>) {
  // expected-error @+2 {{cannot broadcast tensor<?x3xf32> with tensor<4xf32>: dimension 3 against 4}}
  // expected-error @+1 {{'kiln.pow' op failed to infer returned types}}
  %0 = kiln.pow %a, %b : (tensor<?x3xf32>, tensor<4xf32>) -> tensor<?x3xf32>
  return
}

// -----

func.func @broadcast_wrong_result(%a: tensor<2x3xf32>, %b: tensor<1x3xf32>) {
  // expected-error @+2 {{'kiln.sub' op inferred type(s) 'tensor<2x3xf32>' are incompatible with return type(s) of operation 'tensor<3x3xf32>'}}
  // expected-error @+1 {{'kiln.sub' op failed to infer returned types}}
  %0 = kiln.sub %a, %b : (tensor<2x3xf32>, tensor<1x3xf32>) -> tensor<3x3xf32>
  return
}

// -----

func.func @broadcast_result_less_static(%a: tensor<?x3xf32>, %b: tensor<2x3xf32>) {
  // expected-error @+2 {{'kiln.mul' op inferred type(s) 'tensor<2x3xf32>' are incompatible with return type(s) of operation 'tensor<?x3xf32>'}}
  // expected-error @+1 {{'kiln.mul' op failed to infer returned types}}
  %0 = kiln.mul %a, %b : (tensor<?x3xf32>, tensor<2x3xf32>) -> tensor<?x3xf32>
  return
}

// -----

// 2^25 x 2^24 elements is above the 2^48 limit of every shape rule.
func.func @too_many_elements(%a: tensor<33554432x1xf32>, %b: tensor<1x16777216xf32>) {
  // expected-error @+2 {{result shape [33554432, 16777216] has too many elements}}
  // expected-error @+1 {{'kiln.max' op failed to infer returned types}}
  %0 = kiln.max %a, %b : (tensor<33554432x1xf32>, tensor<1x16777216xf32>) -> tensor<33554432x16777216xf32>
  return
}

// -----

func.func @non_f32_operand(%a: tensor<2xi32>) {
  // expected-error @+1 {{'kiln.div' op operand #0 must be ranked tensor of 32-bit float values, but got 'tensor<2xi32>'}}
  %0 = "kiln.div"(%a, %a) : (tensor<2xi32>, tensor<2xi32>) -> tensor<2xi32>
  return
}

// -----

func.func @binary_operand_count(%a: tensor<2xf32>) {
  // expected-error @+1 {{'kiln.min' op expected 2 operands, but found 1}}
  %0 = "kiln.min"(%a) : (tensor<2xf32>) -> tensor<2xf32>
  return
}

// -----

// Unary ops: result type = operand type.
func.func @unary_result_type(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'kiln.relu' op all non-scalar operands/results must have the same shape and base type}}
  %0 = "kiln.relu"(%a) : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return
}

// -----

func.func @unranked_operand(%a: tensor<*xf32>) {
  // expected-error @+1 {{'kiln.exp' op operand #0 must be ranked tensor of 32-bit float values, but got 'tensor<*xf32>'}}
  %0 = "kiln.exp"(%a) : (tensor<*xf32>) -> tensor<*xf32>
  return
}

//===----------------------------------------------------------------------===//
// softmax, log_softmax, dropout
//===----------------------------------------------------------------------===//

// -----

func.func @softmax_axis(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'kiln.softmax' op axis 2 is out of range for a tensor of rank 2}}
  %0 = kiln.softmax %a {axis = 2 : i64} : tensor<2x3xf32>
  return
}

// -----

func.func @log_softmax_axis(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'kiln.log_softmax' op axis -3 is out of range for a tensor of rank 2}}
  %0 = kiln.log_softmax %a {axis = -3 : i64} : tensor<2x3xf32>
  return
}

// -----

// The default axis -1 does not exist on a scalar.
func.func @softmax_scalar(%a: tensor<f32>) {
  // expected-error @+1 {{'kiln.softmax' op axis -1 is out of range for a tensor of rank 0}}
  %0 = kiln.softmax %a : tensor<f32>
  return
}

// -----

func.func @dropout_rate_one(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'kiln.dropout' op rate must be in [0, 1), got 1.000000e+00}}
  %0 = kiln.dropout %a {rate = 1.0 : f32} : tensor<2x3xf32>
  return
}

// -----

func.func @dropout_rate_negative(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'kiln.dropout' op rate must be in [0, 1), got -5.000000e-01}}
  %0 = kiln.dropout %a {rate = -0.5 : f32} : tensor<2x3xf32>
  return
}

// -----

func.func @dropout_rate_nan(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'kiln.dropout' op rate must be in [0, 1), got nan}}
  %0 = kiln.dropout %a {rate = 0x7FC00000 : f32} : tensor<2x3xf32>
  return
}

// -----

func.func @dropout_missing_rate(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'kiln.dropout' op requires attribute 'rate'}}
  %0 = kiln.dropout %a : tensor<2x3xf32>
  return
}

//===----------------------------------------------------------------------===//
// matmul
//===----------------------------------------------------------------------===//

// -----

func.func @matmul_rank(%a: tensor<4xf32>, %b: tensor<4x2xf32>) {
  // expected-error @+2 {{matmul needs operands of rank 2 or more, got tensor<4xf32> and tensor<4x2xf32>}}
  // expected-error @+1 {{'kiln.matmul' op failed to infer returned types}}
  %0 = kiln.matmul %a, %b : (tensor<4xf32>, tensor<4x2xf32>) -> tensor<2xf32>
  return
}

// -----

func.func @matmul_inner(%a: tensor<?x3xf32>, %b: tensor<4x5xf32>) {
  // expected-error @+2 {{matmul inner dimensions differ: tensor<?x3xf32> has 3 columns but tensor<4x5xf32> has 4 rows}}
  // expected-error @+1 {{'kiln.matmul' op failed to infer returned types}}
  %0 = kiln.matmul %a, %b : (tensor<?x3xf32>, tensor<4x5xf32>) -> tensor<?x5xf32>
  return
}

// -----

func.func @matmul_batch_rank(%a: tensor<5x3xf32>, %b: tensor<2x3x4xf32>) {
  // expected-error @+2 {{matmul batch ranks differ: tensor<5x3xf32> and tensor<2x3x4xf32>}}
  // expected-error @+1 {{'kiln.matmul' op failed to infer returned types}}
  %0 = kiln.matmul %a, %b : (tensor<5x3xf32>, tensor<2x3x4xf32>) -> tensor<2x5x4xf32>
  return
}

// -----

func.func @matmul_batch_dims(%a: tensor<2x5x3xf32>, %b: tensor<4x3x6xf32>) {
  // expected-error @+2 {{matmul batch dimensions differ: tensor<2x5x3xf32> and tensor<4x3x6xf32>}}
  // expected-error @+1 {{'kiln.matmul' op failed to infer returned types}}
  %0 = kiln.matmul %a, %b : (tensor<2x5x3xf32>, tensor<4x3x6xf32>) -> tensor<2x5x6xf32>
  return
}

// -----

func.func @matmul_wrong_result(%a: tensor<?x3xf32>, %b: tensor<3x5xf32>) {
  // expected-error @+2 {{'kiln.matmul' op inferred type(s) 'tensor<?x5xf32>' are incompatible with return type(s) of operation 'tensor<?x3xf32>'}}
  // expected-error @+1 {{'kiln.matmul' op failed to infer returned types}}
  %0 = kiln.matmul %a, %b : (tensor<?x3xf32>, tensor<3x5xf32>) -> tensor<?x3xf32>
  return
}

//===----------------------------------------------------------------------===//
// conv2d
//===----------------------------------------------------------------------===//

// -----

func.func @conv_input_rank(%x: tensor<28x28x1xf32>, %k: tensor<3x3x1x8xf32>) {
  // expected-error @+2 {{conv2d expects an NHWC input of rank 4, got tensor<28x28x1xf32>}}
  // expected-error @+1 {{'kiln.conv2d' op failed to infer returned types}}
  %0 = kiln.conv2d %x, %k : (tensor<28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<26x26x8xf32>
  return
}

// -----

func.func @conv_kernel_rank(%x: tensor<?x28x28x1xf32>, %k: tensor<3x3x8xf32>) {
  // expected-error @+2 {{conv2d expects a [kh, kw, in, out] kernel of rank 4, got tensor<3x3x8xf32>}}
  // expected-error @+1 {{'kiln.conv2d' op failed to infer returned types}}
  %0 = kiln.conv2d %x, %k : (tensor<?x28x28x1xf32>, tensor<3x3x8xf32>) -> tensor<?x26x26x8xf32>
  return
}

// -----

func.func @conv_channels(%x: tensor<?x28x28x3xf32>, %k: tensor<3x3x1x8xf32>) {
  // expected-error @+2 {{conv2d input has 3 channels but the kernel tensor<3x3x1x8xf32> expects 1}}
  // expected-error @+1 {{'kiln.conv2d' op failed to infer returned types}}
  %0 = kiln.conv2d %x, %k : (tensor<?x28x28x3xf32>, tensor<3x3x1x8xf32>) -> tensor<?x26x26x8xf32>
  return
}

// -----

func.func @conv_kernel_too_tall(%x: tensor<?x2x8x1xf32>, %k: tensor<3x3x1x8xf32>) {
  // expected-error @+2 {{the kernel (3 along height) is larger than the input (2) with 'valid' padding}}
  // expected-error @+1 {{'kiln.conv2d' op failed to infer returned types}}
  %0 = kiln.conv2d %x, %k : (tensor<?x2x8x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x1x6x8xf32>
  return
}

// -----

func.func @conv_kernel_too_wide(%x: tensor<?x8x2x1xf32>, %k: tensor<3x3x1x8xf32>) {
  // expected-error @+2 {{the kernel (3 along width) is larger than the input (2) with 'valid' padding}}
  // expected-error @+1 {{'kiln.conv2d' op failed to infer returned types}}
  %0 = kiln.conv2d %x, %k : (tensor<?x8x2x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x6x1x8xf32>
  return
}

// -----

// A zero-sized window would otherwise give an output larger than the input.
func.func @conv_kernel_empty(%x: tensor<?x5x5x1xf32>, %k: tensor<0x3x1x8xf32>) {
  // expected-error @+2 {{conv2d kernel tensor<0x3x1x8xf32> has an empty window}}
  // expected-error @+1 {{'kiln.conv2d' op failed to infer returned types}}
  %0 = kiln.conv2d %x, %k : (tensor<?x5x5x1xf32>, tensor<0x3x1x8xf32>) -> tensor<?x6x3x8xf32>
  return
}

// -----

func.func @conv_padding(%x: tensor<?x28x28x1xf32>, %k: tensor<3x3x1x8xf32>) {
  // expected-error @+2 {{padding must be "valid" or "same", got "full"}}
  // expected-error @+1 {{'kiln.conv2d' op failed to infer returned types}}
  %0 = kiln.conv2d %x, %k {padding = "full"} : (tensor<?x28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x28x28x8xf32>
  return
}

// -----

func.func @conv_padding_case(%x: tensor<?x28x28x1xf32>, %k: tensor<3x3x1x8xf32>) {
  // expected-error @+2 {{padding must be "valid" or "same", got "SAME"}}
  // expected-error @+1 {{'kiln.conv2d' op failed to infer returned types}}
  %0 = kiln.conv2d %x, %k {padding = "SAME"} : (tensor<?x28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x28x28x8xf32>
  return
}

// -----

func.func @conv_strides_count(%x: tensor<?x28x28x1xf32>, %k: tensor<3x3x1x8xf32>) {
  // expected-error @+2 {{strides must have 2 entries (height, width), got 1}}
  // expected-error @+1 {{'kiln.conv2d' op failed to infer returned types}}
  %0 = kiln.conv2d %x, %k {strides = array<i64: 2>} : (tensor<?x28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x13x13x8xf32>
  return
}

// -----

func.func @conv_strides_zero(%x: tensor<?x28x28x1xf32>, %k: tensor<3x3x1x8xf32>) {
  // expected-error @+2 {{strides must be positive, got [1, 0]}}
  // expected-error @+1 {{'kiln.conv2d' op failed to infer returned types}}
  %0 = kiln.conv2d %x, %k {strides = array<i64: 1, 0>} : (tensor<?x28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x26x26x8xf32>
  return
}

// -----

func.func @conv_strides_negative(%x: tensor<?x28x28x1xf32>, %k: tensor<3x3x1x8xf32>) {
  // expected-error @+2 {{strides must be positive, got [-1, 1]}}
  // expected-error @+1 {{'kiln.conv2d' op failed to infer returned types}}
  %0 = kiln.conv2d %x, %k {strides = array<i64: -1, 1>} : (tensor<?x28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x26x26x8xf32>
  return
}

// -----

func.func @conv_strides_attr_type(%x: tensor<?x28x28x1xf32>, %k: tensor<3x3x1x8xf32>) {
  // expected-error @+1 {{'kiln.conv2d' op attribute 'strides' failed to satisfy constraint: i64 dense array attribute}}
  %0 = kiln.conv2d %x, %k {strides = [1, 1]} : (tensor<?x28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x26x26x8xf32>
  return
}

// -----

func.func @conv_padding_attr_type(%x: tensor<?x28x28x1xf32>, %k: tensor<3x3x1x8xf32>) {
  // expected-error @+1 {{'kiln.conv2d' op attribute 'padding' failed to satisfy constraint: string attribute}}
  %0 = kiln.conv2d %x, %k {padding = 1 : i64} : (tensor<?x28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x28x28x8xf32>
  return
}

// -----

// "same" with stride 2: ceil(28 / 2) = 14, not 28.
func.func @conv_wrong_result(%x: tensor<?x28x28x1xf32>, %k: tensor<3x3x1x8xf32>) {
  // expected-error @+2 {{'kiln.conv2d' op inferred type(s) 'tensor<?x14x14x8xf32>' are incompatible with return type(s) of operation 'tensor<?x28x28x8xf32>'}}
  // expected-error @+1 {{'kiln.conv2d' op failed to infer returned types}}
  %0 = kiln.conv2d %x, %k {padding = "same", strides = array<i64: 2, 2>} : (tensor<?x28x28x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x28x28x8xf32>
  return
}

//===----------------------------------------------------------------------===//
// max_pool2d, avg_pool2d
//===----------------------------------------------------------------------===//

// -----

func.func @pool_rank(%x: tensor<?x26x8xf32>) {
  // expected-error @+2 {{pooling expects an NHWC input of rank 4, got tensor<?x26x8xf32>}}
  // expected-error @+1 {{'kiln.max_pool2d' op failed to infer returned types}}
  %0 = kiln.max_pool2d %x {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<?x26x8xf32>) -> tensor<?x13x4xf32>
  return
}

// -----

func.func @pool_size_count(%x: tensor<?x26x26x8xf32>) {
  // expected-error @+2 {{pool_size must have 2 entries (height, width), got 3}}
  // expected-error @+1 {{'kiln.avg_pool2d' op failed to infer returned types}}
  %0 = kiln.avg_pool2d %x {pool_size = array<i64: 2, 2, 2>, strides = array<i64: 2, 2>} : (tensor<?x26x26x8xf32>) -> tensor<?x13x13x8xf32>
  return
}

// -----

func.func @pool_size_zero(%x: tensor<?x26x26x8xf32>) {
  // expected-error @+2 {{pool_size must be positive, got [0, 2]}}
  // expected-error @+1 {{'kiln.max_pool2d' op failed to infer returned types}}
  %0 = kiln.max_pool2d %x {pool_size = array<i64: 0, 2>, strides = array<i64: 2, 2>} : (tensor<?x26x26x8xf32>) -> tensor<?x13x13x8xf32>
  return
}

// -----

func.func @pool_strides(%x: tensor<?x26x26x8xf32>) {
  // expected-error @+2 {{strides must be positive, got [2, 0]}}
  // expected-error @+1 {{'kiln.avg_pool2d' op failed to infer returned types}}
  %0 = kiln.avg_pool2d %x {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 0>} : (tensor<?x26x26x8xf32>) -> tensor<?x13x13x8xf32>
  return
}

// -----

func.func @pool_strides_count(%x: tensor<?x26x26x8xf32>) {
  // expected-error @+2 {{strides must have 2 entries (height, width), got 0}}
  // expected-error @+1 {{'kiln.avg_pool2d' op failed to infer returned types}}
  %0 = kiln.avg_pool2d %x {pool_size = array<i64: 2, 2>, strides = array<i64>} : (tensor<?x26x26x8xf32>) -> tensor<?x13x13x8xf32>
  return
}

// -----

func.func @pool_padding(%x: tensor<?x26x26x8xf32>) {
  // expected-error @+2 {{padding must be "valid" or "same", got "causal"}}
  // expected-error @+1 {{'kiln.max_pool2d' op failed to infer returned types}}
  %0 = kiln.max_pool2d %x {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = "causal"} : (tensor<?x26x26x8xf32>) -> tensor<?x13x13x8xf32>
  return
}

// -----

func.func @pool_window_too_large(%x: tensor<?x26x2x8xf32>) {
  // expected-error @+2 {{the pooling window (3 along width) is larger than the input (2) with 'valid' padding}}
  // expected-error @+1 {{'kiln.max_pool2d' op failed to infer returned types}}
  %0 = kiln.max_pool2d %x {pool_size = array<i64: 3, 3>, strides = array<i64: 1, 1>} : (tensor<?x26x2x8xf32>) -> tensor<?x24x1x8xf32>
  return
}

// -----

func.func @pool_missing_pool_size(%x: tensor<?x26x26x8xf32>) {
  // expected-error @+1 {{'kiln.max_pool2d' op requires attribute 'pool_size'}}
  %0 = kiln.max_pool2d %x {strides = array<i64: 2, 2>} : (tensor<?x26x26x8xf32>) -> tensor<?x13x13x8xf32>
  return
}

// -----

func.func @pool_missing_strides(%x: tensor<?x26x26x8xf32>) {
  // expected-error @+1 {{'kiln.avg_pool2d' op requires attribute 'strides'}}
  %0 = kiln.avg_pool2d %x {pool_size = array<i64: 2, 2>} : (tensor<?x26x26x8xf32>) -> tensor<?x13x13x8xf32>
  return
}

//===----------------------------------------------------------------------===//
// reshape
//===----------------------------------------------------------------------===//

// -----

func.func @reshape_element_count(%a: tensor<2x3xf32>) {
  // expected-error @+2 {{cannot reshape tensor<2x3xf32> (6 elements) to [4, 2] (8 elements)}}
  // expected-error @+1 {{'kiln.reshape' op failed to infer returned types}}
  %0 = kiln.reshape %a {shape = array<i64: 4, 2>} : (tensor<2x3xf32>) -> tensor<4x2xf32>
  return
}

// -----

func.func @reshape_infer_not_dividing(%a: tensor<2x3xf32>) {
  // expected-error @+2 {{cannot reshape tensor<2x3xf32> (6 elements) to [4, -1]}}
  // expected-error @+1 {{'kiln.reshape' op failed to infer returned types}}
  %0 = kiln.reshape %a {shape = array<i64: 4, -1>} : (tensor<2x3xf32>) -> tensor<4x1xf32>
  return
}

// -----

func.func @reshape_two_infers(%a: tensor<2x3xf32>) {
  // expected-error @+2 {{reshape target [-1, 3, -1] has more than one -1}}
  // expected-error @+1 {{'kiln.reshape' op failed to infer returned types}}
  %0 = kiln.reshape %a {shape = array<i64: -1, 3, -1>} : (tensor<2x3xf32>) -> tensor<2x3x1xf32>
  return
}

// -----

func.func @reshape_zero_entry(%a: tensor<2x3xf32>) {
  // expected-error @+2 {{reshape target [0, -1] may only hold positive sizes and one -1}}
  // expected-error @+1 {{'kiln.reshape' op failed to infer returned types}}
  %0 = kiln.reshape %a {shape = array<i64: 0, -1>} : (tensor<2x3xf32>) -> tensor<1x6xf32>
  return
}

// -----

func.func @reshape_negative_entry(%a: tensor<2x3xf32>) {
  // expected-error @+2 {{reshape target [-2, 3] may only hold positive sizes and one -1}}
  // expected-error @+1 {{'kiln.reshape' op failed to infer returned types}}
  %0 = kiln.reshape %a {shape = array<i64: -2, 3>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @reshape_dynamic_without_infer(%a: tensor<?x3xf32>) {
  // expected-error @+2 {{reshape of tensor<?x3xf32>, whose size is not known yet, needs a -1 entry in its target shape}}
  // expected-error @+1 {{'kiln.reshape' op failed to infer returned types}}
  %0 = kiln.reshape %a {shape = array<i64: 3, 3>} : (tensor<?x3xf32>) -> tensor<3x3xf32>
  return
}

// -----

func.func @reshape_target_too_large(%a: tensor<2x3xf32>) {
  // expected-error @+2 {{reshape target [-1, 1073741824, 1073741824] has too many elements}}
  // expected-error @+1 {{'kiln.reshape' op failed to infer returned types}}
  %0 = kiln.reshape %a {shape = array<i64: -1, 1073741824, 1073741824>} : (tensor<2x3xf32>) -> tensor<1x1x1xf32>
  return
}

// -----

// A -1 on a dynamic input stays `?`.
func.func @reshape_wrong_result(%a: tensor<?x3xf32>) {
  // expected-error @+2 {{'kiln.reshape' op inferred type(s) 'tensor<?x3xf32>' are incompatible with return type(s) of operation 'tensor<4x3xf32>'}}
  // expected-error @+1 {{'kiln.reshape' op failed to infer returned types}}
  %0 = kiln.reshape %a {shape = array<i64: -1, 3>} : (tensor<?x3xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @reshape_missing_shape(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'kiln.reshape' op requires attribute 'shape'}}
  %0 = "kiln.reshape"(%a) : (tensor<2x3xf32>) -> tensor<6xf32>
  return
}

//===----------------------------------------------------------------------===//
// transpose
//===----------------------------------------------------------------------===//

// -----

func.func @transpose_length(%a: tensor<2x3x4xf32>) {
  // expected-error @+2 {{transpose permutation [1, 0] must have 3 entries for tensor<2x3x4xf32>}}
  // expected-error @+1 {{'kiln.transpose' op failed to infer returned types}}
  %0 = kiln.transpose %a {perm = array<i64: 1, 0>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
  return
}

// -----

func.func @transpose_duplicate(%a: tensor<?x3xf32>) {
  // expected-error @+2 {{transpose permutation [0, 0] is not a permutation of 0..1}}
  // expected-error @+1 {{'kiln.transpose' op failed to infer returned types}}
  %0 = kiln.transpose %a {perm = array<i64: 0, 0>} : (tensor<?x3xf32>) -> tensor<?x?xf32>
  return
}

// -----

func.func @transpose_out_of_range(%a: tensor<?x3xf32>) {
  // expected-error @+2 {{transpose permutation [2, 0] is not a permutation of 0..1}}
  // expected-error @+1 {{'kiln.transpose' op failed to infer returned types}}
  %0 = kiln.transpose %a {perm = array<i64: 2, 0>} : (tensor<?x3xf32>) -> tensor<3x?xf32>
  return
}

// -----

func.func @transpose_negative(%a: tensor<?x3xf32>) {
  // expected-error @+2 {{transpose permutation [-1, 0] is not a permutation of 0..1}}
  // expected-error @+1 {{'kiln.transpose' op failed to infer returned types}}
  %0 = kiln.transpose %a {perm = array<i64: -1, 0>} : (tensor<?x3xf32>) -> tensor<3x?xf32>
  return
}

//===----------------------------------------------------------------------===//
// concat
//===----------------------------------------------------------------------===//

// -----

func.func @concat_no_inputs() {
  // expected-error @+2 {{concat needs at least one input}}
  // expected-error @+1 {{'kiln.concat' op failed to infer returned types}}
  %0 = kiln.concat {axis = 0 : i64} : () -> tensor<2xf32>
  return
}

// -----

func.func @concat_scalars(%a: tensor<f32>) {
  // expected-error @+2 {{concat cannot join scalars}}
  // expected-error @+1 {{'kiln.concat' op failed to infer returned types}}
  %0 = kiln.concat %a, %a {axis = 0 : i64} : (tensor<f32>, tensor<f32>) -> tensor<2xf32>
  return
}

// -----

func.func @concat_axis(%a: tensor<?x4xf32>) {
  // expected-error @+2 {{concat axis 2 is out of range for a tensor of rank 2}}
  // expected-error @+1 {{'kiln.concat' op failed to infer returned types}}
  %0 = kiln.concat %a, %a {axis = 2 : i64} : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @concat_negative_axis(%a: tensor<?x4xf32>) {
  // expected-error @+2 {{concat axis -3 is out of range for a tensor of rank 2}}
  // expected-error @+1 {{'kiln.concat' op failed to infer returned types}}
  %0 = kiln.concat %a, %a {axis = -3 : i64} : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @concat_rank(%a: tensor<?x4xf32>, %b: tensor<?x4x1xf32>) {
  // expected-error @+2 {{concat inputs must have the same rank and element type: tensor<?x4xf32> and tensor<?x4x1xf32>}}
  // expected-error @+1 {{'kiln.concat' op failed to infer returned types}}
  %0 = kiln.concat %a, %b {axis = 0 : i64} : (tensor<?x4xf32>, tensor<?x4x1xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @concat_mismatch(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+2 {{concat inputs differ outside the axis: tensor<2x3xf32> and tensor<2x4xf32> along dimension 1}}
  // expected-error @+1 {{'kiln.concat' op failed to infer returned types}}
  %0 = kiln.concat %a, %b {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @concat_missing_axis(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'kiln.concat' op requires attribute 'axis'}}
  %0 = kiln.concat %a, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
  return
}

//===----------------------------------------------------------------------===//
// reductions
//===----------------------------------------------------------------------===//

// -----

func.func @reduce_axis(%a: tensor<?x5x6xf32>) {
  // expected-error @+2 {{reduction axis 3 is out of range for a tensor of rank 3}}
  // expected-error @+1 {{'kiln.reduce_sum' op failed to infer returned types}}
  %0 = kiln.reduce_sum %a {axes = array<i64: 3>} : (tensor<?x5x6xf32>) -> tensor<?x5xf32>
  return
}

// -----

func.func @reduce_negative_axis(%a: tensor<?x5x6xf32>) {
  // expected-error @+2 {{reduction axis -4 is out of range for a tensor of rank 3}}
  // expected-error @+1 {{'kiln.reduce_max' op failed to infer returned types}}
  %0 = kiln.reduce_max %a {axes = array<i64: 0, -4>} : (tensor<?x5x6xf32>) -> tensor<5xf32>
  return
}

// -----

func.func @reduce_duplicate(%a: tensor<?x5x6xf32>) {
  // expected-error @+2 {{reduction axes [1, 1] list axis 1 more than once}}
  // expected-error @+1 {{'kiln.reduce_mean' op failed to infer returned types}}
  %0 = kiln.reduce_mean %a {axes = array<i64: 1, 1>} : (tensor<?x5x6xf32>) -> tensor<?x6xf32>
  return
}

// -----

// -1 and 2 name the same axis of a rank-3 tensor.
func.func @reduce_duplicate_negative(%a: tensor<?x5x6xf32>) {
  // expected-error @+2 {{reduction axes [2, -1] list axis 2 more than once}}
  // expected-error @+1 {{'kiln.reduce_min' op failed to infer returned types}}
  %0 = kiln.reduce_min %a {axes = array<i64: 2, -1>} : (tensor<?x5x6xf32>) -> tensor<?x5xf32>
  return
}

// -----

func.func @reduce_wrong_result(%a: tensor<?x5x6xf32>) {
  // expected-error @+2 {{'kiln.reduce_sum' op inferred type(s) 'tensor<?x1x6xf32>' are incompatible with return type(s) of operation 'tensor<?x6xf32>'}}
  // expected-error @+1 {{'kiln.reduce_sum' op failed to infer returned types}}
  %0 = kiln.reduce_sum %a {axes = array<i64: 1>, keepdims = true} : (tensor<?x5x6xf32>) -> tensor<?x6xf32>
  return
}

//===----------------------------------------------------------------------===//
// Losses and accuracy
//===----------------------------------------------------------------------===//

// -----

func.func @loss_shape(%y: tensor<4x10xf32>, %p: tensor<4x5xf32>) {
  // expected-error @+2 {{labels tensor<4x10xf32> and predictions tensor<4x5xf32> must have the same shape}}
  // expected-error @+1 {{'kiln.mean_squared_error' op failed to infer returned types}}
  %0 = kiln.mean_squared_error %y, %p : (tensor<4x10xf32>, tensor<4x5xf32>) -> tensor<f32>
  return
}

// -----

func.func @loss_rank(%y: tensor<?xf32>, %p: tensor<?x10xf32>) {
  // expected-error @+2 {{labels tensor<?xf32> and predictions tensor<?x10xf32> must have the same shape}}
  // expected-error @+1 {{'kiln.categorical_crossentropy' op failed to infer returned types}}
  %0 = kiln.categorical_crossentropy %y, %p : (tensor<?xf32>, tensor<?x10xf32>) -> tensor<f32>
  return
}

// -----

func.func @loss_non_scalar_result(%y: tensor<4x10xf32>, %p: tensor<4x10xf32>) {
  // expected-error @+1 {{'kiln.binary_crossentropy' op result #0 must be 0D tensor of 32-bit float values, but got 'tensor<4xf32>'}}
  %0 = kiln.binary_crossentropy %y, %p : (tensor<4x10xf32>, tensor<4x10xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @loss_integer_labels(%y: tensor<4x10xi32>, %p: tensor<4x10xf32>) {
  // expected-error @+1 {{'kiln.mean_absolute_error' op operand #0 must be ranked tensor of 32-bit float values, but got 'tensor<4x10xi32>'}}
  %0 = kiln.mean_absolute_error %y, %p : (tensor<4x10xi32>, tensor<4x10xf32>) -> tensor<f32>
  return
}

// -----

// One-hot labels given to the sparse loss.
func.func @sparse_labels_shape(%y: tensor<?x10xi32>, %p: tensor<?x10xf32>) {
  // expected-error @+2 {{integer labels tensor<?x10xi32> do not match predictions tensor<?x10xf32>: expected one class index per prediction, shape [?]}}
  // expected-error @+1 {{'kiln.sparse_categorical_crossentropy' op failed to infer returned types}}
  %0 = kiln.sparse_categorical_crossentropy %y, %p : (tensor<?x10xi32>, tensor<?x10xf32>) -> tensor<f32>
  return
}

// -----

func.func @sparse_labels_batch(%y: tensor<8xi32>, %p: tensor<4x10xf32>) {
  // expected-error @+2 {{integer labels tensor<8xi32> do not match predictions tensor<4x10xf32>: expected one class index per prediction, shape [4]}}
  // expected-error @+1 {{'kiln.sparse_categorical_crossentropy' op failed to infer returned types}}
  %0 = kiln.sparse_categorical_crossentropy %y, %p : (tensor<8xi32>, tensor<4x10xf32>) -> tensor<f32>
  return
}

// -----

func.func @sparse_predictions_scalar(%y: tensor<i32>, %p: tensor<f32>) {
  // expected-error @+2 {{predictions tensor<f32> need a class axis}}
  // expected-error @+1 {{'kiln.sparse_categorical_crossentropy' op failed to infer returned types}}
  %0 = kiln.sparse_categorical_crossentropy %y, %p : (tensor<i32>, tensor<f32>) -> tensor<f32>
  return
}

// -----

func.func @sparse_labels_float(%y: tensor<4xf32>, %p: tensor<4x10xf32>) {
  // expected-error @+1 {{'kiln.sparse_categorical_crossentropy' op operand #0 must be ranked tensor of 32-bit signless integer values, but got 'tensor<4xf32>'}}
  %0 = kiln.sparse_categorical_crossentropy %y, %p : (tensor<4xf32>, tensor<4x10xf32>) -> tensor<f32>
  return
}

// -----

func.func @accuracy_kind(%y: tensor<4x10xf32>, %p: tensor<4x10xf32>) {
  // expected-error @+2 {{accuracy kind must be "binary", "categorical" or "sparse_categorical", got "top_k"}}
  // expected-error @+1 {{'kiln.accuracy' op failed to infer returned types}}
  %0 = kiln.accuracy %y, %p {kind = "top_k"} : (tensor<4x10xf32>, tensor<4x10xf32>) -> tensor<f32>
  return
}

// -----

func.func @accuracy_missing_kind(%y: tensor<4x10xf32>, %p: tensor<4x10xf32>) {
  // expected-error @+1 {{'kiln.accuracy' op requires attribute 'kind'}}
  %0 = kiln.accuracy %y, %p : (tensor<4x10xf32>, tensor<4x10xf32>) -> tensor<f32>
  return
}

// -----

func.func @accuracy_sparse_float_labels(%y: tensor<4xf32>, %p: tensor<4x10xf32>) {
  // expected-error @+2 {{sparse labels must be i32 class indices, got tensor<4xf32>}}
  // expected-error @+1 {{'kiln.accuracy' op failed to infer returned types}}
  %0 = kiln.accuracy %y, %p {kind = "sparse_categorical"} : (tensor<4xf32>, tensor<4x10xf32>) -> tensor<f32>
  return
}

// -----

func.func @accuracy_sparse_labels_shape(%y: tensor<4x2xi32>, %p: tensor<4x10xf32>) {
  // expected-error @+2 {{integer labels tensor<4x2xi32> do not match predictions tensor<4x10xf32>: expected one class index per prediction, shape [4]}}
  // expected-error @+1 {{'kiln.accuracy' op failed to infer returned types}}
  %0 = kiln.accuracy %y, %p {kind = "sparse_categorical"} : (tensor<4x2xi32>, tensor<4x10xf32>) -> tensor<f32>
  return
}

// -----

func.func @accuracy_integer_labels(%y: tensor<4x10xi32>, %p: tensor<4x10xf32>) {
  // expected-error @+2 {{labels tensor<4x10xi32> must have the element type of predictions tensor<4x10xf32>}}
  // expected-error @+1 {{'kiln.accuracy' op failed to infer returned types}}
  %0 = kiln.accuracy %y, %p {kind = "categorical"} : (tensor<4x10xi32>, tensor<4x10xf32>) -> tensor<f32>
  return
}

// -----

func.func @accuracy_binary_shape(%y: tensor<?xf32>, %p: tensor<?x1xf32>) {
  // expected-error @+2 {{labels tensor<?xf32> and predictions tensor<?x1xf32> must have the same shape}}
  // expected-error @+1 {{'kiln.accuracy' op failed to infer returned types}}
  %0 = kiln.accuracy %y, %p {kind = "binary"} : (tensor<?xf32>, tensor<?x1xf32>) -> tensor<f32>
  return
}

//===----------------------------------------------------------------------===//
// constant
//===----------------------------------------------------------------------===//

// -----

func.func @constant_vector() {
  // expected-error @+1 {{'kiln.constant' op result #0 must be ranked tensor of any type values, but got 'vector<2xf32>'}}
  %0 = kiln.constant dense<1.0> : vector<2xf32>
  return
}

// -----

func.func @constant_not_elements() {
  // expected-error @+1 {{'kiln.constant' op attribute 'value' failed to satisfy constraint: constant vector/tensor attribute}}
  %0 = "kiln.constant"() {value = 3 : i64} : () -> tensor<i64>
  return
}

// -----

func.func @constant_missing_value() {
  // expected-error @+1 {{'kiln.constant' op requires attribute 'value'}}
  %0 = "kiln.constant"() : () -> tensor<2xf32>
  return
}

// -----

func.func @constant_wrong_result() {
  // expected-error @+2 {{'kiln.constant' op inferred type(s) 'tensor<2xf32>' are incompatible with return type(s) of operation 'tensor<3xf32>'}}
  // expected-error @+1 {{'kiln.constant' op failed to infer returned types}}
  %0 = "kiln.constant"() {value = dense<1.0> : tensor<2xf32>} : () -> tensor<3xf32>
  return
}

//===----------------------------------------------------------------------===//
// param, read_param
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{'kiln.param' op parameter w must have a static shape, got 'tensor<?x3xf32>'}}
kiln.param @w : tensor<?x3xf32>

// -----

// expected-error @+1 {{'kiln.param' op unknown initializer "xavier"}}
kiln.param @w : tensor<2x3xf32> {initializer = "xavier"}

// -----

// expected-error @+1 {{'kiln.param' op l1 regularization factor must be non-negative}}
kiln.param @w : tensor<2x3xf32> {l1 = -1.0e-02 : f32}

// -----

// expected-error @+1 {{'kiln.param' op l2 regularization factor must be non-negative}}
kiln.param @w : tensor<2x3xf32> {l1 = 0.0 : f32, l2 = -1.0e-02 : f32}

// -----

// expected-error @+1 {{'kiln.param' op attribute 'type' failed to satisfy constraint: type attribute of ranked tensor of 32-bit float values}}
kiln.param @w : tensor<2x3xi32>

// -----

// expected-error @+1 {{'kiln.param' op attribute 'l1' failed to satisfy constraint: 32-bit float attribute}}
kiln.param @w : tensor<2x3xf32> {l1 = 1.0e-02 : f64}

// -----

func.func @param_in_function() {
  // expected-error @+1 {{'kiln.param' op symbol's parent must have the SymbolTable trait}}
  kiln.param @w : tensor<2x3xf32>
  return
}

// -----

// expected-note @+1 {{see existing symbol definition here}}
kiln.param @w : tensor<2x3xf32>
// expected-error @+1 {{redefinition of symbol named 'w'}}
kiln.param @w : tensor<2x3xf32>

// -----

func.func @read_unknown_param() {
  // expected-error @+1 {{'kiln.read_param' op reads unknown parameter @missing}}
  %0 = kiln.read_param @missing : tensor<2x3xf32>
  return
}

// -----

// A symbol that is not a kiln.param is not a parameter.
func.func @not_a_param() {
  return
}
func.func @read_function() {
  // expected-error @+1 {{'kiln.read_param' op reads unknown parameter @not_a_param}}
  %0 = kiln.read_param @not_a_param : tensor<2x3xf32>
  return
}

// -----

kiln.param @w : tensor<2x3xf32>
func.func @read_param_type() {
  // expected-error @+1 {{'kiln.read_param' op result type 'tensor<3x2xf32>' differs from the type of parameter @w, 'tensor<2x3xf32>'}}
  %0 = kiln.read_param @w : tensor<3x2xf32>
  return
}

// -----

kiln.param @w : tensor<2x3xf32>
func.func @read_param_dynamic_type() {
  // expected-error @+1 {{'kiln.read_param' op result type 'tensor<?x3xf32>' differs from the type of parameter @w, 'tensor<2x3xf32>'}}
  %0 = kiln.read_param @w : tensor<?x3xf32>
  return
}

//===----------------------------------------------------------------------===//
// training
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{'kiln.training' op unknown loss "hinge"}}
kiln.training {loss = "hinge", optimizer = "sgd", optimizer_config = {learning_rate = 1.0e-02 : f32}, metrics = [], fit_config = {}}

// -----

// expected-error @+1 {{'kiln.training' op unknown optimizer "adagrad"}}
kiln.training {loss = "mean_squared_error", optimizer = "adagrad", optimizer_config = {learning_rate = 1.0e-02 : f32}, metrics = [], fit_config = {}}

// -----

// expected-error @+1 {{'kiln.training' op unknown metric "auc"}}
kiln.training {loss = "mean_squared_error", optimizer = "sgd", optimizer_config = {learning_rate = 1.0e-02 : f32}, metrics = ["accuracy", "auc"], fit_config = {}}

// -----

// expected-error @+1 {{'kiln.training' op attribute 'metrics' failed to satisfy constraint: string array attribute}}
kiln.training {loss = "mean_squared_error", optimizer = "sgd", optimizer_config = {learning_rate = 1.0e-02 : f32}, metrics = [3], fit_config = {}}

// -----

// expected-error @+1 {{'kiln.training' op optimizer hyperparameter "momentum" must be non-negative, got -5.000000e-01}}
kiln.training {loss = "mean_squared_error", optimizer = "sgd", optimizer_config = {learning_rate = 1.0e-02 : f32, momentum = -0.5 : f32}, metrics = [], fit_config = {}}

// -----

// expected-error @+1 {{'kiln.training' op optimizer hyperparameter "learning_rate" must be non-negative, got -1.000000e-03}}
kiln.training {loss = "mean_squared_error", optimizer = "adam", optimizer_config = {learning_rate = -1.0e-03 : f32}, metrics = [], fit_config = {}}

// -----

// expected-error @+1 {{'kiln.training' op optimizer_config needs a positive float learning_rate}}
kiln.training {loss = "mean_squared_error", optimizer = "adam", optimizer_config = {beta_1 = 0.9 : f32}, metrics = [], fit_config = {}}

// -----

// expected-error @+1 {{'kiln.training' op optimizer_config needs a positive float learning_rate, got 0.000000e+00 : f32}}
kiln.training {loss = "mean_squared_error", optimizer = "adam", optimizer_config = {learning_rate = 0.0 : f32}, metrics = [], fit_config = {}}

// -----

// expected-error @+1 {{'kiln.training' op optimizer_config needs a positive float learning_rate, got 1 : i64}}
kiln.training {loss = "mean_squared_error", optimizer = "adam", optimizer_config = {learning_rate = 1}, metrics = [], fit_config = {}}

// -----

// expected-error @+1 {{'kiln.training' op fit_config batch_size must be at least 1}}
kiln.training {loss = "mean_squared_error", optimizer = "sgd", optimizer_config = {learning_rate = 1.0e-02 : f32}, metrics = [], fit_config = {batch_size = 0 : i64}}

// -----

// expected-error @+1 {{'kiln.training' op fit_config epochs must be at least 1}}
kiln.training {loss = "mean_squared_error", optimizer = "sgd", optimizer_config = {learning_rate = 1.0e-02 : f32}, metrics = [], fit_config = {batch_size = 32 : i64, epochs = -1 : i64}}

// -----

// expected-error @+1 {{'kiln.training' op from_logits applies only to cross-entropy losses, not mean_absolute_error}}
kiln.training {loss = "mean_absolute_error", from_logits = true, optimizer = "sgd", optimizer_config = {learning_rate = 1.0e-02 : f32}, metrics = [], fit_config = {}}

// -----

// expected-error @+1 {{'kiln.training' op requires attribute 'optimizer_config'}}
kiln.training {loss = "mean_squared_error", optimizer = "sgd", metrics = [], fit_config = {}}

// -----

func.func @samples_not_scalar(%y: tensor<4xi32>, %p: tensor<4x3xf32>, %n: tensor<1xf32>) -> tensor<f32> {
  // expected-error @+1 {{'kiln.sparse_categorical_crossentropy' op operand #2 must be 0D tensor of 32-bit float values}}
  %l = kiln.sparse_categorical_crossentropy %y, %p samples %n : (tensor<4xi32>, tensor<4x3xf32>, tensor<1xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @gradient_type(%l: tensor<f32>, %w: tensor<2xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{'kiln.gradient' op result 0 must have the type of `wrt` value 0, 'tensor<2xf32>'}}
  %g = kiln.gradient %l wrt %w : (tensor<f32>, tensor<2xf32>) -> tensor<3xf32>
  return %g : tensor<3xf32>
}

// -----

module {
  kiln.param @w : tensor<2xf32>
  func.func @assign_type(%v: tensor<3xf32>) {
    // expected-error @+1 {{'kiln.assign' op value type 'tensor<3xf32>' differs from the type of parameter @w, 'tensor<2xf32>'}}
    kiln.assign @w, %v : tensor<3xf32>
    return
  }
}
