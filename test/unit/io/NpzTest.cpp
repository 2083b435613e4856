//===- NpzTest.cpp - .npz reading and writing -----------------------------===//
#include "IoTestUtil.h"
#include "ReferenceFiles.h"
#include "runtime/io/Npy.h"
#include "runtime/io/Npz.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <optional>

using namespace kiln::io;
using namespace kiln_io_test;

namespace {

void put16(std::vector<uint8_t> &out, uint16_t v) {
  out.push_back(uint8_t(v));
  out.push_back(uint8_t(v >> 8));
}
void put32(std::vector<uint8_t> &out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(uint8_t(v >> (8 * i)));
}
void set32(std::vector<uint8_t> &out, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out[at + i] = uint8_t(v >> (8 * i));
}
uint32_t get32(const std::vector<uint8_t> &in, size_t at) {
  return uint32_t(in[at]) | uint32_t(in[at + 1]) << 8 | uint32_t(in[at + 2]) << 16 |
         uint32_t(in[at + 3]) << 24;
}

std::vector<uint8_t> rawDeflate(const std::vector<uint8_t> &in) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  std::vector<uint8_t> out(deflateBound(&zs, uLong(in.size())) + 16);
  zs.next_in = const_cast<uint8_t *>(in.data());
  zs.avail_in = uInt(in.size());
  zs.next_out = out.data();
  zs.avail_out = uInt(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

/// A hand-made zip member, for archives our writer would never produce.
struct ZipMember {
  std::string name;
  std::vector<uint8_t> data; // uncompressed
  uint16_t method = 0;
  uint16_t flags = 0;
  std::optional<uint32_t> crc;        // override (both headers)
  std::optional<uint32_t> csize;      // override (both headers)
  std::optional<uint32_t> usize;      // override (both headers)
  std::optional<std::string> localName;
};

std::vector<uint8_t> buildZip(const std::vector<ZipMember> &members) {
  std::vector<uint8_t> out, cd;
  for (const ZipMember &m : members) {
    std::vector<uint8_t> stored = m.method == 8 ? rawDeflate(m.data) : m.data;
    uint32_t crc = m.crc ? *m.crc : uint32_t(crc32(0, m.data.data(), uInt(m.data.size())));
    uint32_t csize = m.csize ? *m.csize : uint32_t(stored.size());
    uint32_t usize = m.usize ? *m.usize : uint32_t(m.data.size());
    std::string localName = m.localName ? *m.localName : m.name;
    uint32_t offset = uint32_t(out.size());
    put32(out, 0x04034b50);
    put16(out, 20);
    put16(out, m.flags);
    put16(out, m.method);
    put16(out, 0);
    put16(out, 0x21);
    put32(out, crc);
    put32(out, csize);
    put32(out, usize);
    put16(out, uint16_t(localName.size()));
    put16(out, 0);
    out.insert(out.end(), localName.begin(), localName.end());
    out.insert(out.end(), stored.begin(), stored.end());

    put32(cd, 0x02014b50);
    put16(cd, 20);
    put16(cd, 20);
    put16(cd, m.flags);
    put16(cd, m.method);
    put16(cd, 0);
    put16(cd, 0x21);
    put32(cd, crc);
    put32(cd, csize);
    put32(cd, usize);
    put16(cd, uint16_t(m.name.size()));
    put16(cd, 0);
    put16(cd, 0);
    put16(cd, 0);
    put16(cd, 0);
    put32(cd, 0);
    put32(cd, offset);
    cd.insert(cd.end(), m.name.begin(), m.name.end());
  }
  uint32_t cdOffset = uint32_t(out.size());
  out.insert(out.end(), cd.begin(), cd.end());
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, uint16_t(members.size()));
  put16(out, uint16_t(members.size()));
  put32(out, uint32_t(cd.size()));
  put32(out, cdOffset);
  put16(out, 0);
  return out;
}

std::vector<uint8_t> npyBytes(const Array &a) {
  auto bytes = encodeNpy(a);
  EXPECT_TRUE(bytes.ok()) << bytes.message();
  return bytes.ok() ? *bytes : std::vector<uint8_t>();
}

Expected<ArrayList> parse(const std::vector<uint8_t> &bytes) {
  return parseNpz(bytes.data(), bytes.size(), "w.npz");
}

#define EXPECT_NPZ_ERROR(bytes, ...)                                                               \
  do {                                                                                             \
    auto result = parse(bytes);                                                                    \
    ASSERT_FALSE(result.ok()) << "expected an error";                                              \
    for (const char *needle : {__VA_ARGS__})                                                       \
      EXPECT_NE(result.message().find(needle), std::string::npos)                                  \
          << "message: " << result.message() << "\nlacks: " << needle;                             \
    EXPECT_EQ(result.message().rfind("w.npz: ", 0), 0u) << result.message();                       \
  } while (0)

/// Offset of the end-of-central-directory record.
size_t endRecord(const std::vector<uint8_t> &zip) {
  for (size_t i = zip.size() - 22;; --i)
    if (get32(zip, i) == 0x06054b50)
      return i;
}

ArrayList sampleArrays() {
  ArrayList list;
  int salt = 0;
  for (DType dtype : allDTypes()) {
    if (dtype == DType::BF16)
      continue;
    list.push_back({std::string("layer_") + dtypeName(dtype) + "/kernel",
                    patternArray(dtype, {3, 2}, salt++)});
  }
  list.push_back({"scalar", patternArray(DType::F32, {})});
  list.push_back({"empty", patternArray(DType::I32, {0, 5})});
  list.push_back({"ünïcødé", patternArray(DType::F64, {2})});
  return list;
}

void expectSame(const ArrayList &a, const ArrayList &b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_TRUE(a[i].array.equals(b[i].array)) << a[i].name;
  }
}

} // namespace

