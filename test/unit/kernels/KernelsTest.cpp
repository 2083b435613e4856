//===- KernelsTest.cpp - kernels/cpu against naive double loops -----------===//
//
// Every kernel on every instruction set this CPU runs (others skip, saying
// so), over odd shapes, transposes, epilogues and conv geometries; and
// bit-identical results whatever the threads and the order chunks run in.
// Errors are measured against sum |a||b| of each output element.
//
//===----------------------------------------------------------------------===//
#include "kernels/cpu/Kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Floats = std::vector<float>;

// ---- Reference maths and checking ----

double activate(int act, double v) {
  switch (act) {
  case KILN_ACT_RELU:
    return v < 0 ? 0 : v;
  case KILN_ACT_SIGMOID:
    return 1 / (1 + std::exp(-v));
  case KILN_ACT_TANH:
    return std::tanh(v);
  default:
    return v;
  }
}

// Expected values of a linear kernel: the exact sum, and sum |terms| (which
// bounds how far float rounding may take the kernel from it).
struct Expected {
  std::vector<double> value, scale;
  explicit Expected(size_t n) : value(n, 0.0), scale(n, 0.0) {}
  void add(size_t i, double a, double b) { value[i] += a * b, scale[i] += std::fabs(a * b); }
};

// out = act(initial + sum + bias) within 1e-5 of the terms' scale.
void expectClose(const Expected &e, const Floats &initial, bool accumulate, const float *bias, int64_t cols,
                 int act, const Floats &got, const std::string &what) {
  ASSERT_EQ(got.size(), e.value.size());
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 5; ++i) {
    double pre = e.value[i], scale = e.scale[i];
    if (accumulate)
      pre += initial[i], scale += std::fabs(initial[i]);
    if (bias)
      pre += bias[i % cols], scale += std::fabs(bias[i % cols]);
    const double want = activate(act, pre);
    const double tol = 1e-5 * scale + 1e-6 * std::fabs(want) + 1e-30;
    if (!(std::fabs(got[i] - want) <= tol)) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", want " << want << " (tolerance " << tol
                    << ")";
      ++bad;
    }
  }
}

Floats randomFloats(std::mt19937 &rng, size_t n) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Floats v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

// A workspace deliberately off 64-byte alignment.
struct Workspace {
  std::vector<char> bytes;
  explicit Workspace(size_t n) : bytes(n + 4) {}
  void *data() { return bytes.data() + 4; }
  size_t size() const { return bytes.size() - 4; }
};

// ---- Parallel hooks: the kernels must not care how chunks run ----

void reverseFor(void *, int64_t n, KilnParallelBody body, void *arg) {
  for (int64_t i = n - 1; i >= 0; --i)
    body(arg, i, i + 1);
}

// Random cut points, chunks run in random order.
void shuffledFor(void *ctx, int64_t n, KilnParallelBody body, void *arg) {
  auto &rng = *static_cast<std::mt19937 *>(ctx);
  std::vector<std::pair<int64_t, int64_t>> chunks;
  for (int64_t b = 0; b < n;) {
    const int64_t e = std::min<int64_t>(n, b + 1 + rng() % 3);
    chunks.push_back({b, e});
    b = e;
  }
  std::shuffle(chunks.begin(), chunks.end(), rng);
  for (auto [b, e] : chunks)
    body(arg, b, e);
}

void threadFor(void *, int64_t n, KilnParallelBody body, void *arg) {
  std::vector<std::thread> threads;
  for (int64_t i = 0; i < n; ++i)
    threads.emplace_back([=] { body(arg, i, i + 1); });
  for (auto &t : threads)
    t.join();
}

struct HookCase {
  const char *name;
  KilnParallelFor pf;
  int64_t threads;
};
const HookCase kHooks[] = {{"reverse/2", reverseFor, 2}, {"reverse/3", reverseFor, 3},
                           {"shuffled/4", shuffledFor, 4}, {"shuffled/7", shuffledFor, 7},
                           {"threads/2", threadFor, 2},   {"threads/5", threadFor, 5}};
constexpr int64_t kMaxThreads = 7;

// ---- GEMM ----

struct GemmCase {
  int64_t m, n, k;
  bool transA = false, transB = false, accumulate = false, bias = false;
  int act = KILN_ACT_NONE;
  int64_t pad = 0; // extra leading-dimension elements
};

