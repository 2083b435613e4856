//===- Stats.h - kilnc --stats: what the optimizations did -----------------===//
#ifndef KILN_TOOLS_KILNC_STATS_H
#define KILN_TOOLS_KILNC_STATS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "llvm/ADT/StringMap.h"
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kiln {

/// Per entry point: ops after each pass, kernels and group sizes, and bytes
/// (every intermediate of the unfused graph, the buffers left after fusion,
/// the arena after sharing).
class CompileStats {
public:
  /// Counts ops after every pass of the pass managers it is added to.
  std::unique_ptr<mlir::PassInstrumentation> instrumentation();
  /// Records the ops of `f` (or of every entry point of a module) after
  /// `pass`; the k-th run of a pass on a function is row "pass" number k.
  void recordOps(llvm::StringRef pass, mlir::Operation *op);
  /// The unfused graph: kernels (one per compute op) and intermediate bytes.
  void recordUnfused(mlir::ModuleOp module);
  /// The optimized graph: kiln.fusion groups.
  void recordFused(mlir::ModuleOp module);
  /// After memory planning (LLVM dialect): arena and buffer bytes.
  void recordMemory(mlir::ModuleOp module);
  void print(llvm::raw_ostream &os) const;

private:
  struct Entry {
    int64_t kernelsBefore = -1, kernelsAfter = -1;
    std::vector<int64_t> groupSizes; // of kiln.fusion groups, in order
    int64_t naiveBytes = -1, bufferBytes = -1, arenaBytes = -1;
  };
  Entry &entry(llvm::StringRef name);
  std::vector<std::pair<std::string, int>> rows;          // (pass, k), first seen first
  std::map<std::pair<std::string, int>, llvm::StringMap<int64_t>> ops; // row -> entry -> ops
  llvm::StringMap<llvm::StringMap<int>> runs;             // entry -> pass -> runs so far
  std::mutex mutex;                                       // func passes run in parallel
  std::vector<std::pair<std::string, Entry>> entries;     // in module order
};

} // namespace kiln

#endif
