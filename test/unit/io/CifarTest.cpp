//===- CifarTest.cpp - CIFAR-10 binary batches ----------------------------===//
#include "runtime/io/Cifar.h"
#include "DatasetTestUtil.h"

using namespace kiln::io;
using namespace kiln_io_test;

namespace {

Expected<CifarBatch> parse(const Bytes &b) { return parseCifar(b.data(), b.size(), "b.bin"); }

} // namespace

TEST(Cifar, RecordsBecomeNHWC) {
  Bytes file = cifarRecords({3, 9, 0});
  ASSERT_EQ(file.size(), 3 * 3073u);
  Expected<CifarBatch> batch = parse(file);
  ASSERT_TRUE(batch.ok()) << batch.message();
  EXPECT_EQ(batch->images.shape(), (std::vector<int64_t>{3, 32, 32, 3}));
  EXPECT_EQ(batch->labels.shape(), (std::vector<int64_t>{3}));
  EXPECT_EQ(batch->labels.bytes()[0], 3);
  EXPECT_EQ(batch->labels.bytes()[1], 9);
  const uint8_t *img = batch->images.bytes();
  for (size_t i = 0; i < 3; ++i)
    for (size_t y = 0; y < 32; ++y)
      for (size_t x = 0; x < 32; ++x)
        for (size_t c = 0; c < 3; ++c)
          ASSERT_EQ(img[((i * 32 + y) * 32 + x) * 3 + c], cifarPixel(i, y, x, c))
              << i << " " << y << " " << x << " " << c;
  // The first record: red plane byte (y=1, x=2) is file byte 1 + 32 + 2.
  EXPECT_EQ(img[(1 * 32 + 2) * 3 + 0], file[1 + 32 + 2]);
  EXPECT_EQ(img[(1 * 32 + 2) * 3 + 2], file[1 + 2048 + 32 + 2]);
}

TEST(Cifar, ReadsAFile) {
  TempDir dir;
  Bytes file = cifarRecords({1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1});
  ASSERT_TRUE(writeBytes(dir.file("data_batch_1.bin"), file));
  Expected<CifarBatch> batch = readCifar(dir.file("data_batch_1.bin"));
  ASSERT_TRUE(batch.ok()) << batch.message();
  EXPECT_TRUE(batch->images.equals(parse(file)->images));
}

TEST(Cifar, Truncated) {
  Bytes file = cifarRecords({1, 2});
  file.resize(file.size() - 1000);
  EXPECT_EQ(parse(file).message(),
            "b.bin: truncated: 5146 bytes is 1 record of 3073 bytes and 2073 bytes of another "
            "(a CIFAR-10 record is 1 label byte + 3072 pixel bytes)");
  EXPECT_TRUE(contains(parse(Bytes(3074 * 2, 0)).message(), "as in CIFAR-100"));
  EXPECT_EQ(parse(Bytes{}).message(),
            "b.bin: empty file (a CIFAR-10 batch is a sequence of 3073-byte records)");
}

TEST(Cifar, LabelOutOfRange) {
  Bytes file = cifarRecords({1, 10, 2});
  EXPECT_EQ(parse(file).message(),
            "b.bin: record 1 (byte offset 3073): label 10 is out of range 0-9 (not a CIFAR-10 "
            "binary batch?)");
}

TEST(Cifar, RecognisesWrongFiles) {
  Bytes gz = gzipBytes(cifarRecords({1}));
  EXPECT_TRUE(contains(parse(gz).message(), "b.bin: gzip-compressed; decompress it first"));
  Bytes tar(3073 * 2, 0);
  std::memcpy(tar.data() + 257, "ustar", 5);
  EXPECT_TRUE(contains(parse(tar).message(), "b.bin: a tar archive"));
  Bytes pickle(3073, 0);
  pickle[0] = 0x80;
  pickle[1] = 0x02;
  EXPECT_TRUE(contains(parse(pickle).message(), "b.bin: a Python pickle"));
}
