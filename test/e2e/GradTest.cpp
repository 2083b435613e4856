//===- GradTest.cpp - kilnc -> .kbin -> kiln-run grad / gradcheck, training -===//
//
// Trainable models (compile(...)) end to end: kilnc writes the gradients,
// train_step and optimizer-state entries; kiln-run grad writes the loss and
// every gradient to .safetensors, kiln-run gradcheck compares them with
// finite differences; an application trains through the C API. Inputs are
// written with kiln_io; the tools run as subprocesses, as a user runs them.
//
//===----------------------------------------------------------------------===//
#include "Subprocess.h"
#include "runtime/io/Npy.h"
#include "runtime/io/Safetensors.h"
#include "runtime/kiln_runtime.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"
#include <gtest/gtest.h>
#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

using namespace kiln;

namespace {

using e2e::Process;
using e2e::TempDir;
using e2e::run;

void writeText(const std::string &path, const std::string &text) {
  std::error_code ec;
  llvm::raw_fd_ostream f(path, ec);
  f << text;
}

std::string example(const std::string &name) { return std::string(KILN_EXAMPLES_DIR) + "/" + name + ".kiln"; }

io::Array randomArray(std::vector<int64_t> shape, std::mt19937 &rng, float lo, float hi) {
  io::Array a = *io::Array::zeros(io::DType::F32, shape);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (uint64_t i = 0; i < a.numElements(); ++i)
    a.data<float>()[i] = dist(rng);
  return a;
}

/// 0/1 labels as float32.
io::Array binaryLabels(std::vector<int64_t> shape, std::mt19937 &rng) {
  io::Array a = *io::Array::zeros(io::DType::F32, shape);
  for (uint64_t i = 0; i < a.numElements(); ++i)
    a.data<float>()[i] = float(rng() % 2);
  return a;
}

struct Weight {
  std::string name;
  std::vector<int64_t> shape;
};

/// The model weights of a .kbin (trainable parameters that are not optimizer
/// state), read through the runtime without loading code.
std::vector<Weight> trainableWeights(const std::string &kbin) {
  std::vector<Weight> out;
  kiln_model *m = nullptr;
  if (kiln_model_load_file(kbin.c_str(), KILN_LOAD_NO_CODE, &m) != KILN_OK) {
    ADD_FAILURE() << kiln_last_error();
    return out;
  }
  size_t n = 0;
  kiln_model_num_params(m, &n);
  for (size_t i = 0; i < n; ++i) {
    const kiln_param_info *p = nullptr;
    kiln_model_param(m, i, &p);
    if (p->trainable && !p->is_state)
      out.push_back({p->tensor.name, std::vector<int64_t>(p->tensor.shape, p->tensor.shape + p->tensor.rank)});
  }
  kiln_model_free(m);
  return out;
}

/// The binary classifier's weights with every first-layer pre-activation at
/// least 0.3 away from ReLU's kink for inputs in [-1, 1]^2 (|kernel| <= 0.1,
/// |bias| = 0.5): finite differences of a few 1e-3 see a smooth function.
void writeKinkFreeBinaryClassifierParams(const std::string &path, std::mt19937 &rng) {
  io::ArrayList params;
  params.push_back({"dense/kernel", randomArray({2, 64}, rng, -0.1f, 0.1f)});
  io::Array bias = *io::Array::zeros(io::DType::F32, {64});
  for (int j = 0; j < 64; ++j)
    bias.data<float>()[j] = j % 3 ? 0.5f : -0.5f; // a third of the units inactive for every input
  params.push_back({"dense/bias", std::move(bias)});
  params.push_back({"dense_1/kernel", randomArray({64, 1}, rng, -0.3f, 0.3f)});
  params.push_back({"dense_1/bias", randomArray({1}, rng, -0.1f, 0.1f)});
  ASSERT_TRUE(io::writeSafetensors(path, params).ok());
}

bool contains(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

/// The number of the line "loss X..." in a tool's output ("" when there is none).
std::string printedLoss(const std::string &output) {
  size_t at = output.rfind("loss ", 0) == 0 ? 0 : output.find("\nloss ");
  if (at == std::string::npos)
    return "";
  at = output.find("loss ", at) + 5;
  return output.substr(at, output.find_first_of(" \n", at) - at);
}

/// Sparse-label softmax classifier (labels i32, Adam: moment state entries).
const char *kSoftmaxModel = "model softmax_classifier\n"
                            "Input(shape=(4,))\n"
                            "Dense(3, activation=\"softmax\")\n"
                            "compile(loss=\"sparse_categorical_crossentropy\", optimizer=Adam(), "
                            "metrics=[\"accuracy\"])\n";

} // namespace

TEST(Grad, WritesTheLossAndEveryGradient) {
  struct Case {
    const char *name;
    int64_t features;
  } cases[] = {{"linear_regression", 1}, {"binary_classifier", 2}};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    Process compiled = run({KILNC, example(c.name), "-o", dir / "m.kbin"}, dir);
    ASSERT_EQ(compiled.status, 0) << compiled.output;
    std::vector<Weight> weights = trainableWeights(dir / "m.kbin");
    ASSERT_FALSE(weights.empty());

    std::mt19937 rng(21);
    ASSERT_TRUE(io::writeNpy(dir / "x.npy", randomArray({32, c.features}, rng, -1, 1).ref()).ok());
    io::Array y = std::string(c.name) == "binary_classifier" ? binaryLabels({32, 1}, rng)
                                                             : randomArray({32, 1}, rng, -1, 3);
    ASSERT_TRUE(io::writeNpy(dir / "y.npy", y.ref()).ok());
    Process p = run({KILN_RUN, "grad", dir / "m.kbin", "--input", dir / "x.npy", "--labels", dir / "y.npy",
                     "--output", dir / "g.safetensors"},
                    dir);
    ASSERT_EQ(p.status, 0) << p.output;
    std::string printedText = printedLoss(p.output);
    ASSERT_FALSE(printedText.empty()) << p.output;
    double printed = std::strtod(printedText.c_str(), nullptr);

    auto file = io::readSafetensors(dir / "g.safetensors");
    ASSERT_TRUE(file.ok()) << file.message();
    std::set<std::string> names;
    for (const io::NamedArray &t : file->tensors)
      names.insert(t.name);
    std::set<std::string> expected{"loss"};
    for (const Weight &w : weights)
      expected.insert(w.name);
    EXPECT_EQ(names, expected); // no optimizer state, nothing else

    const io::Array *loss = io::findArray(file->tensors, "loss");
    ASSERT_TRUE(loss);
    EXPECT_EQ(loss->dtype(), io::DType::F32);
    EXPECT_EQ(loss->rank(), 0u);
    EXPECT_TRUE(std::isfinite(loss->data<float>()[0]));
    EXPECT_GT(loss->data<float>()[0], 0.0f);
    EXPECT_NEAR(printed, loss->data<float>()[0], 1e-6 * std::fabs(printed));
    for (const Weight &w : weights) {
      SCOPED_TRACE(w.name);
      const io::Array *g = io::findArray(file->tensors, w.name);
      ASSERT_TRUE(g);
      EXPECT_EQ(g->dtype(), io::DType::F32);
      EXPECT_EQ(g->shape(), w.shape);
      double norm = 0;
      for (uint64_t i = 0; i < g->numElements(); ++i) {
        EXPECT_TRUE(std::isfinite(g->data<float>()[i])) << i;
        norm += std::fabs(g->data<float>()[i]);
      }
      EXPECT_GT(norm, 0.0); // random data: no weight's gradient vanishes entirely
    }
  }
}