TEST(Npz, RoundTripStoredDeflatedAndZip64) {
  TempDir dir;
  ArrayList arrays = sampleArrays();
  for (bool compress : {false, true})
    for (bool zip64 : {false, true}) {
      SCOPED_TRACE(std::string(compress ? "deflated" : "stored") + (zip64 ? " zip64" : ""));
      NpzWriteOptions options;
      options.compress = compress;
      options.forceZip64 = zip64;
      auto bytes = encodeNpz(refs(arrays), options);
      ASSERT_TRUE(bytes.ok()) << bytes.message();
      auto back = parse(*bytes);
      ASSERT_TRUE(back.ok()) << back.message();
      expectSame(arrays, *back);

      std::string path = dir.file("a.npz");
      ASSERT_TRUE(writeNpz(path, arrays, options).ok());
      EXPECT_EQ(readBytes(path), *bytes) << "output is deterministic";
      auto fromFile = readNpz(path);
      ASSERT_TRUE(fromFile.ok()) << fromFile.message();
      expectSame(arrays, *fromFile);
    }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.npz"});
}

TEST(Npz, EmptyArchive) {
  auto bytes = encodeNpz({});
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size(), 22u);
  auto back = parse(*bytes);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_TRUE(back->empty());
}

TEST(Npz, ReadsRealNumpyArchives) {
  auto stored = parse(kNpzStored);
  ASSERT_TRUE(stored.ok()) << stored.message();
  ASSERT_EQ(stored->size(), 2u);
  EXPECT_EQ((*stored)[0].name, "x");
  EXPECT_EQ((*stored)[0].array.data<float>()[3], 3.f);
  EXPECT_EQ((*stored)[1].name, "dense/kernel");
  EXPECT_EQ((*stored)[1].array.data<int32_t>()[2], 3);
  ASSERT_NE(findArray(*stored, "dense/kernel"), nullptr);

  auto deflated = parse(kNpzDeflated);
  ASSERT_TRUE(deflated.ok()) << deflated.message();
  ASSERT_EQ(deflated->size(), 2u);
  EXPECT_EQ((*deflated)[0].array.data<int64_t>()[9], 9);
  EXPECT_EQ((*deflated)[1].array.dtype(), DType::Bool);
}

TEST(Npz, TruncatedAtEveryPositionFailsCleanly) {
  for (const auto *file : {&kNpzStored, &kNpzDeflated}) {
    for (size_t n = 0; n < file->size(); ++n) {
      auto result = parseNpz(file->data(), n, "cut.npz");
      ASSERT_FALSE(result.ok()) << "accepted an archive cut to " << n << " bytes";
      EXPECT_EQ(result.message().rfind("cut.npz: ", 0), 0u) << result.message();
    }
  }
  auto result = parseNpz(kNpzStored.data(), kNpzStored.size() - 1, "cut.npz");
  EXPECT_NE(result.message().find("end-of-central-directory"), std::string::npos)
      << result.message();
}

TEST(Npz, EveryByteFlipIsHandled) {
  // Flipping any single byte must give an array list or a clean error.
  for (const auto *file : {&kNpzStored, &kNpzDeflated}) {
    for (size_t i = 0; i < file->size(); ++i) {
      std::vector<uint8_t> bad = *file;
      bad[i] ^= 0xff;
      auto result = parse(bad);
      if (!result.ok())
        EXPECT_EQ(result.message().rfind("w.npz: ", 0), 0u) << result.message();
    }
  }
}

