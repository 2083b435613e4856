//===- Fit.cpp - kiln_fit, kiln_evaluate, kiln_predict ---------------------===//
//
// Keras's model.fit / evaluate / predict around a model's compiled entry
// points (docs/runtime.md, "fit, evaluate, predict").
//
// - Batches are gathered row by row into the session's own input buffers
//   (allocated once, at session creation); a final partial batch is padded
//   with zeros and its "samples" input set to the real count, so that the
//   compiled loss, metrics and gradients cover exactly those rows.
// - The order of epoch e is a Fisher-Yates shuffle of the training rows
//   driven by splitmix64 seeded from (seed, e) alone, so resuming at
//   initial_epoch reproduces a straight run bit for bit.
// - Epoch metrics are sample-weighted means of the per-batch outputs, i.e.
//   the mean over all samples of the per-sample values.
// - Nothing is allocated per step: sessions, the permutation, metric arrays
//   and the early-stopping snapshot are allocated once per call.
//
//===----------------------------------------------------------------------===//

#include "runtime/Internal.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <string>
#include <unistd.h>
#include <vector>

using namespace kiln::rt;

namespace {

constexpr int kMaxName = kMaxNameInMessage;

double now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

//===--- entry points -------------------------------------------------------===//

/// Whether `name` is `base` or `base_b<digits>` (kilnc's batch suffix).
bool isFamily(const std::string &name, const char *base) {
  size_t n = std::strlen(base);
  if (name.compare(0, n, base) != 0)
    return false;
  if (name.size() == n)
    return true;
  if (name.size() < n + 3 || name[n] != '_' || name[n + 1] != 'b')
    return false;
  for (size_t i = n + 2; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9')
      return false;
  return true;
}

/// The entry point `base` for `batch` (> 0: exactly that batch size; 0: the
/// model file's fit(batch_size=...) when `useFitDefault` and compiled, else
/// the first one).
kiln_status pickEntry(const char *fn, const kiln_model &m, const char *base, int64_t batch, bool useFitDefault,
                      const EntryDesc **out) {
  std::vector<const EntryDesc *> family;
  for (const EntryDesc &e : m.desc.entries)
    if (isFamily(e.name, base))
      family.push_back(&e);
  if (family.empty())
    return fail(KILN_ERR_NOT_FOUND, "%s: model '%.*s' has no '%s' entry point%s", fn, kMaxName, m.desc.name.c_str(),
                base,
                std::strcmp(base, "predict") ? " (compile the model file with compile(...) to train or evaluate it)"
                                             : "");
  if (batch < 0)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: batch_size is %lld; it must be >= 0 (0: the default)", fn,
                static_cast<long long>(batch));
  if (batch == 0 && useFitDefault && m.desc.hasFit)
    for (const EntryDesc *e : family)
      if (e->batchSize == m.desc.fitBatchSize) {
        *out = e;
        return KILN_OK;
      }
  if (batch == 0) {
    *out = family.front();
    return KILN_OK;
  }
  std::string sizes;
  for (const EntryDesc *e : family) {
    if (e->batchSize == batch) {
      *out = e;
      return KILN_OK;
    }
    sizes += (sizes.empty() ? "" : ", ") + std::to_string(e->batchSize);
  }
  return fail(KILN_ERR_NOT_FOUND,
              "%s: model '%.*s' has no '%s' entry point for batch size %lld (compiled batch sizes: %s; recompile "
              "with kilnc --batch-size=%lld,...)",
              fn, kMaxName, m.desc.name.c_str(), base, static_cast<long long>(batch), sizes.c_str(),
              static_cast<long long>(batch));
}

/// Where the data goes in an entry point: the model input, "labels" and
/// "samples" (indices into its inputs; -1 when absent).
struct Slots {
  long x = -1, labels = -1, samples = -1;
};

kiln_status findSlots(const char *fn, const EntryDesc &e, bool training, Slots &out) {
  for (size_t i = 0; i < e.inputs.size(); ++i) {
    const TensorDesc &t = e.inputs[i];
    if (training && t.name == "labels") {
      out.labels = static_cast<long>(i);
    } else if (training && t.name == "samples" && t.dtype == KILN_F32 && t.shape.empty()) {
      out.samples = static_cast<long>(i);
    } else {
      if (out.x >= 0)
        return fail(KILN_ERR_UNSUPPORTED,
                    "%s: entry point '%.*s' has several model inputs ('%.*s', '%.*s'); fit, evaluate and predict "
                    "handle single-input models",
                    fn, kMaxName, e.name.c_str(), kMaxName, e.inputs[static_cast<size_t>(out.x)].name.c_str(),
                    kMaxName, t.name.c_str());
      out.x = static_cast<long>(i);
    }
  }
  if (out.x < 0)
    return fail(KILN_ERR_UNSUPPORTED, "%s: entry point '%.*s' has no model input", fn, kMaxName, e.name.c_str());
  const TensorDesc &x = e.inputs[static_cast<size_t>(out.x)];
  if (x.shape.empty() || x.shape[0] != e.batchSize)
    return fail(KILN_ERR_UNSUPPORTED, "%s: input '%.*s' of '%.*s' has shape %s: no batch dimension of %lld", fn,
                kMaxName, x.name.c_str(), kMaxName, e.name.c_str(), shapeText(x.shape).c_str(),
                static_cast<long long>(e.batchSize));
  if (training) {
    if (out.labels < 0)
      return fail(KILN_ERR_UNSUPPORTED, "%s: entry point '%.*s' has no 'labels' input", fn, kMaxName, e.name.c_str());
    const TensorDesc &y = e.inputs[static_cast<size_t>(out.labels)];
    if (y.shape.empty() || y.shape[0] != e.batchSize)
      return fail(KILN_ERR_UNSUPPORTED, "%s: 'labels' of '%.*s' has no batch dimension", fn, kMaxName,
                  e.name.c_str());
    if (e.outputs.empty())
      return fail(KILN_ERR_UNSUPPORTED, "%s: entry point '%.*s' has no outputs (expected 'loss', then metrics)", fn,
                  kMaxName, e.name.c_str());
    for (const TensorDesc &o : e.outputs)
      if (o.dtype != KILN_F32 || !o.shape.empty())
        return fail(KILN_ERR_UNSUPPORTED, "%s: output '%.*s' of '%.*s' is not an f32 scalar (a loss or metric)", fn,
                    kMaxName, o.name.c_str(), kMaxName, e.name.c_str());
  }
  return KILN_OK;
}

/// A session and pointers to its buffers, bound once.
struct Runner {
  kiln_session *session = nullptr;
  const EntryDesc *entry = nullptr;
  Slots slots;
  uint8_t *x = nullptr, *y = nullptr;
  float *samples = nullptr;
  size_t xRow = 0, yRow = 0; // bytes per sample
  int64_t batch = 0;
  std::vector<const float *> outputs;

