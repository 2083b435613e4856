/* bench/peak_fma.c: the machine's fp32 FMA peak, measured.
 *
 *   cc -O2 -mavx2 -mfma -pthread bench/peak_fma.c -o peak_fma && ./peak_fma THREADS [ITERATIONS]
 *
 * Each thread runs 12 independent chains of 8-wide (AVX2) fused multiply-adds,
 * enough to fill two FMA pipes of latency 4-5, so the loop is bound by FMA
 * throughput only. Prints GFLOP/s (1 FMA = 2 FLOPs). bench/run.py takes the
 * best of several runs (noise from other processes only lowers a result). */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long iterations = 100000000;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *run(void *out) {
  __m256 a[12];
  const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < 12; i++)
    a[i] = _mm256_set1_ps((float)i);
  for (long n = 0; n < iterations; n++) {
#define F(i) a[i] = _mm256_fmadd_ps(a[i], b, c);
    F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)
  }
  float s = 0, t[8];
  for (int i = 0; i < 12; i++) {
    _mm256_storeu_ps(t, a[i]);
    s += t[0];
  }
  *(float *)out = s; /* keeps the chains alive */
  return 0;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  if (argc > 2)
    iterations = atol(argv[2]);
  if (threads < 1 || threads > 256)
    return 2;
  pthread_t th[256];
  float out[256];
  double t0 = now();
  for (int i = 0; i < threads; i++)
    pthread_create(&th[i], 0, run, &out[i]);
  for (int i = 0; i < threads; i++)
    pthread_join(th[i], 0);
  double t = now() - t0;
  printf("%.2f\n", (double)threads * iterations * 12 * 8 * 2 / t / 1e9);
  return out[0] == 12345.f; /* never true; uses the result */
}
