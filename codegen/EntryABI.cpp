//===- EntryABI.cpp - the calling convention of compiled entry points -----===//
//
// Three passes that turn a graph function into the .kbin ABI (artifact/kbin.fbs):
//   kiln-params-to-arguments   parameters become arguments after the inputs;
//   kiln-plan-scratch          every buffer of a step lives in one scratch arena;
//   kiln-packed-entry-points   `void kiln_<f>(void **buffers)` wrappers.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "ir/KilnOps.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/MapVector.h"

namespace kiln {
#define GEN_PASS_DEF_PARAMSTOARGUMENTS
#define GEN_PASS_DEF_UPDATEINPLACE
#define GEN_PASS_DEF_DISTINCTRESULTS
#define GEN_PASS_DEF_PLANSCRATCH
#define GEN_PASS_DEF_PACKEDENTRYPOINTS
#include "codegen/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace {

struct ParamsToArguments : kiln::impl::ParamsToArgumentsBase<ParamsToArguments> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      SmallVector<kiln::ReadParamOp> reads;
      func.walk([&](kiln::ReadParamOp op) { reads.push_back(op); });
      llvm::MapVector<StringAttr, unsigned> argOf;
      for (kiln::ReadParamOp read : reads) {
        StringAttr name = read.getNameAttr().getAttr();
        auto [it, fresh] = argOf.try_emplace(name, func.getNumArguments());
        if (fresh) {
          NamedAttrList attrs;
          attrs.append("kiln.param", name);
          func.insertArgument(it->second, read.getType(), attrs.getDictionary(&getContext()),
                              read.getLoc());
        }
        read.replaceAllUsesWith(func.getArgument(it->second));
        read.erase();
      }
      // New values of parameters become trailing results.
      SmallVector<kiln::AssignOp> assigns;
      func.walk([&](kiln::AssignOp op) { assigns.push_back(op); });
      if (assigns.empty())
        continue;
      auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
      SmallVector<Value> results(ret.getOperands());
      SmallVector<Type> types(func.getResultTypes());
      SmallVector<int64_t> updated;
      for (kiln::AssignOp assign : assigns) {
        StringAttr name = assign.getNameAttr().getAttr();
        auto it = argOf.find(name);
        if (it == argOf.end()) { // written but never read: still passed in
          it = argOf.insert({name, func.getNumArguments()}).first;
          NamedAttrList attrs;
          attrs.append("kiln.param", name);
          func.insertArgument(it->second, assign.getValue().getType(),
                              attrs.getDictionary(&getContext()), assign.getLoc());
        }
        if (llvm::is_contained(updated, int64_t(it->second))) {
          assign.emitError("parameter ") << name << " is assigned twice in one step";
          return signalPassFailure();
        }
        updated.push_back(it->second);
        results.push_back(assign.getValue());
        types.push_back(assign.getValue().getType());
        assign.erase();
      }
      ret->setOperands(results);
      SmallVector<DictionaryAttr> resAttrs;
      func.getAllResultAttrs(resAttrs);
      resAttrs.resize(types.size(), DictionaryAttr::get(&getContext()));
      func.setFunctionType(FunctionType::get(&getContext(), func.getArgumentTypes(), types));
      func.setAllResultAttrs(resAttrs);
      func->setAttr("kiln.updates", DenseI64ArrayAttr::get(&getContext(), updated));
    }
  }
};

/// Values that alias `root` through view-like ops (subview, reshapes).
static void collectAliases(Value root, SmallVectorImpl<Value> &out) {
  out.push_back(root);
  for (Operation *user : root.getUsers())
    if (auto view = dyn_cast<ViewLikeOpInterface>(user); view && view.getViewSource() == root)
      for (Value r : user->getResults())
        collectAliases(r, out);
}

/// Whether `op` writes one of `aliases` (as a destination).
static bool writesTo(Operation *op, ArrayRef<Value> aliases) {
  if (auto dps = dyn_cast<DestinationStyleOpInterface>(op))
    return llvm::any_of(dps.getDpsInits(), [&](Value v) { return llvm::is_contained(aliases, v); });
  if (auto copy = dyn_cast<memref::CopyOp>(op))
    return llvm::is_contained(aliases, copy.getTarget());
  return false;
}

/// An elementwise linalg op: reading and writing one buffer is safe.
static bool isElementwise(Operation *op) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  return linalgOp && linalgOp.getNumLoops() == linalgOp.getNumParallelLoops() &&
         llvm::all_of(linalgOp.getIndexingMapsArray(), [](AffineMap m) { return m.isIdentity(); });
}

