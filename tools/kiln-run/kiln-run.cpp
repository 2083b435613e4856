//===- kiln-run.cpp - run compiled models from the command line -----------===//
//
//   kiln-run info model.kbin
//   kiln-run predict model.kbin --input x.npy [--params p.safetensors] --output y.npy
//                    [--input name=x.npy ...] [--classes c.npy] [--entry predict]
//   kiln-run grad model.kbin --input x.npy --labels y.npy [--params p.safetensors]
//                 --output grads.safetensors [--entry gradients]
//   kiln-run gradcheck model.kbin --input x.npy --labels y.npy [--params p.safetensors]
//                 [--samples 8] [--epsilon 1e-2] [--seed 0] [--tolerance 5e-2] [--atol 1e-3]
//   kiln-run fit model.kbin --data PATH [--epochs N] [--batch-size N] ... (Fit.h)
//   kiln-run evaluate model.kbin --data PATH [--params FILE] [--batch-size N] [--json]
//   kiln-run predict model.kbin --data PATH --output y.npy  (a dataset's inputs)
//   kiln-run crosscheck model.kbin [--device cuda] [--batches N] [--data PATH ...]
//                 [--params FILE] [--tolerance T] [--seed S]   (CPU vs GPU, Crosscheck.cpp)
//
// fit / evaluate: Keras's fit and evaluate through the runtime's kiln_fit /
// kiln_evaluate, on training data read by kiln_io (docs/training.md).
// predict: any number of samples: inputs are cut into the entry point's batch
// size and a last partial batch is padded, run, and trimmed, so every sample
// is predicted exactly once. grad / gradcheck run the `gradients` entry point
// of a trainable model (compile(...)) on exactly one batch. Parameters load by
// Keras name from .safetensors or .npz in Keras layout. Links only the runtime
// and the file-format library.
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include "Crosscheck.h"
#include "Fit.h"
#include "runtime/io/ArrayFile.h"
#include "runtime/io/Npy.h"
#include "runtime/io/Npz.h"
#include "runtime/io/Safetensors.h"
#include "runtime/kiln_runtime.h"
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace kiln;
using namespace kiln::tool;

