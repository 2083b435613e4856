//===- PredictTest.cpp - kilnc -> .kbin -> kiln-run, vs the reference -----===//
//
// Runs the real tools as a user would, on files written with kiln_io, and
// checks results against test/reference/Interpreter.cpp on the same graph.
//
//===----------------------------------------------------------------------===//
#include "Subprocess.h"
#include "Interpreter.h"
#include "frontend/ImportGraph.h"
#include "ir/KilnOps.h"
#include "passes/Passes.h"
#include "runtime/io/Npy.h"
#include "runtime/io/Npz.h"
#include "runtime/io/Safetensors.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include <gtest/gtest.h>
#include <random>
#include <sstream>

using namespace mlir;
using namespace kiln;
using reference::Tensor;

namespace {

using e2e::Process;
using e2e::TempDir;
using e2e::run;

std::string readFile(const std::string &path) {
  auto b = llvm::MemoryBuffer::getFile(path);
  return b ? (*b)->getBuffer().str() : "";
}

io::Array randomArray(std::vector<int64_t> shape, std::mt19937 &rng, float lo, float hi) {
  io::Array a = *io::Array::zeros(io::DType::F32, shape);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (uint64_t i = 0; i < a.numElements(); ++i)
    a.data<float>()[i] = dist(rng);
  return a;
}

/// The example's graph, specialised for `batch`, for the interpreter.
OwningOpRef<ModuleOp> graphOf(MLIRContext &ctx, const std::string &path, int64_t batch) {
  llvm::SourceMgr sources;
  auto file = llvm::MemoryBuffer::getFile(path);
  if (!file)
    return nullptr;
  sources.AddNewSourceBuffer(std::move(*file), llvm::SMLoc());
  Diagnostics diags(sources, llvm::errs());
  OwningOpRef<ModuleOp> module = compileModelFile(diags, ctx, "example");
  if (!module)
    return nullptr;
  PassManager pm(&ctx);
  pm.addPass(createSpecializeBatch(SpecializeBatchOptions{batch}));
  if (failed(pm.run(*module)))
    return nullptr;
  return module;
}

Tensor toTensor(const io::Array &a) {
  Tensor t{a.shape(), {}};
  t.data.assign(a.data<float>(), a.data<float>() + a.numElements());
  return t;
}

using reference::worstError;

/// Random parameters, uniform in [-limit(type), limit(type)], for every
/// kiln.param of `graph`: written to `path` for kiln-run and returned by name
/// for the interpreter (nothing when the file cannot be written).
std::optional<llvm::StringMap<Tensor>>
writeRandomParams(ModuleOp graph, const std::string &path, std::mt19937 &rng,
                  llvm::function_ref<float(RankedTensorType)> limit) {
  io::ArrayList params;
  llvm::StringMap<Tensor> tensors;
  for (ParamOp p : graph.getOps<ParamOp>()) {
    auto t = llvm::cast<RankedTensorType>(p.getType());
    float l = limit(t);
    params.push_back({p.getSymName().str(),
                      randomArray({t.getShape().begin(), t.getShape().end()}, rng, -l, l)});
    tensors[p.getSymName()] = toTensor(params.back().array);
  }
  if (!io::writeSafetensors(path, params).ok())
    return std::nullopt;
  return tensors;
}

const char *kExamples[] = {"mnist_cnn",   "cifar10_cnn",       "cifar10_cnn_logits",
                           "cifar10_mlp", "binary_classifier", "linear_regression"};

} // namespace

