//===- Support.cpp - Errors, aligned memory, CPU features -----------------===//

#include "runtime/Internal.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kiln::rt {

//===--- errors ------------------------------------------------------------===//

// A fixed per-thread buffer: setting an error allocates nothing and the
// buffer needs no destructor. Messages longer than this are cut.
namespace {
constexpr size_t kMessageCapacity = 2048;
thread_local char tMessage[kMessageCapacity];
} // namespace

kiln_status fail(kiln_status code, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(tMessage, kMessageCapacity, format, args);
  va_end(args);
  return code;
}

kiln_status prefixError(kiln_status code, const char *format, ...) {
  char prefix[kMessageCapacity];
  va_list args;
  va_start(args, format);
  int n = vsnprintf(prefix, kMessageCapacity, format, args);
  va_end(args);
  if (n <= 0)
    return code;
  size_t p = std::strlen(prefix), m = std::strlen(tMessage);
  if (p + m + 1 > kMessageCapacity)
    m = kMessageCapacity - 1 - p;
  std::memmove(tMessage + p, tMessage, m);
  std::memcpy(tMessage, prefix, p);
  tMessage[p + m] = '\0';
  return code;
}

kiln_status ok() {
  tMessage[0] = '\0';
  return KILN_OK;
}

const char *lastError() { return tMessage; }

std::string shapeText(const int64_t *shape, size_t rank) {
  std::string s = "[";
  for (size_t i = 0; i < rank; ++i) {
    if (i)
      s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

//===--- aligned memory ----------------------------------------------------===//

AlignedBuffer &AlignedBuffer::operator=(AlignedBuffer &&other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

bool AlignedBuffer::allocate(size_t size) {
  std::free(data_);
  data_ = nullptr;
  size_ = 0;
  // Exactly `size` bytes (posix_memalign needs no multiple of the
  // alignment), so that ASan sees any read past the end.
  void *p = nullptr;
  if (posix_memalign(&p, kAlignment, size == 0 ? 1 : size) != 0)
    return false;
  data_ = static_cast<uint8_t *>(p);
  size_ = size;
  return true;
}

//===--- CPU features ------------------------------------------------------===//

// __builtin_cpu_supports takes a string literal, hence one lambda per name.
// The names are GCC's/clang's; the list is fixed (an artifact naming anything
// else is rejected, since the runtime could not check it). clang only warns
// about a name it does not know (and answers 0): the build has no warnings,
// and RuntimeTest checks every answer against /proc/cpuinfo.
namespace {
struct Feature {
  const char *name;
  bool (*supported)();
};
#define KILN_FEATURE(n) {n, [] { return __builtin_cpu_supports(n) != 0; }}
#if defined(__x86_64__)
const Feature kFeatures[] = {
    KILN_FEATURE("sse2"),         KILN_FEATURE("sse3"),         KILN_FEATURE("ssse3"),
    KILN_FEATURE("sse4.1"),       KILN_FEATURE("sse4.2"),       KILN_FEATURE("popcnt"),
    KILN_FEATURE("avx"),          KILN_FEATURE("avx2"),         KILN_FEATURE("fma"),
    KILN_FEATURE("f16c"),         KILN_FEATURE("bmi"),          KILN_FEATURE("bmi2"),
    KILN_FEATURE("lzcnt"),        KILN_FEATURE("movbe"),        KILN_FEATURE("adx"),
    KILN_FEATURE("aes"),          KILN_FEATURE("pclmul"),       KILN_FEATURE("sha"),
    KILN_FEATURE("vaes"),         KILN_FEATURE("vpclmulqdq"),   KILN_FEATURE("gfni"),
    KILN_FEATURE("avxvnni"),      KILN_FEATURE("avx512f"),      KILN_FEATURE("avx512dq"),
    KILN_FEATURE("avx512cd"),     KILN_FEATURE("avx512bw"),     KILN_FEATURE("avx512vl"),
    KILN_FEATURE("avx512vnni"),   KILN_FEATURE("avx512bf16"),   KILN_FEATURE("avx512ifma"),
    KILN_FEATURE("avx512vbmi"),   KILN_FEATURE("avx512vbmi2"),  KILN_FEATURE("avx512bitalg"),
    KILN_FEATURE("avx512vpopcntdq"), KILN_FEATURE("avx512fp16"), KILN_FEATURE("avx512vp2intersect"),
    KILN_FEATURE("cmov"),         KILN_FEATURE("mmx"),          KILN_FEATURE("sse"),
    KILN_FEATURE("sse4a"),        KILN_FEATURE("fma4"),         KILN_FEATURE("xop"),
    KILN_FEATURE("cx16"),         KILN_FEATURE("xsave"),        KILN_FEATURE("xsaveopt"),
    KILN_FEATURE("xsavec"),       KILN_FEATURE("rdrnd"),        KILN_FEATURE("rdseed"),
    KILN_FEATURE("prfchw"),       KILN_FEATURE("fsgsbase"),     KILN_FEATURE("clflushopt"),
    KILN_FEATURE("clwb"),         KILN_FEATURE("rdpid"),        KILN_FEATURE("pku"),
    KILN_FEATURE("movdiri"),
    KILN_FEATURE("x86-64"),       KILN_FEATURE("x86-64-v2"),    KILN_FEATURE("x86-64-v3"),
    KILN_FEATURE("x86-64-v4"),
};
#else
const Feature kFeatures[] = {{"", nullptr}};
#endif
#undef KILN_FEATURE
} // namespace

int cpuSupports(const char *feature) {
#if defined(__x86_64__)
  __builtin_cpu_init(); // idempotent; needed if called from a constructor
  for (const Feature &f : kFeatures)
    if (std::strcmp(f.name, feature) == 0)
      return f.supported() ? 1 : 0;
#endif
  return -1;
}

const char *knownCpuFeatures() {
  static const std::string list = [] {
    std::string s;
    for (const Feature &f : kFeatures) {
      if (!*f.name)
        continue;
      if (!s.empty())
        s += ", ";
      s += f.name;
    }
    return s;
  }();
  return list.c_str();
}

} // namespace kiln::rt
