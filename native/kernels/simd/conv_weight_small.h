// The weight gradient of a stride-1 convolution over few input channels (a network's first layer:
// ResNet-20's 3 -> 16), read straight from NCHW: for each output row p and tap (c, r, s), x's
// row h = p + r - pad_h shifted by s lines up with dy's row p, so
//   dw[k, c, r, s] += sum over q of dy[k, p, q] * x[c, h, q + s - pad_w]
// is a vector FMA over q per (k, s): KB output channels by S taps are kept in registers while
// the rows stream by. The GEMM lowering (im2col, then a 16 x 27 x 1024 GEMM per image) spent
// most of its time packing: a 27-column B and a 16-row A are too thin to pay for it.
// Written once over vmath.h's vocabulary (see im2row.h). NOTE: include only from an ISA
// library's conv_rows.cc, after vmath.h.
#pragma once

#include "padded_row.h"

// internal linkage: each ISA library's copy stays its own (no exported, interposable symbols)
namespace {

// Floats of scratch conv_weight_small needs: per-lane partial sums for all of dw, and one image
// of x with its rows padded (zeros left and right, and a vector's worth past the end so that the
// shifted loads of the last vector stay inside).
inline size_t conv_weight_small_scratch_floats(const Conv2dDims& d) {
  return d.K * d.C * d.R * d.S * kLanes + d.C * d.H * (d.Q + d.S - 1 + kLanes);
}

// The registers: KB*S accumulators, S shifted x vectors and one dy vector.
template <size_t S>
constexpr size_t weight_small_kb() {
  constexpr size_t regs = kLanes == 16 ? 32 : 16, kb = (regs - 2 - S) / S;
  return kb < 1 ? 1 : kb > 8 ? 8 : kb;
}

// Channels [k0, k0 + kn) (kn <= KB; Full: kn == KB, no tests in the loop) of tap row (c, r) for
// one image: lane partials at lp.
template <size_t S, bool Full>
inline void weight_small_block(V* lp, const float* xpad, size_t wp, const float* dy, const Conv2dDims& d, size_t k0,
                               size_t kn, size_t c, size_t r) {
  constexpr size_t KB = weight_small_kb<S>();
  const size_t PQ = d.P * d.Q;
  V acc[KB][S];
#pragma GCC unroll 8
  for (size_t kk = 0; kk < KB; ++kk)
#pragma GCC unroll 7
    for (size_t s = 0; s < S; ++s) acc[kk][s] = Full || kk < kn ? lp[kk * d.C * d.R * S + s] : zero();
  for (size_t p = 0; p < d.P; ++p) {
    if (p + r < d.pad_h || p + r - d.pad_h >= d.H) continue;  // x's row is padding: adds nothing
    const float* xr = xpad + (c * d.H + (p + r - d.pad_h)) * wp;
    for (size_t q = 0; q < d.Q; q += kLanes) {
      // both operands masked past Q: 0 * 0, never 0 * (an inf or NaN of the next columns)
      const M m = mask_of(d.Q - q);
      V xv[S];
#pragma GCC unroll 7
      for (size_t s = 0; s < S; ++s) xv[s] = load(xr + q + s, m);
#pragma GCC unroll 8
      for (size_t kk = 0; kk < KB; ++kk) {
        if (!Full && kk >= kn) break;
        const V g = load(dy + (k0 + kk) * PQ + p * d.Q + q, m);
#pragma GCC unroll 7
        for (size_t s = 0; s < S; ++s) acc[kk][s] = fmadd(g, xv[s], acc[kk][s]);
      }
    }
  }
#pragma GCC unroll 8
  for (size_t kk = 0; kk < KB; ++kk)
#pragma GCC unroll 7
    for (size_t s = 0; s < S; ++s)
      if (Full || kk < kn) lp[kk * d.C * d.R * S + s] = acc[kk][s];
}

template <size_t S>
inline void weight_small_images(float* dw, float* scratch, const float* x, const float* dy, const Conv2dDims& d,
                                size_t n0, size_t n1) {
  constexpr size_t KB = weight_small_kb<S>();
  const size_t CRS = d.C * d.R * S, wp = d.Q + S - 1 + kLanes, in_img = d.C * d.H * d.W, out_img = d.K * d.P * d.Q;
  V* lp = reinterpret_cast<V*>(scratch);  // lane partials, (k, c, r, s) order as dw
  float* xpad = scratch + d.K * CRS * kLanes;
  for (size_t i = 0; i < d.K * CRS; ++i) lp[i] = zero();
  for (size_t n = n0; n < n1; ++n) {
    // x's rows with pad_w zeros on the left and zeros after the last column
    for (size_t ch = 0; ch < d.C * d.H; ++ch) padded_row(xpad + ch * wp, wp, x + n * in_img + ch * d.W, d.W, d.pad_w);
    for (size_t k0 = 0; k0 < d.K; k0 += KB)
      for (size_t c = 0; c < d.C; ++c)
        for (size_t r = 0; r < d.R; ++r) {
          V* at = lp + (k0 * d.C * d.R + c * d.R + r) * S;
          if (k0 + KB <= d.K) weight_small_block<S, true>(at, xpad, wp, dy + n * out_img, d, k0, KB, c, r);
          else weight_small_block<S, false>(at, xpad, wp, dy + n * out_img, d, k0, d.K - k0, c, r);
        }
  }
  for (size_t i = 0; i < d.K * CRS; ++i) dw[i] = hsum(lp[i]);
}

// dw:(K, C, R, S) = the weight gradient of images [n0, n1) (overwritten). Stride 1, dilation 1,
// S <= 7 (see kernels.h).
inline void conv_weight_small(float* dw, float* scratch, const float* x, const float* dy, const Conv2dDims& d,
                              size_t n0, size_t n1) {
  switch (d.S) {
    case 1: return weight_small_images<1>(dw, scratch, x, dy, d, n0, n1);
    case 2: return weight_small_images<2>(dw, scratch, x, dy, d, n0, n1);
    case 3: return weight_small_images<3>(dw, scratch, x, dy, d, n0, n1);
    case 4: return weight_small_images<4>(dw, scratch, x, dy, d, n0, n1);
    case 5: return weight_small_images<5>(dw, scratch, x, dy, d, n0, n1);
    case 6: return weight_small_images<6>(dw, scratch, x, dy, d, n0, n1);
    default: return weight_small_images<7>(dw, scratch, x, dy, d, n0, n1);
  }
}

}  // namespace
