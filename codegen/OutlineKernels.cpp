//===- OutlineKernels.cpp - kiln.fusion groups -> kernel functions --------===//
//
// Each kiln.fusion becomes a private function, `@<entry>__k<i>_<kind>`
// (tagged `kiln.kernel`), called once by its entry point. Lowering a kernel
// function on its own keeps loop fusion (linalg elementwise fusion) inside
// the group kiln-fuse chose; after bufferization the kernels are inlined
// back, so the step stays one function over one scratch arena.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "ir/KilnOps.h"

namespace kiln {
#define GEN_PASS_DEF_OUTLINEKERNELS
#include "codegen/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace {

std::string identifier(StringRef s) {
  std::string out;
  for (char c : s)
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

struct OutlineKernels : kiln::impl::OutlineKernelsBase<OutlineKernels> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(module.getBodyRegion());
    for (auto entry : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (entry.isExternal() || entry->hasAttr("kiln.kernel"))
        continue;
      SmallVector<kiln::FusionOp> groups;
      entry.walk([&](kiln::FusionOp f) { groups.push_back(f); });
      Operation *previous = entry; // kernels follow their entry point, in order
      for (auto [i, group] : llvm::enumerate(groups)) {
        b.setInsertionPointAfter(previous);
        std::string name = (entry.getName() + "__k" + Twine(i) + "_" +
                            identifier(group.getKind()))
                               .str();
        auto kernel = b.create<func::FuncOp>(
            group.getLoc(), name,
            b.getFunctionType(group.getInputs().getTypes(), group.getResultTypes()));
        kernel.setPrivate();
        previous = kernel;
        kernel->setAttr("kiln.kernel", b.getUnitAttr());
        kernel.getBody().takeBody(group.getBody());
        Block &body = kernel.getBody().front();
        auto yield = cast<kiln::YieldOp>(body.getTerminator());
        OpBuilder::atBlockEnd(&body).create<func::ReturnOp>(yield.getLoc(), yield.getValues());
        yield.erase();
        OpBuilder at(group);
        auto call = at.create<func::CallOp>(group.getLoc(), kernel, group.getInputs());
        group.replaceAllUsesWith(call.getResults());
        group.erase();
      }
    }
  }
};

} // namespace
