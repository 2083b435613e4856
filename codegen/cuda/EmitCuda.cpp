//===- EmitCuda.cpp - bufferized loops -> CUDA C++ and launch lists -------===//
//
// Input: a module from cuda::lowerToLoops. Each entry point is a flat list of
// statements over memrefs that are views into its arguments (inputs,
// parameters, outputs, scratch arena). Each statement becomes kernels:
//
//   scf.parallel (outermost)  one kernel, one thread per iteration of its
//                             parallel dimensions (the last dimension varies
//                             fastest across threads: coalesced for NHWC);
//                             reductions are the serial scf.for loops inside
//   kiln.kernel_call          the kernels/cuda template's phases (GEMM and
//                             convolutions), descriptor as a constexpr
//   other statements          consecutive ones form a one-thread kernel
//                             (scalar updates: loss / metric normalisation,
//                             the optimizer's bias corrections)
//
// Kernels take nothing but pointers; each is a GpuArg (buffer, byte offset)
// of the launch. Views (memref.view / collapse / expand / subview) are
// resolved at compile time: all shapes, strides and offsets are static.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/CudaBackend.h"
#include "codegen/cuda/KernelPlans.h"
#include "codegen/cuda/KernelWriter.h"
#include "codegen/cuda/LoopNests.h"
#include "ir/KilnOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/Support/raw_ostream.h"
#include <cstring>

using namespace mlir;
using namespace kiln;
using kiln::cuda::KernelWriter;
using kiln::cuda::Root;
using kiln::cuda::floatLiteral;
using kiln::cuda::fusible;
using kiln::cuda::interchangeable;
using kiln::cuda::isDeclarative;

namespace {

constexpr unsigned kThreadsPerBlock = 256;
// Independent loop nests per launch, at most (keeps kernels readable).
constexpr size_t kMaxNestsPerLaunch = 16;

/// The program being written: source text and each entry's launches.
class ProgramWriter {
public:
  ProgramWriter(ModuleOp module, cuda::GpuPrecision precision) : module(module), precision(precision) {}
  LogicalResult run(cuda::GpuProgram &out);

private:
  LogicalResult emitEntry(func::FuncOp f, GpuEntry &entry);
  /// Loop nests that become one kernel's threads: vertically fused ones
  /// (one thread runs each in turn), or one with serial loops around it.
  struct Nest {
    SmallVector<scf::ParallelOp> group;
    SmallVector<scf::ForOp> outer;
  };
  struct NestShape {
    SmallVector<int64_t> lbs, steps, trips; // of the parallel dimensions
    uint64_t total = 1;                      // threads
    std::string text;                        // "64x10, 2 loop nests fused"
  };
  FailureOr<NestShape> shapeOf(const Nest &nest);
  /// Writes `nest`'s code to w.os: thread t of the nest is threadIdx.x of
  /// block `block` (a C expression) of the nest's blocks.
  LogicalResult writeNest(func::FuncOp f, const Nest &nest, const NestShape &shape, KernelWriter &w,
                          const std::string &block, unsigned indent);
  /// The pointers `nest` would take, with the bytes it touches through each.
  FailureOr<std::vector<KernelWriter::Param>> footprint(func::FuncOp f, const Nest &nest);
  /// One launch for `nests`, which conflict() found independent.
  LogicalResult emitLoopKernel(func::FuncOp f, ArrayRef<Nest> nests, GpuEntry &entry);
  LogicalResult emitSerialKernel(func::FuncOp f, ArrayRef<Operation *> ops, GpuEntry &entry);
  bool segmentsSeparable(func::FuncOp f, ArrayRef<Operation *> ops,
                         ArrayRef<std::optional<cuda::ScalarReduction>> reductions);
  /// A serial kernel with ScalarReductions: one block; thread 0 runs the
  /// other statements, every thread folds a share of each reduction.
  LogicalResult emitReductionKernel(func::FuncOp f, ArrayRef<Operation *> ops,
                                    ArrayRef<std::optional<cuda::ScalarReduction>> reductions, GpuEntry &entry);
  LogicalResult emitCallKernels(func::FuncOp f, KernelCallOp call, GpuEntry &entry);
  LogicalResult emitGlobals();
  std::string kernelName(func::FuncOp f, StringRef kind) {
    return f.getName().str() + "_k" + std::to_string(kernelCount++) + "_" + kind.str();
  }
  /// Writes the kernel `name` (parameters from `w`, then `body`) and appends
  /// its launch to `entry`.
  void finishKernel(const std::string &name, KernelWriter &w, const std::string &body,
                    const std::string &comment, Location loc, const unsigned (&grid)[3],
                    const unsigned (&block)[3], GpuEntry &entry);

