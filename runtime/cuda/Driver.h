//===- Driver.h - the CUDA driver API, loaded with dlopen -----*- C++ -*-===//
//
// The runtime never links libcuda: it opens libcuda.so.1 (or the file named
// by KILN_CUDA_DRIVER) when a caller asks about CUDA devices or moves a model
// onto one, so it builds, links and runs on machines without CUDA. Only the
// calls used are declared, with the driver's C types spelled out here (no
// cuda.h needed); names are the exported ones (cuMemAlloc_v2, not the
// cuMemAlloc macro of cuda.h), each checked against cuda.h 12.x.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::rt::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long; // CUdeviceptr_v2
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
using CUevent = CUevent_st *;
using CUgraph = CUgraph_st *;
using CUgraphExec = CUgraphExec_st *;

// Constants of cuda.h used by the runtime.
constexpr int kAttrComputeCapabilityMajor = 75, kAttrComputeCapabilityMinor = 76; // CUdevice_attribute
constexpr unsigned kStreamNonBlocking = 0x1;    // CU_STREAM_NON_BLOCKING
constexpr unsigned kEventDisableTiming = 0x2;   // CU_EVENT_DISABLE_TIMING
constexpr int kCaptureModeThreadLocal = 1;      // CU_STREAM_CAPTURE_MODE_THREAD_LOCAL
constexpr CUresult kErrorOutOfMemory = 2;       // CUDA_ERROR_OUT_OF_MEMORY