  Runner() = default;
  Runner(const Runner &) = delete;
  Runner &operator=(const Runner &) = delete;
  ~Runner() { kiln_session_destroy(session); }

  kiln_status open(const char *fn, kiln_model *m, const EntryDesc *e, bool training) {
    entry = e;
    batch = e->batchSize;
    if (kiln_status s = findSlots(fn, *e, training, slots))
      return s;
    if (kiln_status s = kiln_session_create(m, e->name.c_str(), &session))
      return prefixError(s, "%s: ", fn);
    // The session's own input buffers, bound for every run.
    auto bind = [&](long i) {
      size_t k = static_cast<size_t>(i);
      session->args[k] = session->ownedInputs[k];
      session->bound[k] = 1;
      return session->ownedInputs[k];
    };
    x = bind(slots.x);
    xRow = e->inputs[static_cast<size_t>(slots.x)].byteSize / static_cast<size_t>(batch);
    if (slots.labels >= 0) {
      y = bind(slots.labels);
      yRow = e->inputs[static_cast<size_t>(slots.labels)].byteSize / static_cast<size_t>(batch);
    }
    if (slots.samples >= 0)
      samples = reinterpret_cast<float *>(bind(slots.samples));
    size_t base = e->inputs.size() + e->paramIndices.size();
    for (size_t i = 0; i < e->outputs.size(); ++i)
      outputs.push_back(static_cast<const float *>(session->args[base + i]));
    return KILN_OK;
  }

  /// Copies `count` rows (row k is rows[first + k], or first + k without
  /// `rows`) of `src` into a batch buffer and zeroes the padding rows.
  static void gather(uint8_t *dst, const uint8_t *src, size_t rowBytes, const int64_t *rows, int64_t first,
                     int64_t count, int64_t batch) {
    if (!rows) {
      std::memcpy(dst, src + static_cast<size_t>(first) * rowBytes, static_cast<size_t>(count) * rowBytes);
    } else {
      for (int64_t k = 0; k < count; ++k)
        std::memcpy(dst + static_cast<size_t>(k) * rowBytes, src + static_cast<size_t>(rows[first + k]) * rowBytes,
                    rowBytes);
    }
    if (count < batch)
      std::memset(dst + static_cast<size_t>(count) * rowBytes, 0, static_cast<size_t>(batch - count) * rowBytes);
  }

