//===- Npy.cpp - numpy .npy files -----------------------------------------===//
#include "runtime/io/Npy.h"
#include "runtime/io/ByteIO.h"

#include <cstring>

namespace kiln::io {
using namespace detail;

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// numpy itself refuses headers over 10000 bytes unless told otherwise; a
// legitimate header (64 dimensions of 20 digits) needs under 2 KiB.
constexpr uint64_t kMaxHeaderLen = 1 << 20;
constexpr size_t kMaxRank = 64; // numpy's NPY_MAXDIMS
constexpr int kMaxDepth = 16;   // nesting of the header literal

bool isIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

//===----------------------------------------------------------------------===//
// The header: a Python literal, parsed as Python would (ast.literal_eval),
// restricted to what can appear in a .npy header.
//===----------------------------------------------------------------------===//

struct PyValue {
  enum Kind { Str, Bool, None, Int, Tuple, List, Dict } kind = None;
  std::string str;              // Str
  bool boolean = false;         // Bool
  int64_t integer = 0;          // Int (non-negative or negative)
  std::vector<PyValue> items;   // Tuple, List, Dict values
  std::vector<std::string> keys; // Dict keys
};

const char *kindName(PyValue::Kind kind) {
  switch (kind) {
  case PyValue::Str: return "a string";
  case PyValue::Bool: return "a bool";
  case PyValue::None: return "None";
  case PyValue::Int: return "an integer";
  case PyValue::Tuple: return "a tuple";
  case PyValue::List: return "a list";
  case PyValue::Dict: return "a dict";
  }
  return "a value";
}

class PyLiteralParser {
public:
  PyLiteralParser(const std::string &text, bool allowLongSuffix)
      : text_(text), allowLong_(allowLongSuffix) {}

