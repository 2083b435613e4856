//===- NumericsTest.cpp - compiled code vs the reference interpreter ------===//
//
// Each case is a small model file. It is compiled in-process exactly as
// kilnc compiles it (specialise, lower, LLVM, shared object), run through
// the packed entry point on random inputs and parameters, and compared with
// test/reference/Interpreter.cpp on the same graph.
//
//===----------------------------------------------------------------------===//
#include "CompiledModel.h"
#include "codegen/Artifact.h"
#include "codegen/cpu/CpuBackend.h"
#include "frontend/ImportGraph.h"
#include "ir/KilnOps.h"
#include "passes/Passes.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <random>

using namespace mlir;
using namespace kiln;
using reference::Tensor;
using test::Compiled;
using test::compile;
using test::randomTensor;
using test::runCompiled;

namespace {

/// Largest relative error (|a - b| / max(1, |b|)) over all outputs.
double worstError(const std::vector<Tensor> &got, const std::vector<Tensor> &want) {
  double worst = 0;
  for (size_t o = 0; o < want.size(); ++o)
    worst = std::max(worst, reference::worstError(got[o], want[o]));
  return worst;
}

/// Compiles and runs `source`, checks it against the interpreter.
/// Parameters are random in [-1, 1], or the model's own initial values.
/// `compiledOutputs`, when given, receives the compiled code's outputs.
void check(const std::string &source, int64_t batch = 3, double tolerance = 1e-5,
           float lo = -1, float hi = 1, bool initialParams = false,
           std::vector<Tensor> *compiledOutputs = nullptr) {
  MLIRContext ctx;
  ctx.loadDialect<KilnDialect, func::FuncDialect>();
  Compiled c;
  compile(ctx, source, batch, c);
  ASSERT_TRUE(c.error.empty()) << c.error << "\n" << source;
  ASSERT_EQ(c.contents.entries.size(), 1u);
  const EntrySignature &e = c.contents.entries[0];

  std::mt19937 rng(42);
  std::vector<Tensor> inputs;
  for (const TensorSignature &t : e.inputs) {
    inputs.push_back(randomTensor(t.shape, rng, lo, hi));
    if (t.isInt) // class labels: integers in [0, hi)
      for (float &v : inputs.back().data)
        v = float(int(std::abs(v)) % int(hi));
  }
  llvm::StringMap<Tensor> params;
  for (const ParameterValue &p : c.contents.params)
    params[p.name] = initialParams ? Tensor{p.shape, p.values} : randomTensor(p.shape, rng);

  std::vector<Tensor> outputs = runCompiled(c, inputs, params);

  std::vector<Tensor> expected;
  std::string error;
  auto func = c.graph->lookupSymbol<func::FuncOp>("predict");
  ASSERT_TRUE(reference::evaluate(func, inputs, params, expected, error)) << error;
  ASSERT_EQ(expected.size(), outputs.size());
  EXPECT_LE(worstError(outputs, expected), tolerance) << source;
  if (compiledOutputs)
    *compiledOutputs = std::move(outputs);
}

} // namespace

TEST(Numerics, Elementwise) {
  check("x = Input(shape=(5, 7))\ny = param((7,))\n"
        "output x + y, x - y, x * y, maximum(x, y), minimum(x, y), neg(x), abs(x), exp(x),\\\n"
        "  tanh(x), sigmoid(x), relu(x), square(x), x * 2.5 - 1\n");
  check("x = Input(shape=(4, 3))\noutput log(x), sqrt(x), rsqrt(x), x / (x + 1), pow(x, x)\n", 2,
        1e-5, 0.1f, 3.0f);
}

TEST(Numerics, Broadcasting) {
  check("a = Input(shape=(4, 1, 3))\nb = param((5, 1))\noutput a + b, a * param((3,))\n");
}

TEST(Numerics, SoftmaxAndLogSoftmax) {
  check("x = Input(shape=(3, 10))\noutput softmax(x), log_softmax(x), softmax(x, axis=1)\n", 2,
        1e-5, -20, 20);
}

TEST(Numerics, Dense) {
  check("Input(shape=(17,))\nDense(9, activation='relu')\nDense(3, activation='softmax')\n", 5);
  check("Input(shape=(2, 5))\nDense(4)\n", 1); // Dense on the last axis of a rank-3 input
}

