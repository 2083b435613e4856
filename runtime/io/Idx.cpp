//===- Idx.cpp - IDX files (MNIST) ----------------------------------------===//
#include "runtime/io/Idx.h"

#include "runtime/io/ByteIO.h"
#include "runtime/io/Gzip.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

namespace kiln::io {
namespace {

using detail::GzipReader;
using detail::Source;

constexpr unsigned kMaxRank = 16;

bool idxType(uint8_t code, DType *dtype) {
  switch (code) {
  case 0x08:
    *dtype = DType::U8;
    return true;
  case 0x09:
    *dtype = DType::I8;
    return true;
  case 0x0B:
    *dtype = DType::I16;
    return true;
  case 0x0C:
    *dtype = DType::I32;
    return true;
  case 0x0D:
    *dtype = DType::F32;
    return true;
  case 0x0E:
    *dtype = DType::F64;
    return true;
  default:
    return false;
  }
}

/// Sequential bytes of the (decompressed) file.
class Input {
public:
  virtual ~Input() = default;
  /// Up to n bytes; fewer only at the end.
  virtual Expected<size_t> read(void *dst, size_t n) = 0;
  /// An upper bound on what is left.
  virtual uint64_t maxRemaining() const = 0;
  /// Consumes the rest and says how many bytes it held.
  virtual Expected<uint64_t> skipRest() = 0;
  /// Appended to "truncated" messages.
  virtual std::string truncationNote() const { return ""; }
  /// Checks that the container itself ended cleanly.
  virtual Status finish() { return Status(); }
  virtual bool compressed() const { return false; }
};

class RawInput final : public Input {
public:
  explicit RawInput(Source &source) : source_(source) {}
  Expected<size_t> read(void *dst, size_t n) override {
    size_t take = size_t(std::min<uint64_t>(n, source_.size() - offset_));
    if (Status s = source_.readAt(offset_, dst, take); !s)
      return s;
    offset_ += take;
    return take;
  }
  uint64_t maxRemaining() const override { return source_.size() - offset_; }
  Expected<uint64_t> skipRest() override {
    uint64_t left = source_.size() - offset_;
    offset_ = source_.size();
    return left;
  }

private:
  Source &source_;
  uint64_t offset_ = 0;
};

class GzipInput final : public Input {
public:
  GzipInput(const void *data, size_t size, const std::string &name)
      : gz_(data, size, name), name_(name) {}
  Expected<size_t> read(void *dst, size_t n) override { return gz_.read(dst, n); }
  uint64_t maxRemaining() const override { return gz_.maxRemaining(); }
  Expected<uint64_t> skipRest() override { return gz_.skipRest(); }
  std::string truncationNote() const override {
    return gz_.truncated() ? " (decompressed; the gzip stream itself is cut off: an incomplete "
                             "download or copy?)"
                           : " (decompressed)";
  }
  Status finish() override {
    if (gz_.truncated())
      return Error(name_ + ": gzip error: the compressed stream is cut off before its end "
                           "(an incomplete download or copy?)");
    return Status();
  }
  bool compressed() const override { return true; }

private:
  GzipReader gz_;
  std::string name_;
};

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string itemShape(const std::vector<int64_t> &dims) {
  std::string out;
  for (size_t i = 1; i < dims.size(); ++i)
    out += (i > 1 ? "x" : "") + std::to_string(dims[i]);
  return out;
}

Expected<Array> parse(Input &in, const std::string &name, const char *noun) {
  auto fail = [&](const std::string &problem) { return Error(name + ": " + problem); };
  uint8_t magic[4];
  Expected<size_t> got = in.read(magic, 4);
  if (!got)
    return got.status();
  if (*got == 0)
    return fail(std::string("empty file") + (in.compressed() ? " (after decompression)" : "") +
                "; an IDX file starts with a 4-byte magic number");
  if (magic[0] == 0 && (*got < 2 || magic[1] == 0) && *got < 4)
    return fail("truncated: " + std::to_string(*got) +
                " bytes, too short for the 4-byte IDX magic number" + in.truncationNote());
  if (magic[0] != 0 || magic[1] != 0)
    return fail("not an IDX file: it starts with \"" + detail::quoteBytes(magic, *got) +
                "\" instead of 00 00 <type> <rank> (MNIST images start 00 00 08 03, labels "
                "00 00 08 01)");
  DType dtype;
  if (!idxType(magic[2], &dtype)) {
    char code[8];
    std::snprintf(code, sizeof code, "0x%02x", magic[2]);
    return fail("bad magic " + hex32(uint32_t(magic[2]) << 8 | magic[3]) +
                ": unknown IDX element type " + code +
                " (known: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64)");
  }
  unsigned rank = magic[3];
  if (rank == 0 || rank > kMaxRank)
    return fail("bad magic " + hex32(uint32_t(magic[2]) << 8 | rank) + ": rank " +
                std::to_string(rank) + " (an IDX file has 1 to " + std::to_string(kMaxRank) +
                " dimensions)");
  uint8_t dimBytes[4 * kMaxRank];
  got = in.read(dimBytes, 4 * rank);
  if (!got)
    return got.status();
  if (*got < 4 * rank)
    return fail("truncated: the header needs " + std::to_string(4 * rank) +
                " bytes of dimensions after the magic, the file holds " + std::to_string(*got) +
                in.truncationNote());
  std::vector<int64_t> dims(rank);
  for (unsigned i = 0; i < rank; ++i) {
    const uint8_t *p = dimBytes + 4 * i;
    dims[i] = int64_t(uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]);
  }
  size_t elem = dtypeSize(dtype);
  uint64_t total = 0, itemBytes = 0;
  std::vector<int64_t> itemDims(dims.begin() + 1, dims.end());
  if (!checkedElementCount(dims, elem, nullptr, &total) ||
      !checkedElementCount(itemDims, elem, nullptr, &itemBytes))
    return fail("header dimensions " + formatShape(dims) + " overflow 64 bits");
  std::string count = std::to_string(dims[0]) + " " + noun;
  if (rank > 1)
    count += " of " + itemShape(dims);
  auto truncated = [&](uint64_t held) {
    std::string holds = itemBytes ? std::to_string(held / itemBytes) : "?";
    if (itemBytes > 1 && held % itemBytes)
      holds += " and " + std::to_string(held % itemBytes) + " bytes of the next";
    return fail("truncated: header says " + count + ", file holds " + holds + in.truncationNote());
  };
  // Never allocate more than the input can hold.
  if (total > in.maxRemaining()) {
    Expected<uint64_t> held = in.skipRest();
    if (!held)
      return held.status();
    return truncated(*held);
  }
  Expected<Array> array = Array::uninitialized(dtype, dims);
  if (!array)
    return fail(array.message());
  got = in.read(array->bytes(), size_t(total));
  if (!got)
    return got.status();
  if (*got < total)
    return truncated(*got);
  uint8_t extra;
  got = in.read(&extra, 1);
  if (!got)
    return got.status();
  if (*got) {
    Expected<uint64_t> more = in.skipRest();
    if (!more)
      return more.status();
    uint64_t trailing = *more + 1;
    std::string holds;
    if (itemBytes && total + trailing >= itemBytes)
      holds = "; it holds data for " + std::to_string((total + trailing) / itemBytes) + " " + noun;
    return fail("header says " + count + " but " + std::to_string(trailing) +
                " more bytes follow them" + holds + " (a wrong count in the header?)");
  }
  if (Status s = in.finish(); !s)
    return s;
  // Big-endian to host order.
  uint8_t *b = array->bytes();
  if (elem > 1)
    for (uint64_t i = 0; i < total; i += elem)
      std::reverse(b + i, b + i + elem);
  return array;
}

} // namespace

