//===- Artifact.cpp - Verify and read a .kbin ------------------------------===//
//
// A .kbin is untrusted input. Nothing is read from it before flatbuffers'
// Verifier has accepted the whole buffer (bounds, offsets, required fields,
// nesting depth, alignment relative to the buffer start), except the file
// identifier and the root table's format_version, which are checked first
// with a verifier of their own so that a file of another format or version
// gets a message saying so. Then Kiln's own checks (artifact/README.md).
//
//===----------------------------------------------------------------------===//

#include "runtime/Internal.h"

#include "artifact/kbin_generated.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <unordered_set>

namespace kbin = kiln::kbin;

static_assert(kiln::rt::kMaxArtifactBytes == FLATBUFFERS_MAX_BUFFER_SIZE, "see Internal.h");

namespace kiln::rt {
namespace {

constexpr int kMaxName = kMaxNameInMessage;

/// What the reader may copy out of the artifact (names, shapes, features,
/// parameter values, plus a fixed cost per object): 4x the file size + 1 MiB.
/// flatbuffers lets many references share one string, vector or table, so a
/// small file could otherwise ask for unbounded memory.
struct Budget {
  uint64_t left;
  static constexpr uint64_t kPerObject = 64;
  bool spend(uint64_t n) {
    if (n > left)
      return false;
    left -= n;
    return true;
  }
  kiln_status exceeded() const {
    return fail(KILN_ERR_INVALID_ARTIFACT,
                "invalid .kbin: its fields expand to more than 4x the file size (strings, shapes or "
                "parameter data shared by many references)");
  }
};

/// A name from the artifact: present, non-empty, no NUL inside (names are
/// handed out as C strings).
kiln_status readName(const flatbuffers::String *s, const std::string &what, std::string &out, Budget &budget) {
  if (!s)
    return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has no name", what.c_str());
  if (s->size() == 0)
    return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has an empty name", what.c_str());
  if (std::memchr(s->data(), '\0', s->size()))
    return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: the name of %s contains a NUL byte",
                what.c_str());
  if (!budget.spend(s->size()))
    return budget.exceeded();
  out.assign(s->data(), s->size());
  return KILN_OK;
}

kiln_status readDType(kbin::DType d, const std::string &what, kiln_dtype &out) {
  switch (d) {
  case kbin::DType::F32:
    out = KILN_F32;
    return KILN_OK;
  case kbin::DType::I32:
    out = KILN_I32;
    return KILN_OK;
  }
  return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has unknown dtype %d (known: 0 = f32, 1 = i32)",
              what.c_str(), static_cast<int>(d));
}

/// Shape entries >= 1, rank <= KILN_MAX_RANK, product * dtype size <=
/// KILN_MAX_TENSOR_BYTES (checked without overflow).
kiln_status readShape(const flatbuffers::Vector<int64_t> *shape, kiln_dtype dtype,
                      const std::string &what, TensorDesc &out, Budget &budget) {
  if (!shape)
    return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has no shape", what.c_str());
  if (shape->size() > KILN_MAX_RANK)
    return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has rank %u; at most %d dimensions are supported",
                what.c_str(), shape->size(), KILN_MAX_RANK);
  // flatbuffers 2.0.8's Verifier checks the alignment of a vector's length
  // field (4), not of its 8-byte elements; reading a misaligned one is UB.
  // (The buffer start is 64-byte aligned, so the address tells. The builder
  // leaves empty vectors unaligned: nothing is read from them.)
  if (shape->size() > 0 && reinterpret_cast<uintptr_t>(shape->Data()) % alignof(int64_t) != 0)
    return fail(KILN_ERR_INVALID_ARTIFACT, "corrupt .kbin: the shape of %s is not 8-byte aligned", what.c_str());
  if (!budget.spend(Budget::kPerObject + 8 * shape->size()))
    return budget.exceeded();
  const uint64_t elemSize = kiln_dtype_size(dtype);
  const uint64_t maxElements = KILN_MAX_TENSOR_BYTES / elemSize;
  uint64_t n = 1;
  out.shape.clear();
  for (uint32_t i = 0; i < shape->size(); ++i) {
    int64_t d = shape->Get(i);
    out.shape.push_back(d);
    if (d < 1)
      return fail(KILN_ERR_INVALID_ARTIFACT,
                  "invalid .kbin: %s has shape entry %u = %lld; every entry must be >= 1",
                  what.c_str(), i, static_cast<long long>(d));
    if (static_cast<uint64_t>(d) > maxElements / n) {
      for (uint32_t j = i + 1; j < shape->size(); ++j)
        out.shape.push_back(shape->Get(j));
      return fail(KILN_ERR_INVALID_ARTIFACT,
                  "invalid .kbin: %s has shape %s, more than the limit of %llu bytes per tensor",
                  what.c_str(), shapeText(out.shape).c_str(),
                  static_cast<unsigned long long>(KILN_MAX_TENSOR_BYTES));
    }
    n *= static_cast<uint64_t>(d);
  }
  out.dtype = dtype;
  out.numElements = static_cast<int64_t>(n);
  out.byteSize = static_cast<size_t>(n * elemSize);
  return KILN_OK;
}

