#include "im2col.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>  // baseline on x86-64
#endif

namespace kiln {

namespace {

// x[2i] += o[i] for i < n: a stride-2 row of col2im. Four at a time with SSE2: o's lanes are
// interleaved with -0.0 (x + -0.0 is x, bit for bit, -0.0 included), so the odd elements are
// rewritten unchanged; each element still gets the same single addition in the same order as the
// scalar loop. The vector loop stops one block early so that it never touches x[2n - 1] or past.
void add_even(float* x, const float* o, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128 nz = _mm_set1_ps(-0.0f);
  for (; i + 4 < n; i += 4) {
    const __m128 v = _mm_loadu_ps(o + i);
    _mm_storeu_ps(x + 2 * i, _mm_add_ps(_mm_loadu_ps(x + 2 * i), _mm_unpacklo_ps(v, nz)));
    _mm_storeu_ps(x + 2 * i + 4, _mm_add_ps(_mm_loadu_ps(x + 2 * i + 4), _mm_unpackhi_ps(v, nz)));
  }
#endif
  for (; i < n; ++i) x[2 * i] += o[i];
}

}  // namespace

// Four at a time with SSE2 (two loads, one shuffle of their even lanes); the vector loop stops
// one block early so that it never reads past in[2n - 2], the last element the scalar loop reads.
void copy_even(float* o, const float* in, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 4 < n; i += 4) {
    const __m128 a = _mm_loadu_ps(in + 2 * i), b = _mm_loadu_ps(in + 2 * i + 4);
    _mm_storeu_ps(o + i, _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
  }
#endif
  for (; i < n; ++i) o[i] = in[2 * i];
}

TapRange tap_range(size_t out, size_t t, size_t stride, size_t pad, size_t dil, size_t size) {
  // o*stride >= pad - t*dil  and  o*stride <= size - 1 + pad - t*dil
  const long s = static_cast<long>(stride);
  const long low = static_cast<long>(pad) - static_cast<long>(t * dil);
  const long high = static_cast<long>(size) - 1 + low;
  if (high < 0) return {0, 0};
  const long lo = low <= 0 ? 0 : (low + s - 1) / s;
  const long hi = std::min(high / s + 1, static_cast<long>(out));
  return lo < hi ? TapRange{static_cast<size_t>(lo), static_cast<size_t>(hi)} : TapRange{0, 0};
}

namespace {

// Small images (ResNet-18's last stage: 3x3 and 6x6 outputs): a window row is a few floats, and
// the range arithmetic, fills and copy calls per (c, r, s) row cost more than moving the floats
// (im2col took a third of a 512-channel 3x3 forward). The source of every (r, s, pixel) is then
// worked out once per image, as an offset in a channel plane or -1 for padding, and each channel
// is a loop over that table.
constexpr size_t kSmallTaps = 2048;  // R*S*P*Q at most (the table lives on the stack)

bool small_taps(const Conv2dDims& d) { return d.Q < 8 && d.R * d.S * d.P * d.Q <= kSmallTaps; }

// off[(r*S + s)*PQ + p*Q + q]: the cell of channel plane (H, W) that tap (r, s) of output (p, q)
// reads, or -1 outside the input.
void tap_table(long* off, const Conv2dDims& d) {
  for (size_t r = 0; r < d.R; ++r)
    for (size_t s = 0; s < d.S; ++s)
      for (size_t p = 0; p < d.P; ++p)
        for (size_t q = 0; q < d.Q; ++q) {
          const long h = static_cast<long>(p * d.stride_h + r * d.dil_h) - static_cast<long>(d.pad_h);
          const long w = static_cast<long>(q * d.stride_w + s * d.dil_w) - static_cast<long>(d.pad_w);
          const bool in = h >= 0 && h < static_cast<long>(d.H) && w >= 0 && w < static_cast<long>(d.W);
          off[((r * d.S + s) * d.P + p) * d.Q + q] = in ? h * static_cast<long>(d.W) + w : -1;
        }
}

}  // namespace

namespace {

// Row (c, r, s) of one image's columns: out[p*Q + q] for every output pixel, from the channel
// plane xc:(H, W).
void window_row(float* out, const float* xc, size_t r, size_t s, const Conv2dDims& d) {
  const TapRange rows = tap_range(d.P, r, d.stride_h, d.pad_h, d.dil_h, d.H);
  const TapRange cols = tap_range(d.Q, s, d.stride_w, d.pad_w, d.dil_w, d.W);
  const long shift = static_cast<long>(s * d.dil_w) - static_cast<long>(d.pad_w);  // in column of q = 0
  std::fill(out, out + rows.lo * d.Q, 0.0f);
  // Stride 1 and as many output as input columns: an output row p of window row r reads input
  // row p + r*dil - pad in full, shifted, so the rows of one (c, r, s) are a single contiguous
  // run of x; one copy moves them all, and the cells that wrapped around a row's end (where the
  // window hangs over the left or right edge) are zeroed after.
  const bool runs = d.stride_h == 1 && d.stride_w == 1 && d.Q == d.W;
  if (runs && rows.lo < rows.hi && cols.lo < cols.hi) {
    const float* in = xc + (rows.lo + r * d.dil_h - d.pad_h) * d.W;
    const size_t first = rows.lo * d.Q + cols.lo, last = (rows.hi - 1) * d.Q + cols.hi;
    std::memcpy(out + first, in + static_cast<long>(cols.lo) + shift, (last - first) * sizeof(float));
    for (size_t p = rows.lo; p < rows.hi; ++p) {
      std::fill(out + p * d.Q, out + p * d.Q + cols.lo, 0.0f);
      std::fill(out + p * d.Q + cols.hi, out + (p + 1) * d.Q, 0.0f);
    }
  } else {
    for (size_t p = rows.lo; p < rows.hi; ++p) {
      float* o = out + p * d.Q;
      const float* in = xc + (p * d.stride_h + r * d.dil_h - d.pad_h) * d.W;
      std::fill(o, o + cols.lo, 0.0f);
      if (d.stride_w == 1) {
        std::memcpy(o + cols.lo, in + (static_cast<long>(cols.lo) + shift), (cols.hi - cols.lo) * sizeof(float));
      } else if (d.stride_w == 2) {
        copy_even(o + cols.lo, in + (static_cast<long>(2 * cols.lo) + shift), cols.hi - cols.lo);
      } else {
        for (size_t q = cols.lo; q < cols.hi; ++q) o[q] = in[static_cast<long>(q * d.stride_w) + shift];
      }
      std::fill(o + cols.hi, o + d.Q, 0.0f);
    }
  }
  std::fill(out + rows.hi * d.Q, out + d.P * d.Q, 0.0f);
}

}  // namespace

void im2col(float* col, size_t ldcol, const float* x, const Conv2dDims& d) {
  im2col_images(col, ldcol, x, 1, 0, d.C, d);
}

void im2col_images(float* col, size_t ldcol, const float* x, size_t images, size_t c0, size_t c1,
                   const Conv2dDims& d) {
  const size_t RS = d.R * d.S, PQ = d.P * d.Q, HW = d.H * d.W, img = d.C * HW;
  if (small_taps(d)) {
    long off[kSmallTaps];
    tap_table(off, d);
    for (size_t c = c0; c < c1; ++c)
      for (size_t t = 0; t < RS; ++t) {
        float* out = col + (c * RS + t) * ldcol;
        const long* o = off + t * PQ;
        for (size_t n = 0; n < images; ++n, out += PQ) {
          const float* xc = x + n * img + c * HW;
          for (size_t i = 0; i < PQ; ++i) out[i] = o[i] < 0 ? 0.0f : xc[o[i]];
        }
      }
    return;
  }
  for (size_t c = c0; c < c1; ++c)
    for (size_t r = 0; r < d.R; ++r)
      for (size_t s = 0; s < d.S; ++s) {
        float* out = col + (c * RS + r * d.S + s) * ldcol;
        for (size_t n = 0; n < images; ++n) window_row(out + n * PQ, x + n * img + c * HW, r, s, d);
      }
}

void col2im_add(float* x, const float* col, size_t ldcol, const Conv2dDims& d) {
  col2im_add_images(x, col, ldcol, 1, 0, d.C, d);
}

void col2im_add_images(float* x, const float* col, size_t ldcol, size_t images, size_t c0, size_t c1,
                       const Conv2dDims& d) {
  const size_t RS = d.R * d.S, PQ = d.P * d.Q, HW = d.H * d.W, img = d.C * HW;
  if (small_taps(d)) {  // as im2col; the same additions in the same order as the loops below
    long off[kSmallTaps];
    tap_table(off, d);
    for (size_t c = c0; c < c1; ++c)
      for (size_t t = 0; t < RS; ++t) {
        const float* src = col + (c * RS + t) * ldcol;
        const long* o = off + t * PQ;
        for (size_t n = 0; n < images; ++n, src += PQ) {
          float* xc = x + n * img + c * HW;
          for (size_t i = 0; i < PQ; ++i)
            if (o[i] >= 0) xc[o[i]] += src[i];
        }
      }
    return;
  }
  for (size_t c = c0; c < c1; ++c)
    for (size_t r = 0; r < d.R; ++r) {
      const TapRange rows = tap_range(d.P, r, d.stride_h, d.pad_h, d.dil_h, d.H);
      for (size_t s = 0; s < d.S; ++s) {
        const TapRange cols = tap_range(d.Q, s, d.stride_w, d.pad_w, d.dil_w, d.W);
        const long shift = static_cast<long>(s * d.dil_w) - static_cast<long>(d.pad_w);
        for (size_t n = 0; n < images; ++n) {
          const float* src = col + (c * RS + r * d.S + s) * ldcol + n * PQ;
          for (size_t p = rows.lo; p < rows.hi; ++p) {
            const float* o = src + p * d.Q;
            float* in = x + n * img + (c * d.H + p * d.stride_h + r * d.dil_h - d.pad_h) * d.W;
            if (d.stride_w == 2) {
              add_even(in + (static_cast<long>(2 * cols.lo) + shift), o + cols.lo, cols.hi - cols.lo);
            } else {
              for (size_t q = cols.lo; q < cols.hi; ++q) in[static_cast<long>(q * d.stride_w) + shift] += o[q];
            }
          }
        }
      }
    }
}

}  // namespace kiln
