//===- Crosscheck.h - kiln-run crosscheck: CPU vs GPU -----------*- C++ -*-===//
#pragma once

#include "Fit.h"

#include <cstdint>
#include <string>

namespace kiln::tool {

struct CrosscheckOptions {
  std::string modelPath;
  std::string device = "cuda";
  int64_t batches = 1;
  DataOptions data;       ///< empty path: deterministic random inputs
  std::string paramsPath; ///< start from these parameters (both copies)
  double tolerance = 1e-3;
  uint64_t seed = 0;
  int32_t threads = 0;
};

/// Compares the model on the CPU and on `device` (Crosscheck.cpp); 0 when
/// every difference is within the tolerance.
int crosscheck(const CrosscheckOptions &options);

} // namespace kiln::tool