kiln_status readTensorSpec(const kbin::TensorSpec *spec, const std::string &what, TensorDesc &out,
                           Budget &budget) {
  if (kiln_status s = readName(spec->name(), what, out.name, budget))
    return s;
  std::string named = what + " '" + out.name.substr(0, kMaxName) + "'";
  kiln_dtype dtype;
  if (kiln_status s = readDType(spec->dtype(), named, dtype))
    return s;
  return readShape(spec->shape(), dtype, named, out, budget);
}

/// Reads inputs or outputs; names must be unique within the list.
kiln_status readTensorList(const flatbuffers::Vector<flatbuffers::Offset<kbin::TensorSpec>> *specs,
                           const std::string &entry, const char *kind, std::vector<TensorDesc> &out,
                           Budget &budget) {
  std::unordered_set<std::string_view> seen;
  if (!budget.spend(Budget::kPerObject * specs->size()))
    return budget.exceeded();
  out.resize(specs->size());
  for (uint32_t i = 0; i < specs->size(); ++i) {
    std::string what = entry + " " + kind + " " + std::to_string(i);
    if (kiln_status s = readTensorSpec(specs->Get(i), what, out[i], budget))
      return s;
  }
  for (const TensorDesc &t : out)
    if (!seen.insert(t.name).second)
      return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has two %ss named '%.*s'", entry.c_str(), kind,
                  kMaxName, t.name.c_str());
  return KILN_OK;
}

std::string printable(const uint8_t *p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
      s += static_cast<char>(p[i]);
    } else {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02x", p[i]);
      s += buf;
    }
  }
  return s;
}

kiln_status readCpu(const kbin::CpuCode *cpu, uint32_t flags, ArtifactDesc &out, Budget &budget) {
  const flatbuffers::String *triple = cpu->triple();
  out.triple.assign(triple->data(), triple->size());
  std::string_view t = out.triple;
  if (t.substr(0, 7) != "x86_64-" || t.find("-linux") == std::string_view::npos ||
      std::memchr(t.data(), '\0', t.size()))
    return fail(KILN_ERR_UNSUPPORTED,
                "the .kbin's code is for '%.*s'; this runtime runs x86_64 Linux code "
                "(x86_64-*-linux-*) only",
                kMaxName, printable(reinterpret_cast<const uint8_t *>(t.data()), t.size()).c_str());
#if !defined(__x86_64__) || !defined(__linux__)
  if (!(flags & KILN_LOAD_NO_CODE))
    return fail(KILN_ERR_UNSUPPORTED, "the .kbin's code is for x86_64 Linux; this host is not");
#endif
  if (cpu->cpu())
    out.cpu.assign(cpu->cpu()->data(), cpu->cpu()->size());
  if (auto *features = cpu->features()) {
    for (uint32_t i = 0; i < features->size(); ++i) {
      const flatbuffers::String *f = features->Get(i);
      if (!budget.spend(Budget::kPerObject + f->size()))
        return budget.exceeded();
      std::string name(f->data(), f->size());
      int supported = std::memchr(f->data(), '\0', f->size()) ? -1 : cpuSupports(name.c_str());
      if (supported < 0)
        return fail(KILN_ERR_UNSUPPORTED,
                    "the .kbin needs CPU feature \"%.*s\", which this runtime does not know "
                    "(known: %s)",
                    kMaxName, printable(f->Data(), f->size()).c_str(), knownCpuFeatures());
      if (!supported && !(flags & KILN_LOAD_NO_CODE))
        return fail(KILN_ERR_UNSUPPORTED,
                    "the .kbin's code needs CPU feature \"%s\", which this CPU does not support "
                    "(compiled for cpu '%.*s'; recompile for this machine, e.g. with a lower "
                    "target CPU)",
                    name.c_str(), kMaxName, printable(reinterpret_cast<const uint8_t *>(out.cpu.data()),
                                                      out.cpu.size()).c_str());
      out.features.push_back(std::move(name));
    }
  }
  const flatbuffers::Vector<uint8_t> *so = cpu->shared_object();
  if (kiln_status s = checkElfHeader(so->data(), so->size()))
    return prefixError(s, "invalid .kbin: cpu.shared_object: ");
  out.hasCpu = true;
  out.sharedObject = so->data();
  out.sharedObjectSize = so->size();
  return KILN_OK;
}