  ModuleOp module;
  cuda::GpuPrecision precision;
  std::string source, emulation;
  llvm::raw_string_ostream os{source};
  unsigned kernelCount = 0;
};

std::string locationText(Location loc) {
  if (auto f = dyn_cast<FileLineColLoc>(loc))
    return f.getFilename().str() + ":" + std::to_string(f.getLine()) + ":" + std::to_string(f.getColumn());
  if (auto n = dyn_cast<NameLoc>(loc))
    return locationText(n.getChildLoc());
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location l : fused.getLocations()) {
      std::string s = locationText(l);
      if (!s.empty())
        return s;
    }
  if (auto c = dyn_cast<CallSiteLoc>(loc))
    return locationText(c.getCallee());
  return "";
}

void ProgramWriter::finishKernel(const std::string &name, KernelWriter &w, const std::string &body,
                                 const std::string &comment, Location loc, const unsigned (&grid)[3],
                                 const unsigned (&block)[3], GpuEntry &entry) {
  GpuLaunch launch;
  launch.kernel = name;
  std::copy(grid, grid + 3, launch.grid);
  std::copy(block, block + 3, launch.block);
  for (auto &p : w.params)
    launch.args.push_back({uint32_t(p.root.buffer), p.root.byteOffset});
  entry.launches.push_back(std::move(launch));
  unsigned threads = block[0] * block[1] * block[2];
  std::string where = locationText(loc);
  os << "\n// " << comment << (where.empty() ? "" : " (" + where + ")") << "\n";
  os << "extern \"C\" __global__ void __launch_bounds__(" << threads << ") " << name << "(";
  // __restrict__ where nothing else in the kernel touches the same bytes
  // (buffers are distinct allocations; views into one are compared by their
  // static footprints): the compiler may then keep a value in a register
  // across stores, as a reduction's accumulator.
  for (size_t i = 0; i < w.params.size(); ++i) {
    auto &p = w.params[i];
    os << (i ? ", " : "") << (p.written ? "" : "const ") << p.type << " *"
       << (w.mayRestrict(i) ? "__restrict__ " : "") << p.name;
  }
  os << ") {\n" << body << "}\n";
  // For tests without a GPU: kernels/cuda/Emulate.h runs kernels on the CPU
  // through these (argument i = the launch's pointer i).
  llvm::raw_string_ostream e(emulation);
  e << "extern \"C\" void kiln_emulate_" << name
    << "(const unsigned *grid, const unsigned *block, void *const *args) {\n"
    << "  kiln_cuda_emu::launch(dim3(grid[0], grid[1], grid[2]), dim3(block[0], block[1], block[2]), [&] { "
    << name << "(";
  for (size_t i = 0; i < w.params.size(); ++i)
    e << (i ? ", " : "") << "(" << w.params[i].type << " *)args[" << i << "]";
  e << "); });\n}\n";
  // How many pointers it takes (a fake driver copies that many kernel params).
  e << "extern \"C\" const int kiln_emulate_nargs_" << name << " = " << w.params.size() << ";\n";
}

