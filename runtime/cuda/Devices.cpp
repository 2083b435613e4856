//===- Devices.cpp - kiln_cuda_devices: what the NVIDIA driver reports ----===//
#include "runtime/Internal.h"
#include "runtime/cuda/Driver.h"

#include <cstring>

using namespace kiln::rt;

namespace {
// CUdevice_attribute values (cuda.h).
constexpr int kComputeCapabilityMajor = cuda::kAttrComputeCapabilityMajor,
              kComputeCapabilityMinor = cuda::kAttrComputeCapabilityMinor;
} // namespace

extern "C" KILN_API kiln_status kiln_cuda_devices(kiln_cuda_device *devices, size_t capacity, size_t *count) {
  if (!count)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_cuda_devices: count is NULL");
  if (capacity && !devices)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_cuda_devices: devices is NULL with capacity %zu", capacity);
  *count = 0;
  std::string why;
  const cuda::Driver *d = cuda::driver(why);
  if (!d)
    return fail(KILN_ERR_NO_DEVICE, "%s", why.c_str());
  int n = 0;
  if (cuda::CUresult r = d->cuDeviceGetCount(&n))
    return fail(KILN_ERR_NO_DEVICE, "no CUDA device: cuDeviceGetCount failed with %s", d->errorText(r).c_str());
  if (n <= 0)
    return fail(KILN_ERR_NO_DEVICE, "no CUDA device: the driver reports none");
  for (int i = 0; i < n && size_t(i) < capacity; ++i) {
    kiln_cuda_device info{};
    cuda::CUdevice dev = 0;
    size_t bytes = 0;
    cuda::CUresult r = d->cuDeviceGet(&dev, i);
    if (!r)
      r = d->cuDeviceGetName(info.name, int(sizeof info.name) - 1, dev);
    if (!r)
      r = d->cuDeviceGetAttribute(&info.compute_major, kComputeCapabilityMajor, dev);
    if (!r)
      r = d->cuDeviceGetAttribute(&info.compute_minor, kComputeCapabilityMinor, dev);
    if (!r)
      r = d->cuDeviceTotalMem_v2(&bytes, dev);
    if (r)
      return fail(KILN_ERR_NO_DEVICE, "CUDA device %d: the driver's query failed with %s", i,
                  d->errorText(r).c_str());
    info.memory_bytes = bytes;
    devices[i] = info;
  }
  *count = size_t(n);
  return ok();
}