TEST(Grad, MatchesTheClosedFormForLinearRegression) {
  // Keras mse on one output: L = mean_i (w x_i + b - y_i)^2,
  // dL/dw = 2/N sum_i r_i x_i, dL/db = 2/N sum_i r_i.
  TempDir dir;
  ASSERT_EQ(run({KILNC, example("linear_regression"), "--batch-size=16", "-o", dir / "m.kbin"}, dir).status, 0);
  std::mt19937 rng(4);
  io::Array x = randomArray({16, 1}, rng, -2, 2);
  io::Array y = randomArray({16}, rng, -1, 3); // (N,) labels for an (N, 1) output are accepted
  ASSERT_TRUE(io::writeNpy(dir / "x.npy", x.ref()).ok());
  ASSERT_TRUE(io::writeNpy(dir / "y.npy", y.ref()).ok());
  io::ArrayList params;
  params.push_back({"dense/kernel", *io::Array::fromValues<float>({1, 1}, {0.75f})});
  params.push_back({"dense/bias", *io::Array::fromValues<float>({1}, {-0.25f})});
  ASSERT_TRUE(io::writeSafetensors(dir / "p.safetensors", params).ok());
  Process p = run({KILN_RUN, "grad", dir / "m.kbin", "--input", "input=" + (dir / "x.npy"), "--labels",
                   dir / "y.npy", "--params", dir / "p.safetensors", "--output", dir / "g.safetensors"},
                  dir);
  ASSERT_EQ(p.status, 0) << p.output;
  double loss = 0, dw = 0, db = 0;
  for (int i = 0; i < 16; ++i) {
    double r = 0.75 * x.data<float>()[i] - 0.25 - y.data<float>()[i];
    loss += r * r / 16;
    dw += 2 * r * x.data<float>()[i] / 16;
    db += 2 * r / 16;
  }
  auto file = io::readSafetensors(dir / "g.safetensors");
  ASSERT_TRUE(file.ok()) << file.message();
  EXPECT_NEAR(io::findArray(file->tensors, "loss")->data<float>()[0], loss, 1e-5 * loss);
  EXPECT_NEAR(io::findArray(file->tensors, "dense/kernel")->data<float>()[0], dw, 1e-5 * std::fabs(dw) + 1e-6);
  EXPECT_NEAR(io::findArray(file->tensors, "dense/bias")->data<float>()[0], db, 1e-5 * std::fabs(db) + 1e-6);
}

