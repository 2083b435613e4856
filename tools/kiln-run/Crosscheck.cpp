//===- Crosscheck.cpp - kiln-run crosscheck: CPU vs GPU -------------------===//
//
// Loads the model twice, keeps one copy on the CPU and moves the other to
// the device, gives both the same parameters, and compares:
// - predict on --batches batches (of --data, else deterministic random
//   inputs): every output;
// - with a trainable model: the `gradients` entry (every gradient) and one
//   train_step (its outputs, then every parameter and optimizer-state entry
//   after the update), on the first batch, from the same starting values.
// Error of an element: |cpu - gpu| / max(|cpu|, |gpu|, 1e-3) (relative, and
// absolute below 1e-3). Passes when every error <= --tolerance (default 1e-3,
// for kilnc --gpu-precision=fp32; tf32, the compiler's default, needs about
// 2e-2). docs/runtime.md, "kiln-run crosscheck".
//
//===----------------------------------------------------------------------===//

#include "Crosscheck.h"

#include "Common.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace kiln::tool {
namespace {

constexpr double kFloor = 1e-3; // below this magnitude, differences count absolutely

struct Models {
  kiln_model *cpu = nullptr, *gpu = nullptr;
  ~Models() {
    kiln_model_free(cpu);
    kiln_model_free(gpu);
  }
};

struct Worst {
  double abs = 0, rel = 0;
};

Worst compare(const float *a, const float *b, size_t n) {
  Worst w;
  for (size_t i = 0; i < n; ++i) {
    double x = a[i], y = b[i];
    double d = std::fabs(x - y);
    double rel = d / std::max({std::fabs(x), std::fabs(y), kFloor});
    if (std::isnan(x) != std::isnan(y))
      d = rel = INFINITY;
    w.abs = std::max(w.abs, d);
    w.rel = std::max(w.rel, rel);
  }
  return w;
}

Worst compareInts(const int32_t *a, const int32_t *b, size_t n) {
  Worst w;
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) {
      w.abs = std::max(w.abs, std::fabs(double(a[i]) - double(b[i])));
      w.rel = INFINITY;
    }
  return w;
}

/// Prints one row; returns whether it passes.
bool report(const std::string &what, const Worst &w, double tolerance) {
  bool ok = w.rel <= tolerance;
  std::printf("  %-48s max abs %.3g  max rel %.3g  %s\n", what.c_str(), w.abs, w.rel, ok ? "ok" : "FAIL");
  return ok;
}


/// Inputs of one batch for `entry`: rows of the data (x, and y as
/// "labels"), or random ones; "samples" is left to the session's default.
struct Batch {
  std::vector<std::vector<uint8_t>> inputs; // per entry input; empty: leave as is
};

Batch makeBatch(const kiln_entry_info &e, const io::Dataset *data, int64_t batchIndex, int64_t classes,
                std::mt19937_64 &rng) {
  Batch b;
  for (size_t i = 0; i < e.num_inputs; ++i) {
    const kiln_tensor_info &t = e.inputs[i];
    std::vector<uint8_t> bytes(t.byte_size);
    std::string name = t.name;
    if (name == "samples" && t.rank == 0) {
      b.inputs.emplace_back();
      continue;
    }
    const io::Array *src = nullptr;
    if (data)
      src = name == "labels" ? &data->y : &data->x;
    if (src && src->numElements() > 0) {
      size_t rowBytes = t.byte_size / size_t(e.batch_size);
      int64_t rowsHave = src->shape()[0];
      for (int64_t r = 0; r < e.batch_size; ++r) {
        int64_t row = (batchIndex * e.batch_size + r) % rowsHave;
        std::memcpy(bytes.data() + size_t(r) * rowBytes, src->bytes() + size_t(row) * rowBytes, rowBytes);
      }
    } else if (t.dtype == KILN_I32) {
      std::uniform_int_distribution<int32_t> pick(0, int32_t(std::max<int64_t>(classes, 1) - 1));
      for (size_t k = 0; k < size_t(t.num_elements); ++k) {
        int32_t v = pick(rng);
        std::memcpy(bytes.data() + 4 * k, &v, 4);
      }
    } else {
      std::uniform_real_distribution<float> pick(0.f, 1.f);
      for (size_t k = 0; k < size_t(t.num_elements); ++k) {
        float v = pick(rng);
        std::memcpy(bytes.data() + 4 * k, &v, 4);
      }
    }
    b.inputs.push_back(std::move(bytes));
  }
  return b;
}

/// Runs `entry` on `m` with `batch`; fills `outputs` (one byte vector each).
bool runEntry(kiln_model *m, const kiln_entry_info &e, const Batch &batch, std::vector<std::vector<uint8_t>> &outputs,
              const char *where) {
  kiln_session *s = nullptr;
  if (kiln_session_create(m, e.name, &s) != KILN_OK)
    return fail(std::string(where) + ": " + kiln_last_error()), false;
  bool ok = true;
  for (size_t i = 0; i < e.num_inputs && ok; ++i)
    if (!batch.inputs[i].empty())
      ok = kiln_session_set_input(s, e.inputs[i].name, e.inputs[i].dtype, nullptr, 0, batch.inputs[i].data(),
                                  batch.inputs[i].size()) == KILN_OK;
  ok = ok && kiln_session_run(s) == KILN_OK;
  outputs.assign(e.num_outputs, {});
  for (size_t i = 0; i < e.num_outputs && ok; ++i) {
    outputs[i].resize(e.outputs[i].byte_size);
    ok = kiln_session_get_output(s, e.outputs[i].name, outputs[i].data(), outputs[i].size()) == KILN_OK;
  }
  if (!ok)
    fail(std::string(where) + ": " + e.name + ": " + kiln_last_error());
  kiln_session_destroy(s);
  return ok;
}

