//===- GpuNumericsTest.cpp - the CUDA path against the CPU path -----------===//
//
// Runs only where kiln_cuda_devices finds a device (else every test is
// skipped with the reason). Each example is compiled by kilnc for both
// targets with FP32 GPU math (kilnc --target=cpu,cuda --gpu-precision=fp32),
// loaded twice, one copy moved to cuda; then predict and three train steps
// from the same parameters must agree to 1e-3 relative (|a - b| /
// max(|a|, |b|, 1e-3)), and the MNIST CNN trained one epoch on the real
// digits on the GPU must reach the CPU's held-out accuracy within 0.5 points.
// GpuOps runs every op of the dialect forward and backward the same way
// (test/ops/every-op.mlir).
//
// On a GPU machine without kilnc, KILN_TEST_KBINS=DIR takes the .kbin files
// from DIR instead (scripts/gpu-bundle.sh builds them; scripts/gpu-run.sh
// runs this binary with them).
//
// Without a GPU, CTest runs these once more on the fake driver
// (FakeCudaDriver.cpp, KILN_TEST_GPU_EMULATE=1): the runtime's whole GPU path
// (device placement, resident parameters, sessions, double buffering, CUDA
// graphs, kiln_fit) with the generated kernels run by the CPU emulator.
//
//===----------------------------------------------------------------------===//

#include "runtime/io/Dataset.h"
#include "runtime/kiln_runtime.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr double kTolerance = 1e-3, kFloor = 1e-3;

std::string deviceOrWhyNot() {
  size_t n = 0;
  if (kiln_cuda_devices(nullptr, 0, &n) == KILN_OK && n > 0)
    return "";
  return kiln_last_error();
}

#define REQUIRE_GPU()                                                                              \
  do {                                                                                             \
    std::string why_ = deviceOrWhyNot();                                                           \
    if (!why_.empty())                                                                             \
      GTEST_SKIP() << "no CUDA device, GPU numerics not run: " << why_;                            \
  } while (0)

std::string tempDir() {
  static std::string dir = [] {
    std::string t = ::testing::TempDir() + "kiln-gpu-XXXXXX";
    char *made = mkdtemp(t.data());
    return std::string(made ? made : "/tmp");
  }();
  return dir;
}

/// kilnc FILE --target=cpu,cuda --gpu-precision=fp32 [--batch-size=B] -o
/// STEM[-B].kbin. With KILN_TEST_KBINS=DIR (a GPU machine, where kilnc
/// cannot run: scripts/gpu-bundle.sh builds them), DIR/STEM[-B].kbin instead.
std::string compileFile(const std::string &file, const std::string &stem, const std::string &batches = "") {
  std::string name = stem + (batches.empty() ? "" : "-" + batches) + ".kbin";
  if (const char *dir = std::getenv("KILN_TEST_KBINS")) {
    std::string kbin = std::string(dir) + "/" + name;
    struct stat st;
    EXPECT_EQ(stat(kbin.c_str(), &st), 0) << kbin << " is missing (KILN_TEST_KBINS)";
    return kbin;
  }
  std::string out = tempDir() + "/" + name;
  std::string cmd = std::string(KILNC) + " '" + file + "' --target=cpu,cuda --gpu-precision=fp32" +
                    // With the fake driver (FakeCudaDriver.cpp): images it can run on the CPU.
                    (std::getenv("KILN_TEST_GPU_EMULATE") ? " --gpu-emulate" : "") +
                    (batches.empty() ? "" : " --batch-size=" + batches) + " -o '" + out + "' 2>'" + out + ".err'";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd << " (see " << out << ".err)";
  return out;
}

/// An example (examples/NAME.kiln) compiled for both targets.
std::string compile(const std::string &name, const std::string &batches = "") {
  return compileFile(std::string(KILN_EXAMPLES_DIR) + "/" + name + ".kiln", name, batches);
}

