//===- Artifact.h - writing a compiled model as a .kbin -------------------===//
#ifndef KILN_CODEGEN_ARTIFACT_H
#define KILN_CODEGEN_ARTIFACT_H

#include "mlir/IR/BuiltinOps.h"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

/// The compiler's name and version, as .kbin files record it (Model.producer)
/// and `kilnc --version` prints it.
inline constexpr const char *kProducer = "kilnc 0.1";
/// The .kbin format_version kilnc writes (artifact/kbin.fbs).
inline constexpr uint32_t kKbinFormatVersion = 1;

struct TensorSignature {
  std::string name;
  bool isInt = false; // i32, else f32
  std::vector<int64_t> shape;
};

/// One entry point as the runtime sees it (artifact/kbin.fbs, EntryPoint).
struct EntrySignature {
  std::string name;
  std::string symbol; // the function's symbol in the module being compiled
  int64_t batchSize = 0;
  std::vector<TensorSignature> inputs, outputs;
  std::vector<std::string> params; // in argument order
  uint64_t scratchBytes = 0;
};

struct ParameterValue {
  std::string name;
  std::vector<int64_t> shape;
  bool trainable = true;
  bool state = false; // optimizer state (step counter, moments), not a weight
  std::vector<float> values;
};

/// The model file's fit(...) settings (kbin FitDefaults).
struct FitDefaults {
  int64_t epochs = 1, batchSize = 32;
  float validationSplit = 0;
  bool shuffle = true;
};

/// GPU code (kbin GpuModule / GpuEntryPoint): see artifact/kbin.fbs.
struct GpuArg {
  uint32_t buffer = 0; // packed-ABI index: inputs, params, outputs, then the GPU arena
  uint64_t offset = 0; // bytes into that buffer
};
struct GpuLaunch {
  std::string kernel;
  unsigned grid[3] = {1, 1, 1}, block[3] = {1, 1, 1};
  std::vector<GpuArg> args;
};
struct GpuEntry {
  std::string symbol;        // the entry function's name (EntrySignature::symbol)
  uint64_t scratchBytes = 0; // the GPU arena
  std::vector<GpuLaunch> launches;
};
struct GpuImage {
  std::string arch;  // "sm_80" (CUBIN), "compute_90" (PTX)
  std::string image;
};

/// Everything a .kbin holds, gathered while compiling.
struct ArtifactContents {
  std::string modelName;
  std::optional<FitDefaults> fit; // models with compile(...)
  std::vector<EntrySignature> entries;
  std::vector<ParameterValue> params;
  std::string triple, cpu;
  std::vector<std::string> cpuFeatures;
  std::string sharedObject; // empty: no CPU code (kilnc --target=cuda)
  std::vector<GpuImage> gpuImages;
  std::vector<GpuEntry> gpuEntries;
};

/// Model name and parameters with their initial values, from the graph.
void collectParameters(mlir::ModuleOp graph, uint64_t seed, ArtifactContents &out);
/// Entry signatures, from the module after kiln-params-to-arguments.
void collectSignatures(mlir::ModuleOp linalg, ArtifactContents &out);
/// Scratch sizes, from the module lowered to the LLVM dialect.
void collectScratchSizes(mlir::ModuleOp llvmDialect, ArtifactContents &out);

/// The .kbin bytes.
std::string buildArtifact(const ArtifactContents &contents);

} // namespace kiln

#endif