  /// Fills the inputs with `count` (<= batch) samples and runs once; the
  /// outputs can be read when it returns (on a GPU too).
  kiln_status run(const kiln_dataset &d, const int64_t *rows, int64_t first, int64_t count) {
    gather(x, static_cast<const uint8_t *>(d.x), xRow, rows, first, count, batch);
    if (y)
      gather(y, static_cast<const uint8_t *>(d.y), yRow, rows, first, count, batch);
    if (samples)
      *samples = static_cast<float>(count);
    if (kiln_status s = runSession(*session))
      return s;
    session->ran = true;
    return awaitOutputs(*session);
  }
};

/// Checks `d` against the entry's input (and labels when `needLabels`) and
/// sets *n to its number of samples.
kiln_status checkDataset(const char *fn, const char *what, const kiln_dataset *d, const Runner &r, bool needLabels,
                         int64_t *n) {
  if (!d)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, what);
  const EntryDesc &e = *r.entry;
  const TensorDesc &x = e.inputs[static_cast<size_t>(r.slots.x)];
  if (!d->x)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: %s: x is NULL", fn, what);
  if (!d->x_shape || d->x_rank < 1 || d->x_rank > KILN_MAX_RANK + 1)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: %s: x needs a shape with a batch dimension (x_shape %s, x_rank %d)",
                fn, what, d->x_shape ? "set" : "NULL", d->x_rank);
  int xd = rawValue(&d->x_dtype);
  if (xd != x.dtype)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: %s: x has dtype %s; input '%.*s' of '%.*s' is %s", fn, what,
                kiln_dtype_name(static_cast<kiln_dtype>(xd == KILN_F32 || xd == KILN_I32 ? xd : -1)), kMaxName,
                x.name.c_str(), kMaxName, e.name.c_str(), kiln_dtype_name(x.dtype));
  int64_t count = d->x_shape[0];
  bool same = static_cast<size_t>(d->x_rank) == x.shape.size() && count >= 1;
  for (size_t i = 1; same && i < x.shape.size(); ++i)
    same = d->x_shape[i] == x.shape[i];
  if (!same)
    return fail(KILN_ERR_INVALID_ARGUMENT,
                "%s: %s: x has shape %s; input '%.*s' of '%.*s' takes samples of shape %s (N >= 1 first)", fn, what,
                shapeText(d->x_shape, static_cast<size_t>(d->x_rank)).c_str(), kMaxName, x.name.c_str(), kMaxName,
                e.name.c_str(), shapeText(x.shape.data() + 1, x.shape.size() - 1).c_str());
  if (static_cast<uint64_t>(count) > SIZE_MAX / (r.xRow ? r.xRow : 1))
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: %s: %lld samples do not fit in memory", fn, what,
                static_cast<long long>(count));
  if (needLabels) {
    const TensorDesc &y = e.inputs[static_cast<size_t>(r.slots.labels)];
    if (!d->y)
      return fail(KILN_ERR_INVALID_ARGUMENT, "%s: %s: y (the labels) is NULL", fn, what);
    int yd = rawValue(&d->y_dtype);
    if (yd != y.dtype)
      return fail(KILN_ERR_INVALID_ARGUMENT, "%s: %s: y has dtype %s; 'labels' of '%.*s' is %s%s", fn, what,
                  kiln_dtype_name(static_cast<kiln_dtype>(yd == KILN_F32 || yd == KILN_I32 ? yd : -1)), kMaxName,
                  e.name.c_str(), kiln_dtype_name(y.dtype),
                  y.dtype == KILN_I32 ? " (class indices)" : "");
    if (!d->y_shape || d->y_rank < 1 || d->y_rank > KILN_MAX_RANK + 1)
      return fail(KILN_ERR_INVALID_ARGUMENT, "%s: %s: y needs a shape with a batch dimension", fn, what);
    // Same elements per sample: (N,) and (N, 1) are interchangeable.
    int64_t perSample = 1;
    bool fits = true;
    for (int32_t i = 1; i < d->y_rank; ++i) {
      if (d->y_shape[i] < 1 || perSample > INT64_MAX / d->y_shape[i])
        fits = false;
      else
        perSample *= d->y_shape[i];
    }
    int64_t want = y.numElements / e.batchSize;
    if (d->y_shape[0] != count || !fits || perSample != want)
      return fail(KILN_ERR_INVALID_ARGUMENT,
                  "%s: %s: y has shape %s; expected %lld samples (as x) of shape %s ('labels' of '%.*s')", fn, what,
                  shapeText(d->y_shape, static_cast<size_t>(d->y_rank)).c_str(), static_cast<long long>(count),
                  shapeText(y.shape.data() + 1, y.shape.size() - 1).c_str(), kMaxName, e.name.c_str());
  }
  *n = count;
  return KILN_OK;
}

