//===- Runtime.cpp - The Kiln runtime C API --------------------------------===//
//
// Every exported function checks its arguments, sets this thread's message
// (kiln_last_error) and returns a kiln_status. See kiln_runtime.h for the
// contract and docs/runtime.md for the reference.
//
//===----------------------------------------------------------------------===//

#include "runtime/Internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

using namespace kiln::rt;

namespace {

constexpr int kMaxName = kMaxNameInMessage;

std::string describe(const kiln_tensor_info &t) {
  return shapeText(t.shape, static_cast<size_t>(t.rank)) + " x " + kiln_dtype_name(t.dtype);
}

/// "a, b, c" (at most 8 names, then "...").
template <typename Range, typename Name> std::string nameList(const Range &items, Name name) {
  std::string s;
  size_t n = 0;
  for (const auto &item : items) {
    if (n == 8) {
      s += ", ...";
      break;
    }
    if (n++)
      s += ", ";
    s += std::string(name(item)).substr(0, 64);
  }
  return n ? s : "none";
}

void fillInfo(const TensorDesc &t, kiln_tensor_info &info) {
  info.name = t.name.c_str();
  info.dtype = t.dtype;
  info.rank = static_cast<int32_t>(t.shape.size());
  info.shape = t.shape.data();
  info.num_elements = t.numElements;
  info.byte_size = t.byteSize;
}

/// Points the public info structs at the model's own strings and vectors.
/// Runs once the model's containers are final (they never change after).
void finalizeInfos(kiln_model &m) {
  for (ParamDesc &p : m.desc.params) {
    fillInfo(p.tensor, p.info.tensor);
    p.info.trainable = p.trainable ? 1 : 0;
    p.info.is_state = p.state ? 1 : 0;
  }
  for (EntryDesc &e : m.desc.entries) {
    e.inputInfos.resize(e.inputs.size());
    e.outputInfos.resize(e.outputs.size());
    for (size_t i = 0; i < e.inputs.size(); ++i)
      fillInfo(e.inputs[i], e.inputInfos[i]);
    for (size_t i = 0; i < e.outputs.size(); ++i)
      fillInfo(e.outputs[i], e.outputInfos[i]);
    kiln_entry_info &info = e.info;
    info.name = e.name.c_str();
    info.batch_size = e.batchSize;
    info.num_inputs = e.inputs.size();
    info.inputs = e.inputInfos.data();
    info.num_outputs = e.outputs.size();
    info.outputs = e.outputInfos.data();
    info.num_params = e.paramIndices.size();
    info.param_indices = e.paramIndices.data();
    info.scratch_bytes = e.scratchBytes;
    info.cpu_symbol = e.cpuSymbol.c_str();
  }
}

void release(kiln_model *m) {
  if (m && m->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
    delete m;
}

/// (Re)starts the model's pool with n threads (0: defaultThreadCount()) and
/// hands it to the kernels in the model's code.
void setThreads(kiln_model &m, int32_t n) {
  m.numThreads = n > 0 ? n : defaultThreadCount();
  if (!m.hasCode)
    return;
  if (m.code.setParallelFor)
    m.code.setParallelFor(nullptr, nullptr, 1); // no kernel may see a pool being replaced
  m.pool.start(m.code.setParallelFor ? m.numThreads : 1);
  if (m.code.setParallelFor && m.pool.threads() > 1)
    m.code.setParallelFor(&ThreadPool::hook, &m.pool, m.pool.threads());
}

kiln_status loadBytes(const uint8_t *data, size_t size, uint32_t flags, kiln_model **out) {
  kiln_model *m = new (std::nothrow) kiln_model;
  if (!m)
    return fail(KILN_ERR_OUT_OF_MEMORY, "out of memory");
  if (kiln_status s = readArtifact(data, size, flags, m->desc)) {
    delete m;
    return s;
  }
  // Parameters: one 64-byte aligned block, each parameter at a 64-byte aligned
  // offset (the packed ABI's alignment). Sizes are bounded by the artifact's.
  size_t total = 0;
  for (ParamDesc &p : m->desc.params) {
    p.offset = total;
    total += alignUp(p.tensor.byteSize);
  }
  if (!m->paramStorage.allocate(total)) {
    delete m;
    return fail(KILN_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for the model's parameters", total);
  }
  // State entries (optimizer step counter, moments, learning rate) also keep
  // their initial values, for kiln_model_reset_state.
  size_t stateTotal = 0;
  for (ParamDesc &p : m->desc.params)
    if (p.state) {
      p.initialOffset = stateTotal;
      stateTotal += alignUp(p.tensor.byteSize);
    }
  if (stateTotal && !m->initialState.allocate(stateTotal)) {
    delete m;
    return fail(KILN_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for the initial optimizer state", stateTotal);
  }
  for (ParamDesc &p : m->desc.params) {
    std::memcpy(m->paramStorage.data() + p.offset, p.initial, p.tensor.byteSize);
    if (p.state)
      std::memcpy(m->initialState.data() + p.initialOffset, p.initial, p.tensor.byteSize);
    p.initial = nullptr;
  }
  m->loadedNoCode = (flags & KILN_LOAD_NO_CODE) != 0;
  if (!(flags & KILN_LOAD_NO_CODE) && m->desc.hasCpu) {
    if (kiln_status s = loadCode(m->desc, m->desc.entries, m->code)) {
      delete m;
      return s;
    }
    m->hasCode = true;
    setThreads(*m, 0);
  }
  m->desc.sharedObject = nullptr;
  finalizeInfos(*m);
  *out = m;
  return ok();
}

const EntryDesc *findEntry(const kiln_model *m, const char *name) {
  for (const EntryDesc &e : m->desc.entries)
    if (e.name == name)
      return &e;
  return nullptr;
}

const ParamDesc *findParam(const kiln_model *m, const char *name) {
  for (const ParamDesc &p : m->desc.params)
    if (p.tensor.name == name)
      return &p;
  return nullptr;
}

kiln_status noEntry(const char *fn, const kiln_model *m, const char *name) {
  return fail(KILN_ERR_NOT_FOUND, "%s: model '%.*s' has no entry point '%.*s' (it has: %s)", fn, kMaxName,
              m->desc.name.c_str(), kMaxName, name,
              nameList(m->desc.entries, [](const EntryDesc &e) { return e.name.c_str(); }).c_str());
}

kiln_status noParam(const char *fn, const kiln_model *m, const char *name) {
  return fail(KILN_ERR_NOT_FOUND, "%s: model '%.*s' has no parameter '%.*s' (it has: %s)", fn, kMaxName,
              m->desc.name.c_str(), kMaxName, name,
              nameList(m->desc.params, [](const ParamDesc &p) { return p.tensor.name.c_str(); }).c_str());
}

/// Index of input/output `name` of the session's entry point, or -1 with the
/// message set.
long findTensor(const char *fn, const kiln_session *s, const char *name, bool output) {
  const EntryDesc &e = *s->entry;
  const std::vector<TensorDesc> &list = output ? e.outputs : e.inputs;
  for (size_t i = 0; i < list.size(); ++i)
    if (list[i].name == name)
      return static_cast<long>(i);
  fail(KILN_ERR_NOT_FOUND, "%s: entry point '%.*s' has no %s '%.*s' (its %ss: %s)", fn, kMaxName, e.name.c_str(),
       output ? "output" : "input", kMaxName, name, output ? "output" : "input",
       nameList(list, [](const TensorDesc &t) { return t.name.c_str(); }).c_str());
  return -1;
}

/// The dtype / shape / byte-size checks shared by set_input and bind_input.
kiln_status checkInput(const char *fn, const kiln_session *s, const kiln_tensor_info &t, int raw,
                       const int64_t *shape, int32_t rank, const void *data, size_t byteSize) {
  const char *entry = s->entry->name.c_str();
  if (!data)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: data is NULL (input '%.*s' of '%.*s')", fn, kMaxName, t.name,
                kMaxName, entry);
  if (raw != KILN_F32 && raw != KILN_I32)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: invalid dtype %d (input '%.*s')", fn, raw, kMaxName, t.name);
  if (raw != t.dtype)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: input '%.*s' of '%.*s' has dtype %s, got %s", fn, kMaxName, t.name,
                kMaxName, entry, kiln_dtype_name(t.dtype), kiln_dtype_name(static_cast<kiln_dtype>(raw)));
  if (shape) {
    if (rank < 0 || rank > KILN_MAX_RANK)
      return fail(KILN_ERR_INVALID_ARGUMENT, "%s: invalid rank %d (input '%.*s')", fn, rank, kMaxName, t.name);
    if (rank != t.rank || std::memcmp(shape, t.shape, sizeof(int64_t) * static_cast<size_t>(rank)) != 0)
      return fail(KILN_ERR_INVALID_ARGUMENT, "%s: input '%.*s' of '%.*s' has shape %s, got %s", fn, kMaxName,
                  t.name, kMaxName, entry, shapeText(t.shape, static_cast<size_t>(t.rank)).c_str(),
                  shapeText(shape, static_cast<size_t>(rank)).c_str());
  }
  if (byteSize != t.byte_size)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: input '%.*s' of '%.*s' is %zu bytes (%s), got %zu", fn, kMaxName,
                t.name, kMaxName, entry, t.byte_size, describe(t).c_str(), byteSize);
  return KILN_OK;
}

#define KILN_REQUIRE(cond, ...)                                                                    \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      return fail(KILN_ERR_INVALID_ARGUMENT, __VA_ARGS__);                                         \
  } while (0)

} // namespace

