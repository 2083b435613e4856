//===- KernelsCudaTest.cpp - kernels/cuda under the emulator vs kernels/cpu ===//
//
// Runs every phase of kiln::cuda's plans (and every tile / split variant
// directly) with the CPU emulator of kernels/cuda/Emulate.h and compares the
// results with kernels/cpu. Errors are measured against each output's sum of
// |terms| (from the CPU kernel run on absolute values):
//   FP32  1e-5, TF32 2^-10 + 1e-5, BF16 2^-7 + 1e-5
// (rounding both operands to TF32 / BF16 moves a product by at most 2^-10 /
// 2^-7 of its magnitude; activations are 1-Lipschitz). This checks the
// device code's logic and numerics, not the GPU: see kernels/cuda/README.md.
//
//===----------------------------------------------------------------------===//
#include "kernels/cuda/Emulate.h"
// Emulate.h first: it makes the device header host C++.
#include "kernels/cuda/kiln_cuda_kernels.cuh"

#include "kernels/cpu/Kernels.h"
#include "kernels/cuda/Plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace kiln::cuda {
// Test names: "Precision::TF32" rather than the parameter's bytes.
inline void PrintTo(Precision p, std::ostream *os) {
  *os << (p == Precision::F32 ? "Precision::F32" : p == Precision::TF32 ? "Precision::TF32" : "Precision::BF16");
}
} // namespace kiln::cuda

