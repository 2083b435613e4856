//===- Interpreter.h - a plain C++ reference for `kiln` graphs ------------===//
//
// Evaluates a graph function op by op with naive loops, written from the
// ops' definitions (Keras semantics), sharing nothing with code generation.
// The numerics tests compare compiled code against it.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TEST_REFERENCE_INTERPRETER_H
#define KILN_TEST_REFERENCE_INTERPRETER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::reference {

/// A dense row-major tensor; i32 labels are held as exact float values.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  int64_t size() const;
};

/// Runs `func` (static shapes) on `inputs`, reading parameters by name.
/// Returns false and sets `error` for an op it does not know.
/// `branchHash`, when given, receives a hash of every branch decision taken
/// (ReLU signs, max / min winners, absolute-value signs): two evaluations
/// with equal hashes lie on the same smooth piece of the function, which is
/// what a finite difference between them needs.
bool evaluate(mlir::func::FuncOp func, const std::vector<Tensor> &inputs,
              const llvm::StringMap<Tensor> &params, std::vector<Tensor> &outputs,
              std::string &error, uint64_t *branchHash = nullptr);

/// Largest |got - want| / max(1, |want|) over all elements: relative above 1,
/// absolute below. Any non-finite value on either side counts as infinite.
double worstError(const Tensor &got, const Tensor &want);

} // namespace kiln::reference

#endif
