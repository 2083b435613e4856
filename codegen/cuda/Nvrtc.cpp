//===- Nvrtc.cpp - CUDA C++ -> CUBIN / PTX with NVRTC, cached -------------===//
//
// kilnc compiles a model's kernels once per architecture: CUBIN for sm_80
// and sm_90, PTX (compute_90) for newer GPUs, which the driver JIT-compiles.
// No GPU is needed. Images are cached on disk keyed on everything that
// determines them, so recompiling an unchanged model skips NVRTC.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/CudaBackend.h"
#include "kernels/cuda/Plan.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"
#include <thread>

#ifdef KILN_HAVE_NVRTC
#include <nvrtc.h>
#endif

using namespace kiln;

bool cuda::haveNvrtc() {
#ifdef KILN_HAVE_NVRTC
  return true;
#else
  return false;
#endif
}

std::string cuda::nvrtcVersion() {
#ifdef KILN_HAVE_NVRTC
  int major = 0, minor = 0;
  if (::nvrtcVersion(&major, &minor) == NVRTC_SUCCESS)
    return std::to_string(major) + "." + std::to_string(minor);
#endif
  return "";
}

/// The CUDA headers NVRTC needs (mma.h, cuda_bf16.h): KILN_CUDA_INCLUDE, else
/// the toolkit kilnc was built with.
static std::string cudaIncludeDir() {
  if (std::optional<std::string> dir = llvm::sys::Process::GetEnv("KILN_CUDA_INCLUDE"))
    return *dir;
#ifdef KILN_CUDA_INCLUDE_DIR
  return KILN_CUDA_INCLUDE_DIR;
#else
  return "/usr/local/cuda/include";
#endif
}

static std::vector<std::string> options(const std::string &arch) {
  return {"--std=c++17", "--gpu-architecture=" + arch, "--include-path=" + cudaIncludeDir(),
          // Source lines for compute-sanitizer and profilers; no effect on the code.
          "-lineinfo"};
}

/// $KILN_CACHE_DIR, $XDG_CACHE_HOME/kiln or ~/.cache/kiln, + "/cuda"; "" when off.
static std::string cacheDir() {
  llvm::SmallString<256> dir;
  if (std::optional<std::string> d = llvm::sys::Process::GetEnv("KILN_CACHE_DIR")) {
    if (d->empty() || *d == "off")
      return "";
    dir = *d;
  } else if (std::optional<std::string> x = llvm::sys::Process::GetEnv("XDG_CACHE_HOME");
             x && !x->empty()) {
    dir = *x;
    llvm::sys::path::append(dir, "kiln");
  } else if (std::optional<std::string> home = llvm::sys::Process::GetEnv("HOME"); home && !home->empty()) {
    dir = *home;
    llvm::sys::path::append(dir, ".cache", "kiln");
  } else {
    return "";
  }
  llvm::sys::path::append(dir, "cuda");
  return std::string(dir);
}

static std::string cacheKey(const std::string &source, const std::string &arch) {
  llvm::SHA256 h;
  auto add = [&](llvm::StringRef s) {
    h.update(s);
    h.update(llvm::StringRef("\0", 1));
  };
  add("kiln-nvrtc-1");
  add(cuda::nvrtcVersion());
  add(arch);
  for (const std::string &o : options(arch))
    add(o);
  add(cuda::kernelsSource());
  add(source);
  std::array<uint8_t, 32> digest = h.final();
  return llvm::toHex(digest, /*LowerCase=*/true) + "." + arch;
}

static bool readCache(const std::string &dir, const std::string &key, std::string &image) {
  if (dir.empty())
    return false;
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, key);
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buf || (*buf)->getBufferSize() == 0)
    return false;
  image = (*buf)->getBuffer().str();
  return true;
}

/// Best effort: a cache that cannot be written only costs time.
static void writeCache(const std::string &dir, const std::string &key, const std::string &image) {
  if (dir.empty() || llvm::sys::fs::create_directories(dir))
    return;
  llvm::SmallString<256> path(dir), tmp;
  llvm::sys::path::append(path, key);
  int fd;
  if (llvm::sys::fs::createUniqueFile(path + ".tmp-%%%%%%", fd, tmp))
    return;
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << image;
    if (os.has_error()) {
      os.clear_error();
      llvm::sys::fs::remove(tmp);
      return;
    }
  }
  if (llvm::sys::fs::rename(tmp, path))
    llvm::sys::fs::remove(tmp);
}

/// NVRTC's log with the generated source line under each "file(line): ..." message.
static std::string annotateLog(const std::string &log, const std::string &source) {
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(source).split(lines, '\n');
  std::string out;
  llvm::SmallVector<llvm::StringRef> logLines;
  llvm::StringRef(log).split(logLines, '\n');
  for (llvm::StringRef l : logLines) {
    out += l.str() + "\n";
    size_t open = l.find("kiln_model.cu(");
    if (open == llvm::StringRef::npos)
      continue;
    llvm::StringRef rest = l.drop_front(open + strlen("kiln_model.cu("));
    unsigned line;
    if (rest.take_until([](char c) { return c == ')'; }).getAsInteger(10, line) || line == 0 ||
        line > lines.size())
      continue;
    out += "    " + std::to_string(line) + " | " + lines[line - 1].str() + "\n";
  }
  return out;
}

