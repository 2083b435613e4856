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
#include "codegen/Passes.h"
#include "ir/KilnOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/SmallSet.h"
#include <functional>
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"
#include <cmath>

using namespace mlir;
using namespace kiln;

namespace {

constexpr unsigned kThreadsPerBlock = 256;

bool isDeclarative(Operation &op);

/// Where a memref's base pointer lies: an entry argument plus a byte offset,
/// or a module constant (memref.get_global).
struct Root {
  int buffer = -1;
  uint64_t byteOffset = 0;
  std::string global;
  bool operator<(const Root &o) const {
    return std::tie(buffer, byteOffset, global) < std::tie(o.buffer, o.byteOffset, o.global);
  }
};

std::string cType(Type t) {
  if (t.isF32())
    return "float";
  if (t.isF64())
    return "double";
  if (t.isIndex())
    return "long long";
  if (t.isInteger(1))
    return "bool";
  if (t.isInteger(8))
    return "signed char";
  if (t.isInteger(16))
    return "short";
  if (t.isInteger(32))
    return "int";
  if (t.isInteger(64))
    return "long long";
  return "";
}

/// The unsigned type of the same width (wrapping arithmetic, unsigned compares).
std::string unsignedType(Type t) {
  if (t.isInteger(1))
    return "bool";
  if (t.isInteger(8))
    return "unsigned char";
  if (t.isInteger(16))
    return "unsigned short";
  if (t.isInteger(32))
    return "unsigned";
  return "unsigned long long";
}

std::string floatLiteral(double v, bool isF32) {
  if (std::isnan(v))
    return isF32 ? "__int_as_float(0x7fc00000)" : "__longlong_as_double(0x7ff8000000000000LL)";
  if (std::isinf(v))
    return std::string(v < 0 ? "-" : "") + (isF32 ? "__int_as_float(0x7f800000)" : "__longlong_as_double(0x7ff0000000000000LL)");
  std::string s;
  llvm::raw_string_ostream os(s);
  // %a is exact; readable decimal when it round-trips.
  char buf[64];
  snprintf(buf, sizeof buf, isF32 ? "%.9g" : "%.17g", v);
  if ((isF32 ? double(float(strtod(buf, nullptr))) == double(float(v)) : strtod(buf, nullptr) == v)) {
    s = buf;
    if (s.find_first_of(".eEn") == std::string::npos)
      s += ".0";
  } else {
    snprintf(buf, sizeof buf, "%a", v);
    s = buf;
  }
  return isF32 ? s + "f" : s;
}

/// One kernel being written: its parameters (roots it touches) and the C
/// names of SSA values.
class KernelWriter {
public:
  KernelWriter(func::FuncOp entry, llvm::raw_ostream &body) : entry(entry), os(body) {}

  LogicalResult emitBlock(Block &block, unsigned indent);
  /// Writes `ops` (statements of the entry's top level) in order.
  LogicalResult emitOps(ArrayRef<Operation *> ops, unsigned indent);
  /// Writes, at the kernel's start, every pure scalar computed at the entry's
  /// top level that `op` (or anything nested in it) uses: index arithmetic
  /// between statements is recomputed in each kernel that needs it.
  LogicalResult captureOperands(Operation *op);
  /// The C expression of a value (constants and top-level pure scalars are
  /// written inline).
  FailureOr<std::string> expr(Value v);
  FailureOr<std::string> access(Value memref, ValueRange indices);
  FailureOr<Root> rootOf(Value memref);

  struct Param {
    Root root;
    std::string type; // element type
    std::string name;
    bool written = false;
  };
  std::vector<Param> params;
  /// The top-level statements this kernel writes (a serial kernel's): their
  /// values are defined here, not recomputed.
  llvm::SmallPtrSet<Operation *, 16> statements;
  std::string paramName(const Root &root, Type element, bool write);

