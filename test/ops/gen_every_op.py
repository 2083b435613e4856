#!/usr/bin/env python3
"""Writes every-op.mlir: one function per case, each op of the Kiln dialect
forward and (where it has one) backward.

    python3 test/ops/gen_every_op.py > test/ops/every-op.mlir

A case with a gradient computes y = op(inputs), the loss l = sum(y * r) for an
extra input r (so every element of y gets its own weight) and returns y and
dl/d(input) for each f32 input it differentiates. Inputs are drawn in [-1, 1]
(i32 class labels in [0, 3)) by the tests that run the file, so an op with a
restricted domain takes exp(x), sigmoid(x) or softmax(x) of its input.
"""

out = []


def ty(shape, elem="f32"):
    return "tensor<" + "".join(f"{d}x" for d in shape) + elem + ">"


def arr(v):
    return "array<i64: " + ", ".join(str(x) for x in v) + ">"


def func(name, args, body, results):
    """args: [(name, shape, elem)], body: [line], results: [(value, type)]."""
    sig = ", ".join(f"%{a}: {ty(s, e)} {{kiln.name = \"{a}\"}}" for a, s, e in args)
    types = ", ".join(t for _, t in results)
    out.append(f"  func.func @{name}({sig}) -> ({types}) {{")
    out.extend("    " + line for line in body)
    out.append("    return " + ", ".join(v for v, _ in results) + " : " + types)
    out.append("  }")


def grad_case(name, args, body, y_shape, wrt=None):
    """y (shape y_shape) = body(args); returns y and d sum(y * r) / d wrt."""
    wrt = [a for a, _, e in args if e == "f32"] if wrt is None else wrt
    y = ty(y_shape)
    arg_types = {a: ty(s, e) for a, s, e in args}
    body = list(body) + [
        f"%m = kiln.mul %y, %r : ({y}, {y}) -> {y}",
        f"%l = kiln.reduce_sum %m : ({y}) -> tensor<f32>",
    ]
    gtypes = [arg_types[a] for a in wrt]
    results = [("%y", y)]
    if wrt:
        names = "%g" if len(wrt) == 1 else f"%g:{len(wrt)}"
        body.append(f"{names} = kiln.gradient %l wrt " + ", ".join("%" + a for a in wrt) +
                    " : (tensor<f32>, " + ", ".join(gtypes) + ") -> (" + ", ".join(gtypes) + ")")
        results += [("%g" if len(wrt) == 1 else f"%g#{i}", t) for i, t in enumerate(gtypes)]
    func(name, args + [("r", y_shape, "f32")], body, results)


def section(title):
    out.append("")
    out.append(f"  // {title}")


out.append("// Every op of the Kiln dialect, forward and backward: written by")
out.append("// test/ops/gen_every_op.py (edit that, then regenerate this file).")
out.append("// The CUDA emulation test (test/unit/codegen/CudaEmulationTest.cpp) and the")
out.append("// GPU numerics test (test/unit/runtime/GpuNumericsTest.cpp) run each function")
out.append("// on both backends and compare.")
out.append("// RUN: kilnc %s --target=cuda --emit=cuda | FileCheck %s")
out.append("// CHECK: ===== entry point neg =====")
out.append("// CHECK: ===== entry point dropout_mask =====")
out.append("module {")

X = [5, 7]
section("Unary elementwise ops")
for op in ["neg", "abs", "exp", "square", "tanh", "sigmoid", "relu"]:
    grad_case(op, [("x", X, "f32")], [f"%y = kiln.{op} %x : {ty(X)}"], X)
for op in ["log", "sqrt", "rsqrt"]:  # on exp(x) > 0
    grad_case(op, [("x", X, "f32")], [f"%p = kiln.exp %x : {ty(X)}", f"%y = kiln.{op} %p : {ty(X)}"], X)
grad_case("dropout", [("x", X, "f32")], [f"%y = kiln.dropout %x {{rate = 5.000000e-01 : f32}} : {ty(X)}"], X)
grad_case("constant", [("x", X, "f32")],
          ["%c = kiln.constant dense<2.500000e+00> : tensor<f32>",
           f"%y = kiln.mul %x, %c : ({ty(X)}, tensor<f32>) -> {ty(X)}"], X)

section("Binary elementwise ops, with broadcasting")
A, B, Y = [2, 3, 4], [3, 1], [2, 3, 4]