  /// Parses the whole text as one literal followed only by whitespace.
  bool parse(PyValue &out) {
    skipSpace();
    if (!parseValue(out, 0))
      return false;
    skipSpace();
    if (pos_ != text_.size())
      return fail("unexpected text after the header dict");
    return true;
  }
  const std::string &error() const { return error_; }
  size_t errorOffset() const { return errorPos_; }

private:
  bool fail(const std::string &message) {
    if (error_.empty()) {
      error_ = message;
      errorPos_ = pos_;
    }
    return false;
  }
  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return atEnd() ? '\0' : text_[pos_]; }
  void skipSpace() {
    // Inside brackets Python joins lines, so newlines count as spaces.
    while (!atEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                        text_[pos_] == '\r' || text_[pos_] == '\f'))
      ++pos_;
  }

  bool parseValue(PyValue &out, int depth) {
    if (depth > kMaxDepth)
      return fail("values nested too deeply");
    char c = peek();
    if (c == '{')
      return parseDict(out, depth);
    if (c == '(')
      return parseTuple(out, depth);
    if (c == '[')
      return parseList(out, depth);
    if (c == '\'' || c == '"')
      return parseString(out);
    if (c == '-' || c == '+' || (c >= '0' && c <= '9'))
      return parseInt(out);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
      return parseName(out);
    if (atEnd())
      return fail("unexpected end of the header");
    return fail("unexpected character '" + quoteBytes(&text_[pos_], 1) + "'");
  }

  bool parseDict(PyValue &out, int depth) {
    out.kind = PyValue::Dict;
    ++pos_; // '{'
    skipSpace();
    while (peek() != '}') {
      size_t keyPos = pos_;
      PyValue key;
      if (!parseValue(key, depth + 1))
        return false;
      if (key.kind != PyValue::Str) {
        pos_ = keyPos;
        return fail(std::string("dict keys must be strings, found ") + kindName(key.kind));
      }
      skipSpace();
      if (peek() != ':')
        return fail("expected ':' after key '" + quoteBytes(key.str.data(), key.str.size()) + "'");
      ++pos_;
      skipSpace();
      PyValue value;
      if (!parseValue(value, depth + 1))
        return false;
      out.keys.push_back(std::move(key.str));
      out.items.push_back(std::move(value));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        skipSpace();
      } else if (peek() != '}') {
        return fail(atEnd() ? "unterminated dict (missing '}')" : "expected ',' or '}' in dict");
      }
    }
    ++pos_; // '}'
    return true;
  }

  /// '(' ')' is the empty tuple, '(' v ')' is just v, '(' v ',' ... ')' a tuple.
  bool parseTuple(PyValue &out, int depth) {
    ++pos_; // '('
    skipSpace();
    if (peek() == ')') {
      ++pos_;
      out.kind = PyValue::Tuple;
      return true;
    }
    PyValue first;
    if (!parseValue(first, depth + 1))
      return false;
    skipSpace();
    if (peek() == ')') {
      ++pos_;
      out = std::move(first);
      return true;
    }
    out.kind = PyValue::Tuple;
    out.items.push_back(std::move(first));
    return parseSequenceTail(out, ')', depth);
  }

  bool parseList(PyValue &out, int depth) {
    ++pos_; // '['
    out.kind = PyValue::List;
    skipSpace();
    if (peek() == ']') {
      ++pos_;
      return true;
    }
    PyValue first;
    if (!parseValue(first, depth + 1))
      return false;
    out.items.push_back(std::move(first));
    skipSpace();
    if (peek() == ']') {
      ++pos_;
      return true;
    }
    return parseSequenceTail(out, ']', depth);
  }

  /// After the first element: (',' element)* [','] close.
  bool parseSequenceTail(PyValue &out, char close, int depth) {
    for (;;) {
      skipSpace();
      if (peek() == close) {
        ++pos_;
        return true;
      }
      if (peek() != ',')
        return fail(atEnd() ? std::string("unterminated ") + (close == ')' ? "tuple" : "list")
                            : std::string("expected ',' or '") + close + "'");
      ++pos_;
      skipSpace();
      if (peek() == close) {
        ++pos_;
        return true;
      }
      PyValue item;
      if (!parseValue(item, depth + 1))
        return false;
      out.items.push_back(std::move(item));
    }
  }

  bool parseString(PyValue &out) {
    out.kind = PyValue::Str;
    char quote = text_[pos_++];
    for (;;) {
      if (atEnd() || text_[pos_] == '\n')
        return fail("unterminated string");
      char c = text_[pos_++];
      if (c == quote)
        return true;
      if (c == '\\') {
        if (atEnd())
          return fail("unterminated string");
        char e = text_[pos_++];
        if (e == '\\' || e == '\'' || e == '"')
          out.str.push_back(e);
        else {
          --pos_;
          return fail("unsupported escape '\\" + quoteBytes(&e, 1) + "' in a string");
        }
      } else {
        out.str.push_back(c);
      }
    }
  }

  bool parseInt(PyValue &out) {
    out.kind = PyValue::Int;
    bool negative = false;
    if (peek() == '-' || peek() == '+') {
      negative = peek() == '-';
      ++pos_;
    }
    size_t start = pos_;
    uint64_t value = 0;
    bool overflow = false;
    while (!atEnd() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      unsigned digit = unsigned(text_[pos_] - '0');
      if (__builtin_mul_overflow(value, uint64_t(10), &value) ||
          __builtin_add_overflow(value, uint64_t(digit), &value))
        overflow = true;
      ++pos_;
    }
    if (pos_ == start)
      return fail("expected digits");
    if (pos_ - start > 1 && text_[start] == '0') {
      pos_ = start;
      return fail("integer with a leading zero (not valid Python)");
    }
    if (allowLong_ && (peek() == 'L' || peek() == 'l'))
      ++pos_; // Python 2 long, as old numpy wrote in version 1.0/2.0 headers
    if (!atEnd() && (isIdentChar(text_[pos_]) || text_[pos_] == '.'))
      return fail("malformed integer");
    if (overflow || value > uint64_t(INT64_MAX)) {
      pos_ = start;
      return fail("integer " + text_.substr(start, 24) + " is too large");
    }
    out.integer = negative ? -int64_t(value) : int64_t(value);
    return true;
  }

  bool parseName(PyValue &out) {
    size_t start = pos_;
    while (!atEnd() && isIdentChar(text_[pos_]))
      ++pos_;
    std::string name = text_.substr(start, pos_ - start);
    if (name == "True" || name == "False") {
      out.kind = PyValue::Bool;
      out.boolean = name == "True";
      return true;
    }
    if (name == "None") {
      out.kind = PyValue::None;
      return true;
    }
    pos_ = start;
    return fail("unexpected name '" + quoteBytes(name.data(), name.size(), 30) + "'");
  }

  const std::string &text_;
  bool allowLong_;
  size_t pos_ = 0;
  std::string error_;
  size_t errorPos_ = 0;
};

