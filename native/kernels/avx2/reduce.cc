// AVX2 reductions; lanes accumulate in double (see avx512/reduce.cc for why).
#include <immintrin.h>

#include "../kernels.h"

namespace kiln::avx2 {
namespace {

// Adds the 8 floats of v, widened to double, into lo/hi.
void widen_add(__m256d& lo, __m256d& hi, __m256 v) {
  lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

double hsum(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

template <typename VMap, typename SMap>
double reduce(const float* x, size_t n, VMap vmap, SMap smap) {
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  __m256d a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    widen_add(a0, a1, vmap(_mm256_loadu_ps(x + i)));
    widen_add(a2, a3, vmap(_mm256_loadu_ps(x + i + 8)));
  }
  for (; i + 8 <= n; i += 8) widen_add(a0, a1, vmap(_mm256_loadu_ps(x + i)));
  double tail = 0.0;
  for (; i < n; ++i) tail += smap(x[i]);
  return hsum(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3))) + tail;
}

}  // namespace

double sum_f32(const float* x, size_t n) {
  return reduce(x, n, [](__m256 v) { return v; }, [](float s) { return s; });
}

double sumsq_f32(const float* x, size_t n) {
  // The square is taken in float, as PyTorch does for float tensors.
  return reduce(x, n, [](__m256 v) { return _mm256_mul_ps(v, v); }, [](float s) { return s * s; });
}

// Column sums over a strip of V*8 columns (see avx512/reduce.cc): each row contributes V
// contiguous vectors, added into 2*V double accumulators.
template <int V>
void column_strip(float* y, const float* x, size_t rows, size_t ld) {
  __m256d lo[V], hi[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) lo[v] = hi[v] = _mm256_setzero_pd();
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * ld;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) widen_add(lo[v], hi[v], _mm256_loadu_ps(row + 8 * v));
  }
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    __m256 s = _mm256_set_m128(_mm256_cvtpd_ps(hi[v]), _mm256_cvtpd_ps(lo[v]));
    _mm256_storeu_ps(y + 8 * v, _mm256_add_ps(_mm256_loadu_ps(y + 8 * v), s));
  }
}

void column_sum_f32(float* y, const float* x, size_t rows, size_t cols, size_t ld) {
  size_t c = 0;
  for (; c + 32 <= cols; c += 32) column_strip<4>(y + c, x + c, rows, ld);
  for (; c + 8 <= cols; c += 8) column_strip<1>(y + c, x + c, rows, ld);
  for (; c < cols; ++c) {
    double s = 0.0;
    for (size_t r = 0; r < rows; ++r) s += x[r * ld + c];
    y[c] += static_cast<float>(s);
  }
}

}  // namespace kiln::avx2
