//===- kernels/cpu/Conv.cpp - the kiln_conv2d_* kernels -------------------===//
//
// Forward and backprop-filter are one GEMM each over a virtual im2col operand
// (Pack.inc): im2col(x) w and im2col(x)^T dy, the latter with a row of ones
// for the bias gradient. Backprop-input is dy w^T scattered into dx
// (ConvChunk.h).
//
//===----------------------------------------------------------------------===//
#include "kernels/cpu/ConvChunk.h"

using namespace kiln::cpu;

namespace {

int64_t outSize(int64_t in, int64_t padBefore, int64_t padAfter, int64_t kernel, int64_t stride) {
  const int64_t span = in + padBefore + padAfter - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

// False unless every size is sane and the output is at least 1 x 1.
bool geometry(const KilnConv2d *g, int64_t &outH, int64_t &outW) {
  if (!g || g->batch < 0 || g->in_h < 1 || g->in_w < 1 || g->in_c < 1 || g->out_c < 1 || g->kernel_h < 1 ||
      g->kernel_w < 1 || g->stride_h < 1 || g->stride_w < 1 || g->pad_top < 0 || g->pad_left < 0 ||
      g->pad_bottom < 0 || g->pad_right < 0 || g->activation < KILN_ACT_NONE || g->activation > KILN_ACT_TANH)
    return false;
  outH = outSize(g->in_h, g->pad_top, g->pad_bottom, g->kernel_h, g->stride_h);
  outW = outSize(g->in_w, g->pad_left, g->pad_right, g->kernel_w, g->stride_w);
  return outH > 0 && outW > 0;
}

GemmShape forwardShape(const KilnConv2d &g, int64_t outH, int64_t outW) {
  return {g.batch * outH * outW, g.out_c, g.kernel_h * g.kernel_w * g.in_c};
}
// One more row than dw has: the bias gradient's.
GemmShape backpropFilterShape(const KilnConv2d &g, int64_t outH, int64_t outW, bool biasGrad) {
  return {g.kernel_h * g.kernel_w * g.in_c + biasGrad, g.out_c, g.batch * outH * outW};
}

void forwardBody(const IsaTable &isa, const void *job, const Slot &s) {
  isa.convForward(*static_cast<const ConvJob *>(job), s);
}
void backpropInputBody(const IsaTable &isa, const void *job, const Slot &s) {
  isa.convBackpropInput(*static_cast<const ConvJob *>(job), s);
}
void backpropFilterBody(const IsaTable &isa, const void *job, const Slot &s) {
  isa.convBackpropFilter(*static_cast<const ConvJob *>(job), s);
}

int run(GemmShape shape, void *ws, size_t wsBytes, SlotBody body, const ConvJob &job) {
  return runSlots(shape, ws, wsBytes, body, &job) ? KILN_KERNELS_OK : KILN_KERNELS_SMALL_WORKSPACE;
}

} // namespace

extern "C" size_t kiln_conv2d_workspace_bytes(const KilnConv2d *g, int64_t max_threads) {
  int64_t outH, outW;
  if (!geometry(g, outH, outW))
    return 0;
  const GemmShape chunk = chunkShape(*g, outH, outW);
  const size_t sizes[] = {workspaceBytes(forwardShape(*g, outH, outW), max_threads),
                          workspaceBytes(chunk, max_threads, chunk.m * chunk.n),
                          workspaceBytes(backpropFilterShape(*g, outH, outW, true), max_threads)};
  size_t bytes = 0;
  for (size_t n : sizes)
    bytes = n > bytes ? n : bytes;
  return bytes;
}

extern "C" int kiln_conv2d_f32(const KilnConv2d *g, const float *x, const float *w, const float *bias, float *y,
                               void *ws, size_t wsBytes) {
  int64_t outH, outW;
  if (!geometry(g, outH, outW) || (g->batch > 0 && (!x || !w || !y)))
    return KILN_KERNELS_BAD_ARGS;
  return run(forwardShape(*g, outH, outW), ws, wsBytes, forwardBody, ConvJob{g, outH, outW, x, w, nullptr, bias, y, nullptr});
}

extern "C" int kiln_conv2d_backprop_input_f32(const KilnConv2d *g, const float *dy, const float *w, float *dx,
                                              void *ws, size_t wsBytes) {
  int64_t outH, outW;
  if (!geometry(g, outH, outW) || (g->batch > 0 && (!dy || !w || !dx)))
    return KILN_KERNELS_BAD_ARGS;
  const GemmShape chunk = chunkShape(*g, outH, outW);
  const ConvJob job{g, outH, outW, dy, w, nullptr, nullptr, dx, nullptr};
  return runParts(g->batch, chunk, chunk.m * chunk.n, ws, wsBytes, backpropInputBody, &job)
             ? KILN_KERNELS_OK
             : KILN_KERNELS_SMALL_WORKSPACE;
}

extern "C" int kiln_conv2d_backprop_filter_f32(const KilnConv2d *g, const float *x, const float *dy, float *dw,
                                               float *db, void *ws, size_t wsBytes) {
  int64_t outH, outW;
  if (!geometry(g, outH, outW) || !dw || (g->batch > 0 && (!x || !dy)))
    return KILN_KERNELS_BAD_ARGS;
  return run(backpropFilterShape(*g, outH, outW, db != nullptr), ws, wsBytes, backpropFilterBody,
             ConvJob{g, outH, outW, x, nullptr, dy, nullptr, dw, db});
}
