// AVX2 batch-norm pieces: the loops of avx512/batchnorm.cc with 8 lanes (see there for why they
// walk consecutive planes and how they sum). The rest of a plane goes through vmaskmov loads and
// stores: masked lanes are never touched, so never fault.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "../kernels.h"

namespace kiln::avx2 {
namespace {

constexpr size_t kBlock = 256;  // each float lane adds at most 16 values before widening

// A vector position: whole (all lanes) or the first lanes of `mask`.
struct Lanes {
  bool full;
  __m256i mask;
};

Lanes first_lanes(size_t rest) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return {false, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(rest)), idx)};
}

__m256 load(const float* p, Lanes l) { return l.full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, l.mask); }
void store(float* p, __m256 v, Lanes l) {
  if (l.full) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, l.mask, v);
}
// v with the lanes outside l set to 0
__m256 keep(__m256 v, Lanes l) { return l.full ? v : _mm256_and_ps(v, _mm256_castsi256_ps(l.mask)); }

// The lane sums of a and b, in float: (sum a, sum b), one tree for both.
std::pair<float, float> hsum2(__m256 a, __m256 b) {
  __m256 t = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
  t = _mm256_add_ps(t, _mm256_permute_ps(t, _MM_SHUFFLE(2, 3, 0, 1)));
  t = _mm256_add_ps(t, _mm256_permute_ps(t, _MM_SHUFFLE(1, 0, 3, 2)));
  return {_mm256_cvtss_f32(t), _mm_cvtss_f32(_mm256_extractf128_ps(t, 1))};
}

template <typename Step, typename Flush>
void blocks(size_t n, Step step, Flush flush) {
  const Lanes all{true, _mm256_setzero_si256()};
  for (size_t b = 0; b < n; b += kBlock) {
    const size_t e = std::min(n, b + kBlock);
    size_t i = b;
    for (; i + 16 <= e; i += 16) step(i, all, 0), step(i + 8, all, 1);
    if (i + 8 <= e) step(i, all, 0), i += 8;
    if (i < e) step(i, first_lanes(e - i), 1);
    flush();
  }
}

template <typename Step>
void vectors(size_t n, Step step) {
  const Lanes all{true, _mm256_setzero_si256()};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) step(i, all), step(i + 8, all);
  if (i + 8 <= n) step(i, all), i += 8;
  if (i < n) step(i, first_lanes(n - i));
}

struct TwoSums {
  __m256 a[2], b[2];
  double ta = 0.0, tb = 0.0;
  TwoSums() { clear(); }
  void clear() { a[0] = a[1] = b[0] = b[1] = _mm256_setzero_ps(); }
  void flush() {
    const auto [sa, sb] = hsum2(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(b[0], b[1]));
    ta += sa;
    tb += sb;
    clear();
  }
};

// The 8 mask bits of the vector at plane index i (a multiple of 8), one per lane: all ones where set.
__m256 load_bits(const uint8_t* bits, size_t i) {
  const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i b = _mm256_and_si256(_mm256_set1_epi32(bits[i / 8]), lane_bit);
  return _mm256_castsi256_ps(_mm256_cmpeq_epi32(b, lane_bit));
}

// g = dy where the fused ReLU passed (the plane's mask bits, else y > 0), or dy; lanes outside l are 0
__m256 grad(const float* dy, const float* y, const uint8_t* bits, size_t i, Lanes l) {
  const __m256 g = load(dy + i, l);
  if (bits) return _mm256_and_ps(g, load_bits(bits, i));
  return y ? _mm256_and_ps(g, _mm256_cmp_ps(load(y + i, l), _mm256_setzero_ps(), _CMP_GT_OQ)) : g;
}

