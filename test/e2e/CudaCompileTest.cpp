//===- CudaCompileTest.cpp - every example compiles for CUDA, no GPU needed ===//
//
// kilnc --target=cpu,cuda runs NVRTC for sm_80 and sm_90 (CUBIN) and
// compute_90 (PTX) on machines without a GPU; the .kbin then carries the
// GPU code (kiln-run info lists it) and still runs on the CPU. Recompiling
// an unchanged model takes every image from the compile cache, and the
// cache returns exactly what NVRTC writes.
//
//===----------------------------------------------------------------------===//
#include "Subprocess.h"
#include <gtest/gtest.h>
#include <cctype>
#include <cstdlib>

using namespace kiln::e2e;

namespace {

#ifdef KILN_HAVE_NVRTC
#define SKIP_WITHOUT_NVRTC()
#else
#define SKIP_WITHOUT_NVRTC() GTEST_SKIP() << "kilnc was built without NVRTC (no CUDA toolkit found)"
#endif

std::string readFile(const std::string &path) {
  auto b = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  return b ? (*b)->getBuffer().str() : "";
}

class CudaCompile : public ::testing::TestWithParam<const char *> {};

TEST_P(CudaCompile, ExampleCompilesWithNvrtcAndKeepsItsCpuCode) {
  SKIP_WITHOUT_NVRTC();
  TempDir dir;
  setenv("KILN_CACHE_DIR", (dir / "cache").c_str(), 1);
  std::string model = std::string(KILN_EXAMPLES_DIR) + "/" + GetParam(), kbin = dir / "m.kbin";
  Process c = run({KILNC, model, "--target=cpu,cuda", "--stats", "-o", kbin}, dir);
  ASSERT_EQ(c.status, 0) << c.output;
  EXPECT_NE(c.output.find("3 images (0 from the cache)"), std::string::npos) << c.output;
  Process info = run({KILN_RUN, "info", kbin}, dir);
  ASSERT_EQ(info.status, 0) << info.output;
  EXPECT_NE(info.output.find("gpu code: sm_80,sm_90,compute_90"), std::string::npos) << info.output;
  // Without a GPU: a clear message, not a crash.
  Process dev = run({KILN_RUN, "crosscheck", kbin, "--device", "cuda"}, dir);
  EXPECT_NE(dev.status, 0);
  EXPECT_NE(dev.output.find("CUDA"), std::string::npos) << dev.output;
  unsetenv("KILN_CACHE_DIR");
}

INSTANTIATE_TEST_SUITE_P(Examples, CudaCompile,
                         ::testing::Values("linear_regression.kiln", "binary_classifier.kiln", "xor.kiln",
                                           "cifar10_mlp.kiln", "mnist_cnn.kiln", "cifar10_cnn.kiln",
                                           "cifar10_cnn_logits.kiln",
                                           // every op forward and backward (test/ops)
                                           "../test/ops/every-op.mlir"),
                         [](const auto &info) {
                           std::string n = info.param;
                           n = n.substr(n.rfind('/') + 1);
                           n = n.substr(0, n.find('.'));
                           n.erase(std::remove_if(n.begin(), n.end(), [](char c) { return !std::isalnum(c); }),
                                   n.end());
                           return n;
                         });

TEST(CudaCompileCache, UnchangedModelTakesEveryImageFromTheCache) {
  SKIP_WITHOUT_NVRTC();
  TempDir dir;
  setenv("KILN_CACHE_DIR", (dir / "cache").c_str(), 1);
  std::string model = std::string(KILN_EXAMPLES_DIR) + "/xor.kiln";
  Process first = run({KILNC, model, "--target=cpu,cuda", "--stats", "-o", dir / "a.kbin"}, dir);
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("(0 from the cache)"), std::string::npos) << first.output;
  Process again = run({KILNC, model, "--target=cpu,cuda", "--stats", "-o", dir / "b.kbin"}, dir);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("(3 from the cache)"), std::string::npos) << again.output;
  // Another precision is other code: compiled, not taken from the cache.
  Process other = run({KILNC, model, "--target=cpu,cuda", "--gpu-precision=fp32", "--stats", "-o",
                       dir / "c.kbin"}, dir);
  ASSERT_EQ(other.status, 0) << other.output;
  EXPECT_NE(other.output.find("(0 from the cache)"), std::string::npos) << other.output;
  setenv("KILN_CACHE_DIR", "off", 1);
  Process fresh = run({KILNC, model, "--target=cpu,cuda", "-o", dir / "d.kbin"}, dir);
  ASSERT_EQ(fresh.status, 0) << fresh.output;
  unsetenv("KILN_CACHE_DIR");
  std::string a = readFile(dir / "a.kbin");
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, readFile(dir / "b.kbin")) << "a cached image differs from NVRTC's";
  EXPECT_EQ(a, readFile(dir / "d.kbin")) << "the output depends on the cache";
}

TEST(CudaCompileCache, CudaOnlyTargetAndBadOptionsAreReported) {
  SKIP_WITHOUT_NVRTC();
  TempDir dir;
  std::string model = std::string(KILN_EXAMPLES_DIR) + "/xor.kiln";
  Process bad = run({KILNC, model, "--target=tpu", "-o", dir / "x.kbin"}, dir);
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("unknown --target 'tpu'"), std::string::npos) << bad.output;
  Process prec = run({KILNC, model, "--target=cuda", "--gpu-precision=fp8", "-o", dir / "x.kbin"}, dir);
  EXPECT_NE(prec.status, 0);
  EXPECT_NE(prec.output.find("unknown --gpu-precision 'fp8'"), std::string::npos) << prec.output;
  Process so = run({KILNC, model, "--target=cuda", "--emit=so", "-o", dir / "x.so"}, dir);
  EXPECT_NE(so.status, 0);
  EXPECT_NE(so.output.find("this --emit is CPU code"), std::string::npos) << so.output;
  // A CUDA-only .kbin loads and says where it can run.
  setenv("KILN_CACHE_DIR", (dir / "cache").c_str(), 1);
  Process only = run({KILNC, model, "--target=cuda", "-o", dir / "g.kbin"}, dir);
  unsetenv("KILN_CACHE_DIR");
  ASSERT_EQ(only.status, 0) << only.output;
  Process info = run({KILN_RUN, "info", dir / "g.kbin"}, dir);
  ASSERT_EQ(info.status, 0) << info.output;
  EXPECT_NE(info.output.find("gpu code: sm_80,sm_90,compute_90"), std::string::npos) << info.output;
}

} // namespace
