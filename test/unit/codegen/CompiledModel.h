//===- CompiledModel.h - compile a model in-process and call its code -----===//
//
// Shared by the numerics and gradient tests: a .kiln or MLIR-text model is
// compiled exactly as kilnc compiles it (training entry points, batch
// specialisation, gradients, lowering, LLVM, shared object), loaded with
// dlopen, and its packed entry points called on plain buffers.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TEST_UNIT_CODEGEN_COMPILEDMODEL_H
#define KILN_TEST_UNIT_CODEGEN_COMPILEDMODEL_H

#include "Interpreter.h"
#include "codegen/Artifact.h"
#include "codegen/cuda/CudaBackend.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringMap.h"
#include "mlir/IR/OwningOpRef.h"
#include <optional>
#include <random>
#include <string>

namespace kiln::test {

struct Compiled {
  std::string error;
  mlir::OwningOpRef<mlir::ModuleOp> graph; // specialised graph, for the interpreter
  ArtifactContents contents;
  void *handle = nullptr;
  void (*entry)(void **) = nullptr; // kiln_predict, when there is one
  // With a GPU precision given to compile(): the CUDA program, its kernels
  // compiled for the CPU emulator (kernels/cuda/Emulate.h) and loaded.
  cuda::GpuProgram gpu;
  void *emulated = nullptr;
  ~Compiled();
  const EntrySignature *signature(const std::string &name) const;
};

/// Compiles `source` for `batch` and loads its code; sets `error` on failure.
/// With `training`, the training entry points are built (kiln-build-training);
/// every kiln.gradient is expanded and the graph optimized (cleanups,
/// layouts, fusion) as kilnc does; `optimize = false` is kilnc -O0.
/// `graph` keeps the unoptimized graph, for the interpreter.
/// With `gpu`, the CUDA program is written too and its kernels compiled for
/// the CPU emulator (runEmulated).
void compile(mlir::MLIRContext &ctx, const std::string &source, int64_t batch, Compiled &out,
             bool training = false, bool optimize = true,
             std::optional<cuda::GpuPrecision> gpu = std::nullopt);

reference::Tensor randomTensor(const std::vector<int64_t> &shape, std::mt19937 &rng, float lo = -1,
                               float hi = 1);

/// Runs entry point `name` (default: the first) on `inputs` (i32 inputs held
/// as exact floats) and `params`, which it may update in place; returns its
/// outputs.
std::vector<reference::Tensor> runCompiled(const Compiled &c, const std::vector<reference::Tensor> &inputs,
                                           llvm::StringMap<reference::Tensor> &params,
                                           const std::string &name = "");

/// runCompiled for the CUDA code, run by the emulator: the entry point's
/// launches in order over the same buffers and a GPU scratch arena.
std::vector<reference::Tensor> runEmulated(const Compiled &c, const std::vector<reference::Tensor> &inputs,
                                           llvm::StringMap<reference::Tensor> &params,
                                           const std::string &name);

/// Largest |a - b| / (1 + |b|) over two runs' tensors; infinite when a NaN
/// appears or the tensor counts differ.
double worstRelativeError(const std::vector<reference::Tensor> &a, const std::vector<reference::Tensor> &b);

/// The examples every whole-model test runs on (the six seed programs and XOR).
inline constexpr const char *kExampleFiles[] = {
    "linear_regression.kiln", "binary_classifier.kiln", "xor.kiln",     "cifar10_mlp.kiln",
    "mnist_cnn.kiln",         "cifar10_cnn.kiln",       "cifar10_cnn_logits.kiln"};

/// "mnist_cnn.kiln" -> "mnistcnn", a test name.
std::string exampleTestName(const std::string &file);

/// The text of examples/<name>.
std::string readExample(const std::string &name);

/// Labels for the model's loss: class indices, one-hot rows, 0/1 targets or
/// real values.
reference::Tensor labelsFor(Compiled &c, const TensorSignature &t, std::mt19937 &rng);

/// A model compiled with its training entry points, random inputs and labels
/// for a full batch (seeded), and its initial parameters.
struct ModelRun {
  mlir::MLIRContext ctx;
  Compiled c;
  std::vector<reference::Tensor> inputs; // input, labels, samples
  llvm::StringMap<reference::Tensor> params;
  ModelRun(const std::string &source, int64_t batch, bool optimize = true,
           std::optional<cuda::GpuPrecision> gpu = std::nullopt);
};

} // namespace kiln::test

#endif