struct UpdateInPlace : kiln::impl::UpdateInPlaceBase<UpdateInPlace> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    auto updates = func->getAttrOfType<DenseI64ArrayAttr>("kiln.updates");
    if (!updates)
      return;
    Block &entry = func.getBody().front();
    unsigned numArgs = func.getNumArguments(), k = updates.size();
    llvm::BitVector erase(numArgs);
    for (auto [j, paramIndex] : llvm::enumerate(updates.asArrayRef())) {
      BlockArgument out = func.getArgument(numArgs - k + j), param = func.getArgument(paramIndex);
      SmallVector<Value> outAliases, paramAliases;
      collectAliases(out, outAliases);
      collectAliases(param, paramAliases);
      // The first op that writes the new value ...
      Operation *firstWrite = nullptr;
      for (Operation &op : entry)
        if (writesTo(&op, outAliases)) {
          firstWrite = &op;
          break;
        }
      // ... must come after every use of the old one (view ops aside).
      bool safe = true;
      if (firstWrite)
        for (Value alias : paramAliases)
          for (Operation *use : alias.getUsers()) {
            Operation *user = entry.findAncestorOpInBlock(*use);
            if (!user || isa<ViewLikeOpInterface>(user) || user->isBeforeInBlock(firstWrite))
              continue;
            if (user == firstWrite && isElementwise(user))
              continue;
            safe = false;
          }
      if (safe) {
        out.replaceAllUsesWith(param);
      } else {
        // Bufferization computed part of the new value in its buffer while
        // the old one is still needed: compute it in scratch, copy at the end.
        OpBuilder b(&entry, entry.begin());
        Value tmp = b.create<memref::AllocOp>(func.getLoc(), llvm::cast<MemRefType>(out.getType()));
        out.replaceAllUsesWith(tmp);
        b.setInsertionPoint(entry.getTerminator());
        b.create<memref::CopyOp>(func.getLoc(), tmp, param);
        ++numCopied;
      }
      erase.set(numArgs - k + j);
    }
    func.eraseArguments(erase);
    func->removeAttr("kiln.updates");
  }
};

struct DistinctResults : kiln::impl::DistinctResultsBase<DistinctResults> {
  void runOnOperation() override {
    for (Block &block : getOperation().getBody()) {
      auto ret = dyn_cast<func::ReturnOp>(block.getTerminator());
      if (!ret)
        continue;
      llvm::SmallPtrSet<Value, 4> seen;
      OpBuilder b(ret);
      for (OpOperand &operand : ret->getOpOperands()) {
        Value v = operand.get();
        if (!llvm::isa<BlockArgument>(v) && seen.insert(v).second)
          continue;
        auto type = llvm::cast<RankedTensorType>(v.getType());
        Value init =
            b.create<tensor::EmptyOp>(ret.getLoc(), type.getShape(), type.getElementType());
        operand.set(b.create<linalg::CopyOp>(ret.getLoc(), v, init).getResult(0));
      }
    }
  }
};

constexpr int64_t kAlignment = 64;

