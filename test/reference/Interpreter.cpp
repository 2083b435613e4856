//===- Interpreter.cpp - a plain C++ reference for `kiln` graphs ----------===//
//
// Deliberately simple: every op is a loop nest over output coordinates,
// computed in double precision, with index arithmetic spelled out.
//
//===----------------------------------------------------------------------===//
#include "Interpreter.h"
#include "ir/KilnOps.h"
#include "llvm/ADT/DenseMap.h"
#include <cmath>
#include <functional>

using namespace mlir;
using namespace kiln;
using reference::Tensor;

int64_t Tensor::size() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

namespace {

/// Hash of the branch decisions of the current evaluation (see Interpreter.h).
thread_local uint64_t *branches = nullptr;
void decide(bool taken) {
  if (branches)
    *branches = (*branches ^ (taken ? 0x9E3779B97F4A7C15ull : 0x632BE59BD9B4E019ull)) * 0xBF58476D1CE4E5B9ull +
                1;
}

std::vector<int64_t> shapeOf(Value v) {
  auto t = llvm::cast<RankedTensorType>(v.getType());
  return std::vector<int64_t>(t.getShape().begin(), t.getShape().end());
}

Tensor zeros(const std::vector<int64_t> &shape) {
  Tensor t{shape, {}};
  t.data.assign(t.size(), 0.0f);
  return t;
}

std::vector<int64_t> strides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int64_t i = int64_t(shape.size()) - 2; i >= 0; --i)
    s[i] = s[i + 1] * shape[i + 1];
  return s;
}

std::vector<int64_t> unflatten(int64_t index, const std::vector<int64_t> &shape) {
  std::vector<int64_t> idx(shape.size());
  for (int64_t i = int64_t(shape.size()) - 1; i >= 0; --i) {
    idx[i] = index % shape[i];
    index /= shape[i];
  }
  return idx;
}

/// Reads `t` at result coordinates `idx` under NumPy broadcasting.
float broadcastAt(const Tensor &t, const std::vector<int64_t> &idx) {
  size_t offset = idx.size() - t.shape.size();
  int64_t flat = 0;
  for (size_t i = 0; i < t.shape.size(); ++i)
    flat = flat * t.shape[i] + (t.shape[i] == 1 ? 0 : idx[i + offset]);
  return t.data[flat];
}

Tensor binary(const Tensor &a, const Tensor &b, const std::vector<int64_t> &shape,
              const std::function<double(double, double)> &f) {
  Tensor r = zeros(shape);
  for (int64_t i = 0; i < r.size(); ++i) {
    auto idx = unflatten(i, shape);
    r.data[i] = float(f(broadcastAt(a, idx), broadcastAt(b, idx)));
  }
  return r;
}

Tensor unary(const Tensor &a, const std::function<double(double)> &f) {
  Tensor r = a;
  for (float &v : r.data)
    v = float(f(v));
  return r;
}

int64_t norm(int64_t axis, size_t rank) { return axis < 0 ? axis + int64_t(rank) : axis; }

/// Applies `f` to every 1-D slice along `axis` (in place on a copy).
Tensor alongAxis(const Tensor &x, int64_t axis, const std::function<void(std::vector<double> &)> &f) {
  Tensor r = x;
  auto st = strides(x.shape);
  int64_t n = x.shape[axis], step = st[axis];
  for (int64_t i = 0; i < x.size(); ++i) {
    if ((i / step) % n != 0)
      continue; // visit each slice once, from its first element
    std::vector<double> slice(n);
    for (int64_t k = 0; k < n; ++k)
      slice[k] = x.data[i + k * step];
    f(slice);
    for (int64_t k = 0; k < n; ++k)
      r.data[i + k * step] = float(slice[k]);
  }
  return r;
}

/// TensorFlow's "same" padding before the first element.
int64_t padBefore(int64_t in, int64_t window, int64_t stride, bool same) {
  if (!same)
    return 0;
  int64_t out = (in + stride - 1) / stride;
  return std::max<int64_t>((out - 1) * stride + window - in, 0) / 2;
}

