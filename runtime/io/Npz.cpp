//===- Npz.cpp - numpy .npz archives (zip of .npy members) ----------------===//
//
// The zip subset numpy writes and reads: no encryption, no multi-disk
// archives, stored (method 0) or deflated (method 8) members, ZIP64 extra
// fields and end records. The central directory is the authority; each
// local header must agree with it, and every byte range is checked against
// the archive before it is read.
//
//===----------------------------------------------------------------------===//
#include "runtime/io/Npz.h"
#include "runtime/io/ByteIO.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <unordered_set>

namespace kiln::io {
using namespace detail;

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t k32 = 0xffffffffu;
constexpr uint16_t k16 = 0xffff;
constexpr size_t kEndSize = 22, kLocatorSize = 20, kZip64EndSize = 56;
constexpr size_t kCentralSize = 46, kLocalSize = 30;
constexpr uint16_t kFlagEncrypted = 0x0001, kFlagDescriptor = 0x0008, kFlagUtf8 = 0x0800;
constexpr uint16_t kFlagStrongEncryption = 0x0040;
// Deflate cannot expand data by more than 1032:1; a member claiming more
// is corrupt or a decompression bomb.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr size_t kChunk = 64 * 1024;

std::string quoteName(const std::string &name) { return "'" + quoteBytes(name.data(), name.size(), 80) + "'"; }

struct Entry {
  std::string zipName, arrayName;
  uint16_t flags = 0, method = 0;
  uint32_t crc = 0;
  uint64_t csize = 0, usize = 0, localOffset = 0;
  uint64_t dataOffset = 0, dataEnd = 0;
};

/// Resolves the fields of a header that are saturated (0xFFFFFFFF) from its
/// ZIP64 extra field (id 0x0001), whose values appear in the order
/// uncompressed size, compressed size, local header offset, disk.
/// Returns an empty string or a problem description.
std::string resolveZip64(const uint8_t *extra, size_t length, uint64_t *usize, uint64_t *csize,
                         uint64_t *offset) {
  bool needU = usize && *usize == k32, needC = csize && *csize == k32,
       needO = offset && *offset == k32;
  size_t pos = 0;
  while (length - pos >= 4) {
    uint16_t id = loadU16(extra + pos), size = loadU16(extra + pos + 2);
    pos += 4;
    if (size > length - pos) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "%04x", id);
      return std::string("an extra field record (id 0x") + hex + ") runs past the extra field";
    }
    if (id == 0x0001) {
      size_t need = 8 * (size_t(needU) + size_t(needC) + size_t(needO));
      if (size < need)
        return "the ZIP64 extra field has " + std::to_string(size) + " bytes, " +
               std::to_string(need) + " are needed";
      const uint8_t *p = extra + pos;
      if (needU) { *usize = loadU64(p); p += 8; }
      if (needC) { *csize = loadU64(p); p += 8; }
      if (needO) { *offset = loadU64(p); p += 8; }
      return std::string();
    }
    pos += size;
  }
  // Up to 3 bytes of trailing padding (as zipalign writes) are tolerated.
  if (needU || needC || needO)
    return "sizes or offset are 0xFFFFFFFF but there is no ZIP64 extra field";
  return std::string();
}

/// Sequential reader over one member's data, inflating if needed and
/// computing the CRC-32 of what it delivers.
class MemberReader final : public Reader {
public:
  MemberReader(Source &source, const Entry &entry, std::string what)
      : source_(source), what_(std::move(what)), inStart_(entry.dataOffset),
        inPos_(entry.dataOffset), inEnd_(entry.dataEnd), outRemaining_(entry.usize),
        usize_(entry.usize), deflated_(entry.method == 8) {}
  ~MemberReader() override {
    if (zInit_)
      inflateEnd(&zs_);
  }

  uint64_t remaining() const override { return outRemaining_; }
  uint32_t crc() const { return crc_; }
  bool failed() const { return failed_; }

