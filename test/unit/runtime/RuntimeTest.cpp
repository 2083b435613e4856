//===- RuntimeTest.cpp - The Kiln runtime against hand-built .kbin files ---===//
//
// The artifacts are built here with the flatbuffers builder around a real
// shared object (test_model.c, compiled at build time), so these tests need
// no compiler: loading, signatures, runs, parameters, every misuse, threads,
// and corrupted / hostile artifacts.
//
//===----------------------------------------------------------------------===//

#include "ExpectError.h"
#include "runtime/kiln_runtime.h"
#include "runtime/kiln_runtime.hpp"
#include "test/unit/runtime/KbinTestBuilder.h"

#include <gtest/gtest.h>

#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

using namespace kiln::test;

namespace {

std::vector<uint8_t> &sharedObject(int bias = 1) {
  static std::vector<uint8_t> v1 = readFileBytes(KILN_TEST_MODEL_SO);
  static std::vector<uint8_t> v2 = readFileBytes(KILN_TEST_MODEL_V2_SO);
  return bias == 1 ? v1 : v2;
}

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "kiln-runtime-" + std::to_string(getpid()) + "-" + name;
}

/// Copies `bytes` into 64-byte aligned memory (freed by the caller with free()).
struct Aligned {
  explicit Aligned(const std::vector<uint8_t> &bytes, size_t shift = 0) {
    p = static_cast<uint8_t *>(aligned_alloc(64, ((bytes.size() + shift) / 64 + 1) * 64));
    std::memcpy(p + shift, bytes.data(), bytes.size());
    data = p + shift;
    size = bytes.size();
  }
  ~Aligned() { std::free(p); }
  uint8_t *p, *data;
  size_t size;
};

/// Loads `bytes`; returns the model or nullptr with *status set.
kiln_model *load(const std::vector<uint8_t> &bytes, kiln_status *status, uint32_t flags = KILN_LOAD_DEFAULT) {
  kiln_model *m = reinterpret_cast<kiln_model *>(0x1); // must be reset to NULL on failure
  *status = kiln_model_load_memory(bytes.data(), bytes.size(), flags, &m);
  if (*status != KILN_OK)
    EXPECT_EQ(m, nullptr);
  return *status == KILN_OK ? m : nullptr;
}

kiln_model *loadOk(const KbinSpec &spec, uint32_t flags = KILN_LOAD_DEFAULT) {
  kiln_status s;
  kiln_model *m = load(buildKbin(spec), &s, flags);
  EXPECT_EQ(s, KILN_OK) << kiln_last_error();
  return m;
}


/// A spec must be rejected at load with `code` and a message containing the substrings.
#define EXPECT_REJECTED(spec, code, ...)                                                           \
  do {                                                                                             \
    kiln_model *m_ = nullptr;                                                                      \
    std::vector<uint8_t> bytes_ = buildKbin(spec);                                                 \
    EXPECT_ERROR(kiln_model_load_memory(bytes_.data(), bytes_.size(), 0, &m_), code, __VA_ARGS__); \
    EXPECT_EQ(m_, nullptr);                                                                        \
    kiln_model_free(m_);                                                                           \
  } while (0)

std::vector<float> affineInput(float seed) {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i)
    x[i] = seed + 0.25f * static_cast<float>(i);
  return x;
}

std::vector<float> affineExpected(const std::vector<float> &x, const std::vector<float> &kernel, float bias = 1) {
  std::vector<float> y(32);
  for (int i = 0; i < 32; ++i)
    y[i] = x[i] * kernel[i % 8] + bias;
  return y;
}

std::vector<float> initialKernel() {
  std::vector<float> k(8);
  for (int j = 0; j < 8; ++j)
    k[j] = 0.5f * static_cast<float>(j + 1);
  return k;
}

int openFdCount() {
  int n = 0;
  if (DIR *d = opendir("/proc/self/fd")) {
    while (readdir(d))
      ++n;
    closedir(d);
  }
  return n;
}

class Runtime : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(sharedObject().empty()) << "cannot read " << KILN_TEST_MODEL_SO;
    spec = testModelSpec(sharedObject());
    fdsBefore = openFdCount();
  }
  void TearDown() override {
    // Every path, failing or not, releases its memfd and file descriptors.
    EXPECT_EQ(openFdCount(), fdsBefore) << "file descriptors leaked";
  }
  KbinSpec spec;
  int fdsBefore = 0;
};

} // namespace

//===--- loading and signatures ---------------------------------------------===//

TEST_F(Runtime, LoadFromFileAndListSignature) {
  std::string path = tempPath("model.kbin");
  ASSERT_TRUE(writeFileBytes(path, buildKbin(spec)));
  kiln_model *m = nullptr;
  ASSERT_EQ(kiln_model_load_file(path.c_str(), KILN_LOAD_DEFAULT, &m), KILN_OK) << kiln_last_error();
  EXPECT_STREQ(kiln_last_error(), "");
  std::remove(path.c_str());

  const char *name = nullptr, *producer = nullptr;
  ASSERT_EQ(kiln_model_name(m, &name), KILN_OK);
  EXPECT_STREQ(name, "affine-model");
  ASSERT_EQ(kiln_model_producer(m, &producer), KILN_OK);
  EXPECT_STREQ(producer, "kiln-test");

  size_t n = 0;
  ASSERT_EQ(kiln_model_num_entries(m, &n), KILN_OK);
  ASSERT_EQ(n, 3u);
  const kiln_entry_info *e = nullptr;
  ASSERT_EQ(kiln_model_entry(m, 0, &e), KILN_OK);
  EXPECT_STREQ(e->name, "predict");
  EXPECT_EQ(e->batch_size, 4);
  ASSERT_EQ(e->num_inputs, 1u);
  EXPECT_STREQ(e->inputs[0].name, "x");
  EXPECT_EQ(e->inputs[0].dtype, KILN_F32);
  ASSERT_EQ(e->inputs[0].rank, 2);
  EXPECT_EQ(e->inputs[0].shape[0], 4);
  EXPECT_EQ(e->inputs[0].shape[1], 8);
  EXPECT_EQ(e->inputs[0].num_elements, 32);
  EXPECT_EQ(e->inputs[0].byte_size, 128u);
  ASSERT_EQ(e->num_outputs, 1u);
  EXPECT_STREQ(e->outputs[0].name, "y");
  ASSERT_EQ(e->num_params, 1u);
  EXPECT_EQ(e->param_indices[0], 0u);
  EXPECT_EQ(e->scratch_bytes, 128u);
  EXPECT_STREQ(e->cpu_symbol, "kiln_test_affine");

  const kiln_entry_info *found = nullptr;
  ASSERT_EQ(kiln_model_find_entry(m, "train_step", &found), KILN_OK);
  EXPECT_STREQ(found->name, "train_step");
  ASSERT_EQ(found->num_outputs, 1u);
  EXPECT_EQ(found->outputs[0].rank, 0);
  EXPECT_EQ(found->outputs[0].num_elements, 1);
  EXPECT_EQ(found->outputs[0].byte_size, 4u);
  ASSERT_EQ(kiln_model_find_entry(m, "add", &found), KILN_OK);
  EXPECT_EQ(found->num_inputs, 2u);
  EXPECT_EQ(found->inputs[1].dtype, KILN_I32);

  ASSERT_EQ(kiln_model_num_params(m, &n), KILN_OK);
  ASSERT_EQ(n, 3u);
  const kiln_param_info *p = nullptr;
  ASSERT_EQ(kiln_model_param(m, 0, &p), KILN_OK);
  EXPECT_STREQ(p->tensor.name, "affine/kernel");
  EXPECT_EQ(p->tensor.dtype, KILN_F32);
  EXPECT_EQ(p->tensor.rank, 1);
  EXPECT_EQ(p->tensor.shape[0], 8);
  EXPECT_EQ(p->trainable, 1);
  ASSERT_EQ(kiln_model_param(m, 1, &p), KILN_OK);
  EXPECT_STREQ(p->tensor.name, "add/offset");
  EXPECT_EQ(p->tensor.dtype, KILN_I32);
  EXPECT_EQ(p->tensor.rank, 0);
  EXPECT_EQ(p->tensor.num_elements, 1);
  ASSERT_EQ(kiln_model_find_param(m, "frozen/table", &p), KILN_OK);
  EXPECT_EQ(p->trainable, 0);
  EXPECT_EQ(p->tensor.rank, 2);
  EXPECT_EQ(p->tensor.shape[1], 3);
  EXPECT_EQ(p->tensor.byte_size, 24u);
  kiln_model_free(m);
}

TEST_F(Runtime, LoadFromMemoryAlignedAndUnalignedKeepsNoReference) {
  std::vector<uint8_t> bytes = buildKbin(spec);
  for (size_t shift : {0, 1, 8, 13}) {
    kiln_model *m = nullptr;
    {
      Aligned copy(bytes, shift);
      ASSERT_EQ(kiln_model_load_memory(copy.data, copy.size, 0, &m), KILN_OK) << "shift " << shift << ": "
                                                                                << kiln_last_error();
      std::memset(copy.data, 0xAB, copy.size); // the runtime must not look at these bytes again
    }
    kiln_session *s = nullptr;
    ASSERT_EQ(kiln_session_create(m, "predict", &s), KILN_OK) << kiln_last_error();
    std::vector<float> x = affineInput(1), y(32);
    ASSERT_EQ(kiln_session_set_input(s, "x", KILN_F32, nullptr, 0, x.data(), 128), KILN_OK) << kiln_last_error();
    ASSERT_EQ(kiln_session_run(s), KILN_OK) << kiln_last_error();
    ASSERT_EQ(kiln_session_get_output(s, "y", y.data(), 128), KILN_OK) << kiln_last_error();
    EXPECT_EQ(y, affineExpected(x, initialKernel()));
    kiln_session_destroy(s);
    kiln_model_free(m);
  }
}

