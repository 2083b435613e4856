//===- GradientTest.cpp - compiled gradients vs finite differences --------===//
//
// Every differentiable op, and every example model, is differentiated by
// Kiln (kiln-generate-gradients, compiled to native code) and checked against
// central finite differences of the same loss evaluated by the reference
// interpreter (test/reference: plain loops in double precision, sharing no
// code with Kiln's codegen or derivative rules). Training steps are checked
// to lower the loss on a fixed batch, and XOR is learnt.
//
//===----------------------------------------------------------------------===//
#include "CompiledModel.h"
#include "ir/KilnOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include <gtest/gtest.h>
#include <cmath>

using namespace mlir;
using namespace kiln;
using reference::Tensor;

namespace {

struct Arg {
  std::string name, type; // "%x", "tensor<3x4xf32>"
  std::vector<int64_t> shape;
  float lo = -1, hi = 1;
  bool wrt = true;
};

Arg arg(std::string name, std::vector<int64_t> shape, float lo = -1, float hi = 1, bool wrt = true) {
  std::string type = "tensor<";
  for (int64_t d : shape)
    type += std::to_string(d) + "x";
  type += "f32>";
  return Arg{std::move(name), type, std::move(shape), lo, hi, wrt};
}

/// Loss of a case: L = sum(y * r) for a fixed random r, so every element of
/// the op's result y gets a distinct weight.
struct Case {
  std::vector<Arg> args;
  std::string body;  // defines %y
  Arg result;        // %y's type (name unused)
  bool kinks = false; // relu/abs/max-like: a few coordinates may straddle a kink
};

std::string signature(const Case &c) {
  std::string s;
  for (const Arg &a : c.args)
    s += a.name + ": " + a.type + ", ";
  return s + "%r: " + c.result.type;
}

std::string moduleText(const Case &c) {
  std::string y = c.result.type;
  std::string lossBody = c.body + "\n    %m = kiln.mul %y, %r : (" + y + ", " + y + ") -> " + y +
                         "\n    %l = kiln.reduce_sum %m : (" + y + ") -> tensor<f32>\n";
  std::string wrt, types, results, resultTypes;
  int k = 0;
  for (const Arg &a : c.args)
    if (a.wrt) {
      wrt += (k ? ", " : "") + a.name;
      types += ", " + a.type;
      results += ", %g#" + std::to_string(k);
      resultTypes += (k ? ", " : "") + a.type;
      ++k;
    }
  std::string gradResults = k == 1 ? "%g" : "%g:" + std::to_string(k);
  std::string text = "module {\n  func.func @loss(" + signature(c) + ") -> tensor<f32> {\n" + lossBody +
                     "    return %l : tensor<f32>\n  }\n";
  text += "  func.func @grads(" + signature(c) + ") -> (tensor<f32>, " + resultTypes + ") {\n" +
          lossBody + "    " + gradResults + " = kiln.gradient %l wrt " + wrt + " : (tensor<f32>" +
          types + ") -> (" + resultTypes + ")\n    return %l" +
          (k == 1 ? std::string(", %g") : results) + " : tensor<f32>, " + resultTypes + "\n  }\n}\n";
  return text;
}

/// The loss and the hash of its branch decisions (Interpreter.h).
struct Loss {
  double value;
  uint64_t branches;
};

Loss evalLoss(func::FuncOp f, const std::vector<Tensor> &inputs, const llvm::StringMap<Tensor> &params) {
  std::vector<Tensor> out;
  std::string error;
  uint64_t branches = 0;
  if (!reference::evaluate(f, inputs, params, out, error, &branches)) {
    ADD_FAILURE() << error;
    return {NAN, 0};
  }
  return {out.at(0).data.at(0), branches};
}

struct FdStats {
  int checked = 0, bad = 0, rough = 0; // rough: a kink between the sample points
};

bool close(double a, double b) { return std::abs(a - b) <= 2e-2 * std::max(std::abs(a), std::abs(b)) + 2e-3; }

/// Compares analytic gradient `g` of input/parameter `x` with central
/// differences of `loss` at up to `samples` coordinates (all when fewer).
/// Where a ReLU, max or |x| changes branch between x - h and x + h (the
/// interpreter's branch hash differs), no finite difference measures the
/// derivative: such a coordinate is counted as rough instead of compared.
void compareWithFiniteDifferences(const std::string &what, Tensor &x, const Tensor &g,
                                  const std::function<Loss()> &loss, int samples, std::mt19937 &rng,
                                  FdStats &stats) {
  std::vector<int64_t> coords;
  for (int64_t i = 0; i < x.size(); ++i)
    coords.push_back(i);
  if (int64_t(coords.size()) > samples) {
    std::shuffle(coords.begin(), coords.end(), rng);
    coords.resize(samples);
  }
  uint64_t here = loss().branches;
  for (int64_t i : coords) {
    float saved = x.data[i], h = 3e-4f * std::max(1.0f, std::abs(saved));
    x.data[i] = saved + h;
    float up = x.data[i];
    Loss lp = loss();
    x.data[i] = saved - h;
    float down = x.data[i];
    Loss lm = loss();
    x.data[i] = saved;
    double numeric = (lp.value - lm.value) / (double(up) - double(down));
    double analytic = g.data[i];
    ++stats.checked;
    if (lp.branches != here || lm.branches != here) {
      ++stats.rough;
      continue;
    }
    if (!close(analytic, numeric) && ++stats.bad <= 3)
      ADD_FAILURE_AT(__FILE__, __LINE__) << what << "[" << i << "]: compiled gradient " << analytic
                                         << ", finite difference " << numeric;
  }
}

void checkCase(const Case &k) {
  SCOPED_TRACE(k.body);
  MLIRContext ctx;
  ctx.loadDialect<KilnDialect, func::FuncDialect>();
  test::Compiled c;
  std::string text = moduleText(k);
  test::compile(ctx, text, /*batch=*/1, c, /*training=*/false);
  ASSERT_TRUE(c.error.empty()) << c.error << "\n" << text;

  std::mt19937 rng(11);
  std::vector<Tensor> inputs;
  for (const Arg &a : k.args)
    inputs.push_back(test::randomTensor(a.shape, rng, a.lo, a.hi));
  inputs.push_back(test::randomTensor(k.result.shape, rng, -1, 1));
  llvm::StringMap<Tensor> params;
  std::vector<Tensor> out = test::runCompiled(c, inputs, params, "grads");
  ASSERT_FALSE(out.empty());

  auto lossFn = c.graph->lookupSymbol<func::FuncOp>("loss");
  double base = evalLoss(lossFn, inputs, params).value;
  EXPECT_NEAR(out[0].data[0], base, 1e-4 * std::max(1.0, std::abs(base))) << "loss";
  FdStats stats;
  int g = 1;
  for (size_t i = 0; i < k.args.size(); ++i)
    if (k.args[i].wrt)
      compareWithFiniteDifferences(k.args[i].name, inputs[i], out[g++],
                                   [&] { return evalLoss(lossFn, inputs, params); }, 64, rng, stats);
  EXPECT_EQ(stats.bad, 0) << "of " << stats.checked << " coordinates";
  // Most sampled coordinates must be away from kinks, or the test says little.
  EXPECT_LE(stats.rough, k.kinks ? std::max(1, stats.checked / 2) : 0) << "of " << stats.checked;
}

std::string unary(const std::string &op, const std::string &t) {
  return "    %y = kiln." + op + " %x : " + t;
}
std::string binary(const std::string &op, const Arg &a, const Arg &b, const Arg &y) {
  return "    %y = kiln." + op + " %a, %b : (" + a.type + ", " + b.type + ") -> " + y.type;
}

TEST(Gradients, ElementwiseUnary) {
  Arg x = arg("%x", {3, 4});
  Arg pos = arg("%x", {3, 4}, 0.2f, 2.0f);
  for (const char *op : {"neg", "exp", "square", "tanh", "sigmoid"})
    checkCase(Case{{x}, unary(op, x.type), x});
  for (const char *op : {"log", "sqrt", "rsqrt"})
    checkCase(Case{{pos}, unary(op, x.type), x});
  for (const char *op : {"abs", "relu"})
    checkCase(Case{{x}, unary(op, x.type), x, /*kinks=*/true});
  checkCase(Case{{x}, "    %y = kiln.dropout %x {rate = 0.5 : f32} : " + x.type, x});
}

TEST(Gradients, ElementwiseBinaryWithBroadcasting) {
  Arg a = arg("%a", {2, 3, 4}), b = arg("%b", {3, 1}), y = arg("%y", {2, 3, 4});
  for (const char *op : {"add", "sub", "mul"})
    checkCase(Case{{a, b}, binary(op, a, b, y), y});
  Arg bpos = arg("%b", {3, 1}, 0.5f, 2.0f);
  checkCase(Case{{a, bpos}, binary("div", a, bpos, y), y});
  for (const char *op : {"max", "min"})
    checkCase(Case{{a, b}, binary(op, a, b, y), y, /*kinks=*/true});
  Arg base = arg("%a", {2, 3, 4}, 0.5f, 2.0f), e = arg("%b", {4}, -1.5f, 1.5f);
  checkCase(Case{{base, e}, binary("pow", base, e, y), y});
  Arg s = arg("%b", {});
  checkCase(Case{{a, s}, binary("mul", a, s, y), y}); // a scalar operand
  Arg small = arg("%x", {3, 1});
  checkCase(Case{{small}, "    %y = kiln.broadcast_to %x {shape = array<i64: 2, 3, 4>} : (" + small.type +
                              ") -> " + y.type,
                 y});
}

TEST(Gradients, Softmax) {
  Arg x = arg("%x", {3, 5}, -2, 2);
  checkCase(Case{{x}, "    %y = kiln.softmax %x : " + x.type, x});
  checkCase(Case{{x}, "    %y = kiln.log_softmax %x : " + x.type, x});
  Arg x3 = arg("%x", {2, 3, 4}, -2, 2);
  checkCase(Case{{x3}, "    %y = kiln.softmax %x {axis = 1 : i64} : " + x3.type, x3});
}

TEST(Gradients, MatMul) {
  Arg a = arg("%a", {4, 3}), b = arg("%b", {3, 5}), y = arg("%y", {4, 5});
  checkCase(Case{{a, b}, binary("matmul", a, b, y), y});
  Arg a3 = arg("%a", {2, 4, 3}), y3 = arg("%y", {2, 4, 5});
  checkCase(Case{{a3, b}, binary("matmul", a3, b, y3), y3}); // shared rhs
  Arg b3 = arg("%b", {2, 3, 5});
  checkCase(Case{{a3, b3}, binary("matmul", a3, b3, y3), y3}); // batched
}

TEST(Gradients, Conv2D) {
  struct Conv {
    std::vector<int64_t> x, w, y;
    std::string attrs;
  };
  for (const Conv &cv : {Conv{{2, 5, 5, 2}, {3, 3, 2, 3}, {2, 3, 3, 3}, ""},
                         Conv{{1, 6, 5, 2}, {3, 3, 2, 2}, {1, 6, 5, 2}, "{padding = \"same\"}"},
                         Conv{{1, 7, 6, 1}, {2, 3, 1, 2}, {1, 4, 3, 2},
                              "{padding = \"same\", strides = array<i64: 2, 2>}"},
                         Conv{{1, 7, 8, 2}, {3, 2, 2, 2}, {1, 3, 3, 2},
                              "{strides = array<i64: 2, 3>}"}}) {
    Arg x = arg("%a", cv.x), w = arg("%b", cv.w), y = arg("%y", cv.y);
    checkCase(Case{{x, w},
                   "    %y = kiln.conv2d %a, %b " + cv.attrs + " : (" + x.type + ", " + w.type + ") -> " + y.type,
                   y});
  }
}

TEST(Gradients, Pooling) {
  struct Pool {
    std::vector<int64_t> x, y;
    std::string attrs;
  };
  for (const Pool &p :
       {Pool{{2, 4, 4, 2}, {2, 2, 2, 2}, "pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>"},
        Pool{{1, 5, 5, 2}, {1, 3, 3, 2},
             "pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = \"same\""},
        Pool{{1, 5, 6, 1}, {1, 3, 5, 1}, "pool_size = array<i64: 3, 2>, strides = array<i64: 1, 1>"}}) {
    Arg x = arg("%x", p.x), y = arg("%y", p.y);
    for (const char *op : {"max_pool2d", "avg_pool2d"})
      checkCase(Case{{x},
                     std::string("    %y = kiln.") + op + " %x {" + p.attrs + "} : (" + x.type + ") -> " + y.type,
                     y, /*kinks=*/std::string(op) == "max_pool2d"});
  }
}

// A CNN block as the examples stack it: conv, bias, relu, max-pool of an odd
// size, batch of 2.
TEST(Gradients, ConvBiasReluPoolBlock) {
  Arg x = arg("%x", {2, 13, 13, 3}, 0, 1, /*wrt=*/false), w = arg("%w", {3, 3, 3, 4}, -0.3f, 0.3f);
  Arg b = arg("%b", {4}, -0.1f, 0.1f), y = arg("%y", {2, 5, 5, 4});
  std::string body = "    %c = kiln.conv2d %x, %w : (" + x.type + ", " + w.type + ") -> tensor<2x11x11x4xf32>\n"
                     "    %a = kiln.add %c, %b : (tensor<2x11x11x4xf32>, " + b.type + ") -> tensor<2x11x11x4xf32>\n"
                     "    %r0 = kiln.relu %a : tensor<2x11x11x4xf32>\n"
                     "    %y = kiln.max_pool2d %r0 {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<2x11x11x4xf32>) -> " + y.type;
  checkCase(Case{{x, w, b}, body, y, /*kinks=*/true});
}

TEST(Gradients, ShapeOps) {
  Arg x = arg("%x", {2, 3, 4});
  Arg r = arg("%y", {6, 4});
  checkCase(Case{{x}, "    %y = kiln.reshape %x {shape = array<i64: 6, 4>} : (" + x.type + ") -> " + r.type, r});
  Arg t = arg("%y", {4, 2, 3});
  checkCase(Case{{x}, "    %y = kiln.transpose %x {perm = array<i64: 2, 0, 1>} : (" + x.type + ") -> " + t.type, t});
  Arg s = arg("%y", {1, 2, 3});
  checkCase(Case{{x},
                 "    %y = kiln.slice %x {start = array<i64: 1, 1, 0>, sizes = array<i64: 1, 2, 3>} : (" +
                     x.type + ") -> " + s.type,
                 s});
  Arg a = arg("%a", {2, 3}), b = arg("%b", {2, 5}), c = arg("%y", {2, 8});
  checkCase(Case{{a, b},
                 "    %y = kiln.concat %a, %b {axis = 1 : i64} : (" + a.type + ", " + b.type + ") -> " + c.type,
                 c});
}

TEST(Gradients, Reductions) {
  Arg x = arg("%x", {2, 3, 4});
  Arg y1 = arg("%y", {2, 4}), yk = arg("%y", {2, 1, 4}), y0 = arg("%y", {});
  for (const char *op : {"reduce_sum", "reduce_mean", "reduce_max", "reduce_min"}) {
    bool kinks = std::string(op) == "reduce_max" || std::string(op) == "reduce_min";
    checkCase(Case{{x}, std::string("    %y = kiln.") + op + " %x {axes = array<i64: 1>} : (" + x.type + ") -> " + y1.type, y1, kinks});
    checkCase(Case{{x}, std::string("    %y = kiln.") + op + " %x {axes = array<i64: -2>, keepdims = true} : (" + x.type + ") -> " + yk.type, yk, kinks});
    checkCase(Case{{x}, std::string("    %y = kiln.") + op + " %x : (" + x.type + ") -> " + y0.type, y0, kinks});
  }
}

TEST(Gradients, Losses) {
  Arg p = arg("%p", {4, 3}, 0.05f, 0.95f), z = arg("%p", {4, 3}, -3, 3);
  Arg y = arg("%t", {4, 3}, 0, 1, /*wrt=*/false);
  Arg s = arg("%y", {});
  auto loss = [&](const std::string &op, const Arg &pred, const std::string &attrs) {
    return "    %y = kiln." + op + " %t, %p " + attrs + " : (" + y.type + ", " + pred.type + ") -> tensor<f32>";
  };
  checkCase(Case{{y, z}, loss("mean_squared_error", z, ""), s});
  checkCase(Case{{y, z}, loss("mean_absolute_error", z, ""), s, /*kinks=*/true});
  checkCase(Case{{y, p}, loss("binary_crossentropy", p, ""), s});
  checkCase(Case{{y, z}, loss("binary_crossentropy", z, "{from_logits = true}"), s});
  checkCase(Case{{y, p}, loss("categorical_crossentropy", p, ""), s}); // normalised by Keras first
  checkCase(Case{{y, z}, loss("categorical_crossentropy", z, "{from_logits = true}"), s});
}

/// Sparse labels are i32: a case of its own (the generic one has f32 inputs).
TEST(Gradients, SparseCategoricalCrossentropy) {
  for (const char *attrs : {"", "{from_logits = true}"}) {
    std::string text = std::string("module {\n  func.func @predict(%p: tensor<4x3xf32>, %t: tensor<4xi32>) -> (tensor<f32>, tensor<4x3xf32>) {\n") +
                       "    %l = kiln.sparse_categorical_crossentropy %t, %p " + attrs +
                       " : (tensor<4xi32>, tensor<4x3xf32>) -> tensor<f32>\n" +
                       "    %g = kiln.gradient %l wrt %p : (tensor<f32>, tensor<4x3xf32>) -> tensor<4x3xf32>\n" +
                       "    return %l, %g : tensor<f32>, tensor<4x3xf32>\n  }\n" +
                       "  func.func @loss(%p: tensor<4x3xf32>, %t: tensor<4xi32>) -> tensor<f32> {\n" +
                       "    %l = kiln.sparse_categorical_crossentropy %t, %p " + attrs +
                       " : (tensor<4xi32>, tensor<4x3xf32>) -> tensor<f32>\n    return %l : tensor<f32>\n  }\n}\n";
    MLIRContext ctx;
    ctx.loadDialect<KilnDialect, func::FuncDialect>();
    test::Compiled c;
    test::compile(ctx, text, 1, c);
    ASSERT_TRUE(c.error.empty()) << c.error;
    std::mt19937 rng(5);
    std::vector<Tensor> inputs{test::randomTensor({4, 3}, rng, 0.05f, 0.95f), Tensor{{4}, {0, 2, 1, 2}}};
    llvm::StringMap<Tensor> params;
    std::vector<Tensor> out = test::runCompiled(c, inputs, params, "predict");
    ASSERT_EQ(out.size(), 2u);
    auto lossFn = c.graph->lookupSymbol<func::FuncOp>("loss");
    FdStats stats;
    compareWithFiniteDifferences("predictions", inputs[0], out[1],
                                 [&] { return evalLoss(lossFn, inputs, params); }, 12, rng, stats);
    EXPECT_EQ(stats.bad + stats.rough, 0);
  }
}

//===----------------------------------------------------------------------===//
// Whole models: the examples' gradients entry, train_step
//===----------------------------------------------------------------------===//

class ExampleGradients : public ::testing::TestWithParam<const char *> {};

TEST_P(ExampleGradients, MatchFiniteDifferencesOfTheReferenceLoss) {
  test::ModelRun run(test::readExample(GetParam()), /*batch=*/2);
  ASSERT_TRUE(run.c.error.empty()) << run.c.error;
  std::vector<Tensor> out = test::runCompiled(run.c, run.inputs, run.params, "gradients");
  const EntrySignature *e = run.c.signature("gradients");
  ASSERT_EQ(out.size(), e->outputs.size());
  // The reference loss is eval_step's (same loss and penalties; no dropout
  // in these models), evaluated by the interpreter.
  auto evalStep = run.c.graph->lookupSymbol<func::FuncOp>("eval_step");
  ASSERT_TRUE(evalStep);
  auto loss = [&] { return evalLoss(evalStep, run.inputs, run.params); };
  double base = loss().value;
  EXPECT_NEAR(out[0].data[0], base, 1e-4 * std::max(1.0, std::abs(base)));
  std::mt19937 rng(17);
  FdStats stats;
  for (size_t i = 1; i < out.size(); ++i) {
    const std::string &name = e->outputs[i].name;
    ASSERT_TRUE(run.params.count(name)) << name;
    compareWithFiniteDifferences(name, run.params[name], out[i], loss, 6, rng, stats);
  }
  EXPECT_EQ(stats.bad, 0) << "of " << stats.checked << " coordinates";
  // Most coordinates must be smooth enough to check.
  EXPECT_LE(stats.rough, stats.checked / 2) << "of " << stats.checked << " coordinates";
  std::printf("%s: %d coordinates checked, %d rough (a kink within the step)\n", GetParam(), stats.checked,
              stats.rough);
}

TEST_P(ExampleGradients, TrainStepLowersTheLossOnAFixedBatch) {
  test::ModelRun run(test::readExample(GetParam()), /*batch=*/8);
  ASSERT_TRUE(run.c.error.empty()) << run.c.error;
  std::vector<double> losses;
  for (int step = 0; step < 12; ++step) {
    std::vector<Tensor> out = test::runCompiled(run.c, run.inputs, run.params, "train_step");
    ASSERT_FALSE(out.empty());
    losses.push_back(out[0].data[0]);
    ASSERT_TRUE(std::isfinite(losses.back()));
  }
  EXPECT_LT(losses.back(), losses.front()) << "losses: " << llvm::join(llvm::map_range(losses, [](double l) { return std::to_string(l); }), ", ");
  EXPECT_EQ(run.params["optimizer/iterations"].data[0], 12.0f);
  // eval_step reports the loss of the trained parameters without changing them.
  Tensor kernelBefore = run.params.begin()->second;
  std::vector<Tensor> eval = test::runCompiled(run.c, run.inputs, run.params, "eval_step");
  ASSERT_FALSE(eval.empty());
  EXPECT_LT(eval[0].data[0], losses.front());
  EXPECT_EQ(run.params.begin()->second.data, kernelBefore.data);
}

INSTANTIATE_TEST_SUITE_P(Examples, ExampleGradients,
                         ::testing::ValuesIn(test::kExampleFiles),
                         [](const auto &info) { return test::exampleTestName(info.param); });

/// A final partial batch is padded to the compiled batch size and `samples`
/// says how many rows are real: the step must equal one on exactly those rows.
TEST_P(ExampleGradients, PaddedPartialBatchEqualsTheSmallerBatch) {
  constexpr int64_t kFull = 6, kReal = 4;
  test::ModelRun full(test::readExample(GetParam()), kFull), small(test::readExample(GetParam()), kReal);
  ASSERT_TRUE(full.c.error.empty() && small.c.error.empty()) << full.c.error << small.c.error;
  // small's batch: the first kReal rows of full's; full's padding rows stay
  // random, as a loader's leftover buffer contents would be.
  for (int k = 0; k < 2; ++k) {
    Tensor &t = small.inputs[k];
    int64_t perRow = t.size() / kReal;
    std::copy(full.inputs[k].data.begin(), full.inputs[k].data.begin() + kReal * perRow, t.data.begin());
  }
  full.inputs[2].data[0] = kReal;
  std::vector<Tensor> gFull = test::runCompiled(full.c, full.inputs, full.params, "gradients");
  std::vector<Tensor> gSmall = test::runCompiled(small.c, small.inputs, small.params, "gradients");
  ASSERT_EQ(gFull.size(), gSmall.size());
  for (size_t i = 0; i < gFull.size(); ++i)
    EXPECT_LT(reference::worstError(gFull[i], gSmall[i]), 1e-5) << "output " << i;
  std::vector<Tensor> eFull = test::runCompiled(full.c, full.inputs, full.params, "eval_step");
  std::vector<Tensor> eSmall = test::runCompiled(small.c, small.inputs, small.params, "eval_step");
  for (size_t i = 0; i < eFull.size(); ++i)
    EXPECT_NEAR(eFull[i].data[0], eSmall[i].data[0], 1e-5) << "eval_step output " << i;
  test::runCompiled(full.c, full.inputs, full.params, "train_step");
  test::runCompiled(small.c, small.inputs, small.params, "train_step");
  for (const ParameterValue &p : full.c.contents.params)
    EXPECT_LT(reference::worstError(full.params[p.name], small.params[p.name]), 1e-5) << p.name;
}

TEST(Training, XorIsLearnt) {
  test::ModelRun run(test::readExample("xor.kiln"), /*batch=*/4);
  ASSERT_TRUE(run.c.error.empty()) << run.c.error;
  run.inputs[0] = Tensor{{4, 2}, {0, 0, 0, 1, 1, 0, 1, 1}};
  run.inputs[1] = Tensor{{4, 1}, {0, 1, 1, 0}};
  double loss = 0;
  for (int step = 0; step < 3000; ++step)
    loss = test::runCompiled(run.c, run.inputs, run.params, "train_step")[0].data[0];
  EXPECT_LT(loss, 0.02);
  std::vector<Tensor> y = test::runCompiled(run.c, {run.inputs[0]}, run.params, "predict");
  ASSERT_FALSE(y.empty());
  EXPECT_LT(y[0].data[0], 0.5);
  EXPECT_GT(y[0].data[1], 0.5);
  EXPECT_GT(y[0].data[2], 0.5);
  EXPECT_LT(y[0].data[3], 0.5);
}

//===----------------------------------------------------------------------===//
// Optimizer trajectories against an independent Keras-semantics reference
//===----------------------------------------------------------------------===//

void writeRaw(const std::string &path, const void *data, size_t bytes) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_TRUE(f) << path;
  std::fwrite(data, 1, bytes, f);
  std::fclose(f);
}