FailureOr<ProgramWriter::NestShape> ProgramWriter::shapeOf(const Nest &nest) {
  scf::ParallelOp par = nest.group.front();
  if (!par.getInitVals().empty())
    return par.emitError("CUDA codegen: scf.parallel with reductions"), failure();
  NestShape shape;
  for (auto [lbV, ubV, stV] : llvm::zip(par.getLowerBound(), par.getUpperBound(), par.getStep())) {
    std::optional<int64_t> lb = getConstantIntValue(lbV), ub = getConstantIntValue(ubV),
                           st = getConstantIntValue(stV);
    if (!lb || !ub || !st || *st <= 0)
      return par.emitError("CUDA codegen: loop bounds must be constants"), failure();
    shape.lbs.push_back(*lb);
    shape.steps.push_back(*st);
    shape.trips.push_back(std::max<int64_t>(0, (*ub - *lb + *st - 1) / *st));
    shape.total *= uint64_t(shape.trips.back());
  }
  if (shape.total >= (uint64_t(1) << 31) * kThreadsPerBlock)
    return par.emitError("CUDA codegen: loop nest too large for one launch"), failure();
  for (int64_t t : shape.trips)
    shape.text += (shape.text.empty() ? "" : "x") + std::to_string(t);
  shape.text += nest.group.size() > 1 ? ", " + std::to_string(nest.group.size()) + " loop nests fused" : "";
  shape.text += nest.outer.empty() ? "" : ", the serial loops around it inside each thread";
  return shape;
}

LogicalResult ProgramWriter::writeNest(func::FuncOp f, const Nest &nest, const NestShape &shape, KernelWriter &w,
                                       const std::string &block, unsigned indent) {
  scf::ParallelOp par = nest.group.front();
  llvm::raw_ostream &bos = w.os;
  // One thread per point of the iteration space.
  const char *linear = shape.total <= 0xffffffffu ? "unsigned" : "unsigned long long";
  bos.indent(indent * 2) << "const " << linear << " t = " << block << " * " << linear
                         << "(blockDim.x) + threadIdx.x;\n";
  bos.indent(indent * 2) << "if (t >= " << shape.total << "u) return;\n";
  unsigned n = par.getNumLoops();
  std::string rest = "t";
  for (int i = int(n) - 1; i >= 0; --i) {
    std::string iv = "i" + std::to_string(i);
    std::string pos = i == 0 ? rest : "(" + rest + " % " + std::to_string(shape.trips[i]) + "u)";
    std::string value = "(long long)" + pos;
    if (shape.steps[i] != 1)
      value += " * " + std::to_string(shape.steps[i]);
    if (shape.lbs[i] != 0)
      value += " + " + std::to_string(shape.lbs[i]);
    bos.indent(indent * 2) << "const long long " << iv << " = " << value << ";\n";
    if (i > 0)
      rest = "(" + rest + " / " + std::to_string(shape.trips[i]) + "u)";
    w.names[par.getInductionVars()[i]] = iv;
  }
  // Fused nests run one after another in the same thread, on the same
  // iteration point (fusible() checked that this keeps every dependence).
  // Serial loops around the parallel one (interchanged: see interchangeable()),
  // each thread running them in their order.
  unsigned depth = indent;
  for (scf::ForOp loop : nest.outer) {
    FailureOr<std::string> lb = w.expr(loop.getLowerBound()), ub = w.expr(loop.getUpperBound()),
                           step = w.expr(loop.getStep());
    if (failed(lb) || failed(ub) || failed(step))
      return failure();
    std::string iv = w.fresh("j");
    w.names[loop.getInductionVar()] = iv;
    bos.indent(depth * 2) << "for (long long " << iv << " = " << *lb << "; " << iv << " < " << *ub << "; "
                          << iv << " += " << *step << ") {\n";
    ++depth;
  }
  for (scf::ParallelOp p : nest.group) {
    for (unsigned i = 0; i < n; ++i)
      w.names[p.getInductionVars()[i]] = "i" + std::to_string(i);
    if (failed(w.captureOperands(nest.outer.empty() ? p.getOperation()
                                                    : scf::ForOp(nest.outer.front()).getOperation())) ||
        failed(w.emitBlock(*p.getBody(), depth)))
      return failure();
  }
  while (depth > indent)
    bos.indent(--depth * 2) << "}\n";
  return success();
}

FailureOr<std::vector<KernelWriter::Param>> ProgramWriter::footprint(func::FuncOp f, const Nest &nest) {
  std::string body;
  llvm::raw_string_ostream bos(body);
  KernelWriter w(f, bos);
  FailureOr<NestShape> shape = shapeOf(nest);
  if (failed(shape) || failed(writeNest(f, nest, *shape, w, "blockIdx.x", 1)))
    return failure();
  return w.params;
}

