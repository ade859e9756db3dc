// AVX2+FMA GEMM micro-kernel: a 6 x 16 register tile (12 ymm accumulators, 2 B vectors and one
// broadcast, 15 of the 16 registers). The loops around it are in runtime/gemm.cc.
#include <immintrin.h>

#include "../gemm_epilogue.h"

namespace kiln::avx2 {
namespace {

constexpr size_t kMR = kGemmShape.mr;
static_assert(kGemmShape.mr == 6 && kGemmShape.nr == 16, "tile() is written for 6 x 16");

// Lane mask for the first n (capped at 8) of 8 lanes, for maskload/maskstore.
__m256i lanes(size_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n > 8 ? 8 : n)), idx);
}

// exp(x) for x <= 0: 2^n p(r) as in avx512/gemm.cc, with 2^n built in the exponent bits.
__m256 exp_neg(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// GELU with erf by Abramowitz-Stegun 7.1.26, as in avx512/gemm.cc.
// noinline: the store loop is unrolled R x V times; one call each keeps it small.
__attribute__((noinline)) __m256 gelu(__m256 x) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
  const __m256 az = _mm256_andnot_ps(sign_bit, z);
  const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(az, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
  __m256 poly = _mm256_set1_ps(1.061405429f);
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-1.453152027f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(1.421413741f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-0.284496736f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(0.254829592f));
  poly = _mm256_mul_ps(poly, t);
  const __m256 e = exp_neg(_mm256_mul_ps(_mm256_xor_ps(az, sign_bit), az));
  const __m256 erf = _mm256_or_ps(_mm256_fnmadd_ps(poly, e, _mm256_set1_ps(1.0f)), _mm256_and_ps(z, sign_bit));
  return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), _mm256_add_ps(erf, _mm256_set1_ps(1.0f)));
}

// A masked vmaskmovps: a full 8 lanes (Masked false) uses the plain load, which Zen runs much
// faster (each tile reads and writes 12 C vectors per K block: masked, that cost ~5% at 1024).
template <bool Masked>
__m256 load(const float* p, __m256i m) {
  return Masked ? _mm256_maskload_ps(p, m) : _mm256_loadu_ps(p);
}

template <bool Masked>
void store(float* p, __m256i m, __m256 v) {
  if (Masked) _mm256_maskstore_ps(p, m, v);
  else _mm256_storeu_ps(p, v);
}

// alpha*acc (+ beta*C), the bias and ReLU, as in avx512/gemm.cc (GELU on its own path).
struct Finish : TileEpilogue {
  using TileEpilogue::TileEpilogue;
  template <bool Masked>
  __m256 apply(__m256 acc, const float* c, __m256i m, size_t row, size_t col) const {
    if (plain) return acc;
    __m256 v = _mm256_mul_ps(acc, _mm256_set1_ps(alpha));
    if (beta != 0.0f) v = _mm256_fmadd_ps(_mm256_set1_ps(beta), load<Masked>(c, m), v);
    if (bias_row) v = _mm256_add_ps(v, _mm256_set1_ps(bias_row[row]));
    if (bias_col) v = _mm256_add_ps(v, load<Masked>(bias_col + col, m));
    if (relu) v = _mm256_max_ps(_mm256_setzero_ps(), v);
    return v;
  }
};

// R rows (1..6) by V vectors of 8 columns (1 or 2); Masked for a partial last column vector
// (vmaskmovps is slower than a plain load on the hot path, so full tiles avoid it).
// A: how A is read (packed, in place, gathered); Indirect: B's row k at b + b_off[k]; as in
// avx512/gemm.cc.
enum class ASource { packed, direct, gathered };

