//===- Fit.h - kiln-run fit / evaluate, and datasets for predict -*- C++ -*-===//
//
//   kiln-run fit MODEL.kbin --data PATH [options]       (docs/training.md)
//   kiln-run evaluate MODEL.kbin --data PATH [--params FILE] [--batch-size N] [--json]
//
// Data come through kiln_io's loadDataset (MNIST IDX folders, CIFAR-10
// batches, CSV, .npz, "x.npy,y.npy"); the samples are selected (--skip,
// --limit), fitted to the model's input and labels (reshaped when only the
// layout differs; class ids one-hot encoded for a one-hot loss) and handed
// to the runtime's kiln_fit / kiln_evaluate.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/io/Dataset.h"
#include "runtime/kiln_runtime.h"

#include <cstdint>
#include <string>

namespace kiln::tool {

/// Where samples come from and how they are read.
struct DataOptions {
  std::string path;
  io::DatasetOptions load; ///< scale, oneHot, labelColumn, csvHeader, split (limit: see below)
  int64_t skip = 0;        ///< drop the first `skip` samples
  int64_t limit = 0;       ///< then keep at most `limit` (0: all)
};

struct FitCommand {
  std::string modelPath;
  DataOptions data;
  std::string validationPath; ///< --validation-data (same format options as --data)
  int64_t validationSkip = 0, validationLimit = 0;
  double validationSplit = -1; ///< < 0: the model file's
  int64_t epochs = 0, batchSize = 0;
  bool seedGiven = false;
  uint64_t seed = 0;
  bool noShuffle = false;
  std::string monitor; ///< --early-stopping (display names accepted: val_accuracy)
  int64_t patience = -1;
  double minDelta = -1;
  bool restoreBest = false;
  std::string paramsPath, savePath, checkpointPath, resumePath, historyPrefix, plotPath;
  bool json = false;
};

/// Loads, checks and selects samples; `what` names the flag for messages.
io::Expected<io::Dataset> loadData(const DataOptions &options);

/// Makes `x` [N, ...] the shape `input` takes per sample (a reshape when
/// only the layout differs, e.g. 784 CSV columns for a (28, 28, 1) input).
/// `path` names the data in messages.
io::Status fitInputs(io::Array &x, const kiln_tensor_info &input, const std::string &path);

int fit(kiln_model *model, const FitCommand &options);
int evaluate(kiln_model *model, const FitCommand &options);

} // namespace kiln::tool
