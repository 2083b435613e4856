//===- IoTestUtil.h - Helpers for the kiln_io tests -------------*- C++ -*-===//
#pragma once

#include "runtime/io/Array.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace kiln_io_test {

using kiln::io::Array;
using kiln::io::DType;

/// A fresh directory under $TMPDIR, removed with its contents at the end.
class TempDir {
public:
  TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/kiln-io-test-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()))
      path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty())
      std::filesystem::remove_all(path_, ec);
  }
  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }
  /// Names of the entries in the directory (to spot leftover temporaries).
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(path_, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
      out.push_back(it->path().filename().string());
    return out;
  }

private:
  std::string path_;
};

inline std::vector<uint8_t> readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline bool writeBytes(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
  return bool(out);
}

/// An array of `shape` whose element i is a value derived from i (and
/// `salt`), covering negative values and fractions where the dtype has them.
inline Array patternArray(DType dtype, std::vector<int64_t> shape, int salt = 0) {
  auto made = Array::zeros(dtype, std::move(shape));
  EXPECT_TRUE(made.ok()) << made.message();
  Array a = std::move(made).value();
  for (uint64_t i = 0; i < a.numElements(); ++i) {
    int64_t v = int64_t(i) * 7 + salt - 5;
    uint8_t *p = a.bytes() + i * kiln::io::dtypeSize(dtype);
    switch (dtype) {
    case DType::Bool: p[0] = uint8_t((i + salt) % 3 == 0); break;
    case DType::U8: p[0] = uint8_t(v); break;
    case DType::I8: *reinterpret_cast<int8_t *>(p) = int8_t(v); break;
    case DType::U16: *reinterpret_cast<uint16_t *>(p) = uint16_t(v * 1000); break;
    case DType::I16: *reinterpret_cast<int16_t *>(p) = int16_t(v * 100); break;
    case DType::U32: *reinterpret_cast<uint32_t *>(p) = uint32_t(v * 100000); break;
    case DType::I32: *reinterpret_cast<int32_t *>(p) = int32_t(v * 100000); break;
    case DType::U64: *reinterpret_cast<uint64_t *>(p) = uint64_t(v) * 10000000000ull; break;
    case DType::I64: *reinterpret_cast<int64_t *>(p) = v * 10000000000ll; break;
    case DType::F16:
    case DType::BF16: *reinterpret_cast<uint16_t *>(p) = uint16_t(0x3c00 + v); break;
    case DType::F32: *reinterpret_cast<float *>(p) = float(v) * 0.25f; break;
    case DType::F64: *reinterpret_cast<double *>(p) = double(v) / 3.0; break;
    }
  }
  return a;
}

inline const std::vector<DType> &allDTypes() {
  static const std::vector<DType> all = {DType::Bool, DType::U8,  DType::I8,  DType::U16,
                                         DType::I16,  DType::U32, DType::I32, DType::U64,
                                         DType::I64,  DType::F16, DType::BF16, DType::F32,
                                         DType::F64};
  return all;
}

/// Runs `command` through the shell; returns its exit status (-1 if it
/// could not run or was killed).
inline int runCommand(const std::string &command) {
  int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status))
    return -1;
  return WEXITSTATUS(status);
}

/// A Python interpreter that can `import <module>`: $KILN_IO_TEST_PYTHON,
/// then the one CMake found, then /usr/bin/python3. Empty if none can.
inline std::string pythonWith(const std::string &module) {
  std::vector<std::string> candidates;
  if (const char *env = std::getenv("KILN_IO_TEST_PYTHON"); env && *env)
    candidates.push_back(env);
#ifdef KILN_PYTHON3
  candidates.push_back(KILN_PYTHON3);
#endif
  candidates.push_back("/usr/bin/python3");
  for (const std::string &python : candidates)
    if (runCommand("'" + python + "' -c 'import " + module + "' >/dev/null 2>&1") == 0)
      return python;
  return std::string();
}

/// Writes `script` to `dir` and runs it with `python` and `args`; returns
/// the exit status (the script's stderr goes to the test log).
inline int runPython(const std::string &python, const TempDir &dir, const std::string &script,
                     const std::string &args = "") {
  std::string path = dir.file("script.py");
  {
    std::ofstream out(path);
    out << script;
  }
  return runCommand("'" + python + "' '" + path + "' " + args);
}

} // namespace kiln_io_test