namespace {

/// The synopsis; with `full`, also the notes on grad and gradcheck (--help).
void usage(bool full = false) {
  std::fprintf(stderr,
               "usage: kiln-run devices       (CPU threads and features; CUDA devices, or why none)\n"
               "       kiln-run info MODEL.kbin\n"
               "       kiln-run predict MODEL.kbin --input [NAME=]FILE ... --output FILE\n"
               "                [--params FILE] [--classes FILE] [--entry NAME]\n"
               "       kiln-run grad MODEL.kbin --input [NAME=]FILE ... --labels FILE\n"
               "                --output FILE.safetensors [--params FILE] [--entry NAME]\n"
               "       kiln-run gradcheck MODEL.kbin --input [NAME=]FILE ... --labels FILE\n"
               "                [--params FILE] [--entry NAME] [--samples N] [--epsilon E]\n"
               "                [--seed S] [--tolerance T] [--atol A] [--strict] [--verbose]\n"
               "       kiln-run fit MODEL.kbin --data PATH [DATA OPTIONS] [--epochs N] [--batch-size N]\n"
               "                [--seed S] [--no-shuffle] [--validation-split F | --validation-data PATH\n"
               "                [--validation-skip N] [--validation-limit N]]\n"
               "                [--early-stopping MONITOR [--patience N] [--min-delta D] [--restore-best]]\n"
               "                [--params FILE | --resume CHECKPOINT] [--save FILE] [--checkpoint FILE]\n"
               "                [--history PREFIX] [--plot FILE.svg] [--json]\n"
               "       kiln-run evaluate MODEL.kbin --data PATH [DATA OPTIONS] [--params FILE]\n"
               "                [--batch-size N] [--json]\n"
               "       kiln-run predict MODEL.kbin --data PATH [DATA OPTIONS] --output FILE [...]\n"
               "       kiln-run crosscheck MODEL.kbin [--device cuda|cuda:N] [--batches N] [--data PATH\n"
               "                [DATA OPTIONS]] [--params FILE] [--tolerance T] [--seed S]\n"
               "Arrays: .npy, .npz (one array per input, by name) or .safetensors.\n"
               "Data (--data): an MNIST IDX or CIFAR-10 folder, images,labels IDX files, x.npy,y.npy,\n"
               "an .npz with x and y, a CIFAR-10 .bin batch or a .csv. DATA OPTIONS: --scale F,\n"
               "--one-hot K, --label-column C, --no-header, --split train|test, --skip N, --limit N.\n"
               "Every command but info takes --threads N: the threads of the model's GEMMs and\n"
               "convolutions (default: KILN_NUM_THREADS, else every CPU; results do not change).\n"
               "fit, evaluate and predict take --device cpu|cuda|cuda:N (default cpu): where the model\n"
               "runs. crosscheck compares predict (and gradients and one train_step) on the CPU and\n"
               "the device: exit 0 when |cpu - gpu| / max(|cpu|, |gpu|, 1e-3) <= T everywhere\n"
               "(--tolerance, default 1e-3 for --gpu-precision=fp32 code; tf32 needs about 2e-2).\n");
  if (!full) {
    std::fprintf(stderr, "kiln-run --help describes fit, evaluate, grad and gradcheck.\n");
    return;
  }
  std::fprintf(stderr,
               "\n"
               "fit trains like Keras's model.fit: epochs, batch size, validation split and\n"
               "shuffling default to the model file's fit(...); --epochs is the total (with\n"
               "--resume, training continues at the checkpoint's epoch). Every sample is used\n"
               "once per epoch (a last partial batch counts exactly). Progress goes to stdout\n"
               "(stderr with --json, which prints one JSON object of the final metrics):\n"
               "a bar redrawn in place on a terminal, else one line per epoch.\n"
               "--early-stopping val_loss (or val_accuracy, loss, ...) stops after --patience\n"
               "epochs (default 0) without an improvement of more than --min-delta;\n"
               "--restore-best then keeps the best epoch's weights. --checkpoint FILE is\n"
               "written atomically after every epoch (parameters, optimizer state, epoch);\n"
               "--save FILE at the end, in the same format; --resume FILE continues from one.\n"
               "--history PREFIX writes PREFIX.csv and PREFIX.json (one row / object per\n"
               "epoch); --plot FILE.svg draws loss and accuracy per epoch.\n"
               "evaluate prints the loss and metrics over every sample. predict --data runs\n"
               "the model on a dataset's inputs (its labels are not used).\n"
               "--skip N drops the first N samples, --limit N keeps N (after --skip):\n"
               "--limit 8000 and --skip 8000 split a 10,000-sample set into train and test.\n"
               "docs/training.md has the details.\n");
  std::fprintf(stderr,
               "\n"
               "grad and gradcheck run the entry point 'gradients' (default; or gradients_b<N>,\n"
               "the one whose batch is the number of samples given) of a model compiled with\n"
               "compile(...), on exactly one batch. Labels are int32 class indices for\n"
               "sparse_categorical_crossentropy (integer or whole-number float files are\n"
               "converted when exact), else float32 shaped like the model's output.\n"
               "grad writes 'loss' and d loss / d parameter under each parameter's name.\n"
               "\n"
               "gradcheck compares the analytic gradients with central differences\n"
               "n = (L(w+h) - L(w-h)) / 2h of the same entry's loss L, for N random coordinates\n"
               "of every trainable parameter (--samples, default 8; all when fewer), then\n"
               "restores each parameter. The step is relative, h = E * max(1, |w|) (--epsilon,\n"
               "default 1e-3): an absolute step is lost in float32 next to a large weight, a\n"
               "purely relative one vanishes at w = 0; 2h is taken as float32 represents it.\n"
               "E = 1e-3 balances float32 rounding (worse for small steps) against kinks\n"
               "(more are crossed by large ones). Error: |a - n| / max(|a|, |n|, A) (--atol,\n"
               "default 1e-3: smaller gradients are compared absolutely). A coordinate passes\n"
               "when |a - n| <= T * max(|a|, |n|, A) + 8 * FLT_EPSILON * |L| / 2h (--tolerance T,\n"
               "default 5e-2; the second term is the float32 rounding of the loss difference;\n"
               "the table shows the resulting allowed error). A kink (ReLU at 0, max-pool tie)\n"
               "inside [w - h, w + h] spoils the central difference: a coordinate that fails\n"
               "but whose analytic gradient matches the one-sided difference on exactly one\n"
               "side is reported as a kink, not a failure (--strict: a failure). Prints, per\n"
               "parameter, the worst coordinate and how many exceed the tolerance (and how many\n"
               "of those are kinks), worst parameter last; --verbose lists every coordinate.\n"
               "Exit 0 when nothing but kinks exceeds the tolerance, 1 otherwise.\n");
}


int info(kiln_model *model) {
  const char *name = nullptr, *producer = nullptr;
  kiln_model_name(model, &name);
  kiln_model_producer(model, &producer);
  std::printf("model %s (%s)\n", name, producer ? producer : "?");
  const char *archs = "";
  kiln_model_gpu_archs(model, &archs);
  std::printf("gpu code: %s\n", *archs ? archs : "none (compile with kilnc --target=cpu,cuda)");
  size_t entries = 0, params = 0;
  kiln_model_num_entries(model, &entries);
  for (size_t i = 0; i < entries; ++i) {
    const kiln_entry_info *e = nullptr;
    kiln_model_entry(model, i, &e);
    std::printf("entry %s (batch %lld, scratch %llu bytes)\n", e->name, (long long)e->batch_size,
                (unsigned long long)e->scratch_bytes);
    for (size_t k = 0; k < e->num_inputs; ++k)
      std::printf("  input  %s %s%s\n", e->inputs[k].name, kiln_dtype_name(e->inputs[k].dtype),
                  shapeStr(e->inputs[k].shape, e->inputs[k].rank).c_str());
    for (size_t k = 0; k < e->num_outputs; ++k)
      std::printf("  output %s %s%s\n", e->outputs[k].name, kiln_dtype_name(e->outputs[k].dtype),
                  shapeStr(e->outputs[k].shape, e->outputs[k].rank).c_str());
  }
  kiln_model_num_params(model, &params);
  for (size_t i = 0; i < params; ++i) {
    const kiln_param_info *p = nullptr;
    kiln_model_param(model, i, &p);
    std::printf("param %s %s%s%s\n", p->tensor.name, kiln_dtype_name(p->tensor.dtype),
                shapeStr(p->tensor.shape, p->tensor.rank).c_str(),
                p->is_state ? " (optimizer state)" : p->trainable ? "" : " (frozen)");
  }
  return 0;
}


int predict(kiln_model *model, const std::string &entryName,
            const std::vector<std::string> &inputSpecs, const std::string &paramsPath,
            const std::string &outputPath, const std::string &classesPath, const DataOptions *data) {
  // The entry point, or its batch specialisations <entry>_b<size>
  // (kilnc --batch-size=64,1), largest batch first.
  std::vector<const kiln_entry_info *> variants;
  const kiln_entry_info *entry = nullptr;
  if (kiln_model_find_entry(model, entryName.c_str(), &entry) == KILN_OK) {
    variants.push_back(entry);
  } else {
    size_t count = 0;
    kiln_model_num_entries(model, &count);
    for (size_t i = 0; i < count; ++i) {
      const kiln_entry_info *e = nullptr;
      kiln_model_entry(model, i, &e);
      if (std::string(e->name).rfind(entryName + "_b", 0) == 0)
        variants.push_back(e);
    }
    if (variants.empty())
      return fail("the model has no entry point '" + entryName + "' (kiln-run info lists them)");
    std::sort(variants.begin(), variants.end(),
              [](auto *a, auto *b) { return a->batch_size > b->batch_size; });
    entry = variants.front();
  }
  if (!paramsPath.empty())
    if (int rc = loadParams(model, paramsPath))
      return rc;

  // Gather one float32 array per model input, by name.
  std::map<std::string, io::Array> inputs;
  if (data) { // a dataset's inputs (its labels are not used)
    if (entry->num_inputs != 1)
      return fail("--data feeds models with one input; this one has " + std::to_string(entry->num_inputs) +
                  " (give --input NAME=FILE for each)");
    auto loaded = loadData(*data);
    if (!loaded)
      return fail(loaded.message());
    if (io::Status s = fitInputs(loaded->x, entry->inputs[0], data->path); !s)
      return fail(s.message());
    std::fprintf(stderr, "kiln-run: data: %s\n", loaded->description.c_str());
    inputs.insert_or_assign(entry->inputs[0].name, std::move(loaded->x));
  }
  for (const std::string &spec : inputSpecs) {
    std::string name, path = spec;
    if (size_t eq = spec.find('='); eq != std::string::npos && spec.find('/') > eq)
      name = spec.substr(0, eq), path = spec.substr(eq + 1);
    auto arrays = io::readArrays(path);
    if (!arrays)
      return fail(arrays.message());
    for (io::NamedArray &a : *arrays) {
      std::string key = name;
      if (key.empty())
        key = arrays->size() == 1 && entry->num_inputs == 1 ? entry->inputs[0].name : a.name;
      auto f = toFloat32(std::move(a.array), path);
      if (!f)
        return fail(f.message());
      inputs.insert_or_assign(key, std::move(*f));
    }
  }
  int64_t samples = -1;
  for (size_t k = 0; k < entry->num_inputs; ++k) {
    const kiln_tensor_info &t = entry->inputs[k];
    auto it = inputs.find(t.name);
    if (it == inputs.end())
      return fail(std::string("no data for input '") + t.name + "' (give --input " + t.name +
                  "=FILE, or an .npz holding an array of that name)");
    const io::Array &a = it->second;
    std::vector<int64_t> sample(t.shape + 1, t.shape + t.rank);
    std::vector<int64_t> got(a.shape().begin() + (a.rank() ? 1 : 0), a.shape().end());
    if (a.rank() != size_t(t.rank) || got != sample)
    {
      std::string want = "(N";
      for (int64_t d : sample)
        want += ", " + std::to_string(d);
      return fail(std::string("input '") + t.name + "' has shape " + io::formatShape(a.shape()) +
                  "; the model takes " + want + ")");
    }
    if (samples >= 0 && a.shape()[0] != samples)
      return fail("inputs hold different numbers of samples");
    samples = a.shape()[0];
  }
  for (auto &[name, _] : inputs) {
    bool known = false;
    for (size_t k = 0; k < entry->num_inputs; ++k)
      known |= name == entry->inputs[k].name;
    if (!known)
      return fail("the model has no input named '" + name + "'");
  }
  if (samples <= 0)
    return fail("the inputs hold no samples");

  // One session per specialisation, created on first use.
  std::vector<kiln_session *> sessions(variants.size(), nullptr);
  auto cleanup = [&] {
    for (kiln_session *s : sessions)
      kiln_session_destroy(s);
  };

  // Outputs for all samples: (samples, *output shape without the batch).
  std::vector<io::Array> outputs;
  for (size_t k = 0; k < entry->num_outputs; ++k) {
    const kiln_tensor_info &t = entry->outputs[k];
    std::vector<int64_t> shape{samples};
    shape.insert(shape.end(), t.shape + 1, t.shape + t.rank);
    auto a = io::Array::zeros(io::DType::F32, shape);
    if (!a)
      return fail(a.message());
    outputs.push_back(std::move(*a));
  }
  std::vector<std::vector<uint8_t>> staging(entry->num_inputs);
  int64_t runs = 0;
  for (int64_t start = 0, n; start < samples; start += n, ++runs) {
    // The largest batch that the remaining samples fill, else the smallest
    // one that holds them all (padded).
    int64_t left = samples - start;
    size_t pick = variants.size() - 1;
    for (size_t v = 0; v < variants.size(); ++v)
      if (variants[v]->batch_size <= left) {
        pick = v;
        break;
      }
    if (variants[pick]->batch_size > left)
      for (size_t v = variants.size(); v-- > 0;)
        if (variants[v]->batch_size >= left) {
          pick = v;
          break;
        }
    entry = variants[pick];
    int64_t batch = entry->batch_size;
    n = std::min(batch, left);
    if (!sessions[pick] && kiln_session_create(model, entry->name, &sessions[pick]) != KILN_OK)
      return cleanup(), fail(runtimeError("cannot create a session"));
    kiln_session *session = sessions[pick];
    for (size_t k = 0; k < entry->num_inputs; ++k) {
      const kiln_tensor_info &t = entry->inputs[k];
      const io::Array &a = inputs.at(t.name);
      size_t perSample = t.byte_size / batch;
      staging[k].assign(t.byte_size, 0); // a partial batch is zero-padded
      std::memcpy(staging[k].data(), a.bytes() + start * perSample, n * perSample);
      if (kiln_session_set_input(session, t.name, t.dtype, t.shape, t.rank, staging[k].data(),
                                 t.byte_size) != KILN_OK)
        return cleanup(), fail(runtimeError("input"));
    }
    if (kiln_session_run(session) != KILN_OK)
      return cleanup(), fail(runtimeError("run"));
    for (size_t k = 0; k < entry->num_outputs; ++k) {
      const kiln_tensor_info &t = entry->outputs[k];
      size_t perSample = t.byte_size / batch;
      const void *out = nullptr;
      size_t size = 0;
      if (kiln_session_output(session, t.name, &out, &size) != KILN_OK)
        return cleanup(), fail(runtimeError("output"));
      std::memcpy(outputs[k].bytes() + start * perSample, out, n * perSample);
    }
  }
  cleanup();

  bool npz = outputPath.size() >= 4 && outputPath.compare(outputPath.size() - 4, 4, ".npz") == 0;
  if (!npz && outputs.size() != 1)
    return fail("the model has " + std::to_string(outputs.size()) +
                " outputs: write them to an .npz file");
  io::Status written;
  if (npz) {
    std::vector<io::NamedArrayRef> refs;
    for (size_t k = 0; k < outputs.size(); ++k)
      refs.push_back({entry->outputs[k].name, outputs[k].ref()});
    written = io::writeNpz(outputPath, refs);
  } else {
    written = io::writeNpy(outputPath, outputs[0].ref());
  }
  if (!written)
    return fail(written.message());

  if (!classesPath.empty()) {
    const io::Array &y = outputs[0];
    int64_t classes = y.rank() >= 2 ? y.shape().back() : 1;
    std::vector<int64_t> shape(y.shape().begin(), y.shape().end() - (y.rank() >= 2 ? 1 : 0));
    std::vector<int64_t> labels(y.numElements() / classes);
    const float *v = y.data<float>();
    for (size_t i = 0; i < labels.size(); ++i) {
      if (classes == 1) { // one probability: the binary decision, as Keras thresholds it
        labels[i] = v[i] > 0.5f;
        continue;
      }
      int64_t best = 0;
      for (int64_t c = 1; c < classes; ++c)
        if (v[i * classes + c] > v[i * classes + best])
          best = c;
      labels[i] = best;
    }
    auto a = io::Array::fromValues<int64_t>(shape, labels);
    if (!a)
      return fail(a.message());
    if (io::Status s = io::writeNpy(classesPath, a->ref()); !s)
      return fail(s.message());
  }
  std::string sizes;
  for (const kiln_entry_info *v : variants)
    sizes += (sizes.empty() ? "" : ", ") + std::to_string(v->batch_size);
  std::fprintf(stderr, "kiln-run: predicted %lld samples in %lld batches of %s\n",
               (long long)samples, (long long)runs, sizes.c_str());
  return 0;
}

//===--- grad / gradcheck: one batch through the gradients entry point ------===//

struct GradOptions {
  std::string entryName = "gradients";
  std::vector<std::string> inputSpecs;
  std::string labelsPath, paramsPath, outputPath;
  int64_t samples = 8;
  double epsilon = 1e-3, tolerance = 5e-2, atol = 1e-3;
  uint64_t seed = 0;
  bool strict = false;  // kinks count as failures
  bool verbose = false; // list every coordinate over the tolerance
};

std::string formatIndex(const kiln_tensor_info &t, int64_t flat) {
  if (t.rank == 0)
    return "()";
  std::vector<int64_t> index(t.rank);
  for (int32_t d = t.rank; d-- > 0;) {
    index[d] = flat % t.shape[d];
    flat /= t.shape[d];
  }
  return io::formatShape(index);
}

/// `shape` without its size-1 dimensions ((32, 1) and (32,) hold the same labels).
std::vector<int64_t> squeezed(std::vector<int64_t> shape) {
  shape.erase(std::remove(shape.begin(), shape.end(), int64_t(1)), shape.end());
  return shape;
}

/// A session of the gradients entry point with every input set from the files.
struct GradRun {
  const kiln_entry_info *entry = nullptr;
  kiln_session *session = nullptr;
  GradRun() = default;
  GradRun(const GradRun &) = delete;
  GradRun &operator=(const GradRun &) = delete;
  ~GradRun() { kiln_session_destroy(session); }