  llvm::DenseMap<Value, std::string> names;
  func::FuncOp entry;
  llvm::raw_ostream &os;
  unsigned counter = 0;
  std::string fresh(const char *prefix = "v") { return prefix + std::to_string(counter++); }

private:
  LogicalResult emitOp(Operation &op, unsigned indent);
  LogicalResult define(Value v, const std::string &value, unsigned indent);
};

FailureOr<Root> KernelWriter::rootOf(Value memref) {
  if (auto arg = dyn_cast<BlockArgument>(memref)) {
    if (arg.getOwner()->getParentOp() != entry.getOperation())
      return emitError(memref.getLoc(), "CUDA codegen: memref block argument not of the entry point"),
             failure();
    Root r;
    r.buffer = int(arg.getArgNumber());
    return r;
  }
  Operation *def = memref.getDefiningOp();
  if (auto view = dyn_cast<memref::ViewOp>(def)) {
    FailureOr<Root> r = rootOf(view.getSource());
    if (failed(r))
      return failure();
    std::optional<int64_t> shift = getConstantIntValue(view.getByteShift());
    if (!shift || !view.getSizes().empty())
      return view.emitError("CUDA codegen: memref.view needs a constant shift and a static shape"),
             failure();
    r->byteOffset += uint64_t(*shift);
    return r;
  }
  if (auto global = dyn_cast<memref::GetGlobalOp>(def)) {
    Root r;
    r.global = "kiln_global_" + global.getName().str();
    for (char &c : r.global)
      if (!llvm::isAlnum(c))
        c = '_';
    return r;
  }
  if (isa<memref::CollapseShapeOp, memref::ExpandShapeOp, memref::SubViewOp, memref::CastOp,
          memref::ReinterpretCastOp>(def))
    return rootOf(def->getOperand(0));
  return def->emitError("CUDA codegen: cannot follow this memref to an entry argument"), failure();
}

std::string KernelWriter::paramName(const Root &root, Type element, bool write) {
  std::string type = cType(element);
  if (!root.global.empty())
    return root.global;
  for (Param &p : params)
    if (!(p.root < root) && !(root < p.root) && p.type == type) {
      p.written |= write;
      return p.name;
    }
  params.push_back({root, type, "p" + std::to_string(params.size()), write});
  return params.back().name;
}

FailureOr<std::string> KernelWriter::access(Value memref, ValueRange indices) {
  auto type = cast<MemRefType>(memref.getType());
  FailureOr<Root> root = rootOf(memref);
  if (failed(root))
    return failure();
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(getStridesAndOffset(type, strides, offset)) || ShapedType::isDynamic(offset) ||
      llvm::any_of(strides, ShapedType::isDynamic))
    return emitError(memref.getLoc(), "CUDA codegen: needs a static strided layout, not ") << type,
           failure();
  std::string index;
  if (offset)
    index = std::to_string(offset);
  for (auto [i, idx] : llvm::enumerate(indices)) {
    FailureOr<std::string> e = expr(idx);
    if (failed(e))
      return failure();
    if (strides[i] == 0)
      continue;
    if (!index.empty())
      index += " + ";
    index += strides[i] == 1 ? *e : *e + " * " + std::to_string(strides[i]);
  }
  if (index.empty())
    index = "0";
  // Writes are recorded by the store's caller through paramName(write=true).
  return paramName(*root, type.getElementType(), false) + "[" + index + "]";
}

FailureOr<std::string> KernelWriter::expr(Value v) {
  auto it = names.find(v);
  if (it != names.end())
    return it->second;
  Operation *def = v.getDefiningOp();
  if (def) {
    if (auto c = dyn_cast<arith::ConstantOp>(def)) {
      Attribute a = c.getValue();
      if (auto f = dyn_cast<FloatAttr>(a))
        return floatLiteral(f.getValueAsDouble(), f.getType().isF32());
      if (auto i = dyn_cast<IntegerAttr>(a)) {
        if (i.getType().isInteger(1))
          return std::string(i.getValue().isZero() ? "false" : "true");
        int64_t x = i.getValue().getSExtValue();
        std::string s = std::to_string(x);
        if (i.getType().isIndex() || i.getType().isInteger(64))
          s += "LL";
        if (x < 0)
          s = "(" + s + ")";
        return s;
      }
      return c.emitError("CUDA codegen: unsupported constant"), failure();
    }
  }
  InFlightDiagnostic d = emitError(v.getLoc(), "CUDA codegen: a value crosses kernels (computed by "
                                               "a statement that is not a constant or pure): unsupported");
  if (def)
    d.attachNote(def->getLoc()) << "defined by " << *def;
  return failure();
}

