//===- Initializers.cpp - initial parameter values, Keras semantics ------===//
#include "codegen/Initializers.h"
#include "llvm/Support/xxhash.h"
#include <cmath>

using namespace mlir;
using namespace kiln;

namespace {
/// splitmix64: a counter-based generator, one 64-bit draw per index.
struct Stream {
  uint64_t key;
  uint64_t counter = 0;
  uint64_t next() {
    uint64_t z = key + 0x9e3779b97f4a7c15ULL * ++counter;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; } // [0, 1)
  double normal() {                                            // Box-Muller
    double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * M_PI * u2);
  }
  double truncatedNormal() {
    while (true)
      if (double x = normal(); std::abs(x) <= 2.0)
        return x;
  }
};

double configValue(ParamOp p, StringRef key, double dflt) {
  if (auto cfg = p.getInitConfig())
    if (auto f = cfg->getAs<FloatAttr>(key))
      return f.getValueAsDouble();
  return dflt;
}
} // namespace

std::vector<float> kiln::initialValue(ParamOp p, uint64_t modelSeed) {
  auto type = llvm::cast<RankedTensorType>(p.getType());
  ArrayRef<int64_t> shape = type.getShape();
  std::vector<float> values(type.getNumElements());
  StringRef init = p.getInitializer();

  uint64_t seed = modelSeed;
  if (auto cfg = p.getInitConfig())
    if (auto s = cfg->getAs<IntegerAttr>("seed"))
      seed = s.getInt();
  Stream rng{seed ^ llvm::xxh3_64bits(p.getSymName())};

  // Keras's fans: [in, out] for Dense; [kh, kw, in, out] for Conv2D.
  double fanIn = 1, fanOut = 1;
  if (shape.size() == 1) {
    fanIn = fanOut = shape[0];
  } else if (shape.size() >= 2) {
    double receptive = 1;
    for (size_t i = 0; i + 2 < shape.size(); ++i)
      receptive *= shape[i];
    fanIn = shape[shape.size() - 2] * receptive;
    fanOut = shape.back() * receptive;
  }
  // VarianceScaling: scale / fan, uniform limit sqrt(3 * var), truncated
  // normal stddev sqrt(var) / 0.8796... (the stddev of a N(0,1) cut at 2).
  auto varianceScaling = [&](double scale, double fan, bool uniform) {
    double var = scale / std::max(1.0, fan);
    if (uniform) {
      double limit = std::sqrt(3.0 * var);
      for (float &v : values)
        v = float((rng.uniform() * 2.0 - 1.0) * limit);
    } else {
      double stddev = std::sqrt(var) / 0.87962566103423978;
      for (float &v : values)
        v = float(rng.truncatedNormal() * stddev);
    }
  };

  if (init == "zeros") {
  } else if (init == "ones") {
    std::fill(values.begin(), values.end(), 1.0f);
  } else if (init == "constant") {
    std::fill(values.begin(), values.end(), float(configValue(p, "value", 0.0)));
  } else if (init == "glorot_uniform" || init == "glorot_normal") {
    varianceScaling(1.0, (fanIn + fanOut) / 2.0, init == "glorot_uniform");
  } else if (init == "he_uniform" || init == "he_normal") {
    varianceScaling(2.0, fanIn, init == "he_uniform");
  } else if (init == "lecun_uniform" || init == "lecun_normal") {
    varianceScaling(1.0, fanIn, init == "lecun_uniform");
  } else if (init == "random_normal") {
    double mean = configValue(p, "mean", 0.0), stddev = configValue(p, "stddev", 0.05);
    for (float &v : values)
      v = float(mean + stddev * rng.normal());
  } else if (init == "truncated_normal") {
    double mean = configValue(p, "mean", 0.0), stddev = configValue(p, "stddev", 0.05);
    for (float &v : values)
      v = float(mean + stddev * rng.truncatedNormal());
  } else if (init == "random_uniform") {
    double lo = configValue(p, "minval", -0.05), hi = configValue(p, "maxval", 0.05);
    for (float &v : values)
      v = float(lo + (hi - lo) * rng.uniform());
  }
  return values;
}
