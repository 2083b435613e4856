//===- Gzip.cpp - Bounded gzip decompression ------------------------------===//
#include "runtime/io/Gzip.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace kiln::io::detail {

bool isGzip(const void *head, size_t size) {
  const auto *p = static_cast<const uint8_t *>(head);
  return size >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 0x08;
}

struct GzipReader::State {
  z_stream zs;
  bool initialized = false;
  bool memberStarted = false; // zlib has seen input of the current member
};

GzipReader::GzipReader(const void *data, size_t size, std::string name)
    : state_(new State), data_(static_cast<const uint8_t *>(data)), size_(size),
      name_(std::move(name)) {
  std::memset(&state_->zs, 0, sizeof state_->zs);
}

GzipReader::~GzipReader() {
  if (state_->initialized)
    inflateEnd(&state_->zs);
}

uint64_t GzipReader::maxRemaining() const {
  if (done_)
    return 0;
  // Unconsumed input (fed but not yet used, plus not yet fed) times deflate's
  // maximum ratio, plus what inflate may hold back between calls.
  uint64_t input = uint64_t(size_ - fed_) + state_->zs.avail_in;
  return input * 1032 + 65536;
}

Expected<size_t> GzipReader::read(void *dst, size_t n) {
  z_stream &zs = state_->zs;
  if (!state_->initialized) {
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) // 16: gzip wrapper only
      return Error(name_ + ": gzip error: cannot initialise zlib");
    state_->initialized = true;
  }
  auto *out = static_cast<uint8_t *>(dst);
  size_t got = 0;
  while (got < n && !done_) {
    if (zs.avail_in == 0 && fed_ < size_) {
      size_t chunk = std::min<size_t>(size_ - fed_, size_t(1) << 30);
      zs.next_in = const_cast<Bytef *>(data_ + fed_);
      zs.avail_in = uInt(chunk);
      fed_ += chunk;
    }
    size_t want = std::min<size_t>(n - got, size_t(1) << 30);
    zs.next_out = out + got;
    zs.avail_out = uInt(want);
    int ret = inflate(&zs, Z_NO_FLUSH);
    size_t made = want - zs.avail_out;
    got += made;
    produced_ += made;
    if (ret == Z_STREAM_END) {
      uint64_t left = uint64_t(size_ - fed_) + zs.avail_in;
      if (left == 0) {
        done_ = true;
        break;
      }
      // Another member must follow (gzip -c a b > ab.gz, pigz); anything
      // else after the end of a member is an error.
      uint8_t next[2] = {0, 0};
      size_t have = 0;
      for (size_t i = 0; i < 2 && i < left; ++i) {
        next[i] = i < zs.avail_in ? zs.next_in[i] : data_[fed_ + (i - zs.avail_in)];
        ++have;
      }
      if (have < 2 || next[0] != 0x1f || next[1] != 0x8b) {
        std::string what =
            std::all_of(zs.next_in, zs.next_in + zs.avail_in, [](uint8_t b) { return b == 0; }) &&
                    std::all_of(data_ + fed_, data_ + size_, [](uint8_t b) { return b == 0; })
                ? " zero"
                : "";
        return Error(name_ + ": gzip error: " + std::to_string(left) + what +
                     " bytes of non-gzip data follow the compressed stream");
      }
      if (inflateReset(&zs) != Z_OK)
        return Error(name_ + ": gzip error: cannot reset zlib");
      continue;
    }
    if (ret == Z_BUF_ERROR && zs.avail_in == 0) {
      // No progress without more input (zlib may still have held bits to
      // decode with none left, so this is only decided by inflate itself).
      if (fed_ < size_)
        continue;        // fed at the top of the loop
      truncated_ = true; // the input ends in the middle of a member
      done_ = true;
      break;
    }
    if (ret != Z_OK) {
      const char *msg = zs.msg ? zs.msg : (ret == Z_MEM_ERROR ? "out of memory" : "corrupt data");
      return Error(name_ + ": gzip error: " + msg + " (at compressed byte " +
                   std::to_string(fed_ - zs.avail_in) + "; the file is corrupt)");
    }
  }
  return got;
}

Expected<uint64_t> GzipReader::skipRest() {
  std::vector<uint8_t> scratch(1 << 16);
  uint64_t total = 0;
  for (;;) {
    Expected<size_t> got = read(scratch.data(), scratch.size());
    if (!got)
      return got.status();
    total += *got;
    if (*got < scratch.size())
      return total;
  }
}

} // namespace kiln::io::detail
