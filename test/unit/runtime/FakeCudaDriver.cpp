//===- FakeCudaDriver.cpp - a CUDA driver that runs kernels on the CPU ----===//
//
// libkiln_fake_cuda.so, for tests on machines without a GPU: loaded by the
// runtime in place of libcuda.so.1 (KILN_CUDA_DRIVER), it exports every
// driver call the runtime uses and runs the runtime's whole GPU path -
// kiln_model_set_device, resident parameters, sessions, double-buffered
// inputs, CUDA graphs - on the CPU. Its "GPU" (compute capability 9.0) loads
// only the images of `kilnc --gpu-emulate`: the generated CUDA C++ compiled
// against kernels/cuda/Emulate.h, with a kiln_emulate_<kernel> launcher
// and kiln_emulate_nargs_<kernel> per kernel.
//
// Streams are faithful where it matters for the runtime's correctness:
// asynchronous copies, launches and event records are queued and run only
// when something waits (cuStreamSynchronize, cuEventSynchronize up to the
// event, cuCtxSynchronize), so a missing wait or a staging buffer reused too
// early shows up as wrong results. Synchronous copies run at once without
// waiting for other streams (the runtime's streams are non-blocking).
//
//===----------------------------------------------------------------------===//
#include <dlfcn.h>
#include <elf.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace {

using CUresult = int;
using CUdeviceptr = unsigned long long;
using Launcher = void (*)(const unsigned *, const unsigned *, void *const *);

struct Function {
  Launcher launch;
  int nargs;
};
struct Module {
  void *handle;
};
struct Stream {
  std::deque<std::function<void()>> queue;
  uint64_t queued = 0, done = 0; // operations ever queued / run
  bool capturing = false;
  std::vector<std::function<void()>> captured;
};
struct Event {
  Stream *stream = nullptr;
  uint64_t at = 0; // done when stream->done >= at
};
struct Graph {
  std::vector<std::function<void()>> launches;
};

std::vector<Stream *> &streams() {
  static std::vector<Stream *> all;
  return all;
}

void runUntil(Stream *s, uint64_t count) {
  while (s->done < count && !s->queue.empty()) {
    std::function<void()> op = std::move(s->queue.front());
    s->queue.pop_front();
    op();
    ++s->done;
  }
}

void drain(Stream *s) { runUntil(s, s->queued); }

void enqueue(Stream *s, std::function<void()> op) {
  if (!s) { // the legacy default stream: synchronous here
    op();
    return;
  }
  s->queue.push_back(std::move(op));
  ++s->queued;
}

/// The size of an ELF64 image from its headers (cuModuleLoadData gets no size).
size_t elfSize(const void *image) {
  const auto *h = static_cast<const Elf64_Ehdr *>(image);
  if (std::memcmp(h->e_ident, ELFMAG, SELFMAG) != 0 || h->e_ident[EI_CLASS] != ELFCLASS64)
    return 0;
  size_t end = h->e_shoff + size_t(h->e_shnum) * h->e_shentsize;
  const auto *ph = reinterpret_cast<const Elf64_Phdr *>(static_cast<const char *>(image) + h->e_phoff);
  for (int i = 0; i < h->e_phnum; ++i)
    end = std::max<size_t>(end, ph[i].p_offset + ph[i].p_filesz);
  return end;
}

constexpr CUresult kSuccess = 0, kInvalidValue = 1, kInvalidImage = 200, kNotFound = 500;

} // namespace