LogicalResult KernelWriter::define(Value v, const std::string &value, unsigned indent) {
  std::string t = cType(v.getType());
  if (t.empty())
    return emitError(v.getLoc(), "CUDA codegen: unsupported type ") << v.getType(), failure();
  std::string n = fresh();
  os.indent(indent * 2) << "const " << t << " " << n << " = " << value << ";\n";
  names[v] = n;
  return success();
}

static const char *cmpfExpr(arith::CmpFPredicate p) {
  using P = arith::CmpFPredicate;
  switch (p) {
  case P::AlwaysFalse: return "false";
  case P::OEQ: return "(%0 == %1)";
  case P::OGT: return "(%0 > %1)";
  case P::OGE: return "(%0 >= %1)";
  case P::OLT: return "(%0 < %1)";
  case P::OLE: return "(%0 <= %1)";
  case P::ONE: return "(%0 < %1 || %0 > %1)";
  case P::ORD: return "(%0 == %0 && %1 == %1)";
  case P::UEQ: return "!(%0 < %1 || %0 > %1)";
  case P::UGT: return "!(%0 <= %1)";
  case P::UGE: return "!(%0 < %1)";
  case P::ULT: return "!(%0 >= %1)";
  case P::ULE: return "!(%0 > %1)";
  case P::UNE: return "(%0 != %1)";
  case P::UNO: return "(%0 != %0 || %1 != %1)";
  case P::AlwaysTrue: return "true";
  }
  return nullptr;
}

static std::string substitute(const char *pattern, ArrayRef<std::string> args) {
  std::string out;
  for (const char *p = pattern; *p; ++p) {
    if (*p == '%' && p[1] >= '0' && p[1] <= '9') {
      out += "(" + args[p[1] - '0'] + ")";
      ++p;
    } else {
      out += *p;
    }
  }
  return out;
}