struct GemmData {
  KilnGemm g;
  Floats a, b, c0, bias;
  GemmData(const GemmCase &t, std::mt19937 &rng) {
    g = {t.m, t.n, t.k, 0, 0, 0, t.transA, t.transB, t.accumulate, t.act};
    g.lda = std::max<int64_t>(1, t.transA ? t.m : t.k) + t.pad;
    g.ldb = std::max<int64_t>(1, t.transB ? t.k : t.n) + t.pad;
    g.ldc = t.n + t.pad;
    a = randomFloats(rng, size_t((t.transA ? t.k : t.m) * g.lda));
    b = randomFloats(rng, size_t((t.transB ? t.n : t.k) * g.ldb));
    c0 = randomFloats(rng, size_t(t.m * g.ldc));
    if (t.bias)
      bias = randomFloats(rng, size_t(t.n));
  }
  Floats run(int64_t maxThreads = 1) const {
    Floats c = c0;
    Workspace ws(kiln_gemm_workspace_bytes(&g, maxThreads));
    EXPECT_EQ(kiln_gemm_f32(&g, a.data(), b.data(), bias.empty() ? nullptr : bias.data(), c.data(), ws.data(),
                            ws.size()),
              KILN_KERNELS_OK);
    return c;
  }
  // Checks the m x n block; padding columns must be untouched.
  void check(const Floats &c, const std::string &what) const {
    Expected e(size_t(g.m * g.n));
    Floats initial(e.value.size()), got(e.value.size());
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        const size_t o = size_t(i * g.n + j);
        for (int64_t p = 0; p < g.k; ++p)
          e.add(o, g.trans_a ? a[p * g.lda + i] : a[i * g.lda + p], g.trans_b ? b[j * g.ldb + p] : b[p * g.ldb + j]);
        initial[o] = c0[i * g.ldc + j];
        got[o] = c[i * g.ldc + j];
      }
    expectClose(e, initial, g.accumulate, bias.empty() ? nullptr : bias.data(), g.n, int(g.activation), got, what);
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = g.n; j < g.ldc; ++j)
        ASSERT_EQ(c[i * g.ldc + j], c0[i * g.ldc + j]) << what << ": wrote padding";
  }
};

std::string describe(const GemmCase &t) {
  return "gemm " + std::to_string(t.m) + "x" + std::to_string(t.n) + "x" + std::to_string(t.k) +
         (t.transA ? " A^T" : "") + (t.transB ? " B^T" : "") + (t.accumulate ? " +=" : "") + (t.bias ? " bias" : "") +
         " act " + std::to_string(t.act) + " pad " + std::to_string(t.pad);
}

// ---- Convolution ----

struct ConvCase {
  int64_t batch, h, w, inC, outC, kh, kw, sh, sw;
  int64_t pt, pl, pb, pr;
  bool accumulate = false, bias = false;
  int act = KILN_ACT_NONE;
};

// Keras 'same' padding for one dimension (the extra pixel goes after).
void samePad(int64_t in, int64_t k, int64_t s, int64_t &before, int64_t &after) {
  const int64_t out = (in + s - 1) / s, total = std::max<int64_t>(0, (out - 1) * s + k - in);
  before = total / 2, after = total - before;
}

ConvCase same(int64_t batch, int64_t h, int64_t w, int64_t inC, int64_t outC, int64_t kh, int64_t kw, int64_t sh,
              int64_t sw) {
  ConvCase c{batch, h, w, inC, outC, kh, kw, sh, sw, 0, 0, 0, 0};
  samePad(h, kh, sh, c.pt, c.pb);
  samePad(w, kw, sw, c.pl, c.pr);
  return c;
}

ConvCase valid(int64_t batch, int64_t h, int64_t w, int64_t inC, int64_t outC, int64_t kh, int64_t kw, int64_t sh,
               int64_t sw) {
  return {batch, h, w, inC, outC, kh, kw, sh, sw, 0, 0, 0, 0};
}

std::string describe(const ConvCase &t) {
  auto s = [](int64_t v) { return std::to_string(v); };
  return "conv n" + s(t.batch) + " " + s(t.h) + "x" + s(t.w) + "x" + s(t.inC) + " -> " + s(t.outC) + " k" + s(t.kh) +
         "x" + s(t.kw) + " s" + s(t.sh) + "x" + s(t.sw) + " pad " + s(t.pt) + "," + s(t.pl) + "," + s(t.pb) + "," +
         s(t.pr) + (t.accumulate ? " +=" : "") + (t.bias ? " bias" : "") + " act " + s(t.act);
}