namespace kiln::rt {

kiln_status runSession(kiln_session &s) {
  if (s.gpu)
    return gpuSessionRun(s);
  s.entry->fn(s.args.data());
  return KILN_OK;
}

kiln_status awaitOutputs(const kiln_session &s) { return s.gpu ? gpuSessionWait(s) : KILN_OK; }

} // namespace kiln::rt

kiln_model::~kiln_model() {
  gpuRelease(gpu);
  pool.stop();
  if (hasCode)
    unloadCode(code);
}

//===--- errors and small helpers ------------------------------------------===//

extern "C" {

KILN_API const char *kiln_last_error(void) { return lastError(); }

KILN_API const char *kiln_status_name(kiln_status status) {
  switch (rawValue(&status)) {
  case KILN_OK: return "KILN_OK";
  case KILN_ERR_INVALID_ARGUMENT: return "KILN_ERR_INVALID_ARGUMENT";
  case KILN_ERR_NOT_FOUND: return "KILN_ERR_NOT_FOUND";
  case KILN_ERR_BAD_STATE: return "KILN_ERR_BAD_STATE";
  case KILN_ERR_IO: return "KILN_ERR_IO";
  case KILN_ERR_INVALID_ARTIFACT: return "KILN_ERR_INVALID_ARTIFACT";
  case KILN_ERR_VERSION: return "KILN_ERR_VERSION";
  case KILN_ERR_UNSUPPORTED: return "KILN_ERR_UNSUPPORTED";
  case KILN_ERR_CODE_LOAD: return "KILN_ERR_CODE_LOAD";
  case KILN_ERR_OUT_OF_MEMORY: return "KILN_ERR_OUT_OF_MEMORY";
  case KILN_ERR_NON_FINITE: return "KILN_ERR_NON_FINITE";
  case KILN_ERR_STOPPED: return "KILN_ERR_STOPPED";
  case KILN_ERR_NO_DEVICE: return "KILN_ERR_NO_DEVICE";
  case KILN_ERR_DEVICE: return "KILN_ERR_DEVICE";
  }
  return "KILN_ERR_UNKNOWN";
}

KILN_API const char *kiln_dtype_name(kiln_dtype dtype) {
  switch (rawValue(&dtype)) {
  case KILN_F32: return "f32";
  case KILN_I32: return "i32";
  }
  return "?";
}

KILN_API size_t kiln_dtype_size(kiln_dtype dtype) {
  switch (rawValue(&dtype)) {
  case KILN_F32:
  case KILN_I32: return 4;
  }
  return 0;
}

KILN_API kiln_status kiln_cpu_supports(const char *feature, int *supported) {
  KILN_REQUIRE(feature, "kiln_cpu_supports: feature is NULL");
  KILN_REQUIRE(supported, "kiln_cpu_supports: supported is NULL");
  int s = cpuSupports(feature);
  if (s < 0)
    return fail(KILN_ERR_NOT_FOUND, "kiln_cpu_supports: unknown CPU feature '%.*s' (known: %s)", kMaxName, feature,
                knownCpuFeatures());
  *supported = s;
  return ok();
}

//===--- models ------------------------------------------------------------===//

KILN_API kiln_status kiln_model_load_memory(const void *data, size_t size, uint32_t flags, kiln_model **model) {
  KILN_REQUIRE(model, "kiln_model_load_memory: model (the out handle) is NULL");
  *model = nullptr;
  KILN_REQUIRE(data || size == 0, "kiln_model_load_memory: data is NULL");
  KILN_REQUIRE(!(flags & ~KILN_LOAD_NO_CODE), "kiln_model_load_memory: unknown flags 0x%x", flags);
  if (size == 0) {
    ArtifactDesc none;
    return readArtifact(nullptr, 0, flags, none); // "0 bytes, too small"
  }
  if (reinterpret_cast<uintptr_t>(data) % kAlignment == 0)
    return loadBytes(static_cast<const uint8_t *>(data), size, flags, model);
  // Offsets are aligned relative to the buffer start; work on an aligned copy.
  AlignedBuffer copy;
  if (!copy.allocate(size))
    return fail(KILN_ERR_OUT_OF_MEMORY, "kiln_model_load_memory: cannot allocate %zu bytes", size);
  std::memcpy(copy.data(), data, size);
  return loadBytes(copy.data(), size, flags, model);
}

KILN_API kiln_status kiln_model_load_file(const char *path, uint32_t flags, kiln_model **model) {
  KILN_REQUIRE(model, "kiln_model_load_file: model (the out handle) is NULL");
  *model = nullptr;
  KILN_REQUIRE(path, "kiln_model_load_file: path is NULL");
  KILN_REQUIRE(!(flags & ~KILN_LOAD_NO_CODE), "kiln_model_load_file: unknown flags 0x%x", flags);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(KILN_ERR_IO, "%s: cannot open: %s", path, std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0)
    return fail(KILN_ERR_IO, "%s: cannot stat: %s", path, std::strerror(errno));
  if (S_ISDIR(st.st_mode))
    return fail(KILN_ERR_IO, "%s: is a directory, not a .kbin file", path);
  if (!S_ISREG(st.st_mode))
    return fail(KILN_ERR_IO, "%s: is not a regular file", path);
  size_t size = static_cast<size_t>(st.st_size);
  if (static_cast<uint64_t>(st.st_size) >= kMaxArtifactBytes)
    return fail(KILN_ERR_INVALID_ARTIFACT, "%s: not a .kbin: %zu bytes; the format (flatbuffers) is limited to 2 GiB",
                path, size);
  // Read rather than mmap: the bytes are only needed while loading, and a
  // file truncated by someone else while mapped would raise SIGBUS.
  AlignedBuffer bytes;
  if (!bytes.allocate(size))
    return fail(KILN_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes to read it", path, size);
  size_t done = 0;
  while (done < size) {
    ssize_t r = ::read(fd, bytes.data() + done, size - done);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return fail(KILN_ERR_IO, "%s: read failed: %s", path, std::strerror(errno));
    if (r == 0)
      return fail(KILN_ERR_IO, "%s: the file shrank while being read (%zu of %zu bytes)", path, done, size);
    done += static_cast<size_t>(r);
  }
  if (kiln_status s = loadBytes(bytes.data(), size, flags, model))
    return prefixError(s, "%s: ", path);
  return KILN_OK;
}

KILN_API void kiln_model_free(kiln_model *model) { release(model); }

KILN_API kiln_status kiln_model_name(const kiln_model *model, const char **name) {
  KILN_REQUIRE(model, "kiln_model_name: model is NULL");
  KILN_REQUIRE(name, "kiln_model_name: name (the out pointer) is NULL");
  *name = model->desc.name.c_str();
  return ok();
}

KILN_API kiln_status kiln_model_producer(const kiln_model *model, const char **producer) {
  KILN_REQUIRE(model, "kiln_model_producer: model is NULL");
  KILN_REQUIRE(producer, "kiln_model_producer: producer (the out pointer) is NULL");
  *producer = model->desc.producer.c_str();
  return ok();
}

KILN_API kiln_status kiln_model_num_entries(const kiln_model *model, size_t *count) {
  KILN_REQUIRE(model, "kiln_model_num_entries: model is NULL");
  KILN_REQUIRE(count, "kiln_model_num_entries: count (the out pointer) is NULL");
  *count = model->desc.entries.size();
  return ok();
}

KILN_API kiln_status kiln_model_entry(const kiln_model *model, size_t index, const kiln_entry_info **entry) {
  KILN_REQUIRE(model, "kiln_model_entry: model is NULL");
  KILN_REQUIRE(entry, "kiln_model_entry: entry (the out pointer) is NULL");
  if (index >= model->desc.entries.size())
    return fail(KILN_ERR_NOT_FOUND, "kiln_model_entry: index %zu is out of range (the model has %zu entry points)",
                index, model->desc.entries.size());
  *entry = &model->desc.entries[index].info;
  return ok();
}

KILN_API kiln_status kiln_model_find_entry(const kiln_model *model, const char *name, const kiln_entry_info **entry) {
  KILN_REQUIRE(model, "kiln_model_find_entry: model is NULL");
  KILN_REQUIRE(name, "kiln_model_find_entry: name is NULL");
  KILN_REQUIRE(entry, "kiln_model_find_entry: entry (the out pointer) is NULL");
  const EntryDesc *e = findEntry(model, name);
  if (!e)
    return noEntry("kiln_model_find_entry", model, name);
  *entry = &e->info;
  return ok();
}

KILN_API kiln_status kiln_model_num_params(const kiln_model *model, size_t *count) {
  KILN_REQUIRE(model, "kiln_model_num_params: model is NULL");
  KILN_REQUIRE(count, "kiln_model_num_params: count (the out pointer) is NULL");
  *count = model->desc.params.size();
  return ok();
}

KILN_API kiln_status kiln_model_param(const kiln_model *model, size_t index, const kiln_param_info **param) {
  KILN_REQUIRE(model, "kiln_model_param: model is NULL");
  KILN_REQUIRE(param, "kiln_model_param: param (the out pointer) is NULL");
  if (index >= model->desc.params.size())
    return fail(KILN_ERR_NOT_FOUND, "kiln_model_param: index %zu is out of range (the model has %zu parameters)",
                index, model->desc.params.size());
  *param = &model->desc.params[index].info;
  return ok();
}

KILN_API kiln_status kiln_model_find_param(const kiln_model *model, const char *name, const kiln_param_info **param) {
  KILN_REQUIRE(model, "kiln_model_find_param: model is NULL");
  KILN_REQUIRE(name, "kiln_model_find_param: name is NULL");
  KILN_REQUIRE(param, "kiln_model_find_param: param (the out pointer) is NULL");
  const ParamDesc *p = findParam(model, name);
  if (!p)
    return noParam("kiln_model_find_param", model, name);
  *param = &p->info;
  return ok();
}

KILN_API kiln_status kiln_model_get_param(const kiln_model *model, const char *name, void *data, size_t byte_size) {
  KILN_REQUIRE(model, "kiln_model_get_param: model is NULL");
  KILN_REQUIRE(name, "kiln_model_get_param: name is NULL");
  const ParamDesc *p = findParam(model, name);
  if (!p)
    return noParam("kiln_model_get_param", model, name);
  KILN_REQUIRE(data, "kiln_model_get_param: data is NULL (parameter '%.*s')", kMaxName, name);
  if (byte_size != p->tensor.byteSize)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_model_get_param: parameter '%.*s' is %zu bytes (%s), got a %zu-byte buffer",
                kMaxName, name, p->tensor.byteSize, describe(p->info.tensor).c_str(), byte_size);
  if (kiln_status s = paramsToHost(*model))
    return prefixError(s, "kiln_model_get_param: ");
  std::memcpy(data, model->paramStorage.data() + p->offset, byte_size);
  return ok();
}

KILN_API kiln_status kiln_model_set_param(kiln_model *model, const char *name, kiln_dtype dtype, const void *data,
                                          size_t num_elements) {
  KILN_REQUIRE(model, "kiln_model_set_param: model is NULL");
  KILN_REQUIRE(name, "kiln_model_set_param: name is NULL");
  const ParamDesc *p = findParam(model, name);
  if (!p)
    return noParam("kiln_model_set_param", model, name);
  KILN_REQUIRE(data, "kiln_model_set_param: data is NULL (parameter '%.*s')", kMaxName, name);
  int raw = rawValue(&dtype);
  KILN_REQUIRE(raw == KILN_F32 || raw == KILN_I32, "kiln_model_set_param: invalid dtype %d (parameter '%.*s')", raw,
               kMaxName, name);
  if (raw != p->tensor.dtype)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_model_set_param: parameter '%.*s' has dtype %s, got %s", kMaxName,
                name, kiln_dtype_name(p->tensor.dtype), kiln_dtype_name(static_cast<kiln_dtype>(raw)));
  if (num_elements != static_cast<uint64_t>(p->tensor.numElements))
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_model_set_param: parameter '%.*s' has %lld elements (%s), got %zu",
                kMaxName, name, static_cast<long long>(p->tensor.numElements), describe(p->info.tensor).c_str(),
                num_elements);
  if (kiln_status s = paramsToHost(*model))
    return prefixError(s, "kiln_model_set_param: ");
  std::memcpy(model->paramStorage.data() + p->offset, data, p->tensor.byteSize);
  if (kiln_status s = paramsToDevice(*model, p->offset, p->tensor.byteSize))
    return prefixError(s, "kiln_model_set_param: ");
  return ok();
}

