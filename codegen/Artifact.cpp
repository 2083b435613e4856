//===- Artifact.cpp - writing a compiled model as a .kbin -----------------===//
#include "codegen/Artifact.h"
#include "codegen/Initializers.h"
#include "ir/KilnOps.h"
#include "artifact/kbin_generated.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include <cstring>

using namespace mlir;
using namespace kiln;


static TensorSignature signature(Type type, std::string name) {
  auto t = llvm::cast<RankedTensorType>(type);
  return TensorSignature{std::move(name), t.getElementType().isInteger(32),
                         std::vector<int64_t>(t.getShape().begin(), t.getShape().end())};
}

void kiln::collectParameters(ModuleOp graph, uint64_t seed, ArtifactContents &out) {
  if (auto name = graph->getAttrOfType<StringAttr>("kiln.model"))
    out.modelName = name.str();
  for (TrainingOp t : graph.getOps<TrainingOp>()) {
    FitDefaults fit;
    DictionaryAttr config = t.getFitConfig();
    if (auto v = config.getAs<IntegerAttr>("epochs"))
      fit.epochs = v.getInt();
    if (auto v = config.getAs<IntegerAttr>("batch_size"))
      fit.batchSize = v.getInt();
    if (auto v = config.getAs<FloatAttr>("validation_split"))
      fit.validationSplit = float(v.getValueAsDouble());
    if (auto v = config.getAs<BoolAttr>("shuffle"))
      fit.shuffle = v.getValue();
    out.fit = fit;
  }
  for (ParamOp p : graph.getOps<ParamOp>()) {
    auto t = llvm::cast<RankedTensorType>(p.getType());
    out.params.push_back(ParameterValue{p.getSymName().str(),
                                        std::vector<int64_t>(t.getShape().begin(), t.getShape().end()),
                                        p.getTrainable(), p.getState(), initialValue(p, seed)});
  }
}

void kiln::collectSignatures(ModuleOp linalg, ArtifactContents &out) {
  for (auto f : linalg.getOps<func::FuncOp>()) {
    if (f.isExternal() || f.isPrivate())
      continue;
    EntrySignature e;
    e.name = f.getName().str();
    e.symbol = e.name;
    for (unsigned i = 0; i < f.getNumArguments(); ++i) {
      if (auto p = f.getArgAttrOfType<StringAttr>(i, "kiln.param")) {
        e.params.push_back(p.str());
        continue;
      }
      auto n = f.getArgAttrOfType<StringAttr>(i, "kiln.name");
      e.inputs.push_back(signature(f.getArgument(i).getType(),
                                   n ? n.str() : "input_" + std::to_string(i)));
    }
    // Trailing results that are new parameter values (kiln.updates) are
    // written in place, not outputs.
    unsigned numOutputs = f.getNumResults();
    if (auto updates = f->getAttrOfType<DenseI64ArrayAttr>("kiln.updates"))
      numOutputs -= updates.size();
    for (unsigned i = 0; i < numOutputs; ++i) {
      auto n = f.getResultAttrOfType<StringAttr>(i, "kiln.name");
      e.outputs.push_back(signature(f.getResultTypes()[i],
                                    n ? n.str() : "output_" + std::to_string(i)));
    }
    e.batchSize = e.inputs.empty() || e.inputs[0].shape.empty() ? 1 : e.inputs[0].shape[0];
    out.entries.push_back(std::move(e));
  }
}

void kiln::collectScratchSizes(ModuleOp llvmDialect, ArtifactContents &out) {
  for (EntrySignature &e : out.entries)
    if (auto f = llvmDialect.lookupSymbol<LLVM::LLVMFuncOp>(e.symbol))
      if (auto bytes = f->getAttrOfType<IntegerAttr>("kiln.scratch_bytes"))
        e.scratchBytes = bytes.getInt();
}

