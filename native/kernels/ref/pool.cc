// Reference pooling: max, average and global average, forward and backward side by side. Max and
// average pooling follow PyTorch 1.13's CPU kernels (MaxPoolKernel.cpp, AvgPoolKernel.cpp) down to
// the order of the float operations, so they match PyTorch bit for bit.
//
// No tap is bounds-tested: each window's rows are clipped to the input once per output row, and
// the forward passes sweep a whole output row per window tap (h, s) over the outputs whose tap
// lands inside the input (`taps`). That inner loop runs along the row without a branch, so the
// compiler vectorizes it even at baseline flags, and every window still sees its taps in PyTorch's
// scan order (h, then w): first-maximum ties, NaN and float sums come out the same.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "../kernels.h"

namespace kiln::ref {
namespace {

// The input range [lo, hi) of output index o: the window [o*stride - pad, + k) clipped to
// [0, n). `full` is the window clipped to the padded input [-pad, n + pad) instead: average
// pooling with count_include_pad divides by its length.
struct Span {
  size_t lo, hi, full;
};

Span window(size_t o, size_t stride, size_t pad, size_t k, size_t n) {
  const ptrdiff_t start = static_cast<ptrdiff_t>(o * stride) - static_cast<ptrdiff_t>(pad);
  const ptrdiff_t end = std::min(start + static_cast<ptrdiff_t>(k), static_cast<ptrdiff_t>(n + pad));
  return {static_cast<size_t>(std::max<ptrdiff_t>(start, 0)), std::min(static_cast<size_t>(end), n),
          static_cast<size_t>(end - start)};
}

// The average pool divisor: the padded window's area, or only the cells inside the input.
size_t divisor(const Span& rh, const Span& rw, bool count_include_pad) {
  return count_include_pad ? rh.full * rw.full : (rh.hi - rh.lo) * (rw.hi - rw.lo);
}

// The outputs [q0, q1) whose window tap s (0 <= s < S) lands inside the input row:
// 0 <= q*stride - pad + s < n.
struct Taps {
  size_t q0, q1;
};

Taps taps(size_t s, size_t stride, size_t pad, size_t n, size_t Q) {
  const size_t q0 = s >= pad ? 0 : (pad - s + stride - 1) / stride;
  const ptrdiff_t last = static_cast<ptrdiff_t>(n + pad) - 1 - static_cast<ptrdiff_t>(s);  // q*stride <= last
  const size_t q1 = last < 0 ? 0 : std::min(Q, static_cast<size_t>(last) / stride + 1);
  return {std::min(q0, q1), q1};
}

}  // namespace

// ---- max -----------------------------------------------------------------------------------------

void max_pool2d_forward_f32(float* y, int32_t* argmax, const float* x, const Pool2dDims& d, size_t c0, size_t c1) {
  const size_t hw = d.H * d.W, pq = d.P * d.Q;
  for (size_t plane = c0; plane < c1; ++plane) {
    const float* xp = x + plane * hw;
    for (size_t p = 0; p < d.P; ++p) {
      const Span rh = window(p, d.stride_h, d.pad_h, d.R, d.H);
      float* yr = y + plane * pq + p * d.Q;
      int32_t* ar = argmax + plane * pq + p * d.Q;
      // As PyTorch: each window starts at -inf pointing at its first cell (so an all -inf window
      // reports that cell), takes strictly greater values, and lets every NaN win: NaN
      // propagates, and the argmax is the last NaN in scan order.
      for (size_t q = 0; q < d.Q; ++q) {
        yr[q] = -std::numeric_limits<float>::infinity();
        ar[q] = static_cast<int32_t>(rh.lo * d.W + window(q, d.stride_w, d.pad_w, d.S, d.W).lo);
      }
      // the whole output row at once, tap by tap (see the top of the file)
      for (size_t h = rh.lo; h < rh.hi; ++h) {
        for (size_t s = 0; s < d.S; ++s) {
          const Taps t = taps(s, d.stride_w, d.pad_w, d.W, d.Q);
          if (t.q0 == t.q1) continue;
          // the input cell of this tap in window t.q0; window q reads it `stride` cells further on
          const size_t cell0 = h * d.W + t.q0 * d.stride_w + s - d.pad_w;
          const float* src = xp + cell0;
          float* yq = yr + t.q0;
          int32_t* aq = ar + t.q0;
          for (size_t i = 0; i < t.q1 - t.q0; ++i) {
            const float v = src[i * d.stride_w];
            const bool take = (v > yq[i]) | std::isnan(v);
            yq[i] = take ? v : yq[i];
            aq[i] = take ? static_cast<int32_t>(cell0 + i * d.stride_w) : aq[i];
          }
        }
      }
    }
  }
}

// forward picked x[argmax], so the gradient flows back to that one cell only
void max_pool2d_backward_f32(float* dx, const float* dy, const int32_t* argmax, const Pool2dDims& d, size_t c0,
                             size_t c1) {
  const size_t hw = d.H * d.W, pq = d.P * d.Q;
  for (size_t plane = c0; plane < c1; ++plane) {
    float* dxp = dx + plane * hw;
    const float* dyp = dy + plane * pq;
    const int32_t* ap = argmax + plane * pq;
    for (size_t i = 0; i < pq; ++i) dxp[ap[i]] += dyp[i];
  }
}

// ---- average ------------------------------------------------------------------------------------

void avg_pool2d_forward_f32(float* y, const float* x, const Pool2dDims& d, bool count_include_pad, size_t c0,
                            size_t c1) {
  const size_t hw = d.H * d.W, pq = d.P * d.Q;
  for (size_t plane = c0; plane < c1; ++plane) {
    const float* xp = x + plane * hw;
    for (size_t p = 0; p < d.P; ++p) {
      const Span rh = window(p, d.stride_h, d.pad_h, d.R, d.H);
      float* yr = y + plane * pq + p * d.Q;
      // NOTE: a float sum in scan order and a float division, as PyTorch 1.13 (checked bit for
      // bit against it; a double sum differs in the last bit for half the outputs).
      std::fill(yr, yr + d.Q, 0.0f);
      for (size_t h = rh.lo; h < rh.hi; ++h) {
        for (size_t s = 0; s < d.S; ++s) {
          const Taps t = taps(s, d.stride_w, d.pad_w, d.W, d.Q);
          if (t.q0 == t.q1) continue;
          const float* src = xp + h * d.W + t.q0 * d.stride_w + s - d.pad_w;
          float* yq = yr + t.q0;
          for (size_t i = 0; i < t.q1 - t.q0; ++i) yq[i] += src[i * d.stride_w];
        }
      }
      for (size_t q = 0; q < d.Q; ++q) {
        // a window with no input cell (impossible for the sizes the binding accepts) gives 0, as
        // PyTorch
        const size_t div = divisor(rh, window(q, d.stride_w, d.pad_w, d.S, d.W), count_include_pad);
        yr[q] = div == 0 ? 0.0f : yr[q] / static_cast<float>(div);
      }
    }
  }
}

// forward was y = sum(window) / divisor, so every cell of the window gets dy / divisor
void avg_pool2d_backward_f32(float* dx, const float* dy, const Pool2dDims& d, bool count_include_pad, size_t c0,
                             size_t c1) {
  const size_t hw = d.H * d.W, pq = d.P * d.Q;
  for (size_t plane = c0; plane < c1; ++plane) {
    float* dxp = dx + plane * hw;
    const float* dyp = dy + plane * pq;
    for (size_t p = 0; p < d.P; ++p) {
      const Span rh = window(p, d.stride_h, d.pad_h, d.R, d.H);
      for (size_t q = 0; q < d.Q; ++q) {
        const Span rw = window(q, d.stride_w, d.pad_w, d.S, d.W);
        const size_t div = divisor(rh, rw, count_include_pad);
        if (div == 0) continue;
        // float division, as PyTorch (grad_output / divide_factor in scalar_t)
        const float g = dyp[p * d.Q + q] / static_cast<float>(div);
        for (size_t h = rh.lo; h < rh.hi; ++h) {
          float* row = dxp + h * d.W;
          for (size_t w = rw.lo; w < rw.hi; ++w) row[w] += g;
        }
      }
    }
  }
}

// ---- global average -----------------------------------------------------------------------------

void global_avg_pool2d_forward_f32(float* y, const float* x, size_t hw, size_t c0, size_t c1) {
  for (size_t plane = c0; plane < c1; ++plane) {
    const float* xp = x + plane * hw;
    // PyTorch takes mean() here, whose blocked float sum no plain loop reproduces; a double sum
    // rounded once is within an ulp of it and of the exact mean.
    double sum = 0.0;
    for (size_t i = 0; i < hw; ++i) sum += xp[i];
    y[plane] = static_cast<float>(sum / static_cast<double>(hw));
  }
}

// forward was y = sum(plane) / hw, so dx = dy / hw everywhere in the plane
void global_avg_pool2d_backward_f32(float* dx, const float* dy, size_t hw, size_t c0, size_t c1) {
  for (size_t plane = c0; plane < c1; ++plane) {
    float* dxp = dx + plane * hw;
    const float g = dy[plane] / static_cast<float>(hw);
    for (size_t i = 0; i < hw; ++i) dxp[i] += g;
  }
}

}  // namespace kiln::ref
