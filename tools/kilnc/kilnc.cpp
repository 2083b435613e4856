//===- kilnc.cpp - the Kiln compiler driver -------------------------------===//
//
//   kilnc model.kiln -o model.kbin        the compiled model (artifact/kbin.fbs)
//   kilnc model.kiln --emit=lib -o m      m.a + m.h: a static library and C header
//   kilnc model.kiln --emit=llvm|asm|...  each code generation stage (docs/codegen.md)
//   kilnc model.kiln                      print the graph (kiln dialect)
//   kilnc model.kiln --emit=ast           print the syntax tree
//   kilnc model.kiln --batch-size=64      specialise the entry points first
//   kilnc model.kiln --dump-stages=DIR    one readable file per stage
//   kilnc graph.mlir ...                  start from a graph in MLIR form
//
// MLIR's IR-printing flags (--mlir-print-ir-after-all, ...) apply to the pass
// pipeline. Exit status: 0 on success, 1 on any error in the input.
//
//===----------------------------------------------------------------------===//

#include "frontend/AST.h"
#include "frontend/ImportGraph.h"
#include "frontend/Parser.h"
#include "ir/KilnOps.h"
#include "passes/Passes.h"
#include "codegen/Artifact.h"
#include "llvm/Config/llvm-config.h"
#include "codegen/Passes.h"
#include "mlir/InitAllPasses.h"
#include "codegen/cpu/CpuBackend.h"
#include "codegen/cuda/CudaBackend.h"
#include "codegen/cuda/KernelPlans.h"
#include "codegen/cpu/Library.h"
#include "Stats.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory kilncCategory("kilnc options");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.kiln | graph.mlir>"),
                                      cl::Required, cl::cat(kilncCategory));
static cl::opt<std::string> outputFile("o", cl::desc("Output file (default: stdout)"),
                                       cl::value_desc("file"), cl::init("-"),
                                       cl::cat(kilncCategory));

enum class Emit { Auto, AST, Graph, GraphGrad, GraphOpt, Linalg, LLVMDialect, LLVM, Asm, Obj, SharedObject, CudaLoops, Cuda, Kbin, Lib };
static cl::opt<Emit> emit(
    "emit", cl::desc("What to produce"), cl::init(Emit::Auto),
    cl::values(clEnumValN(Emit::AST, "ast", "the syntax tree"),
               clEnumValN(Emit::Graph, "graph", "the graph in the kiln dialect (default)"),
               clEnumValN(Emit::GraphGrad, "graph-grad",
                          "the graph with its backward graph generated (static shapes)"),
               clEnumValN(Emit::GraphOpt, "graph-opt",
                          "the optimized graph: cleanups, layouts, kiln.fusion groups"),
               clEnumValN(Emit::Linalg, "linalg", "linalg on tensors, entry-point arguments"),
               clEnumValN(Emit::LLVMDialect, "llvm-dialect",
                          "bufferized and lowered to MLIR's LLVM dialect"),
               clEnumValN(Emit::LLVM, "llvm", "optimised LLVM IR"),
               clEnumValN(Emit::Asm, "asm", "assembly for the target CPU"),
               clEnumValN(Emit::Obj, "obj", "an object file"),
               clEnumValN(Emit::SharedObject, "so", "the shared object a .kbin carries"),
               clEnumValN(Emit::CudaLoops, "cuda-loops",
                          "the CUDA pipeline's bufferized loops (what becomes kernels)"),
               clEnumValN(Emit::Cuda, "cuda", "the CUDA C++ source of every kernel (NVRTC's input)"),
               clEnumValN(Emit::Kbin, "kbin",
                          "the compiled model artifact (default when -o ends in .kbin)"),
               clEnumValN(Emit::Lib, "lib",
                          "a static library and C header: -o PREFIX writes PREFIX.a, PREFIX.h")),
    cl::cat(kilncCategory));
