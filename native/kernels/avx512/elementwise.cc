// AVX-512 elementwise kernels: 16 lanes, two vectors per iteration, a masked tail.
// Built with -march=x86-64-v4 into its own static library; nothing here is inline in a header
// shared with other ISA files (a COMDAT copy could be picked for baseline callers: SIGILL).
#include <immintrin.h>

#include <cstdint>

#include "../kernels.h"

namespace kiln::avx512 {
namespace {

// Mask selecting the first `rest` (< 16) lanes.
__mmask16 tail_mask(size_t rest) { return static_cast<__mmask16>((1u << rest) - 1u); }

// Elements before p reaches a 64-byte boundary (at most n). JS buffers are only 16-byte aligned,
// so without this three in four 64-byte vectors straddle two cache lines; the arrays of one call
// usually share their alignment, so aligning the output aligns them all.
size_t to_line(const float* p, size_t n) {
  size_t head = ((64 - (reinterpret_cast<uintptr_t>(p) & 63)) & 63) / sizeof(float);
  return head < n ? head : n;
}

// Applies `op(a_vec, b_vec)` over n floats: y = op(a, b). Used by the binary ops below.
template <typename Op>
void binary(float* y, const float* a, const float* b, size_t n, Op op) {
  size_t i = to_line(y, n);
  if (i > 0) {
    __mmask16 m = tail_mask(i);
    _mm512_mask_storeu_ps(y, m, op(_mm512_maskz_loadu_ps(m, a), _mm512_maskz_loadu_ps(m, b)));
  }
  for (; i + 32 <= n; i += 32) {
    __m512 r0 = op(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    __m512 r1 = op(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    _mm512_storeu_ps(y + i, r0);
    _mm512_storeu_ps(y + i + 16, r1);
  }
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, op(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  if (i < n) {
    __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, op(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

}  // namespace

void add_f32(float* y, const float* a, const float* b, size_t n) {
  binary(y, a, b, n, [](__m512 u, __m512 v) { return _mm512_add_ps(u, v); });
}

void mul_f32(float* y, const float* a, const float* b, size_t n) {
  binary(y, a, b, n, [](__m512 u, __m512 v) { return _mm512_mul_ps(u, v); });
}

void axpy_f32(float* y, float alpha, const float* x, size_t n) {
  const __m512 va = _mm512_set1_ps(alpha);
  binary(y, x, y, n, [va](__m512 xv, __m512 yv) { return _mm512_fmadd_ps(va, xv, yv); });
}

void scale_f32(float* y, const float* x, float alpha, size_t n) {
  const __m512 va = _mm512_set1_ps(alpha);
  binary(y, x, x, n, [va](__m512 xv, __m512) { return _mm512_mul_ps(va, xv); });
}

void relu_forward_f32(float* y, const float* x, size_t n) {
  // max(0, x) returns its second operand when either is NaN (or both are zero): NaN and -0
  // pass through, exactly like the reference `x < 0 ? 0 : x`.
  const __m512 zero = _mm512_setzero_ps();
  binary(y, x, x, n, [zero](__m512 xv, __m512) { return _mm512_max_ps(zero, xv); });
}

// forward was y = max(x, 0), so dx += dy where x > 0
void relu_backward_f32(float* dx, const float* dy, const float* x, size_t n) {
  const __m512 zero = _mm512_setzero_ps();
  // one masked step to bring dx to a cache-line boundary (see to_line), then whole vectors
  size_t i = to_line(dx, n);
  if (i > 0) {
    __mmask16 m = tail_mask(i);
    __mmask16 pos = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, x), zero, _CMP_GT_OQ);
    _mm512_mask_storeu_ps(dx, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dx), _mm512_maskz_loadu_ps(pos, dy)));
  }
  for (; i + 16 <= n; i += 16) {
    __mmask16 pos = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), zero, _CMP_GT_OQ);
    __m512 g = _mm512_maskz_mov_ps(pos, _mm512_loadu_ps(dy + i));
    _mm512_storeu_ps(dx + i, _mm512_add_ps(_mm512_loadu_ps(dx + i), g));
  }
  if (i < n) {
    __mmask16 m = tail_mask(n - i);
    __mmask16 pos = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, x + i), zero, _CMP_GT_OQ);
    __m512 g = _mm512_maskz_loadu_ps(pos, dy + i);
    _mm512_mask_storeu_ps(dx + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dx + i), g));
  }
}

}  // namespace kiln::avx512