namespace {

using kiln::cuda::ConvKind;
using kiln::cuda::KernelPlan;
using kiln::cuda::Phase;
using kiln::cuda::Precision;
using Floats = std::vector<float>;

static_assert(sizeof(kiln::cuda::Gemm) == sizeof(KilnGemm), "descriptor layouts differ");
static_assert(sizeof(kiln::cuda::Gemm) == sizeof(kiln_cuda::Gemm), "descriptor layouts differ");
static_assert(sizeof(kiln::cuda::Conv2d) == sizeof(KilnConv2d), "descriptor layouts differ");
static_assert(sizeof(kiln::cuda::Conv2d) == sizeof(kiln_cuda::Conv2d), "descriptor layouts differ");

template <class To, class From> To cast(const From &f) {
  To t;
  std::memcpy(&t, &f, sizeof t);
  return t;
}

// ---- Phase registry: every instantiation Plan.cpp can name ----

struct Args {
  const void *desc;
  const float *in0, *in1, *in2; // gemm: a b bias; fwd: x w bias; bwd input: dy w; bwd filter: x dy
  float *out0, *out1, *ws;      // gemm: c; fwd: y; bwd input: dx; bwd filter: dw db
};
using Fn = void (*)(const Args &);

#define G(a) (*static_cast<const kiln_cuda::Gemm *>((a).desc))
#define C(a) (*static_cast<const kiln_cuda::Conv2d *>((a).desc))
#define REG_GEMM(P, T, S)                                                                          \
  r["kiln_cuda::gemm_" #P "<" #T ", " #S ">"] = [](const Args &a) {                               \
    kiln_cuda::gemm_##P<T, S>(G(a), a.in0, a.in1, a.in2, a.out0, a.ws);                           \
  };
#define REG_FILTER(P, T, S)                                                                        \
  r["kiln_cuda::conv2d_backprop_filter_" #P "<" #T ", " #S ">"] = [](const Args &a) {             \
    kiln_cuda::conv2d_backprop_filter_##P<T, S>(C(a), a.in0, a.in1, a.out0, a.out1, a.ws);        \
  };
#define REG_SPLITS(M, P, T)                                                                        \
  M(P, T, 1) M(P, T, 2) M(P, T, 4) M(P, T, 8) M(P, T, 16) M(P, T, 32) M(P, T, 64)
#define REG_CONV(P, T)                                                                             \
  r["kiln_cuda::conv2d_forward_" #P "<" #T ">"] = [](const Args &a) {                             \
    kiln_cuda::conv2d_forward_##P<T>(C(a), a.in0, a.in1, a.in2, a.out0, a.ws);                    \
  };                                                                                               \
  r["kiln_cuda::conv2d_backprop_input_" #P "<" #T ">"] = [](const Args &a) {                      \
    kiln_cuda::conv2d_backprop_input_##P<T>(C(a), a.in0, a.in1, a.out0, a.ws);                    \
  };                                                                                               \
  REG_SPLITS(REG_GEMM, P, T) REG_SPLITS(REG_FILTER, P, T)
#define REG_REDUCE(S)                                                                              \
  r["kiln_cuda::gemm_splitk_reduce<" #S ">"] = [](const Args &a) {                                \
    kiln_cuda::gemm_splitk_reduce<S>(G(a), a.in0, a.in1, a.in2, a.out0, a.ws);                    \
  };                                                                                               \
  r["kiln_cuda::conv2d_backprop_filter_reduce<" #S ">"] = [](const Args &a) {                     \
    kiln_cuda::conv2d_backprop_filter_reduce<S>(C(a), a.in0, a.in1, a.out0, a.out1, a.ws);        \
  };

const std::map<std::string, Fn> &registry() {
  static const std::map<std::string, Fn> reg = [] {
    std::map<std::string, Fn> r;
    REG_CONV(f32, 32) REG_CONV(f32, 64) REG_CONV(f32, 128)
    REG_CONV(tf32, 64) REG_CONV(tf32, 128)
    REG_CONV(bf16, 64) REG_CONV(bf16, 128)
    REG_REDUCE(1) REG_REDUCE(2) REG_REDUCE(4) REG_REDUCE(8) REG_REDUCE(16) REG_REDUCE(32)
    REG_REDUCE(64)
    return r;
  }();
  return reg;
}

// Runs phases in order, as one stream would; the workspace starts as NaN so
// a read of anything no phase wrote shows.
void runPhases(const std::vector<Phase> &phases, uint64_t wsBytes, Args args) {
  Floats ws(wsBytes / sizeof(float) + 1, NAN);
  args.ws = wsBytes ? ws.data() : nullptr;
  for (const Phase &ph : phases) {
    const auto it = registry().find(ph.function);
    ASSERT_NE(it, registry().end()) << "no phase function " << ph.function;
    ASSERT_GT(ph.grid[0] * ph.grid[1] * ph.grid[2], 0u);
    ASSERT_LE(ph.grid[1], 65535u);
    ASSERT_LE(ph.grid[2], 65535u);
    const Fn fn = it->second;
    kiln_cuda_emu::launch(dim3(ph.grid[0], ph.grid[1], ph.grid[2]),
                          dim3(ph.block[0], ph.block[1], ph.block[2]), [&] { fn(args); });
  }
}

// ---- Data and checking ----

Floats randoms(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  Floats v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}
Floats absolute(Floats v) {
  for (float &x : v)
    x = std::fabs(x);
  return v;
}

double epsilon(Precision p) {
  switch (p) {
  case Precision::F32:
    return 1e-5;
  case Precision::TF32:
    return std::ldexp(1.0, -10) + 1e-5;
  case Precision::BF16:
    return std::ldexp(1.0, -7) + 1e-5;
  }
  return 0;
}
const char *precisionName(Precision p) {
  return p == Precision::F32 ? "f32" : p == Precision::TF32 ? "tf32" : "bf16";
}

// The worst |got - want| / (scale + 1e-6) per precision over the whole run,
// printed at the end.
std::map<std::string, double> &worst() {
  static std::map<std::string, double> w;
  return w;
}
struct Summary : testing::Environment {
  void TearDown() override {
    for (auto &[k, v] : worst())
      std::printf("[ summary  ] %-28s max |err| / sum|terms| = %.3g\n", k.c_str(), v);
  }
};
const auto *const summary = testing::AddGlobalTestEnvironment(new Summary);

// got vs want, each within eps * scale (+ 1e-6 for the activations'
// approximations on the CPU side). Only elements where mask is set.
void expectClose(const Floats &got, const Floats &want, const Floats &scale, Precision p,
                 const std::string &what, const std::string &group) {
  ASSERT_EQ(got.size(), want.size());
  const double eps = epsilon(p);
  double maxRatio = 0;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - double(want[i]));
    const double bound = eps * scale[i] + 1e-6;
    maxRatio = std::max(maxRatio, err / (scale[i] + 1e-6));
    if (!(err <= bound) && bad++ < 5)
      ADD_FAILURE() << what << ": element " << i << " got " << got[i] << " want " << want[i]
                    << " (scale " << scale[i] << ")";
  }
  double &w = worst()[group + " " + precisionName(p)];
  w = std::max(w, maxRatio);
}

