//===- DatasetTestUtil.h - Writers of training data formats for tests -----===//
//
// Small files in the real byte layouts: IDX (MNIST), CIFAR-10 binary
// records, gzip (with zlib, as the gzip tool writes it).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "IoTestUtil.h"

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kiln_io_test {

using Bytes = std::vector<uint8_t>;

/// An IDX file: magic 00 00 <type> <rank>, big-endian dims, then `payload`
/// (already big-endian for multi-byte types).
inline Bytes idxFile(uint8_t type, const std::vector<uint32_t> &dims, const Bytes &payload) {
  Bytes out = {0, 0, type, uint8_t(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(uint8_t(d >> shift));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

/// MNIST-style u8 images [n, rows, cols]: pixel (i, r, c) = (i * 31 + r * 7 + c) % 256.
inline Bytes idxImages(uint32_t n, uint32_t rows = 28, uint32_t cols = 28) {
  Bytes pixels;
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t r = 0; r < rows; ++r)
      for (uint32_t c = 0; c < cols; ++c)
        pixels.push_back(uint8_t((i * 31 + r * 7 + c) % 256));
  return idxFile(0x08, {n, rows, cols}, pixels);
}

inline Bytes idxLabels(const Bytes &labels) {
  return idxFile(0x08, {uint32_t(labels.size())}, labels);
}

/// `data` gzip-compressed (one member, like `gzip -c`).
inline Bytes gzipBytes(const Bytes &data, int level = 6) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&zs, uLong(data.size())) + 64);
  zs.next_in = const_cast<Bytef *>(data.data());
  zs.avail_in = uInt(data.size());
  zs.next_out = out.data();
  zs.avail_out = uInt(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

/// CIFAR-10 records: label, then the R, G and B planes of a 32x32 image
/// whose pixel (y, x) of channel c in record i is (i * 13 + c * 50 + y * 3 + x) % 256.
inline uint8_t cifarPixel(size_t i, size_t y, size_t x, size_t c) {
  return uint8_t((i * 13 + c * 50 + y * 3 + x) % 256);
}
inline Bytes cifarRecords(const Bytes &labels, size_t first = 0) {
  Bytes out;
  for (size_t k = 0; k < labels.size(); ++k) {
    out.push_back(labels[k]);
    for (size_t c = 0; c < 3; ++c)
      for (size_t y = 0; y < 32; ++y)
        for (size_t x = 0; x < 32; ++x)
          out.push_back(cifarPixel(first + k, y, x, c));
  }
  return out;
}

inline bool writeText(const std::string &path, const std::string &text) {
  return writeBytes(path, Bytes(text.begin(), text.end()));
}

/// Whether `text` contains `part` (for EXPECT_TRUE with the message shown).
inline ::testing::AssertionResult contains(const std::string &text, const std::string &part) {
  if (text.find(part) != std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << text << "\"\n  does not contain \"" << part << "\"";
}

} // namespace kiln_io_test