KILN_API kiln_status kiln_model_reset_state(kiln_model *model) {
  KILN_REQUIRE(model, "kiln_model_reset_state: model is NULL");
  if (kiln_status s = paramsToHost(*model))
    return prefixError(s, "kiln_model_reset_state: ");
  for (const ParamDesc &p : model->desc.params)
    if (p.state)
      std::memcpy(model->paramStorage.data() + p.offset, model->initialState.data() + p.initialOffset,
                  p.tensor.byteSize);
  if (kiln_status s = paramsToDevice(*model, 0, model->paramStorage.size()))
    return prefixError(s, "kiln_model_reset_state: ");
  return ok();
}

KILN_API kiln_status kiln_model_set_num_threads(kiln_model *model, int32_t num_threads) {
  KILN_REQUIRE(model, "kiln_model_set_num_threads: model is NULL");
  KILN_REQUIRE(num_threads >= 0 && num_threads <= KILN_MAX_THREADS,
               "kiln_model_set_num_threads: num_threads must be 0 (the default) to %d, got %d", KILN_MAX_THREADS,
               num_threads);
  setThreads(*model, num_threads);
  return ok();
}

KILN_API kiln_status kiln_model_num_threads(const kiln_model *model, int32_t *num_threads) {
  KILN_REQUIRE(model, "kiln_model_num_threads: model is NULL");
  KILN_REQUIRE(num_threads, "kiln_model_num_threads: num_threads is NULL");
  *num_threads = model->numThreads;
  return ok();
}