std::string kiln::buildArtifact(const ArtifactContents &c) {
  flatbuffers::FlatBufferBuilder b(1 << 16);
  using namespace kiln::kbin;
  auto spec = [&](const TensorSignature &t) {
    return CreateTensorSpec(b, b.CreateString(t.name), t.isInt ? DType::I32 : DType::F32,
                            b.CreateVector(t.shape));
  };
  std::vector<flatbuffers::Offset<Parameter>> params;
  llvm::StringMap<uint32_t> paramIndex;
  for (const ParameterValue &p : c.params) {
    paramIndex[p.name] = params.size();
    uint8_t *data = nullptr;
    size_t bytes = p.values.size() * sizeof(float);
    b.ForceVectorAlignment(bytes, 1, 64); // (force_align: 64)
    auto vec = b.CreateUninitializedVector(bytes, 1, &data);
    std::memcpy(data, p.values.data(), bytes);
    flatbuffers::Offset<flatbuffers::Vector<uint8_t>> dataOff(vec);
    params.push_back(CreateParameter(b, b.CreateString(p.name), DType::F32, b.CreateVector(p.shape),
                                     p.trainable, dataOff, p.state));
  }
  std::vector<flatbuffers::Offset<EntryPoint>> entries;
  for (const EntrySignature &e : c.entries) {
    std::vector<flatbuffers::Offset<TensorSpec>> ins, outs;
    for (const TensorSignature &t : e.inputs)
      ins.push_back(spec(t));
    for (const TensorSignature &t : e.outputs)
      outs.push_back(spec(t));
    std::vector<uint32_t> indices;
    for (const std::string &p : e.params)
      indices.push_back(paramIndex.lookup(p));
    entries.push_back(CreateEntryPoint(b, b.CreateString(e.name), e.batchSize, b.CreateVector(ins),
                                       b.CreateVector(outs), b.CreateVector(indices),
                                       b.CreateString("kiln_" + e.name), e.scratchBytes));
  }
  flatbuffers::Offset<CpuCode> cpu;
  if (!c.sharedObject.empty()) {
    std::vector<flatbuffers::Offset<flatbuffers::String>> features;
    for (const std::string &f : c.cpuFeatures)
      features.push_back(b.CreateString(f));
    b.ForceVectorAlignment(c.sharedObject.size(), 1, 64);
    auto so = b.CreateVector(reinterpret_cast<const uint8_t *>(c.sharedObject.data()),
                             c.sharedObject.size());
    cpu = CreateCpuCode(b, b.CreateString(c.triple), b.CreateString(c.cpu),
                        b.CreateVector(features), so);
  }
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<GpuModule>>> gpu;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<GpuEntryPoint>>> gpuEntries;
  if (!c.gpuImages.empty()) {
    std::vector<flatbuffers::Offset<GpuModule>> modules;
    for (const GpuImage &img : c.gpuImages) {
      b.ForceVectorAlignment(img.image.size(), 1, 64);
      auto bytes = b.CreateVector(reinterpret_cast<const uint8_t *>(img.image.data()), img.image.size());
      modules.push_back(CreateGpuModule(b, b.CreateString(img.arch), bytes));
    }
    gpu = b.CreateVector(modules);
    std::vector<flatbuffers::Offset<GpuEntryPoint>> ges;
    for (const GpuEntry &ge : c.gpuEntries) {
      const EntrySignature *sig = nullptr;
      for (const EntrySignature &e : c.entries)
        if (e.symbol == ge.symbol)
          sig = &e;
      if (!sig)
        continue; // not an entry point of the model (none today)
      std::vector<flatbuffers::Offset<kbin::GpuLaunch>> launches;
      for (const GpuLaunch &l : ge.launches) {
        std::vector<kbin::GpuArg> args;
        for (const GpuArg &a : l.args)
          args.emplace_back(a.buffer, a.offset);
        launches.push_back(kbin::CreateGpuLaunch(b, b.CreateString(l.kernel),
                                                 b.CreateVector(l.grid, 3), b.CreateVector(l.block, 3),
                                                 /*shared_bytes=*/0, b.CreateVectorOfStructs(args)));
      }
      ges.push_back(CreateGpuEntryPoint(b, b.CreateString(sig->name), ge.scratchBytes,
                                        b.CreateVector(launches)));
    }
    gpuEntries = b.CreateVector(ges);
  }
  flatbuffers::Offset<kbin::FitDefaults> fit;
  if (c.fit)
    fit = CreateFitDefaults(b, c.fit->epochs, c.fit->batchSize, c.fit->validationSplit, c.fit->shuffle);
  auto model = CreateModel(b, kKbinFormatVersion, b.CreateString(kProducer),
                           b.CreateString(c.modelName), b.CreateVector(entries),
                           b.CreateVector(params), cpu, gpu, /*memory_plans=*/0, fit, gpuEntries);
  FinishModelBuffer(b, model);
  return std::string(reinterpret_cast<const char *>(b.GetBufferPointer()), b.GetSize());
}