static cl::opt<std::string> targetCpu("cpu",
                                      cl::desc("CPU to generate code for: native (default, "
                                               "e.g. AVX-512), or a portable LLVM CPU name "
                                               "such as x86-64-v3 (AVX2) or x86-64"),
                                      cl::init("native"), cl::cat(kilncCategory));
static cl::opt<std::string> targets("target",
                                    cl::desc("Code in the .kbin: cpu (default), cuda, or cpu,cuda"),
                                    cl::init("cpu"), cl::cat(kilncCategory));
static cl::opt<std::string> gpuPrecision(
    "gpu-precision",
    cl::desc("How CUDA GEMMs and convolutions multiply: tf32 (default: tensor cores, FP32 "
             "accumulation), bf16 (tensor cores), or fp32 (CUDA cores, as exact as the CPU)"),
    cl::init("tf32"), cl::cat(kilncCategory));
static cl::list<std::string> gpuArchs(
    "gpu-arch",
    cl::desc("GPU architectures to compile for (default sm_80,sm_90,compute_90: CUBIN for "
             "A100 and H100, PTX for newer GPUs)"),
    cl::CommaSeparated, cl::cat(kilncCategory));
static cl::opt<bool> gpuEmulate(
    "gpu-emulate",
    cl::desc("Tests only: GPU images are the CUDA C++ compiled for the CPU emulator "
             "(kernels/cuda/Emulate.h), which only the runtime tests' fake driver loads"),
    cl::init(false), cl::Hidden, cl::cat(kilncCategory));
static cl::opt<uint64_t> seed("seed",
                              cl::desc("Seed of the initial parameter values (initializers "
                                       "without their own seed)"),
                              cl::init(0), cl::cat(kilncCategory));
static cl::list<int64_t> batchSizes(
    "batch-size",
    cl::desc("Specialise entry points for this batch size; several sizes (--batch-size=64,1) "
             "give one entry point each, named <entry>_b<size> (default: leave the batch "
             "dimension dynamic for --emit=graph, else fit(batch_size=...) or 32)"),
    cl::CommaSeparated, cl::cat(kilncCategory));
static cl::opt<std::string> dumpStages("dump-stages",
                                       cl::desc("Write one readable file per compiler stage "
                                                "into this directory"),
                                       cl::value_desc("dir"), cl::cat(kilncCategory));
static cl::opt<bool> noGraphOpt("O0",
                                cl::desc("Skip the graph optimizations (cleanups, layouts, "
                                         "fusion): one kernel per op, for comparison"),
                                cl::init(false), cl::cat(kilncCategory));
// --stats: per entry point, ops after each graph pass, kernels before and
// after fusion, group sizes, intermediate bytes (naive total) and the arena,
// on stderr. Taken off the command line before LLVM sees it: LLVM has its
// own -stats (for its pass statistics).
static bool showStats = false;
static cl::opt<bool> showConstants("show-constants",
                                   cl::desc("Print large constants in full (they are elided "
                                            "by default)"),
                                   cl::init(false), cl::cat(kilncCategory));

/// Constants with more elements than this print as `dense_resource<__elided__>`.
static constexpr int64_t kElideLimit = 16;

static OpPrintingFlags printingFlags() {
  OpPrintingFlags flags; // picks up --mlir-print-* options
  if (!showConstants && !flags.getLargeElementsAttrLimit())
    flags.elideLargeElementsAttrs(kElideLimit);
  return flags;
}

