// A few AVX-512 vector helpers for the sequence kernels (layernorm.cc, softmax.cc, activation.cc):
// masked loads and stores, lane reductions, and exp. avx2/vmath.h has the same names over 8 lanes,
// so the kernel files of the two levels read the same.
// NOTE: included only by files of this ISA library, and everything sits in an anonymous namespace:
// no COMDAT copy compiled for AVX-512 can ever be picked for a baseline caller.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace kiln::avx512 {
namespace {

using V = __m512;
using M = __mmask16;
constexpr size_t kLanes = 16;

inline M full_mask() { return M(0xFFFF); }
inline M mask_of(size_t rest) { return rest >= kLanes ? M(0xFFFF) : static_cast<M>((1u << rest) - 1u); }
inline V load(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
// masked-off lanes read `fill` (e.g. -inf for a maximum)
inline V load_or(const float* p, M m, V fill) { return _mm512_mask_loadu_ps(fill, m, p); }
inline void store(float* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
inline V set1(float v) { return _mm512_set1_ps(v); }
inline V zero() { return _mm512_setzero_ps(); }
inline V add(V a, V b) { return _mm512_add_ps(a, b); }
inline V sub(V a, V b) { return _mm512_sub_ps(a, b); }
inline V mul(V a, V b) { return _mm512_mul_ps(a, b); }
inline V div(V a, V b) { return _mm512_div_ps(a, b); }
inline V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }   // a*b + c
inline V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); } // c - a*b
inline V fmsub(V a, V b, V c) { return _mm512_fmsub_ps(a, b, c); }   // a*b - c
// NOTE: max/min return the SECOND operand when either is NaN; pass the data second to keep NaN.
inline V max(V a, V b) { return _mm512_max_ps(a, b); }
inline V min(V a, V b) { return _mm512_min_ps(a, b); }
inline V keep(M m, V v) { return _mm512_maskz_mov_ps(m, v); }  // masked-off lanes 0
inline V abs(V v) { return _mm512_abs_ps(v); }
// a where x < 0 (ordered: false for NaN), else b
inline V select_neg(V x, V a, V b) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero(), _CMP_LT_OQ), b, a); }
// a where x > 0.5 (false for NaN), else b
inline V select_gt_half(V x, V a, V b) {
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, set1(0.5f), _CMP_GT_OQ), b, a);
}
inline float hsum(V v) { return _mm512_reduce_add_ps(v); }
inline float hmax(V v) { return _mm512_reduce_max_ps(v); }

// exp(x) as 2^n * p(r), r = x - n ln2 (|r| <= ln2/2, ln2 in two parts), p Cephes' expf polynomial:
// within 1-2 ulp. IEEE at the edges: overflow and +inf give +inf, underflow and -inf give 0
// (subnormal results are rounded through two scalings), NaN gives NaN.
inline V exp(V x) {
  // clamp with the data second (NaN stays NaN); beyond these bounds the result is inf or 0 anyway
  V xc = min(set1(88.8f), x);
  xc = max(set1(-104.0f), xc);
  const V n = _mm512_roundscale_ps(mul(xc, set1(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  V r = fnmadd(n, set1(0.693359375f), xc);
  r = fnmadd(n, set1(-2.12194440e-4f), r);
  V p = set1(1.9875691500e-4f);
  p = fmadd(p, r, set1(1.3981999507e-3f));
  p = fmadd(p, r, set1(8.3334519073e-3f));
  p = fmadd(p, r, set1(4.1665795894e-2f));
  p = fmadd(p, r, set1(1.6666665459e-1f));
  p = fmadd(p, r, set1(5.0000001201e-1f));
  p = fmadd(p, mul(r, r), add(r, set1(1.0f)));
  // 2^n in two factors 2^(n/2) 2^(n - n/2): n in [-150, 128] makes each a normal float, and the
  // product overflows or goes subnormal exactly where exp does
  const __m512i ni = _mm512_cvtps_epi32(n);
  const __m512i n1 = _mm512_srai_epi32(ni, 1), n2 = _mm512_sub_epi32(ni, n1);
  const __m512i bias = _mm512_set1_epi32(127);
  const V f1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
  const V f2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
  return mul(mul(p, f1), f2);
}

// lowbias32 over 16 lanes (see ref::dropout_hash)
inline __m512i mix32(__m512i x) {
  x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
  x = _mm512_mullo_epi32(x, _mm512_set1_epi32(0x7feb352d));
  x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));
  x = _mm512_mullo_epi32(x, _mm512_set1_epi32(static_cast<int>(0x846ca68bU)));
  return _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
}
// lanes lo + 0..15 (32-bit counters)
inline __m512i counters(uint32_t lo) {
  return _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(lo)),
                          _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}
// scale where bits24(h) >= threshold, else 0
inline V keep_multiplier(__m512i h, uint32_t threshold, float scale) {
  const M keep = _mm512_cmpge_epu32_mask(_mm512_srli_epi32(h, 8), _mm512_set1_epi32(static_cast<int>(threshold)));
  return _mm512_maskz_mov_ps(keep, set1(scale));
}
inline __m512i xor_i(__m512i a, uint32_t k) { return _mm512_xor_si512(a, _mm512_set1_epi32(static_cast<int>(k))); }
inline __m512i add_i(__m512i a, uint32_t k) { return _mm512_add_epi32(a, _mm512_set1_epi32(static_cast<int>(k))); }

// fn(i, mask) over [0, n) in vectors, the last one masked
template <typename Fn>
void each(size_t n, Fn fn) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) fn(i, M(0xFFFF));
  if (i < n) fn(i, mask_of(n - i));
}

// The sum over [0, n) of the vectors fn(i, mask) returns (masked-off lanes must be 0): float
// lanes over blocks of kSumBlock values (two accumulators), double across blocks. A value's lane
// depends on its index only.
constexpr size_t kSumBlock = 1024;
template <typename Fn>
double block_sum(size_t n, Fn fn) {
  double total = 0.0;
  for (size_t b = 0; b < n; b += kSumBlock) {
    const size_t e = b + kSumBlock < n ? b + kSumBlock : n;
    V a0 = zero(), a1 = zero();
    size_t i = b;
    for (; i + 2 * kLanes <= e; i += 2 * kLanes) {
      a0 = add(a0, fn(i, M(0xFFFF)));
      a1 = add(a1, fn(i + kLanes, M(0xFFFF)));
    }
    if (i + kLanes <= e) a0 = add(a0, fn(i, M(0xFFFF))), i += kLanes;
    if (i < e) a1 = add(a1, fn(i, mask_of(e - i)));
    total += hsum(add(a0, a1));
  }
  return total;
}

// The maximum of x[0, n) (NaN may or may not win; callers let NaN through their sums instead).
inline float row_max(const float* x, size_t n) {
  const V ninf = set1(-__builtin_inff());
  V m0 = ninf, m1 = ninf;
  size_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    m0 = max(m0, load(x + i, M(0xFFFF)));
    m1 = max(m1, load(x + i + kLanes, M(0xFFFF)));
  }
  if (i + kLanes <= n) m0 = max(m0, load(x + i, M(0xFFFF))), i += kLanes;
  if (i < n) m1 = max(m1, load_or(x + i, mask_of(n - i), ninf));
  return hmax(max(m0, m1));
}

}  // namespace
}  // namespace kiln::avx512
