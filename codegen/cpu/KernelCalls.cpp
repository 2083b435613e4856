//===- KernelCalls.cpp - GEMM and convolution -> kernels/cpu calls --------===//
//
// Two steps of the CPU pipeline:
//   - patterns for kiln-to-linalg (use-kernels): 2-D matmuls and the three
//     convolutions become kiln.kernel_call ops with their shape descriptor
//     (kernels/cpu/Kernels.h), which bufferize like linalg ops;
//   - kiln-kernel-workspaces, after bufferization: a workspace allocated just
//     before each call (so kiln-plan-scratch puts it in the arena), sized by
//     the library itself;
//   - kiln-call-kernels, after expand-strided-metadata (whose folds would
//     take a memref.view's pointer for its source's): the C call, with data
//     pointers.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/KernelCalls.h"
#include "codegen/Padding.h"
#include "codegen/Passes.h"
#include "ir/KilnOps.h"
#include "kernels/cpu/Kernels.h"
#include "mlir/Dialect/Bufferization/IR/DstBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Transforms/DialectConversion.h"

namespace kiln {
#define GEN_PASS_DEF_KERNELWORKSPACES
#define GEN_PASS_DEF_CALLKERNELS
#include "codegen/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

RankedTensorType tensorOf(Value v) { return llvm::cast<RankedTensorType>(v.getType()); }

Operation *callKernel(OpBuilder &b, Location loc, StringRef callee, ArrayRef<int64_t> descriptor,
                      ValueRange inputs, ArrayRef<RankedTensorType> outputs) {
  SmallVector<Value> inits;
  for (RankedTensorType t : outputs)
    inits.push_back(b.create<tensor::EmptyOp>(loc, t.getShape(), t.getElementType()));
  SmallVector<Type> types(outputs.begin(), outputs.end());
  return b.create<KernelCallOp>(loc, types, b.getStringAttr(callee), b.getDenseI64ArrayAttr(descriptor), inputs,
                                inits);
}

/// The library's fused epilogue, out = act(out + bias[column]), taken from
/// the ops after a GEMM or convolution: its only user adds a 1-D bias along
/// the last dimension, and that sum's only user may be relu, sigmoid or tanh.
struct Epilogue {
  Value bias;                    // the bias, as converted (null: none)
  int64_t activation = KILN_ACT_NONE;
  SmallVector<Operation *> ops;  // the add, then the activation: replaced by the call

  /// The call's inputs: the product's two operands, then the bias if any.
  SmallVector<Value> inputs(Value a, Value b) const {
    SmallVector<Value> in{a, b};
    if (bias)
      in.push_back(bias);
    return in;
  }
};

Epilogue matchEpilogue(Operation *producer, ConversionPatternRewriter &rw) {
  Epilogue e;
  Value y = producer->getResult(0);
  if (!y.hasOneUse())
    return e;
  auto add = dyn_cast<AddOp>(*y.getUsers().begin());
  if (!add || add.getType() != y.getType())
    return e;
  Value bias = add.getLhs() == y ? add.getRhs() : add.getLhs();
  auto bt = llvm::dyn_cast<RankedTensorType>(bias.getType());
  auto yt = llvm::cast<RankedTensorType>(y.getType());
  if (bias == y || !bt || bt.getRank() != 1 || bt.getDimSize(0) != yt.getShape().back() ||
      bt.getElementType() != yt.getElementType())
    return e;
  e.bias = rw.getRemappedValue(bias);
  if (!e.bias)
    return Epilogue{};
  e.ops.push_back(add);
  if (add->hasOneUse()) {
    Operation *act = *add->getUsers().begin();
    int64_t kind = isa<ReluOp>(act) ? KILN_ACT_RELU : isa<SigmoidOp>(act) ? KILN_ACT_SIGMOID
                                                    : isa<TanhOp>(act)  ? KILN_ACT_TANH
                                                                        : KILN_ACT_NONE;
    if (kind != KILN_ACT_NONE) {
      e.activation = kind;
      e.ops.push_back(act);
    }
  }
  return e;
}

/// Replaces `op` and its epilogue ops with the call's result `r`.
void replaceWithEpilogue(Operation *op, const Epilogue &e, Value r, ConversionPatternRewriter &rw) {
  if (e.ops.empty()) {
    rw.replaceOp(op, r);
    return;
  }
  rw.replaceOp(e.ops.back(), r);
  for (Operation *dead : llvm::reverse(ArrayRef<Operation *>(e.ops).drop_back()))
    rw.eraseOp(dead);
  rw.eraseOp(op);
}

/// 2-D products, and [..., M, K] x [K, N] with the leading dims folded into M.
struct MatMulToKernel : OpConversionPattern<MatMulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(MatMulOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    Value a = adaptor.getLhs(), b = adaptor.getRhs();
    RankedTensorType ta = tensorOf(a), tb = tensorOf(b);
    auto result = llvm::cast<RankedTensorType>(op.getType());
    bool tA = op.getTransposeLhs(), tB = op.getTransposeRhs();
    if (tb.getRank() != 2 || (ta.getRank() != 2 && tA) || !result.getElementType().isF32())
      return failure();
    Location loc = op.getLoc();
    int64_t k = tA ? ta.getDimSize(0) : ta.getShape().back();
    int64_t m = ta.getNumElements() / k, n = result.getShape().back();
    if (ta.getRank() > 2)
      a = rw.create<tensor::CollapseShapeOp>(
          loc, a, SmallVector<ReassociationIndices>{
                      llvm::to_vector(llvm::seq<int64_t>(0, ta.getRank() - 1)), {ta.getRank() - 1}});
    auto flat = RankedTensorType::get({m, n}, result.getElementType());
    Epilogue e = matchEpilogue(op, rw);
    KilnGemm g{m, n, k, tA ? m : k, tB ? k : n, n, tA, tB, 0, e.activation};
    Value r = callKernel(rw, loc, "kiln_gemm_f32", llvm::ArrayRef(&g.m, 10), e.inputs(a, b), {flat})->getResult(0);
    if (result.getRank() > 2)
      r = rw.create<tensor::ExpandShapeOp>(
          loc, result, r,
          SmallVector<ReassociationIndices>{
              llvm::to_vector(llvm::seq<int64_t>(0, result.getRank() - 1)), {result.getRank() - 1}});
    replaceWithEpilogue(op, e, r, rw);
    return success();
  }
};

