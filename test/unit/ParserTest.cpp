//===- ParserTest.cpp -----------------------------------------------------===//
#include "frontend/Parser.h"
#include "TestUtil.h"
#include <gtest/gtest.h>

using namespace kiln;

TEST(Parser, StatementKinds) {
  test::Source src("model m\nx = Input(shape=(4,))\nDense(2)\noutput x\n");
  ModuleAST ast = parseModule(src.diags);
  ASSERT_EQ(src.diags.errorCount(), 0u) << src.messages;
  ASSERT_EQ(ast.statements.size(), 4u);
  EXPECT_EQ(ast.statements[0].kind, Stmt::Kind::Model);
  EXPECT_EQ(ast.statements[0].target, "m");
  EXPECT_EQ(ast.statements[1].kind, Stmt::Kind::Assign);
  EXPECT_EQ(ast.statements[1].target, "x");
  EXPECT_EQ(ast.statements[2].kind, Stmt::Kind::Expr);
  EXPECT_EQ(ast.statements[3].kind, Stmt::Kind::Output);
}

TEST(Parser, PrecedenceAndCalls) {
  test::Source src("y = a + b * c @ d - -e\n");
  ModuleAST ast = parseModule(src.diags);
  ASSERT_EQ(src.diags.errorCount(), 0u) << src.messages;
  const Expr &e = *ast.statements[0].value;
  // ((a + ((b * c) @ d)) - (-e))
  ASSERT_EQ(e.kind, Expr::Kind::Binary);
  EXPECT_EQ(e.text, "-");
  EXPECT_EQ(e.elements[1]->kind, Expr::Kind::Negate);
  const Expr &sum = *e.elements[0];
  EXPECT_EQ(sum.text, "+");
  EXPECT_EQ(sum.elements[1]->text, "@");
  EXPECT_EQ(sum.elements[1]->elements[0]->text, "*");
}

TEST(Parser, CallsTuplesAndKeywords) {
  test::Source src("h = keras.layers.Dense(10, activation='relu')(x)\nt = (1,)\ng = (2)\n");
  ModuleAST ast = parseModule(src.diags);
  ASSERT_EQ(src.diags.errorCount(), 0u) << src.messages;
  const Expr &apply = *ast.statements[0].value;
  ASSERT_EQ(apply.kind, Expr::Kind::Call);
  const Expr &ctor = *apply.callee;
  ASSERT_EQ(ctor.kind, Expr::Kind::Call);
  EXPECT_EQ(ctor.callee->text, "keras.layers.Dense");
  ASSERT_EQ(ctor.args.size(), 2u);
  EXPECT_EQ(ctor.args[1].keyword, "activation");
  EXPECT_EQ(ast.statements[1].value->kind, Expr::Kind::Tuple);
  EXPECT_EQ(ast.statements[2].value->kind, Expr::Kind::Integer);
}

TEST(Parser, NewlinesInsideBracketsAreIgnored) {
  test::Source src("compile(loss='mse',\n        optimizer='sgd'\n)\n");
  ModuleAST ast = parseModule(src.diags);
  EXPECT_EQ(src.diags.errorCount(), 0u) << src.messages;
  EXPECT_EQ(ast.statements.size(), 1u);
}

TEST(Parser, RecoversAndReportsEveryBadLine) {
  test::Source src("a = (1, 2]\nb = 3 +\nc = f(x=1, 2)\nd = 4\n");
  ModuleAST ast = parseModule(src.diags);
  EXPECT_EQ(src.diags.errorCount(), 3u) << src.messages;
  ASSERT_EQ(ast.statements.size(), 1u);
  EXPECT_EQ(ast.statements[0].target, "d");
  EXPECT_NE(src.messages.find("note: to match this '('"), std::string::npos);
  EXPECT_NE(src.messages.find("positional argument follows keyword argument"), std::string::npos);
}

TEST(Parser, DeepNestingIsAnErrorNotACrash) {
  std::string deep = "x = " + std::string(5000, '(') + "1" + std::string(5000, ')') + "\n";
  test::Source src(deep);
  parseModule(src.diags);
  EXPECT_GT(src.diags.errorCount(), 0u);
  EXPECT_NE(src.messages.find("nested too deeply"), std::string::npos);

  std::string chain = "x = 1";
  for (int i = 0; i < 100000; ++i)
    chain += " + 1";
  test::Source src2(chain + "\n");
  parseModule(src2.diags);
  EXPECT_NE(src2.messages.find("nested too deeply"), std::string::npos);
}
