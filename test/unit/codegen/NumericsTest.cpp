//===- NumericsTest.cpp - compiled code vs the reference interpreter ------===//
//
// Each case is a small model file. It is compiled in-process exactly as
// kilnc compiles it (specialise, lower, LLVM, shared object), run through
// the packed entry point on random inputs and parameters, and compared with
// test/reference/Interpreter.cpp on the same graph.
//
//===----------------------------------------------------------------------===//
#include "Interpreter.h"
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

namespace {

struct Compiled {
  std::string error;
  OwningOpRef<ModuleOp> graph; // specialised graph, for the interpreter
  ArtifactContents contents;
  void *handle = nullptr;
  void (*entry)(void **) = nullptr;
  ~Compiled() {
    if (handle)
      dlclose(handle);
  }
};

/// Compiles `source` for `batch` and loads its code; sets `error` on failure.
void compile(MLIRContext &ctx, const std::string &source, int64_t batch, Compiled &out) {
  llvm::SourceMgr sources;
  sources.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(source, "case.kiln"), llvm::SMLoc());
  std::string messages;
  llvm::raw_string_ostream os(messages);
  Diagnostics diags(sources, os);
  bool isMlir = source.rfind("module", 0) == 0;
  OwningOpRef<ModuleOp> module = isMlir ? parseSourceString<ModuleOp>(source, &ctx)
                                        : compileModelFile(diags, ctx, "case");
  if (!module) {
    out.error = "frontend: " + messages;
    return;
  }
  PassManager pm(&ctx);
  pm.addPass(createSpecializeBatch(SpecializeBatchOptions{batch}));
  if (failed(pm.run(*module))) {
    out.error = "specialize failed";
    return;
  }
  out.graph = module->clone();
  collectParameters(*module, /*seed=*/7, out.contents);
  std::string error;
  auto tm = cpu::createTargetMachine("native", error);
  llvm::LLVMContext llvmCtx;
  std::string object, so;
  if (failed(cpu::lowerToLinalg(*module)) || (collectSignatures(*module, out.contents), false) ||
      failed(cpu::lowerToLLVMDialect(*module))) {
    out.error = "lowering failed";
    return;
  }
  collectScratchSizes(*module, out.contents);
  auto llvmModule = cpu::translateToLLVMIR(*module, llvmCtx, *tm);
  if (!llvmModule || !cpu::emitCode(*llvmModule, *tm, cpu::CodeKind::Object, object, error) ||
      !cpu::linkSharedObject(object, so, error)) {
    out.error = "codegen: " + error;
    return;
  }
  llvm::SmallString<128> path;
  int fd;
  llvm::sys::fs::createTemporaryFile("kiln-test", "so", fd, path);
  {
    llvm::raw_fd_ostream f(fd, true);
    f << so;
  }
  out.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  llvm::sys::fs::remove(path);
  if (!out.handle) {
    out.error = dlerror();
    return;
  }
  out.entry = reinterpret_cast<void (*)(void **)>(dlsym(out.handle, "kiln_predict"));
  if (!out.entry)
    out.error = "no kiln_predict";
}

Tensor randomTensor(const std::vector<int64_t> &shape, std::mt19937 &rng, float lo = -1,
                    float hi = 1) {
  Tensor t{shape, {}};
  std::uniform_real_distribution<float> dist(lo, hi);
  t.data.resize(t.size());
  for (float &v : t.data)
    v = dist(rng);
  return t;
}

/// Largest relative error (|a - b| / max(1, |b|)) over all outputs.
double worstError(const std::vector<Tensor> &got, const std::vector<Tensor> &want) {
  double worst = 0;
  for (size_t o = 0; o < want.size(); ++o)
    worst = std::max(worst, reference::worstError(got[o], want[o]));
  return worst;
}

/// Compiles and runs `source`, checks it against the interpreter.
/// Parameters are random in [-1, 1], or the model's own initial values.
void check(const std::string &source, int64_t batch = 3, double tolerance = 1e-5,
           float lo = -1, float hi = 1, bool initialParams = false) {
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

  std::vector<Tensor> outputs;
  for (const TensorSignature &t : e.outputs)
    outputs.push_back(Tensor{t.shape, std::vector<float>(Tensor{t.shape, {}}.size(), NAN)});
  std::vector<std::vector<int32_t>> intInputs(inputs.size());
  std::vector<void *> buffers;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!e.inputs[i].isInt) {
      buffers.push_back(inputs[i].data.data());
      continue;
    }
    for (float v : inputs[i].data)
      intInputs[i].push_back(int32_t(v));
    buffers.push_back(intInputs[i].data());
  }
  for (const std::string &name : e.params)
    buffers.push_back(params[name].data.data());
  for (Tensor &t : outputs)
    buffers.push_back(t.data.data());
  std::vector<char> scratch(e.scratchBytes + 64);
  buffers.push_back(scratch.data());
  c.entry(buffers.data());

  std::vector<Tensor> expected;
  std::string error;
  auto func = c.graph->lookupSymbol<func::FuncOp>("predict");
  ASSERT_TRUE(reference::evaluate(func, inputs, params, expected, error)) << error;
  ASSERT_EQ(expected.size(), outputs.size());
  EXPECT_LE(worstError(outputs, expected), tolerance) << source;
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