TEST(Numerics, MatMulBatched) {
  check("a = Input(shape=(3, 4))\nb = Input(shape=(4, 2))\noutput matmul(a, b), a @ b\n", 2);
}

TEST(Numerics, Conv2D) {
  check("Input(shape=(9, 7, 3))\nConv2D(4, (3, 2))\n", 2);
  check("Input(shape=(9, 7, 3))\nConv2D(5, 3, strides=2, padding='same', activation='tanh')\n", 2);
  check("Input(shape=(8, 8, 2))\nConv2D(3, 1)\n", 1); // 1x1
  check("Input(shape=(7, 6, 1))\nConv2D(2, (3, 3), strides=(2, 1), padding='valid')\n", 3);
  check("Input(shape=(5, 5, 2))\nConv2D(2, 4, padding='same')\n", 1); // even kernel, same
}

TEST(Numerics, Pooling) {
  check("x = Input(shape=(7, 9, 3))\noutput MaxPooling2D()(x), AveragePooling2D()(x)\n", 2);
  check("x = Input(shape=(7, 9, 3))\n"
        "output MaxPooling2D(3, strides=2, padding='same')(x),"
        " AveragePooling2D(3, strides=2, padding='same')(x)\n",
        2);
  check("x = Input(shape=(5, 5, 1))\noutput AveragePooling2D((2, 3), strides=1, padding='same')(x)\n", 1);
}

TEST(Numerics, ShapeOps) {
  check("x = Input(shape=(2, 3, 4))\n"
        "output reshape(x, (-1, 12)), transpose(x, (0, 3, 1, 2)), concat([x, x * 2], axis=2),"
        " Flatten()(x), Reshape((4, 6))(x)\n",
        2);
}

TEST(Numerics, Reductions) {
  check("x = Input(shape=(3, 4))\n"
        "output reduce_sum(x, axis=1), reduce_mean(x, axis=(0, 2), keepdims=True),"
        " reduce_max(x), reduce_min(x, axis=-1)\n",
        2);
}

TEST(Numerics, MergeLayersAndDropout) {
  check("x = Input(shape=(6,))\nh = Dense(6)(x)\nr = Add()([x, h])\n"
        "c = Concatenate()([r, Multiply()([x, h]), Subtract()([x, h])])\noutput Dropout(0.5)(c)\n", 4);
}

TEST(Numerics, SeedExamplesPredict) {
  for (const char *name : {"mnist_cnn", "cifar10_cnn", "cifar10_cnn_logits", "cifar10_mlp",
                           "binary_classifier", "linear_regression"}) {
    auto file = llvm::MemoryBuffer::getFile(std::string(KILN_EXAMPLES_DIR) + "/" + name + ".kiln");
    ASSERT_TRUE(bool(file)) << name;
    SCOPED_TRACE(name);
    // The model's glorot-initialised weights and pixel-like inputs in [0, 1).
    check((*file)->getBuffer().str(), 2, 1e-5, 0.0f, 1.0f, /*initialParams=*/true);
  }
}

// Losses and metrics, written as graphs in MLIR form (the language reaches
// them through compile()); labels and predictions are inputs.
static std::string lossCase(const std::string &op, const std::string &labels,
                            const std::string &preds, const std::string &attrs = "") {
  return "module {\n  func.func @predict(%y: " + labels + " {kiln.name = \"y\"}, %p: " + preds +
         " {kiln.name = \"p\"}) -> tensor<f32> {\n    %0 = kiln." + op + " %y, %p " + attrs +
         " : (" + labels + ", " + preds + ") -> tensor<f32>\n    return %0 : tensor<f32>\n  }\n}\n";
}

