//===- Internal.h - Kiln runtime internals ----------------------*- C++ -*-===//
//
// Shared by the runtime's translation units; not installed, not part of the
// API. The runtime builds with -fno-exceptions: fallible functions return a
// kiln_status and leave a message in the calling thread's error buffer
// (setError / fail below).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/ThreadPool.h"
#include "runtime/kiln_runtime.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::rt {

//===--- errors ------------------------------------------------------------===//

/// Sets this thread's message (printf format) and returns `code`.
kiln_status fail(kiln_status code, const char *format, ...) __attribute__((format(printf, 2, 3)));
/// Prepends to this thread's message (printf format); the status is returned unchanged.
kiln_status prefixError(kiln_status code, const char *format, ...) __attribute__((format(printf, 2, 3)));
/// Clears this thread's message and returns KILN_OK.
kiln_status ok();
/// This thread's message (never NULL).
const char *lastError();

/// At most this many bytes of an untrusted or user string go into a message.
constexpr int kMaxNameInMessage = 200;

/// "[2, 3]": a shape as messages print it.
std::string shapeText(const int64_t *shape, size_t rank);
inline std::string shapeText(const std::vector<int64_t> &shape) { return shapeText(shape.data(), shape.size()); }

/// The value of an enum argument as passed by a C caller: any int. (Loading
/// an out-of-range value through the C++ enum type would be undefined.)
/// Takes the argument's address: copying it by value would be such a load.
template <typename Enum> int rawValue(const Enum *e) {
  static_assert(sizeof(Enum) == sizeof(int), "C enums are int-sized here");
  int v;
  __builtin_memcpy(&v, e, sizeof v);
  return v;
}

//===--- aligned memory ----------------------------------------------------===//

constexpr size_t kAlignment = 64;

/// An owned, 64-byte aligned, uninitialised block (never throws: allocate()
/// reports failure).
class AlignedBuffer {
public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer &) = delete;
  AlignedBuffer &operator=(const AlignedBuffer &) = delete;
  AlignedBuffer(AlignedBuffer &&other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  AlignedBuffer &operator=(AlignedBuffer &&other) noexcept;
  ~AlignedBuffer();

  /// Allocates max(size, 1) bytes at a 64-byte aligned address. False on failure.
  bool allocate(size_t size);
  uint8_t *data() const { return data_; }
  size_t size() const { return size_; }

private:
  uint8_t *data_ = nullptr;
  size_t size_ = 0;
};

inline size_t alignUp(size_t n) { return (n + kAlignment - 1) & ~(kAlignment - 1); }

//===--- the artifact, as read and checked --------------------------------===//

/// flatbuffers' FLATBUFFERS_MAX_BUFFER_SIZE: a .kbin is smaller than this.
constexpr uint64_t kMaxArtifactBytes = (uint64_t(1) << 31) - 1;

struct TensorDesc {
  std::string name;
  kiln_dtype dtype = KILN_F32;
  std::vector<int64_t> shape;
  int64_t numElements = 1;
  size_t byteSize = 0;
};

struct ParamDesc {
  TensorDesc tensor;
  bool trainable = true;
  bool state = false;               // optimizer state (Parameter.state), not a model weight
  const uint8_t *initial = nullptr; // into the artifact bytes, only during loading
  size_t offset = 0;                // into the model's parameter storage
  size_t initialOffset = 0;         // state only: into the model's initialState
  kiln_param_info info{}; // filled once the model is in place
};

/// One kernel argument of a GPU launch: buffer `buffer` (packed-ABI order:
/// inputs, params in param_indices order, outputs, then the GPU scratch
/// arena) plus `offset` bytes.
struct GpuArgDesc {
  uint32_t buffer = 0;
  uint64_t offset = 0;
};

struct GpuLaunchDesc {
  std::string kernel;
  uint32_t grid[3] = {1, 1, 1}, block[3] = {1, 1, 1};
  uint32_t sharedBytes = 0;
  std::vector<GpuArgDesc> args;
};

