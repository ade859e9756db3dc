// AVX2+FMA elementwise kernels: 8 lanes, two vectors per iteration, a scalar tail.
// Built with -march=x86-64-v3 into its own static library; see avx512/elementwise.cc for why
// nothing here is shared inline code.
#include <immintrin.h>

#include "../kernels.h"

namespace kiln::avx2 {
namespace {

// y = vop(a, b) over n floats, with sop the same operation on scalars for the tail.
template <typename VOp, typename SOp>
void binary(float* y, const float* a, const float* b, size_t n, VOp vop, SOp sop) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 r0 = vop(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 r1 = vop(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    _mm256_storeu_ps(y + i, r0);
    _mm256_storeu_ps(y + i + 8, r1);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, vop(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < n; ++i) y[i] = sop(a[i], b[i]);
}

}  // namespace

void add_f32(float* y, const float* a, const float* b, size_t n) {
  binary(y, a, b, n, [](__m256 u, __m256 v) { return _mm256_add_ps(u, v); },
         [](float u, float v) { return u + v; });
}

void mul_f32(float* y, const float* a, const float* b, size_t n) {
  binary(y, a, b, n, [](__m256 u, __m256 v) { return _mm256_mul_ps(u, v); },
         [](float u, float v) { return u * v; });
}

void axpy_f32(float* y, float alpha, const float* x, size_t n) {
  const __m256 va = _mm256_set1_ps(alpha);
  // The tail uses fmaf too, so every element is rounded once, as in the vector body.
  binary(y, x, y, n, [va](__m256 xv, __m256 yv) { return _mm256_fmadd_ps(va, xv, yv); },
         [alpha](float xs, float ys) { return __builtin_fmaf(alpha, xs, ys); });
}

void scale_f32(float* y, const float* x, float alpha, size_t n) {
  const __m256 va = _mm256_set1_ps(alpha);
  binary(y, x, x, n, [va](__m256 xv, __m256) { return _mm256_mul_ps(va, xv); },
         [alpha](float xs, float) { return alpha * xs; });
}

void relu_forward_f32(float* y, const float* x, size_t n) {
  // max(0, x) returns its second operand for NaN and for -0: the same as `x < 0 ? 0 : x`.
  const __m256 zero = _mm256_setzero_ps();
  binary(y, x, x, n, [zero](__m256 xv, __m256) { return _mm256_max_ps(zero, xv); },
         [](float xs, float) { return xs < 0.0f ? 0.0f : xs; });
}

// forward was y = max(x, 0), so dx += dy where x > 0
void relu_backward_f32(float* dx, const float* dy, const float* x, size_t n) {
  const __m256 zero = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 pos = _mm256_cmp_ps(_mm256_loadu_ps(x + i), zero, _CMP_GT_OQ);
    __m256 g = _mm256_and_ps(pos, _mm256_loadu_ps(dy + i));
    _mm256_storeu_ps(dx + i, _mm256_add_ps(_mm256_loadu_ps(dx + i), g));
  }
  for (; i < n; ++i) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

}  // namespace kiln::avx2
