//===- Cifar.h - CIFAR-10 binary batches ------------------------*- C++ -*-===//
//
// The binary version of CIFAR-10 (www.cs.toronto.edu/~kriz/cifar.html):
// data_batch_1.bin ... data_batch_5.bin and test_batch.bin, each a sequence
// of 3073-byte records: one label byte (0-9), then a 32x32 image as 1024
// red, 1024 green and 1024 blue bytes, each plane row-major. The format has
// no header or magic: a file is checked by its size (a whole number of
// records) and its label bytes.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/io/Array.h"
#include "runtime/io/Status.h"

#include <cstddef>
#include <string>

namespace kiln::io {

constexpr size_t kCifarRecordBytes = 1 + 3 * 32 * 32;

struct CifarBatch {
  Array images; ///< U8 [N, 32, 32, 3], channel last (NHWC)
  Array labels; ///< U8 [N], each 0-9
};

/// Reads the CIFAR-10 binary batch at `path`.
Expected<CifarBatch> readCifar(const std::string &path);
/// The same for a batch held in memory; `name` prefixes error messages.
Expected<CifarBatch> parseCifar(const void *data, size_t size,
                                const std::string &name = "<memory>");

} // namespace kiln::io
