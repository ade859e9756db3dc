// AVX2 row pieces of the tiled attention (runtime/attention.cc): 8 lanes, scalar tails.
#include <immintrin.h>

#include <cmath>

#include "../attention.h"

namespace kiln::avx2 {
namespace {

// exp(x) for x <= 0: 2^n p(r) as avx512's exp_le0, with 2^n built in the exponent field, so
// arguments below -87.3 (where 2^n would leave the normal range) give 0. NaN stays NaN.
__m256 exp_le0(__m256 x) {
  const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);
  x = _mm256_max_ps(_mm256_set1_ps(-87.3f), x);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

float hmax(__m256 v) {
  __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  x = _mm_max_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

float hsum(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

}  // namespace

void attention_softmax_block_f32(float* s, size_t ld, size_t rows, size_t cols, const uint32_t* lim, float* m,
                                 float* l, float* alpha) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = s + r * ld;
    const size_t n = lim[r] < cols ? lim[r] : cols;
    if (n == 0) {
      for (size_t j = 0; j < cols; ++j) row[j] = 0.0f;
      alpha[r] = 1.0f;
      continue;
    }
    size_t j = 0;
    __m256 vmax = _mm256_set1_ps(m[r]);
    for (; j + 8 <= n; j += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(row + j));
    float mx = hmax(vmax);
    for (; j < n; ++j) mx = std::fmax(mx, row[j]);
    const __m256 vm = _mm256_set1_ps(mx);
    __m256 vsum = _mm256_setzero_ps();
    for (j = 0; j + 8 <= n; j += 8) {
      const __m256 e = exp_le0(_mm256_sub_ps(_mm256_loadu_ps(row + j), vm));
      _mm256_storeu_ps(row + j, e);
      vsum = _mm256_add_ps(vsum, e);
    }
    float sum = hsum(vsum);
    for (; j < n; ++j) sum += (row[j] = std::exp(row[j] - mx));
    for (; j < cols; ++j) row[j] = 0.0f;
    alpha[r] = std::exp(m[r] - mx);
    l[r] = l[r] * alpha[r] + sum;
    m[r] = mx;
  }
}

void attention_probs_f32(float* s, size_t ld, size_t rows, size_t cols, const uint32_t* lim, const float* lse) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = s + r * ld;
    const size_t n = lim[r] < cols ? lim[r] : cols;
    const __m256 vl = _mm256_set1_ps(lse[r]);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(row + j, exp_le0(_mm256_sub_ps(_mm256_loadu_ps(row + j), vl)));
    for (; j < n; ++j) row[j] = std::exp(row[j] - lse[r]);
    for (; j < cols; ++j) row[j] = 0.0f;
  }
}

void attention_dscores_f32(float* dp, const float* p, size_t ld, size_t rows, size_t cols, const float* di) {
  for (size_t r = 0; r < rows; ++r) {
    float* g = dp + r * ld;
    const float* pr = p + r * ld;
    const __m256 vd = _mm256_set1_ps(di[r]);
    size_t j = 0;
    for (; j + 8 <= cols; j += 8) _mm256_storeu_ps(g + j, _mm256_mul_ps(_mm256_loadu_ps(pr + j), _mm256_sub_ps(_mm256_loadu_ps(g + j), vd)));
    for (; j < cols; ++j) g[j] = pr[j] * (g[j] - di[r]);
  }
}

}  // namespace kiln::avx2
