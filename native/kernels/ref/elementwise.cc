// Reference elementwise kernels: plain loops, the oracle for the SIMD variants and the fallback
// on every CPU (arm64 included). Forward and backward side by side.
#include "../kernels.h"

namespace kiln::ref {

void add_f32(float* y, const float* a, const float* b, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void mul_f32(float* y, const float* a, const float* b, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

void axpy_f32(float* y, float alpha, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void scale_f32(float* y, const float* x, float alpha, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = alpha * x[i];
}

void relu_forward_f32(float* y, const float* x, size_t n) {
  // NOTE: `x < 0 ? 0 : x`, not `x > 0 ? x : 0`: NaN must propagate (as in PyTorch) so that a
  // diverged run shows, and this is exactly what the SIMD max(0, x) instructions compute.
  for (size_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

// forward was y = max(x, 0), so dx = dy where x > 0, else 0
void relu_backward_f32(float* dx, const float* dy, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

}  // namespace kiln::ref
