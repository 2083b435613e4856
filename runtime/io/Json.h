//===- Json.h - A small strict JSON parser (internal) -----------*- C++ -*-===//
//
// Internal to the io library: parses .safetensors headers. Strict RFC 8259:
// no comments, no trailing commas, no duplicate object keys, strings must be
// valid UTF-8 without lone surrogates, nesting at most 64 deep. Numbers keep
// their literal text so that integers up to 2^64-1 convert exactly.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::io::detail {

struct JsonValue {
  enum class Kind : uint8_t { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  std::string text;                // String: decoded UTF-8. Number: the literal.
  std::vector<JsonValue> elements; // Array elements, or Object values
  std::vector<std::string> keys;   // Object keys (unique), in document order
  size_t offset = 0;               // byte offset of the value in the document

  /// The value of `key` in an object, or null.
  const JsonValue *find(std::string_view key) const;
};

/// "an object", "a string", ... for messages.
const char *jsonKindName(JsonValue::Kind kind);

/// Parses a whole document. On failure returns false and sets `error` to
/// "<problem> at byte N".
bool parseJson(std::string_view text, JsonValue &out, std::string &error);

/// A Number that is a plain non-negative integer (no sign, fraction or
/// exponent) not above 2^64-1.
bool jsonToU64(const JsonValue &value, uint64_t &out);

/// Appends `s` (valid UTF-8) as a JSON string literal.
void appendJsonString(std::string &out, std::string_view s);

/// Whether `s` is well-formed UTF-8 (no overlong forms, no surrogates,
/// nothing above U+10FFFF).
bool isValidUtf8(std::string_view s);

} // namespace kiln::io::detail
