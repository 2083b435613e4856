//===- CompiledModel.cpp - compile a model in-process and call its code ---===//
#include "CompiledModel.h"
#include "codegen/cpu/CpuBackend.h"
#include "frontend/ImportGraph.h"
#include "ir/KilnOps.h"
#include "passes/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include <algorithm>
#include <cmath>
#include <dlfcn.h>
#include <gtest/gtest.h>

using namespace mlir;
using namespace kiln;
using reference::Tensor;

test::Compiled::~Compiled() {
  if (handle)
    dlclose(handle);
  if (emulated)
    dlclose(emulated);
}

const EntrySignature *test::Compiled::signature(const std::string &name) const {
  for (const EntrySignature &e : contents.entries)
    if (e.name == name)
      return &e;
  return nullptr;
}

/// Compiles `source` for `batch` and loads its code; sets `error` on failure.
/// Compiles the CUDA program's source for the emulator (as kilnc
/// --gpu-emulate does) and loads it.
static bool loadEmulated(test::Compiled &out) {
  std::vector<GpuImage> images;
  if (!cuda::compileEmulatedImages(out.gpu.source, {"emulated"}, images, out.error))
    return false;
  llvm::SmallString<128> path;
  int fd;
  if (llvm::sys::fs::createTemporaryFile("kiln-cuda-emu", "so", fd, path)) {
    out.error = "cannot create a temporary file";
    return false;
  }
  {
    llvm::raw_fd_ostream f(fd, /*shouldClose=*/true);
    f << images[0].image;
  }
  out.emulated = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  llvm::sys::fs::remove(path);
  if (!out.emulated) {
    out.error = dlerror();
    return false;
  }
  return true;
}

void test::compile(MLIRContext &ctx, const std::string &source, int64_t batch, Compiled &out,
                   bool training, bool optimize, std::optional<cuda::GpuPrecision> gpu) {
  llvm::SourceMgr sources;
  sources.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(source, "case.kiln"), llvm::SMLoc());
  std::string messages;
  llvm::raw_string_ostream os(messages);
  Diagnostics diags(sources, os);
  // MLIR text: "module" after any leading `//` comment lines.
  llvm::StringRef text = source;
  while (text.ltrim().starts_with("//"))
    text = text.ltrim().split('\n').second;
  bool isMlir = text.ltrim().starts_with("module");
  OwningOpRef<ModuleOp> module = isMlir ? parseSourceString<ModuleOp>(source, &ctx)
                                        : compileModelFile(diags, ctx, "case");
  if (!module) {
    out.error = "frontend: " + messages;
    return;
  }
  PassManager pm(&ctx);
  if (training)
    pm.addPass(createBuildTraining());
  pm.addPass(createSpecializeBatch(SpecializeBatchOptions{batch}));
  pm.addNestedPass<func::FuncOp>(createGenerateGradients());
  if (failed(pm.run(*module))) {
    out.error = "specialize failed";
    return;
  }
  out.graph = module->clone();
  if (optimize) { // as kilnc does unless -O0
    PassManager opt(&ctx);
    addGraphOptimizationPasses(opt);
    if (failed(opt.run(*module))) {
      out.error = "graph optimization failed";
      return;
    }
  }
  collectParameters(*module, /*seed=*/7, out.contents);
  std::string error;
  auto tm = cpu::createTargetMachine("native", error);
  llvm::LLVMContext llvmCtx;
  std::string object, so;
  if (failed(cpu::lowerToLinalg(*module)) || (collectSignatures(*module, out.contents), false)) {
    out.error = "lowering failed";
    return;
  }
  if (gpu) { // the CUDA pipeline from the same linalg, as kilnc --target=cpu,cuda
    OwningOpRef<ModuleOp> g = module->clone();
    if (failed(cuda::lowerToLoops(*g, *gpu)) || failed(cuda::emitSource(*g, *gpu, out.gpu))) {
      out.error = "CUDA codegen failed";
      return;
    }
    if (!loadEmulated(out))
      return;
  }
  if (failed(cpu::lowerToLLVMDialect(*module))) {
    out.error = "lowering failed";
    return;
  }
  collectScratchSizes(*module, out.contents);
  auto llvmModule = cpu::translateToLLVMIR(*module, llvmCtx, *tm);
  if (!llvmModule || !cpu::emitCode(*llvmModule, *tm, cpu::CodeKind::Object, object, error) ||
      !cpu::linkSharedObject(object, so, error)) {
    out.error = "codegen: " + error;
    return;
  }
  llvm::SmallString<128> path;
  int fd;
  llvm::sys::fs::createTemporaryFile("kiln-test", "so", fd, path);
  {
    llvm::raw_fd_ostream f(fd, true);
    f << so;
  }
  out.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  llvm::sys::fs::remove(path);
  if (!out.handle) {
    out.error = dlerror();
    return;
  }
  out.entry = reinterpret_cast<void (*)(void **)>(dlsym(out.handle, "kiln_predict"));
}

