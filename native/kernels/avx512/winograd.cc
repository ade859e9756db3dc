// Winograd F(4x4, 3x3) transforms with AVX-512: 16 channels of one pixel per vector (see
// ../winograd.h). Each tile is 36 vector loads, two passes of the 1-D transform and 36 (input) or
// 16 (output) vector stores; the layout changes NCHW <-> channel blocks are 16 x 16 transposes.
// NOTE: the avx2 file is the same text with 8-lane vectors; keep the two in step.
#include <immintrin.h>

#include <algorithm>

#include "../winograd.h"
#include "fma_bcast.h"

namespace kiln::avx512 {
namespace {

constexpr size_t L = kWinogradLanes;
constexpr size_t kAhead = 2;  // rows of software prefetch in pack and unpack
using V = __m512;

V add(V a, V b) { return _mm512_add_ps(a, b); }
V sub(V a, V b) { return _mm512_sub_ps(a, b); }
V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }    // a*b + c
V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a*b
V set1(float v) { return _mm512_set1_ps(v); }
V load(const float* p) { return _mm512_loadu_ps(p); }
void store(float* p, V v) { _mm512_storeu_ps(p, v); }

__mmask16 lanes(size_t n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u); }

// o = B^T d (6 -> 6); 12 operations
void bt(V* o, const V* d) {
  const V four = set1(4.0f), five = set1(5.0f), two = set1(2.0f);
  const V t0 = fnmadd(four, d[2], d[4]);  // d4 - 4 d2
  const V t1 = fnmadd(four, d[1], d[3]);  // d3 - 4 d1
  const V t2 = sub(d[4], d[2]);
  const V t3 = sub(d[3], d[1]);
  o[0] = fmadd(four, d[0], fnmadd(five, d[2], d[4]));
  o[1] = add(t0, t1);
  o[2] = sub(t0, t1);
  o[3] = fmadd(two, t3, t2);
  o[4] = fnmadd(two, t3, t2);
  o[5] = fmadd(four, d[1], fnmadd(five, d[3], d[5]));
}

// o = A^T m (6 -> 4)
void at(V* o, const V* m) {
  const V a = add(m[1], m[2]), b = sub(m[1], m[2]), c = add(m[3], m[4]), d = sub(m[3], m[4]);
  o[0] = add(add(m[0], a), c);
  o[1] = fmadd(set1(2.0f), d, b);
  o[2] = fmadd(set1(4.0f), c, a);
  o[3] = add(fmadd(set1(8.0f), d, b), m[5]);
}

// o = A v (4 -> 6): the transpose of at()
void a4(V* o, const V* v) {
  const V a = add(v[0], v[2]), b = add(v[1], v[3]);
  const V c = fmadd(set1(4.0f), v[2], v[0]), e = fmadd(set1(8.0f), v[3], add(v[1], v[1]));  // 2 v1 + 8 v3
  o[0] = v[0];
  o[1] = add(a, b);
  o[2] = sub(a, b);
  o[3] = add(c, e);
  o[4] = sub(c, e);
  o[5] = v[3];
}

// r[i][j] -> r[j][i] for a 16 x 16 block held in 16 vectors
__attribute__((always_inline)) inline void transpose16(V* r) {
  V t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int g = 0; g < 16; g += 4) {
    u[g + 0] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
    u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
    u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
  }
  // u[4g + c], 128-bit lane k: column 4k + c of rows 4g..4g+3
  for (int c = 0; c < 4; ++c) {
    const V a = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), b = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    const V e = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD), f = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
    r[c] = _mm512_shuffle_f32x4(a, b, 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(a, b, 0xDD);
    r[4 + c] = _mm512_shuffle_f32x4(e, f, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(e, f, 0xDD);
  }
}

