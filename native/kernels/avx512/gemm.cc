// AVX-512 GEMM micro-kernel: a 12 x 32 register tile (24 zmm accumulators, 2 B vectors and one
// broadcast A value live per k). Zen 5 retires two 512-bit FMAs per cycle with a latency of 4,
// so at least 8 independent accumulators are needed to keep both pipes busy; 24 leaves room for
// the loads. The loops around the tile (packing, cache blocking, threads) are in runtime/gemm.cc.
#include <immintrin.h>

#include "../gemm_epilogue.h"
#include "fma_bcast.h"

namespace kiln::avx512 {
namespace {

constexpr size_t kMR = kGemmShape.mr;  // 12: the switch in rows() below lists every count
static_assert(kGemmShape.mr == 12 && kGemmShape.nr == 32, "tile() is written for 12 x 32");
// The tile fetches B's row k + kPrefetchB (2 KiB ahead in a packed panel) while it works on row
// k. A B sliver 512 or 1024 deep (64 or 128 KiB) overflows L1, and the hardware prefetcher alone
// left the FMAs waiting: same-process A/B with KC = 512, 1 thread, square/2048 +3-5%,
// 64x32768x576 +3-7%; the standalone tile loop 192-201 -> 201-205 GFLOP/s. 8 and 32
// rows ahead were no better; prefetching A as well, unrolling the k loop by 4, and fetching C
// again near the end of the loop made no measurable difference. Rows given by offsets (b_off:
// convolution windows read in place, 128 bytes from anywhere, usually unaligned) are fetched
// the same distance ahead, all three lines a row can touch: ResNet-18's 64 -> 128 stride-2
// forward 1.39x, the 7x7 stem at 224 1.13x (same-process A/B, 2 threads).
constexpr size_t kPrefetchB = kGemmShape.b_ahead;

__mmask16 lanes(size_t n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u); }

// exp(x) for x <= 0 (all GELU needs): 2^n * p(r) with r = x - n ln2, |r| <= ln2/2; relative
// error below 2e-7 on [-87, 0]; underflows to 0 below that.
__m512 exp_neg(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// GELU(x) = x/2 (1 + erf(x / sqrt 2)), erf by Abramowitz-Stegun 7.1.26 (|error| <= 1.5e-7), the
// same approximation PyTorch's vectorized CPU GELU uses.
// noinline: the store loop is unrolled R x V times; one call each keeps it small.
__attribute__((noinline)) __m512 gelu(__m512 x) {
  const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
  const __m512 az = _mm512_abs_ps(z);
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(az, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
  __m512 poly = _mm512_set1_ps(1.061405429f);
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-1.453152027f));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(1.421413741f));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-0.284496736f));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(0.254829592f));
  poly = _mm512_mul_ps(poly, t);
  const __m512 e = exp_neg(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), az), az));
  __m512 erf_abs = _mm512_fnmadd_ps(poly, e, _mm512_set1_ps(1.0f));
  // erf is odd: copy the sign of z (NaN stays NaN through the arithmetic above)
  const __m512 sign = _mm512_and_ps(z, _mm512_set1_ps(-0.0f));
  const __m512 erf = _mm512_or_ps(erf_abs, sign);
  return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), _mm512_add_ps(erf, _mm512_set1_ps(1.0f)));
}

// alpha*acc (+ beta*C) and, on the last K block, the bias and ReLU (GELU: see the end of tile()).
struct Finish : TileEpilogue {
  using TileEpilogue::TileEpilogue;
  __m512 operator()(__m512 acc, const float* c, __mmask16 m, size_t row, size_t col) const {
    if (plain) return acc;
    __m512 v = _mm512_mul_ps(acc, _mm512_set1_ps(alpha));
    if (beta != 0.0f) v = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, c), v);
    if (bias_row) v = _mm512_add_ps(v, _mm512_set1_ps(bias_row[row]));
    if (bias_col) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias_col + col));
    if (relu) v = _mm512_max_ps(_mm512_setzero_ps(), v);
    return v;
  }
};