/// The descriptor of a convolution from x [n, ih, iw, ci] to y [n, oh, ow, co]
/// with kernel [kh, kw, ci, co].
KilnConv2d convDescriptor(ArrayRef<int64_t> x, ArrayRef<int64_t> y, ArrayRef<int64_t> w,
                          ArrayRef<int64_t> strides, bool same) {
  SamePadding pad[2] = {{0, 0}, {0, 0}};
  for (int d = 0; d < 2 && same; ++d)
    pad[d] = samePadding(x[1 + d], y[1 + d], w[d], strides[d]);
  return KilnConv2d{x[0], x[1], x[2], x[3], w[3], w[0], w[1], strides[0], strides[1],
                    pad[0].before, pad[1].before, pad[0].after, pad[1].after, 0, KILN_ACT_NONE};
}

ArrayRef<int64_t> fields(const KilnConv2d &c) { return llvm::ArrayRef(&c.batch, 15); }

struct Conv2DToKernel : OpConversionPattern<Conv2DOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(Conv2DOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    auto y = llvm::cast<RankedTensorType>(op.getType());
    KilnConv2d c = convDescriptor(tensorOf(adaptor.getInput()).getShape(), y.getShape(),
                                  tensorOf(adaptor.getKernel()).getShape(),
                                  SmallVector<int64_t>(op.getStrides()), op.getPadding() == "same");
    Epilogue e = matchEpilogue(op, rw);
    c.activation = e.activation;
    Value r = callKernel(rw, op.getLoc(), "kiln_conv2d_f32", fields(c), e.inputs(adaptor.getInput(), adaptor.getKernel()),
                         {y})
                  ->getResult(0);
    replaceWithEpilogue(op, e, r, rw);
    return success();
  }
};

struct BackpropInputToKernel : OpConversionPattern<Conv2DBackpropInputOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(Conv2DBackpropInputOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    auto dx = llvm::cast<RankedTensorType>(op.getType());
    KilnConv2d c = convDescriptor(dx.getShape(), tensorOf(adaptor.getGrad()).getShape(),
                                  tensorOf(adaptor.getKernel()).getShape(),
                                  SmallVector<int64_t>(op.getStrides()), op.getPadding() == "same");
    rw.replaceOp(op, callKernel(rw, op.getLoc(), "kiln_conv2d_backprop_input_f32", fields(c),
                                {adaptor.getGrad(), adaptor.getKernel()}, {dx})
                         ->getResult(0));
    return success();
  }
};

/// The bias gradient kiln-fuse groups with a filter gradient: a reduce_sum of
/// the same dy over batch, rows and columns in the same block. The library
/// computes it in the filter gradient's pass over dy (its db output).
ReduceSumOp biasGradientOf(Conv2DBackpropFilterOp op) {
  for (Operation *user : op.getGrad().getUsers())
    if (auto r = dyn_cast<ReduceSumOp>(user))
      if (r->getBlock() == op->getBlock() && !r.getKeepdims() &&
          r.getAxes() == ArrayRef<int64_t>{0, 1, 2} && tensorOf(r.getOperand()).getRank() == 4)
        return r;
  return {};
}