TEST_F(Runtime, NoCodeLoadInspectsWithoutLoadingCode) {
  // A shared object that could never be dlopen'ed: NO_CODE does not try.
  spec.sharedObject = fakeSharedObject();
  spec.features = {"sse2", "avx512f", "avx512bf16"}; // not checked against the host
  kiln_model *m = loadOk(spec, KILN_LOAD_NO_CODE);
  ASSERT_NE(m, nullptr);
  std::vector<float> k(8);
  EXPECT_EQ(kiln_model_get_param(m, "affine/kernel", k.data(), 32), KILN_OK);
  EXPECT_EQ(k, initialKernel());
  kiln_session *s = nullptr;
  EXPECT_ERROR(kiln_session_create(m, "predict", &s), KILN_ERR_BAD_STATE, "KILN_LOAD_NO_CODE", "no code to run");
  EXPECT_EQ(s, nullptr);
  kiln_model_free(m);
}

//===--- running ------------------------------------------------------------===//

TEST_F(Runtime, RunAffineRepeatedly) {
  kiln_model *m = loadOk(spec);
  ASSERT_NE(m, nullptr);
  kiln_session *s = nullptr;
  ASSERT_EQ(kiln_session_create(m, "predict", &s), KILN_OK) << kiln_last_error();
  const kiln_entry_info *e = nullptr;
  ASSERT_EQ(kiln_session_entry(s, &e), KILN_OK);
  EXPECT_STREQ(e->name, "predict");
  const int64_t shape[] = {4, 8};
  for (int it = 0; it < 5; ++it) {
    std::vector<float> x = affineInput(static_cast<float>(it) - 2.5f);
    ASSERT_EQ(kiln_session_set_input(s, "x", KILN_F32, shape, 2, x.data(), x.size() * 4), KILN_OK)
        << kiln_last_error();
    ASSERT_EQ(kiln_session_run(s), KILN_OK) << kiln_last_error();
    const void *out = nullptr;
    size_t bytes = 0;
    ASSERT_EQ(kiln_session_output(s, "y", &out, &bytes), KILN_OK) << kiln_last_error();
    ASSERT_EQ(bytes, 128u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(out) % 64, 0u);
    std::vector<float> y(static_cast<const float *>(out), static_cast<const float *>(out) + 32);
    EXPECT_EQ(y, affineExpected(x, initialKernel()));
  }
  kiln_session_destroy(s);
  kiln_model_free(m);
}

TEST_F(Runtime, BindInputByPointer) {
  kiln_model *m = loadOk(spec);
  kiln_session *s = nullptr;
  ASSERT_EQ(kiln_session_create(m, "predict", &s), KILN_OK) << kiln_last_error();
  float *x = static_cast<float *>(aligned_alloc(64, 256));
  std::vector<float> v = affineInput(3);
  std::memcpy(x, v.data(), 128);
  ASSERT_EQ(kiln_session_bind_input(s, "x", KILN_F32, nullptr, 0, x, 128), KILN_OK) << kiln_last_error();
  ASSERT_EQ(kiln_session_run(s), KILN_OK);
  std::vector<float> y(32);
  ASSERT_EQ(kiln_session_get_output(s, "y", y.data(), 128), KILN_OK);
  EXPECT_EQ(y, affineExpected(v, initialKernel()));
  // No copy: a change to the caller's memory shows in the next run.
  x[0] = 100;
  v[0] = 100;
  ASSERT_EQ(kiln_session_run(s), KILN_OK);
  ASSERT_EQ(kiln_session_get_output(s, "y", y.data(), 128), KILN_OK);
  EXPECT_EQ(y, affineExpected(v, initialKernel()));
  // Misaligned memory is refused (the packed ABI promises 64-byte alignment).
  EXPECT_ERROR(kiln_session_bind_input(s, "x", KILN_F32, nullptr, 0, x + 1, 128), KILN_ERR_INVALID_ARGUMENT,
               "not 64-byte aligned", "kiln_session_set_input");
  // Copying again replaces the binding.
  std::vector<float> w = affineInput(-7);
  ASSERT_EQ(kiln_session_set_input(s, "x", KILN_F32, nullptr, 0, w.data(), 128), KILN_OK);
  x[0] = -1e9f;
  ASSERT_EQ(kiln_session_run(s), KILN_OK);
  ASSERT_EQ(kiln_session_get_output(s, "y", y.data(), 128), KILN_OK);
  EXPECT_EQ(y, affineExpected(w, initialKernel()));
  kiln_session_destroy(s);
  kiln_model_free(m);
  std::free(x);
}

TEST_F(Runtime, Int32EntryWithScalarParameter) {
  kiln_model *m = loadOk(spec);
  kiln_session *s = nullptr;
  ASSERT_EQ(kiln_session_create(m, "add", &s), KILN_OK) << kiln_last_error();
  std::vector<int32_t> a = {1, 2, 3}, b = {10, 20, 30}, c(3);
  ASSERT_EQ(kiln_session_set_input(s, "a", KILN_I32, nullptr, 0, a.data(), 12), KILN_OK);
  ASSERT_EQ(kiln_session_set_input(s, "b", KILN_I32, nullptr, 0, b.data(), 12), KILN_OK);
  ASSERT_EQ(kiln_session_run(s), KILN_OK);
  ASSERT_EQ(kiln_session_get_output(s, "c", c.data(), 12), KILN_OK);
  EXPECT_EQ(c, (std::vector<int32_t>{111, 122, 133}));
  int32_t offset = -11;
  ASSERT_EQ(kiln_model_set_param(m, "add/offset", KILN_I32, &offset, 1), KILN_OK) << kiln_last_error();
  ASSERT_EQ(kiln_session_run(s), KILN_OK);
  ASSERT_EQ(kiln_session_get_output(s, "c", c.data(), 12), KILN_OK);
  EXPECT_EQ(c, (std::vector<int32_t>{0, 11, 22}));
  kiln_session_destroy(s);
  kiln_model_free(m);
}

TEST_F(Runtime, GetAndSetParameters) {
  kiln_model *m = loadOk(spec);
  std::vector<float> k(8);
  ASSERT_EQ(kiln_model_get_param(m, "affine/kernel", k.data(), 32), KILN_OK) << kiln_last_error();
  EXPECT_EQ(k, initialKernel());
  std::vector<float> table(6);
  ASSERT_EQ(kiln_model_get_param(m, "frozen/table", table.data(), 24), KILN_OK);
  EXPECT_EQ(table, (std::vector<float>{1, 2, 3, 4, 5, 6}));

  kiln_session *s = nullptr;
  ASSERT_EQ(kiln_session_create(m, "predict", &s), KILN_OK);
  std::vector<float> x = affineInput(0.5f), y(32);
  ASSERT_EQ(kiln_session_set_input(s, "x", KILN_F32, nullptr, 0, x.data(), 128), KILN_OK);
  std::vector<float> k2 = {-1, 2, -3, 4, -5, 6, -7, 8};
  ASSERT_EQ(kiln_model_set_param(m, "affine/kernel", KILN_F32, k2.data(), 8), KILN_OK) << kiln_last_error();
  ASSERT_EQ(kiln_session_run(s), KILN_OK); // a session created before the set sees it
  ASSERT_EQ(kiln_session_get_output(s, "y", y.data(), 128), KILN_OK);
  EXPECT_EQ(y, affineExpected(x, k2));
  ASSERT_EQ(kiln_model_get_param(m, "affine/kernel", k.data(), 32), KILN_OK);
  EXPECT_EQ(k, k2);
  kiln_session_destroy(s);
  kiln_model_free(m);
}

TEST_F(Runtime, TrainStepUpdatesParametersSharedBySessions) {
  kiln_model *m = loadOk(spec);
  kiln_session *train = nullptr, *predict = nullptr;
  ASSERT_EQ(kiln_session_create(m, "train_step", &train), KILN_OK);
  ASSERT_EQ(kiln_session_create(m, "predict", &predict), KILN_OK);
  std::vector<float> x = affineInput(1);
  std::vector<float> kernel = initialKernel();
  ASSERT_EQ(kiln_session_set_input(train, "x", KILN_F32, nullptr, 0, x.data(), 128), KILN_OK);
  for (int step = 0; step < 3; ++step) {
    ASSERT_EQ(kiln_session_run(train), KILN_OK);
    float sum = 0;
    for (int j = 0; j < 8; ++j) {
      float mean = (x[j] + x[8 + j] + x[16 + j] + x[24 + j]) / 4;
      kernel[j] -= 0.5f * mean;
      sum += kernel[j];
    }
    float loss = 0;
    ASSERT_EQ(kiln_session_get_output(train, "loss", &loss, 4), KILN_OK);
    EXPECT_FLOAT_EQ(loss, sum);
  }
  std::vector<float> k(8), y(32);
  ASSERT_EQ(kiln_model_get_param(m, "affine/kernel", k.data(), 32), KILN_OK);
  for (int j = 0; j < 8; ++j)
    EXPECT_FLOAT_EQ(k[j], kernel[j]);
  ASSERT_EQ(kiln_session_set_input(predict, "x", KILN_F32, nullptr, 0, x.data(), 128), KILN_OK);
  ASSERT_EQ(kiln_session_run(predict), KILN_OK);
  ASSERT_EQ(kiln_session_get_output(predict, "y", y.data(), 128), KILN_OK);
  EXPECT_EQ(y, affineExpected(x, k));
  kiln_session_destroy(train);
  kiln_session_destroy(predict);
  kiln_model_free(m);
}

