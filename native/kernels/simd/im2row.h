// The pixel-major windows of runtime/conv_rows.cc: rows:(P*Q, R*S*C), pixel (p, q)'s window
// ordered (r, s, c), copied from a zero-padded channels-last plane xp:(Hq, wq, C) (im2row), or
// added back onto it (row2im_add, its backward). A window row is S*C contiguous floats when
// dil_w is 1 (else S runs of C).
// Written once over vmath.h's vocabulary: avx2/conv_rows.cc and avx512/conv_rows.cc include
// their level's vmath.h, then this file inside their own namespace.
// NOTE: include only from an ISA library's conv_rows.cc, after vmath.h.
#pragma once

// o[0, n) = in[0, n), whole vectors then one masked tail. Inline vector moves: the runs are
// short (48-96 floats in ResNets), and a libc memcpy call per run cost about twice as much.
inline void copy_floats(float* o, const float* in, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(o + i, full_mask(), load(in + i, full_mask()));
  if (i < n) {
    const M m = mask_of(n - i);
    store(o + i, m, load(in + i, m));
  }
}

// o[0, n) += in[0, n)
inline void add_floats(float* o, const float* in, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(o + i, full_mask(), add(load(o + i, full_mask()), load(in + i, full_mask())));
  if (i < n) {
    const M m = mask_of(n - i);
    store(o + i, m, add(load(o + i, m), load(in + i, m)));
  }
}

// Calls run(window_row, plane_run, floats) for every run of every window, pixel by pixel in
// order (row2im_add's sums therefore have a fixed order).
template <typename RowsT, typename PlaneT, typename Run>
inline void for_window_runs(RowsT* rows, PlaneT* xp, size_t wq, const Conv2dDims& d, Run run) {
  const size_t C = d.C, SC = d.S * C, RSC = d.R * SC;
  for (size_t p = 0; p < d.P; ++p)
    for (size_t q = 0; q < d.Q; ++q) {
      RowsT* o = rows + (p * d.Q + q) * RSC;
      for (size_t r = 0; r < d.R; ++r) {
        PlaneT* in = xp + ((p * d.stride_h + r * d.dil_h) * wq + q * d.stride_w) * C;
        if (d.dil_w == 1) {
          run(o + r * SC, in, SC);
        } else {
          for (size_t s = 0; s < d.S; ++s) run(o + r * SC + s * C, in + s * d.dil_w * C, C);
        }
      }
    }
}

void im2row_f32(float* rows, const float* xp, size_t wq, const Conv2dDims& d) {
  for_window_runs(rows, xp, wq, d, [](float* o, const float* in, size_t n) { copy_floats(o, in, n); });
}

void row2im_add_f32(float* xp, const float* rows, size_t wq, const Conv2dDims& d) {
  for_window_runs(rows, xp, wq, d, [](const float* o, float* in, size_t n) { add_floats(in, o, n); });
}
