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
#include <dlfcn.h>
#include <gtest/gtest.h>

using namespace mlir;
using namespace kiln;
using reference::Tensor;

test::Compiled::~Compiled() {
  if (handle)
    dlclose(handle);
}

const EntrySignature *test::Compiled::signature(const std::string &name) const {
  for (const EntrySignature &e : contents.entries)
    if (e.name == name)
      return &e;
  return nullptr;
}

/// Compiles `source` for `batch` and loads its code; sets `error` on failure.
void test::compile(MLIRContext &ctx, const std::string &source, int64_t batch, Compiled &out,
                   bool training) {
  llvm::SourceMgr sources;
  sources.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(source, "case.kiln"), llvm::SMLoc());
  std::string messages;
  llvm::raw_string_ostream os(messages);
  Diagnostics diags(sources, os);
  bool isMlir = source.rfind("module", 0) == 0;
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
  collectParameters(*module, /*seed=*/7, out.contents);
  std::string error;
  auto tm = cpu::createTargetMachine("native", error);
  llvm::LLVMContext llvmCtx;
  std::string object, so;
  if (failed(cpu::lowerToLinalg(*module)) || (collectSignatures(*module, out.contents), false) ||
      failed(cpu::lowerToLLVMDialect(*module))) {
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

