//===- fuzz_dataset.cpp - libFuzzer targets over the training data parsers ===//
//
// Built three times (fuzz-idx, fuzz-cifar, fuzz-csv), selected by
// KILN_FUZZ_IDX / KILN_FUZZ_CIFAR / KILN_FUZZ_CSV. Any byte string is a
// file: it must parse or be rejected with a message naming the input, never
// crash, hang, leak, over-allocate or hit undefined behaviour. Whatever
// parses must be consistent with the input (IDX: re-encoding it parses to
// the same array; CIFAR-10: re-encoding gives the input back byte for
// byte; CSV: shapes and values are what the format promises).
//
//===----------------------------------------------------------------------===//
#include "runtime/io/Cifar.h"
#include "runtime/io/Csv.h"
#include "runtime/io/Idx.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

using namespace kiln::io;

namespace {

void check(bool condition, const char *what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz_dataset: property violated: %s\n", what);
    __builtin_trap();
  }
}

void checkMessage(const std::string &message) {
  check(message.rfind("fuzz: ", 0) == 0, "error message does not start with the input's name");
  check(message.size() < 4096, "error message is unreasonably long");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#if defined(KILN_FUZZ_IDX)
  Expected<Array> array = parseIdx(data, size, "fuzz", "items");
  if (!array) {
    checkMessage(array.message());
    return 0;
  }
  // Re-encode as a plain IDX file (big-endian) and parse it again.
  uint8_t code = 0;
  switch (array->dtype()) {
  case DType::U8:
    code = 0x08;
    break;
  case DType::I8:
    code = 0x09;
    break;
  case DType::I16:
    code = 0x0B;
    break;
  case DType::I32:
    code = 0x0C;
    break;
  case DType::F32:
    code = 0x0D;
    break;
  case DType::F64:
    code = 0x0E;
    break;
  default:
    check(false, "parseIdx returned a dtype IDX does not have");
  }
  check(array->rank() >= 1 && array->rank() <= 16, "bad rank");
  std::vector<uint8_t> bytes = {0, 0, code, uint8_t(array->rank())};
  for (int64_t d : array->shape())
    for (int shift = 24; shift >= 0; shift -= 8)
      bytes.push_back(uint8_t(uint64_t(d) >> shift));
  size_t elem = dtypeSize(array->dtype());
  for (size_t i = 0; i < array->byteSize(); i += elem)
    for (size_t k = elem; k-- > 0;)
      bytes.push_back(array->bytes()[i + k]);
  Expected<Array> again = parseIdx(bytes.data(), bytes.size(), "fuzz");
  check(again.ok() && again->equals(*array), "IDX round trip changed the array");
#elif defined(KILN_FUZZ_CIFAR)
  Expected<CifarBatch> batch = parseCifar(data, size, "fuzz");
  if (!batch) {
    checkMessage(batch.message());
    return 0;
  }
  int64_t n = batch->labels.shape()[0];
  check(uint64_t(n) * kCifarRecordBytes == size, "record count does not match the size");
  check(batch->images.shape() == std::vector<int64_t>({n, 32, 32, 3}), "bad image shape");
  // The records again, from the NHWC images: must be the input exactly.
  std::vector<uint8_t> bytes;
  bytes.reserve(size);
  for (int64_t i = 0; i < n; ++i) {
    check(batch->labels.bytes()[i] <= 9, "label out of range accepted");
    bytes.push_back(batch->labels.bytes()[i]);
    const uint8_t *img = batch->images.bytes() + size_t(i) * 3072;
    for (size_t c = 0; c < 3; ++c)
      for (size_t p = 0; p < 1024; ++p)
        bytes.push_back(img[p * 3 + c]);
  }
  check(bytes.size() == size && std::memcmp(bytes.data(), data, size) == 0,
        "CIFAR-10 re-encoding differs from the input");
#elif defined(KILN_FUZZ_CSV)
  // The input's length picks the options, so every option is exercised.
  static const char *const columns[] = {"", "0", "-1", "label", "1", "x"};
  CsvOptions options;
  options.header = size % 2 == 0;
  options.labelColumn = columns[(size / 2) % 6];
  Expected<CsvTable> table = parseCsv(data, size, "fuzz", options);
  if (!table) {
    checkMessage(table.message());
    return 0;
  }
  const Array &x = table->features, &y = table->labels;
  check(x.dtype() == DType::F32 && x.rank() == 2 && x.shape()[0] > 0, "bad features");
  int64_t n = x.shape()[0];
  check(y.shape()[0] == n, "label count differs from the row count");
  check(table->labelIndex <= size_t(x.shape()[1]), "label column outside the table");
  check(table->columns.empty() || table->columns.size() == size_t(x.shape()[1]) + 1,
        "header width differs from the table");
  for (uint64_t i = 0; i < x.numElements(); ++i)
    check(std::isfinite(x.data<float>()[i]), "non-finite feature accepted");
  if (y.dtype() == DType::I32) {
    check(y.rank() == 1, "class ids not [N]");
    for (int64_t i = 0; i < n; ++i)
      check(y.data<int32_t>()[i] >= 0, "negative class id");
  } else {
    check(y.dtype() == DType::F32 && y.shape() == std::vector<int64_t>({n, 1}), "bad targets");
    for (int64_t i = 0; i < n; ++i)
      check(std::isfinite(y.data<float>()[i]), "non-finite target accepted");
  }
#else
#error "define KILN_FUZZ_IDX, KILN_FUZZ_CIFAR or KILN_FUZZ_CSV"
#endif
  return 0;
}
