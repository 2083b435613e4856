//===- DriverTest.cpp - every CUDA driver symbol the runtime uses exists --===//
//
// Built from runtime/cuda/Driver.cpp (internal). The toolkit's stub
// libcuda.so exports every driver entry point (its cuInit fails), so
// resolving against it proves each name the runtime dlsym's is one the real
// driver exports: the _v2 names included.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/Driver.h"

#include <gtest/gtest.h>

#include <unistd.h>

using namespace kiln::rt::cuda;

TEST(CudaDriver, StubExportsEverySymbol) {
  const char *stub = KILN_CUDA_STUB;
  if (access(stub, R_OK) != 0)
    GTEST_SKIP() << "no CUDA toolkit stub driver at " << stub;
  Driver d;
  EXPECT_EQ(resolveSymbols(stub, d), "");
  int count = 0, missing = 0;
  auto check = [&](const char *name, auto &fn) {
    ++count;
    if (!fn) {
      ++missing;
      ADD_FAILURE() << name << " not resolved from " << stub;
    }
  };
  Driver::probeSymbols(d, check);
  Driver::runSymbols(d, check);
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(count, 37);
  // The stub refuses to initialise, with its own error code.
  ASSERT_NE(d.cuInit, nullptr);
  CUresult r = d.cuInit(0);
  EXPECT_EQ(r, 34) << d.errorText(r); // CUDA_ERROR_STUB_LIBRARY
}

TEST(CudaDriver, NotADriver) {
  Driver d;
  std::string why = resolveSymbols("libm.so.6", d);
  EXPECT_EQ(why, "the CUDA driver has no cuInit (libm.so.6)");
  why = resolveSymbols("/nonexistent/libcuda.so.1", d);
  EXPECT_EQ(why.rfind("no CUDA driver: cannot load /nonexistent/libcuda.so.1 (", 0), 0u) << why;
}

TEST(CudaDriver, ErrorText) {
  Driver d; // no cuGetErrorName: the built-in names
  EXPECT_EQ(d.errorText(34), "CUDA_ERROR_STUB_LIBRARY (34)");
  EXPECT_EQ(d.errorText(100), "CUDA_ERROR_NO_DEVICE (100)");
  EXPECT_EQ(d.errorText(999), "CUDA error (999)");
}
