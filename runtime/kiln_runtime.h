/*===- kiln_runtime.h - The Kiln runtime C API ------------------*- C -*-===*
 *
 * Loads a compiled model (.kbin, artifact/kbin.fbs), lists its signature and
 * parameters, and runs its entry points on the CPU. Links no LLVM, MLIR or
 * NVRTC: libkiln_runtime.so needs only libc and libstdc++.
 * Reference, with an example: docs/runtime.md.
 *
 * Conventions
 * - Every fallible function returns a kiln_status. KILN_OK is 0. On failure
 *   the out-parameters are left untouched (out handles are set to NULL) and
 *   kiln_last_error() describes what was wrong. No C++ exception or abort
 *   crosses this API for any input, including a hostile .kbin.
 * - Handles are opaque. A kiln_model is reference counted: each session holds
 *   a reference, so kiln_model_free() may be called while sessions still
 *   exist (the model goes away with its last session).
 * - Strings and info structs returned by the model (names, shapes,
 *   kiln_entry_info, kiln_param_info) are owned by the model and stay valid
 *   until the model is freed (i.e. until kiln_model_free() and the
 *   destruction of its last session).
 * - Byte sizes are exact: a buffer passed in or out must hold exactly the
 *   tensor's bytes (product(shape) * dtype size).
 *
 * Thread safety
 * - kiln_last_error() is per thread.
 * - Loading and freeing models, and creating and destroying sessions, may
 *   happen from any number of threads at once.
 * - The read-only model functions (name, entry points, parameter infos,
 *   kiln_model_get_param) are safe to call concurrently.
 * - Distinct sessions may run concurrently from several threads, also
 *   sessions of the same model and entry point. A session is NOT locked: use
 *   one session from one thread at a time (all kiln_session_* calls on it).
 * - Parameters live in the model and are shared by all its sessions (no
 *   copy). kiln_model_set_param() or kiln_model_reset_state() while a session
 *   of that model runs, or two concurrent runs of entry points that update
 *   parameters in place (train_step), or a train_step running while another
 *   session reads the parameters, are data races: the caller must serialise
 *   them.
 *
 * Training (docs/runtime.md, "Training from C")
 * - A model compiled with compile(...) has entry points predict, train_step
 *   (inputs..., "labels" -> "loss", metrics...; updates the weights and the
 *   optimizer state in place), eval_step (same outputs, updates nothing) and
 *   gradients ("loss", then d loss / d parameter for every trainable
 *   parameter, each output named like its parameter; updates nothing);
 *   with several batch sizes, suffixed "_b64", "_b1", ...
 * - "labels" is i32 [batch] (class indices) for
 *   sparse_categorical_crossentropy, else f32 shaped like the output.
 *
 *===----------------------------------------------------------------------===*/
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#if defined(KILN_RUNTIME_BUILDING)
#define KILN_API __attribute__((visibility("default")))
#else
#define KILN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this API (bumped when a declaration changes) and the .kbin
 * format_version this runtime reads. */
#define KILN_RUNTIME_API_VERSION 5 /* 2: kiln_param_info.is_state, kiln_model_reset_state; 3: kiln_fit, kiln_evaluate, kiln_predict, checkpoints; 4: kiln_model_set_num_threads, kiln_cuda_devices, KILN_ERR_NO_DEVICE; 5: kiln_model_set_device, kiln_model_device, kiln_model_gpu_archs, KILN_ERR_DEVICE */
#define KILN_KBIN_FORMAT_VERSION 1

/* Limits a .kbin must respect (checked at load). */
#define KILN_MAX_RANK 8                            /* dimensions per tensor */
#define KILN_MAX_TENSOR_BYTES (UINT64_C(1) << 40)  /* per tensor and for scratch */
#define KILN_MAX_THREADS 1024                      /* kiln_model_set_num_threads */

