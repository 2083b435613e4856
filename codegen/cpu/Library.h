//===- Library.h - kilnc --emit=lib: a static library + C header ----------===//
#ifndef KILN_CODEGEN_CPU_LIBRARY_H
#define KILN_CODEGEN_CPU_LIBRARY_H

#include "codegen/Artifact.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include <string>

namespace kiln::cpu {

/// A C identifier made from a model or tensor name ("dense/kernel" -> "dense_kernel").
std::string cIdentifier(llvm::StringRef name);

/// Writes <outPrefix>.a and <outPrefix>.h. `objects` hold the compiled entry
/// points, renamed <model>_<entry>_impl. Returns false and sets `error` on failure.
bool writeLibrary(llvm::StringRef outPrefix, const ArtifactContents &contents,
                  llvm::ArrayRef<std::string> objects, std::string &error);

} // namespace kiln::cpu

#endif
