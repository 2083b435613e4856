//===- Fit.cpp - kiln-run fit / evaluate -----------------------------------===//
//
// The command-line side of Keras's fit / evaluate: data loading and fitting
// to the model, options, the progress bar, history files, the plot, --json.
// The training loop itself (batches, shuffling, validation, early stopping,
// checkpoints) is the runtime's kiln_fit (runtime/kiln_runtime.h).
//
//===----------------------------------------------------------------------===//
#include "Fit.h"
#include "Common.h"
#include "History.h"
#include "Progress.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <sys/stat.h>
#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <vector>

namespace kiln::tool {

namespace {

std::string join(const std::vector<std::string> &items, const char *separator = ", ") {
  std::string s;
  for (const std::string &item : items)
    s += (s.empty() ? "" : separator) + item;
  return s;
}

std::vector<int64_t> shapeOf(const kiln_tensor_info &t) { return std::vector<int64_t>(t.shape, t.shape + t.rank); }
std::vector<int64_t> perSample(const std::vector<int64_t> &shape) {
  return shape.empty() ? shape : std::vector<int64_t>(shape.begin() + 1, shape.end());
}
int64_t product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}
/// "(N, 28, 28, 1)": a per-sample shape with its batch dimension.
std::string withN(const std::vector<int64_t> &sample) {
  std::string s = "(N";
  for (int64_t d : sample)
    s += ", " + std::to_string(d);
  return s + (sample.empty() ? ",)" : ")");
}

/// Rows [begin, begin + count) of `a`.
io::Expected<io::Array> rows(const io::Array &a, int64_t begin, int64_t count) {
  std::vector<int64_t> shape = a.shape();
  size_t rowBytes = shape[0] ? a.byteSize() / size_t(shape[0]) : 0;
  shape[0] = count;
  return io::Array::fromBytes(a.dtype(), shape, a.bytes() + size_t(begin) * rowBytes, size_t(count) * rowBytes);
}

/// The model's data input and its labels input, from a training entry.
struct Signature {
  const kiln_entry_info *entry = nullptr;
  const kiln_tensor_info *input = nullptr, *labels = nullptr;
};

bool signatureOf(const kiln_model *model, const std::string &modelPath, const std::string &base, int64_t batch,
                 Signature &out) {
  out.entry = findEntry(model, base, batch);
  if (!out.entry) {
    fail(modelPath + ": the model has no '" + base +
         "' entry point: it needs compile(loss=..., optimizer=...) in its .kiln file (kiln-run info lists its "
         "entry points)");
    return false;
  }
  std::vector<std::string> inputs;
  for (size_t k = 0; k < out.entry->num_inputs; ++k) {
    const kiln_tensor_info &t = out.entry->inputs[k];
    std::string name = t.name;
    if (name == "labels")
      out.labels = &t;
    else if (!(name == "samples" && t.rank == 0))
      out.input = &t, inputs.push_back(name);
  }
  if (inputs.size() != 1 || !out.labels) {
    fail(modelPath + ": kiln-run " + (base == "train_step" ? "fit" : "evaluate") +
         " takes models with one input and labels; entry '" + out.entry->name + "' takes " +
         std::to_string(inputs.size()) + " inputs (" + join(inputs) + ")" + (out.labels ? "" : " and no labels"));
    return false;
  }
  return true;
}

/// Makes the labels what `labels` takes per sample: i32 class ids, or f32
/// rows (class ids one-hot encoded for a one-hot loss, [N] -> [N, 1]).
io::Status fitLabels(io::Array &y, const kiln_tensor_info &labels, const std::string &path) {
  std::vector<int64_t> want = perSample(shapeOf(labels));
  const int64_t n = y.shape()[0];
  const int64_t wantCount = product(want);
  const int64_t have = product(perSample(y.shape()));
  std::string wantText = std::string(kiln_dtype_name(labels.dtype)) + " " + withN(want);
  if (labels.dtype == KILN_I32) {
    if (y.dtype() == io::DType::I32 && have == wantCount && wantCount == 1) {
      std::vector<int64_t> shape{n};
      shape.insert(shape.end(), want.begin(), want.end());
      auto r = io::Array::fromBytes(io::DType::I32, shape, y.bytes(), y.byteSize());
      if (!r)
        return r.status();
      y = std::move(*r);
      return io::Status::success();
    }
    if (y.dtype() == io::DType::F32 && have > 1)
      return io::Error(path + ": the labels are rows of " + std::to_string(have) +
                       " values (one-hot?), but the model's loss takes class ids (" + wantText +
                       "): drop --one-hot, or use categorical_crossentropy in the model");
    if (y.dtype() == io::DType::F32 && have == 1) { // whole-number floats from a CSV or .npz
      auto ids = toInt32(std::move(y), path);
      if (!ids)
        return ids.status();
      std::vector<int64_t> shape{n};
      shape.insert(shape.end(), want.begin(), want.end());
      auto r = io::Array::fromBytes(io::DType::I32, shape, ids->bytes(), ids->byteSize());
      if (!r)
        return r.status();
      y = std::move(*r);
      return io::Status::success();
    }
    return io::Error(path + ": labels of shape " + io::formatShape(y.shape()) + " (" + io::dtypeName(y.dtype()) +
                     "); the model takes " + wantText);
  }
  // f32 labels.
  if (y.dtype() == io::DType::I32 && wantCount > 1 && want.size() == 1) {
    // Class ids for a one-hot loss (categorical_crossentropy): encode them.
    const int64_t k = wantCount;
    auto hot = io::Array::zeros(io::DType::F32, {n, k});
    if (!hot)
      return hot.status();
    const int32_t *ids = y.data<int32_t>();
    for (int64_t i = 0; i < n; ++i) {
      if (ids[i] < 0 || ids[i] >= k)
        return io::Error(path + ": label " + std::to_string(ids[i]) + " of sample " + std::to_string(i) +
                         " is out of range for the model's " + std::to_string(k) + " classes (0-" +
                         std::to_string(k - 1) + ")");
      hot->data<float>()[i * k + ids[i]] = 1.0f;
    }
    note(path + ": class ids one-hot encoded into rows of " + std::to_string(k) +
         " (the model's loss takes one-hot labels; --one-hot " + std::to_string(k) + " says so explicitly)");
    y = std::move(*hot);
    return io::Status::success();
  }
  if (have != wantCount)
    return io::Error(path + ": labels of shape " + io::formatShape(y.shape()) + " (" + io::dtypeName(y.dtype()) +
                     "); the model takes " + wantText +
                     (y.dtype() == io::DType::F32 && want.size() == 1 && have > 1 && wantCount > 1
                          ? " (rows of a different width: check --one-hot)"
                          : ""));
  auto f = toFloat32(std::move(y), path);
  if (!f)
    return f.status();
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), want.begin(), want.end());
  auto r = io::Array::fromBytes(io::DType::F32, shape, f->bytes(), f->byteSize());
  if (!r)
    return r.status();
  y = std::move(*r);
  return io::Status::success();
}

