//===- ShapeInferenceTest.cpp - shape rules of kiln ops -------------------===//
//
// Calls the ops' inferReturnTypes directly, including on shapes that the
// frontend never produces, and checks results and messages.
//
//===----------------------------------------------------------------------===//
#include "ir/KilnOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include <gtest/gtest.h>

using namespace mlir;
using namespace kiln;

namespace {
class ShapeInference : public ::testing::Test {
protected:
  ShapeInference() : builder(&ctx) {
    ctx.loadDialect<KilnDialect>();
    block = std::make_unique<Block>();
  }

  Value arg(ArrayRef<int64_t> shape, Type elem = {}) {
    return block->addArgument(RankedTensorType::get(shape, elem ? elem : builder.getF32Type()),
                              builder.getUnknownLoc());
  }

  /// Runs OpT's shape rule; returns the result type, or null with `message` set.
  template <typename OpT>
  Type infer(ValueRange operands, ArrayRef<NamedAttribute> attrs = {}) {
    message.clear();
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      message = d.str();
      return success();
    });
    SmallVector<Type> types;
    NamedAttrList list(attrs);
    if (failed(OpT::inferReturnTypes(&ctx, builder.getUnknownLoc(), operands,
                                     list.getDictionary(&ctx), nullptr, {}, types)))
      return nullptr;
    return types.front();
  }

  Type tensor(ArrayRef<int64_t> shape) { return RankedTensorType::get(shape, builder.getF32Type()); }
  NamedAttribute ints(StringRef name, ArrayRef<int64_t> v) {
    return builder.getNamedAttr(name, builder.getDenseI64ArrayAttr(v));
  }

  MLIRContext ctx;
  OpBuilder builder;
  std::unique_ptr<Block> block;
  std::string message;
  static constexpr int64_t kDyn = ShapedType::kDynamic;
};
} // namespace

TEST_F(ShapeInference, BroadcastFollowsNumPy) {
  EXPECT_EQ(infer<AddOp>({arg({kDyn, 26, 26, 32}), arg({32})}), tensor({kDyn, 26, 26, 32}));
  EXPECT_EQ(infer<MulOp>({arg({4, 1}), arg({1, 5})}), tensor({4, 5}));
  EXPECT_EQ(infer<SubOp>({arg({}), arg({3})}), tensor({3}));
  EXPECT_EQ(infer<AddOp>({arg({kDyn, 3}), arg({7, 1})}), tensor({7, 3}));
  EXPECT_FALSE(infer<AddOp>({arg({4, 3}), arg({5})}));
  EXPECT_NE(message.find("cannot broadcast"), std::string::npos) << message;
}

TEST_F(ShapeInference, Conv2DValidAndSame) {
  Value x = arg({kDyn, 28, 28, 1}), w = arg({3, 3, 1, 32});
  EXPECT_EQ(infer<Conv2DOp>({x, w}), tensor({kDyn, 26, 26, 32}));
  EXPECT_EQ(infer<Conv2DOp>({x, w}, {ints("strides", {2, 2}),
                                     builder.getNamedAttr("padding", builder.getStringAttr("same"))}),
            tensor({kDyn, 14, 14, 32}));
  EXPECT_EQ(infer<Conv2DOp>({x, w}, {ints("strides", {2, 3})}), tensor({kDyn, 13, 9, 32}));
  EXPECT_FALSE(infer<Conv2DOp>({x, arg({3, 3, 2, 8})}));
  EXPECT_NE(message.find("1 channels but the kernel"), std::string::npos) << message;
  EXPECT_FALSE(infer<Conv2DOp>({arg({1, 2, 2, 1}), w}));
  EXPECT_NE(message.find("larger than the input"), std::string::npos) << message;
  EXPECT_FALSE(infer<Conv2DOp>({x, w}, {ints("strides", {0, 1})}));
  EXPECT_FALSE(infer<Conv2DOp>({x, w}, {builder.getNamedAttr("padding", builder.getStringAttr("full"))}));
}

TEST_F(ShapeInference, Pooling) {
  Value x = arg({8, 13, 13, 32});
  EXPECT_EQ(infer<MaxPool2DOp>({x}, {ints("pool_size", {2, 2}), ints("strides", {2, 2})}),
            tensor({8, 6, 6, 32}));
  EXPECT_EQ(infer<AvgPool2DOp>({x}, {ints("pool_size", {3, 3}), ints("strides", {1, 1}),
                                     builder.getNamedAttr("padding", builder.getStringAttr("same"))}),
            tensor({8, 13, 13, 32}));
  EXPECT_FALSE(infer<MaxPool2DOp>({x}, {ints("pool_size", {2, 2})})); // strides missing
}