/// An entry point's GPU code (kbin GpuEntryPoint).
struct GpuEntryDesc {
  bool present = false;
  uint64_t scratchBytes = 0;
  std::vector<GpuLaunchDesc> launches;
};

/// One image of the model's kernels (kbin GpuModule), copied out of the
/// artifact (the model keeps it for kiln_model_set_device). A PTX image
/// ("compute_XY") ends with a NUL byte (added when the file has none), as
/// cuModuleLoadData needs.
struct GpuModuleDesc {
  std::string arch;
  std::vector<uint8_t> image;
};

struct EntryDesc {
  std::string name;
  int64_t batchSize = 0;
  std::vector<TensorDesc> inputs, outputs;
  std::vector<uint32_t> paramIndices;
  std::string cpuSymbol;
  uint64_t scratchBytes = 0;
  void (*fn)(void **) = nullptr;
  GpuEntryDesc gpu;
  std::vector<kiln_tensor_info> inputInfos, outputInfos;
  kiln_entry_info info{};
};

struct ArtifactDesc {
  uint32_t formatVersion = 0;
  std::string name, producer;
  std::vector<EntryDesc> entries;
  std::vector<ParamDesc> params;
  bool hasCpu = false;
  std::string triple, cpu;
  std::vector<std::string> features;
  const uint8_t *sharedObject = nullptr; // into the artifact bytes, only during loading
  size_t sharedObjectSize = 0;
  // Model.fit (kbin FitDefaults): the model file's fit(...) settings, the
  // defaults of kiln_fit. Unchecked here (any value a file holds); kiln_fit
  // checks the ones it uses.
  bool hasFit = false;
  int64_t fitEpochs = 1, fitBatchSize = 32;
  float fitValidationSplit = 0;
  bool fitShuffle = true;
  std::vector<GpuModuleDesc> gpuModules; // Model.gpu; empty: no GPU code
  std::string gpuArchs;                  // their archs, comma-separated (kiln_model_gpu_archs)
};

/// Runs flatbuffers' Verifier and every Kiln check on `size` bytes at `data`
/// (which must be at least 8-byte aligned) and fills `out`. With
/// KILN_LOAD_NO_CODE the host's CPU features are not checked.
kiln_status readArtifact(const uint8_t *data, size_t size, uint32_t flags, ArtifactDesc &out);

/// Checks that `bytes` start with an ELF64 little-endian x86-64 ET_DYN header
/// whose program headers lie inside the object.
kiln_status checkElfHeader(const uint8_t *bytes, size_t size);

//===--- CPU features -----------------------------------------------------===//

/// 1 / 0 for a known feature name, -1 for an unknown one.
int cpuSupports(const char *feature);
/// The fixed list of names, comma-separated (for messages and docs).
const char *knownCpuFeatures();

//===--- native code ------------------------------------------------------===//

/// The model's loaded shared object.
struct LoadedCode {
  void *handle = nullptr; // dlopen handle
  int fd = -1;            // the memfd; kept open while loaded (see CodeLoader.cpp)
  // kernels/cpu's kiln_kernels_set_parallel_for in the model's object; NULL
  // when the model calls no library kernel (then there is nothing to thread).
  using ParallelFor = void (*)(void *ctx, int64_t n, ThreadPool::Body body, void *arg);
  void (*setParallelFor)(ParallelFor pf, void *ctx, int64_t numThreads) = nullptr;
};

/// Writes the shared object to a memfd, dlopens it and resolves every entry
/// point's cpu_symbol into EntryDesc::fn. Everything is released on failure.
kiln_status loadCode(const ArtifactDesc &artifact, std::vector<EntryDesc> &entries,
                     LoadedCode &out);
void unloadCode(LoadedCode &code);

//===--- checkpoints (Checkpoint.cpp) ---------------------------------------===//

