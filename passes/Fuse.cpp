//===- Fuse.cpp - kiln-fuse: group ops into kernels ------------------------===//
//
// Every compute op ends up in exactly one kiln.fusion (one kernel). Groups
// grow by the rules of Passes.td / docs/passes.md, in program order, and a
// merge is made only when the graph of groups stays acyclic (otherwise a
// group would need its own output as an input).
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"
#include "passes/Passes.h"
#include "mlir/Analysis/TopologicalSortUtils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

namespace kiln {
#define GEN_PASS_DEF_FUSE
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// What an op is to the fusion rules.
enum class Role { Outside, Elementwise, Anchor, Reduction, Other };

Role roleOf(Operation *op) {
  if (isa<ReadParamOp, ConstantOp, ReshapeOp, AssignOp, GradientOp>(op) ||
      op->hasTrait<OpTrait::IsTerminator>())
    return Role::Outside;
  if (op->hasTrait<OpTrait::Elementwise>() ||
      isa<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp, PowOp, GreaterOp, GreaterEqualOp, EqualOp,
          BroadcastToOp, DropoutOp, DropoutMaskOp, OneHotOp>(op))
    return Role::Elementwise;
  if (isa<MatMulOp, Conv2DOp, Conv2DBackpropInputOp, Conv2DBackpropFilterOp, MaxPool2DOp,
          AvgPool2DOp, MaxPool2DGradOp, AvgPool2DGradOp>(op))
    return Role::Anchor;
  if (isa<ReduceSumOp, ReduceMeanOp, ReduceMaxOp, ReduceMinOp, SoftmaxOp, LogSoftmaxOp,
          MeanSquaredErrorOp, MeanAbsoluteErrorOp, BinaryCrossentropyOp,
          CategoricalCrossentropyOp, SparseCategoricalCrossentropyOp, AccuracyOp>(op))
    return Role::Reduction;
  return Role::Other; // transpose, slice, concat: kernels of their own
}

} // namespace

bool kiln::isKernelOp(Operation *op) { return roleOf(op) != Role::Outside; }

namespace {

/// Groups of one block's ops. Ops outside kernels keep singleton groups, so
/// that paths through them count when checking for cycles.
class Groups {
public:
  explicit Groups(Block &block) {
    for (Operation &op : block) {
      groupOf[&op] = members.size();
      members.push_back({&op});
    }
  }

  unsigned of(Operation *op) const { return groupOf.lookup(op); }
  ArrayRef<Operation *> ops(unsigned g) const { return members[g]; }
  /// Whether every op of group g is elementwise (rules 4 and 5 move only such groups).
  bool allElementwise(unsigned g) const;
  unsigned size() const { return members.size(); }

  /// Merges group `b` into `a` if that keeps the group graph acyclic.
  bool tryMerge(unsigned a, unsigned b) {
    if (a == b)
      return true;
    if (reachesThroughOthers(a, b) || reachesThroughOthers(b, a))
      return false;
    for (Operation *op : members[b]) {
      groupOf[op] = a;
      members[a].push_back(op);
    }
    members[b].clear();
    return true;
  }

private:
  /// Groups that read a result of group `g`.
  SmallVector<unsigned> successors(unsigned g) const {
    SmallVector<unsigned> out;
    for (Operation *op : members[g])
      for (Operation *user : op->getUsers()) {
        Operation *top = op->getBlock()->findAncestorOpInBlock(*user);
        unsigned h = top ? of(top) : g;
        if (h != g && !llvm::is_contained(out, h))
          out.push_back(h);
      }
    return out;
  }

  /// Whether a path a -> x -> ... -> b exists with x neither a nor b.
  bool reachesThroughOthers(unsigned a, unsigned b) const {
    SmallVector<unsigned> stack;
    llvm::DenseSet<unsigned> seen{a, b};
    for (unsigned s : successors(a))
      if (seen.insert(s).second)
        stack.push_back(s);
    while (!stack.empty()) {
      unsigned g = stack.pop_back_val();
      for (unsigned s : successors(g)) {
        if (s == b)
          return true;
        if (seen.insert(s).second)
          stack.push_back(s);
      }
    }
    return false;
  }