TEST(Grad, SparseLabelsAreConvertedToInt32WhenExact) {
  TempDir dir;
  writeText(dir / "m.kiln", kSoftmaxModel);
  ASSERT_EQ(run({KILNC, dir / "m.kiln", "--batch-size=6", "-o", dir / "m.kbin"}, dir).status, 0);
  std::mt19937 rng(8);
  ASSERT_TRUE(io::writeNpy(dir / "x.npy", randomArray({6, 4}, rng, -1, 1).ref()).ok());
  // numpy's default integer type: int64.
  ASSERT_TRUE(io::writeNpy(dir / "y.npy", io::Array::fromValues<int64_t>({6}, {0, 2, 1, 1, 0, 2})->ref()).ok());
  Process p = run({KILN_RUN, "grad", dir / "m.kbin", "--input", dir / "x.npy", "--labels", dir / "y.npy", "--output",
                   dir / "g.safetensors"},
                  dir);
  ASSERT_EQ(p.status, 0) << p.output;
  auto file = io::readSafetensors(dir / "g.safetensors");
  ASSERT_TRUE(file.ok()) << file.message();
  EXPECT_EQ(file->tensors.size(), 3u); // loss, dense/kernel, dense/bias: no Adam moments
  // Softmax + cross-entropy: each row of d loss / d logits sums to 0, so does the bias gradient.
  const io::Array *db = io::findArray(file->tensors, "dense/bias");
  ASSERT_TRUE(db);
  EXPECT_NEAR(db->data<float>()[0] + db->data<float>()[1] + db->data<float>()[2], 0.0f, 1e-6f);

  p = run({KILN_RUN, "gradcheck", dir / "m.kbin", "--input", dir / "x.npy", "--labels", dir / "y.npy"}, dir);
  EXPECT_EQ(p.status, 0) << p.output;

  // Labels that are not whole numbers, or out of int32's range, are refused by name.
  ASSERT_TRUE(io::writeNpy(dir / "frac.npy", io::Array::fromValues<double>({6}, {0, 1, 2, 0.5, 1, 2})->ref()).ok());
  p = run({KILN_RUN, "grad", dir / "m.kbin", "--input", dir / "x.npy", "--labels", dir / "frac.npy", "--output",
           dir / "g.safetensors"},
          dir);
  EXPECT_EQ(p.status, 1);
  EXPECT_TRUE(contains(p.output, "frac.npy: element 3")) << p.output;
  EXPECT_TRUE(contains(p.output, "int32 class indices")) << p.output;
  ASSERT_TRUE(
      io::writeNpy(dir / "big.npy", io::Array::fromValues<int64_t>({6}, {0, 1, 2, int64_t(1) << 40, 1, 2})->ref())
          .ok());
  p = run({KILN_RUN, "grad", dir / "m.kbin", "--input", dir / "x.npy", "--labels", dir / "big.npy", "--output",
           dir / "g.safetensors"},
          dir);
  EXPECT_EQ(p.status, 1);
  EXPECT_TRUE(contains(p.output, "big.npy: element 3")) << p.output;
}