/// Keras's definitions, per sample then averaged over the batch.
double lossOrMetric(Operation &op, const Tensor &y, const Tensor &p) {
  const double eps = 1e-7;
  auto clip = [&](double q) { return std::min(std::max(q, eps), 1.0 - eps); };
  auto fromLogits = op.getAttrOfType<BoolAttr>("from_logits");
  bool logits = fromLogits && fromLogits.getValue();
  int64_t classes = p.shape.empty() ? 1 : p.shape.back();
  int64_t rows = p.size() / classes;
  double total = 0;
  if (isa<MeanSquaredErrorOp, MeanAbsoluteErrorOp, BinaryCrossentropyOp>(op)) {
    for (int64_t i = 0; i < p.size(); ++i) {
      double t = y.data[i], x = p.data[i];
      if (isa<MeanSquaredErrorOp>(op))
        total += (t - x) * (t - x);
      else if (isa<MeanAbsoluteErrorOp>(op))
        total += std::fabs(t - x);
      else if (logits) // -(t log s(x) + (1 - t) log(1 - s(x)))
        total += -(t * std::log(1 / (1 + std::exp(-x))) + (1 - t) * std::log(1 / (1 + std::exp(x))));
      else
        total += -(t * std::log(clip(x)) + (1 - t) * std::log(1 - clip(x)));
    }
    return total / p.size();
  }
  auto argmax = [&](const float *v) {
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (v[c] > v[best])
        best = c;
    return best;
  };
  if (auto acc = dyn_cast<AccuracyOp>(op)) {
    if (acc.getKind() == "binary") {
      for (int64_t i = 0; i < p.size(); ++i)
        total += (p.data[i] > acc.getThreshold().convertToDouble() ? 1.0 : 0.0) == y.data[i];
      return total / p.size();
    }
    for (int64_t r = 0; r < rows; ++r) {
      int64_t truth = acc.getKind() == "categorical" ? argmax(&y.data[r * classes]) : int64_t(y.data[r]);
      total += argmax(&p.data[r * classes]) == truth;
    }
    return total / rows;
  }
  bool sparse = isa<SparseCategoricalCrossentropyOp>(op);
  for (int64_t r = 0; r < rows; ++r) {
    const float *x = &p.data[r * classes];
    std::vector<double> logp(classes);
    if (logits) {
      double m = *std::max_element(x, x + classes), s = 0;
      for (int64_t c = 0; c < classes; ++c)
        s += std::exp(x[c] - m);
      for (int64_t c = 0; c < classes; ++c)
        logp[c] = x[c] - m - std::log(s);
    } else {
      double s = 0;
      for (int64_t c = 0; c < classes; ++c)
        s += x[c];
      for (int64_t c = 0; c < classes; ++c)
        logp[c] = std::log(clip(x[c] / s));
    }
    for (int64_t c = 0; c < classes; ++c) {
      double t = sparse ? (int64_t(y.data[r]) == c ? 1.0 : 0.0) : y.data[r * classes + c];
      total -= t * logp[c];
    }
  }
  return total / rows;
}

/// The mask of kiln.dropout_mask (docs/dialect.md): SplitMix64's finaliser
/// over (seed, step, flat index), its top 24 bits as u in [0, 1).
float dropoutMaskAt(uint64_t seed, uint64_t step, uint64_t i, float rate) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + step * 0xD1B54A32D192ED03ull + i;
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  float u = float(x >> 40) * 0x1p-24f;
  return u >= rate ? 1.0f / (1.0f - rate) : 0.0f;
}

} // namespace

double reference::worstError(const Tensor &got, const Tensor &want) {
  if (got.data.size() != want.data.size())
    return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < want.data.size(); ++i) {
    double a = got.data[i], b = want.data[i];
    double e = std::isfinite(a) && std::isfinite(b) ? std::abs(a - b) / std::max(1.0, std::abs(b))
                                                    : INFINITY;
    worst = std::max(worst, e);
  }
  return worst;
}