  /// The f32 scalar output "loss" of the last run.
  bool loss(float &value) const {
    return kiln_session_get_output(session, "loss", &value, sizeof value) == KILN_OK;
  }
};

/// Reads the inputs and labels, picks the entry point (the exact name, else
/// the <name>_b<N> whose batch N is the number of samples given), checks and
/// converts every array to what the entry takes, and sets them on a session.
int prepareGradRun(kiln_model *model, const GradOptions &o, GradRun &run) {
  // Arrays by input name, with the file each came from (for messages).
  std::map<std::string, io::Array> arrays;
  std::map<std::string, std::string> paths;
  std::vector<std::string> unnamed; // single arrays of files given without NAME=
  for (const std::string &spec : o.inputSpecs) {
    std::string name, path = spec;
    if (size_t eq = spec.find('='); eq != std::string::npos && spec.find('/') > eq)
      name = spec.substr(0, eq), path = spec.substr(eq + 1);
    auto read = io::readArrays(path);
    if (!read)
      return fail(read.message());
    for (io::NamedArray &a : *read) {
      std::string key = name.empty() ? (read->size() == 1 ? std::string() : a.name) : name;
      if (key.empty()) {
        key = "\x01" + std::to_string(unnamed.size()); // resolved once the entry is known
        unnamed.push_back(key);
      }
      paths[key] = path;
      arrays.insert_or_assign(key, std::move(a.array));
    }
  }
  if (!o.labelsPath.empty()) {
    auto read = io::readArrays(o.labelsPath);
    if (!read)
      return fail(read.message());
    const io::Array *labels = read->size() == 1 ? &(*read)[0].array : io::findArray(*read, "labels");
    if (!labels)
      return fail(o.labelsPath + ": holds " + std::to_string(read->size()) +
                  " arrays and none is named 'labels'");
    auto copy = labels->clone();
    if (!copy)
      return fail(copy.message());
    arrays.insert_or_assign("labels", std::move(*copy));
    paths["labels"] = o.labelsPath;
  }
  int64_t samples = -1;
  for (auto &[name, a] : arrays)
    if (samples < 0 && a.rank() > 0)
      samples = a.shape()[0];

  // The entry point.
  const kiln_entry_info *entry = nullptr;
  if (kiln_model_find_entry(model, o.entryName.c_str(), &entry) != KILN_OK) {
    std::vector<const kiln_entry_info *> variants;
    size_t count = 0;
    kiln_model_num_entries(model, &count);
    for (size_t i = 0; i < count; ++i) {
      const kiln_entry_info *e = nullptr;
      kiln_model_entry(model, i, &e);
      if (std::string(e->name).rfind(o.entryName + "_b", 0) == 0)
        variants.push_back(e);
    }
    if (variants.empty())
      return fail("the model has no entry point '" + o.entryName + "'" +
                  (o.entryName == "gradients"
                       ? " (is it a trainable model, with compile(...)? kiln-run info lists its entry points)"
                       : " (kiln-run info lists them)"));
    std::sort(variants.begin(), variants.end(),
              [](auto *a, auto *b) { return a->batch_size > b->batch_size; });
    entry = variants.front();
    std::string sizes;
    for (const kiln_entry_info *v : variants) {
      sizes += (sizes.empty() ? "" : ", ") + std::to_string(v->batch_size);
      if (v->batch_size == samples)
        entry = v;
    }
    if (variants.size() > 1 && entry->batch_size != samples)
      return fail("the inputs hold " + std::to_string(samples) + " samples; the model's '" + o.entryName +
                  "' entry points run on batches of exactly " + sizes +
                  " (give one of these numbers of samples, or choose one with --entry)");
  }
  run.entry = entry;

  // Unnamed files go to the inputs other than the labels, in order.
  std::vector<std::string> features;
  // (`samples`, the number of real rows, defaults to the full batch in the runtime.)
  auto isSamples = [](const kiln_tensor_info &t) { return std::string(t.name) == "samples" && t.rank == 0; };
  for (size_t k = 0; k < entry->num_inputs; ++k)
    if (std::string(entry->inputs[k].name) != "labels" && !isSamples(entry->inputs[k]) &&
        !arrays.count(entry->inputs[k].name))
      features.push_back(entry->inputs[k].name);
  for (size_t u = 0; u < unnamed.size(); ++u) {
    if (u >= features.size())
      return fail(paths[unnamed[u]] + ": the model has no input left for this file (name it with --input NAME=FILE)");
    arrays.insert_or_assign(features[u], std::move(arrays.at(unnamed[u])));
    paths[features[u]] = paths[unnamed[u]];
    arrays.erase(unnamed[u]);
  }
  for (auto &[name, _] : arrays) {
    bool known = false;
    for (size_t k = 0; k < entry->num_inputs; ++k)
      known |= name == entry->inputs[k].name;
    if (!known)
      return fail(paths[name] + ": the model has no input named '" + name + "' (entry '" + entry->name +
                  "' takes: " + [&] {
                    std::string s;
                    for (size_t k = 0; k < entry->num_inputs; ++k)
                      s += (k ? ", " : "") + std::string(entry->inputs[k].name);
                    return s;
                  }() + ")");
  }

  if (kiln_session_create(model, entry->name, &run.session) != KILN_OK)
    return fail(runtimeError("cannot create a session"));
  for (size_t k = 0; k < entry->num_inputs; ++k) {
    const kiln_tensor_info &t = entry->inputs[k];
    std::string name = t.name;
    bool isLabels = name == "labels";
    auto it = arrays.find(name);
    if (it == arrays.end() && isSamples(t))
      continue;
    if (it == arrays.end())
      return fail(isLabels ? std::string("no labels: give --labels FILE (entry '") + entry->name + "' takes " +
                                 kiln_dtype_name(t.dtype) + " labels of shape " + shapeStr(t.shape, t.rank) + ")"
                           : "no data for input '" + name + "' (give --input " + name +
                                 "=FILE, or an .npz holding an array of that name)");
    const std::string &path = paths[name];
    std::string what = isLabels ? "labels have" : "input '" + name + "' has";
    auto converted = t.dtype == KILN_I32 ? toInt32(std::move(it->second), path)
                                         : toFloat32(std::move(it->second), path);
    if (!converted)
      return fail(converted.message());
    const io::Array &a = *converted;
    std::vector<int64_t> want(t.shape, t.shape + t.rank);
    int64_t batch = entry->batch_size;
    if (a.rank() == 0 || a.shape()[0] != batch)
      return fail(path + ": " + what + " shape " + io::formatShape(a.shape()) + ", " +
                  (a.rank() ? std::to_string(a.shape()[0]) : std::string("no")) +
                  " samples; entry '" + entry->name + "' runs on batches of exactly " + std::to_string(batch) +
                  " (give " + std::to_string(batch) + " samples, or compile the model with kilnc --batch-size=" +
                  (a.rank() ? std::to_string(a.shape()[0]) : std::string("N")) + ")");
    bool same = isLabels ? squeezed(a.shape()) == squeezed(want) : a.shape() == want;
    if (!same)
      return fail(path + ": " + what + " shape " + io::formatShape(a.shape()) + "; entry '" + entry->name +
                  "' takes " + io::formatShape(want) + " (" + kiln_dtype_name(t.dtype) + ")");
    if (kiln_session_set_input(run.session, t.name, t.dtype, t.shape, t.rank, a.bytes(), t.byte_size) != KILN_OK)
      return fail(runtimeError(path + ": " + name));
  }
  bool hasLoss = false;
  for (size_t k = 0; k < entry->num_outputs; ++k)
    hasLoss |= std::string(entry->outputs[k].name) == "loss" && entry->outputs[k].dtype == KILN_F32 &&
               entry->outputs[k].rank == 0;
  if (!hasLoss)
    return fail(std::string("entry '") + entry->name + "' has no f32 scalar output 'loss' (not a gradients entry)");
  return 0;
}

/// --params, the session of the gradients entry, and its first run: what
/// grad and gradcheck both start with.
int startGradRun(kiln_model *model, const GradOptions &o, GradRun &run) {
  if (!o.paramsPath.empty())
    if (int rc = loadParams(model, o.paramsPath))
      return rc;
  if (int rc = prepareGradRun(model, o, run))
    return rc;
  if (kiln_session_run(run.session) != KILN_OK)
    return fail(runtimeError("run"));
  return 0;
}

int grad(kiln_model *model, const GradOptions &o) {
  GradRun run;
  if (int rc = startGradRun(model, o, run))
    return rc;
  const kiln_entry_info *e = run.entry;
  std::vector<io::NamedArrayRef> tensors;
  for (size_t k = 0; k < e->num_outputs; ++k) {
    const kiln_tensor_info &t = e->outputs[k];
    const void *data = nullptr;
    if (kiln_session_output(run.session, t.name, &data, nullptr) != KILN_OK)
      return fail(runtimeError("output"));
    tensors.push_back({t.name, io::ArrayRef(t.dtype == KILN_I32 ? io::DType::I32 : io::DType::F32,
                                            std::vector<int64_t>(t.shape, t.shape + t.rank), data)});
  }
  if (io::Status s = io::writeSafetensors(o.outputPath, tensors); !s)
    return fail(s.message());
  float loss = 0;
  run.loss(loss);
  std::printf("loss %.9g\n", loss);
  std::fprintf(stderr, "kiln-run: wrote the loss and %zu gradients (entry %s, batch %lld) to %s\n",
               tensors.size() - 1, e->name, (long long)e->batch_size, o.outputPath.c_str());
  return 0;
}

/// The float32 rounding error of one computed loss L, taken as kNoiseUlps *
/// FLT_EPSILON * |L| (the loss is a reduction over the batch: several
/// roundings). A difference of two losses is off by up to twice that.
constexpr double kNoiseUlps = 4;

int gradcheck(kiln_model *model, const GradOptions &o) {
  GradRun run;
  if (int rc = startGradRun(model, o, run))
    return rc;
  float loss0 = 0;
  run.loss(loss0);
  const kiln_entry_info *e = run.entry;
  std::printf("loss %.9g (entry %s, batch %lld)\n", loss0, e->name, (long long)e->batch_size);

  // Every analytic gradient, before any perturbed run overwrites the outputs.
  std::map<std::string, std::vector<float>> analytics;
  for (size_t k = 0; k < e->num_outputs; ++k) {
    const kiln_tensor_info &t = e->outputs[k];
    if (t.dtype != KILN_F32 || std::string(t.name) == "loss")
      continue;
    std::vector<float> &g = analytics[t.name];
    g.resize(t.num_elements);
    if (kiln_session_get_output(run.session, t.name, g.data(), t.byte_size) != KILN_OK)
      return fail(runtimeError("output"));
  }

  struct Row {
    std::string name, index = "-";
    double ratio = 0, error = 0, allowed = 0, analytic = 0, numeric = 0; // of the worst coordinate
    int64_t checked = 0, over = 0, kinks = 0;
    bool missing = false;
  };
  std::vector<Row> rows;
  std::mt19937_64 rng(o.seed);
  size_t params = 0;
  kiln_model_num_params(model, &params);
  for (size_t i = 0; i < params; ++i) {
    const kiln_param_info *p = nullptr;
    kiln_model_param(model, i, &p);
    if (!p->trainable || p->is_state || p->tensor.dtype != KILN_F32)
      continue;
    const kiln_tensor_info &t = p->tensor;
    Row row;
    row.name = t.name;
    auto found = analytics.find(t.name);
    if (found == analytics.end() || found->second.size() != size_t(t.num_elements)) {
      row.missing = true; // the entry has no gradient for this trainable parameter
      rows.push_back(row);
      continue;
    }
    const std::vector<float> &analytic = found->second;
    std::vector<float> original(t.num_elements);
    if (kiln_model_get_param(model, t.name, original.data(), t.byte_size) != KILN_OK)
      return fail(runtimeError("get_param"));
    // The coordinates: all of them, or `samples` distinct random ones (in order).
    std::vector<int64_t> coords;
    if (t.num_elements <= o.samples) {
      for (int64_t c = 0; c < t.num_elements; ++c)
        coords.push_back(c);
    } else {
      std::set<int64_t> picked;
      std::uniform_int_distribution<int64_t> pick(0, t.num_elements - 1);
      while (int64_t(picked.size()) < o.samples)
        picked.insert(pick(rng));
      coords.assign(picked.begin(), picked.end());
    }
    std::vector<float> work = original;
    auto lossAt = [&](float w, int64_t c, float &out) {
      work[c] = w;
      bool ok = kiln_model_set_param(model, t.name, KILN_F32, work.data(), work.size()) == KILN_OK &&
                kiln_session_run(run.session) == KILN_OK && run.loss(out);
      work[c] = original[c];
      return ok;
    };
    for (int64_t c : coords) {
      float w = original[c];
      float h = float(o.epsilon * std::max(1.0, std::fabs(double(w))));
      float wp = w + h, wm = w - h;
      float lp = 0, lm = 0;
      if (!lossAt(wp, c, lp) || !lossAt(wm, c, lm)) {
        kiln_model_set_param(model, t.name, KILN_F32, original.data(), original.size());
        return fail(runtimeError(std::string("perturbing '") + t.name + "'"));
      }
      double a = analytic[c];
      // Steps as represented in float32, and the rounding noise of a loss difference.
      double step = double(wp) - double(wm), hp = double(wp) - double(w), hm = double(w) - double(wm);
      double noise = 2 * kNoiseUlps * FLT_EPSILON * std::max({std::fabs(lp), std::fabs(lm), std::fabs(loss0)});
      // |a - n| within tolerance * max(|a|, |n|, atol) plus the noise of the difference quotient.
      auto scale = [&](double n) { return std::max({std::fabs(a), std::fabs(n), o.atol}); };
      auto within = [&](double n, double over) {
        return std::fabs(a - n) <= o.tolerance * scale(n) + noise / over;
      };
      double numeric = (double(lp) - double(lm)) / step;
      double error = std::fabs(a - numeric) / scale(numeric);
      double allowed = o.tolerance + noise / step / scale(numeric);
      double ratio = std::isfinite(error) ? error / allowed : INFINITY;
      bool pass = ratio <= 1;
      bool kink = false;
      double forward = (double(lp) - double(loss0)) / hp, backward = (double(loss0) - double(lm)) / hm;
      if (!pass) {
        ++row.over;
        // A kink (ReLU at 0, a max-pool tie) inside [w - h, w + h] spoils the
        // central difference and the one-sided difference across it, not the
        // one on its other side: the analytic gradient matches exactly one of
        // them. (A wrong gradient at a smooth point matches both or neither.)
        kink = within(forward, hp) != within(backward, hm);
        row.kinks += kink;
      }
      if (o.verbose)
        std::printf("  %s %s: error %.3e (allowed %.3e), analytic %.6e, central %.6e, forward %.6e, "
                    "backward %.6e%s\n",
                    t.name, formatIndex(t, c).c_str(), error, allowed, a, numeric, forward, backward,
                    pass ? "" : kink ? ": kink" : ": MISMATCH");
      ++row.checked;
      if (row.checked == 1 || !(ratio <= row.ratio)) {
        row.ratio = ratio;
        row.error = error;
        row.allowed = allowed;
        row.index = formatIndex(t, c);
        row.analytic = a;
        row.numeric = numeric;
      }
    }
    if (kiln_model_set_param(model, t.name, KILN_F32, original.data(), original.size()) != KILN_OK)
      return fail(runtimeError(std::string("restoring '") + t.name + "'"));
    rows.push_back(row);
  }
  if (rows.empty())
    return fail("the model has no trainable parameters to check");

  // The table, worst parameter (error relative to what is allowed) last.
  std::sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) {
    double x = a.missing ? INFINITY : a.ratio, y = b.missing ? INFINITY : b.ratio;
    return x != y ? x < y : a.name < b.name;
  });
  int width = 9, indexWidth = 8;
  for (const Row &r : rows) {
    width = std::max(width, int(r.name.size()));
    indexWidth = std::max(indexWidth, int(r.index.size()));
  }
  std::printf("%-*s  %-11s  %-9s  %-*s  %-13s  %-13s  %s\n", width, "parameter", "worst-error", "allowed",
              indexWidth, "at-index", "analytic", "numeric", "over (kinks) / checked");
  int64_t checked = 0, over = 0, kinks = 0, missing = 0;
  for (const Row &r : rows) {
    if (r.missing) {
      std::printf("%-*s  %-11s  (entry '%s' has no gradient output '%s')\n", width, r.name.c_str(), "missing",
                  e->name, r.name.c_str());
      ++missing;
      continue;
    }
    std::printf("%-*s  %-11.3e  %-9.2e  %-*s  %-13.6e  %-13.6e  %lld (%lld) / %lld\n", width, r.name.c_str(),
                r.error, r.allowed, indexWidth, r.index.c_str(), r.analytic, r.numeric, (long long)r.over,
                (long long)r.kinks, (long long)r.checked);
    checked += r.checked;
    over += r.over;
    kinks += r.kinks;
  }
  bool failed = missing || over > (o.strict ? 0 : kinks);
  std::string missingNote =
      missing ? ", " + std::to_string(missing) + " trainable parameters without a gradient" : std::string();
  std::printf("gradcheck: %lld coordinates of %zu parameters (epsilon %g, tolerance %g, atol %g, seed %llu): "
              "%lld exceed the tolerance, %lld of them at kinks%s%s: %s\n",
              (long long)checked, rows.size() - missing, o.epsilon, o.tolerance, o.atol, (unsigned long long)o.seed,
              (long long)over, (long long)kinks, o.strict && kinks ? " (failures with --strict)" : "",
              missingNote.c_str(), failed ? "FAIL" : "ok");
  if (kinks)
    std::printf("note: %lld coordinates have a kink (ReLU at 0, a max-pool tie) inside [w - h, w + h]: the "
                "central difference fails there but the analytic gradient matches the one-sided difference on "
                "exactly one side; not counted as failures%s\n",
                (long long)kinks, o.strict ? " without --strict (given: counted)" : " (--strict counts them)");
  if (over > kinks)
    std::printf("note: %lld coordinates match neither the central nor exactly one one-sided difference. Several "
                "kinks within one step do that too (a convolution bias moves thousands of ReLU / max-pool inputs "
                "at once): if they pass with a smaller --epsilon (say 3e-4), the gradient is likely right, "
                "checked only to the float32 noise in the 'allowed' column; --verbose lists every coordinate\n",
                (long long)(over - kinks));
  return failed ? 1 : 0;
}