kiln_dataset datasetView(const io::Dataset &d) {
  kiln_dataset v{};
  v.x = d.x.bytes();
  v.x_dtype = KILN_F32;
  v.x_shape = d.x.shape().data();
  v.x_rank = int32_t(d.x.rank());
  v.y = d.y.bytes();
  v.y_dtype = d.y.dtype() == io::DType::I32 ? KILN_I32 : KILN_F32;
  v.y_shape = d.y.shape().data();
  v.y_rank = int32_t(d.y.rank());
  return v;
}

/// Loads data for a model: samples selected, inputs and labels fitted.
bool loadFor(const DataOptions &options, const Signature &sig, io::Dataset &out) {
  auto data = loadData(options);
  if (!data) {
    fail(data.message());
    return false;
  }
  if (io::Status s = fitInputs(data->x, *sig.input, options.path); !s) {
    fail(s.message());
    return false;
  }
  if (io::Status s = fitLabels(data->y, *sig.labels, options.path); !s) {
    fail(s.message());
    return false;
  }
  out = std::move(*data);
  return true;
}

/// An early-stopping monitor given by its display name ("val_accuracy") as
/// the runtime names it ("val_sparse_categorical_accuracy").
std::string runtimeMonitor(const std::string &monitor, const kiln_entry_info &entry, std::string &error) {
  std::string prefix = monitor.rfind("val_", 0) == 0 ? "val_" : "";
  std::string base = monitor.substr(prefix.size());
  std::vector<std::string> known;
  for (size_t k = 0; k < entry.num_outputs; ++k) {
    std::string name = entry.outputs[k].name;
    if (entry.outputs[k].rank != 0)
      continue;
    known.push_back(displayName(name));
    if (name == base || displayName(name) == base)
      return prefix + name;
  }
  std::vector<std::string> choices;
  for (const std::string &k : known)
    choices.push_back(k), choices.push_back("val_" + k);
  error = "--early-stopping: the model has no metric '" + monitor + "' (it has: " + join(choices) + ")";
  return "";
}

