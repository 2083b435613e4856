//===- Parser.cpp - model file -> AST -------------------------------------===//
//
//   file      := (statement? NEWLINE)*
//   statement := 'model' NAME | 'output' expr (',' expr)* | NAME '=' expr | expr
//   expr      := term (('+' | '-') term)*
//   term      := unary (('*' | '/' | '@') unary)*
//   unary     := '-' unary | postfix
//   postfix   := primary ('(' args ')')*
//   primary   := NUMBER | STRING | NAME ('.' NAME)* | '(' expr ')' | tuple | list
//   args      := (arg (',' arg)* ','?)?      arg := NAME '=' expr | expr
//
// Newlines inside brackets are ignored, as in Python.
//===----------------------------------------------------------------------===//

#include "frontend/Parser.h"

using namespace kiln;

namespace {

/// Deeper expressions are rejected: they are never needed by a model and
/// would otherwise let a hostile file exhaust the stack.
constexpr unsigned kMaxDepth = 200;

class Parser {
public:
  explicit Parser(Diagnostics &diags)
      : diags(diags),
        lexer(diags.sourceMgr().getMemoryBuffer(diags.sourceMgr().getMainFileID())->getBuffer(),
              diags) {
    advance();
  }

  ModuleAST parse() {
    ModuleAST module;
    while (!tok.is(TokenKind::Eof) && !diags.tooMany()) {
      if (tok.is(TokenKind::Newline)) {
        advance();
        continue;
      }
      std::optional<Stmt> stmt = parseStatement();
      if (stmt && expectEndOfStatement())
        module.statements.push_back(std::move(*stmt));
      else
        recover();
    }
    return module;
  }

private:
  void advance() {
    if (peeked) {
      tok = std::move(lookahead);
      peeked = false;
    } else {
      tok = lexer.next();
    }
    // Inside brackets a newline is just white space.
    while (nesting > 0 && tok.is(TokenKind::Newline))
      tok = lexer.next();
  }

  /// The token after `tok` (used only at the start of a statement).
  const Token &peek() {
    if (!peeked) {
      lookahead = lexer.next();
      peeked = true;
    }
    return lookahead;
  }

  bool consumeIf(TokenKind kind) {
    if (!tok.is(kind))
      return false;
    advance();
    return true;
  }

  bool expect(TokenKind kind, llvm::StringRef context) {
    if (consumeIf(kind))
      return true;
    error("expected " + describe(kind) + " " + context + ", found " + found());
    return false;
  }

  std::string found() const {
    if (tok.is(TokenKind::Eof) || tok.is(TokenKind::Newline))
      return describe(tok.kind).str();
    return "'" + tok.text.str() + "'";
  }

  void error(const llvm::Twine &message) { diags.error(tok.loc(), message); }

  bool expectEndOfStatement() {
    if (tok.is(TokenKind::Newline) || tok.is(TokenKind::Eof))
      return true;
    error("expected end of line after the statement, found " + found());
    return false;
  }

  /// Skips to the start of the next line, forgetting open brackets.
  void recover() {
    nesting = 0;
    while (!tok.is(TokenKind::Newline) && !tok.is(TokenKind::Eof))
      advance();
  }