TEST(Numerics, LossesAndMetrics) {
  const std::string f = "tensor<?x5xf32>", f1 = "tensor<?x1xf32>", i = "tensor<?xi32>";
  // Probabilities in (0, 1) for the cross-entropies; labels drawn the same way.
  check(lossCase("mean_squared_error", f, f), 4, 1e-5, 0.0f, 1.0f);
  check(lossCase("mean_absolute_error", f, f), 4, 1e-5, 0.0f, 1.0f);
  check(lossCase("binary_crossentropy", f1, f1), 6, 1e-5, 0.0f, 1.0f);
  check(lossCase("binary_crossentropy", f1, f1, "{from_logits = true}"), 6, 1e-5, -4.0f, 4.0f);
  check(lossCase("categorical_crossentropy", f, f), 4, 1e-5, 0.0f, 1.0f);
  check(lossCase("categorical_crossentropy", f, f, "{from_logits = true}"), 4, 1e-5, -3.0f, 3.0f);
  check(lossCase("sparse_categorical_crossentropy", i, f), 7, 1e-5, 0.0f, 5.0f);
  check(lossCase("sparse_categorical_crossentropy", i, f, "{from_logits = true}"), 7, 1e-5, 0.0f, 5.0f);
  check(lossCase("accuracy", i, f, "{kind = \"sparse_categorical\"}"), 9, 1e-6, 0.0f, 5.0f);
  check(lossCase("accuracy", f, f, "{kind = \"categorical\"}"), 9, 1e-6, 0.0f, 1.0f);
  check(lossCase("accuracy", f1, f1, "{kind = \"binary\"}"), 9, 1e-6, 0.0f, 1.0f);
}

//===----------------------------------------------------------------------===//
// Ops of derivative rules and training steps (written as graphs in MLIR form)
//===----------------------------------------------------------------------===//

static std::string tensorOf(const std::vector<int64_t> &shape, const std::string &elem = "f32") {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += (d < 0 ? std::string("?") : std::to_string(d)) + "x";
  return s + elem + ">";
}

static std::string i64s(const std::vector<int64_t> &v) {
  std::string s = "array<i64: ";
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ">";
}

/// A module whose @predict takes `args` ({name, type}; each named after
/// itself), runs `body` and returns `results` ({value, type}).
static std::string graph(const std::vector<std::pair<std::string, std::string>> &args,
                         const std::string &body,
                         const std::vector<std::pair<std::string, std::string>> &results) {
  std::string s = "module {\n  func.func @predict(";
  for (size_t i = 0; i < args.size(); ++i)
    s += (i ? ", %" : "%") + args[i].first + ": " + args[i].second + " {kiln.name = \"" +
         args[i].first + "\"}";
  s += ") -> (";
  std::string values, types;
  for (size_t i = 0; i < results.size(); ++i) {
    values += (i ? ", " : "") + results[i].first;
    types += (i ? ", " : "") + results[i].second;
  }
  return s + types + ") {\n" + body + "    return " + values + " : " + types + "\n  }\n}\n";
}

TEST(Numerics, SignAndComparisons) {
  // relu(x) is 0 on about half the elements: sign(0) and equality get exercised.
  const std::string x = tensorOf({-1, 5, 7}), y = tensorOf({7});
  check(graph({{"x", x}, {"y", y}},
              "    %r = kiln.relu %x : " + x + "\n"
              "    %s = kiln.sign %x : " + x + "\n"
              "    %s0 = kiln.sign %r : " + x + "\n"
              "    %gt = kiln.greater %x, %y : (" + x + ", " + y + ") -> " + x + "\n"
              "    %lt = kiln.greater %y, %x : (" + y + ", " + x + ") -> " + x + "\n"
              "    %ge = kiln.greater_equal %r, %x : (" + x + ", " + x + ") -> " + x + "\n"
              "    %ge0 = kiln.greater_equal %x, %r : (" + x + ", " + x + ") -> " + x + "\n"
              "    %eq = kiln.equal %r, %x : (" + x + ", " + x + ") -> " + x + "\n"
              "    %eqb = kiln.equal %x, %y : (" + x + ", " + y + ") -> " + x + "\n",
              {{"%s", x}, {"%s0", x}, {"%gt", x}, {"%lt", x}, {"%ge", x}, {"%ge0", x},
               {"%eq", x}, {"%eqb", x}}),
        3, 0.0);
}