TEST(Gradcheck, PassesOnTheExamples) {
  TempDir dir;
  std::mt19937 rng(17);
  ASSERT_TRUE(io::writeNpy(dir / "x1.npy", randomArray({32, 1}, rng, -1, 1).ref()).ok());
  ASSERT_TRUE(io::writeNpy(dir / "y1.npy", randomArray({32, 1}, rng, -1, 3).ref()).ok());
  ASSERT_TRUE(io::writeNpy(dir / "x2.npy", randomArray({32, 2}, rng, -1, 1).ref()).ok());
  ASSERT_TRUE(io::writeNpy(dir / "y2.npy", binaryLabels({32, 1}, rng).ref()).ok());
  writeKinkFreeBinaryClassifierParams(dir / "p2.safetensors", rng);

  // Linear regression: a quadratic loss, no kink: every coordinate agrees.
  ASSERT_EQ(run({KILNC, example("linear_regression"), "-o", dir / "lr.kbin"}, dir).status, 0);
  Process p = run({KILN_RUN, "gradcheck", dir / "lr.kbin", "--input", dir / "x1.npy", "--labels", dir / "y1.npy"}, dir);
  EXPECT_EQ(p.status, 0) << p.output;
  EXPECT_TRUE(contains(p.output, "parameter     worst-error")) << p.output;
  EXPECT_TRUE(contains(p.output, "dense/kernel")) << p.output;
  EXPECT_TRUE(contains(p.output, "dense/bias")) << p.output;
  EXPECT_TRUE(contains(p.output, "2 coordinates of 2 parameters")) << p.output;
  EXPECT_TRUE(contains(p.output, "0 exceed the tolerance, 0 of them at kinks: ok")) << p.output;

  // Binary classifier with weights whose ReLUs are far from their kinks:
  // every sampled coordinate of every weight agrees (no kink excuses).
  ASSERT_EQ(run({KILNC, example("binary_classifier"), "-o", dir / "bc.kbin"}, dir).status, 0);
  p = run({KILN_RUN, "gradcheck", dir / "bc.kbin", "--input", dir / "x2.npy", "--labels", dir / "y2.npy", "--params",
           dir / "p2.safetensors", "--samples", "16", "--seed", "3"},
          dir);
  EXPECT_EQ(p.status, 0) << p.output;
  // 16 of dense/kernel, 16 of dense/bias, 16 of dense_1/kernel, the 1 of dense_1/bias.
  EXPECT_TRUE(contains(p.output, "49 coordinates of 4 parameters")) << p.output;
  EXPECT_TRUE(contains(p.output, "0 exceed the tolerance, 0 of them at kinks: ok")) << p.output;
  for (const char *name : {"dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"})
    EXPECT_TRUE(contains(p.output, name)) << name << "\n" << p.output;
  // With the compiled-in initial weights (ReLUs at their kinks are possible):
  // whatever the outcome, kinks are counted, never hidden.
  p = run({KILN_RUN, "gradcheck", dir / "bc.kbin", "--input", dir / "x2.npy", "--labels", dir / "y2.npy"}, dir);
  EXPECT_TRUE(contains(p.output, "25 coordinates of 4 parameters")) << p.output;
  EXPECT_TRUE(contains(p.output, "exceed the tolerance")) << p.output;

  // Steps far too large for the sigmoid's curvature: the central differences
  // disagree with the (correct) gradients and gradcheck says so.
  p = run({KILN_RUN, "gradcheck", dir / "bc.kbin", "--input", dir / "x2.npy", "--labels", dir / "y2.npy", "--params",
           dir / "p2.safetensors", "--epsilon", "3"},
          dir);
  EXPECT_EQ(p.status, 1) << p.output;
  EXPECT_TRUE(contains(p.output, ": FAIL")) << p.output;
  // The parameters were restored after every perturbation: grad sees the given ones.
  Process a = run({KILN_RUN, "grad", dir / "bc.kbin", "--input", dir / "x2.npy", "--labels", dir / "y2.npy",
                   "--params", dir / "p2.safetensors", "--output", dir / "g.safetensors"},
                  dir);
  ASSERT_EQ(a.status, 0) << a.output;
  EXPECT_EQ(printedLoss(p.output), printedLoss(a.output)) << p.output << "\n" << a.output;
}

