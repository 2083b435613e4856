//===- Gpu.cpp - models and sessions on a CUDA device ---------------------===//
//
// docs/runtime.md, "Running on a GPU". Everything here goes through the
// driver API loaded with dlopen (Driver.h):
//
// - A model on a device holds the device's primary context (retained), the
//   module picked for the device's compute capability, every launch's
//   CUfunction, and its parameters in ONE device allocation laid out like
//   the host's paramStorage. Device runs set `deviceNewer`; the host copy is
//   refreshed on demand (paramsToHost) and host writes go through.
// - A session holds one device allocation (scratch arena, inputs twice: two
//   slots, outputs), one pinned host allocation (the input slots' staging
//   and the outputs), one stream, an event per input slot (its inputs have
//   been copied), and per slot a CUDA graph of the entry's launches, captured
//   once from the stream; without graphs (capture failed) the launches are
//   issued one by one. A run stages the inputs into the slot's pinned
//   buffer, copies them to the device, launches, copies the outputs back,
//   and returns; reading outputs waits for the stream. The next run uses the
//   other slot, so staging it overlaps the previous run on the GPU.
//
// Every function sets the model's context current on the calling thread
// first (sessions may run on any thread). Driver errors become kiln_status
// codes with the call and the driver's error name; nothing aborts.
//
// NOT YET RUN ON A GPU: written against cuda.h 12.x; the machines it was
// developed on have none (docs/runtime.md says what was verified).
//
//===----------------------------------------------------------------------===//

#include "runtime/Internal.h"
#include "runtime/cuda/Driver.h"

#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>

