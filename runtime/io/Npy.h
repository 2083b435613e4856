//===- Npy.h - numpy .npy files ---------------------------------*- C++ -*-===//
//
// Reads and writes numpy's .npy format (versions 1.0, 2.0 and 3.0): a magic
// string, a header that is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (10, 784), }
// and the raw little-endian C-order data. Supported descrs: <f2 <f4 <f8
// |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1 (one-byte types also as <u1, <i1, <b1).
// Big-endian, Fortran-order, structured and object arrays are rejected with
// a message saying so. See docs/file-formats.md for every check performed.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/io/Array.h"
#include "runtime/io/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::io {

/// Reads the .npy file at `path`.
Expected<Array> readNpy(const std::string &path);
/// Parses a .npy file held in memory; `name` prefixes error messages.
Expected<Array> parseNpy(const void *data, size_t size, const std::string &name = "<memory>");

/// Writes `array` to `path` atomically (temporary file, fsync, rename), with
/// the exact header numpy would write.
Status writeNpy(const std::string &path, const ArrayRef &array);
/// The bytes of the .npy file for `array`.
Expected<std::vector<uint8_t>> encodeNpy(const ArrayRef &array);

/// numpy's descr for `dtype` ("<f4", "|u1", "|b1", ...), or null for BF16,
/// which numpy has no type for.
const char *npyDescr(DType dtype);

} // namespace kiln::io