extern "C" {

CUresult cuInit(unsigned) { return kSuccess; }
CUresult cuDriverGetVersion(int *v) {
  *v = 13000;
  return kSuccess;
}
CUresult cuGetErrorName(CUresult r, const char **name) {
  switch (r) {
  case kSuccess: *name = "CUDA_SUCCESS"; break;
  case kInvalidValue: *name = "CUDA_ERROR_INVALID_VALUE"; break;
  case kInvalidImage: *name = "CUDA_ERROR_INVALID_IMAGE"; break;
  case kNotFound: *name = "CUDA_ERROR_NOT_FOUND"; break;
  default: *name = "CUDA_ERROR_UNKNOWN"; break;
  }
  return kSuccess;
}
CUresult cuDeviceGetCount(int *n) {
  *n = 1;
  return kSuccess;
}
CUresult cuDeviceGet(int *d, int ordinal) {
  if (ordinal != 0)
    return kInvalidValue;
  *d = 0;
  return kSuccess;
}
CUresult cuDeviceGetName(char *name, int len, int) {
  std::snprintf(name, size_t(len), "Kiln fake CUDA device (CPU emulator)");
  return kSuccess;
}
CUresult cuDeviceGetAttribute(int *v, int attr, int) {
  *v = attr == 75 ? 9 : 0; // compute capability 9.0; everything else 0
  return kSuccess;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int) {
  *bytes = size_t(1) << 30;
  return kSuccess;
}

CUresult cuDevicePrimaryCtxRetain(void **ctx, int) {
  static int context;
  *ctx = &context;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRelease_v2(int) { return kSuccess; }
CUresult cuCtxSetCurrent(void *) { return kSuccess; }
CUresult cuCtxSynchronize() {
  for (Stream *s : streams())
    drain(s);
  return kSuccess;
}

CUresult cuModuleLoadData(void **module, const void *image) {
  size_t size = elfSize(image);
  if (!size)
    return kInvalidImage; // a real CUBIN or PTX: not for this device
  // A file of its own name: glibc would hand back an earlier module opened
  // under the same path (/proc/self/fd/N reused), and the emulator's
  // thread_local globals keep every module loaded.
  char path[] = "/tmp/kiln-fake-cuda-XXXXXX.so";
  int fd = mkstemps(path, 3);
  if (fd < 0)
    return kInvalidImage;
  bool written = write(fd, image, size) == ssize_t(size);
  close(fd);
  void *h = written ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : nullptr;
  unlink(path);
  if (!h) {
    std::fprintf(stderr, "fake CUDA driver: %s\n", written ? dlerror() : "cannot write the module");
    return kInvalidImage;
  }
  *module = new Module{h};
  return kSuccess;
}
CUresult cuModuleUnload(void *module) {
  auto *m = static_cast<Module *>(module);
  dlclose(m->handle);
  delete m;
  return kSuccess;
}
CUresult cuModuleGetFunction(void **f, void *module, const char *name) {
  auto *m = static_cast<Module *>(module);
  auto launch = reinterpret_cast<Launcher>(dlsym(m->handle, ("kiln_emulate_" + std::string(name)).c_str()));
  auto *nargs = static_cast<const int *>(dlsym(m->handle, ("kiln_emulate_nargs_" + std::string(name)).c_str()));
  if (!launch || !nargs)
    return kNotFound;
  *f = new Function{launch, *nargs}; // lives as long as the process (as the runtime's CUfunctions)
  return kSuccess;
}

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
  void *m = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!m)
    return 2; // CUDA_ERROR_OUT_OF_MEMORY
  std::memset(m, 0xff, bytes); // device memory is not zeroed: NaN-ish garbage
  *p = reinterpret_cast<uintptr_t>(m);
  return kSuccess;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
  std::free(reinterpret_cast<void *>(p));
  return kSuccess;
}
CUresult cuMemHostAlloc(void **p, size_t bytes, unsigned) {
  *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  return *p ? kSuccess : 2;
}
CUresult cuMemFreeHost(void *p) {
  std::free(p);
  return kSuccess;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
  std::memcpy(reinterpret_cast<void *>(dst), src, n);
  return kSuccess;
}
CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
  std::memcpy(dst, reinterpret_cast<const void *>(src), n);
  return kSuccess;
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *stream) {
  enqueue(static_cast<Stream *>(stream), [=] { std::memcpy(reinterpret_cast<void *>(dst), src, n); });
  return kSuccess;
}
CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, void *stream) {
  enqueue(static_cast<Stream *>(stream), [=] { std::memcpy(dst, reinterpret_cast<const void *>(src), n); });
  return kSuccess;
}

CUresult cuStreamCreate(void **stream, unsigned) {
  auto *s = new Stream;
  streams().push_back(s);
  *stream = s;
  return kSuccess;
}
CUresult cuStreamDestroy_v2(void *stream) {
  auto *s = static_cast<Stream *>(stream);
  drain(s);
  auto &all = streams();
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i] == s)
      all.erase(all.begin() + long(i));
  delete s;
  return kSuccess;
}
CUresult cuStreamSynchronize(void *stream) {
  if (stream)
    drain(static_cast<Stream *>(stream));
  return kSuccess;
}

CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned /*sharedBytes*/, void *stream, void **params, void ** /*extra*/) {
  auto *fn = static_cast<Function *>(f);
  if (bx * by * bz > 1024 || !gx || !gy || !gz || !bx || !by || !bz)
    return kInvalidValue;
  std::vector<void *> args(size_t(fn->nargs));
  for (int i = 0; i < fn->nargs; ++i)
    args[size_t(i)] = *static_cast<void **>(params[i]); // each param is a device pointer's value
  std::function<void()> op = [fn, args, gx, gy, gz, bx, by, bz] {
    const unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
    fn->launch(grid, block, args.data());
  };
  auto *s = static_cast<Stream *>(stream);
  if (s && s->capturing)
    s->captured.push_back(std::move(op));
  else
    enqueue(s, std::move(op));
  return kSuccess;
}

CUresult cuStreamBeginCapture_v2(void *stream, int) {
  auto *s = static_cast<Stream *>(stream);
  s->capturing = true;
  s->captured.clear();
  return kSuccess;
}
CUresult cuStreamEndCapture(void *stream, void **graph) {
  auto *s = static_cast<Stream *>(stream);
  s->capturing = false;
  *graph = new Graph{std::move(s->captured)};
  s->captured.clear();
  return kSuccess;
}
CUresult cuGraphInstantiateWithFlags(void **exec, void *graph, unsigned long long) {
  *exec = new Graph(*static_cast<Graph *>(graph));
  return kSuccess;
}
CUresult cuGraphLaunch(void *exec, void *stream) {
  for (const std::function<void()> &op : static_cast<Graph *>(exec)->launches)
    enqueue(static_cast<Stream *>(stream), op);
  return kSuccess;
}
CUresult cuGraphExecDestroy(void *exec) {
  delete static_cast<Graph *>(exec);
  return kSuccess;
}
CUresult cuGraphDestroy(void *graph) {
  delete static_cast<Graph *>(graph);
  return kSuccess;
}

CUresult cuEventCreate(void **event, unsigned) {
  *event = new Event;
  return kSuccess;
}
CUresult cuEventRecord(void *event, void *stream) {
  auto *e = static_cast<Event *>(event);
  auto *s = static_cast<Stream *>(stream);
  e->stream = s;
  if (s) {
    enqueue(s, [] {});
    e->at = s->queued;
  }
  return kSuccess;
}
CUresult cuEventSynchronize(void *event) {
  auto *e = static_cast<Event *>(event);
  if (e->stream)
    runUntil(e->stream, e->at);
  return kSuccess;
}
CUresult cuEventDestroy_v2(void *event) {
  delete static_cast<Event *>(event);
  return kSuccess;
}

} // extern "C"