struct ConvData {
  KilnConv2d g;
  int64_t oh, ow;
  Floats x, w, y0, dy, dx0, dw0, db0, bias;
  ConvData(const ConvCase &t, std::mt19937 &rng) {
    g = {t.batch, t.h, t.w, t.inC, t.outC, t.kh, t.kw, t.sh, t.sw, t.pt, t.pl, t.pb, t.pr, t.accumulate, t.act};
    oh = (t.h + t.pt + t.pb - t.kh) / t.sh + 1;
    ow = (t.w + t.pl + t.pr - t.kw) / t.sw + 1;
    x = randomFloats(rng, size_t(t.batch * t.h * t.w * t.inC));
    w = randomFloats(rng, size_t(t.kh * t.kw * t.inC * t.outC));
    y0 = randomFloats(rng, size_t(t.batch * oh * ow * t.outC));
    dy = randomFloats(rng, y0.size());
    dx0 = randomFloats(rng, x.size());
    dw0 = randomFloats(rng, w.size());
    db0 = randomFloats(rng, size_t(t.outC));
    if (t.bias)
      bias = randomFloats(rng, size_t(t.outC));
  }
  size_t xAt(int64_t n, int64_t i, int64_t j, int64_t c) const { return size_t(((n * g.in_h + i) * g.in_w + j) * g.in_c + c); }
  size_t yAt(int64_t n, int64_t i, int64_t j, int64_t c) const { return size_t(((n * oh + i) * ow + j) * g.out_c + c); }
  size_t wAt(int64_t i, int64_t j, int64_t ci, int64_t co) const {
    return size_t(((i * g.kernel_w + j) * g.in_c + ci) * g.out_c + co);
  }
  // Calls f(x index, w index, y index) for every product of the convolution.
  template <class F>
  void eachTerm(F f) const {
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j)
          for (int64_t ki = 0; ki < g.kernel_h; ++ki)
            for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
              const int64_t ih = i * g.stride_h - g.pad_top + ki, iw = j * g.stride_w - g.pad_left + kj;
              if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w)
                continue;
              for (int64_t ci = 0; ci < g.in_c; ++ci)
                for (int64_t co = 0; co < g.out_c; ++co)
                  f(xAt(n, ih, iw, ci), wAt(ki, kj, ci, co), yAt(n, i, j, co));
            }
  }
  size_t workspaceBytes(int64_t threads) const { return kiln_conv2d_workspace_bytes(&g, threads); }

  Floats forward(int64_t threads = 1) const {
    Floats y = y0;
    Workspace ws(workspaceBytes(threads));
    EXPECT_EQ(kiln_conv2d_f32(&g, x.data(), w.data(), bias.empty() ? nullptr : bias.data(), y.data(), ws.data(),
                              ws.size()),
              KILN_KERNELS_OK);
    return y;
  }
  Floats backpropInput(int64_t threads = 1) const {
    Floats dx = dx0;
    Workspace ws(workspaceBytes(threads));
    EXPECT_EQ(kiln_conv2d_backprop_input_f32(&g, dy.data(), w.data(), dx.data(), ws.data(), ws.size()),
              KILN_KERNELS_OK);
    return dx;
  }
  // dw followed by db.
  Floats backpropFilter(int64_t threads = 1) const {
    Floats dw = dw0, db = db0;
    Workspace ws(workspaceBytes(threads));
    EXPECT_EQ(kiln_conv2d_backprop_filter_f32(&g, x.data(), dy.data(), dw.data(), db.data(), ws.data(), ws.size()),
              KILN_KERNELS_OK);
    dw.insert(dw.end(), db.begin(), db.end());
    return dw;
  }

  void checkForward(const Floats &y, const std::string &what) const {
    Expected e(y.size());
    eachTerm([&](size_t xi, size_t wi, size_t yi) { e.add(yi, x[xi], w[wi]); });
    expectClose(e, y0, g.accumulate, bias.empty() ? nullptr : bias.data(), g.out_c, int(g.activation), y,
                what + " forward");
  }
  void checkBackpropInput(const Floats &dx, const std::string &what) const {
    Expected e(dx.size());
    eachTerm([&](size_t xi, size_t wi, size_t yi) { e.add(xi, dy[yi], w[wi]); });
    expectClose(e, dx0, g.accumulate, nullptr, 1, KILN_ACT_NONE, dx, what + " backprop-input");
  }
  void checkBackpropFilter(const Floats &dwdb, const std::string &what) const {
    Expected e(w.size());
    eachTerm([&](size_t xi, size_t wi, size_t yi) { e.add(wi, x[xi], dy[yi]); });
    expectClose(e, dw0, g.accumulate, nullptr, 1, KILN_ACT_NONE, Floats(dwdb.begin(), dwdb.begin() + w.size()),
                what + " backprop-filter");
    Expected b(db0.size());
    for (size_t i = 0; i < dy.size(); ++i)
      b.add(i % db0.size(), dy[i], 1.0);
    expectClose(b, db0, g.accumulate, nullptr, 1, KILN_ACT_NONE, Floats(dwdb.begin() + w.size(), dwdb.end()),
                what + " bias gradient");
  }
};