struct DescrInfo {
  const char *descr;
  DType dtype;
};
constexpr DescrInfo kDescrs[] = {
    {"<f4", DType::F32}, {"<f8", DType::F64}, {"<i4", DType::I32}, {"<i8", DType::I64},
    {"|u1", DType::U8},  {"<u1", DType::U8},  {"|b1", DType::Bool}, {"<b1", DType::Bool},
    {"|i1", DType::I8},  {"<i1", DType::I8},  {"<f2", DType::F16},  {"<i2", DType::I16},
    {"<u2", DType::U16}, {"<u4", DType::U32}, {"<u8", DType::U64},
};

const char *kSupportedDescrs = "<f2 <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1";

/// Maps a descr string to a dtype, or explains why not.
bool lookupDescr(const std::string &descr, DType &dtype, std::string &why) {
  for (const DescrInfo &info : kDescrs)
    if (descr == info.descr) {
      dtype = info.dtype;
      return true;
    }
  std::string shown = quoteBytes(descr.data(), descr.size(), 30);
  if (!descr.empty() && descr[0] == '>')
    why = "big-endian dtype '" + shown + "' is not supported; re-save it little-endian, e.g. "
          "np.save(path, a.astype(a.dtype.newbyteorder('<')))";
  else if (descr == "|O" || descr == "<O" || descr == "O")
    why = "object arrays (descr '" + shown + "') are not supported: they hold pickled Python "
          "objects";
  else
    why = "unsupported dtype '" + shown + "' (supported: " + kSupportedDescrs + ")";
  return false;
}

struct NpyHeader {
  DType dtype;
  std::string descr;
  std::vector<int64_t> shape;
};

/// Checks the parsed dict: exactly the keys descr, fortran_order and shape,
/// each of the right type. Returns an empty string on success.
std::string interpretHeader(const PyValue &dict, NpyHeader &out) {
  if (dict.kind != PyValue::Dict)
    return std::string("the header is ") + kindName(dict.kind) + ", not a dict";
  const PyValue *descr = nullptr, *fortran = nullptr, *shape = nullptr;
  for (size_t i = 0; i < dict.keys.size(); ++i) {
    const std::string &key = dict.keys[i];
    const PyValue **slot = key == "descr"           ? &descr
                           : key == "fortran_order" ? &fortran
                           : key == "shape"         ? &shape
                                                    : nullptr;
    if (!slot)
      return "unexpected key '" + quoteBytes(key.data(), key.size(), 30) +
             "' in the header dict (allowed: 'descr', 'fortran_order', 'shape')";
    if (*slot)
      return "key '" + key + "' appears twice in the header dict";
    *slot = &dict.items[i];
  }
  if (!descr)
    return "the header dict has no 'descr' key";
  if (!fortran)
    return "the header dict has no 'fortran_order' key";
  if (!shape)
    return "the header dict has no 'shape' key";

  if (descr->kind == PyValue::List)
    return "structured dtypes (descr is a list of fields) are not supported";
  if (descr->kind != PyValue::Str)
    return std::string("'descr' must be a string, found ") + kindName(descr->kind);
  std::string why;
  if (!lookupDescr(descr->str, out.dtype, why))
    return why;
  out.descr = descr->str;

  if (fortran->kind != PyValue::Bool)
    return std::string("'fortran_order' must be True or False, found ") + kindName(fortran->kind);

  if (shape->kind != PyValue::Tuple)
    return std::string("'shape' must be a tuple of integers, found ") + kindName(shape->kind);
  if (shape->items.size() > kMaxRank)
    return "shape has " + std::to_string(shape->items.size()) + " dimensions (at most " +
           std::to_string(kMaxRank) + " are allowed)";
  for (const PyValue &dim : shape->items) {
    if (dim.kind != PyValue::Int)
      return std::string("'shape' must be a tuple of integers, found ") + kindName(dim.kind) +
             " in it";
    if (dim.integer < 0)
      return "shape has a negative dimension (" + std::to_string(dim.integer) + ")";
    out.shape.push_back(dim.integer);
  }
  if (fortran->boolean)
    return "Fortran-order (column-major) arrays are not supported; re-save it in C order, "
           "e.g. np.save(path, np.ascontiguousarray(a))";
  return std::string();
}