/// The test model plus optimizer state, as kilnc writes it for a trainable
/// model: "optimizer/iterations" and "optimizer/learning_rate" (f32 scalars,
/// used in place by entry point "train_state") and "optimizer/affine/kernel/m"
/// ([8] f32, used by nothing), all with Parameter.state = true.
KbinSpec withOptimizerState(KbinSpec s) {
  s.params.push_back({"optimizer/iterations", 0, {}, false, bytesOf(std::vector<float>{0}), true});
  s.params.push_back({"optimizer/learning_rate", 0, {}, false, bytesOf(std::vector<float>{0.5f}), true});
  s.params.push_back({"optimizer/affine/kernel/m", 0, {8}, false, bytesOf(std::vector<float>(8, 0.25f)), true});
  EntrySpecDesc train;
  train.name = "train_state";
  train.batchSize = 4;
  train.inputs = {{"x", 0, {4, 8}}};
  train.outputs = {{"loss", 0, {}}};
  train.paramIndices = {0, 3, 4}; // affine/kernel, optimizer/iterations, optimizer/learning_rate
  train.cpuSymbol = "kiln_test_train_state";
  s.entries.push_back(train);
  return s;
}

TEST_F(Runtime, OptimizerStateIsMarked) {
  for (uint32_t flags : {KILN_LOAD_DEFAULT, KILN_LOAD_NO_CODE}) {
    kiln_model *m = loadOk(withOptimizerState(spec), flags);
    ASSERT_NE(m, nullptr);
    size_t n = 0;
    ASSERT_EQ(kiln_model_num_params(m, &n), KILN_OK);
    ASSERT_EQ(n, 6u);
    const char *expected[] = {"affine/kernel", "add/offset", "frozen/table", "optimizer/iterations",
                              "optimizer/learning_rate", "optimizer/affine/kernel/m"};
    for (size_t i = 0; i < n; ++i) {
      const kiln_param_info *p = nullptr;
      ASSERT_EQ(kiln_model_param(m, i, &p), KILN_OK);
      EXPECT_STREQ(p->tensor.name, expected[i]);
      EXPECT_EQ(p->is_state, i >= 3 ? 1 : 0) << p->tensor.name;
      EXPECT_EQ(p->trainable, i < 2 ? 1 : 0) << p->tensor.name;
    }
    const kiln_param_info *lr = nullptr;
    ASSERT_EQ(kiln_model_find_param(m, "optimizer/learning_rate", &lr), KILN_OK);
    EXPECT_EQ(lr->is_state, 1);
    EXPECT_EQ(lr->tensor.rank, 0);
    kiln_model_free(m);
  }
  // An artifact without the field (every older .kbin) has no state.
  kiln_model *m = loadOk(spec, KILN_LOAD_NO_CODE);
  for (size_t i = 0; i < 3; ++i) {
    const kiln_param_info *p = nullptr;
    ASSERT_EQ(kiln_model_param(m, i, &p), KILN_OK);
    EXPECT_EQ(p->is_state, 0);
  }
  EXPECT_EQ(kiln_model_reset_state(m), KILN_OK); // nothing to reset
  kiln_model_free(m);
}

TEST_F(Runtime, TrainWithLearningRateAndResetState) {
  kiln_model *m = loadOk(withOptimizerState(spec));
  ASSERT_NE(m, nullptr);
  kiln_session *train = nullptr;
  ASSERT_EQ(kiln_session_create(m, "train_state", &train), KILN_OK) << kiln_last_error();
  std::vector<float> x = affineInput(1), kernel = initialKernel();
  ASSERT_EQ(kiln_session_set_input(train, "x", KILN_F32, nullptr, 0, x.data(), 128), KILN_OK);
  auto step = [&](float lr) {
    ASSERT_EQ(kiln_session_run(train), KILN_OK);
    float sum = 0;
    for (int j = 0; j < 8; ++j) {
      kernel[j] -= lr * (x[j] + x[8 + j] + x[16 + j] + x[24 + j]) / 4;
      sum += kernel[j];
    }
    float loss = 0;
    ASSERT_EQ(kiln_session_get_output(train, "loss", &loss, 4), KILN_OK);
    EXPECT_FLOAT_EQ(loss, sum);
  };
  step(0.5f);
  step(0.5f);
  // The learning rate is a parameter: set it between steps.
  float lr = 0.125f;
  ASSERT_EQ(kiln_model_set_param(m, "optimizer/learning_rate", KILN_F32, &lr, 1), KILN_OK) << kiln_last_error();
  step(0.125f);
  float iterations = 0;
  ASSERT_EQ(kiln_model_get_param(m, "optimizer/iterations", &iterations, 4), KILN_OK);
  EXPECT_EQ(iterations, 3.0f);
  std::vector<float> moments(8, -1.0f);
  ASSERT_EQ(kiln_model_set_param(m, "optimizer/affine/kernel/m", KILN_F32, moments.data(), 8), KILN_OK);
  std::vector<float> table = {9, 9, 9, 9, 9, 9};
  ASSERT_EQ(kiln_model_set_param(m, "frozen/table", KILN_F32, table.data(), 6), KILN_OK);

  // reset_state restores the state entries only; the weights keep their trained values.
  ASSERT_EQ(kiln_model_reset_state(m), KILN_OK) << kiln_last_error();
  EXPECT_STREQ(kiln_last_error(), "");
  ASSERT_EQ(kiln_model_get_param(m, "optimizer/iterations", &iterations, 4), KILN_OK);
  EXPECT_EQ(iterations, 0.0f);
  ASSERT_EQ(kiln_model_get_param(m, "optimizer/learning_rate", &lr, 4), KILN_OK);
  EXPECT_EQ(lr, 0.5f);
  ASSERT_EQ(kiln_model_get_param(m, "optimizer/affine/kernel/m", moments.data(), 32), KILN_OK);
  EXPECT_EQ(moments, std::vector<float>(8, 0.25f));
  std::vector<float> k(8), t(6);
  ASSERT_EQ(kiln_model_get_param(m, "affine/kernel", k.data(), 32), KILN_OK);
  for (int j = 0; j < 8; ++j)
    EXPECT_FLOAT_EQ(k[j], kernel[j]);
  ASSERT_EQ(kiln_model_get_param(m, "frozen/table", t.data(), 24), KILN_OK);
  EXPECT_EQ(t, table);
  // Training goes on from the reset state (iterations from 0, the initial rate) and
  // reset can be repeated.
  step(0.5f);
  ASSERT_EQ(kiln_model_get_param(m, "optimizer/iterations", &iterations, 4), KILN_OK);
  EXPECT_EQ(iterations, 1.0f);
  ASSERT_EQ(kiln_model_reset_state(m), KILN_OK);
  ASSERT_EQ(kiln_model_get_param(m, "optimizer/iterations", &iterations, 4), KILN_OK);
  EXPECT_EQ(iterations, 0.0f);

  EXPECT_ERROR(kiln_model_reset_state(nullptr), KILN_ERR_INVALID_ARGUMENT, "kiln_model_reset_state: model is NULL");

  kiln_session_destroy(train);
  kiln_model_free(m);

  // The C++ wrapper.
  std::vector<uint8_t> bytes = buildKbin(withOptimizerState(spec));
  auto model = kiln::Model::load_memory(bytes.data(), bytes.size());
  ASSERT_TRUE(model) << model.error().message;
  ASSERT_TRUE(model->set_param<float>("optimizer/iterations", std::vector<float>{7}));
  ASSERT_TRUE(model->reset_state());
  auto it = model->get_param<float>("optimizer/iterations");
  ASSERT_TRUE(it);
  EXPECT_EQ(*it, std::vector<float>{0});
}

TEST_F(Runtime, SessionKeepsModelAlive) {
  kiln_model *m = loadOk(spec);
  kiln_session *s = nullptr;
  ASSERT_EQ(kiln_session_create(m, "predict", &s), KILN_OK);
  kiln_model_free(m); // the session still holds a reference
  std::vector<float> x = affineInput(2), y(32);
  ASSERT_EQ(kiln_session_set_input(s, "x", KILN_F32, nullptr, 0, x.data(), 128), KILN_OK);
  ASSERT_EQ(kiln_session_run(s), KILN_OK);
  ASSERT_EQ(kiln_session_get_output(s, "y", y.data(), 128), KILN_OK);
  EXPECT_EQ(y, affineExpected(x, initialKernel()));
  const kiln_entry_info *e = nullptr;
  ASSERT_EQ(kiln_session_entry(s, &e), KILN_OK);
  EXPECT_STREQ(e->name, "predict");
  kiln_session_destroy(s); // frees the model
}

