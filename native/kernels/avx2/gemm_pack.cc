// AVX2 packing for the GEMM driver (runtime/gemm.cc): op(A) into 6-row slivers, op(B) into
// 16-column slivers, both zero-padded; the same scheme as avx512/gemm_pack.cc with 8 x 8 blocks
// transposed in registers for the strided directions.
#include <immintrin.h>

#include "../kernels.h"

namespace kiln::avx2 {
namespace {

constexpr size_t kMR = kGemmShape.mr;  // 6
constexpr size_t kNR = kGemmShape.nr;  // 16

// Lane mask for the first n (capped at 8) lanes, for maskload/maskstore.
__m256i lanes(size_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n > 8 ? 8 : n)), idx);
}

// Transposes the 8 x 8 block in r[0..7] in place (row i becomes column i).
// always_inline: called out of line, the 8 rows make a round trip through the stack.
__attribute__((always_inline)) inline void transpose8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
  }
}

// Reads `rows` (<= 8) rows of `cols` (<= 8) floats, ld apart, transposed into out[c*os ...],
// writing `width` lanes per output (zeros past `rows`).
// Both loops run a constant count (fully unrolled) so that r[] stays in registers.
// Masked moves only where they are needed: VMASKMOVPS is slow on AMD (the masked stores were
// 17% of a 512^3 GEMM on two threads, in perf). With os == width (A's slivers: 6 floats per k)
// an output's whole 8-lane store spills into the next output's lanes, which that output's store
// then overwrites; only the last one is masked.
__attribute__((always_inline)) inline void load_transposed(float* out, size_t os, const float* src, size_t ld, size_t rows,
                                                         size_t cols, size_t width) {
  __m256 r[8];
  const __m256i cm = lanes(cols);
#pragma GCC unroll 8
  for (size_t i = 0; i < 8; ++i) {
    r[i] = i >= rows ? _mm256_setzero_ps() : cols == 8 ? _mm256_loadu_ps(src + i * ld) : _mm256_maskload_ps(src + i * ld, cm);
  }
  transpose8(r);
  const __m256i wm = lanes(width);
#pragma GCC unroll 8
  for (size_t c = 0; c < 8; ++c) {
    if (c >= cols) continue;
    if (width == 8 || (os == width && c + 1 < cols)) _mm256_storeu_ps(out + c * os, r[c]);
    else _mm256_maskstore_ps(out + c * os, wm, r[c]);
  }
}

}  // namespace

void gemm_pack_a_f32(float* out, const float* a, size_t lda, bool trans, size_t mc, size_t kc) {
  const __m256i full = lanes(kMR);
  for (size_t i = 0; i < mc; i += kMR, out += kMR * kc) {
    const size_t rows = mc - i < kMR ? mc - i : kMR;
    if (trans) {  // op(A)[i + r, k] = a[k * lda + i + r]: 6 contiguous floats per k
      const __m256i m = lanes(rows);
      float* o = out;
      for (size_t k = 0; k < kc; ++k, o += kMR) {
        if (k + 16 < kc) {  // as avx512's
          _mm_prefetch(reinterpret_cast<const char*>(a + (k + 16) * lda + i), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(a + (k + 16) * lda + i + rows - 1), _MM_HINT_T0);
        }
        // whole 8-lane moves where they stay inside A's row and the sliver (the 2 extra lanes
        // land on the next k's place, rewritten next): VMASKMOVPS is slow on AMD
        const float* src = a + k * lda + i;
        const __m256 v = i + 8 <= lda ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, m);
        if (k + 1 < kc) _mm256_storeu_ps(o, v);
        else _mm256_maskstore_ps(o, full, v);
      }
    } else {  // op(A)[i + r, k] = a[(i + r) * lda + k]: 8 k at a time, transposed
      for (size_t k = 0; k < kc; k += 8) {
        load_transposed(out + k * kMR, kMR, a + i * lda + k, lda, rows, kc - k < 8 ? kc - k : 8, kMR);
      }
    }
  }
}

