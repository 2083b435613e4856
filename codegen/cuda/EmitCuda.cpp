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

/// The program being written: source text and each entry's launches.
class ProgramWriter {
public:
  ProgramWriter(ModuleOp module, cuda::GpuPrecision precision) : module(module), precision(precision) {}
  LogicalResult run(cuda::GpuProgram &out);

private:
  LogicalResult emitEntry(func::FuncOp f, GpuEntry &entry);
  LogicalResult emitLoopKernel(func::FuncOp f, ArrayRef<scf::ParallelOp> group, GpuEntry &entry,
                               ArrayRef<scf::ForOp> outer = {});
  LogicalResult emitSerialKernel(func::FuncOp f, ArrayRef<Operation *> ops, GpuEntry &entry);
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

LogicalResult ProgramWriter::emitLoopKernel(func::FuncOp f, ArrayRef<scf::ParallelOp> group,
                                            GpuEntry &entry, ArrayRef<scf::ForOp> outer) {
  scf::ParallelOp par = group.front();
  if (!par.getInitVals().empty())
    return par.emitError("CUDA codegen: scf.parallel with reductions"), failure();
  std::string body;
  llvm::raw_string_ostream bos(body);
  KernelWriter w(f, bos);
  // Trip counts (static), then one thread per point of the iteration space.
  SmallVector<int64_t> lbs, steps, trips;
  uint64_t total = 1;
  for (auto [lbV, ubV, stV] : llvm::zip(par.getLowerBound(), par.getUpperBound(), par.getStep())) {
    std::optional<int64_t> lb = getConstantIntValue(lbV), ub = getConstantIntValue(ubV),
                           st = getConstantIntValue(stV);
    if (!lb || !ub || !st || *st <= 0)
      return par.emitError("CUDA codegen: loop bounds must be constants"), failure();
    lbs.push_back(*lb);
    steps.push_back(*st);
    trips.push_back(std::max<int64_t>(0, (*ub - *lb + *st - 1) / *st));
    total *= uint64_t(trips.back());
  }
  if (total == 0)
    return success();
  if (total >= (uint64_t(1) << 31) * kThreadsPerBlock)
    return par.emitError("CUDA codegen: loop nest too large for one launch"), failure();
  const char *linear = total <= 0xffffffffu ? "unsigned" : "unsigned long long";
  bos << "  const " << linear << " t = blockIdx.x * " << linear << "(blockDim.x) + threadIdx.x;\n";
  bos << "  if (t >= " << total << "u) return;\n";
  unsigned n = par.getNumLoops();
  std::string rest = "t";
  for (int i = int(n) - 1; i >= 0; --i) {
    std::string iv = "i" + std::to_string(i);
    std::string pos = i == 0 ? rest : "(" + rest + " % " + std::to_string(trips[i]) + "u)";
    std::string value = "(long long)" + pos;
    if (steps[i] != 1)
      value += " * " + std::to_string(steps[i]);
    if (lbs[i] != 0)
      value += " + " + std::to_string(lbs[i]);
    bos << "  const long long " << iv << " = " << value << ";\n";
    if (i > 0)
      rest = "(" + rest + " / " + std::to_string(trips[i]) + "u)";
    w.names[par.getInductionVars()[i]] = iv;
  }
  // Fused nests run one after another in the same thread, on the same
  // iteration point (fusible() checked that this keeps every dependence).
  // Serial loops around the parallel one (interchanged: see interchangeable()),
  // each thread running them in their order.
  unsigned indent = 1;
  for (scf::ForOp loop : outer) {
    FailureOr<std::string> lb = w.expr(loop.getLowerBound()), ub = w.expr(loop.getUpperBound()),
                           step = w.expr(loop.getStep());
    if (failed(lb) || failed(ub) || failed(step))
      return failure();
    std::string iv = w.fresh("j");
    w.names[loop.getInductionVar()] = iv;
    bos.indent(indent * 2) << "for (long long " << iv << " = " << *lb << "; " << iv << " < " << *ub << "; "
                           << iv << " += " << *step << ") {\n";
    ++indent;
  }
  for (scf::ParallelOp p : group) {
    for (unsigned i = 0; i < n; ++i)
      w.names[p.getInductionVars()[i]] = "i" + std::to_string(i);
    if (failed(w.captureOperands(outer.empty() ? p.getOperation() : scf::ForOp(outer.front()).getOperation())) ||
        failed(w.emitBlock(*p.getBody(), indent)))
      return failure();
  }
  while (indent > 1)
    bos.indent(--indent * 2) << "}\n";
  std::string name = kernelName(f, group.size() > 1 ? "loops" : "loop");
  std::string shape;
  for (int64_t t : trips)
    shape += (shape.empty() ? "" : "x") + std::to_string(t);
  finishKernel(name, w, body,
               "one thread per point of " + shape +
                   (group.size() > 1 ? ", " + std::to_string(group.size()) + " loop nests fused" : "") +
                   (outer.empty() ? "" : ", the serial loops around it inside each thread"),
               par.getLoc(), {unsigned((total + kThreadsPerBlock - 1) / kThreadsPerBlock), 1, 1},
               {kThreadsPerBlock, 1, 1}, entry);
  return success();
}

LogicalResult ProgramWriter::emitSerialKernel(func::FuncOp f, ArrayRef<Operation *> ops, GpuEntry &entry) {
  if (ops.empty())
    return success();
  std::string body;
  llvm::raw_string_ostream bos(body);
  KernelWriter w(f, bos);
  w.statements.insert(ops.begin(), ops.end());
  for (Operation *op : ops)
    if (failed(w.captureOperands(op)))
      return failure();
  if (failed(w.emitOps(ops, 1)))
    return failure();
  std::string name = kernelName(f, "serial");
  finishKernel(name, w, body, "scalar statements, one thread", ops.front()->getLoc(), {1, 1, 1}, {1, 1, 1},
               entry);
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
  SmallVector<scf::ParallelOp> loops; // adjacent fusible loop nests: one kernel
  auto flushLoops = [&]() {
    LogicalResult r = loops.empty() ? success() : emitLoopKernel(f, loops, entry);
    loops.clear();
    return r;
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
        if (failed(flush()) || failed(emitLoopKernel(f, {inner}, entry, chain)))
          return failure();
        continue;
      }
    }
    if (auto call = dyn_cast<KernelCallOp>(op)) {
      if (failed(flush()))
        return failure();
      if (failed(emitCallKernels(f, call, entry)))
        return failure();
      continue;
    }
    serial.push_back(&op);
  }
  if (failed(flushLoops()))
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

