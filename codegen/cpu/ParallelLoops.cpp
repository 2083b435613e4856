//===- ParallelLoops.cpp - generated loop nests on the runtime's threads --===//
//
// kiln-outline-parallel-loops (memrefs, after convert-linalg-to-parallel-loops):
// every outermost scf.parallel with enough work becomes a private function
// @<f>__par<i>(lo, hi, captures...) running iterations [lo, hi) of its first
// dimension (the other dimensions stay a parallel loop inside), and the loop
// is replaced by a call of the declaration @<f>__par<i>__fork(n, captures...).
//
// kiln-lower-forks (LLVM dialect, after convert-func-to-llvm with bare
// pointers): defines each __fork: it stores the captures in a stack struct
// and calls kiln_kernels_parallel_for (kernels/cpu) with a trampoline
// @<f>__par<i>__tramp(ctx, lo, hi) that loads them and calls the body. The
// kernels library cuts [0, n) into one range per thread of the runtime's
// pool (serially without one).
//
// Only parallel dimensions are split (reductions stay inner scf.for loops of
// one iteration), so every output element is computed by the same code in
// the same order on any number of threads.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

namespace kiln {
#define GEN_PASS_DEF_OUTLINEPARALLELLOOPS
#define GEN_PASS_DEF_LOWERFORKS
#include "codegen/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace {

constexpr StringLiteral kForkSuffix = "__fork";

/// Iterations of a loop dimension with constant bounds, or nullopt.
std::optional<int64_t> tripCount(Value lb, Value ub, Value step) {
  auto l = getConstantIntValue(lb), u = getConstantIntValue(ub), s = getConstantIntValue(step);
  if (!l || !u || !s || *s <= 0)
    return std::nullopt;
  return *u > *l ? (*u - *l + *s - 1) / *s : 0;
}

/// The product of the constant trip counts of dimensions [from, n) of `p`
/// (an unknown count counts as 1).
int64_t parallelTrips(scf::ParallelOp p, unsigned from) {
  int64_t trips = 1;
  for (unsigned d = from; d < p.getNumLoops(); ++d)
    trips *= tripCount(p.getLowerBound()[d], p.getUpperBound()[d], p.getStep()[d]).value_or(1);
  return trips;
}

/// Innermost iterations per iteration of the enclosing loop: the largest
/// product of constant trip counts along any loop path inside `region`.
int64_t innerWork(Region &region) {
  int64_t best = 1;
  region.walk<WalkOrder::PreOrder>([&](Operation *op) {
    int64_t trips = 1;
    if (auto f = dyn_cast<scf::ForOp>(op))
      trips = tripCount(f.getLowerBound(), f.getUpperBound(), f.getStep()).value_or(1);
    else if (auto p = dyn_cast<scf::ParallelOp>(op))
      trips = parallelTrips(p, 0);
    else
      return WalkResult::advance();
    best = std::max(best, trips * innerWork(op->getRegion(0)));
    return WalkResult::skip();
  });
  return best;
}

/// Captured values a bare-pointer function argument can carry.
bool passable(Type t) {
  if (t.isIntOrIndexOrFloat())
    return true;
  auto m = dyn_cast<MemRefType>(t);
  return m && m.hasStaticShape() && m.getLayout().isIdentity();
}

struct OutlineParallelLoops : kiln::impl::OutlineParallelLoopsBase<OutlineParallelLoops> {
  using OutlineParallelLoopsBase::OutlineParallelLoopsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto f : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (f.isExternal())
        continue;
      SmallVector<scf::ParallelOp> loops;
      f.walk<WalkOrder::PreOrder>([&](scf::ParallelOp p) {
        loops.push_back(p);
        return WalkResult::skip(); // outermost only
      });
      int index = 0;
      Operation *last = f; // outlined functions follow f, in order
      for (scf::ParallelOp loop : loops)
        if (outline(f, loop, index, last))
          ++index;
    }
  }

  bool outline(func::FuncOp f, scf::ParallelOp loop, int index, Operation *&last) {
    if (loop.getNumReductions() != 0)
      return false;
    std::optional<int64_t> trips =
        tripCount(loop.getLowerBound()[0], loop.getUpperBound()[0], loop.getStep()[0]);
    if (!trips || *trips < 2)
      return false;
    if (*trips * parallelTrips(loop, 1) * innerWork(loop.getRegion()) < minWork)
      return false;

    // Values from outside: constants are cloned into the body, the rest passed.
    SetVector<Value> used;
    getUsedValuesDefinedAbove(loop.getRegion(), used);
    for (Value v : loop->getOperands())
      used.insert(v);
    SmallVector<Value> constants, captures;
    for (Value v : used) {
      if (v.getDefiningOp() && v.getDefiningOp()->hasTrait<OpTrait::ConstantLike>())
        constants.push_back(v);
      else if (passable(v.getType()))
        captures.push_back(v);
      else
        return false; // e.g. a strided subview: stays a serial loop
    }

    MLIRContext *ctx = &getContext();
    Location loc = loop.getLoc();
    OpBuilder b(f);
    b.setInsertionPointAfter(last);
    std::string name = (f.getName() + "__par" + Twine(index)).str();
    SmallVector<Type> bodyArgs{b.getIndexType(), b.getIndexType()}, forkArgs{b.getIndexType()};
    for (Value v : captures) {
      bodyArgs.push_back(v.getType());
      forkArgs.push_back(v.getType());
    }
    auto body = b.create<func::FuncOp>(loc, name, FunctionType::get(ctx, bodyArgs, {}));
    body.setPrivate();
    auto fork = b.create<func::FuncOp>(loc, name + kForkSuffix.str(), FunctionType::get(ctx, forkArgs, {}));
    fork.setPrivate();
    last = fork;

    // for i in [lo, hi): the first dimension at lb0 + i * step0, the others
    // a parallel loop as before.
    Block *entry = body.addEntryBlock();
    OpBuilder in = OpBuilder::atBlockBegin(entry);
    IRMapping map;
    for (Value c : constants)
      map.map(c, in.clone(*c.getDefiningOp())->getResult(0));
    for (auto [i, v] : llvm::enumerate(captures))
      map.map(v, entry->getArgument(i + 2));
    Value one = in.create<arith::ConstantIndexOp>(loc, 1);
    auto outer = in.create<scf::ForOp>(loc, entry->getArgument(0), entry->getArgument(1), one);
    in.create<func::ReturnOp>(loc);
    in.setInsertionPointToStart(outer.getBody());
    Value iv0 = in.create<arith::AddIOp>(
        loc, map.lookup(loop.getLowerBound()[0]),
        in.create<arith::MulIOp>(loc, outer.getInductionVar(), map.lookup(loop.getStep()[0])));
    map.map(loop.getInductionVars()[0], iv0);
    auto cloneBody = [&](OpBuilder &nb) {
      for (Operation &op : loop.getBody()->without_terminator())
        nb.clone(op, map);
    };
    if (loop.getNumLoops() == 1) {
      cloneBody(in);
    } else {
      auto lookup = [&](OperandRange r) {
        SmallVector<Value> out;
        for (Value v : r.drop_front())
          out.push_back(map.lookup(v));
        return out;
      };
      in.create<scf::ParallelOp>(loc, lookup(loop.getLowerBound()), lookup(loop.getUpperBound()),
                                 lookup(loop.getStep()), [&](OpBuilder &nb, Location, ValueRange ivs) {
                                   for (auto [old, now] : llvm::zip(ArrayRef<Value>(loop.getInductionVars()).drop_front(), ivs))
                                     map.map(old, now);
                                   cloneBody(nb);
                                 });
    }

    b.setInsertionPoint(loop);
    SmallVector<Value> operands{b.create<arith::ConstantIndexOp>(loc, *trips)};
    operands.append(captures.begin(), captures.end());
    b.create<func::CallOp>(loc, fork, operands);
    loop.erase();
    return true;
  }
};

