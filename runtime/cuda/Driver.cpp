//===- Driver.cpp - the CUDA driver API, loaded with dlopen ---------------===//
#include "runtime/cuda/Driver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <type_traits>

namespace kiln::rt::cuda {
namespace {

struct Loaded {
  Driver driver;
  bool ok = false;
  std::string why;
};

/// dlopen's handle, or NULL with `why` set. Never closed: the driver keeps
/// threads and state for the process.
void *openLibrary(const char *path, std::string &why) {
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    why = std::string("no CUDA driver: cannot load ") + path + " (" + (e ? e : "dlopen failed") +
          "); install the NVIDIA driver, or set KILN_CUDA_DRIVER to its libcuda.so.1";
  }
  return lib;
}

/// Resolves the probe symbols (all required) and the run symbols (a missing
/// one is noted in runMissing). False with `why` set when a probe symbol is
/// missing.
bool resolve(void *lib, const char *path, Driver &d, std::string &why) {
  bool ok = true;
  Driver::probeSymbols(d, [&](const char *name, auto &fn) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
    if (!fn && ok) {
      why = std::string("the CUDA driver has no ") + name + " (" + path + ")";
      ok = false;
    }
  });
  Driver::runSymbols(d, [&](const char *name, auto &fn) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
    if (!fn && d.runMissing.empty())
      d.runMissing = std::string("the CUDA driver has no ") + name + " (" + path +
                     "; a driver for CUDA 12 or newer is needed to run models)";
  });
  return ok;
}

const char *driverPath() {
  const char *env = std::getenv("KILN_CUDA_DRIVER");
  return env && *env ? env : "libcuda.so.1";
}

Loaded open() {
  Loaded l;
  const char *path = driverPath();
  void *lib = openLibrary(path, l.why);
  if (!lib)
    return l;
  Driver &d = l.driver;
  if (!resolve(lib, path, d, l.why))
    return l;
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

std::string resolveSymbols(const char *path, Driver &out) {
  std::string why;
  void *lib = openLibrary(path, why);
  if (!lib)
    return why;
  if (!resolve(lib, path, out, why))
    return why;
  return out.runMissing;
}

const Driver *driver(std::string &why) {
  static const Loaded loaded = open();
  if (!loaded.ok)
    why = loaded.why;
  return loaded.ok ? &loaded.driver : nullptr;
}

} // namespace kiln::rt::cuda