struct Driver {
  // --- the probe (kiln_cuda_devices): every one must exist ---------------
  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDriverGetVersion)(int *) = nullptr;
  CUresult (*cuGetErrorName)(CUresult, const char **) = nullptr;
  CUresult (*cuDeviceGetCount)(int *) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice *, int) = nullptr;
  CUresult (*cuDeviceGetName)(char *, int, CUdevice) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice) = nullptr;
  CUresult (*cuDeviceTotalMem_v2)(size_t *, CUdevice) = nullptr;

  // --- running models (kiln_model_set_device, sessions) -------------------
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRelease_v2)(CUdevice) = nullptr;
  CUresult (*cuCtxSetCurrent)(CUcontext) = nullptr;
  CUresult (*cuCtxSynchronize)() = nullptr;
  CUresult (*cuModuleLoadData)(CUmodule *, const void *) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *) = nullptr;
  CUresult (*cuMemAlloc_v2)(CUdeviceptr *, size_t) = nullptr;
  CUresult (*cuMemFree_v2)(CUdeviceptr) = nullptr;
  CUresult (*cuMemHostAlloc)(void **, size_t, unsigned) = nullptr;
  CUresult (*cuMemFreeHost)(void *) = nullptr;
  CUresult (*cuMemcpyHtoD_v2)(CUdeviceptr, const void *, size_t) = nullptr;
  CUresult (*cuMemcpyDtoH_v2)(void *, CUdeviceptr, size_t) = nullptr;
  CUresult (*cuMemcpyHtoDAsync_v2)(CUdeviceptr, const void *, size_t, CUstream) = nullptr;
  CUresult (*cuMemcpyDtoHAsync_v2)(void *, CUdeviceptr, size_t, CUstream) = nullptr;
  CUresult (*cuStreamCreate)(CUstream *, unsigned) = nullptr;
  CUresult (*cuStreamDestroy_v2)(CUstream) = nullptr;
  CUresult (*cuStreamSynchronize)(CUstream) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void **, void **) = nullptr;
  CUresult (*cuStreamBeginCapture_v2)(CUstream, int /* CUstreamCaptureMode */) = nullptr;
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph *) = nullptr;
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph, unsigned long long) = nullptr;
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream) = nullptr;
  CUresult (*cuGraphExecDestroy)(CUgraphExec) = nullptr;
  CUresult (*cuGraphDestroy)(CUgraph) = nullptr;
  CUresult (*cuEventCreate)(CUevent *, unsigned) = nullptr;
  CUresult (*cuEventRecord)(CUevent, CUstream) = nullptr;
  CUresult (*cuEventSynchronize)(CUevent) = nullptr;
  CUresult (*cuEventDestroy_v2)(CUevent) = nullptr;

  /// Empty when the driver has every symbol for running models, else
  /// "the CUDA driver has no cuGraphInstantiateWithFlags (too old?)".
  std::string runMissing;

  /// "CUDA_ERROR_NO_DEVICE (100)".
  std::string errorText(CUresult r) const;

  /// Calls f(name, member) for each probe symbol, then each run symbol.
  template <typename F> static void probeSymbols(Driver &d, F &&f) {
    f("cuInit", d.cuInit);
    f("cuDriverGetVersion", d.cuDriverGetVersion);
    f("cuGetErrorName", d.cuGetErrorName);
    f("cuDeviceGetCount", d.cuDeviceGetCount);
    f("cuDeviceGet", d.cuDeviceGet);
    f("cuDeviceGetName", d.cuDeviceGetName);
    f("cuDeviceGetAttribute", d.cuDeviceGetAttribute);
    f("cuDeviceTotalMem_v2", d.cuDeviceTotalMem_v2);
  }
  template <typename F> static void runSymbols(Driver &d, F &&f) {
    f("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain);
    f("cuDevicePrimaryCtxRelease_v2", d.cuDevicePrimaryCtxRelease_v2);
    f("cuCtxSetCurrent", d.cuCtxSetCurrent);
    f("cuCtxSynchronize", d.cuCtxSynchronize);
    f("cuModuleLoadData", d.cuModuleLoadData);
    f("cuModuleUnload", d.cuModuleUnload);
    f("cuModuleGetFunction", d.cuModuleGetFunction);
    f("cuMemAlloc_v2", d.cuMemAlloc_v2);
    f("cuMemFree_v2", d.cuMemFree_v2);
    f("cuMemHostAlloc", d.cuMemHostAlloc);
    f("cuMemFreeHost", d.cuMemFreeHost);
    f("cuMemcpyHtoD_v2", d.cuMemcpyHtoD_v2);
    f("cuMemcpyDtoH_v2", d.cuMemcpyDtoH_v2);
    f("cuMemcpyHtoDAsync_v2", d.cuMemcpyHtoDAsync_v2);
    f("cuMemcpyDtoHAsync_v2", d.cuMemcpyDtoHAsync_v2);
    f("cuStreamCreate", d.cuStreamCreate);
    f("cuStreamDestroy_v2", d.cuStreamDestroy_v2);
    f("cuStreamSynchronize", d.cuStreamSynchronize);
    f("cuLaunchKernel", d.cuLaunchKernel);
    f("cuStreamBeginCapture_v2", d.cuStreamBeginCapture_v2);
    f("cuStreamEndCapture", d.cuStreamEndCapture);
    f("cuGraphInstantiateWithFlags", d.cuGraphInstantiateWithFlags);
    f("cuGraphLaunch", d.cuGraphLaunch);
    f("cuGraphExecDestroy", d.cuGraphExecDestroy);
    f("cuGraphDestroy", d.cuGraphDestroy);
    f("cuEventCreate", d.cuEventCreate);
    f("cuEventRecord", d.cuEventRecord);
    f("cuEventSynchronize", d.cuEventSynchronize);
    f("cuEventDestroy_v2", d.cuEventDestroy_v2);
  }
};

/// Opens the library at `path` and resolves every symbol into `out`, without
/// calling anything (for tests: the toolkit's stub exports them all). Returns
/// "" on success, else what is missing.
std::string resolveSymbols(const char *path, Driver &out);

/// The process's driver, opened and initialised once (thread-safe). NULL
/// with `why` set when there is no usable driver: not installed, a symbol
/// missing, or cuInit failing (e.g. CUDA_ERROR_NO_DEVICE, or the toolkit's
/// stub library: CUDA_ERROR_STUB_LIBRARY).
const Driver *driver(std::string &why);

} // namespace kiln::rt::cuda
