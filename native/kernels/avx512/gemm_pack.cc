// AVX-512 packing for the GEMM driver (runtime/gemm.cc): op(A) into 12-row slivers, op(B) into
// 32-column slivers, both zero-padded. Contiguous directions move whole vectors; the strided
// ones (rows of a non-transposed A, columns of a transposed B) load 16 rows x 16 floats and
// transpose them in registers. (Gathers were tried and measured slower than scalar moves on
// Zen 5: square/128 GEMM 108 -> 71 GFLOP/s.) Scalar moves cost about one element per cycle, and
// a weight-gradient GEMM packs a transposed activation of tens of megabytes.
// The rows of B (not transposed) and of a transposed A are fetched 16 rows ahead in software:
// in a training step the operands come from memory, and rows a page apart are streams the
// hardware prefetcher does not follow. Inputs rotated over 8 buffer sets (tools/gemm-ab.mjs
// SETS=8), 2 threads, mean time: 1024x256x2048 TA 1.03-1.06x, 768x256x2048 TA 1.02x, 256x1024x2048
// TA 1.01x. Fetching the 16 rows of a transpose ahead made no difference (1.00-1.01x).
#include <immintrin.h>

#include "../kernels.h"

namespace kiln::avx512 {
namespace {

constexpr size_t kMR = kGemmShape.mr;  // 12
constexpr size_t kNR = kGemmShape.nr;  // 32

__mmask16 lanes(size_t n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u); }

// Transposes the 16 x 16 block in r[0..15] in place (row i becomes column i): three rounds of
// interleaves (32-bit, 64-bit, 128-bit lanes) and one of 256-bit halves.
// always_inline: called out of line, the 16 rows make a round trip through the stack.
__attribute__((always_inline)) inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  // r[4q + c] now holds, in each 128-bit lane L, elements c of rows 4q..4q+3 at column 4L + c
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);       // lanes 0,2 of r[i], 0,2 of r[i+4]
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);   // lanes 1,3
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);        // column i
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);    // column i + 8
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);   // column i + 4
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);  // column i + 12
  }
}

// Reads `rows` (<= 16) rows of `cols` (<= 16) floats, ld apart, transposed into out[c*os ...],
// writing `width` lanes per output vector (zeros past `rows`).
// Both loops run a constant count (fully unrolled) so that r[] stays in registers.
__attribute__((always_inline)) inline void load_transposed(float* out, size_t os, const float* src, size_t ld, size_t rows,
                                                         size_t cols, size_t width) {
  __m512 r[16];
  const __mmask16 cm = lanes(cols);
#pragma GCC unroll 16
  for (size_t i = 0; i < 16; ++i) r[i] = i < rows ? _mm512_maskz_loadu_ps(cm, src + i * ld) : _mm512_setzero_ps();
  transpose16(r);
  const __mmask16 wm = lanes(width);
#pragma GCC unroll 16
  for (size_t c = 0; c < 16; ++c)
    if (c < cols) _mm512_mask_storeu_ps(out + c * os, wm, r[c]);
}

}  // namespace

void gemm_pack_a_f32(float* out, const float* a, size_t lda, bool trans, size_t mc, size_t kc) {
  for (size_t i = 0; i < mc; i += kMR, out += kMR * kc) {
    const size_t rows = mc - i < kMR ? mc - i : kMR;
    float* o = out;
    if (trans) {  // op(A)[i + r, k] = a[k * lda + i + r]: 12 contiguous floats per k
      const __mmask16 m = lanes(rows), full = lanes(kMR);
      for (size_t k = 0; k < kc; ++k, o += kMR) {
        if (k + 16 < kc) {  // rows lda apart, each a stream of its own (as B's rows below)
          _mm_prefetch(reinterpret_cast<const char*>(a + (k + 16) * lda + i), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(a + (k + 16) * lda + i + rows - 1), _MM_HINT_T0);
        }
        _mm512_mask_storeu_ps(o, full, _mm512_maskz_loadu_ps(m, a + k * lda + i));
      }
    } else {  // op(A)[i + r, k] = a[(i + r) * lda + k]: 16 k at a time, transposed
      for (size_t k = 0; k < kc; k += 16) {
        load_transposed(o + k * kMR, kMR, a + i * lda + k, lda, rows, kc - k < 16 ? kc - k : 16, kMR);
      }
    }
  }
}

