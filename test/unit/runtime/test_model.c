/* A hand-written stand-in for kilnc's CPU code: entry points that follow the
 * packed ABI of artifact/kbin.fbs,
 *     void <symbol>(void **buffers)   inputs..., params..., outputs..., scratch
 * Built as a shared object at build time; RuntimeTest.cpp wraps its bytes in
 * a .kbin. Compiled twice: KILN_TEST_BIAS (1 or 2) tells the copies apart. */
#include <stddef.h>
#include <stdint.h>

#ifndef KILN_TEST_BIAS
#define KILN_TEST_BIAS 1
#endif

#define EXPORT __attribute__((visibility("default")))
#define ALIGNED(p) ((p) != NULL && ((uintptr_t)(p) & 63) == 0)

enum { BATCH = 4, FEATURES = 8 };

/* predict: x [4, 8] f32, param kernel [8] f32 -> y [4, 8] f32,
 * y[i][j] = x[i][j] * kernel[j] + KILN_TEST_BIAS, through 128 bytes of scratch.
 * A misaligned buffer makes every output NaN (the tests check alignment). */
EXPORT void kiln_test_affine(void **b) {
  const float *x = (const float *)b[0];
  const float *kernel = (const float *)b[1];
  float *y = (float *)b[2];
  float *scratch = (float *)b[3];
  int ok = ALIGNED(x) && ALIGNED(kernel) && ALIGNED(y) && ALIGNED(scratch);
  for (int i = 0; i < BATCH * FEATURES; ++i)
    scratch[i] = x[i] * kernel[i % FEATURES];
  for (int i = 0; i < BATCH * FEATURES; ++i)
    y[i] = ok ? scratch[i] + (float)KILN_TEST_BIAS : __builtin_nanf("");
}

/* add: a [3] i32, b [3] i32, param offset [] i32 -> c [3] i32, c = a + b + offset. */
EXPORT void kiln_test_add(void **b) {
  const int32_t *x = (const int32_t *)b[0];
  const int32_t *y = (const int32_t *)b[1];
  const int32_t *offset = (const int32_t *)b[2];
  int32_t *c = (int32_t *)b[3];
  int ok = ALIGNED(x) && ALIGNED(y) && ALIGNED(offset) && ALIGNED(c) && ALIGNED(b[4]);
  for (int i = 0; i < 3; ++i)
    c[i] = ok ? x[i] + y[i] + *offset : -1;
}

/* train_step: x [4, 8] f32, param kernel [8] f32 (updated in place) -> loss [] f32.
 * kernel[j] -= 0.5 * mean_i x[i][j]; loss = sum_j kernel[j] after the update. */
EXPORT void kiln_test_train(void **b) {
  const float *x = (const float *)b[0];
  float *kernel = (float *)b[1];
  float *loss = (float *)b[2];
  float sum = 0;
  for (int j = 0; j < FEATURES; ++j) {
    float mean = 0;
    for (int i = 0; i < BATCH; ++i)
      mean += x[i * FEATURES + j];
    kernel[j] -= 0.5f * (mean / BATCH);
    sum += kernel[j];
  }
  *loss = sum;
}

/* train_state: like train_step with optimizer state, as kilnc's train_step keeps it:
 * x [4, 8] f32, params kernel [8] f32, iterations [] f32, learning_rate [] f32
 * (kernel and iterations updated in place) -> loss [] f32.
 * kernel[j] -= learning_rate * mean_i x[i][j]; iterations += 1; loss = sum_j kernel[j]. */
EXPORT void kiln_test_train_state(void **b) {
  const float *x = (const float *)b[0];
  float *kernel = (float *)b[1];
  float *iterations = (float *)b[2];
  const float *learning_rate = (const float *)b[3];
  float *loss = (float *)b[4];
  float sum = 0;
  for (int j = 0; j < FEATURES; ++j) {
    float mean = 0;
    for (int i = 0; i < BATCH; ++i)
      mean += x[i * FEATURES + j];
    kernel[j] -= *learning_rate * (mean / BATCH);
    sum += kernel[j];
  }
  *iterations += 1.0f;
  *loss = sum;
}

/* Not a function: an artifact naming it as cpu_symbol must be rejected. */
EXPORT int kiln_test_data_symbol = 42;
