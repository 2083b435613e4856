//===- LoopNests.cpp - which loop nests may share a CUDA kernel -----------===//
#include "codegen/cuda/LoopNests.h"
#include "codegen/cuda/KernelWriter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;
using namespace kiln::cuda;

namespace {

/// The bytes a memref spans: its root and [begin, end) in the root's buffer.
struct Span {
  Root root;
  uint64_t begin = 0, end = 0;
  bool overlaps(const Span &o) const {
    return root.buffer == o.root.buffer && root.global == o.root.global && begin < o.end && o.begin < end;
  }
};
/// A load or store of a loop nest, with the bytes its memref spans.
struct Access {
  Span span; // of the whole memref
  bool write = false;
  // Indexed by each of the nest's parallel IVs once and otherwise by
  // constants (a unit dimension's 0): distinct iterations, distinct elements.
  bool pointwise = false;
  // Each index: (true, k) for the nest's k-th parallel IV, (false, c) for
  // the constant c. Two pointwise accesses with the same layout and index
  // list touch, at iteration i of either nest, the same element.
  SmallVector<std::pair<bool, int64_t>> indexList;
  MemRefType type;
};

/// The Access fields that say which element iteration i touches.
void classifyIndices(scf::ParallelOp par, ValueRange indices, Access &a) {
  SmallVector<int> uses(par.getNumLoops(), 0);
  bool known = true;
  for (Value index : indices) {
    auto ivs = par.getInductionVars();
    auto it = llvm::find(ivs, index);
    if (it != ivs.end()) {
      int64_t k = it - ivs.begin();
      ++uses[k];
      a.indexList.push_back({true, k});
    } else if (std::optional<int64_t> c = getConstantIntValue(index)) {
      a.indexList.push_back({false, *c});
    } else {
      known = false;
    }
  }
  a.pointwise = known && llvm::all_of(uses, [](int n) { return n == 1; });
}

/// Whether two accesses touch the same element at every iteration point.
bool sameElements(const Access &x, const Access &y) {
  return x.pointwise && y.pointwise && x.span.begin == y.span.begin && x.type == y.type &&
         x.indexList == y.indexList;
}

FailureOr<Span> spanOf(KernelWriter &w, Value memref) {
  FailureOr<Root> root = w.rootOf(memref);
  if (failed(root))
    return failure();
  std::optional<std::pair<int64_t, int64_t>> bytes = byteFootprint(cast<MemRefType>(memref.getType()), *root);
  if (!bytes)
    return failure();
  return Span{*root, uint64_t(bytes->first), uint64_t(bytes->second)};
}

/// Every memref access in `par`; failure when one cannot be resolved.
FailureOr<SmallVector<Access>> accessesOf(func::FuncOp f, scf::ParallelOp par) {
  std::string unused;
  llvm::raw_string_ostream sink(unused);
  KernelWriter w(f, sink);
  SmallVector<Access> out;
  WalkResult r = par.walk([&](Operation *op) {
    Value memref;
    ValueRange indices;
    bool write = false;
    if (auto l = dyn_cast<memref::LoadOp>(op)) {
      memref = l.getMemRef();
      indices = l.getIndices();
    } else if (auto st = dyn_cast<memref::StoreOp>(op)) {
      memref = st.getMemRef();
      indices = st.getIndices();
      write = true;
    } else {
      return WalkResult::advance();
    }
    FailureOr<Span> span = spanOf(w, memref);
    if (failed(span))
      return WalkResult::interrupt();
    Access a;
    a.span = *span;
    a.write = write;
    a.type = cast<MemRefType>(memref.getType());
    classifyIndices(par, indices, a);
    out.push_back(a);
    return WalkResult::advance();
  });
  if (r.wasInterrupted())
    return failure();
  return out;
}

bool sameBounds(scf::ParallelOp a, scf::ParallelOp b) {
  auto same = [](ValueRange x, ValueRange y) {
    if (x.size() != y.size())
      return false;
    for (auto [u, v] : llvm::zip(x, y)) {
      std::optional<int64_t> cu = getConstantIntValue(u), cv = getConstantIntValue(v);
      if (!cu || !cv || *cu != *cv)
        return false;
    }
    return true;
  };
  return same(a.getLowerBound(), b.getLowerBound()) && same(a.getUpperBound(), b.getUpperBound()) &&
         same(a.getStep(), b.getStep()) && a.getInitVals().empty() && b.getInitVals().empty();
}

} // namespace

/// Whether `next` may run in the same thread as `group`, right after it, on
/// the same iteration point: same iteration space, and every memory both
/// touch (one of them writing) is accessed pointwise, element i by
/// iteration i, through the same layout and index list: then each element's reads and
/// writes stay in program order within one thread, and no thread touches
/// another's elements. Memory only read, or touched by one side, is free.
bool kiln::cuda::fusible(func::FuncOp f, ArrayRef<scf::ParallelOp> group, scf::ParallelOp next) {
  if (!sameBounds(group.front(), next))
    return false;
  FailureOr<SmallVector<Access>> b = accessesOf(f, next);
  if (failed(b))
    return false;
  for (scf::ParallelOp p : group) {
    FailureOr<SmallVector<Access>> a = accessesOf(f, p);
    if (failed(a))
      return false;
    for (const Access &x : *a)
      for (const Access &y : *b) {
        if (!x.write && !y.write)
          continue;
        if (!x.span.overlaps(y.span))
          continue; // disjoint memory
        if (!sameElements(x, y))
          return false;
      }
  }
  return true;
}