// How the tile reads A: from a packed panel (row r at a + r, MR floats further per k), in place
// (row r at a + r*a_rs, one float further per k), or gathered (row r at a + a_off[r] plus the
// offset of the current run of k, see GemmTile).
enum class ASource { packed, direct, gathered };

// R rows (1..12) by V vectors of 16 columns (1 or 2): edge tiles compute only what exists.
// Indirect: B's row k is at b + b_off[k].
template <int R, int V, ASource A, bool Indirect>
void tile(const GemmTile& t) {
  __m512 acc[R][V];
  // NOTE: every loop over the tile is fully unrolled; a rolled loop makes GCC keep `acc` in
  // memory and store all of it to the stack on every k.
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  const __mmask16 m0 = lanes(t.nr), m1 = V > 1 ? lanes(t.nr - 16) : 0;
  // Row r of C (c_off: gathered A only).
  auto c_row = [&t](int r) { return A == ASource::gathered && t.c_off ? t.c + t.c_off[r] : t.c + r * t.ldc; };
  // C is read and written only after the k loop, and its rows are ldc apart (often a multiple of
  // 4 KiB, so they share cache sets): fetch them now so the misses overlap the FMAs.
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    const float* c = c_row(r);
    _mm_prefetch(reinterpret_cast<const char*>(c), _MM_HINT_T0);
    if (V > 1) _mm_prefetch(reinterpret_cast<const char*>(c + 16), _MM_HINT_T0);
  }
  const float* b = t.b;
  const size_t kk = t.k, brs = t.b_rs;
  if (A == ASource::gathered) {
    // Each run of a_run k reads row r from its own place: one pointer per row, k along a row.
    // B is a packed panel here (see GemmTile::a_off): its row stride is the constant NR, so the
    // twelve row pointers leave enough registers for the loop (with t.b_rs, GCC spilled some to
    // the stack and reloaded them on every k).
    const size_t run = t.a_run;
    constexpr size_t panel_rs = kGemmShape.nr;
    for (size_t p0 = 0, tap = 0; p0 < kk; p0 += run, ++tap) {
      const float* ar[R];
#pragma GCC unroll 12
      for (int r = 0; r < R; ++r) ar[r] = t.a + t.a_off[r] + t.a_taps[tap];
      for (size_t p = 0; p < run; ++p) {
        _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchB * panel_rs), _MM_HINT_T0);  // see kPrefetchB
        _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchB * panel_rs + 16), _MM_HINT_T0);
        __m512 b0 = _mm512_maskz_loadu_ps(m0, b);
        __m512 b1 = V > 1 ? _mm512_maskz_loadu_ps(m1, b + 16) : b0;
#pragma GCC unroll 12
        for (int r = 0; r < R; ++r) {
          acc[r][0] = fma_bcast(acc[r][0], b0, ar[r] + p);
          if (V > 1) acc[r][V - 1] = fma_bcast(acc[r][V - 1], b1, ar[r] + p);
        }
        b += panel_rs;
      }
    }
  } else {
    const float* a = t.a;
    const size_t rs = A == ASource::direct ? t.a_rs : 1, step = A == ASource::direct ? 1 : kMR;
    const long hi = Indirect ? 16 + t.b_hi : 16;  // the second vector's offset (see GemmTile::b_hi)
    const size_t rs3 = 3 * rs;
    const float *a4 = R > 4 ? a + 4 * rs : a, *a8 = R > 8 ? a + 8 * rs : a;  // only rows < R exist
    for (size_t p = 0; p < kk; ++p) {
      const float* bk = Indirect ? t.b + t.b_off[p] : b;
      if (!Indirect) {  // see kPrefetchB
        _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchB * brs), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchB * brs + 16), _MM_HINT_T0);
      } else if (p + kPrefetchB < kk) {
        const float* ahead = t.b + t.b_off[p + kPrefetchB];
        _mm_prefetch(reinterpret_cast<const char*>(ahead), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(ahead + 16), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(ahead + 31), _MM_HINT_T0);
      }
      __m512 b0 = _mm512_maskz_loadu_ps(m0, bk);
      __m512 b1 = V > 1 ? _mm512_maskz_loadu_ps(m1, bk + hi) : b0;