KILN_API kiln_status kiln_model_set_device(kiln_model *model, const char *device) {
  KILN_REQUIRE(model, "kiln_model_set_device: model is NULL");
  KILN_REQUIRE(device, "kiln_model_set_device: device is NULL");
  // "cpu", "cuda" (= "cuda:0") or "cuda:N" (N: 1 to 4 decimal digits).
  bool cpu = std::strcmp(device, "cpu") == 0;
  int ordinal = 0;
  if (!cpu && std::strncmp(device, "cuda", 4) == 0 && (device[4] == 0 || device[4] == ':')) {
    if (device[4] == ':') {
      const char *p = device + 5;
      int digits = 0;
      for (; *p >= '0' && *p <= '9' && digits < 5; ++p, ++digits)
        ordinal = ordinal * 10 + (*p - '0');
      if (digits == 0 || digits > 4 || *p)
        ordinal = -1;
    }
  } else if (!cpu) {
    ordinal = -1;
  }
  if (ordinal < 0)
    return fail(KILN_ERR_INVALID_ARGUMENT,
                "kiln_model_set_device: unknown device '%.*s' (expected \"cpu\", \"cuda\" or \"cuda:N\")", kMaxName,
                device);
  std::string wanted = cpu ? "cpu" : "cuda:" + std::to_string(ordinal);
  if (wanted == model->device)
    return ok();
  if (model->refs.load(std::memory_order_acquire) > 1)
    return fail(KILN_ERR_BAD_STATE,
                "kiln_model_set_device: model '%.*s' has live sessions; destroy them before moving it to %s", kMaxName,
                model->desc.name.c_str(), wanted.c_str());
  if (cpu) {
    if (kiln_status s = gpuDetach(*model))
      return prefixError(s, "kiln_model_set_device: moving '%.*s' to the CPU: ", kMaxName, model->desc.name.c_str());
    return ok();
  }
  if (model->loadedNoCode)
    return fail(KILN_ERR_BAD_STATE,
                "kiln_model_set_device: model '%.*s' was loaded with KILN_LOAD_NO_CODE; it has no code to run",
                kMaxName, model->desc.name.c_str());
  if (model->desc.gpuModules.empty())
    return fail(KILN_ERR_UNSUPPORTED,
                "kiln_model_set_device: model '%.*s' has no GPU code (compiled without --target=cuda; recompile with "
                "kilnc --target=cpu,cuda)",
                kMaxName, model->desc.name.c_str());
  // Parameters come from the host copy: bring it up to date first when the
  // model is on another GPU, which it leaves only once the new one works.
  if (kiln_status s = paramsToHost(*model))
    return prefixError(s, "kiln_model_set_device: ");
  GpuModel *previous = model->gpu;
  model->gpu = nullptr;
  if (kiln_status s = gpuAttach(*model, ordinal)) {
    model->gpu = previous;
    return s;
  }
  gpuRelease(previous);
  return ok();
}