//===--- the GPU section (Model.gpu, Model.gpu_entry_points) ----------------===//
//
// Rules (docs/runtime.md, "Loading untrusted files"):
// - every GpuModule has a non-empty arch (no NUL) and a non-empty image;
// - gpu_entry_points only with gpu modules; each names an existing entry
//   point, and no entry point has two;
// - scratch_bytes <= KILN_MAX_TENSOR_BYTES;
// - every launch: kernel name non-empty, at most kMaxKernelName bytes, no
//   NUL; grid and block exactly 3 entries, each >= 1; block product <= 1024;
//   grid.x <= 2^31 - 1, grid.y and grid.z <= 65535 (CUDA's limits);
// - every argument: buffer < inputs + params + outputs + 1 (the last one is
//   the GPU scratch arena), offset < that buffer's byte size (scratch:
//   < scratch_bytes, so an entry without scratch has no argument into it).
// What the kernels do with the pointers is not checked: GPU code, like CPU
// code, is trusted once loaded.

constexpr uint32_t kMaxKernelName = 1024;

/// Everything but the argument offsets (readGpu checks those against the
/// buffers' sizes).
kiln_status readLaunch(const kbin::GpuLaunch *l, const EntryDesc &entry, const std::string &what,
                       GpuLaunchDesc &out, Budget &budget) {
  const flatbuffers::String *kernel = l->kernel();
  if (kernel->size() == 0)
    return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has an empty kernel name", what.c_str());
  if (kernel->size() > kMaxKernelName)
    return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has a kernel name of %u bytes (at most %u)",
                what.c_str(), kernel->size(), kMaxKernelName);
  if (std::memchr(kernel->data(), '\0', kernel->size()))
    return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: the kernel name of %s contains a NUL byte", what.c_str());
  if (!budget.spend(Budget::kPerObject + kernel->size()))
    return budget.exceeded();
  out.kernel.assign(kernel->data(), kernel->size());
  std::string named = what + " (kernel '" + out.kernel.substr(0, kMaxName) + "')";
  const flatbuffers::Vector<uint32_t> *dims[2] = {l->grid(), l->block()};
  uint32_t *into[2] = {out.grid, out.block};
  const char *dimName[2] = {"grid", "block"};
  for (int k = 0; k < 2; ++k) {
    if (dims[k]->size() != 3)
      return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s: %s has %u entries; it needs exactly 3 (x, y, z)",
                  named.c_str(), dimName[k], dims[k]->size());
    for (uint32_t j = 0; j < 3; ++j) {
      into[k][j] = dims[k]->Get(j);
      if (into[k][j] < 1)
        return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s: %s.%c is 0; every entry must be >= 1",
                    named.c_str(), dimName[k], "xyz"[j]);
    }
  }
  uint64_t threads = uint64_t(out.block[0]) * out.block[1] * out.block[2];
  if (threads > 1024)
    return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s: block %ux%ux%u has %llu threads; at most 1024",
                named.c_str(), out.block[0], out.block[1], out.block[2], static_cast<unsigned long long>(threads));
  if (out.grid[0] > 0x7fffffffu)
    return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s: grid.x = %u; at most 2^31 - 1", named.c_str(),
                out.grid[0]);
  for (int j = 1; j < 3; ++j)
    if (out.grid[j] > 65535)
      return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s: grid.%c = %u; at most 65535", named.c_str(),
                  "xyz"[j], out.grid[j]);
  out.sharedBytes = l->shared_bytes();
  if (const auto *args = l->args()) {
    if (!budget.spend(Budget::kPerObject + 16 * static_cast<uint64_t>(args->size())))
      return budget.exceeded();
    const size_t nIn = entry.inputs.size(), nParams = entry.paramIndices.size(), nOut = entry.outputs.size();
    const size_t buffers = nIn + nParams + nOut + 1;
    // A vector of structs must be aligned to the struct (8 bytes): the
    // Verifier does not check it, and reading a misaligned one is undefined
    // (found by fuzz_kbin).
    // (An empty vector reads nothing: flatbuffers need not align it.)
    if (args->size() != 0 && reinterpret_cast<uintptr_t>(args->Data()) % alignof(kbin::GpuArg) != 0)
      return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s: args are not 8-byte aligned", named.c_str());
    for (uint32_t j = 0; j < args->size(); ++j) {
      const kbin::GpuArg *a = args->Get(j);
      GpuArgDesc d{a->buffer(), a->offset()};
      if (d.buffer >= buffers)
        return fail(KILN_ERR_INVALID_ARTIFACT,
                    "invalid .kbin: %s: args[%u] names buffer %u; the entry point has %zu (%zu inputs, %zu params, "
                    "%zu outputs, scratch)",
                    named.c_str(), j, d.buffer, buffers, nIn, nParams, nOut);
      out.args.push_back(d);
    }
  }
  return KILN_OK;
}