TEST(Predict, SeedExamplesMatchTheReference) {
  constexpr int64_t kBatch = 4, kSamples = 7; // the last batch is partial
  for (const char *name : kExamples) {
    SCOPED_TRACE(name);
    TempDir dir;
    std::string source = std::string(KILN_EXAMPLES_DIR) + "/" + name + ".kiln";
    Process compiled = run({KILNC, source, "--batch-size=" + std::to_string(kBatch), "-o", dir / "m.kbin"}, dir);
    ASSERT_EQ(compiled.status, 0) << compiled.output;

    MLIRContext ctx;
    ctx.getOrLoadDialect<KilnDialect>();
    OwningOpRef<ModuleOp> graph = graphOf(ctx, source, kSamples);
    ASSERT_TRUE(graph);
    auto func = graph->lookupSymbol<func::FuncOp>("predict");

    // Given parameters (not the compiled-in initial values) and inputs.
    std::mt19937 rng(11);
    // Trained-weight-like magnitudes: glorot-scaled kernels, small biases.
    auto paramTensors = writeRandomParams(*graph, dir / "p.safetensors", rng, [](RankedTensorType t) {
      ArrayRef<int64_t> s = t.getShape();
      double fans = s.size() >= 2 ? double(t.getNumElements()) / s.back() +
                                        double(t.getNumElements()) / s[s.size() - 2]
                                  : 20.0;
      return s.size() >= 2 ? float(std::sqrt(6.0 / fans)) : 0.1f;
    });
    ASSERT_TRUE(paramTensors);
    auto inType = llvm::cast<RankedTensorType>(func.getArgument(0).getType());
    io::Array x = randomArray({inType.getShape().begin(), inType.getShape().end()}, rng, 0.f, 1.f);
    ASSERT_TRUE(io::writeNpy(dir / "x.npy", x.ref()).ok());

    Process predicted = run({KILN_RUN, "predict", dir / "m.kbin", "--input", dir / "x.npy", "--params",
                         dir / "p.safetensors", "--output", dir / "y.npy", "--classes",
                         dir / "c.npy"},
                        dir);
    ASSERT_EQ(predicted.status, 0) << predicted.output;
    EXPECT_NE(predicted.output.find("predicted 7 samples in 2 batches of 4"), std::string::npos)
        << predicted.output;
    auto y = io::readNpy(dir / "y.npy");
    ASSERT_TRUE(y.ok()) << y.message();

    std::vector<Tensor> expected;
    std::string error;
    ASSERT_TRUE(reference::evaluate(func, {toTensor(x)}, *paramTensors, expected, error)) << error;
    EXPECT_EQ(y->shape(), expected[0].shape);
    EXPECT_LE(worstError(toTensor(*y), expected[0]), 1e-5);

    auto classes = io::readNpy(dir / "c.npy");
    ASSERT_TRUE(classes.ok()) << classes.message();
    EXPECT_EQ(classes->numElements(), uint64_t(kSamples));
  }
}