KILN_API kiln_status kiln_model_device(const kiln_model *model, const char **device) {
  KILN_REQUIRE(model, "kiln_model_device: model is NULL");
  KILN_REQUIRE(device, "kiln_model_device: device (the out pointer) is NULL");
  *device = model->device.c_str();
  return ok();
}

KILN_API kiln_status kiln_model_gpu_archs(const kiln_model *model, const char **archs) {
  KILN_REQUIRE(model, "kiln_model_gpu_archs: model is NULL");
  KILN_REQUIRE(archs, "kiln_model_gpu_archs: archs (the out pointer) is NULL");
  *archs = model->desc.gpuArchs.c_str();
  return ok();
}

//===--- sessions ----------------------------------------------------------===//

KILN_API kiln_status kiln_session_create(kiln_model *model, const char *entry, kiln_session **session) {
  KILN_REQUIRE(session, "kiln_session_create: session (the out handle) is NULL");
  *session = nullptr;
  KILN_REQUIRE(model, "kiln_session_create: model is NULL");
  KILN_REQUIRE(entry, "kiln_session_create: entry is NULL");
  const EntryDesc *e = findEntry(model, entry);
  if (!e)
    return noEntry("kiln_session_create", model, entry);
  if (model->loadedNoCode)
    return fail(KILN_ERR_BAD_STATE,
                "kiln_session_create: model '%.*s' was loaded with KILN_LOAD_NO_CODE; it has no code to run",
                kMaxName, model->desc.name.c_str());
  const bool gpu = model->gpu != nullptr;
  if (!gpu && !model->hasCode)
    return fail(KILN_ERR_BAD_STATE,
                "kiln_session_create: model '%.*s' has no CPU code (compiled with --target=cuda only); move it to "
                "a GPU first with kiln_model_set_device(model, \"cuda\")",
                kMaxName, model->desc.name.c_str());

  // Layout of the session's block: owned inputs, outputs, scratch; each
  // 64-byte aligned. Sizes are <= 2^40 each, so the sums cannot overflow.
  // On a GPU the block holds the owned inputs only (outputs: pinned memory,
  // scratch: on the device; gpuSessionCreate).
  std::vector<size_t> inputOffsets, outputOffsets;
  size_t total = 0;
  for (const TensorDesc &t : e->inputs) {
    inputOffsets.push_back(total);
    total += alignUp(t.byteSize);
  }
  for (const TensorDesc &t : e->outputs) {
    outputOffsets.push_back(total);
    total += gpu ? 0 : alignUp(t.byteSize);
  }
  size_t scratchOffset = total;
  total += gpu ? 0 : alignUp(static_cast<size_t>(e->scratchBytes));

  kiln_session *s = new (std::nothrow) kiln_session;
  if (!s)
    return fail(KILN_ERR_OUT_OF_MEMORY, "kiln_session_create: out of memory");
  if (!s->block.allocate(total)) {
    delete s;
    return fail(KILN_ERR_OUT_OF_MEMORY,
                "kiln_session_create: cannot allocate %zu bytes for the inputs, outputs and scratch of '%.*s'", total,
                kMaxName, e->name.c_str());
  }
  s->entry = e;
  uint8_t *base = s->block.data();
  for (size_t i = 0; i < e->inputs.size(); ++i) {
    s->ownedInputs.push_back(base + inputOffsets[i]);
    s->args.push_back(nullptr); // bound later
  }
  for (uint32_t k : e->paramIndices)
    s->args.push_back(model->paramStorage.data() + model->desc.params[k].offset);
  for (size_t i = 0; i < e->outputs.size(); ++i)
    s->args.push_back(base + outputOffsets[i]);
  s->args.push_back(base + scratchOffset);
  s->bound.assign(e->inputs.size(), 0);
  // A training entry's `samples` input (the number of real rows in a padded
  // final batch) starts bound to the full batch.
  for (size_t i = 0; i < e->inputs.size(); ++i)
    if (e->inputs[i].name == "samples" && e->inputs[i].dtype == KILN_F32 && e->inputs[i].shape.empty()) {
      float full = static_cast<float>(e->batchSize);
      std::memcpy(s->ownedInputs[i], &full, sizeof full);
      s->args[i] = s->ownedInputs[i];
      s->bound[i] = 1;
    }
  s->model = model;
  if (gpu)
    if (kiln_status st = gpuSessionCreate(*s)) {
      delete s;
      return st;
    }
  model->refs.fetch_add(1, std::memory_order_relaxed);
  *session = s;
  return ok();
}

