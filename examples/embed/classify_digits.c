/* classify_digits: an application that embeds the Kiln runtime.
 *
 *   classify_digits mnist_cnn.kbin images-idx3-ubyte [labels-idx1-ubyte]
 *
 * Loads a compiled MNIST model, reads digits from an (uncompressed) MNIST IDX
 * file, scales pixels to [0, 1] as the model was trained, runs `predict` batch
 * by batch (the last batch padded) and prints one predicted class per image,
 * then the accuracy when labels are given. Plain C against kiln_runtime.h. */
#include "runtime/kiln_runtime.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char *what) {
  fprintf(stderr, "classify_digits: %s: %s\n", what, kiln_last_error());
  return 1;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads an IDX file: returns the data after the header, and its dimensions. */
static unsigned char *read_idx(const char *path, uint32_t magic, uint32_t dims[3], int ndims) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "classify_digits: cannot open %s\n", path);
    return NULL;
  }
  unsigned char header[16];
  size_t header_size = 4 + 4 * (size_t)ndims;
  if (fread(header, 1, header_size, f) != header_size || be32(header) != magic) {
    fprintf(stderr, "classify_digits: %s is not an MNIST IDX file (bad header)\n", path);
    fclose(f);
    return NULL;
  }
  size_t size = 1;
  for (int i = 0; i < ndims; ++i) {
    dims[i] = be32(header + 4 + 4 * i);
    size *= dims[i];
  }
  unsigned char *data = malloc(size ? size : 1);
  if (!data || fread(data, 1, size, f) != size) {
    fprintf(stderr, "classify_digits: %s is truncated\n", path);
    free(data);
    data = NULL;
  }
  fclose(f);
  return data;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: classify_digits MODEL.kbin IMAGES-idx3-ubyte [LABELS-idx1-ubyte]\n");
    return 2;
  }
  uint32_t idims[3], ldims[1];
  unsigned char *images = read_idx(argv[2], 0x803, idims, 3);
  unsigned char *labels = argc > 3 ? read_idx(argv[3], 0x801, ldims, 1) : NULL;
  if (!images || (argc > 3 && !labels))
    return 1;

  kiln_model *model = NULL;
  kiln_session *session = NULL;
  const kiln_entry_info *entry = NULL;
  if (kiln_model_load_file(argv[1], KILN_LOAD_DEFAULT, &model) != KILN_OK)
    return die("loading the model");
  if (kiln_model_find_entry(model, "predict", &entry) != KILN_OK)
    return die("finding predict");
  const kiln_tensor_info *in = &entry->inputs[0], *out = &entry->outputs[0];
  int64_t batch = entry->batch_size, pixels = in->num_elements / batch,
          classes = out->num_elements / batch;
  if (pixels != (int64_t)idims[1] * idims[2]) {
    fprintf(stderr, "classify_digits: the model takes %lld pixels per image, the file has %ux%u\n",
            (long long)pixels, idims[1], idims[2]);
    return 1;
  }
  if (kiln_session_create(model, "predict", &session) != KILN_OK)
    return die("creating a session");

  float *x = calloc((size_t)in->num_elements, sizeof(float));
  float *y = malloc(out->byte_size);
  uint32_t count = idims[0], correct = 0;
  for (uint32_t start = 0; start < count; start += (uint32_t)batch) {
    uint32_t n = count - start < batch ? count - start : (uint32_t)batch;
    memset(x, 0, in->byte_size);
    for (size_t i = 0; i < (size_t)n * pixels; ++i)
      x[i] = images[(size_t)start * pixels + i] / 255.0f;
    if (kiln_session_set_input(session, in->name, KILN_F32, in->shape, in->rank, x,
                               in->byte_size) != KILN_OK ||
        kiln_session_run(session) != KILN_OK ||
        kiln_session_get_output(session, out->name, y, out->byte_size) != KILN_OK)
      return die("running predict");
    for (uint32_t i = 0; i < n; ++i) {
      int best = 0;
      for (int c = 1; c < classes; ++c)
        if (y[i * classes + c] > y[i * classes + best])
          best = c;
      printf("%d\n", best);
      if (labels && labels[start + i] == best)
        ++correct;
    }
  }
  if (labels)
    fprintf(stderr, "accuracy %.4f (%u of %u)\n", (double)correct / count, correct, count);
  free(x);
  free(y);
  free(images);
  free(labels);
  kiln_session_destroy(session);
  kiln_model_free(model);
  return 0;
}