/// dw (and db, when `bias` is its reduce_sum) as one call at the rewriter's
/// insertion point; replaces both ops.
void filterGradientCall(Conv2DBackpropFilterOp op, ReduceSumOp bias, ConversionPatternRewriter &rw) {
  auto dw = llvm::cast<RankedTensorType>(op.getType());
  Value x = rw.getRemappedValue(op.getInput()), dy = rw.getRemappedValue(op.getGrad());
  KilnConv2d c = convDescriptor(tensorOf(x).getShape(), tensorOf(dy).getShape(), dw.getShape(),
                                SmallVector<int64_t>(op.getStrides()), op.getPadding() == "same");
  SmallVector<RankedTensorType> outs{dw};
  if (bias)
    outs.push_back(llvm::cast<RankedTensorType>(bias.getType()));
  Operation *call = callKernel(rw, op.getLoc(), "kiln_conv2d_backprop_filter_f32", fields(c), {x, dy}, outs);
  rw.replaceOp(op, call->getResult(0));
  if (bias)
    rw.replaceOp(bias, call->getResult(1));
}

struct BackpropFilterToKernel : OpConversionPattern<Conv2DBackpropFilterOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(Conv2DBackpropFilterOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    ReduceSumOp bias = biasGradientOf(op);
    filterGradientCall(op, bias && op->isBeforeInBlock(bias) ? bias : ReduceSumOp(), rw);
    return success();
  }
};

/// A bias gradient that comes before its filter gradient: the call goes
/// here, when the filter gradient's operands are already defined.
struct BiasGradientToKernel : OpConversionPattern<ReduceSumOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(ReduceSumOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rw) const override {
    for (Operation *user : op.getOperand().getUsers()) {
      auto f = dyn_cast<Conv2DBackpropFilterOp>(user);
      if (!f || biasGradientOf(f) != op || !op->isBeforeInBlock(f))
        continue;
      Value x = f.getInput();
      Operation *def = x.getDefiningOp();
      if (def && def->getBlock() == op->getBlock() && !def->isBeforeInBlock(op))
        continue;
      filterGradientCall(f, op, rw);
      return success();
    }
    return failure();
  }
};

struct KernelCallBufferization
    : bufferization::DstBufferizableOpInterfaceExternalModel<KernelCallBufferization, KernelCallOp> {
  LogicalResult bufferize(Operation *op, RewriterBase &rw,
                          const bufferization::BufferizationOptions &options) const {
    auto call = cast<KernelCallOp>(op);
    auto buffers = [&](ValueRange tensors, SmallVectorImpl<Value> &out) {
      for (Value v : tensors) {
        FailureOr<Value> buffer = bufferization::getBuffer(rw, v, options);
        if (failed(buffer))
          return false;
        out.push_back(*buffer);
      }
      return true;
    };
    SmallVector<Value> ins, outs;
    if (!buffers(call.getInputs(), ins) || !buffers(call.getOutputs(), outs))
      return failure();
    rw.create<KernelCallOp>(op->getLoc(), TypeRange{}, call.getCalleeAttr(),
                            call.getDescriptorAttr(), ins, outs);
    bufferization::replaceOpWithBufferizedValues(rw, op, outs);
    return success();
  }
};

/// The address of a buffer's first element, as an LLVM pointer.
Value dataPointer(OpBuilder &b, Location loc, Value memref) {
  auto type = llvm::cast<MemRefType>(memref.getType());
  // An identity layout has no offset: the aligned pointer is the first
  // element (a memref.view into the arena carries its shift there).
  Value address = b.create<memref::ExtractAlignedPointerAsIndexOp>(loc, memref);
  if (!type.getLayout().isIdentity()) {
    auto meta = b.create<memref::ExtractStridedMetadataOp>(loc, memref);
    Value bytes = b.create<arith::MulIOp>(
        loc, meta.getOffset(),
        b.create<arith::ConstantIndexOp>(loc, type.getElementTypeBitWidth() / 8));
    address = b.create<arith::AddIOp>(loc, address, bytes);
  }
  address = b.create<arith::IndexCastOp>(loc, b.getI64Type(), address);
  return b.create<LLVM::IntToPtrOp>(loc, LLVM::LLVMPointerType::get(b.getContext()), address);
}

/// The workspace a kernel needs, sized by the library for its descriptor.
int64_t workspaceBytes(KernelCallOp call) {
  ArrayRef<int64_t> d = call.getDescriptor();
  if (call.getCallee() == "kiln_gemm_f32") {
    KilnGemm g;
    std::copy(d.begin(), d.end(), &g.m);
    return int64_t(kiln_gemm_workspace_bytes(&g, cpu::kMaxKernelThreads));
  }
  KilnConv2d c;
  std::copy(d.begin(), d.end(), &c.batch);
  return int64_t(kiln_conv2d_workspace_bytes(&c, cpu::kMaxKernelThreads));
}