TEST(Npz, NotAZipFile) {
  EXPECT_NPZ_ERROR(kNpyF32_2x3, "this is a single .npy file");
  std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o'};
  EXPECT_NPZ_ERROR(text, "not an .npz (zip) archive", "\"hello\"");
  std::vector<uint8_t> trailing = kNpzStored;
  trailing.push_back('x');
  EXPECT_NPZ_ERROR(trailing, "comment length does not match the end of the file");
}

TEST(Npz, BadCrc) {
  // A corrupted data byte: the .npy parses, the CRC does not match.
  // The last float of x (3.0f) is in the data of member x.npy.
  std::vector<uint8_t> bad = kNpzStored;
  const uint8_t three[4] = {0x00, 0x00, 0x40, 0x40}; // 3.0f
  auto it = std::search(bad.begin(), bad.end(), three, three + 4);
  ASSERT_NE(it, bad.end());
  *it ^= 1;
  EXPECT_NPZ_ERROR(bad, "member 'x.npy'", "CRC-32 mismatch", "the member is corrupt");

  // A corrupted .npy header byte also reports the CRC (the better diagnosis).
  std::vector<uint8_t> header = kNpzStored;
  const std::string key = "descr";
  auto descr = std::search(header.begin(), header.end(), key.begin(), key.end());
  ASSERT_NE(descr, header.end());
  *descr = 'D';
  EXPECT_NPZ_ERROR(header, "member 'x.npy'", "CRC-32 mismatch");

  ZipMember m{"a.npy", npyBytes(patternArray(DType::F32, {4}))};
  m.crc = 0x12345678;
  EXPECT_NPZ_ERROR(buildZip({m}), "CRC-32 mismatch (the archive says 12345678");
  m.method = 8;
  EXPECT_NPZ_ERROR(buildZip({m}), "CRC-32 mismatch (the archive says 12345678");
}

TEST(Npz, BadOffsets) {
  std::vector<uint8_t> zip = buildZip({{"a.npy", npyBytes(patternArray(DType::F32, {4}))}});
  size_t end = endRecord(zip);
  size_t cd = get32(zip, end + 16);
  {
    std::vector<uint8_t> bad = zip;
    set32(bad, cd + 42, 1000000); // local header offset
    EXPECT_NPZ_ERROR(bad, "local header offset 1000000 is outside the archive's data");
  }
  {
    std::vector<uint8_t> bad = zip;
    set32(bad, cd + 42, 4); // points into the middle of the local header
    EXPECT_NPZ_ERROR(bad, "no local header at offset 4");
  }
  {
    std::vector<uint8_t> bad = zip;
    set32(bad, end + 16, uint32_t(cd + 100)); // central directory offset
    EXPECT_NPZ_ERROR(bad, "central directory", "runs past the end records");
  }
  {
    std::vector<uint8_t> bad = zip;
    set32(bad, end + 16, uint32_t(cd - 4));
    set32(bad, end + 12, uint32_t(get32(bad, end + 12)));
    EXPECT_NPZ_ERROR(bad, "4 unexpected bytes between the central directory and the end records");
  }
  {
    std::vector<uint8_t> bad = zip;
    set32(bad, end + 12, 0xffffff00u); // central directory size
    EXPECT_NPZ_ERROR(bad, "runs past the end records");
  }
  {
    std::vector<uint8_t> bad = zip;
    bad[end + 8] = bad[end + 10] = 200; // entry count
    EXPECT_NPZ_ERROR(bad, "claims 200 entries");
  }
  {
    std::vector<uint8_t> bad = zip;
    set32(bad, cd + 20, 100000); // compressed size (CD only)
    set32(bad, cd + 24, 100000);
    EXPECT_NPZ_ERROR(bad, "differ from the central directory's");
  }
  {
    ZipMember m{"a.npy", npyBytes(patternArray(DType::F32, {4}))};
    m.csize = m.usize = 100000;
    EXPECT_NPZ_ERROR(buildZip({m}), "run past the archive's data");
  }
}