KILN_API void kiln_session_destroy(kiln_session *session) {
  if (!session)
    return;
  if (session->gpu)
    gpuSessionDestroy(*session);
  release(session->model);
  delete session;
}

KILN_API kiln_status kiln_session_entry(const kiln_session *session, const kiln_entry_info **entry) {
  KILN_REQUIRE(session, "kiln_session_entry: session is NULL");
  KILN_REQUIRE(entry, "kiln_session_entry: entry (the out pointer) is NULL");
  *entry = &session->entry->info;
  return ok();
}

KILN_API kiln_status kiln_session_set_input(kiln_session *session, const char *name, kiln_dtype dtype,
                                            const int64_t *shape, int32_t rank, const void *data, size_t byte_size) {
  KILN_REQUIRE(session, "kiln_session_set_input: session is NULL");
  KILN_REQUIRE(name, "kiln_session_set_input: name is NULL");
  long i = findTensor("kiln_session_set_input", session, name, false);
  if (i < 0)
    return KILN_ERR_NOT_FOUND;
  const kiln_tensor_info &t = session->entry->inputInfos[static_cast<size_t>(i)];
  if (kiln_status s = checkInput("kiln_session_set_input", session, t, rawValue(&dtype), shape, rank, data, byte_size))
    return s;
  std::memcpy(session->ownedInputs[static_cast<size_t>(i)], data, byte_size);
  session->args[static_cast<size_t>(i)] = session->ownedInputs[static_cast<size_t>(i)];
  session->bound[static_cast<size_t>(i)] = 1;
  return ok();
}