// SIGINT during fit: stop after the current batch (the runtime keeps the
// checkpoint of the last whole epoch); a second one kills as usual.
volatile std::sig_atomic_t gInterrupted = 0;
void onInterrupt(int) {
  gInterrupted = 1;
  std::signal(SIGINT, SIG_DFL);
}

struct FitState {
  ProgressBar *bar;
  History history;
  std::vector<int> improved; // per epoch of this run
  int64_t lastEpoch = -1;     // 0-based, last whole epoch reported
  int64_t epochs = 0;         // the fit's total (the model file's unless --epochs)
};

int onProgress(const kiln_progress *p, void *user) {
  FitState &state = *static_cast<FitState *>(user);
  state.bar->report(*p);
  state.epochs = p->epochs;
  if (p->kind == KILN_PROGRESS_EPOCH) {
    state.history.epochs.push_back({p->epoch + 1, p->seconds, displayMetrics(p->metrics, p->num_metrics)});
    state.improved.push_back(p->improved);
    state.lastEpoch = p->epoch;
  }
  return gInterrupted ? 1 : 0;
}

/// An output file's folder must exist and be writable: found before training,
/// not after it.
bool writable(const std::string &path, const char *flag) {
  size_t slash = path.find_last_of('/');
  std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct stat st {};
  if (stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    fail(path + ": cannot write " + flag + " there: the folder '" + folder + "' does not exist");
    return false;
  }
  if (access(folder.c_str(), W_OK) != 0) {
    fail(path + ": cannot write " + flag + " there: the folder '" + folder + "' is not writable");
    return false;
  }
  return true;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

} // namespace

io::Expected<io::Dataset> loadData(const DataOptions &options) {
  io::DatasetOptions load = options.load;
  load.limit = options.limit > 0 ? options.skip + options.limit : 0;
  auto data = io::loadDataset(options.path, load);
  if (!data || options.skip == 0)
    return data;
  int64_t n = data->x.shape()[0];
  if (options.skip >= n)
    return io::Error(options.path + ": --skip " + std::to_string(options.skip) + " leaves no samples (the data holds " +
                     std::to_string(n) + ")");
  auto x = rows(data->x, options.skip, n - options.skip);
  if (!x)
    return x.status();
  auto y = rows(data->y, options.skip, n - options.skip);
  if (!y)
    return y.status();
  data->x = std::move(*x);
  data->y = std::move(*y);
  data->description += "; --skip " + std::to_string(options.skip) + ": samples " + std::to_string(options.skip) +
                       "-" + std::to_string(n - 1) + " (" + std::to_string(n - options.skip) + ")";
  return data;
}

io::Status fitInputs(io::Array &x, const kiln_tensor_info &input, const std::string &path) {
  std::vector<int64_t> want = perSample(shapeOf(input));
  std::vector<int64_t> have = perSample(x.shape());
  if (have == want)
    return io::Status::success();
  if (product(have) != product(want))
    return io::Error(path + ": inputs of shape " + io::formatShape(x.shape()) + "; the model's input '" +
                     input.name + "' takes " + withN(want));
  std::vector<int64_t> shape{x.shape()[0]};
  shape.insert(shape.end(), want.begin(), want.end());
  auto r = io::Array::fromBytes(x.dtype(), shape, x.bytes(), x.byteSize()); // same row-major bytes
  if (!r)
    return r.status();
  x = std::move(*r);
  return io::Status::success();
}

