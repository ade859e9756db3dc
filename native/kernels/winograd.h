// Winograd F(4x4, 3x3) transforms (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2015): a 4x4 output tile of a 3x3 stride-1 convolution from a 6x6 input tile,
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A,
// 36 elementwise products per tile and channel pair instead of 144 multiply-adds. The sum over
// input channels of those products is a GEMM per transform point xi = (row, col) of the 6x6
// tile (runtime/winograd.cc drives it). With
//   B^T = [ 4  0 -5  0  1  0 ]   G = [  1/4     0     0  ]   A^T = [ 1  1  1  1  1  0 ]
//         [ 0 -4 -4  1  1  0 ]       [ -1/6  -1/6  -1/6  ]         [ 0  1 -1  2 -2  0 ]
//         [ 0  4 -4 -1  1  0 ]       [ -1/6   1/6  -1/6  ]         [ 0  1  1  4  4  0 ]
//         [ 0 -2 -1  2  1  0 ]       [ 1/24  1/12   1/6  ]         [ 0  1 -1  8 -8  1 ]
//         [ 0  2 -1 -2  1  0 ]       [ 1/24 -1/12   1/6  ]
//         [ 0  4  0 -5  0  1 ]       [   0     0     1   ]
//
// The SIMD kernels work on a channel-blocked layout: L channels of one pixel are one vector
// (L = 16 with AVX-512, 8 with AVX2), so every transform is plain vector arithmetic whatever the
// image size. Lanes past the last channel hold zeros (input) or junk that is never written out
// (output). Same conventions as kernels.h: per-ISA namespaces, nothing inline shared across them.
#pragma once

#include <cstddef>

namespace kiln {

#define KILN_DECLARE_WINOGRAD(ns)                                                                        \
  namespace ns {                                                                                         \
  /* xb:(rows, Wp, L): xb[i][j][c] = x[c][row0 + i][col0 + j] for channels c < nc, zero outside */       \
  /* the image and for lanes c >= nc. x: channel c's (H, W) plane starts at x + c*plane. */              \
  void winograd_pack_f32(float* xb, const float* x, size_t plane, size_t nc, size_t H, size_t W, long row0, \
                         size_t rows, long col0, size_t Wp);                                             \
  /* Input transform of `tiles` tiles along one row of xb:(6, Wp, L) (tile t's 6x6 window starts at */   \
  /* column 4t): v[xi*v_xi + t*v_t + lane] = (B^T d_t B)[xi], xi = 6*row + col. */                        \
  void winograd_input_f32(float* v, size_t v_xi, size_t v_t, const float* xb, size_t Wp, size_t tiles);  \
  /* Output transform: yb:(4, Qp, L) at columns [4t, 4t+4) = A^T m_t A (+ bias[lane] when bias is */    \
  /* not nullptr), m_t[xi] = m[xi*m_xi + t*m_t + lane]. */                                               \
  void winograd_output_f32(float* yb, size_t Qp, const float* m, size_t m_xi, size_t m_t, size_t tiles,  \
                           const float* bias);                                                          \
  /* The products summed over input channels, one transform point: m:(tiles, Ks) = v:(tiles, Cs) */    \
  /* u:(Cs, Ks), row-major with leading dimensions Cs and Ks; Ks a multiple of L. */                    \
  void winograd_gemm_f32(float* m, const float* v, const float* u, size_t tiles, size_t Cs, size_t Ks);  \
  /* The weight gradient's products summed over tiles, one transform point: du:(Ks, Cs) = (or += */      \
  /* when accumulate) y^T v for y:(tiles, Ks), v:(tiles, Cs); Cs a multiple of L. */                    \
  void winograd_gemm_grad_f32(float* du, const float* y, const float* v, size_t tiles, size_t Ks, size_t Cs, \
                              bool accumulate);                                                         \
  /* The transpose of the output transform, for the weight gradient: for `tiles` 4x4 tiles of */        \
  /* yb:(4, Qp, L) (tile t at columns [4t, 4t+4)), v[xi*v_xi + t*v_t + lane] = (A dy_t A^T)[xi]. */      \
  void winograd_grad_output_f32(float* v, size_t v_xi, size_t v_t, const float* yb, size_t Qp, size_t tiles); \
  /* y[k*plane + i*Q + q] = (or += when add) yb[(i*Qp + q)*L + k], for k < nk, i < rows, q < Q. */      \
  void winograd_unpack_f32(float* y, size_t plane, size_t nk, size_t rows, size_t Q, const float* yb,    \
                           size_t Qp, bool add);                                                        \
  }

KILN_DECLARE_WINOGRAD(avx2)
KILN_DECLARE_WINOGRAD(avx512)

#undef KILN_DECLARE_WINOGRAD

// The vector width of each level's transforms (constants here, read by baseline code).
namespace avx2 {
constexpr size_t kWinogradLanes = 8;
}
namespace avx512 {
constexpr size_t kWinogradLanes = 16;
}

namespace ref {
// The weight transform, in double (it runs once per call, on the calling threads): for output
// channels k in [k0, k1) and every input channel c, u[xi*u_xi + row*u_row + col] = (G g G^T)[xi]
// with (row, col) = (c, k) and g = w[k][c] (3x3). transposed: the kernel of the backward-data
// convolution instead (flipped, channel axes swapped): (row, col) = (k, c), g[r][s] = w[k][c][2-r][2-s].
void winograd_weight_f32(float* u, size_t u_xi, size_t u_row, const float* w, size_t K, size_t C, bool transposed,
                         size_t k0, size_t k1);
// The weight gradient's last step: dw[k][c] (3x3) += G^T du G, du[xi*du_xi + k*du_row + c]
// the sum over tiles of (A dy A^T) (.) (B^T x B), for k in [k0, k1) and every c < C.
void winograd_weight_grad_f32(float* dw, const double* du, size_t du_xi, size_t du_row, size_t C, size_t k0,
                              size_t k1);
// The readable transforms of one tile (scalar; the SIMD kernels compute the same per lane):
// v:(6,6) = B^T d B for d:(6,6); y:(4,4) = A^T m A for m:(6,6).
void winograd_input_tile_f32(float* v, const float* d);
void winograd_output_tile_f32(float* y, const float* m);
}  // namespace ref

}  // namespace kiln
