//===- Importer.h - state shared by the graph-building files --------------===//
//
// Internal to frontend/. ImportGraph.cpp walks statements and expressions and
// builds primitive ops; KerasLayers.cpp turns Keras layer calls into ops and
// parameters; TrainingConfig.cpp reads compile()/fit() and initializers.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_IMPORTER_H
#define KILN_FRONTEND_IMPORTER_H

#include "frontend/AST.h"
#include "frontend/Diagnostics.h"
#include "ir/KilnOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include <memory>
#include <optional>

namespace kiln::detail {

/// An initializer as Keras spells it: a name plus its arguments.
struct InitSpec {
  std::string name;
  mlir::NamedAttrList config; // seed, mean, stddev, minval, maxval, value
};

/// L1/L2 penalty factors of a regularizer (absent = none).
struct RegSpec {
  std::optional<double> l1, l2;
};

/// A Keras layer object: its configuration, and its parameters once built.
/// Applying the same object twice shares its weights, as in Keras.
struct Layer {
  std::string cls;  // Keras class, "Dense"
  std::string name; // unique layer name, "dense_1"
  llvm::SMLoc loc;
  int64_t units = 0; // Dense units, Conv2D filters
  llvm::SmallVector<int64_t, 2> window, strides;
  std::string padding = "valid";
  std::string activation = "linear";
  bool useBias = true;
  InitSpec kernelInit{"glorot_uniform", {}}, biasInit{"zeros", {}};
  RegSpec kernelReg, biasReg;
  double rate = 0;
  int64_t seed = 0;
  bool trainable = true; // trainable=False: frozen, no gradient, no update
  int64_t axis = -1;
  llvm::SmallVector<int64_t> targetShape;
  // Set when first applied.
  bool built = false;
  mlir::Type builtInput;
};

/// What a name in the model file stands for.
struct Binding {
  enum class Kind { Tensor, Layer, Poison } kind = Kind::Poison;
  mlir::Value value;
  std::shared_ptr<Layer> layer;
  llvm::SMLoc loc;
};

/// Keyword and positional arguments of one call, matched to parameter names.
struct Args {
  llvm::StringMap<const Expr *> values;
  const Expr *get(llvm::StringRef name) const { return values.lookup(name); }
};

struct TrainingSpec {
  llvm::SMLoc loc;
  std::string loss;
  bool fromLogits = false;
  std::string optimizer = "rmsprop";
  mlir::NamedAttrList optimizerConfig;
  std::vector<std::pair<std::string, llvm::SMLoc>> metrics;
  bool lossGiven = false;
};

class Importer {
public:
  Importer(Diagnostics &diags, mlir::MLIRContext &ctx, llvm::StringRef modelName);
  mlir::OwningOpRef<mlir::ModuleOp> run(const ModuleAST &ast);

  // --- diagnostics -------------------------------------------------------
  void error(llvm::SMLoc loc, const llvm::Twine &msg) { diags.error(loc, msg); }
  void warning(llvm::SMLoc loc, const llvm::Twine &msg) { diags.warning(loc, msg); }
  void note(llvm::SMLoc loc, const llvm::Twine &msg) { diags.note(loc, msg); }
  mlir::Location location(llvm::SMLoc loc, llvm::StringRef name = "");
  std::string typeStr(mlir::Type t);

  // --- reading call arguments (TrainingConfig.cpp) --------------------------
  /// Matches `call`'s arguments to `params` (positional ones in order).
  bool bindArgs(const Expr &call, llvm::StringRef callee, llvm::ArrayRef<llvm::StringRef> params,
                Args &out);
  bool isNone(const Expr *e) const { return e && e->isName("None"); }
  std::optional<int64_t> intArg(const Expr *e, llvm::StringRef what, int64_t min);
  std::optional<double> floatArg(const Expr *e, llvm::StringRef what);
  std::optional<bool> boolArg(const Expr *e, llvm::StringRef what);
  /// A string, or a bare name used as one (activation=relu).
  std::optional<std::string> stringArg(const Expr *e, llvm::StringRef what);
  /// An int, or a tuple/list of ints; a single int is repeated `n` times.
  std::optional<llvm::SmallVector<int64_t>> intsArg(const Expr *e, llvm::StringRef what,
                                                    size_t n, int64_t min);
  /// The callee of a call as a plain name, without keras./layers. prefixes.
  static std::string calleeName(const Expr &call);