struct KernelWorkspaces : kiln::impl::KernelWorkspacesBase<KernelWorkspaces> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    getOperation().walk([&](KernelCallOp call) {
      if (call->hasAttr("kiln.workspace") || call.getNumResults() != 0)
        return;
      OpBuilder b(call);
      // The CUDA pipeline sizes workspaces for its own kernels first.
      auto planned = call->getAttrOfType<IntegerAttr>("kiln.workspace_bytes");
      int64_t bytes = std::max<int64_t>(planned ? planned.getInt() : workspaceBytes(call), 1);
      Value ws = b.create<memref::AllocOp>(call.getLoc(),
                                           MemRefType::get({bytes}, IntegerType::get(ctx, 8)));
      call.getOutputsMutable().append(ws);
      call->setAttr("kiln.workspace", UnitAttr::get(ctx));
      b.setInsertionPointAfter(call);
      b.create<memref::DeallocOp>(call.getLoc(), ws);
    });
  }
};

struct CallKernels : kiln::impl::CallKernelsBase<CallKernels> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    SmallVector<KernelCallOp> calls;
    module.walk([&](KernelCallOp op) { calls.push_back(op); });
    OpBuilder top = OpBuilder::atBlockBegin(module.getBody());
    unsigned counter = 0;
    for (KernelCallOp call : calls) {
      Location loc = call.getLoc();
      if (!call->hasAttr("kiln.workspace")) {
        call.emitError("kiln-call-kernels: run kiln-kernel-workspaces first");
        return signalPassFailure();
      }
      for (Value v : call->getOperands()) {
        auto t = llvm::dyn_cast<MemRefType>(v.getType());
        if (!t || !t.hasStaticShape() || !memref::isStaticShapeAndContiguousRowMajor(t)) {
          call.emitError("kiln-call-kernels needs contiguous row-major buffers, got ") << v.getType();
          return signalPassFailure();
        }
      }
      StringRef callee = call.getCallee();
      ArrayRef<int64_t> d = call.getDescriptor();
      // The descriptor: a constant global of int64s.
      std::string name = "__kiln_desc_" + std::to_string(counter++);
      auto descType = MemRefType::get({int64_t(d.size())}, i64);
      top.create<memref::GlobalOp>(loc, name, top.getStringAttr("private"), descType,
                                   DenseElementsAttr::get(RankedTensorType::get({int64_t(d.size())}, i64), d),
                                   /*constant=*/true, /*alignment=*/IntegerAttr());
      OpBuilder b(call);
      Value desc = b.create<memref::GetGlobalOp>(loc, descType, name);
      SmallVector<Value> in(call.getInputs()), out(call.getOutputs());
      Value ws = out.pop_back_val();
      SmallVector<Value> args{dataPointer(b, loc, desc)};
      Value null = b.create<LLVM::ZeroOp>(loc, ptr);
      auto p = [&](Value v) { return dataPointer(b, loc, v); };
      if (callee == "kiln_gemm_f32" || callee == "kiln_conv2d_f32")
        args.append({p(in[0]), p(in[1]), in.size() > 2 ? p(in[2]) : null, p(out[0])}); // bias: fused epilogue
      else if (callee == "kiln_conv2d_backprop_input_f32")
        args.append({p(in[0]), p(in[1]), p(out[0])});
      else
        args.append({p(in[0]), p(in[1]), p(out[0]), out.size() > 1 ? p(out[1]) : null}); // dw, db
      args.push_back(p(ws));
      args.push_back(b.create<arith::ConstantIntOp>(
          loc, llvm::cast<MemRefType>(ws.getType()).getNumElements(), 64));
      auto fnType = FunctionType::get(ctx, ValueRange(args).getTypes(), {IntegerType::get(ctx, 32)});
      auto fn = module.lookupSymbol<func::FuncOp>(callee);
      if (!fn) {
        fn = top.create<func::FuncOp>(loc, callee, fnType);
        fn.setPrivate();
      }
      b.create<func::CallOp>(loc, fn, args);
      call.erase();
    }
  }
};

} // namespace

void kiln::cpu::populateKernelCallPatterns(RewritePatternSet &patterns) {
  patterns.add<MatMulToKernel, Conv2DToKernel, BackpropInputToKernel, BackpropFilterToKernel,
               BiasGradientToKernel>(patterns.getContext(), /*benefit=*/2);
}

void kiln::cpu::registerKernelCallBufferization(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, KilnDialect *) {
    KernelCallOp::attachInterface<KernelCallBufferization>(*ctx);
  });
}
