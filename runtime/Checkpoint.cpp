//===- Checkpoint.cpp - Checkpoints as .safetensors ------------------------===//
//
// kiln_model_save_checkpoint / kiln_model_load_checkpoint: every parameter
// and optimizer-state entry by name, in the safetensors format (8-byte
// little-endian header length, a JSON header, the data), with
// "__metadata__": {"epoch": "<n>", "format": "kiln-checkpoint"}.
//
// Self-contained on purpose: runtime/io has a full safetensors reader and
// writer, but it links zlib and lives in the kiln::io namespace that
// applications (kiln-run) also link from kiln_io; the runtime only needs
// F32/I32 tensors and a small JSON subset, here in a few hundred lines that
// allocate nothing per tensor beyond the header.
//
// Saving is atomic: "<path>.tmp-<pid>" is written, fsync'ed and renamed over
// `path`, then the directory is fsync'ed, so a crash leaves either the old or
// the new file. Loading is all or nothing: every tensor is checked against
// the model (name, dtype, shape) and the file (offsets inside the data
// section, no overlap, no gap) and read into a staging copy before any
// parameter changes.
//
//===----------------------------------------------------------------------===//

#include "runtime/Internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

namespace kiln::rt {
namespace {

constexpr int kMaxName = kMaxNameInMessage;
/// As the reference implementation: larger headers are refused.
constexpr uint64_t kMaxHeaderBytes = 100000000;
constexpr int kMaxJsonDepth = 32;

//===--- a small JSON reader (the subset a safetensors header needs) --------===//

struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool boolean = false;
  // Numbers: `isUint` when the literal is a non-negative integer that fits.
  bool isUint = false;
  uint64_t uint = 0;
  std::string string; // String
  std::vector<Json> items; // Array
  std::vector<std::pair<std::string, Json>> members; // Object, in file order
};

const char *kindName(Json::Kind k) {
  switch (k) {
  case Json::Null: return "null";
  case Json::Bool: return "a boolean";
  case Json::Number: return "a number";
  case Json::String: return "a string";
  case Json::Array: return "an array";
  case Json::Object: return "an object";
  }
  return "?";
}

class JsonParser {
public:
  JsonParser(const char *text, size_t size) : p_(text), begin_(text), end_(text + size) {}