void gemm_pack_b_f32(float* out, const float* b, size_t ldb, bool trans, size_t nc, size_t kc, size_t ks) {
  const size_t slivers = (nc + kNR - 1) / kNR;
  if (!trans) {
    // op(B)[k, j] = b[k * ldb + j]: groups of 16 rows, sliver by sliver (see avx512/gemm_pack.cc)
    for (size_t k0 = 0; k0 < kc; k0 += 16) {
      const size_t k1 = kc - k0 < 16 ? kc : k0 + 16;
      for (size_t s = 0; s < slivers; ++s) {
        const size_t j = s * kNR, cols = nc - j < kNR ? nc - j : kNR;
        const __m256i m0 = lanes(cols), m1 = lanes(cols > 8 ? cols - 8 : 0);
        for (size_t k = k0; k < k1; ++k) {
          const float* src = b + k * ldb + j;
          float* o = out + (s * ks + k) * kNR;
          if (k + 16 < kc) {  // as avx512's
            _mm_prefetch(reinterpret_cast<const char*>(src + 16 * ldb), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(src + 16 * ldb + 15), _MM_HINT_T0);
          }
          if (cols == kNR) {  // unmasked loads (see load_transposed)
            _mm256_storeu_ps(o, _mm256_loadu_ps(src));
            _mm256_storeu_ps(o + 8, _mm256_loadu_ps(src + 8));
          } else {
            _mm256_storeu_ps(o, _mm256_maskload_ps(src, m0));
            _mm256_storeu_ps(o + 8, _mm256_maskload_ps(src + 8, m1));
          }
        }
      }
    }
    return;
  }
  // op(B)[k, j] = b[j * ldb + k]: 8 columns x 8 k at a time, transposed
  for (size_t s = 0; s < slivers; ++s) {
    const size_t j0 = s * kNR, cols = nc - j0 < kNR ? nc - j0 : kNR;
    float* o = out + s * ks * kNR;
    for (size_t half = 0; half < kNR; half += 8) {
      const size_t hc = cols > half ? (cols - half < 8 ? cols - half : 8) : 0;
      for (size_t k = 0; k < kc; k += 8) {
        const size_t kk = kc - k < 8 ? kc - k : 8;
        if (hc == 0) {
          for (size_t q = 0; q < kk; ++q) _mm256_storeu_ps(o + (k + q) * kNR + half, _mm256_setzero_ps());
        } else {
          load_transposed(o + k * kNR + half, kNR, b + (j0 + half) * ldb + k, ldb, hc, kk, 8);
        }
      }
    }
  }
}

// dst[j*ldd + i] = (or +=) src[i*lds + j]: 8 x 8 blocks through registers.
void transpose_f32(float* dst, size_t ldd, const float* src, size_t lds, size_t rows, size_t cols, bool add) {
  for (size_t i = 0; i < rows; i += 8) {
    const size_t ri = rows - i < 8 ? rows - i : 8;
    const __m256i rm = lanes(ri);
    for (size_t j = 0; j < cols; j += 8) {
      const size_t cj = cols - j < 8 ? cols - j : 8;
      const __m256i cm = lanes(cj);
      __m256 r[8];
#pragma GCC unroll 8
      for (size_t a = 0; a < 8; ++a) {
        const float* p = src + (i + a) * lds + j;
        r[a] = a >= ri ? _mm256_setzero_ps() : cj == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, cm);
      }
      transpose8(r);
      // with add, every row of dst is read before any is written (see avx512/gemm_pack.cc);
      // masked moves only for partial blocks (see load_transposed)
      if (add) {
#pragma GCC unroll 8
        for (size_t c = 0; c < 8; ++c) {
          const float* p = dst + (j + c) * ldd + i;
          if (c < cj) r[c] = _mm256_add_ps(r[c], ri == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, rm));
        }
      }
#pragma GCC unroll 8
      for (size_t c = 0; c < 8; ++c) {
        float* p = dst + (j + c) * ldd + i;
        if (c >= cj) continue;
        if (ri == 8) _mm256_storeu_ps(p, r[c]);
        else _mm256_maskstore_ps(p, rm, r[c]);
      }
    }
  }
}

}  // namespace kiln::avx2
