// The Winograd F(4x4, 3x3) matrices written out (see ../winograd.h for B^T, G, A^T). The weight
// transform runs on every level; the tile transforms are the readable statement of what the SIMD
// kernels compute per lane.
#include "../winograd.h"

#include <algorithm>

namespace kiln::ref {
namespace {

// o:(6) = G g for g:(3). Multiplications by the reciprocals, not divisions: this runs 9 times per
// kernel (36 per 3x3 filter pair) on every forward and backward-data call, and with 64 x 64
// channels the divisions alone took 14-20% of a ResNet-20 8x8 convolution. In double, the two
// differ by an ulp of double at most, far below the float the result is rounded to.
void g_1d(double* o, const double* g) {
  constexpr double k4 = 1.0 / 4.0, k6 = 1.0 / 6.0, k12 = 1.0 / 12.0, k24 = 1.0 / 24.0;
  o[0] = g[0] * k4;
  o[1] = -(g[0] + g[1] + g[2]) * k6;
  o[2] = -(g[0] - g[1] + g[2]) * k6;
  o[3] = g[0] * k24 + g[1] * k12 + g[2] * k6;
  o[4] = g[0] * k24 - g[1] * k12 + g[2] * k6;
  o[5] = g[2];
}

// o:(6) = B^T d for d:(6), each element `stride` apart
void bt_1d(float* o, const float* d, size_t stride) {
  const float d0 = d[0], d1 = d[stride], d2 = d[2 * stride], d3 = d[3 * stride], d4 = d[4 * stride], d5 = d[5 * stride];
  o[0] = 4 * d0 - 5 * d2 + d4;
  o[1] = -4 * d1 - 4 * d2 + d3 + d4;
  o[2] = 4 * d1 - 4 * d2 - d3 + d4;
  o[3] = -2 * d1 - d2 + 2 * d3 + d4;
  o[4] = 2 * d1 - d2 - 2 * d3 + d4;
  o[5] = 4 * d1 - 5 * d3 + d5;
}

// o:(4) = A^T m for m:(6), each element `stride` apart
void at_1d(float* o, const float* m, size_t stride) {
  const float m0 = m[0], m1 = m[stride], m2 = m[2 * stride], m3 = m[3 * stride], m4 = m[4 * stride], m5 = m[5 * stride];
  o[0] = m0 + m1 + m2 + m3 + m4;
  o[1] = m1 - m2 + 2 * m3 - 2 * m4;
  o[2] = m1 + m2 + 4 * m3 + 4 * m4;
  o[3] = m1 - m2 + 8 * m3 - 8 * m4 + m5;
}

}  // namespace

namespace {

// o[xi] = (G g G^T)[xi] for one 3x3 filter g (flipped when transposed: g[2-r][2-s]).
void weight_tile(double* o36, const float* g, bool transposed) {
  double gg[9];
  for (size_t i = 0; i < 9; ++i) gg[i] = transposed ? g[8 - i] : g[i];
  // t:(6, 3) = G g (columns of g), then (G g) G^T row by row
  double t[6][3], col[3], o[6];
  for (size_t s = 0; s < 3; ++s) {
    for (size_t r = 0; r < 3; ++r) col[r] = gg[r * 3 + s];
    g_1d(o, col);
    for (size_t i = 0; i < 6; ++i) t[i][s] = o[i];
  }
  for (size_t i = 0; i < 6; ++i) g_1d(o36 + 6 * i, t[i]);
}

}  // namespace

void winograd_weight_f32(float* u, size_t u_xi, size_t u_row, const float* w, size_t K, size_t C, bool transposed,
                         size_t k0, size_t k1) {
  // The 36 outputs of one filter land u_xi floats apart (a multiple of 4 KiB whenever the
  // channels are: one L1 set for all 36), so filter-at-a-time stores thrashed that set and took
  // most of the time. Runs of kRun filters along u's contiguous index (c when transposed, k
  // otherwise) are transformed first and stored as 36 runs of kRun floats.
  constexpr size_t kRun = 16;
  double o[kRun][36];
  k1 = std::min(k1, K);
  auto store = [&](size_t row, size_t col0, size_t n) {
    for (size_t xi = 0; xi < 36; ++xi) {
      float* out = u + xi * u_xi + row * u_row + col0;
      for (size_t j = 0; j < n; ++j) out[j] = static_cast<float>(o[j][xi]);
    }
  };
  if (transposed) {  // (row, column) = (k, c)
    for (size_t k = k0; k < k1; ++k)
      for (size_t c0 = 0; c0 < C; c0 += kRun) {
        const size_t n = std::min(kRun, C - c0);
        for (size_t j = 0; j < n; ++j) weight_tile(o[j], w + (k * C + c0 + j) * 9, true);
        store(k, c0, n);
      }
  } else {  // (row, column) = (c, k)
    for (size_t c = 0; c < C; ++c)
      for (size_t kb = k0; kb < k1; kb += kRun) {
        const size_t n = std::min(kRun, k1 - kb);
        for (size_t j = 0; j < n; ++j) weight_tile(o[j], w + ((kb + j) * C + c) * 9, false);
        store(c, kb, n);
      }
  }
}

void winograd_weight_grad_f32(float* dw, const double* du, size_t du_xi, size_t du_row, size_t C, size_t k0,
                              size_t k1) {
  // G^T:(3, 6)
  static const double gt[3][6] = {{1.0 / 4, -1.0 / 6, -1.0 / 6, 1.0 / 24, 1.0 / 24, 0.0},
                                  {0.0, -1.0 / 6, 1.0 / 6, 1.0 / 12, -1.0 / 12, 0.0},
                                  {0.0, -1.0 / 6, -1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0}};
  // Channels innermost: du's rows (xi, k) are contiguous over c, so the loops stream them.
  constexpr size_t kChunk = 64;
  double t[3][6][kChunk];  // (G^T du)[r][j] for a run of channels
  for (size_t k = k0; k < k1; ++k)
    for (size_t c0 = 0; c0 < C; c0 += kChunk) {
      const size_t nc = std::min(kChunk, C - c0);
      for (size_t r = 0; r < 3; ++r)
        for (size_t j = 0; j < 6; ++j) {
          double* acc = t[r][j];
          for (size_t c = 0; c < nc; ++c) acc[c] = 0.0;
          for (size_t i = 0; i < 6; ++i) {
            if (gt[r][i] == 0.0) continue;
            const double* m = du + (i * 6 + j) * du_xi + k * du_row + c0;
            for (size_t c = 0; c < nc; ++c) acc[c] += gt[r][i] * m[c];
          }
        }
      for (size_t c = 0; c < nc; ++c) {
        float* o = dw + (k * C + c0 + c) * 9;
        for (size_t r = 0; r < 3; ++r)
          for (size_t s = 0; s < 3; ++s) {
            double acc = 0.0;
            for (size_t j = 0; j < 6; ++j) acc += t[r][j][c] * gt[s][j];
            o[r * 3 + s] = static_cast<float>(o[r * 3 + s] + acc);
          }
      }
    }
}

void winograd_input_tile_f32(float* v, const float* d) {
  float t[36];
  for (size_t i = 0; i < 6; ++i) bt_1d(t + i * 6, d + i * 6, 1);  // rows: (d B)
  float col[6];
  for (size_t j = 0; j < 6; ++j) {
    bt_1d(col, t + j, 6);  // columns: B^T (d B)
    for (size_t i = 0; i < 6; ++i) v[i * 6 + j] = col[i];
  }
}

void winograd_output_tile_f32(float* y, const float* m) {
  float t[24];  // t:(6, 4) = m A
  for (size_t i = 0; i < 6; ++i) at_1d(t + i * 4, m + i * 6, 1);
  float col[4];
  for (size_t j = 0; j < 4; ++j) {
    at_1d(col, t + j, 4);
    for (size_t i = 0; i < 4; ++i) y[i * 4 + j] = col[i];
  }
}

}  // namespace kiln::ref