#pragma GCC unroll 12
      for (int r = 0; r < R; ++r) {
        // direct: rows 4q..4q+3 as (a + 4q*rs) + {0, 1, 2, 3}*rs: three moving bases and two
        // fixed offsets instead of twelve row pointers, so nothing spills.
        const float* ap = A == ASource::direct ? (r < 4 ? a : r < 8 ? a4 : a8) : a;
        const size_t off = A == ASource::direct ? (r % 4 == 3 ? rs3 : (r % 4) * rs) : r;
        acc[r][0] = fma_bcast(acc[r][0], b0, ap + off);
        if (V > 1) acc[r][V - 1] = fma_bcast(acc[r][V - 1], b1, ap + off);
      }
      a += step;
      if (A == ASource::direct) ++a4, ++a8;
      b += brs;
    }
  }
  const Finish finish(t);
  if (t.last && t.act == Act::gelu) {
    // GELU is a call (see gelu()). A call with the accumulators live makes the compiler save
    // every one of them to the stack around it (all vector registers are the caller's to save):
    // on the path shared with the other epilogues that cost 3-20% of a plain tile. Here the
    // finished values go to a local buffer with plain stores, and each is loaded back for its
    // call. (Not through C itself: a masked load cannot take its value from the masked store
    // before it, and waits for the store to reach L1; 0.91-0.97x.)
    alignas(64) float done[R][V * 16];
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const float* c = c_row(r);
      _mm512_store_ps(done[r], finish(acc[r][0], c, m0, r, 0));
      if (V > 1) _mm512_store_ps(done[r] + 16, finish(acc[r][V - 1], c + 16, m1, r, 16));
    }
    for (int r = 0; r < R; ++r) {
      float* c = c_row(r);
      _mm512_mask_storeu_ps(c, m0, gelu(_mm512_load_ps(done[r])));
      if (V > 1) _mm512_mask_storeu_ps(c + 16, m1, gelu(_mm512_load_ps(done[r] + 16)));
    }
    return;
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    float* c = c_row(r);
    _mm512_mask_storeu_ps(c, m0, finish(acc[r][0], c, m0, r, 0));
    if (V > 1) _mm512_mask_storeu_ps(c + 16, m1, finish(acc[r][V - 1], c + 16, m1, r, 16));
  }
}

template <int V, ASource A, bool Indirect>
void rows(const GemmTile& t) {
  switch (t.mr) {
    case 12: return tile<12, V, A, Indirect>(t);
    case 11: return tile<11, V, A, Indirect>(t);
    case 10: return tile<10, V, A, Indirect>(t);
    case 9: return tile<9, V, A, Indirect>(t);
    case 8: return tile<8, V, A, Indirect>(t);
    case 7: return tile<7, V, A, Indirect>(t);
    case 6: return tile<6, V, A, Indirect>(t);
    case 5: return tile<5, V, A, Indirect>(t);
    case 4: return tile<4, V, A, Indirect>(t);
    case 3: return tile<3, V, A, Indirect>(t);
    case 2: return tile<2, V, A, Indirect>(t);
    default: return tile<1, V, A, Indirect>(t);
  }
}

template <ASource A>
void columns(const GemmTile& t) {
  if (t.b_off) {
    if (t.nr > 16) rows<2, A, true>(t);
    else rows<1, A, true>(t);
  } else {
    if (t.nr > 16) rows<2, A, false>(t);
    else rows<1, A, false>(t);
  }
}

}  // namespace

void gemm_tile_f32(const GemmTile& t) {
  if (t.a_off) {  // gathered A comes with a packed B (never b_off)
    if (t.nr > 16) rows<2, ASource::gathered, false>(t);
    else rows<1, ASource::gathered, false>(t);
  } else if (t.a_rs) {
    columns<ASource::direct>(t);
  } else {
    columns<ASource::packed>(t);
  }
}

}  // namespace kiln::avx512
