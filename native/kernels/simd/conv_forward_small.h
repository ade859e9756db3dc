// The forward pass of a stride-1 convolution over few input channels (a network's first layer:
// ResNet-20's 3 -> 16), read straight from NCHW: an output vector (a run of one output row) is
//   y[k, p, q..q+L) = sum over taps (c, r, s) of w[k, c, r, s] * x[c, p + r - pad_h, q + s - pad_w ..]
// so each tap is one load of x per output vector and one broadcast weight per output channel.
// A block of KB output channels by kSlots output vectors (from one or more rows) stays in
// registers over all C*R*S taps. The lowerings for many channels (a GEMM with K = C*R*S = 27)
// spent a third of their time copying and packing.
// Written over vmath.h's vocabulary (see im2row.h) but sized for AVX-512's 32 registers; the
// AVX2 build of it lost to the GEMM lowering (runtime/conv.cc). NOTE: include only from
// avx512/conv_rows.cc, after vmath.h.
#pragma once

#include "padded_row.h"

// internal linkage: each ISA library's copy stays its own (no exported, interposable symbols)
namespace {

// Output vectors per block, and output channels per block: kSlots*KB accumulators, KB broadcast
// weights and one x vector in 31 of the 32 registers.
static_assert(kLanes == 16, "sized for AVX-512");
constexpr size_t kSlots = 4;
constexpr size_t kForwardKB = 6;

// Floats of scratch conv_forward_small needs: one image of x, zero-padded to (P + R - 1) rows of
// Q + S - 1 columns, plus a vector's worth after each row for the last vector's shifted loads.
inline size_t conv_forward_small_scratch_floats(const Conv2dDims& d) {
  return d.C * (d.P + d.R - 1) * (d.Q + d.S - 1 + kLanes);
}

// KB (Full) or kn output channels from k0 for the output vectors (p[i], q[i]) of one image, i <
// slots; xpad as in conv_forward_small.
template <bool Full>
inline void forward_small_block(float* y, const float* xpad, size_t wp, size_t hp, const float* w, const float* b,
                                const Conv2dDims& d, size_t k0, size_t kn, const size_t* p, const size_t* q,
                                size_t slots) {
  constexpr size_t KB = kForwardKB;
  const size_t RS = d.R * d.S, CRS = d.C * RS, PQ = d.P * d.Q;
  V acc[KB][kSlots];
#pragma GCC unroll 8
  for (size_t kk = 0; kk < KB; ++kk)
#pragma GCC unroll 4
    for (size_t i = 0; i < kSlots; ++i) acc[kk][i] = zero();
  const float* row[kSlots];  // slot i's window corner: x row p[i] (padded), column q[i]
  M mask[kSlots];
#pragma GCC unroll 4
  for (size_t i = 0; i < kSlots; ++i) {
    const size_t j = i < slots ? i : 0;  // missing slots repeat slot 0 and are never stored
    row[i] = xpad + p[j] * wp + q[j];
    mask[i] = mask_of(d.Q - q[j]);
  }
  for (size_t c = 0; c < d.C; ++c)
    for (size_t r = 0; r < d.R; ++r) {
      const size_t at = (c * hp + r) * wp;
      for (size_t s = 0; s < d.S; ++s) {
        const float* wt = w + (k0 * d.C + c) * RS + r * d.S + s;
        V wv[KB];
#pragma GCC unroll 8
        for (size_t kk = 0; kk < KB; ++kk) wv[kk] = Full || kk < kn ? set1(wt[kk * CRS]) : zero();
#pragma GCC unroll 4
        for (size_t i = 0; i < kSlots; ++i) {
          const V xv = load(row[i] + at + s, mask[i]);
#pragma GCC unroll 8
          for (size_t kk = 0; kk < KB; ++kk) acc[kk][i] = fmadd(wv[kk], xv, acc[kk][i]);
        }
      }
    }
#pragma GCC unroll 8
  for (size_t kk = 0; kk < KB; ++kk) {
    if (!Full && kk >= kn) break;
    const V bias = set1(b ? b[k0 + kk] : 0.0f);
#pragma GCC unroll 4
    for (size_t i = 0; i < kSlots; ++i)
      if (i < slots) store(y + (k0 + kk) * PQ + p[i] * d.Q + q[i], mask[i], add(acc[kk][i], bias));
  }
}

// y[n0, n1) = conv(x, w) + b (b may be nullptr). Stride 1, dilation 1 (see kernels.h).
inline void conv_forward_small(float* y, float* scratch, const float* x, const float* w, const float* b,
                               const Conv2dDims& d, size_t n0, size_t n1) {
  constexpr size_t KB = kForwardKB;
  const size_t hp = d.P + d.R - 1, wp = d.Q + d.S - 1 + kLanes, in_img = d.C * d.H * d.W, out_img = d.K * d.P * d.Q;
  const size_t vectors = (d.Q + kLanes - 1) / kLanes;  // output vectors per row
  for (size_t n = n0; n < n1; ++n) {
    // x's channels as (hp, wp) planes: pad_h zero rows on top, pad_w zeros on the left, zeros
    // after the last row and column
    for (size_t c = 0; c < d.C; ++c)
      for (size_t i = 0; i < hp; ++i) {
        float* o = scratch + (c * hp + i) * wp;
        if (i < d.pad_h || i - d.pad_h >= d.H) {
          std::fill(o, o + wp, 0.0f);
          continue;
        }
        padded_row(o, wp, x + n * in_img + (c * d.H + i - d.pad_h) * d.W, d.W, d.pad_w);
      }
    // the output vectors of the image, row by row, kSlots at a time
    const size_t total = d.P * vectors;
    for (size_t v0 = 0; v0 < total; v0 += kSlots) {
      size_t p[kSlots], q[kSlots];
      const size_t slots = std::min(kSlots, total - v0);
      for (size_t i = 0; i < slots; ++i) p[i] = (v0 + i) / vectors, q[i] = (v0 + i) % vectors * kLanes;
      for (size_t k0 = 0; k0 < d.K; k0 += KB) {
        if (k0 + KB <= d.K) forward_small_block<true>(y + n * out_img, scratch, wp, hp, w, b, d, k0, KB, p, q, slots);
        else forward_small_block<false>(y + n * out_img, scratch, wp, hp, w, b, d, k0, d.K - k0, p, q, slots);
      }
    }
  }
}

}  // namespace