typedef enum kiln_status {
  KILN_OK = 0,
  KILN_ERR_INVALID_ARGUMENT = 1, /* null pointer, unknown flag, wrong dtype / byte size / shape, misaligned pointer */
  KILN_ERR_NOT_FOUND = 2,        /* unknown entry point, parameter, input or output name; index out of range */
  KILN_ERR_BAD_STATE = 3,        /* run with unbound inputs, output before run, session of a model loaded without code */
  KILN_ERR_IO = 4,               /* the file cannot be opened or read */
  KILN_ERR_INVALID_ARTIFACT = 5, /* not a .kbin, corrupt or truncated, or fails Kiln's checks (artifact/README.md) */
  KILN_ERR_VERSION = 6,          /* .kbin format_version this runtime does not read */
  KILN_ERR_UNSUPPORTED = 7,      /* code for another platform, or a CPU feature this host (or runtime) lacks */
  KILN_ERR_CODE_LOAD = 8,        /* the model's shared object failed to load (memfd, dlopen, dlsym) */
  KILN_ERR_OUT_OF_MEMORY = 9,    /* a tensor buffer could not be allocated */
  KILN_ERR_NON_FINITE = 10,      /* training stopped: a loss or parameter became NaN or infinite */
  KILN_ERR_STOPPED = 11,         /* training stopped by the progress callback (not an error of the model) */
  KILN_ERR_NO_DEVICE = 12,       /* no CUDA driver or device (kiln_cuda_devices, kiln_model_set_device) */
  KILN_ERR_DEVICE = 13           /* a CUDA driver call failed (the message names the call and the driver's error) */
} kiln_status;

/* Element types; the values are those of kiln.kbin.DType. */
typedef enum kiln_dtype { KILN_F32 = 0, KILN_I32 = 1 } kiln_dtype;

typedef struct kiln_model kiln_model;     /* a loaded .kbin: signature, parameters, code */
typedef struct kiln_session kiln_session; /* one entry point's buffers, ready to run */

/* A named, typed, statically shaped tensor. Row-major, dense. */
typedef struct kiln_tensor_info {
  const char *name;
  kiln_dtype dtype;
  int32_t rank;          /* 0 for a scalar */
  const int64_t *shape;  /* rank entries, each >= 1 */
  int64_t num_elements;  /* product(shape); 1 for a scalar */
  size_t byte_size;      /* num_elements * kiln_dtype_size(dtype) */
} kiln_tensor_info;

/* A model parameter, by its Keras name ("dense/kernel"), in Keras layout, or
 * a piece of optimizer state of a trainable model: "optimizer/iterations"
 * (f32 scalar step counter), "optimizer/learning_rate" (f32 scalar; set it
 * to change the learning rate), "optimizer/<param>/m", ".../v" (moments).
 * State entries are parameters too (get/set by name); train_step updates
 * them in place along with the weights. */
typedef struct kiln_param_info {
  kiln_tensor_info tensor;
  int trainable;         /* 1 or 0 */
  int is_state;          /* 1 for optimizer state (step counter, moments, learning rate), 0 for a model weight */
} kiln_param_info;

/* One compiled function, e.g. predict at batch 64. */
typedef struct kiln_entry_info {
  const char *name;      /* unique within the model */
  int64_t batch_size;
  size_t num_inputs;
  const kiln_tensor_info *inputs;
  size_t num_outputs;
  const kiln_tensor_info *outputs;
  size_t num_params;     /* parameters the function reads (and may update) */
  const uint32_t *param_indices; /* into kiln_model_param(); num_params entries */
  uint64_t scratch_bytes;        /* per-session scratch arena */
  const char *cpu_symbol;        /* packed-ABI symbol in the model's shared object */
} kiln_entry_info;

/* ---- errors ---------------------------------------------------------- */

/* The message of the last kiln_* call on this thread that returns a
 * kiln_status: "" after a success, a one-line description after a failure.
 * Never NULL. Valid until the next kiln_* call on the same thread. */
KILN_API const char *kiln_last_error(void);
/* A constant name for a status ("KILN_ERR_NOT_FOUND"); never NULL. */
KILN_API const char *kiln_status_name(kiln_status status);
/* "f32", "i32" (or "?" for an invalid value) and 4, 4 (0 for an invalid value). */
KILN_API const char *kiln_dtype_name(kiln_dtype dtype);
KILN_API size_t kiln_dtype_size(kiln_dtype dtype);

