//===- SafetensorsTest.cpp - .safetensors reading and writing -------------===//
#include "IoTestUtil.h"
#include "ReferenceFiles.h"
#include "runtime/io/Safetensors.h"

#include <cstring>

using namespace kiln::io;
using namespace kiln_io_test;

namespace {

/// A file with the given JSON header (unpadded) and `dataBytes` zero bytes.
std::vector<uint8_t> withHeader(const std::string &json, size_t dataBytes) {
  std::vector<uint8_t> out;
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i)
    out.push_back(uint8_t(n >> (8 * i)));
  out.insert(out.end(), json.begin(), json.end());
  out.resize(out.size() + dataBytes, 0);
  return out;
}

Expected<SafetensorsFile> parse(const std::vector<uint8_t> &bytes) {
  return parseSafetensors(bytes.data(), bytes.size(), "m.safetensors");
}

#define EXPECT_ST_ERROR(bytes, ...)                                                                \
  do {                                                                                             \
    auto result = parse(bytes);                                                                    \
    ASSERT_FALSE(result.ok()) << "expected an error";                                              \
    for (const char *needle : {__VA_ARGS__})                                                       \
      EXPECT_NE(result.message().find(needle), std::string::npos)                                  \
          << "message: " << result.message() << "\nlacks: " << needle;                             \
    EXPECT_EQ(result.message().rfind("m.safetensors: ", 0), 0u) << result.message();               \
  } while (0)

} // namespace

TEST(Safetensors, RoundTripEveryDTypeWithMetadata) {
  TempDir dir;
  ArrayList tensors;
  int salt = 0;
  for (DType dtype : allDTypes())
    tensors.push_back({std::string("layer/") + dtypeName(dtype), patternArray(dtype, {2, 3}, salt++)});
  tensors.push_back({"scalar", patternArray(DType::F32, {})});
  tensors.push_back({"empty", patternArray(DType::I64, {0})});
  tensors.push_back({"", patternArray(DType::I8, {2})}); // the format allows an empty name
  tensors.push_back({"quote\"back\\slash\ttab/ünï", patternArray(DType::U8, {1})});
  Metadata metadata = {{"format", "kiln"}, {"epoch", "3"}, {"note", "line\nbreak \"quoted\""}};

  auto bytes = encodeSafetensors(refs(tensors), metadata);
  ASSERT_TRUE(bytes.ok()) << bytes.message();
  uint64_t headerLen = 0;
  std::memcpy(&headerLen, bytes->data(), 8);
  EXPECT_EQ((8 + headerLen) % 8, 0u) << "data section starts 8-byte aligned";
  auto back = parse(*bytes);
  ASSERT_TRUE(back.ok()) << back.message();
  ASSERT_EQ(back->tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(back->tensors[i].name, tensors[i].name) << "header order is kept";
    EXPECT_TRUE(back->tensors[i].array.equals(tensors[i].array)) << tensors[i].name;
  }
  EXPECT_EQ(back->metadata, metadata);

  std::string path = dir.file("m.safetensors");
  ASSERT_TRUE(writeSafetensors(path, tensors, metadata).ok());
  EXPECT_EQ(readBytes(path), *bytes);
  auto fromFile = readSafetensors(path);
  ASSERT_TRUE(fromFile.ok()) << fromFile.message();
  EXPECT_EQ(fromFile->tensors.size(), tensors.size());
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"});
}

TEST(Safetensors, DataIsAlignedToElementSize) {
  // Written widest-first, so every tensor starts at a multiple of its size.
  ArrayList tensors;
  tensors.push_back({"a", patternArray(DType::U8, {3})});
  tensors.push_back({"b", patternArray(DType::F64, {2})});
  tensors.push_back({"c", patternArray(DType::I16, {1})});
  tensors.push_back({"d", patternArray(DType::F32, {5})});
  auto bytes = encodeSafetensors(refs(tensors));
  ASSERT_TRUE(bytes.ok());
  std::string header(bytes->begin() + 8, bytes->end());
  EXPECT_NE(header.find("\"b\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}"),
            std::string::npos)
      << header;
  EXPECT_NE(header.find("\"d\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[16,36]}"),
            std::string::npos)
      << header;
}

