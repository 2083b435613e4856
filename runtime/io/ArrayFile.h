//===- ArrayFile.h - Read any supported array file --------------*- C++ -*-===//
//
// For tools that accept "an array file": recognises .npy, .npz and
// .safetensors by their first bytes (not by the file name) and returns the
// arrays it holds.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/io/Array.h"
#include "runtime/io/Status.h"

#include <string>

namespace kiln::io {

enum class FileFormat { Npy, Npz, Safetensors, Unknown };

/// The format whose signature starts `head` (pass at least 9 bytes when
/// available): "\x93NUMPY" is .npy, "PK\x03\x04" / "PK\x05\x06" is .npz, an
/// 8-byte length followed by '{' is .safetensors.
FileFormat detectFormat(const void *head, size_t size);
const char *formatName(FileFormat format);

/// Reads every array of the file at `path`, whatever its format. A .npy
/// file yields one array named after the file ("x" for "dir/x.npy").
Expected<ArrayList> readArrays(const std::string &path);

} // namespace kiln::io