// ---- GEMM ----

struct GemmCase {
  int64_t m, n, k;
  bool ta, tb, accumulate, bias;
  int act;
};

// Operands with leading dimensions 3 past the minimum and data starting one
// float into each buffer (only 4-byte alignment).
struct GemmData {
  kiln::cuda::Gemm g;
  Floats a, b, bias, c0;
  GemmData(const GemmCase &t, uint32_t seed) {
    const int64_t rowsA = t.ta ? t.k : t.m, colsA = t.ta ? t.m : t.k;
    const int64_t rowsB = t.tb ? t.n : t.k, colsB = t.tb ? t.k : t.n;
    g = {t.m, t.n, t.k, colsA + 3, colsB + 3, t.n + 3, t.ta, t.tb, t.accumulate, t.act};
    a = randoms(1 + rowsA * g.lda, seed);
    b = randoms(1 + rowsB * g.ldb, seed + 1);
    bias = randoms(1 + t.n, seed + 2);
    c0 = randoms(1 + t.m * g.ldc, seed + 3);
  }
};

Floats cpuGemm(const kiln::cuda::Gemm &g, const Floats &a, const Floats &b, const float *bias,
               const Floats &c0) {
  const KilnGemm cg = cast<KilnGemm>(g);
  Floats c = c0, ws(kiln_gemm_workspace_bytes(&cg, 1) / sizeof(float) + 1);
  EXPECT_EQ(kiln_gemm_f32(&cg, a.data() + 1, b.data() + 1, bias, c.data() + 1, ws.data(),
                          ws.size() * sizeof(float)),
            KILN_KERNELS_OK);
  return c;
}

// Runs phases (a plan's or chosen by hand) on a GEMM case and checks C,
// including that the padding between rows is untouched.
void checkGemm(const GemmCase &t, Precision p, const std::vector<Phase> &phases, uint64_t wsBytes,
               const std::string &group) {
  SCOPED_TRACE(testing::Message() << "gemm " << t.m << "x" << t.n << "x" << t.k << " ta=" << t.ta
                                  << " tb=" << t.tb << " acc=" << t.accumulate << " bias=" << t.bias
                                  << " act=" << t.act << " " << precisionName(p) << " "
                                  << (phases.empty() ? "-" : phases[0].function));
  GemmData d(t, 1234 + uint32_t(t.m * 7 + t.n * 3 + t.k));
  const float *bias = t.bias ? d.bias.data() + 1 : nullptr;
  const Floats want = cpuGemm(d.g, d.a, d.b, bias, d.c0);
  // sum of |terms|: |A||B| + |C0| (accumulate) + |bias|
  kiln::cuda::Gemm ga = d.g;
  ga.accumulate = 1;
  ga.activation = 0;
  Floats scale0 = d.c0;
  for (int64_t i = 0; i < t.m; ++i)
    for (int64_t j = 0; j < t.n; ++j) {
      float &s = scale0[1 + i * d.g.ldc + j];
      s = (t.accumulate ? std::fabs(s) : 0.0f) + (bias ? std::fabs(bias[j]) : 0.0f);
    }
  const Floats scale = cpuGemm(ga, absolute(d.a), absolute(d.b), nullptr, scale0);

  Floats got = d.c0;
  const kiln_cuda::Gemm dg = cast<kiln_cuda::Gemm>(d.g);
  runPhases(phases, wsBytes, Args{&dg, d.a.data() + 1, d.b.data() + 1, bias, got.data() + 1});
  // Outside the m x n window nothing may change.
  Floats gotIn(got.size(), 0), wantIn(got.size(), 0), scaleIn(got.size(), 0);
  for (size_t e = 0; e < got.size(); ++e) {
    const int64_t i = (int64_t(e) - 1) / d.g.ldc, j = (int64_t(e) - 1) % d.g.ldc;
    if (e == 0 || j >= t.n || i >= t.m) {
      EXPECT_EQ(got[e], d.c0[e]) << "wrote outside C at " << e;
      continue;
    }
    gotIn[e] = got[e], wantIn[e] = want[e], scaleIn[e] = scale[e];
  }
  expectClose(gotIn, wantIn, scaleIn, p, "gemm", group);
}

