// Lowering a convolution to GEMM: im2col copies every window of one image into a column matrix,
// col2im adds such a matrix back onto the image (the backward of im2col).
//   col:(C*R*S, ldcol), row (c*R + r)*S + s, column p*Q + q (columns P*Q..ldcol untouched) holds
//   x[c, p*stride_h - pad_h + r*dil_h, q*stride_w - pad_w + s*dil_w], and 0 where that is outside x.
// Then forward is y_n(K, PQ) = w(K, CRS) col, backward-data dcol = w^T dy_n, backward-weight
// dw += dy_n col^T.
#pragma once

#include <cstddef>

#include "../kernels/kernels.h"

namespace kiln {

// x:(C,H,W), one image -> col:(C*R*S, ldcol)
void im2col(float* col, size_t ldcol, const float* x, const Conv2dDims& d);
// Several images side by side: image n's columns at n*P*Q of each row (x holds the images one
// after another), rows of channels [c0, c1) only. Row after row, each written in full across the
// images: a group of small images writes long runs instead of a few floats per row and image.
void im2col_images(float* col, size_t ldcol, const float* x, size_t images, size_t c0, size_t c1,
                   const Conv2dDims& d);
// x:(C,H,W) += the windows in col:(C*R*S, ldcol), each added back where im2col took it from
void col2im_add(float* x, const float* col, size_t ldcol, const Conv2dDims& d);
// The backward of im2col_images: channels [c0, c1) of each image added back from its columns.
void col2im_add_images(float* x, const float* col, size_t ldcol, size_t images, size_t c0, size_t c1,
                       const Conv2dDims& d);

// o[i] = in[2i] for i < n (a stride-2 row); reads in[0 .. 2n-2] only.
void copy_even(float* o, const float* in, size_t n);

// The range [lo, hi) of output coordinates o < out whose tap t reads inside [0, size):
// 0 <= o*stride - pad + t*dil < size.
struct TapRange {
  size_t lo, hi;
};
TapRange tap_range(size_t out, size_t t, size_t stride, size_t pad, size_t dil, size_t size);

}  // namespace kiln
