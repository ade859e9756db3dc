// AVX-512 packing for the GEMM driver (runtime/gemm.cc): op(A) into 12-row slivers, op(B) into
// 32-column slivers, both zero-padded. Packing is pure data movement, but done with scalar loads
// it costs several percent of a large GEMM; here every k step is one or two vector moves, and
// the strided directions (rows of A, columns of a transposed B) use gathers.
#include <immintrin.h>

#include "../kernels.h"

namespace kiln::avx512 {
namespace {

constexpr size_t kMR = kGemmShape.mr;  // 12
constexpr size_t kNR = kGemmShape.nr;  // 32

__mmask16 lanes(size_t n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u); }

// Offsets 0, ld, 2 ld, ... 15 ld as int32 (the driver only calls with ld <= kGemmGatherMaxLd).
__m512i strided(size_t ld) {
  return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                            _mm512_set1_epi32(static_cast<int>(ld)));
}

}  // namespace

void gemm_pack_a_f32(float* out, const float* a, size_t lda, bool trans, size_t mc, size_t kc) {
  const __m512i rows_idx = strided(lda);
  for (size_t i = 0; i < mc; i += kMR, out += kMR * kc) {
    const size_t rows = mc - i < kMR ? mc - i : kMR;
    const __mmask16 m = lanes(rows), full = lanes(kMR);
    float* o = out;
    if (trans) {  // op(A)[i + r, k] = a[k * lda + i + r]: contiguous in r
      for (size_t k = 0; k < kc; ++k, o += kMR) _mm512_mask_storeu_ps(o, full, _mm512_maskz_loadu_ps(m, a + k * lda + i));
    } else {  // op(A)[i + r, k] = a[(i + r) * lda + k]: one gather of the 12 rows per k
      const float* base = a + i * lda;
      for (size_t k = 0; k < kc; ++k, o += kMR) {
        _mm512_mask_storeu_ps(o, full, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, rows_idx, base + k, 4));
      }
    }
  }
}

void gemm_pack_b_f32(float* out, const float* b, size_t ldb, bool trans, size_t nc, size_t kc) {
  const __m512i cols_idx = strided(ldb);
  for (size_t j = 0; j < nc; j += kNR, out += kNR * kc) {
    const size_t cols = nc - j < kNR ? nc - j : kNR;
    const __mmask16 m0 = lanes(cols), m1 = lanes(cols > 16 ? cols - 16 : 0);
    float* o = out;
    if (!trans) {  // op(B)[k, j + c] = b[k * ldb + j + c]: two vector copies per k
      for (size_t k = 0; k < kc; ++k, o += kNR) {
        const float* src = b + k * ldb + j;
        _mm512_storeu_ps(o, _mm512_maskz_loadu_ps(m0, src));
        _mm512_storeu_ps(o + 16, _mm512_maskz_loadu_ps(m1, src + 16));
      }
    } else {  // op(B)[k, j + c] = b[(j + c) * ldb + k]: two gathers of 16 columns per k
      const float* base0 = b + j * ldb;
      const float* base1 = cols > 16 ? b + (j + 16) * ldb : base0;  // masked off entirely when unused
      for (size_t k = 0; k < kc; ++k, o += kNR) {
        _mm512_storeu_ps(o, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, cols_idx, base0 + k, 4));
        _mm512_storeu_ps(o + 16, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, cols_idx, base1 + k, 4));
      }
    }
  }
}

}  // namespace kiln::avx512