void checkGemmPlan(const GemmCase &t, Precision p, const std::string &group) {
  GemmData d(t, 0);
  const KernelPlan plan = kiln::cuda::planGemm(d.g, p);
  ASSERT_FALSE(plan.phases.empty());
  checkGemm(t, p, plan.phases, plan.workspaceBytes, group);
}

class CudaKernels : public testing::TestWithParam<Precision> {};

TEST_P(CudaKernels, GemmShapesAndTransposes) {
  const int64_t shapes[][3] = {{1, 1, 1}, {17, 33, 65}, {64, 10, 128}, {100, 70, 40}, {300, 200, 50}};
  for (const auto &s : shapes)
    for (int tr = 0; tr < 4; ++tr)
      checkGemmPlan({s[0], s[1], s[2], bool(tr & 1), bool(tr & 2), false, false, 0}, GetParam(),
                    "gemm");
}

TEST_P(CudaKernels, GemmLongK) {
  // Split-K: few output tiles, K = 9216.
  checkGemmPlan({128, 64, 9216, false, false, false, true, 0}, GetParam(), "gemm long-k");
  checkGemmPlan({128, 64, 9216, true, false, true, false, 0}, GetParam(), "gemm long-k");
  checkGemmPlan({20, 10, 5000, false, true, true, true, 1}, GetParam(), "gemm long-k");
}

TEST_P(CudaKernels, GemmEpilogues) {
  for (int act = 0; act < 4; ++act)
    for (int acc = 0; acc < 2; ++acc) {
      checkGemmPlan({17, 33, 65, false, false, bool(acc), true, act}, GetParam(), "gemm epilogue");
      checkGemmPlan({70, 96, 48, true, true, bool(acc), true, act}, GetParam(), "gemm epilogue");
    }
  // k == 0: act((C or 0) + bias)
  for (int acc = 0; acc < 2; ++acc) {
    checkGemmPlan({5, 7, 0, false, false, bool(acc), true, 2}, GetParam(), "gemm k=0");
    checkGemmPlan({40, 40, 0, false, false, bool(acc), false, 1}, GetParam(), "gemm k=0");
  }
}

INSTANTIATE_TEST_SUITE_P(Precisions, CudaKernels,
                         testing::Values(Precision::F32, Precision::TF32, Precision::BF16),
                         [](const testing::TestParamInfo<Precision> &i) {
                           return std::string(precisionName(i.param));
                         });

// Every tile and precision directly (not only what the planner picks), with
// a clipped grid (blocks loop over tiles) and with more splits than K needs
// (empty splits must still write zeros).
TEST(CudaKernelsPhases, EveryGemmVariant) {
  const struct {
    const char *prec;
    Precision p;
    std::vector<int> tiles;
  } variants[] = {{"f32", Precision::F32, {32, 64, 128}},
                  {"tf32", Precision::TF32, {64, 128}},
                  {"bf16", Precision::BF16, {64, 128}}};
  const GemmCase t{150, 70, 77, true, false, true, true, 1};
  for (const auto &v : variants)
    for (int tile : v.tiles)
      for (int splits : {1, 4}) {
        const unsigned threads = v.p == Precision::F32 ? 256 : tile == 128 ? 256 : 128;
        const std::string suffix = "<" + std::to_string(tile) + ", " + std::to_string(splits) + ">";
        std::vector<Phase> phases;
        phases.push_back({std::string("kiln_cuda::gemm_") + v.prec + suffix, {2, 1, unsigned(splits)},
                          {threads, 1, 1}});
        uint64_t ws = 0;
        if (splits > 1) {
          phases.push_back({"kiln_cuda::gemm_splitk_reduce<" + std::to_string(splits) + ">",
                            {3, 1, 1}, {256, 1, 1}});
          ws = uint64_t(splits) * t.m * t.n * sizeof(float);
        }
        checkGemm(t, v.p, phases, ws, "gemm variants");
      }
}

