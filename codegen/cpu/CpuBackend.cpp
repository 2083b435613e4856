//===- CpuBackend.cpp - kiln graph -> native code for the host CPU --------===//
#include "codegen/cpu/CpuBackend.h"
#include "codegen/cpu/KernelCalls.h"
#include "codegen/cpu/SplitModule.h"
#include "codegen/Passes.h"
#include "ir/KilnOps.h"
#include "passes/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/EquivalenceClasses.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"
#include <atomic>
#include <thread>

using namespace mlir;
using namespace kiln;

void cpu::registerCpuBackend(DialectRegistry &registry) {
  registerAllDialects(registry);
  registerKernelCallBufferization(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
}


static LogicalResult runPipeline(ModuleOp module, StringRef pipeline) {
  static bool registered = [] {
    registerAllPasses();
    kiln::registerKilnPasses();
    kiln::registerKilnCodegenPasses();
    return true;
  }();
  (void)registered;
  // The pipelines need every dialect's bufferization and LLVM-export
  // interfaces; make sure the caller's context has them (built once).
  static const DialectRegistry registry = [] {
    DialectRegistry r;
    cpu::registerCpuBackend(r);
    return r;
  }();
  module.getContext()->appendDialectRegistry(registry);
  std::string error;
  llvm::raw_string_ostream os(error);
  FailureOr<OpPassManager> parsed = parsePassPipeline(pipeline, os);
  if (failed(parsed)) {
    module.emitError("internal error: bad pass pipeline: ") << error;
    return failure();
  }
  PassManager pm(module.getContext());
  static_cast<OpPassManager &>(pm) = std::move(*parsed);
  // Honour --mlir-print-ir-* and friends when the tool registered them
  // (libraries and tests do not: then this is a no-op failure).
  (void)applyPassManagerCLOptions(pm);
  return pm.run(module);
}

LogicalResult cpu::lowerToLinalg(ModuleOp module) {
  return runPipeline(module, "builtin.module(kiln-params-to-arguments,kiln-outline-kernels,"
                             "func.func(kiln-to-linalg,kiln-fuse-loops),canonicalize,cse)");
}

// Bufferize with outputs as arguments (kernel functions too, which are then
// inlined into their entry point); new parameter values are written into the
// parameters' buffers. Both back ends start with these steps.
static constexpr const char *kBufferizeSteps =
    "func.func(kiln-distinct-results),"
    "one-shot-bufferize{bufferize-function-boundaries=1 "
    "function-boundary-type-conversion=identity-layout-map},"
    "canonicalize,cse,"
    "buffer-results-to-out-params{hoist-static-allocs=1},"
    "inline,symbol-dce,"
    "func.func(kiln-update-in-place),"
    "canonicalize,cse,";

LogicalResult cpu::runAfterBufferizing(ModuleOp module, StringRef steps) {
  // Parameter declarations and the training configuration carry no code;
  // the artifact writer has read them already.
  for (Operation &op : llvm::make_early_inc_range(module.getOps()))
    if (isa<kiln::ParamOp, kiln::TrainingOp>(op))
      op.erase();
  return runPipeline(module, ("builtin.module(" + Twine(kBufferizeSteps) + steps + ")").str());
}

// After bufferization: every intermediate in the scratch arena, loops lowered
// to LLVM, and the packed entry points. Math functions without an LLVM
// intrinsic (tanh) become libm calls.
static constexpr const char *kToLLVMSteps =
    "kiln-kernel-workspaces,"
    "kiln-plan-scratch,"
    "func.func(kiln-copies-to-linalg,kiln-cpu-shape-loops,convert-linalg-to-parallel-loops),"
    "kiln-outline-parallel-loops,"
    "lower-affine,convert-scf-to-cf,canonicalize,cse,"
    "expand-strided-metadata,lower-affine,kiln-call-kernels,"
    "func.func(convert-math-to-llvm),convert-math-to-libm,"
    "finalize-memref-to-llvm,convert-arith-to-llvm,"
    "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1},kiln-lower-forks,"
    "convert-cf-to-llvm,convert-index-to-llvm,reconcile-unrealized-casts,"
    "kiln-packed-entry-points";

LogicalResult cpu::lowerToLLVMDialect(ModuleOp module) { return runAfterBufferizing(module, kToLLVMSteps); }

std::unique_ptr<llvm::TargetMachine> cpu::createTargetMachine(StringRef cpu, std::string &error) {
  static bool init = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
    return true;
  }();
  (void)init;
  std::string triple = llvm::sys::getDefaultTargetTriple();
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  std::string cpuName = cpu.str(), features;
  if (cpu == "native") {
    cpuName = llvm::sys::getHostCPUName().str();
    for (auto &f : llvm::sys::getHostCPUFeatures())
        features += (features.empty() ? "" : ",") + std::string(f.second ? "+" : "-") +
                    f.first().str();
  }
  {
    std::unique_ptr<llvm::MCSubtargetInfo> generic(target->createMCSubtargetInfo(triple, "", ""));
    if (!generic || !generic->isCPUStringValid(cpuName)) {
      error = "unknown CPU '" + cpuName + "' (try native, x86-64-v4, x86-64-v3, x86-64-v2, x86-64)";
      return nullptr;
    }
  }
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, cpuName, features, options, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  if (!tm) {
    error = "cannot create a target machine for CPU '" + cpuName + "'";
    return nullptr;
  }
  return tm;
}

