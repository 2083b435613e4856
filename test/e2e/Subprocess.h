//===- Subprocess.h - temp dirs and tool runs for end-to-end tests --------===//
#ifndef KILN_TEST_E2E_SUBPROCESS_H
#define KILN_TEST_E2E_SUBPROCESS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include <optional>
#include <string>
#include <vector>

namespace kiln::e2e {

/// A fresh directory under the system temp dir, removed at the end.
struct TempDir {
  std::string path;
  TempDir() {
    llvm::SmallString<128> p;
    llvm::sys::fs::createUniqueDirectory("kiln-e2e", p);
    path = p.str().str();
  }
  ~TempDir() { llvm::sys::fs::remove_directories(path); }
  std::string operator/(const std::string &name) const { return path + "/" + name; }
};

struct Process {
  int status;
  std::string output; // stdout and stderr
};

/// Runs argv[0] (a path) with a 10-minute limit; its output goes through a
/// file in `dir`.
inline Process run(llvm::ArrayRef<std::string> argv, const TempDir &dir) {
  std::vector<llvm::StringRef> args(argv.begin(), argv.end());
  std::string log = dir / "log.txt";
  llvm::sys::fs::remove(log); // the redirection does not truncate: no stale output from an earlier run
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(log),
                                                llvm::StringRef(log)};
  int status = llvm::sys::ExecuteAndWait(argv[0], args, std::nullopt, redirects, 600);
  auto text = llvm::MemoryBuffer::getFile(log);
  return Process{status, text ? (*text)->getBuffer().str() : ""};
}

} // namespace kiln::e2e

#endif
