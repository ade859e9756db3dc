// Winograd F(4x4, 3x3) convolution for 3x3, stride 1, dilation 1 (NCHW, float32): forward,
// backward-data (the forward of dy with the flipped, channel-swapped kernel) and backward-weight.
// See winograd.cc for the blocking and threads, ../kernels/winograd.h for the transforms.
#pragma once

#include <cstddef>

#include "../kernels/kernels.h"
#include "thread_pool.h"
#include "workspace.h"

namespace kiln {

// A level's transform kernels (../kernels/winograd.h); lanes == 0: the level has none.
struct WinogradKernels {
  size_t lanes = 0;
  void (*pack)(float*, const float*, size_t, size_t, size_t, size_t, long, size_t, long, size_t) = nullptr;
  void (*input)(float*, size_t, size_t, const float*, size_t, size_t) = nullptr;
  void (*output)(float*, size_t, const float*, size_t, size_t, size_t, const float*) = nullptr;
  void (*unpack)(float*, size_t, size_t, size_t, size_t, const float*, size_t, bool) = nullptr;
  void (*grad_output)(float*, size_t, size_t, const float*, size_t, size_t) = nullptr;
  void (*gemm)(float*, const float*, const float*, size_t, size_t, size_t) = nullptr;
  void (*gemm_grad)(float*, const float*, const float*, size_t, size_t, size_t, bool) = nullptr;
};

// True when the Winograd path takes this convolution: 3x3, stride 1, dilation 1, each padding
// 0..2, a level with transforms, and enough channels that the GEMMs save more than the
// transforms cost (fewer for the weight gradient). Symmetric in C and K, so the same answer for
// forward and backward-data.
bool winograd_applies(const Conv2dDims& d, const WinogradKernels& wk, bool weight_gradient = false);

// As conv2d_forward / conv2d_backward_data (conv.h): false only when the workspace ran out.
bool winograd_forward(ThreadPool& pool, Workspace& ws, const WinogradKernels& wk, float* y, const float* x,
                      const float* w, const float* b, const Conv2dDims& d);
bool winograd_backward_data(ThreadPool& pool, Workspace& ws, const WinogradKernels& wk, float* dx, const float* dy,
                            const float* w, const Conv2dDims& d, bool overwrite = false);
// As conv2d_backward_weight: dw += G^T [sum over tiles of (A dy_t A^T) (.) (B^T x_t B)] G, db += sum
// of dy (db may be nullptr; `sum` is the level's float sum, as conv.cc uses it).
bool winograd_backward_weight(ThreadPool& pool, Workspace& ws, const WinogradKernels& wk,
                              double (*sum)(const float*, size_t), float* dw, float* db, const float* x,
                              const float* dy, const Conv2dDims& d);

}  // namespace kiln