static bool writeStage(StringRef name, llvm::function_ref<void(llvm::raw_ostream &)> print) {
  if (dumpStages.empty())
    return true;
  llvm::SmallString<256> path(dumpStages);
  llvm::sys::path::append(path, name);
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec) {
    llvm::errs() << "kilnc: error: cannot write '" << path << "': " << ec.message() << "\n";
    return false;
  }
  print(os);
  return true;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // Passes are registered before the command line is parsed, so that
  // --mlir-print-ir-before/after=<pass> can name them.
  registerAllPasses();
  kiln::registerKilnPasses();
  kiln::registerGraphOptimizationPipeline();
  kiln::registerKilnCodegenPasses();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerAsmPrinterCLOptions();
  // LLVM's own (back-end) options would bury kilnc's in --help; MLIR's
  // printing flags stay accepted and are listed below.
  cl::HideUnrelatedOptions(kilncCategory);
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << kiln::kProducer << " (writes .kbin format " << kiln::kKbinFormatVersion << "; LLVM and MLIR "
       << LLVM_VERSION_STRING << ")\n";
  });
  std::vector<char *> args;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && (StringRef(argv[i]) == "--stats" || StringRef(argv[i]) == "-stats"))
      showStats = true;
    else
      args.push_back(argv[i]);
  }
  argc = static_cast<int>(args.size());
  argv = args.data();
  cl::ParseCommandLineOptions(
      argc, argv,
      "Kiln model compiler\n\n"
      "  kilnc model.kiln [--emit=ast|graph|graph-grad|graph-opt|linalg|llvm|asm|obj|so|cuda|kbin|lib]\n"
      "                   [--batch-size=N]\n"
      "                   [--cpu=native|x86-64-v3|...] [-o out]\n"
      "  kilnc model.kiln -o model.kbin       the compiled model for the runtime\n"
      "  kilnc model.kiln --target=cpu,cuda -o model.kbin   with CUDA kernels (NVRTC; no GPU needed)\n"
      "  kilnc model.kiln --stats ...         what the graph optimizations did (stderr)\n\n"
      "Also accepted (see --help-hidden): MLIR's --mlir-print-ir-after-all,\n"
      "--mlir-print-ir-before=<pass>, --mlir-print-debuginfo,\n"
      "--mlir-elide-elementsattrs-if-larger=N, --mlir-pass-statistics.\n");

  if (llvm::any_of(batchSizes, [](int64_t b) { return b <= 0; })) {
    llvm::errs() << "kilnc: error: --batch-size must be positive\n";
    return 1;
  }
  if (!dumpStages.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(dumpStages)) {
      llvm::errs() << "kilnc: error: cannot create '" << dumpStages << "': " << ec.message()
                   << "\n";
      return 1;
    }
  }

  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(inputFile, /*IsText=*/true);
  if (std::error_code ec = buffer.getError()) {
    llvm::errs() << "kilnc: error: cannot open '" << inputFile << "': " << ec.message() << "\n";
    return 1;
  }
  llvm::SourceMgr sources;
  sources.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());

  DialectRegistry registry;
  registry.insert<kiln::KilnDialect>();
  kiln::cpu::registerCpuBackend(registry);
  MLIRContext context(registry);
  context.loadDialect<kiln::KilnDialect, func::FuncDialect>();
  SourceMgrDiagnosticHandler mlirDiagnostics(sources, &context);

  if (emit == Emit::Auto)
    emit = StringRef(outputFile).ends_with(".kbin") ? Emit::Kbin : Emit::Graph;
  if (emit == Emit::Lib && outputFile == "-") {
    llvm::errs() << "kilnc: error: --emit=lib needs -o PREFIX (writes PREFIX.a and PREFIX.h)\n";
    return 1;
  }
  if (emit == Emit::Kbin && outputFile == "-") {
    llvm::errs() << "kilnc: error: a .kbin is binary: give an output file with -o\n";
    return 1;
  }
  std::string error;
  // --emit=lib writes its own two files; everything else goes to -o.
  std::unique_ptr<llvm::ToolOutputFile> output;
  if (emit != Emit::Lib) {
    output = openOutputFile(outputFile, &error);
    if (!output) {
      llvm::errs() << "kilnc: error: " << error << "\n";
      return 1;
    }
  }

  bool wantCpu = false, wantCuda = false;
  {
    SmallVector<StringRef> parts;
    StringRef(targets).split(parts, ',');
    for (StringRef t : parts) {
      if (t.trim() == "cpu")
        wantCpu = true;
      else if (t.trim() == "cuda")
        wantCuda = true;
      else {
        llvm::errs() << "kilnc: error: unknown --target '" << t << "' (cpu, cuda or cpu,cuda)\n";
        return 1;
      }
    }
  }
  std::optional<kiln::cuda::GpuPrecision> precision = kiln::cuda::parsePrecision(gpuPrecision);
  if (!precision) {
    llvm::errs() << "kilnc: error: unknown --gpu-precision '" << gpuPrecision << "' (fp32, tf32 or bf16)\n";
    return 1;
  }
  if (wantCuda && emit != Emit::Kbin && emit != Emit::Cuda && emit != Emit::CudaLoops &&
      emit != Emit::Graph && emit != Emit::GraphGrad && emit != Emit::GraphOpt && emit != Emit::AST &&
      emit != Emit::Linalg) {
    llvm::errs() << "kilnc: error: --target=cuda writes a .kbin (or --emit=cuda / cuda-loops); "
                    "this --emit is CPU code\n";
    return 1;
  }

  OwningOpRef<ModuleOp> module;
  if (StringRef(inputFile).ends_with(".mlir")) {
    if (emit == Emit::AST) {
      llvm::errs() << "kilnc: error: --emit=ast needs a .kiln model file\n";
      return 1;
    }
    module = parseSourceFile<ModuleOp>(sources, &context);
    if (!module)
      return 1;
    // The .kbin needs a model name: a graph without one is named after its
    // file, as a .kiln model without a `model` line is.
    if (!(*module)->hasAttr("kiln.model")) {
      std::string stem = llvm::sys::path::stem(inputFile).str();
      (*module)->setAttr("kiln.model", StringAttr::get(&context, stem == "-" ? "model" : stem));
    }
  } else {
    kiln::Diagnostics diags(sources, llvm::errs());
    kiln::ModuleAST ast = kiln::parseModule(diags);
    if (diags.errorCount())
      return 1;
    if (!writeStage("01-ast.txt", [&](llvm::raw_ostream &os) { kiln::printAST(ast, sources, os); }))
      return 1;
    if (emit == Emit::AST) {
      kiln::printAST(ast, sources, output->os());
      output->keep();
      return 0;
    }
    std::string stem = llvm::sys::path::stem(inputFile).str();
    module = kiln::importGraph(ast, diags, context, stem == "-" ? "model" : stem);
    if (!module || diags.errorCount())
      return 1;
  }
  if (!writeStage("02-graph.mlir",
                  [&](llvm::raw_ostream &os) { module->print(os, printingFlags()); }))
    return 1;

  // Training entry points (train_step, eval_step, gradients) from predict and
  // compile(...), before the entry points are copied per batch size. The
  // plain graph view (--emit=graph) shows the imported model only.
  kiln::CompileStats stats;
  auto instrument = [&](PassManager &pm) {
    if (showStats)
      pm.addInstrumentation(stats.instrumentation());
  };
  if (showStats)
    stats.recordOps("(imported)", *module);
  if (emit != Emit::Graph) {
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return 1;
    instrument(pm);
    pm.addPass(kiln::createBuildTraining());
    if (failed(pm.run(*module)))
      return 1;
  }

  // Code needs static shapes: without --batch-size, use the file's
  // fit(batch_size=...), else Keras's default of 32.
  SmallVector<int64_t> batches(batchSizes.begin(), batchSizes.end());
  if (batches.empty() && emit != Emit::Graph) {
    int64_t b = 32;
    for (auto t : module->getOps<kiln::TrainingOp>())
      if (auto fit = t.getFitConfig().getAs<IntegerAttr>("batch_size"))
        b = fit.getInt();
    batches.push_back(b);
  }
  int64_t batch = batches.empty() ? 0 : batches.front();
  if (batches.size() > 1) {
    // One copy of every entry point per batch size, each tagged with its size
    // (kiln-specialize-batch reads kiln.batch_size).
    SmallVector<func::FuncOp> entries(module->getOps<func::FuncOp>());
    llvm::SmallSet<int64_t, 4> seen;
    for (int64_t b : batches) {
      if (!seen.insert(b).second)
        continue;
      for (func::FuncOp f : entries) {
        func::FuncOp copy = f.clone();
        copy.setName((f.getName() + "_b" + Twine(b)).str());
        copy->setAttr("kiln.batch_size", IntegerAttr::get(IntegerType::get(&context, 64), b));
        module->getBody()->getOperations().insert(Block::iterator(f), copy);
      }
    }
    for (func::FuncOp f : entries)
      f.erase();
  }

  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return 1;
  instrument(pm);
  if (batch > 0)
    pm.addPass(kiln::createSpecializeBatch(kiln::SpecializeBatchOptions{batch}));
  if (emit != Emit::Graph)
    pm.addNestedPass<func::FuncOp>(kiln::createGenerateGradients());
  if (failed(pm.run(*module)))
    return 1;
  if (showStats)
    stats.recordUnfused(*module);
  // Cleanups, layouts and fusion (docs/passes.md); -O0 leaves one kernel per op.
  if (emit != Emit::Graph && emit != Emit::GraphGrad && !noGraphOpt) {
    PassManager opt(&context);
    if (failed(applyPassManagerCLOptions(opt)))
      return 1;
    instrument(opt);
    kiln::addGraphOptimizationPasses(opt);
    if (failed(opt.run(*module)))
      return 1;
    if (showStats)
      stats.recordFused(*module);
  }
  auto printStats = [&] {
    if (showStats)
      stats.print(llvm::errs());
  };
  if (batch > 0 &&
      !writeStage("03-graph-batch.mlir",
                  [&](llvm::raw_ostream &os) { module->print(os, printingFlags()); }))
    return 1;
  auto finish = [&]() {
    module->print(output->os(), printingFlags());
    output->keep();
    printStats();
    return 0;
  };
  if (emit == Emit::Graph || emit == Emit::GraphGrad || emit == Emit::GraphOpt)
    return finish();

  // Initial parameter values are computed only for outputs that carry them.
  kiln::ArtifactContents artifact;
  if (emit == Emit::Kbin || emit == Emit::Lib)
    kiln::collectParameters(*module, seed, artifact);
  if (failed(kiln::cpu::lowerToLinalg(*module)))
    return 1;
  kiln::collectSignatures(*module, artifact);
  if (emit == Emit::Lib) // entry points get the model's prefix: several models may be linked
    for (auto f : module->getOps<func::FuncOp>())
      if (!f.isExternal() && f.isPublic())
        for (kiln::EntrySignature &e : artifact.entries)
          if (e.symbol == f.getName()) {
            e.symbol = kiln::cpu::cIdentifier(artifact.modelName) + "_" + e.name + "_impl";
            f.setName(e.symbol);
          }
  if (!writeStage("04-linalg.mlir", [&](llvm::raw_ostream &os) { module->print(os, printingFlags()); }))
    return 1;
  if (emit == Emit::Linalg)
    return finish();

  // CUDA: the same loops, as CUDA C++, compiled by NVRTC (codegen/cuda).
  if (wantCuda || emit == Emit::Cuda || emit == Emit::CudaLoops) {
    OwningOpRef<ModuleOp> gpu = module->clone();
    if (failed(kiln::cuda::lowerToLoops(*gpu, *precision)))
      return 1;
    if (!writeStage("05-cuda-loops.mlir", [&](llvm::raw_ostream &os) { gpu->print(os, printingFlags()); }))
      return 1;
    if (emit == Emit::CudaLoops) {
      gpu->print(output->os(), printingFlags());
      output->keep();
      return 0;
    }
    kiln::cuda::GpuProgram program;
    if (failed(kiln::cuda::emitSource(*gpu, *precision, program)))
      return 1;
    if (!writeStage("06-cuda.cu", [&](llvm::raw_ostream &os) { os << program.source; }))
      return 1;
    if (emit == Emit::Cuda) {
      output->os() << program.source;
      output->keep();
      return 0;
    }
    std::vector<std::string> archs(gpuArchs.begin(), gpuArchs.end());
    if (archs.empty())
      archs = {"sm_80", "sm_90", "compute_90"};
    unsigned hits = 0;
    if (gpuEmulate ? !kiln::cuda::compileEmulatedImages(program.source, archs, artifact.gpuImages, error)
                   : !kiln::cuda::compileImages(program.source, archs, artifact.gpuImages, error, &hits)) {
      llvm::errs() << "kilnc: error: " << error;
      if (!StringRef(error).ends_with("\n"))
        llvm::errs() << "\n";
      return 1;
    }
    if (showStats)
      llvm::errs() << "cuda: " << program.entries.size() << " entry points, "
                   << program.source.size() << " bytes of CUDA C++, " << archs.size()
                   << " images (" << hits << " from the cache)\n";
    artifact.gpuEntries = std::move(program.entries);
    if (!wantCpu) {
      output->os() << kiln::buildArtifact(artifact);
      output->keep();
      printStats();
      return 0;
    }
  }

  if (failed(kiln::cpu::lowerToLLVMDialect(*module)))
    return 1;
  if (!writeStage("05-llvm-dialect.mlir",
                  [&](llvm::raw_ostream &os) { module->print(os, printingFlags()); }))
    return 1;
  if (emit == Emit::LLVMDialect)
    return finish();
  kiln::collectScratchSizes(*module, artifact);
  if (showStats)
    stats.recordMemory(*module);

  auto tm = kiln::cpu::createTargetMachine(targetCpu, error);
  if (!tm) {
    llvm::errs() << "kilnc: error: " << error << "\n";
    return 1;
  }
  std::string code;
  std::vector<std::string> objects;
  bool linked = emit == Emit::SharedObject || emit == Emit::Kbin || emit == Emit::Lib;
  if (linked && dumpStages.empty()) {
    // One object per entry point, compiled in parallel (MNIST CNN: 0.81 s
    // -> 0.61 s on 2 cores). --dump-stages takes the one-module path below
    // for its 06-llvm.ll.
    if (!kiln::cpu::compileToObjects(*module, *tm, objects, error)) {
      llvm::errs() << "kilnc: error: " << error << "\n";
      return 1;
    }
  } else {
    llvm::LLVMContext llvmContext;
    auto llvmModule = kiln::cpu::translateToLLVMIR(*module, llvmContext, *tm);
    if (!llvmModule)
      return 1;
    if (!writeStage("06-llvm.ll", [&](llvm::raw_ostream &os) { llvmModule->print(os, nullptr); }))
      return 1;
    if (emit == Emit::LLVM) {
      llvmModule->print(output->os(), nullptr);
      output->keep();
      printStats();
      return 0;
    }
    bool assembly = emit == Emit::Asm;
    if (!kiln::cpu::emitCode(*llvmModule, *tm,
                             assembly ? kiln::cpu::CodeKind::Assembly : kiln::cpu::CodeKind::Object,
                             code, error)) {
      llvm::errs() << "kilnc: error: " << error << "\n";
      return 1;
    }
    objects.push_back(code);
  }
  if (emit == Emit::SharedObject || emit == Emit::Kbin) {
    std::string so;
    if (!kiln::cpu::linkSharedObject(objects, so, error)) {
      llvm::errs() << "kilnc: error: " << error << "\n";
      return 1;
    }
    code = std::move(so);
  }
  if (emit == Emit::Lib) {
    StringRef prefix = outputFile;
    prefix.consume_back(".a");
    prefix.consume_back(".h");
    if (!kiln::cpu::writeLibrary(prefix, artifact, objects, error)) {
      llvm::errs() << "kilnc: error: " << error << "\n";
      return 1;
    }
    printStats();
    return 0;
  }
  if (emit == Emit::Kbin) {
    artifact.triple = tm->getTargetTriple().str();
    artifact.cpu = tm->getTargetCPU().str();
    artifact.cpuFeatures = kiln::cpu::requiredFeatures(*tm);
    artifact.sharedObject = std::move(code);
    code = kiln::buildArtifact(artifact);
  }
  output->os() << code;
  output->keep();
  printStats();
  return 0;
}