  Status read(void *dst, size_t n) override {
    if (n > outRemaining_)
      return fail("internal error: read past the member's end");
    Status status = deflated_ ? inflateInto(static_cast<uint8_t *>(dst), n)
                              : source_.readAt(inPos_, dst, n);
    if (!status) {
      failed_ = true;
      return status;
    }
    if (!deflated_)
      inPos_ += n;
    outRemaining_ -= n;
    for (size_t done = 0; done < n;) {
      size_t chunk = std::min<size_t>(n - done, size_t(1) << 30);
      crc_ = uint32_t(crc32(crc_, static_cast<const uint8_t *>(dst) + done, uInt(chunk)));
      done += chunk;
    }
    return Status();
  }

  /// After every declared byte was read: the deflate stream must end here
  /// and use exactly the member's compressed bytes.
  Status finish() {
    if (!deflated_)
      return Status();
    if (!ended_) {
      uint8_t extra;
      Status status = inflateInto(&extra, 1, /*probeEnd=*/true);
      if (!status)
        return status;
    }
    uint64_t unused = (inEnd_ - inPos_) + zs_.avail_in;
    if (unused)
      return fail("the deflate stream ends " + std::to_string(unused) +
                  " bytes before the member's compressed data does");
    return Status();
  }

  /// Reads and discards whatever is left (to check the CRC after an error).
  Status drain() {
    std::vector<uint8_t> scratch(kChunk);
    while (outRemaining_ > 0) {
      size_t n = size_t(std::min<uint64_t>(outRemaining_, kChunk));
      if (Status s = read(scratch.data(), n); !s)
        return s;
    }
    return finish();
  }

private:
  Error fail(const std::string &problem) {
    failed_ = true;
    return Error(what_ + ": " + problem);
  }

  Status inflateInto(uint8_t *dst, size_t n, bool probeEnd = false) {
    if (!zInit_) {
      std::memset(&zs_, 0, sizeof zs_);
      if (inflateInit2(&zs_, -MAX_WBITS) != Z_OK)
        return fail("cannot initialise zlib");
      zInit_ = true;
      inBuf_.resize(kChunk);
    }
    while (n > 0) {
      if (ended_)
        return probeEnd ? Status()
                        : fail("the deflate stream ends before the member's declared size of " +
                               std::to_string(usize_) + " bytes");
      if (zs_.avail_in == 0 && inPos_ < inEnd_) {
        size_t take = size_t(std::min<uint64_t>(inEnd_ - inPos_, kChunk));
        if (Status s = source_.readAt(inPos_, inBuf_.data(), take); !s)
          return s;
        inPos_ += take;
        zs_.next_in = inBuf_.data();
        zs_.avail_in = uInt(take);
      }
      const uInt inBefore = zs_.avail_in;
      const size_t chunk = std::min<size_t>(n, size_t(1) << 30);
      zs_.next_out = dst;
      zs_.avail_out = uInt(chunk);
      int ret = inflate(&zs_, Z_NO_FLUSH);
      const size_t produced = chunk - zs_.avail_out;
      dst += produced;
      n -= produced;
      if (ret == Z_DATA_ERROR)
        return fail(std::string("corrupt deflate data: ") + (zs_.msg ? zs_.msg : "unknown error"));
      if (ret == Z_MEM_ERROR)
        return fail("out of memory while inflating");
      if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
        return fail("zlib error " + std::to_string(ret) + " while inflating");
      if (probeEnd && produced > 0)
        return fail("the member inflates to more than its declared size of " +
                    std::to_string(usize_) + " bytes");
      if (ret == Z_STREAM_END) {
        ended_ = true;
        continue;
      }
      if (produced == 0 && zs_.avail_in == inBefore) {
        if (zs_.avail_in == 0 && inPos_ == inEnd_)
          return fail("the deflate stream is truncated: it needs more than the member's " +
                      std::to_string(inEnd_ - inStart_) + " compressed bytes");
        return fail("zlib made no progress while inflating");
      }
    }
    return Status();
  }

  Source &source_;
  std::string what_;
  uint64_t inStart_, inPos_, inEnd_, outRemaining_, usize_;
  bool deflated_;
  bool zInit_ = false, ended_ = false, failed_ = false;
  z_stream zs_;
  std::vector<uint8_t> inBuf_;
  uint32_t crc_ = 0;
};