TEST_F(Runtime, ModelsLoadedAfterOthersRunTheirOwnCode) {
  // glibc finds loaded objects by path: a new model whose memfd reuses the fd
  // number of an earlier one must still get its own code, also when the
  // earlier object stays loaded (pinned here with RTLD_NODELETE).
  KbinSpec spec2 = testModelSpec(sharedObject(2));
  auto predictOnce = [](kiln_model *m) {
    kiln_session *s = nullptr;
    EXPECT_EQ(kiln_session_create(m, "predict", &s), KILN_OK) << kiln_last_error();
    std::vector<float> x(32, 0.0f), y(32, -1.0f);
    EXPECT_EQ(kiln_session_set_input(s, "x", KILN_F32, nullptr, 0, x.data(), 128), KILN_OK);
    EXPECT_EQ(kiln_session_run(s), KILN_OK);
    EXPECT_EQ(kiln_session_get_output(s, "y", y.data(), 128), KILN_OK);
    kiln_session_destroy(s);
    return y[0]; // x * kernel + bias = bias
  };
  for (int round = 0; round < 3; ++round) {
    kiln_model *a = loadOk(spec);
    EXPECT_EQ(predictOnce(a), 1.0f);
    kiln_model_free(a);
    kiln_model *b = loadOk(spec2);
    EXPECT_EQ(predictOnce(b), 2.0f);
    kiln_model_free(b);
  }
  // Pin a model's object so that it outlives kiln_model_free.
  kiln_model *a = loadOk(spec);
  std::vector<std::string> names;
  dl_iterate_phdr(
      [](dl_phdr_info *info, size_t, void *out) {
        if (info->dlpi_name && std::strncmp(info->dlpi_name, "/proc/self/fd/", 14) == 0)
          static_cast<std::vector<std::string> *>(out)->push_back(info->dlpi_name);
        return 0;
      },
      &names);
  ASSERT_EQ(names.size(), 1u);
  void *pin = dlopen(names[0].c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  ASSERT_NE(pin, nullptr) << dlerror();
  dlclose(pin);
  kiln_model_free(a); // closes the memfd; the object stays under its old name
  kiln_model *b = loadOk(spec2);
  EXPECT_EQ(predictOnce(b), 2.0f) << "the new model ran the pinned model's code";
  kiln_model_free(b);
  fdsBefore = openFdCount(); // the pinned object holds no fd, but be exact
}

//===--- threads ------------------------------------------------------------===//

TEST_F(Runtime, ConcurrentSessionsOnOneModel) {
  kiln_model *m = loadOk(spec);
  ASSERT_NE(m, nullptr);
  constexpr int kThreads = 6, kIterations = 400;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      kiln_session *s = nullptr;
      if (t % 3 == 2) { // an i32 entry point alongside
        if (kiln_session_create(m, "add", &s) != KILN_OK) {
          ++failures;
          return;
        }
        for (int it = 0; it < kIterations; ++it) {
          int32_t a[3] = {t, it, -it}, b[3] = {1, 2, 3}, c[3];
          if (kiln_session_set_input(s, "a", KILN_I32, nullptr, 0, a, 12) ||
              kiln_session_set_input(s, "b", KILN_I32, nullptr, 0, b, 12) || kiln_session_run(s) ||
              kiln_session_get_output(s, "c", c, 12) || c[0] != t + 101 || c[1] != it + 102 || c[2] != 103 - it)
            ++failures;
        }
      } else {
        if (kiln_session_create(m, "predict", &s) != KILN_OK) {
          ++failures;
          return;
        }
        const std::vector<float> kernel = initialKernel();
        for (int it = 0; it < kIterations; ++it) {
          std::vector<float> x = affineInput(static_cast<float>(t * 1000 + it)), y(32);
          if (kiln_session_set_input(s, "x", KILN_F32, nullptr, 0, x.data(), 128) || kiln_session_run(s) ||
              kiln_session_get_output(s, "y", y.data(), 128) || y != affineExpected(x, kernel))
            ++failures;
        }
      }
      kiln_session_destroy(s);
    });
  }
  for (std::thread &th : threads)
    th.join();
  EXPECT_EQ(failures.load(), 0);
  kiln_model_free(m);
}

TEST_F(Runtime, ConcurrentLoadsAndPerThreadErrors) {
  std::vector<uint8_t> bytes = buildKbin(spec);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int it = 0; it < 10; ++it) {
        kiln_model *m = nullptr;
        if (kiln_model_load_memory(bytes.data(), bytes.size(), 0, &m) != KILN_OK) {
          ++failures;
          continue;
        }
        // An error on this thread...
        const kiln_entry_info *e = nullptr;
        std::string mine = "no-such-entry-" + std::to_string(t);
        if (kiln_model_find_entry(m, mine.c_str(), &e) != KILN_ERR_NOT_FOUND)
          ++failures;
        std::this_thread::yield();
        // ...is this thread's message, whatever the others did meanwhile.
        if (std::string(kiln_last_error()).find(mine) == std::string::npos)
          ++failures;
        kiln_session *s = nullptr;
        std::vector<float> x = affineInput(static_cast<float>(t)), y(32);
        if (kiln_session_create(m, "predict", &s) || kiln_session_set_input(s, "x", KILN_F32, nullptr, 0, x.data(), 128) ||
            kiln_session_run(s) || kiln_session_get_output(s, "y", y.data(), 128) ||
            y != affineExpected(x, initialKernel()))
          ++failures;
        if (std::string(kiln_last_error()) != "")
          ++failures;
        kiln_session_destroy(s);
        kiln_model_free(m);
      }
    });
  }
  for (std::thread &th : threads)
    th.join();
  EXPECT_EQ(failures.load(), 0);
}

//===--- misuse -------------------------------------------------------------===//

TEST_F(Runtime, LoadMisuse) {
  kiln_model *m = nullptr;
  EXPECT_ERROR(kiln_model_load_file(nullptr, 0, &m), KILN_ERR_INVALID_ARGUMENT, "path is NULL");
  EXPECT_ERROR(kiln_model_load_file("x.kbin", 0, nullptr), KILN_ERR_INVALID_ARGUMENT, "model (the out handle) is NULL");
  EXPECT_ERROR(kiln_model_load_file("/nonexistent/dir/m.kbin", 0, &m), KILN_ERR_IO, "/nonexistent/dir/m.kbin",
               "No such file or directory");
  EXPECT_ERROR(kiln_model_load_file("/tmp", 0, &m), KILN_ERR_IO, "/tmp", "is a directory");
  EXPECT_ERROR(kiln_model_load_file("/dev/null", 0, &m), KILN_ERR_IO, "not a regular file");
  std::string empty = tempPath("empty.kbin");
  ASSERT_TRUE(writeFileBytes(empty, {}));
  EXPECT_ERROR(kiln_model_load_file(empty.c_str(), 0, &m), KILN_ERR_INVALID_ARTIFACT, empty.c_str(), "0 bytes");
  std::remove(empty.c_str());
  std::string text = tempPath("text.kbin");
  ASSERT_TRUE(writeFileBytes(text, bytesOf(std::vector<char>{'m', 'o', 'd', 'e', 'l', ' ', 'x', '\n', 'D', 'e', 'n'})));
  EXPECT_ERROR(kiln_model_load_file(text.c_str(), 0, &m), KILN_ERR_INVALID_ARTIFACT, "file identifier", "\"l x\\x0a\"",
               "expected \"KBIN\"");
  std::remove(text.c_str());
  EXPECT_EQ(m, nullptr);

  std::vector<uint8_t> bytes = buildKbin(spec);
  EXPECT_ERROR(kiln_model_load_memory(nullptr, 10, 0, &m), KILN_ERR_INVALID_ARGUMENT, "data is NULL");
  EXPECT_ERROR(kiln_model_load_memory(bytes.data(), bytes.size(), 0, nullptr), KILN_ERR_INVALID_ARGUMENT,
               "out handle");
  EXPECT_ERROR(kiln_model_load_memory(bytes.data(), bytes.size(), 0x10, &m), KILN_ERR_INVALID_ARGUMENT,
               "unknown flags 0x10");
  EXPECT_ERROR(kiln_model_load_memory(bytes.data(), 3, 0, &m), KILN_ERR_INVALID_ARTIFACT, "3 bytes", "too small");
  kiln_model_free(nullptr);     // no-op
  kiln_session_destroy(nullptr); // no-op
}