// The tensor-core phases really round their operands: 1 + 2^-12 is 1 in
// TF32 and BF16, so a sum of 32 such products is exactly 32 there.
TEST(CudaKernelsPhases, TensorCoresRoundOperands) {
  const kiln::cuda::Gemm g{64, 64, 32, 32, 64, 64, 0, 0, 0, 0};
  const Floats a(64 * 32, 1.0f + std::ldexp(1.0f, -12)), b(32 * 64, 1.0f);
  for (Precision p : {Precision::F32, Precision::TF32, Precision::BF16}) {
    const KernelPlan plan = kiln::cuda::planGemm(g, p);
    Floats c(64 * 64, NAN);
    const kiln_cuda::Gemm dg = cast<kiln_cuda::Gemm>(g);
    runPhases(plan.phases, plan.workspaceBytes, Args{&dg, a.data(), b.data(), nullptr, c.data()});
    const float want = p == Precision::F32 ? 32.0f * (1.0f + std::ldexp(1.0f, -12)) : 32.0f;
    for (float v : c)
      ASSERT_EQ(v, want) << precisionName(p) << " " << plan.phases[0].function;
  }
}

// ---- Convolutions ----

struct ConvCase {
  const char *name;
  kiln::cuda::Conv2d g;
};

int64_t outH(const kiln::cuda::Conv2d &g) {
  return (g.in_h + g.pad_top + g.pad_bottom - g.kernel_h) / g.stride_h + 1;
}
int64_t outW(const kiln::cuda::Conv2d &g) {
  return (g.in_w + g.pad_left + g.pad_right - g.kernel_w) / g.stride_w + 1;
}

// {batch, in_h, in_w, in_c, out_c, kh, kw, sh, sw, pt, pl, pb, pr, accumulate, activation}
const ConvCase kConvCases[] = {
    {"mnist conv1", {2, 28, 28, 1, 32, 3, 3, 1, 1, 0, 0, 0, 0, 0, 1}},
    {"mnist conv1 b4", {4, 28, 28, 1, 32, 3, 3, 1, 1, 0, 0, 0, 0, 0, 0}},
    {"mnist conv2", {2, 13, 13, 32, 64, 3, 3, 1, 1, 0, 0, 0, 0, 0, 1}},
    {"same", {2, 9, 9, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 3}},
    {"stride 2", {3, 11, 10, 3, 8, 3, 3, 2, 2, 1, 1, 1, 1, 0, 2}},
    {"asymmetric", {2, 8, 7, 4, 6, 2, 3, 2, 1, 0, 1, 1, 2, 1, 0}},
    {"stride 3 gaps", {2, 10, 9, 3, 5, 2, 2, 3, 3, 0, 0, 0, 0, 0, 0}},
    {"wide", {2, 12, 12, 40, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}},
};

struct ConvData {
  kiln::cuda::Conv2d g;
  size_t xn, wn, yn;
  Floats x, w, bias, y0, dy, dx0, dw0, db0;
  explicit ConvData(const kiln::cuda::Conv2d &g_, uint32_t seed) : g(g_) {
    xn = size_t(g.batch * g.in_h * g.in_w * g.in_c);
    wn = size_t(g.kernel_h * g.kernel_w * g.in_c * g.out_c);
    yn = size_t(g.batch * outH(g) * outW(g) * g.out_c);
    x = randoms(xn + 1, seed), w = randoms(wn + 1, seed + 1), bias = randoms(g.out_c + 1, seed + 2);
    y0 = randoms(yn + 1, seed + 3), dy = randoms(yn + 1, seed + 4), dx0 = randoms(xn + 1, seed + 5);
    dw0 = randoms(wn + 1, seed + 6), db0 = randoms(g.out_c + 1, seed + 7);
  }
  Floats cpuWs() const {
    const KilnConv2d cg = cast<KilnConv2d>(g);
    return Floats(kiln_conv2d_workspace_bytes(&cg, 1) / sizeof(float) + 1);
  }
};

// |initial| where accumulating, else 0: the scale's starting value.
Floats initialScale(const Floats &v, bool accumulate) {
  Floats s = absolute(v);
  if (!accumulate)
    std::fill(s.begin(), s.end(), 0.0f);
  return s;
}

