//===- LexerTest.cpp ------------------------------------------------------===//
#include "frontend/Lexer.h"
#include "TestUtil.h"
#include <gtest/gtest.h>
#include <vector>

using namespace kiln;

static std::vector<Token> lexAll(test::Source &src) {
  auto buffer = src.sources.getMemoryBuffer(src.sources.getMainFileID())->getBuffer();
  Lexer lexer(buffer, src.diags);
  std::vector<Token> tokens;
  do
    tokens.push_back(lexer.next());
  while (!tokens.back().is(TokenKind::Eof));
  return tokens;
}

TEST(Lexer, TokensOfALayerStatement) {
  test::Source src("Conv2D(32, (3, 3), activation=\"relu\")  # comment\n");
  std::vector<TokenKind> kinds;
  for (const Token &t : lexAll(src))
    kinds.push_back(t.kind);
  using K = TokenKind;
  std::vector<TokenKind> expected = {K::Identifier, K::LParen, K::Integer, K::Comma,
                                     K::LParen,     K::Integer, K::Comma,  K::Integer,
                                     K::RParen,     K::Comma,   K::Identifier, K::Equals,
                                     K::String,     K::RParen,  K::Newline, K::Eof};
  EXPECT_EQ(kinds, expected);
  EXPECT_EQ(src.diags.errorCount(), 0u);
}

TEST(Lexer, Numbers) {
  test::Source src("7 1e-7 0.5 .25 1_000 2.5E3");
  auto t = lexAll(src);
  EXPECT_EQ(t[0].kind, TokenKind::Integer);
  EXPECT_EQ(t[0].intValue, 7);
  EXPECT_EQ(t[1].kind, TokenKind::Float);
  EXPECT_DOUBLE_EQ(t[1].floatValue, 1e-7);
  EXPECT_DOUBLE_EQ(t[2].floatValue, 0.5);
  EXPECT_DOUBLE_EQ(t[3].floatValue, 0.25);
  EXPECT_EQ(t[4].intValue, 1000);
  EXPECT_DOUBLE_EQ(t[5].floatValue, 2500.0);
  EXPECT_EQ(src.diags.errorCount(), 0u);
}

TEST(Lexer, StringEscapes) {
  test::Source src(R"('it\'s' "a\"b\\c\n")");
  auto t = lexAll(src);
  EXPECT_EQ(t[0].stringValue, "it's");
  EXPECT_EQ(t[1].stringValue, "a\"b\\c\n");
}

TEST(Lexer, ErrorsAreReportedAndLexingContinues) {
  test::Source src("a $ b\n\"open\nc 99999999999999999999 3x\n");
  auto t = lexAll(src);
  EXPECT_EQ(src.diags.errorCount(), 4u) << src.messages;
  EXPECT_NE(src.messages.find("test.kiln:1:3: error: unexpected character '$'"), std::string::npos)
      << src.messages;
  EXPECT_NE(src.messages.find("string is not closed"), std::string::npos);
  EXPECT_NE(src.messages.find("is too large"), std::string::npos);
  EXPECT_NE(src.messages.find("invalid number '3x'"), std::string::npos);
  EXPECT_EQ(t.back().kind, TokenKind::Eof);
}

TEST(Lexer, BinaryBytesNeverStopTheLexer) {
  std::string bytes;
  for (int i = 0; i < 256; ++i)
    bytes += char(i);
  test::Source src(bytes);
  auto t = lexAll(src);
  EXPECT_EQ(t.back().kind, TokenKind::Eof);
  EXPECT_GT(src.diags.errorCount(), 0u);
}

TEST(Diagnostics, ClosestMatch) {
  llvm::StringRef names[] = {"units", "activation", "use_bias"};
  EXPECT_EQ(closestMatch("activaton", names), "activation");
  EXPECT_EQ(closestMatch("unit", names), "units");
  EXPECT_EQ(closestMatch("foo", names), "");
}