/// A reduction whose serial loop came out outside the parallel one (a Dense
/// bias gradient: for each sample, for each feature in parallel, add):
/// `for i { for k { ... scf.parallel (j) {...} } }`, each loop's body only the
/// next loop, no loop-carried values, constant bounds. Running the serial
/// loops inside each thread keeps every element's order of updates; it is
/// safe when threads never share an element: every memory the body writes is
/// accessed only pointwise (indexed by exactly the parallel IVs).
bool kiln::cuda::interchangeable(func::FuncOp f, scf::ForOp loop, SmallVectorImpl<scf::ForOp> &chain,
                     scf::ParallelOp &inner) {
  Operation *op = loop;
  while (auto l = dyn_cast<scf::ForOp>(op)) {
    if (!l.getInitArgs().empty() || !getConstantIntValue(l.getLowerBound()) ||
        !getConstantIntValue(l.getUpperBound()) || !getConstantIntValue(l.getStep()) ||
        l.getBody()->getOperations().size() != 2)
      return false;
    chain.push_back(l);
    op = &l.getBody()->front();
  }
  inner = dyn_cast<scf::ParallelOp>(op);
  if (!inner || !inner.getInitVals().empty())
    return false;
  FailureOr<SmallVector<Access>> accesses = accessesOf(f, inner);
  if (failed(accesses))
    return false;
  for (const Access &w : *accesses)
    if (w.write)
      for (const Access &a : *accesses)
        if (a.span.overlaps(w.span) && !sameElements(a, w))
          return false;
  return true;
}


std::optional<ScalarReduction> kiln::cuda::scalarReduction(func::FuncOp f, scf::ForOp loop) {
  ScalarReduction r;
  Operation *op = loop;
  // The perfect nest: each loop's body is the next loop (and its yield).
  while (auto l = dyn_cast<scf::ForOp>(op)) {
    std::optional<int64_t> lb = getConstantIntValue(l.getLowerBound()), ub = getConstantIntValue(l.getUpperBound()),
                           st = getConstantIntValue(l.getStep());
    if (!l.getInitArgs().empty() || !lb || !ub || !st || *st <= 0)
      return std::nullopt;
    r.loops.push_back(l);
    r.lbs.push_back(*lb);
    r.steps.push_back(*st);
    r.trips.push_back(std::max<int64_t>(0, (*ub - *lb + *st - 1) / *st));
    r.elements *= uint64_t(r.trips.back());
    Block &body = *l.getBody();
    if (body.getOperations().size() == 2 && isa<scf::ForOp>(body.front()))
      op = &body.front();
    else
      break;
  }
  Block &body = *r.loops.back().getBody();
  // The accumulator: the one store, of combine(x, load) into the loaded element.
  for (Operation &o : body) {
    if (isa<scf::YieldOp>(o))
      continue;
    if (auto st = dyn_cast<memref::StoreOp>(o)) {
      if (r.accStore)
        return std::nullopt;
      r.accStore = st;
      continue;
    }
    if (o.getNumRegions() != 0 || !(isa<memref::LoadOp>(o) || isPure(&o)))
      return std::nullopt;
  }
  if (!r.accStore || !r.accStore.getValueToStore().getType().isF32())
    return std::nullopt;
  Operation *combine = r.accStore.getValueToStore().getDefiningOp();
  if (!combine || combine->getBlock() != &body ||
      !isa<arith::AddFOp, arith::MaximumFOp, arith::MinimumFOp, arith::MaxNumFOp, arith::MinNumFOp>(combine) ||
      !combine->getResult(0).hasOneUse())
    return std::nullopt;
  for (unsigned i = 0; i < 2; ++i) {
    auto load = combine->getOperand(i).getDefiningOp<memref::LoadOp>();
    if (load && load.getMemRef() == r.accStore.getMemRef() && load.getIndices() == r.accStore.getIndices() &&
        load->getBlock() == &body && load.getResult().hasOneUse()) {
      r.accLoad = load;
      r.element = combine->getOperand(1 - i);
    }
  }
  if (!r.accLoad || r.element == r.accLoad.getResult())
    return std::nullopt;
  r.combine = combine;
  // acc[c]: constant indices, and no other load of the nest may read it.
  if (!llvm::all_of(r.accStore.getIndices(), [](Value v) { return getConstantIntValue(v).has_value(); }))
    return std::nullopt;
  std::string unused;
  llvm::raw_string_ostream sink(unused);
  KernelWriter w(f, sink);
  FailureOr<Span> acc = spanOf(w, r.accStore.getMemRef());
  if (failed(acc) || !acc->root.global.empty())
    return std::nullopt;
  for (Operation &o : body) {
    if (&o == r.accLoad.getOperation() || &o == combine || &o == r.accStore.getOperation() || isa<scf::YieldOp>(o))
      continue;
    if (auto load = dyn_cast<memref::LoadOp>(o)) {
      FailureOr<Span> span = spanOf(w, load.getMemRef());
      if (failed(span) || span->overlaps(*acc))
        return std::nullopt;
    }
    r.body.push_back(&o);
  }
  return r;
}
