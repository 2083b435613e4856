//===- Dataset.h - Training data for kiln-run fit ---------------*- C++ -*-===//
//
// loadDataset reads a training set (inputs and labels) from the formats that
// datasets are distributed in, checks it, and returns it as the arrays a
// compiled train_step takes: inputs f32 [N, ...] and labels i32 [N] (class
// ids) or f32 [N, k] (one-hot rows or regression targets).
//
// `path` is one of:
//   dir/                 MNIST IDX files (train-images-idx3-ubyte[.gz] and
//                        train-labels-idx1-ubyte[.gz]; t10k-... for split
//                        "test"; also images-idx3-ubyte[.gz] +
//                        labels-idx1-ubyte[.gz] without a split prefix, and
//                        the "train-images.idx3-ubyte" spelling), or CIFAR-10
//                        binary batches (data_batch_1.bin ... data_batch_5.bin,
//                        test_batch.bin; also in dir/cifar-10-batches-bin/)
//   images,labels        two IDX files (plain or gzip)
//   x.npy,y.npy          inputs and labels as two .npy files
//   data.npz             arrays x and y (or x_train/y_train, x_test/y_test)
//   batch.bin            one CIFAR-10 batch
//   table.csv            numbers; one label column, the others are features
//
// Every problem is reported before training starts, as a failed Expected
// whose message starts with the file it is about. docs/file-formats.md,
// "Training data", lists the formats, options and checks.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/io/Array.h"
#include "runtime/io/Status.h"

#include <cstdint>
#include <string>

namespace kiln::io {

struct Dataset {
  Array x; ///< F32 [N, ...]; images NHWC ([N, 28, 28, 1] for MNIST, [N, 32, 32, 3] for CIFAR-10)
  Array y; ///< I32 [N] class ids, or F32 [N, k] (one-hot rows, or regression targets)
  std::string description; ///< one line: the format, files, shapes, scale and label range
};

struct DatasetOptions {
  /// Multiply inputs by this if > 0 (e.g. 1/255 for pixels); 0 = the
  /// format's default: 1/255 for IDX and CIFAR-10 pixels, 1 for .npy, .npz
  /// and CSV (whatever their dtype).
  double scale = 0;
  /// If > 0, integer labels become one-hot f32 rows of this many classes
  /// (every label must be below it).
  int64_t oneHot = 0;
  /// CSV: the label column, by header name or 0-based index (-1: the last);
  /// empty: the last column.
  std::string labelColumn;
  /// CSV: true = the first line is a header, unless all its fields are
  /// numbers (then it is data); false = the first line is data.
  bool csvHeader = true;
  /// "train" or "test" for folders (MNIST, CIFAR-10) and .npz archives
  /// (x_train/y_train vs x_test/y_test); empty means "train".
  std::string split;
  /// Keep only the first `limit` samples (0 = all). Files are still read
  /// and checked whole; value checks (labels, NaN/Inf) apply to the kept ones.
  int64_t limit = 0;
};

/// Loads and checks the training data at `path` (see above).
Expected<Dataset> loadDataset(const std::string &path, const DatasetOptions &options = {});

} // namespace kiln::io
