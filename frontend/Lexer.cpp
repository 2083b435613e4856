//===- Lexer.cpp - tokens of the Kiln model language ----------------------===//
#include "frontend/Lexer.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"
#include <cerrno>
#include <cstdlib>

using namespace kiln;

llvm::StringRef kiln::describe(TokenKind kind) {
  switch (kind) {
  case TokenKind::Eof: return "end of file";
  case TokenKind::Newline: return "end of line";
  case TokenKind::Identifier: return "a name";
  case TokenKind::Integer: return "an integer";
  case TokenKind::Float: return "a number";
  case TokenKind::String: return "a string";
  case TokenKind::LParen: return "'('";
  case TokenKind::RParen: return "')'";
  case TokenKind::LBracket: return "'['";
  case TokenKind::RBracket: return "']'";
  case TokenKind::Comma: return "','";
  case TokenKind::Colon: return "':'";
  case TokenKind::Equals: return "'='";
  case TokenKind::Dot: return "'.'";
  case TokenKind::Plus: return "'+'";
  case TokenKind::Minus: return "'-'";
  case TokenKind::Star: return "'*'";
  case TokenKind::Slash: return "'/'";
  case TokenKind::At: return "'@'";
  }
  return "a token";
}

Token Lexer::make(TokenKind kind, const char *start) const {
  Token t;
  t.kind = kind;
  t.text = llvm::StringRef(start, cur - start);
  return t;
}

static bool isIdentStart(char c) { return llvm::isAlpha(c) || c == '_'; }
static bool isIdentChar(char c) { return llvm::isAlnum(c) || c == '_'; }

Token Lexer::next() {
  const char *end = buffer.end();
  while (cur < end) {
    const char *start = cur;
    char c = *cur++;
    switch (c) {
    case ' ': case '\t': case '\r': case '\f': case '\v':
      continue;
    case '\\': { // line continuation, as in Python
      const char *p = cur;
      if (p < end && *p == '\r')
        ++p;
      if (p < end && *p == '\n') {
        cur = p + 1;
        continue;
      }
      diags.error(llvm::SMLoc::getFromPointer(start),
                  "unexpected '\\' (only allowed at the end of a line)");
      continue;
    }
    case '#':
      while (cur < end && *cur != '\n')
        ++cur;
      continue;
    case '\n': return make(TokenKind::Newline, start);
    case '(': return make(TokenKind::LParen, start);
    case ')': return make(TokenKind::RParen, start);
    case '[': return make(TokenKind::LBracket, start);
    case ']': return make(TokenKind::RBracket, start);
    case ',': return make(TokenKind::Comma, start);
    case ':': return make(TokenKind::Colon, start);
    case '=': return make(TokenKind::Equals, start);
    case '+': return make(TokenKind::Plus, start);
    case '-': return make(TokenKind::Minus, start);
    case '*': return make(TokenKind::Star, start);
    case '/': return make(TokenKind::Slash, start);
    case '@': return make(TokenKind::At, start);
    case '"': case '\'':
      return lexString(start);
    case '.':
      if (cur < end && llvm::isDigit(*cur))
        return lexNumber(start);
      return make(TokenKind::Dot, start);
    default:
      if (llvm::isDigit(c))
        return lexNumber(start);
      if (isIdentStart(c)) {
        while (cur < end && isIdentChar(*cur))
          ++cur;
        return make(TokenKind::Identifier, start);
      }
      if (llvm::isPrint(c))
        diags.error(llvm::SMLoc::getFromPointer(start),
                    llvm::Twine("unexpected character '") + llvm::Twine(c) + "'");
      else
        diags.error(llvm::SMLoc::getFromPointer(start),
                    "unexpected byte 0x" + llvm::utohexstr((unsigned char)c >> 4, /*LowerCase=*/true) +
                        llvm::utohexstr((unsigned char)c & 15, /*LowerCase=*/true) +
                        " (model files are ASCII/UTF-8 text)");
      // Skip the rest of a multi-byte UTF-8 sequence so it is reported once.
      while (cur < end && ((unsigned char)*cur & 0xC0) == 0x80)
        ++cur;
      continue;
    }
  }
  return make(TokenKind::Eof, end);
}

Token Lexer::lexNumber(const char *start) {
  const char *end = buffer.end();
  bool isFloat = *start == '.';
  while (cur < end && (llvm::isDigit(*cur) || *cur == '_'))
    ++cur;
  if (cur < end && *cur == '.' && !isFloat) {
    isFloat = true;
    ++cur;
    while (cur < end && llvm::isDigit(*cur))
      ++cur;
  }
  if (cur < end && (*cur == 'e' || *cur == 'E')) {
    const char *mark = cur++;
    if (cur < end && (*cur == '+' || *cur == '-'))
      ++cur;
    if (cur < end && llvm::isDigit(*cur)) {
      isFloat = true;
      while (cur < end && llvm::isDigit(*cur))
        ++cur;
    } else {
      cur = mark; // "2e" is the number 2 followed by the name e
    }
  }
  Token t = make(isFloat ? TokenKind::Float : TokenKind::Integer, start);
  if (cur < end && isIdentStart(*cur)) {
    while (cur < end && isIdentChar(*cur))
      ++cur;
    diags.error(t.loc(), "invalid number '" + llvm::StringRef(start, cur - start) + "'");
  }
  std::string spelling;
  for (char c : t.text)
    if (c != '_')
      spelling += c;
  if (isFloat) {
    errno = 0;
    t.floatValue = std::strtod(spelling.c_str(), nullptr);
    if (errno == ERANGE && std::abs(t.floatValue) > 1.0)
      diags.error(t.loc(), "number '" + t.text + "' is too large");
  } else if (llvm::StringRef(spelling).getAsInteger(10, t.intValue)) {
    diags.error(t.loc(), "integer '" + t.text + "' is too large (at most 2^63 - 1)");
    t.intValue = 0;
  } else {
    t.floatValue = (double)t.intValue;
  }
  return t;
}

Token Lexer::lexString(const char *start) {
  const char *end = buffer.end();
  char quote = *start;
  std::string value;
  while (true) {
    if (cur >= end || *cur == '\n') {
      Token t = make(TokenKind::String, start);
      diags.error(t.loc(), "string is not closed before the end of the line; add a closing " +
                               llvm::Twine(quote));
      t.stringValue = value;
      return t;
    }
    char c = *cur++;
    if (c == quote)
      break;
    if (c == '\\' && cur < end && *cur != '\n') {
      char e = *cur++;
      switch (e) {
      case 'n': value += '\n'; break;
      case 't': value += '\t'; break;
      case '\\': case '"': case '\'': value += e; break;
      default:
        diags.error(llvm::SMLoc::getFromPointer(cur - 2),
                    llvm::Twine("unknown escape '\\") + llvm::Twine(e) + "' in string");
      }
      continue;
    }
    value += c;
  }
  Token t = make(TokenKind::String, start);
  t.stringValue = std::move(value);
  return t;
}
