//===- CsvTest.cpp - Numeric CSV tables -----------------------------------===//
#include "runtime/io/Csv.h"
#include "DatasetTestUtil.h"

using namespace kiln::io;
using namespace kiln_io_test;

namespace {

Expected<CsvTable> parse(const std::string &text, CsvOptions options = {}) {
  return parseCsv(text.data(), text.size(), "t.csv", options);
}

std::vector<float> features(const CsvTable &t) {
  const float *p = t.features.data<float>();
  return std::vector<float>(p, p + t.features.numElements());
}

} // namespace

TEST(Csv, HeaderAndDefaultLabelColumn) {
  Expected<CsvTable> t = parse("a,b,label\n1,2,0\n3.5,-4e-1,2\n");
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->columns, (std::vector<std::string>{"a", "b", "label"}));
  EXPECT_EQ(t->labelIndex, 2u);
  EXPECT_EQ(t->features.shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(features(*t), (std::vector<float>{1, 2, 3.5f, -0.4f}));
  ASSERT_EQ(t->labels.dtype(), DType::I32);
  EXPECT_EQ(t->labels.shape(), (std::vector<int64_t>{2}));
  EXPECT_EQ(t->labels.data<int32_t>()[1], 2);
}

TEST(Csv, LabelColumnByNameIndexAndNegativeIndex) {
  std::string text = "label,x1,x2\n1,10,20\n0,30,40\n";
  for (const char *column : {"label", "0", "-3"}) {
    CsvOptions o;
    o.labelColumn = column;
    Expected<CsvTable> t = parse(text, o);
    ASSERT_TRUE(t.ok()) << t.message();
    EXPECT_EQ(t->labelIndex, 0u);
    EXPECT_EQ(features(*t), (std::vector<float>{10, 20, 30, 40}));
    EXPECT_EQ(t->labels.data<int32_t>()[0], 1);
  }
  CsvOptions o;
  o.labelColumn = "x2";
  EXPECT_EQ(parse(text, o)->labelIndex, 2u);
  o.labelColumn = "y";
  EXPECT_EQ(parse(text, o).message(),
            "t.csv: no column named 'y' in the header (line 1): 'label', 'x1', 'x2'");
  o.labelColumn = "3";
  EXPECT_TRUE(contains(parse(text, o).message(),
                       "t.csv: label column index 3 is out of range: the table has 3 columns"));
  o.labelColumn = "y";
  EXPECT_TRUE(contains(parse("1,2\n3,4\n", o).message(), "no header row"));
}

TEST(Csv, HeaderDetection) {
  // All-numeric first line: data, even with header = true.
  Expected<CsvTable> t = parse("1,2,1\n3,4,0\n");
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_TRUE(t->columns.empty());
  EXPECT_EQ(t->features.shape()[0], 2);
  // header = false: a non-numeric first line is an error on line 1.
  CsvOptions o;
  o.header = false;
  EXPECT_EQ(parse("a,b\n1,2\n", o).message(),
            "t.csv: line 1 (sample 0), column index 0: 'a' is not a number");
  EXPECT_EQ(parse("1,2\n3,4\n", o)->features.shape()[0], 2);
}

TEST(Csv, RegressionTargets) {
  Expected<CsvTable> t = parse("x,y\n1,0.5\n2,-3\n");
  ASSERT_TRUE(t.ok()) << t.message();
  ASSERT_EQ(t->labels.dtype(), DType::F32);
  EXPECT_EQ(t->labels.shape(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(t->labels.data<float>()[1], -3.0f);
  // Negative whole numbers are targets too (class ids start at 0).
  EXPECT_EQ(parse("1,-1\n2,3\n")->labels.dtype(), DType::F32);
}

TEST(Csv, SyntaxVariants) {
  // BOM, CRLF, quotes, spaces, blank lines, '+', no final newline.
  std::string text = "\xEF\xBB\xBF\"a\" , \"b \"\"q\"\"\",c\r\n\r\n 1 , \"2\" ,+3\r\n\n4,5e0,6";
  Expected<CsvTable> t = parse(text);
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->columns, (std::vector<std::string>{"a", "b \"q\"", "c"}));
  EXPECT_EQ(features(*t), (std::vector<float>{1, 2, 4, 5}));
  EXPECT_EQ(t->labels.data<int32_t>()[0], 3);
  for (const char *alt : {"a;b\n1;2\n", "a\tb\n1\t2\n"}) {
    Expected<CsvTable> s = parse(alt);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(features(*s), (std::vector<float>{1}));
  }
}

TEST(Csv, Errors) {
  EXPECT_EQ(parse("a,b,c\n1,2,3\n4,5\n").message(),
            "t.csv: line 3: 2 fields, expected 3 (as on line 1)");
  EXPECT_EQ(parse("a,b,c\n1,2,3\n4,abc,6\n").message(),
            "t.csv: line 3 (sample 1), column index 1 ('b'): 'abc' is not a number");
  EXPECT_EQ(parse("a,b\n1,2\n\n3,\n").message(),
            "t.csv: line 4 (sample 1), column index 1 ('b'): empty field");
  EXPECT_EQ(parse("a,b\n1,nan\n").message(),
            "t.csv: line 2 (sample 0), column index 1 ('b'): 'nan' is not a finite number");
  EXPECT_EQ(parse("a,b\n-inf,1\n").message(),
            "t.csv: line 2 (sample 0), column index 0 ('a'): '-inf' is not a finite number");
  EXPECT_TRUE(contains(parse("a,b\n1e39,1\n").message(), "'1e39' is out of the range of f32"));
  EXPECT_TRUE(contains(parse("a,b\n0x10,1\n").message(), "'0x10' is not a number"));
  EXPECT_TRUE(
      contains(parse("a,b\n1,\"2\n").message(), "t.csv: line 2: field 2: unterminated quote"));
  EXPECT_TRUE(
      contains(parse("a,b\n\"1\"x,2\n").message(), "unexpected text after the closing quote"));
  EXPECT_EQ(parse("").message(), "t.csv: empty file: no rows");
  EXPECT_EQ(parse("\n  \n").message(), "t.csv: empty file: no rows");
  EXPECT_EQ(parse("a,b\n").message(), "t.csv: no data rows (only a header)");
  EXPECT_TRUE(contains(parse("a\n1\n").message(), "t.csv: line 1 has 1 column"));
  EXPECT_TRUE(contains(parse(std::string("a,b\n1,2\0", 8)).message(), "NUL byte"));
  Bytes gz = gzipBytes(Bytes{'a', ',', 'b'});
  EXPECT_TRUE(
      contains(parseCsv(gz.data(), gz.size(), "t.csv").message(), "t.csv: gzip-compressed"));
}

TEST(Csv, ReadsAFile) {
  TempDir dir;
  ASSERT_TRUE(writeText(dir.file("d.csv"), "f,l\n0.25,1\n"));
  Expected<CsvTable> t = readCsv(dir.file("d.csv"));
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(features(*t), (std::vector<float>{0.25f}));
  EXPECT_TRUE(contains(readCsv(dir.file("none.csv")).message(), "none.csv: cannot open"));
}
