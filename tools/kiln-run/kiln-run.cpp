//===- kiln-run.cpp - run compiled models from the command line -----------===//
//
//   kiln-run info model.kbin
//   kiln-run predict model.kbin --input x.npy [--params p.safetensors] --output y.npy
//                    [--input name=x.npy ...] [--classes c.npy] [--entry predict]
//
// Any number of samples: inputs are cut into the entry point's batch size and
// a last partial batch is padded, run, and trimmed, so every sample is
// predicted exactly once. Parameters load by Keras name from .safetensors or
// .npz in Keras layout. Links only the runtime and the file-format library.
//
//===----------------------------------------------------------------------===//

#include "runtime/io/ArrayFile.h"
#include "runtime/io/Npy.h"
#include "runtime/io/Npz.h"
#include "runtime/kiln_runtime.h"
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

using namespace kiln;

namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "kiln-run: error: %s\n", message.c_str());
  return 1;
}

std::string runtimeError(const std::string &what) { return what + ": " + kiln_last_error(); }

std::string shapeStr(const int64_t *shape, int32_t rank) {
  std::string s = "(";
  for (int32_t i = 0; i < rank; ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (rank == 1 ? ",)" : ")");
}

void usage() {
  std::fprintf(stderr,
               "usage: kiln-run info MODEL.kbin\n"
               "       kiln-run predict MODEL.kbin --input [NAME=]FILE ... --output FILE\n"
               "                [--params FILE] [--classes FILE] [--entry NAME]\n"
               "Arrays: .npy, .npz (one array per input, by name) or .safetensors.\n");
}

/// Converts a numeric array to float32 (inputs may come as uint8 pixels, f64, ...).
io::Expected<io::Array> toFloat32(io::Array array, const std::string &what) {
  if (array.dtype() == io::DType::F32)
    return array;
  auto out = io::Array::uninitialized(io::DType::F32, array.shape());
  if (!out)
    return out;
  float *dst = out->data<float>();
  const uint8_t *src = array.bytes();
  for (uint64_t i = 0; i < array.numElements(); ++i) {
    switch (array.dtype()) {
    case io::DType::F64: dst[i] = float(reinterpret_cast<const double *>(src)[i]); break;
    case io::DType::U8: dst[i] = float(src[i]); break;
    case io::DType::I32: dst[i] = float(reinterpret_cast<const int32_t *>(src)[i]); break;
    case io::DType::I64: dst[i] = float(reinterpret_cast<const int64_t *>(src)[i]); break;
    default:
      return io::Error(what + ": arrays of " + io::dtypeName(array.dtype()) +
                       " cannot be used as model inputs (expected float32 or an integer type)");
    }
  }
  return out;
}

int info(kiln_model *model) {
  const char *name = nullptr, *producer = nullptr;
  kiln_model_name(model, &name);
  kiln_model_producer(model, &producer);
  std::printf("model %s (%s)\n", name, producer ? producer : "?");
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
                p->trainable ? "" : " (frozen)");
  }
  return 0;
}

/// Sets every parameter found in `path` (by Keras name); all must exist.
int loadParams(kiln_model *model, const std::string &path) {
  auto arrays = io::readArrays(path);
  if (!arrays)
    return fail(arrays.message());
  size_t count = 0;
  kiln_model_num_params(model, &count);
  size_t set = 0;
  for (io::NamedArray &a : *arrays) {
    const kiln_param_info *p = nullptr;
    if (kiln_model_find_param(model, a.name.c_str(), &p) != KILN_OK)
      return fail(path + ": '" + a.name + "' is not a parameter of the model (kiln-run info lists them)");
    if (a.array.dtype() != io::DType::F32)
      return fail(path + ": parameter '" + a.name + "' is " + io::dtypeName(a.array.dtype()) +
                  ", the model needs float32");
    std::vector<int64_t> want(p->tensor.shape, p->tensor.shape + p->tensor.rank);
    if (a.array.shape() != want)
      return fail(path + ": parameter '" + a.name + "' has shape " +
                  io::formatShape(a.array.shape()) + ", the model needs " + io::formatShape(want) +
                  " (Keras layout: Dense [in, out], Conv2D [kh, kw, in, out])");
    if (kiln_model_set_param(model, a.name.c_str(), KILN_F32, a.array.bytes(),
                             a.array.numElements()) != KILN_OK)
      return fail(runtimeError(path + ": cannot set '" + a.name + "'"));
    ++set;
  }
  if (set < count)
    std::fprintf(stderr, "kiln-run: note: %s sets %zu of %zu parameters; the others keep their "
                         "initial values\n", path.c_str(), set, count);
  return 0;
}

int predict(kiln_model *model, const std::string &entryName,
            const std::vector<std::string> &inputSpecs, const std::string &paramsPath,
            const std::string &outputPath, const std::string &classesPath) {
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

} // namespace

int main(int argc, char **argv) {
  if (argc < 3 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage();
    return argc < 2 ? 1 : (argc == 2 ? 0 : 1);
  }
  std::string command = argv[1], modelPath = argv[2];
  std::vector<std::string> inputSpecs;
  std::string paramsPath, outputPath, classesPath, entryName = "predict";
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char *flag) -> const char * {
      if (i + 1 >= argc) {
        fail(std::string(flag) + " needs a value");
        return nullptr;
      }
      return argv[++i];
    };
    const char *v = nullptr;
    if (arg == "--input" && (v = value("--input")))
      inputSpecs.push_back(v);
    else if (arg == "--params" && (v = value("--params")))
      paramsPath = v;
    else if (arg == "--output" && (v = value("--output")))
      outputPath = v;
    else if (arg == "--classes" && (v = value("--classes")))
      classesPath = v;
    else if (arg == "--entry" && (v = value("--entry")))
      entryName = v;
    else if (!v) {
      if (arg.rfind("--", 0) == 0 && arg != "--input" && arg != "--params" && arg != "--output" &&
          arg != "--classes" && arg != "--entry")
        return fail("unknown option '" + arg + "'"), usage(), 1;
      return 1;
    }
  }
  if (command != "info" && command != "predict")
    return usage(), fail("unknown command '" + command + "'");

  kiln_model *model = nullptr;
  uint32_t flags = command == "info" ? KILN_LOAD_NO_CODE : KILN_LOAD_DEFAULT;
  if (kiln_model_load_file(modelPath.c_str(), flags, &model) != KILN_OK)
    return fail(kiln_last_error());
  int rc;
  if (command == "info") {
    rc = info(model);
  } else if (inputSpecs.empty() || outputPath.empty()) {
    usage();
    rc = fail("predict needs --input and --output");
  } else {
    rc = predict(model, entryName, inputSpecs, paramsPath, outputPath, classesPath);
  }
  kiln_model_free(model);
  return rc;
}
