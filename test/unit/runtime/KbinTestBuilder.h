//===- KbinTestBuilder.h - Build .kbin files in tests -----------*- C++ -*-===//
//
// A plain description of a model (KbinSpec) and a flatbuffers builder that
// turns it into .kbin bytes, including deliberately broken ones (any field
// can be set to anything the schema can hold; `omit*` leave required fields
// out). Used by the runtime unit tests and the fuzz seed generator.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "artifact/kbin_generated.h"

#include <elf.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace kiln::test {

struct TensorSpecDesc {
  std::string name;
  int8_t dtype = 0; // raw: 0 = F32, 1 = I32, anything else is invalid
  std::vector<int64_t> shape;
};

struct ParamSpecDesc {
  std::string name;
  int8_t dtype = 0;
  std::vector<int64_t> shape;
  bool trainable = true;
  std::optional<std::vector<uint8_t>> data; // nullopt: field left out
  bool state = false;                       // optimizer state (Parameter.state)
};

struct EntrySpecDesc {
  std::string name;
  int64_t batchSize = 1;
  std::vector<TensorSpecDesc> inputs, outputs;
  std::vector<uint32_t> paramIndices;
  std::optional<std::string> cpuSymbol;
  uint64_t scratchBytes = 0;
  bool omitName = false; // leave the required `name` out
};

/// The GPU section (kbin GpuModule / GpuEntryPoint); any values, valid or not.
struct GpuArgSpec {
  uint32_t buffer = 0;
  uint64_t offset = 0;
};
struct GpuLaunchSpec {
  std::string kernel = "k";
  std::vector<uint32_t> grid{1, 1, 1}, block{32, 1, 1};
  uint32_t sharedBytes = 0;
  std::vector<GpuArgSpec> args;
};
struct GpuEntrySpec {
  std::string entryPoint;
  uint64_t scratchBytes = 0;
  std::vector<GpuLaunchSpec> launches;
};
struct GpuModuleSpec {
  std::string arch;
  std::vector<uint8_t> image;
};

struct KbinSpec {
  uint32_t formatVersion = 1;
  std::string producer = "kiln-test";
  std::string name = "test-model";
  std::vector<EntrySpecDesc> entries;
  std::vector<ParamSpecDesc> params;
  bool hasCpu = true;
  std::string triple = "x86_64-unknown-linux-gnu";
  std::string cpu = "x86-64";
  std::vector<std::string> features;
  std::vector<uint8_t> sharedObject;
  std::string identifier = "KBIN"; // 4 characters
  std::vector<GpuModuleSpec> gpu;        // empty: no `gpu` field
  std::vector<GpuEntrySpec> gpuEntries;  // empty: no `gpu_entry_points` field
};

template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  if (!out.empty())
    std::memcpy(out.data(), values.data(), out.size());
  return out;
}

