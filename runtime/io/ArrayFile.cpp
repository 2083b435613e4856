//===- ArrayFile.cpp - Read any supported array file ----------------------===//
#include "runtime/io/ArrayFile.h"
#include "runtime/io/ByteIO.h"
#include "runtime/io/Npy.h"
#include "runtime/io/Npz.h"
#include "runtime/io/Safetensors.h"

#include <algorithm>
#include <cstring>

namespace kiln::io {

FileFormat detectFormat(const void *head, size_t size) {
  const auto *p = static_cast<const uint8_t *>(head);
  if (size >= 6 && std::memcmp(p, "\x93NUMPY", 6) == 0)
    return FileFormat::Npy;
  if (size >= 4 && (std::memcmp(p, "PK\x03\x04", 4) == 0 || std::memcmp(p, "PK\x05\x06", 4) == 0))
    return FileFormat::Npz;
  if (size >= 9 && p[8] == '{' && detail::loadU64(p) >= 2)
    return FileFormat::Safetensors;
  return FileFormat::Unknown;
}

const char *formatName(FileFormat format) {
  switch (format) {
  case FileFormat::Npy: return ".npy";
  case FileFormat::Npz: return ".npz";
  case FileFormat::Safetensors: return ".safetensors";
  case FileFormat::Unknown: return "unknown";
  }
  return "unknown";
}

Expected<ArrayList> readArrays(const std::string &path) {
  Expected<std::unique_ptr<detail::FileSource>> source = detail::FileSource::open(path);
  if (!source)
    return source.status();
  uint8_t head[9] = {0};
  size_t n = size_t(std::min<uint64_t>((*source)->size(), sizeof head));
  if (Status s = (*source)->readAt(0, head, n); !s)
    return s;
  source->reset();
  switch (detectFormat(head, n)) {
  case FileFormat::Npy: {
    Expected<Array> array = readNpy(path);
    if (!array)
      return array.status();
    std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0)
      name.resize(name.size() - 4);
    ArrayList list;
    list.push_back({name, std::move(*array)});
    return list;
  }
  case FileFormat::Npz:
    return readNpz(path);
  case FileFormat::Safetensors: {
    Expected<SafetensorsFile> file = readSafetensors(path);
    if (!file)
      return file.status();
    return std::move(file->tensors);
  }
  case FileFormat::Unknown:
    break;
  }
  return Error(path + ": not a .npy, .npz or .safetensors file (it starts with \"" +
               detail::quoteBytes(head, n) + "\")");
}

} // namespace kiln::io
