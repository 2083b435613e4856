//===- kiln_runtime.hpp - C++ wrapper of the Kiln runtime -------*- C++ -*-===//
//
// Header-only, C++17, no exceptions: RAII handles over kiln_runtime.h, and
// errors returned as values (kiln::Status, kiln::Result<T>) that carry the
// status code and the message kiln_last_error() gave right after the call.
//
//   auto model = kiln::Model::load_file("mnist.kbin");
//   if (!model) { fprintf(stderr, "%s\n", model.error().message.c_str()); return 1; }
//   auto session = model->session("predict");
//   ...session->set_input("input", pixels.data(), pixels.size());
//   ...session->run();
//   auto probs = session->output<float>("dense");       // Result<std::vector<float>>
//
// Thread safety is that of the C API (docs/runtime.md): one Session per
// thread at a time; Model's read accessors are safe to share.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/kiln_runtime.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

/// A failed call: the status code and its message.
struct Error {
  kiln_status code = KILN_OK;
  std::string message;
};

/// Success, or an Error.
class [[nodiscard]] Status {
public:
  Status() = default;
  explicit Status(Error error) : error_(std::move(error)) {}
  bool ok() const { return error_.code == KILN_OK; }
  explicit operator bool() const { return ok(); }
  kiln_status code() const { return error_.code; }
  const std::string &message() const { return error_.message; }
  const Error &error() const { return error_; }

private:
  Error error_;
};

/// A value, or an Error. Accessing the value of a failed Result is a
/// programming error: it prints the message and aborts.
template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : value_(std::move(value)) {}
  Result(Error error) : error_(std::move(error)) {}
  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error &error() const { return error_; }
  Status status() const { return ok() ? Status() : Status(error_); }

  T &value() & { check(); return *value_; }
  const T &value() const & { check(); return *value_; }
  T &&value() && { check(); return std::move(*value_); }
  T *operator->() { check(); return &*value_; }
  const T *operator->() const { check(); return &*value_; }
  T &operator*() & { check(); return *value_; }
  const T &operator*() const & { check(); return *value_; }

private:
  void check() const {
    if (!value_) {
      std::fprintf(stderr, "kiln: value of a failed Result accessed: %s\n", error_.message.c_str());
      std::abort();
    }
  }
  std::optional<T> value_;
  Error error_;
};

namespace detail {
inline Error lastError(kiln_status s) { return Error{s, kiln_last_error()}; }
inline Status check(kiln_status s) { return s == KILN_OK ? Status() : Status(lastError(s)); }
} // namespace detail

/// The kiln_dtype of a C++ element type.
template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr kiln_dtype value = KILN_F32; };
template <> struct DTypeOf<int32_t> { static constexpr kiln_dtype value = KILN_I32; };

class Session;

/// A loaded model (move-only; frees its reference on destruction).
class Model {
public:
  Model() = default;
  Model(Model &&other) noexcept : m_(std::exchange(other.m_, nullptr)) {}
  Model &operator=(Model &&other) noexcept {
    if (this != &other) {
      kiln_model_free(m_);
      m_ = std::exchange(other.m_, nullptr);
    }
    return *this;
  }
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;
  ~Model() { kiln_model_free(m_); }

  static Result<Model> load_file(const std::string &path, uint32_t flags = KILN_LOAD_DEFAULT) {
    kiln_model *m = nullptr;
    if (kiln_status s = kiln_model_load_file(path.c_str(), flags, &m))
      return detail::lastError(s);
    return Model(m);
  }
  static Result<Model> load_memory(const void *data, size_t size, uint32_t flags = KILN_LOAD_DEFAULT) {
    kiln_model *m = nullptr;
    if (kiln_status s = kiln_model_load_memory(data, size, flags, &m))
      return detail::lastError(s);
    return Model(m);
  }

  kiln_model *get() const { return m_; }
  explicit operator bool() const { return m_ != nullptr; }

