//===- Csv.h - Numeric CSV tables -------------------------------*- C++ -*-===//
//
// A table of numbers, one sample per line: feature columns and one label
// column. Fields are separated by ',' (or ';' or a tab, when the first line
// has no ','), may be quoted ("..." with "" for a quote) and padded with
// spaces; lines end in \n or \r\n; blank lines are skipped; a UTF-8 byte
// order mark is ignored. Numbers are read locale-independently (123, -1.5,
// 1e-3, +2); NaN and infinities are rejected. See docs/file-formats.md.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "runtime/io/Array.h"
#include "runtime/io/Status.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::io {

struct CsvOptions {
  /// The label column: a header name, or a 0-based index (negative counts
  /// from the end: -1 is the last column). Empty: the last column. A name
  /// is looked up first, so a header "0,1,label" with "1" means column 1.
  std::string labelColumn;
  /// true: the first line is a header unless every field of it is a number
  /// (then it is data); false: the first line is data.
  bool header = true;
};

struct CsvTable {
  Array features; ///< F32 [N, F]: every column but the label column, in order
  /// I32 [N] when every label is a whole number in [0, 2^31 - 1] (class
  /// ids), F32 [N, 1] otherwise (regression targets).
  Array labels;
  std::vector<std::string> columns; ///< header names; empty without a header
  size_t labelIndex = 0;            ///< 0-based column of the labels
  char separator = ',';
};

/// Reads the CSV file at `path`.
Expected<CsvTable> readCsv(const std::string &path, const CsvOptions &options = {});
/// The same for text held in memory; `name` prefixes error messages.
Expected<CsvTable> parseCsv(const void *data, size_t size, const std::string &name = "<memory>",
                            const CsvOptions &options = {});

} // namespace kiln::io
