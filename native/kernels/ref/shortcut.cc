// The ResNet paper's shortcut option A (He et al. 2015, section 4.2, CIFAR): when a stage halves
// the resolution and widens the channels, the identity is subsampled by the stride and padded
// with zero channels, so the shortcut has no parameters. Forward and backward side by side.
#include <algorithm>

#include "../kernels.h"

namespace kiln::ref {

void shortcut_a_forward_f32(float* y, const float* x, const ShortcutDims& d, size_t n0, size_t n1) {
  const size_t hw = d.H * d.W, pq = d.P * d.Q;
  for (size_t n = n0; n < n1; ++n) {
    float* yn = y + n * d.K * pq;
    // the zero channels before and after the copied ones
    std::fill(yn, yn + d.offset * pq, 0.0f);
    std::fill(yn + (d.offset + d.C) * pq, yn + d.K * pq, 0.0f);
    for (size_t c = 0; c < d.C; ++c) {
      const float* xc = x + (n * d.C + c) * hw;
      float* yc = yn + (d.offset + c) * pq;
      for (size_t p = 0; p < d.P; ++p) {
        const float* row = xc + p * d.stride * d.W;
        for (size_t q = 0; q < d.Q; ++q) yc[p * d.Q + q] = row[q * d.stride];
      }
    }
  }
}

// forward copied x[n, c, p*stride, q*stride] to y[n, offset + c, p, q]; the other cells of x get
// no gradient, nor do the zero channels pass any on
void shortcut_a_backward_f32(float* dx, const float* dy, const ShortcutDims& d, size_t n0, size_t n1) {
  const size_t hw = d.H * d.W, pq = d.P * d.Q;
  for (size_t n = n0; n < n1; ++n) {
    for (size_t c = 0; c < d.C; ++c) {
      float* dxc = dx + (n * d.C + c) * hw;
      const float* dyc = dy + (n * d.K + d.offset + c) * pq;
      for (size_t p = 0; p < d.P; ++p) {
        float* row = dxc + p * d.stride * d.W;
        for (size_t q = 0; q < d.Q; ++q) row[q * d.stride] += dyc[p * d.Q + q];
      }
    }
  }
}

}  // namespace kiln::ref