int fit(kiln_model *model, const FitCommand &o) {
  Signature sig;
  if (!signatureOf(model, o.modelPath, "train_step", o.batchSize, sig))
    return 1;
  if (!o.resumePath.empty() && !o.paramsPath.empty())
    return fail("give --params (start weights) or --resume (a checkpoint of an earlier fit), not both");

  // Options: the model file's fit(...) settings, then the command line.
  kiln_fit_options options;
  kiln_fit_options_init(&options);
  if (o.epochs > 0)
    options.epochs = o.epochs;
  if (o.batchSize > 0)
    options.batch_size = o.batchSize;
  if (o.seedGiven)
    options.seed = o.seed;
  if (o.noShuffle)
    options.shuffle = 0;
  if (o.validationSplit >= 0)
    options.validation_split = o.validationSplit;
  std::string monitor;
  if (!o.monitor.empty()) {
    std::string error;
    monitor = runtimeMonitor(o.monitor, *sig.entry, error);
    if (monitor.empty())
      return fail(error);
    options.monitor = monitor.c_str();
    if (o.patience >= 0)
      options.patience = o.patience;
    if (o.minDelta >= 0)
      options.min_delta = o.minDelta;
    options.restore_best_weights = o.restoreBest;
  }
  if (!o.checkpointPath.empty())
    options.checkpoint_path = o.checkpointPath.c_str();

  for (auto [path, flag] : {std::pair{o.savePath, "--save"}, {o.checkpointPath, "--checkpoint"},
                             {o.historyPrefix + ".csv", "--history"}, {o.plotPath, "--plot"}})
    if (!path.empty() && path != ".csv" && !writable(path, flag))
      return 1;

  // Start weights.
  if (!o.paramsPath.empty())
    if (int rc = loadParams(model, o.paramsPath))
      return rc;
  if (!o.resumePath.empty()) {
    int64_t done = 0;
    if (kiln_model_load_checkpoint(model, o.resumePath.c_str(), &done) != KILN_OK)
      return fail(kiln_last_error());
    options.initial_epoch = done;
  }

  // Data.
  const bool json = o.json;
  io::Dataset train, validation;
  if (!loadFor(o.data, sig, train))
    return 1;
  kiln_dataset trainView = datasetView(train), validationView{};
  if (!o.validationPath.empty()) {
    DataOptions v = o.data;
    v.path = o.validationPath;
    v.skip = o.validationSkip;
    v.limit = o.validationLimit;
    if (!loadFor(v, sig, validation))
      return 1;
    validationView = datasetView(validation);
    options.validation_data = &validationView;
  }

  std::FILE *out = json ? stderr : stdout;
  ProgressBar bar(out, isatty(fileno(out)));
  FitState state{&bar, {}, {}, options.initial_epoch - 1};
  options.progress = onProgress;
  options.user = &state;

  std::fprintf(stderr, "kiln-run: data: %s\n", train.description.c_str());
  if (options.validation_data)
    std::fprintf(stderr, "kiln-run: validation data: %s\n", validation.description.c_str());
  if (options.initial_epoch > 0)
    std::fprintf(stderr, "kiln-run: resuming %s after epoch %lld\n", o.resumePath.c_str(),
                 (long long)options.initial_epoch);

  const char *modelName = "model";
  kiln_model_name(model, &modelName);
  auto previous = std::signal(SIGINT, onInterrupt);
  double start = now();
  kiln_status status = kiln_fit(model, &trainView, &options);
  double seconds = now() - start;
  std::string error = status == KILN_OK ? "" : kiln_last_error();
  std::signal(SIGINT, previous == SIG_ERR ? SIG_DFL : previous);
  const int64_t completed = state.lastEpoch + 1; // whole epochs, counting the resumed ones
  if (status == KILN_OK && state.history.epochs.empty() && options.initial_epoch > 0)
    note(o.resumePath + " has completed " + std::to_string(options.initial_epoch) +
         " epochs already: nothing to train (--epochs is the total, as in Keras: give more)");

  if (status == KILN_OK && !monitor.empty()) {
    if (completed < state.epochs)
      bar.line("Epoch " + std::to_string(completed) + ": early stopping");
    if (o.restoreBest) {
      int64_t best = -1;
      for (size_t i = 0; i < state.improved.size(); ++i)
        if (state.improved[i])
          best = state.history.epochs[i].epoch;
      if (best > 0 && best != completed)
        bar.line("Restoring model weights from the end of the best epoch: " + std::to_string(best) + ".");
    }
  }

  // What was learnt so far is written whatever happened.
  int rc = 0;
  if (!o.historyPrefix.empty()) {
    if (io::Status s = writeHistoryCsv(o.historyPrefix + ".csv", state.history); !s)
      rc = fail(s.message());
    else if (io::Status s = writeHistoryJson(o.historyPrefix + ".json", state.history); !s)
      rc = fail(s.message());
  }
  if (!o.plotPath.empty())
    if (io::Status s = writePlot(o.plotPath, state.history, modelName); !s)
      rc = fail(s.message());

  if (status == KILN_ERR_STOPPED) {
    std::string kept =
        o.checkpointPath.empty() || completed == 0 ? "" : "; " + o.checkpointPath + " holds the last one";
    std::fprintf(stderr, "kiln-run: interrupted after %lld complete epoch%s%s\n", (long long)completed,
                 completed == 1 ? "" : "s", kept.c_str());
    return 130;
  }
  if (status != KILN_OK) {
    fail(o.modelPath + ": " + error);
    if (status == KILN_ERR_NON_FINITE)
      note("training diverged; a smaller learning rate (compile(optimizer=...) in the model file) often helps" +
           std::string(o.checkpointPath.empty() || completed == 0
                           ? ""
                           : "; " + o.checkpointPath + " holds epoch " + std::to_string(completed)));
    return 1;
  }
  if (rc)
    return rc;

  if (!o.savePath.empty()) {
    if (kiln_model_save_checkpoint(model, o.savePath.c_str(), std::max<int64_t>(completed, 0)) != KILN_OK)
      return fail(kiln_last_error());
    std::fprintf(stderr, "kiln-run: saved the parameters and optimizer state after epoch %lld to %s\n",
                 (long long)completed, o.savePath.c_str());
  }
  if (json) {
    Metrics last = state.history.epochs.empty() ? Metrics{} : state.history.epochs.back().metrics;
    std::printf("%s\n", jsonObject(last, {"\"epochs\": " + std::to_string(completed),
                                         "\"seconds\": " + jsonNumber(seconds)})
                            .c_str());
  }
  return 0;
}