/// The byte size and a description of buffer `b` of `entry`.
uint64_t bufferBytes(const ArtifactDesc &a, const EntryDesc &entry, uint64_t scratch, uint32_t b, std::string &what) {
  const size_t nIn = entry.inputs.size(), nParams = entry.paramIndices.size(), nOut = entry.outputs.size();
  if (b < nIn) {
    what = "input '" + entry.inputs[b].name.substr(0, kMaxName) + "'";
    return entry.inputs[b].byteSize;
  }
  if (b < nIn + nParams) {
    const ParamDesc &p = a.params[entry.paramIndices[b - nIn]];
    what = "parameter '" + p.tensor.name.substr(0, kMaxName) + "'";
    return p.tensor.byteSize;
  }
  if (b < nIn + nParams + nOut) {
    what = "output '" + entry.outputs[b - nIn - nParams].name.substr(0, kMaxName) + "'";
    return entry.outputs[b - nIn - nParams].byteSize;
  }
  what = "the GPU scratch arena";
  return scratch;
}

kiln_status readGpu(const kbin::Model *model, ArtifactDesc &out, Budget &budget) {
  const auto *modules = model->gpu();
  const auto *entries = model->gpu_entry_points();
  if (entries && entries->size() && (!modules || modules->size() == 0))
    return fail(KILN_ERR_INVALID_ARTIFACT,
                "invalid .kbin: it has %u gpu_entry_points but no gpu modules (no kernels to launch)", entries->size());
  if (modules) {
    if (!budget.spend(Budget::kPerObject * static_cast<uint64_t>(modules->size())))
      return budget.exceeded();
    for (uint32_t i = 0; i < modules->size(); ++i) {
      const kbin::GpuModule *m = modules->Get(i);
      GpuModuleDesc d;
      std::string what = "gpu module " + std::to_string(i);
      if (m->arch()->size() == 0)
        return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has an empty arch", what.c_str());
      if (kiln_status s = readName(m->arch(), what + "'s arch", d.arch, budget))
        return s;
      const flatbuffers::Vector<uint8_t> *image = m->image();
      if (image->size() == 0)
        return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s (arch '%.*s') has an empty image", what.c_str(),
                    kMaxName, d.arch.c_str());
      if (!budget.spend(image->size() + 1))
        return budget.exceeded();
      d.image.assign(image->data(), image->data() + image->size());
      if (d.arch.compare(0, 8, "compute_") == 0 && d.image.back() != 0)
        d.image.push_back(0); // PTX text for cuModuleLoadData
      out.gpuArchs += (out.gpuArchs.empty() ? "" : ",") + d.arch;
      out.gpuModules.push_back(std::move(d));
    }
  }
  if (!entries)
    return KILN_OK;
  if (!budget.spend(Budget::kPerObject * static_cast<uint64_t>(entries->size())))
    return budget.exceeded();
  for (uint32_t i = 0; i < entries->size(); ++i) {
    const kbin::GpuEntryPoint *g = entries->Get(i);
    const flatbuffers::String *name = g->entry_point();
    std::string_view n(name->data(), name->size());
    EntryDesc *entry = nullptr;
    for (EntryDesc &e : out.entries)
      if (e.name == n)
        entry = &e;
    std::string shown = printable(reinterpret_cast<const uint8_t *>(n.data()), std::min<size_t>(n.size(), kMaxName));
    if (!entry)
      return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: gpu_entry_points[%u] names entry point '%s', which the model does not have",
                  i, shown.c_str());
    if (entry->gpu.present)
      return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: entry point '%s' has two gpu_entry_points", shown.c_str());
    entry->gpu.present = true;
    entry->gpu.scratchBytes = g->scratch_bytes();
    std::string what = "the GPU code of entry point '" + shown + "'";
    if (entry->gpu.scratchBytes > KILN_MAX_TENSOR_BYTES)
      return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has scratch_bytes %llu, more than the limit of %llu",
                  what.c_str(), static_cast<unsigned long long>(entry->gpu.scratchBytes),
                  static_cast<unsigned long long>(KILN_MAX_TENSOR_BYTES));
    const auto *launches = g->launches();
    if (!budget.spend(Budget::kPerObject * static_cast<uint64_t>(launches->size())))
      return budget.exceeded();
    entry->gpu.launches.resize(launches->size());
    for (uint32_t j = 0; j < launches->size(); ++j) {
      std::string lw = what + ": launch " + std::to_string(j);
      GpuLaunchDesc &l = entry->gpu.launches[j];
      if (kiln_status s = readLaunch(launches->Get(j), *entry, lw, l, budget))
        return s;
      for (size_t k = 0; k < l.args.size(); ++k) {
        std::string buffer;
        uint64_t bytes = bufferBytes(out, *entry, entry->gpu.scratchBytes, l.args[k].buffer, buffer);
        if (l.args[k].offset >= bytes)
          return fail(KILN_ERR_INVALID_ARTIFACT,
                      "invalid .kbin: %s (kernel '%.*s'): args[%zu] points %llu bytes into buffer %u, %s, which has "
                      "%llu bytes",
                      lw.c_str(), kMaxName, l.kernel.c_str(), k, static_cast<unsigned long long>(l.args[k].offset),
                      l.args[k].buffer, buffer.c_str(), static_cast<unsigned long long>(bytes));
      }
    }
  }
  return KILN_OK;
}

} // namespace

