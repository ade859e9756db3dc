// AVX-512 batch-norm pieces over `planes` consecutive (hw) planes, each with its own parameters;
// runtime/batchnorm.cc walks a tensor in memory order with them (the planes of one image and a
// group of channels are contiguous: strided per-channel walks took twice as long).
// Sums: float within a block of kBlock floats of a plane (each lane adds at most 16 values, then
// the lanes are added), double across blocks and planes. NOTE: no alignment peel: an element's
// lane must depend on its index, never on the buffer's address, or results would change with
// where JS put the buffer.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "../kernels.h"

namespace kiln::avx512 {
namespace {

constexpr size_t kBlock = 512;
constexpr __mmask16 kAll = 0xFFFF;

__mmask16 tail_mask(size_t rest) { return static_cast<__mmask16>((1u << rest) - 1u); }

// Software prefetch kAhead floats down each stream, for planes of at least kPrefetchPlane floats.
// The planes of a group of channels are one contiguous run per image, and runtime/batchnorm.cc
// walks them image by image: on ResNet-20's 32x32 planes (8 MiB tensors, from L3 or memory) the
// hardware prefetcher alone left the backward pass 1.2x slower (one thread). Small planes make
// short runs (64-float planes, a thread's channels of one image: 2-8 KiB) where the prefetches
// past a run's end fetch memory another thread works on: 2 threads were 1.3x slower with them.
// (Prefetching past a run's end never faults.)
constexpr size_t kAhead = 512;
constexpr size_t kPrefetchPlane = 1024;
void ahead(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p + kAhead), _MM_HINT_T0); }

// The lane sums of a and b, in float: (sum a, sum b). One tree for both halves the shuffles, and
// matters for small planes (an 8x8 plane is 4 vectors, its reduction as much work again).
std::pair<float, float> hsum2(__m512 a, __m512 b) {
  // 128-bit quarters: [a0 a1 b0 b1] + [a2 a3 b2 b3], then each quarter pair, then within quarters
  __m512 t = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                           _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  t = _mm512_add_ps(t, _mm512_shuffle_f32x4(t, t, _MM_SHUFFLE(2, 3, 0, 1)));
  t = _mm512_add_ps(t, _mm512_permute_ps(t, _MM_SHUFFLE(2, 3, 0, 1)));
  t = _mm512_add_ps(t, _mm512_permute_ps(t, _MM_SHUFFLE(1, 0, 3, 2)));
  return {_mm512_cvtss_f32(t), _mm_cvtss_f32(_mm512_extractf32x4_ps(t, 2))};
}

// step(i, mask, set) over [0, n): whole vectors two at a time (alternating accumulator sets, to
// hide the add latency), then a masked rest; flush() after every block and at the end.
template <typename Step, typename Flush>
void blocks(size_t n, Step step, Flush flush) {
  for (size_t b = 0; b < n; b += kBlock) {
    const size_t e = std::min(n, b + kBlock);
    size_t i = b;
    for (; i + 32 <= e; i += 32) step(i, kAll, 0), step(i + 16, kAll, 1);
    if (i + 16 <= e) step(i, kAll, 0), i += 16;
    if (i < e) step(i, tail_mask(e - i), 1);
    flush();
  }
}

// step(i, mask) over [0, n), for the elementwise passes.
template <typename Step>
void vectors(size_t n, Step step) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) step(i, kAll), step(i + 16, kAll);
  if (i + 16 <= n) step(i, kAll), i += 16;
  if (i < n) step(i, tail_mask(n - i));
}

// Two sums of one plane: float accumulators a (first) and b (second), two sets each.
struct TwoSums {
  __m512 a[2], b[2];
  double ta = 0.0, tb = 0.0;
  TwoSums() { clear(); }
  void clear() { a[0] = a[1] = b[0] = b[1] = _mm512_setzero_ps(); }
  void flush() {
    const auto [sa, sb] = hsum2(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(b[0], b[1]));
    ta += sa;
    tb += sb;
    clear();
  }
};

// The 16 mask bits of the vector at plane index i (a multiple of 16): bytes i/8 and i/8 + 1.
__mmask16 load_bits(const uint8_t* bits, size_t i) {
  uint16_t v;
  std::memcpy(&v, bits + i / 8, sizeof v);
  return v;
}
void store_bits(uint8_t* bits, size_t i, __mmask16 m) {
  const uint16_t v = m;
  std::memcpy(bits + i / 8, &v, sizeof v);
}

// g = dy where the fused ReLU passed (the plane's mask bits, else y > 0), or dy; masked-off lanes are 0
__m512 grad(const float* dy, const float* y, const uint8_t* bits, size_t i, __mmask16 m) {
  if (bits) m &= load_bits(bits, i);
  else if (y) m = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, y + i), _mm512_setzero_ps(), _CMP_GT_OQ);
  return _mm512_maskz_loadu_ps(m, dy + i);
}

