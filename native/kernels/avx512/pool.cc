// AVX-512 max-pool forward: 16 outputs of an output row at once, four output rows per pass (the
// rows ahead fetched in software: ../simd/pool_rows.h), every window tap in registers. The same
// result as ref/pool.cc bit for bit (that one follows PyTorch's CPU kernel): windows start at
// -inf pointing at their first cell, taps are taken in scan order (h, then w) when strictly
// greater or NaN. Stride 1 and 2 along w (ResNet's 3x3/s2 and the 3x3/s1 pools); other strides
// (and windows wider than 16) use the reference. The reference sweeps a whole output row per tap
// through memory, reading and writing y and argmax R*S times; here they stay in registers.
#include <immintrin.h>

#include <cstdint>

#include "../kernels.h"
#include "../simd/pool_rows.h"

namespace kiln::avx512 {
namespace {

constexpr size_t kMaxTaps = 16;  // window widths handled in vectors (wider: the reference)

__mmask16 lanes(long n) { return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u); }

// Lanes e (0..15) with lo <= first + e < hi.
__mmask16 inside(long first, long lo, long hi) {
  const long a = lo - first, b = hi - first;  // lanes [a, b)
  return static_cast<__mmask16>(lanes(b) & ~lanes(a));
}

// The 16 floats at p; lanes outside m may hold anything (the caller never takes them). A masked
// load whose masked-off lanes cross a page costs a microcode assist on Zen (the first version
// spent 55% of its time on one such load; GCC also folds a load-then-mask into a masked load),
// so inside the tensor the load is a plain one.
inline __m512 load16(const float* p, __mmask16 m, uintptr_t begin, uintptr_t end) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (a >= begin && a + 16 * sizeof(float) <= end) return _mm512_loadu_ps(p);
  return _mm512_maskz_loadu_ps(m, p);
}

template <int SW>
void rows(float* y, int32_t* argmax, const float* x, const Pool2dDims& d, size_t c0, size_t c1) {
  const size_t hw = d.H * d.W, pq = d.P * d.Q;
  const long W = static_cast<long>(d.W), H = static_cast<long>(d.H), pad_w = static_cast<long>(d.pad_w);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i step = _mm512_mullo_epi32(lane, _mm512_set1_epi32(SW));  // column offset of lane q
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512 minus_inf = _mm512_set1_ps(-__builtin_inff());
  const uintptr_t begin = reinterpret_cast<uintptr_t>(x), end = reinterpret_cast<uintptr_t>(x + d.N * d.C * hw);
  for (size_t plane = c0; plane < c1; ++plane) {
    const float* xp = x + plane * hw;
    for (size_t p0 = 0; p0 < d.P; p0 += kPoolRows) {
      const PoolRowBlock blk = pool_row_block(d, p0);
      for (size_t q0 = 0; q0 < d.Q; q0 += 16) {
        prefetch_next_rows(x, plane * hw, blk, d, static_cast<long>(q0) * SW, 16 * SW);
        const __mmask16 out = lanes(static_cast<long>(d.Q - q0));
        const long first = static_cast<long>(q0) * SW - pad_w;  // lane 0's window start column
        // each window's first column inside the input, where its argmax starts (on its first row)
        const __m512i start = _mm512_max_epi32(_mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(first)), step),
                                               _mm512_setzero_si512());
        // which lanes each tap s reads inside the row: the same for every window row h
        __mmask16 lo[kMaxTaps], hi[kMaxTaps], valid[kMaxTaps];
        for (size_t s = 0; s < d.S; ++s) {
          const long c = first + static_cast<long>(s);  // lane 0's column for this tap
          lo[s] = inside(c, 0, W);
          hi[s] = SW == 1 ? 0 : inside(c + 16, 0, W);
          // stride 2: lane q reads column c + 2q, bit 2q of (hi:lo)
          valid[s] = static_cast<__mmask16>(
              (SW == 1 ? lo[s] : _pext_u32(static_cast<uint32_t>(lo[s]) | (static_cast<uint32_t>(hi[s]) << 16), 0x55555555u)) &
              out);
        }
        __m512 best[kPoolRows];
        __m512i best_at[kPoolRows];
#pragma GCC unroll 4
        for (size_t j = 0; j < kPoolRows; ++j) {
          const long h_lo = blk.h_start[j] < 0 ? 0 : blk.h_start[j];
          best[j] = minus_inf;
          best_at[j] = _mm512_add_epi32(start, _mm512_set1_epi32(static_cast<int>(h_lo * W)));
        }
        // every window's taps in scan order (window row, then column), as the reference
        for (size_t r = 0; r < d.R; ++r)
          for (size_t s = 0; s < d.S; ++s) {
            const long c = first + static_cast<long>(s);
#pragma GCC unroll 4
            for (size_t j = 0; j < kPoolRows; ++j) {
              const long h = blk.h_start[j] + static_cast<long>(r);
              if (j >= blk.rows || h < 0 || h >= H) continue;
              const float* at = xp + h * W + c;
              __m512 v;
              if (SW == 1) {
                v = load16(at, lo[s], begin, end);
              } else {  // the even lanes of 32 consecutive floats
                v = _mm512_permutex2var_ps(load16(at, lo[s], begin, end), evens, load16(at + 16, hi[s], begin, end));
              }
              const __mmask16 take = static_cast<__mmask16>(_mm512_mask_cmp_ps_mask(valid[s], v, best[j], _CMP_GT_OQ) |
                                                            _mm512_mask_cmp_ps_mask(valid[s], v, v, _CMP_UNORD_Q));
              best[j] = _mm512_mask_mov_ps(best[j], take, v);
              best_at[j] = _mm512_mask_mov_epi32(best_at[j], take,
                                                 _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(h * W + c)), step));
            }
          }
#pragma GCC unroll 4
        for (size_t j = 0; j < kPoolRows; ++j) {
          if (j >= blk.rows) break;
          const size_t o = plane * pq + (p0 + j) * d.Q + q0;
          _mm512_mask_storeu_ps(y + o, out, best[j]);
          _mm512_mask_storeu_epi32(argmax + o, out, best_at[j]);
        }
      }
    }
  }
}

}  // namespace

void max_pool2d_forward_f32(float* y, int32_t* argmax, const float* x, const Pool2dDims& d, size_t c0, size_t c1) {
  if (d.S > kMaxTaps) return ref::max_pool2d_forward_f32(y, argmax, x, d, c0, c1);
  if (d.stride_w == 1) return rows<1>(y, argmax, x, d, c0, c1);
  if (d.stride_w == 2) return rows<2>(y, argmax, x, d, c0, c1);
  ref::max_pool2d_forward_f32(y, argmax, x, d, c0, c1);
}

}  // namespace kiln::avx512
