// Stride-1 convolutions of small images computed tap by tap, skipping the padding.
//
// On a 3x3 image with a 3x3 window and padding 1 (ResNet-18's last stage at 96x96 input), 32 of
// the 81 (pixel, tap) pairs fall on padding: im2col multiplies those zeros as well (40% of its
// GEMM). Here each tap (r, s) is one GEMM over only the output pixels whose input pixel for that
// tap lies inside the image, on channels-last copies of the tensors:
//   forward      Y(o, K)  += X(o + shift, C)  W_rs^T(C, K)        for the valid pixels o
//   backward dX  dX(o + shift, C) += dY(o, K)  W_rs(K, C)
//   backward dW  dW_rs(K, C) += dY_v^T(K, o) X_v(o + shift, C)     (the valid rows gathered)
// The GEMMs read and write their rows in place through offset tables (GemmDims::a_rows,
// c_rows); the weight is packed once per call, one panel per tap. Taps run in a fixed order and
// each GEMM is deterministic, so results are identical for any thread count.
//
// Layout changes (NCHW <-> channels-last) happen inside each call: tensors stay NCHW elsewhere.
#pragma once

#include <cstddef>

#include "conv.h"

namespace kiln {

enum class TapsPass { forward, backward_data, backward_weight };

// True when conv2d_* should take this path for `pass`: a level with a GEMM tile and the layout
// kernels; a stride-1 window of more than one tap, on 8 or more input and output channels, over
// images small enough that padding is at least 15% of im2col's products; enough output pixels
// in all that each tap's GEMM has the rows to pay for its weight panel; channels-last copies of
// at most 32 MiB each.
bool taps_apply(const Conv2dDims& d, const ConvKernels& kern, TapsPass pass);

// As conv2d_forward / conv2d_backward_data / conv2d_backward_weight (conv.h; dw only, the bias
// gradient is conv.cc's). `slot` is the first workspace slot these use (at most 8 from there).
bool taps_forward(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* y, const float* x, const float* w,
                  const float* b, const Conv2dDims& d, size_t slot);
bool taps_backward_data(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dx, const float* dy,
                        const float* w, const Conv2dDims& d, bool overwrite, size_t slot);
bool taps_backward_weight(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dw, const float* x,
                          const float* dy, const Conv2dDims& d, size_t slot);

}  // namespace kiln
