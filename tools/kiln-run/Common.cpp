//===- Common.cpp - helpers shared by kiln-run's commands -----------------===//
#include "Common.h"

#include "runtime/io/ArrayFile.h"
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace kiln::tool {

namespace {
std::string formatReal(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}
} // namespace

int fail(const std::string &message) {
  std::fprintf(stderr, "kiln-run: error: %s\n", message.c_str());
  return 1;
}

void note(const std::string &message) { std::fprintf(stderr, "kiln-run: note: %s\n", message.c_str()); }

std::string runtimeError(const std::string &what) { return what + ": " + kiln_last_error(); }

std::string shapeStr(const int64_t *shape, int32_t rank) {
  std::string s = "(";
  for (int32_t i = 0; i < rank; ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (rank == 1 ? ",)" : ")");
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

/// Converts class indices to int32: any integer type, or floats holding whole
/// numbers, as long as every value fits exactly.
io::Expected<io::Array> toInt32(io::Array array, const std::string &what) {
  if (array.dtype() == io::DType::I32)
    return array;
  auto out = io::Array::uninitialized(io::DType::I32, array.shape());
  if (!out)
    return out;
  int32_t *dst = out->data<int32_t>();
  const uint8_t *src = array.bytes();
  for (uint64_t i = 0; i < array.numElements(); ++i) {
    double v;
    switch (array.dtype()) {
    case io::DType::Bool:
    case io::DType::U8: v = src[i]; break;
    case io::DType::I8: v = reinterpret_cast<const int8_t *>(src)[i]; break;
    case io::DType::U16: v = reinterpret_cast<const uint16_t *>(src)[i]; break;
    case io::DType::I16: v = reinterpret_cast<const int16_t *>(src)[i]; break;
    case io::DType::U32: v = reinterpret_cast<const uint32_t *>(src)[i]; break;
    case io::DType::I64: {
      int64_t x = reinterpret_cast<const int64_t *>(src)[i];
      v = x < INT32_MIN || x > INT32_MAX ? 1e300 : double(x);
      break;
    }
    case io::DType::U64: {
      uint64_t x = reinterpret_cast<const uint64_t *>(src)[i];
      v = x > uint64_t(INT32_MAX) ? 1e300 : double(x);
      break;
    }
    case io::DType::F32: v = reinterpret_cast<const float *>(src)[i]; break;
    case io::DType::F64: v = reinterpret_cast<const double *>(src)[i]; break;
    default:
      return io::Error(what + ": arrays of " + io::dtypeName(array.dtype()) +
                       " cannot be used as class indices (expected an integer type)");
    }
    if (!(v >= double(INT32_MIN) && v <= double(INT32_MAX)) || v != std::floor(v))
      return io::Error(what + ": element " + std::to_string(i) + " (" + std::to_string(v) +
                       ") of this " + io::dtypeName(array.dtype()) +
                       " array is not a whole number that fits int32; the model takes int32 class "
                       "indices");
    dst[i] = int32_t(v);
  }
  return out;
}

/// Sets every parameter found in `path` (by Keras name); all must exist.
int loadParams(kiln_model *model, const std::string &path) {
  auto arrays = io::readArrays(path);
  if (!arrays)
    return fail(arrays.message());
  size_t count = 0, params = 0;
  kiln_model_num_params(model, &params);
  for (size_t i = 0; i < params; ++i) { // model weights; optimizer state is not expected
    const kiln_param_info *p = nullptr;
    if (kiln_model_param(model, i, &p) == KILN_OK && !p->is_state)
      ++count;
  }
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
    set += !p->is_state;
  }
  if (set < count)
    std::fprintf(stderr, "kiln-run: note: %s sets %zu of %zu parameters; the others keep their "
                         "initial values\n", path.c_str(), set, count);
  return 0;
}

/// Parses a number option: a finite positive real, or (integer) a whole number >= minimum.
bool parseNumber(const char *flag, const char *text, double &out) {
  char *end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || *end || !std::isfinite(v) || v <= 0) {
    fail(std::string(flag) + " needs a positive number, got '" + text + "'");
    return false;
  }
  out = v;
  return true;
}
bool parseReal(const char *flag, const char *text, double lo, double hi, bool hiOpen, double &out) {
  char *end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || *end || !std::isfinite(v) || v < lo || v > hi || (hiOpen && v == hi)) {
    fail(std::string(flag) + " needs a number in [" + formatReal(lo) + ", " + formatReal(hi) + (hiOpen ? ")" : "]") +
         ", got '" + text + "'");
    return false;
  }
  out = v;
  return true;
}
bool parseInteger(const char *flag, const char *text, long long minimum, long long &out) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text, &end, 10);
  if (end == text || *end || errno || v < minimum) {
    fail(std::string(flag) + " needs an integer >= " + std::to_string(minimum) + ", got '" + text + "'");
    return false;
  }
  out = v;
  return true;
}

const kiln_entry_info *findEntry(const kiln_model *model, const std::string &base, int64_t batch) {
  const kiln_entry_info *found = nullptr;
  size_t count = 0;
  kiln_model_num_entries(model, &count);
  for (size_t i = 0; i < count; ++i) {
    const kiln_entry_info *e = nullptr;
    kiln_model_entry(model, i, &e);
    std::string name = e->name;
    if (name != base && name.rfind(base + "_b", 0) != 0)
      continue;
    if (!found || (batch > 0 && e->batch_size == batch && found->batch_size != batch))
      found = e;
  }
  return found;
}

} // namespace kiln::tool