bool reference::evaluate(func::FuncOp func, const std::vector<Tensor> &inputs,
                         const llvm::StringMap<Tensor> &params, std::vector<Tensor> &outputs,
                         std::string &error, uint64_t *branchHash) {
  branches = branchHash;
  if (branches)
    *branches = 0;
  llvm::DenseMap<Value, Tensor> env;
  Block &body = func.getBody().front();
  for (auto [arg, t] : llvm::zip(body.getArguments(), inputs))
    env[arg] = t;
  auto in = [&](Value v) -> const Tensor & { return env[v]; };

  for (Operation &op : body.without_terminator()) {
    Value result = op.getNumResults() ? op.getResult(0) : Value();
    std::vector<int64_t> shape = result ? shapeOf(result) : std::vector<int64_t>{};
    Tensor r;
    if (auto p = dyn_cast<ReadParamOp>(op)) {
      r = params.lookup(p.getName());
    } else if (auto c = dyn_cast<ConstantOp>(op)) {
      auto dense = llvm::cast<DenseElementsAttr>(c.getValue());
      r = zeros(shape);
      int64_t i = 0;
      for (APFloat f : dense.getValues<APFloat>())
        r.data[i++] = f.convertToFloat();
      if (dense.isSplat())
        std::fill(r.data.begin(), r.data.end(), dense.getSplatValue<APFloat>().convertToFloat());
    } else if (isa<AddOp>(op)) {
      r = binary(in(op.getOperand(0)), in(op.getOperand(1)), shape, [](double a, double b) { return a + b; });
    } else if (isa<SubOp>(op)) {
      r = binary(in(op.getOperand(0)), in(op.getOperand(1)), shape, [](double a, double b) { return a - b; });
    } else if (isa<MulOp>(op)) {
      r = binary(in(op.getOperand(0)), in(op.getOperand(1)), shape, [](double a, double b) { return a * b; });
    } else if (isa<DivOp>(op)) {
      r = binary(in(op.getOperand(0)), in(op.getOperand(1)), shape, [](double a, double b) { return a / b; });
    } else if (isa<MaxOp>(op)) {
      r = binary(in(op.getOperand(0)), in(op.getOperand(1)), shape, [](double a, double b) { return decide(a >= b), std::max(a, b); });
    } else if (isa<MinOp>(op)) {
      r = binary(in(op.getOperand(0)), in(op.getOperand(1)), shape, [](double a, double b) { return decide(a <= b), std::min(a, b); });
    } else if (isa<PowOp>(op)) {
      r = binary(in(op.getOperand(0)), in(op.getOperand(1)), shape, [](double a, double b) { return std::pow(a, b); });
    } else if (isa<NegOp>(op)) {
      r = unary(in(op.getOperand(0)), [](double x) { return -x; });
    } else if (isa<AbsOp>(op)) {
      r = unary(in(op.getOperand(0)), [](double x) { return decide(x >= 0), std::fabs(x); });
    } else if (isa<ExpOp>(op)) {
      r = unary(in(op.getOperand(0)), [](double x) { return std::exp(x); });
    } else if (isa<LogOp>(op)) {
      r = unary(in(op.getOperand(0)), [](double x) { return std::log(x); });
    } else if (isa<SqrtOp>(op)) {
      r = unary(in(op.getOperand(0)), [](double x) { return std::sqrt(x); });
    } else if (isa<RsqrtOp>(op)) {
      r = unary(in(op.getOperand(0)), [](double x) { return 1.0 / std::sqrt(x); });
    } else if (isa<SquareOp>(op)) {
      r = unary(in(op.getOperand(0)), [](double x) { return x * x; });
    } else if (isa<TanhOp>(op)) {
      r = unary(in(op.getOperand(0)), [](double x) { return std::tanh(x); });
    } else if (isa<SigmoidOp>(op)) {
      r = unary(in(op.getOperand(0)), [](double x) { return 1.0 / (1.0 + std::exp(-x)); });
    } else if (isa<ReluOp>(op)) {
      r = unary(in(op.getOperand(0)), [](double x) { return decide(x > 0), x > 0 ? x : 0.0; });
    } else if (isa<DropoutOp>(op)) {
      r = in(op.getOperand(0)); // predict semantics
    } else if (auto s = dyn_cast<SoftmaxOp>(op)) {
      r = alongAxis(in(s.getOperand()), norm(int64_t(s.getAxis()), shape.size()), [](std::vector<double> &v) {
        double m = *std::max_element(v.begin(), v.end()), sum = 0;
        for (double &x : v)
          sum += (x = std::exp(x - m));
        for (double &x : v)
          x /= sum;
      });
    } else if (auto s = dyn_cast<LogSoftmaxOp>(op)) {
      r = alongAxis(in(s.getOperand()), norm(int64_t(s.getAxis()), shape.size()), [](std::vector<double> &v) {
        double m = *std::max_element(v.begin(), v.end()), sum = 0;
        for (double x : v)
          sum += std::exp(x - m);
        for (double &x : v)
          x = x - m - std::log(sum);
      });
    } else if (auto mm = dyn_cast<MatMulOp>(op)) {
      // Operands stored transposed (kiln-assign-layouts) are swapped back.
      auto logical = [&](const Tensor &t, bool swapped) {
        if (!swapped)
          return t;
        Tensor u = t;
        size_t rk = t.shape.size();
        int64_t rows = t.shape[rk - 2], cols = t.shape[rk - 1];
        std::swap(u.shape[rk - 2], u.shape[rk - 1]);
        for (int64_t base = 0; base < t.size(); base += rows * cols)
          for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < cols; ++j)
              u.data[base + j * rows + i] = t.data[base + i * cols + j];
        return u;
      };
      Tensor la = logical(in(mm.getLhs()), mm.getTransposeLhs()),
             lb = logical(in(mm.getRhs()), mm.getTransposeRhs());
      const Tensor &a = la, &b = lb;
      int64_t k = a.shape.back(), n = b.shape.back(), m = a.shape[a.shape.size() - 2];
      r = zeros(shape);
      int64_t batches = r.size() / (m * n);
      bool shared = b.shape.size() == 2;
      for (int64_t bt = 0; bt < batches; ++bt)
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double acc = 0;
            for (int64_t q = 0; q < k; ++q)
              acc += double(a.data[(bt * m + i) * k + q]) *
                     b.data[(shared ? 0 : bt * k * n) + q * n + j];
            r.data[(bt * m + i) * n + j] = float(acc);
          }
    } else if (auto conv = dyn_cast<Conv2DOp>(op)) {
      const Tensor &x = in(conv.getInput()), &w = in(conv.getKernel());
      auto st = conv.getStrides();
      bool same = conv.getPadding() == "same";
      int64_t H = x.shape[1], W = x.shape[2], C = x.shape[3], KH = w.shape[0], KW = w.shape[1],
              F = w.shape[3];
      int64_t ph = padBefore(H, KH, st[0], same), pw = padBefore(W, KW, st[1], same);
      r = zeros(shape);
      for (int64_t n = 0; n < shape[0]; ++n)
        for (int64_t oh = 0; oh < shape[1]; ++oh)
          for (int64_t ow = 0; ow < shape[2]; ++ow)
            for (int64_t f = 0; f < F; ++f) {
              double acc = 0;
              for (int64_t kh = 0; kh < KH; ++kh)
                for (int64_t kw = 0; kw < KW; ++kw) {
                  int64_t ih = oh * st[0] + kh - ph, iw = ow * st[1] + kw - pw;
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                    continue;
                  for (int64_t c = 0; c < C; ++c)
                    acc += double(x.data[((n * H + ih) * W + iw) * C + c]) *
                           w.data[((kh * KW + kw) * C + c) * F + f];
                }
              r.data[((n * shape[1] + oh) * shape[2] + ow) * F + f] = float(acc);
            }
    } else if (isa<MaxPool2DOp, AvgPool2DOp>(op)) {
      bool isMax = isa<MaxPool2DOp>(op);
      const Tensor &x = in(op.getOperand(0));
      auto window = op.getAttrOfType<DenseI64ArrayAttr>("pool_size").asArrayRef();
      auto st = op.getAttrOfType<DenseI64ArrayAttr>("strides").asArrayRef();
      auto padAttr = op.getAttrOfType<StringAttr>("padding");
      bool same = padAttr && padAttr.getValue() == "same";
      int64_t H = x.shape[1], W = x.shape[2], C = x.shape[3];
      int64_t ph = padBefore(H, window[0], st[0], same), pw = padBefore(W, window[1], st[1], same);
      r = zeros(shape);
      for (int64_t n = 0; n < shape[0]; ++n)
        for (int64_t oh = 0; oh < shape[1]; ++oh)
          for (int64_t ow = 0; ow < shape[2]; ++ow)
            for (int64_t c = 0; c < C; ++c) {
              double acc = isMax ? -INFINITY : 0.0;
              int64_t count = 0;
              for (int64_t kh = 0; kh < window[0]; ++kh)
                for (int64_t kw = 0; kw < window[1]; ++kw) {
                  int64_t ih = oh * st[0] + kh - ph, iw = ow * st[1] + kw - pw;
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                    continue; // padding: excluded from max and from the average
                  double v = x.data[((n * H + ih) * W + iw) * C + c];
                  if (isMax)
                    decide(v > acc);
                  acc = isMax ? std::max(acc, v) : acc + v;
                  ++count;
                }
              r.data[((n * shape[1] + oh) * shape[2] + ow) * C + c] =
                  float(isMax ? acc : acc / std::max<int64_t>(count, 1));
            }
    } else if (isa<SignOp>(op)) {
      r = unary(in(op.getOperand(0)), [](double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; });
    } else if (isa<GreaterOp>(op)) {
      r = binary(in(op.getOperand(0)), in(op.getOperand(1)), shape, [](double a, double b) { return a > b ? 1.0 : 0.0; });
    } else if (isa<GreaterEqualOp>(op)) {
      r = binary(in(op.getOperand(0)), in(op.getOperand(1)), shape, [](double a, double b) { return a >= b ? 1.0 : 0.0; });
    } else if (isa<EqualOp>(op)) {
      r = binary(in(op.getOperand(0)), in(op.getOperand(1)), shape, [](double a, double b) { return a == b ? 1.0 : 0.0; });
    } else if (isa<BroadcastToOp>(op)) {
      const Tensor &x = in(op.getOperand(0));
      r = zeros(shape);
      for (int64_t i = 0; i < r.size(); ++i)
        r.data[i] = broadcastAt(x, unflatten(i, shape));
    } else if (auto sl = dyn_cast<SliceOp>(op)) {
      const Tensor &x = in(sl.getOperand());
      auto start = sl.getStart();
      r = zeros(shape);
      for (int64_t i = 0; i < r.size(); ++i) {
        auto idx = unflatten(i, shape);
        int64_t src = 0;
        for (size_t d = 0; d < idx.size(); ++d)
          src = src * x.shape[d] + start[d] + idx[d];
        r.data[i] = x.data[src];
      }
    } else if (auto oh = dyn_cast<OneHotOp>(op)) {
      const Tensor &labels = in(oh.getLabels()); // one label per row, [...] or [..., 1]
      int64_t depth = int64_t(oh.getDepth());
      r = zeros(shape);
      for (int64_t row = 0; row < labels.size(); ++row) {
        int64_t label = int64_t(labels.data[row]);
        if (label >= 0 && label < depth)
          r.data[row * depth + label] = 1.0f;
      }
    } else if (auto dm = dyn_cast<DropoutMaskOp>(op)) {
      uint64_t step = uint64_t(in(dm.getStep()).data[0]);
      float rate = dm.getRate().convertToFloat();
      r = zeros(shape);
      for (int64_t i = 0; i < r.size(); ++i)
        r.data[i] = dropoutMaskAt(uint64_t(dm.getSeed()), step, uint64_t(i), rate);
    } else if (auto bi = dyn_cast<Conv2DBackpropInputOp>(op)) {
      // Scatter: each output position's gradient flows back along the forward
      // conv2d's products x[n, ih, iw, c] * w[kh, kw, c, f].
      const Tensor &g = in(bi.getGrad()), &w = in(bi.getKernel());
      auto st = bi.getStrides();
      bool same = bi.getPadding() == "same";
      int64_t H = shape[1], W = shape[2], C = shape[3], OH = g.shape[1], OW = g.shape[2],
              KH = w.shape[0], KW = w.shape[1], F = w.shape[3];
      int64_t ph = padBefore(H, KH, st[0], same), pw = padBefore(W, KW, st[1], same);
      std::vector<double> acc(Tensor{shape, {}}.size(), 0.0);
      for (int64_t n = 0; n < shape[0]; ++n)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                int64_t ih = oh * st[0] + kh - ph, iw = ow * st[1] + kw - pw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                  continue;
                for (int64_t c = 0; c < C; ++c)
                  for (int64_t f = 0; f < F; ++f)
                    acc[((n * H + ih) * W + iw) * C + c] +=
                        double(g.data[((n * OH + oh) * OW + ow) * F + f]) *
                        w.data[((kh * KW + kw) * C + c) * F + f];
              }
      r = zeros(shape);
      for (size_t i = 0; i < acc.size(); ++i)
        r.data[i] = float(acc[i]);
    } else if (auto bf = dyn_cast<Conv2DBackpropFilterOp>(op)) {
      const Tensor &x = in(bf.getInput()), &g = in(bf.getGrad());
      auto st = bf.getStrides();
      bool same = bf.getPadding() == "same";
      int64_t N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3], OH = g.shape[1],
              OW = g.shape[2], KH = shape[0], KW = shape[1], F = shape[3];
      int64_t ph = padBefore(H, KH, st[0], same), pw = padBefore(W, KW, st[1], same);
      std::vector<double> acc(Tensor{shape, {}}.size(), 0.0);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                int64_t ih = oh * st[0] + kh - ph, iw = ow * st[1] + kw - pw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                  continue; // padding contributes zero
                for (int64_t c = 0; c < C; ++c)
                  for (int64_t f = 0; f < F; ++f)
                    acc[((kh * KW + kw) * C + c) * F + f] +=
                        double(x.data[((n * H + ih) * W + iw) * C + c]) *
                        g.data[((n * OH + oh) * OW + ow) * F + f];
              }
      r = zeros(shape);
      for (size_t i = 0; i < acc.size(); ++i)
        r.data[i] = float(acc[i]);
    } else if (isa<MaxPool2DGradOp, AvgPool2DGradOp>(op)) {
      // Scatter each window's gradient: all of it to the window's first
      // maximum (row-major scan, padding skipped), or an equal share to every
      // real position it averaged.
      bool isMax = isa<MaxPool2DGradOp>(op);
      const Tensor &g = in(op.getOperand(isMax ? 1 : 0));
      const Tensor *x = isMax ? &in(op.getOperand(0)) : nullptr;
      auto window = op.getAttrOfType<DenseI64ArrayAttr>("pool_size").asArrayRef();
      auto st = op.getAttrOfType<DenseI64ArrayAttr>("strides").asArrayRef();
      auto padAttr = op.getAttrOfType<StringAttr>("padding");
      bool same = padAttr && padAttr.getValue() == "same";
      int64_t H = shape[1], W = shape[2], C = shape[3], OH = g.shape[1], OW = g.shape[2];
      int64_t ph = padBefore(H, window[0], st[0], same), pw = padBefore(W, window[1], st[1], same);
      std::vector<double> acc(Tensor{shape, {}}.size(), 0.0);
      for (int64_t n = 0; n < shape[0]; ++n)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow)
            for (int64_t c = 0; c < C; ++c) {
              std::vector<int64_t> real; // flat input indices under the window
              for (int64_t kh = 0; kh < window[0]; ++kh)
                for (int64_t kw = 0; kw < window[1]; ++kw) {
                  int64_t ih = oh * st[0] + kh - ph, iw = ow * st[1] + kw - pw;
                  if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                    real.push_back(((n * H + ih) * W + iw) * C + c);
                }
              if (real.empty())
                continue;
              double gv = g.data[((n * OH + oh) * OW + ow) * C + c];
              if (isMax) {
                int64_t first = real[0];
                for (int64_t i : real)
                  if (x->data[i] > x->data[first])
                    first = i;
                acc[first] += gv;
              } else {
                for (int64_t i : real)
                  acc[i] += gv / double(real.size());
              }
            }
      r = zeros(shape);
      for (size_t i = 0; i < acc.size(); ++i)
        r.data[i] = float(acc[i]);
    } else if (isa<ReshapeOp>(op)) {
      r = in(op.getOperand(0));
      r.shape = shape;
    } else if (auto t = dyn_cast<TransposeOp>(op)) {
      const Tensor &x = in(t.getOperand());
      auto perm = t.getPerm();
      auto xs = strides(x.shape);
      r = zeros(shape);
      for (int64_t i = 0; i < r.size(); ++i) {
        auto idx = unflatten(i, shape);
        int64_t src = 0;
        for (size_t d = 0; d < idx.size(); ++d)
          src += idx[d] * xs[perm[d]];
        r.data[i] = x.data[src];
      }
    } else if (auto cat = dyn_cast<ConcatOp>(op)) {
      int64_t axis = norm(int64_t(cat.getAxis()), shape.size());
      r = zeros(shape);
      int64_t offset = 0;
      for (Value v : cat.getInputs()) {
        const Tensor &x = in(v);
        for (int64_t i = 0; i < x.size(); ++i) {
          auto idx = unflatten(i, x.shape);
          idx[axis] += offset;
          int64_t dst = 0;
          for (size_t d = 0; d < idx.size(); ++d)
            dst = dst * shape[d] + idx[d];
          r.data[dst] = x.data[i];
        }
        offset += x.shape[axis];
      }
    } else if (isa<ReduceSumOp, ReduceMeanOp, ReduceMaxOp, ReduceMinOp>(op)) {
      const Tensor &x = in(op.getOperand(0));
      auto axesAttr = op.getAttrOfType<DenseI64ArrayAttr>("axes");
      std::vector<bool> reduced(x.shape.size(), !axesAttr || axesAttr.empty());
      if (axesAttr)
        for (int64_t a : axesAttr.asArrayRef())
          reduced[norm(a, x.shape.size())] = true;
      std::vector<int64_t> kept;
      for (size_t d = 0; d < x.shape.size(); ++d)
        kept.push_back(reduced[d] ? 1 : x.shape[d]);
      bool isMax = isa<ReduceMaxOp>(op), isMin = isa<ReduceMinOp>(op);
      std::vector<double> acc(Tensor{kept, {}}.size(), isMax ? -INFINITY : isMin ? INFINITY : 0.0);
      std::vector<int64_t> count(acc.size(), 0);
      for (int64_t i = 0; i < x.size(); ++i) {
        auto idx = unflatten(i, x.shape);
        int64_t dst = 0;
        for (size_t d = 0; d < idx.size(); ++d)
          dst = dst * kept[d] + (reduced[d] ? 0 : idx[d]);
        double v = x.data[i];
        if (isMax || isMin)
          decide(isMax ? v > acc[dst] : v < acc[dst]);
        acc[dst] = isMax ? std::max(acc[dst], v) : isMin ? std::min(acc[dst], v) : acc[dst] + v;
        ++count[dst];
      }
      r = zeros(shape);
      for (size_t i = 0; i < acc.size(); ++i)
        r.data[i] = float(isa<ReduceMeanOp>(op) ? acc[i] / count[i] : acc[i]);
    } else if (isa<MeanSquaredErrorOp, MeanAbsoluteErrorOp, BinaryCrossentropyOp,
                   CategoricalCrossentropyOp, SparseCategoricalCrossentropyOp, AccuracyOp>(op)) {
      r = zeros({});
      if (op.getNumOperands() > 2) { // samples: the mean over the first rows only
        auto firstRows = [](const Tensor &t, int64_t n) {
          Tensor f{t.shape, {}};
          f.shape[0] = n;
          f.data.assign(t.data.begin(), t.data.begin() + f.size());
          return f;
        };
        const Tensor &first = in(op.getOperand(0));
        int64_t n = std::clamp<int64_t>(int64_t(in(op.getOperand(2)).data[0]), 0, first.shape.at(0));
        r.data[0] = float(lossOrMetric(op, firstRows(in(op.getOperand(0)), n), firstRows(in(op.getOperand(1)), n)));
      } else {
        r.data[0] = float(lossOrMetric(op, in(op.getOperand(0)), in(op.getOperand(1))));
      }
    } else {
      error = "the reference interpreter does not implement " + op.getName().getStringRef().str();
      return false;
    }
    if (result) {
      r.shape = shape;
      env[result] = std::move(r);
    }
  }
  outputs.clear();
  for (Value v : body.getTerminator()->getOperands())
    outputs.push_back(env[v]);
  return true;
}