  /// "" for an empty (moved-from) Model.
  std::string name() const {
    const char *n = nullptr;
    return kiln_model_name(m_, &n) == KILN_OK ? n : "";
  }
  std::string producer() const {
    const char *p = nullptr;
    return kiln_model_producer(m_, &p) == KILN_OK ? p : "";
  }

  /// Every entry point (pointers owned by the model).
  std::vector<const kiln_entry_info *> entries() const {
    std::vector<const kiln_entry_info *> out;
    size_t n = 0;
    if (kiln_model_num_entries(m_, &n) != KILN_OK)
      return out;
    for (size_t i = 0; i < n; ++i) {
      const kiln_entry_info *e = nullptr;
      if (kiln_model_entry(m_, i, &e) == KILN_OK)
        out.push_back(e);
    }
    return out;
  }
  Result<const kiln_entry_info *> entry(const std::string &name) const {
    const kiln_entry_info *e = nullptr;
    if (kiln_status s = kiln_model_find_entry(m_, name.c_str(), &e))
      return detail::lastError(s);
    return e;
  }

  /// Every parameter (pointers owned by the model).
  std::vector<const kiln_param_info *> params() const {
    std::vector<const kiln_param_info *> out;
    size_t n = 0;
    if (kiln_model_num_params(m_, &n) != KILN_OK)
      return out;
    for (size_t i = 0; i < n; ++i) {
      const kiln_param_info *p = nullptr;
      if (kiln_model_param(m_, i, &p) == KILN_OK)
        out.push_back(p);
    }
    return out;
  }
  Result<const kiln_param_info *> param(const std::string &name) const {
    const kiln_param_info *p = nullptr;
    if (kiln_status s = kiln_model_find_param(m_, name.c_str(), &p))
      return detail::lastError(s);
    return p;
  }

  /// A parameter's current value (checks that T is its dtype).
  template <typename T> Result<std::vector<T>> get_param(const std::string &name) const {
    auto p = param(name);
    if (!p)
      return p.error();
    const kiln_tensor_info &t = (*p)->tensor;
    if (t.dtype != DTypeOf<T>::value)
      return Error{KILN_ERR_INVALID_ARGUMENT, "parameter '" + name + "' has dtype " + kiln_dtype_name(t.dtype) +
                                                  ", read as " + kiln_dtype_name(DTypeOf<T>::value)};
    std::vector<T> out(static_cast<size_t>(t.num_elements));
    if (kiln_status s = kiln_model_get_param(m_, name.c_str(), out.data(), out.size() * sizeof(T)))
      return detail::lastError(s);
    return out;
  }
  template <typename T> Status set_param(const std::string &name, const T *data, size_t count) {
    return detail::check(kiln_model_set_param(m_, name.c_str(), DTypeOf<T>::value, data, count));
  }
  template <typename T> Status set_param(const std::string &name, const std::vector<T> &values) {
    return set_param(name, values.data(), values.size());
  }
  /// Restores every optimizer-state entry to its initial value (kiln_model_reset_state).
  Status reset_state() { return detail::check(kiln_model_reset_state(m_)); }
  /// Threads of the model's GEMMs and convolutions (0: the default; kiln_model_set_num_threads).
  Status set_num_threads(int32_t n) { return detail::check(kiln_model_set_num_threads(m_, n)); }
  /// Where sessions run: "cpu", "cuda", "cuda:N" (kiln_model_set_device).
  Status set_device(const std::string &device) { return detail::check(kiln_model_set_device(m_, device.c_str())); }
  /// "cpu" or "cuda:N"; "" for an empty Model.
  std::string device() const {
    const char *d = nullptr;
    return kiln_model_device(m_, &d) == KILN_OK ? d : "";
  }
  /// "sm_80,sm_90,compute_90": the architectures of the GPU code; "" for none.
  std::string gpu_archs() const {
    const char *a = nullptr;
    return kiln_model_gpu_archs(m_, &a) == KILN_OK ? a : "";
  }

  /// A new session of entry point `entry`.
  inline Result<Session> session(const std::string &entry);

private:
  explicit Model(kiln_model *m) : m_(m) {}
  kiln_model *m_ = nullptr;
};

