//===- CudaEmulationTest.cpp - the CUDA code == the CPU code, emulated ----===//
//
// No GPU is needed: each example's generated CUDA C++ (codegen/cuda, the
// kernels/cuda templates included) is compiled as host C++ against
// kernels/cuda/Emulate.h and its launch lists run on the CPU, over the same
// buffers the CPU code uses (the GPU scratch arena poisoned with NaN, as
// device memory is not zeroed). The emulated CUDA code must agree with the
// CPU code on predict, eval_step and gradients, and on three train_steps
// (losses, metrics, every parameter and optimizer state afterwards).
//
// This checks what the compiler writes: index arithmetic, views into the
// arena, the memory plan, launch geometry and arguments, statement order,
// and the templates' numerics. It cannot check what only hardware shows
// (races between blocks, warp-level behaviour, timing): the GPU tests in
// test/unit/runtime do that on a machine with a GPU.
//
//===----------------------------------------------------------------------===//

#include "CompiledModel.h"
#include <gtest/gtest.h>
#include <cmath>

using namespace kiln;
using reference::Tensor;

namespace {


void compareWithCpu(const char *file, cuda::GpuPrecision precision, double tolerance,
                    int64_t kBatch = 4, std::string source = "") {
  if (source.empty())
    source = test::readExample(file);
  test::ModelRun cpu(source, kBatch), gpu(source, kBatch, /*optimize=*/true, precision);
  ASSERT_TRUE(cpu.c.error.empty()) << cpu.c.error;
  ASSERT_TRUE(gpu.c.error.empty()) << gpu.c.error;
  for (const char *entry : {"predict", "eval_step", "gradients"}) {
    std::vector<Tensor> inputs = cpu.inputs;
    if (std::string(entry) == "predict")
      inputs.resize(1);
    std::vector<Tensor> a = test::runEmulated(gpu.c, inputs, gpu.params, entry);
    std::vector<Tensor> b = test::runCompiled(cpu.c, inputs, cpu.params, entry);
    ASSERT_FALSE(b.empty()) << entry;
    EXPECT_LE(test::worstRelativeError(a, b), tolerance) << entry;
  }
  for (int step = 0; step < 3; ++step) {
    std::vector<Tensor> a = test::runEmulated(gpu.c, gpu.inputs, gpu.params, "train_step");
    std::vector<Tensor> b = test::runCompiled(cpu.c, cpu.inputs, cpu.params, "train_step");
    ASSERT_FALSE(b.empty());
    EXPECT_LE(test::worstRelativeError(a, b), tolerance) << "train_step " << step << " (loss, metrics)";
  }
  for (auto &p : cpu.params)
    EXPECT_LE(test::worstRelativeError({gpu.params[p.first()]}, {p.second}), tolerance)
        << p.first().str() << " after 3 train steps";
}

class CudaEmulated : public ::testing::TestWithParam<const char *> {};

// FP32 GEMMs and convolutions: only the order of sums differs from the CPU.
TEST_P(CudaEmulated, Fp32MatchesCpu) { compareWithCpu(GetParam(), cuda::GpuPrecision::F32, 1e-4); }

INSTANTIATE_TEST_SUITE_P(Examples, CudaEmulated, ::testing::ValuesIn(test::kExampleFiles),
                         [](const auto &info) { return test::exampleTestName(info.param); });

// Tensor cores round GEMM / convolution operands to TF32 (10-bit mantissa:
// relative error 2^-11 per operand); after three Adam steps the parameters
// stay within a few 1e-3 of the FP32 path.
TEST(CudaEmulatedTf32, MnistCnnMatchesCpuWithinTf32Rounding) {
  compareWithCpu("mnist_cnn.kiln", cuda::GpuPrecision::TF32, 2e-2);
}

// Batch 1: canonicalization removes the size-1 loops, leaving per-sample
// code as scalar statements between kernels.
TEST(CudaEmulatedBatch1, MnistCnnMatchesCpu) {
  compareWithCpu("mnist_cnn.kiln", cuda::GpuPrecision::F32, 1e-4, /*batch=*/1);
}

// Dropout masks: an integer hash of (seed, step, index) that must wrap the
// same way in CUDA C++ (through unsigned types) as in LLVM.
TEST(CudaEmulatedDropout, MasksMatchCpu) {
  compareWithCpu("dropout", cuda::GpuPrecision::F32, 1e-4, /*batch=*/4,
                 "model drop\nInput(shape=(12,))\nDense(32, activation=\"relu\")\nDropout(0.5)\n"
                 "Dense(16, activation=\"tanh\")\nDropout(0.25, seed=3)\nDense(3, activation=\"softmax\")\n"
                 "compile(loss=\"sparse_categorical_crossentropy\", optimizer=\"sgd\", metrics=[\"accuracy\"])\n");
}

} // namespace
