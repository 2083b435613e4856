//===- fuzz_checkpoint.cpp - libFuzzer target for checkpoint loading ------===//
//
// Checkpoints (.safetensors written by kiln_model_save_checkpoint) are files
// users exchange: every input is written to a file and loaded into a fixed
// model (a test .kbin, loaded with KILN_LOAD_NO_CODE). Invariants beyond "no
// crash, no sanitizer report": a rejection has a message and leaves every
// parameter as it was (loading is all or nothing).
//
// The model comes from $KILN_FUZZ_CHECKPOINT_MODEL (CTest sets it); the
// first run saves a valid checkpoint of it as a seed into $KILN_FUZZ_SEED_DIR.
//
//===----------------------------------------------------------------------===//

#include "runtime/kiln_runtime.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#define REQUIRE(cond)                                                                              \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      __builtin_trap();                                                                            \
  } while (0)

static kiln_model *model = nullptr;
static std::string inputPath;

/// Every parameter's bytes, in model order.
static std::vector<std::vector<uint8_t>> snapshot() {
  std::vector<std::vector<uint8_t>> out;
  size_t n = 0;
  kiln_model_num_params(model, &n);
  for (size_t i = 0; i < n; ++i) {
    const kiln_param_info *p = nullptr;
    REQUIRE(kiln_model_param(model, i, &p) == KILN_OK);
    out.emplace_back(p->tensor.byte_size);
    REQUIRE(kiln_model_get_param(model, p->tensor.name, out.back().data(), out.back().size()) == KILN_OK);
  }
  return out;
}

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const char *path = std::getenv("KILN_FUZZ_CHECKPOINT_MODEL");
  if (!path || kiln_model_load_file(path, KILN_LOAD_NO_CODE, &model) != KILN_OK) {
    std::fprintf(stderr, "fuzz-checkpoint: set KILN_FUZZ_CHECKPOINT_MODEL to a .kbin (%s)\n",
                 kiln_last_error());
    std::abort();
  }
  if (const char *seeds = std::getenv("KILN_FUZZ_SEED_DIR"))
    kiln_model_save_checkpoint(model, (std::string(seeds) + "/valid.safetensors").c_str(), 3);
  inputPath = "/tmp/kiln-fuzz-checkpoint-" + std::to_string(getpid()) + ".safetensors";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::FILE *f = std::fopen(inputPath.c_str(), "wb");
  REQUIRE(f);
  if (size)
    REQUIRE(std::fwrite(data, 1, size, f) == size);
  std::fclose(f);
  std::vector<std::vector<uint8_t>> before = snapshot();
  int64_t epoch = -1;
  kiln_status s = kiln_model_load_checkpoint(model, inputPath.c_str(), &epoch);
  if (s != KILN_OK) {
    REQUIRE(std::strlen(kiln_last_error()) > 0);
    REQUIRE(snapshot() == before);
  } else {
    REQUIRE(epoch >= 0);
  }
  std::remove(inputPath.c_str());
  return 0;
}