TEST(Safetensors, ReadsReferenceImplementationFile) {
  auto file = parse(kSafetensors);
  ASSERT_TRUE(file.ok()) << file.message();
  ASSERT_EQ(file->metadata.size(), 1u);
  EXPECT_EQ(file->metadata[0], (std::pair<std::string, std::string>("format", "np")));
  const Array *kernel = findArray(file->tensors, "dense/kernel");
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(kernel->shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(kernel->data<float>()[5], 5.f);
  const Array *step = findArray(file->tensors, "step");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->data<int64_t>()[0], 5);
  ASSERT_NE(findArray(file->tensors, "dense/bias"), nullptr);
}

TEST(Safetensors, TruncatedAtEveryPositionFailsCleanly) {
  for (size_t n = 0; n < kSafetensors.size(); ++n) {
    auto result = parseSafetensors(kSafetensors.data(), n, "cut.safetensors");
    ASSERT_FALSE(result.ok()) << "accepted a file cut to " << n << " bytes";
    EXPECT_EQ(result.message().rfind("cut.safetensors: ", 0), 0u) << result.message();
  }
  auto result = parseSafetensors(kSafetensors.data(), kSafetensors.size() - 1, "cut.safetensors");
  EXPECT_NE(result.message().find("run past the end of the data section"), std::string::npos)
      << result.message();
  auto short4 = parseSafetensors(kSafetensors.data(), 4, "cut.safetensors");
  EXPECT_NE(short4.message().find("too short for the 8-byte header length"), std::string::npos);
}

TEST(Safetensors, EveryByteFlipIsHandled) {
  for (size_t i = 0; i < kSafetensors.size(); ++i) {
    std::vector<uint8_t> bad = kSafetensors;
    bad[i] ^= 0xff;
    auto result = parse(bad);
    if (!result.ok())
      EXPECT_EQ(result.message().rfind("m.safetensors: ", 0), 0u) << result.message();
  }
}

TEST(Safetensors, HeaderLength) {
  std::vector<uint8_t> huge(16, 0xff);
  EXPECT_ST_ERROR(huge, "header length 18446744073709551615 exceeds the format's limit");
  std::vector<uint8_t> past = withHeader("{}", 0);
  past[0] = 100;
  EXPECT_ST_ERROR(past, "header length 100 runs past the end of the file");
  EXPECT_ST_ERROR(withHeader("[]", 0), "does not start with '{'");
  EXPECT_ST_ERROR(withHeader("{", 0), "header length 1 is too short");
  auto empty = parse(withHeader("{}      ", 0));
  ASSERT_TRUE(empty.ok()) << empty.message();
  EXPECT_TRUE(empty->tensors.empty());
}

TEST(Safetensors, BadJson) {
  struct Case {
    const char *json;
    const char *message;
  } cases[] = {
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", "expected a string key"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}", "unexpected character"},
      {"{\"a\":1,\"a\":2}", "duplicate key \"a\""},
      {"{\"a\":\"\xff\"}", "invalid UTF-8"},
      {"{\"a\":\"\\ud800\"}", "unpaired high surrogate"},
      {"{\"a\":\"\x01\"}", "control character"},
      {"{\"a\":01}", "leading zero"},
      {"{\"a\":1} x", "unexpected text after the JSON value"},
      {"{\"a\":tru}", "invalid literal"},
      {"{\"a\":\"\\x\"}", "invalid escape"},
      {"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]"
       "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
       "nested too deeply"},
      {"{/*c*/}", "expected a string key"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.json);
    EXPECT_ST_ERROR(withHeader(c.json, 0), "invalid JSON header", c.message, "at byte");
  }
}