void gemm_pack_b_f32(float* out, const float* b, size_t ldb, bool trans, size_t nc, size_t kc, size_t ks) {
  const size_t slivers = (nc + kNR - 1) / kNR;
  if (!trans) {
    // op(B)[k, j] = b[k * ldb + j]. Rows of B are often pages apart, so walking one sliver down
    // all kc rows would touch a page per 32 floats; walking one whole row at a time would write
    // to every sliver at once (slivers are kc*128 bytes apart: the same cache set). Groups of 16
    // rows go sliver by sliver: 16 read streams, 2 KiB written contiguously per sliver.
    for (size_t k0 = 0; k0 < kc; k0 += 16) {
      const size_t k1 = kc - k0 < 16 ? kc : k0 + 16;
      for (size_t s = 0; s < slivers; ++s) {
        const size_t j = s * kNR, cols = nc - j < kNR ? nc - j : kNR;
        const __mmask16 m0 = lanes(cols), m1 = lanes(cols > 16 ? cols - 16 : 0);
        for (size_t k = k0; k < k1; ++k) {
          const float* src = b + k * ldb + j;
          float* o = out + (s * ks + k) * kNR;
          if (k + 16 < kc) {  // the next group's rows: each is a stream of its own, often on its own page
            _mm_prefetch(reinterpret_cast<const char*>(src + 16 * ldb), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(src + 16 * ldb + 31), _MM_HINT_T0);
          }
          _mm512_storeu_ps(o, _mm512_maskz_loadu_ps(m0, src));
          _mm512_storeu_ps(o + 16, _mm512_maskz_loadu_ps(m1, src + 16));
        }
      }
    }
    return;
  }
  // op(B)[k, j] = b[j * ldb + k]: column j is row j of B, contiguous in k. 16 columns x 16 k at a
  // time, transposed so that each k gets its 16 columns as one vector.
  for (size_t s = 0; s < slivers; ++s) {
    const size_t j0 = s * kNR, cols = nc - j0 < kNR ? nc - j0 : kNR;
    float* o = out + s * ks * kNR;
    for (size_t half = 0; half < kNR; half += 16) {
      const size_t hc = cols > half ? (cols - half < 16 ? cols - half : 16) : 0;
      for (size_t k = 0; k < kc; k += 16) {
        const size_t kk = kc - k < 16 ? kc - k : 16;
        if (hc == 0) {  // a sliver's missing columns are zeros
          for (size_t q = 0; q < kk; ++q) _mm512_storeu_ps(o + (k + q) * kNR + half, _mm512_setzero_ps());
        } else {
          load_transposed(o + k * kNR + half, kNR, b + (j0 + half) * ldb + k, ldb, hc, kk, 16);
        }
      }
    }
  }
}

// dst[j*ldd + i] = (or +=) src[i*lds + j]: 16 x 16 blocks through registers (the pixel-major
// convolution's layout changes, runtime/conv_rows.cc).
void transpose_f32(float* dst, size_t ldd, const float* src, size_t lds, size_t rows, size_t cols, bool add) {
  for (size_t i = 0; i < rows; i += 16) {
    const size_t ri = rows - i < 16 ? rows - i : 16;
    const __mmask16 rm = lanes(ri);
    for (size_t j = 0; j < cols; j += 16) {
      const size_t cj = cols - j < 16 ? cols - j : 16;
      const __mmask16 cm = lanes(cj);
      __m512 r[16];
#pragma GCC unroll 16
      for (size_t a = 0; a < 16; ++a) r[a] = a < ri ? _mm512_maskz_loadu_ps(cm, src + (i + a) * lds + j) : _mm512_setzero_ps();
      transpose16(r);
      // With add, every row of dst is read before any is written: rows 4 KiB apart (a 32 x 32
      // plane) would otherwise make each load wait for the store before it (4K aliasing).
      if (add) {
#pragma GCC unroll 16
        for (size_t c = 0; c < 16; ++c)
          if (c < cj) r[c] = _mm512_add_ps(r[c], _mm512_maskz_loadu_ps(rm, dst + (j + c) * ldd + i));
      }
#pragma GCC unroll 16
      for (size_t c = 0; c < 16; ++c)
        if (c < cj) _mm512_mask_storeu_ps(dst + (j + c) * ldd + i, rm, r[c]);
    }
  }
}

}  // namespace kiln::avx512