void checkConv(ConvKind kind, const ConvCase &c, const kiln::cuda::Conv2d &g, Precision p,
               bool withBias, bool withDb) {
  SCOPED_TRACE(testing::Message() << c.name << " kind=" << int(kind) << " acc=" << g.accumulate
                                  << " act=" << g.activation << " bias/db=" << (withBias || withDb)
                                  << " " << precisionName(p));
  ConvData d(g, 99 + uint32_t(g.in_h * 13 + g.out_c));
  const KernelPlan plan = kiln::cuda::planConv2d(kind, g, p);
  ASSERT_FALSE(plan.phases.empty());
  const KilnConv2d cg = cast<KilnConv2d>(g);
  KilnConv2d ca = cg; // for the scales: accumulate |initial|, no activation
  ca.accumulate = 1;
  ca.activation = 0;
  Floats cws = d.cpuWs();
  const size_t cwsBytes = cws.size() * sizeof(float);
  const kiln_cuda::Conv2d dg = cast<kiln_cuda::Conv2d>(g);
  const std::string group = std::string("conv ") +
                            (kind == ConvKind::Forward         ? "forward"
                             : kind == ConvKind::BackpropInput ? "backprop-input"
                                                               : "backprop-filter");
  switch (kind) {
  case ConvKind::Forward: {
    const float *bias = withBias ? d.bias.data() + 1 : nullptr;
    Floats want = d.y0, got = d.y0, scale = initialScale(d.y0, g.accumulate);
    if (bias)
      for (size_t e = 0; e < d.yn; ++e)
        scale[1 + e] += std::fabs(bias[e % g.out_c]);
    ASSERT_EQ(kiln_conv2d_f32(&cg, d.x.data() + 1, d.w.data() + 1, bias, want.data() + 1,
                              cws.data(), cwsBytes),
              KILN_KERNELS_OK);
    ASSERT_EQ(kiln_conv2d_f32(&ca, absolute(d.x).data() + 1, absolute(d.w).data() + 1, nullptr,
                              scale.data() + 1, cws.data(), cwsBytes),
              KILN_KERNELS_OK);
    runPhases(plan.phases, plan.workspaceBytes,
              Args{&dg, d.x.data() + 1, d.w.data() + 1, bias, got.data() + 1});
    expectClose(got, want, scale, p, "y", group);
    break;
  }
  case ConvKind::BackpropInput: {
    Floats want = d.dx0, got = d.dx0, scale = initialScale(d.dx0, g.accumulate);
    ASSERT_EQ(kiln_conv2d_backprop_input_f32(&cg, d.dy.data() + 1, d.w.data() + 1, want.data() + 1,
                                             cws.data(), cwsBytes),
              KILN_KERNELS_OK);
    ASSERT_EQ(kiln_conv2d_backprop_input_f32(&ca, absolute(d.dy).data() + 1,
                                             absolute(d.w).data() + 1, scale.data() + 1, cws.data(),
                                             cwsBytes),
              KILN_KERNELS_OK);
    runPhases(plan.phases, plan.workspaceBytes,
              Args{&dg, d.dy.data() + 1, d.w.data() + 1, nullptr, got.data() + 1});
    expectClose(got, want, scale, p, "dx", group);
    break;
  }
  case ConvKind::BackpropFilter: {
    Floats wantW = d.dw0, gotW = d.dw0, scaleW = initialScale(d.dw0, g.accumulate);
    Floats wantB = d.db0, gotB = d.db0, scaleB = initialScale(d.db0, g.accumulate);
    ASSERT_EQ(kiln_conv2d_backprop_filter_f32(&cg, d.x.data() + 1, d.dy.data() + 1,
                                              wantW.data() + 1, withDb ? wantB.data() + 1 : nullptr,
                                              cws.data(), cwsBytes),
              KILN_KERNELS_OK);
    ASSERT_EQ(kiln_conv2d_backprop_filter_f32(&ca, absolute(d.x).data() + 1,
                                              absolute(d.dy).data() + 1, scaleW.data() + 1,
                                              scaleB.data() + 1, cws.data(), cwsBytes),
              KILN_KERNELS_OK);
    runPhases(plan.phases, plan.workspaceBytes,
              Args{&dg, d.x.data() + 1, d.dy.data() + 1, nullptr, gotW.data() + 1,
                   withDb ? gotB.data() + 1 : nullptr});
    expectClose(gotW, wantW, scaleW, p, "dw", group);
    if (withDb)
      expectClose(gotB, wantB, scaleB, p, "db", group);
    else
      EXPECT_EQ(gotB, d.db0) << "db written though null";
    break;
  }
  }
}