  DenseMap<Operation *, unsigned> groupOf;
  std::vector<SmallVector<Operation *>> members;
};

bool Groups::allElementwise(unsigned g) const {
  return llvm::all_of(ops(g), [](Operation *o) { return roleOf(o) == Role::Elementwise; });
}

bool singleUser(Value v, Operation *user) {
  return llvm::all_of(v.getUsers(), [&](Operation *u) { return u == user; });
}

struct Fuse : kiln::impl::FuseBase<Fuse> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    Block &block = func.getBody().front();
    Groups groups(block);
    SmallVector<Operation *> order;
    for (Operation &op : block)
      order.push_back(&op);

    // Rules 1 and 2, in program order.
    for (Operation *op : order) {
      Role role = roleOf(op);
      bool unaryLike = llvm::count_if(op->getOperands(), [](Value v) {
                         return !v.getDefiningOp<ConstantOp>();
                       }) == 1;
      for (Value x : op->getOperands()) {
        Operation *producer = x.getDefiningOp();
        // A value with other users is computed in the group anyway (and goes
        // out of it too); a one-input elementwise op (an activation, or
        // its derivative's mask) comes along.
        bool sole = singleUser(x, op) || (role == Role::Elementwise && unaryLike);
        if (!producer || producer->getBlock() != &block || !sole)
          continue;
        Role from = roleOf(producer);
        bool epilogue = role == Role::Elementwise &&
                        (from == Role::Elementwise || from == Role::Anchor ||
                         from == Role::Reduction);
        bool prologue = role == Role::Reduction && from == Role::Elementwise;
        if ((epilogue || prologue) && groups.tryMerge(groups.of(producer), groups.of(op)))
          break;
      }
    }

    // Rule 3: a reduction in a group without contraction or other reduction
    // (its epilogue aside) joins a contraction reading the same value.
    for (Operation *op : order) {
      if (roleOf(op) != Role::Reduction ||
          llvm::any_of(groups.ops(groups.of(op)), [&](Operation *o) {
            return o != op && roleOf(o) != Role::Elementwise;
          }))
        continue;
      for (Operation *user : op->getOperand(0).getUsers())
        if (user != op && user->getBlock() == &block && roleOf(user) == Role::Anchor &&
            groups.tryMerge(groups.of(user), groups.of(op)))
          break;
    }

    // Rule 4: an elementwise group whose results all go to one other group
    // is that group's prologue (applied as its operands are loaded).
    for (Operation *op : order) {
      unsigned g = groups.of(op);
      if (roleOf(op) == Role::Outside || groups.ops(g).front() != op ||
          !groups.allElementwise(g))
        continue;
      std::optional<unsigned> consumer;
      bool one = true;
      for (Operation *member : groups.ops(g))
        for (Operation *user : member->getUsers()) {
          unsigned h = groups.of(user);
          if (h == g)
            continue;
          if (roleOf(user) == Role::Outside || (consumer && *consumer != h))
            one = false;
          consumer = h;
        }
      if (one && consumer)
        (void)groups.tryMerge(*consumer, g);
    }

    // Rule 5: the update. Candidates are all-elementwise groups whose results
    // go only to kiln.assign or to other candidates (a fixed point); of those,
    // the ones that lead to an assign are merged, in program order.
    llvm::SetVector<unsigned> candidates;
    for (Operation *op : order) {
      unsigned g = groups.of(op);
      if (roleOf(op) != Role::Outside && groups.allElementwise(g))
        candidates.insert(g);
    }
    for (bool changed = true; changed;) {
      changed = false;
      for (unsigned g : SmallVector<unsigned>(candidates.getArrayRef()))
        for (Operation *op : groups.ops(g))
          for (Operation *user : op->getUsers()) {
            unsigned h = groups.of(user);
            if (!isa<AssignOp>(user) && h != g && !candidates.contains(h) && candidates.remove(g))
              changed = true;
          }
    }
    SmallVector<unsigned> update;
    for (unsigned g : candidates)
      if (reachesAssign(groups, g, candidates))
        update.push_back(g);
    // A merge can wait for the group on a path between the two; repeat until
    // nothing more merges (what would still make a cycle stays on its own).
    for (bool merged = true; merged;) {
      merged = false;
      for (unsigned &g : update)
        if (g != update.front() && g != ~0u && groups.tryMerge(update.front(), g)) {
          g = ~0u;
          merged = true;
        }
    }