  /// Parses one value and checks that only whitespace follows. On failure
  /// `error()` says what and where (a byte offset into the header).
  bool parseDocument(Json &out) {
    if (!parseValue(out, 0))
      return false;
    skipSpace();
    if (p_ != end_)
      return fail("unexpected characters after the end of the JSON object");
    return true;
  }
  const std::string &error() const { return error_; }

private:
  bool fail(const char *what) {
    char buf[64];
    snprintf(buf, sizeof buf, " (at byte %zu of the header)", static_cast<size_t>(p_ - begin_));
    error_ = std::string(what) + buf;
    return false;
  }
  void skipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r'))
      ++p_;
  }
  bool literal(const char *word) {
    size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0)
      return fail("invalid JSON value");
    p_ += n;
    return true;
  }
  bool parseValue(Json &out, int depth) {
    if (depth > kMaxJsonDepth)
      return fail("JSON nested too deeply");
    skipSpace();
    if (p_ == end_)
      return fail("unexpected end of the JSON header");
    switch (*p_) {
    case '{': return parseObject(out, depth);
    case '[': return parseArray(out, depth);
    case '"':
      out.kind = Json::String;
      return parseString(out.string);
    case 't':
      out.kind = Json::Bool;
      out.boolean = true;
      return literal("true");
    case 'f':
      out.kind = Json::Bool;
      return literal("false");
    case 'n':
      out.kind = Json::Null;
      return literal("null");
    default: return parseNumber(out);
    }
  }
  bool parseObject(Json &out, int depth) {
    out.kind = Json::Object;
    ++p_; // {
    skipSpace();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    for (;;) {
      skipSpace();
      if (p_ == end_ || *p_ != '"')
        return fail("expected a string key in a JSON object");
      std::string key;
      if (!parseString(key))
        return false;
      skipSpace();
      if (p_ == end_ || *p_ != ':')
        return fail("expected ':' after a key in a JSON object");
      ++p_;
      for (const auto &m : out.members)
        if (m.first == key) {
          error_ = "the key '" + key.substr(0, kMaxName) + "' appears twice in one JSON object";
          return false;
        }
      out.members.emplace_back(std::move(key), Json());
      if (!parseValue(out.members.back().second, depth + 1))
        return false;
      skipSpace();
      if (p_ != end_ && *p_ == ',') {
        ++p_;
        continue;
      }
      if (p_ != end_ && *p_ == '}') {
        ++p_;
        return true;
      }
      return fail("expected ',' or '}' in a JSON object");
    }
  }
  bool parseArray(Json &out, int depth) {
    out.kind = Json::Array;
    ++p_; // [
    skipSpace();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      out.items.emplace_back();
      if (!parseValue(out.items.back(), depth + 1))
        return false;
      skipSpace();
      if (p_ != end_ && *p_ == ',') {
        ++p_;
        continue;
      }
      if (p_ != end_ && *p_ == ']') {
        ++p_;
        return true;
      }
      return fail("expected ',' or ']' in a JSON array");
    }
  }
  static void appendUtf8(std::string &s, uint32_t c) {
    if (c < 0x80) {
      s += static_cast<char>(c);
    } else if (c < 0x800) {
      s += static_cast<char>(0xC0 | (c >> 6));
      s += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      s += static_cast<char>(0xE0 | (c >> 12));
      s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (c >> 18));
      s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  bool hex4(uint32_t &out) {
    if (end_ - p_ < 4)
      return fail("truncated \\u escape in a JSON string");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char c = *p_++;
      out <<= 4;
      if (c >= '0' && c <= '9')
        out |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        out |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        out |= static_cast<uint32_t>(c - 'A' + 10);
      else
        return fail("invalid \\u escape in a JSON string");
    }
    return true;
  }
  bool parseString(std::string &out) {
    ++p_; // "
    out.clear();
    for (;;) {
      if (p_ == end_)
        return fail("unterminated JSON string");
      char c = *p_++;
      if (c == '"')
        return true;
      if (static_cast<unsigned char>(c) < 0x20)
        return fail("control character inside a JSON string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p_ == end_)
        return fail("unterminated JSON string");
      char e = *p_++;
      switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        uint32_t u;
        if (!hex4(u))
          return false;
        if (u >= 0xD800 && u < 0xDC00) { // a surrogate pair
          uint32_t low;
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u')
            return fail("unpaired surrogate in a JSON string");
          p_ += 2;
          if (!hex4(low))
            return false;
          if (low < 0xDC00 || low >= 0xE000)
            return fail("unpaired surrogate in a JSON string");
          u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
        } else if (u >= 0xDC00 && u < 0xE000) {
          return fail("unpaired surrogate in a JSON string");
        }
        if (u == 0)
          return fail("NUL character (\\u0000) inside a JSON string");
        appendUtf8(out, u);
        break;
      }
      default: return fail("invalid escape in a JSON string");
      }
    }
  }
  bool parseNumber(Json &out) {
    out.kind = Json::Number;
    const char *start = p_;
    bool negative = false, integral = true, overflow = false;
    uint64_t v = 0;
    if (p_ != end_ && *p_ == '-') {
      negative = true;
      ++p_;
    }
    if (p_ == end_ || *p_ < '0' || *p_ > '9')
      return fail("invalid JSON value");
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
        uint64_t d = static_cast<uint64_t>(*p_ - '0');
        if (v > (UINT64_MAX - d) / 10)
          overflow = true;
        else
          v = v * 10 + d;
        ++p_;
      }
    }
    if (p_ != end_ && *p_ == '.') {
      integral = false;
      ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9')
        return fail("invalid JSON number");
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9')
        ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-'))
        ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9')
        return fail("invalid JSON number");
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9')
        ++p_;
    }
    (void)start;
    out.isUint = integral && !overflow && !(negative && v != 0);
    out.uint = out.isUint ? v : 0;
    return true;
  }

  const char *p_;
  const char *begin_;
  const char *end_;
  std::string error_;
};

//===--- small helpers -----------------------------------------------------===//

/// `s` as a JSON string literal (quotes, backslashes and control characters
/// escaped; other bytes as they are).
void appendJsonString(std::string &out, const std::string &s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

const char *safetensorsDType(kiln_dtype d) { return d == KILN_I32 ? "I32" : "F32"; }

/// "." for "file", "a/b" for "a/b/file", "/" for "/file".
std::string directoryOf(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  if (slash == 0)
    return "/";
  return path.substr(0, slash);
}

bool writeAll(int fd, const void *data, size_t size) {
  const uint8_t *p = static_cast<const uint8_t *>(data);
  while (size > 0) {
    ssize_t w = ::write(fd, p, size);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    size -= static_cast<size_t>(w);
  }
  return true;
}

bool readAllAt(int fd, void *data, size_t size, uint64_t offset) {
  uint8_t *p = static_cast<uint8_t *>(data);
  while (size > 0) {
    ssize_t r = ::pread(fd, p, size, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR)
      continue;
    if (r == 0)
      errno = 0; // the file ended early
    if (r <= 0)
      return false;
    p += r;
    size -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0)
      ::close(fd);
  }
};

