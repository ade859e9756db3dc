// AVX2+FMA optimizer updates: 8 lanes, the tail through the same vector code under a lane mask
// (maskload/maskstore), so each element gets the same arithmetic wherever a thread's chunk
// starts. See avx512/optim.cc for the arithmetic; built with -march=x86-64-v3.
#include <immintrin.h>

#include "../kernels.h"

namespace kiln::avx2 {
namespace {

// All-ones in the first `count` (< 8) 32-bit lanes.
__m256i first_lanes(size_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// A vector of 8 floats at x (all lanes, or the masked ones with the rest zero).
struct Lanes {
  bool full;
  __m256i mask;
  __m256 load(const float* x) const { return full ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, mask); }
  void store(float* x, __m256 v) const {
    if (full) {
      _mm256_storeu_ps(x, v);
    } else {
      _mm256_maskstore_ps(x, mask, v);
    }
  }
};

// Calls block(offset, lanes) over [0, n): whole vectors, then a masked tail.
template <typename Block>
void over_vectors(size_t n, Block block) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) block(i, Lanes{true, _mm256_setzero_si256()});
  if (i < n) block(i, Lanes{false, first_lanes(n - i)});
}

}  // namespace

void sgd_step_f32(float* p, float* v, const float* g, const SgdStep& s, size_t n) {
  const __m256 lr = _mm256_set1_ps(static_cast<float>(s.lr));
  const __m256 mom = _mm256_set1_ps(static_cast<float>(s.momentum));
  const __m256 wd = _mm256_set1_ps(static_cast<float>(s.weight_decay));
  const bool decay = s.weight_decay != 0.0, momentum = s.momentum != 0.0;
  over_vectors(n, [&](size_t i, const Lanes& k) {
    __m256 pv = k.load(p + i);
    __m256 gv = k.load(g + i);
    if (decay) gv = _mm256_fmadd_ps(wd, pv, gv);  // g' = g + wd * p
    __m256 d = gv;
    if (momentum) {
      __m256 vv = s.first ? gv : _mm256_fmadd_ps(mom, k.load(v + i), gv);  // v = momentum * v + g'
      k.store(v + i, vv);
      d = s.nesterov ? _mm256_fmadd_ps(mom, vv, gv) : vv;
    }
    k.store(p + i, _mm256_fnmadd_ps(lr, d, pv));  // p - lr * d
  });
}

void adam_step_f32(float* p, float* m, float* v, const float* g, const AdamStep& s, size_t n) {
  const __m256 b1 = _mm256_set1_ps(static_cast<float>(s.beta1));
  const __m256 b2 = _mm256_set1_ps(static_cast<float>(s.beta2));
  const __m256 omb1 = _mm256_set1_ps(static_cast<float>(1.0 - s.beta1));
  const __m256 omb2 = _mm256_set1_ps(static_cast<float>(1.0 - s.beta2));
  const __m256 eps = _mm256_set1_ps(static_cast<float>(s.eps));
  const __m256 wd = _mm256_set1_ps(static_cast<float>(s.weight_decay));
  const __m256 neg_step = _mm256_set1_ps(static_cast<float>(-s.step_size));
  const __m256 bc2 = _mm256_set1_ps(static_cast<float>(s.bc2_sqrt));
  const __m256 decay = _mm256_set1_ps(static_cast<float>(s.decay));
  const bool l2 = !s.decoupled && s.weight_decay != 0.0;
  over_vectors(n, [&](size_t i, const Lanes& k) {
    __m256 pv = k.load(p + i);
    __m256 gv = k.load(g + i);
    if (s.decoupled) pv = _mm256_mul_ps(pv, decay);  // AdamW: p * (1 - lr * wd)
    if (l2) gv = _mm256_fmadd_ps(wd, pv, gv);        // Adam: g + wd * p
    __m256 mv = _mm256_fmadd_ps(omb1, gv, _mm256_mul_ps(b1, k.load(m + i)));
    __m256 vv = _mm256_fmadd_ps(_mm256_mul_ps(omb2, gv), gv, _mm256_mul_ps(b2, k.load(v + i)));
    k.store(m + i, mv);
    k.store(v + i, vv);
    __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vv), bc2), eps);
    k.store(p + i, _mm256_add_ps(pv, _mm256_div_ps(_mm256_mul_ps(neg_step, mv), denom)));
  });
}

}  // namespace kiln::avx2
