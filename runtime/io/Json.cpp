//===- Json.cpp - A small strict JSON parser ------------------------------===//
#include "runtime/io/Json.h"

#include <algorithm>
#include <cstdio>

namespace kiln::io::detail {

namespace {

constexpr int kMaxDepth = 64;
// Bounds the memory a hostile document can make the parser allocate (each
// value costs about 100 bytes); a header of 400,000 tensors fits.
constexpr size_t kMaxValues = size_t(4) << 20;

/// Decodes one UTF-8 sequence at s[pos]; returns its length or 0 if invalid.
size_t utf8Length(std::string_view s, size_t pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = byte(pos);
  if (c < 0x80)
    return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() - pos < len)
    return 0;
  for (size_t i = 1; i < len; ++i) {
    unsigned char d = byte(pos + i);
    if ((d & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}

void appendUtf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xc0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xe0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(char(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(char(0xf0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(char(0x80 | (cp & 0x3f)));
  }
}

class Parser {
public:
  explicit Parser(std::string_view text) : s_(text) {}

  bool parseDocument(JsonValue &out) {
    skipSpace();
    if (!parseValue(out, 0))
      return false;
    skipSpace();
    if (pos_ != s_.size())
      return fail("unexpected text after the JSON value");
    return true;
  }
  std::string error() const { return error_ + " at byte " + std::to_string(errorPos_); }

private:
  bool fail(const std::string &message) {
    if (error_.empty()) {
      error_ = message;
      errorPos_ = pos_;
    }
    return false;
  }
  bool atEnd() const { return pos_ >= s_.size(); }
  char peek() const { return atEnd() ? '\0' : s_[pos_]; }
  void skipSpace() {
    while (!atEnd() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word)
      return fail("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool parseValue(JsonValue &out, int depth) {
    out.offset = pos_;
    if (++values_ > kMaxValues)
      return fail("the JSON text has more than " + std::to_string(kMaxValues) + " values");
    switch (peek()) {
    case '{':
      return parseObject(out, depth);
    case '[':
      return parseArray(out, depth);
    case '"':
      out.kind = JsonValue::Kind::String;
      return parseString(out.text);
    case 't':
      out.kind = JsonValue::Kind::Bool;
      out.boolean = true;
      return literal("true");
    case 'f':
      out.kind = JsonValue::Kind::Bool;
      return literal("false");
    case 'n':
      out.kind = JsonValue::Kind::Null;
      return literal("null");
    default:
      if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
        return parseNumber(out);
      if (atEnd())
        return fail("unexpected end of the JSON text");
      return fail("unexpected character");
    }
  }

  bool parseObject(JsonValue &out, int depth) {
    if (depth >= kMaxDepth)
      return fail("JSON nested too deeply");
    out.kind = JsonValue::Kind::Object;
    ++pos_;
    skipSpace();
    if (peek() == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      skipSpace();
      if (peek() != '"')
        return fail(atEnd() ? "unterminated object" : "expected a string key");
      std::string key;
      if (!parseString(key))
        return false;
      skipSpace();
      if (peek() != ':')
        return fail("expected ':' after an object key");
      ++pos_;
      skipSpace();
      JsonValue value;
      if (!parseValue(value, depth + 1))
        return false;
      out.keys.push_back(std::move(key));
      out.elements.push_back(std::move(value));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        break;
      }
      return fail(atEnd() ? "unterminated object" : "expected ',' or '}' in an object");
    }
    // Duplicate keys are an error (their meaning differs between parsers).
    std::vector<size_t> order(out.keys.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return out.keys[a] < out.keys[b]; });
    for (size_t i = 1; i < order.size(); ++i)
      if (out.keys[order[i]] == out.keys[order[i - 1]]) {
        size_t later = std::max(order[i], order[i - 1]);
        pos_ = out.elements[later].offset;
        std::string shown = out.keys[later].substr(0, 80);
        return fail("duplicate key \"" + shown + "\"");
      }
    return true;
  }

  bool parseArray(JsonValue &out, int depth) {
    if (depth >= kMaxDepth)
      return fail("JSON nested too deeply");
    out.kind = JsonValue::Kind::Array;
    ++pos_;
    skipSpace();
    if (peek() == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      skipSpace();
      JsonValue value;
      if (!parseValue(value, depth + 1))
        return false;
      out.elements.push_back(std::move(value));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return true;
      }
      return fail(atEnd() ? "unterminated array" : "expected ',' or ']' in an array");
    }
  }

  bool hex4(uint32_t &out) {
    if (s_.size() - pos_ < 4)
      return fail("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_ + i];
      uint32_t d;
      if (c >= '0' && c <= '9')
        d = uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f')
        d = uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        d = uint32_t(c - 'A' + 10);
      else
        return fail("invalid \\u escape");
      out = out * 16 + d;
    }
    pos_ += 4;
    return true;
  }

  bool parseString(std::string &out) {
    ++pos_; // opening quote
    for (;;) {
      if (atEnd())
        return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20)
        return fail("control character in a string (must be escaped)");
      if (c == '\\') {
        ++pos_;
        if (atEnd())
          return fail("unterminated string");
        char e = s_[pos_++];
        switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp))
            return false;
          if (cp >= 0xdc00 && cp <= 0xdfff)
            return fail("unpaired low surrogate in a \\u escape");
          if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t low;
            if (s_.substr(pos_, 2) != "\\u")
              return fail("unpaired high surrogate in a \\u escape");
            pos_ += 2;
            if (!hex4(low))
              return false;
            if (low < 0xdc00 || low > 0xdfff)
              return fail("unpaired high surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          appendUtf8(out, cp);
          break;
        }
        default:
          --pos_;
          return fail("invalid escape in a string");
        }
        continue;
      }
      size_t len = utf8Length(s_, pos_);
      if (len == 0)
        return fail("invalid UTF-8 in a string");
      out.append(s_.data() + pos_, len);
      pos_ += len;
    }
  }

