// The fast convolution: im2col + the blocked GEMM, NCHW in and out (no layout change anywhere).
// See conv.cc for how the work is split; ref::conv2d_* (kernels/ref/conv.cc) is the oracle and
// the path when the GEMM has no SIMD tile.
#pragma once

#include <cstddef>

#include "../kernels/kernels.h"
#include "gemm.h"
#include "thread_pool.h"
#include "winograd.h"
#include "workspace.h"

namespace kiln {

struct ConvKernels {
  GemmKernel gemm;
  double (*sum)(const float*, size_t);  // for the bias gradient
  WinogradKernels winograd;             // 3x3 stride-1 transforms (lanes 0: none at this level)
  // The pixel-major lowering's layout changes (conv_rows.h; kernels.h has their contracts);
  // nullptr at levels without a GEMM tile.
  void (*transpose)(float* dst, size_t ldd, const float* src, size_t lds, size_t rows, size_t cols, bool add) = nullptr;
  void (*im2row)(float* rows, const float* xp, size_t wq, const Conv2dDims& d) = nullptr;
  void (*row2im_add)(float* xp, const float* rows, size_t wq, const Conv2dDims& d) = nullptr;
  // The weight gradient over few input channels, read from NCHW (kernels.h); nullptr at ref.
  void (*weight_small)(float* dw, float* scratch, const float* x, const float* dy, const Conv2dDims& d, size_t n0,
                       size_t n1) = nullptr;
  size_t (*weight_small_scratch)(const Conv2dDims& d) = nullptr;
  // and its forward pass (AVX-512 only: see conv.cc), over vectors of forward_small_lanes
  void (*forward_small)(float* y, float* scratch, const float* x, const float* w, const float* b, const Conv2dDims& d,
                        size_t n0, size_t n1) = nullptr;
  size_t (*forward_small_scratch)(const Conv2dDims& d) = nullptr;
  size_t forward_small_lanes = 0;
};

// Each returns false only when the workspace could not be allocated (outputs then untouched).
// y = conv(x, w) + b (b may be nullptr)
bool conv2d_forward(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* y, const float* x, const float* w,
                    const float* b, const Conv2dDims& d);
// dx += conv^T(dy, w); with overwrite, dx = conv^T(dy, w) (dx may hold garbage before)
bool conv2d_backward_data(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dx, const float* dy,
                          const float* w, const Conv2dDims& d, bool overwrite = false);
// dw += dy (x) x-windows, db += sum of dy (db may be nullptr)
bool conv2d_backward_weight(ThreadPool& pool, Workspace& ws, const ConvKernels& kern, float* dw, float* db,
                            const float* x, const float* dy, const Conv2dDims& d);

}  // namespace kiln
