// The kernel contract: every kernel is declared once here, for every ISA namespace.
//
// Conventions (see ../shared/DESIGN.md):
//  - arguments go outputs, inputs, scalars/dims; every pointer has a shape comment;
//  - backward kernels accumulate (+=) into gradient buffers, because residual fan-out needs it;
//  - kernels never throw, never allocate, never touch Node-API (this header never includes napi.h);
//  - kernels are single-threaded over the range they are given; the runtime splits work across the
//    thread pool so that results do not depend on the thread count;
//  - an output may alias an input exactly (in-place), but never overlap it partially.
#pragma once

#include <cstddef>

namespace kiln {

// Declares the same set of kernels in one ISA namespace. Each ISA library (ref, avx2, avx512)
// defines them in its own namespace; dispatch/ picks one per op at run time.
#define KILN_DECLARE_KERNELS(ns)                                                               \
  namespace ns {                                                                               \
  /* y:(n) = a:(n) + b:(n) */                                                                  \
  void add_f32(float* y, const float* a, const float* b, size_t n);                            \
  /* y:(n) = a:(n) * b:(n) */                                                                  \
  void mul_f32(float* y, const float* a, const float* b, size_t n);                            \
  /* y:(n) += alpha * x:(n) */                                                                 \
  void axpy_f32(float* y, float alpha, const float* x, size_t n);                              \
  /* y:(n) = alpha * x:(n) */                                                                  \
  void scale_f32(float* y, const float* x, float alpha, size_t n);                             \
  /* y:(n) = max(x:(n), 0) */                                                                  \
  void relu_forward_f32(float* y, const float* x, size_t n);                                   \
  /* dx:(n) += dy:(n) where x:(n) > 0; the gradient at x == 0 is taken as 0 (as PyTorch) */    \
  void relu_backward_f32(float* dx, const float* dy, const float* x, size_t n);                \
  /* returns sum of x:(n); float32 lanes inside, double across lanes */                        \
  double sum_f32(const float* x, size_t n);                                                    \
  /* returns sum of x:(n)^2 */                                                                 \
  double sumsq_f32(const float* x, size_t n);                                                  \
  /* y:(cols) += column sums of x:(rows, ld)[:, 0:cols]; the bias gradient of a Linear layer */\
  void column_sum_f32(float* y, const float* x, size_t rows, size_t cols, size_t ld);          \
  }

KILN_DECLARE_KERNELS(ref)
KILN_DECLARE_KERNELS(avx2)
KILN_DECLARE_KERNELS(avx512)

#undef KILN_DECLARE_KERNELS

}  // namespace kiln
