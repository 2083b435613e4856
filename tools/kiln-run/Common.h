//===- Common.h - helpers shared by kiln-run's commands ---------*- C++ -*-===//
//
// Error reporting ("kiln-run: error: ..." on stderr, exit status 1), array
// conversions to what entry points take, parameter files, number options.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/io/Array.h"
#include "runtime/io/Status.h"
#include "runtime/kiln_runtime.h"

#include <cstdint>
#include <string>

namespace kiln::tool {

/// Prints "kiln-run: error: <message>" on stderr; returns 1 (the exit status).
int fail(const std::string &message);
/// Prints "kiln-run: note: <message>" on stderr.
void note(const std::string &message);
/// `what`: kiln_last_error().
std::string runtimeError(const std::string &what);
/// "(16, 28, 28, 1)", "(3,)", "()".
std::string shapeStr(const int64_t *shape, int32_t rank);

/// Converts a numeric array to float32 (inputs may come as uint8 pixels, f64, ...).
io::Expected<io::Array> toFloat32(io::Array array, const std::string &what);
/// Converts class indices to int32: any integer type, or floats holding whole
/// numbers, as long as every value fits exactly.
io::Expected<io::Array> toInt32(io::Array array, const std::string &what);

/// Sets every parameter found in `path` (.safetensors or .npz, by Keras
/// name); all must exist. Optimizer state entries (a checkpoint's) are set too.
int loadParams(kiln_model *model, const std::string &path);

/// The entry point `base` (predict, train_step, eval_step) or one of its
/// batch specialisations (`base`_b<N>): the one of `batch` when given (> 0)
/// and compiled, else the first. Null when the model has none.
const kiln_entry_info *findEntry(const kiln_model *model, const std::string &base, int64_t batch = 0);

/// Number options: a finite positive real; a real in [lo, hi] (hiOpen: [lo, hi));
/// a whole number >= minimum. Each prints the error and returns false.
bool parseNumber(const char *flag, const char *text, double &out);
bool parseReal(const char *flag, const char *text, double lo, double hi, bool hiOpen, double &out);
bool parseInteger(const char *flag, const char *text, long long minimum, long long &out);

} // namespace kiln::tool
