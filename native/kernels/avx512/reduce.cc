// AVX-512 reductions. Lanes accumulate in double: the sums feed gradient norms and statistics,
// and these loops are memory-bound, so the wider accumulators cost nothing measurable.
#include <immintrin.h>

#include "../kernels.h"

namespace kiln::avx512 {
namespace {

__mmask16 tail_mask(size_t rest) { return static_cast<__mmask16>((1u << rest) - 1u); }
__mmask16 tail_mask_or_full(size_t rest) { return rest >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(rest); }

// Adds the 16 floats of v, widened to double, into the two accumulators lo/hi.
void widen_add(__m512d& lo, __m512d& hi, __m512 v) {
  lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
  hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

template <typename Map>
double reduce(const float* x, size_t n, Map map) {
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
  __m512d a2 = _mm512_setzero_pd(), a3 = _mm512_setzero_pd();
  // NOTE: no alignment peel here (the maps have one): which lane an element lands in decides the
  // rounding, and it must depend on the element's index only, never on the buffer's address.
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    widen_add(a0, a1, map(_mm512_loadu_ps(x + i)));
    widen_add(a2, a3, map(_mm512_loadu_ps(x + i + 16)));
  }
  for (; i + 16 <= n; i += 16) widen_add(a0, a1, map(_mm512_loadu_ps(x + i)));
  if (i < n) widen_add(a2, a3, map(_mm512_maskz_loadu_ps(tail_mask(n - i), x + i)));
  return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
}

}  // namespace

double sum_f32(const float* x, size_t n) {
  return reduce(x, n, [](__m512 v) { return v; });
}

double sumsq_f32(const float* x, size_t n) {
  // NOTE: the square is taken in float, as PyTorch does for float tensors; widening first would
  // differ from the reference by at most one float rounding per element.
  return reduce(x, n, [](__m512 v) { return _mm512_mul_ps(v, v); });
}

// Column sums over a strip of V*16 columns: every row contributes V contiguous vectors (a few
// cache lines read in order), added into 2*V double accumulators that stay in registers.
template <int V>
void column_strip(float* y, const float* x, size_t rows, size_t ld, __mmask16 last_mask) {
  __m512d lo[V], hi[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) lo[v] = hi[v] = _mm512_setzero_pd();
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * ld;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      __mmask16 m = v == V - 1 ? last_mask : static_cast<__mmask16>(0xFFFF);
      widen_add(lo[v], hi[v], _mm512_maskz_loadu_ps(m, row + 16 * v));
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    __mmask16 m = v == V - 1 ? last_mask : static_cast<__mmask16>(0xFFFF);
    __m512 s = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo[v])), _mm512_cvtpd_ps(hi[v]), 1);
    _mm512_mask_storeu_ps(y + 16 * v, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + 16 * v), s));
  }
}

void column_sum_f32(float* y, const float* x, size_t rows, size_t cols, size_t ld) {
  size_t c = 0;
  for (; c + 64 <= cols; c += 64) column_strip<4>(y + c, x + c, rows, ld, 0xFFFF);
  for (; c < cols; c += 16) column_strip<1>(y + c, x + c, rows, ld, tail_mask_or_full(cols - c));
}

}  // namespace kiln::avx512
