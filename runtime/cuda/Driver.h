//===- Driver.h - the CUDA driver API, loaded with dlopen -----*- C++ -*-===//
//
// The runtime never links libcuda: it opens libcuda.so.1 (or the file named
// by KILN_CUDA_DRIVER) when a caller asks about CUDA devices, so it builds,
// links and runs on machines without CUDA. Only the calls used so far are
// declared, with the driver's C types spelled out here (no cuda.h needed).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::rt::cuda {

using CUresult = int;
using CUdevice = int;

struct Driver {
  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDriverGetVersion)(int *) = nullptr;
  CUresult (*cuGetErrorName)(CUresult, const char **) = nullptr;
  CUresult (*cuDeviceGetCount)(int *) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice *, int) = nullptr;
  CUresult (*cuDeviceGetName)(char *, int, CUdevice) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice) = nullptr;
  CUresult (*cuDeviceTotalMem_v2)(size_t *, CUdevice) = nullptr;

  /// "CUDA_ERROR_NO_DEVICE (100)".
  std::string errorText(CUresult r) const;
};

/// The process's driver, opened and initialised once (thread-safe). NULL
/// with `why` set when there is no usable driver: not installed, a symbol
/// missing, or cuInit failing (e.g. CUDA_ERROR_NO_DEVICE, or the toolkit's
/// stub library: CUDA_ERROR_STUB_LIBRARY).
const Driver *driver(std::string &why);

} // namespace kiln::rt::cuda