kiln_status checkElfHeader(const uint8_t *b, size_t n) {
  if (n < sizeof(Elf64_Ehdr))
    return fail(KILN_ERR_INVALID_ARTIFACT, "%zu bytes, too small for an ELF header (%zu bytes)", n,
                sizeof(Elf64_Ehdr));
  Elf64_Ehdr h;
  std::memcpy(&h, b, sizeof h);
  if (std::memcmp(h.e_ident, ELFMAG, SELFMAG) != 0)
    return fail(KILN_ERR_INVALID_ARTIFACT, "not an ELF object (the first bytes are \"%s\", not \"\\x7fELF\")",
                printable(b, 4).c_str());
  if (h.e_ident[EI_CLASS] != ELFCLASS64)
    return fail(KILN_ERR_INVALID_ARTIFACT, "not a 64-bit ELF object (EI_CLASS %u)", h.e_ident[EI_CLASS]);
  if (h.e_ident[EI_DATA] != ELFDATA2LSB)
    return fail(KILN_ERR_INVALID_ARTIFACT, "not a little-endian ELF object (EI_DATA %u)", h.e_ident[EI_DATA]);
  if (h.e_ident[EI_VERSION] != EV_CURRENT || h.e_version != EV_CURRENT)
    return fail(KILN_ERR_INVALID_ARTIFACT, "unknown ELF version %u", h.e_version);
  if (h.e_machine != EM_X86_64)
    return fail(KILN_ERR_INVALID_ARTIFACT, "ELF machine %u, expected x86-64 (%u)", h.e_machine, EM_X86_64);
  if (h.e_type != ET_DYN)
    return fail(KILN_ERR_INVALID_ARTIFACT, "ELF type %u, expected a shared object (ET_DYN = %u)", h.e_type,
                ET_DYN);
  if (h.e_ehsize != sizeof(Elf64_Ehdr) || h.e_phentsize != sizeof(Elf64_Phdr))
    return fail(KILN_ERR_INVALID_ARTIFACT, "malformed ELF header (e_ehsize %u, e_phentsize %u)", h.e_ehsize,
                h.e_phentsize);
  if (h.e_phnum == 0 || h.e_phnum == PN_XNUM)
    return fail(KILN_ERR_INVALID_ARTIFACT, "ELF object with %u program headers", h.e_phnum);
  if (h.e_phoff > n || (n - h.e_phoff) / sizeof(Elf64_Phdr) < h.e_phnum)
    return fail(KILN_ERR_INVALID_ARTIFACT,
                "ELF program headers (%u at offset %llu) lie outside the %zu-byte object", h.e_phnum,
                static_cast<unsigned long long>(h.e_phoff), n);
  bool dynamic = false;
  for (unsigned i = 0; i < h.e_phnum; ++i) {
    Elf64_Phdr p;
    std::memcpy(&p, b + h.e_phoff + i * sizeof(Elf64_Phdr), sizeof p);
    if (p.p_type == PT_DYNAMIC)
      dynamic = true;
    if ((p.p_type == PT_LOAD || p.p_type == PT_DYNAMIC) && (p.p_offset > n || n - p.p_offset < p.p_filesz))
      return fail(KILN_ERR_INVALID_ARTIFACT, "ELF segment %u (offset %llu, %llu bytes) lies outside the %zu-byte object",
                  i, static_cast<unsigned long long>(p.p_offset), static_cast<unsigned long long>(p.p_filesz), n);
  }
  if (!dynamic)
    return fail(KILN_ERR_INVALID_ARTIFACT, "ELF object without a dynamic segment (not a shared object)");
  return KILN_OK;
}