std::vector<float> readRaw(const std::string &path, size_t count) {
  std::vector<float> v(count, NAN);
  if (std::FILE *f = std::fopen(path.c_str(), "rb")) {
    size_t got = std::fread(v.data(), sizeof(float), count, f);
    (void)got;
    std::fclose(f);
  }
  return v;
}

/// Trains the MNIST CNN for a few steps with `optimizer` (Kiln syntax) and
/// compares every parameter with test/reference/keras_reference.py run from
/// the same initial values and batches.
void checkTrajectory(const std::string &optimizer, const std::string &referenceArgs) {
  if (std::system(KILN_PYTHON3 " -c 'import numpy' 2>/dev/null") != 0)
    GTEST_SKIP() << KILN_PYTHON3 << " has no numpy, which the reference needs (scripts/setup.sh installs python3-numpy)";
  std::string source = test::readExample("mnist_cnn.kiln");
  size_t at = source.find("optimizer=Adam()");
  ASSERT_NE(at, std::string::npos);
  source.replace(at, strlen("optimizer=Adam()"), "optimizer=" + optimizer);
  constexpr int64_t kBatch = 8;
  constexpr int kSteps = 6, kBatches = 3;
  test::ModelRun run(source, kBatch);
  ASSERT_TRUE(run.c.error.empty()) << run.c.error;

  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("kiln-trajectory", dir));
  std::string d = dir.str().str();
  std::string manifest;
  std::vector<std::string> names;
  for (const ParameterValue &p : run.c.contents.params) {
    if (p.state)
      continue;
    std::string dims;
    for (int64_t x : p.shape)
      dims += (dims.empty() ? "" : ",") + std::to_string(x);
    manifest += "param " + p.name + " " + dims + "\n";
    writeRaw(d + "/param_" + std::to_string(names.size()) + ".bin", p.values.data(), p.values.size() * 4);
    names.push_back(p.name);
  }
  manifest += "batch " + std::to_string(kBatch) + "\nsteps " + std::to_string(kSteps) + "\nbatches " +
              std::to_string(kBatches) + "\n";
  writeRaw(d + "/manifest.txt", manifest.data(), manifest.size());
  std::mt19937 rng(99);
  std::vector<std::vector<Tensor>> batches;
  for (int k = 0; k < kBatches; ++k) {
    Tensor x = test::randomTensor({kBatch, 28, 28, 1}, rng, 0, 1);
    Tensor y{{kBatch}, {}};
    std::vector<int32_t> labels;
    for (int64_t i = 0; i < kBatch; ++i) {
      labels.push_back(int32_t(rng() % 10));
      y.data.push_back(float(labels.back()));
    }
    writeRaw(d + "/x_" + std::to_string(k) + ".bin", x.data.data(), x.data.size() * 4);
    writeRaw(d + "/y_" + std::to_string(k) + ".bin", labels.data(), labels.size() * 4);
    batches.push_back({x, y, Tensor{{}, {float(kBatch)}}}); // input, labels, samples
  }
  std::vector<double> losses;
  for (int s = 0; s < kSteps; ++s) {
    std::vector<Tensor> out = test::runCompiled(run.c, batches[s % kBatches], run.params, "train_step");
    ASSERT_FALSE(out.empty());
    losses.push_back(out[0].data[0]);
  }

  std::string cmd = KILN_PYTHON3 " " + std::string(KILN_SOURCE_DIR) + "/test/reference/keras_reference.py " + d + " " +
                    referenceArgs;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto refLosses = llvm::MemoryBuffer::getFile(d + "/losses.txt");
  ASSERT_TRUE(refLosses);
  llvm::SmallVector<llvm::StringRef> lines;
  (*refLosses)->getBuffer().trim().split(lines, '\n');
  ASSERT_EQ(lines.size(), size_t(kSteps));
  for (int s = 0; s < kSteps; ++s) {
    double want = 0;
    lines[s].getAsDouble(want);
    EXPECT_NEAR(losses[s], want, 1e-4 * std::max(1.0, want)) << "loss of step " << s;
  }
  double worst = 0;
  std::string worstName;
  for (size_t i = 0; i < names.size(); ++i) {
    const Tensor &got = run.params[names[i]];
    std::vector<float> want = readRaw(d + "/final_" + std::to_string(i) + ".bin", got.data.size());
    // Compared relative to how far the parameter moved, so that the check
    // is as strict for a small learning rate as for a large one.
    const std::vector<float> &initial = [&]() -> const std::vector<float> & {
      for (const ParameterValue &p : run.c.contents.params)
        if (p.name == names[i])
          return p.values;
      return got.data;
    }();
    double moved = 0, diff = 0;
    for (size_t j = 0; j < want.size(); ++j) {
      moved = std::max(moved, std::abs(double(want[j]) - initial[j]));
      diff = std::max(diff, std::abs(double(got.data[j]) - want[j]));
    }
    double rel = diff / std::max(moved, 1e-12);
    if (rel > worst)
      worst = rel, worstName = names[i];
    EXPECT_LT(rel, 2e-3) << names[i] << ": differs by " << diff << " after moving " << moved;
  }
  std::printf("%s: worst parameter %s, max difference %.2g of its movement\n", optimizer.c_str(),
              worstName.c_str(), worst);
  llvm::sys::fs::remove_directories(d);
}