/// `kiln-run devices`: the CPU's threads and features, and the CUDA devices
/// (or why there are none). Exit 0 either way: no GPU is not an error here.
int devices() {
  cpu_set_t set;
  int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
  std::printf("cpu: %d threads available; features:", cpus);
  for (const char *f : {"sse4.2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512vnni"}) {
    int yes = 0;
    if (kiln_cpu_supports(f, &yes) == KILN_OK && yes)
      std::printf(" %s", f);
  }
  std::printf("\n");
  kiln_cuda_device found[16];
  size_t count = 0;
  if (kiln_cuda_devices(found, 16, &count) != KILN_OK) {
    std::printf("cuda: %s\n", kiln_last_error());
    return 0;
  }
  for (size_t i = 0; i < count && i < 16; ++i)
    std::printf("cuda:%zu %s, compute capability %d.%d, %.1f GiB\n", i, found[i].name, found[i].compute_major,
                found[i].compute_minor, double(found[i].memory_bytes) / (1 << 30));
  if (count > 16)
    std::printf("(and %zu more)\n", count - 16);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  bool help = argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h");
  if (argc == 2 && std::string(argv[1]) == "devices")
    return devices();
  if (argc < 3 || help) {
    usage(help);
    return help ? 0 : 1;
  }
  std::string command = argv[1], modelPath = argv[2];
  if (command != "info" && command != "predict" && command != "grad" && command != "gradcheck" &&
      command != "fit" && command != "evaluate" && command != "crosscheck")
    return usage(), fail("unknown command '" + command + "'");
  bool training = command == "grad" || command == "gradcheck";
  std::vector<std::string> inputSpecs;
  std::string paramsPath, outputPath, classesPath, entryName = training ? "gradients" : "predict";
  GradOptions grads;
  FitCommand fits;
  fits.modelPath = modelPath;
  std::set<std::string> given;
  int32_t threads = 0; // the runtime's default: KILN_NUM_THREADS or every CPU
  std::string device;   // --device: empty = the CPU
  CrosscheckOptions cross;
  cross.modelPath = modelPath;
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i];
    // Options of each command; any other is refused by name.