int evaluate(kiln_model *model, const FitCommand &o) {
  Signature sig;
  if (!signatureOf(model, o.modelPath, "eval_step", o.batchSize, sig))
    return 1;
  if (!o.paramsPath.empty())
    if (int rc = loadParams(model, o.paramsPath))
      return rc;
  io::Dataset data;
  if (!loadFor(o.data, sig, data))
    return 1;
  kiln_dataset view = datasetView(data);
  kiln_metric metrics[64];
  size_t count = 0;
  double start = now();
  if (kiln_evaluate(model, &view, o.batchSize, metrics, 64, &count) != KILN_OK)
    return fail(o.modelPath + ": " + kiln_last_error());
  double seconds = now() - start;
  Metrics shown = displayMetrics(metrics, std::min<size_t>(count, 64));
  int64_t samples = data.x.shape()[0];
  std::fprintf(stderr, "kiln-run: data: %s\n", data.description.c_str());
  std::fprintf(stderr, "kiln-run: evaluated %lld samples in %.2f s\n", (long long)samples, seconds);
  if (o.json) {
    std::printf("%s\n", jsonObject(shown, {"\"samples\": " + std::to_string(samples)}).c_str());
  } else {
    std::string line = formatMetrics(shown);
    std::printf("%s\n", line.size() > 3 ? line.c_str() + 3 : line.c_str()); // without the leading " - "
  }
  return 0;
}

} // namespace kiln::tool
