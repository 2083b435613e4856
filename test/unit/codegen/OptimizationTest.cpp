//===- OptimizationTest.cpp - optimized == unoptimized, on every example --===//
//
// The graph optimizations (cleanups, layout assignment, fusion) must not
// change what a model computes: for each example, the optimized build and
// the -O0 build (one kernel per op) get the same parameters and inputs and
// must agree on predict, eval_step and gradients, and on three train_steps
// (losses, metrics, every parameter and optimizer state afterwards), within
// float reassociation.
//
//===----------------------------------------------------------------------===//

#include "CompiledModel.h"
#include <gtest/gtest.h>
#include <cmath>

using namespace kiln;
using reference::Tensor;

namespace {


class OptimizedEqualsUnoptimized : public ::testing::TestWithParam<const char *> {};

TEST_P(OptimizedEqualsUnoptimized, OnEveryEntryPoint) {
  constexpr int64_t kBatch = 4;
  constexpr double kTolerance = 1e-4;
  std::string source = test::readExample(GetParam());
  test::ModelRun opt(source, kBatch, /*optimize=*/true), plain(source, kBatch, /*optimize=*/false);
  ASSERT_TRUE(opt.c.error.empty()) << opt.c.error;
  ASSERT_TRUE(plain.c.error.empty()) << plain.c.error;
  for (const char *entry : {"predict", "eval_step", "gradients"}) {
    std::vector<Tensor> inputs = opt.inputs;
    if (std::string(entry) == "predict")
      inputs.resize(1);
    std::vector<Tensor> a = test::runCompiled(opt.c, inputs, opt.params, entry);
    std::vector<Tensor> b = test::runCompiled(plain.c, inputs, plain.params, entry);
    ASSERT_EQ(a.size(), b.size()) << entry;
    ASSERT_FALSE(a.empty()) << entry;
    EXPECT_LE(test::worstRelativeError(a, b), kTolerance) << entry;
  }
  for (int step = 0; step < 3; ++step) {
    std::vector<Tensor> a = test::runCompiled(opt.c, opt.inputs, opt.params, "train_step");
    std::vector<Tensor> b = test::runCompiled(plain.c, plain.inputs, plain.params, "train_step");
    ASSERT_FALSE(a.empty());
    EXPECT_LE(test::worstRelativeError(a, b), kTolerance) << "train_step " << step << " (loss, metrics)";
  }
  ASSERT_EQ(opt.params.size(), plain.params.size());
  for (auto &p : opt.params)
    EXPECT_LE(test::worstRelativeError({p.second}, {plain.params[p.first()]}), kTolerance)
        << p.first().str() << " after 3 train steps";
}

INSTANTIATE_TEST_SUITE_P(Examples, OptimizedEqualsUnoptimized,
                         ::testing::ValuesIn(test::kExampleFiles),
                         [](const auto &info) { return test::exampleTestName(info.param); });

} // namespace
