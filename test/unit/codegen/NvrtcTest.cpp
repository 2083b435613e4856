//===- NvrtcTest.cpp - NVRTC errors point at the generated source ---------===//
#include "codegen/cuda/CudaBackend.h"
#include <gtest/gtest.h>
#include <cstdlib>

using namespace kiln;

TEST(Nvrtc, ErrorsQuoteTheGeneratedSourceLine) {
  if (!cuda::haveNvrtc())
    GTEST_SKIP() << "kilnc was built without NVRTC";
  setenv("KILN_CACHE_DIR", "off", 1);
  std::string source = "#include \"kiln_cuda_kernels.cuh\"\n"
                       "extern \"C\" __global__ void k(float *p) {\n"
                       "  p[0] = undeclared_value;\n"
                       "}\n";
  std::vector<GpuImage> images;
  std::string error;
  EXPECT_FALSE(cuda::compileImages(source, {"sm_80"}, images, error));
  unsetenv("KILN_CACHE_DIR");
  EXPECT_NE(error.find("for sm_80"), std::string::npos) << error;
  EXPECT_NE(error.find("kiln_model.cu(3)"), std::string::npos) << error;
  EXPECT_NE(error.find("undeclared_value"), std::string::npos) << error;
  EXPECT_NE(error.find("    3 |   p[0] = undeclared_value;"), std::string::npos) << error;
}

TEST(Nvrtc, CompilesCubinAndPtx) {
  if (!cuda::haveNvrtc())
    GTEST_SKIP() << "kilnc was built without NVRTC";
  setenv("KILN_CACHE_DIR", "off", 1);
  std::string source = "#include \"kiln_cuda_kernels.cuh\"\n"
                       "extern \"C\" __global__ void k(float *p) { p[threadIdx.x] = 1.0f; }\n";
  std::vector<GpuImage> images;
  std::string error;
  ASSERT_TRUE(cuda::compileImages(source, {"sm_90", "compute_90"}, images, error)) << error;
  unsetenv("KILN_CACHE_DIR");
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0].image.compare(0, 4, "\x7f" "ELF"), 0) << "a CUBIN is an ELF file";
  EXPECT_NE(images[1].image.find(".entry k("), std::string::npos) << "PTX names the kernel";
  EXPECT_NE(images[1].image.find(".target sm_90"), std::string::npos);
}