/// Whether one of two nests writes bytes the other touches (views of one
/// buffer compared by their static footprints).
bool conflict(ArrayRef<KernelWriter::Param> a, ArrayRef<KernelWriter::Param> b) {
  for (const KernelWriter::Param &p : a)
    for (const KernelWriter::Param &q : b)
      if (p.root.buffer == q.root.buffer && (p.written || q.written) &&
          (!p.bounded() || !q.bounded() || (p.lo < q.hi && q.lo < p.hi)))
        return true;
  return false;
}

LogicalResult ProgramWriter::emitLoopKernel(func::FuncOp f, ArrayRef<Nest> nests, GpuEntry &entry) {
  scf::ParallelOp first = nests.front().group.front();
  std::string body;
  llvm::raw_string_ostream bos(body);
  KernelWriter w(f, bos);
  if (nests.size() == 1) {
    FailureOr<NestShape> shape = shapeOf(nests.front());
    if (failed(shape))
      return failure();
    if (shape->total == 0)
      return success();
    if (failed(writeNest(f, nests.front(), *shape, w, "blockIdx.x", 1)))
      return failure();
    std::string name = kernelName(f, nests.front().group.size() > 1 ? "loops" : "loop");
    finishKernel(name, w, body, "one thread per point of " + shape->text, first.getLoc(),
                 {unsigned((shape->total + kThreadsPerBlock - 1) / kThreadsPerBlock), 1, 1},
                 {kThreadsPerBlock, 1, 1}, entry);
    return success();
  }
  // Independent nests in one launch: each takes a range of whole blocks (no
  // warp runs two nests), each branch a scope of its own.
  uint64_t blocks = 0;
  std::string shapes;
  bos << "  const unsigned b = blockIdx.x;\n";
  for (const Nest &nest : nests) {
    FailureOr<NestShape> shape = shapeOf(nest);
    if (failed(shape))
      return failure();
    if (shape->total == 0)
      continue;
    std::string block = blocks ? "(b - " + std::to_string(blocks) + "u)" : "b";
    blocks += (shape->total + kThreadsPerBlock - 1) / kThreadsPerBlock;
    bos << (shapes.empty() ? "  if" : "  else if") << " (b < " << blocks << "u) { // " << shape->text << "\n";
    llvm::DenseMap<Value, std::string> names = w.names; // what a branch defines ends with its scope
    if (failed(writeNest(f, nest, *shape, w, block, 2)))
      return failure();
    w.names = std::move(names);
    bos << "  }\n";
    shapes += (shapes.empty() ? "" : "; ") + shape->text;
  }
  if (blocks == 0)
    return success();
  if (blocks >= (uint64_t(1) << 31))
    return first.emitError("CUDA codegen: loop nests too large for one launch"), failure();
  std::string name = kernelName(f, "batch");
  finishKernel(name, w, body,
               std::to_string(nests.size()) + " independent loop nests in one launch, one thread per point of " +
                   shapes,
               first.getLoc(), {unsigned(blocks), 1, 1}, {kThreadsPerBlock, 1, 1}, entry);
  return success();
}

LogicalResult ProgramWriter::emitSerialKernel(func::FuncOp f, ArrayRef<Operation *> ops, GpuEntry &entry) {
  if (ops.empty())
    return success();
  // Statements that fold a loop nest's elements into a scalar run on a
  // block of threads: a regularizer's sum over a weight matrix in one
  // thread would take milliseconds.
  std::vector<std::optional<cuda::ScalarReduction>> reductions;
  bool parallel = false;
  for (Operation *op : ops) {
    auto loop = dyn_cast<scf::ForOp>(op);
    reductions.push_back(loop ? cuda::scalarReduction(f, loop) : std::nullopt);
    parallel |= reductions.back().has_value();
  }
  if (parallel && segmentsSeparable(f, ops, reductions))
    return emitReductionKernel(f, ops, reductions, entry);
  std::string body;
  llvm::raw_string_ostream bos(body);
  KernelWriter w(f, bos);
  if (failed(w.startStatements(ops)) || failed(w.emitOps(ops, 1)))
    return failure();
  std::string name = kernelName(f, "serial");
  finishKernel(name, w, body, "scalar statements, one thread", ops.front()->getLoc(), {1, 1, 1}, {1, 1, 1},
               entry);
  return success();
}

