//===- Gzip.h - Bounded gzip decompression ----------------------*- C++ -*-===//
//
// Internal to the io library (not part of its API). Sequential inflation of
// a gzip file held in memory (one or more concatenated members, as gzip and
// pigz write), with zlib. The output is produced into caller buffers only,
// so a reader can check a decompressed size claimed by a header against
// maxRemaining() (deflate cannot expand data more than 1032:1) before it
// allocates anything.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/io/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace kiln::io::detail {

/// True when `head` starts with the gzip signature 1f 8b 08 (deflate).
bool isGzip(const void *head, size_t size);

class GzipReader {
public:
  /// `data` must stay valid while the reader is used; `name` prefixes errors.
  GzipReader(const void *data, size_t size, std::string name);
  ~GzipReader();
  GzipReader(const GzipReader &) = delete;
  GzipReader &operator=(const GzipReader &) = delete;

  /// Inflates up to `n` bytes into `dst`; returns how many were produced,
  /// fewer than `n` only at the end of the data (the last member's end, or
  /// the end of the input when the stream is cut off: see truncated()).
  /// Fails on corrupt data ("<name>: gzip error: ...").
  Expected<size_t> read(void *dst, size_t n);
  /// Inflates and discards the rest; returns how many bytes it held.
  Expected<uint64_t> skipRest();
  /// An upper bound on the bytes still to come.
  uint64_t maxRemaining() const;
  /// Whether the compressed input ended in the middle of a member (the file
  /// was cut off). Meaningful once read() returned a short count.
  bool truncated() const { return truncated_; }
  /// Decompressed bytes produced so far.
  uint64_t produced() const { return produced_; }

private:
  struct State;
  std::unique_ptr<State> state_;
  const uint8_t *data_;
  size_t size_;
  size_t fed_ = 0; // input bytes handed to zlib so far
  std::string name_;
  uint64_t produced_ = 0;
  bool done_ = false, truncated_ = false;
};

} // namespace kiln::io::detail
