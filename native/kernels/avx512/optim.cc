// AVX-512 optimizer updates: 16 lanes, every block (the head up to a cache line, the body, the
// tail) through the same masked vector code, so each element gets the same arithmetic wherever
// a thread's chunk starts. Scalars are rounded to float once per call (as PyTorch passes a
// Python float to a float32 op); FMAs where PyTorch's vectorized kernels use them.
// Built with -march=x86-64-v4 into its own static library; nothing here is shared inline code.
#include <immintrin.h>

#include <cstdint>

#include "../kernels.h"

namespace kiln::avx512 {
namespace {

__mmask16 first_lanes(size_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

// Calls block(offset, mask) over [0, n): a head that brings p to a 64-byte boundary (JS buffers
// are only 16-byte aligned), whole vectors, then a masked tail.
template <typename Block>
void over_vectors(const float* p, size_t n, Block block) {
  size_t head = ((64 - (reinterpret_cast<uintptr_t>(p) & 63)) & 63) / sizeof(float);
  size_t i = head < n ? head : n;
  if (i > 0) block(size_t{0}, first_lanes(i));
  for (; i + 16 <= n; i += 16) block(i, static_cast<__mmask16>(0xFFFF));
  if (i < n) block(i, first_lanes(n - i));
}

}  // namespace

void sgd_step_f32(float* p, float* v, const float* g, const SgdStep& s, size_t n) {
  const __m512 lr = _mm512_set1_ps(static_cast<float>(s.lr));
  const __m512 mom = _mm512_set1_ps(static_cast<float>(s.momentum));
  const __m512 wd = _mm512_set1_ps(static_cast<float>(s.weight_decay));
  const bool decay = s.weight_decay != 0.0, momentum = s.momentum != 0.0;
  over_vectors(p, n, [&](size_t i, __mmask16 k) {
    __m512 pv = _mm512_maskz_loadu_ps(k, p + i);
    __m512 gv = _mm512_maskz_loadu_ps(k, g + i);
    if (decay) gv = _mm512_fmadd_ps(wd, pv, gv);  // g' = g + wd * p
    __m512 d = gv;
    if (momentum) {
      // v = momentum * v + g', or g' on the first step
      __m512 vv = s.first ? gv : _mm512_fmadd_ps(mom, _mm512_maskz_loadu_ps(k, v + i), gv);
      _mm512_mask_storeu_ps(v + i, k, vv);
      d = s.nesterov ? _mm512_fmadd_ps(mom, vv, gv) : vv;
    }
    _mm512_mask_storeu_ps(p + i, k, _mm512_fnmadd_ps(lr, d, pv));  // p - lr * d
  });
}

void adam_step_f32(float* p, float* m, float* v, const float* g, const AdamStep& s, size_t n) {
  const __m512 b1 = _mm512_set1_ps(static_cast<float>(s.beta1));
  const __m512 b2 = _mm512_set1_ps(static_cast<float>(s.beta2));
  const __m512 omb1 = _mm512_set1_ps(static_cast<float>(1.0 - s.beta1));
  const __m512 omb2 = _mm512_set1_ps(static_cast<float>(1.0 - s.beta2));
  const __m512 eps = _mm512_set1_ps(static_cast<float>(s.eps));
  const __m512 wd = _mm512_set1_ps(static_cast<float>(s.weight_decay));
  const __m512 neg_step = _mm512_set1_ps(static_cast<float>(-s.step_size));
  const __m512 bc2 = _mm512_set1_ps(static_cast<float>(s.bc2_sqrt));
  const __m512 decay = _mm512_set1_ps(static_cast<float>(s.decay));
  const bool l2 = !s.decoupled && s.weight_decay != 0.0;
  over_vectors(p, n, [&](size_t i, __mmask16 k) {
    __m512 pv = _mm512_maskz_loadu_ps(k, p + i);
    __m512 gv = _mm512_maskz_loadu_ps(k, g + i);
    if (s.decoupled) pv = _mm512_mul_ps(pv, decay);  // AdamW: p * (1 - lr * wd)
    if (l2) gv = _mm512_fmadd_ps(wd, pv, gv);        // Adam: g + wd * p
    __m512 mv = _mm512_fmadd_ps(omb1, gv, _mm512_mul_ps(b1, _mm512_maskz_loadu_ps(k, m + i)));
    __m512 vv = _mm512_fmadd_ps(_mm512_mul_ps(omb2, gv), gv, _mm512_mul_ps(b2, _mm512_maskz_loadu_ps(k, v + i)));
    _mm512_mask_storeu_ps(m + i, k, mv);
    _mm512_mask_storeu_ps(v + i, k, vv);
    // NOTE: a true sqrt and division (no rsqrt/rcp estimates): the result must match the reference.
    __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vv), bc2), eps);
    _mm512_mask_storeu_ps(p + i, k, _mm512_add_ps(pv, _mm512_div_ps(_mm512_mul_ps(neg_step, mv), denom)));
  });
}

}  // namespace kiln::avx512
