//===- Array.cpp - In-memory tensors for the io library ------------------===//
#include "runtime/io/Array.h"

#include <cstdio>

namespace kiln::io {

size_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::Bool:
  case DType::U8:
  case DType::I8:
    return 1;
  case DType::U16:
  case DType::I16:
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::U32:
  case DType::I32:
  case DType::F32:
    return 4;
  case DType::U64:
  case DType::I64:
  case DType::F64:
    return 8;
  }
  return 1;
}

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::Bool: return "bool";
  case DType::U8: return "u8";
  case DType::I8: return "i8";
  case DType::U16: return "u16";
  case DType::I16: return "i16";
  case DType::U32: return "u32";
  case DType::I32: return "i32";
  case DType::U64: return "u64";
  case DType::I64: return "i64";
  case DType::F16: return "f16";
  case DType::BF16: return "bf16";
  case DType::F32: return "f32";
  case DType::F64: return "f64";
  }
  return "?";
}

bool checkedElementCount(const std::vector<int64_t> &shape, size_t elementSize,
                         uint64_t *elements, uint64_t *bytes) {
  uint64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0)
      return false;
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count))
      return false;
  }
  uint64_t total;
  if (__builtin_mul_overflow(count, static_cast<uint64_t>(elementSize), &total) ||
      total > static_cast<uint64_t>(INT64_MAX) || total > SIZE_MAX)
    return false;
  if (elements)
    *elements = count;
  if (bytes)
    *bytes = total;
  return true;
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1)
    out += ",";
  out += ")";
  return out;
}

Array::Array() : shape_{0} {
  void *p = nullptr;
  if (posix_memalign(&p, 64, 64) == 0)
    buffer_.reset(static_cast<uint8_t *>(p));
  else {
    std::fprintf(stderr, "kiln::io: out of memory allocating an empty array\n");
    std::abort();
  }
}

Expected<Array> Array::zeros(DType dtype, std::vector<int64_t> shape) {
  return allocate(dtype, std::move(shape), /*zero=*/true);
}

Expected<Array> Array::uninitialized(DType dtype, std::vector<int64_t> shape) {
  return allocate(dtype, std::move(shape), /*zero=*/false);
}

Expected<Array> Array::allocate(DType dtype, std::vector<int64_t> shape, bool zero) {
  uint64_t elements, bytes;
  if (!checkedElementCount(shape, dtypeSize(dtype), &elements, &bytes))
    return Error("invalid shape " + formatShape(shape) + " for dtype " + dtypeName(dtype) +
                 ": a dimension is negative or the size overflows");
  // Round up to whole 64-byte lines; always allocate at least one so that
  // bytes() is never null (memcpy with a null pointer is undefined even for 0 bytes).
  uint64_t allocation = bytes == 0 ? 64 : (bytes + 63) / 64 * 64;
  if (allocation < bytes)
    return Error("cannot allocate " + std::to_string(bytes) + " bytes");
  void *p = nullptr;
  if (posix_memalign(&p, 64, static_cast<size_t>(allocation)) != 0 || !p)
    return Error("cannot allocate " + std::to_string(bytes) + " bytes for an array of shape " +
                 formatShape(shape));
  // The padding after the elements is always zeroed (deterministic bytes).
  size_t from = zero ? 0 : static_cast<size_t>(bytes);
  std::memset(static_cast<uint8_t *>(p) + from, 0, static_cast<size_t>(allocation) - from);
  Array array;
  array.dtype_ = dtype;
  array.shape_ = std::move(shape);
  array.numElements_ = elements;
  array.byteSize_ = static_cast<size_t>(bytes);
  array.buffer_.reset(static_cast<uint8_t *>(p));
  return array;
}

Expected<Array> Array::fromBytes(DType dtype, std::vector<int64_t> shape, const void *bytes,
                                 size_t size) {
  Expected<Array> array = uninitialized(dtype, std::move(shape));
  if (!array)
    return array;
  if (array->byteSize() != size)
    return Error("shape " + formatShape(array->shape()) + " of " + dtypeName(dtype) + " needs " +
                 std::to_string(array->byteSize()) + " bytes, got " + std::to_string(size));
  if (size)
    std::memcpy(array->bytes(), bytes, size);
  return array;
}

Expected<Array> Array::clone() const {
  return fromBytes(dtype_, shape_, bytes(), byteSize_);
}

bool Array::equals(const Array &other) const {
  return dtype_ == other.dtype_ && shape_ == other.shape_ && byteSize_ == other.byteSize_ &&
         std::memcmp(bytes(), other.bytes(), byteSize_) == 0;
}

void Array::checkType(DType requested) const {
  if (requested != dtype_) {
    std::fprintf(stderr, "kiln::io: Array::data<%s>() called on a %s array\n",
                 dtypeName(requested), dtypeName(dtype_));
    std::abort();
  }
}

const Array *findArray(const ArrayList &arrays, std::string_view name) {
  for (const NamedArray &entry : arrays)
    if (entry.name == name)
      return &entry.array;
  return nullptr;
}

Array *findArray(ArrayList &arrays, std::string_view name) {
  for (NamedArray &entry : arrays)
    if (entry.name == name)
      return &entry.array;
  return nullptr;
}

std::vector<NamedArrayRef> refs(const ArrayList &arrays) {
  std::vector<NamedArrayRef> out;
  out.reserve(arrays.size());
  for (const NamedArray &entry : arrays)
    out.push_back({entry.name, entry.array.ref()});
  return out;
}

} // namespace kiln::io
