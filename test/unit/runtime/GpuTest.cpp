//===- GpuTest.cpp - the runtime's CUDA path without a GPU ----------------===//
//
// What can be checked on a machine without a GPU: the artifact checks of the
// GPU section (hand-built .kbin files, every rule), kiln_model_set_device's
// argument and state checks and its "no device" answers, and models compiled
// for CUDA only. GpuNumericsTest.cpp runs models on a real device.
//
//===----------------------------------------------------------------------===//

#include "ExpectError.h"
#include "runtime/kiln_runtime.h"
#include "runtime/kiln_runtime.hpp"
#include "test/unit/runtime/KbinTestBuilder.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

using namespace kiln::test;

namespace {


#define EXPECT_REJECTED(spec, ...)                                                                 \
  do {                                                                                             \
    kiln_model *m_ = nullptr;                                                                      \
    std::vector<uint8_t> bytes_ = buildKbin(spec);                                                 \
    EXPECT_ERROR(kiln_model_load_memory(bytes_.data(), bytes_.size(), KILN_LOAD_NO_CODE, &m_),      \
                 KILN_ERR_INVALID_ARTIFACT, __VA_ARGS__);                                          \
    EXPECT_EQ(m_, nullptr);                                                                        \
    kiln_model_free(m_);                                                                           \
  } while (0)

std::vector<uint8_t> &sharedObject() {
  static std::vector<uint8_t> so = readFileBytes(KILN_TEST_MODEL_SO);
  return so;
}

kiln_model *load(const KbinSpec &spec, uint32_t flags = KILN_LOAD_DEFAULT) {
  std::vector<uint8_t> bytes = buildKbin(spec);
  kiln_model *m = nullptr;
  EXPECT_EQ(kiln_model_load_memory(bytes.data(), bytes.size(), flags, &m), KILN_OK) << kiln_last_error();
  return m;
}

/// The affine test model with GPU code for "predict" (KbinTestBuilder.h).
KbinSpec gpuSpec() {
  KbinSpec s = testModelSpec(sharedObject());
  addTestGpuCode(s);
  return s;
}

bool haveDevice() {
  size_t n = 0;
  return kiln_cuda_devices(nullptr, 0, &n) == KILN_OK && n > 0;
}

//===--- the artifact's GPU section -------------------------------------------===//

TEST(GpuArtifact, ValidSectionLoads) {
  ASSERT_FALSE(sharedObject().empty()) << KILN_TEST_MODEL_SO;
  kiln_model *m = load(gpuSpec(), KILN_LOAD_NO_CODE);
  ASSERT_NE(m, nullptr);
  const char *archs = nullptr;
  ASSERT_EQ(kiln_model_gpu_archs(m, &archs), KILN_OK);
  EXPECT_STREQ(archs, "sm_80,compute_90");
  kiln_model_free(m);
  KbinSpec s = gpuSpec();
  s.gpuEntries[0].launches[0].args = {{0, 127}, {1, 31}, {2, 127}, {3, 255}}; // last byte of each buffer
  s.gpuEntries[0].launches[0].grid = {0x7fffffffu, 65535, 65535};
  s.gpuEntries[0].launches[0].block = {1024, 1, 1};
  m = load(s, KILN_LOAD_NO_CODE);
  kiln_model_free(m);
  s.gpuEntries[0].launches.clear(); // an entry point without launches is fine
  m = load(s, KILN_LOAD_NO_CODE);
  kiln_model_free(m);
}

TEST(GpuArtifact, EveryRuleRejected) {
  KbinSpec s = gpuSpec();
  s.gpu[0].arch = "";
  EXPECT_REJECTED(s, "gpu module 0 has an empty arch");
  s = gpuSpec();
  s.gpu[1].arch = std::string("sm\0_90", 6);
  EXPECT_REJECTED(s, "gpu module 1's arch contains a NUL byte");
  s = gpuSpec();
  s.gpu[1].image.clear();
  EXPECT_REJECTED(s, "gpu module 1 (arch 'compute_90') has an empty image");
  s = gpuSpec();
  s.gpu.clear();
  EXPECT_REJECTED(s, "1 gpu_entry_points but no gpu modules");
  s = gpuSpec();
  s.gpuEntries[0].entryPoint = "predict_b7";
  EXPECT_REJECTED(s, "gpu_entry_points[0] names entry point 'predict_b7', which the model does not have");
  s = gpuSpec();
  s.gpuEntries.push_back(s.gpuEntries[0]);
  EXPECT_REJECTED(s, "entry point 'predict' has two gpu_entry_points");
  s = gpuSpec();
  s.gpuEntries[0].scratchBytes = (uint64_t(1) << 40) + 1;
  EXPECT_REJECTED(s, "has scratch_bytes 1099511627777, more than the limit");

  auto launch = [](KbinSpec &k) -> GpuLaunchSpec & { return k.gpuEntries[0].launches[0]; };
  s = gpuSpec();
  launch(s).kernel = "";
  EXPECT_REJECTED(s, "the GPU code of entry point 'predict': launch 0 has an empty kernel name");
  s = gpuSpec();
  launch(s).kernel = std::string(1025, 'k');
  EXPECT_REJECTED(s, "a kernel name of 1025 bytes (at most 1024)");
  s = gpuSpec();
  launch(s).kernel = std::string("k\0x", 3);
  EXPECT_REJECTED(s, "the kernel name of the GPU code of entry point 'predict': launch 0 contains a NUL byte");
  s = gpuSpec();
  launch(s).grid = {1, 1};
  EXPECT_REJECTED(s, "(kernel 'kiln_affine'): grid has 2 entries; it needs exactly 3");
  s = gpuSpec();
  launch(s).block = {32, 1, 1, 1};
  EXPECT_REJECTED(s, "block has 4 entries; it needs exactly 3");
  s = gpuSpec();
  launch(s).grid = {4, 0, 1};
  EXPECT_REJECTED(s, "grid.y is 0; every entry must be >= 1");
  s = gpuSpec();
  launch(s).block = {32, 1, 0};
  EXPECT_REJECTED(s, "block.z is 0");
  s = gpuSpec();
  launch(s).block = {32, 33, 1};
  EXPECT_REJECTED(s, "block 32x33x1 has 1056 threads; at most 1024");
  s = gpuSpec();
  launch(s).block = {65536, 65536, 1}; // the product does not wrap around
  EXPECT_REJECTED(s, "has 4294967296 threads");
  s = gpuSpec();
  launch(s).grid = {0x80000000u, 1, 1};
  EXPECT_REJECTED(s, "grid.x = 2147483648; at most 2^31 - 1");
  s = gpuSpec();
  launch(s).grid = {1, 65536, 1};
  EXPECT_REJECTED(s, "grid.y = 65536; at most 65535");
  s = gpuSpec();
  launch(s).grid = {1, 1, 65536};
  EXPECT_REJECTED(s, "grid.z = 65536; at most 65535");
  s = gpuSpec();
  launch(s).args = {{4, 0}};
  EXPECT_REJECTED(s, "args[0] names buffer 4; the entry point has 4 (1 inputs, 1 params, 1 outputs, scratch)");
  s = gpuSpec();
  launch(s).args = {{0, 0}, {0, 128}};
  EXPECT_REJECTED(s, "args[1] points 128 bytes into buffer 0, input 'x', which has 128 bytes");
  s = gpuSpec();
  launch(s).args = {{1, 32}};
  EXPECT_REJECTED(s, "args[0] points 32 bytes into buffer 1, parameter 'affine/kernel', which has 32 bytes");
  s = gpuSpec();
  launch(s).args = {{2, 1000}};
  EXPECT_REJECTED(s, "buffer 2, output 'y', which has 128 bytes");
  s = gpuSpec();
  launch(s).args = {{3, 256}};
  EXPECT_REJECTED(s, "buffer 3, the GPU scratch arena, which has 256 bytes");
  s = gpuSpec();
  s.gpuEntries[0].scratchBytes = 0; // no scratch: no argument may point into it
  EXPECT_REJECTED(s, "buffer 3, the GPU scratch arena, which has 0 bytes");
}

TEST(GpuArtifact, CudaOnlyModel) {
  // kilnc --target=cuda: no cpu section; every entry point needs GPU code.
  KbinSpec s = gpuSpec();
  s.hasCpu = false;
  for (EntrySpecDesc &e : s.entries)
    e.cpuSymbol.reset();
  EXPECT_REJECTED(s, "the model has 3 entry points but no cpu code, and entry point 'add' has no GPU code");
  for (const char *name : {"add", "train_step"}) {
    GpuEntrySpec g;
    g.entryPoint = name;
    g.launches = {GpuLaunchSpec{}};
    s.gpuEntries.push_back(g);
  }
  kiln_model *m = load(s);
  ASSERT_NE(m, nullptr);
  const kiln_entry_info *e = nullptr;
  ASSERT_EQ(kiln_model_find_entry(m, "predict", &e), KILN_OK);
  EXPECT_STREQ(e->cpu_symbol, "");
  kiln_session *session = nullptr;
  EXPECT_ERROR(kiln_session_create(m, "predict", &session), KILN_ERR_BAD_STATE,
               "has no CPU code (compiled with --target=cuda only)", "kiln_model_set_device(model, \"cuda\")");
  EXPECT_EQ(session, nullptr);
  kiln_model_free(m);
  // With a cpu section, every entry point still needs its cpu_symbol.
  s = gpuSpec();
  s.entries[2].cpuSymbol.reset();
  EXPECT_REJECTED(s, "entry point 'train_step' has no cpu_symbol (the model has cpu code)");
}

//===--- kiln_model_set_device ------------------------------------------------===//

TEST(GpuDevice, ArgumentsAndCpu) {
  kiln_model *m = load(gpuSpec());
  ASSERT_NE(m, nullptr);
  const char *device = nullptr;
  ASSERT_EQ(kiln_model_device(m, &device), KILN_OK);
  EXPECT_STREQ(device, "cpu");
  EXPECT_ERROR(kiln_model_set_device(nullptr, "cpu"), KILN_ERR_INVALID_ARGUMENT, "model is NULL");
  EXPECT_ERROR(kiln_model_set_device(m, nullptr), KILN_ERR_INVALID_ARGUMENT, "device is NULL");
  EXPECT_ERROR(kiln_model_device(m, nullptr), KILN_ERR_INVALID_ARGUMENT, "device (the out pointer) is NULL");
  for (const char *bad : {"", "gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", "cuda:1x", "cuda:12345", "cuda0",
                          "cpu:0", " cuda", "cudaa"})
    EXPECT_ERROR(kiln_model_set_device(m, bad), KILN_ERR_INVALID_ARGUMENT, "unknown device",
                 "expected \"cpu\", \"cuda\" or \"cuda:N\"");
  EXPECT_EQ(kiln_model_set_device(m, "cpu"), KILN_OK) << kiln_last_error();
  ASSERT_EQ(kiln_model_device(m, &device), KILN_OK);
  EXPECT_STREQ(device, "cpu");
  // Still runs on the CPU.
  kiln_session *s = nullptr;
  ASSERT_EQ(kiln_session_create(m, "predict", &s), KILN_OK) << kiln_last_error();
  std::vector<float> x(32, 1.0f), y(32);
  ASSERT_EQ(kiln_session_set_input(s, "x", KILN_F32, nullptr, 0, x.data(), 128), KILN_OK);
  ASSERT_EQ(kiln_session_run(s), KILN_OK);
  ASSERT_EQ(kiln_session_get_output(s, "y", y.data(), 128), KILN_OK);
  EXPECT_FLOAT_EQ(y[1], 1.0f * 1.0f + 1); // x * kernel[1] (= 1) + 1
  // Live sessions: no move.
  EXPECT_ERROR(kiln_model_set_device(m, "cuda"), KILN_ERR_BAD_STATE, "has live sessions");
  EXPECT_EQ(kiln_model_set_device(m, "cpu"), KILN_OK); // already there: a no-op
  kiln_session_destroy(s);
  kiln_model_free(m);
  EXPECT_STREQ(kiln_status_name(KILN_ERR_DEVICE), "KILN_ERR_DEVICE");
}

TEST(GpuDevice, CppWrapper) {
  std::vector<uint8_t> bytes = buildKbin(gpuSpec());
  auto m = kiln::Model::load_memory(bytes.data(), bytes.size());
  ASSERT_TRUE(m) << m.status().message();
  EXPECT_EQ(m->device(), "cpu");
  EXPECT_TRUE(m->set_device("cpu"));
  kiln::Status bad = m->set_device("tpu");
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.code(), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln::Model().device(), "");
}

