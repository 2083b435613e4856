//===- Cifar.cpp - CIFAR-10 binary batches --------------------------------===//
#include "runtime/io/Cifar.h"

#include "runtime/io/ByteIO.h"
#include "runtime/io/Gzip.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace kiln::io {
namespace {

constexpr size_t kPlane = 32 * 32;

Expected<CifarBatch> parse(detail::Source &source) {
  const uint64_t size = source.size();
  const std::string &name = source.name();
  auto fail = [&](const std::string &problem) { return Error(name + ": " + problem); };
  if (size == 0)
    return fail("empty file (a CIFAR-10 batch is a sequence of 3073-byte records)");

  uint8_t head[512] = {};
  size_t headSize = size_t(std::min<uint64_t>(sizeof head, size));
  if (Status s = source.readAt(0, head, headSize); !s)
    return s;
  if (detail::isGzip(head, headSize))
    return fail("gzip-compressed; decompress it first (CIFAR-10's cifar-10-binary.tar.gz: "
                "tar xzf it and use the .bin files of cifar-10-batches-bin/)");
  if (headSize >= 262 && std::memcmp(head + 257, "ustar", 5) == 0)
    return fail("a tar archive, not a CIFAR-10 batch: extract it first (tar xf) and use the "
                ".bin files of cifar-10-batches-bin/");
  if (headSize >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5)
    return fail("a Python pickle (the 'python version' of CIFAR-10), not a binary batch: use "
                "the binary version (cifar-10-binary.tar.gz)");

  uint64_t records = size / kCifarRecordBytes, rest = size % kCifarRecordBytes;
  if (rest) {
    std::string hint;
    if (size % (kCifarRecordBytes + 1) == 0)
      hint = "; it is a whole number of 3074-byte records, as in CIFAR-100 (coarse and fine "
             "label bytes), which is not supported";
    return fail("truncated: " + std::to_string(size) + " bytes is " + std::to_string(records) +
                (records == 1 ? " record" : " records") + " of 3073 bytes and " +
                std::to_string(rest) +
                " bytes of another (a CIFAR-10 record is 1 label byte + 3072 pixel bytes)" + hint);
  }
  const int64_t n = int64_t(records);
  Expected<Array> images = Array::uninitialized(DType::U8, {n, 32, 32, 3});
  if (!images)
    return fail(images.message());
  Expected<Array> labels = Array::uninitialized(DType::U8, {n});
  if (!labels)
    return fail(labels.message());
  uint8_t *img = images->bytes();
  uint8_t *lab = labels->bytes();

  // Read in chunks of records; write the planes interleaved (CHW -> HWC).
  const size_t chunkRecords = 512;
  std::vector<uint8_t> chunk(chunkRecords * kCifarRecordBytes);
  for (int64_t first = 0; first < n; first += int64_t(chunkRecords)) {
    size_t count = size_t(std::min<int64_t>(int64_t(chunkRecords), n - first));
    if (Status s = source.readAt(uint64_t(first) * kCifarRecordBytes, chunk.data(),
                                 count * kCifarRecordBytes);
        !s)
      return s;
    for (size_t r = 0; r < count; ++r) {
      const uint8_t *rec = chunk.data() + r * kCifarRecordBytes;
      int64_t index = first + int64_t(r);
      if (rec[0] > 9)
        return fail("record " + std::to_string(index) + " (byte offset " +
                    std::to_string(uint64_t(index) * kCifarRecordBytes) + "): label " +
                    std::to_string(rec[0]) + " is out of range 0-9 (not a CIFAR-10 binary batch?)");
      lab[index] = rec[0];
      const uint8_t *red = rec + 1, *green = red + kPlane, *blue = green + kPlane;
      uint8_t *out = img + size_t(index) * 3 * kPlane;
      for (size_t p = 0; p < kPlane; ++p) {
        out[3 * p] = red[p];
        out[3 * p + 1] = green[p];
        out[3 * p + 2] = blue[p];
      }
    }
  }
  return CifarBatch{std::move(images).value(), std::move(labels).value()};
}

} // namespace

Expected<CifarBatch> parseCifar(const void *data, size_t size, const std::string &name) {
  detail::MemorySource source(data, size, name);
  return parse(source);
}

Expected<CifarBatch> readCifar(const std::string &path) {
  Expected<std::unique_ptr<detail::FileSource>> file = detail::FileSource::open(path);
  if (!file)
    return file.status();
  return parse(**file);
}

} // namespace kiln::io
