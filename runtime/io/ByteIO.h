//===- ByteIO.h - Bounds-checked byte sources and atomic sinks --*- C++ -*-===//
//
// Internal to the io library (not part of its API). Every parser reads its
// input through a Source, which refuses any read outside [0, size()), and
// every writer writes through a Sink: a growing byte vector or a temporary
// file that replaces the destination only when complete (write, fsync,
// rename, fsync of the directory).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/io/Array.h"
#include "runtime/io/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kiln::io::detail {

/// Random-access input of a known size. `name()` prefixes error messages.
class Source {
public:
  explicit Source(std::string name) : name_(std::move(name)) {}
  virtual ~Source() = default;
  const std::string &name() const { return name_; }
  virtual uint64_t size() const = 0;
  /// Reads exactly `n` bytes at `offset`; fails, reading nothing, when the
  /// range is not inside [0, size()).
  virtual Status readAt(uint64_t offset, void *dst, size_t n) = 0;
  /// An error "<name>: <problem>".
  Error error(const std::string &problem) const { return Error(name_ + ": " + problem); }

protected:
  Status outOfRange(uint64_t offset, size_t n) const;

private:
  std::string name_;
};

/// A caller-owned memory buffer.
class MemorySource final : public Source {
public:
  MemorySource(const void *data, size_t size, std::string name)
      : Source(std::move(name)), data_(static_cast<const uint8_t *>(data)), size_(size) {}
  uint64_t size() const override { return size_; }
  Status readAt(uint64_t offset, void *dst, size_t n) override;

private:
  const uint8_t *data_;
  size_t size_;
};

/// A regular file, read with pread (no whole-file copy).
class FileSource final : public Source {
public:
  static Expected<std::unique_ptr<FileSource>> open(const std::string &path);
  ~FileSource() override;
  uint64_t size() const override { return size_; }
  Status readAt(uint64_t offset, void *dst, size_t n) override;

private:
  FileSource(std::string path, int fd, uint64_t size)
      : Source(std::move(path)), fd_(fd), size_(size) {}
  int fd_;
  uint64_t size_;
};

/// Sequential input of a known total length (a whole .npy file, or one
/// member of an .npz archive, possibly inflated on the fly).
class Reader {
public:
  virtual ~Reader() = default;
  /// Bytes not yet read.
  virtual uint64_t remaining() const = 0;
  /// Reads exactly `n` bytes; `n` must not exceed remaining().
  virtual Status read(void *dst, size_t n) = 0;
};

/// Reads [offset, offset + length) of a Source.
class SourceReader final : public Reader {
public:
  SourceReader(Source &source, uint64_t offset, uint64_t length)
      : source_(source), offset_(offset), end_(offset + length) {}
  uint64_t remaining() const override { return end_ - offset_; }
  Status read(void *dst, size_t n) override;

private:
  Source &source_;
  uint64_t offset_, end_;
};

/// Output. `patch` rewrites bytes already written (zip local headers).
class Sink {
public:
  virtual ~Sink() = default;
  virtual Status write(const void *data, size_t n) = 0;
  virtual Status patch(uint64_t offset, const void *data, size_t n) = 0;
  uint64_t position() const { return position_; }

protected:
  uint64_t position_ = 0;
};

class VectorSink final : public Sink {
public:
  Status write(const void *data, size_t n) override;
  Status patch(uint64_t offset, const void *data, size_t n) override;
  std::vector<uint8_t> take() { return std::move(bytes_); }

private:
  std::vector<uint8_t> bytes_;
};

/// Writes to "<dir>/.<name>.tmp-XXXXXX" and renames it over `path` on
/// commit(). Destroying it uncommitted removes the temporary file, so a
/// failed or interrupted write never leaves a partial file at `path`.
class AtomicFileSink final : public Sink {
public:
  static Expected<std::unique_ptr<AtomicFileSink>> create(const std::string &path);
  ~AtomicFileSink() override;
  Status write(const void *data, size_t n) override;
  Status patch(uint64_t offset, const void *data, size_t n) override;
  /// fsync, set permissions, rename over the destination, fsync the directory.
  Status commit();

private:
  AtomicFileSink(std::string path, std::string tempPath, int fd)
      : path_(std::move(path)), tempPath_(std::move(tempPath)), fd_(fd) {}
  Error ioError(const std::string &what, int err) const;
  void discard();

  std::string path_, tempPath_;
  int fd_;
  bool failed_ = false;
};

/// Runs `produce` against a temporary file and renames it over `path` when
/// `produce` succeeds.
template <typename Fn> Status writeFileAtomically(const std::string &path, Fn &&produce) {
  Expected<std::unique_ptr<AtomicFileSink>> sink = AtomicFileSink::create(path);
  if (!sink)
    return sink.status();
  Status status = produce(static_cast<Sink &>(**sink));
  if (!status)
    return status; // the destructor removes the temporary file
  return (*sink)->commit();
}

/// Little-endian encoding helpers.
inline uint16_t loadU16(const uint8_t *p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t loadU32(const uint8_t *p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline uint64_t loadU64(const uint8_t *p) {
  return uint64_t(loadU32(p)) | (uint64_t(loadU32(p + 4)) << 32);
}
inline void appendU16(std::string &out, uint16_t v) {
  out.push_back(char(v & 0xff));
  out.push_back(char(v >> 8));
}
inline void appendU32(std::string &out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(char((v >> (8 * i)) & 0xff));
}
inline void appendU64(std::string &out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(char((v >> (8 * i)) & 0xff));
}

/// Printable rendering of untrusted bytes for messages: at most `limit`
/// characters, non-printable bytes as \xNN, "..." when cut.
std::string quoteBytes(const void *data, size_t size, size_t limit = 60);

/// Reads a whole .npy stream (magic, header, data) from `reader`, which must
/// hold exactly one array. Errors are prefixed with `what` and ": ";
/// `container` names what holds the stream in messages ("file", "member").
Expected<Array> readNpyStream(Reader &reader, const std::string &what,
                              const char *container = "file");
/// The .npy preamble and header (magic, version, length, dict, padding) for
/// `dtype` and `shape`, laid out exactly as numpy writes it.
Expected<std::string> npyHeader(const ArrayRef &array);

} // namespace kiln::io::detail