TEST_F(Runtime, ModelMisuse) {
  kiln_model *m = loadOk(spec);
  const char *str = nullptr;
  size_t n = 0;
  const kiln_entry_info *e = nullptr;
  const kiln_param_info *p = nullptr;
  EXPECT_ERROR(kiln_model_name(nullptr, &str), KILN_ERR_INVALID_ARGUMENT, "kiln_model_name: model is NULL");
  EXPECT_ERROR(kiln_model_name(m, nullptr), KILN_ERR_INVALID_ARGUMENT, "name (the out pointer) is NULL");
  EXPECT_ERROR(kiln_model_producer(nullptr, &str), KILN_ERR_INVALID_ARGUMENT, "model is NULL");
  EXPECT_ERROR(kiln_model_num_entries(nullptr, &n), KILN_ERR_INVALID_ARGUMENT, "model is NULL");
  EXPECT_ERROR(kiln_model_num_entries(m, nullptr), KILN_ERR_INVALID_ARGUMENT, "count");
  EXPECT_ERROR(kiln_model_entry(m, 3, &e), KILN_ERR_NOT_FOUND, "index 3 is out of range", "3 entry points");
  EXPECT_ERROR(kiln_model_entry(m, 0, nullptr), KILN_ERR_INVALID_ARGUMENT, "entry (the out pointer) is NULL");
  EXPECT_ERROR(kiln_model_find_entry(m, "evaluate", &e), KILN_ERR_NOT_FOUND, "no entry point 'evaluate'",
               "(it has: predict, add, train_step)");
  EXPECT_ERROR(kiln_model_find_entry(m, nullptr, &e), KILN_ERR_INVALID_ARGUMENT, "name is NULL");
  EXPECT_ERROR(kiln_model_num_params(nullptr, &n), KILN_ERR_INVALID_ARGUMENT, "model is NULL");
  EXPECT_ERROR(kiln_model_param(m, 7, &p), KILN_ERR_NOT_FOUND, "index 7 is out of range", "3 parameters");
  EXPECT_ERROR(kiln_model_find_param(m, "dense/kernel", &p), KILN_ERR_NOT_FOUND, "no parameter 'dense/kernel'",
               "affine/kernel, add/offset, frozen/table");

  std::vector<float> k(8);
  EXPECT_ERROR(kiln_model_get_param(m, "nope", k.data(), 32), KILN_ERR_NOT_FOUND, "no parameter 'nope'");
  EXPECT_ERROR(kiln_model_get_param(m, "affine/kernel", k.data(), 28), KILN_ERR_INVALID_ARGUMENT,
               "'affine/kernel' is 32 bytes ([8] x f32), got a 28-byte buffer");
  EXPECT_ERROR(kiln_model_get_param(m, "affine/kernel", nullptr, 32), KILN_ERR_INVALID_ARGUMENT, "data is NULL");
  EXPECT_ERROR(kiln_model_get_param(nullptr, "affine/kernel", k.data(), 32), KILN_ERR_INVALID_ARGUMENT,
               "model is NULL");
  EXPECT_ERROR(kiln_model_get_param(m, nullptr, k.data(), 32), KILN_ERR_INVALID_ARGUMENT, "name is NULL");
  EXPECT_ERROR(kiln_model_set_param(m, "affine/kernel", KILN_I32, k.data(), 8), KILN_ERR_INVALID_ARGUMENT,
               "'affine/kernel' has dtype f32, got i32");
  EXPECT_ERROR(kiln_model_set_param(m, "affine/kernel", KILN_F32, k.data(), 7), KILN_ERR_INVALID_ARGUMENT,
               "'affine/kernel' has 8 elements ([8] x f32), got 7");
  EXPECT_ERROR(kiln_model_set_param(m, "affine/kernel", static_cast<kiln_dtype>(9), k.data(), 8),
               KILN_ERR_INVALID_ARGUMENT, "invalid dtype 9");
  EXPECT_ERROR(kiln_model_set_param(m, "affine/kernel", KILN_F32, nullptr, 8), KILN_ERR_INVALID_ARGUMENT,
               "data is NULL");
  EXPECT_ERROR(kiln_model_set_param(m, "affine", KILN_F32, k.data(), 8), KILN_ERR_NOT_FOUND,
               "no parameter 'affine'");
  // A failed set leaves the value alone; a success clears the message.
  ASSERT_EQ(kiln_model_get_param(m, "affine/kernel", k.data(), 32), KILN_OK);
  EXPECT_STREQ(kiln_last_error(), "");
  EXPECT_EQ(k, initialKernel());
  kiln_model_free(m);
}

TEST_F(Runtime, SessionMisuse) {
  kiln_model *m = loadOk(spec);
  kiln_session *s = nullptr;
  EXPECT_ERROR(kiln_session_create(nullptr, "predict", &s), KILN_ERR_INVALID_ARGUMENT, "model is NULL");
  EXPECT_ERROR(kiln_session_create(m, nullptr, &s), KILN_ERR_INVALID_ARGUMENT, "entry is NULL");
  EXPECT_ERROR(kiln_session_create(m, "predict", nullptr), KILN_ERR_INVALID_ARGUMENT, "out handle");
  EXPECT_ERROR(kiln_session_create(m, "fit", &s), KILN_ERR_NOT_FOUND, "model 'affine-model' has no entry point 'fit'",
               "predict, add, train_step");
  EXPECT_EQ(s, nullptr);
  ASSERT_EQ(kiln_session_create(m, "predict", &s), KILN_OK);

  std::vector<float> x = affineInput(0), y(32);
  std::vector<int32_t> xi(32);
  const int64_t good[] = {4, 8}, badDims[] = {8, 4}, rank3[] = {4, 8, 1};
  EXPECT_ERROR(kiln_session_run(s), KILN_ERR_BAD_STATE, "input 'x' of 'predict' is not bound");
  EXPECT_ERROR(kiln_session_set_input(s, "images", KILN_F32, nullptr, 0, x.data(), 128), KILN_ERR_NOT_FOUND,
               "entry point 'predict' has no input 'images'", "(its inputs: x)");
  EXPECT_ERROR(kiln_session_set_input(s, "x", KILN_I32, nullptr, 0, xi.data(), 128), KILN_ERR_INVALID_ARGUMENT,
               "input 'x' of 'predict' has dtype f32, got i32");
  EXPECT_ERROR(kiln_session_set_input(s, "x", KILN_F32, nullptr, 0, x.data(), 124), KILN_ERR_INVALID_ARGUMENT,
               "input 'x' of 'predict' is 128 bytes ([4, 8] x f32), got 124");
  EXPECT_ERROR(kiln_session_set_input(s, "x", KILN_F32, badDims, 2, x.data(), 128), KILN_ERR_INVALID_ARGUMENT,
               "has shape [4, 8], got [8, 4]");
  EXPECT_ERROR(kiln_session_set_input(s, "x", KILN_F32, rank3, 3, x.data(), 128), KILN_ERR_INVALID_ARGUMENT,
               "has shape [4, 8], got [4, 8, 1]");
  EXPECT_ERROR(kiln_session_set_input(s, "x", KILN_F32, good, -1, x.data(), 128), KILN_ERR_INVALID_ARGUMENT,
               "invalid rank -1");
  EXPECT_ERROR(kiln_session_set_input(s, "x", static_cast<kiln_dtype>(-3), nullptr, 0, x.data(), 128),
               KILN_ERR_INVALID_ARGUMENT, "invalid dtype -3");
  EXPECT_ERROR(kiln_session_set_input(s, "x", KILN_F32, nullptr, 0, nullptr, 128), KILN_ERR_INVALID_ARGUMENT,
               "data is NULL");
  EXPECT_ERROR(kiln_session_set_input(s, nullptr, KILN_F32, nullptr, 0, x.data(), 128), KILN_ERR_INVALID_ARGUMENT,
               "name is NULL");
  EXPECT_ERROR(kiln_session_set_input(nullptr, "x", KILN_F32, nullptr, 0, x.data(), 128), KILN_ERR_INVALID_ARGUMENT,
               "session is NULL");
  EXPECT_ERROR(kiln_session_bind_input(s, "y", KILN_F32, nullptr, 0, x.data(), 128), KILN_ERR_NOT_FOUND,
               "has no input 'y'");
  EXPECT_ERROR(kiln_session_run(s), KILN_ERR_BAD_STATE, "not bound"); // failed sets bound nothing
  const void *out = nullptr;
  size_t bytes = 0;
  EXPECT_ERROR(kiln_session_output(s, "y", &out, &bytes), KILN_ERR_BAD_STATE, "'predict' has not run yet");
  EXPECT_ERROR(kiln_session_get_output(s, "y", y.data(), 128), KILN_ERR_BAD_STATE, "has not run yet");
  EXPECT_ERROR(kiln_session_run(nullptr), KILN_ERR_INVALID_ARGUMENT, "session is NULL");

  ASSERT_EQ(kiln_session_set_input(s, "x", KILN_F32, good, 2, x.data(), 128), KILN_OK);
  ASSERT_EQ(kiln_session_run(s), KILN_OK);
  EXPECT_ERROR(kiln_session_output(s, "logits", &out, &bytes), KILN_ERR_NOT_FOUND, "has no output 'logits'",
               "(its outputs: y)");
  EXPECT_ERROR(kiln_session_output(s, "y", nullptr, &bytes), KILN_ERR_INVALID_ARGUMENT, "data (the out pointer)");
  EXPECT_ERROR(kiln_session_get_output(s, "y", y.data(), 256), KILN_ERR_INVALID_ARGUMENT,
               "output 'y' of 'predict' is 128 bytes ([4, 8] x f32), got a 256-byte buffer");
  EXPECT_ERROR(kiln_session_get_output(s, "y", nullptr, 128), KILN_ERR_INVALID_ARGUMENT, "data is NULL");
  EXPECT_ERROR(kiln_session_entry(nullptr, nullptr), KILN_ERR_INVALID_ARGUMENT, "session is NULL");
  ASSERT_EQ(kiln_session_output(s, "y", &out, nullptr), KILN_OK); // byte_size is optional
  kiln_session_destroy(s);

  // Multi-input: the message names the first unbound input.
  ASSERT_EQ(kiln_session_create(m, "add", &s), KILN_OK);
  int32_t a[3] = {1, 2, 3};
  ASSERT_EQ(kiln_session_set_input(s, "a", KILN_I32, nullptr, 0, a, 12), KILN_OK);
  EXPECT_ERROR(kiln_session_run(s), KILN_ERR_BAD_STATE, "input 'b' of 'add' is not bound");
  kiln_session_destroy(s);
  kiln_model_free(m);
}