def binary(name, op, a="%a", b="%b", pre=(), a_shape=A, b_shape=B):
    grad_case(name, [("a", a_shape, "f32"), ("b", b_shape, "f32")],
              list(pre) + [f"%y = kiln.{op} {a}, {b} : ({ty(a_shape)}, {ty(b_shape)}) -> {ty(Y)}"], Y)


for op in ["add", "sub", "mul", "max", "min"]:
    binary(op, op)
binary("div", "div", b="%eb", pre=[f"%eb = kiln.exp %b : {ty(B)}"])
binary("pow", "pow", a="%ea", pre=[f"%ea = kiln.exp %a : {ty(A)}"], b_shape=[4])
binary("mul_scalar", "mul", b_shape=[])
grad_case("broadcast_to", [("x", [3, 1], "f32")],
          [f"%y = kiln.broadcast_to %x {{shape = {arr(Y)}}} : ({ty([3, 1])}) -> {ty(Y)}"], Y)
for op in ["greater", "greater_equal", "equal"]:  # zero gradients; relu(a) ties with 0
    grad_case(op, [("a", A, "f32"), ("b", A, "f32")],
              [f"%ra = kiln.relu %a : {ty(A)}", f"%rb = kiln.relu %b : {ty(A)}",
               f"%y = kiln.{op} %ra, %rb : ({ty(A)}, {ty(A)}) -> {ty(Y)}"], Y)
grad_case("sign", [("x", X, "f32")],
          [f"%rx = kiln.relu %x : {ty(X)}", f"%y = kiln.sign %rx : {ty(X)}"], X)

section("Softmax")
grad_case("softmax", [("x", [3, 5], "f32")], [f"%y = kiln.softmax %x : {ty([3, 5])}"], [3, 5])
grad_case("log_softmax", [("x", [3, 5], "f32")], [f"%y = kiln.log_softmax %x : {ty([3, 5])}"], [3, 5])
grad_case("softmax_axis1", [("x", A, "f32")], [f"%y = kiln.softmax %x {{axis = 1 : i64}} : {ty(A)}"], A)

section("matmul: plain, shared and batched operands, transposes, large (several tiles) and split-K shapes;")
out.append("  // with --gpu-precision=tf32 or bf16, the GEMMs with M, N >= 32 and K >= 16 run on tensor cores")
for name, a, b, y, attrs in [
    ("matmul", [4, 3], [3, 5], [4, 5], ""),
    ("matmul_shared_rhs", [2, 4, 3], [3, 5], [2, 4, 5], ""),
    ("matmul_batched", [2, 4, 3], [2, 3, 5], [2, 4, 5], ""),
    ("matmul_transpose_lhs", [3, 4], [3, 5], [4, 5], " {transpose_lhs}"),
    ("matmul_transpose_rhs", [4, 3], [5, 3], [4, 5], " {transpose_rhs}"),
    ("matmul_large", [33, 70], [70, 45], [33, 45], ""),
    ("matmul_split_k", [8, 600], [600, 9], [8, 9], ""),
    ("matmul_split_k_large", [40, 900], [900, 36], [40, 36], ""),
]:
    grad_case(name, [("a", a, "f32"), ("b", b, "f32")],
              [f"%y = kiln.matmul %a, %b{attrs} : ({ty(a)}, {ty(b)}) -> {ty(y)}"], y)