/* ---- host ------------------------------------------------------------- */

/* Whether this CPU supports `feature`, a __builtin_cpu_supports name from the
 * runtime's fixed list ("avx2", "fma", "avx512f", ...; docs/runtime.md).
 * KILN_ERR_NOT_FOUND for a name not in the list. */
KILN_API kiln_status kiln_cpu_supports(const char *feature, int *supported);

/* The CUDA devices of this machine, as the NVIDIA driver reports them. The
 * runtime links no CUDA library: the first call opens libcuda.so.1 with
 * dlopen (KILN_CUDA_DRIVER names another file) and runs cuInit. Fills up to
 * `capacity` entries of `devices` (NULL when capacity is 0) and sets *count
 * to the number of devices. Without a driver or a device: KILN_ERR_NO_DEVICE,
 * *count = 0, and kiln_last_error() says why ("no CUDA driver: cannot load
 * libcuda.so.1 ...", "no CUDA device: cuInit failed with
 * CUDA_ERROR_NO_DEVICE (100) ..."). Models run on a device after
 * kiln_model_set_device. */
typedef struct kiln_cuda_device {
  char name[256];                     /* "NVIDIA H100 80GB HBM3" */
  int32_t compute_major, compute_minor; /* compute capability, e.g. 9.0 */
  uint64_t memory_bytes;
} kiln_cuda_device;
KILN_API kiln_status kiln_cuda_devices(kiln_cuda_device *devices, size_t capacity, size_t *count);

/* ---- models ----------------------------------------------------------- */

/* Load flags. */
#define KILN_LOAD_DEFAULT 0u
/* Verify the artifact and read its signature and parameters, but do not load
 * its native code (no memfd, no dlopen: no code of the artifact runs) and do
 * not check the host CPU's features. Such a model can be inspected and its
 * parameters read and written; kiln_session_create() fails with
 * KILN_ERR_BAD_STATE. Use it for untrusted files and for tools. */
#define KILN_LOAD_NO_CODE 1u

/* Load a .kbin from a file (read into 64-byte aligned memory) or from memory
 * (verified in place when `data` is 64-byte aligned, else copied first; the
 * runtime keeps no reference to `data` after the call). All checks of
 * artifact/README.md run before any field is used; then the parameters are
 * copied into the model and, unless KILN_LOAD_NO_CODE, the shared object is
 * loaded (memfd + dlopen). Loading runs the shared object's initialisers:
 * only load code you trust. On success *model is a new handle; on failure it
 * is set to NULL. */
KILN_API kiln_status kiln_model_load_file(const char *path, uint32_t flags, kiln_model **model);
KILN_API kiln_status kiln_model_load_memory(const void *data, size_t size, uint32_t flags,
                                            kiln_model **model);
/* Drop the caller's reference. NULL is a no-op. */
KILN_API void kiln_model_free(kiln_model *model);

/* Model name and producer ("kilnc 0.1"; "" when the artifact names none). */
KILN_API kiln_status kiln_model_name(const kiln_model *model, const char **name);
KILN_API kiln_status kiln_model_producer(const kiln_model *model, const char **producer);

/* Entry points, by index (0 .. count-1) or by name. */
KILN_API kiln_status kiln_model_num_entries(const kiln_model *model, size_t *count);
KILN_API kiln_status kiln_model_entry(const kiln_model *model, size_t index,
                                      const kiln_entry_info **entry);
KILN_API kiln_status kiln_model_find_entry(const kiln_model *model, const char *name,
                                           const kiln_entry_info **entry);

/* Parameters, by index or by Keras name. */
KILN_API kiln_status kiln_model_num_params(const kiln_model *model, size_t *count);
KILN_API kiln_status kiln_model_param(const kiln_model *model, size_t index,
                                      const kiln_param_info **param);