TEST_F(Runtime, HelpersAndCpuFeatures) {
  EXPECT_STREQ(kiln_status_name(KILN_ERR_VERSION), "KILN_ERR_VERSION");
  EXPECT_STREQ(kiln_status_name(static_cast<kiln_status>(99)), "KILN_ERR_UNKNOWN");
  EXPECT_STREQ(kiln_dtype_name(KILN_I32), "i32");
  EXPECT_EQ(kiln_dtype_size(KILN_F32), 4u);
  EXPECT_EQ(kiln_dtype_size(static_cast<kiln_dtype>(5)), 0u);
  int supported = -1;
  EXPECT_ERROR(kiln_cpu_supports("avx1024", &supported), KILN_ERR_NOT_FOUND, "unknown CPU feature 'avx1024'",
               "avx512f");
  EXPECT_ERROR(kiln_cpu_supports(nullptr, &supported), KILN_ERR_INVALID_ARGUMENT, "feature is NULL");
  ASSERT_EQ(kiln_cpu_supports("sse2", &supported), KILN_OK);
  EXPECT_EQ(supported, 1);
  // The answers agree with the kernel's view of the CPU.
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(cpuinfo, line))
    if (line.rfind("flags", 0) == 0) {
      flags = " " + line.substr(line.find(':') + 1) + " ";
      break;
    }
  if (flags.empty())
    GTEST_SKIP() << "no /proc/cpuinfo flags";
  // Every name of the runtime's list but the x86-64 levels, with Linux's name.
  const std::pair<const char *, const char *> pairs[] = {
      {"sse2", "sse2"},         {"sse3", "pni"},          {"ssse3", "ssse3"},
      {"sse4.1", "sse4_1"},     {"sse4.2", "sse4_2"},     {"popcnt", "popcnt"},
      {"avx", "avx"},           {"avx2", "avx2"},         {"fma", "fma"},
      {"f16c", "f16c"},         {"bmi", "bmi1"},          {"bmi2", "bmi2"},
      {"lzcnt", "abm"},         {"movbe", "movbe"},       {"adx", "adx"},
      {"aes", "aes"},           {"pclmul", "pclmulqdq"},  {"sha", "sha_ni"},
      {"vaes", "vaes"},         {"vpclmulqdq", "vpclmulqdq"}, {"gfni", "gfni"},
      {"avxvnni", "avx_vnni"},  {"avx512f", "avx512f"},   {"avx512dq", "avx512dq"},
      {"avx512cd", "avx512cd"}, {"avx512bw", "avx512bw"}, {"avx512vl", "avx512vl"},
      {"avx512vnni", "avx512_vnni"}, {"avx512bf16", "avx512_bf16"}, {"avx512ifma", "avx512ifma"},
      {"avx512vbmi", "avx512vbmi"}, {"avx512vbmi2", "avx512_vbmi2"}, {"avx512bitalg", "avx512_bitalg"},
      {"avx512vpopcntdq", "avx512_vpopcntdq"}, {"avx512fp16", "avx512_fp16"},
      {"avx512vp2intersect", "avx512_vp2intersect"}, {"cmov", "cmov"}, {"mmx", "mmx"},
      {"sse", "sse"},           {"sse4a", "sse4a"},       {"fma4", "fma4"},
      {"xop", "xop"},           {"cx16", "cx16"},         {"xsave", "xsave"},
      {"xsaveopt", "xsaveopt"}, {"xsavec", "xsavec"},     {"rdrnd", "rdrand"},
      {"rdseed", "rdseed"},     {"prfchw", "3dnowprefetch"}, {"fsgsbase", "fsgsbase"},
      {"clflushopt", "clflushopt"}, {"clwb", "clwb"},     {"rdpid", "rdpid"},
      {"pku", "pku"},           {"movdiri", "movdiri"}};
  for (auto [ours, kernelName] : pairs) {
    ASSERT_EQ(kiln_cpu_supports(ours, &supported), KILN_OK) << ours;
    EXPECT_EQ(supported == 1, flags.find(std::string(" ") + kernelName + " ") != std::string::npos) << ours;
  }
}

TEST_F(Runtime, CppWrapper) {
  std::vector<uint8_t> bytes = buildKbin(spec);
  auto model = kiln::Model::load_memory(bytes.data(), bytes.size());
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_EQ(model->name(), "affine-model");
  EXPECT_EQ(model->entries().size(), 3u);
  EXPECT_EQ(model->params().size(), 3u);
  auto kernel = model->get_param<float>("affine/kernel");
  ASSERT_TRUE(kernel);
  EXPECT_EQ(*kernel, initialKernel());
  auto wrongType = model->get_param<int32_t>("affine/kernel");
  ASSERT_FALSE(wrongType);
  EXPECT_EQ(wrongType.error().code, KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(wrongType.error().message.find("dtype f32"), std::string::npos);

  auto session = model->session("predict");
  ASSERT_TRUE(session) << session.error().message;
  std::vector<float> x = affineInput(4);
  kiln::Status st = session->set_input("x", std::vector<int64_t>{4, 8}, x.data(), x.size());
  ASSERT_TRUE(st) << st.message();
  ASSERT_TRUE(session->run());
  auto y = session->output<float>("y");
  ASSERT_TRUE(y) << y.error().message;
  EXPECT_EQ(*y, affineExpected(x, initialKernel()));
  auto view = session->output_view("y");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->second, 128u);

  // Errors come back as values with the C API's message.
  kiln::Status bad = session->set_input("x", x.data(), 7);
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.code(), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(bad.message().find("is 128 bytes"), std::string::npos) << bad.message();
  auto missing = model->session("nope");
  EXPECT_FALSE(missing);
  EXPECT_EQ(missing.error().code, KILN_ERR_NOT_FOUND);
  auto file = kiln::Model::load_file("/nonexistent.kbin");
  EXPECT_FALSE(file);
  EXPECT_EQ(file.error().code, KILN_ERR_IO);
  EXPECT_FALSE(session->output<int32_t>("y"));

  kiln::Status set = model->set_param<float>("affine/kernel", std::vector<float>(8, 2.0f));
  ASSERT_TRUE(set) << set.message();
  // Moves keep one owner; the session outlives the Model object.
  kiln::Session moved = std::move(*session);
  { kiln::Model gone = std::move(*model); }
  ASSERT_TRUE(moved.run());
  auto y2 = moved.output<float>("y");
  ASSERT_TRUE(y2);
  EXPECT_EQ(*y2, affineExpected(x, std::vector<float>(8, 2.0f)));
  auto avx2 = kiln::cpu_supports("avx2");
  EXPECT_TRUE(avx2);
  EXPECT_FALSE(kiln::cpu_supports("avx1024"));
}

//===--- corrupted and hostile artifacts -------------------------------------===//

TEST_F(Runtime, RejectsTruncatedFiles) {
  std::vector<uint8_t> bytes = buildKbin(spec);
  // flatbuffers pads objects with zeros; a cut inside the trailing padding
  // leaves every referenced byte in place, so it may still verify.
  size_t padding = 0;
  while (padding < bytes.size() && bytes[bytes.size() - 1 - padding] == 0)
    ++padding;
  std::vector<size_t> cuts;
  for (size_t n = 0; n < std::min<size_t>(bytes.size(), 600); ++n)
    cuts.push_back(n);
  for (size_t n = 600; n < bytes.size(); n += 97)
    cuts.push_back(n);
  for (size_t k = 1; k <= 80 && k < bytes.size(); ++k)
    cuts.push_back(bytes.size() - k);
  int rejected = 0;
  for (size_t n : cuts) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(n));
    for (uint32_t flags : {KILN_LOAD_NO_CODE, KILN_LOAD_DEFAULT}) {
      kiln_status s;
      kiln_model *m = load(cut, &s, flags);
      if (s == KILN_OK) {
        EXPECT_GE(n, bytes.size() - padding) << "accepted a file cut at " << n << " of " << bytes.size();
        kiln_model_free(m);
        continue;
      }
      ++rejected;
      std::string msg = kiln_last_error();
      EXPECT_EQ(s, KILN_ERR_INVALID_ARTIFACT) << n << ": " << msg;
      EXPECT_TRUE(msg.find("corrupt or truncated") != std::string::npos || msg.find("too small") != std::string::npos ||
                  msg.find("file identifier") != std::string::npos)
          << "cut at " << n << ": " << msg;
    }
  }
  EXPECT_GT(rejected, 1000);
}