struct Pair {
  kiln_model *cpu = nullptr, *gpu = nullptr;
  explicit Pair(const std::string &kbin) {
    EXPECT_EQ(kiln_model_load_file(kbin.c_str(), 0, &cpu), KILN_OK) << kiln_last_error();
    EXPECT_EQ(kiln_model_load_file(kbin.c_str(), 0, &gpu), KILN_OK) << kiln_last_error();
    if (gpu)
      EXPECT_EQ(kiln_model_set_device(gpu, "cuda"), KILN_OK) << kiln_last_error();
  }
  ~Pair() {
    kiln_model_free(cpu);
    kiln_model_free(gpu);
  }
};

/// Largest |a - b| / max(|a|, |b|, floor); infinite where one side is NaN.
double worst(const float *a, const float *b, size_t n, double floor = kFloor) {
  double w = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = std::fabs(double(a[i]) - double(b[i]));
    double e = d / std::max({std::fabs(double(a[i])), std::fabs(double(b[i])), floor});
    w = std::max(w, std::isnan(a[i]) != std::isnan(b[i]) ? INFINITY : e);
  }
  return w;
}

/// Random inputs for `e`: f32 in [lo, 1), i32 (labels) in [0, classes);
/// "samples" left at its default.
std::vector<std::vector<uint8_t>> randomInputs(const kiln_entry_info &e, int64_t classes, uint64_t seed,
                                               float lo = 0.f) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<uint8_t>> in;
  for (size_t i = 0; i < e.num_inputs; ++i) {
    const kiln_tensor_info &t = e.inputs[i];
    std::vector<uint8_t> bytes(std::strcmp(t.name, "samples") == 0 ? 0 : t.byte_size);
    for (size_t k = 0; k < bytes.size() / 4; ++k) {
      if (t.dtype == KILN_I32) {
        int32_t v = int32_t(rng() % uint64_t(std::max<int64_t>(classes, 1)));
        std::memcpy(&bytes[4 * k], &v, 4);
      } else {
        float v = std::uniform_real_distribution<float>(lo, 1.f)(rng);
        std::memcpy(&bytes[4 * k], &v, 4);
      }
    }
    in.push_back(std::move(bytes));
  }
  return in;
}

/// Runs `s` with `inputs`; returns every f32 output concatenated per output.
std::vector<std::vector<float>> run(kiln_session *s, const kiln_entry_info &e,
                                    const std::vector<std::vector<uint8_t>> &inputs) {
  for (size_t i = 0; i < e.num_inputs; ++i)
    if (!inputs[i].empty())
      EXPECT_EQ(kiln_session_set_input(s, e.inputs[i].name, e.inputs[i].dtype, nullptr, 0, inputs[i].data(),
                                       inputs[i].size()),
                KILN_OK)
          << kiln_last_error();
  EXPECT_EQ(kiln_session_run(s), KILN_OK) << kiln_last_error();
  std::vector<std::vector<float>> out(e.num_outputs);
  for (size_t i = 0; i < e.num_outputs; ++i) {
    out[i].resize(e.outputs[i].byte_size / 4);
    EXPECT_EQ(kiln_session_get_output(s, e.outputs[i].name, out[i].data(), e.outputs[i].byte_size), KILN_OK)
        << kiln_last_error();
  }
  return out;
}

const kiln_entry_info *entry(kiln_model *m, const char *base) {
  size_t n = 0;
  kiln_model_num_entries(m, &n);
  for (size_t i = 0; i < n; ++i) {
    const kiln_entry_info *e = nullptr;
    kiln_model_entry(m, i, &e);
    if (std::strcmp(e->name, base) == 0 || std::strncmp(e->name, (std::string(base) + "_b").c_str(), strlen(base) + 2) == 0)
      return e;
  }
  return nullptr;
}

class GpuNumerics : public ::testing::TestWithParam<const char *> {};