/// Parses the archive structure: end records, central directory, local
/// headers. Fills `entries` in central-directory order.
Status readDirectory(Source &source, std::vector<Entry> &entries) {
  const uint64_t size = source.size();

  // A quick look at the start gives the clearest message for wrong files.
  uint8_t head[6] = {0};
  size_t headLen = size_t(std::min<uint64_t>(size, 6));
  if (Status s = source.readAt(0, head, headLen); !s)
    return s;
  if (headLen >= 6 && std::memcmp(head, "\x93NUMPY", 6) == 0)
    return source.error("not an .npz archive: this is a single .npy file (use readNpy)");
  if (headLen < 4 || head[0] != 'P' || head[1] != 'K')
    return source.error("not an .npz (zip) archive: it starts with \"" +
                        quoteBytes(head, headLen) + "\" instead of \"PK\"");

  // End of central directory record: the last one whose comment reaches
  // exactly to the end of the file.
  uint64_t tailLen = std::min<uint64_t>(size, kEndSize + 0xffff);
  std::vector<uint8_t> tail(static_cast<size_t>(tailLen));
  if (Status s = source.readAt(size - tailLen, tail.data(), tail.size()); !s)
    return s;
  int64_t found = -1;
  bool sawSignature = false;
  for (int64_t i = int64_t(tailLen) - int64_t(kEndSize); i >= 0; --i) {
    if (loadU32(&tail[size_t(i)]) != kEndSig)
      continue;
    sawSignature = true;
    if (uint64_t(i) + kEndSize + loadU16(&tail[size_t(i) + 20]) == tailLen) {
      found = i;
      break;
    }
  }
  if (found < 0)
    return source.error(sawSignature
                            ? "the end-of-central-directory record's comment length does not "
                              "match the end of the file (truncated or trailing bytes?)"
                            : "no end-of-central-directory record: the archive is truncated or "
                              "not a zip file");
  const uint8_t *end = &tail[size_t(found)];
  const uint64_t endOffset = size - tailLen + uint64_t(found);
  uint16_t disk = loadU16(end + 4), cdDisk = loadU16(end + 6);
  uint64_t entriesOnDisk = loadU16(end + 8), entryCount = loadU16(end + 10);
  uint64_t cdSize = loadU32(end + 12), cdOffset = loadU32(end + 16);
  if (disk != 0 || cdDisk != 0)
    return source.error("multi-disk (split) zip archives are not supported");
  uint64_t cdLimit = endOffset; // where the central directory must end

  // ZIP64: a locator right before the end record points at the ZIP64 end
  // record, whose 64-bit fields replace the saturated 16/32-bit ones.
  if (endOffset >= kLocatorSize) {
    uint8_t locator[kLocatorSize];
    uint64_t locatorOffset = endOffset - kLocatorSize;
    if (Status s = source.readAt(locatorOffset, locator, sizeof locator); !s)
      return s;
    if (loadU32(locator) == kZip64LocatorSig) {
      uint32_t z64Disk = loadU32(locator + 4), totalDisks = loadU32(locator + 16);
      uint64_t z64Offset = loadU64(locator + 8);
      if (z64Disk != 0 || totalDisks > 1)
        return source.error("multi-disk (split) zip archives are not supported");
      if (z64Offset > locatorOffset || locatorOffset - z64Offset < kZip64EndSize)
        return source.error("the ZIP64 end record offset " + std::to_string(z64Offset) +
                            " does not leave room for the record before its locator at " +
                            std::to_string(locatorOffset));
      uint8_t z64[kZip64EndSize];
      if (Status s = source.readAt(z64Offset, z64, sizeof z64); !s)
        return s;
      if (loadU32(z64) != kZip64EndSig)
        return source.error("no ZIP64 end record at offset " + std::to_string(z64Offset) +
                            " where its locator points");
      uint64_t recordSize = loadU64(z64 + 4);
      if (recordSize != locatorOffset - z64Offset - 12)
        return source.error("the ZIP64 end record's size " + std::to_string(recordSize) +
                            " does not reach its locator");
      if (loadU32(z64 + 16) != 0 || loadU32(z64 + 20) != 0)
        return source.error("multi-disk (split) zip archives are not supported");
      uint64_t z64OnDisk = loadU64(z64 + 24), z64Count = loadU64(z64 + 32);
      uint64_t z64CdSize = loadU64(z64 + 40), z64CdOffset = loadU64(z64 + 48);
      if ((entryCount != k16 && entryCount != z64Count) ||
          (entriesOnDisk != k16 && entriesOnDisk != z64OnDisk) ||
          (cdSize != k32 && cdSize != z64CdSize) || (cdOffset != k32 && cdOffset != z64CdOffset))
        return source.error("the end record and the ZIP64 end record disagree");
      entriesOnDisk = z64OnDisk;
      entryCount = z64Count;
      cdSize = z64CdSize;
      cdOffset = z64CdOffset;
      cdLimit = z64Offset;
    }
  }
  if (entriesOnDisk != entryCount)
    return source.error("multi-disk (split) zip archives are not supported");
  if (cdOffset > cdLimit || cdSize > cdLimit - cdOffset)
    return source.error("the central directory (offset " + std::to_string(cdOffset) + ", " +
                        std::to_string(cdSize) + " bytes) runs past the end records at offset " +
                        std::to_string(cdLimit));
  if (cdOffset + cdSize != cdLimit)
    return source.error(std::to_string(cdLimit - cdOffset - cdSize) +
                        " unexpected bytes between the central directory and the end records");
  if (entryCount > cdSize / kCentralSize)
    return source.error("the end record claims " + std::to_string(entryCount) +
                        " entries but the central directory (" + std::to_string(cdSize) +
                        " bytes) has room for at most " + std::to_string(cdSize / kCentralSize));

  std::vector<uint8_t> cd(static_cast<size_t>(cdSize));
  if (Status s = source.readAt(cdOffset, cd.data(), cd.size()); !s)
    return s;

  size_t pos = 0;
  std::unordered_set<std::string> names;
  for (uint64_t k = 0; k < entryCount; ++k) {
    std::string where = "central directory entry " + std::to_string(k);
    if (cd.size() - pos < kCentralSize)
      return source.error(where + " is truncated");
    const uint8_t *h = &cd[pos];
    if (loadU32(h) != kCentralSig)
      return source.error(where + " has a bad signature (corrupt central directory)");
    Entry e;
    e.flags = loadU16(h + 8);
    e.method = loadU16(h + 10);
    e.crc = loadU32(h + 16);
    e.csize = loadU32(h + 20);
    e.usize = loadU32(h + 24);
    size_t nameLen = loadU16(h + 28), extraLen = loadU16(h + 30), commentLen = loadU16(h + 32);
    uint16_t diskStart = loadU16(h + 34);
    e.localOffset = loadU32(h + 42);
    if (cd.size() - pos - kCentralSize < nameLen + extraLen + commentLen)
      return source.error(where + ": its name, extra field and comment run past the central "
                                  "directory");
    e.zipName.assign(reinterpret_cast<const char *>(h + kCentralSize), nameLen);
    const uint8_t *extra = h + kCentralSize + nameLen;
    pos += kCentralSize + nameLen + extraLen + commentLen;
    std::string member = "member " + quoteName(e.zipName);

    if (std::string problem = resolveZip64(extra, extraLen, &e.usize, &e.csize, &e.localOffset);
        !problem.empty())
      return source.error(member + ": " + problem);
    if (diskStart != 0 && diskStart != k16)
      return source.error("multi-disk (split) zip archives are not supported");
    if (e.zipName.empty())
      return source.error(where + " has an empty name");
    if (e.zipName.find('\0') != std::string::npos)
      return source.error(member + ": the name contains a NUL byte");
    if (e.flags & (kFlagEncrypted | kFlagStrongEncryption))
      return source.error(member + " is encrypted (not supported)");
    if (e.method != 0 && e.method != 8)
      return source.error(member + " uses compression method " + std::to_string(e.method) +
                          "; only stored (0) and deflated (8) are supported");
    if (e.method == 0 && e.csize != e.usize)
      return source.error(member + " is stored but its compressed size " +
                          std::to_string(e.csize) + " differs from its size " +
                          std::to_string(e.usize));
    if (e.method == 8 && e.usize / kMaxDeflateRatio > e.csize + 4)
      return source.error(member + " claims to inflate " + std::to_string(e.csize) + " bytes to " +
                          std::to_string(e.usize) +
                          ", beyond deflate's 1032:1 limit (corrupt, or a zip bomb)");
    if (e.zipName.back() == '/' && e.usize == 0)
      continue; // a directory entry, as `zip -r` writes: nothing to load
    const std::string suffix = ".npy";
    if (e.zipName.size() <= suffix.size() ||
        e.zipName.compare(e.zipName.size() - suffix.size(), suffix.size(), suffix) != 0)
      return source.error(member + " is not a .npy file (every member of an .npz must be one)");
    e.arrayName = e.zipName.substr(0, e.zipName.size() - suffix.size());

    // The local header must agree with the central directory.
    if (e.localOffset > cdOffset || cdOffset - e.localOffset < kLocalSize)
      return source.error(member + ": local header offset " + std::to_string(e.localOffset) +
                          " is outside the archive's data (which ends at " +
                          std::to_string(cdOffset) + ")");
    uint8_t local[kLocalSize];
    if (Status s = source.readAt(e.localOffset, local, sizeof local); !s)
      return s;
    if (loadU32(local) != kLocalSig)
      return source.error(member + ": no local header at offset " + std::to_string(e.localOffset));
    uint16_t localFlags = loadU16(local + 6), localMethod = loadU16(local + 8);
    size_t localNameLen = loadU16(local + 26), localExtraLen = loadU16(local + 28);
    if (cdOffset - e.localOffset - kLocalSize < localNameLen + localExtraLen)
      return source.error(member + ": the local header's name and extra field run past the "
                                   "archive's data");
    std::vector<uint8_t> localRest(localNameLen + localExtraLen);
    if (Status s = source.readAt(e.localOffset + kLocalSize, localRest.data(), localRest.size());
        !s)
      return s;
    if (localNameLen != nameLen || std::memcmp(localRest.data(), e.zipName.data(), nameLen) != 0)
      return source.error(member + ": the local header names it \"" +
                          quoteBytes(localRest.data(), localNameLen) + "\"");
    if (localMethod != e.method)
      return source.error(member + ": the local header's compression method " +
                          std::to_string(localMethod) + " differs from the central directory's " +
                          std::to_string(e.method));
    if (localFlags & (kFlagEncrypted | kFlagStrongEncryption))
      return source.error(member + " is encrypted (not supported)");
    if (!(localFlags & kFlagDescriptor)) {
      uint32_t localCrc = loadU32(local + 14);
      uint64_t localC = loadU32(local + 18), localU = loadU32(local + 22);
      if (std::string problem = resolveZip64(localRest.data() + localNameLen, localExtraLen,
                                             &localU, &localC, nullptr);
          !problem.empty())
        return source.error(member + ": local header: " + problem);
      if (localCrc != e.crc || localC != e.csize || localU != e.usize)
        return source.error(member + ": the local header's CRC or sizes differ from the "
                                     "central directory's");
    }
    e.dataOffset = e.localOffset + kLocalSize + localNameLen + localExtraLen;
    if (e.csize > cdOffset - e.dataOffset)
      return source.error(member + ": its " + std::to_string(e.csize) + " bytes of data at offset " +
                          std::to_string(e.dataOffset) +
                          " run past the archive's data (which ends at " +
                          std::to_string(cdOffset) + ")");
    e.dataEnd = e.dataOffset + e.csize;
    if (!names.insert(e.arrayName).second)
      return source.error("two members are named " + quoteName(e.zipName));
    entries.push_back(std::move(e));
  }
  if (pos != cd.size())
    return source.error("the central directory has " + std::to_string(cd.size() - pos) +
                        " bytes after its last entry (entry count " + std::to_string(entryCount) +
                        " is wrong?)");

  // Members must not overlap (overlapping members are a zip-bomb technique).
  std::vector<const Entry *> byOffset;
  for (const Entry &e : entries)
    byOffset.push_back(&e);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const Entry *a, const Entry *b) { return a->localOffset < b->localOffset; });
  for (size_t i = 1; i < byOffset.size(); ++i)
    if (byOffset[i - 1]->dataEnd > byOffset[i]->localOffset)
      return source.error("members " + quoteName(byOffset[i - 1]->zipName) + " and " +
                          quoteName(byOffset[i]->zipName) + " overlap");
  return Status();
}

