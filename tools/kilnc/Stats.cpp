//===- Stats.cpp - kilnc --stats -------------------------------------------===//

#include "Stats.h"
#include "ir/KilnOps.h"
#include "passes/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Pass/Pass.h"
#include "llvm/Support/Format.h"
#include <map>

using namespace mlir;
using namespace kiln;

namespace {

/// Graph ops of a function (region structure and terminators not counted).
int64_t countOps(func::FuncOp f) {
  int64_t n = 0;
  f.walk([&](Operation *op) {
    if (op != f && !isa<FusionOp>(op) && !op->hasTrait<OpTrait::IsTerminator>())
      ++n;
  });
  return n;
}

int64_t bytesOf(Type t) {
  auto r = llvm::dyn_cast<RankedTensorType>(t);
  if (!r || !r.hasStaticShape())
    return 0;
  return r.getNumElements() * ((r.getElementTypeBitWidth() + 7) / 8);
}

std::string mib(int64_t bytes) {
  if (bytes < 0)
    return "-";
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%.2f MiB", bytes / 1048576.0);
  return s;
}

bool isEntry(func::FuncOp f) { return !f.isExternal() && f.isPublic(); }

struct Counter : PassInstrumentation {
  CompileStats &stats;
  explicit Counter(CompileStats &s) : stats(s) {}
  void runAfterPass(Pass *pass, Operation *op) override {
    if (!pass->getArgument().empty()) // not the pass managers' own adaptors
      stats.recordOps(pass->getArgument(), op);
  }
};

} // namespace

std::unique_ptr<PassInstrumentation> CompileStats::instrumentation() {
  return std::make_unique<Counter>(*this);
}

CompileStats::Entry &CompileStats::entry(StringRef name) {
  for (auto &[n, e] : entries)
    if (n == name)
      return e;
  return entries.emplace_back(name.str(), Entry()).second;
}

void CompileStats::recordOps(StringRef pass, Operation *op) {
  SmallVector<func::FuncOp> funcs;
  if (auto f = llvm::dyn_cast<func::FuncOp>(op))
    funcs.push_back(f);
  else if (auto m = llvm::dyn_cast<ModuleOp>(op))
    funcs.append(m.getOps<func::FuncOp>().begin(), m.getOps<func::FuncOp>().end());
  std::lock_guard<std::mutex> lock(mutex);
  for (func::FuncOp f : funcs) {
    if (!isEntry(f))
      continue;
    entry(f.getName());
    std::pair<std::string, int> row{pass.str(), ++runs[f.getName()][pass]};
    if (!ops.count(row))
      rows.push_back(row);
    ops[row][f.getName()] = countOps(f);
  }
}

void CompileStats::recordUnfused(ModuleOp module) {
  for (auto f : module.getOps<func::FuncOp>()) {
    if (!isEntry(f))
      continue;
    Entry &e = entry(f.getName());
    e.kernelsBefore = e.naiveBytes = 0;
    f.walk([&](Operation *op) {
      if (op == f || !isKernelOp(op))
        return;
      ++e.kernelsBefore;
      for (Type t : op->getResultTypes())
        e.naiveBytes += bytesOf(t);
    });
  }
}

void CompileStats::recordFused(ModuleOp module) {
  for (auto f : module.getOps<func::FuncOp>()) {
    if (!isEntry(f))
      continue;
    Entry &e = entry(f.getName());
    e.kernelsAfter = 0;
    e.groupSizes.clear();
    f.walk([&](FusionOp g) {
      ++e.kernelsAfter;
      e.groupSizes.push_back(std::distance(g.getGroupOps().begin(), g.getGroupOps().end()) -
                             llvm::count_if(g.getGroupOps(),
                                            [](Operation &o) { return isa<ConstantOp>(o); }));
    });
  }
}

void CompileStats::recordMemory(ModuleOp module) {
  for (auto f : module.getOps<LLVM::LLVMFuncOp>()) {
    auto known = llvm::find_if(entries, [&](auto &p) { return p.first == f.getName(); });
    if (known == entries.end())
      continue; // not an entry point (kernels, wrappers, loop bodies)
    Entry &e = known->second;
    if (auto a = f->getAttrOfType<IntegerAttr>("kiln.scratch_bytes"))
      e.arenaBytes = a.getInt();
    if (auto a = f->getAttrOfType<IntegerAttr>("kiln.buffer_bytes"))
      e.bufferBytes = a.getInt();
  }
}

void CompileStats::print(llvm::raw_ostream &os) const {
  os << "ops per entry point after each pass:\n";
  os << llvm::format("  %-28s", static_cast<const char *>("pass"));
  for (auto &[name, e] : entries)
    os << llvm::format(" %12s", name.c_str());
  os << "\n";
  for (const auto &row : rows) {
    const llvm::StringMap<int64_t> &counts = ops.at(row);
    os << llvm::format("  %-28s", row.first.c_str());
    for (auto &[name, e] : entries) {
      auto c = counts.find(name);
      if (c == counts.end())
        os << llvm::format(" %12s", static_cast<const char *>("-"));
      else
        os << llvm::format(" %12lld", static_cast<long long>(c->second));
    }
    os << "\n";
  }
  for (auto &[name, e] : entries) {
    os << name << ":\n";
    if (e.kernelsBefore >= 0)
      os << "  kernels: " << e.kernelsBefore << " unfused";
    if (e.kernelsAfter >= 0)
      os << " -> " << e.kernelsAfter << " after fusion";
    os << "\n";
    if (!e.groupSizes.empty()) {
      std::map<int64_t, int64_t> histogram;
      int64_t fused = 0;
      for (int64_t s : e.groupSizes) {
        ++histogram[s];
        fused += s > 1 ? 1 : 0;
      }
      os << "  fused groups: " << fused << " of 2 ops or more; ops per group (size x count):";
      for (auto [size, count] : histogram)
        os << " " << size << "x" << count;
      os << "\n";
    }
    os << "  intermediates, unfused (naive total): " << mib(e.naiveBytes) << "\n";
    if (e.bufferBytes >= 0)
      os << "  buffers after fusion: " << mib(e.bufferBytes) << "\n";
    if (e.arenaBytes >= 0)
      os << "  arena (buffers sharing bytes): " << mib(e.arenaBytes) << "\n";
  }
}
