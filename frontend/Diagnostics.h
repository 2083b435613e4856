//===- Diagnostics.h - located errors for model files ---------------------===//
//
// Every problem in a model file is reported as
//   file:line:col: error: message
//   <the source line>
//          ^
// through llvm::SourceMgr (the same printer MLIR's SourceMgrDiagnosticHandler
// uses, so lexer, parser and graph-building errors all look alike).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_DIAGNOSTICS_H
#define KILN_FRONTEND_DIAGNOSTICS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/SourceMgr.h"

namespace kiln {

class Diagnostics {
public:
  /// Reporting stops (and the frontend gives up) after this many errors.
  static constexpr unsigned kMaxErrors = 20;

  Diagnostics(llvm::SourceMgr &sources, llvm::raw_ostream &os) : sources(sources), os(os) {}

  void error(llvm::SMLoc loc, const llvm::Twine &message);
  void warning(llvm::SMLoc loc, const llvm::Twine &message);
  void note(llvm::SMLoc loc, const llvm::Twine &message);

  /// Counts an error that was printed by someone else (MLIR's handler).
  void countError() { ++errors; }
  unsigned errorCount() const { return errors; }
  bool tooMany() const { return errors >= kMaxErrors; }

  llvm::SourceMgr &sourceMgr() { return sources; }

private:
  llvm::SourceMgr &sources;
  llvm::raw_ostream &os;
  unsigned errors = 0;
  bool stopped = false;
};

/// The closest candidate to `name` within a small edit distance, or "".
llvm::StringRef closestMatch(llvm::StringRef name, llvm::ArrayRef<llvm::StringRef> candidates);

} // namespace kiln

#endif