TEST(Trajectory, MnistCnnAdamMatchesKerasReference) { checkTrajectory("Adam()", "adam"); }

TEST(Trajectory, MnistCnnSgdMomentumMatchesKerasReference) {
  checkTrajectory("SGD(learning_rate=0.05, momentum=0.9)", "sgd learning_rate=0.05 momentum=0.9");
}

TEST(Trajectory, MnistCnnSgdNesterovMatchesKerasReference) {
  checkTrajectory("SGD(learning_rate=0.05, momentum=0.9, nesterov=True)",
                  "sgd learning_rate=0.05 momentum=0.9 nesterov=true");
}

TEST(Trajectory, MnistCnnAdamWMatchesKerasReference) { checkTrajectory("AdamW()", "adamw"); }

TEST(Trajectory, MnistCnnRmspropMatchesKerasReference) { checkTrajectory("RMSprop()", "rmsprop"); }

TEST(Trajectory, MnistCnnCenteredRmspropWithMomentumMatchesKerasReference) {
  checkTrajectory("RMSprop(momentum=0.5, centered=True)", "rmsprop momentum=0.5 centered=true");
}

/// Dropout and L1/L2 penalties: the training-mode loss (the gradients entry,
/// dropout masks included, which the interpreter reproduces bit for bit) is
/// differentiated by finite differences.
TEST(Gradients, DropoutAndRegularizers) {
  const char *source = R"(model regularized
Input(shape=(6,))
Dense(8, activation="tanh", kernel_regularizer=L1L2(l1=0.01, l2=0.02), bias_regularizer="l2")
Dropout(0.4)
Dense(3, activation="softmax", kernel_regularizer=L1(0.05))
compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
)";
  test::ModelRun run(source, /*batch=*/4);
  ASSERT_TRUE(run.c.error.empty()) << run.c.error;
  run.params["optimizer/iterations"].data[0] = 5; // any step: a mask of its own
  std::vector<Tensor> out = test::runCompiled(run.c, run.inputs, run.params, "gradients");
  const EntrySignature *e = run.c.signature("gradients");
  ASSERT_EQ(out.size(), e->outputs.size());
  auto gradients = run.c.graph->lookupSymbol<func::FuncOp>("gradients");
  auto loss = [&] { return evalLoss(gradients, run.inputs, run.params); };
  EXPECT_NEAR(out[0].data[0], loss().value, 1e-5);
  // The penalties are part of the loss: eval_step (no dropout) differs from
  // the bare cross-entropy by exactly sum(l1 |w|) + sum(l2 w^2).
  std::mt19937 rng(23);
  FdStats stats;
  for (size_t i = 1; i < out.size(); ++i)
    compareWithFiniteDifferences(e->outputs[i].name, run.params[e->outputs[i].name], out[i], loss, 12, rng, stats);
  EXPECT_EQ(stats.bad, 0) << "of " << stats.checked;
  EXPECT_LE(stats.rough, stats.checked / 4) << "of " << stats.checked;
  // Training and evaluation differ only by dropout: with the same
  // parameters, eval_step's loss is that of the full network.
  std::vector<Tensor> eval = test::runCompiled(run.c, run.inputs, run.params, "eval_step");
  double evalRef = evalLoss(run.c.graph->lookupSymbol<func::FuncOp>("eval_step"), run.inputs, run.params).value;
  EXPECT_NEAR(eval[0].data[0], evalRef, 1e-5);
  EXPECT_NE(eval[0].data[0], out[0].data[0]);
}

} // namespace