  bool parseNumber(JsonValue &out) {
    out.kind = JsonValue::Kind::Number;
    size_t start = pos_;
    auto digits = [&] {
      size_t from = pos_;
      while (!atEnd() && s_[pos_] >= '0' && s_[pos_] <= '9')
        ++pos_;
      return pos_ - from;
    };
    if (peek() == '-')
      ++pos_;
    if (peek() == '0') {
      ++pos_;
      if (peek() >= '0' && peek() <= '9')
        return fail("number with a leading zero");
    } else if (digits() == 0) {
      return fail("invalid number");
    }
    if (peek() == '.') {
      ++pos_;
      if (digits() == 0)
        return fail("invalid number: no digits after '.'");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-')
        ++pos_;
      if (digits() == 0)
        return fail("invalid number: no digits in the exponent");
    }
    out.text.assign(s_.data() + start, pos_ - start);
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
  size_t values_ = 0;
  std::string error_;
  size_t errorPos_ = 0;
};

} // namespace

const JsonValue *JsonValue::find(std::string_view key) const {
  for (size_t i = 0; i < keys.size(); ++i)
    if (keys[i] == key)
      return &elements[i];
  return nullptr;
}

const char *jsonKindName(JsonValue::Kind kind) {
  switch (kind) {
  case JsonValue::Kind::Null: return "null";
  case JsonValue::Kind::Bool: return "a boolean";
  case JsonValue::Kind::Number: return "a number";
  case JsonValue::Kind::String: return "a string";
  case JsonValue::Kind::Array: return "an array";
  case JsonValue::Kind::Object: return "an object";
  }
  return "a value";
}

bool parseJson(std::string_view text, JsonValue &out, std::string &error) {
  Parser parser(text);
  out = JsonValue();
  if (parser.parseDocument(out))
    return true;
  error = parser.error();
  return false;
}

bool jsonToU64(const JsonValue &value, uint64_t &out) {
  if (value.kind != JsonValue::Kind::Number || value.text.empty())
    return false;
  uint64_t v = 0;
  for (char c : value.text) {
    if (c < '0' || c > '9')
      return false;
    if (__builtin_mul_overflow(v, uint64_t(10), &v) ||
        __builtin_add_overflow(v, uint64_t(c - '0'), &v))
      return false;
  }
  out = v;
  return true;
}

void appendJsonString(std::string &out, std::string_view s) {
  out.push_back('"');
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"')
      out += "\\\"";
    else if (c == '\\')
      out += "\\\\";
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else
      out.push_back(ch);
  }
  out.push_back('"');
}

bool isValidUtf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    size_t len = utf8Length(s, pos);
    if (len == 0)
      return false;
    pos += len;
  }
  return true;
}

} // namespace kiln::io::detail