bool looksLikeIdx(const void *head, size_t size) {
  const auto *p = static_cast<const uint8_t *>(head);
  DType dtype;
  return size >= 4 && p[0] == 0 && p[1] == 0 && idxType(p[2], &dtype) && p[3] >= 1 &&
         p[3] <= kMaxRank;
}

Expected<Array> parseIdx(const void *data, size_t size, const std::string &name, const char *noun) {
  if (detail::isGzip(data, size)) {
    GzipInput in(data, size, name);
    return parse(in, name, noun);
  }
  detail::MemorySource source(data, size, name);
  RawInput in(source);
  return parse(in, name, noun);
}

Expected<Array> readIdx(const std::string &path, const char *noun) {
  Expected<std::unique_ptr<detail::FileSource>> file = detail::FileSource::open(path);
  if (!file)
    return file.status();
  detail::Source &source = **file;
  uint8_t head[3] = {0, 0, 0};
  size_t headSize = size_t(std::min<uint64_t>(3, source.size()));
  if (Status s = source.readAt(0, head, headSize); !s)
    return s;
  if (detail::isGzip(head, headSize)) {
    // The compressed file is read whole (its size is what it is); the
    // decompressed data goes straight into the array.
    std::vector<uint8_t> bytes;
    bytes.resize(size_t(source.size()));
    if (Status s = source.readAt(0, bytes.data(), bytes.size()); !s)
      return s;
    GzipInput in(bytes.data(), bytes.size(), path);
    return parse(in, path, noun);
  }
  RawInput in(source);
  return parse(in, path, noun);
}

} // namespace kiln::io