KILN_API kiln_status kiln_session_bind_input(kiln_session *session, const char *name, kiln_dtype dtype,
                                             const int64_t *shape, int32_t rank, const void *data, size_t byte_size) {
  KILN_REQUIRE(session, "kiln_session_bind_input: session is NULL");
  KILN_REQUIRE(name, "kiln_session_bind_input: name is NULL");
  long i = findTensor("kiln_session_bind_input", session, name, false);
  if (i < 0)
    return KILN_ERR_NOT_FOUND;
  const kiln_tensor_info &t = session->entry->inputInfos[static_cast<size_t>(i)];
  if (kiln_status s = checkInput("kiln_session_bind_input", session, t, rawValue(&dtype), shape, rank, data, byte_size))
    return s;
  if (reinterpret_cast<uintptr_t>(data) % kAlignment != 0)
    return fail(KILN_ERR_INVALID_ARGUMENT,
                "kiln_session_bind_input: input '%.*s': data %p is not 64-byte aligned (the packed ABI needs it; "
                "use kiln_session_set_input to copy instead)",
                kMaxName, name, data);
  session->args[static_cast<size_t>(i)] = const_cast<void *>(data); // the entry point only reads inputs
  session->bound[static_cast<size_t>(i)] = 1;
  return ok();
}