TEST(Safetensors, BadTensorEntries) {
  struct Case {
    const char *json;
    size_t data;
    const char *message;
  } cases[] = {
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4,
       "tensor 'a': shape [2] of F32 needs 8 bytes but data_offsets [0, 4] span 4"},
      {R"({"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 1,
       "tensor 'a': unsupported dtype 'F8_E4M3'"},
      {R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4,
       "\"shape\" must hold non-negative integers, found -1"},
      {R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4,
       "non-negative integers, found 1.5"},
      {R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4,
       "is too large"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4, "end before they begin"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", 8,
       "\"data_offsets\" must be an array of two"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}})", 4,
       "\"data_offsets\" must be an array of two"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})", 4,
       "data_offsets [0, 8] run past the end of the data section (4 bytes)"},
      {R"({"a":{"dtype":"F32","shape":[1]}})", 4, "no \"data_offsets\" field"},
      {R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4, "no \"dtype\" field"},
      {R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4, "no \"shape\" field"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})", 4,
       "unexpected field 'x'"},
      {R"({"a":[1]})", 0, "tensor 'a': expected an object, found an array"},
      {R"({"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})", 4, "\"dtype\" must be a string"},
      {R"({"__metadata__":{"k":1}})", 0, "\"__metadata__\" entry 'k' is a number, not a string"},
      {R"({"__metadata__":[]})", 0, "\"__metadata__\" must be an object of strings"},
      {R"({"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", 0, "run past the end"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.json);
    EXPECT_ST_ERROR(withHeader(c.json, c.data), c.message);
  }
}

TEST(Safetensors, OffsetsMustTileTheDataSection) {
  EXPECT_ST_ERROR(withHeader(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                             12),
                  "tensors 'a' (data_offsets [0, 8]) and 'b' (data_offsets [4, 12]) overlap");
  EXPECT_ST_ERROR(withHeader(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                             4),
                  "overlap");
  EXPECT_ST_ERROR(withHeader(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                             12),
                  "bytes [4, 8) of the data section belong to no tensor");
  EXPECT_ST_ERROR(withHeader(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 6),
                  "the data section has 6 bytes but the tensors cover only 4");
  EXPECT_ST_ERROR(withHeader(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", 2),
                  "bytes [0, 1) of the data section belong to no tensor");
  // Tensors listed out of data order are fine; zero-size tensors too.
  auto ok = parse(withHeader(R"({"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},)"
                             R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[2,2]},)"
                             R"("a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
                             2));
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ(ok->tensors[0].name, "b");
}

TEST(Safetensors, BoolsMustBeZeroOrOne) {
  std::vector<uint8_t> file =
      withHeader(R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", 2);
  file.back() = 5;
  EXPECT_ST_ERROR(file, "tensor 'm': bool element 1 has byte value 5");
}

TEST(Safetensors, WriteErrors) {
  TempDir dir;
  Array a = patternArray(DType::F32, {2});
  auto fail = [&](std::vector<NamedArrayRef> tensors, Metadata metadata, const char *message) {
    Status s = writeSafetensors(dir.file("x.safetensors"), tensors, metadata);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find(message), std::string::npos) << s.message();
    EXPECT_EQ(s.message().rfind(dir.file("x.safetensors") + ": ", 0), 0u) << s.message();
  };
  fail({{"a", a}, {"a", a}}, {}, "two tensors are named 'a'");
  fail({{"__metadata__", a}}, {}, "\"__metadata__\" is reserved");
  fail({{"\xff", a}}, {}, "not valid UTF-8");
  fail({{"a", a}}, {{"k", "v"}, {"k", "w"}}, "metadata key 'k' appears twice");
  fail({{"a", ArrayRef(DType::F32, {-2}, nullptr)}}, {}, "invalid shape [-2]");
  EXPECT_TRUE(dir.entries().empty()) << "failed writes leave nothing behind";
}
