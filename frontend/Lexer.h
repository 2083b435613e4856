//===- Lexer.h - tokens of the Kiln model language ------------------------===//
#ifndef KILN_FRONTEND_LEXER_H
#define KILN_FRONTEND_LEXER_H

#include "frontend/Diagnostics.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"
#include <cstdint>
#include <string>

namespace kiln {

enum class TokenKind {
  Eof, Newline, Identifier, Integer, Float, String,
  LParen, RParen, LBracket, RBracket, Comma, Colon, Equals, Dot,
  Plus, Minus, Star, Slash, At,
};

/// Spelling of a token kind for "expected ..." messages.
llvm::StringRef describe(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::Eof;
  llvm::StringRef text;    // the source spelling
  std::string stringValue; // unescaped, for String
  int64_t intValue = 0;    // for Integer
  double floatValue = 0;   // for Integer and Float
  llvm::SMLoc loc() const { return llvm::SMLoc::getFromPointer(text.data()); }
  bool is(TokenKind k) const { return kind == k; }
};

/// Splits a buffer into tokens. Newlines are tokens (they end statements);
/// `#` starts a comment. Bad characters and literals are reported and
/// skipped, so lexing always reaches the end of the buffer.
class Lexer {
public:
  Lexer(llvm::StringRef buffer, Diagnostics &diags)
      : buffer(buffer), cur(buffer.begin()), diags(diags) {}
  Token next();

private:
  Token make(TokenKind kind, const char *start) const;
  Token lexNumber(const char *start);
  Token lexString(const char *start);

  llvm::StringRef buffer;
  const char *cur;
  Diagnostics &diags;
};

} // namespace kiln

#endif
