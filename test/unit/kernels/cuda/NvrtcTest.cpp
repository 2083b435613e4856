//===- NvrtcTest.cpp - kiln_cuda_kernels.cuh compiles with NVRTC ----------===//
//
// Builds a translation unit as generated code will - the embedded header
// (kernelsSource) and an extern "C" __global__ wrapper with a constexpr
// descriptor per phase of several plans, every precision - and compiles it
// for sm_80 and sm_90 (CUBIN) and compute_90 (PTX). Fails with NVRTC's log.
//
//===----------------------------------------------------------------------===//
#include "kernels/cuda/Plan.h"

#include <gtest/gtest.h>
#include <nvrtc.h>

#include <set>
#include <string>
#include <vector>

namespace {

using namespace kiln::cuda;

std::string list(const int64_t *v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i)
    s += (i ? ", " : "") + std::to_string(v[i]);
  return s;
}

struct Source {
  std::string text = std::string("#include \"") + kernelsHeaderName() + "\"\n";
  std::set<std::string> seen; // one wrapper per (function, descriptor)
  int count = 0;

  void add(const KernelPlan &plan, const std::string &descType, const std::string &init,
           const std::string &params, const std::string &args) {
    for (const Phase &ph : plan.phases) {
      if (!seen.insert(ph.function + init).second)
        continue;
      const unsigned threads = ph.block[0] * ph.block[1] * ph.block[2];
      text += "extern \"C\" __global__ void __launch_bounds__(" + std::to_string(threads) + ") k" +
              std::to_string(count++) + "(" + params + ", float *ws) {\n  constexpr kiln_cuda::" +
              descType + " g{" + init + "};\n  " + ph.function + "(g, " + args + ", ws);\n}\n";
    }
  }
  void gemm(const Gemm &g, Precision p) {
    add(planGemm(g, p), "Gemm", list(&g.m, 10),
        "const float *a, const float *b, const float *bias, float *c", "a, b, bias, c");
  }
  void conv(const Conv2d &g, Precision p) {
    const std::string init = list(&g.batch, 15);
    add(planConv2d(ConvKind::Forward, g, p), "Conv2d", init,
        "const float *x, const float *w, const float *bias, float *y", "x, w, bias, y");
    add(planConv2d(ConvKind::BackpropInput, g, p), "Conv2d", init,
        "const float *dy, const float *w, float *dx", "dy, w, dx");
    add(planConv2d(ConvKind::BackpropFilter, g, p), "Conv2d", init,
        "const float *x, const float *dy, float *dw, float *db", "x, dy, dw, db");
  }
};

std::string compile(const std::string &src, const std::string &arch, size_t &outBytes) {
  nvrtcProgram prog;
  const char *headers[] = {kernelsSource()};
  const char *names[] = {kernelsHeaderName()};
  if (nvrtcCreateProgram(&prog, src.c_str(), "kiln_cuda_test.cu", 1, headers, names) != NVRTC_SUCCESS)
    return "nvrtcCreateProgram failed";
  const std::string archOpt = "--gpu-architecture=" + arch;
  const std::string include = std::string("--include-path=") + KILN_CUDA_INCLUDE_DIR;
  const char *opts[] = {archOpt.c_str(), "-std=c++17", include.c_str()};
  const nvrtcResult r = nvrtcCompileProgram(prog, 3, opts);
  size_t logSize = 0;
  nvrtcGetProgramLogSize(prog, &logSize);
  std::string log(logSize, '\0');
  if (logSize)
    nvrtcGetProgramLog(prog, &log[0]);
  std::string err;
  if (r != NVRTC_SUCCESS) {
    err = std::string(nvrtcGetErrorString(r)) + "\n" + log;
  } else if (arch.rfind("sm_", 0) == 0) {
    nvrtcGetCUBINSize(prog, &outBytes);
  } else {
    nvrtcGetPTXSize(prog, &outBytes);
  }
  nvrtcDestroyProgram(&prog);
  return err;
}

TEST(CudaKernelsNvrtc, EveryPhaseCompiles) {
  Source src;
  for (Precision p : {Precision::F32, Precision::TF32, Precision::BF16}) {
    src.gemm({17, 33, 65, 68, 36, 36, 1, 0, 1, 3}, p);           // small, FP32 fallback
    src.gemm({128, 64, 9216, 9216, 64, 64, 0, 1, 0, 0}, p);      // split-K
    src.conv({64, 13, 13, 32, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 2}, p);  // MNIST conv2
    src.conv({256, 32, 32, 64, 128, 3, 3, 2, 2, 0, 1, 1, 0, 0, 3}, p); // stride 2, asymmetric
  }
  ASSERT_GE(src.count, 20);
  for (const char *arch : {"sm_80", "sm_90", "compute_90"}) {
    size_t bytes = 0;
    const std::string err = compile(src.text, arch, bytes);
    EXPECT_TRUE(err.empty()) << arch << ":\n" << err << "\nsource:\n" << src.text;
    EXPECT_GT(bytes, 0u) << arch;
  }
}

} // namespace