TEST(GpuDevice, WrongModels) {
  // No GPU code: unsupported, whatever the machine has.
  kiln_model *m = load(testModelSpec(sharedObject()));
  ASSERT_NE(m, nullptr);
  EXPECT_ERROR(kiln_model_set_device(m, "cuda"), KILN_ERR_UNSUPPORTED,
               "model 'affine-model' has no GPU code (compiled without --target=cuda; recompile with kilnc "
               "--target=cpu,cuda)");
  kiln_model_free(m);
  // Loaded without code: nothing to run anywhere.
  m = load(gpuSpec(), KILN_LOAD_NO_CODE);
  ASSERT_NE(m, nullptr);
  EXPECT_ERROR(kiln_model_set_device(m, "cuda:1"), KILN_ERR_BAD_STATE, "KILN_LOAD_NO_CODE");
  EXPECT_EQ(kiln_model_set_device(m, "cpu"), KILN_OK);
  kiln_model_free(m);
}

// Without a usable driver: KILN_ERR_NO_DEVICE with the reason, and the model
// stays on the CPU and keeps working. Registered twice in CTest: with no
// driver (KILN_CUDA_DRIVER names a missing file) and with the toolkit's stub.
TEST(GpuDevice, NoDeviceSaysWhy) {
  if (haveDevice())
    GTEST_SKIP() << "this machine has a CUDA device (GpuNumericsTest covers it)";
  kiln_model *m = load(gpuSpec());
  ASSERT_NE(m, nullptr);
  const char *env = std::getenv("KILN_CUDA_DRIVER");
  std::string driver = env && *env ? env : "libcuda.so.1";
  kiln_status s = kiln_model_set_device(m, "cuda");
  std::string message = kiln_last_error();
  EXPECT_EQ(s, KILN_ERR_NO_DEVICE) << message;
  EXPECT_EQ(message.find("kiln_model_set_device: no CUDA "), 0u) << message;
  if (driver.find("stubs") != std::string::npos)
    EXPECT_NE(message.find("cuInit failed with CUDA_ERROR_STUB_LIBRARY (34)"), std::string::npos) << message;
  else if (driver.find("/nonexistent/") != std::string::npos)
    EXPECT_NE(message.find("no CUDA driver: cannot load " + driver), std::string::npos) << message;
  EXPECT_ERROR(kiln_model_set_device(m, "cuda:3"), KILN_ERR_NO_DEVICE, "no CUDA");
  const char *device = nullptr;
  ASSERT_EQ(kiln_model_device(m, &device), KILN_OK);
  EXPECT_STREQ(device, "cpu");
  float k[8] = {0};
  EXPECT_EQ(kiln_model_get_param(m, "affine/kernel", k, sizeof k), KILN_OK);
  EXPECT_FLOAT_EQ(k[7], 4.0f);
  kiln_model_free(m);
}

} // namespace