// Shapes around the tile and block edges (6, 16, 144, 256...), the MNIST
// CNN's layers, and odd geometry.
std::vector<ConvCase> convCases() {
  std::vector<ConvCase> cases = {
      valid(2, 28, 28, 1, 32, 3, 3, 1, 1),  // MNIST conv1 (batch 64 in training)
      valid(2, 13, 13, 32, 64, 3, 3, 1, 1), // conv2
      valid(3, 5, 5, 64, 64, 3, 3, 1, 1),   // conv3
      same(2, 8, 8, 3, 5, 3, 3, 1, 1),     same(1, 7, 9, 4, 17, 3, 3, 2, 2),  same(2, 8, 8, 6, 7, 2, 2, 2, 2),
      same(1, 9, 7, 5, 3, 4, 4, 1, 1),     same(2, 10, 11, 3, 8, 5, 5, 2, 2), same(1, 11, 6, 2, 4, 3, 2, 3, 1),
      valid(2, 7, 7, 17, 33, 1, 1, 1, 1),  valid(1, 9, 9, 3, 4, 1, 1, 2, 2),  valid(2, 9, 8, 5, 6, 2, 3, 2, 1),
      valid(1, 4, 4, 2, 3, 4, 4, 1, 1),    valid(1, 1, 1, 7, 5, 1, 1, 1, 1),  valid(2, 12, 12, 8, 16, 3, 3, 3, 3),
      {1, 6, 5, 3, 4, 3, 3, 1, 2, 2, 0, 1, 2}, // asymmetric padding
      {2, 5, 6, 4, 9, 3, 2, 2, 2, 1, 1, 0, 0},
      {1, 3, 3, 2, 2, 3, 3, 1, 1, 2, 2, 2, 2}, // padding larger than half the kernel
      valid(2, 4, 5, 3, 300, 2, 2, 1, 1),      // more output channels than one depth block
  };
  // Epilogues and accumulation on some of them.
  cases[3].bias = true, cases[3].act = KILN_ACT_RELU;
  cases[4].accumulate = true, cases[4].bias = true, cases[4].act = KILN_ACT_TANH;
  cases[5].act = KILN_ACT_SIGMOID;
  cases[7].accumulate = true;
  cases[11].bias = true, cases[11].accumulate = true;
  return cases;
}

// ---- Fixture: one instruction set per instance ----

class Kernels : public testing::TestWithParam<int> {
protected:
  void SetUp() override {
    kiln_kernels_set_parallel_for(nullptr, nullptr, 1);
    if (kiln_kernels_set_isa(GetParam()) != GetParam())
      GTEST_SKIP() << "this CPU (or build) lacks instruction set " << GetParam();
  }
  void TearDown() override {
    kiln_kernels_set_parallel_for(nullptr, nullptr, 1);
    kiln_kernels_set_isa(KILN_ISA_AUTO);
  }
  std::mt19937 rng{1234};
};

TEST_P(Kernels, GemmOddShapes) {
  const int64_t sizes[] = {1, 2, 5, 7, 16, 17, 64, 129, 300};
  const int64_t depths[] = {0, 1, 7, 17, 64, 129, 300, 513};
  int count = 0;
  for (int64_t m : sizes)
    for (int64_t n : sizes)
      for (int64_t k : depths) {
        // Every shape, with flags and epilogues varying deterministically.
        GemmCase t{m, n, k};
        t.transA = count & 1, t.transB = count >> 1 & 1, t.accumulate = count % 3 == 0, t.bias = count % 5 < 2;
        t.act = count / 3 % 4, t.pad = count % 7 == 0 ? 3 : 0;
        ++count;
        GemmData d(t, rng);
        d.check(d.run(), describe(t));
        if (HasFailure())
          return;
      }
}

