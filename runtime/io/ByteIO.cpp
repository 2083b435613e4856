//===- ByteIO.cpp - Bounds-checked byte sources and atomic sinks ----------===//
#include "runtime/io/ByteIO.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::io::detail {

Status Source::outOfRange(uint64_t offset, size_t n) const {
  return error("read of " + std::to_string(n) + " bytes at offset " + std::to_string(offset) +
               " is outside the input (" + std::to_string(size()) + " bytes)");
}

Status MemorySource::readAt(uint64_t offset, void *dst, size_t n) {
  if (offset > size_ || n > size_ - offset)
    return outOfRange(offset, n);
  if (n)
    std::memcpy(dst, data_ + offset, n);
  return Status();
}

Expected<std::unique_ptr<FileSource>> FileSource::open(const std::string &path) {
  int fd;
  do
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Error(path + ": cannot stat: " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Error(path + ": is a directory, not a file");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error(path + ": is not a regular file");
  }
  return std::unique_ptr<FileSource>(new FileSource(path, fd, uint64_t(st.st_size)));
}

FileSource::~FileSource() { ::close(fd_); }

Status FileSource::readAt(uint64_t offset, void *dst, size_t n) {
  if (offset > size_ || n > size_ - offset)
    return outOfRange(offset, n);
  auto *out = static_cast<uint8_t *>(dst);
  while (n > 0) {
    size_t chunk = n < (size_t(1) << 30) ? n : (size_t(1) << 30);
    ssize_t got = ::pread(fd_, out, chunk, off_t(offset));
    if (got < 0) {
      if (errno == EINTR)
        continue;
      return error(std::string("read error at offset ") + std::to_string(offset) + ": " +
                   std::strerror(errno));
    }
    if (got == 0)
      return error("unexpected end of file at offset " + std::to_string(offset) +
                   " (was the file truncated while being read?)");
    out += got;
    offset += uint64_t(got);
    n -= size_t(got);
  }
  return Status();
}

Status SourceReader::read(void *dst, size_t n) {
  if (n > remaining())
    return source_.error("internal error: read of " + std::to_string(n) + " bytes with only " +
                         std::to_string(remaining()) + " left");
  Status status = source_.readAt(offset_, dst, n);
  if (status)
    offset_ += n;
  return status;
}

Status VectorSink::write(const void *data, size_t n) {
  const auto *p = static_cast<const uint8_t *>(data);
  bytes_.insert(bytes_.end(), p, p + n);
  position_ += n;
  return Status();
}

Status VectorSink::patch(uint64_t offset, const void *data, size_t n) {
  if (offset > bytes_.size() || n > bytes_.size() - offset)
    return Error("internal error: patch outside the written bytes");
  if (n)
    std::memcpy(bytes_.data() + offset, data, n);
  return Status();
}

// --- atomic files ----------------------------------------------------------

static mode_t currentUmask() {
  // umask() can only be read by setting it, which races with other threads;
  // Linux reports it in /proc/self/status instead.
  mode_t mask = 022;
  if (FILE *f = std::fopen("/proc/self/status", "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      unsigned value;
      if (std::sscanf(line, "Umask: %o", &value) == 1) {
        mask = mode_t(value) & 0777;
        break;
      }
    }
    std::fclose(f);
  }
  return mask;
}

Expected<std::unique_ptr<AtomicFileSink>> AtomicFileSink::create(const std::string &path) {
  if (path.empty() || path.back() == '/')
    return Error("'" + path + "': not a file path");
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string temp = (dir == "/" ? "" : dir) + "/." + base + ".tmp-XXXXXX";
  std::vector<char> buffer(temp.begin(), temp.end());
  buffer.push_back('\0');
  int fd = mkostemp(buffer.data(), O_CLOEXEC);
  if (fd < 0)
    return Error(path + ": cannot create a temporary file in " + dir + ": " +
                 std::strerror(errno));
  return std::unique_ptr<AtomicFileSink>(new AtomicFileSink(path, buffer.data(), fd));
}

AtomicFileSink::~AtomicFileSink() { discard(); }

void AtomicFileSink::discard() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!tempPath_.empty()) {
    ::unlink(tempPath_.c_str());
    tempPath_.clear();
  }
}

Error AtomicFileSink::ioError(const std::string &what, int err) const {
  return Error(path_ + ": " + what + ": " + std::strerror(err));
}

Status AtomicFileSink::write(const void *data, size_t n) {
  if (fd_ < 0 || failed_)
    return Error(path_ + ": write after a failed or finished write");
  const auto *p = static_cast<const uint8_t *>(data);
  while (n > 0) {
    size_t chunk = n < (size_t(1) << 30) ? n : (size_t(1) << 30);
    ssize_t put = ::write(fd_, p, chunk);
    if (put < 0) {
      if (errno == EINTR)
        continue;
      failed_ = true;
      return ioError("cannot write", errno);
    }
    p += put;
    n -= size_t(put);
    position_ += uint64_t(put);
  }
  return Status();
}

Status AtomicFileSink::patch(uint64_t offset, const void *data, size_t n) {
  if (fd_ < 0 || failed_)
    return Error(path_ + ": write after a failed or finished write");
  if (offset > position_ || n > position_ - offset)
    return Error(path_ + ": internal error: patch outside the written bytes");
  const auto *p = static_cast<const uint8_t *>(data);
  while (n > 0) {
    ssize_t put = ::pwrite(fd_, p, n, off_t(offset));
    if (put < 0) {
      if (errno == EINTR)
        continue;
      failed_ = true;
      return ioError("cannot write", errno);
    }
    p += put;
    n -= size_t(put);
    offset += uint64_t(put);
  }
  return Status();
}

Status AtomicFileSink::commit() {
  if (fd_ < 0 || failed_)
    return Error(path_ + ": commit after a failed or finished write");
  // Keep the mode of a file being replaced; a new file gets 0666 & ~umask,
  // as if created with open(O_CREAT) (mkstemp makes it 0600).
  struct stat st;
  mode_t mode = (::stat(path_.c_str(), &st) == 0 && S_ISREG(st.st_mode))
                    ? (st.st_mode & 07777)
                    : (0666 & ~currentUmask());
  if (::fchmod(fd_, mode) != 0) {
    Error e = ioError("cannot set permissions", errno);
    discard();
    return e;
  }
  if (::fsync(fd_) != 0) {
    Error e = ioError("cannot sync to disk", errno);
    discard();
    return e;
  }
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    Error e = ioError("cannot close", errno);
    discard();
    return e;
  }
  if (::rename(tempPath_.c_str(), path_.c_str()) != 0) {
    Error e = ioError("cannot rename the temporary file into place", errno);
    discard();
    return e;
  }
  tempPath_.clear();
  // Make the rename itself durable.
  size_t slash = path_.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path_.substr(0, slash));
  int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    ::fsync(dirFd); // best effort: some file systems refuse fsync on directories
    ::close(dirFd);
  }
  return Status();
}

std::string quoteBytes(const void *data, size_t size, size_t limit) {
  const auto *p = static_cast<const uint8_t *>(data);
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    uint8_t c = p[i];
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c >= 0x20 && c < 0x7f)
      out.push_back(char(c));
    else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

} // namespace kiln::io::detail
