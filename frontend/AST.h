//===- AST.h - syntax tree of a Kiln model file ---------------------------===//
//
// The language is a small, Python-shaped subset in which Keras programs read
// almost unchanged: statements are calls (`Conv2D(32, (3, 3))`), assignments
// (`x = Dense(10)(h)`) and two keywords (`model`, `output`). The tree keeps
// only syntax; names, layers and shapes are resolved by ImportGraph.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_AST_H
#define KILN_FRONTEND_AST_H

#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kiln {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

/// One argument of a call: positional (`keyword` empty) or `keyword=value`.
struct Arg {
  std::string keyword;
  llvm::SMLoc keywordLoc;
  ExprPtr value;
};

struct Expr {
  enum class Kind {
    Integer,  // 32
    Float,    // 1e-3
    String,   // "relu"
    Name,     // x, True, None, keras.layers.Dense (dotted names keep their dots)
    Tuple,    // (3, 3)
    List,     // [a, b]
    Call,     // callee(args)
    Binary,   // lhs op rhs, op one of + - * / @
    Negate,   // -operand
  };
  Kind kind;
  llvm::SMLoc loc;
  int64_t intValue = 0;
  double floatValue = 0;
  std::string text;               // String value, Name spelling, Binary operator
  std::vector<ExprPtr> elements;  // Tuple / List items; Binary: lhs, rhs; Negate: operand
  ExprPtr callee;                 // Call
  std::vector<Arg> args;          // Call
  unsigned depth = 1;             // height of this subtree (bounded by the parser)

  Expr(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  bool isName(const char *name) const { return kind == Kind::Name && text == name; }
};

struct Stmt {
  enum class Kind {
    Expr,   // Conv2D(32, 3)           -- applies to the previous value
    Assign, // x = Dense(10)(h)
    Model,  // model mnist_cnn
    Output, // output logits, probs
  };
  Kind kind;
  llvm::SMLoc loc;
  std::string target;   // Assign: the name; Model: the model name
  llvm::SMLoc targetLoc;
  ExprPtr value;        // Expr / Assign
  std::vector<ExprPtr> outputs; // Output: names
};

struct ModuleAST {
  std::vector<Stmt> statements;
};

/// Prints the tree for `kilnc --emit=ast`, with line:col of every node.
void printAST(const ModuleAST &module, const llvm::SourceMgr &sources, llvm::raw_ostream &os);

} // namespace kiln

#endif
