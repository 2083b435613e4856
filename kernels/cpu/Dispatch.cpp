//===- kernels/cpu/Dispatch.cpp - picking the instruction set -------------===//
//
// cpuid and xgetbv directly rather than __builtin_cpu_supports, which needs
// libgcc's __cpu_model: the library must link with libc alone. xgetbv also
// tells whether the OS saves the wide registers.
//
//===----------------------------------------------------------------------===//
#include "kernels/cpu/Internal.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace kiln::cpu {
namespace {

// 0 until the first kernel call or kiln_kernels_set_isa picks one. A race
// between two first calls is harmless: both pick the same.
int gIsa = 0;

#if defined(__x86_64__)
uint64_t xcr0() {
  uint32_t lo, hi;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return uint64_t(hi) << 32 | lo;
}
#endif

bool supported(int isa) {
  if (isa == KILN_ISA_PORTABLE)
    return true;
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX) || !(c & bit_FMA))
    return false;
  const uint64_t xcr = xcr0();
  if ((xcr & 0x6) != 0x6 || !__get_cpuid_count(7, 0, &a, &b, &c, &d))
    return false; // the OS does not save ymm state
  if (isa == KILN_ISA_AVX2)
    return b & bit_AVX2;
  if (isa == KILN_ISA_AVX512)
    return (b & bit_AVX512F) && (xcr & 0xe6) == 0xe6; // opmask and zmm state too
#endif
  return false;
}

int fromEnvironment() {
  const char *name = getenv("KILN_CPU_KERNELS");
  if (!name)
    return KILN_ISA_AUTO;
  if (!strcmp(name, "portable"))
    return KILN_ISA_PORTABLE;
  if (!strcmp(name, "avx2"))
    return KILN_ISA_AVX2;
  if (!strcmp(name, "avx512"))
    return KILN_ISA_AVX512;
  return KILN_ISA_AUTO;
}

int best() {
  const int forced = fromEnvironment();
  if (forced != KILN_ISA_AUTO && supported(forced))
    return forced;
  if (supported(KILN_ISA_AVX512))
    return KILN_ISA_AVX512;
  return supported(KILN_ISA_AVX2) ? KILN_ISA_AVX2 : KILN_ISA_PORTABLE;
}

int current() {
  int isa = __atomic_load_n(&gIsa, __ATOMIC_RELAXED);
  if (!isa) {
    isa = best();
    __atomic_store_n(&gIsa, isa, __ATOMIC_RELAXED);
  }
  return isa;
}

} // namespace

const IsaTable &activeIsa() {
  switch (current()) {
#if defined(__x86_64__)
  case KILN_ISA_AVX512:
    return kAvx512Isa;
  case KILN_ISA_AVX2:
    return kAvx2Isa;
#endif
  default:
    return kPortableIsa;
  }
}

} // namespace kiln::cpu

extern "C" int kiln_kernels_set_isa(int isa) {
  using namespace kiln::cpu;
  if (isa == KILN_ISA_AUTO)
    isa = best();
  else if (!supported(isa))
    return -1;
  __atomic_store_n(&gIsa, isa, __ATOMIC_RELAXED);
  return isa;
}

extern "C" int kiln_kernels_isa(void) { return kiln::cpu::current(); }