TEST(Predict, SeveralBatchSpecialisations) {
  // --batch-size=4,1: entry points predict_b4 and predict_b1; 7 samples run as 4 + 1 + 1 + 1.
  TempDir dir;
  std::string source = std::string(KILN_EXAMPLES_DIR) + "/cifar10_mlp.kiln";
  ASSERT_EQ(run({KILNC, source, "--batch-size=4,1", "-o", dir / "m.kbin"}, dir).status, 0);
  Process info = run({KILN_RUN, "info", dir / "m.kbin"}, dir);
  EXPECT_NE(info.output.find("entry predict_b4 (batch 4"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("entry predict_b1 (batch 1"), std::string::npos) << info.output;

  std::mt19937 rng(5);
  io::Array x = randomArray({7, 32, 32, 3}, rng, 0.f, 1.f);
  ASSERT_TRUE(io::writeNpy(dir / "x.npy", x.ref()).ok());
  Process predicted = run({KILN_RUN, "predict", dir / "m.kbin", "--input", dir / "x.npy",
                           "--output", dir / "y.npy"},
                          dir);
  ASSERT_EQ(predicted.status, 0) << predicted.output;
  EXPECT_NE(predicted.output.find("predicted 7 samples in 4 batches of 4, 1"), std::string::npos)
      << predicted.output;

  // The same initial weights (same seed) compiled for one batch of 7 must agree; that
  // single-batch path is itself checked against the reference interpreter above.
  ASSERT_EQ(run({KILNC, source, "--batch-size=7", "-o", dir / "m7.kbin"}, dir).status, 0);
  ASSERT_EQ(run({KILN_RUN, "predict", dir / "m7.kbin", "--input", dir / "x.npy", "--output",
                 dir / "y7.npy"},
                dir)
                .status,
            0);
  auto y = io::readNpy(dir / "y.npy"), y7 = io::readNpy(dir / "y7.npy");
  ASSERT_TRUE(y.ok() && y7.ok());
  EXPECT_LE(worstError(toTensor(*y), toTensor(*y7)), 1e-6);
}

TEST(Predict, SeveralInputsByNameAndSeveralOutputs) {
  TempDir dir;
  {
    std::error_code ec;
    llvm::raw_fd_ostream f(dir / "two.kiln", ec);
    f << "image = Input(shape=(4, 4, 1))\nmeta = Input(shape=(3,))\n"
         "h = Flatten()(Conv2D(2, 3, padding='same', activation='relu')(image))\n"
         "j = Concatenate()([h, Dense(5)(meta)])\n"
         "logits = Dense(3)(j)\nprobs = softmax(logits)\noutput probs, logits\n";
  }
  ASSERT_EQ(run({KILNC, dir / "two.kiln", "--batch-size=2", "-o", dir / "m.kbin"}, dir).status, 0);
  MLIRContext ctx;
  ctx.getOrLoadDialect<KilnDialect>();
  OwningOpRef<ModuleOp> graph = graphOf(ctx, dir / "two.kiln", 5);
  ASSERT_TRUE(graph);
  std::mt19937 rng(9);
  auto paramTensors =
      writeRandomParams(*graph, dir / "p.safetensors", rng, [](RankedTensorType) { return 0.5f; });
  ASSERT_TRUE(paramTensors);
  io::Array image = randomArray({5, 4, 4, 1}, rng, 0, 1), meta = randomArray({5, 3}, rng, -1, 1);
  ASSERT_TRUE(io::writeNpy(dir / "image.npy", image.ref()).ok());
  ASSERT_TRUE(io::writeNpy(dir / "meta.npy", meta.ref()).ok());
  Process p = run({KILN_RUN, "predict", dir / "m.kbin", "--input", "meta=" + (dir / "meta.npy"),
                   "--input", "image=" + (dir / "image.npy"), "--params", dir / "p.safetensors",
                   "--output", dir / "y.npz"},
                  dir);
  ASSERT_EQ(p.status, 0) << p.output;
  auto outs = io::readNpz(dir / "y.npz");
  ASSERT_TRUE(outs.ok()) << outs.message();
  const io::Array *probs = io::findArray(*outs, "probs"), *logits = io::findArray(*outs, "logits");
  ASSERT_TRUE(probs && logits);

  std::vector<Tensor> expected;
  std::string error;
  ASSERT_TRUE(reference::evaluate(graph->lookupSymbol<func::FuncOp>("predict"),
                                  {toTensor(image), toTensor(meta)}, *paramTensors, expected, error))
      << error;
  EXPECT_LE(worstError(toTensor(*probs), expected[0]), 1e-5);
  EXPECT_LE(worstError(toTensor(*logits), expected[1]), 1e-5);

  // A missing input is named.
  p = run({KILN_RUN, "predict", dir / "m.kbin", "--input", "image=" + (dir / "image.npy"),
           "--output", dir / "y.npz"},
          dir);
  EXPECT_EQ(p.status, 1);
  EXPECT_NE(p.output.find("no data for input 'meta'"), std::string::npos) << p.output;
}

TEST(Predict, UserErrorsAreClear) {
  TempDir dir;
  std::string source = std::string(KILN_EXAMPLES_DIR) + "/binary_classifier.kiln";
  ASSERT_EQ(run({KILNC, source, "-o", dir / "m.kbin"}, dir).status, 0);
  std::mt19937 rng(3);
  ASSERT_TRUE(io::writeNpy(dir / "bad.npy", randomArray({5, 3}, rng, 0, 1).ref()).ok());
  Process r = run({KILN_RUN, "predict", dir / "m.kbin", "--input", dir / "bad.npy", "--output",
               dir / "y.npy"},
              dir);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("input 'input' has shape (5, 3); the model takes (N, 2)"),
            std::string::npos)
      << r.output;

  io::ArrayList wrong;
  wrong.push_back({"dense/kernel", randomArray({3, 64}, rng, 0, 1)});
  ASSERT_TRUE(io::writeSafetensors(dir / "p.safetensors", wrong).ok());
  ASSERT_TRUE(io::writeNpy(dir / "x.npy", randomArray({5, 2}, rng, 0, 1).ref()).ok());
  r = run({KILN_RUN, "predict", dir / "m.kbin", "--input", dir / "x.npy", "--params",
           dir / "p.safetensors", "--output", dir / "y.npy"},
          dir);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("parameter 'dense/kernel' has shape (3, 64), the model needs (2, 64)"),
            std::string::npos)
      << r.output;

  std::string bytes = readFile(dir / "m.kbin");
  {
    std::error_code ec;
    llvm::raw_fd_ostream f(dir / "cut.kbin", ec);
    f << bytes.substr(0, bytes.size() / 2);
  }
  r = run({KILN_RUN, "predict", dir / "cut.kbin", "--input", dir / "x.npy", "--output",
           dir / "y.npy"},
          dir);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("cut.kbin"), std::string::npos) << r.output;
}

