// AVX-512 packing for the GEMM driver (runtime/gemm.cc): op(A) into 12-row slivers, op(B) into
// 32-column slivers, both zero-padded. Contiguous directions move whole vectors; the strided
// ones (rows of a non-transposed A, columns of a transposed B) stay scalar: measured on Zen 5,
// vgatherdps is slower than scalar moves here (square/128 GEMM 108 -> 71 GFLOP/s).
#include <immintrin.h>

#include "../kernels.h"

namespace kiln::avx512 {
namespace {

constexpr size_t kMR = kGemmShape.mr;  // 12
constexpr size_t kNR = kGemmShape.nr;  // 32

__mmask16 lanes(size_t n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u); }

}  // namespace

void gemm_pack_a_f32(float* out, const float* a, size_t lda, bool trans, size_t mc, size_t kc) {
  for (size_t i = 0; i < mc; i += kMR, out += kMR * kc) {
    const size_t rows = mc - i < kMR ? mc - i : kMR;
    float* o = out;
    if (trans) {  // op(A)[i + r, k] = a[k * lda + i + r]: 12 contiguous floats per k
      const __mmask16 m = lanes(rows), full = lanes(kMR);
      for (size_t k = 0; k < kc; ++k, o += kMR) _mm512_mask_storeu_ps(o, full, _mm512_maskz_loadu_ps(m, a + k * lda + i));
    } else {  // op(A)[i + r, k] = a[(i + r) * lda + k]
      for (size_t k = 0; k < kc; ++k, o += kMR) {
        const float* src = a + i * lda + k;
        for (size_t r = 0; r < rows; ++r) o[r] = src[r * lda];
        for (size_t r = rows; r < kMR; ++r) o[r] = 0.0f;
      }
    }
  }
}

void gemm_pack_b_f32(float* out, const float* b, size_t ldb, bool trans, size_t nc, size_t kc) {
  const size_t slivers = (nc + kNR - 1) / kNR;
  if (!trans) {
    // op(B)[k, j] = b[k * ldb + j]: each row of B is read once, left to right, and dealt out to
    // the slivers (rows are often pages apart; see runtime/gemm.cc).
    for (size_t k = 0; k < kc; ++k) {
      const float* row = b + k * ldb;
      for (size_t s = 0; s < slivers; ++s) {
        const size_t j = s * kNR, cols = nc - j < kNR ? nc - j : kNR;
        float* o = out + (s * kc + k) * kNR;
        _mm512_storeu_ps(o, _mm512_maskz_loadu_ps(lanes(cols), row + j));
        _mm512_storeu_ps(o + 16, _mm512_maskz_loadu_ps(lanes(cols > 16 ? cols - 16 : 0), row + j + 16));
      }
    }
    return;
  }
  // op(B)[k, j] = b[j * ldb + k]: column j is contiguous in k; written with stride 32
  for (size_t s = 0; s < slivers; ++s) {
    const size_t j0 = s * kNR, cols = nc - j0 < kNR ? nc - j0 : kNR;
    float* o = out + s * kc * kNR;
    for (size_t j = 0; j < kNR; ++j) {
      const float* src = b + (j0 + j) * ldb;
      if (j < cols) {
        for (size_t k = 0; k < kc; ++k) o[k * kNR + j] = src[k];
      } else {
        for (size_t k = 0; k < kc; ++k) o[k * kNR + j] = 0.0f;
      }
    }
  }
}

}  // namespace kiln::avx512