  std::optional<InitSpec> initializer(const Expr *e, llvm::StringRef what);
  std::optional<RegSpec> regularizer(const Expr *e, llvm::StringRef what);
  void compileCall(const Expr &call);
  void fitCall(const Expr &call);
  void finishTraining(mlir::Value output, llvm::SMLoc outputLoc);

  // --- graph building (ImportGraph.cpp) -------------------------------------
  /// Creates an op after running its shape rule at `loc`; null on error.
  template <typename OpT>
  mlir::Value build(mlir::Location loc, mlir::ValueRange operands,
                    llvm::ArrayRef<mlir::NamedAttribute> attrs = {});
  mlir::Value constant(mlir::Location loc, double value);
  /// Declares a parameter and reads it; null if the name is taken.
  mlir::Value param(llvm::SMLoc loc, llvm::StringRef name, llvm::ArrayRef<int64_t> shape,
                    const InitSpec &init, const RegSpec &reg, bool trainable);
  mlir::Value tensorExpr(const Expr &e);
  mlir::Value input(const Expr &call, llvm::StringRef suggestedName);
  mlir::Value primitive(const Expr &call, llvm::StringRef name);
  void sequential(const Expr &call);
  std::string uniqueLayerName(llvm::StringRef base);

  // --- Keras layers (KerasLayers.cpp) ---------------------------------------
  static bool isLayerClass(llvm::StringRef name);
  static bool isUnsupportedKerasLayer(llvm::StringRef name);
  std::shared_ptr<Layer> makeLayer(const Expr &call);
  mlir::Value applyLayer(Layer &layer, llvm::ArrayRef<mlir::Value> inputs, llvm::SMLoc loc);
  mlir::Value applyLayerCall(Layer &layer, const Expr &call);
  mlir::Value activation(mlir::Value x, llvm::StringRef name, llvm::SMLoc loc,
                         llvm::StringRef layerName);
  bool checkActivationName(llvm::StringRef name, llvm::SMLoc loc);

  Diagnostics &diags;
  mlir::MLIRContext &ctx;
  mlir::OpBuilder builder;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::func::FuncOp func;
  std::string modelName;

  llvm::StringMap<Binding> env;
  mlir::Value current;           // what a layer statement applies to
  bool currentPoisoned = false;  // the previous statement failed
  llvm::SMLoc currentLoc;
  std::vector<std::string> inputNames;
  llvm::StringMap<unsigned> layerCounters;
  llvm::StringSet<> layerNames;
  llvm::StringSet<> paramNames;
  std::string pendingName;       // the assignment target while its value is built
  std::optional<TrainingSpec> training;
  std::optional<mlir::NamedAttrList> fitConfig;
  llvm::SMLoc fitLoc;
};

template <typename OpT>
mlir::Value Importer::build(mlir::Location loc, mlir::ValueRange operands,
                            llvm::ArrayRef<mlir::NamedAttribute> attrs) {
  for (mlir::Value v : operands)
    if (!v)
      return nullptr;
  mlir::NamedAttrList attrList(attrs);
  mlir::DictionaryAttr dict = attrList.getDictionary(&ctx);
  llvm::SmallVector<mlir::Type> types;
  if (mlir::failed(OpT::inferReturnTypes(&ctx, loc, operands, dict, nullptr, {}, types)))
    return nullptr;
  mlir::OperationState state(loc, OpT::getOperationName());
  state.addOperands(operands);
  state.addAttributes(attrs);
  state.addTypes(types);
  mlir::Operation *op = builder.create(state);
  if (mlir::failed(mlir::verify(op))) {
    op->erase();
    return nullptr;
  }
  return op->getResult(0);
}

} // namespace kiln::detail

#endif