// ---- the GEMM of one transform point --------------------------------------------------------
// m(tiles, Ks) = v(tiles, Cs) u(Cs, Ks): R tiles by NV vectors of output channels per register
// tile, every product one broadcast of v and an FMA. With the 12 x 32 GEMM tile of gemm.cc the
// inner dimension here (C = 16 for ResNet-20's first stage) is too short to amortize its set-up:
// 12 tiles x 1 or 2 vectors run the whole C loop in registers and store once (ResNet-20 16-16
// forward, one thread: 4.1 -> 3.6 ms against gemm_serial with that tile). NOTE: more rows
// (24 x 1) measured slower: 24 row pointers spill, and every broadcast then reloads one.
template <int R, int NV>
void gemm_tile(float* m, const float* v, const float* u, size_t Cs, size_t Ks) {
  V acc[R][NV];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) acc[r][j] = _mm512_setzero_ps();
  for (size_t c = 0; c < Cs; ++c) {
    const float* uc = u + c * Ks;
    V b[NV];
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) b[j] = load(uc + j * L);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
      for (int j = 0; j < NV; ++j) acc[r][j] = fma_bcast(acc[r][j], b[j], v + r * Cs + c);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) store(m + r * Ks + j * L, acc[r][j]);
}

// rows 1..12 of the tile: a switch, so that every count is a compile-time constant
template <int NV>
void gemm_rows(size_t rows, float* m, const float* v, const float* u, size_t Cs, size_t Ks) {
  switch (rows) {
#define KILN_ROWS(n) \
  case n:            \
    return gemm_tile<n, NV>(m, v, u, Cs, Ks);
    KILN_ROWS(1) KILN_ROWS(2) KILN_ROWS(3) KILN_ROWS(4) KILN_ROWS(5) KILN_ROWS(6)
    KILN_ROWS(7) KILN_ROWS(8) KILN_ROWS(9) KILN_ROWS(10) KILN_ROWS(11) KILN_ROWS(12)
#undef KILN_ROWS
    default:
      return;
  }
}

// ---- the weight gradient's GEMM of one transform point ---------------------------------------
// du(Ks, Cs) (+)= y^T(Ks, tiles) v(tiles, Cs): R output channels by NV vectors of input channels
// per register tile, summed over the tiles in order. A tile's broadcasts y[t][k0..k0+R) share
// one cache line and its v row is NV plain loads, so nothing is packed.
template <int R, int NV>
void grad_tile(float* du, const float* y, const float* v, size_t tiles, size_t Ks, size_t Cs, bool accumulate) {
  V acc[R][NV];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) acc[r][j] = _mm512_setzero_ps();
  for (size_t t = 0; t < tiles; ++t) {
    const float* vt = v + t * Cs;
    const float* yt = y + t * Ks;
    V b[NV];
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) b[j] = load(vt + j * L);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
      for (int j = 0; j < NV; ++j) acc[r][j] = fma_bcast(acc[r][j], b[j], yt + r);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) {
      float* o = du + r * Cs + j * L;
      store(o, accumulate ? add(load(o), acc[r][j]) : acc[r][j]);
    }
}

template <int NV>
void grad_rows(size_t rows, float* du, const float* y, const float* v, size_t tiles, size_t Ks, size_t Cs,
               bool accumulate) {
  switch (rows) {
#define KILN_ROWS(n) \
  case n:            \
    return grad_tile<n, NV>(du, y, v, tiles, Ks, Cs, accumulate);
    KILN_ROWS(1) KILN_ROWS(2) KILN_ROWS(3) KILN_ROWS(4) KILN_ROWS(5) KILN_ROWS(6)
    KILN_ROWS(7) KILN_ROWS(8) KILN_ROWS(9) KILN_ROWS(10) KILN_ROWS(11) KILN_ROWS(12)
#undef KILN_ROWS
    default:
      return;
  }
}

}  // namespace

