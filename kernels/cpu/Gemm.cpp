//===- kernels/cpu/Gemm.cpp - kiln_gemm_f32 -------------------------------===//
#include "kernels/cpu/Internal.h"

using namespace kiln::cpu;

namespace {

bool valid(const KilnGemm *g) {
  if (!g || g->m < 0 || g->n < 0 || g->k < 0 || g->activation < KILN_ACT_NONE || g->activation > KILN_ACT_TANH)
    return false;
  const int64_t aRow = g->trans_a ? g->m : g->k, bRow = g->trans_b ? g->k : g->n;
  return g->lda >= max64(1, aRow) && g->ldb >= max64(1, bRow) && g->ldc >= max64(1, g->n);
}

void body(const IsaTable &isa, const void *job, const Slot &slot) {
  isa.gemm(*static_cast<const GemmJob *>(job), slot);
}

} // namespace

extern "C" size_t kiln_gemm_workspace_bytes(const KilnGemm *g, int64_t max_threads) {
  return valid(g) ? workspaceBytes({g->m, g->n, g->k}, max_threads) : 0;
}

extern "C" int kiln_gemm_f32(const KilnGemm *g, const float *a, const float *b, const float *bias, float *c,
                             void *workspace, size_t workspace_bytes) {
  if (!valid(g))
    return KILN_KERNELS_BAD_ARGS;
  if (g->m == 0 || g->n == 0)
    return KILN_KERNELS_OK;
  if (!c || (g->k > 0 && (!a || !b)))
    return KILN_KERNELS_BAD_ARGS;
  const GemmJob job{g, a, b, bias, c};
  return runSlots({g->m, g->n, g->k}, workspace, workspace_bytes, body, &job) ? KILN_KERNELS_OK
                                                                            : KILN_KERNELS_SMALL_WORKSPACE;
}