/// Sample-weighted means of an entry's scalar outputs over rows
/// [begin, begin + count) of `d`, in order.
kiln_status evaluateRows(Runner &r, const kiln_dataset &d, int64_t begin, int64_t count, double *means) {
  size_t k = r.outputs.size();
  for (size_t i = 0; i < k; ++i)
    means[i] = 0;
  for (int64_t done = 0; done < count;) {
    int64_t n = count - done < r.batch ? count - done : r.batch;
    if (kiln_status s = r.run(d, nullptr, begin + done, n))
      return s;
    for (size_t i = 0; i < k; ++i)
      means[i] += static_cast<double>(*r.outputs[i]) * static_cast<double>(n);
    done += n;
  }
  for (size_t i = 0; i < k; ++i)
    means[i] /= static_cast<double>(count);
  return KILN_OK;
}

//===--- shuffling ------------------------------------------------------------===//

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// The order of epoch `epoch`: identity, then Fisher-Yates with a splitmix64
/// stream whose state depends only on (seed, epoch).
void epochOrder(std::vector<int64_t> &order, uint64_t seed, int64_t epoch, bool shuffle) {
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = static_cast<int64_t>(i);
  if (!shuffle)
    return;
  uint64_t s = seed;
  uint64_t mixedSeed = splitmix64(s);
  uint64_t e = static_cast<uint64_t>(epoch) ^ 0x6A09E667F3BCC909ull;
  uint64_t state = mixedSeed ^ splitmix64(e);
  for (size_t i = order.size(); i > 1; --i) {
    // j uniform in [0, i): the high half of a 64x64-bit product.
    uint64_t j = static_cast<uint64_t>((static_cast<unsigned __int128>(splitmix64(state)) * i) >> 64);
    int64_t t = order[i - 1];
    order[i - 1] = order[j];
    order[j] = t;
  }
}

//===--- non-finite values ----------------------------------------------------===//

/// Whether every f32 in [p, p + n) is finite (exponent bits not all ones;
/// an integer test, so it vectorises).
bool allFinite(const uint8_t *p, size_t n) {
  const uint32_t *w = reinterpret_cast<const uint32_t *>(p);
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i)
    bad |= static_cast<uint32_t>((w[i] & 0x7F800000u) == 0x7F800000u);
  return bad == 0;
}

/// The first f32 parameter (model order) holding a NaN or an infinity, or
/// null. The host copy must be current (paramsToHost).
const ParamDesc *firstNonFiniteParam(const kiln_model &m) {
  for (const ParamDesc &p : m.desc.params)
    if (p.tensor.dtype == KILN_F32 &&
        !allFinite(m.paramStorage.data() + p.offset, static_cast<size_t>(p.tensor.numElements)))
      return &p;
  return nullptr;
}

/// The double the model file wrote for a float32 field: its shortest decimal
/// form (0.1f -> 0.1, not 0.100000001), so that the split point is Keras's
/// int(N * (1 - 0.1)).
double decimalOf(float f) {
  char buf[32];
  for (int digits = 1; digits <= 9; ++digits) {
    snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(f));
    if (std::strtof(buf, nullptr) == f)
      return std::strtod(buf, nullptr);
  }
  return static_cast<double>(f);
}

//===--- early stopping ---------------------------------------------------------===//

/// Keras's mode "auto": max for accuracy-like metrics, min otherwise (losses,
/// errors).
bool higherIsBetter(const std::string &metric) {
  std::string name = metric.compare(0, 4, "val_") == 0 ? metric.substr(4) : metric;
  return name.find("acc") != std::string::npos || name.find("auc") != std::string::npos ||
         name.find("precision") != std::string::npos || name.find("recall") != std::string::npos;
}

} // namespace