KILN_API kiln_status kiln_session_run(kiln_session *session) {
  KILN_REQUIRE(session, "kiln_session_run: session is NULL");
  const EntryDesc &e = *session->entry;
  for (size_t i = 0; i < e.inputs.size(); ++i)
    if (!session->bound[i])
      return fail(KILN_ERR_BAD_STATE,
                  "kiln_session_run: input '%.*s' of '%.*s' is not bound (call kiln_session_set_input or "
                  "kiln_session_bind_input first)",
                  kMaxName, e.inputs[i].name.c_str(), kMaxName, e.name.c_str());
  if (kiln_status s = runSession(*session))
    return s;
  session->ran = true;
  return ok();
}

KILN_API kiln_status kiln_session_output(const kiln_session *session, const char *name, const void **data,
                                         size_t *byte_size) {
  KILN_REQUIRE(session, "kiln_session_output: session is NULL");
  KILN_REQUIRE(name, "kiln_session_output: name is NULL");
  KILN_REQUIRE(data, "kiln_session_output: data (the out pointer) is NULL");
  long i = findTensor("kiln_session_output", session, name, true);
  if (i < 0)
    return KILN_ERR_NOT_FOUND;
  if (!session->ran)
    return fail(KILN_ERR_BAD_STATE, "kiln_session_output: '%.*s' has not run yet (call kiln_session_run first)",
                kMaxName, session->entry->name.c_str());
  if (kiln_status s = awaitOutputs(*session))
    return prefixError(s, "kiln_session_output: ");
  const EntryDesc &e = *session->entry;
  *data = session->args[e.inputs.size() + e.paramIndices.size() + static_cast<size_t>(i)];
  if (byte_size)
    *byte_size = e.outputs[static_cast<size_t>(i)].byteSize;
  return ok();
}

KILN_API kiln_status kiln_session_get_output(const kiln_session *session, const char *name, void *data,
                                             size_t byte_size) {
  KILN_REQUIRE(session, "kiln_session_get_output: session is NULL");
  KILN_REQUIRE(name, "kiln_session_get_output: name is NULL");
  long i = findTensor("kiln_session_get_output", session, name, true);
  if (i < 0)
    return KILN_ERR_NOT_FOUND;
  const EntryDesc &e = *session->entry;
  const kiln_tensor_info &t = e.outputInfos[static_cast<size_t>(i)];
  KILN_REQUIRE(data, "kiln_session_get_output: data is NULL (output '%.*s')", kMaxName, name);
  if (byte_size != t.byte_size)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_session_get_output: output '%.*s' of '%.*s' is %zu bytes (%s), got a %zu-byte buffer",
                kMaxName, name, kMaxName, e.name.c_str(), t.byte_size, describe(t).c_str(), byte_size);
  if (!session->ran)
    return fail(KILN_ERR_BAD_STATE, "kiln_session_get_output: '%.*s' has not run yet (call kiln_session_run first)",
                kMaxName, e.name.c_str());
  if (kiln_status s = awaitOutputs(*session))
    return prefixError(s, "kiln_session_get_output: ");
  std::memcpy(data, session->args[e.inputs.size() + e.paramIndices.size() + static_cast<size_t>(i)], byte_size);
  return ok();
}

} // extern "C"