template <bool Relu, bool Res>
void apply(float* y, uint8_t* mask, const float* x, const float* res, const double* mean, const float* scale,
           const float* bias, size_t planes, size_t hw) {
  const __m256 zero = _mm256_setzero_ps();
  for (size_t p = 0; p < planes; ++p) {
    const float hi = static_cast<float>(mean[p]), lo = static_cast<float>(mean[p] - hi);  // see avx512
    const __m256 vh = _mm256_set1_ps(hi), vl = _mm256_set1_ps(lo);
    const __m256 vs = _mm256_set1_ps(scale[p]), vb = _mm256_set1_ps(bias[p]);
    const float* xp = x + p * hw;
    const float* rp = Res ? res + p * hw : nullptr;
    float* yp = y + p * hw;
    uint8_t* bits = mask ? mask + p * batch_norm_mask_stride(hw) : nullptr;
    vectors(hw, [&](size_t i, Lanes l) {
      const __m256 d = _mm256_sub_ps(_mm256_sub_ps(load(xp + i, l), vh), vl);
      __m256 r = _mm256_fmadd_ps(d, vs, vb);
      if (Res) r = _mm256_add_ps(r, load(rp + i, l));
      if (Relu) {
        // y > 0 is r > 0 (NaN: false both ways); lanes outside l are cleared
        if (bits) bits[i / 8] = static_cast<uint8_t>(_mm256_movemask_ps(keep(_mm256_cmp_ps(r, zero, _CMP_GT_OQ), l)));
        r = _mm256_max_ps(zero, r);  // the second operand on NaN: NaN passes, as in ref
      }
      store(yp + i, r, l);
    });
  }
}

}  // namespace

void batch_norm_moments_f32(double* sums, const float* x, const float* shift, size_t planes, size_t hw) {
  for (size_t p = 0; p < planes; ++p) {
    const float* xp = x + p * hw;
    const __m256 k = _mm256_set1_ps(shift[p]);
    TwoSums t;
    blocks(
        hw,
        [&](size_t i, Lanes l, int set) {
          const __m256 d = keep(_mm256_sub_ps(load(xp + i, l), k), l);
          t.a[set] = _mm256_add_ps(t.a[set], d);
          t.b[set] = _mm256_fmadd_ps(d, d, t.b[set]);
        },
        [&] { t.flush(); });
    sums[2 * p] += t.ta;
    sums[2 * p + 1] += t.tb;
  }
}

void batch_norm_apply_f32(float* y, uint8_t* mask, const float* x, const float* res, const double* mean,
                          const float* scale, const float* bias, bool relu, size_t planes, size_t hw) {
  static constexpr decltype(&apply<false, false>) kApply[2][2] = {{apply<false, false>, apply<false, true>},
                                                                  {apply<true, false>, apply<true, true>}};
  kApply[relu][res != nullptr](y, mask, x, res, mean, scale, bias, planes, hw);
}

void batch_norm_grad_sums_f32(double* sums, const float* dy, const float* x, const float* y, const uint8_t* mask,
                              const float* mean, size_t planes, size_t hw) {
  for (size_t p = 0; p < planes; ++p) {
    const size_t o = p * hw;
    const uint8_t* bits = mask ? mask + p * batch_norm_mask_stride(hw) : nullptr;
    const float* yp = y && !bits ? y + o : nullptr;
    const __m256 vm = _mm256_set1_ps(mean[p]);
    TwoSums t;
    blocks(
        hw,
        [&](size_t i, Lanes l, int set) {
          const __m256 g = grad(dy + o, yp, bits, i, l);  // 0 outside l, and so is g * (x - mean)
          t.a[set] = _mm256_add_ps(t.a[set], g);
          t.b[set] = _mm256_fmadd_ps(g, _mm256_sub_ps(load(x + o + i, l), vm), t.b[set]);
        },
        [&] { t.flush(); });
    sums[2 * p] += t.ta;
    sums[2 * p + 1] += t.tb;
  }
}

void batch_norm_grad_input_f32(float* dx, float* dres, const float* dy, const float* x, const float* y,
                               const uint8_t* mask, const float* mean, const float* a, const float* b, const float* c,
                               size_t planes, size_t hw) {
  for (size_t p = 0; p < planes; ++p) {
    const size_t o = p * hw;
    const uint8_t* bits = mask ? mask + p * batch_norm_mask_stride(hw) : nullptr;
    const float* yp = y && !bits ? y + o : nullptr;
    const __m256 vm = _mm256_set1_ps(mean[p]), va = _mm256_set1_ps(a[p]);
    const __m256 vb = _mm256_set1_ps(b[p]), vc = _mm256_set1_ps(c[p]);
    vectors(hw, [&](size_t i, Lanes l) {
      const __m256 g = grad(dy + o, yp, bits, i, l);
      if (dres) store(dres + o + i, _mm256_add_ps(load(dres + o + i, l), g), l);
      if (!dx) return;
      const __m256 d = _mm256_sub_ps(load(x + o + i, l), vm);
      const __m256 t = _mm256_fmadd_ps(va, g, _mm256_fmadd_ps(vb, d, vc));
      store(dx + o + i, _mm256_add_ps(load(dx + o + i, l), t), l);
    });
  }
}

}  // namespace kiln::avx2