TEST_P(CudaKernels, ConvForward) {
  for (const ConvCase &c : kConvCases) {
    checkConv(ConvKind::Forward, c, c.g, GetParam(), true, false);
    kiln::cuda::Conv2d g = c.g;
    g.accumulate = !g.accumulate;
    g.activation = (g.activation + 1) % 4;
    checkConv(ConvKind::Forward, c, g, GetParam(), false, false);
  }
}

TEST_P(CudaKernels, ConvBackpropInput) {
  for (const ConvCase &c : kConvCases) {
    kiln::cuda::Conv2d g = c.g;
    for (int acc = 0; acc < 2; ++acc) {
      g.accumulate = acc;
      checkConv(ConvKind::BackpropInput, c, g, GetParam(), false, false);
    }
  }
}

TEST_P(CudaKernels, ConvBackpropFilter) {
  for (const ConvCase &c : kConvCases) {
    kiln::cuda::Conv2d g = c.g;
    for (int acc = 0; acc < 2; ++acc) {
      g.accumulate = acc;
      checkConv(ConvKind::BackpropFilter, c, g, GetParam(), false, acc == 0);
      if (acc == 1)
        checkConv(ConvKind::BackpropFilter, c, g, GetParam(), false, true);
    }
  }
  // Split-K on the tensor-core phases: K = 9 * 11 * 11 = 1089.
  const ConvCase big{"mnist conv2 b9", {9, 13, 13, 32, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 0}};
  checkConv(ConvKind::BackpropFilter, big, big.g, GetParam(), false, true);
}

// ---- Plans ----

TEST(CudaPlans, ShapesAndLimits) {
  using namespace kiln::cuda;
  // MNIST conv1's filter gradient at batch 64: K = 43264 over a single tile.
  const Conv2d conv1{64, 28, 28, 1, 32, 3, 3, 1, 1, 0, 0, 0, 0, 0, 0};
  KernelPlan p = planConv2d(ConvKind::BackpropFilter, conv1, Precision::TF32);
  ASSERT_EQ(p.phases.size(), 2u);
  EXPECT_EQ(p.phases[0].function, "kiln_cuda::conv2d_backprop_filter_f32<32, 64>");
  EXPECT_EQ(p.phases[1].function, "kiln_cuda::conv2d_backprop_filter_reduce<64>");
  EXPECT_EQ(p.workspaceBytes, 64u * 10 * 32 * 4);
  // A big forward conv on tensor cores, large tiles, no workspace.
  const Conv2d conv2{64, 13, 13, 32, 64, 3, 3, 1, 1, 0, 0, 0, 0, 0, 1};
  p = planConv2d(ConvKind::Forward, conv2, Precision::BF16);
  ASSERT_EQ(p.phases.size(), 1u);
  EXPECT_EQ(p.phases[0].function, "kiln_cuda::conv2d_forward_bf16<64>");
  EXPECT_EQ(p.workspaceBytes, 0u);
  EXPECT_EQ(p.phases[0].block[0], 128u);
  // Grid limits: N tiles beyond 65535 are clipped (blocks loop over tiles).
  const Gemm wide{1, int64_t(1) << 23, 1, 1, int64_t(1) << 23, int64_t(1) << 23, 0, 0, 0, 0};
  p = planGemm(wide, Precision::F32);
  ASSERT_EQ(p.phases.size(), 1u);
  EXPECT_LE(p.phases[0].grid[1], 65535u);
  // Empty outputs: nothing to launch.
  EXPECT_TRUE(planGemm(Gemm{0, 5, 5, 5, 5, 5, 0, 0, 0, 0}, Precision::F32).phases.empty());
  EXPECT_STREQ(kernelsHeaderName(), "kiln_cuda_kernels.cuh");
  EXPECT_NE(std::string(kernelsSource()).find("namespace kiln_cuda"), std::string::npos);
}

} // namespace