TEST_F(ShapeInference, MatMul) {
  EXPECT_EQ(infer<MatMulOp>({arg({kDyn, 576}), arg({576, 64})}), tensor({kDyn, 64}));
  EXPECT_EQ(infer<MatMulOp>({arg({2, 5, 3}), arg({2, 3, 4})}), tensor({2, 5, 4}));
  EXPECT_FALSE(infer<MatMulOp>({arg({5, 3}), arg({4, 2})}));
  EXPECT_NE(message.find("inner dimensions differ"), std::string::npos) << message;
  EXPECT_FALSE(infer<MatMulOp>({arg({3}), arg({3, 2})}));
}

TEST_F(ShapeInference, ReshapeTransposeConcatReduce) {
  EXPECT_EQ(infer<ReshapeOp>({arg({kDyn, 3, 3, 64})}, {ints("shape", {-1, 576})}),
            tensor({kDyn, 576}));
  EXPECT_EQ(infer<ReshapeOp>({arg({4, 6})}, {ints("shape", {3, -1})}), tensor({3, 8}));
  EXPECT_FALSE(infer<ReshapeOp>({arg({4, 6})}, {ints("shape", {5, -1})}));
  EXPECT_FALSE(infer<ReshapeOp>({arg({4, 6})}, {ints("shape", {-1, -1})}));
  EXPECT_EQ(infer<TransposeOp>({arg({2, 3, 4})}, {ints("perm", {2, 0, 1})}), tensor({4, 2, 3}));
  EXPECT_FALSE(infer<TransposeOp>({arg({2, 3, 4})}, {ints("perm", {0, 0, 1})}));
  EXPECT_EQ(infer<ConcatOp>({arg({kDyn, 3}), arg({kDyn, 5})},
                            {builder.getNamedAttr("axis", builder.getI64IntegerAttr(-1))}),
            tensor({kDyn, 8}));
  EXPECT_FALSE(infer<ConcatOp>({arg({2, 3}), arg({4, 5})},
                               {builder.getNamedAttr("axis", builder.getI64IntegerAttr(1))}));
  EXPECT_EQ(infer<ReduceSumOp>({arg({2, 3, 4})}, {ints("axes", {1})}), tensor({2, 4}));
  EXPECT_EQ(infer<ReduceMeanOp>({arg({2, 3, 4})},
                                {ints("axes", {-1, 0}),
                                 builder.getNamedAttr("keepdims", builder.getBoolAttr(true))}),
            tensor({1, 3, 1}));
  EXPECT_EQ(infer<ReduceMaxOp>({arg({2, 3})}), tensor({}));
  EXPECT_FALSE(infer<ReduceSumOp>({arg({2, 3})}, {ints("axes", {2})}));
}

TEST_F(ShapeInference, LossesAndAccuracy) {
  Type i32 = builder.getI32Type();
  Value probs = arg({kDyn, 10});
  EXPECT_EQ(infer<SparseCategoricalCrossentropyOp>({arg({kDyn}, i32), probs}), tensor({}));
  EXPECT_EQ(infer<SparseCategoricalCrossentropyOp>({arg({kDyn, 1}, i32), probs}), tensor({}));
  EXPECT_FALSE(infer<SparseCategoricalCrossentropyOp>({arg({kDyn, 10}, i32), probs}));
  EXPECT_FALSE(infer<SparseCategoricalCrossentropyOp>({arg({kDyn}), probs}));
  EXPECT_EQ(infer<CategoricalCrossentropyOp>({arg({kDyn, 10}), probs}), tensor({}));
  EXPECT_FALSE(infer<MeanSquaredErrorOp>({arg({kDyn, 2}), arg({kDyn, 1})}));
  EXPECT_EQ(infer<AccuracyOp>({arg({kDyn}, i32), probs},
                              {builder.getNamedAttr("kind", builder.getStringAttr("sparse_categorical"))}),
            tensor({}));
  EXPECT_FALSE(infer<AccuracyOp>({arg({kDyn, 10}), probs},
                                 {builder.getNamedAttr("kind", builder.getStringAttr("top5"))}));
}

TEST_F(ShapeInference, HugeShapesAreRejectedNotOverflowed) {
  Value x = arg({kDyn, 1});
  Value big = arg({int64_t(1) << 40, 1});
  EXPECT_FALSE(infer<MulOp>({big, arg({1, int64_t(1) << 40})}));
  EXPECT_NE(message.find("too many elements"), std::string::npos) << message;
  EXPECT_FALSE(infer<ReshapeOp>({x}, {ints("shape", {-1, int64_t(1) << 62, 8})}));
}