void winograd_pack_f32(float* xb, const float* x, size_t plane, size_t nc, size_t H, size_t W, long row0, size_t rows,
                       long col0, size_t Wp) {
  const V zero = _mm512_setzero_ps();
  // packed columns [j0, j1) hold image columns; the rest are padding
  const long wp = static_cast<long>(Wp);
  const long j0 = std::min(wp, std::max(0L, -col0)), j1 = std::max(j0, std::min(wp, static_cast<long>(W) - col0));
  for (size_t i = 0; i < rows; ++i) {
    float* out = xb + i * Wp * L;
    const long h = row0 + static_cast<long>(i);
    if (h < 0 || h >= static_cast<long>(H)) {
      for (size_t j = 0; j < Wp; ++j) store(out + j * L, zero);
      continue;
    }
    for (long j = 0; j < j0; ++j) store(out + j * L, zero);
    for (long j = j1; j < wp; ++j) store(out + j * L, zero);
    const float* in = x + static_cast<size_t>(h) * W + (j0 + col0);
    // The 16 channel planes are 16 streams a plane apart (4 KiB for 32x32: a page each, where
    // the hardware prefetcher stops), read once from L3 or memory: perf put most of this
    // function's time on the loads. Fetch the row kAhead below while this one is transposed.
    if (i + kAhead < rows && h + static_cast<long>(kAhead) < static_cast<long>(H))
      for (size_t c = 0; c < nc; ++c)
        for (long j = 0; j < j1 - j0; j += 16) _mm_prefetch(reinterpret_cast<const char*>(in + c * plane + kAhead * W + j), _MM_HINT_T0);
    for (long j = j0; j < j1; j += 16) {
      const size_t n = static_cast<size_t>(std::min(16L, j1 - j));
      const __mmask16 m = lanes(n);
      V r[16];
#pragma GCC unroll 16
      for (size_t c = 0; c < 16; ++c) r[c] = c < nc ? _mm512_maskz_loadu_ps(m, in + c * plane + (j - j0)) : zero;
      transpose16(r);
      // NOTE: constant indices only (unrolled, tests inside): a variable index would put r[] on the stack
#pragma GCC unroll 16
      for (size_t q = 0; q < 16; ++q)
        if (q < n) store(out + (j + q) * L, r[q]);
    }
  }
}

void winograd_input_f32(float* v, size_t v_xi, size_t v_t, const float* xb, size_t Wp, size_t tiles) {
  for (size_t t = 0; t < tiles; ++t) {
    const float* d = xb + 4 * t * L;
    V tmp[6][6];
#pragma GCC unroll 6
    for (size_t i = 0; i < 6; ++i) {  // rows: d B
      V r[6];
#pragma GCC unroll 6
      for (size_t j = 0; j < 6; ++j) r[j] = load(d + (i * Wp + j) * L);
      bt(tmp[i], r);
    }
    float* out = v + t * v_t;
#pragma GCC unroll 6
    for (size_t j = 0; j < 6; ++j) {  // columns: B^T (d B)
      V c[6], o[6];
#pragma GCC unroll 6
      for (size_t i = 0; i < 6; ++i) c[i] = tmp[i][j];
      bt(o, c);
#pragma GCC unroll 6
      for (size_t i = 0; i < 6; ++i) store(out + (i * 6 + j) * v_xi, o[i]);
    }
  }
}

void winograd_output_f32(float* yb, size_t Qp, const float* m, size_t m_xi, size_t m_t, size_t tiles,
                         const float* bias) {
  const V b = bias ? load(bias) : _mm512_setzero_ps();
  for (size_t t = 0; t < tiles; ++t) {
    const float* in = m + t * m_t;
    V tmp[6][4];
#pragma GCC unroll 6
    for (size_t i = 0; i < 6; ++i) {  // rows: m A
      V r[6];
#pragma GCC unroll 6
      for (size_t j = 0; j < 6; ++j) r[j] = load(in + (i * 6 + j) * m_xi);
      at(tmp[i], r);
    }
    float* out = yb + 4 * t * L;
#pragma GCC unroll 6
    for (size_t j = 0; j < 4; ++j) {  // columns: A^T (m A)
      V c[6], o[4];
#pragma GCC unroll 6
      for (size_t i = 0; i < 6; ++i) c[i] = tmp[i][j];
      at(o, c);
#pragma GCC unroll 6
      for (size_t i = 0; i < 4; ++i) store(out + (i * Qp + j) * L, add(o[i], b));
    }
  }
}