inline std::vector<uint8_t> buildKbin(const KbinSpec &spec) {
  namespace kb = kiln::kbin;
  flatbuffers::FlatBufferBuilder b(1024);

  // Names go through std::string, so they may hold NUL bytes.
  auto tensor = [&](const TensorSpecDesc &t) {
    auto name = b.CreateString(t.name);
    auto shape = b.CreateVector(t.shape);
    return kb::CreateTensorSpec(b, name, static_cast<kb::DType>(t.dtype), shape);
  };

  flatbuffers::Offset<kb::CpuCode> cpu = 0;
  if (spec.hasCpu) {
    std::vector<flatbuffers::Offset<flatbuffers::String>> features;
    for (const std::string &f : spec.features)
      features.push_back(b.CreateString(f));
    cpu = kb::CreateCpuCodeDirect(b, spec.triple.c_str(), spec.cpu.c_str(), &features, &spec.sharedObject);
  }

  std::vector<flatbuffers::Offset<kb::Parameter>> params;
  for (const ParamSpecDesc &p : spec.params) {
    auto name = b.CreateString(p.name);
    auto shape = b.CreateVector(p.shape);
    flatbuffers::Offset<flatbuffers::Vector<uint8_t>> data = 0;
    if (p.data) {
      b.ForceVectorAlignment(p.data->size(), 1, 64); // (force_align: 64)
      data = b.CreateVector(*p.data);
    }
    params.push_back(kb::CreateParameter(b, name, static_cast<kb::DType>(p.dtype), shape, p.trainable, data,
                                             p.state));
  }

  std::vector<flatbuffers::Offset<kb::EntryPoint>> entries;
  for (const EntrySpecDesc &e : spec.entries) {
    std::vector<flatbuffers::Offset<kb::TensorSpec>> inputs, outputs;
    for (const TensorSpecDesc &t : e.inputs)
      inputs.push_back(tensor(t));
    for (const TensorSpecDesc &t : e.outputs)
      outputs.push_back(tensor(t));
    auto name = e.omitName ? 0 : b.CreateString(e.name);
    auto in = b.CreateVector(inputs);
    auto out = b.CreateVector(outputs);
    auto indices = b.CreateVector(e.paramIndices);
    auto symbol = e.cpuSymbol ? b.CreateString(*e.cpuSymbol) : 0;
    // By hand rather than with EntryPointBuilder, whose Finish() asserts
    // (in builds without NDEBUG) that required fields are present.
    auto start = b.StartTable();
    b.AddElement<uint64_t>(kb::EntryPoint::VT_SCRATCH_BYTES, e.scratchBytes, 0);
    b.AddElement<int64_t>(kb::EntryPoint::VT_BATCH_SIZE, e.batchSize, 0);
    if (e.cpuSymbol)
      b.AddOffset(kb::EntryPoint::VT_CPU_SYMBOL, symbol);
    b.AddOffset(kb::EntryPoint::VT_PARAM_INDICES, indices);
    b.AddOffset(kb::EntryPoint::VT_OUTPUTS, out);
    b.AddOffset(kb::EntryPoint::VT_INPUTS, in);
    if (!e.omitName)
      b.AddOffset(kb::EntryPoint::VT_NAME, name);
    entries.push_back(flatbuffers::Offset<kb::EntryPoint>(b.EndTable(start)));
  }

  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<kb::GpuModule>>> gpu = 0;
  if (!spec.gpu.empty()) {
    std::vector<flatbuffers::Offset<kb::GpuModule>> modules;
    for (const GpuModuleSpec &m : spec.gpu)
      modules.push_back(kb::CreateGpuModule(b, b.CreateString(m.arch), b.CreateVector(m.image)));
    gpu = b.CreateVector(modules);
  }
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<kb::GpuEntryPoint>>> gpuEntries = 0;
  if (!spec.gpuEntries.empty()) {
    std::vector<flatbuffers::Offset<kb::GpuEntryPoint>> list;
    for (const GpuEntrySpec &g : spec.gpuEntries) {
      std::vector<flatbuffers::Offset<kb::GpuLaunch>> launches;
      for (const GpuLaunchSpec &l : g.launches) {
        std::vector<kb::GpuArg> args;
        for (const GpuArgSpec &a : l.args)
          args.emplace_back(a.buffer, a.offset);
        launches.push_back(kb::CreateGpuLaunch(b, b.CreateString(l.kernel), b.CreateVector(l.grid),
                                               b.CreateVector(l.block), l.sharedBytes, b.CreateVectorOfStructs(args)));
      }
      list.push_back(kb::CreateGpuEntryPoint(b, b.CreateString(g.entryPoint), g.scratchBytes, b.CreateVector(launches)));
    }
    gpuEntries = b.CreateVector(list);
  }

  auto producer = b.CreateString(spec.producer);
  auto name = b.CreateString(spec.name);
  auto model = kb::CreateModel(b, spec.formatVersion, producer, name, b.CreateVector(entries), b.CreateVector(params),
                               cpu, gpu, 0, 0, gpuEntries);
  kb::FinishModelBuffer(b, model);
  std::vector<uint8_t> bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  std::memcpy(bytes.data() + 4, spec.identifier.data(), 4);
  return bytes;
}

inline std::vector<uint8_t> readFileBytes(const std::string &path) {
  std::vector<uint8_t> out;
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return out;
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    out.insert(out.end(), buf, buf + n);
  std::fclose(f);
  return out;
}