#ifdef KILN_HAVE_NVRTC
static bool compileOne(const std::string &source, const std::string &arch, std::string &image,
                       std::string &error) {
  const char *headers[] = {cuda::kernelsSource()};
  const char *names[] = {cuda::kernelsHeaderName()};
  nvrtcProgram prog;
  nvrtcResult r = nvrtcCreateProgram(&prog, source.c_str(), "kiln_model.cu", 1, headers, names);
  if (r != NVRTC_SUCCESS) {
    error = std::string("NVRTC: ") + nvrtcGetErrorString(r);
    return false;
  }
  std::vector<std::string> opts = options(arch);
  std::vector<const char *> argv;
  for (const std::string &o : opts)
    argv.push_back(o.c_str());
  r = nvrtcCompileProgram(prog, int(argv.size()), argv.data());
  if (r != NVRTC_SUCCESS) {
    size_t size = 0;
    std::string log;
    if (nvrtcGetProgramLogSize(prog, &size) == NVRTC_SUCCESS && size > 1) {
      log.resize(size);
      nvrtcGetProgramLog(prog, log.data());
      log.resize(size - 1);
    }
    error = "NVRTC failed to compile the model's CUDA code for " + arch + " (" +
            nvrtcGetErrorString(r) + "):\n" + annotateLog(log, source);
    nvrtcDestroyProgram(&prog);
    return false;
  }
  size_t size = 0;
  bool cubin = llvm::StringRef(arch).starts_with("sm_");
  r = cubin ? nvrtcGetCUBINSize(prog, &size) : nvrtcGetPTXSize(prog, &size);
  if (r == NVRTC_SUCCESS) {
    image.resize(size);
    r = cubin ? nvrtcGetCUBIN(prog, image.data()) : nvrtcGetPTX(prog, image.data());
  }
  nvrtcDestroyProgram(&prog);
  if (r != NVRTC_SUCCESS || image.empty()) {
    error = "NVRTC produced no " + std::string(cubin ? "CUBIN" : "PTX") + " for " + arch;
    return false;
  }
  return true;
}
#endif

bool cuda::compileEmulatedImages(const std::string &source, const std::vector<std::string> &archs,
                                 std::vector<GpuImage> &images, std::string &error) {
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("kiln-emulated", dir)) {
    error = "cannot create a temporary directory";
    return false;
  }
  std::string cu = (dir + "/model.cu").str(), so = (dir + "/model.so").str();
  {
    std::error_code ec;
    llvm::raw_fd_ostream f(cu, ec);
    f << source;
  }
  std::string kernels = std::string(KILN_SOURCE_DIR) + "/kernels/cuda";
  llvm::ErrorOr<std::string> clang = llvm::sys::findProgramByName("clang++-19");
  if (!clang) {
    error = "--gpu-emulate needs clang++-19";
    return false;
  }
  std::string include = kernels + "/Emulate.h";
  llvm::SmallVector<llvm::StringRef> argv = {*clang, "-std=c++17", "-O1", "-w", "-shared", "-fPIC",
                                             "-include", include, "-I", kernels, "-x", "c++", cu, "-o", so};
  std::string message, log = (dir + "/log.txt").str();
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(log), llvm::StringRef(log)};
  int rc = llvm::sys::ExecuteAndWait(*clang, argv, std::nullopt, redirects, 0, 0, &message);
  auto bytes = llvm::MemoryBuffer::getFile(so, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  auto output = llvm::MemoryBuffer::getFile(log);
  llvm::sys::fs::remove_directories(dir);
  if (rc != 0 || !bytes) {
    error = "--gpu-emulate: compiling the CUDA C++ as host C++ failed (" + message + "):\n" +
            (output ? (*output)->getBuffer().str() : "");
    return false;
  }
  images.clear();
  for (const std::string &arch : archs)
    images.push_back({arch, (*bytes)->getBuffer().str()});
  return true;
}

bool cuda::compileImages(const std::string &source, const std::vector<std::string> &archs,
                         std::vector<GpuImage> &images, std::string &error, unsigned *cacheHits) {
#ifndef KILN_HAVE_NVRTC
  error = "this kilnc was built without NVRTC (CUDA toolkit not found at build time): it cannot "
          "compile for --target=cuda";
  return false;
#else
  std::string dir = cacheDir();
  images.assign(archs.size(), GpuImage());
  std::vector<std::string> errors(archs.size());
  std::vector<char> hit(archs.size(), 0);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < archs.size(); ++i) {
    images[i].arch = archs[i];
    std::string key = cacheKey(source, archs[i]);
    if (readCache(dir, key, images[i].image)) {
      hit[i] = 1;
      continue;
    }
    threads.emplace_back([&, i, key] {
      if (compileOne(source, archs[i], images[i].image, errors[i]))
        writeCache(dir, key, images[i].image);
    });
  }
  for (std::thread &t : threads)
    t.join();
  for (const std::string &e : errors)
    if (!e.empty()) {
      error = e;
      return false;
    }
  if (cacheHits)
    *cacheHits = unsigned(std::count(hit.begin(), hit.end(), 1));
  return true;
#endif
}
