//===- CodeLoader.cpp - Load a model's shared object -----------------------===//
//
// The shared object is written to an anonymous memory file (memfd_create),
// sealed against changes, and dlopen'ed through /proc/self/fd/N with
// RTLD_NOW | RTLD_LOCAL: nothing touches the file system and the model's
// symbols stay out of the global namespace.
//
// glibc identifies loaded objects by the path string first: a later dlopen of
// the same "/proc/self/fd/N" returns the object already loaded under that
// name. So the memfd stays open while the model is loaded (two live models
// never share an fd number), and before loading we ask with RTLD_NOLOAD
// whether an object still answers to the path (one that outlived its
// dlclose, e.g. marked NODELETE); if so the memfd moves to another number.
//
//===----------------------------------------------------------------------===//

#include "runtime/Internal.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace kiln::rt {
namespace {

bool writeAll(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

/// The memfd's name, visible in /proc/self/maps and in profilers.
std::string memfdName(const std::string &model) {
  std::string s = "kiln:";
  for (char c : model.substr(0, 64))
    s += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') ? c : '_';
  return s;
}

/// Where a dlsym result lives: in the model's object (`self`) or not, and
/// whether its ELF symbol is a function.
struct Resolved {
  bool inModel = false, function = false;
  const char *object = nullptr; // the object's path, as dladdr reports it
  unsigned elfType = 0;
};

Resolved resolve(void *sym, const struct link_map *self) {
  Resolved r;
  Dl_info where{};
  void *extra = nullptr;
  int found = dladdr1(sym, &where, &extra, RTLD_DL_SYMENT);
  const auto *elf = static_cast<const ElfW(Sym) *>(extra);
  r.object = where.dli_fname;
  r.inModel = found && where.dli_fname && std::strcmp(where.dli_fname, self->l_name) == 0;
  r.elfType = elf ? static_cast<unsigned>(ELF64_ST_TYPE(elf->st_info)) : 0;
  r.function = !elf || r.elfType == STT_FUNC || r.elfType == STT_GNU_IFUNC;
  return r;
}

} // namespace

void unloadCode(LoadedCode &code) {
  if (code.handle)
    dlclose(code.handle);
  if (code.fd >= 0)
    ::close(code.fd);
  code.handle = nullptr;
  code.fd = -1;
}

kiln_status loadCode(const ArtifactDesc &artifact, std::vector<EntryDesc> &entries, LoadedCode &out) {
  LoadedCode code;
  struct Guard {
    LoadedCode &c;
    ~Guard() { unloadCode(c); }
  } guard{code};

  code.fd = memfd_create(memfdName(artifact.name).c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (code.fd < 0)
    return fail(KILN_ERR_CODE_LOAD, "cannot load the model's code: memfd_create failed: %s", std::strerror(errno));
  if (!writeAll(code.fd, artifact.sharedObject, artifact.sharedObjectSize))
    return fail(KILN_ERR_CODE_LOAD, "cannot load the model's code: writing %zu bytes to a memfd failed: %s",
                artifact.sharedObjectSize, std::strerror(errno));
  if (fcntl(code.fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    return fail(KILN_ERR_CODE_LOAD, "cannot load the model's code: sealing the memfd failed: %s",
                std::strerror(errno));

  char path[64];
  for (int attempt = 0;; ++attempt) {
    snprintf(path, sizeof path, "/proc/self/fd/%d", code.fd);
    void *stale = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (!stale)
      break;
    dlclose(stale);
    if (attempt == 16)
      return fail(KILN_ERR_CODE_LOAD, "cannot load the model's code: %s names an object loaded earlier", path);
    int moved = fcntl(code.fd, F_DUPFD_CLOEXEC, code.fd + 1);
    if (moved < 0)
      return fail(KILN_ERR_CODE_LOAD, "cannot load the model's code: dup of the memfd failed: %s",
                  std::strerror(errno));
    ::close(code.fd);
    code.fd = moved;
  }
  dlerror(); // clear
  code.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!code.handle) {
    const char *why = dlerror();
    return fail(KILN_ERR_CODE_LOAD, "cannot load the model's shared object (%zu bytes): dlopen: %s",
                artifact.sharedObjectSize, why ? why : "unknown error");
  }
  struct link_map *self = nullptr;
  if (dlinfo(code.handle, RTLD_DI_LINKMAP, &self) != 0 || !self)
    return fail(KILN_ERR_CODE_LOAD, "cannot load the model's code: dlinfo failed");

  for (EntryDesc &e : entries) {
    dlerror();
    void *sym = dlsym(code.handle, e.cpuSymbol.c_str());
    if (!sym) {
      const char *why = dlerror();
      return fail(KILN_ERR_CODE_LOAD,
                  "entry point '%.*s': symbol '%.*s' not found in the model's shared object (%s)",
                  kMaxNameInMessage, e.name.c_str(), kMaxNameInMessage, e.cpuSymbol.c_str(),
                  why ? why : "dlsym returned NULL");
    }
    // dlsym also searches the object's dependencies (libc): the symbol must be
    // a function defined by the model itself.
    Resolved r = resolve(sym, self);
    if (!r.inModel)
      return fail(KILN_ERR_CODE_LOAD,
                  "entry point '%.*s': symbol '%.*s' is not defined by the model's shared object "
                  "(it resolves to %s)",
                  kMaxNameInMessage, e.name.c_str(), kMaxNameInMessage, e.cpuSymbol.c_str(),
                  r.object ? r.object : "an unknown object");
    if (!r.function)
      return fail(KILN_ERR_CODE_LOAD, "entry point '%.*s': symbol '%.*s' is not a function (ELF symbol type %u)",
                  kMaxNameInMessage, e.name.c_str(), kMaxNameInMessage, e.cpuSymbol.c_str(), r.elfType);
    e.fn = reinterpret_cast<void (*)(void **)>(sym);
  }
  // The kernels library's thread hook, when the model links it (a function
  // defined in the model's own object, as for entry points).
  if (void *sym = dlsym(code.handle, "kiln_kernels_set_parallel_for")) {
    Resolved r = resolve(sym, self);
    if (r.inModel && r.function)
      code.setParallelFor = reinterpret_cast<decltype(code.setParallelFor)>(sym);
  }
  out = code;
  code = LoadedCode{}; // disarm the guard
  return KILN_OK;
}

} // namespace kiln::rt