const ParamDesc *findParamByName(const kiln_model &m, const std::string &name) {
  for (const ParamDesc &p : m.desc.params)
    if (p.tensor.name == name)
      return &p;
  return nullptr;
}

} // namespace

//===--- saving --------------------------------------------------------------===//

kiln_status saveCheckpoint(const kiln_model &m, const char *path, int64_t epoch) {
  if (kiln_status s = paramsToHost(m)) // a model on a GPU: its newest values
    return prefixError(s, "%s: ", path);
  // Header: metadata first, then the tensors in model order, data contiguous
  // in the same order (every dtype is 4 bytes: each tensor is aligned).
  std::string header = "{\"__metadata__\":{\"epoch\":\"" + std::to_string(epoch) +
                       "\",\"format\":\"kiln-checkpoint\"}";
  uint64_t offset = 0;
  for (const ParamDesc &p : m.desc.params) {
    header += ',';
    appendJsonString(header, p.tensor.name);
    header += ":{\"dtype\":\"";
    header += safetensorsDType(p.tensor.dtype);
    header += "\",\"shape\":[";
    for (size_t i = 0; i < p.tensor.shape.size(); ++i) {
      if (i)
        header += ',';
      header += std::to_string(p.tensor.shape[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + ",";
    offset += p.tensor.byteSize;
    header += std::to_string(offset) + "]}";
  }
  header += '}';
  while (header.size() % 8) // the data section starts 8-byte aligned
    header += ' ';

  std::string target = path;
  std::string tmp = target + ".tmp-" + std::to_string(static_cast<long>(::getpid()));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return fail(KILN_ERR_IO, "%s: cannot create the checkpoint's temporary file '%s': %s", path, tmp.c_str(),
                std::strerror(errno));
  auto abandon = [&](const char *what) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(KILN_ERR_IO, "%s: %s '%s' failed: %s (the previous checkpoint, if any, is unchanged)", path, what,
                tmp.c_str(), std::strerror(err));
  };
  uint8_t length[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<uint8_t>(n >> (8 * i));
  if (!writeAll(fd, length, sizeof length) || !writeAll(fd, header.data(), header.size()))
    return abandon("writing");
  for (const ParamDesc &p : m.desc.params)
    if (!writeAll(fd, m.paramStorage.data() + p.offset, p.tensor.byteSize))
      return abandon("writing");
  if (::fsync(fd) != 0)
    return abandon("fsync of");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(KILN_ERR_IO, "%s: closing '%s' failed: %s", path, tmp.c_str(), std::strerror(err));
  }
  if (::rename(tmp.c_str(), path) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(KILN_ERR_IO, "%s: cannot rename '%s' over it: %s", path, tmp.c_str(), std::strerror(err));
  }
  // Make the rename itself durable.
  std::string dir = directoryOf(target);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return KILN_OK;
}

//===--- loading -------------------------------------------------------------===//

namespace {

struct Piece {
  const ParamDesc *param;
  uint64_t begin, end;
};

/// Checks one tensor entry of the header against the model.
kiln_status readTensorEntry(const kiln_model &m, const char *path, const std::string &name, const Json &v,
                            uint64_t dataSize, Piece &out) {
  const char *n = name.c_str();
  const ParamDesc *p = findParamByName(m, name);
  if (!p)
    return fail(KILN_ERR_NOT_FOUND, "%s: tensor '%.*s' is not a parameter of model '%.*s'", path, kMaxName, n,
                kMaxName, m.desc.name.c_str());
  if (v.kind != Json::Object)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: tensor '%.*s': expected an object, found %s", path, kMaxName, n,
                kindName(v.kind));
  const Json *dtype = nullptr, *shape = nullptr, *offsets = nullptr;
  for (const auto &f : v.members) {
    if (f.first == "dtype")
      dtype = &f.second;
    else if (f.first == "shape")
      shape = &f.second;
    else if (f.first == "data_offsets")
      offsets = &f.second;
    else
      return fail(KILN_ERR_INVALID_ARGUMENT,
                  "%s: tensor '%.*s': unexpected field '%.*s' (allowed: dtype, shape, data_offsets)", path, kMaxName,
                  n, kMaxName, f.first.c_str());
  }
  if (!dtype || !shape || !offsets)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: tensor '%.*s' has no '%s'", path, kMaxName, n,
                !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
  if (dtype->kind != Json::String)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: tensor '%.*s': dtype is %s, expected a string", path, kMaxName, n,
                kindName(dtype->kind));
  const char *want = safetensorsDType(p->tensor.dtype);
  if (dtype->string != want)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: tensor '%.*s' has dtype %.*s; the model's parameter is %s (%s)", path,
                kMaxName, n, 16, dtype->string.c_str(), want, kiln_dtype_name(p->tensor.dtype));
  if (shape->kind != Json::Array)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: tensor '%.*s': shape is %s, expected an array", path, kMaxName, n,
                kindName(shape->kind));
  std::vector<int64_t> dims;
  bool shapeOk = shape->items.size() <= KILN_MAX_RANK;
  for (const Json &d : shape->items) {
    if (d.kind != Json::Number || !d.isUint)
      return fail(KILN_ERR_INVALID_ARGUMENT, "%s: tensor '%.*s': shape entries must be non-negative integers", path,
                  kMaxName, n);
    dims.push_back(d.uint > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(d.uint));
  }
  shapeOk = shapeOk && dims == p->tensor.shape;
  if (!shapeOk)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: tensor '%.*s' has shape %s; the model's parameter has shape %s", path,
                kMaxName, n, shapeText(dims).c_str(), shapeText(p->tensor.shape).c_str());
  if (offsets->kind != Json::Array || offsets->items.size() != 2 || offsets->items[0].kind != Json::Number ||
      !offsets->items[0].isUint || offsets->items[1].kind != Json::Number || !offsets->items[1].isUint)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: tensor '%.*s': data_offsets must be [begin, end] (integers)", path,
                kMaxName, n);
  out.param = p;
  out.begin = offsets->items[0].uint;
  out.end = offsets->items[1].uint;
  if (out.begin > out.end || out.end > dataSize)
    return fail(KILN_ERR_INVALID_ARGUMENT,
                "%s: tensor '%.*s': data_offsets [%llu, %llu] lie outside the %llu-byte data section (truncated "
                "file?)",
                path, kMaxName, n, static_cast<unsigned long long>(out.begin),
                static_cast<unsigned long long>(out.end), static_cast<unsigned long long>(dataSize));
  if (out.end - out.begin != p->tensor.byteSize)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: tensor '%.*s': data_offsets [%llu, %llu] span %llu bytes, its shape needs %zu",
                path, kMaxName, n, static_cast<unsigned long long>(out.begin),
                static_cast<unsigned long long>(out.end), static_cast<unsigned long long>(out.end - out.begin),
                p->tensor.byteSize);
  return KILN_OK;
}

} // namespace

