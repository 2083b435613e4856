//===- fuzz_io.cpp - libFuzzer targets over the array file readers --------===//
//
// Built three times (fuzz-npy, fuzz-npz, fuzz-safetensors), selected by
// KILN_FUZZ_NPY / KILN_FUZZ_NPZ / KILN_FUZZ_SAFETENSORS. Any byte string is
// a file: it must parse or be rejected with a message naming the input,
// never crash, hang, leak or hit undefined behaviour. Whatever parses must
// survive a write/read round trip unchanged.
//
//===----------------------------------------------------------------------===//
#include "runtime/io/Npy.h"
#include "runtime/io/Npz.h"
#include "runtime/io/Safetensors.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>

using namespace kiln::io;

namespace {

void check(bool condition, const char *what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz_io: property violated: %s\n", what);
    __builtin_trap();
  }
}

void checkMessage(const std::string &message) {
  check(message.rfind("fuzz: ", 0) == 0, "error message does not start with the input's name");
  check(message.size() < 4096, "error message is unreasonably long");
}

[[maybe_unused]] bool sameList(const ArrayList &a, const ArrayList &b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || !a[i].array.equals(b[i].array))
      return false;
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#if defined(KILN_FUZZ_NPY)
  Expected<Array> array = parseNpy(data, size, "fuzz");
  if (!array) {
    checkMessage(array.message());
    return 0;
  }
  Expected<std::vector<uint8_t>> bytes = encodeNpy(*array);
  check(bytes.ok(), "a parsed array cannot be written");
  Expected<Array> again = parseNpy(bytes->data(), bytes->size(), "fuzz");
  check(again.ok() && again->equals(*array), "npy round trip changed the array");
#elif defined(KILN_FUZZ_NPZ)
  Expected<ArrayList> arrays = parseNpz(data, size, "fuzz");
  if (!arrays) {
    checkMessage(arrays.message());
    return 0;
  }
  NpzWriteOptions options;
  options.compress = size % 2 == 1;
  options.forceZip64 = size % 3 == 1;
  Expected<std::vector<uint8_t>> bytes = encodeNpz(refs(*arrays), options);
  check(bytes.ok(), "parsed arrays cannot be written");
  Expected<ArrayList> again = parseNpz(bytes->data(), bytes->size(), "fuzz");
  check(again.ok() && sameList(*again, *arrays), "npz round trip changed the arrays");
#elif defined(KILN_FUZZ_SAFETENSORS)
  Expected<SafetensorsFile> file = parseSafetensors(data, size, "fuzz");
  if (!file) {
    checkMessage(file.message());
    return 0;
  }
  Expected<std::vector<uint8_t>> bytes = encodeSafetensors(refs(file->tensors), file->metadata);
  check(bytes.ok(), "a parsed file cannot be written");
  Expected<SafetensorsFile> again = parseSafetensors(bytes->data(), bytes->size(), "fuzz");
  check(again.ok() && sameList(again->tensors, file->tensors) &&
            again->metadata == file->metadata,
        "safetensors round trip changed the file");
#else
#error "define KILN_FUZZ_NPY, KILN_FUZZ_NPZ or KILN_FUZZ_SAFETENSORS"
#endif
  return 0;
}
