//===- SplitModule.cpp - an LLVM-dialect module -> independent parts ------===//
#include "codegen/cpu/SplitModule.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/EquivalenceClasses.h"

using namespace mlir;

/// Splits an LLVM-dialect module into modules that share no code: one per
/// group of defined functions that call each other (an entry point and its
/// packed wrapper) or use the same non-constant or non-local global. Each
/// part gets the declarations and constants it uses (private constants are
/// duplicated). The parts follow the module's order; one part (the module
/// itself, cloned) when the module does not split cleanly.
SmallVector<OwningOpRef<ModuleOp>> kiln::cpu::splitModule(ModuleOp module) {
  SmallVector<OwningOpRef<ModuleOp>> parts;
  auto whole = [&] {
    parts.clear();
    parts.push_back(module.clone());
    return std::move(parts);
  };
  SymbolTable symbols(module);
  SmallVector<LLVM::LLVMFuncOp> defined;
  llvm::DenseMap<Operation *, unsigned> index; // defined function -> position
  for (auto f : module.getOps<LLVM::LLVMFuncOp>())
    if (!f.isExternal()) {
      index[f] = defined.size();
      defined.push_back(f);
    }
  // Top-level ops other than functions and globals go into every part: only
  // when they name no symbol (e.g. not llvm.mlir.global_ctors).
  for (Operation &op : module.getBody()->getOperations()) {
    if (isa<LLVM::LLVMFuncOp, LLVM::GlobalOp>(op))
      continue;
    bool namesSymbol = false;
    op.getAttrDictionary().walk([&](SymbolRefAttr) { namesSymbol = true; });
    std::optional<SymbolTable::UseRange> uses = SymbolTable::getSymbolUses(&op);
    if (namesSymbol || !uses || !uses->empty())
      return whole();
  }
  auto isShared = [](LLVM::GlobalOp g) {
    return !g.getConstant() ||
           (g.getLinkage() != LLVM::Linkage::Private && g.getLinkage() != LLVM::Linkage::Internal);
  };
  // Groups: defined functions joined through calls and shared globals.
  llvm::EquivalenceClasses<unsigned> groups;
  llvm::DenseMap<Operation *, unsigned> sharedUser;
  // fn(symbol) for every symbol `op` refers to; false when one is unknown
  // (or fn says stop).
  auto eachSymbolUsed = [&](Operation *op, auto fn) {
    std::optional<SymbolTable::UseRange> uses = SymbolTable::getSymbolUses(op);
    if (!uses)
      return false;
    for (const SymbolTable::SymbolUse &use : *uses) {
      Operation *sym = symbols.lookup(use.getSymbolRef().getRootReference());
      if (!sym || !fn(sym))
        return false;
    }
    return true;
  };
  for (unsigned i = 0; i < defined.size(); ++i) {
    groups.insert(i);
    bool known = eachSymbolUsed(defined[i], [&](Operation *sym) {
      if (auto it = index.find(sym); it != index.end())
        groups.unionSets(i, it->second);
      else if (auto g = dyn_cast<LLVM::GlobalOp>(sym); g && isShared(g))
        groups.unionSets(i, sharedUser.try_emplace(sym, i).first->second);
      return true;
    });
    if (!known)
      return whole();
  }
  llvm::DenseMap<unsigned, unsigned> partOfLeader;
  SmallVector<unsigned> partOf;
  for (unsigned i = 0; i < defined.size(); ++i)
    partOf.push_back(
        partOfLeader.try_emplace(groups.getLeaderValue(i), partOfLeader.size()).first->second);
  unsigned numParts = std::max<unsigned>(1, partOfLeader.size());
  if (numParts == 1)
    return whole();
  OpBuilder builder(module.getContext());
  for (unsigned p = 0; p < numParts; ++p) {
    // The symbols this part uses, through its functions and the globals'
    // initializers.
    llvm::DenseSet<Operation *> used;
    SmallVector<Operation *> worklist;
    for (unsigned i = 0; i < defined.size(); ++i)
      if (partOf[i] == p)
        worklist.push_back(defined[i]);
    while (!worklist.empty()) {
      bool known = eachSymbolUsed(worklist.pop_back_val(), [&](Operation *sym) {
        if (auto it = index.find(sym); it != index.end() && partOf[it->second] != p)
          return false; // e.g. a constant table of function pointers
        if (used.insert(sym).second && isa<LLVM::GlobalOp>(sym))
          worklist.push_back(sym);
        return true;
      });
      if (!known)
        return whole();
    }
    OwningOpRef<ModuleOp> part = ModuleOp::create(module.getLoc());
    (*part)->setAttrs(module->getAttrDictionary());
    builder.setInsertionPointToEnd(part->getBody());
    for (Operation &op : module.getBody()->getOperations()) {
      if (auto it = index.find(&op); it != index.end()) {
        if (partOf[it->second] == p)
          builder.clone(op);
      } else if (auto g = dyn_cast<LLVM::GlobalOp>(op); g && isShared(g)) {
        // Defined once: by its users' part, or the first part if unused.
        auto user = sharedUser.find(&op);
        if (user == sharedUser.end() ? p == 0 : partOf[user->second] == p)
          builder.clone(op);
      } else if (!isa<SymbolOpInterface>(op) || used.contains(&op)) {
        builder.clone(op);
      }
    }
    parts.push_back(std::move(part));
  }
  return parts;
}
