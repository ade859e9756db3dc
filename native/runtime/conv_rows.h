// Convolution lowered pixel-major ("im2row"): every output pixel is one row of its window's
// values, ordered (r, s, c), so that
//   forward      Yt(pixels, K)      = Rows(pixels, RSC) W'^T(RSC, K)   + b
//   backward dX  dRows(pixels, RSC) = dY^T(pixels, K)   W'(K, RSC),    then added back to dx
//   backward dW  dW'(K, RSC)       += dY(K, pixels)     Rows(pixels, RSC)
// with W' the weight reordered to (K, R, S, C). The image is first copied to a zero-padded
// channels-last plane, where the window row of one pixel is R runs of S*C contiguous floats.
//
// Why: for strided convolutions on small images (ResNet's stage changes) the channel-major
// lowering (im2col) makes GEMMs whose M is the few output channels and whose N is the many
// pixels: every column of B is used by only K/12 register tiles and the K x pixels output is
// written in thin slivers. Pixel-major puts the pixels on M and the channels on N (one or two
// register tiles wide), B is the small weight, packed once per group of images, and A is read
// in place. On this machine (2 threads) 8192x64x288 with A in place runs at ~400 GFLOP/s where
// 64x8192x288 runs at ~305.
//
// Layout changes (NCHW <-> channels-last) happen inside each call, per image, in L2-sized
// scratch: tensors stay NCHW everywhere else.
#pragma once

#include <cstddef>

#include "conv.h"

namespace kiln {

// True when conv2d_* should take the pixel-major path: the level has a GEMM tile and the layout
// kernels, and the convolution is strided with a window larger than 1x1, on 8 or more input
// channels, and one image's rows fit in 512 KiB.
bool rows_applies(const Conv2dDims& d, const ConvKernels& kern);
// The forward pass needs no rows matrix (the GEMM reads the windows in place), only one image's
// padded plane within 1 MiB.
bool rows_forward_applies(const Conv2dDims& d, const ConvKernels& kern);

// As conv2d_forward / conv2d_backward_data / conv2d_backward_weight (conv.h). `slot` is the first
// workspace slot these may use (at most 1 + 8 * ThreadPool::kMaxThreads + 16 + 4 slots from there).
bool rows_forward(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* y, const float* x, const float* w,
                  const float* b, const Conv2dDims& d, size_t slot);
bool rows_backward_data(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dx, const float* dy,
                        const float* w, const Conv2dDims& d, bool overwrite, size_t slot);
// The same pass computed one stride phase of dx at a time, reading dy's windows in place: for
// strided windows on 32 or more channels under a weight of at most 512K floats.
bool rows_phases_apply(const Conv2dDims& d, const ConvKernels& kern);
bool rows_backward_data_phases(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dx, const float* dy,
                               const float* w, const Conv2dDims& d, bool overwrite, size_t slot);
// Whether rows_backward_weight reads the windows in place (C a multiple of half the tile's width);
// then one image's plane need only fit in 1 MiB, not its rows in 512 KiB.
bool rows_weight_gathers(const Conv2dDims& d, const ConvKernels& kern);
// dw only (the bias gradient is conv.cc's); its chunks hold a partial dw each: for dw of at most
// rows_weight_max floats, or any size when the windows are read in place (rows_weight_gathers:
// larger ones are summed as one partial, one GEMM over all threads per group of images).
bool rows_backward_weight(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dw, const float* x,
                          const float* dy, const Conv2dDims& d, size_t slot);
constexpr size_t rows_weight_max = size_t{1} << 17;

}  // namespace kiln