TEST(Grad, UserErrorsNameTheFile) {
  TempDir dir;
  ASSERT_EQ(run({KILNC, example("binary_classifier"), "-o", dir / "m.kbin"}, dir).status, 0);
  std::mt19937 rng(2);
  ASSERT_TRUE(io::writeNpy(dir / "x.npy", randomArray({32, 2}, rng, -1, 1).ref()).ok());
  ASSERT_TRUE(io::writeNpy(dir / "y.npy", binaryLabels({32, 1}, rng).ref()).ok());
  ASSERT_TRUE(io::writeNpy(dir / "y5.npy", binaryLabels({5, 1}, rng).ref()).ok());
  ASSERT_TRUE(io::writeNpy(dir / "x5.npy", randomArray({5, 2}, rng, -1, 1).ref()).ok());
  ASSERT_TRUE(io::writeNpy(dir / "x3.npy", randomArray({32, 3}, rng, -1, 1).ref()).ok());

  for (const char *command : {"grad", "gradcheck"}) {
    SCOPED_TRACE(command);
    std::vector<std::string> out;
    if (std::string(command) == "grad")
      out = {"--output", dir / "g.safetensors"};
    auto invoke = [&](std::vector<std::string> args) {
      std::vector<std::string> argv{KILN_RUN, command, dir / "m.kbin"};
      argv.insert(argv.end(), args.begin(), args.end());
      argv.insert(argv.end(), out.begin(), out.end());
      return run(argv, dir);
    };
    // Labels of another batch.
    Process p = invoke({"--input", dir / "x.npy", "--labels", dir / "y5.npy"});
    EXPECT_EQ(p.status, 1);
    EXPECT_TRUE(contains(p.output, "y5.npy: labels have shape (5, 1), 5 samples; entry 'gradients' runs on batches "
                                   "of exactly 32"))
        << p.output;
    // Inputs of another batch, or another shape.
    p = invoke({"--input", dir / "x5.npy", "--labels", dir / "y.npy"});
    EXPECT_EQ(p.status, 1);
    EXPECT_TRUE(contains(p.output, "x5.npy: input 'input' has shape (5, 2), 5 samples")) << p.output;
    p = invoke({"--input", dir / "x3.npy", "--labels", dir / "y.npy"});
    EXPECT_EQ(p.status, 1);
    EXPECT_TRUE(contains(p.output, "x3.npy: input 'input' has shape (32, 3); entry 'gradients' takes (32, 2)"))
        << p.output;
    // Missing files.
    p = invoke({"--input", dir / "x.npy", "--labels", dir / "missing-labels.npy"});
    EXPECT_EQ(p.status, 1);
    EXPECT_TRUE(contains(p.output, "missing-labels.npy: cannot open")) << p.output;
    p = invoke({"--input", dir / "missing-x.npy", "--labels", dir / "y.npy"});
    EXPECT_EQ(p.status, 1);
    EXPECT_TRUE(contains(p.output, "missing-x.npy: cannot open")) << p.output;
    p = invoke({"--input", dir / "x.npy", "--labels", dir / "y.npy", "--params", dir / "missing-p.safetensors"});
    EXPECT_EQ(p.status, 1);
    EXPECT_TRUE(contains(p.output, "missing-p.safetensors: cannot open")) << p.output;
    // Parameters by an unknown name, or of the wrong shape.
    io::ArrayList wrong;
    wrong.push_back({"dense/kernal", randomArray({2, 64}, rng, -1, 1)});
    ASSERT_TRUE(io::writeSafetensors(dir / "p.safetensors", wrong).ok());
    p = invoke({"--input", dir / "x.npy", "--labels", dir / "y.npy", "--params", dir / "p.safetensors"});
    EXPECT_EQ(p.status, 1);
    EXPECT_TRUE(contains(p.output, "p.safetensors: 'dense/kernal' is not a parameter of the model")) << p.output;
    wrong[0] = {"dense/kernel", randomArray({3, 64}, rng, -1, 1)};
    ASSERT_TRUE(io::writeSafetensors(dir / "p.safetensors", wrong).ok());
    p = invoke({"--input", dir / "x.npy", "--labels", dir / "y.npy", "--params", dir / "p.safetensors"});
    EXPECT_EQ(p.status, 1);
    EXPECT_TRUE(contains(p.output, "p.safetensors: parameter 'dense/kernel' has shape (3, 64), the model needs (2, 64)"))
        << p.output;
    // No labels.
    p = invoke({"--input", dir / "x.npy"});
    EXPECT_EQ(p.status, 1);
    EXPECT_TRUE(contains(p.output, "needs --input and --labels")) << p.output;
  }

  // A model without compile(...) has no gradients.
  writeText(dir / "plain.kiln", "model plain\nInput(shape=(2,))\nDense(1)\n");
  ASSERT_EQ(run({KILNC, dir / "plain.kiln", "-o", dir / "plain.kbin"}, dir).status, 0);
  Process p = run({KILN_RUN, "grad", dir / "plain.kbin", "--input", dir / "x.npy", "--labels", dir / "y.npy",
                   "--output", dir / "g.safetensors"},
                  dir);
  EXPECT_EQ(p.status, 1);
  EXPECT_TRUE(contains(p.output, "no entry point 'gradients'")) << p.output;
  // Options of other commands are refused.
  p = run({KILN_RUN, "grad", dir / "m.kbin", "--input", dir / "x.npy", "--labels", dir / "y.npy", "--samples", "3",
           "--output", dir / "g.safetensors"},
          dir);
  EXPECT_EQ(p.status, 1);
  EXPECT_TRUE(contains(p.output, "unknown option '--samples' for grad")) << p.output;
}