inline bool writeFileBytes(const std::string &path, const std::vector<uint8_t> &bytes) {
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return false;
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

/// The smallest object that passes the runtime's ELF header checks (an
/// x86-64 ET_DYN header and one PT_DYNAMIC program header); not loadable.
/// For KILN_LOAD_NO_CODE tests and fuzz seeds.
inline std::vector<uint8_t> fakeSharedObject() {
  Elf64_Ehdr h{};
  std::memcpy(h.e_ident, ELFMAG, SELFMAG);
  h.e_ident[EI_CLASS] = ELFCLASS64;
  h.e_ident[EI_DATA] = ELFDATA2LSB;
  h.e_ident[EI_VERSION] = EV_CURRENT;
  h.e_type = ET_DYN;
  h.e_machine = EM_X86_64;
  h.e_version = EV_CURRENT;
  h.e_phoff = sizeof(Elf64_Ehdr);
  h.e_ehsize = sizeof(Elf64_Ehdr);
  h.e_phentsize = sizeof(Elf64_Phdr);
  h.e_phnum = 1;
  Elf64_Phdr p{};
  p.p_type = PT_DYNAMIC;
  std::vector<uint8_t> out(sizeof h + sizeof p);
  std::memcpy(out.data(), &h, sizeof h);
  std::memcpy(out.data() + sizeof h, &p, sizeof p);
  return out;
}

/// The test model of RuntimeTest.cpp / the fuzz seeds: entry points
/// "predict" (affine), "add" (i32) and "train_step", parameters
/// "affine/kernel" [8] f32, "add/offset" [] i32 and "frozen/table" [2, 3] f32
/// (not trainable, used by no entry point).
inline KbinSpec testModelSpec(std::vector<uint8_t> sharedObject) {
  KbinSpec s;
  s.name = "affine-model";
  s.sharedObject = std::move(sharedObject);
  s.features = {"sse2"};

  std::vector<float> kernel(8);
  for (int j = 0; j < 8; ++j)
    kernel[j] = 0.5f * static_cast<float>(j + 1);
  s.params.push_back({"affine/kernel", 0, {8}, true, bytesOf(kernel)});
  s.params.push_back({"add/offset", 1, {}, true, bytesOf(std::vector<int32_t>{100})});
  s.params.push_back({"frozen/table", 0, {2, 3}, false, bytesOf(std::vector<float>{1, 2, 3, 4, 5, 6})});

  EntrySpecDesc predict;
  predict.name = "predict";
  predict.batchSize = 4;
  predict.inputs = {{"x", 0, {4, 8}}};
  predict.outputs = {{"y", 0, {4, 8}}};
  predict.paramIndices = {0};
  predict.cpuSymbol = "kiln_test_affine";
  predict.scratchBytes = 128;

  EntrySpecDesc add;
  add.name = "add";
  add.batchSize = 3;
  add.inputs = {{"a", 1, {3}}, {"b", 1, {3}}};
  add.outputs = {{"c", 1, {3}}};
  add.paramIndices = {1};
  add.cpuSymbol = "kiln_test_add";

  EntrySpecDesc train;
  train.name = "train_step";
  train.batchSize = 4;
  train.inputs = {{"x", 0, {4, 8}}};
  train.outputs = {{"loss", 0, {}}};
  train.paramIndices = {0};
  train.cpuSymbol = "kiln_test_train";

  s.entries = {predict, add, train};
  return s;
}

/// GPU code for testModelSpec's "predict" (an "sm_80" module whose image is
/// not a real CUBIN: enough for the artifact checks, not for a device) with
/// one launch over x, affine/kernel, y and scratch.
inline void addTestGpuCode(KbinSpec &s) {
  s.gpu = {{"sm_80", {0x7f, 'E', 'L', 'F'}}, {"compute_90", {'/', '/', ' ', 'P', 'T', 'X'}}};
  GpuEntrySpec g;
  g.entryPoint = "predict";
  g.scratchBytes = 256;
  GpuLaunchSpec l;
  l.kernel = "kiln_affine";
  l.grid = {1, 1, 1};
  l.block = {32, 1, 1};
  l.args = {{0, 0}, {1, 0}, {2, 0}, {3, 128}};
  g.launches = {l};
  s.gpuEntries = {g};
}

} // namespace kiln::test