std::vector<std::string> cpu::requiredFeatures(const llvm::TargetMachine &tm) {
  // LLVM feature names that are also __builtin_cpu_supports names.
  static const char *names[] = {"sse4.2",   "avx",      "avx2",     "fma",       "f16c",
                                "avx512f",  "avx512bw", "avx512vl", "avx512dq",  "avx512cd",
                                "avx512vnni", "avx512bf16"};
  std::vector<std::string> out;
  for (const char *n : names)
    if (tm.getMCSubtargetInfo()->checkFeatures(std::string("+") + n))
      out.push_back(n);
  return out;
}

// LLVM O2 without loop unrolling. The loops left are elementwise ops,
// pooling and small reductions (GEMM/convolutions are kernels/cpu calls);
// once kiln-cpu-shape-loops has made them long, vectorized loops need no
// unrolling, and unrolling was most of the compile time: on the MNIST CNN
// (train_step, gradients, eval_step, predict) O2 took opt 0.88 s + codegen
// 0.90 s, without unrolling 0.38 + 0.35 s, for the same step time (21 ms).
// (O3 took 7.5 s of an 8 s compile for no speed-up of predict.)
static void optimize(llvm::Module &module, llvm::TargetMachine &tm) {
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = false;
  tuning.LoopInterleaving = true;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(&tm, tuning);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(module, mam);
}

static std::unique_ptr<llvm::Module> translate(ModuleOp module, llvm::LLVMContext &ctx,
                                               const llvm::TargetMachine &tm) {
  std::unique_ptr<llvm::Module> llvmModule = translateModuleToLLVMIR(module, ctx);
  if (!llvmModule) {
    module.emitError("translation to LLVM IR failed");
    return nullptr;
  }
  llvmModule->setDataLayout(tm.createDataLayout());
  llvmModule->setTargetTriple(tm.getTargetTriple().str());
  // The scratch arena (kiln-plan-scratch's last argument) is the callee's
  // own memory, never another argument's: noalias spares LLVM the runtime
  // overlap checks (and scalar fallback loops) between it and every
  // argument. Measured on the MNIST CNN: optimised IR 9.8k -> 7.2k lines,
  // codegen 0.38 -> 0.29 s. Other arguments may alias (in-place updates,
  // callers' buffers) and get nothing.
  for (auto f : module.getOps<LLVM::LLVMFuncOp>())
    if (f->hasAttr("kiln.scratch_bytes") && f.getNumArguments() > 0)
      if (llvm::Function *fn = llvmModule->getFunction(f.getName()); fn && !fn->isDeclaration())
        fn->addParamAttr(fn->arg_size() - 1, llvm::Attribute::NoAlias);
  return llvmModule;
}

std::unique_ptr<llvm::Module> cpu::translateToLLVMIR(ModuleOp module, llvm::LLVMContext &ctx,
                                                     llvm::TargetMachine &tm) {
  std::unique_ptr<llvm::Module> llvmModule = translate(module, ctx, tm);
  if (llvmModule)
    optimize(*llvmModule, tm);
  return llvmModule;
}

bool cpu::emitCode(llvm::Module &module, llvm::TargetMachine &tm, CodeKind kind, std::string &out,
                   std::string &error) {
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr,
                             kind == CodeKind::Object ? llvm::CodeGenFileType::ObjectFile
                                                      : llvm::CodeGenFileType::AssemblyFile)) {
    error = "the target cannot emit this kind of file";
    return false;
  }
  pm.run(module);
  out.assign(buffer.begin(), buffer.end());
  return true;
}

