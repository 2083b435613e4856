//===- kernels/cuda/Plan.cpp - launch plans for the CUDA GEMM/conv kernels ===//
//
// Tile choice: the largest tile, no wider than the problem's narrower side,
// that still gives about one block per SM
// (sized for an H100's 132 SMs); when even the smallest tile leaves the GPU
// mostly idle and K is long, split K (a power of two, at most 64 splits of
// at least 512) and add a deterministic reduce phase. Tensor-core phases
// need M, N >= 32 and K >= 16; smaller problems run the FP32 phases, which
// are also more accurate. Must agree with kiln_cuda_kernels.cuh on tile
// sizes, block sizes and the workspace layout [S][M][N].
//
//===----------------------------------------------------------------------===//
#include "kernels/cuda/Plan.h"

#include <algorithm>

namespace kiln::cuda {
namespace {

constexpr int64_t kTargetBlocks = 132;
constexpr int64_t kMaxGridX = 2147483647, kMaxGridYZ = 65535;
constexpr unsigned kReduceThreads = 256;

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct Choice {
  bool tensorCores;
  int tile;
  int splits;
  unsigned threads;
};

Choice choose(int64_t m, int64_t n, int64_t k, Precision p, bool allowSplit) {
  auto tiles = [&](int64_t t) { return cdiv(m, t) * cdiv(n, t); };
  // No tile wider than the narrower side needs (a 128 tile over 32 columns
  // would idle three quarters of the block).
  const int64_t narrow = std::min(m, n);
  const int64_t cap = narrow <= 32 ? 32 : narrow <= 64 ? 64 : 128;
  Choice c;
  if (p != Precision::F32 && m >= 32 && n >= 32 && k >= 16) {
    c.tensorCores = true;
    c.tile = cap >= 128 && tiles(128) >= kTargetBlocks ? 128 : 64;
    c.threads = c.tile == 128 ? 256 : 128;
  } else {
    c.tensorCores = false;
    c.tile = cap >= 128 && tiles(128) >= kTargetBlocks  ? 128
             : cap >= 64 && tiles(64) >= kTargetBlocks ? 64
                                                       : 32;
    c.threads = 256;
  }
  c.splits = 1;
  const int64_t t = tiles(c.tile);
  if (allowSplit && t < kTargetBlocks && k >= 1024) {
    const int64_t maxSplits = std::min<int64_t>({64, k / 512, cdiv(2 * kTargetBlocks, t)});
    while (c.splits * 2 <= maxSplits)
      c.splits *= 2;
  }
  return c;
}

const char *precisionName(const Choice &c, Precision p) {
  if (!c.tensorCores)
    return "f32";
  return p == Precision::BF16 ? "bf16" : "tf32";
}

Phase mainPhase(const std::string &base, const Choice &c, Precision p, int64_t m, int64_t n,
                bool withSplits) {
  Phase ph;
  ph.function = "kiln_cuda::" + base + "_" + precisionName(c, p) + "<" + std::to_string(c.tile);
  if (withSplits)
    ph.function += ", " + std::to_string(c.splits);
  ph.function += ">";
  ph.grid[0] = unsigned(std::min(cdiv(m, c.tile), kMaxGridX));
  ph.grid[1] = unsigned(std::min(cdiv(n, c.tile), kMaxGridYZ));
  ph.grid[2] = unsigned(c.splits);
  ph.block[0] = c.threads;
  ph.block[1] = ph.block[2] = 1;
  return ph;
}

Phase reducePhase(const std::string &name, int splits, int64_t elements) {
  Phase ph;
  ph.function = "kiln_cuda::" + name + "<" + std::to_string(splits) + ">";
  ph.grid[0] = unsigned(std::min<int64_t>(cdiv(elements, kReduceThreads), 1 << 20));
  ph.grid[1] = ph.grid[2] = 1;
  ph.block[0] = kReduceThreads;
  ph.block[1] = ph.block[2] = 1;
  return ph;
}

} // namespace

KernelPlan planGemm(const Gemm &g, Precision p) {
  KernelPlan plan;
  if (g.m <= 0 || g.n <= 0 || g.k < 0)
    return plan;
  const Choice c = choose(g.m, g.n, g.k, p, /*allowSplit=*/true);
  plan.phases.push_back(mainPhase("gemm", c, p, g.m, g.n, /*withSplits=*/true));
  if (c.splits > 1) {
    plan.phases.push_back(reducePhase("gemm_splitk_reduce", c.splits, g.m * g.n));
    plan.workspaceBytes = uint64_t(c.splits) * uint64_t(g.m * g.n) * sizeof(float);
  }
  return plan;
}

KernelPlan planConv2d(ConvKind kind, const Conv2d &g, Precision p) {
  KernelPlan plan;
  if (g.batch < 0 || g.in_h < 0 || g.in_w < 0 || g.in_c < 0 || g.out_c < 0 || g.kernel_h <= 0 ||
      g.kernel_w <= 0 || g.stride_h <= 0 || g.stride_w <= 0 || g.pad_top < 0 || g.pad_left < 0 ||
      g.pad_bottom < 0 || g.pad_right < 0)
    return plan;
  const int64_t outH = (g.in_h + g.pad_top + g.pad_bottom - g.kernel_h) / g.stride_h + 1;
  const int64_t outW = (g.in_w + g.pad_left + g.pad_right - g.kernel_w) / g.stride_w + 1;
  if (g.in_h + g.pad_top + g.pad_bottom < g.kernel_h || g.in_w + g.pad_left + g.pad_right < g.kernel_w)
    return plan;
  const int64_t taps = g.kernel_h * g.kernel_w;
  switch (kind) {
  case ConvKind::Forward: {
    const int64_t m = g.batch * outH * outW, n = g.out_c, k = taps * g.in_c;
    if (m > 0 && n > 0)
      plan.phases.push_back(
          mainPhase("conv2d_forward", choose(m, n, k, p, false), p, m, n, false));
    break;
  }
  case ConvKind::BackpropInput: {
    const int64_t m = g.batch * g.in_h * g.in_w, n = g.in_c, k = taps * g.out_c;
    if (m > 0 && n > 0)
      plan.phases.push_back(
          mainPhase("conv2d_backprop_input", choose(m, n, k, p, false), p, m, n, false));
    break;
  }
  case ConvKind::BackpropFilter: {
    // One more row than dw: the sums of dy that make db.
    const int64_t m = taps * g.in_c + 1, n = g.out_c, k = g.batch * outH * outW;
    if (n <= 0)
      break;
    const Choice c = choose(m, n, k, p, true);
    plan.phases.push_back(mainPhase("conv2d_backprop_filter", c, p, m, n, true));
    if (c.splits > 1) {
      plan.phases.push_back(reducePhase("conv2d_backprop_filter_reduce", c.splits, m * n));
      plan.workspaceBytes = uint64_t(c.splits) * uint64_t(m * n) * sizeof(float);
    }
    break;
  }
  }
  return plan;
}

const char *kernelsHeaderName() { return "kiln_cuda_kernels.cuh"; }

} // namespace kiln::cuda