Expected<ArrayList> readArchive(Source &source) {
  std::vector<Entry> entries;
  if (Status s = readDirectory(source, entries); !s)
    return s;
  ArrayList arrays;
  arrays.reserve(entries.size());
  for (const Entry &e : entries) {
    std::string what = source.name() + ": member " + quoteName(e.zipName);
    MemberReader reader(source, e, what);
    Expected<Array> array = readNpyStream(reader, what, "member");
    auto crcError = [&] {
      char buf[96];
      std::snprintf(buf, sizeof buf, "CRC-32 mismatch (the archive says %08x, the data gives %08x)",
                    e.crc, reader.crc());
      return Error(what + ": " + buf + ": the member is corrupt");
    };
    if (!array) {
      // A corrupt member often fails as a bad .npy first; a broken deflate
      // stream or a CRC mismatch is the more useful diagnosis when present.
      if (!reader.failed()) {
        if (Status drained = reader.drain(); !drained)
          return drained;
        if (reader.crc() != e.crc)
          return crcError();
      }
      return array.status();
    }
    if (Status s = reader.finish(); !s)
      return s;
    if (reader.crc() != e.crc)
      return crcError();
    arrays.push_back({e.arrayName, std::move(*array)});
  }
  return arrays;
}

// --- writing -----------------------------------------------------------------

