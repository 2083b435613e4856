//===- Safetensors.cpp - .safetensors parameter files ---------------------===//
#include "runtime/io/Safetensors.h"
#include "runtime/io/ByteIO.h"
#include "runtime/io/Json.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

namespace kiln::io {
using namespace detail;

namespace {

// The reference implementation refuses larger headers.
constexpr uint64_t kMaxHeaderLen = 100000000;

struct DTypeName {
  const char *name;
  DType dtype;
};
constexpr DTypeName kDTypes[] = {
    {"BOOL", DType::Bool}, {"U8", DType::U8},     {"I8", DType::I8},   {"U16", DType::U16},
    {"I16", DType::I16},   {"U32", DType::U32},   {"I32", DType::I32}, {"U64", DType::U64},
    {"I64", DType::I64},   {"F16", DType::F16},   {"BF16", DType::BF16}, {"F32", DType::F32},
    {"F64", DType::F64},
};
const char *kSupported = "BOOL U8 I8 U16 I16 U32 I32 U64 I64 F16 BF16 F32 F64";

std::string quoted(const std::string &s) { return "'" + quoteBytes(s.data(), s.size(), 80) + "'"; }

std::string jsonShape(const std::vector<int64_t> &shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string offsetsText(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

/// Validates one tensor entry of the header.
Status readTensorInfo(const Source &source, const std::string &name, const JsonValue &value,
                      uint64_t dataSize, TensorInfo &out) {
  std::string what = "tensor " + quoted(name);
  auto fail = [&](const std::string &problem) { return source.error(what + ": " + problem); };
  if (value.kind != JsonValue::Kind::Object)
    return fail(std::string("expected an object, found ") + jsonKindName(value.kind));
  for (const std::string &key : value.keys)
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      return fail("unexpected field " + quoted(key) +
                  " (allowed: \"dtype\", \"shape\", \"data_offsets\")");
  const JsonValue *dtype = value.find("dtype"), *shape = value.find("shape"),
                  *offsets = value.find("data_offsets");
  if (!dtype)
    return fail("no \"dtype\" field");
  if (!shape)
    return fail("no \"shape\" field");
  if (!offsets)
    return fail("no \"data_offsets\" field");

  if (dtype->kind != JsonValue::Kind::String)
    return fail(std::string("\"dtype\" must be a string, found ") + jsonKindName(dtype->kind));
  bool known = false;
  for (const DTypeName &d : kDTypes)
    if (dtype->text == d.name) {
      out.dtype = d.dtype;
      known = true;
    }
  if (!known)
    return fail("unsupported dtype " + quoted(dtype->text) + " (supported: " + kSupported + ")");

  if (shape->kind != JsonValue::Kind::Array)
    return fail(std::string("\"shape\" must be an array, found ") + jsonKindName(shape->kind));
  for (const JsonValue &dim : shape->elements) {
    uint64_t v;
    if (!jsonToU64(dim, v) || v > uint64_t(INT64_MAX))
      return fail("\"shape\" must hold non-negative integers, found " +
                  (dim.kind == JsonValue::Kind::Number ? dim.text.substr(0, 30)
                                                       : std::string(jsonKindName(dim.kind))));
    out.shape.push_back(int64_t(v));
  }
  uint64_t bytes;
  if (!checkedElementCount(out.shape, dtypeSize(out.dtype), nullptr, &bytes))
    return fail("shape " + jsonShape(out.shape) + " is too large (its size overflows)");

  if (offsets->kind != JsonValue::Kind::Array || offsets->elements.size() != 2 ||
      !jsonToU64(offsets->elements[0], out.begin) || !jsonToU64(offsets->elements[1], out.end))
    return fail("\"data_offsets\" must be an array of two non-negative integers");
  if (out.begin > out.end)
    return fail("data_offsets " + offsetsText(out.begin, out.end) + " end before they begin");
  if (out.end > dataSize)
    return fail("data_offsets " + offsetsText(out.begin, out.end) +
                " run past the end of the data section (" + std::to_string(dataSize) + " bytes)");
  if (out.end - out.begin != bytes)
    return fail("shape " + jsonShape(out.shape) + " of " + dtype->text + " needs " +
                std::to_string(bytes) + " bytes but data_offsets " +
                offsetsText(out.begin, out.end) + " span " + std::to_string(out.end - out.begin));
  out.name = name;
  return Status();
}

Expected<SafetensorsFile> readFile(Source &source) {
  const uint64_t size = source.size();
  if (size < 8)
    return source.error("truncated: " + std::to_string(size) +
                        " bytes is too short for the 8-byte header length");
  uint8_t lengthField[8];
  if (Status s = source.readAt(0, lengthField, 8); !s)
    return s;
  uint64_t headerLen = loadU64(lengthField);
  if (headerLen > kMaxHeaderLen)
    return source.error("header length " + std::to_string(headerLen) +
                        " exceeds the format's limit of " + std::to_string(kMaxHeaderLen) +
                        " bytes (not a .safetensors file?)");
  if (headerLen > size - 8)
    return source.error("truncated: header length " + std::to_string(headerLen) +
                        " runs past the end of the file (only " + std::to_string(size - 8) +
                        " bytes follow the length field)");
  if (headerLen < 2)
    return source.error("header length " + std::to_string(headerLen) +
                        " is too short for a JSON object");
  std::string header(size_t(headerLen), '\0');
  if (Status s = source.readAt(8, header.data(), header.size()); !s)
    return s;
  if (header[0] != '{')
    return source.error("the header does not start with '{' (not a .safetensors file?): \"" +
                        quoteBytes(header.data(), header.size(), 40) + "\"");
  JsonValue root;
  std::string jsonError;
  if (!parseJson(header, root, jsonError))
    return source.error("invalid JSON header: " + jsonError);
  if (root.kind != JsonValue::Kind::Object)
    return source.error("the header is not a JSON object");

  const uint64_t dataStart = 8 + headerLen, dataSize = size - dataStart;
  SafetensorsFile file;
  std::vector<TensorInfo> infos;
  for (size_t i = 0; i < root.keys.size(); ++i) {
    const std::string &key = root.keys[i];
    const JsonValue &value = root.elements[i];
    if (key == "__metadata__") {
      if (value.kind == JsonValue::Kind::Null)
        continue;
      if (value.kind != JsonValue::Kind::Object)
        return source.error(std::string("\"__metadata__\" must be an object of strings, found ") +
                            jsonKindName(value.kind));
      for (size_t j = 0; j < value.keys.size(); ++j) {
        if (value.elements[j].kind != JsonValue::Kind::String)
          return source.error("\"__metadata__\" entry " + quoted(value.keys[j]) + " is " +
                              jsonKindName(value.elements[j].kind) + ", not a string");
        file.metadata.emplace_back(value.keys[j], value.elements[j].text);
      }
      continue;
    }
    TensorInfo info;
    if (Status s = readTensorInfo(source, key, value, dataSize, info); !s)
      return s;
    infos.push_back(std::move(info));
  }

  // The tensors must tile the data section exactly: sorted by offset, each
  // begins where the previous one ended, and the last ends at the file's end.
  std::vector<const TensorInfo *> sorted;
  for (const TensorInfo &info : infos)
    sorted.push_back(&info);
  std::sort(sorted.begin(), sorted.end(), [](const TensorInfo *a, const TensorInfo *b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const TensorInfo *previous = nullptr;
  for (const TensorInfo *info : sorted) {
    if (info->begin < covered)
      return source.error("tensors " + quoted(previous->name) + " (data_offsets " +
                          offsetsText(previous->begin, previous->end) + ") and " +
                          quoted(info->name) + " (data_offsets " +
                          offsetsText(info->begin, info->end) + ") overlap");
    if (info->begin > covered)
      return source.error("bytes [" + std::to_string(covered) + ", " +
                          std::to_string(info->begin) +
                          ") of the data section belong to no tensor (a gap before " +
                          quoted(info->name) + ")");
    covered = info->end;
    previous = info;
  }
  if (covered != dataSize)
    return source.error("the data section has " + std::to_string(dataSize) +
                        " bytes but the tensors cover only " + std::to_string(covered) +
                        " (trailing bytes, or a tensor is missing from the header)");

  file.tensors.reserve(infos.size());
  for (TensorInfo &info : infos) {
    Expected<Array> array = Array::uninitialized(info.dtype, std::move(info.shape));
    if (!array)
      return source.error("tensor " + quoted(info.name) + ": " + array.message());
    if (Status s = source.readAt(dataStart + info.begin, array->bytes(), array->byteSize()); !s)
      return s;
    if (info.dtype == DType::Bool)
      for (size_t k = 0; k < array->byteSize(); ++k)
        if (array->bytes()[k] > 1)
          return source.error("tensor " + quoted(info.name) + ": bool element " +
                              std::to_string(k) + " has byte value " +
                              std::to_string(array->bytes()[k]) + " (must be 0 or 1)");
    file.tensors.push_back({std::move(info.name), std::move(*array)});
  }
  return file;
}

Status writeFile(Sink &sink, const std::vector<NamedArrayRef> &tensors, const Metadata &metadata,
                 const std::string &what) {
  auto fail = [&](const std::string &problem) { return Error(what + ": " + problem); };
  std::vector<uint64_t> sizes(tensors.size());
  std::unordered_set<std::string> names, keys;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const NamedArrayRef &t = tensors[i];
    if (!isValidUtf8(t.name))
      return fail("tensor name " + quoted(t.name) + " is not valid UTF-8");
    if (t.name == "__metadata__")
      return fail("\"__metadata__\" is reserved and cannot name a tensor");
    if (!names.insert(t.name).second)
      return fail("two tensors are named " + quoted(t.name));
    if (!checkedElementCount(t.array.shape, dtypeSize(t.array.dtype), nullptr, &sizes[i]))
      return fail("tensor " + quoted(t.name) + ": invalid shape " + jsonShape(t.array.shape) +
                  " (a dimension is negative or the size overflows)");
    if (sizes[i] > 0 && !t.array.data)
      return fail("tensor " + quoted(t.name) + ": data pointer is null");
    if (t.array.dtype == DType::Bool)
      for (uint64_t k = 0; k < sizes[i]; ++k)
        if (static_cast<const uint8_t *>(t.array.data)[k] > 1)
          return fail("tensor " + quoted(t.name) + ": bool element " + std::to_string(k) +
                      " is not 0 or 1");
  }
  for (size_t i = 0; i < metadata.size(); ++i) {
    if (!isValidUtf8(metadata[i].first) || !isValidUtf8(metadata[i].second))
      return fail("metadata entry " + quoted(metadata[i].first) + " is not valid UTF-8");
    if (!keys.insert(metadata[i].first).second)
      return fail("metadata key " + quoted(metadata[i].first) + " appears twice");
  }

  // Widest elements first keeps every tensor aligned to its element size
  // (the header is padded to a multiple of 8).
  std::vector<size_t> layout(tensors.size());
  for (size_t i = 0; i < layout.size(); ++i)
    layout[i] = i;
  std::sort(layout.begin(), layout.end(), [&](size_t a, size_t b) {
    size_t sa = dtypeSize(tensors[a].array.dtype), sb = dtypeSize(tensors[b].array.dtype);
    return sa != sb ? sa > sb : a < b; // stable: ties keep the given order
  });
  std::vector<uint64_t> begin(tensors.size());
  uint64_t offset = 0;
  for (size_t i : layout) {
    begin[i] = offset;
    offset += sizes[i];
  }

  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata.size(); ++i) {
      if (i)
        header += ",";
      appendJsonString(header, metadata[i].first);
      header += ":";
      appendJsonString(header, metadata[i].second);
    }
    header += "}";
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (i || !metadata.empty())
      header += ",";
    appendJsonString(header, tensors[i].name);
    header += std::string(":{\"dtype\":\"") + safetensorsDType(tensors[i].array.dtype) +
              "\",\"shape\":[";
    for (size_t d = 0; d < tensors[i].array.shape.size(); ++d)
      header += (d ? "," : "") + std::to_string(tensors[i].array.shape[d]);
    header += "],\"data_offsets\":[" + std::to_string(begin[i]) + "," +
              std::to_string(begin[i] + sizes[i]) + "]}";
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > kMaxHeaderLen)
    return fail("the header would exceed the format's limit of " + std::to_string(kMaxHeaderLen) +
                " bytes (too many tensors)");

  std::string lengthField;
  appendU64(lengthField, header.size());
  if (Status s = sink.write(lengthField.data(), lengthField.size()); !s)
    return s;
  if (Status s = sink.write(header.data(), header.size()); !s)
    return s;
  for (size_t i : layout)
    if (sizes[i])
      if (Status s = sink.write(tensors[i].array.data, size_t(sizes[i])); !s)
        return s;
  return Status();
}

} // namespace

const char *safetensorsDType(DType dtype) {
  for (const DTypeName &d : kDTypes)
    if (d.dtype == dtype)
      return d.name;
  return "?";
}

Expected<SafetensorsFile> parseSafetensors(const void *data, size_t size, const std::string &name) {
  MemorySource source(data, size, name);
  return readFile(source);
}

Expected<SafetensorsFile> readSafetensors(const std::string &path) {
  Expected<std::unique_ptr<FileSource>> source = FileSource::open(path);
  if (!source)
    return source.status();
  return readFile(**source);
}

Status writeSafetensors(const std::string &path, const std::vector<NamedArrayRef> &tensors,
                        const Metadata &metadata) {
  return writeFileAtomically(
      path, [&](Sink &sink) { return writeFile(sink, tensors, metadata, path); });
}

Status writeSafetensors(const std::string &path, const ArrayList &tensors,
                        const Metadata &metadata) {
  return writeSafetensors(path, refs(tensors), metadata);
}

Expected<std::vector<uint8_t>> encodeSafetensors(const std::vector<NamedArrayRef> &tensors,
                                                 const Metadata &metadata) {
  VectorSink sink;
  if (Status s = writeFile(sink, tensors, metadata, "<memory>"); !s)
    return s;
  return sink.take();
}

} // namespace kiln::io