extern "C" {

KILN_API void kiln_fit_options_init(kiln_fit_options *options) {
  if (!options)
    return;
  std::memset(options, 0, sizeof *options);
  options->epochs = 0;            // the model file's fit(epochs=...)
  options->batch_size = 0;        // the model file's fit(batch_size=...) entry, else the first
  options->shuffle = -1;          // the model file's fit(shuffle=...), default on
  options->validation_split = -1; // the model file's fit(validation_split=...), default 0
  options->seed = 0;
  options->monitor = nullptr;
  options->patience = 0;
  options->min_delta = 0;
  options->restore_best_weights = 0;
  options->checkpoint_path = nullptr;
  options->progress = nullptr;
  options->user = nullptr;
}

KILN_API kiln_status kiln_fit(kiln_model *model, const kiln_dataset *train, const kiln_fit_options *options) {
  const char *fn = "kiln_fit";
  if (!model)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_fit: model is NULL");
  kiln_fit_options defaults;
  kiln_fit_options_init(&defaults);
  const kiln_fit_options &o = options ? *options : defaults;
  const ArtifactDesc &desc = model->desc;

  // --- settings: explicit options, else the model file's fit(...) ----------
  int64_t epochs = o.epochs;
  if (epochs < 0)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_fit: epochs is %lld; it must be >= 0 (0: the model file's)",
                static_cast<long long>(epochs));
  if (epochs == 0) {
    epochs = desc.hasFit ? desc.fitEpochs : 1;
    if (epochs < 1)
      return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_fit: the model file's fit(epochs=%lld) is not >= 1",
                  static_cast<long long>(epochs));
  }
  if (o.initial_epoch < 0)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_fit: initial_epoch is %lld; it must be >= 0",
                static_cast<long long>(o.initial_epoch));
  bool shuffle = o.shuffle < 0 ? (desc.hasFit ? desc.fitShuffle : true) : o.shuffle != 0;
  double split = o.validation_split;
  if (split < 0 && !std::isnan(split))
    split = desc.hasFit ? decimalOf(desc.fitValidationSplit) : 0.0;
  if (!(split >= 0 && split < 1))
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_fit: validation_split is %g; it must be in [0, 1)%s", split,
                o.validation_split < 0 ? " (the model file's fit(validation_split=...))" : "");
  if (o.patience < 0)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_fit: patience is %lld; it must be >= 0",
                static_cast<long long>(o.patience));
  if (!std::isfinite(o.min_delta))
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_fit: min_delta is %g; it must be finite", o.min_delta);
  if (o.checkpoint_path && !*o.checkpoint_path)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_fit: checkpoint_path is empty (NULL: no checkpoints)");
  if (o.checkpoint_path) {
    // Fail now rather than after the first epoch.
    const char *slash = std::strrchr(o.checkpoint_path, '/');
    std::string dir = !slash ? "." : slash == o.checkpoint_path ? "/" : std::string(o.checkpoint_path, slash);
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
      return fail(KILN_ERR_IO, "kiln_fit: checkpoint_path %s: cannot write in directory '%s': %s", o.checkpoint_path,
                  dir.c_str(), std::strerror(errno));
  }

  // --- entry points and data -----------------------------------------------
  const EntryDesc *trainEntry = nullptr;
  if (kiln_status s = pickEntry(fn, *model, "train_step", o.batch_size, true, &trainEntry))
    return s;
  Runner trainer;
  if (kiln_status s = trainer.open(fn, model, trainEntry, true))
    return s;
  int64_t n = 0;
  if (kiln_status s = checkDataset(fn, "the training data", train, trainer, true, &n))
    return s;
  const int64_t batch = trainer.batch;

  const kiln_dataset *valData = nullptr;
  int64_t trainCount = n, valBegin = 0, valCount = 0;
  if (o.validation_data) {
    valData = o.validation_data;
  } else if (split > 0) {
    // Keras: the last fraction, split at floor(N * (1 - split)), before shuffling.
    // (The product is >= 0: truncation is floor, without libm.)
    int64_t at = static_cast<int64_t>(static_cast<double>(n) * (1.0 - split));
    if (at <= 0 || at >= n)
      return fail(KILN_ERR_INVALID_ARGUMENT,
                  "kiln_fit: validation_split %g of %lld samples leaves %lld for training and %lld for validation; "
                  "both need at least one",
                  split, static_cast<long long>(n), static_cast<long long>(at < 0 ? 0 : at),
                  static_cast<long long>(n - (at < 0 ? 0 : at)));
    trainCount = at;
    valData = train;
    valBegin = at;
    valCount = n - at;
  }
  if (trainer.slots.samples < 0 && trainCount % batch != 0)
    return fail(KILN_ERR_UNSUPPORTED,
                "kiln_fit: '%.*s' has no 'samples' input (a .kbin from an older kilnc), so it cannot run a partial "
                "batch; %lld training samples are not a multiple of its batch of %lld (recompile the model)",
                kMaxName, trainEntry->name.c_str(), static_cast<long long>(trainCount),
                static_cast<long long>(batch));
  Runner validator;
  if (valData) {
    const EntryDesc *evalEntry = nullptr;
    if (kiln_status s = pickEntry(fn, *model, "eval_step", batch, false, &evalEntry))
      return s;
    if (kiln_status s = validator.open(fn, model, evalEntry, true))
      return s;
    if (valData != train) {
      if (kiln_status s = checkDataset(fn, "validation_data", valData, validator, true, &valCount))
        return s;
    }
    if (validator.slots.samples < 0 && valCount % batch != 0)
      return fail(KILN_ERR_UNSUPPORTED, "kiln_fit: '%.*s' has no 'samples' input, so it cannot run a partial batch",
                  kMaxName, evalEntry->name.c_str());
    if (evalEntry->outputs.size() != trainEntry->outputs.size())
      return fail(KILN_ERR_UNSUPPORTED, "kiln_fit: '%.*s' and '%.*s' have different outputs", kMaxName,
                  trainEntry->name.c_str(), kMaxName, evalEntry->name.c_str());
  }

  // --- metrics: names and storage, allocated once ----------------------------
  const size_t k = trainEntry->outputs.size();
  std::vector<std::string> names;
  for (const TensorDesc &t : trainEntry->outputs)
    names.push_back(t.name);
  if (valData)
    for (const TensorDesc &t : trainEntry->outputs)
      names.push_back("val_" + t.name);
  std::vector<kiln_metric> metrics(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    metrics[i].name = names[i].c_str();
    metrics[i].value = 0;
  }
  std::vector<double> sums(k), valMeans(k);

  // --- early stopping ----------------------------------------------------------
  long monitorIndex = -1;
  bool maximize = false;
  if (o.monitor) {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == o.monitor)
        monitorIndex = static_cast<long>(i);
    if (monitorIndex < 0) {
      std::string list;
      for (const std::string &s : names)
        list += (list.empty() ? "" : ", ") + s;
      return fail(KILN_ERR_NOT_FOUND, "kiln_fit: monitor '%.*s' is not a metric of this fit (it has: %s%s)", kMaxName,
                  o.monitor, list.c_str(),
                  valData ? "" : "; val_* metrics need validation_split or validation_data");
    }
    maximize = higherIsBetter(o.monitor);
  }
  const double minDelta = std::fabs(o.min_delta);
  bool haveBest = false;
  double best = 0;
  int64_t wait = 0;
  AlignedBuffer snapshot; // parameters and optimizer state of the best epoch
  bool snapshotTaken = false;
  if (o.monitor && o.restore_best_weights && !snapshot.allocate(model->paramStorage.size()))
    return fail(KILN_ERR_OUT_OF_MEMORY, "kiln_fit: cannot allocate %zu bytes for restore_best_weights",
                model->paramStorage.size());
  // The host copy is made current first so that nothing still queued on a
  // GPU overwrites the restored values; then written through.
  auto restoreBest = [&]() -> kiln_status {
    if (!snapshotTaken)
      return KILN_OK;
    if (kiln_status s = paramsToHost(*model))
      return s;
    std::memcpy(model->paramStorage.data(), snapshot.data(), model->paramStorage.size());
    return paramsToDevice(*model, 0, model->paramStorage.size());
  };

  std::vector<int64_t> order(static_cast<size_t>(trainCount));
  const int64_t steps = (trainCount + batch - 1) / batch;

  // --- the epochs -------------------------------------------------------------
  for (int64_t epoch = o.initial_epoch; epoch < epochs; ++epoch) {
    epochOrder(order, o.seed, epoch, shuffle);
    for (size_t i = 0; i < k; ++i)
      sums[i] = 0;
    int64_t seen = 0;
    double start = o.progress ? now() : 0;
    for (int64_t step = 0; step < steps; ++step) {
      int64_t count = trainCount - seen < batch ? trainCount - seen : batch;
      if (kiln_status s = trainer.run(*train, order.data(), seen, count)) {
        prefixError(s, "kiln_fit: epoch %lld/%lld, step %lld/%lld: ", static_cast<long long>(epoch + 1),
                    static_cast<long long>(epochs), static_cast<long long>(step + 1), static_cast<long long>(steps));
        restoreBest();
        return s;
      }
      seen += count;
      float loss = *trainer.outputs[0];
      // On a GPU the parameters are checked only at the end of each epoch or
      // after a non-finite loss (copying them back every step would cost a
      // transfer per step; a non-finite parameter makes the next loss
      // non-finite anyway). On the CPU, every step.
      const ParamDesc *bad = nullptr;
      if (!model->gpu || !std::isfinite(loss) || step + 1 == steps) {
        if (kiln_status s = paramsToHost(*model))
          return prefixError(s, "kiln_fit: epoch %lld/%lld, step %lld/%lld: ", static_cast<long long>(epoch + 1),
                             static_cast<long long>(epochs), static_cast<long long>(step + 1),
                             static_cast<long long>(steps));
        bad = firstNonFiniteParam(*model);
      }
      if (!std::isfinite(loss) || bad) {
        if (!std::isfinite(loss))
          fail(KILN_ERR_NON_FINITE,
               "kiln_fit: epoch %lld/%lld, step %lld/%lld: non-finite loss: '%.*s' is %s%s%.*s%s; training "
               "stopped%s",
               static_cast<long long>(epoch + 1), static_cast<long long>(epochs), static_cast<long long>(step + 1),
               static_cast<long long>(steps), kMaxName, trainEntry->outputs[0].name.c_str(),
               std::isnan(loss) ? "nan" : "inf", bad ? " (first non-finite parameter: '" : " (the parameters are finite",
               kMaxName, bad ? bad->tensor.name.c_str() : "", bad ? "')" : ")",
               o.checkpoint_path ? ", the last checkpoint is kept as it was" : "");
        else
          fail(KILN_ERR_NON_FINITE,
               "kiln_fit: epoch %lld/%lld, step %lld/%lld: parameter '%.*s' holds NaN or infinite values after the "
               "update (loss %g); training stopped%s",
               static_cast<long long>(epoch + 1), static_cast<long long>(epochs), static_cast<long long>(step + 1),
               static_cast<long long>(steps), kMaxName, bad->tensor.name.c_str(), static_cast<double>(loss),
               o.checkpoint_path ? ", the last checkpoint is kept as it was" : "");
        restoreBest();
        return KILN_ERR_NON_FINITE;
      }
      for (size_t i = 0; i < k; ++i)
        sums[i] += static_cast<double>(*trainer.outputs[i]) * static_cast<double>(count);
      if (o.progress) {
        for (size_t i = 0; i < k; ++i)
          metrics[i].value = sums[i] / static_cast<double>(seen);
        kiln_progress p;
        std::memset(&p, 0, sizeof p);
        p.kind = KILN_PROGRESS_BATCH;
        p.epoch = epoch;
        p.epochs = epochs;
        p.step = step + 1;
        p.steps = steps;
        p.samples = seen;
        p.num_metrics = k;
        p.metrics = metrics.data();
        p.seconds = now() - start;
        if (o.progress(&p, o.user)) {
          restoreBest();
          return fail(KILN_ERR_STOPPED, "kiln_fit: stopped by the progress callback at epoch %lld/%lld, step %lld/%lld",
                      static_cast<long long>(epoch + 1), static_cast<long long>(epochs),
                      static_cast<long long>(step + 1), static_cast<long long>(steps));
        }
      }
    }
    for (size_t i = 0; i < k; ++i)
      metrics[i].value = sums[i] / static_cast<double>(trainCount);
    if (valData) {
      if (kiln_status s = evaluateRows(validator, *valData, valBegin, valCount, valMeans.data())) {
        prefixError(s, "kiln_fit: epoch %lld/%lld: validation: ", static_cast<long long>(epoch + 1),
                    static_cast<long long>(epochs));
        restoreBest();
        return s;
      }
      for (size_t i = 0; i < k; ++i)
        metrics[k + i].value = valMeans[i];
    }

    bool improved = false, stop = false;
    if (monitorIndex >= 0) {
      double current = metrics[static_cast<size_t>(monitorIndex)].value;
      // Keras: current - min_delta > best (max) or current + min_delta < best (min).
      if (!std::isnan(current))
        improved = !haveBest || (maximize ? current - minDelta > best : current + minDelta < best);
      ++wait;
      if (improved) {
        haveBest = true;
        best = current;
        wait = 0;
        if (snapshot.data()) {
          if (kiln_status s = paramsToHost(*model))
            return prefixError(s, "kiln_fit: epoch %lld/%lld: ", static_cast<long long>(epoch + 1),
                               static_cast<long long>(epochs));
          std::memcpy(snapshot.data(), model->paramStorage.data(), model->paramStorage.size());
          snapshotTaken = true;
        }
      } else if (wait >= o.patience && epoch > 0) {
        stop = true; // Keras: `patience` epochs in a row without improvement
      }
    }
    if (o.checkpoint_path)
      if (kiln_status s = saveCheckpoint(*model, o.checkpoint_path, epoch + 1)) {
        prefixError(s, "kiln_fit: epoch %lld/%lld: checkpoint: ", static_cast<long long>(epoch + 1),
                    static_cast<long long>(epochs));
        restoreBest();
        return s;
      }
    if (o.progress) {
      kiln_progress p;
      std::memset(&p, 0, sizeof p);
      p.kind = KILN_PROGRESS_EPOCH;
      p.epoch = epoch;
      p.epochs = epochs;
      p.step = steps;
      p.steps = steps;
      p.samples = trainCount;
      p.num_metrics = metrics.size();
      p.metrics = metrics.data();
      p.seconds = now() - start;
      p.improved = improved ? 1 : 0;
      if (o.progress(&p, o.user)) {
        restoreBest();
        return fail(KILN_ERR_STOPPED, "kiln_fit: stopped by the progress callback after epoch %lld/%lld",
                    static_cast<long long>(epoch + 1), static_cast<long long>(epochs));
      }
    }
    if (stop)
      break;
  }
  if (kiln_status s = restoreBest())
    return prefixError(s, "kiln_fit: restoring the best epoch's parameters: ");
  return ok();
}