struct Prepared {
  std::string name, zipName, header;
  const ArrayRef *array;
  uint64_t dataBytes;
  uint32_t crc;
  uint64_t csize, usize, localOffset;
  bool zip64Local;
};

uint32_t crcOf(uint32_t crc, const void *data, uint64_t n) {
  const auto *p = static_cast<const uint8_t *>(data);
  while (n > 0) {
    uInt chunk = uInt(std::min<uint64_t>(n, uint64_t(1) << 30));
    crc = uint32_t(crc32(crc, p, chunk));
    p += chunk;
    n -= chunk;
  }
  return crc;
}

bool isAscii(const std::string &s) {
  for (unsigned char c : s)
    if (c >= 0x80)
      return false;
  return true;
}

/// Streams `pieces` through deflate into `sink`; returns the compressed size.
Status deflatePieces(Sink &sink, int level, const std::vector<std::pair<const void *, uint64_t>> &pieces,
                     uint64_t &csize) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Error("cannot initialise zlib");
  std::vector<uint8_t> out(kChunk);
  uint64_t start = sink.position();
  Status status;
  for (size_t i = 0; i < pieces.size() && status; ++i) {
    const uint8_t *p = static_cast<const uint8_t *>(pieces[i].first);
    uint64_t left = pieces[i].second;
    bool last = i + 1 == pieces.size();
    do {
      uInt take = uInt(std::min<uint64_t>(left, uint64_t(1) << 30));
      zs.next_in = const_cast<uint8_t *>(p);
      zs.avail_in = take;
      p += take;
      left -= take;
      int flush = (last && left == 0) ? Z_FINISH : Z_NO_FLUSH;
      int ret;
      do {
        zs.next_out = out.data();
        zs.avail_out = uInt(out.size());
        ret = deflate(&zs, flush);
        if (ret == Z_STREAM_ERROR) {
          status = Error("zlib deflate failed");
          break;
        }
        status = sink.write(out.data(), out.size() - zs.avail_out);
      } while (status && (zs.avail_out == 0 || (flush == Z_FINISH && ret != Z_STREAM_END)));
    } while (status && left > 0);
  }
  deflateEnd(&zs);
  csize = sink.position() - start;
  return status;
}