Worst compareTensor(const kiln_tensor_info &t, const uint8_t *a, const uint8_t *b) {
  if (t.dtype == KILN_I32)
    return compareInts(reinterpret_cast<const int32_t *>(a), reinterpret_cast<const int32_t *>(b),
                       size_t(t.num_elements));
  return compare(reinterpret_cast<const float *>(a), reinterpret_cast<const float *>(b), size_t(t.num_elements));
}

/// Runs `e` on both models and compares every output; false on a failed run.
bool checkEntry(Models &m, const kiln_entry_info &e, const Batch &batch, const std::string &label, double tolerance,
                bool &pass) {
  std::vector<std::vector<uint8_t>> a, b;
  if (!runEntry(m.cpu, e, batch, a, "cpu") || !runEntry(m.gpu, e, batch, b, "device"))
    return false;
  for (size_t i = 0; i < e.num_outputs; ++i)
    pass &= report(label + " " + e.outputs[i].name, compareTensor(e.outputs[i], a[i].data(), b[i].data()), tolerance);
  return true;
}

} // namespace

int crosscheck(const CrosscheckOptions &o) {
  Models m;
  if (kiln_model_load_file(o.modelPath.c_str(), KILN_LOAD_DEFAULT, &m.cpu) != KILN_OK ||
      kiln_model_load_file(o.modelPath.c_str(), KILN_LOAD_DEFAULT, &m.gpu) != KILN_OK)
    return fail(kiln_last_error());
  // The device first: without one there is nothing to compare.
  if (kiln_model_set_device(m.gpu, o.device.c_str()) != KILN_OK)
    return fail(std::string("crosscheck: ") + kiln_last_error());
  if (o.threads && kiln_model_set_num_threads(m.cpu, o.threads) != KILN_OK)
    return fail(kiln_last_error());
  if (!o.paramsPath.empty())
    if (loadParams(m.cpu, o.paramsPath) || loadParams(m.gpu, o.paramsPath))
      return 1;

  const kiln_entry_info *predict = findEntry(m.cpu, "predict");
  const kiln_entry_info *train = findEntry(m.cpu, "train_step");
  const kiln_entry_info *grads = findEntry(m.cpu, "gradients");
  if (!predict && !train)
    return fail("crosscheck: the model has neither a predict nor a train_step entry point");
  int64_t classes = 1;
  if (predict && predict->num_outputs && predict->outputs[0].rank >= 1)
    classes = predict->outputs[0].shape[predict->outputs[0].rank - 1];

  io::Dataset dataset;
  const io::Dataset *data = nullptr;
  if (!o.data.path.empty()) {
    auto loaded = loadData(o.data);
    if (!loaded)
      return fail(loaded.message());
    dataset = std::move(*loaded);
    const kiln_entry_info *shapeFrom = predict ? predict : train;
    for (size_t i = 0; i < shapeFrom->num_inputs; ++i)
      if (std::string(shapeFrom->inputs[i].name) != "samples" && std::string(shapeFrom->inputs[i].name) != "labels") {
        if (io::Status s = fitInputs(dataset.x, shapeFrom->inputs[i], o.data.path); !s)
          return fail(s.message());
        break;
      }
    if (train) // labels as train_step takes them
      for (size_t i = 0; i < train->num_inputs; ++i)
        if (std::string(train->inputs[i].name) == "labels") {
          auto y = train->inputs[i].dtype == KILN_I32 ? toInt32(std::move(dataset.y), o.data.path)
                                                      : toFloat32(std::move(dataset.y), o.data.path);
          if (!y)
            return fail(y.message());
          dataset.y = std::move(*y);
        }
    data = &dataset;
  }

  const char *device = nullptr;
  kiln_model_device(m.gpu, &device);
  std::printf("crosscheck %s: cpu vs %s, tolerance %g (error = |cpu - dev| / max(|cpu|, |dev|, %g))\n",
              o.modelPath.c_str(), device, o.tolerance, kFloor);
  std::mt19937_64 rng(o.seed);
  bool pass = true;
  if (predict)
    for (int64_t k = 0; k < o.batches; ++k) {
      Batch batch = makeBatch(*predict, data, k, classes, rng);
      if (!checkEntry(m, *predict, batch, std::string(predict->name) + " batch " + std::to_string(k), o.tolerance,
                      pass))
        return 1;
    }
  if (train) {
    Batch batch = makeBatch(*train, data, 0, classes, rng);
    if (grads && grads->batch_size == train->batch_size)
      if (!checkEntry(m, *grads, batch, grads->name, o.tolerance, pass))
        return 1;
    if (!checkEntry(m, *train, batch, train->name, o.tolerance, pass))
      return 1;
    size_t n = 0;
    kiln_model_num_params(m.cpu, &n);
    for (size_t i = 0; i < n; ++i) {
      const kiln_param_info *p = nullptr;
      kiln_model_param(m.cpu, i, &p);
      std::vector<uint8_t> a(p->tensor.byte_size), b(p->tensor.byte_size);
      if (kiln_model_get_param(m.cpu, p->tensor.name, a.data(), a.size()) != KILN_OK ||
          kiln_model_get_param(m.gpu, p->tensor.name, b.data(), b.size()) != KILN_OK)
        return fail(kiln_last_error());
      pass &= report(std::string("after ") + train->name + ": " + p->tensor.name,
                     compareTensor(p->tensor, a.data(), b.data()), o.tolerance);
    }
  }
  std::printf("%s\n", pass ? "crosscheck passed" : "crosscheck FAILED: differences above the tolerance");
  return pass ? 0 : 1;
}

} // namespace kiln::tool
