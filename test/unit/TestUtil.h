//===- TestUtil.h - helpers for the frontend unit tests -------------------===//
#ifndef KILN_TEST_UNIT_TESTUTIL_H
#define KILN_TEST_UNIT_TESTUTIL_H

#include "frontend/Diagnostics.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"
#include <memory>
#include <string>

namespace kiln::test {

/// A model file held in memory, with its diagnostics captured as text.
struct Source {
  explicit Source(const std::string &text, const char *name = "test.kiln") {
    sources.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, name), llvm::SMLoc());
  }
  llvm::SourceMgr sources;
  std::string messages;
  llvm::raw_string_ostream os{messages};
  Diagnostics diags{sources, os};
};

} // namespace kiln::test

#endif
