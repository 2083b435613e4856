//===- kernels/cpu/ConvChunk.h - backprop-input's unit of work ------------===//
//
// Backprop-input computes dcol = dy w^T (one row per output pixel, one column
// per tap and input channel) a chunk of output pixels at a time into the
// slot's scratch, then adds each chunk into dx (col2im). Threads take whole
// images and add their pixels' terms in pixel order, so every dx element sums
// its terms in one order whatever the threads. The chunk is sized for L2.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_KERNELS_CPU_CONVCHUNK_H
#define KILN_KERNELS_CPU_CONVCHUNK_H

#include "kernels/cpu/Internal.h"

namespace kiln::cpu {

// The dcol chunk's GEMM: at most 64 Ki floats of output pixels x (tap,
// channel) columns, over output channels.
inline GemmShape chunkShape(const KilnConv2d &g, int64_t outH, int64_t outW) {
  const int64_t cols = g.kernel_h * g.kernel_w * g.in_c;
  return {max64(1, min64(g.batch * outH * outW, (int64_t(1) << 16) / cols)), cols, g.out_c};
}

} // namespace kiln::cpu

#endif