TEST_P(Kernels, GemmBlockEdges) {
  const GemmCase cases[] = {
      {145, 33, 257},                            // one past MC, KC, NR multiples
      {7, 4100, 5, false, false, true, true},    // more columns than one NC block
      {300, 40, 1000, true, true, false, true, KILN_ACT_RELU},
      {64, 64, 576, false, false, false, true, KILN_ACT_RELU}, // MNIST dense
      {576, 64, 64, true, false},                              // its weight gradient
      {64, 576, 64, false, true},                              // its input gradient
  };
  for (const GemmCase &t : cases) {
    GemmData d(t, rng);
    d.check(d.run(), describe(t));
  }
}

// act(v + bias) for v across each activation's range, against double.
TEST_P(Kernels, Activations) {
  Floats values;
  for (double v = -40; v <= 40; v += 0.0137)
    values.push_back(float(v));
  for (double v = 1e-8; v < 1; v *= 1.7)
    values.push_back(float(v)), values.push_back(float(-v));
  const int64_t n = int64_t(values.size());
  for (int act : {KILN_ACT_RELU, KILN_ACT_SIGMOID, KILN_ACT_TANH}) {
    // C (1 x n) = act(1 * values + 0).
    KilnGemm g{1, n, 1, 1, n, n, 0, 0, 0, act};
    const float one = 1.0f;
    Floats zero(static_cast<size_t>(n), 0.0f), c(static_cast<size_t>(n));
    Workspace ws(kiln_gemm_workspace_bytes(&g, 1));
    ASSERT_EQ(kiln_gemm_f32(&g, &one, values.data(), zero.data(), c.data(), ws.data(), ws.size()), KILN_KERNELS_OK);
    for (int64_t j = 0; j < n; ++j) {
      const double want = activate(act, values[j]);
      ASSERT_NEAR(c[j], want, 4e-7 * std::fabs(want) + 1e-37) << "activation " << act << " of " << values[j];
    }
  }
}

TEST_P(Kernels, ConvForward) {
  for (const ConvCase &t : convCases()) {
    ConvData d(t, rng);
    d.checkForward(d.forward(), describe(t));
  }
}

TEST_P(Kernels, ConvBackpropInput) {
  for (const ConvCase &t : convCases()) {
    ConvData d(t, rng);
    d.checkBackpropInput(d.backpropInput(), describe(t));
  }
}

TEST_P(Kernels, ConvBackpropFilter) {
  for (const ConvCase &t : convCases()) {
    ConvData d(t, rng);
    d.checkBackpropFilter(d.backpropFilter(), describe(t));
  }
}

// Each hook and thread count gives the serial result bit for bit.
TEST_P(Kernels, ThreadCountIndependence) {
  const GemmCase gemms[] = {{300, 129, 513, false, false, true, true, KILN_ACT_TANH},
                            {1000, 7, 40, true, false},
                            {9, 300, 300, false, true, false, true, KILN_ACT_SIGMOID},
                            {128, 128, 128}};
  const ConvCase convs[] = {valid(4, 28, 28, 1, 32, 3, 3, 1, 1), same(3, 11, 13, 8, 24, 3, 3, 2, 2),
                            same(2, 12, 12, 16, 16, 5, 5, 1, 1)};
  std::vector<Floats> want;
  std::vector<GemmData> gemmData;
  std::vector<ConvData> convData;
  for (const GemmCase &t : gemms)
    gemmData.emplace_back(t, rng), want.push_back(gemmData.back().run());
  for (const ConvCase &t : convs) {
    convData.emplace_back(t, rng);
    want.push_back(convData.back().forward());
    want.push_back(convData.back().backpropInput());
    want.push_back(convData.back().backpropFilter());
  }
  std::mt19937 hookRng(99);
  for (const HookCase &h : kHooks) {
    kiln_kernels_set_parallel_for(h.pf, &hookRng, h.threads);
    size_t i = 0;
    for (const GemmData &d : gemmData)
      ASSERT_TRUE(d.run(kMaxThreads) == want[i++]) << h.name << ": gemm " << d.g.m << "x" << d.g.n << "x" << d.g.k;
    for (const ConvData &d : convData) {
      ASSERT_TRUE(d.forward(kMaxThreads) == want[i++]) << h.name << " forward";
      ASSERT_TRUE(d.backpropInput(kMaxThreads) == want[i++]) << h.name << " backprop-input";
      ASSERT_TRUE(d.backpropFilter(kMaxThreads) == want[i++]) << h.name << " backprop-filter";
    }
  }
}