LogicalResult KernelWriter::emitOp(Operation &op, unsigned indent) {
  auto operands = [&]() -> FailureOr<SmallVector<std::string>> {
    SmallVector<std::string> out;
    for (Value v : op.getOperands()) {
      FailureOr<std::string> e = expr(v);
      if (failed(e))
        return failure();
      out.push_back(*e);
    }
    return out;
  };
  if (isa<arith::ConstantOp, scf::ReduceOp, memref::ViewOp, memref::CollapseShapeOp,
          memref::ExpandShapeOp, memref::SubViewOp, memref::CastOp, memref::ReinterpretCastOp,
          memref::GetGlobalOp, memref::DeallocOp>(op))
    return success(); // constants are written where used; views are resolved at compile time
  if (auto load = dyn_cast<memref::LoadOp>(op)) {
    FailureOr<std::string> a = access(load.getMemRef(), load.getIndices());
    if (failed(a))
      return failure();
    return define(load.getResult(), *a, indent);
  }
  if (auto store = dyn_cast<memref::StoreOp>(op)) {
    FailureOr<std::string> a = access(store.getMemRef(), store.getIndices());
    FailureOr<std::string> v = expr(store.getValueToStore());
    if (failed(a) || failed(v))
      return failure();
    FailureOr<Root> root = rootOf(store.getMemRef());
    if (!root->global.empty())
      return store.emitError("CUDA codegen: store into a constant global"), failure();
    paramName(*root, store.getMemRefType().getElementType(), true);
    os.indent(indent * 2) << *a << " = " << *v << ";\n";
    return success();
  }
  if (auto forOp = dyn_cast<scf::ForOp>(op)) {
    FailureOr<std::string> lb = expr(forOp.getLowerBound()), ub = expr(forOp.getUpperBound()),
                           step = expr(forOp.getStep());
    if (failed(lb) || failed(ub) || failed(step))
      return failure();
    SmallVector<std::string> carried;
    for (auto [init, arg] : llvm::zip(forOp.getInitArgs(), forOp.getRegionIterArgs())) {
      FailureOr<std::string> e = expr(init);
      if (failed(e))
        return failure();
      std::string n = fresh("acc");
      os.indent(indent * 2) << cType(arg.getType()) << " " << n << " = " << *e << ";\n";
      names[arg] = n;
      carried.push_back(n);
    }
    std::string iv = fresh("j");
    names[forOp.getInductionVar()] = iv;
    os.indent(indent * 2) << "for (long long " << iv << " = " << *lb << "; " << iv << " < " << *ub
                          << "; " << iv << " += " << *step << ") {\n";
    if (failed(emitBlock(*forOp.getBody(), indent + 1)))
      return failure();
    auto yield = cast<scf::YieldOp>(forOp.getBody()->getTerminator());
    SmallVector<std::string> next;
    for (Value y : yield.getOperands()) {
      FailureOr<std::string> e = expr(y);
      if (failed(e))
        return failure();
      next.push_back(*e);
    }
    for (auto [c, n] : llvm::zip(carried, next))
      if (c != n)
        os.indent((indent + 1) * 2) << c << " = " << n << ";\n";
    os.indent(indent * 2) << "}\n";
    for (auto [res, c] : llvm::zip(forOp.getResults(), carried))
      names[res] = c;
    return success();
  }
  if (auto par = dyn_cast<scf::ParallelOp>(op)) { // nested: serial loops in this thread
    if (!par.getInitVals().empty())
      return par.emitError("CUDA codegen: scf.parallel with reductions"), failure();
    for (auto [iv, lbV, ubV, stV] : llvm::zip(par.getInductionVars(), par.getLowerBound(),
                                              par.getUpperBound(), par.getStep())) {
      FailureOr<std::string> lb = expr(lbV), ub = expr(ubV), st = expr(stV);
      if (failed(lb) || failed(ub) || failed(st))
        return failure();
      std::string n = fresh("j");
      names[iv] = n;
      os.indent(indent * 2) << "for (long long " << n << " = " << *lb << "; " << n << " < " << *ub
                            << "; " << n << " += " << *st << ") {\n";
      ++indent;
    }
    if (failed(emitBlock(*par.getBody(), indent)))
      return failure();
    for (size_t i = 0; i < par.getNumLoops(); ++i)
      os.indent(--indent * 2) << "}\n";
    return success();
  }
  if (auto ifOp = dyn_cast<scf::IfOp>(op)) {
    FailureOr<std::string> c = expr(ifOp.getCondition());
    if (failed(c))
      return failure();
    SmallVector<std::string> results;
    for (Value r : ifOp.getResults()) {
      std::string n = fresh("r");
      os.indent(indent * 2) << cType(r.getType()) << " " << n << ";\n";
      results.push_back(n);
    }
    auto branch = [&](Region &region) -> LogicalResult {
      if (region.empty())
        return success();
      Block &b = region.front();
      if (failed(emitBlock(b, indent + 1)))
        return failure();
      for (auto [r, y] : llvm::zip(results, b.getTerminator()->getOperands())) {
        FailureOr<std::string> e = expr(y);
        if (failed(e))
          return failure();
        os.indent((indent + 1) * 2) << r << " = " << *e << ";\n";
      }
      return success();
    };
    os.indent(indent * 2) << "if (" << *c << ") {\n";
    if (failed(branch(ifOp.getThenRegion())))
      return failure();
    os.indent(indent * 2) << "} else {\n";
    if (failed(branch(ifOp.getElseRegion())))
      return failure();
    os.indent(indent * 2) << "}\n";
    for (auto [res, n] : llvm::zip(ifOp.getResults(), results))
      names[res] = n;
    return success();
  }
  if (isa<scf::YieldOp>(op))
    return success(); // handled by the parent

  FailureOr<SmallVector<std::string>> a = operands();
  if (failed(a))
    return failure();
  if (op.getNumResults() != 1)
    return op.emitError("CUDA codegen: unsupported operation"), failure();
  Value result = op.getResult(0);
  Type t = result.getType();
  std::string rt = cType(t);
  auto wrap = [&](const char *o) { // integer arithmetic that wraps (no signed overflow UB)
    if (t.isIndex())
      return "(" + (*a)[0] + " " + o + " " + (*a)[1] + ")";
    std::string u = unsignedType(t);
    return "(" + rt + ")((" + u + ")(" + (*a)[0] + ") " + o + " (" + u + ")(" + (*a)[1] + "))";
  };
  auto binary = [&](const char *o) { return "(" + (*a)[0] + " " + o + " " + (*a)[1] + ")"; };
  auto call = [&](const char *f) {
    std::string s = std::string(f) + "(";
    for (size_t i = 0; i < a->size(); ++i)
      s += (i ? ", " : "") + (*a)[i];
    return s + ")";
  };
  auto cast = [&](const std::string &to, const std::string &x) { return "(" + to + ")(" + x + ")"; };
  std::string e;
  Type srcT = op.getNumOperands() ? op.getOperand(0).getType() : Type();
  if (isa<arith::AddFOp>(op)) e = binary("+");
  else if (isa<arith::SubFOp>(op)) e = binary("-");
  else if (isa<arith::MulFOp>(op)) e = binary("*");
  else if (isa<arith::DivFOp>(op)) e = binary("/");
  else if (isa<arith::RemFOp>(op)) e = call("fmodf");
  else if (isa<arith::NegFOp>(op)) e = "(-" + (*a)[0] + ")";
  else if (isa<arith::MaximumFOp>(op)) e = call("kiln_maximumf");
  else if (isa<arith::MinimumFOp>(op)) e = call("kiln_minimumf");
  else if (isa<arith::MaxNumFOp>(op)) e = call("fmaxf");
  else if (isa<arith::MinNumFOp>(op)) e = call("fminf");
  else if (isa<arith::AddIOp>(op)) e = wrap("+");
  else if (isa<arith::SubIOp>(op)) e = wrap("-");
  else if (isa<arith::MulIOp>(op)) e = wrap("*");
  else if (isa<arith::DivSIOp>(op)) e = binary("/");
  else if (isa<arith::RemSIOp>(op)) e = binary("%");
  else if (isa<arith::DivUIOp, arith::RemUIOp>(op)) {
    std::string u = unsignedType(t);
    e = cast(rt, "(" + u + ")(" + (*a)[0] + (isa<arith::DivUIOp>(op) ? ") / (" : ") % (") + u + ")(" +
                     (*a)[1] + ")");
  }
  else if (isa<arith::FloorDivSIOp>(op)) e = call("kiln_floordiv");
  else if (isa<arith::CeilDivSIOp>(op)) e = call("kiln_ceildiv");
  else if (isa<arith::AndIOp>(op)) e = binary("&");
  else if (isa<arith::OrIOp>(op)) e = binary("|");
  else if (isa<arith::XOrIOp>(op)) e = binary("^");
  else if (isa<arith::ShLIOp>(op)) e = wrap("<<");
  else if (isa<arith::ShRSIOp>(op)) e = binary(">>");
  else if (isa<arith::ShRUIOp>(op)) e = cast(rt, "(" + unsignedType(t) + ")(" + (*a)[0] + ") >> (" + (*a)[1] + ")");
  else if (isa<arith::MaxSIOp>(op)) e = "((" + (*a)[0] + ") > (" + (*a)[1] + ") ? (" + (*a)[0] + ") : (" + (*a)[1] + "))";
  else if (isa<arith::MinSIOp>(op)) e = "((" + (*a)[0] + ") < (" + (*a)[1] + ") ? (" + (*a)[0] + ") : (" + (*a)[1] + "))";
  else if (auto s = dyn_cast<arith::SelectOp>(op)) e = "(" + (*a)[0] + " ? " + (*a)[1] + " : " + (*a)[2] + ")";
  else if (auto c = dyn_cast<arith::CmpFOp>(op)) e = substitute(cmpfExpr(c.getPredicate()), *a);
  else if (auto c = dyn_cast<arith::CmpIOp>(op)) {
    using P = arith::CmpIPredicate;
    const char *o = nullptr;
    bool isUnsigned = false;
    switch (c.getPredicate()) {
    case P::eq: o = "=="; break;
    case P::ne: o = "!="; break;
    case P::slt: o = "<"; break;
    case P::sle: o = "<="; break;
    case P::sgt: o = ">"; break;
    case P::sge: o = ">="; break;
    case P::ult: o = "<"; isUnsigned = true; break;
    case P::ule: o = "<="; isUnsigned = true; break;
    case P::ugt: o = ">"; isUnsigned = true; break;
    case P::uge: o = ">="; isUnsigned = true; break;
    }
    if (isUnsigned) {
      std::string u = unsignedType(srcT);
      e = "((" + u + ")(" + (*a)[0] + ") " + o + " (" + u + ")(" + (*a)[1] + "))";
    } else {
      e = binary(o);
    }
  }
  else if (isa<arith::IndexCastOp, arith::ExtSIOp, arith::TruncIOp, arith::SIToFPOp, arith::FPToSIOp,
               arith::ExtFOp, arith::TruncFOp, arith::IndexCastUIOp>(op)) e = cast(rt, (*a)[0]);
  else if (isa<arith::ExtUIOp, arith::UIToFPOp>(op)) e = cast(rt, cast(unsignedType(srcT), (*a)[0]));
  else if (isa<arith::FPToUIOp>(op)) e = cast(rt, cast(unsignedType(t), (*a)[0]));
  else if (isa<arith::BitcastOp>(op)) {
    if (t.isF32() && srcT.isInteger(32)) e = call("__int_as_float");
    else if (t.isInteger(32) && srcT.isF32()) e = call("__float_as_int");
    else return op.emitError("CUDA codegen: unsupported bitcast"), failure();
  }
  else if (isa<math::ExpOp>(op)) e = call("expf");
  else if (isa<math::Exp2Op>(op)) e = call("exp2f");
  else if (isa<math::ExpM1Op>(op)) e = call("expm1f");
  else if (isa<math::LogOp>(op)) e = call("logf");
  else if (isa<math::Log1pOp>(op)) e = call("log1pf");
  else if (isa<math::Log2Op>(op)) e = call("log2f");
  else if (isa<math::TanhOp>(op)) e = call("tanhf");
  else if (isa<math::SqrtOp>(op)) e = call("sqrtf");
  else if (isa<math::RsqrtOp>(op)) e = call("rsqrtf");
  else if (isa<math::AbsFOp>(op)) e = call("fabsf");
  else if (isa<math::PowFOp>(op)) e = call("powf");
  else if (isa<math::FloorOp>(op)) e = call("floorf");
  else if (isa<math::CeilOp>(op)) e = call("ceilf");
  else if (isa<math::ErfOp>(op)) e = call("erff");
  else if (isa<math::SinOp>(op)) e = call("sinf");
  else if (isa<math::CosOp>(op)) e = call("cosf");
  else if (isa<math::CopySignOp>(op)) e = call("copysignf");
  else if (isa<math::FmaOp>(op)) e = call("fmaf");
  else if (isa<math::AbsIOp>(op)) e = "((" + (*a)[0] + ") < 0 ? -(" + (*a)[0] + ") : (" + (*a)[0] + "))";
  else
    return op.emitError("CUDA codegen: unsupported operation '") << op.getName() << "'", failure();
  if (!t.isF32() && !isa<arith::CmpFOp, arith::CmpIOp>(op) && rt.empty())
    return op.emitError("CUDA codegen: unsupported result type ") << t, failure();
  if (t.isF32() == false && t.isF64() == false && llvm::StringRef(e).contains("f(") &&
      isa<math::MathDialect>(op.getDialect()))
    return op.emitError("CUDA codegen: math on ") << t << " is unsupported", failure();
  return define(result, e, indent);
}