#define KILN_DATA_OPTIONS                                                                                      \
  "--data", "--scale", "--one-hot", "--label-column", "--no-header", "--split", "--skip", "--limit"
    static const std::map<std::string, std::vector<std::string>> kOptions = {
        {"info", {}},
        {"predict",
         {"--input", "--params", "--output", "--classes", "--entry", "--threads", "--device", KILN_DATA_OPTIONS}},
        {"grad", {"--input", "--labels", "--params", "--output", "--entry", "--threads"}},
        {"gradcheck",
         {"--input", "--labels", "--params", "--entry", "--samples", "--epsilon", "--seed", "--tolerance", "--atol",
          "--strict", "--verbose", "--threads"}},
        {"fit",
         {KILN_DATA_OPTIONS, "--epochs", "--batch-size", "--seed", "--no-shuffle", "--validation-split",
          "--validation-data", "--validation-skip", "--validation-limit", "--early-stopping", "--patience",
          "--min-delta", "--restore-best", "--params", "--save", "--checkpoint", "--resume", "--history", "--plot",
          "--json", "--threads", "--device"}},
        {"evaluate", {KILN_DATA_OPTIONS, "--params", "--batch-size", "--json", "--threads", "--device"}},
        {"crosscheck",
         {KILN_DATA_OPTIONS, "--device", "--batches", "--params", "--tolerance", "--seed", "--threads"}},
    };