TEST_P(GpuNumerics, PredictAndThreeTrainStepsMatchTheCpu) {
  REQUIRE_GPU();
  Pair p(compile(GetParam()));
  ASSERT_TRUE(p.cpu && p.gpu);
  const kiln_entry_info *predict = entry(p.cpu, "predict");
  ASSERT_NE(predict, nullptr);
  int64_t classes = predict->outputs[0].shape[predict->outputs[0].rank - 1];

  kiln_session *a = nullptr, *b = nullptr;
  ASSERT_EQ(kiln_session_create(p.cpu, predict->name, &a), KILN_OK) << kiln_last_error();
  ASSERT_EQ(kiln_session_create(p.gpu, predict->name, &b), KILN_OK) << kiln_last_error();
  for (uint64_t seed = 1; seed <= 3; ++seed) { // both input slots, then the first again
    auto in = randomInputs(*predict, classes, seed);
    auto x = run(a, *predict, in), y = run(b, *predict, in);
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_LE(worst(x[i].data(), y[i].data(), x[i].size()), kTolerance)
          << GetParam() << " " << predict->name << " output " << predict->outputs[i].name << " seed " << seed;
  }
  kiln_session_destroy(a);
  kiln_session_destroy(b);

  const kiln_entry_info *train = entry(p.cpu, "train_step");
  if (!train)
    return;
  ASSERT_EQ(kiln_session_create(p.cpu, train->name, &a), KILN_OK) << kiln_last_error();
  ASSERT_EQ(kiln_session_create(p.gpu, train->name, &b), KILN_OK) << kiln_last_error();
  for (int step = 0; step < 3; ++step) {
    auto in = randomInputs(*train, classes, 100 + uint64_t(step));
    auto x = run(a, *train, in), y = run(b, *train, in);
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_LE(worst(x[i].data(), y[i].data(), x[i].size()), kTolerance)
          << GetParam() << " step " << step << " output " << train->outputs[i].name;
  }
  kiln_session_destroy(a);
  kiln_session_destroy(b);
  size_t n = 0;
  kiln_model_num_params(p.cpu, &n);
  for (size_t i = 0; i < n; ++i) {
    const kiln_param_info *info = nullptr;
    kiln_model_param(p.cpu, i, &info);
    if (info->tensor.dtype != KILN_F32)
      continue;
    std::vector<float> x(info->tensor.num_elements), y(info->tensor.num_elements);
    ASSERT_EQ(kiln_model_get_param(p.cpu, info->tensor.name, x.data(), info->tensor.byte_size), KILN_OK);
    ASSERT_EQ(kiln_model_get_param(p.gpu, info->tensor.name, y.data(), info->tensor.byte_size), KILN_OK)
        << kiln_last_error();
    EXPECT_LE(worst(x.data(), y.data(), x.size()), kTolerance) << GetParam() << " after 3 steps: " << info->tensor.name;
  }
  // Back on the CPU, the parameters are the device's.
  ASSERT_EQ(kiln_model_set_device(p.gpu, "cpu"), KILN_OK) << kiln_last_error();
}

INSTANTIATE_TEST_SUITE_P(Examples, GpuNumerics,
                         ::testing::Values("xor", "linear_regression", "binary_classifier", "cifar10_mlp",
                                           "mnist_cnn", "cifar10_cnn"));

// Every op of the dialect, forward and backward (test/ops/every-op.mlir: each
// function returns an op's result y and the gradients of sum(y * r)), on
// inputs in [-1, 1] and class labels in [0, 3). Sums of up to 900 such
// terms cancel to near 0, so errors are relative to max(|a|, |b|, 1).
TEST(GpuOps, EveryOpForwardAndBackwardMatchesTheCpu) {
  REQUIRE_GPU();
  Pair p(compileFile(std::string(KILN_SOURCE_DIR) + "/test/ops/every-op.mlir", "every-op"));
  ASSERT_TRUE(p.cpu && p.gpu);
  size_t n = 0;
  ASSERT_EQ(kiln_model_num_entries(p.cpu, &n), KILN_OK);
  EXPECT_GE(n, 80u);
  for (size_t i = 0; i < n; ++i) {
    const kiln_entry_info *e = nullptr;
    ASSERT_EQ(kiln_model_entry(p.cpu, i, &e), KILN_OK);
    kiln_session *a = nullptr, *b = nullptr;
    ASSERT_EQ(kiln_session_create(p.cpu, e->name, &a), KILN_OK) << kiln_last_error();
    ASSERT_EQ(kiln_session_create(p.gpu, e->name, &b), KILN_OK) << e->name << ": " << kiln_last_error();
    auto in = randomInputs(*e, /*classes=*/3, /*seed=*/i, /*lo=*/-1.f);
    auto x = run(a, *e, in), y = run(b, *e, in);
    for (size_t o = 0; o < x.size(); ++o)
      EXPECT_LE(worst(x[o].data(), y[o].data(), x[o].size(), /*floor=*/1.0), kTolerance)
          << "@" << e->name << " output " << o << " (test/ops/every-op.mlir)";
    kiln_session_destroy(a);
    kiln_session_destroy(b);
  }
}