Status writeArchive(Sink &sink, const std::vector<NamedArrayRef> &arrays,
                    const NpzWriteOptions &options, const std::string &what) {
  auto fail = [&](const std::string &problem) { return Error(what + ": " + problem); };
  if (options.compress && (options.level < 1 || options.level > 9))
    return fail("compression level " + std::to_string(options.level) + " is not in 1-9");

  std::vector<Prepared> members;
  members.reserve(arrays.size());
  std::unordered_set<std::string> names;
  for (const NamedArrayRef &named : arrays) {
    const std::string &name = named.name;
    if (name.empty())
      return fail("an array has an empty name");
    if (name.find('\0') != std::string::npos)
      return fail("array name " + quoteName(name) + " contains a NUL byte");
    if (name.size() > 0xffff - 4)
      return fail("array name " + quoteName(name) + " is too long for a zip archive");
    if (!names.insert(name).second)
      return fail("two arrays are named " + quoteName(name));
    Expected<std::string> header = npyHeader(named.array);
    if (!header)
      return fail("array " + quoteName(name) + ": " + header.message());
    Prepared m;
    m.name = name;
    m.zipName = name + ".npy";
    m.header = std::move(*header);
    m.array = &named.array;
    checkedElementCount(named.array.shape, dtypeSize(named.array.dtype), nullptr, &m.dataBytes);
    if (named.array.dtype == DType::Bool)
      for (uint64_t i = 0; i < m.dataBytes; ++i)
        if (static_cast<const uint8_t *>(named.array.data)[i] > 1)
          return fail("array " + quoteName(name) + ": bool element " + std::to_string(i) +
                      " is not 0 or 1");
    m.usize = m.header.size() + m.dataBytes;
    members.push_back(std::move(m));
  }

  for (Prepared &m : members) {
    m.localOffset = sink.position();
    const uint16_t method = options.compress ? 8 : 0;
    const uint16_t flags = isAscii(m.zipName) ? 0 : kFlagUtf8;
    if (!options.compress) {
      m.crc = crcOf(crcOf(0, m.header.data(), m.header.size()), m.array->data, m.dataBytes);
      m.csize = m.usize;
      m.zip64Local = options.forceZip64 || m.usize >= k32;
    } else {
      m.crc = 0;
      m.csize = 0;
      // Deflate can expand incompressible data slightly; stay far from 4 GiB.
      m.zip64Local = options.forceZip64 || m.usize >= 0xf0000000u;
    }
    std::string local;
    appendU32(local, kLocalSig);
    appendU16(local, m.zip64Local ? 45 : 20);
    appendU16(local, flags);
    appendU16(local, method);
    appendU16(local, 0);      // time 00:00:00
    appendU16(local, 0x0021); // date 1980-01-01 (fixed: output is reproducible)
    size_t crcAt = local.size();
    appendU32(local, m.crc);
    appendU32(local, m.zip64Local ? k32 : uint32_t(m.csize));
    appendU32(local, m.zip64Local ? k32 : uint32_t(m.usize));
    appendU16(local, uint16_t(m.zipName.size()));
    appendU16(local, m.zip64Local ? 20 : 0);
    local += m.zipName;
    size_t zip64At = local.size() + 4;
    if (m.zip64Local) {
      appendU16(local, 0x0001);
      appendU16(local, 16);
      appendU64(local, m.usize);
      appendU64(local, m.csize);
    }
    if (Status s = sink.write(local.data(), local.size()); !s)
      return s;
    if (!options.compress) {
      if (Status s = sink.write(m.header.data(), m.header.size()); !s)
        return s;
      if (m.dataBytes)
        if (Status s = sink.write(m.array->data, size_t(m.dataBytes)); !s)
          return s;
      continue;
    }
    std::vector<std::pair<const void *, uint64_t>> pieces = {{m.header.data(), m.header.size()},
                                                             {m.array->data, m.dataBytes}};
    if (m.dataBytes == 0)
      pieces.pop_back();
    if (Status s = deflatePieces(sink, options.level, pieces, m.csize); !s)
      return s;
    m.crc = crcOf(crcOf(0, m.header.data(), m.header.size()), m.array->data, m.dataBytes);
    if (!m.zip64Local && m.csize >= k32)
      return fail("internal error: compressed member over 4 GiB without ZIP64");
    std::string patch;
    appendU32(patch, m.crc);
    if (!m.zip64Local) {
      appendU32(patch, uint32_t(m.csize));
      appendU32(patch, uint32_t(m.usize));
    }
    if (Status s = sink.patch(m.localOffset + crcAt, patch.data(), patch.size()); !s)
      return s;
    if (m.zip64Local) {
      std::string sizes;
      appendU64(sizes, m.usize);
      appendU64(sizes, m.csize);
      if (Status s = sink.patch(m.localOffset + zip64At, sizes.data(), sizes.size()); !s)
        return s;
    }
  }

  const uint64_t cdOffset = sink.position();
  for (const Prepared &m : members) {
    bool bigU = options.forceZip64 || m.usize >= k32;
    bool bigC = options.forceZip64 || m.csize >= k32;
    bool bigO = options.forceZip64 || m.localOffset >= k32;
    bool zip64 = bigU || bigC || bigO;
    std::string extra;
    if (zip64) {
      appendU16(extra, 0x0001);
      appendU16(extra, uint16_t(8 * (int(bigU) + int(bigC) + int(bigO))));
      if (bigU) appendU64(extra, m.usize);
      if (bigC) appendU64(extra, m.csize);
      if (bigO) appendU64(extra, m.localOffset);
    }
    std::string h;
    appendU32(h, kCentralSig);
    appendU16(h, (3 << 8) | (zip64 || m.zip64Local ? 45 : 20)); // made by: Unix
    appendU16(h, zip64 || m.zip64Local ? 45 : 20);
    appendU16(h, isAscii(m.zipName) ? 0 : kFlagUtf8);
    appendU16(h, options.compress ? 8 : 0);
    appendU16(h, 0);
    appendU16(h, 0x0021);
    appendU32(h, m.crc);
    appendU32(h, bigC ? k32 : uint32_t(m.csize));
    appendU32(h, bigU ? k32 : uint32_t(m.usize));
    appendU16(h, uint16_t(m.zipName.size()));
    appendU16(h, uint16_t(extra.size()));
    appendU16(h, 0);                 // comment
    appendU16(h, 0);                 // disk
    appendU16(h, 0);                 // internal attributes
    appendU32(h, 0100644u << 16);    // regular file, rw-r--r--
    appendU32(h, bigO ? k32 : uint32_t(m.localOffset));
    h += m.zipName;
    h += extra;
    if (Status s = sink.write(h.data(), h.size()); !s)
      return s;
  }
  const uint64_t cdSize = sink.position() - cdOffset;
  const uint64_t count = members.size();
  bool zip64End = options.forceZip64 || count >= k16 || cdOffset >= k32 || cdSize >= k32;
  std::string tail;
  if (zip64End) {
    uint64_t z64Offset = sink.position();
    appendU32(tail, kZip64EndSig);
    appendU64(tail, 44);
    appendU16(tail, (3 << 8) | 45);
    appendU16(tail, 45);
    appendU32(tail, 0);
    appendU32(tail, 0);
    appendU64(tail, count);
    appendU64(tail, count);
    appendU64(tail, cdSize);
    appendU64(tail, cdOffset);
    appendU32(tail, kZip64LocatorSig);
    appendU32(tail, 0);
    appendU64(tail, z64Offset);
    appendU32(tail, 1);
  }
  appendU32(tail, kEndSig);
  appendU16(tail, 0);
  appendU16(tail, 0);
  uint16_t count16 = (zip64End && (options.forceZip64 || count >= k16)) ? k16 : uint16_t(count);
  appendU16(tail, count16);
  appendU16(tail, count16);
  appendU32(tail, (options.forceZip64 || cdSize >= k32) ? k32 : uint32_t(cdSize));
  appendU32(tail, (options.forceZip64 || cdOffset >= k32) ? k32 : uint32_t(cdOffset));
  appendU16(tail, 0);
  return sink.write(tail.data(), tail.size());
}

} // namespace

Expected<ArrayList> parseNpz(const void *data, size_t size, const std::string &name) {
  MemorySource source(data, size, name);
  return readArchive(source);
}

Expected<ArrayList> readNpz(const std::string &path) {
  Expected<std::unique_ptr<FileSource>> source = FileSource::open(path);
  if (!source)
    return source.status();
  return readArchive(**source);
}

Status writeNpz(const std::string &path, const std::vector<NamedArrayRef> &arrays,
                const NpzWriteOptions &options) {
  return writeFileAtomically(
      path, [&](Sink &sink) { return writeArchive(sink, arrays, options, path); });
}

Status writeNpz(const std::string &path, const ArrayList &arrays, const NpzWriteOptions &options) {
  return writeNpz(path, refs(arrays), options);
}

Expected<std::vector<uint8_t>> encodeNpz(const std::vector<NamedArrayRef> &arrays,
                                         const NpzWriteOptions &options) {
  VectorSink sink;
  if (Status s = writeArchive(sink, arrays, options, "<memory>"); !s)
    return s;
  return sink.take();
}

} // namespace kiln::io