LogicalResult KernelWriter::captureOperands(Operation *root) {
  std::function<LogicalResult(Value)> capture = [&](Value v) -> LogicalResult {
    if (names.count(v))
      return success();
    Operation *def = v.getDefiningOp();
    if (!def || isa<arith::ConstantOp>(def) || def->getParentOp() != entry.getOperation() ||
        statements.contains(def) || !isDeclarative(*def) || def->getNumResults() != 1 ||
        isa<ShapedType>(v.getType()))
      return success(); // written inline, or an error when used
    for (Value operand : def->getOperands())
      if (failed(capture(operand)))
        return failure();
    return emitOp(*def, 1);
  };
  WalkResult r = root->walk([&](Operation *op) {
    for (Value operand : op->getOperands())
      if (operand.getParentBlock() != nullptr && !root->isAncestor(operand.getParentBlock()->getParentOp()) &&
          failed(capture(operand)))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return failure(r.wasInterrupted());
}

LogicalResult KernelWriter::emitOps(ArrayRef<Operation *> ops, unsigned indent) {
  for (Operation *op : ops)
    if (failed(emitOp(*op, indent)))
      return failure();
  return success();
}

LogicalResult KernelWriter::emitBlock(Block &block, unsigned indent) {
  for (Operation &op : block)
    if (failed(emitOp(op, indent)))
      return failure();
  return success();
}

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
  void finishKernel(const std::string &name, KernelWriter &w, const std::string &body,
                    const std::string &comment, unsigned threads, Location loc);

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
                                 const std::string &comment, unsigned threads, Location loc) {
  std::string where = locationText(loc);
  os << "\n// " << comment << (where.empty() ? "" : " (" + where + ")") << "\n";
  os << "extern \"C\" __global__ void __launch_bounds__(" << threads << ") " << name << "(";
  // Restrict only pointers into buffers this kernel does not write.
  llvm::SmallSet<int, 8> writtenBuffers;
  for (auto &p : w.params)
    if (p.written)
      writtenBuffers.insert(p.root.buffer);
  for (size_t i = 0; i < w.params.size(); ++i) {
    auto &p = w.params[i];
    bool readOnly = !writtenBuffers.contains(p.root.buffer);
    os << (i ? ", " : "") << (readOnly ? "const " : "") << p.type << " *"
       << (readOnly ? "__restrict__ " : "") << p.name;
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
               kThreadsPerBlock, par.getLoc());
  GpuLaunch launch;
  launch.kernel = name;
  launch.grid[0] = unsigned((total + kThreadsPerBlock - 1) / kThreadsPerBlock);
  launch.block[0] = kThreadsPerBlock;
  for (auto &p : w.params)
    launch.args.push_back({uint32_t(p.root.buffer), p.root.byteOffset});
  entry.launches.push_back(std::move(launch));
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
  finishKernel(name, w, body, "scalar statements, one thread", 1, ops.front()->getLoc());
  GpuLaunch launch;
  launch.kernel = name;
  for (auto &p : w.params)
    launch.args.push_back({uint32_t(p.root.buffer), p.root.byteOffset});
  entry.launches.push_back(std::move(launch));
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
    SmallVector<GpuArg> launchArgs;
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
    unsigned threads = phase.block[0] * phase.block[1] * phase.block[2];
    std::string name = kernelName(f, shortName + (plan->phases.size() > 1
                                                      ? "_p" + std::to_string(phaseIndex)
                                                      : std::string()));
    finishKernel(name, w, body,
                 std::string(callee) + " via " + phase.function + " (" +
                     cuda::precisionName(precision) + ")",
                 threads, call.getLoc());
    GpuLaunch launch;
    launch.kernel = name;
    std::copy(phase.grid, phase.grid + 3, launch.grid);
    std::copy(phase.block, phase.block + 3, launch.block);
    for (auto &p : w.params)
      launch.args.push_back({uint32_t(p.root.buffer), p.root.byteOffset});
    entry.launches.push_back(std::move(launch));
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

/// Statements that produce no kernel: views and constants, and integer
/// arithmetic on constants only (index computations), written where used.
/// Arithmetic on a loaded value (a batch-1 loop's body, left at the top
/// level) is a statement like any other.
bool isDeclarative(Operation &op) {
  if (isa<arith::ConstantOp, memref::ViewOp, memref::CollapseShapeOp, memref::ExpandShapeOp,
          memref::SubViewOp, memref::CastOp, memref::ReinterpretCastOp, memref::GetGlobalOp,
          memref::DeallocOp, func::ReturnOp>(op))
    return true;
  return isPure(&op) && op.getNumRegions() == 0 &&
         llvm::all_of(op.getResultTypes(), [](Type t) { return t.isIntOrIndex(); }) &&
         llvm::all_of(op.getOperands(), [](Value v) {
           Operation *def = v.getDefiningOp();
           return def && isDeclarative(*def);
         });
}

/// A load or store of a loop nest, with the bytes its memref spans.
struct Access {
  Root root;
  uint64_t begin = 0, end = 0; // byte range of the whole memref
  bool write = false;
  bool pointwise = false; // indexed by exactly the nest's parallel IVs, in order
  MemRefType type;
};

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
    auto type = cast<MemRefType>(memref.getType());
    FailureOr<Root> root = w.rootOf(memref);
    SmallVector<int64_t> strides;
    int64_t offset;
    if (failed(root) || failed(getStridesAndOffset(type, strides, offset)) ||
        ShapedType::isDynamic(offset) || llvm::any_of(strides, ShapedType::isDynamic))
      return WalkResult::interrupt();
    int64_t last = offset;
    for (auto [size, stride] : llvm::zip(type.getShape(), strides))
      last += (size - 1) * stride;
    uint64_t bytes = type.getElementTypeBitWidth() / 8;
    Access a;
    a.root = *root;
    a.begin = root->byteOffset + uint64_t(offset) * bytes;
    a.end = root->byteOffset + uint64_t(last + 1) * bytes;
    a.write = write;
    a.type = type;
    a.pointwise = indices.size() == par.getNumLoops() &&
                  llvm::all_of(llvm::zip(indices, par.getInductionVars()),
                               [](auto p) { return std::get<0>(p) == std::get<1>(p); });
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

/// Whether `next` may run in the same thread as `group`, right after it, on
/// the same iteration point: same iteration space, and every memory both
/// touch (one of them writing) is accessed pointwise, element i by
/// iteration i, through the same layout: then each element's reads and
/// writes stay in program order within one thread, and no thread touches
/// another's elements. Memory only read, or touched by one side, is free.
bool fusible(func::FuncOp f, ArrayRef<scf::ParallelOp> group, scf::ParallelOp next) {
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
        if (x.root.buffer != y.root.buffer || x.root.global != y.root.global || x.end <= y.begin ||
            y.end <= x.begin)
          continue; // disjoint memory
        if (!x.pointwise || !y.pointwise || x.begin != y.begin || x.type != y.type)
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
bool interchangeable(func::FuncOp f, scf::ForOp loop, SmallVectorImpl<scf::ForOp> &chain,
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
        if (a.root.buffer == w.root.buffer && a.root.global == w.root.global && a.begin < w.end &&
            w.begin < a.end && (!a.pointwise || !w.pointwise || a.begin != w.begin || a.type != w.type))
          return false;
  return true;
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