struct LowerForks : kiln::impl::LowerForksBase<LowerForks> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    auto voidType = LLVM::LLVMVoidType::get(ctx);
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    LLVM::LLVMFuncOp parallelFor;
    for (auto fork : llvm::to_vector(module.getOps<LLVM::LLVMFuncOp>())) {
      if (!fork.isExternal() || !fork.getName().ends_with(kForkSuffix))
        continue;
      auto body = module.lookupSymbol<LLVM::LLVMFuncOp>(fork.getName().drop_back(kForkSuffix.size()));
      ArrayRef<Type> args = fork.getFunctionType().getParams();
      if (!body || args.empty() || args[0] != i64 ||
          body.getFunctionType().getNumParams() != args.size() + 1) {
        fork.emitError("internal error: parallel loop fork without its body function");
        return signalPassFailure();
      }
      if (!parallelFor) {
        parallelFor = module.lookupSymbol<LLVM::LLVMFuncOp>("kiln_kernels_parallel_for");
        if (!parallelFor)
          parallelFor = b.create<LLVM::LLVMFuncOp>(module.getLoc(), "kiln_kernels_parallel_for",
                                                   LLVM::LLVMFunctionType::get(voidType, {i64, ptr, ptr}));
      }
      Location loc = fork.getLoc();
      auto captures = LLVM::LLVMStructType::getLiteral(ctx, args.drop_front());
      body.setLinkage(LLVM::Linkage::Internal);

      // tramp(ctx, lo, hi): body(lo, hi, ctx->captures...)
      auto tramp = b.create<LLVM::LLVMFuncOp>(loc, (body.getName() + "__tramp").str(),
                                              LLVM::LLVMFunctionType::get(voidType, {ptr, i64, i64}),
                                              LLVM::Linkage::Internal);
      {
        OpBuilder::InsertionGuard guard(b);
        Block *entry = tramp.addEntryBlock(b);
        b.setInsertionPointToStart(entry);
        SmallVector<Value> callArgs{entry->getArgument(1), entry->getArgument(2)};
        for (unsigned i = 0; i + 1 < args.size(); ++i) {
          Value field = b.create<LLVM::GEPOp>(loc, ptr, captures, entry->getArgument(0),
                                              ArrayRef<LLVM::GEPArg>{0, int32_t(i)});
          callArgs.push_back(b.create<LLVM::LoadOp>(loc, args[i + 1], field));
        }
        b.create<LLVM::CallOp>(loc, body, callArgs);
        b.create<LLVM::ReturnOp>(loc, ValueRange{});
      }

      // fork(n, captures...): store them, hand tramp to the kernels' threads.
      fork.setLinkage(LLVM::Linkage::Internal);
      {
        OpBuilder::InsertionGuard guard(b);
        Block *entry = fork.addEntryBlock(b);
        b.setInsertionPointToStart(entry);
        Value count = b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(1));
        Value frame = b.create<LLVM::AllocaOp>(loc, ptr, captures, count);
        for (unsigned i = 0; i + 1 < args.size(); ++i) {
          Value field =
              b.create<LLVM::GEPOp>(loc, ptr, captures, frame, ArrayRef<LLVM::GEPArg>{0, int32_t(i)});
          b.create<LLVM::StoreOp>(loc, entry->getArgument(i + 1), field);
        }
        Value fn = b.create<LLVM::AddressOfOp>(loc, tramp);
        b.create<LLVM::CallOp>(loc, parallelFor, ValueRange{entry->getArgument(0), fn, frame});
        b.create<LLVM::ReturnOp>(loc, ValueRange{});
      }
    }
  }
};

} // namespace