TEST_F(Runtime, SurvivesRandomByteFlips) {
  // Metadata and code alike: loaded without code (flipped code must never
  // be dlopen'ed), every result is a clean accept or a clean rejection.
  std::vector<uint8_t> bytes = buildKbin(spec);
  std::mt19937 rng(20240601);
  int accepted = 0, rejected = 0;
  for (int it = 0; it < 4000; ++it) {
    std::vector<uint8_t> flipped = bytes;
    int flips = 1 + static_cast<int>(rng() % 4);
    // Half of the runs hit the first 1 KiB (tables, vtables, names, shapes).
    for (int f = 0; f < flips; ++f) {
      size_t pos = (it % 2) ? rng() % std::min<size_t>(1024, bytes.size()) : rng() % bytes.size();
      flipped[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    kiln_status s;
    kiln_model *m = load(flipped, &s, KILN_LOAD_NO_CODE);
    if (s == KILN_OK) {
      ++accepted;
      // Whatever was accepted is consistent: every name and shape readable.
      size_t n = 0;
      ASSERT_EQ(kiln_model_num_entries(m, &n), KILN_OK);
      for (size_t i = 0; i < n; ++i) {
        const kiln_entry_info *e = nullptr;
        ASSERT_EQ(kiln_model_entry(m, i, &e), KILN_OK);
        for (size_t j = 0; j < e->num_inputs; ++j)
          EXPECT_GE(e->inputs[j].num_elements, 1);
      }
      kiln_model_free(m);
    } else {
      ++rejected;
      EXPECT_GT(std::strlen(kiln_last_error()), 10u) << kiln_status_name(s);
    }
  }
  EXPECT_GT(rejected, 100);
  std::printf("random flips: %d accepted, %d rejected\n", accepted, rejected);
}

TEST_F(Runtime, RejectsWrongIdentifierAndVersion) {
  KbinSpec s = spec;
  s.identifier = "KBIX";
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "not a .kbin", "file identifier (bytes 4-7) is \"KBIX\"");
  s = spec;
  s.formatVersion = 2;
  EXPECT_REJECTED(s, KILN_ERR_VERSION, "format_version 2", "this runtime reads format_version 1");
  s.formatVersion = 0;
  EXPECT_REJECTED(s, KILN_ERR_VERSION, "format_version 0 (missing)");
  s.formatVersion = 0xFFFFFFFF;
  EXPECT_REJECTED(s, KILN_ERR_VERSION, "format_version 4294967295");
  // A version-2 file that also fails the version-1 schema still reports the version.
  std::vector<uint8_t> bytes = buildKbin(spec);
  s = spec;
  s.formatVersion = 2;
  bytes = buildKbin(s);
  bytes.resize(bytes.size() / 2);
  kiln_status st;
  load(bytes, &st);
  EXPECT_EQ(st, KILN_ERR_VERSION) << kiln_last_error();
}

TEST_F(Runtime, RejectsBadShapes) {
  KbinSpec s = spec;
  s.entries[0].inputs[0].shape = {4, 0};
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "entry point 'predict' input 0 'x'", "shape entry 1 = 0",
                  "must be >= 1");
  s = spec;
  s.entries[0].outputs[0].shape = {-4, 8};
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "output 0 'y'", "shape entry 0 = -4");
  s = spec;
  s.entries[0].outputs[0].shape = {int64_t(1) << 40, int64_t(1) << 40};
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "output 0 'y' has shape [1099511627776, 1099511627776]",
                  "more than the limit");
  s = spec;
  s.entries[0].outputs[0].shape = {INT64_MAX, INT64_MAX, INT64_MAX};
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "more than the limit");
  s = spec;
  s.entries[0].inputs[0].shape = {1 << 20, 1 << 20, 1 << 8}; // 2^48 elements: overflow-free, over the limit
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "more than the limit of 1099511627776 bytes");
  s = spec;
  s.entries[0].inputs[0].shape = {1, 1, 1, 1, 1, 1, 1, 1, 4};
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "has rank 9", "at most 8");
  s = spec;
  s.params[2].shape = {2, 0, 3};
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "parameter 'frozen/table'", "shape entry 1 = 0");
  s = spec;
  s.entries[1].inputs[0].dtype = 7;
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "entry point 'add' input 0 'a'", "unknown dtype 7");
  s = spec;
  s.params[0].dtype = -1;
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "parameter 'affine/kernel' has unknown dtype -1");
  s = spec;
  s.entries[0].batchSize = 0;
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "entry point 'predict' has batch_size 0");
  s = spec;
  s.entries[0].scratchBytes = (uint64_t(1) << 40) + 1;
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "scratch_bytes 1099511627777");
}

TEST_F(Runtime, RejectsParameterMismatches) {
  KbinSpec s = spec;
  s.params[0].data->resize(28);
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "parameter 'affine/kernel' has 28 bytes of data, expected 32",
                  "[8] x f32");
  s = spec;
  s.params[1].data->resize(8);
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "parameter 'add/offset' has 8 bytes of data, expected 4", "[] x i32");
  s = spec;
  s.params[2].data.reset();
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "parameter 'frozen/table' has no data");
  s = spec;
  s.entries[2].paramIndices = {3};
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "entry point 'train_step'", "param_indices[0] = 3 is out of range",
                  "3 parameters");
  s = spec;
  s.entries[0].paramIndices = {0, 0};
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "lists parameter 0 ('affine/kernel') twice");
}

TEST_F(Runtime, RejectsBadNames) {
  KbinSpec s = spec;
  s.entries[2].name = "predict";
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "two entry points are named 'predict'");
  s = spec;
  s.params[1].name = "affine/kernel";
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "two parameters are named 'affine/kernel'");
  s = spec;
  s.entries[1].inputs[1].name = "a";
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "entry point 'add' has two inputs named 'a'");
  s = spec;
  s.entries[0].outputs.push_back({"y", 0, {1}});
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "has two outputs named 'y'");
  s = spec;
  s.name = "";
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "the model has an empty name");
  s = spec;
  s.params[0].name = std::string("affine\0kernel", 13);
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "the name of parameter 0 contains a NUL byte");
  s = spec;
  s.entries[0].omitName = true; // a required field: flatbuffers' Verifier catches it
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "corrupt or truncated", "required field is missing");
}

TEST_F(Runtime, RejectsSharedDataAmplification) {
  // One TensorSpec with a 100 KB name, listed 1000 times: a ~110 KB file
  // that would expand to 100 MB of names. Rejected before copying.
  namespace kb = kiln::kbin;
  flatbuffers::FlatBufferBuilder b;
  auto so = b.CreateVector(fakeSharedObject());
  auto cpu = kb::CreateCpuCode(b, b.CreateString("x86_64-unknown-linux-gnu"), 0, 0, so);
  std::vector<int64_t> shape = {1};
  auto spec = kb::CreateTensorSpec(b, b.CreateString(std::string(100000, 'n')), kb::DType::F32, b.CreateVector(shape));
  std::vector<flatbuffers::Offset<kb::TensorSpec>> many(1000, spec);
  auto entry = kb::CreateEntryPoint(b, b.CreateString("predict"), 1, b.CreateVector(many),
                                    b.CreateVector(std::vector<flatbuffers::Offset<kb::TensorSpec>>{}),
                                    b.CreateVector(std::vector<uint32_t>{}), b.CreateString("f"), 0);
  auto model = kb::CreateModel(b, 1, 0, b.CreateString("amplified"),
                               b.CreateVector(std::vector<flatbuffers::Offset<kb::EntryPoint>>{entry}),
                               b.CreateVector(std::vector<flatbuffers::Offset<kb::Parameter>>{}), cpu);
  kb::FinishModelBuffer(b, model);
  std::vector<uint8_t> bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  EXPECT_LT(bytes.size(), 120000u);
  kiln_model *m = nullptr;
  EXPECT_ERROR(kiln_model_load_memory(bytes.data(), bytes.size(), KILN_LOAD_NO_CODE, &m), KILN_ERR_INVALID_ARTIFACT,
               "expand to more than 4x the file size");
  EXPECT_EQ(m, nullptr);
}

TEST_F(Runtime, RejectsCodeForOtherPlatformsOrCpus) {
  KbinSpec s = spec;
  s.triple = "aarch64-unknown-linux-gnu";
  EXPECT_REJECTED(s, KILN_ERR_UNSUPPORTED, "code is for 'aarch64-unknown-linux-gnu'", "x86_64 Linux");
  s.triple = "x86_64-pc-windows-msvc";
  EXPECT_REJECTED(s, KILN_ERR_UNSUPPORTED, "'x86_64-pc-windows-msvc'");
  s = spec;
  s.features = {"avx2", "avx1024"};
  EXPECT_REJECTED(s, KILN_ERR_UNSUPPORTED, "needs CPU feature \"avx1024\", which this runtime does not know",
                  "known: sse2");
  s.features = {std::string("avx\0" "2", 5)};
  EXPECT_REJECTED(s, KILN_ERR_UNSUPPORTED, "\"avx\\x002\"");
  // A feature this host lacks (if there is one in the list).
  const char *missing = nullptr;
  for (const char *f : {"avx512f", "avx512bw", "avx512vl", "avx512bf16", "avx512fp16", "avx512vp2intersect", "amx"}) {
    int supported = 1;
    if (kiln_cpu_supports(f, &supported) == KILN_OK && !supported) {
      missing = f;
      break;
    }
  }
  if (missing) {
    s = spec;
    s.features = {"sse2", missing};
    s.cpu = "sapphirerapids";
    const std::string needs = std::string("needs CPU feature \"") + missing + "\"";
    EXPECT_REJECTED(s, KILN_ERR_UNSUPPORTED, needs.c_str(),
                    "which this CPU does not support", "'sapphirerapids'");
    kiln_model *m = loadOk(s, KILN_LOAD_NO_CODE); // inspection does not need the feature
    kiln_model_free(m);
  } else {
    std::printf("this CPU has every AVX-512 feature tested; host-lacks-feature case skipped\n");
  }
  s = spec;
  s.hasCpu = false;
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "the model has 3 entry points but no cpu code");
  s.entries.clear(); // parameters only: fine
  kiln_model *m = loadOk(s);
  kiln_model_free(m);
  s = spec;
  s.entries[1].cpuSymbol.reset();
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "entry point 'add' has no cpu_symbol");
  s.entries[1].cpuSymbol = "";
  EXPECT_REJECTED(s, KILN_ERR_INVALID_ARTIFACT, "the cpu_symbol of entry point 'add' has an empty name");
}