KILN_API kiln_status kiln_evaluate(kiln_model *model, const kiln_dataset *data, int64_t batch_size,
                                   kiln_metric *metrics, size_t capacity, size_t *count) {
  const char *fn = "kiln_evaluate";
  if (!model)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_evaluate: model is NULL");
  if (!count)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_evaluate: count (the out pointer) is NULL");
  if (!metrics && capacity)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_evaluate: metrics is NULL with capacity %zu", capacity);
  const EntryDesc *entry = nullptr;
  if (kiln_status s = pickEntry(fn, *model, "eval_step", batch_size, true, &entry))
    return s;
  Runner r;
  if (kiln_status s = r.open(fn, model, entry, true))
    return s;
  int64_t n = 0;
  if (kiln_status s = checkDataset(fn, "data", data, r, true, &n))
    return s;
  if (r.slots.samples < 0 && n % r.batch != 0)
    return fail(KILN_ERR_UNSUPPORTED,
                "kiln_evaluate: '%.*s' has no 'samples' input (an older .kbin), so it cannot run a partial batch; "
                "%lld samples are not a multiple of %lld",
                kMaxName, entry->name.c_str(), static_cast<long long>(n), static_cast<long long>(r.batch));
  std::vector<double> means(entry->outputs.size());
  if (kiln_status s = evaluateRows(r, *data, 0, n, means.data()))
    return prefixError(s, "kiln_evaluate: ");
  for (size_t i = 0; i < means.size() && i < capacity; ++i) {
    metrics[i].name = entry->outputs[i].name.c_str(); // owned by the model
    metrics[i].value = means[i];
  }
  *count = means.size();
  return ok();
}

