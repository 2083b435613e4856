//===- Idx.h - IDX files (MNIST) --------------------------------*- C++ -*-===//
//
// The IDX format of the MNIST database (yann.lecun.com/exdb/mnist): a magic
// number 00 00 <type> <rank>, `rank` big-endian u32 dimensions, then the
// elements, big-endian, C order. Types: 08 u8, 09 i8, 0B i16, 0C i32,
// 0D f32, 0E f64. Files may be gzip-compressed (train-images-idx3-ubyte.gz),
// recognised by their first bytes. See docs/file-formats.md, "Training data".
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/io/Array.h"
#include "runtime/io/Status.h"

#include <cstddef>
#include <string>

namespace kiln::io {

/// Reads the IDX file at `path` (plain or gzip) into an array of its type
/// and dimensions (U8 [N, 28, 28] for MNIST images, U8 [N] for labels).
/// `noun` names the items of the first dimension in messages ("images",
/// "labels"): "labels.gz: truncated: header says 60000 labels, file holds 1234".
Expected<Array> readIdx(const std::string &path, const char *noun = "items");
/// The same for a file held in memory; `name` prefixes error messages.
Expected<Array> parseIdx(const void *data, size_t size, const std::string &name = "<memory>",
                         const char *noun = "items");

/// True when `head` (at least 4 bytes) starts like an IDX file: 00 00, a
/// known type code and a rank of 1 to 16.
bool looksLikeIdx(const void *head, size_t size);

} // namespace kiln::io