TEST(Grad, PicksTheBatchSpecialisationByTheNumberOfSamples) {
  TempDir dir;
  ASSERT_EQ(run({KILNC, example("binary_classifier"), "--batch-size=8,2", "-o", dir / "m.kbin"}, dir).status, 0);
  std::mt19937 rng(6);
  ASSERT_TRUE(io::writeNpy(dir / "x.npy", randomArray({2, 2}, rng, -1, 1).ref()).ok());
  ASSERT_TRUE(io::writeNpy(dir / "y.npy", binaryLabels({2, 1}, rng).ref()).ok());
  Process p = run({KILN_RUN, "grad", dir / "m.kbin", "--input", dir / "x.npy", "--labels", dir / "y.npy", "--output",
                   dir / "g.safetensors"},
                  dir);
  ASSERT_EQ(p.status, 0) << p.output;
  EXPECT_TRUE(contains(p.output, "entry gradients_b2, batch 2")) << p.output;
  ASSERT_TRUE(io::writeNpy(dir / "x3.npy", randomArray({3, 2}, rng, -1, 1).ref()).ok());
  ASSERT_TRUE(io::writeNpy(dir / "y3.npy", binaryLabels({3, 1}, rng).ref()).ok());
  p = run({KILN_RUN, "grad", dir / "m.kbin", "--input", dir / "x3.npy", "--labels", dir / "y3.npy", "--output",
           dir / "g.safetensors"},
          dir);
  EXPECT_EQ(p.status, 1);
  EXPECT_TRUE(contains(p.output, "the inputs hold 3 samples; the model's 'gradients' entry points run on batches of "
                                 "exactly 8, 2"))
      << p.output;
}

