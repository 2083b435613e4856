//===- CopiesToLinalg.cpp - memref.copy -> linalg.copy --------------------===//
#include "codegen/Passes.h"

namespace kiln {
#define GEN_PASS_DEF_COPIESTOLINALG
#include "codegen/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace {
struct CopiesToLinalg : kiln::impl::CopiesToLinalgBase<CopiesToLinalg> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp op) { copies.push_back(op); });
    for (memref::CopyOp copy : copies) {
      OpBuilder b(copy);
      b.create<linalg::CopyOp>(copy.getLoc(), copy.getSource(), copy.getTarget());
      copy.erase();
    }
  }
};
} // namespace
