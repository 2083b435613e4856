// Every op of the Kiln dialect, forward and backward: written by
// test/ops/gen_every_op.py (edit that, then regenerate this file).
// The CUDA emulation test (test/unit/codegen/CudaEmulationTest.cpp) and the
// GPU numerics test (test/unit/runtime/GpuNumericsTest.cpp) run each function
// on both backends and compare.
// RUN: kilnc %s --target=cuda --emit=cuda | FileCheck %s
// CHECK: ===== entry point neg =====
// CHECK: ===== entry point dropout_mask =====
module {

  // Unary elementwise ops
  func.func @neg(%x: tensor<5x7xf32> {kiln.name = "x"}, %r: tensor<5x7xf32> {kiln.name = "r"}) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
    %y = kiln.neg %x : tensor<5x7xf32>
    %m = kiln.mul %y, %r : (tensor<5x7xf32>, tensor<5x7xf32>) -> tensor<5x7xf32>
    %l = kiln.reduce_sum %m : (tensor<5x7xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<5x7xf32>) -> (tensor<5x7xf32>)
    return %y, %g : tensor<5x7xf32>, tensor<5x7xf32>
  }
  func.func @abs(%x: tensor<5x7xf32> {kiln.name = "x"}, %r: tensor<5x7xf32> {kiln.name = "r"}) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
    %y = kiln.abs %x : tensor<5x7xf32>
    %m = kiln.mul %y, %r : (tensor<5x7xf32>, tensor<5x7xf32>) -> tensor<5x7xf32>
    %l = kiln.reduce_sum %m : (tensor<5x7xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<5x7xf32>) -> (tensor<5x7xf32>)
    return %y, %g : tensor<5x7xf32>, tensor<5x7xf32>
  }
  func.func @exp(%x: tensor<5x7xf32> {kiln.name = "x"}, %r: tensor<5x7xf32> {kiln.name = "r"}) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
    %y = kiln.exp %x : tensor<5x7xf32>
    %m = kiln.mul %y, %r : (tensor<5x7xf32>, tensor<5x7xf32>) -> tensor<5x7xf32>
    %l = kiln.reduce_sum %m : (tensor<5x7xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<5x7xf32>) -> (tensor<5x7xf32>)
    return %y, %g : tensor<5x7xf32>, tensor<5x7xf32>
  }
  func.func @square(%x: tensor<5x7xf32> {kiln.name = "x"}, %r: tensor<5x7xf32> {kiln.name = "r"}) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
    %y = kiln.square %x : tensor<5x7xf32>
    %m = kiln.mul %y, %r : (tensor<5x7xf32>, tensor<5x7xf32>) -> tensor<5x7xf32>
    %l = kiln.reduce_sum %m : (tensor<5x7xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<5x7xf32>) -> (tensor<5x7xf32>)
    return %y, %g : tensor<5x7xf32>, tensor<5x7xf32>
  }
  func.func @tanh(%x: tensor<5x7xf32> {kiln.name = "x"}, %r: tensor<5x7xf32> {kiln.name = "r"}) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
    %y = kiln.tanh %x : tensor<5x7xf32>
    %m = kiln.mul %y, %r : (tensor<5x7xf32>, tensor<5x7xf32>) -> tensor<5x7xf32>
    %l = kiln.reduce_sum %m : (tensor<5x7xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<5x7xf32>) -> (tensor<5x7xf32>)
    return %y, %g : tensor<5x7xf32>, tensor<5x7xf32>
  }
  func.func @sigmoid(%x: tensor<5x7xf32> {kiln.name = "x"}, %r: tensor<5x7xf32> {kiln.name = "r"}) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
    %y = kiln.sigmoid %x : tensor<5x7xf32>
    %m = kiln.mul %y, %r : (tensor<5x7xf32>, tensor<5x7xf32>) -> tensor<5x7xf32>
    %l = kiln.reduce_sum %m : (tensor<5x7xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<5x7xf32>) -> (tensor<5x7xf32>)
    return %y, %g : tensor<5x7xf32>, tensor<5x7xf32>
  }
  func.func @relu(%x: tensor<5x7xf32> {kiln.name = "x"}, %r: tensor<5x7xf32> {kiln.name = "r"}) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
    %y = kiln.relu %x : tensor<5x7xf32>
    %m = kiln.mul %y, %r : (tensor<5x7xf32>, tensor<5x7xf32>) -> tensor<5x7xf32>
    %l = kiln.reduce_sum %m : (tensor<5x7xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<5x7xf32>) -> (tensor<5x7xf32>)
    return %y, %g : tensor<5x7xf32>, tensor<5x7xf32>
  }
  func.func @log(%x: tensor<5x7xf32> {kiln.name = "x"}, %r: tensor<5x7xf32> {kiln.name = "r"}) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
    %p = kiln.exp %x : tensor<5x7xf32>
    %y = kiln.log %p : tensor<5x7xf32>
    %m = kiln.mul %y, %r : (tensor<5x7xf32>, tensor<5x7xf32>) -> tensor<5x7xf32>
    %l = kiln.reduce_sum %m : (tensor<5x7xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<5x7xf32>) -> (tensor<5x7xf32>)
    return %y, %g : tensor<5x7xf32>, tensor<5x7xf32>
  }
  func.func @sqrt(%x: tensor<5x7xf32> {kiln.name = "x"}, %r: tensor<5x7xf32> {kiln.name = "r"}) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
    %p = kiln.exp %x : tensor<5x7xf32>
    %y = kiln.sqrt %p : tensor<5x7xf32>
    %m = kiln.mul %y, %r : (tensor<5x7xf32>, tensor<5x7xf32>) -> tensor<5x7xf32>
    %l = kiln.reduce_sum %m : (tensor<5x7xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<5x7xf32>) -> (tensor<5x7xf32>)
    return %y, %g : tensor<5x7xf32>, tensor<5x7xf32>
  }
  func.func @rsqrt(%x: tensor<5x7xf32> {kiln.name = "x"}, %r: tensor<5x7xf32> {kiln.name = "r"}) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
    %p = kiln.exp %x : tensor<5x7xf32>
    %y = kiln.rsqrt %p : tensor<5x7xf32>
    %m = kiln.mul %y, %r : (tensor<5x7xf32>, tensor<5x7xf32>) -> tensor<5x7xf32>
    %l = kiln.reduce_sum %m : (tensor<5x7xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<5x7xf32>) -> (tensor<5x7xf32>)
    return %y, %g : tensor<5x7xf32>, tensor<5x7xf32>
  }
  func.func @dropout(%x: tensor<5x7xf32> {kiln.name = "x"}, %r: tensor<5x7xf32> {kiln.name = "r"}) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
    %y = kiln.dropout %x {rate = 5.000000e-01 : f32} : tensor<5x7xf32>
    %m = kiln.mul %y, %r : (tensor<5x7xf32>, tensor<5x7xf32>) -> tensor<5x7xf32>
    %l = kiln.reduce_sum %m : (tensor<5x7xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<5x7xf32>) -> (tensor<5x7xf32>)
    return %y, %g : tensor<5x7xf32>, tensor<5x7xf32>
  }
  func.func @constant(%x: tensor<5x7xf32> {kiln.name = "x"}, %r: tensor<5x7xf32> {kiln.name = "r"}) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
    %c = kiln.constant dense<2.500000e+00> : tensor<f32>
    %y = kiln.mul %x, %c : (tensor<5x7xf32>, tensor<f32>) -> tensor<5x7xf32>
    %m = kiln.mul %y, %r : (tensor<5x7xf32>, tensor<5x7xf32>) -> tensor<5x7xf32>
    %l = kiln.reduce_sum %m : (tensor<5x7xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<5x7xf32>) -> (tensor<5x7xf32>)
    return %y, %g : tensor<5x7xf32>, tensor<5x7xf32>
  }

  // Binary elementwise ops, with broadcasting
  func.func @add(%a: tensor<2x3x4xf32> {kiln.name = "a"}, %b: tensor<3x1xf32> {kiln.name = "b"}, %r: tensor<2x3x4xf32> {kiln.name = "r"}) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x1xf32>) {
    %y = kiln.add %a, %b : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x4xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x3x4xf32>, tensor<3x1xf32>) -> (tensor<2x3x4xf32>, tensor<3x1xf32>)
    return %y, %g#0, %g#1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x1xf32>
  }
  func.func @sub(%a: tensor<2x3x4xf32> {kiln.name = "a"}, %b: tensor<3x1xf32> {kiln.name = "b"}, %r: tensor<2x3x4xf32> {kiln.name = "r"}) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x1xf32>) {
    %y = kiln.sub %a, %b : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x4xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x3x4xf32>, tensor<3x1xf32>) -> (tensor<2x3x4xf32>, tensor<3x1xf32>)
    return %y, %g#0, %g#1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x1xf32>
  }
  func.func @mul(%a: tensor<2x3x4xf32> {kiln.name = "a"}, %b: tensor<3x1xf32> {kiln.name = "b"}, %r: tensor<2x3x4xf32> {kiln.name = "r"}) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x1xf32>) {
    %y = kiln.mul %a, %b : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x4xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x3x4xf32>, tensor<3x1xf32>) -> (tensor<2x3x4xf32>, tensor<3x1xf32>)
    return %y, %g#0, %g#1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x1xf32>
  }
  func.func @max(%a: tensor<2x3x4xf32> {kiln.name = "a"}, %b: tensor<3x1xf32> {kiln.name = "b"}, %r: tensor<2x3x4xf32> {kiln.name = "r"}) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x1xf32>) {
    %y = kiln.max %a, %b : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x4xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x3x4xf32>, tensor<3x1xf32>) -> (tensor<2x3x4xf32>, tensor<3x1xf32>)
    return %y, %g#0, %g#1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x1xf32>
  }
  func.func @min(%a: tensor<2x3x4xf32> {kiln.name = "a"}, %b: tensor<3x1xf32> {kiln.name = "b"}, %r: tensor<2x3x4xf32> {kiln.name = "r"}) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x1xf32>) {
    %y = kiln.min %a, %b : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x4xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x3x4xf32>, tensor<3x1xf32>) -> (tensor<2x3x4xf32>, tensor<3x1xf32>)
    return %y, %g#0, %g#1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x1xf32>
  }
  func.func @div(%a: tensor<2x3x4xf32> {kiln.name = "a"}, %b: tensor<3x1xf32> {kiln.name = "b"}, %r: tensor<2x3x4xf32> {kiln.name = "r"}) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x1xf32>) {
    %eb = kiln.exp %b : tensor<3x1xf32>
    %y = kiln.div %a, %eb : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x4xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x3x4xf32>, tensor<3x1xf32>) -> (tensor<2x3x4xf32>, tensor<3x1xf32>)
    return %y, %g#0, %g#1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x1xf32>
  }
  func.func @pow(%a: tensor<2x3x4xf32> {kiln.name = "a"}, %b: tensor<4xf32> {kiln.name = "b"}, %r: tensor<2x3x4xf32> {kiln.name = "r"}) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<4xf32>) {
    %ea = kiln.exp %a : tensor<2x3x4xf32>
    %y = kiln.pow %ea, %b : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x4xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x3x4xf32>, tensor<4xf32>) -> (tensor<2x3x4xf32>, tensor<4xf32>)
    return %y, %g#0, %g#1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<4xf32>
  }
  func.func @mul_scalar(%a: tensor<2x3x4xf32> {kiln.name = "a"}, %b: tensor<f32> {kiln.name = "b"}, %r: tensor<2x3x4xf32> {kiln.name = "r"}) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<f32>) {
    %y = kiln.mul %a, %b : (tensor<2x3x4xf32>, tensor<f32>) -> tensor<2x3x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x4xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x3x4xf32>, tensor<f32>) -> (tensor<2x3x4xf32>, tensor<f32>)
    return %y, %g#0, %g#1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<f32>
  }
  func.func @broadcast_to(%x: tensor<3x1xf32> {kiln.name = "x"}, %r: tensor<2x3x4xf32> {kiln.name = "r"}) -> (tensor<2x3x4xf32>, tensor<3x1xf32>) {
    %y = kiln.broadcast_to %x {shape = array<i64: 2, 3, 4>} : (tensor<3x1xf32>) -> tensor<2x3x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x4xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<3x1xf32>) -> (tensor<3x1xf32>)
    return %y, %g : tensor<2x3x4xf32>, tensor<3x1xf32>
  }
  func.func @greater(%a: tensor<2x3x4xf32> {kiln.name = "a"}, %b: tensor<2x3x4xf32> {kiln.name = "b"}, %r: tensor<2x3x4xf32> {kiln.name = "r"}) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
    %ra = kiln.relu %a : tensor<2x3x4xf32>
    %rb = kiln.relu %b : tensor<2x3x4xf32>
    %y = kiln.greater %ra, %rb : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x4xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>)
    return %y, %g#0, %g#1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>
  }
  func.func @greater_equal(%a: tensor<2x3x4xf32> {kiln.name = "a"}, %b: tensor<2x3x4xf32> {kiln.name = "b"}, %r: tensor<2x3x4xf32> {kiln.name = "r"}) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
    %ra = kiln.relu %a : tensor<2x3x4xf32>
    %rb = kiln.relu %b : tensor<2x3x4xf32>
    %y = kiln.greater_equal %ra, %rb : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x4xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>)
    return %y, %g#0, %g#1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>
  }
  func.func @equal(%a: tensor<2x3x4xf32> {kiln.name = "a"}, %b: tensor<2x3x4xf32> {kiln.name = "b"}, %r: tensor<2x3x4xf32> {kiln.name = "r"}) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
    %ra = kiln.relu %a : tensor<2x3x4xf32>
    %rb = kiln.relu %b : tensor<2x3x4xf32>
    %y = kiln.equal %ra, %rb : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x4xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>)
    return %y, %g#0, %g#1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>
  }
  func.func @sign(%x: tensor<5x7xf32> {kiln.name = "x"}, %r: tensor<5x7xf32> {kiln.name = "r"}) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
    %rx = kiln.relu %x : tensor<5x7xf32>
    %y = kiln.sign %rx : tensor<5x7xf32>
    %m = kiln.mul %y, %r : (tensor<5x7xf32>, tensor<5x7xf32>) -> tensor<5x7xf32>
    %l = kiln.reduce_sum %m : (tensor<5x7xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<5x7xf32>) -> (tensor<5x7xf32>)
    return %y, %g : tensor<5x7xf32>, tensor<5x7xf32>
  }

  // Softmax
  func.func @softmax(%x: tensor<3x5xf32> {kiln.name = "x"}, %r: tensor<3x5xf32> {kiln.name = "r"}) -> (tensor<3x5xf32>, tensor<3x5xf32>) {
    %y = kiln.softmax %x : tensor<3x5xf32>
    %m = kiln.mul %y, %r : (tensor<3x5xf32>, tensor<3x5xf32>) -> tensor<3x5xf32>
    %l = kiln.reduce_sum %m : (tensor<3x5xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<3x5xf32>) -> (tensor<3x5xf32>)
    return %y, %g : tensor<3x5xf32>, tensor<3x5xf32>
  }
  func.func @log_softmax(%x: tensor<3x5xf32> {kiln.name = "x"}, %r: tensor<3x5xf32> {kiln.name = "r"}) -> (tensor<3x5xf32>, tensor<3x5xf32>) {
    %y = kiln.log_softmax %x : tensor<3x5xf32>
    %m = kiln.mul %y, %r : (tensor<3x5xf32>, tensor<3x5xf32>) -> tensor<3x5xf32>
    %l = kiln.reduce_sum %m : (tensor<3x5xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<3x5xf32>) -> (tensor<3x5xf32>)
    return %y, %g : tensor<3x5xf32>, tensor<3x5xf32>
  }
  func.func @softmax_axis1(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<2x3x4xf32> {kiln.name = "r"}) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
    %y = kiln.softmax %x {axis = 1 : i64} : tensor<2x3x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x4xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<2x3x4xf32>, tensor<2x3x4xf32>
  }

  // matmul: plain, shared and batched operands, transposes, large (several tiles) and split-K shapes;
  // with --gpu-precision=tf32 or bf16, the GEMMs with M, N >= 32 and K >= 16 run on tensor cores
  func.func @matmul(%a: tensor<4x3xf32> {kiln.name = "a"}, %b: tensor<3x5xf32> {kiln.name = "b"}, %r: tensor<4x5xf32> {kiln.name = "r"}) -> (tensor<4x5xf32>, tensor<4x3xf32>, tensor<3x5xf32>) {
    %y = kiln.matmul %a, %b : (tensor<4x3xf32>, tensor<3x5xf32>) -> tensor<4x5xf32>
    %m = kiln.mul %y, %r : (tensor<4x5xf32>, tensor<4x5xf32>) -> tensor<4x5xf32>
    %l = kiln.reduce_sum %m : (tensor<4x5xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<4x3xf32>, tensor<3x5xf32>) -> (tensor<4x3xf32>, tensor<3x5xf32>)
    return %y, %g#0, %g#1 : tensor<4x5xf32>, tensor<4x3xf32>, tensor<3x5xf32>
  }
  func.func @matmul_shared_rhs(%a: tensor<2x4x3xf32> {kiln.name = "a"}, %b: tensor<3x5xf32> {kiln.name = "b"}, %r: tensor<2x4x5xf32> {kiln.name = "r"}) -> (tensor<2x4x5xf32>, tensor<2x4x3xf32>, tensor<3x5xf32>) {
    %y = kiln.matmul %a, %b : (tensor<2x4x3xf32>, tensor<3x5xf32>) -> tensor<2x4x5xf32>
    %m = kiln.mul %y, %r : (tensor<2x4x5xf32>, tensor<2x4x5xf32>) -> tensor<2x4x5xf32>
    %l = kiln.reduce_sum %m : (tensor<2x4x5xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x4x3xf32>, tensor<3x5xf32>) -> (tensor<2x4x3xf32>, tensor<3x5xf32>)
    return %y, %g#0, %g#1 : tensor<2x4x5xf32>, tensor<2x4x3xf32>, tensor<3x5xf32>
  }
  func.func @matmul_batched(%a: tensor<2x4x3xf32> {kiln.name = "a"}, %b: tensor<2x3x5xf32> {kiln.name = "b"}, %r: tensor<2x4x5xf32> {kiln.name = "r"}) -> (tensor<2x4x5xf32>, tensor<2x4x3xf32>, tensor<2x3x5xf32>) {
    %y = kiln.matmul %a, %b : (tensor<2x4x3xf32>, tensor<2x3x5xf32>) -> tensor<2x4x5xf32>
    %m = kiln.mul %y, %r : (tensor<2x4x5xf32>, tensor<2x4x5xf32>) -> tensor<2x4x5xf32>
    %l = kiln.reduce_sum %m : (tensor<2x4x5xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x4x3xf32>, tensor<2x3x5xf32>) -> (tensor<2x4x3xf32>, tensor<2x3x5xf32>)
    return %y, %g#0, %g#1 : tensor<2x4x5xf32>, tensor<2x4x3xf32>, tensor<2x3x5xf32>
  }
  func.func @matmul_transpose_lhs(%a: tensor<3x4xf32> {kiln.name = "a"}, %b: tensor<3x5xf32> {kiln.name = "b"}, %r: tensor<4x5xf32> {kiln.name = "r"}) -> (tensor<4x5xf32>, tensor<3x4xf32>, tensor<3x5xf32>) {
    %y = kiln.matmul %a, %b {transpose_lhs} : (tensor<3x4xf32>, tensor<3x5xf32>) -> tensor<4x5xf32>
    %m = kiln.mul %y, %r : (tensor<4x5xf32>, tensor<4x5xf32>) -> tensor<4x5xf32>
    %l = kiln.reduce_sum %m : (tensor<4x5xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<3x4xf32>, tensor<3x5xf32>) -> (tensor<3x4xf32>, tensor<3x5xf32>)
    return %y, %g#0, %g#1 : tensor<4x5xf32>, tensor<3x4xf32>, tensor<3x5xf32>
  }
  func.func @matmul_transpose_rhs(%a: tensor<4x3xf32> {kiln.name = "a"}, %b: tensor<5x3xf32> {kiln.name = "b"}, %r: tensor<4x5xf32> {kiln.name = "r"}) -> (tensor<4x5xf32>, tensor<4x3xf32>, tensor<5x3xf32>) {
    %y = kiln.matmul %a, %b {transpose_rhs} : (tensor<4x3xf32>, tensor<5x3xf32>) -> tensor<4x5xf32>
    %m = kiln.mul %y, %r : (tensor<4x5xf32>, tensor<4x5xf32>) -> tensor<4x5xf32>
    %l = kiln.reduce_sum %m : (tensor<4x5xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<4x3xf32>, tensor<5x3xf32>) -> (tensor<4x3xf32>, tensor<5x3xf32>)
    return %y, %g#0, %g#1 : tensor<4x5xf32>, tensor<4x3xf32>, tensor<5x3xf32>
  }
  func.func @matmul_large(%a: tensor<33x70xf32> {kiln.name = "a"}, %b: tensor<70x45xf32> {kiln.name = "b"}, %r: tensor<33x45xf32> {kiln.name = "r"}) -> (tensor<33x45xf32>, tensor<33x70xf32>, tensor<70x45xf32>) {
    %y = kiln.matmul %a, %b : (tensor<33x70xf32>, tensor<70x45xf32>) -> tensor<33x45xf32>
    %m = kiln.mul %y, %r : (tensor<33x45xf32>, tensor<33x45xf32>) -> tensor<33x45xf32>
    %l = kiln.reduce_sum %m : (tensor<33x45xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<33x70xf32>, tensor<70x45xf32>) -> (tensor<33x70xf32>, tensor<70x45xf32>)
    return %y, %g#0, %g#1 : tensor<33x45xf32>, tensor<33x70xf32>, tensor<70x45xf32>
  }
  func.func @matmul_split_k(%a: tensor<8x600xf32> {kiln.name = "a"}, %b: tensor<600x9xf32> {kiln.name = "b"}, %r: tensor<8x9xf32> {kiln.name = "r"}) -> (tensor<8x9xf32>, tensor<8x600xf32>, tensor<600x9xf32>) {
    %y = kiln.matmul %a, %b : (tensor<8x600xf32>, tensor<600x9xf32>) -> tensor<8x9xf32>
    %m = kiln.mul %y, %r : (tensor<8x9xf32>, tensor<8x9xf32>) -> tensor<8x9xf32>
    %l = kiln.reduce_sum %m : (tensor<8x9xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<8x600xf32>, tensor<600x9xf32>) -> (tensor<8x600xf32>, tensor<600x9xf32>)
    return %y, %g#0, %g#1 : tensor<8x9xf32>, tensor<8x600xf32>, tensor<600x9xf32>
  }
  func.func @matmul_split_k_large(%a: tensor<40x900xf32> {kiln.name = "a"}, %b: tensor<900x36xf32> {kiln.name = "b"}, %r: tensor<40x36xf32> {kiln.name = "r"}) -> (tensor<40x36xf32>, tensor<40x900xf32>, tensor<900x36xf32>) {
    %y = kiln.matmul %a, %b : (tensor<40x900xf32>, tensor<900x36xf32>) -> tensor<40x36xf32>
    %m = kiln.mul %y, %r : (tensor<40x36xf32>, tensor<40x36xf32>) -> tensor<40x36xf32>
    %l = kiln.reduce_sum %m : (tensor<40x36xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<40x900xf32>, tensor<900x36xf32>) -> (tensor<40x900xf32>, tensor<900x36xf32>)
    return %y, %g#0, %g#1 : tensor<40x36xf32>, tensor<40x900xf32>, tensor<900x36xf32>
  }

  // conv2d: valid and same padding, strides, even and 1x1 windows, a layer large enough for tensor cores
  func.func @conv2d(%x: tensor<2x5x5x2xf32> {kiln.name = "x"}, %w: tensor<3x3x2x3xf32> {kiln.name = "w"}, %r: tensor<2x3x3x3xf32> {kiln.name = "r"}) -> (tensor<2x3x3x3xf32>, tensor<2x5x5x2xf32>, tensor<3x3x2x3xf32>) {
    %y = kiln.conv2d %x, %w {strides = array<i64: 1, 1>, padding = "valid"} : (tensor<2x5x5x2xf32>, tensor<3x3x2x3xf32>) -> tensor<2x3x3x3xf32>
    %m = kiln.mul %y, %r : (tensor<2x3x3x3xf32>, tensor<2x3x3x3xf32>) -> tensor<2x3x3x3xf32>
    %l = kiln.reduce_sum %m : (tensor<2x3x3x3xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %x, %w : (tensor<f32>, tensor<2x5x5x2xf32>, tensor<3x3x2x3xf32>) -> (tensor<2x5x5x2xf32>, tensor<3x3x2x3xf32>)
    return %y, %g#0, %g#1 : tensor<2x3x3x3xf32>, tensor<2x5x5x2xf32>, tensor<3x3x2x3xf32>
  }
  func.func @conv2d_same(%x: tensor<1x6x5x2xf32> {kiln.name = "x"}, %w: tensor<3x3x2x2xf32> {kiln.name = "w"}, %r: tensor<1x6x5x2xf32> {kiln.name = "r"}) -> (tensor<1x6x5x2xf32>, tensor<1x6x5x2xf32>, tensor<3x3x2x2xf32>) {
    %y = kiln.conv2d %x, %w {strides = array<i64: 1, 1>, padding = "same"} : (tensor<1x6x5x2xf32>, tensor<3x3x2x2xf32>) -> tensor<1x6x5x2xf32>
    %m = kiln.mul %y, %r : (tensor<1x6x5x2xf32>, tensor<1x6x5x2xf32>) -> tensor<1x6x5x2xf32>
    %l = kiln.reduce_sum %m : (tensor<1x6x5x2xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %x, %w : (tensor<f32>, tensor<1x6x5x2xf32>, tensor<3x3x2x2xf32>) -> (tensor<1x6x5x2xf32>, tensor<3x3x2x2xf32>)
    return %y, %g#0, %g#1 : tensor<1x6x5x2xf32>, tensor<1x6x5x2xf32>, tensor<3x3x2x2xf32>
  }
  func.func @conv2d_same_stride2(%x: tensor<1x7x6x1xf32> {kiln.name = "x"}, %w: tensor<2x3x1x2xf32> {kiln.name = "w"}, %r: tensor<1x4x3x2xf32> {kiln.name = "r"}) -> (tensor<1x4x3x2xf32>, tensor<1x7x6x1xf32>, tensor<2x3x1x2xf32>) {
    %y = kiln.conv2d %x, %w {strides = array<i64: 2, 2>, padding = "same"} : (tensor<1x7x6x1xf32>, tensor<2x3x1x2xf32>) -> tensor<1x4x3x2xf32>
    %m = kiln.mul %y, %r : (tensor<1x4x3x2xf32>, tensor<1x4x3x2xf32>) -> tensor<1x4x3x2xf32>
    %l = kiln.reduce_sum %m : (tensor<1x4x3x2xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %x, %w : (tensor<f32>, tensor<1x7x6x1xf32>, tensor<2x3x1x2xf32>) -> (tensor<1x7x6x1xf32>, tensor<2x3x1x2xf32>)
    return %y, %g#0, %g#1 : tensor<1x4x3x2xf32>, tensor<1x7x6x1xf32>, tensor<2x3x1x2xf32>
  }
  func.func @conv2d_stride_2x3(%x: tensor<1x7x8x2xf32> {kiln.name = "x"}, %w: tensor<3x2x2x2xf32> {kiln.name = "w"}, %r: tensor<1x3x3x2xf32> {kiln.name = "r"}) -> (tensor<1x3x3x2xf32>, tensor<1x7x8x2xf32>, tensor<3x2x2x2xf32>) {
    %y = kiln.conv2d %x, %w {strides = array<i64: 2, 3>, padding = "valid"} : (tensor<1x7x8x2xf32>, tensor<3x2x2x2xf32>) -> tensor<1x3x3x2xf32>
    %m = kiln.mul %y, %r : (tensor<1x3x3x2xf32>, tensor<1x3x3x2xf32>) -> tensor<1x3x3x2xf32>
    %l = kiln.reduce_sum %m : (tensor<1x3x3x2xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %x, %w : (tensor<f32>, tensor<1x7x8x2xf32>, tensor<3x2x2x2xf32>) -> (tensor<1x7x8x2xf32>, tensor<3x2x2x2xf32>)
    return %y, %g#0, %g#1 : tensor<1x3x3x2xf32>, tensor<1x7x8x2xf32>, tensor<3x2x2x2xf32>
  }
  func.func @conv2d_1x1(%x: tensor<2x4x4x3xf32> {kiln.name = "x"}, %w: tensor<1x1x3x5xf32> {kiln.name = "w"}, %r: tensor<2x4x4x5xf32> {kiln.name = "r"}) -> (tensor<2x4x4x5xf32>, tensor<2x4x4x3xf32>, tensor<1x1x3x5xf32>) {
    %y = kiln.conv2d %x, %w {strides = array<i64: 1, 1>, padding = "valid"} : (tensor<2x4x4x3xf32>, tensor<1x1x3x5xf32>) -> tensor<2x4x4x5xf32>
    %m = kiln.mul %y, %r : (tensor<2x4x4x5xf32>, tensor<2x4x4x5xf32>) -> tensor<2x4x4x5xf32>
    %l = kiln.reduce_sum %m : (tensor<2x4x4x5xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %x, %w : (tensor<f32>, tensor<2x4x4x3xf32>, tensor<1x1x3x5xf32>) -> (tensor<2x4x4x3xf32>, tensor<1x1x3x5xf32>)
    return %y, %g#0, %g#1 : tensor<2x4x4x5xf32>, tensor<2x4x4x3xf32>, tensor<1x1x3x5xf32>
  }
  func.func @conv2d_large(%x: tensor<2x14x14x8xf32> {kiln.name = "x"}, %w: tensor<3x3x8x32xf32> {kiln.name = "w"}, %r: tensor<2x14x14x32xf32> {kiln.name = "r"}) -> (tensor<2x14x14x32xf32>, tensor<2x14x14x8xf32>, tensor<3x3x8x32xf32>) {
    %y = kiln.conv2d %x, %w {strides = array<i64: 1, 1>, padding = "same"} : (tensor<2x14x14x8xf32>, tensor<3x3x8x32xf32>) -> tensor<2x14x14x32xf32>
    %m = kiln.mul %y, %r : (tensor<2x14x14x32xf32>, tensor<2x14x14x32xf32>) -> tensor<2x14x14x32xf32>
    %l = kiln.reduce_sum %m : (tensor<2x14x14x32xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %x, %w : (tensor<f32>, tensor<2x14x14x8xf32>, tensor<3x3x8x32xf32>) -> (tensor<2x14x14x8xf32>, tensor<3x3x8x32xf32>)
    return %y, %g#0, %g#1 : tensor<2x14x14x32xf32>, tensor<2x14x14x8xf32>, tensor<3x3x8x32xf32>
  }

  // Pooling
  func.func @max_pool2d_2x2(%x: tensor<2x4x4x2xf32> {kiln.name = "x"}, %r: tensor<2x2x2x2xf32> {kiln.name = "r"}) -> (tensor<2x2x2x2xf32>, tensor<2x4x4x2xf32>) {
    %y = kiln.max_pool2d %x {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = "valid"} : (tensor<2x4x4x2xf32>) -> tensor<2x2x2x2xf32>
    %m = kiln.mul %y, %r : (tensor<2x2x2x2xf32>, tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
    %l = kiln.reduce_sum %m : (tensor<2x2x2x2xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x4x4x2xf32>) -> (tensor<2x4x4x2xf32>)
    return %y, %g : tensor<2x2x2x2xf32>, tensor<2x4x4x2xf32>
  }
  func.func @avg_pool2d_2x2(%x: tensor<2x4x4x2xf32> {kiln.name = "x"}, %r: tensor<2x2x2x2xf32> {kiln.name = "r"}) -> (tensor<2x2x2x2xf32>, tensor<2x4x4x2xf32>) {
    %y = kiln.avg_pool2d %x {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = "valid"} : (tensor<2x4x4x2xf32>) -> tensor<2x2x2x2xf32>
    %m = kiln.mul %y, %r : (tensor<2x2x2x2xf32>, tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
    %l = kiln.reduce_sum %m : (tensor<2x2x2x2xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x4x4x2xf32>) -> (tensor<2x4x4x2xf32>)
    return %y, %g : tensor<2x2x2x2xf32>, tensor<2x4x4x2xf32>
  }
  func.func @max_pool2d_same(%x: tensor<1x5x5x2xf32> {kiln.name = "x"}, %r: tensor<1x3x3x2xf32> {kiln.name = "r"}) -> (tensor<1x3x3x2xf32>, tensor<1x5x5x2xf32>) {
    %y = kiln.max_pool2d %x {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = "same"} : (tensor<1x5x5x2xf32>) -> tensor<1x3x3x2xf32>
    %m = kiln.mul %y, %r : (tensor<1x3x3x2xf32>, tensor<1x3x3x2xf32>) -> tensor<1x3x3x2xf32>
    %l = kiln.reduce_sum %m : (tensor<1x3x3x2xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<1x5x5x2xf32>) -> (tensor<1x5x5x2xf32>)
    return %y, %g : tensor<1x3x3x2xf32>, tensor<1x5x5x2xf32>
  }
  func.func @avg_pool2d_same(%x: tensor<1x5x5x2xf32> {kiln.name = "x"}, %r: tensor<1x3x3x2xf32> {kiln.name = "r"}) -> (tensor<1x3x3x2xf32>, tensor<1x5x5x2xf32>) {
    %y = kiln.avg_pool2d %x {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = "same"} : (tensor<1x5x5x2xf32>) -> tensor<1x3x3x2xf32>
    %m = kiln.mul %y, %r : (tensor<1x3x3x2xf32>, tensor<1x3x3x2xf32>) -> tensor<1x3x3x2xf32>
    %l = kiln.reduce_sum %m : (tensor<1x3x3x2xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<1x5x5x2xf32>) -> (tensor<1x5x5x2xf32>)
    return %y, %g : tensor<1x3x3x2xf32>, tensor<1x5x5x2xf32>
  }
  func.func @max_pool2d_3x2_stride1(%x: tensor<1x5x6x1xf32> {kiln.name = "x"}, %r: tensor<1x3x5x1xf32> {kiln.name = "r"}) -> (tensor<1x3x5x1xf32>, tensor<1x5x6x1xf32>) {
    %y = kiln.max_pool2d %x {pool_size = array<i64: 3, 2>, strides = array<i64: 1, 1>, padding = "valid"} : (tensor<1x5x6x1xf32>) -> tensor<1x3x5x1xf32>
    %m = kiln.mul %y, %r : (tensor<1x3x5x1xf32>, tensor<1x3x5x1xf32>) -> tensor<1x3x5x1xf32>
    %l = kiln.reduce_sum %m : (tensor<1x3x5x1xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<1x5x6x1xf32>) -> (tensor<1x5x6x1xf32>)
    return %y, %g : tensor<1x3x5x1xf32>, tensor<1x5x6x1xf32>
  }
  func.func @avg_pool2d_3x2_stride1(%x: tensor<1x5x6x1xf32> {kiln.name = "x"}, %r: tensor<1x3x5x1xf32> {kiln.name = "r"}) -> (tensor<1x3x5x1xf32>, tensor<1x5x6x1xf32>) {
    %y = kiln.avg_pool2d %x {pool_size = array<i64: 3, 2>, strides = array<i64: 1, 1>, padding = "valid"} : (tensor<1x5x6x1xf32>) -> tensor<1x3x5x1xf32>
    %m = kiln.mul %y, %r : (tensor<1x3x5x1xf32>, tensor<1x3x5x1xf32>) -> tensor<1x3x5x1xf32>
    %l = kiln.reduce_sum %m : (tensor<1x3x5x1xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<1x5x6x1xf32>) -> (tensor<1x5x6x1xf32>)
    return %y, %g : tensor<1x3x5x1xf32>, tensor<1x5x6x1xf32>
  }

  // The backward ops of convolution and pooling, called directly
  func.func @conv2d_backprop_same(%x: tensor<1x6x5x2xf32> {kiln.name = "x"}, %w: tensor<3x3x2x2xf32> {kiln.name = "w"}, %g: tensor<1x6x5x2xf32> {kiln.name = "g"}) -> (tensor<1x6x5x2xf32>, tensor<3x3x2x2xf32>) {
    %dx = kiln.conv2d_backprop_input %g, %w {input_shape = array<i64: 1, 6, 5, 2>, strides = array<i64: 1, 1>, padding = "same"} : (tensor<1x6x5x2xf32>, tensor<3x3x2x2xf32>) -> tensor<1x6x5x2xf32>
    %dw = kiln.conv2d_backprop_filter %x, %g {kernel_shape = array<i64: 3, 3, 2, 2>, strides = array<i64: 1, 1>, padding = "same"} : (tensor<1x6x5x2xf32>, tensor<1x6x5x2xf32>) -> tensor<3x3x2x2xf32>
    return %dx, %dw : tensor<1x6x5x2xf32>, tensor<3x3x2x2xf32>
  }
  func.func @conv2d_backprop_same_stride2(%x: tensor<1x7x6x1xf32> {kiln.name = "x"}, %w: tensor<2x3x1x2xf32> {kiln.name = "w"}, %g: tensor<1x4x3x2xf32> {kiln.name = "g"}) -> (tensor<1x7x6x1xf32>, tensor<2x3x1x2xf32>) {
    %dx = kiln.conv2d_backprop_input %g, %w {input_shape = array<i64: 1, 7, 6, 1>, strides = array<i64: 2, 2>, padding = "same"} : (tensor<1x4x3x2xf32>, tensor<2x3x1x2xf32>) -> tensor<1x7x6x1xf32>
    %dw = kiln.conv2d_backprop_filter %x, %g {kernel_shape = array<i64: 2, 3, 1, 2>, strides = array<i64: 2, 2>, padding = "same"} : (tensor<1x7x6x1xf32>, tensor<1x4x3x2xf32>) -> tensor<2x3x1x2xf32>
    return %dx, %dw : tensor<1x7x6x1xf32>, tensor<2x3x1x2xf32>
  }
  func.func @conv2d_backprop_stride_2x3(%x: tensor<1x7x8x2xf32> {kiln.name = "x"}, %w: tensor<3x2x2x2xf32> {kiln.name = "w"}, %g: tensor<1x3x3x2xf32> {kiln.name = "g"}) -> (tensor<1x7x8x2xf32>, tensor<3x2x2x2xf32>) {
    %dx = kiln.conv2d_backprop_input %g, %w {input_shape = array<i64: 1, 7, 8, 2>, strides = array<i64: 2, 3>, padding = "valid"} : (tensor<1x3x3x2xf32>, tensor<3x2x2x2xf32>) -> tensor<1x7x8x2xf32>
    %dw = kiln.conv2d_backprop_filter %x, %g {kernel_shape = array<i64: 3, 2, 2, 2>, strides = array<i64: 2, 3>, padding = "valid"} : (tensor<1x7x8x2xf32>, tensor<1x3x3x2xf32>) -> tensor<3x2x2x2xf32>
    return %dx, %dw : tensor<1x7x8x2xf32>, tensor<3x2x2x2xf32>
  }
  func.func @pool2d_grad_2x2(%x: tensor<2x4x4x2xf32> {kiln.name = "x"}, %g: tensor<2x2x2x2xf32> {kiln.name = "g"}) -> (tensor<2x4x4x2xf32>, tensor<2x4x4x2xf32>) {
    %rx = kiln.relu %x : tensor<2x4x4x2xf32>
    %dm = kiln.max_pool2d_grad %rx, %g {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = "valid"} : (tensor<2x4x4x2xf32>, tensor<2x2x2x2xf32>) -> tensor<2x4x4x2xf32>
    %da = kiln.avg_pool2d_grad %g {input_shape = array<i64: 2, 4, 4, 2>, pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = "valid"} : (tensor<2x2x2x2xf32>) -> tensor<2x4x4x2xf32>
    return %dm, %da : tensor<2x4x4x2xf32>, tensor<2x4x4x2xf32>
  }
  func.func @pool2d_grad_same(%x: tensor<1x5x5x2xf32> {kiln.name = "x"}, %g: tensor<1x3x3x2xf32> {kiln.name = "g"}) -> (tensor<1x5x5x2xf32>, tensor<1x5x5x2xf32>) {
    %rx = kiln.relu %x : tensor<1x5x5x2xf32>
    %dm = kiln.max_pool2d_grad %rx, %g {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = "same"} : (tensor<1x5x5x2xf32>, tensor<1x3x3x2xf32>) -> tensor<1x5x5x2xf32>
    %da = kiln.avg_pool2d_grad %g {input_shape = array<i64: 1, 5, 5, 2>, pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = "same"} : (tensor<1x3x3x2xf32>) -> tensor<1x5x5x2xf32>
    return %dm, %da : tensor<1x5x5x2xf32>, tensor<1x5x5x2xf32>
  }
  func.func @pool2d_grad_3x2_stride1(%x: tensor<1x5x6x1xf32> {kiln.name = "x"}, %g: tensor<1x3x5x1xf32> {kiln.name = "g"}) -> (tensor<1x5x6x1xf32>, tensor<1x5x6x1xf32>) {
    %rx = kiln.relu %x : tensor<1x5x6x1xf32>
    %dm = kiln.max_pool2d_grad %rx, %g {pool_size = array<i64: 3, 2>, strides = array<i64: 1, 1>, padding = "valid"} : (tensor<1x5x6x1xf32>, tensor<1x3x5x1xf32>) -> tensor<1x5x6x1xf32>
    %da = kiln.avg_pool2d_grad %g {input_shape = array<i64: 1, 5, 6, 1>, pool_size = array<i64: 3, 2>, strides = array<i64: 1, 1>, padding = "valid"} : (tensor<1x3x5x1xf32>) -> tensor<1x5x6x1xf32>
    return %dm, %da : tensor<1x5x6x1xf32>, tensor<1x5x6x1xf32>
  }

  // Shape ops
  func.func @reshape(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<6x4xf32> {kiln.name = "r"}) -> (tensor<6x4xf32>, tensor<2x3x4xf32>) {
    %y = kiln.reshape %x {shape = array<i64: 6, 4>} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
    %m = kiln.mul %y, %r : (tensor<6x4xf32>, tensor<6x4xf32>) -> tensor<6x4xf32>
    %l = kiln.reduce_sum %m : (tensor<6x4xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<6x4xf32>, tensor<2x3x4xf32>
  }
  func.func @transpose(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<4x2x3xf32> {kiln.name = "r"}) -> (tensor<4x2x3xf32>, tensor<2x3x4xf32>) {
    %y = kiln.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
    %m = kiln.mul %y, %r : (tensor<4x2x3xf32>, tensor<4x2x3xf32>) -> tensor<4x2x3xf32>
    %l = kiln.reduce_sum %m : (tensor<4x2x3xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<4x2x3xf32>, tensor<2x3x4xf32>
  }
  func.func @slice(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<1x2x3xf32> {kiln.name = "r"}) -> (tensor<1x2x3xf32>, tensor<2x3x4xf32>) {
    %y = kiln.slice %x {start = array<i64: 1, 1, 0>, sizes = array<i64: 1, 2, 3>} : (tensor<2x3x4xf32>) -> tensor<1x2x3xf32>
    %m = kiln.mul %y, %r : (tensor<1x2x3xf32>, tensor<1x2x3xf32>) -> tensor<1x2x3xf32>
    %l = kiln.reduce_sum %m : (tensor<1x2x3xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<1x2x3xf32>, tensor<2x3x4xf32>
  }
  func.func @concat(%a: tensor<2x3xf32> {kiln.name = "a"}, %b: tensor<2x5xf32> {kiln.name = "b"}, %r: tensor<2x8xf32> {kiln.name = "r"}) -> (tensor<2x8xf32>, tensor<2x3xf32>, tensor<2x5xf32>) {
    %y = kiln.concat %a, %b {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
    %m = kiln.mul %y, %r : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %l = kiln.reduce_sum %m : (tensor<2x8xf32>) -> tensor<f32>
    %g:2 = kiln.gradient %l wrt %a, %b : (tensor<f32>, tensor<2x3xf32>, tensor<2x5xf32>) -> (tensor<2x3xf32>, tensor<2x5xf32>)
    return %y, %g#0, %g#1 : tensor<2x8xf32>, tensor<2x3xf32>, tensor<2x5xf32>
  }

  // Reductions: one axis, keepdims with a negative axis, all axes
  func.func @reduce_sum(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<2x4xf32> {kiln.name = "r"}) -> (tensor<2x4xf32>, tensor<2x3x4xf32>) {
    %y = kiln.reduce_sum %x {axes = array<i64: 1>} : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x4xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<2x4xf32>, tensor<2x3x4xf32>
  }
  func.func @reduce_sum_keepdims(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<2x1x4xf32> {kiln.name = "r"}) -> (tensor<2x1x4xf32>, tensor<2x3x4xf32>) {
    %y = kiln.reduce_sum %x {axes = array<i64: -2>, keepdims = true} : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x1x4xf32>, tensor<2x1x4xf32>) -> tensor<2x1x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x1x4xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<2x1x4xf32>, tensor<2x3x4xf32>
  }
  func.func @reduce_sum_all(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<2x3x4xf32>) {
    %y = kiln.reduce_sum %x : (tensor<2x3x4xf32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<f32>, tensor<2x3x4xf32>
  }
  func.func @reduce_mean(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<2x4xf32> {kiln.name = "r"}) -> (tensor<2x4xf32>, tensor<2x3x4xf32>) {
    %y = kiln.reduce_mean %x {axes = array<i64: 1>} : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x4xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<2x4xf32>, tensor<2x3x4xf32>
  }
  func.func @reduce_mean_keepdims(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<2x1x4xf32> {kiln.name = "r"}) -> (tensor<2x1x4xf32>, tensor<2x3x4xf32>) {
    %y = kiln.reduce_mean %x {axes = array<i64: -2>, keepdims = true} : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x1x4xf32>, tensor<2x1x4xf32>) -> tensor<2x1x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x1x4xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<2x1x4xf32>, tensor<2x3x4xf32>
  }
  func.func @reduce_mean_all(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<2x3x4xf32>) {
    %y = kiln.reduce_mean %x : (tensor<2x3x4xf32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<f32>, tensor<2x3x4xf32>
  }
  func.func @reduce_max(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<2x4xf32> {kiln.name = "r"}) -> (tensor<2x4xf32>, tensor<2x3x4xf32>) {
    %y = kiln.reduce_max %x {axes = array<i64: 1>} : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x4xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<2x4xf32>, tensor<2x3x4xf32>
  }
  func.func @reduce_max_keepdims(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<2x1x4xf32> {kiln.name = "r"}) -> (tensor<2x1x4xf32>, tensor<2x3x4xf32>) {
    %y = kiln.reduce_max %x {axes = array<i64: -2>, keepdims = true} : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x1x4xf32>, tensor<2x1x4xf32>) -> tensor<2x1x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x1x4xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<2x1x4xf32>, tensor<2x3x4xf32>
  }
  func.func @reduce_max_all(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<2x3x4xf32>) {
    %y = kiln.reduce_max %x : (tensor<2x3x4xf32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<f32>, tensor<2x3x4xf32>
  }
  func.func @reduce_min(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<2x4xf32> {kiln.name = "r"}) -> (tensor<2x4xf32>, tensor<2x3x4xf32>) {
    %y = kiln.reduce_min %x {axes = array<i64: 1>} : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x4xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<2x4xf32>, tensor<2x3x4xf32>
  }
  func.func @reduce_min_keepdims(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<2x1x4xf32> {kiln.name = "r"}) -> (tensor<2x1x4xf32>, tensor<2x3x4xf32>) {
    %y = kiln.reduce_min %x {axes = array<i64: -2>, keepdims = true} : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
    %m = kiln.mul %y, %r : (tensor<2x1x4xf32>, tensor<2x1x4xf32>) -> tensor<2x1x4xf32>
    %l = kiln.reduce_sum %m : (tensor<2x1x4xf32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<2x1x4xf32>, tensor<2x3x4xf32>
  }
  func.func @reduce_min_all(%x: tensor<2x3x4xf32> {kiln.name = "x"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<2x3x4xf32>) {
    %y = kiln.reduce_min %x : (tensor<2x3x4xf32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %x : (tensor<f32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>)
    return %y, %g : tensor<f32>, tensor<2x3x4xf32>
  }

  // Losses (labels t are not differentiated), with logits, with a padded batch (samples)
  func.func @mean_squared_error(%t: tensor<4x3xf32> {kiln.name = "t"}, %z: tensor<4x3xf32> {kiln.name = "z"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<4x3xf32>) {
    %p = kiln.add %z, %z : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
    %y = kiln.mean_squared_error %t, %p : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %z : (tensor<f32>, tensor<4x3xf32>) -> (tensor<4x3xf32>)
    return %y, %g : tensor<f32>, tensor<4x3xf32>
  }
  func.func @mean_absolute_error(%t: tensor<4x3xf32> {kiln.name = "t"}, %z: tensor<4x3xf32> {kiln.name = "z"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<4x3xf32>) {
    %p = kiln.add %z, %z : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
    %y = kiln.mean_absolute_error %t, %p : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %z : (tensor<f32>, tensor<4x3xf32>) -> (tensor<4x3xf32>)
    return %y, %g : tensor<f32>, tensor<4x3xf32>
  }
  func.func @binary_crossentropy(%t: tensor<4x3xf32> {kiln.name = "t"}, %z: tensor<4x3xf32> {kiln.name = "z"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<4x3xf32>) {
    %tp = kiln.sigmoid %t : tensor<4x3xf32>
    %p = kiln.sigmoid %z : tensor<4x3xf32>
    %y = kiln.binary_crossentropy %tp, %p : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %z : (tensor<f32>, tensor<4x3xf32>) -> (tensor<4x3xf32>)
    return %y, %g : tensor<f32>, tensor<4x3xf32>
  }
  func.func @binary_crossentropy_logits(%t: tensor<4x3xf32> {kiln.name = "t"}, %z: tensor<4x3xf32> {kiln.name = "z"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<4x3xf32>) {
    %tp = kiln.sigmoid %t : tensor<4x3xf32>
    %p = kiln.add %z, %z : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
    %y = kiln.binary_crossentropy %tp, %p {from_logits = true} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %z : (tensor<f32>, tensor<4x3xf32>) -> (tensor<4x3xf32>)
    return %y, %g : tensor<f32>, tensor<4x3xf32>
  }
  func.func @categorical_crossentropy(%t: tensor<4x3xf32> {kiln.name = "t"}, %z: tensor<4x3xf32> {kiln.name = "z"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<4x3xf32>) {
    %tp = kiln.softmax %t : tensor<4x3xf32>
    %p = kiln.softmax %z : tensor<4x3xf32>
    %y = kiln.categorical_crossentropy %tp, %p : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %z : (tensor<f32>, tensor<4x3xf32>) -> (tensor<4x3xf32>)
    return %y, %g : tensor<f32>, tensor<4x3xf32>
  }
  func.func @categorical_crossentropy_logits(%t: tensor<4x3xf32> {kiln.name = "t"}, %z: tensor<4x3xf32> {kiln.name = "z"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<4x3xf32>) {
    %tp = kiln.softmax %t : tensor<4x3xf32>
    %p = kiln.add %z, %z : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
    %y = kiln.categorical_crossentropy %tp, %p {from_logits = true} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %z : (tensor<f32>, tensor<4x3xf32>) -> (tensor<4x3xf32>)
    return %y, %g : tensor<f32>, tensor<4x3xf32>
  }
  func.func @sparse_categorical_crossentropy(%t: tensor<4xi32> {kiln.name = "t"}, %z: tensor<4x3xf32> {kiln.name = "z"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<4x3xf32>) {
    %p = kiln.softmax %z : tensor<4x3xf32>
    %y = kiln.sparse_categorical_crossentropy %t, %p : (tensor<4xi32>, tensor<4x3xf32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %z : (tensor<f32>, tensor<4x3xf32>) -> (tensor<4x3xf32>)
    return %y, %g : tensor<f32>, tensor<4x3xf32>
  }
  func.func @sparse_categorical_crossentropy_logits(%t: tensor<4xi32> {kiln.name = "t"}, %z: tensor<4x3xf32> {kiln.name = "z"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<4x3xf32>) {
    %p = kiln.add %z, %z : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
    %y = kiln.sparse_categorical_crossentropy %t, %p {from_logits = true} : (tensor<4xi32>, tensor<4x3xf32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %z : (tensor<f32>, tensor<4x3xf32>) -> (tensor<4x3xf32>)
    return %y, %g : tensor<f32>, tensor<4x3xf32>
  }
  func.func @sparse_categorical_crossentropy_samples(%t: tensor<4xi32> {kiln.name = "t"}, %z: tensor<4x3xf32> {kiln.name = "z"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<4x3xf32>) {
    %p = kiln.add %z, %z : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
    %n = kiln.constant dense<3.000000e+00> : tensor<f32>
    %y = kiln.sparse_categorical_crossentropy %t, %p samples %n {from_logits = true} : (tensor<4xi32>, tensor<4x3xf32>, tensor<f32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %z : (tensor<f32>, tensor<4x3xf32>) -> (tensor<4x3xf32>)
    return %y, %g : tensor<f32>, tensor<4x3xf32>
  }
  func.func @mean_squared_error_samples(%t: tensor<4x3xf32> {kiln.name = "t"}, %z: tensor<4x3xf32> {kiln.name = "z"}, %r: tensor<f32> {kiln.name = "r"}) -> (tensor<f32>, tensor<4x3xf32>) {
    %p = kiln.add %z, %z : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
    %n = kiln.constant dense<3.000000e+00> : tensor<f32>
    %y = kiln.mean_squared_error %t, %p samples %n : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<f32>) -> tensor<f32>
    %m = kiln.mul %y, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %l = kiln.reduce_sum %m : (tensor<f32>) -> tensor<f32>
    %g = kiln.gradient %l wrt %z : (tensor<f32>, tensor<4x3xf32>) -> (tensor<4x3xf32>)
    return %y, %g : tensor<f32>, tensor<4x3xf32>
  }

  // Metrics and labels (no gradients)
  func.func @accuracy(%t: tensor<4xi32> {kiln.name = "t"}, %c: tensor<4x3xf32> {kiln.name = "c"}, %p: tensor<4x3xf32> {kiln.name = "p"}, %b: tensor<4x1xf32> {kiln.name = "b"}) -> (tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>) {
    %sparse = kiln.accuracy %t, %p {kind = "sparse_categorical"} : (tensor<4xi32>, tensor<4x3xf32>) -> tensor<f32>
    %cat = kiln.accuracy %c, %p {kind = "categorical"} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
    %bin = kiln.accuracy %b, %b {kind = "binary", threshold = 0.000000e+00 : f32} : (tensor<4x1xf32>, tensor<4x1xf32>) -> tensor<f32>
    %n = kiln.constant dense<3.000000e+00> : tensor<f32>
    %padded = kiln.accuracy %t, %p samples %n {kind = "sparse_categorical"} : (tensor<4xi32>, tensor<4x3xf32>, tensor<f32>) -> tensor<f32>
    return %sparse, %cat, %bin, %padded : tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>
  }
  func.func @one_hot(%t: tensor<4xi32> {kiln.name = "t"}, %t2: tensor<2x3xi32> {kiln.name = "t2"}) -> (tensor<4x5xf32>, tensor<2x3x2xf32>) {
    %a = kiln.one_hot %t {depth = 5} : (tensor<4xi32>) -> tensor<4x5xf32>
    %b = kiln.one_hot %t2 {depth = 2} : (tensor<2x3xi32>) -> tensor<2x3x2xf32>
    return %a, %b : tensor<4x5xf32>, tensor<2x3x2xf32>
  }
  func.func @dropout_mask(%x: tensor<64x33xf32> {kiln.name = "x"}) -> (tensor<64x33xf32>) {
    %step = kiln.constant dense<7.000000e+00> : tensor<f32>
    %y = kiln.dropout_mask %step, %x {rate = 3.000000e-01 : f32, seed = 1234 : i64} : (tensor<f32>, tensor<64x33xf32>) -> tensor<64x33xf32>
    return %y : tensor<64x33xf32>
  }
}
