//===- IdxTest.cpp - IDX (MNIST) files, plain and gzip --------------------===//
#include "runtime/io/Idx.h"
#include "DatasetTestUtil.h"
#include "runtime/io/Gzip.h"

#include <chrono>
#include <cstring>

using namespace kiln::io;
using namespace kiln_io_test;

namespace {

Expected<Array> parse(const Bytes &b, const char *noun = "items") {
  return parseIdx(b.data(), b.size(), "f.idx", noun);
}

} // namespace

TEST(Idx, ParsesImagesAndLabels) {
  Bytes file = idxImages(3, 4, 5);
  Expected<Array> a = parse(file);
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_EQ(a->dtype(), DType::U8);
  EXPECT_EQ(a->shape(), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(0, std::memcmp(a->bytes(), file.data() + 16, 60));

  Expected<Array> l = parse(idxLabels({7, 0, 9}));
  ASSERT_TRUE(l.ok()) << l.message();
  EXPECT_EQ(l->shape(), (std::vector<int64_t>{3}));
  EXPECT_EQ(l->bytes()[0], 7);
  EXPECT_EQ(l->bytes()[2], 9);
}

TEST(Idx, GzipGivesTheSameArray) {
  Bytes file = idxImages(5);
  Expected<Array> plain = parse(file);
  for (int level : {0, 1, 9}) {
    Expected<Array> packed = parse(gzipBytes(file, level));
    ASSERT_TRUE(packed.ok()) << packed.message();
    EXPECT_TRUE(packed->equals(*plain));
  }
}

TEST(Idx, MultiMemberGzip) {
  // `gzip -c a > x.gz; gzip -c b >> x.gz` decompresses to a + b.
  Bytes file = idxImages(4);
  Bytes a(file.begin(), file.begin() + 1000), b(file.begin() + 1000, file.end());
  Bytes packed = gzipBytes(a);
  Bytes second = gzipBytes(b);
  packed.insert(packed.end(), second.begin(), second.end());
  Expected<Array> parsed = parse(packed);
  ASSERT_TRUE(parsed.ok()) << parsed.message();
  EXPECT_TRUE(parsed->equals(*parse(file)));
}

TEST(Idx, EveryElementTypeIsBigEndian) {
  struct Case {
    uint8_t code;
    DType dtype;
    Bytes payload; // two elements, big-endian
  };
  std::vector<Case> cases = {
      {0x09, DType::I8, {0xff, 0x02}},
      {0x0B, DType::I16, {0xff, 0xfe, 0x01, 0x00}},
      {0x0C, DType::I32, {0x00, 0x00, 0x01, 0x02, 0xff, 0xff, 0xff, 0xff}},
      {0x0D, DType::F32, {0x3f, 0x80, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00}},
      {0x0E, DType::F64, {0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc0, 0x08, 0, 0, 0, 0, 0, 0}},
  };
  for (const Case &c : cases) {
    Expected<Array> a = parse(idxFile(c.code, {2}, c.payload));
    ASSERT_TRUE(a.ok()) << a.message();
    EXPECT_EQ(a->dtype(), c.dtype);
    switch (c.dtype) {
    case DType::I8:
      EXPECT_EQ(a->data<int8_t>()[0], -1);
      break;
    case DType::I16:
      EXPECT_EQ(a->data<int16_t>()[0], -2);
      EXPECT_EQ(a->data<int16_t>()[1], 256);
      break;
    case DType::I32:
      EXPECT_EQ(a->data<int32_t>()[0], 258);
      EXPECT_EQ(a->data<int32_t>()[1], -1);
      break;
    case DType::F32:
      EXPECT_EQ(a->data<float>()[0], 1.0f);
      EXPECT_EQ(a->data<float>()[1], -2.0f);
      break;
    case DType::F64:
      EXPECT_EQ(a->data<double>()[0], 1.5);
      EXPECT_EQ(a->data<double>()[1], -3.0);
      break;
    default:
      break;
    }
  }
}

TEST(Idx, RejectsBadMagic) {
  Bytes npy = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  EXPECT_TRUE(contains(parse(npy).message(),
                       "f.idx: not an IDX file: it starts with \"\\x93NUM\" instead of 00 00"));
  Bytes file = idxLabels({1, 2});
  file[2] = 0x0A;
  EXPECT_TRUE(contains(parse(file).message(),
                       "f.idx: bad magic 0x00000a01: unknown IDX element type 0x0a"));
  file[2] = 0x08;
  file[3] = 0;
  EXPECT_TRUE(contains(parse(file).message(), "rank 0"));
  file[3] = 17;
  EXPECT_TRUE(contains(parse(file).message(), "rank 17"));
  EXPECT_TRUE(contains(parse(Bytes{}).message(), "f.idx: empty file"));
  EXPECT_TRUE(contains(parse(Bytes{0, 0, 8}).message(), "f.idx: truncated: 3 bytes"));
}

TEST(Idx, TruncatedNamesCounts) {
  Bytes labels = idxLabels(Bytes(10, 1));
  labels.resize(labels.size() - 7);
  EXPECT_EQ(parse(labels, "labels").message(),
            "f.idx: truncated: header says 10 labels, file holds 3");
  Bytes images = idxImages(3, 28, 28);
  images.resize(16 + 784 + 100);
  EXPECT_EQ(
      parse(images, "images").message(),
      "f.idx: truncated: header says 3 images of 28x28, file holds 1 and 100 bytes of the next");
  images.resize(10);
  EXPECT_TRUE(
      contains(parse(images).message(), "truncated: the header needs 12 bytes of dimensions"));
}

TEST(Idx, TruncatedGzipPayloadAndCutStream) {
  // A complete gzip stream of a truncated IDX file.
  Bytes labels = idxLabels(Bytes(60000, 3));
  Bytes cut(labels.begin(), labels.begin() + 8 + 1234);
  EXPECT_EQ(parse(gzipBytes(cut), "labels").message(),
            "f.idx: truncated: header says 60000 labels, file holds 1234 (decompressed)");
  // A gzip file cut off in the middle (an incomplete download).
  Bytes images = idxImages(50);
  Bytes packed = gzipBytes(images, 0); // stored blocks: the cut point maps to the data
  packed.resize(packed.size() / 2);
  std::string m = parse(packed, "images").message();
  EXPECT_TRUE(contains(m, "f.idx: truncated: header says 50 images of 28x28, file holds "));
  EXPECT_TRUE(contains(m, "the gzip stream itself is cut off"));
  // Cut only in the trailer (CRC and length): all data is there.
  Bytes trailer = gzipBytes(idxLabels({1, 2, 3}));
  trailer.resize(trailer.size() - 3);
  EXPECT_TRUE(
      contains(parse(trailer).message(), "f.idx: gzip error: the compressed stream is cut off"));
}

TEST(Idx, GzipCorruption) {
  Bytes packed = gzipBytes(idxImages(20));
  Bytes crc = packed;
  crc[crc.size() - 6] ^= 0x55; // CRC-32 in the trailer
  EXPECT_TRUE(contains(parse(crc).message(), "f.idx: gzip error: incorrect data check"));
  Bytes len = packed;
  len[len.size() - 2] ^= 0x01; // ISIZE
  EXPECT_TRUE(contains(parse(len).message(), "f.idx: gzip error: incorrect length check"));
  Bytes garbage = packed;
  for (const char *s = "garbage"; *s; ++s)
    garbage.push_back(uint8_t(*s));
  EXPECT_TRUE(
      contains(parse(garbage).message(), "f.idx: gzip error: 7 bytes of non-gzip data follow"));
  // Every single-byte flip inside the deflate data is either caught by zlib
  // or by the CRC, or (in a header flag byte, say) still decodes the same.
  Expected<Array> good = parse(packed);
  for (size_t i = 10; i + 8 < packed.size(); i += 7) {
    Bytes bad = packed;
    bad[i] ^= 0x24;
    Expected<Array> r = parse(bad);
    if (r.ok())
      EXPECT_TRUE(r->equals(*good)) << "flip at " << i;
    else
      EXPECT_EQ(r.message().rfind("f.idx: ", 0), 0u) << r.message();
  }
}

TEST(Idx, TrailingBytes) {
  Bytes labels = idxLabels({1, 2, 3});
  labels.push_back(4);
  labels.push_back(5);
  EXPECT_EQ(parse(labels, "labels").message(),
            "f.idx: header says 3 labels but 2 more bytes follow them; it holds data for 5 labels "
            "(a wrong count in the header?)");
  EXPECT_TRUE(contains(parse(gzipBytes(labels), "labels").message(), "2 more bytes follow them"));
}

TEST(Idx, HostileHeadersDoNotAllocate) {
  // 4 billion images of 65535x65535 in a 16-byte file: rejected at once.
  Bytes huge = idxFile(0x08, {0xffffffffu, 0xffff, 0xffff}, {});
  EXPECT_TRUE(contains(parse(huge).message(), "overflow"));
  Bytes big = idxFile(0x08, {0xffffffffu, 28, 28}, Bytes(784 * 2, 1));
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(parse(big, "images").message(),
            "f.idx: truncated: header says 4294967295 images of 28x28, file holds 2");
  // The same in gzip: the claimed size is beyond what the compressed file can
  // hold (deflate expands at most 1032:1), so nothing is allocated.
  EXPECT_EQ(
      parse(gzipBytes(big), "images").message(),
      "f.idx: truncated: header says 4294967295 images of 28x28, file holds 2 (decompressed)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(Idx, EveryTruncationFailsWithTheName) {
  Bytes file = idxImages(2, 3, 3);
  Bytes packed = gzipBytes(file);
  for (size_t n = 0; n < file.size(); ++n) {
    Expected<Array> r = parse(Bytes(file.begin(), file.begin() + n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.message().rfind("f.idx: ", 0), 0u) << r.message();
  }
  for (size_t n = 3; n < packed.size(); ++n) {
    Expected<Array> r = parse(Bytes(packed.begin(), packed.begin() + n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.message().rfind("f.idx: ", 0), 0u) << r.message();
  }
}

TEST(Idx, ReadsFilesPlainAndGzip) {
  TempDir dir;
  Bytes file = idxImages(4);
  ASSERT_TRUE(writeBytes(dir.file("a-idx3-ubyte"), file));
  ASSERT_TRUE(writeBytes(dir.file("a-idx3-ubyte.gz"), gzipBytes(file)));
  Expected<Array> plain = readIdx(dir.file("a-idx3-ubyte"));
  Expected<Array> packed = readIdx(dir.file("a-idx3-ubyte.gz"));
  ASSERT_TRUE(plain.ok()) << plain.message();
  ASSERT_TRUE(packed.ok()) << packed.message();
  EXPECT_TRUE(plain->equals(*packed));
  EXPECT_TRUE(plain->equals(*parse(file)));
  Expected<Array> missing = readIdx(dir.file("nope"));
  EXPECT_TRUE(contains(missing.message(), dir.file("nope") + ": cannot open"));
}

TEST(Gzip, ReadsInAnyChunkSizeAndFlagsCutStreams) {
  Bytes data = idxImages(3);
  for (int level : {0, 6}) {
    Bytes packed = gzipBytes(data, level);
    for (size_t chunk : {size_t(1), size_t(7), size_t(784), data.size(), data.size() + 1}) {
      detail::GzipReader gz(packed.data(), packed.size(), "g");
      Bytes out;
      for (;;) {
        Bytes buf(chunk);
        Expected<size_t> got = gz.read(buf.data(), chunk);
        ASSERT_TRUE(got.ok()) << got.message();
        out.insert(out.end(), buf.begin(), buf.begin() + *got);
        if (*got < chunk)
          break;
      }
      EXPECT_EQ(out, data) << "chunk " << chunk;
      EXPECT_FALSE(gz.truncated()) << "chunk " << chunk;
      EXPECT_EQ(gz.maxRemaining(), 0u) << "chunk " << chunk; // nothing left once done
    }
    // Every cut-off prefix is flagged (or fails) and never over-reads.
    for (size_t n = 10; n < packed.size(); ++n) {
      detail::GzipReader gz(packed.data(), n, "g");
      Expected<uint64_t> all = gz.skipRest();
      if (all.ok())
        EXPECT_TRUE(gz.truncated()) << n;
    }
  }
}
