//===- NpyTest.cpp - .npy reading and writing -----------------------------===//
#include "IoTestUtil.h"
#include "ReferenceFiles.h"
#include "runtime/io/Npy.h"

#include <cstring>
#include <sys/stat.h>

using namespace kiln::io;
using namespace kiln_io_test;

namespace {

std::vector<uint8_t> bytesOf(const std::string &s) { return std::vector<uint8_t>(s.begin(), s.end()); }

/// A .npy file with the given header dict (version 1.0) and data bytes.
std::vector<uint8_t> npyWithHeader(const std::string &dict, size_t dataBytes, int major = 1) {
  std::string header = dict + "\n";
  std::string out = "\x93NUMPY";
  out.push_back(char(major));
  out.push_back('\0');
  if (major == 1) {
    out.push_back(char(header.size() & 0xff));
    out.push_back(char(header.size() >> 8));
  } else {
    for (int i = 0; i < 4; ++i)
      out.push_back(char((header.size() >> (8 * i)) & 0xff));
  }
  out += header;
  out.append(dataBytes, '\0');
  return bytesOf(out);
}

Expected<Array> parse(const std::vector<uint8_t> &bytes, const std::string &name = "x.npy") {
  return parseNpy(bytes.data(), bytes.size(), name);
}

#define EXPECT_NPY_ERROR(bytes, ...)                                                               \
  do {                                                                                             \
    auto result = parse(bytes);                                                                    \
    ASSERT_FALSE(result.ok()) << "expected an error";                                              \
    for (const char *needle : {__VA_ARGS__})                                                       \
      EXPECT_NE(result.message().find(needle), std::string::npos)                                  \
          << "message: " << result.message() << "\nlacks: " << needle;                             \
    EXPECT_EQ(result.message().rfind("x.npy: ", 0), 0u) << result.message();                       \
  } while (0)

} // namespace

TEST(Npy, RoundTripEveryDType) {
  TempDir dir;
  for (DType dtype : allDTypes()) {
    if (dtype == DType::BF16)
      continue;
    for (std::vector<int64_t> shape :
         {std::vector<int64_t>{}, {0}, {5}, {2, 3}, {2, 0, 4}, {3, 1, 2, 2}}) {
      SCOPED_TRACE(std::string(dtypeName(dtype)) + " " + formatShape(shape));
      Array a = patternArray(dtype, shape);
      auto bytes = encodeNpy(a);
      ASSERT_TRUE(bytes.ok()) << bytes.message();
      EXPECT_EQ(bytes->size() % 64, a.byteSize() % 64) << "data must start 64-byte aligned";
      auto back = parse(*bytes);
      ASSERT_TRUE(back.ok()) << back.message();
      EXPECT_TRUE(back->equals(a));

      std::string path = dir.file("a.npy");
      ASSERT_TRUE(writeNpy(path, a).ok());
      auto fromFile = readNpy(path);
      ASSERT_TRUE(fromFile.ok()) << fromFile.message();
      EXPECT_TRUE(fromFile->equals(a));
      EXPECT_EQ(readBytes(path), *bytes);
    }
  }
}

TEST(Npy, HeaderIsExactlyWhatNumpyWrites) {
  // kNpyF32_2x3 was written by numpy; our encoding must match byte for byte.
  auto a = Array::fromValues<float>({2, 3}, {0.f, 0.5f, 1.f, 1.5f, 2.f, 2.5f});
  ASSERT_TRUE(a.ok());
  auto bytes = encodeNpy(*a);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, kNpyF32_2x3);
}

