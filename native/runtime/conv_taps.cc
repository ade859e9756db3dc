// Convolutions tap by tap: see conv_taps.h.
#include "conv_taps.h"

#include <algorithm>

#include "gemm.h"
#include "parallel.h"

namespace kiln {
namespace {

constexpr size_t kMinChannels = 8;
// Padding must be at least this many percent of im2col's products (3x3 windows with padding 1:
// 40% on 3x3 images, 21% on 6x6, 18% on 7x7, 10% on 12x12).
constexpr size_t kMinPadPercent = 15;
// Each channels-last copy at most this many floats (32 MiB).
constexpr size_t kMaxCopyFloats = size_t{8} << 20;
// Output pixels over all images, at least: a tap's GEMM streams its whole weight panel (C x K)
// for its rows, and the forward and input-gradient GEMMs have only those rows (4 to 9 of every
// 9 pixels of a 3x3 image). Same-process A/B against im2col over image groups, 512 channels on
// 3x3 images, 2 threads: 8 images (72 pixels) forward 0.63x; 16 (144) forward 0.88x, input
// gradient 0.64x, weight gradient 1.25x; 32 (288) 1.19x, 0.99x, 1.39x; 64 (576) 1.39x, 1.22x,
// 1.30x. The weight gradient's GEMMs are K x C, the pixels their depth.
constexpr size_t kMinPixelsForward = 256;
constexpr size_t kMinPixelsData = 512;
constexpr size_t kMinPixelsWeight = 128;

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// The output pixels whose input pixel under tap (r, s) lies inside the image: rows [p0, p1),
// columns [q0, q1); that input pixel is (p + dr, q + ds).
struct TapRange {
  size_t p0, p1, q0, q1;
  long dr, ds;
  size_t count() const { return (p1 - p0) * (q1 - q0); }
};

TapRange tap_range(const Conv2dDims& d, size_t r, size_t s) {
  // 0 <= o + off - pad < in, for o in [0, out)
  auto axis = [](size_t out, size_t in, size_t pad, size_t off, size_t* lo, size_t* hi) {
    *lo = std::min(out, pad > off ? pad - off : 0);
    *hi = std::max(*lo, std::min(out, in + pad > off ? in + pad - off : 0));
  };
  TapRange t;
  axis(d.P, d.H, d.pad_h, r * d.dil_h, &t.p0, &t.p1);
  axis(d.Q, d.W, d.pad_w, s * d.dil_w, &t.q0, &t.q1);
  t.dr = static_cast<long>(r * d.dil_h) - static_cast<long>(d.pad_h);
  t.ds = static_cast<long>(s * d.dil_w) - static_cast<long>(d.pad_w);
  return t;
}

// Fills out_rows with each valid output pixel's offset in a channels-last copy of K floats per
// pixel, and in_rows with its input pixel's in one of C floats per pixel (over all images,
// image-major, then row-major); returns their count.
size_t tap_pixels(const Conv2dDims& d, const TapRange& t, long* out_rows, long* in_rows) {
  size_t m = 0;
  for (size_t n = 0; n < d.N; ++n)
    for (size_t p = t.p0; p < t.p1; ++p)
      for (size_t q = t.q0; q < t.q1; ++q, ++m) {
        const long in_pixel = static_cast<long>((n * d.H + p) * d.W + q) + t.dr * static_cast<long>(d.W) + t.ds;
        out_rows[m] = static_cast<long>(((n * d.P + p) * d.Q + q) * d.K);
        in_rows[m] = in_pixel * static_cast<long>(d.C);
      }
  return m;
}

// One packed B panel per tap (GemmDims::b_packed: NR-column slivers of all rows, zero past the
// columns). Forward: B_rs(c, k) = w[k, c, rs]; backward data (transposed): B_rs(k, c).
void pack_taps(ThreadPool& pool, float* wp, const float* w, const Conv2dDims& d, size_t NR, bool transposed) {
  const size_t RS = d.R * d.S, rows = transposed ? d.K : d.C, cols = transposed ? d.C : d.K;
  const size_t slivers = ceil_div(cols, NR), panel = slivers * NR * rows;
  parallel_range(pool, slivers, 1, 1, [&](size_t s0, size_t s1) {
    for (size_t sv = s0; sv < s1; ++sv)
      for (size_t j = 0; j < NR; ++j) {
        const size_t col = sv * NR + j;
        for (size_t row = 0; row < rows; ++row) {
          const size_t k = transposed ? row : col, c = transposed ? col : row;
          float* o = wp + (sv * rows + row) * NR + j;  // tap 0's panel; tap t's is panel floats on
          if (col >= cols) {
            for (size_t t = 0; t < RS; ++t) o[t * panel] = 0.0f;
            continue;
          }
          const float* src = w + (k * d.C + c) * RS;
          for (size_t t = 0; t < RS; ++t) o[t * panel] = src[t];
        }
      }
  });
}

// NCHW image by image to (pixels, channels), or back (with add: into what is there).
void to_channels_last(ThreadPool& pool, const ConvKernels& kern, float* out, const float* in, size_t N, size_t C,
                      size_t HW) {
  parallel_range(pool, N, 1, 1, [&](size_t n0, size_t n1) {
    for (size_t n = n0; n < n1; ++n) kern.transpose(out + n * HW * C, C, in + n * C * HW, HW, C, HW, false);
  });
}
void from_channels_last(ThreadPool& pool, const ConvKernels& kern, float* out, const float* in, size_t N, size_t C,
                        size_t HW, bool add) {
  parallel_range(pool, N, 1, 1, [&](size_t n0, size_t n1) {
    for (size_t n = n0; n < n1; ++n) kern.transpose(out + n * C * HW, HW, in + n * HW * C, C, HW, C, add);
  });
}

const long kNoShift = 0;  // a_taps of a single run: the row's own C (or K) floats

// One GEMM per tap over its valid pixels, into c with beta = 1, B the tap's panel of wp:
//   forward      yc(output pixels, K) += xc(input pixels, C)  B_rs(C, K)
//   input grad   dxc(input pixels, C) += dyc(output pixels, K) B_rs(K, C)
bool tap_gemms(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* c, const float* a, const float* wp,
               size_t panel, const Conv2dDims& d, long* out_rows, long* in_rows, bool forward) {
  for (size_t r = 0; r < d.R; ++r)
    for (size_t s = 0; s < d.S; ++s) {
      const TapRange t = tap_range(d, r, s);
      if (!t.count()) continue;
      const size_t m = tap_pixels(d, t, out_rows, in_rows);
      GemmDims g;
      g.M = m, g.N = forward ? d.K : d.C, g.K = forward ? d.C : d.K;
      g.beta = 1.0f;
      g.a_rows = forward ? in_rows : out_rows, g.a_taps = &kNoShift, g.a_run = g.K;
      g.b_packed = true;
      g.c_rows = forward ? out_rows : in_rows;
      if (!gemm(pool, ws, kern.gemm, c, a, wp + (r * d.S + s) * panel, g, GemmBatch{})) return false;
    }
  return true;
}

}  // namespace

bool taps_apply(const Conv2dDims& d, const ConvKernels& kern, TapsPass pass) {
  if (!kern.gemm.tile || !kern.transpose || d.stride_h != 1 || d.stride_w != 1 || d.R * d.S < 2) return false;
  if (d.N == 0 || d.C < kMinChannels || d.K < kMinChannels) return false;
  const size_t min_pixels = pass == TapsPass::forward         ? kMinPixelsForward
                            : pass == TapsPass::backward_data ? kMinPixelsData
                                                              : kMinPixelsWeight;
  if (d.N * d.P * d.Q < min_pixels) return false;
  size_t valid = 0;
  for (size_t r = 0; r < d.R; ++r)
    for (size_t s = 0; s < d.S; ++s) valid += tap_range(d, r, s).count();
  const size_t all = d.R * d.S * d.P * d.Q;
  if (100 * valid > (100 - kMinPadPercent) * all) return false;
  return d.N * d.H * d.W * d.C <= kMaxCopyFloats && d.N * d.P * d.Q * std::max(d.C, d.K) <= kMaxCopyFloats;
}

namespace {

// The forward pass and the input gradient, the same steps with x and y in swapped roles: the
// source (x, or dy) to channels-last, the destination's channels-last copy started from the
// bias or zero, one GEMM per tap, the destination back to NCHW (added to what is there, when add).
bool taps_pass(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dst, const float* src, const float* w,
               const float* bias, const Conv2dDims& d, bool forward, bool add, size_t slot) {
  const size_t HW = d.H * d.W, PQ = d.P * d.Q, NR = kern.gemm.shape.nr;
  const size_t src_ch = forward ? d.C : d.K, src_px = forward ? HW : PQ;
  const size_t dst_ch = forward ? d.K : d.C, dst_px = forward ? PQ : HW;
  const size_t panel = ceil_div(dst_ch, NR) * NR * src_ch;
  float* sc = ws.floats(slot, d.N * src_px * src_ch);
  float* dc = ws.floats(slot + 1, d.N * dst_px * dst_ch);
  float* wp = ws.floats(slot + 2, d.R * d.S * panel);
  long* out_rows = ws.array<long>(slot + 3, d.N * PQ);
  long* in_rows = ws.array<long>(slot + 4, d.N * PQ);
  if (!sc || !dc || !wp || !out_rows || !in_rows) return false;
  to_channels_last(pool, kern, sc, src, d.N, src_ch, src_px);
  pack_taps(pool, wp, w, d, NR, !forward);
  parallel_range(pool, d.N * dst_px, 64, 1, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      if (bias) std::copy(bias, bias + dst_ch, dc + i * dst_ch);
      else std::fill(dc + i * dst_ch, dc + (i + 1) * dst_ch, 0.0f);
    }
  });
  if (!tap_gemms(pool, ws, kern, dc, sc, wp, panel, d, out_rows, in_rows, forward)) return false;
  from_channels_last(pool, kern, dst, dc, d.N, dst_ch, dst_px, add);
  return true;
}

}  // namespace