KILN_API kiln_status kiln_predict(kiln_model *model, const kiln_dataset *data, int64_t batch_size, float *out,
                                  size_t out_byte_size) {
  const char *fn = "kiln_predict";
  if (!model)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_predict: model is NULL");
  const EntryDesc *entry = nullptr;
  if (kiln_status s = pickEntry(fn, *model, "predict", batch_size, false, &entry))
    return s;
  if (entry->outputs.size() != 1 || entry->outputs[0].dtype != KILN_F32 || entry->outputs[0].shape.empty() ||
      entry->outputs[0].shape[0] != entry->batchSize)
    return fail(KILN_ERR_UNSUPPORTED, "kiln_predict: '%.*s' does not have one f32 output with a batch dimension",
                kMaxName, entry->name.c_str());
  Runner r;
  if (kiln_status s = r.open(fn, model, entry, false))
    return s;
  int64_t n = 0;
  if (kiln_status s = checkDataset(fn, "data", data, r, false, &n))
    return s;
  if (!out)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_predict: out is NULL");
  const size_t row = entry->outputs[0].byteSize / static_cast<size_t>(r.batch);
  if (static_cast<uint64_t>(n) > SIZE_MAX / row || out_byte_size != static_cast<size_t>(n) * row)
    return fail(KILN_ERR_INVALID_ARGUMENT,
                "kiln_predict: out is %zu bytes; %lld samples x %s f32 ('%.*s' of '%.*s') need %llu", out_byte_size,
                static_cast<long long>(n),
                shapeText(entry->outputs[0].shape.data() + 1, entry->outputs[0].shape.size() - 1).c_str(), kMaxName,
                entry->outputs[0].name.c_str(), kMaxName, entry->name.c_str(),
                static_cast<unsigned long long>(n) * row);
  uint8_t *dst = reinterpret_cast<uint8_t *>(out);
  for (int64_t done = 0; done < n;) {
    int64_t c = n - done < r.batch ? n - done : r.batch;
    if (kiln_status s = r.run(*data, nullptr, done, c))
      return prefixError(s, "kiln_predict: ");
    std::memcpy(dst + static_cast<size_t>(done) * row, r.outputs[0], static_cast<size_t>(c) * row);
    done += c;
  }
  return ok();
}

} // extern "C"