TEST(Npy, ReadsRealNumpyFiles) {
  {
    auto a = parse(kNpyF32_2x3);
    ASSERT_TRUE(a.ok()) << a.message();
    EXPECT_EQ(a->dtype(), DType::F32);
    EXPECT_EQ(a->shape(), (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a->data<float>()[5], 2.5f);
  }
  {
    auto a = parse(kNpyI64Scalar);
    ASSERT_TRUE(a.ok()) << a.message();
    EXPECT_EQ(a->rank(), 0u);
    EXPECT_EQ(a->numElements(), 1u);
    EXPECT_EQ(a->data<int64_t>()[0], -7);
  }
  {
    auto a = parse(kNpyBool);
    ASSERT_TRUE(a.ok()) << a.message();
    EXPECT_EQ(a->dtype(), DType::Bool);
    EXPECT_EQ(a->data<bool>()[0], true);
    EXPECT_EQ(a->data<bool>()[1], false);
  }
  {
    auto a = parse(kNpyU8Empty);
    ASSERT_TRUE(a.ok()) << a.message();
    EXPECT_EQ(a->dtype(), DType::U8);
    EXPECT_EQ(a->shape(), (std::vector<int64_t>{0, 4}));
    EXPECT_EQ(a->byteSize(), 0u);
  }
  {
    auto a = parse(kNpyF64V2);
    ASSERT_TRUE(a.ok()) << a.message();
    EXPECT_EQ(a->data<double>()[1], -2.25);
  }
  {
    auto a = parse(kNpyI32V3);
    ASSERT_TRUE(a.ok()) << a.message();
    EXPECT_EQ(a->shape(), (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(a->data<int32_t>()[3], -4);
  }
}

TEST(Npy, RejectsFortranOrderAndBigEndianFromNumpy) {
  EXPECT_NPY_ERROR(kNpyFortran, "Fortran-order", "np.ascontiguousarray");
  EXPECT_NPY_ERROR(kNpyBigEndian, "big-endian dtype '>i4'");
}

TEST(Npy, AcceptsHeaderVariantsPythonAccepts) {
  // Key order, quotes, spacing, trailing commas, Python 2 longs (v1.0), <u1.
  for (const char *dict :
       {"{'shape': (2,), 'fortran_order': False, 'descr': '<u1'}",
        "{\"descr\":\"|u1\",\"fortran_order\":False,\"shape\":(2,)}",
        "{ 'descr' : '|u1' ,\n 'fortran_order' : False , 'shape' : ( 2 , ) , }",
        "{'descr': '|u1', 'fortran_order': False, 'shape': (2L,)}",
        "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2,)}"}) {
    SCOPED_TRACE(dict);
    auto a = parse(npyWithHeader(dict, 2));
    ASSERT_TRUE(a.ok()) << a.message();
    EXPECT_EQ(a->numElements(), 2u);
  }
}

TEST(Npy, TruncatedAtEveryPositionFailsCleanly) {
  for (const auto *file : {&kNpyF32_2x3, &kNpyI32V3, &kNpyBool}) {
    for (size_t n = 0; n < file->size(); ++n) {
      std::vector<uint8_t> cut(file->begin(), file->begin() + n);
      auto result = parseNpy(cut.data(), cut.size(), "cut.npy");
      ASSERT_FALSE(result.ok()) << "accepted a file cut to " << n << " bytes";
      EXPECT_EQ(result.message().rfind("cut.npy: ", 0), 0u) << result.message();
      bool explained = result.message().find("truncated") != std::string::npos ||
                       result.message().find("bytes of data") != std::string::npos ||
                       result.message().find("bad header") != std::string::npos;
      EXPECT_TRUE(explained) << n << ": " << result.message();
    }
  }
  // Within the data the message gives the exact numbers.
  std::vector<uint8_t> cut(kNpyF32_2x3.begin(), kNpyF32_2x3.end() - 1);
  EXPECT_NPY_ERROR(cut, "header says shape (2, 3) of <f4 (6 elements, 24 bytes) but the file "
                        "holds 23 bytes of data");
}

TEST(Npy, BadMagicAndVersion) {
  EXPECT_NPY_ERROR(bytesOf("PK\x03\x04 hello world"), "not a .npy file", "PK\\x03\\x04");
  EXPECT_NPY_ERROR(bytesOf(""), "truncated");
  std::vector<uint8_t> v4 = kNpyF32_2x3;
  v4[6] = 4;
  EXPECT_NPY_ERROR(v4, "unsupported .npy format version 4.0");
  std::vector<uint8_t> v11 = kNpyF32_2x3;
  v11[7] = 1;
  EXPECT_NPY_ERROR(v11, "unsupported .npy format version 1.1");
}

TEST(Npy, HeaderLengthPastEndOrTooLarge) {
  std::vector<uint8_t> bad = kNpyF32_2x3;
  bad[8] = 0xff;
  bad[9] = 0xff;
  EXPECT_NPY_ERROR(bad, "header length 65535 runs past the end of the file");
  std::string v2 = "\x93NUMPY\x02";
  v2.push_back('\0');
  v2 += "\xff\xff\xff\xff{}";
  EXPECT_NPY_ERROR(bytesOf(v2), "header length 4294967295 runs past the end");
}

TEST(Npy, BadHeaderDicts) {
  struct Case {
    const char *dict;
    const char *message;
  } cases[] = {
      {"{'descr': '<f4', 'fortran_order': False}", "no 'shape' key"},
      {"{'descr': '<f4', 'shape': (1,)}", "no 'fortran_order' key"},
      {"{'fortran_order': False, 'shape': (1,)}", "no 'descr' key"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
       "unexpected key 'extra'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
       "key 'descr' appears twice"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [1]}",
       "'shape' must be a tuple of integers, found a list"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1)}",
       "'shape' must be a tuple of integers, found an integer"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "negative dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': ('a',)}", "found a string in it"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", "'fortran_order' must be True or False"},
      {"{'descr': 4, 'fortran_order': False, 'shape': (1,)}", "'descr' must be a string"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", "structured dtypes"},
      {"{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", "object arrays"},
      {"{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", "unsupported dtype '<c8'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "unterminated dict"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", "expected ',' or '}'"},
      {"{'descr' '<f4', 'fortran_order': False, 'shape': (1,)}", "expected ':' after key 'descr'"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", "bad header"},
      {"{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}", "unexpected name 'false'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (01,)}", "leading zero"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk", "unexpected text after"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
       "is too large"},
      {"{1: '<f4'}", "dict keys must be strings"},
      {"('descr', '<f4')", "the header is a tuple, not a dict"},
      {"", "unexpected end of the header"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } # comment",
       "unexpected text after the header dict"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': ((((((((((((((((((1,),),),),),),),),),),"
       "),),),),),),),),),)}",
       "nested too deeply"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.dict);
    EXPECT_NPY_ERROR(npyWithHeader(c.dict, 4), "bad header", c.message);
  }
  EXPECT_NPY_ERROR(npyWithHeader(std::string("{'descr': '<f4', 'fortran_order': False, "
                                             "'shape': (1,)}") + std::string(1, '\0'), 4),
                   "unexpected text after the header dict");
  // Python-2 longs are only valid in version 1.0/2.0 headers.
  EXPECT_NPY_ERROR(npyWithHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (2L,)}", 2, 3),
                   "malformed integer");
}

TEST(Npy, ShapeAndLengthMismatch) {
  EXPECT_NPY_ERROR(npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (10, 784), }",
                                 7840),
                   "header says shape (10, 784) of <f4 (7840 elements, 31360 bytes) but the file "
                   "holds 7840 bytes of data (truncated?)");
  EXPECT_NPY_ERROR(npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12),
                   "holds 12 bytes of data (trailing bytes?)");
  EXPECT_NPY_ERROR(
      npyWithHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 8),
      "overflows 64 bits");
  EXPECT_NPY_ERROR(
      npyWithHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846976,), }", 8),
      "overflows 64 bits");
  std::string rank65 = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < 65; ++i)
    rank65 += "1,";
  rank65 += ")}";
  EXPECT_NPY_ERROR(npyWithHeader(rank65, 4), "65 dimensions");
}

