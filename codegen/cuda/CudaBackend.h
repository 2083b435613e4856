//===- CudaBackend.h - kiln graph -> CUDA C++ -> NVRTC --------*- C++ -*-===//
//
//   lowerToLoops   linalg on tensors -> bufferized loops over one scratch arena
//                  (the CPU pipeline's front half; GEMM/conv calls planned for
//                  kernels/cuda, their workspaces in the arena)
//   emitSource     loops -> one CUDA C++ translation unit + each entry point's
//                  launch list (EmitCuda.cpp)
//   compileImages  CUDA C++ -> CUBIN / PTX per architecture with NVRTC, through
//                  a persistent cache (Nvrtc.cpp)
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_CUDA_CUDABACKEND_H
#define KILN_CODEGEN_CUDA_CUDABACKEND_H

#include "codegen/Artifact.h"
#include "mlir/IR/BuiltinOps.h"
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::cuda {

using kiln::GpuArg;
using kiln::GpuEntry;
using kiln::GpuImage;
using kiln::GpuLaunch;

/// How GEMMs and convolutions multiply (kernels/cuda): plain FP32 FMA, or
/// tensor cores with TF32 / BF16 inputs and FP32 accumulation.
enum class GpuPrecision { F32, TF32, BF16 };
/// "fp32" / "tf32" / "bf16".
const char *precisionName(GpuPrecision p);

struct GpuProgram {
  std::string source; // one CUDA C++ translation unit: every entry point's kernels
  std::vector<GpuEntry> entries;
};

/// Bufferizes a module from cpu::lowerToLinalg (clone it first to also
/// compile for CPU) into loops over one scratch arena per entry point.
mlir::LogicalResult lowerToLoops(mlir::ModuleOp module, GpuPrecision precision);

/// Writes the CUDA C++ for a module from lowerToLoops. Unsupported IR is
/// reported as an error at its location.
mlir::LogicalResult emitSource(mlir::ModuleOp module, GpuPrecision precision, GpuProgram &out);

/// Whether this kilnc was built with NVRTC.
bool haveNvrtc();
/// The NVRTC version ("13.0"), or "" without NVRTC.
std::string nvrtcVersion();

/// Compiles `source` for each architecture ("sm_80", "sm_90", "compute_90")
/// with NVRTC, on parallel threads, reusing images from the cache directory
/// (KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln, else ~/.cache/kiln; "" or
/// KILN_CACHE_DIR=off: no cache) keyed on (source, options, architecture,
/// NVRTC version). On failure `error` holds NVRTC's log with each error's
/// generated source line. `cacheHits` counts the images found in the cache.
bool compileImages(const std::string &source, const std::vector<std::string> &archs,
                   std::vector<GpuImage> &images, std::string &error, unsigned *cacheHits = nullptr);

/// For tests without a GPU: instead of NVRTC, compiles `source` as host C++
/// against kernels/cuda/Emulate.h (clang++-19, the source tree's headers)
/// into a shared object exporting kiln_emulate_<kernel> launchers, and uses
/// its bytes as the image of every architecture. Only a fake driver (the
/// runtime tests' libkiln_fake_cuda.so) can load such images.
bool compileEmulatedImages(const std::string &source, const std::vector<std::string> &archs,
                           std::vector<GpuImage> &images, std::string &error);

} // namespace kiln::cuda

#endif
