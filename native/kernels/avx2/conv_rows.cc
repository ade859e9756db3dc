// AVX2 pixel-major convolution windows (../simd/im2row.h) and the small weight gradient
// (../simd/conv_weight_small.h) over 8 lanes.
#include <algorithm>

#include "../kernels.h"
#include "vmath.h"

namespace kiln::avx2 {

#include "../simd/conv_weight_small.h"
#include "../simd/im2row.h"

void conv_weight_small_f32(float* dw, float* scratch, const float* x, const float* dy, const Conv2dDims& d, size_t n0,
                           size_t n1) {
  conv_weight_small(dw, scratch, x, dy, d, n0, n1);
}

size_t conv_weight_small_scratch(const Conv2dDims& d) { return conv_weight_small_scratch_floats(d); }

}  // namespace kiln::avx2