struct PlanScratch : kiln::impl::PlanScratchBase<PlanScratch> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (!func.isExternal() && failed(plan(func)))
        return signalPassFailure();
  }

  /// Position in the function's entry block of the op that holds `op`.
  static int64_t positionOf(Operation *op, Block &entry, const DenseMap<Operation *, int64_t> &pos) {
    while (op && op->getBlock() != &entry)
      op = op->getParentOp();
    return op ? pos.lookup(op) : INT64_MAX;
  }

  /// The last entry-block position where `value`, or a view of it, is used.
  static int64_t lastUse(Value value, Block &entry, const DenseMap<Operation *, int64_t> &pos) {
    int64_t last = 0;
    for (OpOperand &use : value.getUses()) {
      Operation *user = use.getOwner();
      last = std::max(last, positionOf(user, entry, pos));
      if (auto view = dyn_cast<ViewLikeOpInterface>(user); view && view.getViewSource() == value)
        for (Value alias : user->getResults())
          last = std::max(last, lastUse(alias, entry, pos));
    }
    return last;
  }

  LogicalResult plan(func::FuncOp func) {
    SmallVector<memref::AllocOp> allocs;
    func.walk([&](memref::AllocOp op) { allocs.push_back(op); });
    Block &entry = func.getBody().front();
    DenseMap<Operation *, int64_t> pos;
    for (auto [i, op] : llvm::enumerate(entry))
      pos[&op] = i;

    // Buffers whose lifetimes do not overlap share bytes: each takes the
    // lowest aligned offset not held by a buffer still live when it is born
    // (first fit, in program order). Lifetimes run from the allocation to the
    // last use of the buffer or of any view of it.
    struct Slot {
      int64_t offset, bytes, end;
    };
    SmallVector<Slot> placed;
    SmallVector<int64_t> offsets;
    int64_t total = 0, unshared = 0;
    for (memref::AllocOp alloc : allocs) {
      MemRefType type = alloc.getType();
      if (!type.hasStaticShape() || !type.getLayout().isIdentity())
        return alloc.emitError("kiln-plan-scratch needs static, identity-layout buffers, got ")
               << type;
      int64_t bytes = llvm::alignTo(
          type.getNumElements() * ((type.getElementTypeBitWidth() + 7) / 8), kAlignment);
      int64_t begin = positionOf(alloc, entry, pos), end = lastUse(alloc.getResult(), entry, pos);
      if (alloc->getBlock() != &entry)
        end = INT64_MAX; // allocated inside a loop: never shared
      SmallVector<Slot> live;
      for (const Slot &s : placed)
        if (s.end >= begin)
          live.push_back(s);
      llvm::sort(live, [](const Slot &a, const Slot &b) { return a.offset < b.offset; });
      int64_t offset = 0;
      for (const Slot &s : live)
        if (offset + bytes > s.offset && offset < s.offset + s.bytes)
          offset = std::max(offset, s.offset + s.bytes);
      placed.push_back(Slot{offset, bytes, end});
      unshared += bytes;
      offsets.push_back(offset);
      total = std::max(total, offset + bytes);
    }
    auto scratchType = MemRefType::get({total}, IntegerType::get(&getContext(), 8));
    NamedAttrList attrs;
    attrs.append("kiln.scratch", UnitAttr::get(&getContext()));
    unsigned index = func.getNumArguments();
    func.insertArgument(index, scratchType, attrs.getDictionary(&getContext()), func.getLoc());
    Value scratch = func.getArgument(index);
    auto i64 = IntegerType::get(&getContext(), 64);
    func->setAttr("kiln.scratch_bytes", IntegerAttr::get(i64, total));
    // What the buffers would take without sharing (kilnc --stats).
    func->setAttr("kiln.buffer_bytes", IntegerAttr::get(i64, unshared));

    for (auto [alloc, offset] : llvm::zip(allocs, offsets)) {
      OpBuilder b(alloc);
      Value at = b.create<arith::ConstantIndexOp>(alloc.getLoc(), offset);
      Value view = b.create<memref::ViewOp>(alloc.getLoc(), alloc.getType(), scratch, at,
                                            ValueRange{});
      for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
        if (isa<memref::DeallocOp>(user))
          user->erase();
      alloc.replaceAllUsesWith(view);
      alloc.erase();
    }
    return success();
  }
};

struct PackedEntryPoints : kiln::impl::PackedEntryPointsBase<PackedEntryPoints> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    SmallVector<LLVM::LLVMFuncOp> entries;
    for (auto f : module.getOps<LLVM::LLVMFuncOp>())
      if (!f.isExternal() && !f.getName().starts_with("kiln_") &&
          f.getLinkage() == LLVM::Linkage::External)
        entries.push_back(f);
    // Kiln's argument tags (kiln.name, kiln.param, kiln.scratch) have served
    // the artifact writer; LLVM IR export would warn about them.
    for (LLVM::LLVMFuncOp f : entries) {
      f.removeArgAttrsAttr(); // only Kiln's tags are there (bare pointers)
      f.removeResAttrsAttr(); // (kiln.scratch_bytes stays for the artifact writer)
    }
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    for (LLVM::LLVMFuncOp f : entries) {
      LLVM::LLVMFunctionType fnType = f.getFunctionType();
      if (!llvm::all_of(fnType.getParams(), [&](Type t) { return t == ptr; }) ||
          !llvm::isa<LLVM::LLVMVoidType>(fnType.getReturnType())) {
        f.emitError("entry point must take only buffer pointers and return nothing "
                    "(bare-pointer calling convention)");
        return signalPassFailure();
      }
      Location loc = f.getLoc();
      auto wrapper = b.create<LLVM::LLVMFuncOp>(
          loc, ("kiln_" + f.getName()).str(),
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptr}));
      Block *body = wrapper.addEntryBlock(b);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(body);
      SmallVector<Value> args;
      for (unsigned i = 0; i < fnType.getNumParams(); ++i) {
        Value slot = b.create<LLVM::GEPOp>(loc, ptr, ptr, body->getArgument(0),
                                           ArrayRef<LLVM::GEPArg>{int32_t(i)});
        args.push_back(b.create<LLVM::LoadOp>(loc, ptr, slot));
      }
      b.create<LLVM::CallOp>(loc, f, args);
      b.create<LLVM::ReturnOp>(loc, ValueRange{});
    }
  }
};

} // namespace
