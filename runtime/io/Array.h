//===- Array.h - In-memory tensors for the io library -----------*- C++ -*-===//
//
// Array: an owned, dense, C-order (row-major) tensor with a dtype and a shape,
// stored in a 64-byte aligned buffer. ArrayRef: a non-owning view of the same
// (used by the writers, so a runtime can save parameters straight out of its
// own memory). NamedArray / ArrayList: what .npz and .safetensors hold.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/io/Status.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace kiln::io {

/// Element types. F32 and I32 are what Kiln computes in; the rest are read
/// and written as stored (F16 and BF16 as raw 16-bit patterns).
enum class DType : uint8_t {
  Bool, // one byte, 0 or 1 (validated on read)
  U8,
  I8,
  U16,
  I16,
  U32,
  I32,
  U64,
  I64,
  F16,  // IEEE binary16, raw
  BF16, // bfloat16, raw (no .npy equivalent)
  F32,
  F64,
};

/// Bytes per element.
size_t dtypeSize(DType dtype);
/// Short lower-case name: "f32", "i64", "bool", ...
const char *dtypeName(DType dtype);

/// The DType of a C++ element type (float -> F32, int32_t -> I32, ...).
template <typename T> struct DTypeOf;
template <> struct DTypeOf<bool> { static constexpr DType value = DType::Bool; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::U8; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::I8; };
template <> struct DTypeOf<uint16_t> { static constexpr DType value = DType::U16; };
template <> struct DTypeOf<int16_t> { static constexpr DType value = DType::I16; };
template <> struct DTypeOf<uint32_t> { static constexpr DType value = DType::U32; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<uint64_t> { static constexpr DType value = DType::U64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::I64; };
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::F64; };
static_assert(sizeof(bool) == 1, "kiln::io assumes a one-byte bool");

/// Number of elements of `shape`, or false when a dimension is negative or
/// the element count or byte count (times `elementSize`) overflows int64.
bool checkedElementCount(const std::vector<int64_t> &shape, size_t elementSize,
                         uint64_t *elements, uint64_t *bytes);
/// "(10, 784)", "(3,)", "()" - the Python/numpy spelling, used in messages.
std::string formatShape(const std::vector<int64_t> &shape);

/// A non-owning view of a dense C-order tensor. `data` must point to
/// product(shape) * dtypeSize(dtype) readable bytes.
struct ArrayRef {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void *data = nullptr;

  ArrayRef() = default;
  ArrayRef(DType dtype, std::vector<int64_t> shape, const void *data)
      : dtype(dtype), shape(std::move(shape)), data(data) {}
};

/// An owned dense C-order tensor. Move-only (use clone() for a deep copy).
/// The buffer is 64-byte aligned and never null, even when empty.
class Array {
public:
  /// An empty f32 array of shape (0,).
  Array();
  Array(Array &&) noexcept = default;
  Array &operator=(Array &&) noexcept = default;
  Array(const Array &) = delete;
  Array &operator=(const Array &) = delete;

  /// A zero-filled array. Fails on a negative dimension, an overflowing
  /// size or an allocation failure.
  static Expected<Array> zeros(DType dtype, std::vector<int64_t> shape);
  /// Like zeros() but the elements are left unset (for buffers that are
  /// about to be filled, such as by a reader).
  static Expected<Array> uninitialized(DType dtype, std::vector<int64_t> shape);
  /// A copy of `size` bytes, which must equal product(shape) * dtypeSize.
  static Expected<Array> fromBytes(DType dtype, std::vector<int64_t> shape,
                                   const void *bytes, size_t size);
  /// A copy of `values`, whose length must equal product(shape).
  template <typename T>
  static Expected<Array> fromValues(std::vector<int64_t> shape, const std::vector<T> &values) {
    static_assert(!std::is_same<T, bool>::value, "use std::vector<uint8_t> with fromBytes for bool");
    return fromBytes(DTypeOf<T>::value, std::move(shape), values.data(), values.size() * sizeof(T));
  }

  Expected<Array> clone() const;

  DType dtype() const { return dtype_; }
  const std::vector<int64_t> &shape() const { return shape_; }
  size_t rank() const { return shape_.size(); }
  uint64_t numElements() const { return numElements_; }
  size_t byteSize() const { return byteSize_; }

  uint8_t *bytes() { return buffer_.get(); }
  const uint8_t *bytes() const { return buffer_.get(); }

  /// Typed element access; aborts when T does not match dtype() (use bytes()
  /// for F16 / BF16).
  template <typename T> T *data() {
    checkType(DTypeOf<T>::value);
    return reinterpret_cast<T *>(buffer_.get());
  }
  template <typename T> const T *data() const {
    checkType(DTypeOf<T>::value);
    return reinterpret_cast<const T *>(buffer_.get());
  }

  /// Same dtype, same shape, same bytes.
  bool equals(const Array &other) const;

  ArrayRef ref() const { return ArrayRef(dtype_, shape_, buffer_.get()); }
  operator ArrayRef() const { return ref(); }

private:
  struct FreeDeleter {
    void operator()(uint8_t *p) const { std::free(p); }
  };
  void checkType(DType requested) const;
  static Expected<Array> allocate(DType dtype, std::vector<int64_t> shape, bool zero);

  DType dtype_ = DType::F32;
  std::vector<int64_t> shape_;
  uint64_t numElements_ = 0;
  size_t byteSize_ = 0;
  std::unique_ptr<uint8_t, FreeDeleter> buffer_;
};

/// One entry of an .npz archive or a .safetensors file.
struct NamedArray {
  std::string name;
  Array array;
};
/// Arrays in file order.
using ArrayList = std::vector<NamedArray>;

/// A named view, for the writers.
struct NamedArrayRef {
  std::string name;
  ArrayRef array;
};

/// The array called `name`, or null.
const Array *findArray(const ArrayList &arrays, std::string_view name);
Array *findArray(ArrayList &arrays, std::string_view name);
/// Views of every array in `arrays`, in order.
std::vector<NamedArrayRef> refs(const ArrayList &arrays);

} // namespace kiln::io
