//===- ArrayTest.cpp - Array, Status/Expected, format detection -----------===//
#include "IoTestUtil.h"
#include "ReferenceFiles.h"
#include "runtime/io/ArrayFile.h"
#include "runtime/io/Npy.h"
#include "runtime/io/Npz.h"
#include "runtime/io/Safetensors.h"

using namespace kiln::io;
using namespace kiln_io_test;

TEST(Array, ZerosAndAccessors) {
  auto a = Array::zeros(DType::F32, {2, 3});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->numElements(), 6u);
  EXPECT_EQ(a->byteSize(), 24u);
  EXPECT_EQ(a->rank(), 2u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a->bytes()) % 64, 0u);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(a->data<float>()[i], 0.f);
  auto scalar = Array::zeros(DType::I64, {});
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->numElements(), 1u);
  auto empty = Array::zeros(DType::U8, {0, 7});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->byteSize(), 0u);
  EXPECT_NE(empty->bytes(), nullptr);
  Array defaulted;
  EXPECT_EQ(defaulted.shape(), std::vector<int64_t>{0});
  EXPECT_EQ(defaulted.byteSize(), 0u);
}

TEST(Array, InvalidShapes) {
  auto negative = Array::zeros(DType::F32, {2, -1});
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.message().find("invalid shape (2, -1)"), std::string::npos);
  EXPECT_FALSE(Array::zeros(DType::F64, {int64_t(1) << 32, int64_t(1) << 32}).ok());
  EXPECT_FALSE(Array::zeros(DType::F64, {int64_t(1) << 61}).ok());
  auto wrongSize = Array::fromBytes(DType::I32, {3}, "abcd", 4);
  ASSERT_FALSE(wrongSize.ok());
  EXPECT_NE(wrongSize.message().find("needs 12 bytes, got 4"), std::string::npos);
}

TEST(Array, FromValuesCloneEquals) {
  auto a = Array::fromValues<int32_t>({2, 2}, {1, 2, 3, 4});
  ASSERT_TRUE(a.ok());
  auto b = a->clone();
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(a->equals(*b));
  b->data<int32_t>()[3] = 5;
  EXPECT_FALSE(a->equals(*b));
  auto c = Array::fromValues<float>({2, 2}, {1, 2, 3, 4});
  EXPECT_FALSE(a->equals(*c)) << "different dtype";
  EXPECT_FALSE(Array::fromValues<float>({3}, {1, 2}).ok());
}

TEST(Array, WrongTypedAccessAborts) {
  auto a = Array::zeros(DType::F32, {1});
  EXPECT_DEATH(a->data<int32_t>(), "data<i32>\\(\\) called on a f32 array");
}

TEST(Array, NamesAndSizes) {
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::Bool), 1u);
  EXPECT_STREQ(dtypeName(DType::I64), "i64");
  EXPECT_STREQ(npyDescr(DType::F32), "<f4");
  EXPECT_EQ(npyDescr(DType::BF16), nullptr);
  EXPECT_STREQ(safetensorsDType(DType::BF16), "BF16");
  EXPECT_STREQ(safetensorsDType(DType::Bool), "BOOL");
  EXPECT_EQ(formatShape({}), "()");
  EXPECT_EQ(formatShape({3}), "(3,)");
  EXPECT_EQ(formatShape({10, 784}), "(10, 784)");
}

TEST(Status, ExpectedPropagation) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_TRUE(ok.message().empty());
  Status bad = Error("f.npy: broken");
  EXPECT_FALSE(bad);
  Expected<int> fromStatus(bad);
  EXPECT_FALSE(fromStatus.ok());
  EXPECT_EQ(fromStatus.message(), "f.npy: broken");
  EXPECT_EQ(fromStatus.status().message(), "f.npy: broken");
  Expected<int> value(3);
  EXPECT_EQ(*value, 3);
  EXPECT_TRUE(value.status().ok());
  EXPECT_DEATH((void)fromStatus.value(), "value of a failed Expected accessed: f.npy: broken");
}

TEST(ArrayFile, DetectsFormats) {
  EXPECT_EQ(detectFormat(kNpyF32_2x3.data(), kNpyF32_2x3.size()), FileFormat::Npy);
  EXPECT_EQ(detectFormat(kNpzStored.data(), kNpzStored.size()), FileFormat::Npz);
  EXPECT_EQ(detectFormat(kSafetensors.data(), kSafetensors.size()), FileFormat::Safetensors);
  EXPECT_EQ(detectFormat("hello", 5), FileFormat::Unknown);
  EXPECT_EQ(detectFormat("", 0), FileFormat::Unknown);
}

TEST(ArrayFile, ReadArraysDispatches) {
  TempDir dir;
  ASSERT_TRUE(writeBytes(dir.file("w.bin"), kSafetensors)); // the name does not matter
  auto st = readArrays(dir.file("w.bin"));
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(st->size(), 3u);
  ASSERT_TRUE(writeBytes(dir.file("images.npy"), kNpyF32_2x3));
  auto npy = readArrays(dir.file("images.npy"));
  ASSERT_TRUE(npy.ok()) << npy.message();
  ASSERT_EQ(npy->size(), 1u);
  EXPECT_EQ((*npy)[0].name, "images");
  ASSERT_TRUE(writeBytes(dir.file("d.npz"), kNpzDeflated));
  auto npz = readArrays(dir.file("d.npz"));
  ASSERT_TRUE(npz.ok()) << npz.message();
  EXPECT_EQ(npz->size(), 2u);
  ASSERT_TRUE(writeBytes(dir.file("t.csv"), {'a', ',', 'b', '\n'}));
  auto csv = readArrays(dir.file("t.csv"));
  ASSERT_FALSE(csv.ok());
  EXPECT_NE(csv.message().find("t.csv: not a .npy, .npz or .safetensors file"), std::string::npos)
      << csv.message();
}
