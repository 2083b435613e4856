/* The C example of docs/runtime.md: load a .kbin, print the signature of its
 * `predict` entry point, run it once on an all-ones input and print the
 * first output. Build: cc example.c -IKILN_ROOT -Lbuild/runtime -lkiln_runtime
 * (or link libkiln_runtime.a with a C++ linker). */
#include "runtime/kiln_runtime.h"

#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                                                \
  do {                                                                                             \
    kiln_status status_ = (call);                                                                  \
    if (status_ != KILN_OK) {                                                                      \
      fprintf(stderr, "error: %s: %s\n", kiln_status_name(status_), kiln_last_error());            \
      goto done;                                                                                   \
    }                                                                                              \
  } while (0)

static void print_tensor(const char *kind, const kiln_tensor_info *t) {
  printf("  %s %s: %s [", kind, t->name, kiln_dtype_name(t->dtype));
  for (int32_t d = 0; d < t->rank; ++d)
    printf(d ? ", %lld" : "%lld", (long long)t->shape[d]);
  printf("]\n");
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "model.kbin";
  kiln_model *model = NULL;
  kiln_session *session = NULL;
  float *input = NULL;
  const kiln_entry_info *entry = NULL;
  const kiln_tensor_info *in, *out;
  const float *y = NULL;
  const char *name = NULL;
  size_t bytes = 0, i;
  int rc = 1;

  CHECK(kiln_model_load_file(path, KILN_LOAD_DEFAULT, &model));
  CHECK(kiln_model_name(model, &name));
  CHECK(kiln_model_find_entry(model, "predict", &entry));
  printf("model %s, entry point %s (batch %lld)\n", name, entry->name, (long long)entry->batch_size);
  for (i = 0; i < entry->num_inputs; ++i)
    print_tensor("input", &entry->inputs[i]);
  for (i = 0; i < entry->num_outputs; ++i)
    print_tensor("output", &entry->outputs[i]);

  /* One session per thread; it owns its outputs and scratch. */
  CHECK(kiln_session_create(model, "predict", &session));
  in = &entry->inputs[0];
  out = &entry->outputs[0];
  if (in->dtype != KILN_F32 || out->dtype != KILN_F32) {
    fprintf(stderr, "error: this example handles f32 tensors only\n");
    goto done;
  }
  input = malloc(in->byte_size);
  if (!input)
    goto done;
  for (i = 0; i < (size_t)in->num_elements; ++i)
    input[i] = 1.0f;
  CHECK(kiln_session_set_input(session, in->name, in->dtype, in->shape, in->rank, input, in->byte_size));
  CHECK(kiln_session_run(session));
  CHECK(kiln_session_output(session, out->name, (const void **)&y, &bytes));
  printf("%s =", out->name);
  for (i = 0; i < bytes / sizeof(float) && i < 8; ++i)
    printf(" %g", y[i]);
  printf("%s\n", bytes / sizeof(float) > 8 ? " ..." : "");
  rc = 0;

done:
  free(input);
  kiln_session_destroy(session); /* NULL is fine */
  kiln_model_free(model);
  return rc;
}
