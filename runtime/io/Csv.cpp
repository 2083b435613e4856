//===- Csv.cpp - Numeric CSV tables ---------------------------------------===//
#include "runtime/io/Csv.h"

#include "runtime/io/ByteIO.h"

#include <cfloat>
#include <charconv>
#include <cmath>
#include <string_view>

namespace kiln::io {
namespace {

struct Field {
  std::string_view text; // inside the quotes for a quoted field, trimmed otherwise
  bool quoted = false;
};

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/// Splits one line (without its line break) into fields. Fails on an
/// unterminated quote or text after a closing quote.
bool splitLine(std::string_view line, char sep, std::vector<Field> &fields, std::string &problem) {
  fields.clear();
  size_t pos = 0, n = line.size();
  auto skipBlanks = [&] {
    while (pos < n && line[pos] != sep && isBlank(line[pos]))
      ++pos;
  };
  for (;;) {
    skipBlanks();
    Field field;
    if (pos < n && line[pos] == '"') {
      size_t i = pos + 1;
      for (; i < n; ++i) {
        if (line[i] == '"') {
          if (i + 1 < n && line[i + 1] == '"')
            ++i;
          else
            break;
        }
      }
      if (i >= n) {
        problem = "field " + std::to_string(fields.size() + 1) +
                  ": unterminated quote (quoted line breaks are not supported)";
        return false;
      }
      field.text = line.substr(pos + 1, i - pos - 1);
      field.quoted = true;
      pos = i + 1;
      skipBlanks();
      if (pos < n && line[pos] != sep) {
        problem = "field " + std::to_string(fields.size() + 1) +
                  ": unexpected text after the closing quote";
        return false;
      }
    } else {
      size_t end = line.find(sep, pos);
      if (end == std::string_view::npos)
        end = n;
      size_t last = end;
      while (last > pos && isBlank(line[last - 1]))
        --last;
      field.text = line.substr(pos, last - pos);
      pos = end;
    }
    fields.push_back(field);
    if (pos >= n)
      return true;
    ++pos; // the separator
  }
}

enum class NumberStatus { Ok, Empty, NotANumber, NotFinite, OutOfRange };

NumberStatus parseNumber(std::string_view text, double &value) {
  // Quoted numbers ("1.5") are accepted; the quotes are already gone.
  while (!text.empty() && isBlank(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && isBlank(text.back()))
    text.remove_suffix(1);
  if (text.empty())
    return NumberStatus::Empty;
  if (text.front() == '+') {
    text.remove_prefix(1);
    if (text.empty() || text.front() == '-' || text.front() == '+')
      return NumberStatus::NotANumber;
  }
  const char *begin = text.data(), *end = text.data() + text.size();
  auto result = std::from_chars(begin, end, value, std::chars_format::general);
  if (result.ptr != end || result.ec == std::errc::invalid_argument)
    return NumberStatus::NotANumber;
  if (result.ec == std::errc::result_out_of_range)
    return NumberStatus::OutOfRange;
  if (!std::isfinite(value))
    return NumberStatus::NotFinite;
  if (std::fabs(value) > double(FLT_MAX))
    return NumberStatus::OutOfRange;
  return NumberStatus::Ok;
}

std::string shown(std::string_view text) {
  return detail::quoteBytes(text.data(), text.size(), 40);
}

std::string unquote(const Field &field) {
  if (!field.quoted)
    return std::string(field.text);
  std::string out;
  for (size_t i = 0; i < field.text.size(); ++i) {
    out.push_back(field.text[i]);
    if (field.text[i] == '"' && i + 1 < field.text.size() && field.text[i + 1] == '"')
      ++i;
  }
  return out;
}

/// The next line of `text` from `pos` (without "\n" or "\r\n"); false at the end.
bool nextLine(std::string_view text, size_t &pos, std::string_view &line) {
  if (pos >= text.size())
    return false;
  size_t end = text.find('\n', pos);
  if (end == std::string_view::npos)
    end = text.size();
  line = text.substr(pos, end - pos);
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  pos = end + 1;
  return true;
}

bool blankLine(std::string_view line) {
  for (char c : line)
    if (!isBlank(c))
      return false;
  return true;
}

Expected<CsvTable> parse(std::string_view text, const std::string &name,
                         const CsvOptions &options) {
  auto fail = [&](const std::string &problem) { return Error(name + ": " + problem); };
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF")
    text.remove_prefix(3);
  if (text.size() >= 2 && uint8_t(text[0]) == 0x1f && uint8_t(text[1]) == 0x8b)
    return fail("gzip-compressed; decompress it first (gunzip)");
  if (text.find('\0') != std::string_view::npos)
    return fail("binary data (a NUL byte at offset " + std::to_string(text.find('\0')) +
                "), not a CSV text file");

  size_t pos = 0;
  std::string_view line;
  size_t lineNumber = 0;
  // The first non-blank line decides the separator and the column count.
  bool found = false;
  while (nextLine(text, pos, line)) {
    ++lineNumber;
    if (!blankLine(line)) {
      found = true;
      break;
    }
  }
  if (!found)
    return fail("empty file: no rows");

  CsvTable table;
  char sep = ',';
  if (line.find(',') == std::string_view::npos) {
    if (line.find('\t') != std::string_view::npos)
      sep = '\t';
    else if (line.find(';') != std::string_view::npos)
      sep = ';';
  }
  table.separator = sep;
  std::vector<Field> fields;
  std::string problem;
  if (!splitLine(line, sep, fields, problem))
    return fail("line " + std::to_string(lineNumber) + ": " + problem);
  const size_t columns = fields.size();
  const size_t firstLine = lineNumber;
  if (columns < 2)
    return fail("line " + std::to_string(lineNumber) + " has " + std::to_string(columns) +
                " column; a training table needs at least one feature column and a label "
                "column, separated by ',' (or ';' or tabs)");

  bool header = false;
  if (options.header) {
    double ignored;
    for (const Field &f : fields)
      if (parseNumber(f.text, ignored) != NumberStatus::Ok) {
        header = true;
        break;
      }
  }
  if (header)
    for (const Field &f : fields)
      table.columns.push_back(unquote(f));

  // The label column.
  size_t labelIndex = columns - 1;
  if (!options.labelColumn.empty()) {
    bool byName = false;
    for (size_t i = 0; i < table.columns.size(); ++i)
      if (table.columns[i] == options.labelColumn) {
        labelIndex = i;
        byName = true;
        break;
      }
    if (!byName) {
      int64_t index = 0;
      const std::string &s = options.labelColumn;
      auto result = std::from_chars(s.data(), s.data() + s.size(), index);
      if (result.ptr != s.data() + s.size() || result.ec != std::errc()) {
        if (!header)
          return fail("label column '" + s +
                      "' is not a 0-based column index, and the file "
                      "has no header row to look the name up in");
        std::string names;
        for (size_t i = 0; i < table.columns.size() && i < 12; ++i)
          names += (i ? ", '" : "'") + shown(table.columns[i]) + "'";
        if (table.columns.size() > 12)
          names += ", ...";
        return fail("no column named '" + s + "' in the header (line " + std::to_string(firstLine) +
                    "): " + names);
      }
      if (index < -int64_t(columns) || index >= int64_t(columns))
        return fail("label column index " + s + " is out of range: the table has " +
                    std::to_string(columns) + " columns (0-based indices 0 to " +
                    std::to_string(columns - 1) + ", or -1 for the last)");
      labelIndex = size_t(index < 0 ? index + int64_t(columns) : index);
    }
  }
  table.labelIndex = labelIndex;

  std::vector<float> features;
  std::vector<double> labels;
  int64_t samples = 0;
  bool firstIsData = !header;
  auto column = [&](size_t i) {
    std::string out = "column index " + std::to_string(i);
    if (header)
      out += " ('" + shown(table.columns[i]) + "')";
    return out;
  };
  for (;;) {
    if (firstIsData) {
      firstIsData = false; // `fields` holds the first line already
    } else {
      if (!nextLine(text, pos, line))
        break;
      ++lineNumber;
      if (blankLine(line))
        continue;
      if (!splitLine(line, sep, fields, problem))
        return fail("line " + std::to_string(lineNumber) + ": " + problem);
    }
    std::string where = "line " + std::to_string(lineNumber);
    if (fields.size() != columns)
      return fail(where + ": " + std::to_string(fields.size()) + " fields, expected " +
                  std::to_string(columns) + " (as on line " + std::to_string(firstLine) + ")");
    for (size_t i = 0; i < columns; ++i) {
      double value = 0;
      NumberStatus status = parseNumber(fields[i].text, value);
      if (status != NumberStatus::Ok) {
        std::string at = where + " (sample " + std::to_string(samples) + "), " + column(i) + ": ";
        switch (status) {
        case NumberStatus::Empty:
          return fail(at + "empty field");
        case NumberStatus::NotFinite:
          return fail(at + "'" + shown(fields[i].text) + "' is not a finite number");
        case NumberStatus::OutOfRange:
          return fail(at + "'" + shown(fields[i].text) + "' is out of the range of f32");
        default:
          return fail(at + "'" + shown(fields[i].text) + "' is not a number");
        }
      }
      if (i == labelIndex)
        labels.push_back(value);
      else
        features.push_back(float(value));
    }
    ++samples;
  }
  if (samples == 0)
    return fail("no data rows" + std::string(header ? " (only a header)" : ""));

  const int64_t featureCount = int64_t(columns - 1);
  Expected<Array> x = Array::fromValues<float>({samples, featureCount}, features);
  if (!x)
    return fail(x.message());
  bool classIds = true;
  for (double v : labels)
    if (!(v >= 0 && v <= 2147483647.0 && v == std::floor(v))) {
      classIds = false;
      break;
    }
  Expected<Array> y = Array::uninitialized(classIds ? DType::I32 : DType::F32,
                                           classIds ? std::vector<int64_t>{samples}
                                                    : std::vector<int64_t>{samples, 1});
  if (!y)
    return fail(y.message());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (classIds)
      y->data<int32_t>()[i] = int32_t(labels[i]);
    else
      y->data<float>()[i] = float(labels[i]);
  }
  table.features = std::move(x).value();
  table.labels = std::move(y).value();
  return table;
}

} // namespace

Expected<CsvTable> parseCsv(const void *data, size_t size, const std::string &name,
                            const CsvOptions &options) {
  return parse(std::string_view(static_cast<const char *>(data), size), name, options);
}

Expected<CsvTable> readCsv(const std::string &path, const CsvOptions &options) {
  Expected<std::unique_ptr<detail::FileSource>> file = detail::FileSource::open(path);
  if (!file)
    return file.status();
  std::string text;
  text.resize(size_t((*file)->size()));
  if (Status s = (*file)->readAt(0, text.data(), text.size()); !s)
    return s;
  return parse(text, path, options);
}

} // namespace kiln::io
