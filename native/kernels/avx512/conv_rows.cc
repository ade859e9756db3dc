// AVX-512 pixel-major convolution windows (../simd/im2row.h), the small forward pass and weight
// gradient (../simd/conv_forward_small.h, conv_weight_small.h) over 16 lanes.
#include <algorithm>

#include "../kernels.h"
#include "vmath.h"

namespace kiln::avx512 {

#include "../simd/conv_forward_small.h"
#include "../simd/conv_weight_small.h"
#include "../simd/im2row.h"

void conv_weight_small_f32(float* dw, float* scratch, const float* x, const float* dy, const Conv2dDims& d, size_t n0,
                           size_t n1) {
  conv_weight_small(dw, scratch, x, dy, d, n0, n1);
}

size_t conv_weight_small_scratch(const Conv2dDims& d) { return conv_weight_small_scratch_floats(d); }

void conv_forward_small_f32(float* y, float* scratch, const float* x, const float* w, const float* b,
                            const Conv2dDims& d, size_t n0, size_t n1) {
  conv_forward_small(y, scratch, x, w, b, d, n0, n1);
}

size_t conv_forward_small_scratch(const Conv2dDims& d) { return conv_forward_small_scratch_floats(d); }

}  // namespace kiln::avx512
