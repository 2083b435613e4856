//===- Diagnostics.cpp ----------------------------------------------------===//
#include "frontend/Diagnostics.h"
#include "llvm/Support/raw_ostream.h"

using namespace kiln;

void Diagnostics::error(llvm::SMLoc loc, const llvm::Twine &message) {
  if (stopped)
    return;
  sources.PrintMessage(os, loc, llvm::SourceMgr::DK_Error, message);
  if (++errors >= kMaxErrors) {
    os << "kilnc: too many errors (" << kMaxErrors << "), stopping\n";
    stopped = true;
  }
}

void Diagnostics::warning(llvm::SMLoc loc, const llvm::Twine &message) {
  if (!stopped)
    sources.PrintMessage(os, loc, llvm::SourceMgr::DK_Warning, message);
}

void Diagnostics::note(llvm::SMLoc loc, const llvm::Twine &message) {
  if (!stopped)
    sources.PrintMessage(os, loc, llvm::SourceMgr::DK_Note, message);
}

llvm::StringRef kiln::closestMatch(llvm::StringRef name,
                                   llvm::ArrayRef<llvm::StringRef> candidates) {
  llvm::StringRef best;
  // Short names allow one edit ("foo" is not "log"); longer ones a third of
  // their length, and at least 2 so swapped letters ("rleu") are caught.
  unsigned bestDistance = (name.size() <= 3 ? 1 : std::max<size_t>(2, name.size() / 3)) + 1;
  for (llvm::StringRef c : candidates) {
    unsigned d = name.edit_distance(c, /*AllowReplacements=*/true, bestDistance);
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best;
}