    build(block, groups, order);
  }

  static bool reachesAssign(const Groups &groups, unsigned g,
                            const llvm::SetVector<unsigned> &candidates) {
    SmallVector<unsigned> stack{g};
    llvm::DenseSet<unsigned> seen{g};
    while (!stack.empty()) {
      unsigned x = stack.pop_back_val();
      for (Operation *op : groups.ops(x))
        for (Operation *user : op->getUsers()) {
          if (isa<AssignOp>(user))
            return true;
          unsigned h = groups.of(user);
          if (candidates.contains(h) && seen.insert(h).second)
            stack.push_back(h);
        }
    }
    return false;
  }

  /// Wraps each group of compute ops in a kiln.fusion.
  void build(Block &block, Groups &groups, ArrayRef<Operation *> order) {
    llvm::SetVector<unsigned> built;
    for (Operation *op : order)
      if (roleOf(op) != Role::Outside)
        built.insert(groups.of(op));
    for (unsigned g : built) {
      SmallVector<Operation *> ops(groups.ops(g));
      llvm::sort(ops, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
      wrap(ops);
      ++numGroups;
      if (ops.size() > 1)
        numFused += ops.size();
    }
    if (!sortTopologically(&block)) {
      getOperation().emitError("internal error: kiln-fuse made a cycle of groups");
      signalPassFailure();
    }
  }

  /// The group's name: its first contraction / convolution / pooling, else
  /// its first reduction, else `update` or `elementwise`.
  static std::string kindOf(ArrayRef<Operation *> ops) {
    for (Role want : {Role::Anchor, Role::Reduction, Role::Other})
      for (Operation *op : ops)
        if (roleOf(op) == want)
          return op->getName().stripDialect().str();
    for (Operation *op : ops)
      for (Operation *user : op->getUsers())
        if (isa<AssignOp>(user))
          return "update";
    return "elementwise";
  }

  void wrap(ArrayRef<Operation *> ops) {
    llvm::SmallPtrSet<Operation *, 16> inGroup(ops.begin(), ops.end());
    llvm::SetVector<Value> inputs;
    SmallVector<Value> outputs;
    for (Operation *op : ops) {
      for (Value v : op->getOperands()) {
        Operation *def = v.getDefiningOp();
        if (!(def && inGroup.contains(def)) && !(def && isa<ConstantOp>(def)))
          inputs.insert(v);
      }
      for (Value r : op->getResults())
        if (llvm::any_of(r.getUsers(), [&](Operation *u) { return !inGroup.contains(u); }))
          outputs.push_back(r);
    }
    Operation *last = ops.back();
    OpBuilder b(last->getContext());
    b.setInsertionPointAfter(last);
    SmallVector<Type> resultTypes;
    for (Value v : outputs)
      resultTypes.push_back(v.getType());
    auto fusion = b.create<FusionOp>(last->getLoc(), resultTypes, inputs.getArrayRef(),
                                     b.getStringAttr(kindOf(ops)));
    Block *body = b.createBlock(&fusion.getBody());
    IRMapping map;
    for (Value v : inputs)
      map.map(v, body->addArgument(v.getType(), v.getLoc()));
    b.setInsertionPointToStart(body);
    for (Operation *op : ops)
      for (Value v : op->getOperands())
        if (auto c = v.getDefiningOp<ConstantOp>(); c && !map.contains(v))
          map.map(v, b.clone(*c)->getResult(0));
    for (Operation *op : ops)
      b.clone(*op, map);
    SmallVector<Value> yielded;
    for (Value v : outputs)
      yielded.push_back(map.lookup(v));
    b.create<YieldOp>(last->getLoc(), yielded);
    for (auto [v, r] : llvm::zip(outputs, fusion.getResults()))
      v.replaceAllUsesWith(r);
    for (Operation *op : llvm::reverse(ops))
      op->erase();
  }
};

} // namespace