#undef KILN_DATA_OPTIONS
    const std::vector<std::string> &known = kOptions.at(command);
    if (std::find(known.begin(), known.end(), arg) == known.end()) {
      if (arg.rfind("--", 0) == 0)
        return fail("unknown option '" + arg + "' for " + command), usage(), 1;
      return fail("unexpected argument '" + arg + "'"), usage(), 1;
    }
    given.insert(arg);
    if (arg == "--strict" || arg == "--verbose") {
      (arg == "--strict" ? grads.strict : grads.verbose) = true;
      continue;
    }
    if (arg == "--no-shuffle" || arg == "--restore-best" || arg == "--json" || arg == "--no-header") {
      if (arg == "--no-shuffle")
        fits.noShuffle = true;
      else if (arg == "--restore-best")
        fits.restoreBest = true;
      else if (arg == "--json")
        fits.json = true;
      else
        fits.data.load.csvHeader = false;
      continue;
    }
    if (i + 1 >= argc)
      return fail(arg + " needs a value");
    const char *v = argv[++i];
    double number = 0;
    long long integer = 0;
    if (arg == "--input")
      inputSpecs.push_back(v);
    else if (arg == "--params")
      paramsPath = v;
    else if (arg == "--output")
      outputPath = v;
    else if (arg == "--classes")
      classesPath = v;
    else if (arg == "--entry")
      entryName = v;
    else if (arg == "--labels")
      grads.labelsPath = v;
    else if (arg == "--device")
      device = cross.device = v;
    else if (arg == "--batches") {
      if (!parseInteger("--batches", v, 1, integer))
        return 1;
      cross.batches = integer;
    } else if (arg == "--threads") {
      if (!parseInteger("--threads", v, 1, integer))
        return 1;
      if (integer > KILN_MAX_THREADS)
        return fail("--threads: at most " + std::to_string(KILN_MAX_THREADS) + ", got " + v);
      threads = int32_t(integer);
    } else if (arg == "--samples") {
      if (!parseInteger("--samples", v, 1, integer))
        return 1;
      grads.samples = integer;
    } else if (arg == "--seed") {
      if (!parseInteger("--seed", v, 0, integer))
        return 1;
      grads.seed = fits.seed = uint64_t(integer);
      fits.seedGiven = true;
    } else if (arg == "--epsilon" || arg == "--tolerance" || arg == "--atol") {
      if (!parseNumber(arg.c_str(), v, number))
        return 1;
      (arg == "--epsilon" ? grads.epsilon : arg == "--tolerance" ? grads.tolerance : grads.atol) = number;
      cross.tolerance = grads.tolerance;
    }
    // Data (fit, evaluate, predict).
    else if (arg == "--data")
      fits.data.path = v;
    else if (arg == "--scale") {
      if (!parseNumber("--scale", v, number))
        return 1;
      fits.data.load.scale = number;
    } else if (arg == "--one-hot") {
      if (!parseInteger("--one-hot", v, 2, integer))
        return 1;
      fits.data.load.oneHot = integer;
    } else if (arg == "--label-column")
      fits.data.load.labelColumn = v;
    else if (arg == "--split") {
      if (std::string(v) != "train" && std::string(v) != "test")
        return fail(std::string("--split needs 'train' or 'test', got '") + v + "'");
      fits.data.load.split = v;
    } else if (arg == "--skip" || arg == "--limit" || arg == "--validation-skip" || arg == "--validation-limit") {
      bool skip = arg == "--skip" || arg == "--validation-skip";
      if (!parseInteger(arg.c_str(), v, skip ? 0 : 1, integer))
        return 1;
      (arg == "--skip" ? fits.data.skip : arg == "--limit" ? fits.data.limit
                                        : skip             ? fits.validationSkip
                                                           : fits.validationLimit) = integer;
    }
    // fit.
    else if (arg == "--epochs" || arg == "--batch-size" || arg == "--patience") {
      if (!parseInteger(arg.c_str(), v, arg == "--patience" ? 0 : 1, integer))
        return 1;
      (arg == "--epochs" ? fits.epochs : arg == "--batch-size" ? fits.batchSize : fits.patience) = integer;
    } else if (arg == "--validation-split") {
      if (!parseReal("--validation-split", v, 0, 1, /*hiOpen=*/true, number))
        return 1;
      fits.validationSplit = number;
    } else if (arg == "--min-delta") {
      if (!parseReal("--min-delta", v, 0, HUGE_VAL, false, number))
        return 1;
      fits.minDelta = number;
    } else if (arg == "--validation-data")
      fits.validationPath = v;
    else if (arg == "--early-stopping")
      fits.monitor = v;
    else if (arg == "--save")
      fits.savePath = v;
    else if (arg == "--checkpoint")
      fits.checkpointPath = v;
    else if (arg == "--resume")
      fits.resumePath = v;
    else if (arg == "--history")
      fits.historyPrefix = v;
    else if (arg == "--plot")
      fits.plotPath = v;
  }
  bool dataGiven = !fits.data.path.empty();
  if (command == "predict") {
    if (dataGiven && !inputSpecs.empty())
      return usage(), fail("predict takes --input or --data, not both");
    if ((inputSpecs.empty() && !dataGiven) || outputPath.empty())
      return usage(), fail("predict needs --input (or --data) and --output");
    for (const char *o : {"--scale", "--one-hot", "--label-column", "--no-header", "--split", "--skip", "--limit"})
      if (given.count(o) && !dataGiven)
        return fail(std::string(o) + " applies to --data");
  }
  if (training && (inputSpecs.empty() || grads.labelsPath.empty()))
    return usage(), fail(command + " needs --input and --labels");
  if (command == "grad" && outputPath.empty())
    return usage(), fail("grad needs --output (a .safetensors file)");
  if ((command == "fit" || command == "evaluate") && !dataGiven)
    return usage(), fail(command + " needs --data PATH (an MNIST or CIFAR-10 folder, .npz, .csv, or x.npy,y.npy)");
  if (command == "fit") {
    for (const char *o : {"--patience", "--min-delta", "--restore-best"})
      if (given.count(o) && fits.monitor.empty())
        return fail(std::string(o) + " needs --early-stopping MONITOR (val_loss, val_accuracy, loss, ...)");
    for (const char *o : {"--validation-skip", "--validation-limit"})
      if (given.count(o) && fits.validationPath.empty())
        return fail(std::string(o) + " needs --validation-data PATH");
    if (given.count("--validation-split") && !fits.validationPath.empty())
      return fail("give --validation-split or --validation-data, not both");
  }
  fits.paramsPath = paramsPath;
  if (command == "crosscheck") {
    for (const char *o : {"--scale", "--one-hot", "--label-column", "--no-header", "--split", "--skip", "--limit"})
      if (given.count(o) && !dataGiven)
        return fail(std::string(o) + " applies to --data");
    cross.data = fits.data;
    cross.paramsPath = paramsPath;
    cross.seed = grads.seed;
    cross.threads = threads;
    return crosscheck(cross);
  }

  kiln_model *model = nullptr;
  uint32_t flags = command == "info" ? KILN_LOAD_NO_CODE : KILN_LOAD_DEFAULT;
  if (kiln_model_load_file(modelPath.c_str(), flags, &model) != KILN_OK)
    return fail(kiln_last_error());
  if (threads && kiln_model_set_num_threads(model, threads) != KILN_OK) {
    fail(kiln_last_error());
    kiln_model_free(model);
    return 1;
  }
  if (!device.empty() && kiln_model_set_device(model, device.c_str()) != KILN_OK) {
    fail(std::string("--device ") + device + ": " + kiln_last_error());
    kiln_model_free(model);
    return 1;
  }
  int rc;
  if (command == "info") {
    rc = info(model);
  } else if (command == "predict") {
    rc = predict(model, entryName, inputSpecs, paramsPath, outputPath, classesPath,
                 dataGiven ? &fits.data : nullptr);
  } else if (command == "fit") {
    rc = fit(model, fits);
  } else if (command == "evaluate") {
    rc = evaluate(model, fits);
  } else {
    grads.entryName = entryName;
    grads.inputSpecs = inputSpecs;
    grads.paramsPath = paramsPath;
    grads.outputPath = outputPath;
    rc = command == "grad" ? grad(model, grads) : gradcheck(model, grads);
  }
  kiln_model_free(model);
  return rc;
}