namespace kiln::rt {

using namespace cuda;

struct GpuModel {
  const Driver *d = nullptr;
  int ordinal = 0;
  CUdevice device = 0;
  CUcontext ctx = nullptr;
  CUmodule module = nullptr;
  CUdeviceptr params = 0;
  size_t paramBytes = 0;
  std::string arch;                              // of the loaded image
  std::vector<std::vector<CUfunction>> functions; // [entry][launch]
  std::atomic<bool> deviceNewer{false};
  std::mutex mutex; // paramsToHost from concurrent readers
};

struct GpuSession {
  CUstream stream = nullptr;
  CUevent copied[2] = {nullptr, nullptr}; // the slot's inputs are on the device
  CUdeviceptr block = 0;                   // scratch | inputs slot 0 | inputs slot 1 | outputs
  uint8_t *pinned = nullptr;               // inputs slot 0 | inputs slot 1 | outputs
  CUdeviceptr devIn[2] = {0, 0}, devOut = 0, scratch = 0;
  uint8_t *hostIn[2] = {nullptr, nullptr}, *hostOut = nullptr;
  size_t inputBytes = 0, outputBytes = 0; // per slot / all outputs (with padding)
  std::vector<size_t> inputOffsets, outputOffsets;
  CUgraphExec graphs[2] = {nullptr, nullptr};
  bool useGraphs = false;
  // Kernel arguments per slot: values (device pointers) and the pointers to
  // them that cuLaunchKernel takes; argStart[l] is launch l's first.
  std::vector<CUdeviceptr> argValues[2];
  std::vector<void *> argPointers[2];
  std::vector<size_t> argStart;
  const std::vector<CUfunction> *functions = nullptr;
  int slot = 0;
  bool pending = false; // a run whose outputs have not been waited for
};

namespace {

constexpr int kMaxName = kMaxNameInMessage;
constexpr size_t kDeviceAlignment = 256; // what cuMemAlloc guarantees

size_t alignDevice(size_t n) { return (n + kDeviceAlignment - 1) & ~(kDeviceAlignment - 1); }

/// A driver error as a kiln_status: out of memory, the module's code not
/// loading (or a kernel missing), else KILN_ERR_DEVICE.
kiln_status driverFail(const Driver &d, CUresult r, const char *call, const char *context) {
  kiln_status code = KILN_ERR_DEVICE;
  switch (r) {
  case kErrorOutOfMemory: code = KILN_ERR_OUT_OF_MEMORY; break;
  case 200: // CUDA_ERROR_INVALID_IMAGE
  case 209: // CUDA_ERROR_NO_BINARY_FOR_GPU
  case 218: // CUDA_ERROR_INVALID_PTX
  case 221: // CUDA_ERROR_JIT_COMPILER_NOT_FOUND
  case 222: // CUDA_ERROR_UNSUPPORTED_PTX_VERSION
  case 500: // CUDA_ERROR_NOT_FOUND (cuModuleGetFunction)
    code = KILN_ERR_CODE_LOAD;
    break;
  }
  return fail(code, "%s: %s failed with %s", context, call, d.errorText(r).c_str());
}

#define KILN_CU(call, context)                                                                    \
  do {                                                                                             \
    if (CUresult r_ = d.call)                                                                      \
      return driverFail(d, r_, #call, context);                                                    \
  } while (0)

/// "sm_86" -> (8, 6, false); "compute_90" -> (9, 0, true); "sm_90a" -> (9,
/// 0, false, specific). False for anything else.
struct Arch {
  int major = 0, minor = 0;
  bool ptx = false, specific = false;
};
bool parseArch(const std::string &s, Arch &out) {
  size_t at;
  if (s.compare(0, 3, "sm_") == 0) {
    at = 3;
  } else if (s.compare(0, 8, "compute_") == 0) {
    at = 8;
    out.ptx = true;
  } else {
    return false;
  }
  int n = 0;
  size_t digits = 0;
  while (at < s.size() && s[at] >= '0' && s[at] <= '9' && digits < 4) {
    n = n * 10 + (s[at++] - '0');
    ++digits;
  }
  if (digits < 2)
    return false;
  if (at < s.size()) {
    if (at + 1 != s.size() || (s[at] != 'a' && s[at] != 'f'))
      return false;
    out.specific = true;
  }
  out.major = n / 10;
  out.minor = n % 10;
  return true;
}

/// The image for compute capability major.minor: the exact CUBIN; else a
/// CUBIN of the same major and a lower minor (the highest); else the PTX of
/// the highest capability <= the device's (JIT-compiled by the driver).
const GpuModuleDesc *pickImage(const std::vector<GpuModuleDesc> &modules, int major, int minor) {
  const GpuModuleDesc *best = nullptr;
  int bestRank = -1;
  for (const GpuModuleDesc &m : modules) {
    Arch a;
    if (!parseArch(m.arch, a))
      continue;
    int rank = -1;
    int cc = a.major * 10 + a.minor, device = major * 10 + minor;
    if (!a.ptx && a.major == major && a.minor == minor)
      rank = 3000;
    else if (!a.ptx && !a.specific && a.major == major && a.minor < minor)
      rank = 2000 + cc;
    else if (a.ptx && !a.specific && cc <= device)
      rank = 1000 + cc;
    if (rank > bestRank) {
      bestRank = rank;
      best = &m;
    }
  }
  return best;
}

void freeModel(GpuModel *g) {
  if (!g)
    return;
  const Driver &d = *g->d;
  if (g->ctx && d.cuCtxSetCurrent(g->ctx) == 0) {
    if (g->params)
      d.cuMemFree_v2(g->params);
    if (g->module)
      d.cuModuleUnload(g->module);
    d.cuCtxSetCurrent(nullptr);
  }
  if (g->ctx)
    d.cuDevicePrimaryCtxRelease_v2(g->device);
  delete g;
}

kiln_status toHost(GpuModel &g, uint8_t *host) {
  const Driver &d = *g.d;
  std::lock_guard<std::mutex> lock(g.mutex);
  if (!g.deviceNewer.load(std::memory_order_acquire))
    return KILN_OK;
  const char *what = "copying the parameters from the GPU";
  KILN_CU(cuCtxSetCurrent(g.ctx), what);
  KILN_CU(cuCtxSynchronize(), what); // every session's runs (they may update parameters)
  KILN_CU(cuMemcpyDtoH_v2(host, g.params, g.paramBytes), what);
  g.deviceNewer.store(false, std::memory_order_release);
  return KILN_OK;
}

} // namespace

kiln_status gpuAttach(kiln_model &m, int ordinal) {
  const char *fn = "kiln_model_set_device";
  std::string why;
  const Driver *dp = cuda::driver(why);
  if (!dp)
    return fail(KILN_ERR_NO_DEVICE, "%s: %s", fn, why.c_str());
  const Driver &d = *dp;
  if (!d.runMissing.empty())
    return fail(KILN_ERR_NO_DEVICE, "%s: %s", fn, d.runMissing.c_str());
  int count = 0;
  if (CUresult r = d.cuDeviceGetCount(&count))
    return fail(KILN_ERR_NO_DEVICE, "%s: no CUDA device: cuDeviceGetCount failed with %s", fn, d.errorText(r).c_str());
  if (ordinal >= count)
    return fail(KILN_ERR_NO_DEVICE, "%s: no CUDA device %d (the driver reports %d)", fn, ordinal, count);

  CUdevice dev = 0;
  int major = 0, minor = 0;
  char name[256] = {0};
  KILN_CU(cuDeviceGet(&dev, ordinal), fn);
  KILN_CU(cuDeviceGetAttribute(&major, kAttrComputeCapabilityMajor, dev), fn);
  KILN_CU(cuDeviceGetAttribute(&minor, kAttrComputeCapabilityMinor, dev), fn);
  KILN_CU(cuDeviceGetName(name, int(sizeof name) - 1, dev), fn);
  const GpuModuleDesc *image = pickImage(m.desc.gpuModules, major, minor);
  if (!image) {
    std::string archs;
    for (const GpuModuleDesc &g : m.desc.gpuModules)
      archs += (archs.empty() ? "" : ", ") + g.arch.substr(0, 32);
    return fail(KILN_ERR_UNSUPPORTED,
                "%s: model '%.*s' has GPU code for %s; device cuda:%d (%s) has compute capability %d.%d, which none "
                "of them runs on (recompile with kilnc --target=cpu,cuda on a kilnc that targets sm_%d%d)",
                fn, kMaxName, m.desc.name.c_str(), archs.c_str(), ordinal, name, major, minor, major, minor);
  }

  GpuModel *g = new (std::nothrow) GpuModel;
  if (!g)
    return fail(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  g->d = &d;
  g->ordinal = ordinal;
  g->device = dev;
  g->arch = image->arch;
  struct Guard {
    GpuModel *g;
    ~Guard() { freeModel(g); }
  } guard{g};
  if (CUresult r = d.cuDevicePrimaryCtxRetain(&g->ctx, dev)) {
    g->ctx = nullptr;
    return driverFail(d, r, "cuDevicePrimaryCtxRetain", fn);
  }
  KILN_CU(cuCtxSetCurrent(g->ctx), fn);
  std::string loading = std::string(fn) + ": loading the " + image->arch + " code";
  KILN_CU(cuModuleLoadData(&g->module, image->image.data()), loading.c_str());
  // Every kernel of every launch, by name (each looked up once).
  std::unordered_map<std::string, CUfunction> byName;
  g->functions.resize(m.desc.entries.size());
  for (size_t e = 0; e < m.desc.entries.size(); ++e)
    for (const GpuLaunchDesc &l : m.desc.entries[e].gpu.launches) {
      auto it = byName.find(l.kernel);
      if (it == byName.end()) {
        CUfunction f = nullptr;
        if (CUresult r = d.cuModuleGetFunction(&f, g->module, l.kernel.c_str()))
          return fail(r == 500 ? KILN_ERR_CODE_LOAD : KILN_ERR_DEVICE,
                      "%s: the model's %s code has no kernel '%.*s' (entry point '%.*s'): cuModuleGetFunction failed "
                      "with %s",
                      fn, image->arch.c_str(), kMaxName, l.kernel.c_str(), kMaxName, m.desc.entries[e].name.c_str(),
                      d.errorText(r).c_str());
        it = byName.emplace(l.kernel, f).first;
      }
      g->functions[e].push_back(it->second);
    }
  g->paramBytes = m.paramStorage.size();
  KILN_CU(cuMemAlloc_v2(&g->params, g->paramBytes ? g->paramBytes : 1), fn);
  if (g->paramBytes)
    KILN_CU(cuMemcpyHtoD_v2(g->params, m.paramStorage.data(), g->paramBytes), fn);
  guard.g = nullptr;
  m.gpu = g;
  m.device = "cuda:" + std::to_string(ordinal);
  return KILN_OK;
}

kiln_status gpuDetach(kiln_model &m) {
  GpuModel *g = m.gpu;
  if (!g)
    return KILN_OK;
  kiln_status s = toHost(*g, m.paramStorage.data());
  m.gpu = nullptr;
  m.device = "cpu";
  freeModel(g);
  return s;
}

void gpuRelease(GpuModel *g) { freeModel(g); }

kiln_status gpuParamsToHost(const kiln_model &m) {
  // paramStorage is the model's cache of the device's values: refreshing it
  // is a read of the model (const), serialised by the mutex.
  return toHost(*m.gpu, const_cast<uint8_t *>(m.paramStorage.data()));
}

kiln_status gpuParamsToDevice(kiln_model &m, size_t offset, size_t bytes) {
  GpuModel &g = *m.gpu;
  const Driver &d = *g.d;
  if (!bytes)
    return KILN_OK;
  const char *what = "copying parameters to the GPU";
  KILN_CU(cuCtxSetCurrent(g.ctx), what);
  KILN_CU(cuCtxSynchronize(), what); // runs enqueued before this write see the old values
  KILN_CU(cuMemcpyHtoD_v2(g.params + offset, m.paramStorage.data() + offset, bytes), what);
  return KILN_OK;
}

//===--- sessions ------------------------------------------------------------===//

namespace {

CUresult launchAll(const Driver &d, GpuSession &s, const EntryDesc &e, int slot) {
  for (size_t l = 0; l < e.gpu.launches.size(); ++l) {
    const GpuLaunchDesc &L = e.gpu.launches[l];
    void **args = L.args.empty() ? nullptr : s.argPointers[slot].data() + s.argStart[l];
    if (CUresult r = d.cuLaunchKernel((*s.functions)[l], L.grid[0], L.grid[1], L.grid[2], L.block[0], L.block[1],
                                      L.block[2], L.sharedBytes, s.stream, args, nullptr))
      return r;
  }
  return 0;
}

/// Captures slot `slot`'s launches into an executable graph; false when
/// capture or instantiation fails (then launches go one by one).
bool captureGraph(const Driver &d, GpuSession &s, const EntryDesc &e, int slot) {
  if (d.cuStreamBeginCapture_v2(s.stream, kCaptureModeThreadLocal))
    return false;
  CUresult launched = launchAll(d, s, e, slot);
  CUgraph graph = nullptr;
  CUresult ended = d.cuStreamEndCapture(s.stream, &graph); // also ends an invalidated capture
  bool ok = !launched && !ended && graph && !d.cuGraphInstantiateWithFlags(&s.graphs[slot], graph, 0);
  if (graph)
    d.cuGraphDestroy(graph); // the executable graph does not need it
  if (!ok)
    s.graphs[slot] = nullptr;
  return ok;
}

void destroySession(const Driver &d, GpuSession *s) {
  if (s->stream && s->pending)
    d.cuStreamSynchronize(s->stream);
  for (int k = 0; k < 2; ++k) {
    if (s->graphs[k])
      d.cuGraphExecDestroy(s->graphs[k]);
    if (s->copied[k])
      d.cuEventDestroy_v2(s->copied[k]);
  }
  if (s->stream)
    d.cuStreamDestroy_v2(s->stream);
  if (s->block)
    d.cuMemFree_v2(s->block);
  if (s->pinned)
    d.cuMemFreeHost(s->pinned);
  delete s;
}

} // namespace

kiln_status gpuSessionCreate(kiln_session &session) {
  kiln_model &m = *session.model;
  GpuModel &g = *m.gpu;
  const Driver &d = *g.d;
  const EntryDesc &e = *session.entry;
  const size_t entryIndex = static_cast<size_t>(&e - m.desc.entries.data());
  std::string context = "kiln_session_create: '" + e.name.substr(0, kMaxName) + "' on " + m.device;
  const char *fn = context.c_str();
  if (!e.gpu.present)
    return fail(KILN_ERR_UNSUPPORTED, "%s: the entry point has no GPU code (only CPU code); move the model back with "
                                      "kiln_model_set_device(model, \"cpu\")", fn);
  GpuSession *s = new (std::nothrow) GpuSession;
  if (!s)
    return fail(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  struct Guard {
    const Driver &d;
    GpuSession *s;
    ~Guard() {
      if (s)
        destroySession(d, s);
    }
  } guard{d, s};
  KILN_CU(cuCtxSetCurrent(g.ctx), fn);

  // Layouts (sizes <= 2^40 each: no overflow).
  for (const TensorDesc &t : e.inputs) {
    s->inputOffsets.push_back(s->inputBytes);
    s->inputBytes += alignDevice(t.byteSize);
  }
  for (const TensorDesc &t : e.outputs) {
    s->outputOffsets.push_back(s->outputBytes);
    s->outputBytes += alignDevice(t.byteSize);
  }
  const size_t scratchBytes = alignDevice(static_cast<size_t>(e.gpu.scratchBytes));
  const size_t deviceBytes = scratchBytes + 2 * s->inputBytes + s->outputBytes;
  const size_t pinnedBytes = 2 * s->inputBytes + s->outputBytes;
  KILN_CU(cuMemAlloc_v2(&s->block, deviceBytes ? deviceBytes : 1), fn);
  KILN_CU(cuMemHostAlloc(reinterpret_cast<void **>(&s->pinned), pinnedBytes ? pinnedBytes : 1, 0), fn);
  s->scratch = s->block;
  s->devIn[0] = s->block + scratchBytes;
  s->devIn[1] = s->devIn[0] + s->inputBytes;
  s->devOut = s->devIn[1] + s->inputBytes;
  s->hostIn[0] = s->pinned;
  s->hostIn[1] = s->pinned + s->inputBytes;
  s->hostOut = s->pinned + 2 * s->inputBytes;
  KILN_CU(cuStreamCreate(&s->stream, kStreamNonBlocking), fn);
  for (int k = 0; k < 2; ++k)
    KILN_CU(cuEventCreate(&s->copied[k], kEventDisableTiming), fn);

  // Kernel arguments: buffer base + offset (checked at load).
  const size_t nIn = e.inputs.size(), nParams = e.paramIndices.size(), nOut = e.outputs.size();
  for (int k = 0; k < 2; ++k) {
    for (const GpuLaunchDesc &l : e.gpu.launches) {
      if (k == 0)
        s->argStart.push_back(s->argValues[0].size());
      for (const GpuArgDesc &a : l.args) {
        CUdeviceptr base;
        if (a.buffer < nIn)
          base = s->devIn[k] + s->inputOffsets[a.buffer];
        else if (a.buffer < nIn + nParams)
          base = g.params + m.desc.params[e.paramIndices[a.buffer - nIn]].offset;
        else if (a.buffer < nIn + nParams + nOut)
          base = s->devOut + s->outputOffsets[a.buffer - nIn - nParams];
        else
          base = s->scratch;
        s->argValues[k].push_back(base + a.offset);
      }
    }
    for (CUdeviceptr &v : s->argValues[k]) // the vector is final: stable addresses
      s->argPointers[k].push_back(&v);
  }
  s->functions = &g.functions[entryIndex];

  // One graph per input slot (the inputs' addresses differ).
  s->useGraphs = !e.gpu.launches.empty() && captureGraph(d, *s, e, 0) && captureGraph(d, *s, e, 1);
  if (!s->useGraphs)
    for (CUgraphExec &x : s->graphs)
      if (x) {
        d.cuGraphExecDestroy(x);
        x = nullptr;
      }

  // The host side sees the pinned outputs.
  for (size_t i = 0; i < nOut; ++i)
    session.args[nIn + nParams + i] = s->hostOut + s->outputOffsets[i];
  session.args[nIn + nParams + nOut] = nullptr; // the scratch arena is on the device
  guard.s = nullptr;
  session.gpu = s;
  return KILN_OK;
}

void gpuSessionDestroy(kiln_session &session) {
  GpuModel &g = *session.model->gpu;
  const Driver &d = *g.d;
  if (d.cuCtxSetCurrent(g.ctx) == 0)
    destroySession(d, session.gpu);
  session.gpu = nullptr;
}

kiln_status gpuSessionRun(kiln_session &session) {
  GpuSession &s = *session.gpu;
  GpuModel &g = *session.model->gpu;
  const Driver &d = *g.d;
  const EntryDesc &e = *session.entry;
  const char *fn = "kiln_session_run";
  const int k = s.slot;
  KILN_CU(cuCtxSetCurrent(g.ctx), fn);
  KILN_CU(cuEventSynchronize(s.copied[k]), fn); // the slot's staging is free again
  for (size_t i = 0; i < e.inputs.size(); ++i)
    std::memcpy(s.hostIn[k] + s.inputOffsets[i], session.args[i], e.inputs[i].byteSize);
  s.pending = true;
  g.deviceNewer.store(true, std::memory_order_release);
  s.slot = k ^ 1;
  if (s.inputBytes)
    KILN_CU(cuMemcpyHtoDAsync_v2(s.devIn[k], s.hostIn[k], s.inputBytes, s.stream), fn);
  KILN_CU(cuEventRecord(s.copied[k], s.stream), fn);
  if (s.useGraphs) {
    KILN_CU(cuGraphLaunch(s.graphs[k], s.stream), fn);
  } else if (CUresult r = launchAll(d, s, e, k)) {
    return driverFail(d, r, "cuLaunchKernel", fn);
  }
  if (s.outputBytes)
    KILN_CU(cuMemcpyDtoHAsync_v2(s.hostOut, s.devOut, s.outputBytes, s.stream), fn);
  return KILN_OK;
}

kiln_status gpuSessionWait(const kiln_session &session) {
  GpuSession &s = *session.gpu;
  if (!s.pending)
    return KILN_OK;
  GpuModel &g = *session.model->gpu;
  const Driver &d = *g.d;
  const char *fn = "waiting for the GPU run";
  KILN_CU(cuCtxSetCurrent(g.ctx), fn);
  s.pending = false;
  KILN_CU(cuStreamSynchronize(s.stream), fn);
  return KILN_OK;
}

kiln_status paramsToHost(const kiln_model &m) { return m.gpu ? gpuParamsToHost(m) : KILN_OK; }

kiln_status paramsToDevice(kiln_model &m, size_t offset, size_t bytes) {
  return m.gpu ? gpuParamsToDevice(m, offset, bytes) : KILN_OK;
}

} // namespace kiln::rt