// A workspace sized for fewer threads than the hook offers runs on fewer,
// with the same result; one too small for any thread is refused.
TEST_P(Kernels, WorkspaceSizes) {
  GemmData d({200, 100, 300}, rng);
  const Floats serial = d.run();
  kiln_kernels_set_parallel_for(reverseFor, nullptr, 4);
  EXPECT_TRUE(d.run(2) == serial);
  Floats c = d.c0;
  Workspace small(kiln_gemm_workspace_bytes(&d.g, 1) / 2);
  EXPECT_EQ(kiln_gemm_f32(&d.g, d.a.data(), d.b.data(), nullptr, c.data(), small.data(), small.size()),
            KILN_KERNELS_SMALL_WORKSPACE);
  EXPECT_TRUE(c == d.c0);
}

std::string isaName(const testing::TestParamInfo<int> &info) {
  const char *names[] = {"auto", "portable", "avx2", "avx512"};
  return names[info.param];
}
INSTANTIATE_TEST_SUITE_P(Isa, Kernels, testing::Values(KILN_ISA_PORTABLE, KILN_ISA_AVX2, KILN_ISA_AVX512), isaName);

TEST(KernelsApi, RejectsBadArguments) {
  float a = 1, b = 1, c = 0;
  char ws[4096];
  KilnGemm g{1, 4, 1, 1, 4, 3, 0, 0, 0, KILN_ACT_NONE}; // ldc < n
  EXPECT_EQ(kiln_gemm_f32(&g, &a, &b, nullptr, &c, ws, sizeof ws), KILN_KERNELS_BAD_ARGS);
  g = {1, 1, 1, 1, 1, 1, 0, 0, 0, 7}; // no such activation
  EXPECT_EQ(kiln_gemm_f32(&g, &a, &b, nullptr, &c, ws, sizeof ws), KILN_KERNELS_BAD_ARGS);
  KilnConv2d conv{1, 2, 2, 1, 1, 3, 3, 1, 1, 0, 0, 0, 0, 0, 0}; // kernel larger than the padded input
  EXPECT_EQ(kiln_conv2d_workspace_bytes(&conv, 1), 0u);
  EXPECT_EQ(kiln_conv2d_f32(&conv, &a, &b, nullptr, &c, ws, sizeof ws), KILN_KERNELS_BAD_ARGS);
}

// KILN_CPU_KERNELS picks the instruction set when none is forced in code.
TEST(KernelsApi, EnvironmentChoosesIsa) {
  ASSERT_EQ(setenv("KILN_CPU_KERNELS", "portable", 1), 0);
  EXPECT_EQ(kiln_kernels_set_isa(KILN_ISA_AUTO), KILN_ISA_PORTABLE);
  unsetenv("KILN_CPU_KERNELS");
  EXPECT_NE(kiln_kernels_set_isa(KILN_ISA_AUTO), -1);
  EXPECT_EQ(kiln_kernels_set_isa(KILN_ISA_PORTABLE), KILN_ISA_PORTABLE);
  EXPECT_EQ(kiln_kernels_isa(), KILN_ISA_PORTABLE);
  kiln_kernels_set_isa(KILN_ISA_AUTO);
}

} // namespace

// kiln_kernels_parallel_for (generated loops): contiguous ranges covering
// [0, n) exactly once, at most one per thread, with and without a hook.
TEST(KernelsApi, ParallelForCoversEveryIndexOnce) {
  struct Seen {
    std::vector<int> hits;
    int ranges = 0;
    static void body(void *arg, int64_t begin, int64_t end) {
      auto *s = static_cast<Seen *>(arg);
      ++s->ranges;
      for (int64_t i = begin; i < end; ++i)
        ++s->hits[size_t(i)];
    }
  };
  for (int64_t threads : {1, 3, 4})
    for (int64_t n : {0, 1, 2, 5, 64, 1001}) {
      kiln_kernels_set_parallel_for(threads > 1 ? reverseFor : nullptr, nullptr, threads);
      Seen s{std::vector<int>(size_t(n)), 0};
      kiln_kernels_parallel_for(n, &Seen::body, &s);
      EXPECT_TRUE(std::all_of(s.hits.begin(), s.hits.end(), [](int h) { return h == 1; }))
          << n << " indices, " << threads << " threads";
      EXPECT_LE(s.ranges, std::min<int64_t>(threads, n));
      EXPECT_EQ(s.ranges > 0, n > 0);
    }
  kiln_kernels_set_parallel_for(nullptr, nullptr, 1);
}