TEST_F(Runtime, RejectsBadSharedObjects) {
  const std::vector<uint8_t> &so = sharedObject();
  auto with = [&](std::vector<uint8_t> bytes) {
    KbinSpec s = spec;
    s.sharedObject = std::move(bytes);
    return s;
  };
  auto patched = [&](size_t offset, std::vector<uint8_t> value) {
    std::vector<uint8_t> b = so;
    std::memcpy(b.data() + offset, value.data(), value.size());
    return with(b);
  };
  EXPECT_REJECTED(with({}), KILN_ERR_INVALID_ARTIFACT, "cpu.shared_object: 0 bytes, too small for an ELF header");
  EXPECT_REJECTED(with(std::vector<uint8_t>(so.begin(), so.begin() + 40)), KILN_ERR_INVALID_ARTIFACT,
                  "40 bytes, too small");
  EXPECT_REJECTED(patched(0, {'M', 'Z'}), KILN_ERR_INVALID_ARTIFACT, "not an ELF object", "MZLF");
  EXPECT_REJECTED(patched(EI_CLASS, {ELFCLASS32}), KILN_ERR_INVALID_ARTIFACT, "not a 64-bit ELF object");
  EXPECT_REJECTED(patched(EI_DATA, {ELFDATA2MSB}), KILN_ERR_INVALID_ARTIFACT, "not a little-endian ELF object");
  EXPECT_REJECTED(patched(offsetof(Elf64_Ehdr, e_machine), {183, 0}), KILN_ERR_INVALID_ARTIFACT,
                  "ELF machine 183, expected x86-64 (62)");
  EXPECT_REJECTED(patched(offsetof(Elf64_Ehdr, e_type), {ET_EXEC, 0}), KILN_ERR_INVALID_ARTIFACT,
                  "ELF type 2, expected a shared object");
  EXPECT_REJECTED(patched(offsetof(Elf64_Ehdr, e_type), {ET_REL, 0}), KILN_ERR_INVALID_ARTIFACT, "ELF type 1");
  EXPECT_REJECTED(patched(offsetof(Elf64_Ehdr, e_phoff), {0xff, 0xff, 0xff, 0x7f}), KILN_ERR_INVALID_ARTIFACT,
                  "program headers", "lie outside");
  EXPECT_REJECTED(patched(offsetof(Elf64_Ehdr, e_phnum), {0, 0}), KILN_ERR_INVALID_ARTIFACT,
                  "with 0 program headers");
  // A valid header over a body cut short: its segments lie outside the object.
  EXPECT_REJECTED(with(std::vector<uint8_t>(so.begin(), so.begin() + 1024)), KILN_ERR_INVALID_ARTIFACT,
                  "lies outside the 1024-byte object");
  // A valid header over a zeroed body: rejected by the checks or by dlopen (with its reason).
  std::vector<uint8_t> zeroed = so;
  std::fill(zeroed.begin() + 64 + 56 * 4, zeroed.end(), 0); // keep the header and first program headers
  KbinSpec z = with(zeroed);
  kiln_model *m = nullptr;
  std::vector<uint8_t> zb = buildKbin(z);
  kiln_status st = kiln_model_load_memory(zb.data(), zb.size(), 0, &m);
  if (st == KILN_OK) {
    kiln_model_free(m);
    ADD_FAILURE() << "a zeroed shared object loaded";
  } else {
    EXPECT_TRUE(st == KILN_ERR_CODE_LOAD || st == KILN_ERR_INVALID_ARTIFACT) << kiln_status_name(st);
    if (st == KILN_ERR_CODE_LOAD)
      EXPECT_NE(std::string(kiln_last_error()).find("dlopen"), std::string::npos) << kiln_last_error();
  }
  // The fake object passes the header checks but is no loadable library.
  EXPECT_REJECTED(with(fakeSharedObject()), KILN_ERR_CODE_LOAD, "cannot load the model's shared object", "dlopen:");
}

TEST_F(Runtime, RejectsBadSymbols) {
  KbinSpec s = spec;
  s.entries[2].cpuSymbol = "kiln_test_missing";
  EXPECT_REJECTED(s, KILN_ERR_CODE_LOAD, "entry point 'train_step': symbol 'kiln_test_missing' not found");
  s.entries[2].cpuSymbol = "memcpy"; // found by dlsym in libc, a dependency
  EXPECT_REJECTED(s, KILN_ERR_CODE_LOAD, "symbol 'memcpy' is not defined by the model's shared object", "libc");
  s.entries[2].cpuSymbol = "kiln_test_data_symbol";
  EXPECT_REJECTED(s, KILN_ERR_CODE_LOAD, "symbol 'kiln_test_data_symbol' is not a function");
}

TEST_F(Runtime, FuzzRegressionsLoadCleanly) {
  // The inputs that once broke the loader (test/fuzz/regressions-kbin), in
  // the ordinary build as well as the fuzz target's.
  std::vector<std::string> files;
  if (DIR *d = opendir(KILN_FUZZ_KBIN_REGRESSIONS)) {
    while (dirent *ent = readdir(d))
      if (ent->d_name[0] != '.')
        files.push_back(ent->d_name);
    closedir(d);
  }
  ASSERT_FALSE(files.empty());
  for (const std::string &f : files) {
    std::vector<uint8_t> bytes = readFileBytes(std::string(KILN_FUZZ_KBIN_REGRESSIONS) + "/" + f);
    kiln_status st;
    kiln_model *m = load(bytes, &st, KILN_LOAD_NO_CODE);
    if (st == KILN_OK)
      kiln_model_free(m);
    else
      EXPECT_GT(std::strlen(kiln_last_error()), 10u) << f;
    if (f == "misaligned-shape-vector")
      EXPECT_NE(std::string(kiln_last_error()).find("is not 8-byte aligned"), std::string::npos) << kiln_last_error();
  }
}

TEST_F(Runtime, RepeatedFailuresLeakNothing) {
  // fds are compared in TearDown; here many failing loads of each kind.
  KbinSpec missing = spec;
  missing.entries[0].cpuSymbol = "nope";
  KbinSpec badElf = spec;
  badElf.sharedObject = fakeSharedObject();
  std::vector<uint8_t> a = buildKbin(missing), b = buildKbin(badElf), c = buildKbin(spec);
  for (int i = 0; i < 50; ++i) {
    kiln_status st;
    EXPECT_EQ(load(a, &st), nullptr);
    EXPECT_EQ(load(b, &st), nullptr);
    kiln_model *m = load(c, &st);
    kiln_session *s = nullptr;
    EXPECT_EQ(kiln_session_create(m, "predict", &s), KILN_OK);
    kiln_session_destroy(s);
    kiln_model_free(m);
  }
}

// CUDA devices: a list, or KILN_ERR_NO_DEVICE with the reason; never a crash
// without a driver (the build machines have none; the GPU machine has one).
TEST(RuntimeCuda, DevicesOrWhyNot) {
  EXPECT_ERROR(kiln_cuda_devices(nullptr, 0, nullptr), KILN_ERR_INVALID_ARGUMENT, "count is NULL");
  size_t count = 99;
  EXPECT_ERROR(kiln_cuda_devices(nullptr, 1, &count), KILN_ERR_INVALID_ARGUMENT, "devices is NULL");
  kiln_cuda_device devices[4];
  kiln_status s = kiln_cuda_devices(devices, 4, &count);
  if (s == KILN_OK) {
    ASSERT_GT(count, 0u);
    EXPECT_GT(std::strlen(devices[0].name), 0u);
    EXPECT_GE(devices[0].compute_major, 3);
    EXPECT_GT(devices[0].memory_bytes, 0u);
  } else {
    EXPECT_EQ(s, KILN_ERR_NO_DEVICE);
    EXPECT_EQ(count, 0u);
    EXPECT_TRUE(std::strstr(kiln_last_error(), "no CUDA") || std::strstr(kiln_last_error(), "CUDA driver"))
        << kiln_last_error();
  }
  EXPECT_STREQ(kiln_status_name(KILN_ERR_NO_DEVICE), "KILN_ERR_NO_DEVICE");
}