// docs/runtime.md, "Training from C": train_step through the C API.
TEST(Training, LinearRegressionFromTheCApi) {
  TempDir dir;
  ASSERT_EQ(run({KILNC, example("linear_regression"), "-o", dir / "m.kbin"}, dir).status, 0);
  kiln_model *model = nullptr;
  ASSERT_EQ(kiln_model_load_file((dir / "m.kbin").c_str(), KILN_LOAD_DEFAULT, &model), KILN_OK) << kiln_last_error();
  const kiln_entry_info *entry = nullptr;
  ASSERT_EQ(kiln_model_find_entry(model, "train_step", &entry), KILN_OK) << kiln_last_error();
  ASSERT_EQ(entry->batch_size, 32);
  const kiln_param_info *lr = nullptr, *iterations = nullptr;
  ASSERT_EQ(kiln_model_find_param(model, "optimizer/learning_rate", &lr), KILN_OK) << kiln_last_error();
  ASSERT_EQ(kiln_model_find_param(model, "optimizer/iterations", &iterations), KILN_OK) << kiln_last_error();
  EXPECT_EQ(lr->is_state, 1);
  EXPECT_EQ(iterations->is_state, 1);
  float rate = 0;
  ASSERT_EQ(kiln_model_get_param(model, "optimizer/learning_rate", &rate, 4), KILN_OK);
  EXPECT_FLOAT_EQ(rate, 0.1f); // SGD(learning_rate=0.1)

  kiln_session *session = nullptr;
  ASSERT_EQ(kiln_session_create(model, "train_step", &session), KILN_OK) << kiln_last_error();
  // y = 2x + 1, one batch.
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> x(32), y(32);
  for (int i = 0; i < 32; ++i) {
    x[i] = dist(rng);
    y[i] = 2 * x[i] + 1;
  }
  ASSERT_EQ(kiln_session_set_input(session, "input", KILN_F32, nullptr, 0, x.data(), 128), KILN_OK)
      << kiln_last_error();
  ASSERT_EQ(kiln_session_set_input(session, "labels", KILN_F32, nullptr, 0, y.data(), 128), KILN_OK)
      << kiln_last_error();
  float first = 0, loss = 0;
  for (int step = 0; step < 200; ++step) {
    ASSERT_EQ(kiln_session_run(session), KILN_OK);
    ASSERT_EQ(kiln_session_get_output(session, "loss", &loss, 4), KILN_OK);
    if (step == 0)
      first = loss;
  }
  EXPECT_LT(loss, 1e-3f * first) << first << " -> " << loss;
  float w = 0, b = 0, steps = 0;
  ASSERT_EQ(kiln_model_get_param(model, "dense/kernel", &w, 4), KILN_OK);
  ASSERT_EQ(kiln_model_get_param(model, "dense/bias", &b, 4), KILN_OK);
  ASSERT_EQ(kiln_model_get_param(model, "optimizer/iterations", &steps, 4), KILN_OK);
  EXPECT_NEAR(w, 2.0f, 0.05f);
  EXPECT_NEAR(b, 1.0f, 0.05f);
  EXPECT_EQ(steps, 200.0f);

  // Learning rate 0: steps change nothing but the step counter.
  float zero = 0;
  ASSERT_EQ(kiln_model_set_param(model, "optimizer/learning_rate", KILN_F32, &zero, 1), KILN_OK);
  ASSERT_EQ(kiln_session_run(session), KILN_OK);
  float w2 = 0;
  ASSERT_EQ(kiln_model_get_param(model, "dense/kernel", &w2, 4), KILN_OK);
  EXPECT_EQ(w2, w);

  // reset_state: the step counter and the learning rate come back, the weights stay.
  ASSERT_EQ(kiln_model_reset_state(model), KILN_OK) << kiln_last_error();
  ASSERT_EQ(kiln_model_get_param(model, "optimizer/iterations", &steps, 4), KILN_OK);
  ASSERT_EQ(kiln_model_get_param(model, "optimizer/learning_rate", &rate, 4), KILN_OK);
  ASSERT_EQ(kiln_model_get_param(model, "dense/kernel", &w2, 4), KILN_OK);
  EXPECT_EQ(steps, 0.0f);
  EXPECT_FLOAT_EQ(rate, 0.1f);
  EXPECT_EQ(w2, w);
  kiln_session_destroy(session);
  kiln_model_free(model);
}
