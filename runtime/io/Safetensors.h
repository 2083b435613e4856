//===- Safetensors.h - .safetensors parameter files -------------*- C++ -*-===//
//
// The safetensors format: an 8-byte little-endian header length N, N bytes
// of JSON mapping tensor names to {"dtype", "shape", "data_offsets"} (plus an
// optional "__metadata__" object of strings), then the data section. Kiln
// checkpoints use Keras parameter names ("dense/kernel", "conv2d/bias").
// Offsets are checked as the format requires: inside the data section, no
// overlaps, no gaps, and covering it completely. See docs/file-formats.md.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/io/Array.h"
#include "runtime/io/Status.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln::io {

/// "__metadata__": string keys to string values, in file order.
using Metadata = std::vector<std::pair<std::string, std::string>>;

struct SafetensorsFile {
  ArrayList tensors; // in header order
  Metadata metadata;
};

/// Reads the .safetensors file at `path` (each tensor is read straight into
/// its own buffer; the file is not loaded whole).
Expected<SafetensorsFile> readSafetensors(const std::string &path);
/// Parses a .safetensors file held in memory; `name` prefixes errors.
Expected<SafetensorsFile> parseSafetensors(const void *data, size_t size,
                                           const std::string &name = "<memory>");

/// Writes `tensors` (and `metadata`) to `path` atomically (temporary file,
/// fsync, rename). The header lists tensors in the given order; the data is
/// laid out widest dtype first so every tensor is aligned to its element size.
Status writeSafetensors(const std::string &path, const std::vector<NamedArrayRef> &tensors,
                        const Metadata &metadata = {});
Status writeSafetensors(const std::string &path, const ArrayList &tensors,
                        const Metadata &metadata = {});
/// The bytes of the .safetensors file for `tensors`.
Expected<std::vector<uint8_t>> encodeSafetensors(const std::vector<NamedArrayRef> &tensors,
                                                 const Metadata &metadata = {});

/// The safetensors dtype name: "F32", "BF16", "BOOL", ...
const char *safetensorsDType(DType dtype);

} // namespace kiln::io
