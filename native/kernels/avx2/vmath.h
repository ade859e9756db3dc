// A few AVX2 vector helpers for the sequence kernels, with the names of avx512/vmath.h over 8
// lanes (see there). A mask here is a lane mask plus whether it is full: whole vectors use plain
// loads and stores (masked stores are slow on some AMD cores), only the tail is masked.
// NOTE: included only by files of this ISA library; everything sits in an anonymous namespace.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace kiln::avx2 {
namespace {

using V = __m256;
struct M {
  __m256i lanes;
  bool full;
};
constexpr size_t kLanes = 8;

inline M mask_of(size_t rest) {
  if (rest >= kLanes) return {_mm256_set1_epi32(-1), true};
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return {_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rest)), idx), false};
}
inline M full_mask() { return {_mm256_set1_epi32(-1), true}; }
inline V load(const float* p, M m) { return m.full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m.lanes); }
inline V load_or(const float* p, M m, V fill) {
  return m.full ? _mm256_loadu_ps(p) : _mm256_blendv_ps(fill, _mm256_maskload_ps(p, m.lanes), _mm256_castsi256_ps(m.lanes));
}
inline void store(float* p, M m, V v) {
  if (m.full) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, m.lanes, v);
}
inline V set1(float v) { return _mm256_set1_ps(v); }
inline V zero() { return _mm256_setzero_ps(); }
inline V add(V a, V b) { return _mm256_add_ps(a, b); }
inline V sub(V a, V b) { return _mm256_sub_ps(a, b); }
inline V mul(V a, V b) { return _mm256_mul_ps(a, b); }
inline V div(V a, V b) { return _mm256_div_ps(a, b); }
inline V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
inline V fmsub(V a, V b, V c) { return _mm256_fmsub_ps(a, b, c); }
// NOTE: max/min return the SECOND operand when either is NaN; pass the data second to keep NaN.
inline V max(V a, V b) { return _mm256_max_ps(a, b); }
inline V min(V a, V b) { return _mm256_min_ps(a, b); }
inline V keep(M m, V v) { return m.full ? v : _mm256_and_ps(v, _mm256_castsi256_ps(m.lanes)); }
inline V abs(V v) { return _mm256_andnot_ps(set1(-0.0f), v); }
inline V select_neg(V x, V a, V b) { return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, zero(), _CMP_LT_OQ)); }
inline V select_gt_half(V x, V a, V b) { return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, set1(0.5f), _CMP_GT_OQ)); }
inline float hsum(V v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float hmax(V v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// exp: see avx512/vmath.h (the same steps and constants)
inline V exp(V x) {
  V xc = min(set1(88.8f), x);
  xc = max(set1(-104.0f), xc);
  const V n = _mm256_round_ps(mul(xc, set1(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  V r = fnmadd(n, set1(0.693359375f), xc);
  r = fnmadd(n, set1(-2.12194440e-4f), r);
  V p = set1(1.9875691500e-4f);
  p = fmadd(p, r, set1(1.3981999507e-3f));
  p = fmadd(p, r, set1(8.3334519073e-3f));
  p = fmadd(p, r, set1(4.1665795894e-2f));
  p = fmadd(p, r, set1(1.6666665459e-1f));
  p = fmadd(p, r, set1(5.0000001201e-1f));
  p = fmadd(p, mul(r, r), add(r, set1(1.0f)));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const V f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const V f2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return mul(mul(p, f1), f2);
}

inline __m256i mix32(__m256i x) {
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(0x7feb352d));
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(static_cast<int>(0x846ca68bU)));
  return _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
}
inline __m256i counters(uint32_t lo) {
  return _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(lo)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
// scale where bits24(h) >= threshold (both below 2^31: a signed compare is exact), else 0
inline V keep_multiplier(__m256i h, uint32_t threshold, float scale) {
  const __m256i drop = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(threshold)), _mm256_srli_epi32(h, 8));
  return _mm256_andnot_ps(_mm256_castsi256_ps(drop), set1(scale));
}
inline __m256i xor_i(__m256i a, uint32_t k) { return _mm256_xor_si256(a, _mm256_set1_epi32(static_cast<int>(k))); }
inline __m256i add_i(__m256i a, uint32_t k) { return _mm256_add_epi32(a, _mm256_set1_epi32(static_cast<int>(k))); }

template <typename Fn>
void each(size_t n, Fn fn) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) fn(i, full_mask());
  if (i < n) fn(i, mask_of(n - i));
}

constexpr size_t kSumBlock = 1024;
template <typename Fn>
double block_sum(size_t n, Fn fn) {
  double total = 0.0;
  for (size_t b = 0; b < n; b += kSumBlock) {
    const size_t e = b + kSumBlock < n ? b + kSumBlock : n;
    V a0 = zero(), a1 = zero();
    size_t i = b;
    for (; i + 2 * kLanes <= e; i += 2 * kLanes) {
      a0 = add(a0, fn(i, full_mask()));
      a1 = add(a1, fn(i + kLanes, full_mask()));
    }
    if (i + kLanes <= e) a0 = add(a0, fn(i, full_mask())), i += kLanes;
    if (i < e) a1 = add(a1, fn(i, mask_of(e - i)));
    total += hsum(add(a0, a1));
  }
  return total;
}

inline float row_max(const float* x, size_t n) {
  const V ninf = set1(-__builtin_inff());
  V m0 = ninf, m1 = ninf;
  size_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    m0 = max(m0, _mm256_loadu_ps(x + i));
    m1 = max(m1, _mm256_loadu_ps(x + i + kLanes));
  }
  if (i + kLanes <= n) m0 = max(m0, _mm256_loadu_ps(x + i)), i += kLanes;
  if (i < n) m1 = max(m1, load_or(x + i, mask_of(n - i), ninf));
  return hmax(max(m0, m1));
}

}  // namespace
}  // namespace kiln::avx2