TEST(Numerics, BroadcastToAndSlice) {
  const std::string a = tensorOf({3, 1, 4}), v = tensorOf({4}), z = tensorOf({5, 6, 7});
  const std::string ab = tensorOf({2, 3, 5, 4}), vb = tensorOf({3, 4}), zs = tensorOf({3, 6, 4}),
                    z1 = tensorOf({1, 1, 7});
  check(graph({{"a", a}, {"v", v}, {"z", z}},
              "    %ab = kiln.broadcast_to %a {shape = " + i64s({2, 3, 5, 4}) + "} : (" + a +
                  ") -> " + ab + "\n"
              "    %vb = kiln.broadcast_to %v {shape = " + i64s({3, 4}) + "} : (" + v + ") -> " + vb + "\n"
              "    %same = kiln.broadcast_to %z {shape = " + i64s({5, 6, 7}) + "} : (" + z + ") -> " + z + "\n"
              "    %zs = kiln.slice %z {start = " + i64s({1, 0, 2}) + ", sizes = " + i64s({3, 6, 4}) +
                  "} : (" + z + ") -> " + zs + "\n"
              "    %zt = kiln.slice %z {start = " + i64s({4, 5, 0}) + ", sizes = " + i64s({1, 1, 7}) +
                  "} : (" + z + ") -> " + z1 + "\n"
              "    %zz = kiln.mul %zs, %zs : (" + zs + ", " + zs + ") -> " + zs + "\n",
              {{"%ab", ab}, {"%vb", vb}, {"%same", z}, {"%zs", zs}, {"%zt", z1}, {"%zz", zs}}),
        3, 0.0);
}

TEST(Numerics, OneHot) {
  // Labels are drawn in [0, 7): 5 and 6 are outside depth 5 and give zero rows.
  const std::string l = tensorOf({-1}, "i32"), l1 = tensorOf({-1, 1}, "i32"),
                    l2 = tensorOf({-1, 3}, "i32");
  const std::string r = tensorOf({-1, 5}), r2 = tensorOf({-1, 3, 5});
  check(graph({{"l", l}, {"l1", l1}, {"l2", l2}},
              "    %a = kiln.one_hot %l {depth = 5} : (" + l + ") -> " + r + "\n"
              "    %b = kiln.one_hot %l1 {depth = 5} : (" + l1 + ") -> " + r + "\n"
              "    %c = kiln.one_hot %l2 {depth = 5} : (" + l2 + ") -> " + r2 + "\n",
              {{"%a", r}, {"%b", r}, {"%c", r2}}),
        11, 0.0, 0.0f, 7.0f);
}