KILN_API kiln_status kiln_model_find_param(const kiln_model *model, const char *name,
                                           const kiln_param_info **param);
/* Copy a parameter's current value out; `byte_size` must be its exact size. */
KILN_API kiln_status kiln_model_get_param(const kiln_model *model, const char *name, void *data,
                                          size_t byte_size);
/* Overwrite a parameter (copy). `dtype` and `num_elements` must match the
 * parameter's. Not synchronised with running sessions (see above). Works for
 * state entries too, e.g. "optimizer/learning_rate" to change the rate. */
KILN_API kiln_status kiln_model_set_param(kiln_model *model, const char *name, kiln_dtype dtype,
                                          const void *data, size_t num_elements);
/* Restore every optimizer-state entry (is_state = 1: step counter, moments,
 * learning rate) to its initial value from the artifact, to restart training;
 * model weights are left as they are (set them with kiln_model_set_param).
 * A no-op for a model without state. Not synchronised with running sessions,
 * like kiln_model_set_param. */
KILN_API kiln_status kiln_model_reset_state(kiln_model *model);

/* ---- threads ---------------------------------------------------------- */

/* A model's GEMMs and convolutions split their work over its own pool of
 * threads, started at load: KILN_NUM_THREADS threads when that environment
 * variable holds a positive integer, else one per CPU this process may run
 * on. Results are identical bit for bit at any thread count (work is split
 * along outputs only, never along a sum). Runs create no threads; idle
 * workers spin briefly, then sleep. Sessions of one model running at the
 * same time share the pool: a kernel that finds it busy runs on its own
 * thread. A kernel uses at most as many threads as the model was compiled
 * for (kilnc --max-threads, default 16: their packing buffers are part of
 * the scratch arena). Generated loops (pooling, softmax, the optimizer
 * update) run on the calling thread.
 * num_threads: 1 (no workers) to KILN_MAX_THREADS, or 0 for the default.
 * Not while a session of the model runs (like kiln_model_set_param). */
KILN_API kiln_status kiln_model_set_num_threads(kiln_model *model, int32_t num_threads);
/* The count set (or the default): fewer may run when the system refused
 * threads, and models whose code calls no kernel use one. */
KILN_API kiln_status kiln_model_num_threads(const kiln_model *model, int32_t *num_threads);

/* ---- devices ---------------------------------------------------------- */

/* Where the model's sessions run: "cpu" (the default), "cuda" (= "cuda:0")
 * or "cuda:N". Moving to a GPU loads the model's GPU code for the device's
 * compute capability (the exact sm_XY CUBIN, else an sm_XZ CUBIN with Z <
 * the device's minor, else the newest compute_XY PTX not above the device,
 * compiled by the driver) and uploads the parameters and optimizer state
 * into one device allocation, where they stay: device runs (train_step)
 * update them there. Everything that reads parameters on the host
 * (kiln_model_get_param, checkpoints, kiln_fit's checks) copies them back
 * first; kiln_model_set_param, kiln_model_reset_state and
 * kiln_model_load_checkpoint write through. "cpu" copies them back and frees
 * the device's memory. Sessions keep their exact semantics; a session run
 * returns once its work is queued and kiln_session_output /
 * kiln_session_get_output wait for it (docs/runtime.md, "Running on a GPU").
 * Errors: KILN_ERR_INVALID_ARGUMENT (another string), KILN_ERR_BAD_STATE
 * (live sessions, or KILN_LOAD_NO_CODE), KILN_ERR_UNSUPPORTED (no GPU code,
 * or none for this device), KILN_ERR_NO_DEVICE (no driver or device, with
 * the reason), KILN_ERR_CODE_LOAD / KILN_ERR_DEVICE / KILN_ERR_OUT_OF_MEMORY
 * (the driver's error). On failure the model stays where it was. Not while
 * another thread uses the model. */
KILN_API kiln_status kiln_model_set_device(kiln_model *model, const char *device);
/* "cpu" or "cuda:N"; valid until the next kiln_model_set_device. */
KILN_API kiln_status kiln_model_device(const kiln_model *model, const char **device);
/* The architectures the model has GPU code for, comma-separated
 * ("sm_80,sm_90,compute_90"), or "" (CPU code only); valid while the model
 * lives. */