/// A session of one entry point (move-only). It keeps the model alive.
class Session {
public:
  Session() = default;
  Session(Session &&other) noexcept : s_(std::exchange(other.s_, nullptr)) {}
  Session &operator=(Session &&other) noexcept {
    if (this != &other) {
      kiln_session_destroy(s_);
      s_ = std::exchange(other.s_, nullptr);
    }
    return *this;
  }
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;
  ~Session() { kiln_session_destroy(s_); }

  static Result<Session> create(const Model &model, const std::string &entry) {
    kiln_session *s = nullptr;
    if (kiln_status st = kiln_session_create(model.get(), entry.c_str(), &s))
      return detail::lastError(st);
    return Session(s);
  }

  kiln_session *get() const { return s_; }
  explicit operator bool() const { return s_ != nullptr; }
  /// The entry point (nullptr for an empty Session).
  const kiln_entry_info *entry() const {
    const kiln_entry_info *e = nullptr;
    return kiln_session_entry(s_, &e) == KILN_OK ? e : nullptr;
  }

  /// Copy `count` elements of T into input `name` (dtype and size checked).
  template <typename T> Status set_input(const std::string &name, const T *data, size_t count) {
    return detail::check(kiln_session_set_input(s_, name.c_str(), DTypeOf<T>::value, nullptr, 0, data,
                                                count * sizeof(T)));
  }
  template <typename T> Status set_input(const std::string &name, const std::vector<T> &values) {
    return set_input(name, values.data(), values.size());
  }
  /// Same, also checking the shape.
  template <typename T>
  Status set_input(const std::string &name, const std::vector<int64_t> &shape, const T *data, size_t count) {
    return detail::check(kiln_session_set_input(s_, name.c_str(), DTypeOf<T>::value, shape.data(),
                                                static_cast<int32_t>(shape.size()), data, count * sizeof(T)));
  }
  /// Bind caller memory (64-byte aligned, kept valid while used) without copying.
  template <typename T> Status bind_input(const std::string &name, const T *data, size_t count) {
    return detail::check(kiln_session_bind_input(s_, name.c_str(), DTypeOf<T>::value, nullptr, 0, data,
                                                 count * sizeof(T)));
  }

  Status run() { return detail::check(kiln_session_run(s_)); }

  /// Output `name` of the last run, copied.
  template <typename T> Result<std::vector<T>> output(const std::string &name) const {
    const void *data = nullptr;
    size_t bytes = 0;
    if (kiln_status s = kiln_session_output(s_, name.c_str(), &data, &bytes))
      return detail::lastError(s);
    const kiln_entry_info *e = entry();
    for (size_t i = 0; e && i < e->num_outputs; ++i)
      if (name == e->outputs[i].name && e->outputs[i].dtype != DTypeOf<T>::value)
        return Error{KILN_ERR_INVALID_ARGUMENT, "output '" + name + "' has dtype " +
                                                    kiln_dtype_name(e->outputs[i].dtype) + ", read as " +
                                                    kiln_dtype_name(DTypeOf<T>::value)};
    const T *p = static_cast<const T *>(data);
    return std::vector<T>(p, p + bytes / sizeof(T));
  }
  /// Output `name` of the last run, in place: valid until the next run.
  Result<std::pair<const void *, size_t>> output_view(const std::string &name) const {
    const void *data = nullptr;
    size_t bytes = 0;
    if (kiln_status s = kiln_session_output(s_, name.c_str(), &data, &bytes))
      return detail::lastError(s);
    return std::make_pair(data, bytes);
  }

private:
  explicit Session(kiln_session *s) : s_(s) {}
  kiln_session *s_ = nullptr;
};

inline Result<Session> Model::session(const std::string &entry) { return Session::create(*this, entry); }

/// Whether this CPU supports `feature` (a name from the runtime's list).
inline Result<bool> cpu_supports(const std::string &feature) {
  int supported = 0;
  if (kiln_status s = kiln_cpu_supports(feature.c_str(), &supported))
    return detail::lastError(s);
  return supported != 0;
}

} // namespace kiln
