//===- ImportTest.cpp - model files -> kiln graph -------------------------===//
#include "frontend/ImportGraph.h"
#include "ir/KilnOps.h"
#include "passes/Passes.h"
#include "TestUtil.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include <gtest/gtest.h>

using namespace mlir;
using namespace kiln;

namespace {
struct Compiled {
  explicit Compiled(const std::string &text) : src(text) {
    module = compileModelFile(src.diags, ctx, "test");
  }
  func::FuncOp predict() { return module->lookupSymbol<func::FuncOp>("predict"); }
  std::vector<std::string> params() {
    std::vector<std::string> names;
    for (auto p : module->getOps<ParamOp>())
      names.push_back(p.getSymName().str());
    return names;
  }
  MLIRContext ctx;
  test::Source src;
  OwningOpRef<ModuleOp> module;
};

std::string str(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}
} // namespace

TEST(Import, KerasNamesAndShapes) {
  Compiled c("Input(shape=(28, 28, 1))\nConv2D(8, 3, activation='relu')\nMaxPooling2D()\n"
             "Flatten()\nDense(16)\nDense(10, activation='softmax')\n");
  ASSERT_TRUE(c.module) << c.src.messages;
  EXPECT_EQ(c.params(), (std::vector<std::string>{"conv2d/kernel", "conv2d/bias", "dense/kernel",
                                                 "dense/bias", "dense_1/kernel", "dense_1/bias"}));
  auto f = c.predict();
  EXPECT_EQ(str(f.getFunctionType()), "(tensor<?x28x28x1xf32>) -> tensor<?x10xf32>");
  auto kernel = c.module->lookupSymbol<ParamOp>("dense/kernel");
  EXPECT_EQ(str(kernel.getType()), "tensor<1352x16xf32>"); // 13*13*8
  EXPECT_EQ(kernel.getInitializer(), "glorot_uniform");
  EXPECT_EQ(c.module->lookupSymbol<ParamOp>("dense/bias").getInitializer(), "zeros");
}

TEST(Import, LayerObjectsShareWeights) {
  Compiled c("a = Input(shape=(4,))\nb = Input(shape=(4,))\nd = Dense(3)\n"
             "y = d(a) + d(b)\noutput y\n");
  ASSERT_TRUE(c.module) << c.src.messages;
  EXPECT_EQ(c.params().size(), 2u);
  int reads = 0;
  c.predict().walk([&](ReadParamOp op) { reads += op.getName() == "dense/kernel"; });
  EXPECT_EQ(reads, 2);
}

TEST(Import, ResidualGraphWithTwoOutputs) {
  Compiled c("x = Input(shape=(8, 8, 4), name='image')\n"
             "h = Conv2D(4, 3, padding='same', activation='relu')(x)\n"
             "r = Add()([x, h])\n"
             "p = reduce_mean(r, axis=(1, 2))\n"
             "output p, r\n");
  ASSERT_TRUE(c.module) << c.src.messages;
  auto f = c.predict();
  EXPECT_EQ(str(f.getFunctionType()),
            "(tensor<?x8x8x4xf32>) -> (tensor<?x4xf32>, tensor<?x8x8x4xf32>)");
  EXPECT_EQ(f.getArgAttrOfType<StringAttr>(0, "kiln.name").getValue(), "image");
  EXPECT_EQ(f.getResultAttrOfType<StringAttr>(1, "kiln.name").getValue(), "r");
}

TEST(Import, TrainingConfigGetsKerasDefaults) {
  Compiled c("Input(shape=(2,))\nDense(1, activation='sigmoid')\n"
             "compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])\n");
  ASSERT_TRUE(c.module) << c.src.messages;
  auto ops = c.module->getOps<TrainingOp>();
  ASSERT_FALSE(ops.empty());
  TrainingOp t = *ops.begin();
  EXPECT_EQ(t.getLoss(), "binary_crossentropy");
  EXPECT_EQ(t.getOptimizer(), "adam");
  auto cfg = t.getOptimizerConfig();
  EXPECT_FLOAT_EQ(cfg.getAs<FloatAttr>("learning_rate").getValueAsDouble(), 0.001f);
  EXPECT_FLOAT_EQ(cfg.getAs<FloatAttr>("epsilon").getValueAsDouble(), 1e-7f);
  EXPECT_FLOAT_EQ(cfg.getAs<FloatAttr>("beta_2").getValueAsDouble(), 0.999f);
  EXPECT_EQ(llvm::cast<StringAttr>(t.getMetrics()[0]).getValue(), "binary_accuracy");
  EXPECT_EQ(t.getFitConfig().getAs<IntegerAttr>("batch_size").getInt(), 32);
}

TEST(Import, SeveralErrorsAreAllReported) {
  Compiled c("x = Input(shape=(4,))\na = Dense(3, unitz=2)(x)\nb = nope + x\n"
             "c = Conv2D(2, 3)(x)\nd = a + b\ncompile(loss='hinge')\n");
  EXPECT_FALSE(c.module);
  EXPECT_EQ(c.src.diags.errorCount(), 4u) << c.src.messages;
  for (const char *expected : {"test.kiln:2:14: error: Dense has no argument 'unitz'",
                               "test.kiln:3:5: error: unknown name 'nope'",
                               "test.kiln:4:5: error: Conv2D needs an image input",
                               "test.kiln:6:14: error: the Keras loss 'hinge' is not supported"})
    EXPECT_NE(c.src.messages.find(expected), std::string::npos)
        << "missing: " << expected << "\n" << c.src.messages;
}

TEST(Import, SpecializeBatchMakesEveryShapeStatic) {
  Compiled c("Input(shape=(28, 28, 1))\nConv2D(8, 3)\nFlatten()\nDense(10)\n");
  ASSERT_TRUE(c.module) << c.src.messages;
  PassManager pm(&c.ctx);
  pm.addPass(createSpecializeBatch(SpecializeBatchOptions{64}));
  ASSERT_TRUE(succeeded(pm.run(*c.module)));
  EXPECT_EQ(str(c.predict().getFunctionType()), "(tensor<64x28x28x1xf32>) -> tensor<64x10xf32>");
  c.predict().walk([&](Operation *op) {
    for (Type t : op->getResultTypes())
      EXPECT_TRUE(llvm::cast<ShapedType>(t).hasStaticShape()) << str(t);
  });
}