/// Writes every parameter and state entry of `model` to `path` as
/// .safetensors with metadata {"epoch": "<epoch>", "format":
/// "kiln-checkpoint"}, atomically (temporary file, fsync, rename, fsync of
/// the directory). Messages start with the path.
kiln_status saveCheckpoint(const kiln_model &model, const char *path, int64_t epoch);
/// Restores the tensors of the checkpoint at `path` (all checked before any
/// parameter changes) and sets *epoch (if not NULL) to its "epoch" metadata
/// (0 when absent).
kiln_status loadCheckpoint(kiln_model &model, const char *path, int64_t *epoch);

//===--- CUDA (cuda/Gpu.cpp) ------------------------------------------------===//
//
// A model on a GPU keeps its parameters (weights and optimizer state) in one
// device allocation with the host layout (ParamDesc::offset). Device runs set
// `deviceNewer`; whatever reads kiln_model::paramStorage first calls
// paramsToHost(), whatever writes it calls paramsToHost() before and
// paramsToDevice() after (write-through).

struct GpuModel;
struct GpuSession;

/// Moves `model` onto CUDA device `ordinal` (uploads the parameters); on
/// failure the model stays where it was. No live sessions (checked by the caller).
kiln_status gpuAttach(kiln_model &model, int ordinal);
/// Copies the parameters back (when the device's are newer) and frees the
/// device state; the model is on the CPU afterwards, also on failure of the copy.
kiln_status gpuDetach(kiln_model &model);
/// Frees the device state without copying (the model's destructor).
void gpuRelease(GpuModel *gpu);
kiln_status gpuParamsToHost(const kiln_model &model);
kiln_status gpuParamsToDevice(kiln_model &model, size_t offset, size_t bytes);
/// The session's device buffers, pinned staging, stream and graphs; points
/// the session's output args at the pinned output buffers.
kiln_status gpuSessionCreate(kiln_session &session);
void gpuSessionDestroy(kiln_session &session);
/// Enqueues one run (inputs staged and copied, the launches, the outputs
/// copied back); returns before the GPU is done.
kiln_status gpuSessionRun(kiln_session &session);
/// Waits for the last run's outputs.
kiln_status gpuSessionWait(const kiln_session &session);

/// Host parameter storage up to date (a no-op on the CPU).
kiln_status paramsToHost(const kiln_model &model);
/// After a host write of [offset, offset + bytes) of the parameter storage
/// (a no-op on the CPU).
kiln_status paramsToDevice(kiln_model &model, size_t offset, size_t bytes);
/// Runs the session's entry point once (CPU: the call; GPU: enqueued);
/// awaitOutputs waits until its outputs can be read.
kiln_status runSession(kiln_session &session);
kiln_status awaitOutputs(const kiln_session &session);

} // namespace kiln::rt

//===--- the opaque handles -----------------------------------------------===//

struct kiln_model {
  std::atomic<int> refs{1};
  kiln::rt::ArtifactDesc desc; // entries and params with their infos
  kiln::rt::AlignedBuffer paramStorage;
  kiln::rt::AlignedBuffer initialState; // the artifact's values of the state entries (reset_state)
  kiln::rt::LoadedCode code;
  bool hasCode = false;
  kiln::rt::ThreadPool pool; // the kernels' threads (hasCode only)
  int32_t numThreads = 1;    // as set; pool.threads() may be fewer
  bool loadedNoCode = false; // KILN_LOAD_NO_CODE
  kiln::rt::GpuModel *gpu = nullptr; // on a CUDA device (kiln_model_set_device)
  std::string device = "cpu";         // "cpu", "cuda:0", ... (kiln_model_device)
  ~kiln_model();
};

struct kiln_session {
  kiln_model *model = nullptr;
  const kiln::rt::EntryDesc *entry = nullptr;
  kiln::rt::AlignedBuffer block; // owned inputs, outputs, scratch
  std::vector<void *> args;      // the packed-ABI array: inputs, params, outputs, scratch
  std::vector<uint8_t *> ownedInputs;
  std::vector<uint8_t> bound;
  bool ran = false;
  kiln::rt::GpuSession *gpu = nullptr; // a session of a model on a GPU
};