std::string mnistDir() {
  struct stat st;
  for (std::string d : {std::string(KILN_SOURCE_DIR) + "/../shared/data/mnist-10k",
                        std::string(KILN_SOURCE_DIR) + "/data/mnist-10k"})
    if (stat((d + "/images-idx3-ubyte.gz").c_str(), &st) == 0)
      return d;
  return "";
}

double fitAndEvaluate(kiln_model *m, const kiln::io::Dataset &train, const kiln::io::Dataset &test) {
  auto view = [](const kiln::io::Dataset &d, kiln_dataset &out) {
    out.x = d.x.bytes();
    out.x_dtype = KILN_F32;
    out.x_shape = d.x.shape().data();
    out.x_rank = int32_t(d.x.rank());
    out.y = d.y.bytes();
    out.y_dtype = d.y.dtype() == kiln::io::DType::I32 ? KILN_I32 : KILN_F32;
    out.y_shape = d.y.shape().data();
    out.y_rank = int32_t(d.y.rank());
  };
  kiln_dataset tr{}, te{};
  view(train, tr);
  view(test, te);
  kiln_fit_options o;
  kiln_fit_options_init(&o);
  o.epochs = 1;
  o.batch_size = 64;
  o.validation_split = 0;
  o.seed = 0;
  EXPECT_EQ(kiln_fit(m, &tr, &o), KILN_OK) << kiln_last_error();
  kiln_metric metrics[8];
  size_t count = 0;
  EXPECT_EQ(kiln_evaluate(m, &te, 64, metrics, 8, &count), KILN_OK) << kiln_last_error();
  for (size_t i = 0; i < count && i < 8; ++i)
    if (std::strstr(metrics[i].name, "accuracy"))
      return 100 * metrics[i].value;
  ADD_FAILURE() << "no accuracy metric";
  return 0;
}

TEST(GpuAccuracy, MnistCnnOneEpochMatchesTheCpu) {
  REQUIRE_GPU();
  std::string dir = mnistDir();
  if (dir.empty())
    GTEST_SKIP() << "no MNIST digits at ../shared/data/mnist-10k or data/mnist-10k";
  kiln::io::DatasetOptions first, last;
  auto all = kiln::io::loadDataset(dir, first);
  ASSERT_TRUE(all) << all.message();
  // First 8,000 to train, last 2,000 to test (as the README's quick start).
  auto slice = [](const kiln::io::Array &a, int64_t begin, int64_t count) {
    std::vector<int64_t> shape = a.shape();
    size_t row = a.byteSize() / size_t(shape[0]);
    shape[0] = count;
    auto r = kiln::io::Array::fromBytes(a.dtype(), shape, a.bytes() + size_t(begin) * row, size_t(count) * row);
    EXPECT_TRUE(r);
    return std::move(*r);
  };
  kiln::io::Dataset train, test;
  train.x = slice(all->x, 0, 8000);
  train.y = slice(all->y, 0, 8000);
  test.x = slice(all->x, 8000, 2000);
  test.y = slice(all->y, 8000, 2000);
  Pair p(compile("mnist_cnn", "64"));
  ASSERT_TRUE(p.cpu && p.gpu);
  double cpu = fitAndEvaluate(p.cpu, train, test);
  double gpu = fitAndEvaluate(p.gpu, train, test);
  std::printf("MNIST CNN, 1 epoch on 8,000 digits: held-out accuracy %.2f %% (cpu) vs %.2f %% (cuda)\n", cpu, gpu);
  EXPECT_NEAR(gpu, cpu, 0.5);
}

} // namespace