/// Checks that every byte of a bool array is 0 or 1 (anything else is not a
/// valid C++ bool). Returns the index of the first bad byte, or -1.
int64_t firstBadBool(const uint8_t *bytes, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (bytes[i] > 1)
      return int64_t(i);
  return -1;
}

} // namespace

const char *npyDescr(DType dtype) {
  switch (dtype) {
  case DType::Bool: return "|b1";
  case DType::U8: return "|u1";
  case DType::I8: return "|i1";
  case DType::U16: return "<u2";
  case DType::I16: return "<i2";
  case DType::U32: return "<u4";
  case DType::I32: return "<i4";
  case DType::U64: return "<u8";
  case DType::I64: return "<i8";
  case DType::F16: return "<f2";
  case DType::BF16: return nullptr;
  case DType::F32: return "<f4";
  case DType::F64: return "<f8";
  }
  return nullptr;
}

namespace detail {

Expected<Array> readNpyStream(Reader &reader, const std::string &what, const char *container) {
  auto fail = [&](const std::string &problem) { return Error(what + ": " + problem); };
  const uint64_t total = reader.remaining();

  // Preamble: magic (6), version (2), header length (2 or 4).
  uint8_t pre[8];
  size_t have = total < 8 ? size_t(total) : 8;
  if (Status s = reader.read(pre, have); !s)
    return s;
  size_t compare = have < kMagicLen ? have : kMagicLen;
  if (std::memcmp(pre, kMagic, compare) != 0)
    return fail("not a .npy file: it starts with \"" + quoteBytes(pre, have) +
                "\" instead of \"\\x93NUMPY\"");
  if (have < 8)
    return fail("truncated: " + std::to_string(total) +
                " bytes is too short for the .npy preamble (magic and version)");
  unsigned major = pre[6], minor = pre[7];
  if (!(major >= 1 && major <= 3 && minor == 0))
    return fail("unsupported .npy format version " + std::to_string(major) + "." +
                std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  size_t lengthBytes = major == 1 ? 2 : 4;
  if (reader.remaining() < lengthBytes)
    return fail("truncated: " + std::to_string(total) +
                " bytes is too short for the .npy preamble (header length)");
  uint8_t lengthField[4];
  if (Status s = reader.read(lengthField, lengthBytes); !s)
    return s;
  uint64_t headerLen = major == 1 ? loadU16(lengthField) : loadU32(lengthField);
  if (headerLen > reader.remaining())
    return fail("truncated: header length " + std::to_string(headerLen) +
                " runs past the end of the " + container + " (only " + std::to_string(reader.remaining()) +
                " bytes follow the preamble)");
  if (headerLen > kMaxHeaderLen)
    return fail("header length " + std::to_string(headerLen) + " exceeds the limit of " +
                std::to_string(kMaxHeaderLen) + " bytes");

  std::string header(size_t(headerLen), '\0');
  if (Status s = reader.read(header.data(), header.size()); !s)
    return s;
  PyLiteralParser parser(header, /*allowLongSuffix=*/major <= 2);
  PyValue dict;
  if (!parser.parse(dict))
    return fail("bad header: " + parser.error() + " at offset " +
                std::to_string(parser.errorOffset()) + " of the header dict \"" +
                quoteBytes(header.data(), header.size(), 100) + "\"");
  NpyHeader info;
  std::string problem = interpretHeader(dict, info);
  if (!problem.empty())
    return fail("bad header: " + problem);

  uint64_t elements, bytes;
  if (!checkedElementCount(info.shape, dtypeSize(info.dtype), &elements, &bytes))
    return fail("header says shape " + formatShape(info.shape) + " of " + info.descr +
                ", whose size in bytes overflows 64 bits");
  uint64_t dataBytes = reader.remaining();
  if (dataBytes != bytes)
    return fail("header says shape " + formatShape(info.shape) + " of " + info.descr + " (" +
                std::to_string(elements) + " elements, " + std::to_string(bytes) +
                " bytes) but the " + container + " holds " + std::to_string(dataBytes) + " bytes of data" +
                (dataBytes < bytes ? " (truncated?)" : " (trailing bytes?)"));

  Expected<Array> array = Array::uninitialized(info.dtype, std::move(info.shape));
  if (!array)
    return fail(array.message());
  if (Status s = reader.read(array->bytes(), array->byteSize()); !s)
    return s;
  if (info.dtype == DType::Bool) {
    int64_t bad = firstBadBool(array->bytes(), array->byteSize());
    if (bad >= 0)
      return fail("bool element " + std::to_string(bad) + " has byte value " +
                  std::to_string(array->bytes()[bad]) + " (must be 0 or 1)");
  }
  return array;
}

Expected<std::string> npyHeader(const ArrayRef &array) {
  const char *descr = npyDescr(array.dtype);
  if (!descr)
    return Error(std::string("dtype ") + dtypeName(array.dtype) +
                 " has no .npy equivalent (numpy has no bfloat16); use .safetensors");
  if (array.shape.size() > kMaxRank)
    return Error("shape has " + std::to_string(array.shape.size()) +
                 " dimensions (.npy allows at most " + std::to_string(kMaxRank) + ")");
  uint64_t bytes;
  if (!checkedElementCount(array.shape, dtypeSize(array.dtype), nullptr, &bytes))
    return Error("invalid shape " + formatShape(array.shape) +
                 ": a dimension is negative or the size overflows");
  if (bytes > 0 && !array.data)
    return Error("array data pointer is null");
  // Exactly numpy's format._write_array_header: the dict with sorted keys,
  // spare spaces so the first dimension can grow in place, then padding so
  // that the data starts at a multiple of 64 bytes, then '\n'.
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " +
                     formatShape(array.shape) + ", }";
  if (!array.shape.empty()) {
    size_t digits = std::to_string(array.shape[0]).size();
    if (digits < 21)
      dict.append(21 - digits, ' ');
  }
  size_t hlen = dict.size() + 1;
  for (unsigned major = 1; major <= 2; ++major) {
    size_t prefix = major == 1 ? 10 : 12;
    size_t pad = 64 - (prefix + hlen) % 64;
    uint64_t field = hlen + pad;
    if (major == 1 && field > 0xffff)
      continue;
    std::string out(kMagic, kMagicLen);
    out.push_back(char(major));
    out.push_back('\0');
    if (major == 1)
      appendU16(out, uint16_t(field));
    else
      appendU32(out, uint32_t(field));
    out += dict;
    out.append(pad, ' ');
    out.push_back('\n');
    return out;
  }
  return Error("header too long");
}

} // namespace detail

static Status checkBools(const ArrayRef &array, uint64_t bytes) {
  if (array.dtype != DType::Bool || bytes == 0)
    return Status();
  int64_t bad = firstBadBool(static_cast<const uint8_t *>(array.data), size_t(bytes));
  if (bad >= 0)
    return Error("bool element " + std::to_string(bad) + " has byte value " +
                 std::to_string(static_cast<const uint8_t *>(array.data)[bad]) +
                 " (must be 0 or 1)");
  return Status();
}

Expected<Array> parseNpy(const void *data, size_t size, const std::string &name) {
  MemorySource source(data, size, name);
  SourceReader reader(source, 0, size);
  return readNpyStream(reader, name);
}

Expected<Array> readNpy(const std::string &path) {
  Expected<std::unique_ptr<FileSource>> source = FileSource::open(path);
  if (!source)
    return source.status();
  SourceReader reader(**source, 0, (*source)->size());
  return readNpyStream(reader, path);
}

static Status writeNpyTo(Sink &sink, const ArrayRef &array, const std::string &what) {
  Expected<std::string> header = npyHeader(array);
  if (!header)
    return Error(what + ": " + header.message());
  uint64_t bytes = 0;
  checkedElementCount(array.shape, dtypeSize(array.dtype), nullptr, &bytes);
  if (Status s = checkBools(array, bytes); !s)
    return Error(what + ": " + s.message());
  if (Status s = sink.write(header->data(), header->size()); !s)
    return s;
  if (bytes)
    return sink.write(array.data, size_t(bytes));
  return Status();
}

Status writeNpy(const std::string &path, const ArrayRef &array) {
  // Validate before creating the temporary file.
  if (Expected<std::string> header = npyHeader(array); !header)
    return Error(path + ": " + header.message());
  return writeFileAtomically(path, [&](Sink &sink) { return writeNpyTo(sink, array, path); });
}

Expected<std::vector<uint8_t>> encodeNpy(const ArrayRef &array) {
  VectorSink sink;
  if (Status s = writeNpyTo(sink, array, "<memory>"); !s)
    return s;
  return sink.take();
}

} // namespace kiln::io