  std::optional<Stmt> parseStatement() {
    Stmt stmt;
    stmt.loc = tok.loc();
    // `model` and `output` are keywords only when a name follows, so
    // `model.compile(...)` and `output = ...` read as they do in Keras code.
    if (tok.is(TokenKind::Identifier) && (tok.text == "import" || tok.text == "from") &&
        peek().is(TokenKind::Identifier)) {
      error("Kiln model files need no imports: Keras names such as Dense or "
            "keras.layers.Dense are built in; remove this line");
      return std::nullopt;
    }
    if (tok.is(TokenKind::Identifier) && tok.text == "model" && peek().is(TokenKind::Identifier)) {
      advance();
      stmt.kind = Stmt::Kind::Model;
      stmt.target = tok.text.str();
      stmt.targetLoc = tok.loc();
      advance();
      return stmt;
    }
    if (tok.is(TokenKind::Identifier) && tok.text == "output" &&
        peek().is(TokenKind::Identifier)) {
      advance();
      stmt.kind = Stmt::Kind::Output;
      do {
        ExprPtr e = parseExpr(0);
        if (!e)
          return std::nullopt;
        stmt.outputs.push_back(std::move(e));
      } while (consumeIf(TokenKind::Comma));
      return stmt;
    }
    ExprPtr e = parseExpr(0);
    if (!e)
      return std::nullopt;
    if (tok.is(TokenKind::Equals)) {
      if (e->kind != Expr::Kind::Name || e->text.find('.') != std::string::npos) {
        diags.error(e->loc, "only a plain name can be assigned to");
        return std::nullopt;
      }
      advance();
      stmt.kind = Stmt::Kind::Assign;
      stmt.target = e->text;
      stmt.targetLoc = e->loc;
      stmt.value = parseExpr(0);
      if (!stmt.value)
        return std::nullopt;
      return stmt;
    }
    stmt.kind = Stmt::Kind::Expr;
    stmt.value = std::move(e);
    return stmt;
  }

  ExprPtr checkDepth(ExprPtr e) {
    for (const ExprPtr &c : e->elements)
      e->depth = std::max(e->depth, c->depth + 1);
    if (e->callee)
      e->depth = std::max(e->depth, e->callee->depth + 1);
    for (const Arg &a : e->args)
      e->depth = std::max(e->depth, a.value->depth + 1);
    if (e->depth > kMaxDepth) {
      diags.error(e->loc, "expression is nested too deeply (more than " + llvm::Twine(kMaxDepth) +
                              " levels)");
      return nullptr;
    }
    return e;
  }

  // Binary operators, lowest precedence first.
  static int precedence(TokenKind k) {
    switch (k) {
    case TokenKind::Plus: case TokenKind::Minus: return 1;
    case TokenKind::Star: case TokenKind::Slash: case TokenKind::At: return 2;
    default: return 0;
    }
  }

  ExprPtr parseExpr(unsigned level) {
    if (level > kMaxDepth) {
      error("expression is nested too deeply");
      return nullptr;
    }
    return parseBinary(1, level);
  }

  ExprPtr parseBinary(int minPrec, unsigned level) {
    ExprPtr lhs = minPrec == 1 ? parseBinary(2, level) : parseUnary(level);
    while (lhs && precedence(tok.kind) == minPrec) {
      auto e = std::make_unique<Expr>(Expr::Kind::Binary, tok.loc());
      e->text = tok.text.str();
      advance();
      ExprPtr rhs = minPrec == 1 ? parseBinary(2, level) : parseUnary(level);
      if (!rhs)
        return nullptr;
      e->elements.push_back(std::move(lhs));
      e->elements.push_back(std::move(rhs));
      lhs = checkDepth(std::move(e));
    }
    return lhs;
  }

  ExprPtr parseUnary(unsigned level) {
    if (tok.is(TokenKind::Minus)) {
      auto e = std::make_unique<Expr>(Expr::Kind::Negate, tok.loc());
      advance();
      if (level > kMaxDepth) {
        error("expression is nested too deeply");
        return nullptr;
      }
      ExprPtr operand = parseUnary(level + 1);
      if (!operand)
        return nullptr;
      e->elements.push_back(std::move(operand));
      return checkDepth(std::move(e));
    }
    ExprPtr e = parsePrimary(level);
    while (e && tok.is(TokenKind::LParen)) {
      auto call = std::make_unique<Expr>(Expr::Kind::Call, e->loc);
      call->callee = std::move(e);
      if (!parseArgs(*call, level))
        return nullptr;
      e = checkDepth(std::move(call));
    }
    return e;
  }