KILN_API kiln_status kiln_model_gpu_archs(const kiln_model *model, const char **archs);

/* ---- sessions --------------------------------------------------------- */

/* A session of one entry point. It owns 64-byte aligned buffers for its
 * inputs (used by kiln_session_set_input), outputs and scratch arena, and a
 * reference to the model (whose parameters it uses in place). All memory is
 * allocated here: kiln_session_run() allocates nothing. */
KILN_API kiln_status kiln_session_create(kiln_model *model, const char *entry,
                                         kiln_session **session);
/* NULL is a no-op. */
KILN_API void kiln_session_destroy(kiln_session *session);
/* The session's entry point. */
KILN_API kiln_status kiln_session_entry(const kiln_session *session, const kiln_entry_info **entry);

/* Set input `name` by copying `byte_size` bytes into the session. `dtype` must
 * match; `shape` (rank entries) is compared with the input's shape unless it
 * is NULL; `byte_size` must be the input's exact size. The value stays bound
 * for later runs until replaced. */
KILN_API kiln_status kiln_session_set_input(kiln_session *session, const char *name,
                                            kiln_dtype dtype, const int64_t *shape, int32_t rank,
                                            const void *data, size_t byte_size);
/* Bind input `name` to caller memory without copying. Same checks, and
 * `data` must be 64-byte aligned (the packed ABI's requirement). The memory
 * must stay valid and unchanged while runs use it; it is only read. */
KILN_API kiln_status kiln_session_bind_input(kiln_session *session, const char *name,
                                             kiln_dtype dtype, const int64_t *shape, int32_t rank,
                                             const void *data, size_t byte_size);
/* Run the entry point once. Every input must be bound. */
KILN_API kiln_status kiln_session_run(kiln_session *session);
/* Output `name` of the last run: a pointer into the session's own buffer
 * (valid until the next run or the session's destruction) and its size. */
KILN_API kiln_status kiln_session_output(const kiln_session *session, const char *name,
                                         const void **data, size_t *byte_size);
/* Copy output `name` of the last run out; `byte_size` must be its exact size. */
KILN_API kiln_status kiln_session_get_output(const kiln_session *session, const char *name,
                                             void *data, size_t byte_size);

/* ---- the training loop: fit, evaluate, predict -----------------------------
 * Keras's model.fit / evaluate / predict around a model's compiled entry
 * points (docs/runtime.md, "fit, evaluate, predict"). Single-input models.
 * Every sample is used exactly once per epoch: a final partial batch is
 * padded and its "samples" input set to the real count, so losses, metrics
 * and updates equal those of a batch of just those samples. Nothing is
 * allocated per step. The model's parameters and optimizer state are
 * updated in place, as with train_step. */

/* Samples in memory, row-major, batch dimension first (N >= 1). x matches
 * the entry's input without its batch dimension; y matches "labels" (i32
 * class indices or f32 rows). */
typedef struct kiln_dataset {
  const void *x;
  kiln_dtype x_dtype;
  const int64_t *x_shape; /* x_rank entries, x_shape[0] = N */
  int32_t x_rank;
  const void *y;          /* may be NULL for kiln_predict */
  kiln_dtype y_dtype;
  const int64_t *y_shape; /* y_rank entries, y_shape[0] = N */
  int32_t y_rank;
} kiln_dataset;

/* One named value: "loss", "sparse_categorical_accuracy", "val_loss", ... */
typedef struct kiln_metric {
  const char *name;
  double value;
} kiln_metric;

typedef enum kiln_progress_kind {
  KILN_PROGRESS_BATCH = 0, /* after each training batch: running means of this epoch so far */
  KILN_PROGRESS_EPOCH = 1  /* after each epoch: its means, and val_* metrics with validation */
} kiln_progress_kind;

