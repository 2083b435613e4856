//===- Padding.h - TensorFlow's "same" padding -----------------------------===//
#ifndef KILN_CODEGEN_PADDING_H
#define KILN_CODEGEN_PADDING_H

#include <algorithm>
#include <cstdint>

namespace kiln {

struct SamePadding {
  int64_t before, after;
};

/// The "same" padding of one spatial dim from `in` to `out` elements with a
/// `window` and `stride`, split as TensorFlow splits it: the extra row or
/// column of an odd total goes after the last element.
inline SamePadding samePadding(int64_t in, int64_t out, int64_t window, int64_t stride) {
  int64_t total = std::max<int64_t>((out - 1) * stride + window - in, 0);
  return {total / 2, total - total / 2};
}

} // namespace kiln

#endif
