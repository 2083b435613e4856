//===- fuzz_kbin.cpp - libFuzzer target for the .kbin loader --------------===//
//
// Every input goes through kiln_model_load_memory with KILN_LOAD_NO_CODE:
// the flatbuffers Verifier, every Kiln check (artifact/README.md), the ELF
// header check and the copy of parameters, but never memfd/dlopen (running
// the initialisers of fuzzed ELF bytes would execute arbitrary code). An
// accepted model is then walked through the whole read API.
//
// Invariants checked beyond "no crash, no sanitizer report": a rejection
// comes with a message; an accepted model's infos are self-consistent.
//
//===----------------------------------------------------------------------===//

#include "runtime/kiln_runtime.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#define REQUIRE(cond)                                                                              \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      __builtin_trap();                                                                            \
  } while (0)

static void checkTensor(const kiln_tensor_info &t) {
  REQUIRE(t.name && std::strlen(t.name) > 0);
  REQUIRE(t.dtype == KILN_F32 || t.dtype == KILN_I32);
  REQUIRE(t.rank >= 0 && t.rank <= KILN_MAX_RANK);
  int64_t n = 1;
  for (int32_t d = 0; d < t.rank; ++d) {
    REQUIRE(t.shape[d] >= 1);
    n *= t.shape[d];
  }
  REQUIRE(n == t.num_elements);
  REQUIRE(t.byte_size == static_cast<size_t>(n) * kiln_dtype_size(t.dtype));
  REQUIRE(t.byte_size <= KILN_MAX_TENSOR_BYTES);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kiln_model *m = nullptr;
  kiln_status s = kiln_model_load_memory(data, size, KILN_LOAD_NO_CODE, &m);
  if (s != KILN_OK) {
    REQUIRE(m == nullptr);
    REQUIRE(std::strlen(kiln_last_error()) > 0);
    return 0;
  }
  const char *name = nullptr;
  REQUIRE(kiln_model_name(m, &name) == KILN_OK && std::strlen(name) > 0);

  size_t numParams = 0, numEntries = 0;
  REQUIRE(kiln_model_num_params(m, &numParams) == KILN_OK);
  size_t paramBytes = 0;
  for (size_t i = 0; i < numParams; ++i) {
    const kiln_param_info *p = nullptr;
    REQUIRE(kiln_model_param(m, i, &p) == KILN_OK);
    checkTensor(p->tensor);
    const kiln_param_info *q = nullptr;
    REQUIRE(kiln_model_find_param(m, p->tensor.name, &q) == KILN_OK && q == p); // names are unique
    paramBytes += p->tensor.byte_size;
    REQUIRE(paramBytes <= size); // initial values come from the input
    std::vector<uint8_t> value(p->tensor.byte_size);
    REQUIRE(kiln_model_get_param(m, p->tensor.name, value.data(), value.size()) == KILN_OK);
    REQUIRE(kiln_model_set_param(m, p->tensor.name, p->tensor.dtype, value.data(),
                                 static_cast<size_t>(p->tensor.num_elements)) == KILN_OK);
  }

  REQUIRE(kiln_model_num_entries(m, &numEntries) == KILN_OK);
  for (size_t i = 0; i < numEntries; ++i) {
    const kiln_entry_info *e = nullptr;
    REQUIRE(kiln_model_entry(m, i, &e) == KILN_OK);
    // cpu_symbol is "" in a CUDA-only model (kilnc --target=cuda).
    REQUIRE(e->name && *e->name && e->cpu_symbol && e->batch_size >= 1);
    const kiln_entry_info *f = nullptr;
    REQUIRE(kiln_model_find_entry(m, e->name, &f) == KILN_OK && f == e);
    for (size_t j = 0; j < e->num_inputs; ++j)
      checkTensor(e->inputs[j]);
    for (size_t j = 0; j < e->num_outputs; ++j)
      checkTensor(e->outputs[j]);
    for (size_t j = 0; j < e->num_params; ++j)
      REQUIRE(e->param_indices[j] < numParams);
    REQUIRE(e->scratch_bytes <= KILN_MAX_TENSOR_BYTES);
    kiln_session *session = nullptr;
    REQUIRE(kiln_session_create(m, e->name, &session) == KILN_ERR_BAD_STATE && session == nullptr);
  }
  kiln_model_free(m);
  return 0;
}