template <bool Relu, bool Res, bool Prefetch>
void apply(float* y, uint8_t* mask, const float* x, const float* res, const double* mean, const float* scale,
           const float* bias, size_t planes, size_t hw) {
  const __m512 zero = _mm512_setzero_ps();
  for (size_t p = 0; p < planes; ++p) {
    // mean = hi + lo in two floats: x - hi is exact near the mean (Sterbenz), so a channel with
    // |mean| >> std keeps its small deviations.
    const float hi = static_cast<float>(mean[p]), lo = static_cast<float>(mean[p] - hi);
    const __m512 vh = _mm512_set1_ps(hi), vl = _mm512_set1_ps(lo);
    const __m512 vs = _mm512_set1_ps(scale[p]), vb = _mm512_set1_ps(bias[p]);
    const float* xp = x + p * hw;
    const float* rp = Res ? res + p * hw : nullptr;
    float* yp = y + p * hw;
    uint8_t* bits = mask ? mask + p * batch_norm_mask_stride(hw) : nullptr;
    vectors(hw, [&](size_t i, __mmask16 m) {
      if (Prefetch) {
        ahead(xp + i);
        if (Res) ahead(rp + i);
      }
      const __m512 d = _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xp + i), vh), vl);
      __m512 r = _mm512_fmadd_ps(d, vs, vb);
      if (Res) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, rp + i));
      if (Relu) {
        // y > 0 is r > 0 (NaN: false both ways)
        if (bits) store_bits(bits, i, _mm512_mask_cmp_ps_mask(m, r, zero, _CMP_GT_OQ));
        r = _mm512_max_ps(zero, r);  // the second operand on NaN: NaN passes, as in ref
      }
      _mm512_mask_storeu_ps(yp + i, m, r);
    });
  }
}

}  // namespace

void batch_norm_moments_f32(double* sums, const float* x, const float* shift, size_t planes, size_t hw) {
  const bool prefetch = hw >= kPrefetchPlane;
  for (size_t p = 0; p < planes; ++p) {
    const float* xp = x + p * hw;
    const __m512 k = _mm512_set1_ps(shift[p]);
    TwoSums t;
    blocks(
        hw,
        [&](size_t i, __mmask16 m, int set) {
          if (prefetch) ahead(xp + i);
          const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, xp + i), k);
          t.a[set] = _mm512_add_ps(t.a[set], d);
          t.b[set] = _mm512_fmadd_ps(d, d, t.b[set]);
        },
        [&] { t.flush(); });
    sums[2 * p] += t.ta;
    sums[2 * p + 1] += t.tb;
  }
}

void batch_norm_apply_f32(float* y, uint8_t* mask, const float* x, const float* res, const double* mean,
                          const float* scale, const float* bias, bool relu, size_t planes, size_t hw) {
  // [relu][residual][prefetch]
  static constexpr decltype(&apply<false, false, false>) kApply[2][2][2] = {
      {{apply<false, false, false>, apply<false, false, true>}, {apply<false, true, false>, apply<false, true, true>}},
      {{apply<true, false, false>, apply<true, false, true>}, {apply<true, true, false>, apply<true, true, true>}}};
  kApply[relu][res != nullptr][hw >= kPrefetchPlane](y, mask, x, res, mean, scale, bias, planes, hw);
}

void batch_norm_grad_sums_f32(double* sums, const float* dy, const float* x, const float* y, const uint8_t* mask,
                              const float* mean, size_t planes, size_t hw) {
  const bool prefetch = hw >= kPrefetchPlane;
  for (size_t p = 0; p < planes; ++p) {
    const size_t o = p * hw;
    const uint8_t* bits = mask ? mask + p * batch_norm_mask_stride(hw) : nullptr;
    const float* yp = y && !bits ? y + o : nullptr;
    const __m512 vm = _mm512_set1_ps(mean[p]);
    TwoSums t;
    blocks(
        hw,
        [&](size_t i, __mmask16 m, int set) {
          if (prefetch) {
            ahead(dy + o + i), ahead(x + o + i);
            if (yp) ahead(yp + i);
          }
          const __m512 g = grad(dy + o, yp, bits, i, m);
          t.a[set] = _mm512_add_ps(t.a[set], g);
          t.b[set] = _mm512_fmadd_ps(g, _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + o + i), vm), t.b[set]);
        },
        [&] { t.flush(); });
    sums[2 * p] += t.ta;
    sums[2 * p + 1] += t.tb;
  }
}

void batch_norm_grad_input_f32(float* dx, float* dres, const float* dy, const float* x, const float* y,
                               const uint8_t* mask, const float* mean, const float* a, const float* b, const float* c,
                               size_t planes, size_t hw) {
  const bool prefetch = hw >= kPrefetchPlane;
  for (size_t p = 0; p < planes; ++p) {
    const size_t o = p * hw;
    const uint8_t* bits = mask ? mask + p * batch_norm_mask_stride(hw) : nullptr;
    const float* yp = y && !bits ? y + o : nullptr;
    const __m512 vm = _mm512_set1_ps(mean[p]), va = _mm512_set1_ps(a[p]);
    const __m512 vb = _mm512_set1_ps(b[p]), vc = _mm512_set1_ps(c[p]);
    vectors(hw, [&](size_t i, __mmask16 m) {
      if (prefetch) {
        ahead(dy + o + i);
        if (yp) ahead(yp + i);
        if (dx) ahead(x + o + i), ahead(dx + o + i);
        if (dres) ahead(dres + o + i);
      }
      const __m512 g = grad(dy + o, yp, bits, i, m);
      if (dres) _mm512_mask_storeu_ps(dres + o + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dres + o + i), g));
      if (!dx) return;
      const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + o + i), vm);
      const __m512 t = _mm512_fmadd_ps(va, g, _mm512_fmadd_ps(vb, d, vc));
      _mm512_mask_storeu_ps(dx + o + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dx + o + i), t));
    });
  }
}

}  // namespace kiln::avx512