TEST(EmitLib, AStaticLibraryMatchesTheArtifact) {
  TempDir dir;
  std::string source = std::string(KILN_EXAMPLES_DIR) + "/mnist_cnn.kiln";
  ASSERT_EQ(run({KILNC, source, "--batch-size=2", "--emit=lib", "-o", dir / "lib/mnist"}, dir).status, 0);
  ASSERT_EQ(run({KILNC, source, "--batch-size=2", "-o", dir / "m.kbin"}, dir).status, 0);
  std::string app = R"(
#include "mnist.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
  float *x = aligned_alloc(64, sizeof(float) * 2 * 28 * 28), *y = aligned_alloc(64, 64 * 20);
  void *params = aligned_alloc(64, MNIST_CNN_PARAMS_BYTES);
  void *scratch = aligned_alloc(64, MNIST_CNN_PREDICT_SCRATCH_BYTES + 64);
  memcpy(params, mnist_cnn_initial_params, MNIST_CNN_PARAMS_BYTES);
  for (int i = 0; i < 2 * 28 * 28; ++i) x[i] = (float)((i * 7919) % 256) / 255.0f;
  mnist_cnn_predict(x, params, y, scratch);
  for (int i = 0; i < 20; ++i) printf("%.9g\n", y[i]);
  return 0;
}
)";
  {
    std::error_code ec;
    llvm::raw_fd_ostream f(dir / "app.c", ec);
    f << app;
  }
  auto clang = llvm::sys::findProgramByName("clang-19");
  ASSERT_TRUE(bool(clang));
  Process built = run({*clang, "-O1", "-I", dir / "lib", dir / "app.c", dir / "lib/mnist.a", "-lm",
                   "-o", dir / "app"},
                  dir);
  ASSERT_EQ(built.status, 0) << built.output;
  Process ran = run({dir / "app"}, dir);
  ASSERT_EQ(ran.status, 0) << ran.output;

  // The same inputs through the .kbin and kiln-run (same seed, same weights).
  io::Array x = *io::Array::zeros(io::DType::F32, {2, 28, 28, 1});
  for (int i = 0; i < 2 * 28 * 28; ++i)
    x.data<float>()[i] = float((i * 7919) % 256) / 255.0f;
  ASSERT_TRUE(io::writeNpy(dir / "x.npy", x.ref()).ok());
  Process predicted = run({KILN_RUN, "predict", dir / "m.kbin", "--input", dir / "x.npy", "--output",
                       dir / "y.npy"},
                      dir);
  ASSERT_EQ(predicted.status, 0) << predicted.output;
  auto y = io::readNpy(dir / "y.npy");
  ASSERT_TRUE(y.ok());
  std::istringstream lines(ran.output);
  for (int i = 0; i < 20; ++i) {
    double v;
    lines >> v;
    EXPECT_NEAR(v, y->data<float>()[i], 1e-6) << i;
  }
}

TEST(Embed, ClassifyDigitsExampleAgreesWithKilnRun) {
  TempDir dir;
  std::string source = std::string(KILN_EXAMPLES_DIR) + "/mnist_cnn.kiln";
  ASSERT_EQ(run({KILNC, source, "--batch-size=8", "-o", dir / "m.kbin"}, dir).status, 0);
  // 11 synthetic digits in the MNIST IDX format (the test writes its own data).
  constexpr int kImages = 11;
  std::string idx = {0, 0, 8, 3, 0, 0, 0, kImages, 0, 0, 0, 28, 0, 0, 0, 28};
  io::Array x = *io::Array::zeros(io::DType::F32, {kImages, 28, 28, 1});
  for (int i = 0; i < kImages * 28 * 28; ++i) {
    unsigned char pixel = (unsigned char)((i * 37 + (i / 784) * 11) % 256);
    idx += char(pixel);
    x.data<float>()[i] = pixel / 255.0f;
  }
  {
    std::error_code ec;
    llvm::raw_fd_ostream f(dir / "images-idx3-ubyte", ec);
    f << idx;
  }
  Process app = run({KILN_EMBED_EXAMPLE, dir / "m.kbin", dir / "images-idx3-ubyte"}, dir);
  ASSERT_EQ(app.status, 0) << app.output;
  ASSERT_TRUE(io::writeNpy(dir / "x.npy", x.ref()).ok());
  Process predicted = run({KILN_RUN, "predict", dir / "m.kbin", "--input", dir / "x.npy", "--output",
                       dir / "y.npy", "--classes", dir / "c.npy"},
                      dir);
  ASSERT_EQ(predicted.status, 0) << predicted.output;
  auto classes = io::readNpy(dir / "c.npy");
  ASSERT_TRUE(classes.ok());
  std::istringstream lines(app.output);
  for (int i = 0; i < kImages; ++i) {
    int64_t c = -1;
    lines >> c;
    EXPECT_EQ(c, classes->data<int64_t>()[i]) << "image " << i;
  }
}
