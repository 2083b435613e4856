//===- AST.cpp - printing the syntax tree (kilnc --emit=ast) --------------===//
#include "frontend/AST.h"

using namespace kiln;

namespace {
class Printer {
public:
  Printer(const llvm::SourceMgr &sources, llvm::raw_ostream &os) : sources(sources), os(os) {}

  void print(const ModuleAST &module) {
    for (const Stmt &s : module.statements) {
      switch (s.kind) {
      case Stmt::Kind::Model:
        line(0, s.loc) << "model " << s.target << "\n";
        break;
      case Stmt::Kind::Output:
        line(0, s.loc) << "output\n";
        for (const ExprPtr &e : s.outputs)
          print(*e, 1);
        break;
      case Stmt::Kind::Assign:
        line(0, s.loc) << "assign " << s.target << "\n";
        print(*s.value, 1);
        break;
      case Stmt::Kind::Expr:
        line(0, s.loc) << "statement\n";
        print(*s.value, 1);
        break;
      }
    }
  }

private:
  llvm::raw_ostream &line(unsigned indent, llvm::SMLoc loc) {
    auto [l, c] = sources.getLineAndColumn(loc);
    os.indent(indent * 2);
    return os << l << ":" << c << " ";
  }

  void print(const Expr &e, unsigned indent, llvm::StringRef keyword = "") {
    llvm::raw_ostream &o = line(indent, e.loc);
    if (!keyword.empty())
      o << keyword << "= ";
    switch (e.kind) {
    case Expr::Kind::Integer: o << "int " << e.intValue << "\n"; return;
    case Expr::Kind::Float: o << "float " << e.text << "\n"; return;
    case Expr::Kind::String: o << "string \""; o.write_escaped(e.text); o << "\"\n"; return;
    case Expr::Kind::Name: o << "name " << e.text << "\n"; return;
    case Expr::Kind::Tuple: o << "tuple\n"; break;
    case Expr::Kind::List: o << "list\n"; break;
    case Expr::Kind::Binary: o << "binary " << e.text << "\n"; break;
    case Expr::Kind::Negate: o << "negate\n"; break;
    case Expr::Kind::Call:
      o << "call\n";
      print(*e.callee, indent + 1, "callee");
      for (const Arg &a : e.args)
        print(*a.value, indent + 1, a.keyword);
      return;
    }
    for (const ExprPtr &c : e.elements)
      print(*c, indent + 1);
  }

  const llvm::SourceMgr &sources;
  llvm::raw_ostream &os;
};
} // namespace

void kiln::printAST(const ModuleAST &module, const llvm::SourceMgr &sources,
                    llvm::raw_ostream &os) {
  Printer(sources, os).print(module);
}
