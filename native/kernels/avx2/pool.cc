// AVX2 max-pool forward: avx512/pool.cc in 8 lanes, with vector masks for the missing mask
// registers. Bit-identical to the reference (ref/pool.cc, which follows PyTorch's CPU kernel):
// windows start at -inf pointing at their first cell, taps are taken in scan order (h, then w)
// when strictly greater or NaN. Stride 1 and 2 along w; other strides (and windows wider than 16)
// use the reference. Output rows four at a time, rows ahead fetched: ../simd/pool_rows.h.
// ResNet-18's 3x3/s2 pool at 224, two threads: 14.2-14.5 ms in the reference loops (which sweep
// a whole output row through memory per tap), 5.6-5.9 ms here.
#include <immintrin.h>

#include <cstdint>

#include "../kernels.h"
#include "../simd/pool_rows.h"

namespace kiln::avx2 {
namespace {

constexpr size_t kMaxTaps = 16;  // window widths handled in vectors (wider: the reference)

// 0..7 (a function, not a global: a global would run AVX2 code when the library loads, on any CPU)
inline __m256i lane_index() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }

// All ones in lane e (0..7) when lo <= first + step*e < hi.
__m256i inside(long first, long step, long lo, long hi) {
  const __m256i col = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first)),
                                       _mm256_mullo_epi32(lane_index(), _mm256_set1_epi32(static_cast<int>(step))));
  return _mm256_and_si256(_mm256_cmpgt_epi32(col, _mm256_set1_epi32(static_cast<int>(lo - 1))),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(hi)), col));
}

// The 8 floats at p; lanes outside m may hold anything (the caller never takes them). Inside the
// tensor a plain load (a masked one costs more, see avx512/pool.cc); at its edges a masked one,
// which never faults on the lanes it skips.
inline __m256 load8(const float* p, __m256i m, uintptr_t begin, uintptr_t end) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (a >= begin && a + 8 * sizeof(float) <= end) return _mm256_loadu_ps(p);
  return _mm256_maskload_ps(p, m);
}

template <int SW>
void rows(float* y, int32_t* argmax, const float* x, const Pool2dDims& d, size_t c0, size_t c1) {
  const size_t hw = d.H * d.W, pq = d.P * d.Q;
  const long W = static_cast<long>(d.W), H = static_cast<long>(d.H), pad_w = static_cast<long>(d.pad_w);
  const __m256i lane = lane_index();
  const __m256i step = _mm256_mullo_epi32(lane, _mm256_set1_epi32(SW));  // column offset of lane q
  const __m256 minus_inf = _mm256_set1_ps(-__builtin_inff());
  const uintptr_t begin = reinterpret_cast<uintptr_t>(x), end = reinterpret_cast<uintptr_t>(x + d.N * d.C * hw);
  for (size_t plane = c0; plane < c1; ++plane) {
    const float* xp = x + plane * hw;
    for (size_t p0 = 0; p0 < d.P; p0 += kPoolRows) {
      const PoolRowBlock blk = pool_row_block(d, p0);
      for (size_t q0 = 0; q0 < d.Q; q0 += 8) {
        prefetch_next_rows(x, plane * hw, blk, d, static_cast<long>(q0) * SW, 8 * SW);
        const long nout = static_cast<long>(d.Q - q0);
        const __m256i out = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(nout < 8 ? nout : 8)), lane);
        const long first = static_cast<long>(q0) * SW - pad_w;  // lane 0's window start column
        // each window's first column inside the input, where its argmax starts (on its first row)
        const __m256i start = _mm256_max_epi32(_mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first)), step),
                                               _mm256_setzero_si256());
        // per tap s: the lanes its loads read inside the row, and the windows it reads inside
        __m256i lo[kMaxTaps], hi[kMaxTaps];
        __m256 valid[kMaxTaps];
        for (size_t s = 0; s < d.S; ++s) {
          const long c = first + static_cast<long>(s);  // lane 0's column for this tap
          lo[s] = inside(c, 1, 0, W);
          hi[s] = SW == 1 ? lo[s] : inside(c + 8, 1, 0, W);
          valid[s] = _mm256_castsi256_ps(_mm256_and_si256(inside(c, SW, 0, W), out));
        }
        __m256 best[kPoolRows];
        __m256 best_at[kPoolRows];  // int32 cells, kept as float bits for the blends
        for (size_t j = 0; j < kPoolRows; ++j) {
          const long h_lo = blk.h_start[j] < 0 ? 0 : blk.h_start[j];
          best[j] = minus_inf;
          best_at[j] = _mm256_castsi256_ps(_mm256_add_epi32(start, _mm256_set1_epi32(static_cast<int>(h_lo * W))));
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
              __m256 v;
              if (SW == 1) {
                v = load8(at, lo[s], begin, end);
              } else {  // the even lanes of 16 consecutive floats, in order
                const __m256 a = load8(at, lo[s], begin, end), b = load8(at + 8, hi[s], begin, end);
                v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
              }
              const __m256 take = _mm256_and_ps(
                  valid[s], _mm256_or_ps(_mm256_cmp_ps(v, best[j], _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
              best[j] = _mm256_blendv_ps(best[j], v, take);
              const __m256i cell = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(h * W + c)), step);
              best_at[j] = _mm256_blendv_ps(best_at[j], _mm256_castsi256_ps(cell), take);
            }
          }
        for (size_t j = 0; j < kPoolRows; ++j) {
          if (j >= blk.rows) break;
          const size_t o = plane * pq + (p0 + j) * d.Q + q0;
          if (nout >= 8) {
            _mm256_storeu_ps(y + o, best[j]);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(argmax + o), _mm256_castps_si256(best_at[j]));
          } else {
            _mm256_maskstore_ps(y + o, out, best[j]);
            _mm256_maskstore_epi32(argmax + o, out, _mm256_castps_si256(best_at[j]));
          }
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

}  // namespace kiln::avx2
