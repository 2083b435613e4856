//===- KernelWriter.cpp - one CUDA kernel's C++ from MLIR statements ------===//
#include "codegen/cuda/KernelWriter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringExtras.h"
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>

using namespace mlir;
using namespace kiln::cuda;

std::string kiln::cuda::cType(Type t) {
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
static std::string unsignedType(Type t) {
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

std::string kiln::cuda::floatLiteral(double v, bool isF32) {
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

std::string KernelWriter::paramName(const Root &root, Type element, bool write,
                                    std::optional<std::pair<int64_t, int64_t>> footprint) {
  std::string name = paramName(root, element, write);
  for (Param &p : params)
    if (p.name == name) {
      if (!footprint) {
        p.unbounded = true;
      } else {
        p.lo = std::min(p.lo, footprint->first);
        p.hi = std::max(p.hi, footprint->second);
      }
    }
  return name;
}

bool KernelWriter::mayRestrict(size_t i) const {
  const Param &p = params[i];
  bool bufferWritten = llvm::any_of(params, [&](const Param &q) { return q.written && q.root.buffer == p.root.buffer; });
  if (!bufferWritten)
    return true;
  if (!p.bounded())
    return false;
  for (size_t j = 0; j < params.size(); ++j) {
    const Param &q = params[j];
    if (j != i && q.root.buffer == p.root.buffer && (!q.bounded() || (q.lo < p.hi && p.lo < q.hi)))
      return false;
  }
  return true;
}

std::optional<std::pair<int64_t, int64_t>> kiln::cuda::byteFootprint(MemRefType type, const Root &root) {
  SmallVector<int64_t> strides;
  int64_t offset;
  unsigned bits = type.getElementType().isIntOrFloat() ? type.getElementTypeBitWidth() : 0;
  if (failed(staticLayout(type, strides, offset)) || !type.hasStaticShape() || type.getNumElements() == 0 ||
      bits == 0 || bits % 8 != 0)
    return std::nullopt;
  int64_t lo = offset, hi = offset;
  for (auto [size, stride] : llvm::zip(type.getShape(), strides))
    (stride < 0 ? lo : hi) += (size - 1) * stride;
  int64_t base = int64_t(root.byteOffset), bytes = bits / 8;
  return std::make_pair(base + lo * bytes, base + (hi + 1) * bytes);
}

LogicalResult kiln::cuda::staticLayout(MemRefType type, SmallVectorImpl<int64_t> &strides, int64_t &offset) {
  return success(succeeded(getStridesAndOffset(type, strides, offset)) && !ShapedType::isDynamic(offset) &&
                 llvm::none_of(strides, ShapedType::isDynamic));
}

FailureOr<std::string> KernelWriter::access(Value memref, ValueRange indices) {
  auto type = cast<MemRefType>(memref.getType());
  FailureOr<Root> root = rootOf(memref);
  if (failed(root))
    return failure();
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(staticLayout(type, strides, offset)))
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
  return paramName(*root, type.getElementType(), false, byteFootprint(type, *root)) + "[" + index + "]";
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
  // The math calls above are the float versions (expf, ...).
  if (isa<math::MathDialect>(op.getDialect()) && !t.isF32() && !isa<math::AbsIOp>(op))
    return op.emitError("CUDA codegen: math on ") << t << " is unsupported", failure();
  return define(result, e, indent); // unsupported result types are reported there
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

LogicalResult KernelWriter::startStatements(ArrayRef<Operation *> ops) {
  statements.insert(ops.begin(), ops.end());
  for (Operation *op : ops)
    if (failed(captureOperands(op)))
      return failure();
  return success();
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


/// Statements that produce no kernel: views and constants, and integer
/// arithmetic on constants only (index computations), written where used.
/// Arithmetic on a loaded value (a batch-1 loop's body, left at the top
/// level) is a statement like any other.
bool kiln::cuda::isDeclarative(Operation &op) {
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