bool taps_forward(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* y, const float* x, const float* w,
                  const float* b, const Conv2dDims& d, size_t slot) {
  return taps_pass(pool, ws, kern, y, x, w, b, d, true, false, slot);
}

bool taps_backward_data(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dx, const float* dy,
                        const float* w, const Conv2dDims& d, bool overwrite, size_t slot) {
  return taps_pass(pool, ws, kern, dx, dy, w, nullptr, d, false, !overwrite, slot);
}

bool taps_backward_weight(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dw, const float* x,
                          const float* dy, const Conv2dDims& d, size_t slot) {
  const size_t HW = d.H * d.W, PQ = d.P * d.Q, RS = d.R * d.S, KC = d.K * d.C;
  // the slots as the other two passes use them, dwt where they pack the weight
  float* xc = ws.floats(slot, d.N * HW * d.C);
  float* dyc = ws.floats(slot + 1, d.N * PQ * d.K);
  float* dwt = ws.floats(slot + 2, RS * KC);  // (RS, K, C)
  long* out_rows = ws.array<long>(slot + 3, d.N * PQ);
  long* in_rows = ws.array<long>(slot + 4, d.N * PQ);
  float* xg = ws.floats(slot + 5, d.N * PQ * d.C);  // one tap's rows, gathered
  float* dyg = ws.floats(slot + 6, d.N * PQ * d.K);
  if (!xc || !dyc || !xg || !dyg || !dwt || !out_rows || !in_rows) return false;
  to_channels_last(pool, kern, xc, x, d.N, d.C, HW);
  to_channels_last(pool, kern, dyc, dy, d.N, d.K, PQ);
  for (size_t r = 0; r < d.R; ++r)
    for (size_t s = 0; s < d.S; ++s) {
      const TapRange t = tap_range(d, r, s);
      float* dw_rs = dwt + (r * d.S + s) * KC;
      if (!t.count()) {
        std::fill(dw_rs, dw_rs + KC, 0.0f);
        continue;
      }
      const size_t m = tap_pixels(d, t, out_rows, in_rows);
      parallel_range(pool, m, 64, 1, [&](size_t i0, size_t i1) {
        for (size_t i = i0; i < i1; ++i) {
          std::copy_n(xc + in_rows[i], d.C, xg + i * d.C);
          std::copy_n(dyc + out_rows[i], d.K, dyg + i * d.K);
        }
      });
      GemmDims g;  // dw_rs(K, C) = dyg^T(K, m) xg(m, C)
      g.M = d.K, g.N = d.C, g.K = m;
      g.trans_a = true;
      g.lda = d.K, g.ldb = d.C, g.ldc = d.C;
      if (!gemm(pool, ws, kern.gemm, dw_rs, dyg, xg, g, GemmBatch{})) return false;
    }
  // dw(K, C, R, S) += dwt(RS, K, C)
  parallel_range(pool, KC, 1024, 16, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i)
      for (size_t t = 0; t < RS; ++t) dw[i * RS + t] += dwt[t * KC + i];
  });
  return true;
}

}  // namespace kiln