bool cpu::compileToObjects(ModuleOp module, llvm::TargetMachine &tm,
                           std::vector<std::string> &objects, std::string &error) {
  // One module per entry point, optimised and compiled on its own thread:
  // each needs its own LLVMContext and TargetMachine. The split depends only
  // on the module, and the objects keep its order, so the output does not
  // depend on the number of threads or their timing.
  struct Part {
    llvm::LLVMContext context;
    std::unique_ptr<llvm::Module> module;
    std::string object, error;
  };
  SmallVector<OwningOpRef<ModuleOp>> split = splitModule(module);
  std::vector<std::unique_ptr<Part>> parts;
  for (OwningOpRef<ModuleOp> &m : split) {
    parts.push_back(std::make_unique<Part>());
    parts.back()->module = translate(*m, parts.back()->context, tm);
    if (!parts.back()->module) {
      error = "translation to LLVM IR failed";
      return false;
    }
  }
  // Largest first, so that the longest one does not start last.
  std::vector<std::pair<unsigned, Part *>> bySize;
  for (auto &p : parts)
    bySize.push_back({p->module->getInstructionCount(), p.get()});
  std::sort(bySize.begin(), bySize.end(),
            [](auto &a, auto &b) { return a.first > b.first; });
  std::vector<Part *> order;
  for (auto &p : bySize)
    order.push_back(p.second);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < order.size();) {
      Part &part = *order[i];
      std::unique_ptr<llvm::TargetMachine> partTM(tm.getTarget().createTargetMachine(
          tm.getTargetTriple().str(), tm.getTargetCPU(), tm.getTargetFeatureString(), tm.Options,
          tm.getRelocationModel(), tm.getCodeModel(), tm.getOptLevel()));
      if (!partTM) {
        part.error = "cannot create a target machine";
        continue;
      }
      optimize(*part.module, *partTM);
      emitCode(*part.module, *partTM, CodeKind::Object, part.object, part.error);
      part.module.reset();
    }
  };
  unsigned numThreads =
      std::min<unsigned>(std::max(1u, std::thread::hardware_concurrency()), parts.size());
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < numThreads; ++t)
    threads.emplace_back(work);
  work();
  for (std::thread &t : threads)
    t.join();
  objects.clear();
  for (auto &p : parts) {
    if (!p->error.empty()) {
      error = p->error;
      return false;
    }
    objects.push_back(std::move(p->object));
  }
  return true;
}

bool cpu::linkSharedObject(llvm::ArrayRef<std::string> objects, std::string &sharedObject,
                           std::string &error) {
  auto linker = llvm::sys::findProgramByName("clang-19");
  if (!linker) {
    error = "cannot find clang-19 to link the shared object (run scripts/setup.sh)";
    return false;
  }
  std::vector<llvm::SmallString<128>> objPaths;
  auto removeObjects = [&] {
    for (auto &p : objPaths)
      llvm::sys::fs::remove(p);
  };
  for (const std::string &object : objects) {
    int fd;
    objPaths.emplace_back();
    if (auto ec = llvm::sys::fs::createTemporaryFile("kiln", "o", fd, objPaths.back())) {
      objPaths.pop_back();
      removeObjects();
      error = "cannot create a temporary file: " + ec.message();
      return false;
    }
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << object;
  }
  llvm::SmallString<128> soPath;
  if (auto ec = llvm::sys::fs::createTemporaryFile("kiln", "so", soPath)) {
    removeObjects();
    error = "cannot create a temporary file: " + ec.message();
    return false;
  }
  llvm::SmallString<128> logPath;
  llvm::sys::fs::createTemporaryFile("kiln-link", "log", logPath);
  // The GEMM / convolution kernels (kernels/cpu) the code calls are linked in
  // from their static library: the model needs nothing but libc and libm.
  // -Bsymbolic: calls inside the model bind to its own functions, which are
  // named after entry points (a graph's @div or @log): without it the
  // dynamic linker resolves them to libc's div() and log().
  std::vector<StringRef> args = {*linker,         "-shared", "-fuse-ld=lld", "-nostartfiles",
                                 "-Wl,-z,noexecstack", "-Wl,--hash-style=gnu", "-Wl,-Bsymbolic",
                                 "-o", soPath};
  for (auto &p : objPaths)
    args.push_back(p);
  args.push_back(KILN_KERNELS_ARCHIVE);
  args.push_back("-lm");
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath), StringRef(logPath)};
  int rc = llvm::sys::ExecuteAndWait(*linker, args, std::nullopt, redirects, 60, 0, &error);
  bool ok = rc == 0;
  if (ok) {
    auto so = llvm::MemoryBuffer::getFile(soPath, /*IsText=*/false);
    if (so)
      sharedObject = (*so)->getBuffer().str();
    else
      ok = false, error = "cannot read the linked shared object";
  } else {
    auto log = llvm::MemoryBuffer::getFile(logPath);
    error = "linking the shared object failed" + (log ? ": " + (*log)->getBuffer().str() : "");
  }
  removeObjects();
  llvm::sys::fs::remove(soPath);
  llvm::sys::fs::remove(logPath);
  return ok;
}