kiln_status loadCheckpoint(kiln_model &m, const char *path, int64_t *epoch) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(KILN_ERR_IO, "%s: cannot open the checkpoint: %s", path, std::strerror(errno));
  FdCloser closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0)
    return fail(KILN_ERR_IO, "%s: cannot stat: %s", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return fail(KILN_ERR_IO, "%s: is not a regular file", path);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: not a .safetensors checkpoint: %llu bytes, too small for the 8-byte header length",
                path, static_cast<unsigned long long>(size));
  uint8_t lengthBytes[8];
  if (!readAllAt(fd, lengthBytes, 8, 0))
    return fail(KILN_ERR_IO, "%s: read failed: %s", path, errno ? std::strerror(errno) : "unexpected end of file");
  uint64_t headerSize = 0;
  for (int i = 0; i < 8; ++i)
    headerSize |= static_cast<uint64_t>(lengthBytes[i]) << (8 * i);
  if (headerSize > kMaxHeaderBytes || headerSize > size - 8)
    return fail(KILN_ERR_INVALID_ARGUMENT,
                "%s: not a .safetensors checkpoint: the header length is %llu, the file has %llu bytes after it", path,
                static_cast<unsigned long long>(headerSize), static_cast<unsigned long long>(size - 8));
  std::string header(static_cast<size_t>(headerSize), '\0');
  if (!readAllAt(fd, &header[0], header.size(), 8))
    return fail(KILN_ERR_IO, "%s: read failed: %s", path, errno ? std::strerror(errno) : "unexpected end of file");
  Json root;
  JsonParser parser(header.data(), header.size());
  if (!parser.parseDocument(root))
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: not a .safetensors checkpoint: %s", path, parser.error().c_str());
  if (root.kind != Json::Object)
    return fail(KILN_ERR_INVALID_ARGUMENT, "%s: not a .safetensors checkpoint: the header is %s, not an object", path,
                kindName(root.kind));

  const uint64_t dataStart = 8 + headerSize, dataSize = size - dataStart;
  int64_t epochs = 0;
  std::vector<Piece> pieces;
  for (const auto &member : root.members) {
    if (member.first == "__metadata__") {
      if (member.second.kind != Json::Object)
        return fail(KILN_ERR_INVALID_ARGUMENT, "%s: __metadata__ is %s, expected an object of strings", path,
                    kindName(member.second.kind));
      for (const auto &kv : member.second.members) {
        if (kv.second.kind != Json::String)
          return fail(KILN_ERR_INVALID_ARGUMENT, "%s: __metadata__ entry '%.*s' is %s, expected a string", path,
                      kMaxName, kv.first.c_str(), kindName(kv.second.kind));
        if (kv.first == "epoch") {
          const std::string &s = kv.second.string;
          bool digits = !s.empty() && s.size() <= 18;
          for (char c : s)
            digits = digits && c >= '0' && c <= '9';
          if (!digits)
            return fail(KILN_ERR_INVALID_ARGUMENT,
                        "%s: __metadata__ epoch is \"%.*s\", expected a number of completed epochs", path, 40,
                        s.c_str());
          epochs = std::strtoll(s.c_str(), nullptr, 10);
        }
      }
      continue;
    }
    Piece piece;
    if (kiln_status s = readTensorEntry(m, path, member.first, member.second, dataSize, piece))
      return s;
    pieces.push_back(piece);
  }
  // The data section must be covered exactly: no overlap, no gap (as the
  // format requires), so a file that lost bytes is refused.
  std::vector<Piece> sorted = pieces;
  std::sort(sorted.begin(), sorted.end(), [](const Piece &a, const Piece &b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (const Piece &p : sorted) {
    if (p.begin != at)
      return fail(KILN_ERR_INVALID_ARGUMENT, "%s: tensor '%.*s': data_offsets start at %llu, expected %llu (%s)", path,
                  kMaxName, p.param->tensor.name.c_str(), static_cast<unsigned long long>(p.begin),
                  static_cast<unsigned long long>(at), p.begin < at ? "overlapping tensors" : "a gap in the data");
    at = p.end;
  }
  if (at != dataSize)
    return fail(KILN_ERR_INVALID_ARGUMENT,
                "%s: the tensors cover %llu bytes of the %llu-byte data section (extra bytes at the end)", path,
                static_cast<unsigned long long>(at), static_cast<unsigned long long>(dataSize));

  // Read into a copy of the parameters; commit only when everything was read.
  AlignedBuffer staging;
  if (!staging.allocate(m.paramStorage.size()))
    return fail(KILN_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes to stage the checkpoint", path,
                m.paramStorage.size());
  if (kiln_status s = paramsToHost(m))
    return prefixError(s, "%s: ", path);
  std::memcpy(staging.data(), m.paramStorage.data(), m.paramStorage.size());
  for (const Piece &p : pieces)
    if (!readAllAt(fd, staging.data() + p.param->offset, p.param->tensor.byteSize, dataStart + p.begin))
      return fail(KILN_ERR_IO, "%s: reading tensor '%.*s' failed: %s", path, kMaxName, p.param->tensor.name.c_str(),
                  errno ? std::strerror(errno) : "unexpected end of file");
  std::memcpy(m.paramStorage.data(), staging.data(), m.paramStorage.size());
  if (kiln_status s = paramsToDevice(m, 0, m.paramStorage.size()))
    return prefixError(s, "%s: ", path);
  if (epoch)
    *epoch = epochs;
  return KILN_OK;
}

} // namespace kiln::rt

using namespace kiln::rt;

extern "C" {

KILN_API kiln_status kiln_model_save_checkpoint(const kiln_model *model, const char *path, int64_t epoch) {
  if (!model)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_model_save_checkpoint: model is NULL");
  if (!path || !*path)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_model_save_checkpoint: path is %s", path ? "empty" : "NULL");
  if (epoch < 0)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_model_save_checkpoint: epoch is %lld; it must be >= 0",
                static_cast<long long>(epoch));
  if (kiln_status s = saveCheckpoint(*model, path, epoch))
    return s;
  return ok();
}

KILN_API kiln_status kiln_model_load_checkpoint(kiln_model *model, const char *path, int64_t *epoch) {
  if (!model)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_model_load_checkpoint: model is NULL");
  if (!path || !*path)
    return fail(KILN_ERR_INVALID_ARGUMENT, "kiln_model_load_checkpoint: path is %s", path ? "empty" : "NULL");
  if (kiln_status s = loadCheckpoint(*model, path, epoch))
    return s;
  return ok();
}

} // extern "C"