void winograd_gemm_f32(float* m, const float* v, const float* u, size_t tiles, size_t Cs, size_t Ks) {
  size_t k = 0;
  for (; k + 2 * L <= Ks; k += 2 * L)
    for (size_t t = 0; t < tiles; t += 12)
      gemm_rows<2>(std::min<size_t>(12, tiles - t), m + t * Ks + k, v + t * Cs, u + k, Cs, Ks);
  if (k < Ks)
    for (size_t t = 0; t < tiles; t += 12)
      gemm_rows<1>(std::min<size_t>(12, tiles - t), m + t * Ks + k, v + t * Cs, u + k, Cs, Ks);
}

void winograd_gemm_grad_f32(float* du, const float* y, const float* v, size_t tiles, size_t Ks, size_t Cs,
                            bool accumulate) {
  size_t c = 0;
  for (; c + 2 * L <= Cs; c += 2 * L)
    for (size_t k = 0; k < Ks; k += 12)
      grad_rows<2>(std::min<size_t>(12, Ks - k), du + k * Cs + c, y + k, v + c, tiles, Ks, Cs, accumulate);
  if (c < Cs)
    for (size_t k = 0; k < Ks; k += 12)
      grad_rows<1>(std::min<size_t>(12, Ks - k), du + k * Cs + c, y + k, v + c, tiles, Ks, Cs, accumulate);
}

void winograd_grad_output_f32(float* v, size_t v_xi, size_t v_t, const float* yb, size_t Qp, size_t tiles) {
  for (size_t t = 0; t < tiles; ++t) {
    const float* d = yb + 4 * t * L;
    V tmp[4][6];
#pragma GCC unroll 6
    for (size_t i = 0; i < 4; ++i) {  // rows: dy A^T
      V r[4];
#pragma GCC unroll 6
      for (size_t j = 0; j < 4; ++j) r[j] = load(d + (i * Qp + j) * L);
      a4(tmp[i], r);
    }
    float* out = v + t * v_t;
#pragma GCC unroll 6
    for (size_t j = 0; j < 6; ++j) {  // columns: A (dy A^T)
      V c[4], o[6];
#pragma GCC unroll 6
      for (size_t i = 0; i < 4; ++i) c[i] = tmp[i][j];
      a4(o, c);
#pragma GCC unroll 6
      for (size_t i = 0; i < 6; ++i) store(out + (i * 6 + j) * v_xi, o[i]);
    }
  }
}

void winograd_unpack_f32(float* y, size_t plane, size_t nk, size_t rows, size_t Q, const float* yb, size_t Qp,
                         bool add_to) {
  for (size_t i = 0; i < rows; ++i) {
    const float* in = yb + i * Qp * L;
    float* out = y + i * Q;
    // 16 output planes, written (or added to) once: fetch the row kAhead below, as pack does
    if (i + kAhead < rows)
      for (size_t k = 0; k < nk && k < 16; ++k)
        for (size_t q = 0; q < Q; q += 16) __builtin_prefetch(out + k * plane + kAhead * Q + q, 1, 3);
    for (size_t q = 0; q < Q; q += 16) {
      const size_t n = std::min<size_t>(16, Q - q);
      const __mmask16 m = lanes(n);
      V r[16];
#pragma GCC unroll 16
      for (size_t j = 0; j < 16; ++j) r[j] = j < n ? load(in + (q + j) * L) : _mm512_setzero_ps();
      transpose16(r);  // r[k] = channel k, columns q..q+15
#pragma GCC unroll 16
      for (size_t k = 0; k < 16; ++k) {
        if (k >= nk) break;
        float* o = out + k * plane + q;
        // plain loads/stores where all 16 columns exist; masks only for the row's tail
        if (n == 16) {
          store(o, add_to ? add(r[k], load(o)) : r[k]);
        } else {
          _mm512_mask_storeu_ps(o, m, add_to ? add(r[k], _mm512_maskz_loadu_ps(m, o)) : r[k]);
        }
      }
    }
  }
}

}  // namespace kiln::avx512
