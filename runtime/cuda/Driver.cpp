//===- Driver.cpp - the CUDA driver API, loaded with dlopen ---------------===//
#include "runtime/cuda/Driver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

namespace kiln::rt::cuda {
namespace {

struct Loaded {
  Driver driver;
  bool ok = false;
  std::string why;
};

template <typename F> bool load(void *lib, const char *name, F &fn, std::string &why) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn)
    why = std::string("the CUDA driver has no ") + name;
  return fn != nullptr;
}

Loaded open() {
  Loaded l;
  const char *env = std::getenv("KILN_CUDA_DRIVER");
  const char *path = env && *env ? env : "libcuda.so.1";
  // Never closed: the driver keeps threads and state for the process.
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    l.why = std::string("no CUDA driver: cannot load ") + path + " (" + (e ? e : "dlopen failed") +
            "); install the NVIDIA driver, or set KILN_CUDA_DRIVER to its libcuda.so.1";
    return l;
  }
  Driver &d = l.driver;
  if (!load(lib, "cuInit", d.cuInit, l.why) || !load(lib, "cuDriverGetVersion", d.cuDriverGetVersion, l.why) ||
      !load(lib, "cuGetErrorName", d.cuGetErrorName, l.why) ||
      !load(lib, "cuDeviceGetCount", d.cuDeviceGetCount, l.why) || !load(lib, "cuDeviceGet", d.cuDeviceGet, l.why) ||
      !load(lib, "cuDeviceGetName", d.cuDeviceGetName, l.why) ||
      !load(lib, "cuDeviceGetAttribute", d.cuDeviceGetAttribute, l.why) ||
      !load(lib, "cuDeviceTotalMem_v2", d.cuDeviceTotalMem_v2, l.why)) {
    l.why += std::string(" (") + path + ")";
    return l;
  }
  if (CUresult r = d.cuInit(0)) {
    l.why = "no CUDA device: cuInit failed with " + d.errorText(r) + " (" + path + ")";
    return l;
  }
  l.ok = true;
  return l;
}

} // namespace

std::string Driver::errorText(CUresult r) const {
  const char *name = nullptr;
  if (!cuGetErrorName || cuGetErrorName(r, &name) != 0 || !name) {
    // The codes a probe meets, for drivers (and the toolkit's stub) that
    // cannot name them.
    switch (r) {
    case 3: name = "CUDA_ERROR_NOT_INITIALIZED"; break;
    case 34: name = "CUDA_ERROR_STUB_LIBRARY"; break;
    case 35: name = "CUDA_ERROR_INSUFFICIENT_DRIVER"; break;
    case 100: name = "CUDA_ERROR_NO_DEVICE"; break;
    default: name = "CUDA error"; break;
    }
  }
  return std::string(name) + " (" + std::to_string(r) + ")";
}

const Driver *driver(std::string &why) {
  static const Loaded loaded = open();
  if (!loaded.ok)
    why = loaded.why;
  return loaded.ok ? &loaded.driver : nullptr;
}

} // namespace kiln::rt::cuda
