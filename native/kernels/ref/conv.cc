// The reference convolution: direct loops from the definition, accumulated in double. The oracle
// for runtime/conv.cc (im2col + GEMM) and the path on CPUs without a SIMD level.
//   forward       y[n,k,p,q]  = b[k] + sum_{c,r,s} w[k,c,r,s] x[n,c, p*sh - ph + r*dh, q*sw - pw + s*dw]
//   backward dx   dx[n,c,h,w] = sum over the (k,r,s,p,q) whose window tap lands on (h, w) of dy[n,k,p,q] w[k,c,r,s]
//   backward dw   dw[k,c,r,s] = sum_{n,p,q} dy[n,k,p,q] x[n,c, tap(p, r), tap(q, s)];  db[k] = sum_{n,p,q} dy[n,k,p,q]
#include <cstddef>

#include "../kernels.h"

namespace kiln {
namespace ref {
namespace {

// The input coordinate that output coordinate `o` reads at kernel tap `t`, or -1 outside [0, size).
long tap(size_t o, size_t t, size_t stride, size_t pad, size_t dil, size_t size) {
  long i = static_cast<long>(o * stride + t * dil) - static_cast<long>(pad);
  return i >= 0 && i < static_cast<long>(size) ? i : -1;
}

// The output coordinate whose tap `t` reads input coordinate `i`, or -1 if there is none.
long untap(size_t i, size_t t, size_t stride, size_t pad, size_t dil, size_t out) {
  long num = static_cast<long>(i + pad) - static_cast<long>(t * dil);
  if (num < 0 || num % static_cast<long>(stride) != 0) return -1;
  long o = num / static_cast<long>(stride);
  return o < static_cast<long>(out) ? o : -1;
}

}  // namespace

void conv2d_forward_f32(float* y, const float* x, const float* w, const float* b, const Conv2dDims& d, size_t n0,
                        size_t n1) {
  for (size_t n = n0; n < n1; ++n)
    for (size_t k = 0; k < d.K; ++k)
      for (size_t p = 0; p < d.P; ++p)
        for (size_t q = 0; q < d.Q; ++q) {
          double acc = b ? b[k] : 0.0;
          for (size_t c = 0; c < d.C; ++c)
            for (size_t r = 0; r < d.R; ++r) {
              long h = tap(p, r, d.stride_h, d.pad_h, d.dil_h, d.H);
              if (h < 0) continue;
              for (size_t s = 0; s < d.S; ++s) {
                long v = tap(q, s, d.stride_w, d.pad_w, d.dil_w, d.W);
                if (v < 0) continue;
                acc += static_cast<double>(w[((k * d.C + c) * d.R + r) * d.S + s]) *
                       x[((n * d.C + c) * d.H + static_cast<size_t>(h)) * d.W + static_cast<size_t>(v)];
              }
            }
          y[((n * d.K + k) * d.P + p) * d.Q + q] = static_cast<float>(acc);
        }
}

void conv2d_backward_data_f32(float* dx, const float* dy, const float* w, const Conv2dDims& d, size_t n0, size_t n1) {
  for (size_t n = n0; n < n1; ++n)
    for (size_t c = 0; c < d.C; ++c)
      for (size_t h = 0; h < d.H; ++h)
        for (size_t v = 0; v < d.W; ++v) {
          double acc = 0.0;
          for (size_t k = 0; k < d.K; ++k)
            for (size_t r = 0; r < d.R; ++r) {
              long p = untap(h, r, d.stride_h, d.pad_h, d.dil_h, d.P);
              if (p < 0) continue;
              for (size_t s = 0; s < d.S; ++s) {
                long q = untap(v, s, d.stride_w, d.pad_w, d.dil_w, d.Q);
                if (q < 0) continue;
                acc += static_cast<double>(dy[((n * d.K + k) * d.P + static_cast<size_t>(p)) * d.Q + static_cast<size_t>(q)]) *
                       w[((k * d.C + c) * d.R + r) * d.S + s];
              }
            }
          float& out = dx[((n * d.C + c) * d.H + h) * d.W + v];
          out = static_cast<float>(out + acc);
        }
}

void conv2d_backward_weight_f32(float* dw, float* db, const float* x, const float* dy, const Conv2dDims& d, size_t k0,
                                size_t k1) {
  for (size_t k = k0; k < k1; ++k) {
    for (size_t c = 0; c < d.C; ++c)
      for (size_t r = 0; r < d.R; ++r)
        for (size_t s = 0; s < d.S; ++s) {
          double acc = 0.0;
          for (size_t n = 0; n < d.N; ++n)
            for (size_t p = 0; p < d.P; ++p) {
              long h = tap(p, r, d.stride_h, d.pad_h, d.dil_h, d.H);
              if (h < 0) continue;
              for (size_t q = 0; q < d.Q; ++q) {
                long v = tap(q, s, d.stride_w, d.pad_w, d.dil_w, d.W);
                if (v < 0) continue;
                acc += static_cast<double>(dy[((n * d.K + k) * d.P + p) * d.Q + q]) *
                       x[((n * d.C + c) * d.H + static_cast<size_t>(h)) * d.W + static_cast<size_t>(v)];
              }
            }
          float& out = dw[((k * d.C + c) * d.R + r) * d.S + s];
          out = static_cast<float>(out + acc);
        }
    if (db) {
      double acc = 0.0;
      for (size_t n = 0; n < d.N; ++n)
        for (size_t i = 0; i < d.P * d.Q; ++i) acc += dy[(n * d.K + k) * d.P * d.Q + i];
      db[k] = static_cast<float>(db[k] + acc);
    }
  }
}

}  // namespace ref
}  // namespace kiln
