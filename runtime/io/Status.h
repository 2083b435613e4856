//===- Status.h - Error reporting without exceptions ------------*- C++ -*-===//
//
// Kiln builds with -fno-exceptions, so every fallible function of the io
// library returns a Status (success or an error message) or an Expected<T>
// (a value or an error message). Messages are one line and start with the
// file they are about: "x.npy: header says shape (10, 784) of <f4 ...".
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

namespace kiln::io {

/// An error message; the payload of a failed Status or Expected.
class Error {
public:
  explicit Error(std::string message) : message_(std::move(message)) {}
  const std::string &message() const & { return message_; }
  std::string &&message() && { return std::move(message_); }

private:
  std::string message_;
};

/// Success, or an error with a message.
class [[nodiscard]] Status {
public:
  /// Success.
  Status() = default;
  Status(Error error) : failed_(true), message_(std::move(error).message()) {}
  static Status success() { return Status(); }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  /// The error message; empty on success.
  const std::string &message() const { return message_; }

private:
  bool failed_ = false;
  std::string message_;
};

/// A value of type T, or an error with a message.
template <typename T> class [[nodiscard]] Expected {
public:
  Expected(T value) : value_(std::move(value)) {}
  Expected(Error error) : message_(std::move(error).message()) {}
  /// Propagates a failed Status (`if (!s) return s;`). Passing a successful
  /// Status is a programming error.
  Expected(Status status) : message_(status.message()) {
    if (status.ok())
      fail("Expected constructed from a successful Status");
  }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  /// The error message; empty on success.
  const std::string &message() const { return message_; }
  /// The error as a Status (success when a value is held).
  Status status() const { return ok() ? Status() : Status(Error(message_)); }

  /// The value. Calling these on an error aborts (a programming error,
  /// checked in release builds too).
  T &value() & { check(); return *value_; }
  const T &value() const & { check(); return *value_; }
  T &&value() && { check(); return std::move(*value_); }
  T *operator->() { check(); return &*value_; }
  const T *operator->() const { check(); return &*value_; }
  T &operator*() & { check(); return *value_; }
  const T &operator*() const & { check(); return *value_; }
  T &&operator*() && { check(); return std::move(*value_); }

private:
  void check() const {
    if (!value_)
      fail(message_.c_str());
  }
  [[noreturn]] static void fail(const char *what) {
    std::fprintf(stderr, "kiln::io: value of a failed Expected accessed: %s\n", what);
    std::abort();
  }

  std::optional<T> value_;
  std::string message_;
};

} // namespace kiln::io