Tensor test::randomTensor(const std::vector<int64_t> &shape, std::mt19937 &rng, float lo, float hi) {
  Tensor t{shape, {}};
  std::uniform_real_distribution<float> dist(lo, hi);
  t.data.resize(t.size());
  for (float &v : t.data)
    v = dist(rng);
  return t;
}


/// Runs the compiled entry point on `inputs` (i32 inputs held as exact
/// floats) and `params`; returns its outputs.
std::vector<Tensor> test::runCompiled(const Compiled &c, const std::vector<Tensor> &inputs,
                                      llvm::StringMap<Tensor> &params, const std::string &name) {
  const EntrySignature *found = name.empty() ? &c.contents.entries.at(0) : c.signature(name);
  if (!found)
    return {};
  const EntrySignature &e = *found;
  if (inputs.size() != e.inputs.size()) {
    ADD_FAILURE() << e.name << " takes " << e.inputs.size() << " inputs, got " << inputs.size();
    return {};
  }
  auto entry = reinterpret_cast<void (*)(void **)>(dlsym(c.handle, ("kiln_" + e.symbol).c_str()));
  if (!entry)
    return {};
  std::vector<Tensor> outputs;
  for (const TensorSignature &t : e.outputs)
    outputs.push_back(Tensor{t.shape, std::vector<float>(Tensor{t.shape, {}}.size(), NAN)});
  std::vector<std::vector<int32_t>> intInputs(inputs.size());
  std::vector<void *> buffers;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!e.inputs[i].isInt) {
      buffers.push_back(const_cast<float *>(inputs[i].data.data()));
      continue;
    }
    for (float v : inputs[i].data)
      intInputs[i].push_back(int32_t(v));
    buffers.push_back(intInputs[i].data());
  }
  for (const std::string &name : e.params)
    buffers.push_back(params[name].data.data());
  for (Tensor &t : outputs)
    buffers.push_back(t.data.data());
  std::vector<char> scratch(e.scratchBytes + 64);
  buffers.push_back(scratch.data());
  entry(buffers.data());
  return outputs;
}

