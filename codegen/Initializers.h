//===- Initializers.h - initial parameter values, Keras semantics --------===//
#ifndef KILN_CODEGEN_INITIALIZERS_H
#define KILN_CODEGEN_INITIALIZERS_H

#include "ir/KilnOps.h"
#include <cstdint>
#include <vector>

namespace kiln {

/// The initial value of a parameter, from its Keras initializer and the
/// shape's fans (Keras's VarianceScaling rules; normals are truncated at two
/// standard deviations as Keras does). Random numbers come from a counter
/// -based generator keyed on the seed (the initializer's own, else
/// `modelSeed`) and the parameter's name, so a build is reproducible and
/// independent of parameter order.
std::vector<float> initialValue(ParamOp param, uint64_t modelSeed);

} // namespace kiln

#endif
