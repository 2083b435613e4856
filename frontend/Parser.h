//===- Parser.h - model file -> AST ---------------------------------------===//
#ifndef KILN_FRONTEND_PARSER_H
#define KILN_FRONTEND_PARSER_H

#include "frontend/AST.h"
#include "frontend/Diagnostics.h"
#include "frontend/Lexer.h"

namespace kiln {

/// Parses the main buffer of `diags.sourceMgr()`. Syntax errors are reported
/// and the parser resumes at the next line, so one run reports every
/// independent error; check `diags.errorCount()` afterwards.
ModuleAST parseModule(Diagnostics &diags);

} // namespace kiln

#endif