std::vector<Tensor> test::runEmulated(const Compiled &c, const std::vector<Tensor> &inputs,
                                      llvm::StringMap<Tensor> &params, const std::string &name) {
  const EntrySignature *e = c.signature(name);
  const GpuEntry *g = nullptr;
  for (const GpuEntry &ge : c.gpu.entries)
    if (e && ge.symbol == e->symbol)
      g = &ge;
  if (!e || !g || !c.emulated) {
    ADD_FAILURE() << "no emulated CUDA code for " << name;
    return {};
  }
  std::vector<Tensor> outputs;
  for (const TensorSignature &t : e->outputs)
    outputs.push_back(Tensor{t.shape, std::vector<float>(Tensor{t.shape, {}}.size(), NAN)});
  std::vector<std::vector<int32_t>> intInputs(inputs.size());
  std::vector<char *> buffers;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!e->inputs[i].isInt) {
      buffers.push_back(reinterpret_cast<char *>(const_cast<float *>(inputs[i].data.data())));
      continue;
    }
    for (float v : inputs[i].data)
      intInputs[i].push_back(int32_t(v));
    buffers.push_back(reinterpret_cast<char *>(intInputs[i].data()));
  }
  for (const std::string &p : e->params)
    buffers.push_back(reinterpret_cast<char *>(params[p].data.data()));
  for (Tensor &t : outputs)
    buffers.push_back(reinterpret_cast<char *>(t.data.data()));
  // Poisoned, as device memory is not zeroed.
  std::vector<float> scratch(g->scratchBytes / sizeof(float) + 16, NAN);
  buffers.push_back(reinterpret_cast<char *>(scratch.data()));
  using Launcher = void (*)(const unsigned *, const unsigned *, void *const *);
  for (const GpuLaunch &l : g->launches) {
    auto fn = reinterpret_cast<Launcher>(dlsym(c.emulated, ("kiln_emulate_" + l.kernel).c_str()));
    if (!fn) {
      ADD_FAILURE() << "no emulated kernel " << l.kernel;
      return {};
    }
    std::vector<void *> args;
    for (const GpuArg &a : l.args)
      args.push_back(buffers.at(a.buffer) + a.offset);
    fn(l.grid, l.block, args.data());
  }
  return outputs;
}

double test::worstRelativeError(const std::vector<Tensor> &a, const std::vector<Tensor> &b) {
  double w = a.size() == b.size() ? 0 : INFINITY;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    for (size_t j = 0; j < a[i].data.size() && j < b[i].data.size(); ++j) {
      double d = std::abs(double(a[i].data[j]) - b[i].data[j]) / (1 + std::abs(double(b[i].data[j])));
      w = std::isnan(d) ? INFINITY : std::max(w, d);
    }
  return w;
}

std::string test::exampleTestName(const std::string &file) {
  std::string n = file.substr(0, file.find('.'));
  n.erase(std::remove(n.begin(), n.end(), '_'), n.end());
  return n;
}

std::string test::readExample(const std::string &name) {
  auto buf = llvm::MemoryBuffer::getFile(std::string(KILN_EXAMPLES_DIR) + "/" + name);
  return buf ? (*buf)->getBuffer().str() : "";
}

/// Labels for the model's loss: class indices, one-hot rows, 0/1 targets or
/// real values.
Tensor test::labelsFor(test::Compiled &c, const TensorSignature &t, std::mt19937 &rng) {
  std::string loss;
  for (auto tr : c.graph->getOps<TrainingOp>())
    loss = tr.getLoss().str();
  Tensor y{t.shape, std::vector<float>(Tensor{t.shape, {}}.size(), 0.0f)};
  if (t.isInt) { // sparse: classes of the predictions' last axis
    int64_t classes = 10;
    for (const TensorSignature &o : c.signature("predict")->outputs)
      classes = o.shape.back();
    for (float &v : y.data)
      v = float(rng() % classes);
  } else if (loss == "categorical_crossentropy") {
    int64_t classes = t.shape.back();
    for (int64_t r = 0; r < y.size() / classes; ++r)
      y.data[r * classes + rng() % classes] = 1;
  } else if (loss == "binary_crossentropy") {
    for (float &v : y.data)
      v = float(rng() % 2);
  } else {
    y = test::randomTensor(t.shape, rng, -1, 1);
  }
  return y;
}

test::ModelRun::ModelRun(const std::string &source, int64_t batch, bool optimize,
                         std::optional<cuda::GpuPrecision> gpu) {
  ctx.loadDialect<KilnDialect, func::FuncDialect>();
  test::compile(ctx, source, batch, c, /*training=*/true, optimize, gpu);
  if (!c.error.empty())
    return;
  std::mt19937 rng(3);
  const EntrySignature *e = c.signature("train_step");
  inputs.push_back(test::randomTensor(e->inputs[0].shape, rng, 0, 1));
  inputs.push_back(labelsFor(c, e->inputs[1], rng));
  inputs.push_back(Tensor{{}, {float(batch)}}); // samples: a full batch
  for (const ParameterValue &p : c.contents.params)
    params[p.name] = Tensor{p.shape, p.values};
}