TEST(Numerics, DropoutMask) {
  // Masks take their shape from `like` (a batch-sized one specialised to 3).
  const std::string step = tensorOf({}), big = tensorOf({256, 1024}), small = tensorOf({-1, 5, 7}),
                    one = tensorOf({1});
  auto mask = [&](const std::string &name, const std::string &like, const std::string &type,
                  const std::string &attrs) {
    return "    %" + name + " = kiln.dropout_mask %step, " + like + " {" + attrs + "} : (" + step +
           ", " + type + ") -> " + type + "\n";
  };
  std::string source = graph(
      {{"step", step}, {"big", big}, {"small", small}, {"one", one}},
      mask("m", "%big", big, "rate = 3.000000e-01 : f32, seed = 1234 : i64") +
          mask("s", "%small", small, "rate = 5.000000e-01 : f32, seed = -7 : i64") +
          mask("z", "%small", small, "rate = 0.000000e+00 : f32") +
          // SplitMix64's first output from state 0 is 0xE220A8397B1DCDAF: with
          // seed 1, step 0, element 0 has u = 0xE220A8 / 2^24 = 0.88331.
          mask("k", "%one", one, "rate = 8.800000e-01 : f32, seed = 1 : i64") +
          mask("d", "%one", one, "rate = 8.900000e-01 : f32, seed = 1 : i64"),
      {{"%m", big}, {"%s", small}, {"%z", small}, {"%k", one}, {"%d", one}});
  MLIRContext ctx;
  ctx.loadDialect<KilnDialect, func::FuncDialect>();
  Compiled c;
  compile(ctx, source, 3, c);
  ASSERT_TRUE(c.error.empty()) << c.error << "\n" << source;
  auto func = c.graph->lookupSymbol<func::FuncOp>("predict");
  llvm::StringMap<Tensor> params;
  std::vector<std::vector<float>> masks;
  for (float s : {0.0f, 1.0f, 2.0f, 12345.0f, 16777216.0f}) {
    SCOPED_TRACE("step " + std::to_string(s));
    std::vector<Tensor> inputs{Tensor{{}, {s}}, Tensor{{256, 1024}, std::vector<float>(256 * 1024)},
                               Tensor{{3, 5, 7}, std::vector<float>(3 * 5 * 7)}, Tensor{{1}, {0.0f}}};
    std::vector<Tensor> got = runCompiled(c, inputs, params), want;
    std::string error;
    ASSERT_TRUE(reference::evaluate(func, inputs, params, want, error)) << error;
    ASSERT_EQ(got.size(), want.size());
    for (size_t o = 0; o < got.size(); ++o)
      EXPECT_EQ(got[o].data, want[o].data) << "output " << o << " differs from the reference";
    const float scale = 1.0f / (1.0f - 0.3f);
    int64_t kept = 0;
    for (float v : got[0].data) {
      EXPECT_TRUE(v == 0.0f || v == scale) << v;
      kept += v != 0.0f;
    }
    EXPECT_NEAR(double(kept) / double(got[0].data.size()), 0.7, 0.01);
    for (float v : got[2].data)
      EXPECT_EQ(v, 1.0f); // rate 0 keeps everything, scale 1
    if (s == 0.0f) {
      EXPECT_EQ(got[3].data[0], 1.0f / (1.0f - 0.88f));
      EXPECT_EQ(got[4].data[0], 0.0f);
    }
    masks.push_back(got[0].data);
  }
  for (size_t i = 0; i < masks.size(); ++i)
    for (size_t j = i + 1; j < masks.size(); ++j) {
      int64_t differ = 0;
      for (size_t e = 0; e < masks[i].size(); ++e)
        differ += masks[i][e] != masks[j][e];
      // Independent masks differ with probability 2 * 0.3 * 0.7 = 0.42.
      EXPECT_NEAR(double(differ) / double(masks[i].size()), 0.42, 0.02) << "steps " << i << ", " << j;
    }
}

/// A conv2d or pooling configuration: NHWC input `x`, window, strides, padding.
struct WindowCase {
  std::vector<int64_t> x;
  int64_t kh, kw, sh, sw;
  bool same;
  std::vector<int64_t> out(int64_t channels) const {
    auto size = [&](int64_t in, int64_t k, int64_t s) { return same ? (in + s - 1) / s : (in - k) / s + 1; };
    return {x[0], size(x[1], kh, sh), size(x[2], kw, sw), channels};
  }
  std::string attrs() const {
    return "strides = " + i64s({sh, sw}) + ", padding = \"" + (same ? "same" : "valid") + "\"";
  }
};

static const WindowCase kWindowCases[] = {
    {{2, 7, 6, 3}, 3, 2, 1, 1, false},  // valid, stride 1
    {{2, 9, 7, 3}, 3, 3, 2, 2, true},   // same, stride 2, odd sizes
    {{2, 8, 7, 2}, 2, 4, 2, 2, true},   // same, stride 2, even kernel: odd total padding
    {{1, 5, 5, 2}, 4, 3, 1, 1, true},   // same, stride 1, padding 1 before / 2 after
    {{1, 8, 10, 2}, 3, 2, 2, 3, false}, // valid, strides (2, 3), trailing rows/cols unread
    {{2, 5, 6, 1}, 1, 1, 2, 2, true},   // 1x1 window, stride 2
};

/// Sum of all elements of x * y, appended to `body` as %name.
static std::string innerProduct(const std::string &name, const std::string &x, const std::string &y,
                                const std::string &type) {
  return "    %" + name + "_m = kiln.mul " + x + ", " + y + " : (" + type + ", " + type + ") -> " +
         type + "\n    %" + name + " = kiln.reduce_sum %" + name + "_m : (" + type +
         ") -> tensor<f32>\n";
}

static void expectClose(float a, float b, const std::string &what) {
  EXPECT_LE(std::abs(a - b), 1e-4 * std::max(1.0f, std::abs(a))) << what << ": " << a << " vs " << b;
}