kiln_status readArtifact(const uint8_t *data, size_t size, uint32_t flags, ArtifactDesc &out) {
  // --- envelope: size, identifier, version --------------------------------
  if (size < 8)
    return fail(KILN_ERR_INVALID_ARTIFACT, "not a .kbin: %zu bytes, too small for a flatbuffer (at least 8)", size);
  if (size >= kMaxArtifactBytes)
    return fail(KILN_ERR_INVALID_ARTIFACT, "not a .kbin: %zu bytes; the format (flatbuffers) is limited to 2 GiB", size);
  if (!kbin::ModelBufferHasIdentifier(data))
    return fail(KILN_ERR_INVALID_ARTIFACT,
                "not a .kbin: file identifier (bytes 4-7) is \"%s\", expected \"%s\"",
                printable(data + 4, 4).c_str(), kbin::ModelIdentifier());

  flatbuffers::Verifier::Options options;
  options.max_depth = 64;
  options.max_tables = 1 << 20;
  options.check_alignment = true;
  {
    flatbuffers::Verifier v(data, size, options);
    flatbuffers::uoffset_t root = v.VerifyOffset(0);
    auto *table = root ? reinterpret_cast<const flatbuffers::Table *>(data + root) : nullptr;
    if (!table || !table->VerifyTableStart(v) ||
        !table->VerifyField<uint32_t>(v, kbin::Model::VT_FORMAT_VERSION, 4))
      return fail(KILN_ERR_INVALID_ARTIFACT,
                  "corrupt or truncated .kbin (%zu bytes): its root table lies outside the file", size);
    uint32_t version = table->GetField<uint32_t>(kbin::Model::VT_FORMAT_VERSION, 0);
    if (version != KILN_KBIN_FORMAT_VERSION)
      return fail(KILN_ERR_VERSION,
                  "the .kbin has format_version %u%s; this runtime reads format_version %d "
                  "(recompile the model with a matching kilnc, or use a matching runtime)",
                  version, version == 0 ? " (missing)" : "", KILN_KBIN_FORMAT_VERSION);
    out.formatVersion = version;
  }
  {
    flatbuffers::Verifier v(data, size, options);
    if (!kbin::VerifyModelBuffer(v))
      return fail(KILN_ERR_INVALID_ARTIFACT,
                  "corrupt or truncated .kbin (%zu bytes): flatbuffers verification failed (an "
                  "offset or length points outside the file, a required field is missing, data is "
                  "misaligned, or tables nest too deep)",
                  size);
  }
  const kbin::Model *model = kbin::GetModel(data);
  Budget budget{4 * static_cast<uint64_t>(size) + (1u << 20)};

  // --- model ----------------------------------------------------------------
  if (kiln_status s = readName(model->name(), "the model", out.name, budget))
    return s;
  if (model->producer()) {
    const char *producer = model->producer()->c_str(); // up to a NUL, if any
    if (!budget.spend(std::strlen(producer)))
      return budget.exceeded();
    out.producer.assign(producer);
  }

  // --- parameters ------------------------------------------------------------
  auto *params = model->params();
  if (!budget.spend(Budget::kPerObject * params->size()))
    return budget.exceeded();
  out.params.resize(params->size());
  std::unordered_set<std::string_view> paramNames;
  for (uint32_t i = 0; i < params->size(); ++i) {
    const kbin::Parameter *p = params->Get(i);
    ParamDesc &d = out.params[i];
    std::string what = "parameter " + std::to_string(i);
    if (kiln_status s = readName(p->name(), what, d.tensor.name, budget))
      return s;
    std::string named = "parameter '" + d.tensor.name.substr(0, kMaxName) + "'";
    kiln_dtype dtype;
    if (kiln_status s = readDType(p->dtype(), named, dtype))
      return s;
    if (kiln_status s = readShape(p->shape(), dtype, named, d.tensor, budget))
      return s;
    d.trainable = p->trainable();
    d.state = p->state();
    size_t have = p->data() ? p->data()->size() : 0;
    if (!p->data())
      return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has no data (expected %zu bytes for %s x %s)",
                  named.c_str(), d.tensor.byteSize, shapeText(d.tensor.shape).c_str(),
                  kiln_dtype_name(dtype));
    if (have != d.tensor.byteSize)
      return fail(KILN_ERR_INVALID_ARTIFACT,
                  "invalid .kbin: %s has %zu bytes of data, expected %zu (shape %s x %s)", named.c_str(),
                  have, d.tensor.byteSize, shapeText(d.tensor.shape).c_str(), kiln_dtype_name(dtype));
    // A state entry is copied twice: its current value and its initial one
    // (kept for kiln_model_reset_state).
    if (!budget.spend(d.tensor.byteSize) || (d.state && !budget.spend(d.tensor.byteSize)))
      return budget.exceeded();
    d.initial = p->data()->data();
  }
  for (const ParamDesc &d : out.params)
    if (!paramNames.insert(d.tensor.name).second)
      return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: two parameters are named '%.*s'", kMaxName,
                  d.tensor.name.c_str());

  // --- entry points ----------------------------------------------------------
  auto *entries = model->entry_points();
  if (!budget.spend(Budget::kPerObject * entries->size()))
    return budget.exceeded();
  out.entries.resize(entries->size());
  for (uint32_t i = 0; i < entries->size(); ++i) {
    const kbin::EntryPoint *e = entries->Get(i);
    EntryDesc &d = out.entries[i];
    if (kiln_status s = readName(e->name(), "entry point " + std::to_string(i), d.name, budget))
      return s;
    std::string named = "entry point '" + d.name.substr(0, kMaxName) + "'";
    d.batchSize = e->batch_size();
    if (d.batchSize < 1)
      return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has batch_size %lld; it must be >= 1",
                  named.c_str(), static_cast<long long>(d.batchSize));
    if (kiln_status s = readTensorList(e->inputs(), named, "input", d.inputs, budget))
      return s;
    if (kiln_status s = readTensorList(e->outputs(), named, "output", d.outputs, budget))
      return s;
    auto *indices = e->param_indices();
    if (!budget.spend(8 * static_cast<uint64_t>(indices->size())))
      return budget.exceeded();
    for (uint32_t j = 0; j < indices->size(); ++j) {
      uint32_t k = indices->Get(j);
      if (k >= out.params.size())
        return fail(KILN_ERR_INVALID_ARTIFACT,
                    "invalid .kbin: %s: param_indices[%u] = %u is out of range (the model has %zu parameters)",
                    named.c_str(), j, k, out.params.size());
      d.paramIndices.push_back(k);
    }
    std::vector<uint32_t> sorted = d.paramIndices; // O(n log n), not O(entries x params)
    std::sort(sorted.begin(), sorted.end());
    auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    if (twice != sorted.end())
      return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s: param_indices lists parameter %u ('%.*s') twice",
                  named.c_str(), *twice, kMaxName, out.params[*twice].tensor.name.c_str());
    // A model with CPU code has a cpu_symbol for every entry point; one
    // compiled for CUDA only (no cpu section) has GPU code for each instead
    // (checked with the GPU section below).
    if (!e->cpu_symbol() && model->cpu())
      return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has no cpu_symbol (the model has cpu code)",
                  named.c_str());
    if (e->cpu_symbol())
      if (kiln_status s = readName(e->cpu_symbol(), "the cpu_symbol of " + named, d.cpuSymbol, budget))
        return s;
    d.scratchBytes = e->scratch_bytes();
    if (d.scratchBytes > KILN_MAX_TENSOR_BYTES)
      return fail(KILN_ERR_INVALID_ARTIFACT, "invalid .kbin: %s has scratch_bytes %llu, more than the limit of %llu",
                  named.c_str(), static_cast<unsigned long long>(d.scratchBytes),
                  static_cast<unsigned long long>(KILN_MAX_TENSOR_BYTES));
  }
  std::unordered_set<std::string_view> entryNames;
  for (const EntryDesc &d : out.entries)
    if (!entryNames.insert(d.name).second)
      return fail(KILN_ERR_INVALID_ARTIFACT,
                  "invalid .kbin: two entry points are named '%.*s' (names must be unique; give each "
                  "batch-size specialisation its own name)",
                  kMaxName, d.name.c_str());

  // --- fit(...) defaults (optional) ----------------------------------------------
  if (const kbin::FitDefaults *fit = model->fit()) {
    out.hasFit = true;
    out.fitEpochs = fit->epochs();
    out.fitBatchSize = fit->batch_size();
    out.fitValidationSplit = fit->validation_split();
    out.fitShuffle = fit->shuffle();
  }

  // --- GPU code (optional) ------------------------------------------------------
  if (kiln_status s = readGpu(model, out, budget))
    return s;

  // --- native code --------------------------------------------------------------
  if (model->cpu()) {
    if (kiln_status s = readCpu(model->cpu(), flags, out, budget))
      return s;
  } else {
    for (const EntryDesc &d : out.entries)
      if (!d.gpu.present)
        return fail(KILN_ERR_INVALID_ARTIFACT,
                    "invalid .kbin: the model has %zu entry points but no cpu code, and entry point '%.*s' has no "
                    "GPU code either (gpu_entry_points)",
                    out.entries.size(), kMaxName, d.name.c_str());
  }
  return KILN_OK;
}

} // namespace kiln::rt