  bool parseArgs(Expr &call, unsigned level) {
    llvm::SMLoc open = tok.loc();
    ++nesting;
    advance(); // '('
    while (!tok.is(TokenKind::RParen)) {
      Arg arg;
      ExprPtr e = parseExpr(level + 1);
      if (!e)
        return closeAfterError(open, "(");
      if (tok.is(TokenKind::Equals)) {
        if (e->kind != Expr::Kind::Name || e->text.find('.') != std::string::npos) {
          diags.error(e->loc, "a keyword argument needs a plain name before '='");
          return failWithoutNote();
        }
        arg.keyword = e->text;
        arg.keywordLoc = e->loc;
        advance();
        e = parseExpr(level + 1);
        if (!e)
          return closeAfterError(open, "(");
      } else {
        for (const Arg &prev : call.args)
          if (!prev.keyword.empty()) {
            diags.error(e->loc, "positional argument follows keyword argument '" +
                                    prev.keyword + "'");
            return failWithoutNote();
          }
      }
      arg.value = std::move(e);
      call.args.push_back(std::move(arg));
      if (!consumeIf(TokenKind::Comma) && !tok.is(TokenKind::RParen)) {
        error("expected ',' or ')' in the argument list, found " + found());
        return closeAfterError(open, "(");
      }
    }
    --nesting;
    advance(); // ')'
    return true;
  }

  /// For errors that are not about brackets: no "to match" note at any level.
  bool failWithoutNote() {
    notedError = diags.errorCount();
    return false;
  }

  /// Points at the innermost open bracket, once per error.
  bool closeAfterError(llvm::SMLoc open, llvm::StringRef bracket) {
    if (notedError != diags.errorCount()) {
      notedError = diags.errorCount();
      diags.note(open, "to match this '" + bracket + "'");
    }
    return false;
  }

  ExprPtr parsePrimary(unsigned level) {
    llvm::SMLoc loc = tok.loc();
    switch (tok.kind) {
    case TokenKind::Integer: {
      auto e = std::make_unique<Expr>(Expr::Kind::Integer, loc);
      e->intValue = tok.intValue;
      e->floatValue = tok.floatValue;
      e->text = tok.text.str();
      advance();
      return e;
    }
    case TokenKind::Float: {
      auto e = std::make_unique<Expr>(Expr::Kind::Float, loc);
      e->floatValue = tok.floatValue;
      e->text = tok.text.str();
      advance();
      return e;
    }
    case TokenKind::String: {
      auto e = std::make_unique<Expr>(Expr::Kind::String, loc);
      e->text = tok.stringValue;
      advance();
      return e;
    }
    case TokenKind::Identifier: {
      auto e = std::make_unique<Expr>(Expr::Kind::Name, loc);
      e->text = tok.text.str();
      advance();
      while (tok.is(TokenKind::Dot)) {
        advance();
        if (!tok.is(TokenKind::Identifier)) {
          error("expected a name after '.', found " + found());
          return nullptr;
        }
        e->text += "." + tok.text.str();
        advance();
      }
      return e;
    }
    case TokenKind::LParen:
    case TokenKind::LBracket: {
      bool isList = tok.is(TokenKind::LBracket);
      TokenKind close = isList ? TokenKind::RBracket : TokenKind::RParen;
      ++nesting;
      advance();
      auto e = std::make_unique<Expr>(isList ? Expr::Kind::List : Expr::Kind::Tuple, loc);
      bool sawComma = false;
      while (!tok.is(close)) {
        ExprPtr item = parseExpr(level + 1);
        if (!item)
          return closeAfterError(loc, isList ? "[" : "("), nullptr;
        e->elements.push_back(std::move(item));
        if (consumeIf(TokenKind::Comma)) {
          sawComma = true;
          continue;
        }
        if (!tok.is(close)) {
          error("expected ',' or " + describe(close) + ", found " + found());
          return closeAfterError(loc, isList ? "[" : "("), nullptr;
        }
      }
      --nesting;
      advance();
      // (x) is grouping; (x,) and () are tuples.
      if (!isList && e->elements.size() == 1 && !sawComma)
        return std::move(e->elements.front());
      return checkDepth(std::move(e));
    }
    case TokenKind::Newline:
    case TokenKind::Eof:
      error("expected an expression, found " + found());
      return nullptr;
    default:
      error("expected an expression, found " + found());
      return nullptr;
    }
  }

  Diagnostics &diags;
  Lexer lexer;
  Token tok;
  Token lookahead;
  bool peeked = false;
  unsigned nesting = 0;
  unsigned notedError = ~0u;
};

} // namespace

ModuleAST kiln::parseModule(Diagnostics &diags) { return Parser(diags).parse(); }