// The backward ops are checked against the interpreter, and both against the
// forward ops through the adjoint identities <conv(x, w), g> = <x, dX(g, w)> =
// <w, dW(x, g)> (and likewise for pooling, where max pooling's routing gives
// <max_pool(x), g> = <x, dX(x, g)>).
TEST(Numerics, Conv2DBackprop) {
  for (const WindowCase &wc : kWindowCases) {
    const int64_t filters = 4;
    std::vector<int64_t> ks{wc.kh, wc.kw, wc.x[3], filters};
    const std::string X = tensorOf(wc.x), Wt = tensorOf(ks), G = tensorOf(wc.out(filters)),
                      f = "tensor<f32>";
    std::string source = graph(
        {{"x", X}, {"w", Wt}, {"g", G}},
        "    %y = kiln.conv2d %x, %w {" + wc.attrs() + "} : (" + X + ", " + Wt + ") -> " + G + "\n"
        "    %dx = kiln.conv2d_backprop_input %g, %w {input_shape = " + i64s(wc.x) + ", " +
            wc.attrs() + "} : (" + G + ", " + Wt + ") -> " + X + "\n"
        "    %dw = kiln.conv2d_backprop_filter %x, %g {kernel_shape = " + i64s(ks) + ", " +
            wc.attrs() + "} : (" + X + ", " + G + ") -> " + Wt + "\n" +
            innerProduct("yg", "%y", "%g", G) + innerProduct("xdx", "%x", "%dx", X) +
            innerProduct("wdw", "%w", "%dw", Wt),
        {{"%dx", X}, {"%dw", Wt}, {"%yg", f}, {"%xdx", f}, {"%wdw", f}});
    SCOPED_TRACE(source);
    std::vector<Tensor> out;
    check(source, 1, 1e-5, -1, 1, false, &out);
    ASSERT_EQ(out.size(), 5u);
    expectClose(out[2].data[0], out[3].data[0], "<conv(x, w), g> vs <x, dX>");
    expectClose(out[2].data[0], out[4].data[0], "<conv(x, w), g> vs <w, dW>");
  }
}

TEST(Numerics, Pool2DGrad) {
  for (const WindowCase &wc : kWindowCases)
    for (bool ties : {false, true}) { // relu(x): windows of zeros, the first one takes it
      const std::string X = tensorOf(wc.x), G = tensorOf(wc.out(wc.x[3])), f = "tensor<f32>";
      std::string pool = "pool_size = " + i64s({wc.kh, wc.kw}) + ", " + wc.attrs();
      std::string source = graph(
          {{"xin", X}, {"g", G}},
          std::string(ties ? "    %x = kiln.relu %xin : " + X + "\n"
                           : "    %x = kiln.add %xin, %xin : (" + X + ", " + X + ") -> " + X + "\n") +
          "    %p = kiln.max_pool2d %x {" + pool + "} : (" + X + ") -> " + G + "\n"
          "    %dxm = kiln.max_pool2d_grad %x, %g {" + pool + "} : (" + X + ", " + G + ") -> " + X + "\n"
          "    %q = kiln.avg_pool2d %x {" + pool + "} : (" + X + ") -> " + G + "\n"
          "    %dxa = kiln.avg_pool2d_grad %g {input_shape = " + i64s(wc.x) + ", " + pool +
              "} : (" + G + ") -> " + X + "\n" +
              innerProduct("pg", "%p", "%g", G) + innerProduct("xdxm", "%x", "%dxm", X) +
              innerProduct("qg", "%q", "%g", G) + innerProduct("xdxa", "%x", "%dxa", X),
          {{"%dxm", X}, {"%dxa", X}, {"%pg", f}, {"%xdxm", f}, {"%qg", f}, {"%xdxa", f}});
      SCOPED_TRACE(source);
      std::vector<Tensor> out;
      check(source, 1, 1e-5, -1, 1, false, &out);
      ASSERT_EQ(out.size(), 6u);
      expectClose(out[2].data[0], out[3].data[0], "<max_pool(x), g> vs <x, dX>");
      expectClose(out[4].data[0], out[5].data[0], "<avg_pool(x), g> vs <x, dX>");
    }
}