typedef struct kiln_progress {
  kiln_progress_kind kind;
  int64_t epoch, epochs;  /* 0-based epoch; total epochs of this fit */
  int64_t step, steps;    /* batches done in this epoch; batches per epoch */
  int64_t samples;        /* samples done in this epoch */
  size_t num_metrics;
  const kiln_metric *metrics;     /* loss then the model's metrics; then val_loss, val_... at epoch end */
  double seconds;                 /* since the epoch began */
  int improved;                   /* epoch end with early stopping: the monitored value improved */
} kiln_progress;

/* Called by kiln_fit; return nonzero to stop (kiln_fit then returns
 * KILN_ERR_STOPPED after saving the checkpoint of the last whole epoch). */
typedef int (*kiln_progress_fn)(const kiln_progress *progress, void *user);

typedef struct kiln_fit_options {
  int64_t epochs;              /* 0: the model file's fit(epochs=...) */
  int64_t batch_size;          /* 0: the fit(batch_size=...) entry if compiled, else the first train_step */
  int64_t initial_epoch;       /* resume: epochs before this one are skipped (see kiln_model_load_checkpoint) */
  int shuffle;                 /* 1: a new order each epoch; 0: data order; -1 (default): the model file's fit(shuffle=...), on when absent */
  uint64_t seed;               /* shuffling: the order of epoch e depends only on (seed, e) */
  double validation_split;     /* in [0, 1): the last fraction of the samples, held out (as Keras); -1 (default): the model file's */
  const kiln_dataset *validation_data; /* evaluated after each epoch; overrides validation_split */
  const char *monitor;         /* early stopping on this metric ("val_loss", "val_..."); NULL: off */
  int64_t patience;            /* epochs without improvement before stopping */
  double min_delta;            /* smallest change that counts as improvement */
  int restore_best_weights;    /* at the end, parameters (and state) of the best epoch */
  const char *checkpoint_path; /* written (atomically) after every epoch; NULL: none */
  kiln_progress_fn progress;   /* NULL: silent */
  void *user;
} kiln_fit_options;

/* The defaults: epochs, batch size, shuffle and validation_split from the
 * model file's fit(...) (Keras's when it has none: 1, the first compiled
 * batch, on, 0), seed 0, no validation data, early stopping, checkpoints or
 * callback. */
KILN_API void kiln_fit_options_init(kiln_fit_options *options);

/* Trains. A NaN or infinite loss or parameter stops training with
 * KILN_ERR_NON_FINITE; kiln_last_error() names the epoch, the step and the
 * first non-finite tensor; the last checkpoint (if any) is kept as it was. */
KILN_API kiln_status kiln_fit(kiln_model *model, const kiln_dataset *train, const kiln_fit_options *options);

/* Loss and metrics over every sample once (eval_step, batch_size as for
 * kiln_fit). Writes up to `capacity` metrics and sets *count. Names and
 * values are valid until the next call on this model. */
KILN_API kiln_status kiln_evaluate(kiln_model *model, const kiln_dataset *data, int64_t batch_size,
                                   kiln_metric *metrics, size_t capacity, size_t *count);

/* The model's output for every sample of data->x (predict, batch_size as
 * above, 0: the first predict entry): `out` holds N x (output size) f32. */
KILN_API kiln_status kiln_predict(kiln_model *model, const kiln_dataset *data, int64_t batch_size,
                                  float *out, size_t out_byte_size);

/* A checkpoint: every parameter and optimizer state entry by name, as
 * .safetensors (Keras names and layouts), with metadata {"epoch": "<n>"}.
 * Written to a temporary file in the same directory, fsync'ed and renamed:
 * a crash leaves the previous file intact. */
KILN_API kiln_status kiln_model_save_checkpoint(const kiln_model *model, const char *path, int64_t epoch);
/* Restores what a checkpoint holds (parameters, and optimizer state when
 * present; every name must exist with its shape) and sets *epoch (may be
 * NULL) to the epochs it had completed. */
KILN_API kiln_status kiln_model_load_checkpoint(kiln_model *model, const char *path, int64_t *epoch);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_RUNTIME_H */
