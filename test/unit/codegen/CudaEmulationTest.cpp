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
#include "ir/KilnDialect.h"
#include "ir/KilnOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
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

// Regularizers: sums over whole weight matrices (200,704 squares here), which
// the CUDA code folds with a block of threads (another summation order).
TEST(CudaEmulatedRegularizers, MatchCpu) {
  compareWithCpu("regularizers", cuda::GpuPrecision::F32, 1e-4, /*batch=*/4,
                 "model reg\nInput(shape=(784,))\nDense(256, activation=\"relu\", kernel_regularizer=l2(0.001))\n"
                 "Dense(10, activation=\"softmax\", kernel_regularizer=l1(0.01), bias_regularizer=l2(0.1))\n"
                 "compile(loss=\"sparse_categorical_crossentropy\", optimizer=\"adam\", metrics=[\"accuracy\"])\n");
}

//===----------------------------------------------------------------------===//
// Every op, forward and backward (test/ops/every-op.mlir)
//===----------------------------------------------------------------------===//

const std::string kEveryOp = std::string(KILN_SOURCE_DIR) + "/test/ops/every-op.mlir";

/// Inputs for an every-op function: f32 in [-1, 1], i32 class labels in [0, 3).
std::vector<Tensor> everyOpInputs(const EntrySignature &e, std::mt19937 &rng) {
  std::vector<Tensor> inputs;
  for (const TensorSignature &t : e.inputs) {
    inputs.push_back(test::randomTensor(t.shape, rng, t.isInt ? 0.0f : -1.0f, t.isInt ? 3.0f : 1.0f));
    if (t.isInt)
      for (float &v : inputs.back().data)
        v = std::floor(v);
  }
  return inputs;
}

/// Each function's outputs (the op's result and the gradients of
/// sum(result * r)) from the emulated CUDA code against the CPU code and
/// against the reference interpreter (test/reference: double precision, no
/// code shared with either backend) on the same graph.
void compareEveryOp(cuda::GpuPrecision precision, double vsCpu, double vsReference) {
  auto file = llvm::MemoryBuffer::getFile(kEveryOp);
  ASSERT_TRUE(bool(file)) << kEveryOp;
  std::string source = (*file)->getBuffer().str();
  mlir::MLIRContext ctx;
  ctx.loadDialect<KilnDialect, mlir::func::FuncDialect>();
  test::Compiled c;
  test::compile(ctx, source, /*batch=*/1, c, /*training=*/false, /*optimize=*/true, precision);
  ASSERT_TRUE(c.error.empty()) << c.error;
  ASSERT_GE(c.contents.entries.size(), 80u);
  std::mt19937 rng(3);
  for (const EntrySignature &e : c.contents.entries) {
    SCOPED_TRACE("@" + e.name + " in " + kEveryOp);
    std::vector<Tensor> inputs = everyOpInputs(e, rng);
    llvm::StringMap<Tensor> params;
    std::vector<Tensor> gpu = test::runEmulated(c, inputs, params, e.name);
    std::vector<Tensor> cpu = test::runCompiled(c, inputs, params, e.name);
    std::vector<Tensor> want;
    std::string error;
    auto f = c.graph->lookupSymbol<mlir::func::FuncOp>(e.name);
    ASSERT_TRUE(f && reference::evaluate(f, inputs, params, want, error)) << error;
    ASSERT_EQ(gpu.size(), want.size());
    EXPECT_LE(test::worstRelativeError(gpu, cpu), vsCpu) << "CUDA vs CPU";
    EXPECT_LE(test::worstRelativeError(gpu, want), vsReference) << "CUDA vs the reference interpreter";
  }
}

TEST(CudaEmulatedOps, EveryOpForwardAndBackwardFp32) {
  compareEveryOp(cuda::GpuPrecision::F32, 1e-5, 1e-4);
}

// Tensor cores round matmul / conv operands to TF32 (10-bit mantissa) or
// BF16 (7-bit). Measured worst errors over the file (K up to 900 terms of
// operands in [-1, 1]): TF32 5.7e-3, BF16 4.4e-2, 2^3 apart as the mantissas
// are; the FP32 elementwise code is the same in every mode.
TEST(CudaEmulatedOps, EveryOpForwardAndBackwardTf32) {
  compareEveryOp(cuda::GpuPrecision::TF32, 2e-2, 2e-2);
}

TEST(CudaEmulatedOps, EveryOpForwardAndBackwardBf16) {
  compareEveryOp(cuda::GpuPrecision::BF16, 1.5e-1, 1.5e-1);
}

// The file must exercise every op the dialect has, except those that only
// exist in whole models (parameters, training steps: the examples' tests)
// or are made by passes (fusion groups, kernel calls).
TEST(CudaEmulatedOps, EveryOpFileCoversTheDialect) {
  mlir::MLIRContext ctx;
  ctx.loadDialect<KilnDialect, mlir::func::FuncDialect>();
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(kEveryOp, &ctx);
  ASSERT_TRUE(module) << kEveryOp;
  llvm::StringSet<> used;
  module->walk([&](mlir::Operation *op) { used.insert(op->getName().getStringRef()); });
  const llvm::StringSet<> elsewhere = {"kiln.param", "kiln.read_param", "kiln.assign", "kiln.training",
                                       "kiln.fusion", "kiln.yield", "kiln.kernel_call"};
  int ops = 0;
  for (mlir::RegisteredOperationName name : ctx.getRegisteredOperations()) {
    if (name.getDialectNamespace() != "kiln" || elsewhere.contains(name.getStringRef()))
      continue;
    ++ops;
    EXPECT_TRUE(used.contains(name.getStringRef()))
        << name.getStringRef().str() << " has no case in " << kEveryOp << " (test/ops/gen_every_op.py)";
  }
  EXPECT_GE(ops, 50);
}

} // namespace