def conv_out(x, k, strides, same, channels):
    size = (lambda i, kk, s: (i + s - 1) // s) if same else (lambda i, kk, s: (i - kk) // s + 1)
    return [x[0], size(x[1], k[0], strides[0]), size(x[2], k[1], strides[1]), channels]


def window_attrs(strides, same):
    return f"strides = {arr(strides)}, padding = \"{'same' if same else 'valid'}\""


section("conv2d: valid and same padding, strides, even and 1x1 windows, a layer large enough for tensor cores")
CONVS = [  # name, input, kernel, strides, same
    ("conv2d", [2, 5, 5, 2], [3, 3, 2, 3], [1, 1], False),
    ("conv2d_same", [1, 6, 5, 2], [3, 3, 2, 2], [1, 1], True),
    ("conv2d_same_stride2", [1, 7, 6, 1], [2, 3, 1, 2], [2, 2], True),
    ("conv2d_stride_2x3", [1, 7, 8, 2], [3, 2, 2, 2], [2, 3], False),
    ("conv2d_1x1", [2, 4, 4, 3], [1, 1, 3, 5], [1, 1], False),
    ("conv2d_large", [2, 14, 14, 8], [3, 3, 8, 32], [1, 1], True),
]
for name, x, k, s, same in CONVS:
    y = conv_out(x, k, s, same, k[3])
    grad_case(name, [("x", x, "f32"), ("w", k, "f32")],
              [f"%y = kiln.conv2d %x, %w {{{window_attrs(s, same)}}} : ({ty(x)}, {ty(k)}) -> {ty(y)}"], y)

section("Pooling")
POOLS = [  # name, input, window, strides, same
    ("2x2", [2, 4, 4, 2], [2, 2], [2, 2], False),
    ("same", [1, 5, 5, 2], [2, 2], [2, 2], True),
    ("3x2_stride1", [1, 5, 6, 1], [3, 2], [1, 1], False),
]
for variant, x, w, s, same in POOLS:
    y = conv_out(x, w, s, same, x[3])
    for op in ["max_pool2d", "avg_pool2d"]:
        grad_case(f"{op}_{variant}", [("x", x, "f32")],
                  [f"%y = kiln.{op} %x {{pool_size = {arr(w)}, {window_attrs(s, same)}}} : ({ty(x)}) -> {ty(y)}"], y)

section("The backward ops of convolution and pooling, called directly")
for name, x, k, s, same in [CONVS[1], CONVS[2], CONVS[3]]:
    g = conv_out(x, k, s, same, k[3])
    attrs = window_attrs(s, same)
    func("conv2d_backprop_" + name.removeprefix("conv2d_"),
         [("x", x, "f32"), ("w", k, "f32"), ("g", g, "f32")],
         [f"%dx = kiln.conv2d_backprop_input %g, %w {{input_shape = {arr(x)}, {attrs}}} : ({ty(g)}, {ty(k)}) -> {ty(x)}",
          f"%dw = kiln.conv2d_backprop_filter %x, %g {{kernel_shape = {arr(k)}, {attrs}}} : ({ty(x)}, {ty(g)}) -> {ty(k)}"],
         [("%dx", ty(x)), ("%dw", ty(k))])
for variant, x, w, s, same in POOLS:
    g = conv_out(x, w, s, same, x[3])
    attrs = f"pool_size = {arr(w)}, {window_attrs(s, same)}"
    func("pool2d_grad_" + variant, [("x", x, "f32"), ("g", g, "f32")],
         [f"%rx = kiln.relu %x : {ty(x)}",  # windows of zeros: ties, the first one takes it
          f"%dm = kiln.max_pool2d_grad %rx, %g {{{attrs}}} : ({ty(x)}, {ty(g)}) -> {ty(x)}",
          f"%da = kiln.avg_pool2d_grad %g {{input_shape = {arr(x)}, {attrs}}} : ({ty(g)}) -> {ty(x)}"],
         [("%dm", ty(x)), ("%da", ty(x))])

section("Shape ops")
grad_case("reshape", [("x", A, "f32")], [f"%y = kiln.reshape %x {{shape = {arr([6, 4])}}} : ({ty(A)}) -> {ty([6, 4])}"], [6, 4])
grad_case("transpose", [("x", A, "f32")],
          [f"%y = kiln.transpose %x {{perm = {arr([2, 0, 1])}}} : ({ty(A)}) -> {ty([4, 2, 3])}"], [4, 2, 3])
grad_case("slice", [("x", A, "f32")],
          [f"%y = kiln.slice %x {{start = {arr([1, 1, 0])}, sizes = {arr([1, 2, 3])}}} : ({ty(A)}) -> {ty([1, 2, 3])}"],
          [1, 2, 3])
grad_case("concat", [("a", [2, 3], "f32"), ("b", [2, 5], "f32")],
          [f"%y = kiln.concat %a, %b {{axis = 1 : i64}} : ({ty([2, 3])}, {ty([2, 5])}) -> {ty([2, 8])}"], [2, 8])

section("Reductions: one axis, keepdims with a negative axis, all axes")
for op in ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"]:
    grad_case(op, [("x", A, "f32")], [f"%y = kiln.{op} %x {{axes = {arr([1])}}} : ({ty(A)}) -> {ty([2, 4])}"], [2, 4])
    grad_case(op + "_keepdims", [("x", A, "f32")],
              [f"%y = kiln.{op} %x {{axes = {arr([-2])}, keepdims = true}} : ({ty(A)}) -> {ty([2, 1, 4])}"], [2, 1, 4])
    grad_case(op + "_all", [("x", A, "f32")], [f"%y = kiln.{op} %x : ({ty(A)}) -> tensor<f32>"], [])

section("Losses (labels t are not differentiated), with logits, with a padded batch (samples)")
P = [4, 3]


def loss(name, op, pred_pre, attrs="", labels=("t", P, "f32"), label_pre=(), t="%t", samples=False):
    lt = ty(labels[1], labels[2])
    extra = ["%n = kiln.constant dense<3.000000e+00> : tensor<f32>"] if samples else []
    sample_arg, sample_ty = (" samples %n", ", tensor<f32>") if samples else ("", "")
    grad_case(name, [labels, ("z", P, "f32")],
              list(label_pre) + list(pred_pre) + extra +
              [f"%y = kiln.{op} {t}, %p{sample_arg}{attrs} : ({lt}, {ty(P)}{sample_ty}) -> tensor<f32>"],
              [], wrt=["z"])


identity = [f"%p = kiln.add %z, %z : ({ty(P)}, {ty(P)}) -> {ty(P)}"]
sigmoid = [f"%p = kiln.sigmoid %z : {ty(P)}"]
softmax = [f"%p = kiln.softmax %z : {ty(P)}"]
prob_labels = [f"%tp = kiln.sigmoid %t : {ty(P)}"]
one_hot_labels = [f"%tp = kiln.softmax %t : {ty(P)}"]
loss("mean_squared_error", "mean_squared_error", identity)
loss("mean_absolute_error", "mean_absolute_error", identity)
loss("binary_crossentropy", "binary_crossentropy", sigmoid, label_pre=prob_labels, t="%tp")
loss("binary_crossentropy_logits", "binary_crossentropy", identity, " {from_logits = true}",
     label_pre=prob_labels, t="%tp")
loss("categorical_crossentropy", "categorical_crossentropy", softmax, label_pre=one_hot_labels, t="%tp")
loss("categorical_crossentropy_logits", "categorical_crossentropy", identity, " {from_logits = true}",
     label_pre=one_hot_labels, t="%tp")
SPARSE = ("t", [4], "i32")
loss("sparse_categorical_crossentropy", "sparse_categorical_crossentropy", softmax, labels=SPARSE)
loss("sparse_categorical_crossentropy_logits", "sparse_categorical_crossentropy", identity,
     " {from_logits = true}", labels=SPARSE)
loss("sparse_categorical_crossentropy_samples", "sparse_categorical_crossentropy", identity,
     " {from_logits = true}", labels=SPARSE, samples=True)
loss("mean_squared_error_samples", "mean_squared_error", identity, samples=True)

section("Metrics and labels (no gradients)")
f = "tensor<f32>"
func("accuracy", [("t", [4], "i32"), ("c", P, "f32"), ("p", P, "f32"), ("b", [4, 1], "f32")],
     [f"%sparse = kiln.accuracy %t, %p {{kind = \"sparse_categorical\"}} : ({ty([4], 'i32')}, {ty(P)}) -> {f}",
      f"%cat = kiln.accuracy %c, %p {{kind = \"categorical\"}} : ({ty(P)}, {ty(P)}) -> {f}",
      f"%bin = kiln.accuracy %b, %b {{kind = \"binary\", threshold = 0.000000e+00 : f32}} : ({ty([4, 1])}, {ty([4, 1])}) -> {f}",
      "%n = kiln.constant dense<3.000000e+00> : tensor<f32>",
      f"%padded = kiln.accuracy %t, %p samples %n {{kind = \"sparse_categorical\"}} : ({ty([4], 'i32')}, {ty(P)}, {f}) -> {f}"],
     [("%sparse", f), ("%cat", f), ("%bin", f), ("%padded", f)])
func("one_hot", [("t", [4], "i32"), ("t2", [2, 3], "i32")],
     [f"%a = kiln.one_hot %t {{depth = 5}} : ({ty([4], 'i32')}) -> {ty([4, 5])}",
      f"%b = kiln.one_hot %t2 {{depth = 2}} : ({ty([2, 3], 'i32')}) -> {ty([2, 3, 2])}"],  # label 2: a zero row
     [("%a", ty([4, 5])), ("%b", ty([2, 3, 2]))])
func("dropout_mask", [("x", [64, 33], "f32")],
     ["%step = kiln.constant dense<7.000000e+00> : tensor<f32>",
      f"%y = kiln.dropout_mask %step, %x {{rate = 3.000000e-01 : f32, seed = 1234 : i64}} : ({f}, {ty([64, 33])}) -> {ty([64, 33])}"],
     [("%y", ty([64, 33]))])

out.append("}")
print("\n".join(out))
