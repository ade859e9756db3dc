// AVX-512 row pieces of the tiled attention (runtime/attention.cc): 16 lanes, masked tails.
#include <immintrin.h>

#include <cmath>

#include "../attention.h"

namespace kiln::avx512 {
namespace {

__mmask16 lanes(size_t n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u); }

// exp(x) for x <= 0 (softmax arguments are shifted by their maximum): 2^n p(r), r = x - n ln2,
// relative error below 2e-7; results below 2^-126 go through scalef's denormals to 0, -inf
// gives 0 and NaN stays NaN (max returns its second operand when one is NaN).
__m512 exp_le0(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// Zeroes row[n, cols).
void zero_tail(float* row, size_t n, size_t cols) {
  for (size_t j = n; j < cols; j += 16) _mm512_mask_storeu_ps(row + j, lanes(cols - j), _mm512_setzero_ps());
}

}  // namespace

void attention_softmax_block_f32(float* s, size_t ld, size_t rows, size_t cols, const uint32_t* lim, float* m,
                                 float* l, float* alpha) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = s + r * ld;
    const size_t n = lim[r] < cols ? lim[r] : cols;
    if (n == 0) {
      zero_tail(row, 0, cols);
      alpha[r] = 1.0f;
      continue;
    }
    __m512 vmax = _mm512_set1_ps(m[r]);
    for (size_t j = 0; j < n; j += 16) vmax = _mm512_mask_max_ps(vmax, lanes(n - j), vmax, _mm512_maskz_loadu_ps(lanes(n - j), row + j));
    const float mx = _mm512_reduce_max_ps(vmax);
    const __m512 vm = _mm512_set1_ps(mx);
    __m512 sum = _mm512_setzero_ps();
    for (size_t j = 0; j < n; j += 16) {
      const __mmask16 k = lanes(n - j);
      const __m512 e = _mm512_maskz_mov_ps(k, exp_le0(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), vm)));
      _mm512_mask_storeu_ps(row + j, k, e);
      sum = _mm512_add_ps(sum, e);
    }
    zero_tail(row, n, cols);
    alpha[r] = std::exp(m[r] - mx);
    l[r] = l[r] * alpha[r] + _mm512_reduce_add_ps(sum);
    m[r] = mx;
  }
}

void attention_probs_f32(float* s, size_t ld, size_t rows, size_t cols, const uint32_t* lim, const float* lse) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = s + r * ld;
    const size_t n = lim[r] < cols ? lim[r] : cols;
    const __m512 vl = _mm512_set1_ps(lse[r]);
    for (size_t j = 0; j < n; j += 16) {
      const __mmask16 k = lanes(n - j);
      _mm512_mask_storeu_ps(row + j, k, exp_le0(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), vl)));
    }
    zero_tail(row, n, cols);
  }
}

void attention_dscores_f32(float* dp, const float* p, size_t ld, size_t rows, size_t cols, const float* di) {
  for (size_t r = 0; r < rows; ++r) {
    const __m512 vd = _mm512_set1_ps(di[r]);
    float* g = dp + r * ld;
    const float* pr = p + r * ld;
    for (size_t j = 0; j < cols; j += 16) {
      const __mmask16 k = lanes(cols - j);
      _mm512_mask_storeu_ps(g + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, pr + j), _mm512_sub_ps(_mm512_maskz_loadu_ps(k, g + j), vd)));
    }
  }
}

}  // namespace kiln::avx512