/// Segments of a serial kernel: each reduction alone, and the runs of other
/// statements between them. Thread 0 runs the others inside `if` scopes, so
/// a value one segment defines must not be used by another.
bool ProgramWriter::segmentsSeparable(func::FuncOp f, ArrayRef<Operation *> ops,
                                      ArrayRef<std::optional<cuda::ScalarReduction>> reductions) {
  llvm::DenseMap<Operation *, unsigned> segment;
  unsigned current = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (reductions[i] || (i > 0 && reductions[i - 1]))
      ++current;
    segment[ops[i]] = current;
  }
  Block &top = f.getBody().front();
  for (Operation *op : ops) {
    WalkResult r = op->walk([&](Operation *inner) {
      for (Value v : inner->getOperands()) {
        Operation *def = v.getDefiningOp();
        Operation *owner = def ? top.findAncestorOpInBlock(*def) : nullptr;
        auto it = owner ? segment.find(owner) : segment.end();
        if (it != segment.end() && it->second != segment[op])
          return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      return false;
  }
  return true;
}

LogicalResult ProgramWriter::emitReductionKernel(func::FuncOp f, ArrayRef<Operation *> ops,
                                                 ArrayRef<std::optional<cuda::ScalarReduction>> reductions,
                                                 GpuEntry &entry) {
  std::string body;
  llvm::raw_string_ostream bos(body);
  KernelWriter w(f, bos);
  if (failed(w.startStatements(ops)))
    return failure();
  const unsigned threads = kThreadsPerBlock;
  bos << "  const unsigned tid = threadIdx.x;\n";
  bos << "  __shared__ float kiln_partial[" << threads << "];\n";
  size_t lastReduction = 0;
  for (size_t i = 0; i < ops.size(); ++i)
    if (reductions[i])
      lastReduction = i;
  uint64_t elements = 0;
  for (size_t i = 0; i < ops.size();) {
    if (!reductions[i]) { // other statements: thread 0, then everyone sees their stores
      size_t j = i;
      while (j < ops.size() && !reductions[j])
        ++j;
      if (i > lastReduction) {
        bos << "  if (tid != 0) return;\n";
        if (failed(w.emitOps(ops.slice(i, j - i), 1)))
          return failure();
      } else {
        bos << "  if (tid == 0) {\n";
        if (failed(w.emitOps(ops.slice(i, j - i), 2)))
          return failure();
        bos << "  }\n  __syncthreads();\n";
      }
      i = j;
      continue;
    }
    cuda::ScalarReduction r = *reductions[i];
    elements += r.elements;
    auto combine = [&](const std::string &a, const std::string &b) -> std::string {
      if (isa<arith::AddFOp>(r.combine))
        return "(" + a + " + " + b + ")";
      if (isa<arith::MaximumFOp>(r.combine))
        return "kiln_maximumf(" + a + ", " + b + ")";
      if (isa<arith::MinimumFOp>(r.combine))
        return "kiln_minimumf(" + a + ", " + b + ")";
      return std::string(isa<arith::MaxNumFOp>(r.combine) ? "fmaxf(" : "fminf(") + a + ", " + b + ")";
    };
    const char *identity = isa<arith::AddFOp>(r.combine) ? "0.0f"
                           : isa<arith::MaximumFOp, arith::MaxNumFOp>(r.combine) ? "-__int_as_float(0x7f800000)"
                                                                                  : "__int_as_float(0x7f800000)";
    // Thread tid folds elements tid, tid + T, ... (consecutive threads read
    // consecutive elements), then a fixed tree combines the T partials. One
    // block: unrolled, so that each thread has 16 loads in flight (NVVM
    // unrolls by 4 on its own).
    bos << "  {\n    float part = " << identity << ";\n";
    bos << "#pragma unroll 16\n";
    bos << "    for (long long k = tid; k < " << r.elements << "LL; k += " << threads << ") {\n";
    std::string rest = "k";
    for (size_t d = r.loops.size(); d-- > 0;) {
      scf::ForOp loop = r.loops[d];
      int64_t lb = r.lbs[d], st = r.steps[d], trips = r.trips[d];
      std::string pos = d == 0 ? rest : "(" + rest + " % " + std::to_string(trips) + "LL)";
      std::string iv = w.fresh("j");
      bos << "      const long long " << iv << " = " << pos << (st != 1 ? " * " + std::to_string(st) : "")
          << (lb != 0 ? " + " + std::to_string(lb) : "") << ";\n";
      w.names[loop.getInductionVar()] = iv;
      if (d > 0)
        rest = "(" + rest + " / " + std::to_string(trips) + "LL)";
    }
    if (failed(w.emitOps(r.body, 3)))
      return failure();
    FailureOr<std::string> x = w.expr(r.element);
    FailureOr<std::string> acc = w.access(r.accStore.getMemRef(), r.accStore.getIndices());
    FailureOr<Root> root = w.rootOf(r.accStore.getMemRef());
    if (failed(x) || failed(acc) || failed(root))
      return failure();
    w.paramName(*root, r.accStore.getMemRefType().getElementType(), true);
    bos << "      part = " << combine("part", *x) << ";\n    }\n";
    bos << "    kiln_partial[tid] = part;\n    __syncthreads();\n";
    bos << "    for (unsigned s = " << threads / 2 << "; s > 0; s >>= 1) {\n";
    bos << "      if (tid < s)\n        kiln_partial[tid] = " << combine("kiln_partial[tid]", "kiln_partial[tid + s]")
        << ";\n      __syncthreads();\n    }\n";
    bos << "    if (tid == 0)\n      " << *acc << " = " << combine(*acc, "kiln_partial[0]") << ";\n";
    bos << "    __syncthreads();\n  }\n";
    ++i;
  }
  std::string name = kernelName(f, "reduce");
  finishKernel(name, w, body,
               "scalar statements with reductions over " + std::to_string(elements) + " elements, one block of " +
                   std::to_string(threads) + " threads",
               ops.front()->getLoc(), {1, 1, 1}, {threads, 1, 1}, entry);
  return success();
}

LogicalResult ProgramWriter::emitCallKernels(func::FuncOp f, KernelCallOp call, GpuEntry &entry) {
  FailureOr<cuda::KernelPlan> plan = cuda::planKernelCall(call, precision);
  if (failed(plan))
    return failure();
  // Device-function arguments: descriptor, then the pointers in the
  // library's order, with nullptr for an absent bias / db.
  StringRef callee = call.getCallee();
  SmallVector<Value> ins(call.getInputs()), outs(call.getOutputs());
  SmallVector<Value> args; // null Value: nullptr
  if (callee == "kiln_gemm_f32" || callee == "kiln_conv2d_f32") {
    if (ins.size() < 2 || ins.size() > 3 || outs.size() != 2)
      return call.emitError("CUDA codegen: unexpected operands"), failure();
    args = {ins[0], ins[1], ins.size() == 3 ? ins[2] : Value(), outs[0], outs[1]};
  } else if (callee == "kiln_conv2d_backprop_input_f32") {
    if (ins.size() != 2 || outs.size() != 2)
      return call.emitError("CUDA codegen: unexpected operands"), failure();
    args = {ins[0], ins[1], outs[0], outs[1]};
  } else {
    if (ins.size() != 2 || outs.size() < 2 || outs.size() > 3)
      return call.emitError("CUDA codegen: unexpected operands"), failure();
    args = {ins[0], ins[1], outs[0], outs.size() == 3 ? outs[1] : Value(), outs.back()};
  }
  std::string shortName = callee.drop_front(5).drop_back(4).str(); // "gemm", "conv2d", ...
  for (auto [phaseIndex, phase] : llvm::enumerate(plan->phases)) {
    std::string body;
    llvm::raw_string_ostream bos(body);
    KernelWriter w(f, bos);
    std::string callArgs;
    for (auto [i, v] : llvm::enumerate(args)) {
      if (!v) {
        callArgs += ", nullptr";
        continue;
      }
      auto type = cast<MemRefType>(v.getType());
      SmallVector<int64_t> strides;
      int64_t offset;
      if (!memref::isStaticShapeAndContiguousRowMajor(type) ||
          failed(getStridesAndOffset(type, strides, offset)))
        return call.emitError("CUDA codegen: kernel operand is not a dense row-major buffer"), failure();
      FailureOr<Root> root = w.rootOf(v);
      if (failed(root))
        return failure();
      bool isWorkspace = i + 1 == args.size();
      // Workspace bytes are raw: pass them as float (the template's type).
      std::string name = w.paramName(*root, isWorkspace ? Float32Type::get(call.getContext())
                                                        : type.getElementType(),
                                     i >= ins.size() || isWorkspace);
      callArgs += ", " + name + (offset ? " + " + std::to_string(offset) : "");
    }
    bos << "  " << cuda::descriptorDeclaration(call, "g") << "\n";
    bos << "  " << phase.function << "(g" << callArgs << ");\n";
    std::string name = kernelName(f, shortName + (plan->phases.size() > 1
                                                      ? "_p" + std::to_string(phaseIndex)
                                                      : std::string()));
    finishKernel(name, w, body,
                 std::string(callee) + " via " + phase.function + " (" +
                     cuda::precisionName(precision) + ")",
                 call.getLoc(), phase.grid, phase.block, entry);
  }
  return success();
}

LogicalResult ProgramWriter::emitGlobals() {
  for (auto g : module.getOps<memref::GlobalOp>()) {
    auto type = g.getType();
    if (!g.getConstant() || !g.getInitialValue() || !type.getElementType().isF32())
      return g.emitError("CUDA codegen: only f32 constant globals are supported"), failure();
    std::string name = "kiln_global_" + g.getSymName().str();
    for (char &c : name)
      if (!llvm::isAlnum(c))
        c = '_';
    SmallVector<float> values;
    Attribute init = *g.getInitialValue();
    if (auto dense = dyn_cast<DenseElementsAttr>(init)) {
      for (APFloat v : dense.getValues<APFloat>())
        values.push_back(v.convertToFloat());
    } else if (auto res = dyn_cast<DenseResourceElementsAttr>(init)) {
      AsmResourceBlob *blob = res.getRawHandle().getBlob();
      if (!blob)
        return g.emitError("CUDA codegen: constant without data"), failure();
      ArrayRef<char> bytes = blob->getData();
      values.resize(bytes.size() / sizeof(float));
      std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
    } else {
      return g.emitError("CUDA codegen: unsupported constant initializer"), failure();
    }
    if (int64_t(values.size()) != type.getNumElements())
      return g.emitError("CUDA codegen: constant size mismatch"), failure();
    os << "\n__device__ const float " << name << "[" << values.size() << "] = {";
    for (size_t i = 0; i < values.size(); ++i)
      os << (i % 8 ? " " : "\n    ") << floatLiteral(values[i], true) << ",";
    os << "\n};\n";
  }
  return success();
}


LogicalResult ProgramWriter::emitEntry(func::FuncOp f, GpuEntry &entry) {
  entry.symbol = f.getName().str();
  if (auto bytes = f->getAttrOfType<IntegerAttr>("kiln.scratch_bytes"))
    entry.scratchBytes = bytes.getInt();
  os << "\n// ===== entry point " << f.getName() << " =====\n";
  SmallVector<Operation *> serial;
  auto flush = [&]() {
    LogicalResult r = emitSerialKernel(f, serial, entry);
    serial.clear();
    return r;
  };
  // Adjacent fusible loop nests become one nest (`loops`); consecutive nests
  // that touch no memory another one writes become one launch (`batch`):
  // the optimizer's per-parameter updates, for one.
  SmallVector<scf::ParallelOp> loops;
  SmallVector<Nest> batch;
  SmallVector<std::vector<KernelWriter::Param>> touched;
  auto flushBatch = [&]() {
    LogicalResult r = batch.empty() ? success() : emitLoopKernel(f, batch, entry);
    batch.clear();
    touched.clear();
    return r;
  };
  auto addNest = [&](Nest nest) -> LogicalResult {
    FailureOr<std::vector<KernelWriter::Param>> params = footprint(f, nest);
    if (failed(params))
      return failure();
    bool independent = batch.size() < kMaxNestsPerLaunch &&
                       llvm::none_of(touched, [&](const auto &t) { return conflict(t, *params); });
    if (!independent && failed(flushBatch()))
      return failure();
    batch.push_back(std::move(nest));
    touched.push_back(std::move(*params));
    return success();
  };
  auto flushLoops = [&]() {
    if (loops.empty())
      return success();
    Nest nest{SmallVector<scf::ParallelOp>(loops), {}};
    loops.clear();
    return addNest(std::move(nest));
  };
  // Walk the statements, grouping serial ones and fusible loop nests.
  for (Operation &op : f.getBody().front()) {
    if (isDeclarative(op))
      continue;
    if (auto par = dyn_cast<scf::ParallelOp>(op)) {
      if (failed(flush()))
        return failure();
      if (!loops.empty() && !fusible(f, loops, par) && failed(flushLoops()))
        return failure();
      loops.push_back(par);
      continue;
    }
    if (failed(flushLoops()))
      return failure();
    if (auto loop = dyn_cast<scf::ForOp>(op)) {
      SmallVector<scf::ForOp> chain;
      scf::ParallelOp inner;
      if (interchangeable(f, loop, chain, inner)) {
        if (failed(flush()) || failed(addNest(Nest{{inner}, chain})))
          return failure();
        continue;
      }
    }
    if (failed(flushBatch()))
      return failure();
    if (auto call = dyn_cast<KernelCallOp>(op)) {
      if (failed(flush()))
        return failure();
      if (failed(emitCallKernels(f, call, entry)))
        return failure();
      continue;
    }
    serial.push_back(&op);
  }
  if (failed(flushLoops()) || failed(flushBatch()))
    return failure();
  return flush();
}

} // namespace

LogicalResult ProgramWriter::run(cuda::GpuProgram &out) {
  StringRef model = "model";
  if (auto name = module->getAttrOfType<StringAttr>("kiln.model"))
    model = name.getValue();
  os << "// CUDA C++ for the Kiln model '" << model << "', written by kilnc (codegen/cuda).\n"
     << "// GEMM / convolution phases: kernels/cuda (" << cuda::kernelsHeaderName()
     << "), precision " << cuda::precisionName(precision) << ".\n"
     << "// Every kernel takes only pointers: its launch's (buffer, offset) arguments.\n"
     << "#include \"" << cuda::kernelsHeaderName() << "\"\n\n"
     << "// IEEE maximum / minimum: NaN if either operand is NaN (arith.maximumf).\n"
     << "static __device__ __forceinline__ float kiln_maximumf(float a, float b) {\n"
     << "  return a != a || b != b ? __int_as_float(0x7fc00000) : fmaxf(a, b);\n}\n"
     << "static __device__ __forceinline__ float kiln_minimumf(float a, float b) {\n"
     << "  return a != a || b != b ? __int_as_float(0x7fc00000) : fminf(a, b);\n}\n"
     << "template <typename T> static __device__ __forceinline__ T kiln_floordiv(T a, T b) {\n"
     << "  T q = a / b;\n  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;\n}\n"
     << "template <typename T> static __device__ __forceinline__ T kiln_ceildiv(T a, T b) {\n"
     << "  T q = a / b;\n  return (a % b != 0 && ((a < 0) == (b < 0))) ? q + 1 : q;\n}\n";
  if (failed(emitGlobals()))
    return failure();
  for (auto f : module.getOps<func::FuncOp>()) {
    if (f.isExternal() || !f.isPublic())
      continue;
    GpuEntry entry;
    kernelCount = 0;
    if (failed(emitEntry(f, entry)))
      return failure();
    out.entries.push_back(std::move(entry));
  }
  os << "\n#ifdef KILN_CUDA_EMULATE // tests on the CPU: kernels/cuda/Emulate.h\n"
     << emulation << "#endif\n";
  out.source = std::move(source);
  return success();
}

LogicalResult cuda::emitSource(ModuleOp module, GpuPrecision precision, GpuProgram &out) {
  return ProgramWriter(module, precision).run(out);
}