TEST(Npy, BoolsMustBeZeroOrOne) {
  std::vector<uint8_t> bad = kNpyBool;
  bad.back() = 2;
  EXPECT_NPY_ERROR(bad, "bool element 2 has byte value 2");
  auto a = Array::zeros(DType::Bool, {2});
  ASSERT_TRUE(a.ok());
  a->bytes()[1] = 7;
  auto encoded = encodeNpy(*a);
  ASSERT_FALSE(encoded.ok());
  EXPECT_NE(encoded.message().find("bool element 1"), std::string::npos) << encoded.message();
}

TEST(Npy, WriteErrors) {
  TempDir dir;
  auto bf16 = Array::zeros(DType::BF16, {2});
  ASSERT_TRUE(bf16.ok());
  Status s = writeNpy(dir.file("b.npy"), *bf16);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no .npy equivalent"), std::string::npos) << s.message();
  EXPECT_TRUE(dir.entries().empty()) << "a failed write must leave nothing behind";

  ArrayRef negative(DType::F32, {-1}, nullptr);
  EXPECT_FALSE(encodeNpy(negative).ok());

  Status missing = writeNpy(dir.file("no/such/dir/x.npy"), *bf16);
  EXPECT_FALSE(missing.ok());
  auto f = Array::zeros(DType::F32, {2});
  Status noDir = writeNpy(dir.file("no/such/dir/x.npy"), *f);
  ASSERT_FALSE(noDir.ok());
  EXPECT_NE(noDir.message().find("cannot create a temporary file"), std::string::npos)
      << noDir.message();
}

TEST(Npy, ReadErrorsNameTheFile) {
  TempDir dir;
  auto missing = readNpy(dir.file("missing.npy"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("missing.npy: cannot open: No such file"), std::string::npos)
      << missing.message();
  auto directory = readNpy(dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.message().find("is a directory"), std::string::npos) << directory.message();
}

TEST(Npy, AtomicWriteReplacesAndKeepsMode) {
  TempDir dir;
  std::string path = dir.file("w.npy");
  Array first = patternArray(DType::F32, {4});
  ASSERT_TRUE(writeNpy(path, first).ok());
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  Array second = patternArray(DType::I64, {3, 3}, 1);
  ASSERT_TRUE(writeNpy(path, second).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  auto back = readNpy(path);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->equals(second));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"w.npy"}) << "no temporary files left";
}

TEST(Npy, LargeHeaderUsesVersion2) {
  // A header over 65535 bytes needs format 2.0: 64 dimensions cannot get
  // there, so check the writer picks 1.0 for the largest legal shape.
  std::vector<int64_t> shape(64, 1);
  ArrayRef ref(DType::U8, shape, "\x01");
  auto bytes = encodeNpy(ref);
  ASSERT_TRUE(bytes.ok()) << bytes.message();
  EXPECT_EQ((*bytes)[6], 1);
  auto back = parse(*bytes);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->shape(), shape);
  // And a 2.0 file with a long (padded) header reads fine.
  std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }" +
                     std::string(70000, ' ');
  auto v2 = parse(npyWithHeader(dict, 1, 2));
  ASSERT_TRUE(v2.ok()) << v2.message();
}
