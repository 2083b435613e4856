//===- Npz.h - numpy .npz archives ------------------------------*- C++ -*-===//
//
// An .npz file is a zip archive whose members are .npy files: member
// "dense/kernel.npy" holds array "dense/kernel". Reading accepts stored and
// deflated members (np.savez and np.savez_compressed), ZIP64 extra fields and
// end records, and checks every offset, size, name and CRC-32 against the
// archive before use. See docs/file-formats.md.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/io/Array.h"
#include "runtime/io/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::io {

/// Reads every array of the .npz archive at `path`, in archive order.
Expected<ArrayList> readNpz(const std::string &path);
/// Parses an .npz archive held in memory; `name` prefixes error messages.
Expected<ArrayList> parseNpz(const void *data, size_t size, const std::string &name = "<memory>");

struct NpzWriteOptions {
  /// Deflate members (like np.savez_compressed); stored otherwise (np.savez).
  bool compress = false;
  /// zlib level 1-9 when compressing.
  int level = 6;
  /// Write ZIP64 extra fields and end records even when no size needs them
  /// (they are written automatically past 4 GiB). For tests.
  bool forceZip64 = false;
};

/// Writes `arrays` to `path` atomically (temporary file, fsync, rename).
/// Names must be unique, non-empty and free of NUL bytes.
Status writeNpz(const std::string &path, const std::vector<NamedArrayRef> &arrays,
                const NpzWriteOptions &options = {});
Status writeNpz(const std::string &path, const ArrayList &arrays,
                const NpzWriteOptions &options = {});
/// The bytes of the .npz archive for `arrays`.
Expected<std::vector<uint8_t>> encodeNpz(const std::vector<NamedArrayRef> &arrays,
                                         const NpzWriteOptions &options = {});

} // namespace kiln::io