template <int R, int V, bool Masked, ASource A, bool Indirect>
void tile(const GemmTile& t) {
  __m256 acc[R][V];
  // NOTE: every loop over the tile is fully unrolled; a rolled loop makes GCC keep `acc` in
  // memory and store all of it to the stack on every k.
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[r][v] = _mm256_setzero_ps();
  const __m256i m0 = lanes(t.nr), m1 = lanes(t.nr > 8 ? t.nr - 8 : 0);
  // Row r of C (c_off: gathered A only).
  auto c_row = [&t](int r) { return A == ASource::gathered && t.c_off ? t.c + t.c_off[r] : t.c + r * t.ldc; };
  // Fetch C's rows now so their misses overlap the FMAs (see avx512/gemm.cc).
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) _mm_prefetch(reinterpret_cast<const char*>(c_row(r)), _MM_HINT_T0);
  const float* a = t.a;
  const float* b = t.b;
  const size_t rs = A == ASource::direct ? t.a_rs : 1, step = A == ASource::direct ? 1 : kMR;
  if (A == ASource::gathered) {  // one pointer per row for each run of a_run k
    for (size_t p0 = 0, tap = 0; p0 < t.k; p0 += t.a_run, ++tap) {
      const float* ar[R];
#pragma GCC unroll 6
      for (int r = 0; r < R; ++r) ar[r] = t.a + t.a_off[r] + t.a_taps[tap];
      for (size_t p = 0; p < t.a_run; ++p) {
        __m256 b0 = Masked ? _mm256_maskload_ps(b, m0) : _mm256_loadu_ps(b);
        __m256 b1 = V == 1 ? b0 : Masked ? _mm256_maskload_ps(b + 8, m1) : _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
        for (int r = 0; r < R; ++r) {
          __m256 av = _mm256_broadcast_ss(ar[r] + p);
          acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
          if (V > 1) acc[r][V - 1] = _mm256_fmadd_ps(av, b1, acc[r][V - 1]);
        }
        b += t.b_rs;
      }
    }
  }
  const long hi = Indirect ? 8 + t.b_hi : 8;  // the second vector's offset (see GemmTile::b_hi)
  for (size_t p = 0; p < t.k && A != ASource::gathered; ++p) {
    const float* bk = Indirect ? t.b + t.b_off[p] : b;
    __m256 b0 = Masked ? _mm256_maskload_ps(bk, m0) : _mm256_loadu_ps(bk);
    __m256 b1 = V == 1 ? b0 : Masked ? _mm256_maskload_ps(bk + hi, m1) : _mm256_loadu_ps(bk + hi);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      __m256 ar = _mm256_broadcast_ss(a + r * rs);
      acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
      if (V > 1) acc[r][V - 1] = _mm256_fmadd_ps(ar, b1, acc[r][V - 1]);
    }
    a += step;
    b += t.b_rs;
  }
  const Finish finish(t);
  if (t.last && t.act == Act::gelu) {  // through a local buffer: see avx512/gemm.cc
    alignas(32) float done[R][V * 8];
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const float* c = c_row(r);
      _mm256_store_ps(done[r], finish.apply<V == 1 && Masked>(acc[r][0], c, m0, r, 0));
      if (V > 1) _mm256_store_ps(done[r] + 8, finish.apply<Masked>(acc[r][V - 1], c + 8, m1, r, 8));
    }
    for (int r = 0; r < R; ++r) {
      float* c = c_row(r);
      store<V == 1 && Masked>(c, m0, gelu(_mm256_load_ps(done[r])));
      if (V > 1) store<Masked>(c + 8, m1, gelu(_mm256_load_ps(done[r] + 8)));
    }
    return;
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    float* c = c_row(r);
    if (V == 1) {
      store<Masked>(c, m0, finish.apply<Masked>(acc[r][0], c, m0, r, 0));
    } else {  // the first vector is always full when there is a second
      store<false>(c, m0, finish.apply<false>(acc[r][0], c, m0, r, 0));
      store<Masked>(c + 8, m1, finish.apply<Masked>(acc[r][V - 1], c + 8, m1, r, 8));
    }
  }
}

template <int V, bool Masked, ASource A, bool Indirect>
void rows(const GemmTile& t) {
  switch (t.mr) {
    case 6: return tile<6, V, Masked, A, Indirect>(t);
    case 5: return tile<5, V, Masked, A, Indirect>(t);
    case 4: return tile<4, V, Masked, A, Indirect>(t);
    case 3: return tile<3, V, Masked, A, Indirect>(t);
    case 2: return tile<2, V, Masked, A, Indirect>(t);
    default: return tile<1, V, Masked, A, Indirect>(t);
  }
}

template <ASource A, bool Indirect>
void dispatch(const GemmTile& t) {
  if (t.nr == 16) rows<2, false, A, Indirect>(t);
  else if (t.nr > 8) rows<2, true, A, Indirect>(t);
  else if (t.nr == 8) rows<1, false, A, Indirect>(t);
  else rows<1, true, A, Indirect>(t);
}

}  // namespace

void gemm_tile_f32(const GemmTile& t) {
  if (t.a_off) dispatch<ASource::gathered, false>(t);  // gathered A comes with a packed B
  else if (t.a_rs) t.b_off ? dispatch<ASource::direct, true>(t) : dispatch<ASource::direct, false>(t);
  else t.b_off ? dispatch<ASource::packed, true>(t) : dispatch<ASource::packed, false>(t);
}

}  // namespace kiln::avx2