TEST(Npz, MemberProblems) {
  std::vector<uint8_t> npy = npyBytes(patternArray(DType::I32, {3}));
  EXPECT_NPZ_ERROR(buildZip({{"readme.txt", {'h', 'i'}}}), "member 'readme.txt' is not a .npy file");
  EXPECT_NPZ_ERROR(buildZip({{"a.npy", npy}, {"a.npy", npy}}), "two members are named 'a.npy'");
  {
    ZipMember m{"a.npy", npy};
    m.method = 12;
    EXPECT_NPZ_ERROR(buildZip({m}), "compression method 12", "only stored (0) and deflated (8)");
  }
  {
    ZipMember m{"a.npy", npy};
    m.flags = 1;
    EXPECT_NPZ_ERROR(buildZip({m}), "member 'a.npy' is encrypted");
  }
  {
    ZipMember m{"a.npy", npy};
    m.localName = "b.npy";
    EXPECT_NPZ_ERROR(buildZip({m}), "the local header names it \"b.npy\"");
  }
  {
    ZipMember m{"a.npy", npy};
    m.method = 8;
    m.usize = 0x7fffffff;
    EXPECT_NPZ_ERROR(buildZip({m}), "beyond deflate's 1032:1 limit");
  }
  {
    ZipMember m{"a.npy", npy};
    m.csize = uint32_t(npy.size() - 1);
    EXPECT_NPZ_ERROR(buildZip({m}), "is stored but its compressed size");
  }
  {
    // Deflated data cut short (sizes consistent in both headers).
    ZipMember m{"a.npy", npy};
    m.method = 8;
    m.csize = uint32_t(rawDeflate(npy).size() - 3);
    auto zip = buildZip({m});
    auto result = parse(zip);
    ASSERT_FALSE(result.ok());
    EXPECT_TRUE(result.message().find("truncated") != std::string::npos ||
                result.message().find("corrupt deflate data") != std::string::npos)
        << result.message();
  }
  {
    // Declared size smaller than what the stream inflates to.
    ZipMember m{"a.npy", npy};
    m.method = 8;
    m.usize = uint32_t(npy.size() - 4);
    EXPECT_NPZ_ERROR(buildZip({m}), "member 'a.npy'", "inflates to more than its declared size");
  }
  {
    // Declared size larger than what the stream inflates to.
    ZipMember m{"a.npy", npy};
    m.method = 8;
    m.usize = uint32_t(npy.size() + 4);
    EXPECT_NPZ_ERROR(buildZip({m}), "the deflate stream ends before the member's declared size");
  }
  {
    // Garbage instead of a deflate stream.
    ZipMember m{"a.npy", npy};
    m.method = 8;
    auto zip = buildZip({m});
    size_t data = 30 + 5;
    for (size_t i = 0; i < 8; ++i)
      zip[data + i] = 0xff;
    EXPECT_NPZ_ERROR(zip, "corrupt deflate data");
  }
  {
    // A member whose data runs into the next member's header.
    ZipMember a{"a.npy", npy}, b{"b.npy", npy};
    a.flags = 8; // data descriptor: local sizes are not compared
    a.csize = a.usize = uint32_t(npy.size() + 10);
    EXPECT_NPZ_ERROR(buildZip({a, b}), "members 'a.npy' and 'b.npy' overlap");
  }
  {
    // A directory entry (as `zip -r` makes) is skipped.
    auto zip = buildZip({{"weights/", {}}, {"weights/a.npy", npy}});
    auto result = parse(zip);
    ASSERT_TRUE(result.ok()) << result.message();
    ASSERT_EQ(result->size(), 1u);
    EXPECT_EQ((*result)[0].name, "weights/a");
  }
  {
    // A member that is not a valid .npy says which member.
    auto zip = buildZip({{"ok.npy", npy}, {"bad.npy", {'x', 'y'}}});
    EXPECT_NPZ_ERROR(zip, "member 'bad.npy': not a .npy file");
  }
}

TEST(Npz, WriteErrors) {
  TempDir dir;
  Array a = patternArray(DType::F32, {2});
  std::vector<NamedArrayRef> dup = {{"a", a}, {"a", a}};
  Status s = writeNpz(dir.file("d.npz"), dup);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("two arrays are named 'a'"), std::string::npos) << s.message();
  std::vector<NamedArrayRef> unnamed = {{"", a}};
  EXPECT_FALSE(encodeNpz(unnamed).ok());
  std::vector<NamedArrayRef> nul = {{std::string("a\0b", 3), a}};
  EXPECT_FALSE(encodeNpz(nul).ok());
  Array bf16 = patternArray(DType::BF16, {2});
  std::vector<NamedArrayRef> bad = {{"ok", a}, {"b", bf16}};
  Status s2 = writeNpz(dir.file("b.npz"), bad);
  ASSERT_FALSE(s2.ok());
  EXPECT_NE(s2.message().find("array 'b': dtype bf16 has no .npy equivalent"), std::string::npos)
      << s2.message();
  NpzWriteOptions level;
  level.compress = true;
  level.level = 12;
  EXPECT_FALSE(encodeNpz({{"a", a}}, level).ok());
  EXPECT_TRUE(dir.entries().empty()) << "failed writes leave nothing behind";
}
